//! Images: the list, upload with a progress bar, delete.
//!
//! An upload is two requests from the page's script: `POST /images`
//! creates the image record in Glance and answers its id as JSON, then an
//! XHR `PUT /images/{id}/file` sends the file, whose upload progress the
//! browser reports. That handler streams the body straight into Glance's
//! `PUT /v2/images/{id}/file`: the dashboard never holds an image in memory
//! or on disk, and Glance's own size limit and inspection apply.

use crate::api_client::{items, s, Service};
use crate::form::Form;
use crate::layout::{self, csrf_field, post_button, Ctx, Nav};
use crate::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::TryStreamExt;
use http::{HeaderMap, Method, StatusCode};
use maud::html;
use serde::Deserialize;
use serde_json::json;

/// Disk formats offered (Glance's list, most used first).
const DISK_FORMATS: &[&str] = &[
    "qcow2", "raw", "iso", "vmdk", "vdi", "vhd", "vhdx", "ami", "aki", "ari",
];

/// A size in bytes for people.
pub fn human_size(bytes: Option<u64>) -> String {
    let Some(b) = bytes else { return String::new() };
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// GET /images.
pub async fn list(State(state): State<AppState>, ctx: Ctx) -> Response {
    let images = match state
        .api
        .get(Service::Image, "/images?limit=500", ctx.token())
        .await
    {
        Ok(v) => v,
        Err(e) => return layout::error_page(&state, &ctx, "Images", Nav::Images, e),
    };
    let images = items(&images, "images");
    let body = html! {
        @if images.is_empty() { p { "No images yet." } }
        table #images {
            caption.visually-hidden { "Images visible to this project" }
            thead { tr { th scope="col" { "Name" } th scope="col" { "Status" } th scope="col" { "Visibility" } th scope="col" { "Format" } th scope="col" { "Size" } th scope="col" { "Actions" } } }
            tbody {
                @for i in images {
                    @let id = s(i, "id");
                    tr data-image-id=(id) {
                        td { (s(i, "name")) }
                        td { (s(i, "status")) }
                        td { (s(i, "visibility")) }
                        td { (s(i, "disk_format")) }
                        td { (human_size(i["size"].as_u64())) }
                        td { (post_button(&ctx, &format!("/images/{id}/delete"), "Delete",
                                Some(&format!("Delete image {}?", s(i, "name"))))) }
                    }
                }
            }
        }
        section aria-labelledby="upload-h" {
            h2 #upload-h { "Upload an image" }
            form #upload-form method="post" action="/images" data-upload {
                (csrf_field(&ctx))
                label for="image-name" { "Name" }
                input #image-name name="name" required maxlength="255";
                label for="image-format" { "Disk format" }
                select #image-format name="disk_format" {
                    @for f in DISK_FORMATS { option value=(f) { (f) } }
                }
                label for="image-visibility" { "Visibility" }
                select #image-visibility name="visibility" {
                    option value="private" { "Private (this project)" }
                    option value="shared" { "Shared" }
                    option value="community" { "Community" }
                    @if ctx.auth.is_admin() { option value="public" { "Public (every project)" } }
                }
                label for="image-file" { "File" }
                input #image-file name="file" type="file" required;
                label for="upload-progress" { "Upload progress" }
                progress #upload-progress max="100" value="0" { "0%" }
                p #upload-status role="status" aria-live="polite" {}
                button type="submit" { "Upload" }
            }
        }
    };
    layout::page(&state, &ctx, "Images", Nav::Images, body)
}

/// The upload form's fields (the file goes separately).
#[derive(Deserialize)]
pub struct CreateForm {
    name: String,
    disk_format: String,
    visibility: String,
}

fn json_error(status: u16, message: String) -> Response {
    let code = StatusCode::from_u16(status)
        .ok()
        .filter(|c| c.is_client_error() || c.is_server_error())
        .unwrap_or(StatusCode::BAD_GATEWAY);
    (code, Json(json!({ "error": message }))).into_response()
}

/// POST /images: create the record; answers `{"id"}` for the script.
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(f): Form<CreateForm>,
) -> Response {
    let body = json!({
        "name": f.name.trim(), "disk_format": f.disk_format,
        "container_format": "bare", "visibility": f.visibility,
    });
    match state
        .api
        .json(Method::POST, Service::Image, "/images", ctx.token(), &body)
        .await
    {
        Ok(v) => Json(json!({ "id": s(&v, "id") })).into_response(),
        Err(e) => json_error(e.status, e.message),
    }
}

/// PUT /images/{id}/file: stream the request body into Glance.
pub async fn upload(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let id = crate::api_client::seg(&id);
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let mut req = state
        .api
        .request(
            Method::PUT,
            Service::Image,
            &format!("/images/{id}/file"),
            ctx.token(),
        )
        .header(http::header::CONTENT_TYPE, "application/octet-stream")
        .body(reqwest::Body::wrap_stream(stream));
    if let Some(len) = headers.get(http::header::CONTENT_LENGTH) {
        req = req.header(http::header::CONTENT_LENGTH, len.clone());
    }
    match state.api.send(req).await {
        Ok(_) => {
            state.sessions.set_flash(
                &ctx.session.id,
                crate::session::Flash {
                    error: false,
                    text: "The image was uploaded.".into(),
                },
            );
            Json(json!({ "ok": true })).into_response()
        }
        Err(e) => json_error(e.status, e.message),
    }
}

/// POST /images/{id}/delete.
pub async fn delete(State(state): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let id = crate::api_client::seg(&id);
    let result = state
        .api
        .delete(Service::Image, &format!("/images/{id}"), ctx.token())
        .await
        .map(|_| "The image was deleted.".to_string());
    layout::done(&state, &ctx, result, "/images")
}
