//! Flavors (admin): list, create, delete. Non-admins see the list the API
//! gives them; the forms are shown to admins only.

use crate::api_client::{items, s, ApiError, Service};
use crate::form::number;
use crate::form::Form;
use crate::layout::{self, csrf_field, post_button, Ctx, Nav};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::Response;
use http::Method;
use maud::html;
use serde::Deserialize;
use serde_json::{json, Value};

/// GET /flavors.
pub async fn list(State(state): State<AppState>, ctx: Ctx) -> Response {
    // Admins see private flavors too.
    let path = if ctx.auth.is_admin() {
        "/flavors/detail?is_public=None"
    } else {
        "/flavors/detail"
    };
    let flavors = match state.api.get(Service::Compute, path, ctx.token()).await {
        Ok(v) => v,
        Err(e) => return layout::error_page(&state, &ctx, "Flavors", Nav::Flavors, e),
    };
    let flavors = items(&flavors, "flavors");
    let body = html! {
        @if flavors.is_empty() { p { "No flavors yet: an administrator creates them." } }
        table #flavors {
            caption.visually-hidden { "Flavors" }
            thead { tr { th scope="col" { "Name" } th scope="col" { "vCPUs" } th scope="col" { "RAM (MiB)" } th scope="col" { "Disk (GB)" } th scope="col" { "Public" } th scope="col" { "Actions" } } }
            tbody {
                @for f in flavors {
                    tr {
                        td { (s(f, "name")) }
                        td { (s(f, "vcpus")) }
                        td { (s(f, "ram")) }
                        td { (s(f, "disk")) }
                        td { @if f["os-flavor-access:is_public"] == false { "no" } @else { "yes" } }
                        td { @if ctx.auth.is_admin() {
                            (post_button(&ctx, &format!("/flavors/{}/delete", s(f, "id")), "Delete",
                                Some(&format!("Delete flavor {}?", s(f, "name")))))
                        } }
                    }
                }
            }
        }
        @if ctx.auth.is_admin() {
            section aria-labelledby="flavor-h" {
                h2 #flavor-h { "Create a flavor" }
                form.grid method="post" action="/flavors" {
                    (csrf_field(&ctx))
                    label for="flavor-name" { "Name" }
                    input #flavor-name name="name" required maxlength="255";
                    label for="flavor-vcpus" { "vCPUs" }
                    input #flavor-vcpus name="vcpus" type="number" min="1" value="1" required;
                    label for="flavor-ram" { "RAM (MiB)" }
                    input #flavor-ram name="ram" type="number" min="1" value="512" required;
                    label for="flavor-disk" { "Disk (GB)" }
                    input #flavor-disk name="disk" type="number" min="0" value="1" required;
                    label.check for="flavor-public" {
                        input #flavor-public name="public" type="checkbox" value="yes" checked;
                        " Public (every project may use it)"
                    }
                    button type="submit" { "Create flavor" }
                }
            }
        }
    };
    layout::page(&state, &ctx, "Flavors", Nav::Flavors, body)
}

/// The create form. Numbers arrive as strings and are checked here, so a
/// bad value gets a message naming the field (browsers enforce
/// `type=number`, hand-made requests and old pages do not).
#[derive(Deserialize)]
pub struct CreateForm {
    name: String,
    #[serde(default)]
    vcpus: String,
    #[serde(default)]
    ram: String,
    #[serde(default)]
    disk: String,
    #[serde(default)]
    public: Option<String>,
}

/// The body of `POST /flavors` for the form, or what is wrong with it.
pub fn flavor_body(f: &CreateForm) -> Result<Value, String> {
    let name = f.name.trim();
    if name.is_empty() {
        return Err("A flavor needs a name.".to_string());
    }
    Ok(json!({"flavor": {
        "name": name,
        "vcpus": number(&f.vcpus, "vCPUs", 1)?,
        "ram": number(&f.ram, "RAM (MiB)", 1)?,
        "disk": number(&f.disk, "Disk (GB)", 0)?,
        "os-flavor-access:is_public": f.public.is_some(),
    }}))
}

/// POST /flavors.
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(f): Form<CreateForm>,
) -> Response {
    let name = f.name.trim().to_string();
    let result = match flavor_body(&f) {
        Err(message) => Err(ApiError {
            status: 400,
            message,
        }),
        Ok(body) => state
            .api
            .json(
                Method::POST,
                Service::Compute,
                "/flavors",
                ctx.token(),
                &body,
            )
            .await
            .map(|_| format!("Flavor {name} was created.")),
    };
    layout::done(&state, &ctx, result, "/flavors")
}

/// POST /flavors/{id}/delete.
pub async fn delete(State(state): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let id = crate::api_client::seg(&id);
    let result = state
        .api
        .delete(Service::Compute, &format!("/flavors/{id}"), ctx.token())
        .await
        .map(|_| "The flavor was deleted.".to_string());
    layout::done(&state, &ctx, result, "/flavors")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn form(vcpus: &str, ram: &str, disk: &str) -> CreateForm {
        CreateForm {
            name: " m1.small ".into(),
            vcpus: vcpus.into(),
            ram: ram.into(),
            disk: disk.into(),
            public: None,
        }
    }

    #[test]
    fn the_form_becomes_a_flavor() {
        let body = flavor_body(&form("2", "2048", "0")).unwrap();
        assert_eq!(body["flavor"]["name"], "m1.small");
        assert_eq!(body["flavor"]["vcpus"], 2);
        assert_eq!(body["flavor"]["disk"], 0);
        assert_eq!(body["flavor"]["os-flavor-access:is_public"], false);
    }

    #[test]
    fn bad_numbers_name_their_field() {
        let e = flavor_body(&form("2", "lots", "1")).unwrap_err();
        assert!(e.starts_with("RAM (MiB) must be a whole number"), "{e}");
        assert!(flavor_body(&form("0", "1", "1"))
            .unwrap_err()
            .contains("vCPUs"));
        assert!(flavor_body(&form("1", "1", "-1"))
            .unwrap_err()
            .contains("Disk"));
    }
}
