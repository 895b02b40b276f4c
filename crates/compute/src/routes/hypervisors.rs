//! `/v2.1/os-hypervisors`: the compute hosts, as Nova's hypervisor views.
//!
//! A hypervisor is a `nova-compute` service (see `services`); ferrostack
//! keeps no separate compute-node record, so the hypervisor's ids are its
//! service's: the numeric id before 2.53, the uuid from 2.53. What the host
//! is made of comes from the capabilities the agent wiring stores with the
//! service (`vcpus`, `memory_mib`, `local_disk_gib`, `hypervisor_type`,
//! ...; a missing key reads as 0 or ""); what is used of it comes from the
//! host's placement provider (`VCPU`, `MEMORY_MB`, `DISK_GB` usage) and
//! `running_vms` counts the host's servers that are not deleted.
//!
//! Nova has no field for the accelerator (QEMU's `kvm` or `tcg`, which
//! makes a large difference to guest speed), so it is shown in the one
//! free-form field of the view, `cpu_info`: `{"arch": "x86_64",
//! "accelerator": "tcg"}` (a JSON string before 2.28, an object from 2.28).
//! Nova drops `cpu_info` at 2.88 with the usage fields, so from 2.88 the
//! accelerator is not shown here.
//!
//! Microversions: paging with `limit`/`marker` and `hypervisors_links`
//! from 2.33; uuids, `hypervisor_hostname_pattern` and `with_servers`
//! from 2.53, replacing `/{pattern}/search` and `/{pattern}/servers`
//! (served to 2.52); an empty `servers` list from 2.75; from 2.88 the
//! usage fields and `cpu_info` are gone, `uptime` joins the detailed
//! view, and `/statistics` and `/{id}/uptime` are 404. The uptime is the
//! line the host's `uptime` would print (see `hypervisor_uptime`), from
//! the boot time, users and load its agent reports: `/{id}/uptime` (to 2.87) is 400 while
//! the service is down, and, for an agent that reports no boot time, 501
//! as Nova answers for a virt driver without uptime (`uptime` is then null
//! from 2.88).

use super::hypervisor_uptime::uptime as uptime_of;
use super::services::{is_up, is_uuid, state_word, status_word, COMPUTE_BINARY};
use super::{Caller, QueryPairs};
use crate::error::{ComputeError, ComputeResult};
use crate::microversion::{Version, MAX};
use crate::ComputeState;
use axum::extract::{Path, State};
use ferrostack_common::time::now_micros;
use ferrostack_compute_types::ApiVersion;
use ferrostack_store::placement::{DISK_GB, MEMORY_MB, VCPU};
use ferrostack_store::server::{ComputeService, Instance, InstanceFilter};
use ferrostack_store::StoreError;
use serde_json::{json, Map, Value};
use std::sync::Arc;

type JsonResult = ComputeResult<axum::Json<Value>>;

fn not_found(id: &str) -> ComputeError {
    ComputeError::NotFound(format!("Hypervisor with ID '{id}' could not be found."))
}

fn no_match(pattern: &str) -> ComputeError {
    ComputeError::NotFound(format!(
        "No hypervisor matching '{pattern}' could be found."
    ))
}

/// Nova's answer for a method outside its microversion range.
fn version_not_found() -> ComputeError {
    ComputeError::NotFound("The resource could not be found.".into())
}

/// What a host is made of and how much of it is used.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Resources {
    pub(crate) vcpus: u64,
    pub(crate) memory_mb: u64,
    pub(crate) local_gb: u64,
    pub(crate) vcpus_used: u64,
    pub(crate) memory_mb_used: u64,
    pub(crate) local_gb_used: u64,
    pub(crate) running_vms: u64,
    pub(crate) current_workload: u64,
}

fn cap_u64(s: &ComputeService, key: &str) -> u64 {
    s.capabilities.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn cap_str<'a>(s: &'a ComputeService, key: &str) -> &'a str {
    s.capabilities
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Every hypervisor, by id.
fn hypervisors(state: &ComputeState) -> ComputeResult<Vec<ComputeService>> {
    let mut all = state.servers.list_services()?;
    all.retain(|s| s.binary == COMPUTE_BINARY);
    Ok(all)
}

/// The servers on `host` that are not deleted.
fn servers_on(state: &ComputeState, host: &str) -> ComputeResult<Vec<Instance>> {
    Ok(state.servers.list_instances(&InstanceFilter {
        host: Some(host.to_string()),
        ..Default::default()
    })?)
}

