//! Key pairs: list, create (the private key is downloaded exactly once),
//! import a public key, delete.
//!
//! Creating answers the generated private key as a file download with
//! `Cache-Control: no-store`; Nova keeps only the public half, and so does
//! the dashboard (it never stores the private key), so that download is
//! the only copy there will ever be.

use crate::api_client::{items, s, seg, Service};
use crate::form::Form;
use crate::layout::{self, csrf_field, post_button, Ctx, Nav};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{header, Method};
use maud::html;
use serde::Deserialize;
use serde_json::json;

/// GET /keypairs.
pub async fn list(State(state): State<AppState>, ctx: Ctx) -> Response {
    let keys = match state
        .api
        .get(Service::Compute, "/os-keypairs", ctx.token())
        .await
    {
        Ok(v) => v,
        Err(e) => return layout::error_page(&state, &ctx, "Key pairs", Nav::Keypairs, e),
    };
    let keys = items(&keys, "keypairs");
    let body = html! {
        @if keys.is_empty() { p { "No key pairs yet." } }
        table #keypairs {
            caption.visually-hidden { "Your key pairs" }
            thead { tr { th scope="col" { "Name" } th scope="col" { "Fingerprint" } th scope="col" { "Actions" } } }
            tbody {
                @for k in keys {
                    @let name = s(&k["keypair"], "name");
                    tr {
                        td { (name) }
                        td { code { (s(&k["keypair"], "fingerprint")) } }
                        td { (post_button(&ctx, &format!("/keypairs/{}/delete", seg(&name)), "Delete",
                                Some(&format!("Delete key pair {name}?")))) }
                    }
                }
            }
        }
        div.columns {
            section aria-labelledby="create-h" {
                h2 #create-h { "Create a key pair" }
                p.hint { "The private key is downloaded once, now; it is not kept anywhere. Reload the page afterwards to see the new key pair." }
                form method="post" action="/keypairs/create" data-download {
                    (csrf_field(&ctx))
                    label for="create-name" { "Name" }
                    input #create-name name="name" required maxlength="255" pattern="[A-Za-z0-9 _.@-]+";
                    button type="submit" { "Create and download" }
                }
            }
            section aria-labelledby="import-h" {
                h2 #import-h { "Import a public key" }
                form method="post" action="/keypairs/import" {
                    (csrf_field(&ctx))
                    label for="import-name" { "Name" }
                    input #import-name name="name" required maxlength="255";
                    label for="import-key" { "Public key (OpenSSH)" }
                    textarea #import-key name="public_key" rows="4" required {}
                    button type="submit" { "Import" }
                }
            }
        }
    };
    layout::page(&state, &ctx, "Key pairs", Nav::Keypairs, body)
}

/// The create form.
#[derive(Deserialize)]
pub struct CreateForm {
    name: String,
}

/// A file name for a key pair name (letters, digits, `-_.` only).
pub fn file_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.pem")
}

/// POST /keypairs/create: the private key as a download.
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(f): Form<CreateForm>,
) -> Response {
    let name = f.name.trim().to_string();
    let body = json!({"keypair": {"name": name}});
    match state
        .api
        .json(
            Method::POST,
            Service::Compute,
            "/os-keypairs",
            ctx.token(),
            &body,
        )
        .await
    {
        Ok(v) => {
            let key = s(&v["keypair"], "private_key");
            let disposition = format!("attachment; filename=\"{}\"", file_name(&name));
            (
                [
                    (header::CONTENT_TYPE, "application/x-pem-file".to_string()),
                    (header::CONTENT_DISPOSITION, disposition),
                    (header::CACHE_CONTROL, "no-store".to_string()),
                ],
                key,
            )
                .into_response()
        }
        Err(e) => layout::done(&state, &ctx, Err(e), "/keypairs"),
    }
}

/// The import form.
#[derive(Deserialize)]
pub struct ImportForm {
    name: String,
    public_key: String,
}

/// POST /keypairs/import.
pub async fn import(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(f): Form<ImportForm>,
) -> Response {
    let name = f.name.trim().to_string();
    let body = json!({"keypair": {"name": name, "public_key": f.public_key.trim()}});
    let result = state
        .api
        .json(
            Method::POST,
            Service::Compute,
            "/os-keypairs",
            ctx.token(),
            &body,
        )
        .await
        .map(|_| format!("Key pair {name} was imported."));
    layout::done(&state, &ctx, result, "/keypairs")
}

/// POST /keypairs/{name}/delete.
pub async fn delete(State(state): State<AppState>, ctx: Ctx, Path(name): Path<String>) -> Response {
    // The path segment for the API, the name as typed for the message.
    let path = format!("/os-keypairs/{}", seg(&name));
    let result = state
        .api
        .delete(Service::Compute, &path, ctx.token())
        .await
        .map(|_| format!("Key pair {name} was deleted."));
    layout::done(&state, &ctx, result, "/keypairs")
}
