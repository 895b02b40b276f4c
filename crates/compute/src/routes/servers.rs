//! `/v2.1/servers`: create, list (brief and detail), show, update and
//! delete. The body of a create is validated here, in Nova's words; the
//! steps that follow are in [`crate::servers::lifecycle`].

use super::{invalid, Caller, QueryPairs};
use crate::error::{ComputeError, ComputeResult, Json};
use crate::microversion::Version;
use crate::servers::lifecycle::{self, BootRequest};
use crate::servers::{self, doc, set_doc, views, vm};
use crate::ComputeState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrostack_common::request_id::RequestId;
use ferrostack_compute_types::ApiVersion;
use ferrostack_policy::AuthContext;
use ferrostack_store::image::Image;
use ferrostack_store::server::{Instance, InstanceFilter};
use http::StatusCode;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Most servers one request may create (Nova has no fixed bound; quota
/// decides, but a body asking for millions is refused up front).
const MAX_COUNT: u64 = 1000;

fn string_field(
    body: &Map<String, Value>,
    field: &str,
    max: usize,
) -> ComputeResult<Option<String>> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s.clone())),
        Some(v @ Value::String(_)) => Err(invalid(field, v, &format!("is too long (max {max})"))),
        Some(v) => Err(invalid(
            field,
            v,
            &format!("{} is not of type 'string'", super::python_repr(v)),
        )),
    }
}

fn count_field(body: &Map<String, Value>, field: &str) -> ComputeResult<Option<u64>> {
    let Some(v) = body.get(field) else {
        return Ok(None);
    };
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse::<u64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if (1..=MAX_COUNT).contains(&n) => Ok(Some(n)),
        _ => Err(invalid(field, v, "must be an integer between 1 and 1000")),
    }
}

/// The id at the end of an `imageRef`/`flavorRef`, which may be a URL.
fn ref_id(raw: &str) -> &str {
    raw.trim_end_matches('/').rsplit('/').next().unwrap_or(raw)
}

fn metadata_field(body: &Map<String, Value>) -> ComputeResult<BTreeMap<String, String>> {
    let Some(v) = body.get("metadata") else {
        return Ok(BTreeMap::new());
    };
    parse_metadata(v)
}

/// Nova's metadata rules: string keys of 1-255 and values of 0-255.
pub fn parse_metadata(v: &Value) -> ComputeResult<BTreeMap<String, String>> {
    let Some(m) = v.as_object() else {
        return Err(invalid("metadata", v, "is not of type 'object'"));
    };
    let mut out = BTreeMap::new();
    for (k, val) in m {
        if k.is_empty() || k.chars().count() > 255 {
            return Err(invalid("metadata", v, "keys must be 1 to 255 characters"));
        }
        let Some(s) = val.as_str() else {
            return Err(invalid(
                &format!("metadata/{k}"),
                val,
                &format!("{} is not of type 'string'", super::python_repr(val)),
            ));
        };
        if s.chars().count() > 255 {
            return Err(invalid(&format!("metadata/{k}"), val, "is too long"));
        }
        out.insert(k.clone(), s.to_string());
    }
    if out.len() > 128 {
        return Err(ComputeError::Forbidden(
            "Quota exceeded, too many metadata items.".into(),
        ));
    }
    Ok(out)
}

/// May `caller`'s project boot `image`?
fn image_visible(image: &Image, caller: &AuthContext, state: &ComputeState) -> ComputeResult<bool> {
    if caller.is_admin() {
        return Ok(true);
    }
    let project = caller.project_id().unwrap_or_default();
    Ok(match image.visibility.as_str() {
        "public" | "community" => true,
        _ if image.owner.as_deref() == Some(project) => true,
        "shared" => state
            .images
            .list_members(&image.id)?
            .iter()
            .any(|m| m.member_id == project && m.status == "accepted"),
        _ => false,
    })
}