pub(crate) fn resources(state: &ComputeState, s: &ComputeService) -> ComputeResult<Resources> {
    let mut r = Resources {
        vcpus: cap_u64(s, "vcpus"),
        memory_mb: cap_u64(s, "memory_mib"),
        local_gb: cap_u64(s, "local_disk_gib"),
        ..Default::default()
    };
    match state.placement.provider_summary(&s.host) {
        Ok(p) => {
            r.vcpus_used = p.used(VCPU);
            r.memory_mb_used = p.used(MEMORY_MB);
            r.local_gb_used = p.used(DISK_GB);
        }
        Err(StoreError::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let servers = servers_on(state, &s.host)?;
    r.running_vms = servers.len() as u64;
    r.current_workload = servers
        .iter()
        .filter(|i| i.task_state.is_some() || i.vm_state == "building")
        .count() as u64;
    Ok(r)
}

/// The id as the paging marker spells it.
fn id_string(v: ApiVersion, s: &ComputeService) -> String {
    if v.at_least(53) {
        s.uuid.clone()
    } else {
        s.id.to_string()
    }
}

fn id_value(v: ApiVersion, s: &ComputeService) -> Value {
    if v.at_least(53) {
        json!(s.uuid)
    } else {
        json!(s.id)
    }
}

/// The four fields every hypervisor view has.
fn summary(v: ApiVersion, s: &ComputeService, now: i64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), id_value(v, s));
    m.insert("hypervisor_hostname".into(), json!(s.host));
    m.insert("state".into(), json!(state_word(s, now)));
    m.insert("status".into(), json!(status_word(s)));
    m
}

/// `cpu_info`: the architecture and the accelerator (see the module docs).
fn cpu_info(v: ApiVersion, s: &ComputeService) -> Value {
    let info = json!({"arch": cap_str(s, "cpu_arch"), "accelerator": cap_str(s, "accelerator")});
    if v.at_least(28) {
        info
    } else {
        json!(info.to_string())
    }
}

fn free(total: u64, used: u64) -> i64 {
    total as i64 - used as i64
}

/// The detailed view.
fn detail(
    state: &ComputeState,
    v: ApiVersion,
    s: &ComputeService,
    now: i64,
) -> ComputeResult<Map<String, Value>> {
    let mut m = summary(v, s, now);
    m.insert(
        "hypervisor_type".into(),
        json!(cap_str(s, "hypervisor_type")),
    );
    m.insert(
        "hypervisor_version".into(),
        json!(cap_u64(s, "hypervisor_version")),
    );
    let ip = cap_str(s, "host_ip");
    m.insert(
        "host_ip".into(),
        if ip.is_empty() {
            Value::Null
        } else {
            json!(ip)
        },
    );
    m.insert(
        "service".into(),
        json!({"id": id_value(v, s), "host": s.host, "disabled_reason": s.disabled_reason}),
    );
    if v.at_least(88) {
        m.insert("uptime".into(), json!(uptime_of(s, now)));
        return Ok(m);
    }
    let r = resources(state, s)?;
    m.insert("vcpus".into(), json!(r.vcpus));
    m.insert("memory_mb".into(), json!(r.memory_mb));
    m.insert("local_gb".into(), json!(r.local_gb));
    m.insert("vcpus_used".into(), json!(r.vcpus_used));
    m.insert("memory_mb_used".into(), json!(r.memory_mb_used));
    m.insert("local_gb_used".into(), json!(r.local_gb_used));
    m.insert(
        "free_ram_mb".into(),
        json!(free(r.memory_mb, r.memory_mb_used)),
    );
    m.insert(
        "free_disk_gb".into(),
        json!(free(r.local_gb, r.local_gb_used)),
    );
    m.insert(
        "disk_available_least".into(),
        json!(free(r.local_gb, r.local_gb_used)),
    );
    m.insert("current_workload".into(), json!(r.current_workload));
    m.insert("running_vms".into(), json!(r.running_vms));
    m.insert("cpu_info".into(), cpu_info(v, s));
    Ok(m)
}

/// Add `servers` as Nova does: when there are some, or (2.75+) always
/// when they were asked for.
fn add_servers(
    state: &ComputeState,
    v: ApiVersion,
    m: &mut Map<String, Value>,
    host: &str,
    asked: bool,
) -> ComputeResult<()> {
    let servers: Vec<Value> = servers_on(state, host)?
        .iter()
        .map(|i| json!({"name": i.name, "uuid": i.uuid}))
        .collect();
    if !servers.is_empty() || (asked && v.at_least(75)) {
        m.insert("servers".into(), Value::Array(servers));
    }
    Ok(())
}

