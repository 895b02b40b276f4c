//! Identity admin: users (create, edit, delete). Creating a user can also
//! give them a role on a project in the same step, as Horizon's form does
//! (the grant is a second API call; if it fails the user exists and the
//! message says so).

use crate::api_client::{items, s, seg, ApiError, Service};
use crate::form::Form;
use crate::layout::{self, csrf_field, post_button, Ctx, Nav};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::Response;
use http::Method;
use maud::html;
use serde::Deserialize;
use serde_json::{json, Value};

/// GET /identity/users.
pub async fn list(State(state): State<AppState>, ctx: Ctx) -> Response {
    let (api, t) = (&state.api, ctx.token());
    let (users, projects, roles) = tokio::join!(
        api.get(Service::Identity, "/users", t),
        api.get(Service::Identity, "/projects", t),
        api.get(Service::Identity, "/roles", t),
    );
    let (users, projects, roles) = match (|| Ok::<_, ApiError>((users?, projects?, roles?)))() {
        Ok(r) => r,
        Err(e) => return layout::error_page(&state, &ctx, "Users", Nav::Users, e),
    };
    let body = html! {
        table #users {
            caption.visually-hidden { "Users" }
            thead { tr { th scope="col" { "Name" } th scope="col" { "Email" } th scope="col" { "Enabled" } th scope="col" { "Actions" } } }
            tbody {
                @for u in items(&users, "users") {
                    @let (id, name) = (s(u, "id"), s(u, "name"));
                    tr data-user=(name) {
                        td { (name) }
                        td { (s(u, "email")) }
                        td { @if u["enabled"] == false { "no" } @else { "yes" } }
                        td.actions {
                            details {
                                summary { "Edit" }
                                form method="post" action=(format!("/identity/users/{id}/edit")) {
                                    (csrf_field(&ctx))
                                    label for=(format!("uname-{id}")) { "Name" }
                                    input id=(format!("uname-{id}")) name="name" required value=(name);
                                    label for=(format!("email-{id}")) { "Email" }
                                    input id=(format!("email-{id}")) name="email" type="email" value=(s(u, "email"));
                                    label for=(format!("pw-{id}")) { "New password (leave empty to keep)" }
                                    input id=(format!("pw-{id}")) name="password" type="password" autocomplete="new-password";
                                    label.check for=(format!("uenabled-{id}")) {
                                        input id=(format!("uenabled-{id}")) name="enabled" type="checkbox" value="yes" checked[u["enabled"] != false];
                                        " Enabled"
                                    }
                                    button type="submit" { "Save" }
                                }
                            }
                            @if id != ctx.auth.user_id {
                                (post_button(&ctx, &format!("/identity/users/{id}/delete"), "Delete",
                                    Some(&format!("Delete user {name}?"))))
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="new-user-h" {
            h2 #new-user-h { "Create a user" }
            form.grid method="post" action="/identity/users" {
                (csrf_field(&ctx))
                label for="user-name" { "Name" }
                input #user-name name="name" required maxlength="255" autocomplete="off";
                label for="user-email" { "Email" }
                input #user-email name="email" type="email";
                label for="user-password" { "Password" }
                input #user-password name="password" type="password" required autocomplete="new-password";
                label for="user-project" { "Primary project" }
                select #user-project name="project_id" {
                    option value="" { "(none)" }
                    @for p in items(&projects, "projects") { option value=(s(p, "id")) { (s(p, "name")) } }
                }
                label for="user-role" { "Role on that project" }
                select #user-role name="role_id" {
                    @for r in items(&roles, "roles") {
                        option value=(s(r, "id")) selected[s(r, "name") == "member"] { (s(r, "name")) }
                    }
                }
                label.check for="user-enabled" {
                    input #user-enabled name="enabled" type="checkbox" value="yes" checked;
                    " Enabled"
                }
                button type="submit" { "Create user" }
            }
        }
    };
    layout::page(&state, &ctx, "Users", Nav::Users, body)
}

/// Create and edit forms.
#[derive(Deserialize)]
pub struct UserForm {
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    enabled: Option<String>,
    #[serde(default)]
    project_id: String,
    #[serde(default)]
    role_id: String,
}

impl UserForm {
    /// The user's fields. Editing always sends the email, so emptying the
    /// field clears it; creating leaves an empty one out.
    fn fields(&self, editing: bool) -> Value {
        let mut user = json!({"name": self.name.trim(), "enabled": self.enabled.is_some()});
        if editing || !self.email.trim().is_empty() {
            user["email"] = json!(self.email.trim());
        }
        if !self.password.is_empty() {
            user["password"] = json!(self.password);
        }
        user
    }
}

/// POST /identity/users.
pub async fn create(State(state): State<AppState>, ctx: Ctx, Form(f): Form<UserForm>) -> Response {
    let mut user = f.fields(false);
    user["domain_id"] = json!("default");
    if !f.project_id.is_empty() {
        user["default_project_id"] = json!(f.project_id);
    }
    let name = f.name.trim();
    let created = state
        .api
        .json(
            Method::POST,
            Service::Identity,
            "/users",
            ctx.token(),
            &json!({ "user": user }),
        )
        .await;
    let result = match created {
        Err(e) => Err(e),
        Ok(_) if f.project_id.is_empty() || f.role_id.is_empty() => {
            Ok(format!("User {name} was created."))
        }
        Ok(v) => {
            let uid = seg(&s(&v["user"], "id"));
            let path = format!(
                "/projects/{}/users/{uid}/roles/{}",
                seg(&f.project_id),
                seg(&f.role_id)
            );
            match state
                .api
                .send(
                    state
                        .api
                        .request(Method::PUT, Service::Identity, &path, ctx.token()),
                )
                .await
            {
                Ok(_) => Ok(format!(
                    "User {name} was created with a role on the project."
                )),
                Err(e) => Err(ApiError {
                    status: e.status,
                    message: format!(
                        "User {name} was created, but the role was not granted: {}",
                        e.message
                    ),
                }),
            }
        }
    };
    layout::done(&state, &ctx, result, "/identity/users")
}

/// POST /identity/users/{id}/edit.
pub async fn edit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<UserForm>,
) -> Response {
    let id = crate::api_client::seg(&id);
    let result = state
        .api
        .json(
            Method::PATCH,
            Service::Identity,
            &format!("/users/{id}"),
            ctx.token(),
            &json!({ "user": f.fields(true) }),
        )
        .await
        .map(|_| format!("User {} was saved.", f.name.trim()));
    layout::done(&state, &ctx, result, "/identity/users")
}

/// POST /identity/users/{id}/delete.
pub async fn delete(State(state): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let id = crate::api_client::seg(&id);
    let result = state
        .api
        .delete(Service::Identity, &format!("/users/{id}"), ctx.token())
        .await
        .map(|_| "The user was deleted.".to_string());
    layout::done(&state, &ctx, result, "/identity/users")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(email: &str, password: &str) -> UserForm {
        UserForm {
            name: " bob ".into(),
            email: email.into(),
            password: password.into(),
            enabled: None,
            project_id: String::new(),
            role_id: String::new(),
        }
    }

    #[test]
    fn editing_with_an_empty_email_clears_it() {
        assert_eq!(form("", "").fields(true)["email"], "");
        assert!(form("", "").fields(false).get("email").is_none());
    }

    #[test]
    fn an_empty_password_keeps_the_old_one() {
        let user = form("b@example.org", "").fields(true);
        assert!(user.get("password").is_none());
        assert_eq!(user["enabled"], false);
        assert_eq!(user["name"], "bob");
    }
}
