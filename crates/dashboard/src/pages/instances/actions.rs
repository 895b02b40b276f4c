//! Instance actions: which buttons a server's state offers, and the one
//! handler that turns a button into a Nova `POST /servers/{id}/action`.
//!
//! The buttons are rendered by the functions here for the first page and
//! for every answer of the status polls, so the list and the detail page
//! always offer what the *current* state allows without a reload:
//!
//! ```text
//!   ACTIVE ──Stop──> SHUTOFF ──Start──> ACTIVE
//!   ACTIVE ──Pause─> PAUSED ──Unpause─> ACTIVE
//!   ACTIVE|SHUTOFF ──Resize──> VERIFY_RESIZE ──Confirm|Revert──> (before)
//!   any state: Delete.  A task in progress (e.g. "pausing"): Delete only.
//! ```
//!
//! The list offers Stop/Start and Delete (what one needs without opening
//! an instance); everything else is on the detail page, as in Horizon.

use super::status_text;
use crate::api_client::{items, s, seg, ApiError, Service};
use crate::form::Form;
use crate::layout::{self, csrf_field, post_button, Ctx};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::Response;
use http::Method;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};

/// The action forms' fields.
#[derive(Deserialize)]
pub struct ActionForm {
    action: String,
    #[serde(default)]
    flavor: String,
    #[serde(default)]
    image_name: String,
    /// `list` when the button was on the instances list (go back there).
    #[serde(default)]
    from: String,
}

/// The Nova action body for a dashboard action, and what to say when done.
pub fn action_body(f: &ActionForm) -> Option<(Value, &'static str)> {
    Some(match f.action.as_str() {
        "stop" => (json!({"os-stop": null}), "Stopping the instance."),
        "start" => (json!({"os-start": null}), "Starting the instance."),
        "reboot" => (
            json!({"reboot": {"type": "SOFT"}}),
            "Rebooting the instance.",
        ),
        "hard-reboot" => (
            json!({"reboot": {"type": "HARD"}}),
            "Rebooting the instance (hard).",
        ),
        "pause" => (json!({"pause": null}), "Pausing the instance."),
        "unpause" => (json!({"unpause": null}), "Unpausing the instance."),
        "resize" => (
            json!({"resize": {"flavorRef": f.flavor}}),
            "Resizing the instance; confirm or revert when it is done.",
        ),
        "confirm-resize" => (json!({"confirmResize": null}), "Resize confirmed."),
        "revert-resize" => (json!({"revertResize": null}), "Reverting the resize."),
        "snapshot" => (
            json!({"createImage": {"name": f.image_name.trim()}}),
            "Snapshot requested; it appears on the Images page.",
        ),
        _ => return None,
    })
}

/// POST /instances/{id}/action.
pub async fn action(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<ActionForm>,
) -> Response {
    let id = seg(&id);
    let back = if f.from == "list" {
        "/instances".to_string()
    } else {
        format!("/instances/{id}")
    };
    let Some((body, said)) = action_body(&f) else {
        let unknown = ApiError {
            status: 400,
            message: "Unknown action.".into(),
        };
        return layout::done(&state, &ctx, Err(unknown), &back);
    };
    let path = format!("/servers/{id}/action");
    let result = state
        .api
        .json(Method::POST, Service::Compute, &path, ctx.token(), &body)
        .await
        .map(|_| said.to_string());
    layout::done(&state, &ctx, result, &back)
}

/// One action button; `from_list` brings the user back to the list.
fn button(ctx: &Ctx, id: &str, action: &str, label: &str, from_list: bool) -> Markup {
    html! {
        form.inline method="post" action=(format!("/instances/{}/action", seg(id))) {
            (csrf_field(ctx)) input type="hidden" name="action" value=(action);
            @if from_list { input type="hidden" name="from" value="list"; }
            button.secondary type="submit" { (label) }
        }
    }
}

/// No task is running, so the state's actions are offered.
fn settled(server: &Value) -> bool {
    s(server, "OS-EXT-STS:task_state").is_empty()
}

fn delete_button(ctx: &Ctx, server: &Value) -> Markup {
    post_button(
        ctx,
        &format!("/instances/{}/delete", seg(&s(server, "id"))),
        "Delete",
        Some(&format!(
            "Delete instance {}? This cannot be undone.",
            s(server, "name")
        )),
    )
}

/// The actions cell of a row of the list.
pub fn row_actions(ctx: &Ctx, server: &Value) -> Markup {
    let id = s(server, "id");
    html! {
        @if settled(server) {
            @match s(server, "status").as_str() {
                "ACTIVE" => { (button(ctx, &id, "stop", "Stop", true)) }
                "SHUTOFF" => { (button(ctx, &id, "start", "Start", true)) }
                _ => {}
            }
        }
        (delete_button(ctx, server))
    }
}

