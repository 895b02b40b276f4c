//! `/v2.1/os-simple-tenant-usage` (what each project's servers used in a
//! period) and `/v2.1/os-instance_usage_audit_log` (the state of Nova's
//! periodic usage audit).
//!
//! Usage is computed from the servers' records at request time, as Nova
//! computes it from its instances table: a server counts from
//! `launched_at` (it never used anything before it first ran) to
//! `terminated_at` or now, clipped to the period, times its flavor's
//! vCPUs, RAM and disk (root + ephemeral). Deleted servers count as long
//! as their records are kept (`deleted` filters of the store).
//!
//! The audit log reports Nova's `instance_usage_audit` periodic task,
//! which Nova runs only when `[DEFAULT] instance_usage_audit` is set (off
//! by default) and which ferrostack does not run at all: every compute
//! host is listed as not run for the period, with no invented counts.

use super::{Caller, QueryPairs};
use crate::error::{ComputeError, ComputeResult};
use crate::microversion::Version;
use crate::servers::doc;
use crate::ComputeState;
use axum::extract::{Path, State};
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use ferrostack_common::time::{nova_time, now_micros};
use ferrostack_store::server::{Instance, InstanceFilter};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

const FORMATS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S",
];

/// A time as Nova's usage APIs read it (no zone: UTC), in µs.
fn parse_time(raw: &str) -> Option<i64> {
    let raw = raw.strip_suffix('Z').unwrap_or(raw);
    FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok())
        .map(|t| t.and_utc().timestamp_micros())
}

/// `start` and `end` of the query: each defaults to now; start after end
/// is 400.
fn period(q: &QueryPairs) -> ComputeResult<(i64, i64)> {
    let now = now_micros();
    let read = |name: &str| -> ComputeResult<i64> {
        match q.get(name) {
            None => Ok(now),
            Some(raw) => parse_time(raw)
                .ok_or_else(|| ComputeError::BadRequest(format!("Invalid {name} time."))),
        }
    };
    let (start, end) = (read("start")?, read("end")?);
    if start > end {
        return Err(ComputeError::BadRequest(
            "Invalid start time. The start time cannot occur after the end time.".into(),
        ));
    }
    Ok((start, end))
}

/// One server's usage in the period, or `None` when it did not run in it.
fn server_usage(i: &Instance, start: i64, end: i64, now: i64) -> ComputeResult<Option<Value>> {
    let d = doc(i)?;
    let Some(launched) = d.launched_at else {
        return Ok(None);
    };
    let terminated = d.terminated_at.or(i.deleted_at);
    let from = launched.max(start);
    let to = terminated.unwrap_or(now).min(end);
    if to < from {
        return Ok(None);
    }
    let hours = (to - from) as f64 / 3_600_000_000.0;
    let f = &d.flavor;
    let uptime = (terminated.unwrap_or(now) - launched) / 1_000_000;
    Ok(Some(json!({
        "instance_id": i.uuid,
        "name": i.name,
        "hours": hours,
        "memory_mb": f.ram,
        "local_gb": f.disk + f.ephemeral,
        "vcpus": f.vcpus,
        "tenant_id": i.project_id,
        "flavor": f.name,
        "started_at": nova_time(launched),
        "ended_at": terminated.map(nova_time),
        "state": if terminated.is_some() { "terminated" } else { i.vm_state.as_str() },
        "uptime": uptime,
    })))
}

