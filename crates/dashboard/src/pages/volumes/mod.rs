//! Block storage: volumes (this module), their snapshots (`snapshots`)
//! and backups (`backups`), over Cinder v3 with the user's token; attach
//! and detach are compute calls (`os-volume_attachments`), as in Horizon.
//!
//! The volumes list shows each volume's size, status, type, where it is
//! attached (instance name and device) and whether it boots. Its rows are
//! kept fresh by polling `/volumes/status`, which answers every row's
//! cells and the actions its state offers, rendered here by the same
//! function as the first page ([`row_actions`]), so which state offers
//! what is decided in one place:
//!
//! ```text
//!   available ──Attach──> in-use ──Detach──> available
//!   available|in-use: Extend
//!   available: Create snapshot, Create backup (the local backend takes
//!              neither of a volume a guest holds)
//!   available|error*: Delete      a state in progress ("creating"): none
//! ```
//!
//! Every form is one API call, so a refusal leaves nothing behind and the
//! user sees Cinder's (or Nova's) own message in the flash.

pub mod backups;
pub mod snapshots;

use crate::api_client::{items, s, seg, volume_path, ApiError, Service};
use crate::form::{number, Form};
use crate::layout::{self, csrf_field, post_button, Ctx, Nav};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::Method;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

/// A Cinder path of the current project.
pub fn vpath(ctx: &Ctx, rest: &str) -> String {
    volume_path(&ctx.auth.project.id, rest)
}

/// A resource's name, or its id when it has none.
pub fn display_name(v: &Value) -> String {
    let name = s(v, "name");
    if name.is_empty() {
        s(v, "id")
    } else {
        name
    }
}

/// `id -> name` of a list of resources (unnamed ones by id).
pub fn names(list: &[Value]) -> HashMap<String, String> {
    list.iter().map(|v| (s(v, "id"), display_name(v))).collect()
}