/// The image `image_ref` if `caller` may boot it with a flavor of
/// `memory_mb` and `root_gb`: visible, active, qcow2 or raw, and small
/// enough. Every refusal is a 400 in Nova's words.
pub fn bootable_image(
    state: &ComputeState,
    caller: &AuthContext,
    image_ref: &str,
    memory_mb: i64,
    root_gb: i64,
) -> ComputeResult<Image> {
    let image = match state.images.get_image(image_ref)? {
        Some(i) if i.status != "deleted" && image_visible(&i, caller, state)? => i,
        _ => {
            return Err(ComputeError::BadRequest(format!(
                "Image {image_ref} could not be found."
            )))
        }
    };
    if image.status != "active" {
        return Err(ComputeError::BadRequest(format!(
            "Image {image_ref} is not active."
        )));
    }
    lifecycle::base_format(&image)?;
    if memory_mb < image.min_ram {
        return Err(ComputeError::BadRequest(
            "Flavor's memory is too small for requested image.".into(),
        ));
    }
    let virtual_size = image.virtual_size.unwrap_or(0).max(image.size.unwrap_or(0));
    if root_gb > 0 {
        let flavor_bytes = root_gb * 1024 * 1024 * 1024;
        if root_gb < image.min_disk || flavor_bytes < virtual_size {
            return Err(ComputeError::BadRequest(format!(
                "Flavor's disk is too small for requested image. Flavor disk is {flavor_bytes} bytes, image is {virtual_size} bytes."
            )));
        }
    }
    Ok(image)
}

fn networks_check(v: ApiVersion, server: &Map<String, Value>) -> ComputeResult<()> {
    match server.get("networks") {
        None if v.at_least(37) => Err(invalid(
            "server",
            &Value::Object(server.clone()),
            "'networks' is a required property",
        )),
        None => Ok(()),
        Some(Value::String(s)) if s == "none" => Ok(()),
        Some(Value::String(s)) if s == "auto" => Err(ComputeError::BadRequest(
            "Networks are not available yet in this cloud: ferrostack has no network service \
             to allocate one from. Boot with networks 'none' (openstack server create --nic none)."
                .into(),
        )),
        Some(Value::Array(a)) if a.is_empty() => Ok(()),
        Some(Value::Array(_)) => Err(ComputeError::BadRequest(
            "Networks are not available yet in this cloud: ferrostack has no network service, \
             so no network, port or fixed IP can be attached. Boot with networks 'none'."
                .into(),
        )),
        Some(other) => Err(invalid(
            "networks",
            other,
            "is not valid under any of the given schemas",
        )),
    }
}

fn check_block_devices(server: &Map<String, Value>, image_ref: &str) -> ComputeResult<()> {
    let Some(bdms) = server.get("block_device_mapping_v2") else {
        return Ok(());
    };
    let Some(list) = bdms.as_array() else {
        return Err(invalid(
            "block_device_mapping_v2",
            bdms,
            "is not of type 'array'",
        ));
    };
    for bdm in list {
        let source = bdm.get("source_type").and_then(Value::as_str).unwrap_or("");
        let dest = bdm
            .get("destination_type")
            .and_then(Value::as_str)
            .unwrap_or("local");
        let uuid = bdm.get("uuid").and_then(Value::as_str).unwrap_or("");
        let boot = bdm
            .get("boot_index")
            .map(|b| b.to_string())
            .unwrap_or_default();
        let image_root =
            source == "image" && dest == "local" && (uuid.is_empty() || uuid == image_ref);
        if !(image_root && (boot == "0" || boot == "\"0\"")) {
            return Err(ComputeError::BadRequest(
                "Block device mappings other than the image as the local root disk need volumes, \
                 which ferrostack does not serve yet."
                    .into(),
            ));
        }
    }
    Ok(())
}