/// The detail page's actions, resize and snapshot forms (`flavors` is
/// `GET /flavors/detail`, only needed when a resize is possible).
pub fn detail_actions(ctx: &Ctx, server: &Value, flavors: &Value) -> Markup {
    let id = s(server, "id");
    let status = s(server, "status");
    let act = |a: &str, label: &str| button(ctx, &id, a, label, false);
    let action_url = format!("/instances/{}/action", seg(&id));
    let current_flavor = s(&server["flavor"], "id");
    html! {
        div.actions {
            @if settled(server) {
                @match status.as_str() {
                    "ACTIVE" => { (act("stop", "Stop")) (act("reboot", "Reboot")) (act("hard-reboot", "Hard reboot")) (act("pause", "Pause")) }
                    "SHUTOFF" => { (act("start", "Start")) }
                    "PAUSED" => { (act("unpause", "Unpause")) }
                    "VERIFY_RESIZE" => { (act("confirm-resize", "Confirm resize")) (act("revert-resize", "Revert resize")) }
                    _ => {}
                }
            } @else {
                span.hint { "Other actions return when " (status_text(server)) " is done." }
            }
            (delete_button(ctx, server))
        }
        @if settled(server) && (status == "ACTIVE" || status == "SHUTOFF") {
            form.row method="post" action=(action_url) {
                (csrf_field(ctx)) input type="hidden" name="action" value="resize";
                label for="resize-flavor" { "New flavor" }
                select #resize-flavor name="flavor" {
                    @for f in items(flavors, "flavors").iter().filter(|f| s(f, "id") != current_flavor) {
                        option value=(s(f, "id")) { (s(f, "name")) }
                    }
                }
                button.secondary type="submit" { "Resize" }
            }
            form.row method="post" action=(action_url) {
                (csrf_field(ctx)) input type="hidden" name="action" value="snapshot";
                label for="snapshot-name" { "Snapshot name" }
                input #snapshot-name name="image_name" required value=(format!("{}-snapshot", s(server, "name")));
                button.secondary type="submit" { "Create snapshot" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::session::{Auth, ProjectRef, Sessions};
    use std::sync::Arc;

    fn ctx() -> Ctx {
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

    fn server(status: &str, task: Option<&str>) -> Value {
        json!({"id": "s1", "name": "vm1", "status": status,
               "OS-EXT-STS:task_state": task, "flavor": {"id": "f1"}})
    }

    fn actions_of(html: &str) -> Vec<String> {
        html.split("name=\"action\" value=\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap().to_string())
            .collect()
    }

    #[test]
    fn list_rows_offer_stop_or_start_and_come_back_to_the_list() {
        let active = row_actions(&ctx(), &server("ACTIVE", None)).into_string();
        assert_eq!(actions_of(&active), ["stop"]);
        assert!(active.contains("name=\"from\" value=\"list\""));
        assert!(active.contains("/instances/s1/delete"));
        let off = row_actions(&ctx(), &server("SHUTOFF", None)).into_string();
        assert_eq!(actions_of(&off), ["start"]);
    }

    #[test]
    fn a_running_task_leaves_only_delete() {
        let busy = server("ACTIVE", Some("pausing"));
        assert!(actions_of(&row_actions(&ctx(), &busy).into_string()).is_empty());
        let detail = detail_actions(&ctx(), &busy, &Value::Null).into_string();
        assert!(actions_of(&detail).is_empty());
        assert!(detail.contains("Delete"));
    }

    #[test]
    fn the_detail_page_offers_what_the_state_allows() {
        let flavors =
            json!({"flavors": [{"id": "f1", "name": "small"}, {"id": "f2", "name": "big"}]});
        let active = detail_actions(&ctx(), &server("ACTIVE", None), &flavors).into_string();
        assert_eq!(
            actions_of(&active),
            [
                "stop",
                "reboot",
                "hard-reboot",
                "pause",
                "resize",
                "snapshot"
            ]
        );
        // Resizing to the flavor it has would be refused: not offered.
        assert!(active.contains("big") && !active.contains(">small<"));
        let paused = detail_actions(&ctx(), &server("PAUSED", None), &flavors).into_string();
        assert_eq!(actions_of(&paused), ["unpause"]);
        let verify = detail_actions(&ctx(), &server("VERIFY_RESIZE", None), &flavors);
        assert_eq!(
            actions_of(&verify.into_string()),
            ["confirm-resize", "revert-resize"]
        );
    }
}