/// "yes"/"no" of Cinder's `bootable`, a string ("true") or a boolean.
pub fn bootable(v: &Value) -> bool {
    match &v["bootable"] {
        Value::Bool(b) => *b,
        Value::String(t) => t.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Devices of attachments by `(server id, volume id)`, from Nova.
pub type Devices = HashMap<(String, String), String>;

/// The devices Nova names for attachments Cinder lists without one (a
/// Cinder learns the mount point only if its client reports it); one
/// `os-volume_attachments` call per such server, none in the usual case.
pub async fn nova_devices(state: &AppState, ctx: &Ctx, volumes: &[Value]) -> Devices {
    let servers: std::collections::BTreeSet<String> = volumes
        .iter()
        .flat_map(|v| items(v, "attachments"))
        .filter(|a| s(a, "device").is_empty())
        .map(|a| s(a, "server_id"))
        .filter(|id| !id.is_empty())
        .collect();
    let calls = servers.into_iter().map(|server| async move {
        let path = format!("/servers/{}/os-volume_attachments", seg(&server));
        let answer = state.api.get(Service::Compute, &path, ctx.token()).await;
        (server, answer)
    });
    let mut devices = Devices::new();
    for (server, answer) in futures::future::join_all(calls).await {
        for a in answer.iter().flat_map(|v| items(v, "volumeAttachments")) {
            devices.insert((server.clone(), s(a, "volumeId")), s(a, "device"));
        }
    }
    devices
}

/// Where a volume is attached: `vm1 on /dev/vdb` per attachment.
pub fn attached_text(
    volume: &Value,
    servers: &HashMap<String, String>,
    devices: &Devices,
) -> String {
    items(volume, "attachments")
        .iter()
        .map(|a| {
            let id = s(a, "server_id");
            let device = match s(a, "device") {
                d if d.is_empty() => devices
                    .get(&(id.clone(), s(volume, "id")))
                    .cloned()
                    .unwrap_or_default(),
                d => d,
            };
            let server = servers.get(&id).cloned().unwrap_or(id);
            match device {
                d if d.is_empty() => server,
                d => format!("{server} on {d}"),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A size in GB as shown.
fn size_text(v: &Value) -> String {
    format!("{} GB", s(v, "size"))
}

/// What a row's actions depend on: when it changes, the poll swaps them.
pub fn row_state(volume: &Value) -> String {
    format!(
        "{}/{}/{}",
        s(volume, "status"),
        s(volume, "size"),
        items(volume, "attachments").len()
    )
}

/// A small form of the actions menu, posting to `/volumes/{id}/{what}`.
fn action_form(ctx: &Ctx, id: &str, what: &str, fields: Markup, label: &str) -> Markup {
    html! {
        form.row method="post" action=(format!("/volumes/{}/{what}", seg(id))) {
            (csrf_field(ctx)) (fields)
            button.secondary type="submit" { (label) }
        }
    }
}

/// The actions cell of a volume's row for its current state; `servers` are
/// the project's instances (`GET /servers/detail`), offered to attach to.
pub fn row_actions(ctx: &Ctx, volume: &Value, servers: &[Value]) -> Markup {
    let id = s(volume, "id");
    let status = s(volume, "status");
    let name = display_name(volume);
    let size = volume["size"].as_i64().unwrap_or(0);
    let in_use = status == "in-use";
    let settled = status == "available" || in_use;
    let deletable = status == "available" || status.starts_with("error");
    let server_names = names(servers);
    let fid = |what: &str| format!("{what}-{id}");
    html! {
        @for a in items(volume, "attachments").iter().filter(|_| in_use) {
            @let server = s(a, "server_id");
            form.inline method="post" action=(format!("/volumes/{}/detach", seg(&id))) {
                (csrf_field(ctx)) input type="hidden" name="server" value=(server);
                button.secondary type="submit" {
                    "Detach from " (server_names.get(&server).cloned().unwrap_or(server.clone()))
                }
            }
        }
        @if settled {
            details.row-menu {
                summary { "Manage" }
                @if status == "available" && !servers.is_empty() {
                    (action_form(ctx, &id, "attach", html! {
                        label for=(fid("attach")) { "Instance" }
                        select #(fid("attach")) name="server" required {
                            @for sv in servers { option value=(s(sv, "id")) { (display_name(sv)) } }
                        }
                    }, "Attach"))
                }
                (action_form(ctx, &id, "extend", html! {
                    label for=(fid("extend")) { "New size (GB)" }
                    input #(fid("extend")) name="new_size" type="number" min=(size + 1) value=(size + 1) required;
                }, "Extend"))
                @if status == "available" {
                    (action_form(ctx, &id, "snapshot", html! {
                        label for=(fid("snapshot")) { "Snapshot name" }
                        input #(fid("snapshot")) name="name" maxlength="255" value=(format!("{name}-snap"));
                    }, "Create snapshot"))
                    (action_form(ctx, &id, "backup", html! {
                        label for=(fid("backup")) { "Backup name" }
                        input #(fid("backup")) name="name" maxlength="255" value=(format!("{name}-backup"));
                        label.check { input type="checkbox" name="incremental" value="on"; "Incremental" }
                    }, "Create backup"))
                }
            }
        } @else if !deletable {
            span.hint { "Actions return when " (status) " is done." }
        }
        @if status == "available" && bootable(volume) {
            a.button.secondary href=(format!("/instances?launch=1&boot_volume={}", seg(&id))) { "Launch instance" }
        }
        @if deletable {
            (post_button(ctx, &format!("/volumes/{}/delete", seg(&id)), "Delete",
                Some(&format!("Delete volume {name}? Its data is lost."))))
        }
    }
}

/// The project's instances (an empty list when compute does not answer).
async fn servers(state: &AppState, ctx: &Ctx) -> Value {
    state
        .api
        .get(Service::Compute, "/servers/detail", ctx.token())
        .await
        .unwrap_or(Value::Null)
}

/// GET /volumes.
pub async fn list(State(state): State<AppState>, ctx: Ctx) -> Response {
    let (api, t) = (&state.api, ctx.token());
    let (vols_path, snaps_path, types_path) = (
        vpath(&ctx, "/volumes/detail"),
        vpath(&ctx, "/snapshots/detail"),
        vpath(&ctx, "/types"),
    );
    let (volumes, servers, images, snapshots, types) = tokio::join!(
        api.get(Service::Volume, &vols_path, t),
        servers(&state, &ctx),
        api.get(Service::Image, "/images?limit=500", t),
        api.get(Service::Volume, &snaps_path, t),
        api.get(Service::Volume, &types_path, t),
    );
    let volumes = match volumes {
        Ok(v) => v,
        Err(e) => return layout::error_page(&state, &ctx, "Volumes", Nav::Volumes, e),
    };
    let (images, snapshots, types) = (
        images.unwrap_or(Value::Null),
        snapshots.unwrap_or(Value::Null),
        types.unwrap_or(Value::Null),
    );
    let servers = items(&servers, "servers");
    let server_names = names(servers);
    let volumes = items(&volumes, "volumes");
    let devices = nova_devices(&state, &ctx, volumes).await;
    let body = html! {
        @if volumes.is_empty() { p #no-volumes { "No volumes yet." } }
        table #volumes data-poll-rows="/volumes/status" {
            caption.visually-hidden { "Volumes of this project" }
            thead { tr {
                th scope="col" { "Name" } th scope="col" { "Size" } th scope="col" { "Status" }
                th scope="col" { "Type" } th scope="col" { "Attached to" } th scope="col" { "Bootable" }
                th scope="col" { "Actions" }
            } }
            tbody {
                @for v in volumes {
                    tr data-row-id=(s(v, "id")) data-volume=(s(v, "name")) data-state=(row_state(v)) {
                        td { (display_name(v)) }
                        td data-field="size" { (size_text(v)) }
                        td { span.status data-status=(s(v, "status")) { (s(v, "status")) } }
                        td { (s(v, "volume_type")) }
                        td data-field="attached" { (attached_text(v, &server_names, &devices)) }
                        td data-field="bootable" { (if bootable(v) { "yes" } else { "no" }) }
                        td.actions.row-actions { (row_actions(&ctx, v, servers)) }
                    }
                }
            }
        }
        (create_form(&ctx, &images, &snapshots, &types))
    };
    layout::page(&state, &ctx, "Volumes", Nav::Volumes, body)
}

fn create_form(ctx: &Ctx, images: &Value, snapshots: &Value, types: &Value) -> Markup {
    let images: Vec<&Value> = items(images, "images")
        .iter()
        .filter(|i| i["status"] == "active")
        .collect();
    let snapshots: Vec<&Value> = items(snapshots, "snapshots")
        .iter()
        .filter(|sn| sn["status"] == "available")
        .collect();
    html! {
        section aria-labelledby="create-h" {
            h2 #create-h { "Create a volume" }
            form method="post" action="/volumes" {
                (csrf_field(ctx))
                label for="volume-name" { "Volume name" }
                input #volume-name name="name" required maxlength="255";
                label for="volume-source" { "Source" }
                select #volume-source name="source" data-choice {
                    option value="blank" { "Empty volume" }
                    option value="image" { "Image" }
                    option value="snapshot" { "Volume snapshot" }
                }
                div data-when="image" {
                    label for="volume-image" { "Image" }
                    select #volume-image name="image" {
                        @for i in &images { option value=(s(i, "id")) { (s(i, "name")) } }
                    }
                    @if images.is_empty() { p.hint { "No active image." } }
                }
                div data-when="snapshot" {
                    label for="volume-snapshot" { "Snapshot" }
                    select #volume-snapshot name="snapshot" {
                        @for sn in &snapshots { option value=(s(sn, "id")) { (display_name(sn)) " (" (s(sn, "size")) " GB)" } }
                    }
                    @if snapshots.is_empty() { p.hint { "No available snapshot: create one from a volume's actions." } }
                }
                label for="volume-size" { "Size (GB)" }
                input #volume-size name="size" type="number" min="1" aria-describedby="volume-size-hint";
                p.hint #volume-size-hint { "From a snapshot, leave it empty for the snapshot's size." }
                label for="volume-type" { "Type" }
                select #volume-type name="volume_type" {
                    option value="" { "(default)" }
                    @for ty in items(types, "volume_types") {
                        @let name = s(ty, "name");
                        option value=(name) { (name) }
                    }
                }
                button type="submit" { "Create volume" }
            }
        }
    }
}

/// The create form (also posted by a snapshot's "Create volume").
#[derive(Deserialize, Default)]
pub struct CreateForm {
    name: String,
    #[serde(default)]
    size: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    image: String,
    #[serde(default)]
    snapshot: String,
    #[serde(default)]
    volume_type: String,
}

/// Cinder's `POST /volumes` body for the form, or what is wrong with it.
pub fn create_body(f: &CreateForm) -> Result<Value, String> {
    let mut volume = json!({"name": f.name.trim()});
    let from_snapshot = f.source == "snapshot";
    if !(from_snapshot && f.size.trim().is_empty()) {
        volume["size"] = json!(number(&f.size, "Size (GB)", 1)?);
    }
    match f.source.as_str() {
        "" | "blank" => {}
        "image" if f.image.is_empty() => return Err("Choose an image.".into()),
        "image" => volume["imageRef"] = json!(f.image),
        "snapshot" if f.snapshot.is_empty() => return Err("Choose a snapshot.".into()),
        "snapshot" => volume["snapshot_id"] = json!(f.snapshot),
        _ => return Err("Unknown volume source.".into()),
    }
    if !f.volume_type.is_empty() {
        volume["volume_type"] = json!(f.volume_type);
    }
    Ok(json!({ "volume": volume }))
}

/// A form the dashboard refuses before asking the API.
pub fn invalid(message: String) -> ApiError {
    ApiError {
        status: 400,
        message,
    }
}

/// POST /volumes.
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(f): Form<CreateForm>,
) -> Response {
    let result = match create_body(&f) {
        Err(e) => Err(invalid(e)),
        Ok(body) => state
            .api
            .json(
                Method::POST,
                Service::Volume,
                &vpath(&ctx, "/volumes"),
                ctx.token(),
                &body,
            )
            .await
            .map(|_| format!("Volume {} is being created.", f.name.trim())),
    };
    layout::done(&state, &ctx, result, "/volumes")
}