fn parse_create(
    state: &ComputeState,
    caller: &AuthContext,
    v: ApiVersion,
    body: &Value,
    request_id: &str,
) -> ComputeResult<BootRequest> {
    let Some(server) = body.get("server").and_then(Value::as_object) else {
        return Err(invalid("server", body, "'server' is a required property"));
    };
    let name = string_field(server, "name", 255)?
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| {
            invalid(
                "name",
                server.get("name").unwrap_or(&Value::Null),
                "is required and must not be blank",
            )
        })?;
    networks_check(v, server)?;
    let image_ref = server
        .get("imageRef")
        .and_then(Value::as_str)
        .map(ref_id)
        .unwrap_or("")
        .to_string();
    check_block_devices(server, &image_ref)?;
    if image_ref.is_empty() {
        return Err(ComputeError::BadRequest(
            "Booting from a volume needs the volume service, which ferrostack does not serve \
             yet; give an imageRef."
                .into(),
        ));
    }
    let flavor_ref = server
        .get("flavorRef")
        .and_then(|f| match f {
            Value::String(s) => Some(ref_id(s).to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .ok_or_else(|| {
            invalid(
                "server",
                &Value::Object(server.clone()),
                "'flavorRef' is a required property",
            )
        })?;
    let flavor = match state.compute.get_flavor(&flavor_ref)? {
        Some(f) if super::flavors::visible(&f, caller) => f,
        _ => {
            return Err(ComputeError::BadRequest(format!(
                "Flavor {flavor_ref} could not be found."
            )))
        }
    };
    if flavor.disabled {
        return Err(ComputeError::BadRequest(format!(
            "Flavor {flavor_ref} is disabled and cannot be used."
        )));
    }
    let image = bootable_image(state, caller, &image_ref, flavor.memory_mb, flavor.root_gb)?;
    let key = match string_field(server, "key_name", 255)? {
        None => None,
        Some(k) => Some(
            state
                .compute
                .get_key_pair(&caller.user_id, &k)?
                .ok_or_else(|| {
                    ComputeError::BadRequest("Invalid key_name provided.".to_string())
                })?,
        ),
    };
    let user_data = match server.get("user_data") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            use base64::Engine;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|_| invalid("user_data", &json!(s), "is not a 'base64'"))?;
            if decoded.len() > 65535 {
                return Err(invalid("user_data", &json!("..."), "is too long"));
            }
            Some(s.clone())
        }
        Some(other) => return Err(invalid("user_data", other, "is not of type 'string'")),
    };
    let config_drive = match server.get("config_drive") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => {
            matches!(s.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on")
        }
        Some(other) => return Err(invalid("config_drive", other, "is not valid")),
    };
    let (mut zone, mut forced_host) = (string_field(server, "availability_zone", 255)?, None);
    if let Some(z) = zone.clone() {
        if let Some((z_name, host)) = z.split_once(':') {
            if !caller.is_admin() {
                return Err(ComputeError::Forbidden(
                    "Policy doesn't allow os_compute_api:servers:create:forced_host to be performed."
                        .into(),
                ));
            }
            zone = (!z_name.is_empty()).then(|| z_name.to_string());
            forced_host = Some(host.split(':').next().unwrap_or(host).to_string());
        }
    }
    if let Some(z) = &zone {
        let known = state
            .servers
            .list_services()?
            .iter()
            .any(|s| s.binary == "nova-compute" && &s.zone == z);
        if !known {
            return Err(ComputeError::BadRequest(
                "The requested availability zone is not available".into(),
            ));
        }
    }
    if v.at_least(74) {
        if let Some(h) = string_field(server, "host", 255)? {
            if !caller.is_admin() {
                return Err(ComputeError::Forbidden(
                    "Policy doesn't allow compute:servers:create:requested_destination to be performed."
                        .into(),
                ));
            }
            forced_host = Some(h);
        }
    }
    let min_count = count_field(server, "min_count")?.unwrap_or(1);
    let max_count = count_field(server, "max_count")?.unwrap_or(min_count);
    if max_count < min_count {
        return Err(ComputeError::BadRequest(
            "min_count must be <= max_count".into(),
        ));
    }
    let hints = body
        .get("os:scheduler_hints")
        .or_else(|| body.get("OS-SCH-HNT:scheduler_hints"));
    let group = match hints.and_then(|h| h.get("group")).and_then(Value::as_str) {
        None => None,
        Some(g) => match state.servers.get_group(g)? {
            Some(group)
                if caller.is_admin() || caller.project_id() == Some(group.project_id.as_str()) =>
            {
                Some(group)
            }
            _ => {
                return Err(ComputeError::BadRequest(format!(
                    "Invalid server group {g}: it could not be found."
                )))
            }
        },
    };
    let description = if v.at_least(19) {
        match server.get("description") {
            None | Some(Value::Null) => None,
            Some(_) => string_field(server, "description", 255)?,
        }
    } else {
        None
    };
    let tags = match server.get("tags") {
        Some(Value::Array(a)) if v.at_least(52) => a
            .iter()
            .map(|t| {
                t.as_str()
                    .filter(|s| !s.is_empty() && s.len() <= 60 && !s.contains(['/', ',']))
                    .map(str::to_string)
                    .ok_or_else(|| invalid("tags", t, "is not a valid tag"))
            })
            .collect::<ComputeResult<Vec<_>>>()?,
        _ => Vec::new(),
    };
    let hostname = if v.at_least(90) {
        string_field(server, "hostname", 63)?
    } else {
        None
    };
    if v.at_least(63)
        && server
            .get("trusted_image_certificates")
            .is_some_and(|c| !c.is_null())
    {
        return Err(ComputeError::BadRequest(
            "Image signature certificate validation is not supported by ferrostack.".into(),
        ));
    }
    Ok(BootRequest {
        name,
        image,
        flavor,
        key,
        user_data,
        metadata: metadata_field(server)?,
        config_drive,
        availability_zone: zone,
        forced_host,
        min_count: min_count as usize,
        max_count: max_count as usize,
        group,
        description,
        access_ipv4: string_field(server, "accessIPv4", 64)?.unwrap_or_default(),
        access_ipv6: string_field(server, "accessIPv6", 64)?.unwrap_or_default(),
        tags,
        hostname,
        disk_config: string_field(server, "OS-DCF:diskConfig", 10)?
            .unwrap_or_else(|| "MANUAL".into()),
        request_id: request_id.to_string(),
    })
}

