//! `/v2.1/servers`: create, show, update and delete; the lists are in
//! [`super::server_list`]. The bodies of create and update are types in
//! [`ferrostack_compute_types::server`], which word their refusals as Nova
//! does; here they are checked in Nova's order, between the lookups they
//! lead to (flavor, image, key pair, zone, group). The steps that follow
//! are in [`crate::servers::lifecycle`].

pub use super::server_list::{list, list_detail};
use super::Caller;
use crate::error::{ComputeError, ComputeResult, Json};
use crate::microversion::Version;
use crate::networks::{self, NetworkRequest, NicRequest};
use crate::servers::lifecycle::{self, BootRequest};
use crate::servers::{self, doc, set_doc, views, vm};
use crate::ComputeState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrostack_common::request_id::RequestId;
use ferrostack_compute_types::server::{
    BootVolume, BootVolumeSource, CreateServerBody, Networks, ServerChanges, ServerCreate,
    UpdateServerBody,
};
use ferrostack_compute_types::ApiVersion;
use ferrostack_policy::AuthContext;
use ferrostack_store::image::Image;
use http::StatusCode;
use serde_json::{json, Map, Value};
use std::sync::Arc;

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

/// `networks` as Nova's schema reads it; `None` for no NIC at all.
fn networks_request(
    state: &ComputeState,
    v: ApiVersion,
    server: &ServerCreate,
    sent: &Map<String, Value>,
) -> ComputeResult<Option<NetworkRequest>> {
    let request = match server.networks(v, sent)? {
        Networks::None => return Ok(None),
        Networks::Requested(a) if a.is_empty() => return Ok(None),
        Networks::Unspecified => NetworkRequest::Unspecified,
        Networks::Auto => NetworkRequest::Auto,
        Networks::Requested(a) => NetworkRequest::List(networks::parse_requests(&a)?),
    };
    if state.link.networks().is_none() {
        return match request {
            NetworkRequest::Unspecified => Ok(None),
            _ => Err(ComputeError::BadRequest(
                "This cloud has no network service: boot with networks 'none' \
                 (openstack server create --nic none)."
                    .into(),
            )),
        };
    }
    Ok(Some(request))
}

/// The NICs of a boot, checked by the network service before anything
/// is created (Nova validates networks after the flavor and image).
fn resolve_nics(
    state: &ComputeState,
    caller: &AuthContext,
    request: Option<&NetworkRequest>,
    max_count: usize,
) -> ComputeResult<Vec<NicRequest>> {
    let (Some(request), Some(service)) = (request, state.link.networks()) else {
        return Ok(Vec::new());
    };
    let nics = service.resolve(caller, request)?;
    if max_count > 1 && nics.iter().any(|n| n.port_id.is_some()) {
        return Err(ComputeError::BadRequest(
            "Unable to launch multiple instances with a single configured port ID. Please \
             launch your instance one by one with different ports."
                .into(),
        ));
    }
    Ok(nics)
}

/// The volumes a boot asks for (`destination_type: volume`), checked;
/// the image as the local root disk is not one. Local disks other than
/// that (ephemeral, swap) are refused: ferrostack does not serve them.
fn boot_volumes(server: &ServerCreate, image_ref: &str) -> ComputeResult<Vec<BootVolume>> {
    let Some(bdms) = server.block_devices()? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for bdm in &bdms {
        if bdm.is_image_root(image_ref) {
            continue;
        }
        match bdm.volume()? {
            Some(v) => out.push(v),
            None => {
                return Err(ComputeError::BadRequest(
                    "Block Device Mapping is Invalid: local disks other than the image as the \
                     root disk (ephemeral, swap) are not served by ferrostack."
                        .into(),
                ))
            }
        }
    }
    if out.iter().filter(|v| v.boot_index == Some(0)).count() > 1 {
        return Err(ComputeError::BadRequest(
            "Block Device Mapping is Invalid: Boot sequence for the instance and image/block \
             device mapping combination is not valid."
                .into(),
        ));
    }
    Ok(out)
}