/// POST /volumes/{id}/delete.
pub async fn delete(State(state): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let path = vpath(&ctx, &format!("/volumes/{}", seg(&id)));
    let result = state
        .api
        .delete(Service::Volume, &path, ctx.token())
        .await
        .map(|_| "The volume is being deleted.".to_string());
    layout::done(&state, &ctx, result, "/volumes")
}

/// The extend form.
#[derive(Deserialize)]
pub struct ExtendForm {
    new_size: String,
}

/// POST /volumes/{id}/extend: `os-extend`.
pub async fn extend(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<ExtendForm>,
) -> Response {
    let result = match number(&f.new_size, "New size (GB)", 1) {
        Err(e) => Err(invalid(e)),
        Ok(size) => {
            let path = vpath(&ctx, &format!("/volumes/{}/action", seg(&id)));
            let body = json!({"os-extend": {"new_size": size}});
            state
                .api
                .json(Method::POST, Service::Volume, &path, ctx.token(), &body)
                .await
                .map(|_| format!("The volume is being extended to {size} GB."))
        }
    };
    layout::done(&state, &ctx, result, "/volumes")
}

/// The attach and detach forms.
#[derive(Deserialize)]
pub struct ServerForm {
    #[serde(default)]
    server: String,
}

/// POST /volumes/{id}/attach: Nova's `os-volume_attachments`.
pub async fn attach(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<ServerForm>,
) -> Response {
    if f.server.is_empty() {
        let e = invalid("Choose an instance to attach the volume to.".into());
        return layout::done(&state, &ctx, Err(e), "/volumes");
    }
    let path = format!("/servers/{}/os-volume_attachments", seg(&f.server));
    let body = json!({"volumeAttachment": {"volumeId": id}});
    let result = state
        .api
        .json(Method::POST, Service::Compute, &path, ctx.token(), &body)
        .await
        .map(|v| match s(&v["volumeAttachment"], "device") {
            d if d.is_empty() => "The volume is being attached.".to_string(),
            d => format!("The volume is being attached as {d}."),
        });
    layout::done(&state, &ctx, result, "/volumes")
}

