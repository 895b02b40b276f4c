//! `GET /v2.1/servers` and `/servers/detail`: which servers a caller may
//! list and how Nova's query parameters narrow them.
//!
//! Kept apart from create/show/update because the rules are their own:
//! `all_tenants` is admin-only (403 for others, not a quiet fallback to
//! their own servers), `project_id`/`tenant_id` count only with it (Nova
//! has ignored them otherwise since lp:1185290), an unknown `status`
//! matches nothing before 2.38 and is 400 from 2.38, and unknown
//! parameters are refused from 2.75.

use super::{Caller, QueryPairs};
use crate::error::{ComputeError, ComputeResult};
use crate::microversion::Version;
use crate::servers::{self, doc, views};
use crate::ComputeState;
use axum::extract::State;
use ferrostack_compute_types::server::ref_id;
use ferrostack_compute_types::ApiVersion;
use ferrostack_policy::AuthContext;
use ferrostack_store::server::{Instance, InstanceFilter};
use serde_json::{json, Value};
use std::sync::Arc;

const LIST_QUERY: &[&str] = &[
    "name",
    "status",
    "image",
    "flavor",
    "host",
    "all_tenants",
    "project_id",
    "tenant_id",
    "user_id",
    "changes-since",
    "changes-before",
    "deleted",
    "limit",
    "marker",
    "sort_key",
    "sort_dir",
    "reservation_id",
    "locked",
    "availability_zone",
    "key_name",
    "ip",
    "ip6",
    "tags",
    "tags-any",
    "not-tags",
    "not-tags-any",
    "description",
    "config_drive",
    "vm_state",
    "task_state",
    "power_state",
    "uuid",
    "hostname",
    "launched_at",
    "terminated_at",
    "created_at",
    "updated_at",
    "node",
    "progress",
    "launch_index",
    "access_ip_v4",
    "access_ip_v6",
    "kernel_id",
    "ramdisk_id",
    "root_device_name",
    "display_name",
    "display_description",
    "user_data",
    "instance_type_id",
];

fn parse_time(raw: &str) -> ComputeResult<i64> {
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| t.timestamp_micros())
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f")
                .map(|t| t.and_utc().timestamp_micros())
        })
        .map_err(|_| {
            ComputeError::BadRequest(format!(
                "Invalid input for query parameters changes-since. Value: {raw}. '{raw}' is not a 'date-time'"
            ))
        })
}

/// Does the query ask for every project's servers? `all_tenants` as Nova
/// reads it: present and empty, or a boolean word (`1`, `true`, `yes`,
/// ...); any other value is a 400.
fn all_tenants(q: &QueryPairs) -> ComputeResult<bool> {
    let Some(raw) = q.get("all_tenants") else {
        return Ok(false);
    };
    match raw.trim().to_ascii_lowercase().as_str() {
        "" | "1" | "t" | "true" | "on" | "y" | "yes" => Ok(true),
        "0" | "f" | "false" | "off" | "n" | "no" => Ok(false),
        _ => Err(ComputeError::BadRequest(format!(
            "Invalid input received: Unrecognized value '{raw}', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'"
        ))),
    }
}