/// `POST /servers`.
pub async fn create(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    RequestId(request_id): RequestId,
    Json(body): Json<Value>,
) -> ComputeResult<Response> {
    let req = parse_create(&state, &caller, v, &body, &request_id)?;
    let return_reservation = body
        .get("server")
        .and_then(|s| s.get("return_reservation_id"))
        .is_some_and(|r| r == &json!(true) || r == &json!("True") || r == &json!("true"));
    let created = lifecycle::create(&state, &caller, &req)?;
    let Some(first) = created.first() else {
        return Err(ComputeError::Internal("no server created".into()));
    };
    tracing::info!(
        server = %first.uuid,
        count = created.len(),
        host = ?first.host,
        "server create accepted"
    );
    let body = if return_reservation {
        json!({"reservation_id": doc(first)?.reservation_id})
    } else {
        let mut s = json!({
            "id": first.uuid,
            "links": views::links(&state, &first.uuid),
            "OS-DCF:diskConfig": req.disk_config,
            "security_groups": [{"name": "default"}],
        });
        // The guest gets its key from the config drive and no password is
        // ever set in it; Nova's shape still carries one.
        s["adminPass"] = json!(ferrostack_common::ids::new_hex_id()[..12].to_string());
        json!({"server": s})
    };
    let mut resp = (StatusCode::ACCEPTED, axum::Json(body)).into_response();
    if let Ok(loc) =
        http::HeaderValue::from_str(&format!("{}/v2.1/servers/{}", state.public_url, first.uuid))
    {
        resp.headers_mut().insert(http::header::LOCATION, loc);
    }
    Ok(resp)
}

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