fn num(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

/// The usage of each project with servers `filter` finds, in project order.
fn usages(
    state: &ComputeState,
    filter: &InstanceFilter,
    start: i64,
    end: i64,
    detailed: bool,
) -> ComputeResult<Vec<Value>> {
    let now = now_micros();
    let mut by_project: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut servers = state.servers.list_instances(filter)?;
    servers.reverse(); // oldest first, as Nova lists them
    for i in &servers {
        if let Some(u) = server_usage(i, start, end, now)? {
            by_project.entry(i.project_id.clone()).or_default().push(u);
        }
    }
    Ok(by_project
        .into_iter()
        .map(|(project, servers)| {
            let sum = |f: &dyn Fn(&Value) -> f64| servers.iter().map(f).sum::<f64>();
            let mut u = json!({
                "tenant_id": project,
                "total_hours": sum(&|s| num(s, "hours")),
                "total_vcpus_usage": sum(&|s| num(s, "hours") * num(s, "vcpus")),
                "total_memory_mb_usage": sum(&|s| num(s, "hours") * num(s, "memory_mb")),
                "total_local_gb_usage": sum(&|s| num(s, "hours") * num(s, "local_gb")),
                "start": nova_time(start),
                "stop": nova_time(end),
            });
            if detailed {
                u["server_usages"] = json!(servers);
            }
            u
        })
        .collect())
}

fn detailed(q: &QueryPairs) -> bool {
    q.get("detailed")
        .and_then(|d| d.parse::<i64>().ok())
        .is_some_and(|d| d != 0)
}

/// `GET /v2.1/os-simple-tenant-usage` (admins): every project's usage.
pub async fn list(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(_): Version,
    q: QueryPairs,
) -> ComputeResult<axum::Json<Value>> {
    let (start, end) = period(&q)?;
    let filter = InstanceFilter {
        include_deleted: true,
        ..Default::default()
    };
    let all = usages(&state, &filter, start, end, detailed(&q))?;
    Ok(axum::Json(json!({ "tenant_usages": all })))
}

/// `GET /v2.1/os-simple-tenant-usage/{tenant_id}`: one project's usage
/// (its readers or admins; another project's is not found), always
/// detailed, `{}` when nothing ran.
pub async fn show(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(_): Version,
    Path(project): Path<String>,
    q: QueryPairs,
) -> ComputeResult<axum::Json<Value>> {
    if !caller.is_admin() && caller.project_id() != Some(project.as_str()) {
        return Err(ComputeError::NotFound(format!(
            "Project {project} could not be found."
        )));
    }
    let (start, end) = period(&q)?;
    let filter = InstanceFilter {
        project_id: Some(project),
        include_deleted: true,
        ..Default::default()
    };
    let usage = usages(&state, &filter, start, end, true)?
        .into_iter()
        .next()
        .unwrap_or_else(|| json!({}));
    Ok(axum::Json(json!({ "tenant_usage": usage })))
}

/// Nova's default audit period (a month): the last complete one before `at`.
fn audit_period(at: DateTime<Utc>) -> (i64, i64) {
    let first = |y: i32, m: u32| {
        NaiveDate::from_ymd_opt(y, m, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp_micros())
            .unwrap_or(0)
    };
    let (y, m) = (at.year(), at.month());
    let (py, pm) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
    (first(py, pm), first(y, m))
}

fn audit_log(state: &ComputeState, at: DateTime<Utc>) -> ComputeResult<Value> {
    let (begin, end) = audit_period(at);
    let hosts: Vec<String> = state
        .servers
        .list_services()?
        .into_iter()
        .filter(|s| s.binary == super::services::COMPUTE_BINARY)
        .map(|s| s.host)
        .collect();
    Ok(json!({
        "hosts_not_run": hosts,
        "log": {},
        "num_hosts": hosts.len(),
        "num_hosts_done": 0,
        "num_hosts_not_run": hosts.len(),
        "num_hosts_running": 0,
        "overall_status": format!("0 of {} hosts done. 0 errors.", hosts.len()),
        "period_beginning": nova_time(begin),
        "period_ending": nova_time(end),
        "total_errors": 0,
        "total_instances": 0,
    }))
}

/// `GET /v2.1/os-instance_usage_audit_log` (admins).
pub async fn audit_list(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
) -> ComputeResult<axum::Json<Value>> {
    let log = audit_log(&state, Utc::now())?;
    Ok(axum::Json(json!({ "instance_usage_audit_logs": log })))
}

/// `GET /v2.1/os-instance_usage_audit_log/{before_timestamp}` (admins).
pub async fn audit_show(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Path(raw): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    let at = parse_time(&raw)
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(|| ComputeError::BadRequest(format!("Invalid timestamp for date {raw}")))?;
    let log = audit_log(&state, at)?;
    Ok(axum::Json(json!({ "instance_usage_audit_log": log })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_in_novas_formats() {
        assert!(parse_time("2026-12-07T10:00:00.123456").is_some());
        assert!(parse_time("2026-12-07 10:00:00").is_some());
        assert!(parse_time("invalid_time").is_none());
    }

    #[test]
    fn the_audit_period_is_the_last_whole_month() {
        let at =
            DateTime::from_timestamp_micros(parse_time("2026-01-15 10:00:00").unwrap()).unwrap();
        let (b, e) = audit_period(at);
        assert_eq!(nova_time(b), "2025-12-01T00:00:00.000000");
        assert_eq!(nova_time(e), "2026-01-01T00:00:00.000000");
    }
}
