//! Identity admin: projects (create, edit, delete) and their compute quotas
//! (`PUT /v2.1/os-quota-sets/{project_id}`, what `nova quota-update` does).

use crate::api_client::{items, s, ApiError, Service};
use crate::form::Form;
use crate::layout::{self, csrf_field, post_button, Ctx, Nav};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::Response;
use http::Method;
use maud::html;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// Quotas shown on the quota page, with their labels.
pub const QUOTAS: &[(&str, &str)] = &[
    ("instances", "Instances"),
    ("cores", "vCPUs"),
    ("ram", "RAM (MiB)"),
    ("key_pairs", "Key pairs"),
    ("metadata_items", "Metadata items"),
    ("server_groups", "Server groups"),
    ("server_group_members", "Server group members"),
];

/// GET /identity/projects.
pub async fn list(State(state): State<AppState>, ctx: Ctx) -> Response {
    let projects = match state
        .api
        .get(Service::Identity, "/projects", ctx.token())
        .await
    {
        Ok(v) => v,
        Err(e) => return layout::error_page(&state, &ctx, "Projects", Nav::Projects, e),
    };
    let body = html! {
        table #projects {
            caption.visually-hidden { "Projects" }
            thead { tr { th scope="col" { "Name" } th scope="col" { "Description" } th scope="col" { "Enabled" } th scope="col" { "Actions" } } }
            tbody {
                @for p in items(&projects, "projects") {
                    @let (id, name) = (s(p, "id"), s(p, "name"));
                    tr data-project=(name) {
                        td { (name) }
                        td { (s(p, "description")) }
                        td { @if p["enabled"] == false { "no" } @else { "yes" } }
                        td.actions {
                            a.button.secondary href=(format!("/identity/projects/{id}/quotas")) { "Quotas" }
                            details {
                                summary { "Edit" }
                                form method="post" action=(format!("/identity/projects/{id}/edit")) {
                                    (csrf_field(&ctx))
                                    label for=(format!("name-{id}")) { "Name" }
                                    input id=(format!("name-{id}")) name="name" required value=(name);
                                    label for=(format!("desc-{id}")) { "Description" }
                                    input id=(format!("desc-{id}")) name="description" value=(s(p, "description"));
                                    label.check for=(format!("enabled-{id}")) {
                                        input id=(format!("enabled-{id}")) name="enabled" type="checkbox" value="yes" checked[p["enabled"] != false];
                                        " Enabled"
                                    }
                                    button type="submit" { "Save" }
                                }
                            }
                            (post_button(&ctx, &format!("/identity/projects/{id}/delete"), "Delete",
                                Some(&format!("Delete project {name}? Its resources stay behind."))))
                        }
                    }
                }
            }
        }
        section aria-labelledby="new-project-h" {
            h2 #new-project-h { "Create a project" }
            form method="post" action="/identity/projects" {
                (csrf_field(&ctx))
                label for="project-name" { "Name" }
                input #project-name name="name" required maxlength="64";
                label for="project-description" { "Description" }
                input #project-description name="description";
                label.check for="project-enabled" {
                    input #project-enabled name="enabled" type="checkbox" value="yes" checked;
                    " Enabled"
                }
                button type="submit" { "Create project" }
            }
        }
    };
    layout::page(&state, &ctx, "Projects", Nav::Projects, body)
}

/// Create and edit forms.
#[derive(Deserialize)]
pub struct ProjectForm {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    enabled: Option<String>,
}

impl ProjectForm {
    fn body(&self) -> Value {
        json!({"project": {
            "name": self.name.trim(), "description": self.description.trim(),
            "enabled": self.enabled.is_some(),
        }})
    }
}

/// POST /identity/projects.
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(f): Form<ProjectForm>,
) -> Response {
    let mut body = f.body();
    body["project"]["domain_id"] = json!("default");
    let result = state
        .api
        .json(
            Method::POST,
            Service::Identity,
            "/projects",
            ctx.token(),
            &body,
        )
        .await
        .map(|_| format!("Project {} was created.", f.name.trim()));
    layout::done(&state, &ctx, result, "/identity/projects")
}