fn list_servers(
    state: &ComputeState,
    caller: &AuthContext,
    v: ApiVersion,
    q: &QueryPairs,
) -> ComputeResult<Vec<Instance>> {
    q.check_known(v, LIST_QUERY)?;
    let admin = caller.is_admin();
    let all = admin
        && q.get("all_tenants").is_some_and(|a| {
            !matches!(
                a.to_ascii_lowercase().as_str(),
                "false" | "0" | "off" | "no"
            )
        });
    let project = if admin && all {
        q.get("project_id")
            .or_else(|| q.get("tenant_id"))
            .map(str::to_string)
    } else if admin && (q.get("project_id").is_some() || q.get("tenant_id").is_some()) {
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
        Some(s) => Some(
            servers::vm_states_for_status(s)
                .ok_or_else(|| ComputeError::BadRequest("Invalid status value".to_string()))?,
        ),
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
    let rows = list_servers(&state, &caller, v, &q)?;
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
    let rows = list_servers(&state, &caller, v, &q)?;
    let servers = rows
        .iter()
        .map(|i| views::detail(&state, &caller, v, i))
        .collect::<ComputeResult<Vec<_>>>()?;
    let mut body = json!({ "servers": servers });
    if let Some(links) = page_links(&state, "servers/detail", &q, &rows)? {
        body["servers_links"] = links;
    }
    Ok(axum::Json(body))
}

/// `GET /servers/{id}`.
pub async fn show(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    let i = servers::find(&state, &caller, &id, false)?;
    Ok(axum::Json(
        json!({"server": views::detail(&state, &caller, v, &i)?}),
    ))
}

/// `PUT /servers/{id}`: name, access IPs, description (2.19), hostname (2.90).
pub async fn update(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> ComputeResult<axum::Json<Value>> {
    let i = servers::find(&state, &caller, &id, false)?;
    crate::servers::actions::check_lock(&caller, &i)?;
    let Some(server) = body.get("server").and_then(Value::as_object) else {
        return Err(invalid("server", &body, "'server' is a required property"));
    };
    let mut allowed = vec!["name", "accessIPv4", "accessIPv6", "OS-DCF:diskConfig"];
    if v.at_least(19) {
        allowed.push("description");
    }
    if v.at_least(90) {
        allowed.push("hostname");
    }
    if let Some(k) = server.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ComputeError::BadRequest(format!(
            "Invalid input for field/attribute server. Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let name = string_field(server, "name", 255)?;
    if name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(invalid("name", &json!(name), "must not be blank"));
    }
    let ipv4 = string_field(server, "accessIPv4", 64)?;
    let ipv6 = string_field(server, "accessIPv6", 64)?;
    let description = match server.get("description") {
        Some(Value::Null) => Some(None),
        Some(_) => Some(string_field(server, "description", 255)?),
        None => None,
    };
    let hostname = string_field(server, "hostname", 63)?;
    let updated = state
        .servers
        .modify_instance(&i.uuid, &mut |row| {
            let mut d = doc(row).map_err(lifecycle::to_store)?;
            if let Some(n) = &name {
                row.name = n.clone();
            }
            if let Some(ip) = &ipv4 {
                d.access_ipv4 = ip.clone();
            }
            if let Some(ip) = &ipv6 {
                d.access_ipv6 = ip.clone();
            }
            if let Some(desc) = &description {
                d.description = desc.clone();
            }
            if let Some(h) = &hostname {
                d.hostname = h.clone();
            }
            set_doc(row, &d).map_err(lifecycle::to_store)
        })
        .map_err(lifecycle::from_store)?;
    Ok(axum::Json(
        json!({"server": views::detail(&state, &caller, v, &updated)?}),
    ))
}

/// `DELETE /servers/{id}`.
pub async fn delete(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    RequestId(request_id): RequestId,
) -> ComputeResult<Response> {
    let i = servers::find(&state, &caller, &id, false)?;
    if i.vm_state == vm::DELETED {
        return Err(servers::not_found(&id));
    }
    lifecycle::delete(&state, &caller, &i, &request_id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