/// POST /volumes/{id}/detach.
pub async fn detach(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<ServerForm>,
) -> Response {
    let path = format!(
        "/servers/{}/os-volume_attachments/{}",
        seg(&f.server),
        seg(&id)
    );
    let result = state
        .api
        .delete(Service::Compute, &path, ctx.token())
        .await
        .map(|_| "The volume is being detached.".to_string());
    layout::done(&state, &ctx, result, "/volumes")
}

/// The snapshot and backup forms.
#[derive(Deserialize)]
pub struct CopyForm {
    #[serde(default)]
    name: String,
    /// Ticked: an incremental backup.
    #[serde(default)]
    incremental: Option<String>,
    /// `true` for an in-use volume (Cinder wants it said).
    #[serde(default)]
    force: String,
}

/// Cinder's `POST /snapshots` body.
pub fn snapshot_body(volume_id: &str, f: &CopyForm) -> Value {
    let mut snapshot = json!({"volume_id": volume_id, "name": f.name.trim()});
    if f.force == "true" {
        snapshot["force"] = json!(true);
    }
    json!({ "snapshot": snapshot })
}

/// Cinder's `POST /backups` body.
pub fn backup_body(volume_id: &str, f: &CopyForm) -> Value {
    let mut backup = json!({"volume_id": volume_id, "name": f.name.trim(),
        "incremental": f.incremental.is_some()});
    if f.force == "true" {
        backup["force"] = json!(true);
    }
    json!({ "backup": backup })
}