/// Hypervisors whose hostname contains `pattern` (Nova's SQL `LIKE
/// '%pattern%'`, case-insensitive); none is a 404.
fn matching(state: &ComputeState, pattern: &str) -> ComputeResult<Vec<ComputeService>> {
    let needle = pattern.to_ascii_lowercase();
    let found: Vec<ComputeService> = hypervisors(state)?
        .into_iter()
        .filter(|s| s.host.to_ascii_lowercase().contains(&needle))
        .collect();
    if found.is_empty() {
        return Err(no_match(pattern));
    }
    Ok(found)
}

fn pattern_param(raw: &str) -> ComputeResult<()> {
    let ok_chars = raw
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if raw.is_empty() || raw.chars().count() > 255 || !ok_chars {
        return Err(ComputeError::BadRequest(format!(
            "Invalid input for query parameters hypervisor_hostname_pattern. Value: {raw}. '{raw}' does not match '^[a-zA-Z0-9-._]*$'"
        )));
    }
    Ok(())
}

fn with_servers_param(q: &QueryPairs) -> ComputeResult<bool> {
    match q.get("with_servers") {
        None => Ok(false),
        Some(raw) => super::boolean("with_servers", &json!(raw)),
    }
}

fn list_impl(state: &ComputeState, v: ApiVersion, q: &QueryPairs, detailed: bool) -> JsonResult {
    let mut pattern = None;
    let mut with_servers = false;
    if v.at_least(53) {
        // Nova's 2.53 query schema refuses unknown parameters.
        q.check_known(
            MAX,
            &[
                "hypervisor_hostname_pattern",
                "with_servers",
                "limit",
                "marker",
            ],
        )?;
        pattern = q.get("hypervisor_hostname_pattern");
        with_servers = with_servers_param(q)?;
    }
    let paged = v.at_least(33);
    let mut body = Map::new();
    let now = now_micros();
    let hyps = if let Some(pattern) = pattern {
        pattern_param(pattern)?;
        if q.get("limit").is_some() || q.get("marker").is_some() {
            return Err(ComputeError::BadRequest(
                "Paging over hypervisors with the hypervisor_hostname_pattern query parameter is not supported.".into(),
            ));
        }
        matching(state, pattern)?
    } else {
        let mut all = hypervisors(state)?;
        if paged {
            let page = super::paging(q)?;
            all = page
                .apply(
                    all,
                    |s, m| id_string(v, s) == m,
                    |m| ComputeError::BadRequest(format!("marker [{m}] not found")),
                )?
                .items;
            if let Some(last) = all.last().filter(|_| page.is_full(all.len())) {
                let path = if detailed {
                    "os-hypervisors/detail"
                } else {
                    "os-hypervisors"
                };
                let marker = id_string(v, last);
                body.insert(
                    "hypervisors_links".into(),
                    super::next_link(state, path, q, page.limit, &marker),
                );
            }
        }
        all
    };
    let mut items = Vec::with_capacity(hyps.len());
    for s in &hyps {
        let mut m = if detailed {
            detail(state, v, s, now)?
        } else {
            summary(v, s, now)
        };
        if with_servers {
            add_servers(state, v, &mut m, &s.host, true)?;
        }
        items.push(Value::Object(m));
    }
    body.insert("hypervisors".into(), Value::Array(items));
    Ok(axum::Json(Value::Object(body)))
}

/// `GET /v2.1/os-hypervisors`.
pub async fn list(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    q: QueryPairs,
) -> JsonResult {
    list_impl(&state, v, &q, false)
}

/// `GET /v2.1/os-hypervisors/detail`.
pub async fn list_detail(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    q: QueryPairs,
) -> JsonResult {
    list_impl(&state, v, &q, true)
}

/// The hypervisor `raw` names: a uuid from 2.53 (else 400), a number
/// before (else 404).
fn find(state: &ComputeState, v: ApiVersion, raw: &str) -> ComputeResult<ComputeService> {
    let all = hypervisors(state)?;
    let found = if v.at_least(53) {
        if !is_uuid(raw) {
            return Err(ComputeError::BadRequest(format!("Invalid uuid {raw}")));
        }
        all.into_iter().find(|s| s.uuid == raw)
    } else {
        let id: i64 = raw.parse().map_err(|_| not_found(raw))?;
        all.into_iter().find(|s| s.id == id)
    };
    found.ok_or_else(|| not_found(raw))
}

/// `GET /v2.1/os-hypervisors/{hypervisor_id}`.
pub async fn show(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    Path(id): Path<String>,
    q: QueryPairs,
) -> JsonResult {
    let mut with_servers = false;
    if v.at_least(53) {
        q.check_known(MAX, &["with_servers"])?;
        with_servers = with_servers_param(&q)?;
    }
    let s = find(&state, v, &id)?;
    let mut m = detail(&state, v, &s, now_micros())?;
    if with_servers {
        add_servers(&state, v, &mut m, &s.host, true)?;
    }
    Ok(axum::Json(json!({ "hypervisor": m })))
}

