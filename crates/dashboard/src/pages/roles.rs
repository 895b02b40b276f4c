//! Identity admin: role assignments of users on projects (list, grant,
//! revoke), over `GET /v3/role_assignments?include_names` and
//! `PUT`/`DELETE /v3/projects/{p}/users/{u}/roles/{r}`.

use crate::api_client::{items, s, seg, ApiError, Service};
use crate::form::Form;
use crate::layout::{self, csrf_field, Ctx, Nav};
use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use http::Method;
use maud::html;
use serde::Deserialize;

/// GET /identity/roles.
pub async fn list(State(state): State<AppState>, ctx: Ctx) -> Response {
    let (api, t) = (&state.api, ctx.token());
    let (assignments, users, projects, roles) = tokio::join!(
        api.get(Service::Identity, "/role_assignments?include_names=true", t),
        api.get(Service::Identity, "/users", t),
        api.get(Service::Identity, "/projects", t),
        api.get(Service::Identity, "/roles", t),
    );
    let all = (|| Ok::<_, ApiError>((assignments?, users?, projects?, roles?)))();
    let (assignments, users, projects, roles) = match all {
        Ok(r) => r,
        Err(e) => return layout::error_page(&state, &ctx, "Role assignments", Nav::Roles, e),
    };
    let body = html! {
        table #assignments {
            caption.visually-hidden { "Role assignments of users on projects" }
            thead { tr { th scope="col" { "User" } th scope="col" { "Project" } th scope="col" { "Role" } th scope="col" { "Actions" } } }
            tbody {
                @for a in items(&assignments, "role_assignments") {
                    // Inherited grants (OS-INHERIT) are not revoked here: the revoke form removes direct grants.
                    @if a.get("user").is_some() && a.pointer("/scope/project").is_some()
                        && a.pointer("/scope/OS-INHERIT:inherited_to").is_none() {
                        @let (user, project, role) = (&a["user"], &a["scope"]["project"], &a["role"]);
                        tr {
                            td { (s(user, "name")) }
                            td { (s(project, "name")) }
                            td { (s(role, "name")) }
                            td {
                                form.inline method="post" action="/identity/roles/revoke"
                                    data-confirm=(format!("Revoke role {} of {} on {}?", s(role, "name"), s(user, "name"), s(project, "name"))) {
                                    (csrf_field(&ctx))
                                    input type="hidden" name="user_id" value=(s(user, "id"));
                                    input type="hidden" name="project_id" value=(s(project, "id"));
                                    input type="hidden" name="role_id" value=(s(role, "id"));
                                    button.danger type="submit" { "Revoke" }
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="grant-h" {
            h2 #grant-h { "Grant a role" }
            form.grid method="post" action="/identity/roles/grant" {
                (csrf_field(&ctx))
                label for="grant-user" { "User" }
                select #grant-user name="user_id" required {
                    @for u in items(&users, "users") { option value=(s(u, "id")) { (s(u, "name")) } }
                }
                label for="grant-project" { "Project" }
                select #grant-project name="project_id" required {
                    @for p in items(&projects, "projects") { option value=(s(p, "id")) { (s(p, "name")) } }
                }
                label for="grant-role" { "Role" }
                select #grant-role name="role_id" required {
                    @for r in items(&roles, "roles") {
                        option value=(s(r, "id")) selected[s(r, "name") == "member"] { (s(r, "name")) }
                    }
                }
                button type="submit" { "Grant" }
            }
        }
    };
    layout::page(&state, &ctx, "Role assignments", Nav::Roles, body)
}

/// Grant and revoke forms.
#[derive(Deserialize)]
pub struct AssignmentForm {
    user_id: String,
    project_id: String,
    role_id: String,
}

impl AssignmentForm {
    fn path(&self) -> String {
        format!(
            "/projects/{}/users/{}/roles/{}",
            seg(&self.project_id),
            seg(&self.user_id),
            seg(&self.role_id)
        )
    }
}

/// POST /identity/roles/grant.
pub async fn grant(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(f): Form<AssignmentForm>,
) -> Response {
    let req = state
        .api
        .request(Method::PUT, Service::Identity, &f.path(), ctx.token());
    let result = state
        .api
        .send(req)
        .await
        .map(|_| "The role was granted.".to_string());
    layout::done(&state, &ctx, result, "/identity/roles")
}

/// POST /identity/roles/revoke.
pub async fn revoke(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(f): Form<AssignmentForm>,
) -> Response {
    let result = state
        .api
        .delete(Service::Identity, &f.path(), ctx.token())
        .await
        .map(|_| "The role was revoked.".to_string());
    layout::done(&state, &ctx, result, "/identity/roles")
}