/// POST /volumes/{id}/snapshot.
pub async fn snapshot(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<CopyForm>,
) -> Response {
    let result = state
        .api
        .json(
            Method::POST,
            Service::Volume,
            &vpath(&ctx, "/snapshots"),
            ctx.token(),
            &snapshot_body(&id, &f),
        )
        .await
        .map(|_| {
            format!(
                "Snapshot {} is being created; it is listed under Volume snapshots.",
                f.name.trim()
            )
        });
    layout::done(&state, &ctx, result, "/volumes")
}

/// POST /volumes/{id}/backup.
pub async fn backup(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<CopyForm>,
) -> Response {
    let kind = if f.incremental.is_some() {
        "Incremental backup"
    } else {
        "Backup"
    };
    let result = state
        .api
        .json(
            Method::POST,
            Service::Volume,
            &vpath(&ctx, "/backups"),
            ctx.token(),
            &backup_body(&id, &f),
        )
        .await
        .map(|_| {
            format!(
                "{kind} {} is being created; it is listed under Backups.",
                f.name.trim()
            )
        });
    layout::done(&state, &ctx, result, "/volumes")
}

/// A poll's answer: never cached.
pub fn no_store(body: impl IntoResponse) -> Response {
    ([(http::header::CACHE_CONTROL, "no-store")], body).into_response()
}