/// POST /identity/projects/{id}/edit.
pub async fn edit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<ProjectForm>,
) -> Response {
    let id = crate::api_client::seg(&id);
    let result = state
        .api
        .json(
            Method::PATCH,
            Service::Identity,
            &format!("/projects/{id}"),
            ctx.token(),
            &f.body(),
        )
        .await
        .map(|_| format!("Project {} was saved.", f.name.trim()));
    layout::done(&state, &ctx, result, "/identity/projects")
}

/// POST /identity/projects/{id}/delete.
pub async fn delete(State(state): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let id = crate::api_client::seg(&id);
    let result = state
        .api
        .delete(Service::Identity, &format!("/projects/{id}"), ctx.token())
        .await
        .map(|_| "The project was deleted.".to_string());
    layout::done(&state, &ctx, result, "/identity/projects")
}

/// GET /identity/projects/{id}/quotas.
pub async fn quotas(State(state): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let id = crate::api_client::seg(&id);
    let t = ctx.token();
    let (project_path, quota_path) = (format!("/projects/{id}"), format!("/os-quota-sets/{id}"));
    let (project, quotas) = tokio::join!(
        state.api.get(Service::Identity, &project_path, t),
        state.api.get(Service::Compute, &quota_path, t),
    );
    let (project, quotas) = match (|| Ok::<_, ApiError>((project?, quotas?)))() {
        Ok(r) => r,
        Err(e) => return layout::error_page(&state, &ctx, "Quotas", Nav::Projects, e),
    };
    let q = &quotas["quota_set"];
    let title = format!("Quotas of {}", s(&project["project"], "name"));
    let body = html! {
        p.hint { "Compute quotas of this project; -1 means unlimited." }
        form.grid #quota-form method="post" action=(format!("/identity/projects/{id}/quotas")) {
            (csrf_field(&ctx))
            @for (key, label) in QUOTAS {
                label for=(format!("quota-{key}")) { (label) }
                input id=(format!("quota-{key}")) name=(key) type="number" min="-1" value=(s(q, key));
            }
            button type="submit" { "Save quotas" }
        }
        p { a href="/identity/projects" { "Back to projects" } }
    };
    layout::page(&state, &ctx, &title, Nav::Projects, body)
}

/// The quota form as the body of `PUT os-quota-sets` (known keys only).
pub fn quota_body(form: &HashMap<String, String>) -> Result<Value, String> {
    let mut set = Map::new();
    for (key, label) in QUOTAS {
        let Some(raw) = form.get(*key).map(|v| v.trim()).filter(|v| !v.is_empty()) else {
            continue;
        };
        let n: i64 = raw
            .parse()
            .ok()
            .filter(|n| *n >= -1)
            .ok_or_else(|| format!("{label} must be a whole number, -1 for unlimited."))?;
        set.insert((*key).to_string(), json!(n));
    }
    Ok(json!({ "quota_set": set }))
}

/// POST /identity/projects/{id}/quotas.
pub async fn set_quotas(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let id = crate::api_client::seg(&id);
    let back = format!("/identity/projects/{id}/quotas");
    let result = match quota_body(&form) {
        Err(message) => Err(ApiError {
            status: 400,
            message,
        }),
        Ok(body) => state
            .api
            .json(
                Method::PUT,
                Service::Compute,
                &format!("/os-quota-sets/{id}"),
                ctx.token(),
                &body,
            )
            .await
            .map(|_| "The quotas were saved.".to_string()),
    };
    layout::done(&state, &ctx, result, &back)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn quota_form_becomes_a_quota_set() {
        let form: HashMap<String, String> =
            [("cores", "30"), ("ram", ""), ("csrf", "x"), ("bogus", "1")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        assert_eq!(
            quota_body(&form).unwrap(),
            json!({"quota_set": {"cores": 30}})
        );
        let bad: HashMap<String, String> = [("cores".to_string(), "-5".to_string())].into();
        assert!(quota_body(&bad).unwrap_err().contains("vCPUs"));
    }
}