/// The image a boot boots: `imageRef`, or, booting from a volume, the
/// image its root volume is made from or holds (a volume's image
/// metadata), as Nova shows it.
fn boot_image_ref(
    state: &ComputeState,
    caller: &AuthContext,
    image_ref: &str,
    volumes: &mut [BootVolume],
) -> ComputeResult<String> {
    let root = volumes.iter_mut().find(|v| v.boot_index == Some(0));
    let Some(root) = root else {
        if image_ref.is_empty() {
            return Err(ComputeError::BadRequest(
                "Block Device Mapping is Invalid: Boot sequence for the instance and image/block \
                 device mapping combination is not valid."
                    .into(),
            ));
        }
        return Ok(image_ref.to_string());
    };
    match &mut root.source {
        BootVolumeSource::Image(id) => {
            if id.is_empty() {
                *id = image_ref.to_string();
            }
            if id.is_empty() {
                return Err(ComputeError::BadRequest(
                    "Block Device Mapping is Invalid: an image source needs its uuid.".into(),
                ));
            }
            Ok(id.clone())
        }
        BootVolumeSource::Volume(id) => {
            let service = state.link.volumes().ok_or_else(|| {
                ComputeError::BadRequest("This cloud has no block storage service.".into())
            })?;
            service.boot_image(caller, id)
        }
        BootVolumeSource::Snapshot(id) => {
            let service = state.link.volumes().ok_or_else(|| {
                ComputeError::BadRequest("This cloud has no block storage service.".into())
            })?;
            let snapshot = service.show_snapshot(caller, id).map_err(|e| match e {
                ComputeError::NotFound(_) => ComputeError::BadRequest(format!(
                    "Block Device Mapping is Invalid: failed to get snapshot {id}."
                )),
                other => other,
            })?;
            service.boot_image(caller, &snapshot.volume_id)
        }
        BootVolumeSource::Blank => Err(ComputeError::BadRequest(
            "Block Device Mapping is Invalid: a blank volume cannot be the boot disk.".into(),
        )),
    }
}

/// Check a create in the order Nova does, the body's own rules (in
/// [`ServerCreate`]) between the lookups they lead to.
fn parse_create(
    state: &ComputeState,
    caller: &AuthContext,
    v: ApiVersion,
    body: &CreateServerBody,
    request_id: &str,
) -> ComputeResult<BootRequest> {
    let (server, sent) = body.required()?;
    let name = server.name()?;
    let network_request = networks_request(state, v, server, sent)?;
    let mut volumes = boot_volumes(server, server.image_id())?;
    if volumes.is_empty() && !server.image_id().is_empty() {
        // An image of a volume-backed server: its mappings are the boot's.
        if let Some(image) = state.images.get_image(server.image_id())? {
            if image.status != "deleted" && image_visible(&image, caller, state)? {
                volumes = crate::servers::volume_image::mappings(&image)?;
            }
        }
    }
    if !volumes.is_empty() && state.link.volumes().is_none() {
        return Err(ComputeError::BadRequest(
            "Block Device Mapping is Invalid: this cloud has no block storage service.".into(),
        ));
    }
    let image_ref = boot_image_ref(state, caller, server.image_id(), &mut volumes)?;
    let flavor_ref = server.flavor_id(sent)?;
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
    // Booted from a volume, the root disk is the volume: the image must
    // fit the new volume (an existing one already holds it).
    let root_gb = match volumes.iter().find(|v| v.boot_index == Some(0)) {
        Some(v) => i64::try_from(v.size_gib).unwrap_or(i64::MAX),
        None => flavor.root_gb,
    };
    let image = bootable_image(state, caller, &image_ref, flavor.memory_mb, root_gb)?;
    if crate::servers::volume_image::is_volume_image(&image) {
        // Its own mappings were taken above; as a root disk it has no data.
        return Err(ComputeError::BadRequest(format!(
            "Block Device Mapping is Invalid: image {image_ref} holds no disk (it names volume \
             snapshots) and cannot be a root disk."
        )));
    }
    let key = match server.key_name()? {
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
    let user_data = server.user_data()?;
    let config_drive = server.config_drive()?;
    let (mut zone, mut forced_host) = (server.availability_zone()?, None);
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
        let known = super::aggregates::zoned_services(state)?
            .iter()
            .any(|s| s.binary == "nova-compute" && &s.zone == z);
        if !known {
            return Err(ComputeError::BadRequest(
                "The requested availability zone is not available".into(),
            ));
        }
    }
    if let Some(h) = server.host(v)? {
        if !caller.is_admin() {
            return Err(ComputeError::Forbidden(
                "Policy doesn't allow compute:servers:create:requested_destination to be performed."
                    .into(),
            ));
        }
        forced_host = Some(h);
    }
    let (min_count, max_count) = server.counts()?;
    if max_count > 1
        && volumes
            .iter()
            .any(|v| matches!(v.source, BootVolumeSource::Volume(_)))
    {
        return Err(ComputeError::BadRequest(
            "Cannot attach one or more volumes to multiple instances".into(),
        ));
    }
    let nics = resolve_nics(state, caller, network_request.as_ref(), max_count as usize)?;
    let security_groups = match state.link.networks() {
        Some(service) if !nics.is_empty() => {
            service.security_groups(caller, &server.security_groups()?)?
        }
        _ => Vec::new(),
    };
    let group = match body.group_hint() {
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
    let description = server.description(v)?;
    let tags = server.tags(v)?;
    let hostname = server.hostname(v)?;
    if server.asks_trusted_certificates(v) {
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
        metadata: server.metadata()?,
        config_drive,
        availability_zone: zone,
        forced_host,
        min_count: min_count as usize,
        max_count: max_count as usize,
        group,
        description,
        access_ipv4: server.access_ipv4()?,
        access_ipv6: server.access_ipv6()?,
        tags,
        hostname,
        disk_config: server.disk_config()?,
        nics,
        security_groups,
        volumes,
        request_id: request_id.to_string(),
    })
}