/// A failed poll: the API's status and message as JSON.
pub fn json_error(e: ApiError) -> Response {
    let code = http::StatusCode::from_u16(e.status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    (code, Json(json!({ "error": e.message }))).into_response()
}

/// GET /volumes/status: what the list's script polls, `{"rows": [{"id",
/// "status", "text", "state", "fields", "actions"}]}`; the script swaps a
/// row's actions when its `state` changes.
pub async fn status(State(state): State<AppState>, ctx: Ctx) -> Response {
    let path = vpath(&ctx, "/volumes/detail");
    let (volumes, servers) = tokio::join!(
        state.api.get(Service::Volume, &path, ctx.token()),
        servers(&state, &ctx),
    );
    let volumes = match volumes {
        Ok(v) => v,
        Err(e) => return json_error(e),
    };
    let servers = items(&servers, "servers");
    let server_names = names(servers);
    let volumes = items(&volumes, "volumes");
    let devices = nova_devices(&state, &ctx, volumes).await;
    let rows: Vec<Value> = volumes
        .iter()
        .map(|v| {
            json!({
                "id": s(v, "id"), "status": s(v, "status"), "text": s(v, "status"),
                "state": row_state(v),
                "fields": {
                    "size": size_text(v),
                    "attached": attached_text(v, &server_names, &devices),
                    "bootable": if bootable(v) { "yes" } else { "no" },
                },
                "actions": row_actions(&ctx, v, servers).into_string(),
            })
        })
        .collect();
    no_store(Json(json!({ "rows": rows })))
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::session::{Auth, ProjectRef, Sessions};
    use std::sync::Arc;

    pub(crate) fn ctx() -> Ctx {
        let p = ProjectRef {
            id: "p".into(),
            name: "demo".into(),
        };
        let session = Sessions::default().create_authenticated(Auth {
            token: "t".into(),
            unscoped_token: "u".into(),
            user_id: "u1".into(),
            user_name: "alice".into(),
            project: p.clone(),
            projects: vec![p],
            roles: vec!["member".into()],
            expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
        });
        let auth: Arc<Auth> = session.auth.clone().unwrap();
        Ctx { session, auth }
    }

    fn form(source: &str, size: &str) -> CreateForm {
        CreateForm {
            name: " v1 ".into(),
            size: size.into(),
            source: source.into(),
            image: "img".into(),
            snapshot: "snap".into(),
            volume_type: String::new(),
        }
    }

    #[test]
    fn create_bodies_follow_the_source() {
        assert_eq!(
            create_body(&form("blank", "2")).unwrap(),
            json!({"volume": {"name": "v1", "size": 2}})
        );
        assert_eq!(
            create_body(&form("image", "3")).unwrap(),
            json!({"volume": {"name": "v1", "size": 3, "imageRef": "img"}})
        );
        // From a snapshot the size may be left to Cinder.
        assert_eq!(
            create_body(&form("snapshot", "")).unwrap(),
            json!({"volume": {"name": "v1", "snapshot_id": "snap"}})
        );
        let mut typed = form("blank", "1");
        typed.volume_type = "fast".into();
        assert_eq!(
            create_body(&typed).unwrap()["volume"]["volume_type"],
            "fast"
        );
    }

    #[test]
    fn bad_create_forms_are_refused_in_words() {
        assert_eq!(
            create_body(&form("blank", "")).unwrap_err(),
            "Size (GB) must be a whole number of at least 1."
        );
        assert!(create_body(&form("image", "0")).is_err());
        let mut no_image = form("image", "1");
        no_image.image.clear();
        assert_eq!(create_body(&no_image).unwrap_err(), "Choose an image.");
        assert!(create_body(&form("volume", "1")).is_err());
    }

    #[test]
    fn snapshot_and_backup_bodies() {
        let f = CopyForm {
            name: " s ".into(),
            incremental: Some("on".into()),
            force: "true".into(),
        };
        assert_eq!(
            snapshot_body("v", &f),
            json!({"snapshot": {"volume_id": "v", "name": "s", "force": true}})
        );
        assert_eq!(
            backup_body("v", &f),
            json!({"backup": {"volume_id": "v", "name": "s", "incremental": true, "force": true}})
        );
        let full = CopyForm {
            name: "b".into(),
            incremental: None,
            force: String::new(),
        };
        assert_eq!(
            backup_body("v", &full),
            json!({"backup": {"volume_id": "v", "name": "b", "incremental": false}})
        );
    }

    #[test]
    fn attachments_name_the_instance_and_device() {
        let servers = names(&[json!({"id": "s1", "name": "vm1"})]);
        let v = json!({"id": "v1", "attachments": [{"server_id": "s1", "device": "/dev/vdb"},
            {"server_id": "s2", "device": null}, {"server_id": "s3", "device": null}]});
        // Nova's device fills one Cinder does not know.
        let devices = Devices::from([(("s3".into(), "v1".into()), "/dev/vdc".into())]);
        assert_eq!(
            attached_text(&v, &servers, &devices),
            "vm1 on /dev/vdb; s2; s3 on /dev/vdc"
        );
        assert_eq!(attached_text(&json!({}), &servers, &devices), "");
        assert!(bootable(&json!({"bootable": "true"})));
        assert!(bootable(&json!({"bootable": true})));
        assert!(!bootable(&json!({"bootable": "false"})));
    }

    fn actions_of(html: &str) -> Vec<String> {
        html.split("action=\"/volumes/v1/")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap().to_string())
            .collect()
    }

    #[test]
    fn a_bootable_volume_offers_a_launch() {
        let v = json!({"id": "v1", "name": "root", "size": 1, "status": "available",
            "bootable": "true", "attachments": []});
        let html = row_actions(&ctx(), &v, &[]).into_string();
        assert!(html.contains(r#"href="/instances?launch=1&amp;boot_volume=v1""#));
        let mut data = v.clone();
        data["bootable"] = json!("false");
        assert!(!row_actions(&ctx(), &data, &[])
            .into_string()
            .contains("Launch"));
    }

    #[test]
    fn each_state_offers_its_actions() {
        let servers = [json!({"id": "s1", "name": "vm1"})];
        let vol = |status: &str, attachments: Value| {
            json!({"id": "v1", "name": "data", "size": 1, "status": status,
                   "attachments": attachments})
        };
        let available = row_actions(&ctx(), &vol("available", json!([])), &servers);
        assert_eq!(
            actions_of(&available.into_string()),
            ["attach", "extend", "snapshot", "backup", "delete"]
        );
        let in_use = vol("in-use", json!([{"server_id": "s1", "device": "/dev/vdb"}]));
        let html = row_actions(&ctx(), &in_use, &servers).into_string();
        assert_eq!(actions_of(&html), ["detach", "extend"]);
        assert!(html.contains("Detach from vm1"));
        let creating = row_actions(&ctx(), &vol("creating", json!([])), &servers);
        assert!(actions_of(&creating.into_string()).is_empty());
        let error = row_actions(&ctx(), &vol("error_extending", json!([])), &servers);
        assert_eq!(actions_of(&error.into_string()), ["delete"]);
    }
}