/// The servers a list answers with; `rule` is `index` or `detail`, for
/// the policy's name.
fn list_servers(
    state: &ComputeState,
    caller: &AuthContext,
    v: ApiVersion,
    q: &QueryPairs,
    rule: &str,
) -> ComputeResult<Vec<Instance>> {
    q.check_known(v, LIST_QUERY)?;
    let admin = caller.is_admin();
    let all = all_tenants(q)?;
    if all && !admin {
        // Nova's `servers:{index,detail}:get_all_tenants` rule is
        // admin-only: a member asking for everyone's servers is told no,
        // not quietly given their own.
        return Err(ComputeError::Forbidden(format!(
            "Policy doesn't allow os_compute_api:servers:{rule}:get_all_tenants to be performed."
        )));
    }
    // Without `all_tenants`, Nova ignores `project_id`/`tenant_id` even
    // from an admin (lp:#1185290, kept for compatibility): the caller's
    // own project is listed.
    let project = if all {
        q.get("project_id")
            .or_else(|| q.get("tenant_id"))
            .map(str::to_string)
    } else {
        Some(caller.project_id().unwrap_or_default().to_string())
    };
    let changes_since = q.get("changes-since").map(parse_time).transpose()?;
    let deleted = admin
        && q.get("deleted")
            .is_some_and(|d| d.eq_ignore_ascii_case("true"));
    let rows = state.servers.list_instances(&InstanceFilter {
        project_id: project,
        host: if admin {
            q.get("host").map(str::to_string)
        } else {
            None
        },
        include_deleted: deleted || changes_since.is_some(),
    })?;
    let status = match q.get("status") {
        None => None,
        Some(s) => match servers::vm_states_for_status(s) {
            Some(states) => Some(states),
            // An unknown status matches nothing before 2.38, is 400 after.
            None if !v.at_least(38) => return Ok(Vec::new()),
            None => return Err(ComputeError::BadRequest("Invalid status value".to_string())),
        },
    };
    let name = q.get("name").map(str::to_ascii_lowercase);
    let mut out = Vec::new();
    for i in rows {
        if deleted && i.deleted_at.is_none() {
            continue;
        }
        if let Some(since) = changes_since {
            if i.updated_at < since {
                continue;
            }
        }
        if let Some(states) = status {
            if !states.contains(&i.vm_state.as_str()) {
                continue;
            }
        }
        if let Some(n) = &name {
            // Nova matches a regular expression; a substring covers what
            // clients send (plain names), anchors are honoured.
            let lower = i.name.to_ascii_lowercase();
            let hit = match (n.strip_prefix('^'), n.strip_suffix('$')) {
                (Some(p), _) if n.ends_with('$') => lower == p.trim_end_matches('$'),
                (Some(p), _) => lower.starts_with(p),
                (None, Some(s)) => lower.ends_with(s),
                (None, None) => lower.contains(n.as_str()),
            };
            if !hit {
                continue;
            }
        }
        let d = doc(&i)?;
        if q.get("image").is_some_and(|im| ref_id(im) != d.image_id) {
            continue;
        }
        if q.get("flavor").is_some_and(|f| ref_id(f) != d.flavor.id) {
            continue;
        }
        if q.get("reservation_id")
            .is_some_and(|r| r != d.reservation_id)
        {
            continue;
        }
        if admin && q.get("user_id").is_some_and(|u| u != i.user_id) {
            continue;
        }
        if q.get("key_name")
            .is_some_and(|k| Some(k) != d.key_name.as_deref())
        {
            continue;
        }
        if q.get("availability_zone")
            .is_some_and(|z| Some(z) != d.availability_zone.as_deref())
        {
            continue;
        }
        if v.at_least(73) {
            if let Some(l) = q.get("locked") {
                if l.eq_ignore_ascii_case("true") != d.locked {
                    continue;
                }
            }
        }
        out.push(i);
    }
    let page = super::paging(q)?;
    Ok(page
        .apply(
            out,
            |i, m| i.uuid == m,
            |m| ComputeError::BadRequest(format!("marker [{m}] not found")),
        )?
        .items)
}

fn page_links(
    state: &ComputeState,
    path: &str,
    q: &QueryPairs,
    rows: &[Instance],
) -> ComputeResult<Option<Value>> {
    let page = super::paging(q)?;
    Ok(match rows.last() {
        Some(last) if page.limit_given && page.is_full(rows.len()) => {
            Some(super::next_link(state, path, q, page.limit, &last.uuid))
        }
        _ => None,
    })
}

/// `GET /servers`.
pub async fn list(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    q: QueryPairs,
) -> ComputeResult<axum::Json<Value>> {
    let rows = list_servers(&state, &caller, v, &q, "index")?;
    let servers: Vec<Value> = rows.iter().map(|i| views::brief(&state, i)).collect();
    let mut body = json!({ "servers": servers });
    if let Some(links) = page_links(&state, "servers", &q, &rows)? {
        body["servers_links"] = links;
    }
    Ok(axum::Json(body))
}

/// `GET /servers/detail`.
pub async fn list_detail(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    q: QueryPairs,
) -> ComputeResult<axum::Json<Value>> {
    let rows = list_servers(&state, &caller, v, &q, "detail")?;
    let mut servers = rows
        .iter()
        .map(|i| views::detail(&state, &caller, v, i))
        .collect::<ComputeResult<Vec<_>>>()?;
    views::add_security_groups(&state, &mut servers, &rows)?;
    let mut body = json!({ "servers": servers });
    if let Some(links) = page_links(&state, "servers/detail", &q, &rows)? {
        body["servers_links"] = links;
    }
    Ok(axum::Json(body))
}