/// `GET /v2.1/os-hypervisors/{hypervisor_id}/uptime` (to 2.87).
pub async fn uptime(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    Path(id): Path<String>,
) -> JsonResult {
    if v.at_least(88) {
        return Err(version_not_found());
    }
    let s = find(&state, v, &id)?;
    let now = now_micros();
    if !is_up(&s, now) {
        return Err(ComputeError::BadRequest(format!(
            "Compute service of {} is unavailable at this time.",
            s.host
        )));
    }
    let line = uptime_of(&s, now).ok_or_else(|| {
        ComputeError::NotImplemented("The requested functionality is not supported.".into())
    })?;
    let mut m = summary(v, &s, now);
    m.insert("uptime".into(), json!(line));
    Ok(axum::Json(json!({ "hypervisor": m })))
}

/// `GET /v2.1/os-hypervisors/{pattern}/search` (to 2.52).
pub async fn search(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    Path(pattern): Path<String>,
) -> JsonResult {
    if v.at_least(53) {
        return Err(version_not_found());
    }
    let now = now_micros();
    let items: Vec<Value> = matching(&state, &pattern)?
        .iter()
        .map(|s| Value::Object(summary(v, s, now)))
        .collect();
    Ok(axum::Json(json!({ "hypervisors": items })))
}

/// `GET /v2.1/os-hypervisors/{pattern}/servers` (to 2.52).
pub async fn servers(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    Path(pattern): Path<String>,
) -> JsonResult {
    if v.at_least(53) {
        return Err(version_not_found());
    }
    let now = now_micros();
    let mut items = Vec::new();
    for s in matching(&state, &pattern)? {
        let mut m = summary(v, &s, now);
        add_servers(&state, v, &mut m, &s.host, false)?;
        items.push(Value::Object(m));
    }
    Ok(axum::Json(json!({ "hypervisors": items })))
}

/// `GET /v2.1/os-hypervisors/statistics` (to 2.87): totals over the
/// enabled hypervisors.
pub async fn statistics(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
) -> JsonResult {
    if v.at_least(88) {
        return Err(version_not_found());
    }
    let mut count = 0u64;
    let mut t = Resources::default();
    for s in hypervisors(&state)?.iter().filter(|s| !s.disabled) {
        let r = resources(&state, s)?;
        count += 1;
        t.vcpus += r.vcpus;
        t.memory_mb += r.memory_mb;
        t.local_gb += r.local_gb;
        t.vcpus_used += r.vcpus_used;
        t.memory_mb_used += r.memory_mb_used;
        t.local_gb_used += r.local_gb_used;
        t.running_vms += r.running_vms;
        t.current_workload += r.current_workload;
    }
    Ok(axum::Json(json!({"hypervisor_statistics": {
        "count": count,
        "vcpus": t.vcpus,
        "memory_mb": t.memory_mb,
        "local_gb": t.local_gb,
        "vcpus_used": t.vcpus_used,
        "memory_mb_used": t.memory_mb_used,
        "local_gb_used": t.local_gb_used,
        "free_ram_mb": free(t.memory_mb, t.memory_mb_used),
        "free_disk_gb": free(t.local_gb, t.local_gb_used),
        "disk_available_least": free(t.local_gb, t.local_gb_used),
        "current_workload": t.current_workload,
        "running_vms": t.running_vms,
    }})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_info_is_a_string_before_2_28() {
        let s = ComputeService {
            id: 1,
            uuid: "u".into(),
            host: "h".into(),
            binary: COMPUTE_BINARY.into(),
            zone: "nova".into(),
            disabled: false,
            disabled_reason: None,
            forced_down: false,
            capabilities: json!({"cpu_arch": "x86_64", "accelerator": "kvm"}),
            heartbeat_at: 0,
            created_at: 0,
            updated_at: 0,
        };
        let old = cpu_info(ApiVersion::new(2, 27), &s);
        let parsed: Value = serde_json::from_str(old.as_str().unwrap()).unwrap();
        assert_eq!(parsed, json!({"arch": "x86_64", "accelerator": "kvm"}));
        assert_eq!(cpu_info(ApiVersion::new(2, 28), &s), parsed);
    }

    #[test]
    fn patterns_take_novas_characters() {
        assert!(pattern_param("compute-1.example_a").is_ok());
        assert!(pattern_param("").is_err());
        assert!(pattern_param("a b").is_err());
        assert!(pattern_param("%").is_err());
    }
}