/// `POST /servers`.
pub async fn create(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    RequestId(request_id): RequestId,
    Json(body): Json<CreateServerBody>,
) -> ComputeResult<Response> {
    let req = parse_create(&state, &caller, v, &body, &request_id)?;
    let (server, _) = body.required()?;
    let return_reservation = server.returns_reservation_id();
    let admin_pass = server.admin_pass()?;
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
        // ever set in it; Nova's shape still carries one: the one asked
        // for, as Nova answers, or a new one.
        s["adminPass"] = json!(admin_pass.unwrap_or_else(new_admin_pass));
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

/// A password for a create or rebuild that asked for none.
pub fn new_admin_pass() -> String {
    ferrostack_common::ids::new_hex_id()[..12].to_string()
}

/// `GET /servers/{id}`.
pub async fn show(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    let i = servers::find(&state, &caller, &id, false)?;
    let mut view = [views::detail(&state, &caller, v, &i)?];
    views::add_security_groups(&state, &mut view, std::slice::from_ref(&i))?;
    let [view] = view;
    Ok(axum::Json(json!({ "server": view })))
}

/// `PUT /servers/{id}`: name, access IPs, description (2.19), hostname (2.90).
pub async fn update(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
    Json(body): Json<UpdateServerBody>,
) -> ComputeResult<axum::Json<Value>> {
    let i = servers::find(&state, &caller, &id, false)?;
    crate::servers::actions::check_lock(&caller, &i)?;
    let (server, sent) = body.required()?;
    let ServerChanges {
        name,
        access_ipv4: ipv4,
        access_ipv6: ipv6,
        description,
        hostname,
    } = server.changes(v, sent)?;
    let disk_config =
        ferrostack_compute_types::server_action::disk_config(server.disk_config.as_ref())?;
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
            if let Some(c) = &disk_config {
                d.disk_config = c.clone();
            }
            set_doc(row, &d).map_err(lifecycle::to_store)
        })
        .map_err(lifecycle::from_store)?;
    Ok(axum::Json(
        json!({"server": views::action_view(&state, &caller, v, &updated, views::ChangeAnswer::Update)?}),
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
