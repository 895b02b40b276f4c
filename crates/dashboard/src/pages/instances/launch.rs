//! The launch dialog and `POST /instances`: image, flavor, key pair,
//! networks and security groups.
//!
//! Networks are a multi-select of the project's own and the shared
//! networks, in Nova's order (the first is the first NIC). Selecting none
//! sends `networks: "none"`, a deliberate launch without a network, rather
//! than `"auto"`, which would make Nova pick or refuse on the user's behalf.
//! Security groups go by name, as Nova takes them, and only with at least
//! one network (a server without ports has nothing to apply them to).
//!
//! A multi-select posts its name once per chosen option, which a struct
//! cannot take from a url-encoded body; the form is read as its pairs and
//! gathered into [`LaunchForm`] here.

use crate::api_client::{items, s, Service};
use crate::form::Form;
use crate::layout::{self, csrf_field, Ctx};
use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use http::Method;
use maud::{html, Markup};
use serde_json::{json, Value};

/// What the dialog offers, as the APIs listed it.
pub struct Choices<'a> {
    /// Glance's image list.
    pub images: &'a Value,
    /// Nova's flavor list.
    pub flavors: &'a Value,
    /// Nova's key pair list.
    pub keys: &'a Value,
    /// Neutron's network list (null without the network service).
    pub networks: &'a Value,
    /// Neutron's security group list.
    pub groups: &'a Value,
}

/// The launch dialog; `open` shows it without script (`?launch=1`).
pub fn dialog(ctx: &Ctx, c: &Choices, open: bool) -> Markup {
    let images: Vec<&Value> = items(c.images, "images")
        .iter()
        .filter(|i| i["status"] == "active")
        .collect();
    let project = &ctx.auth.project.id;
    let networks: Vec<&Value> = items(c.networks, "networks")
        .iter()
        .filter(|n| &s(n, "project_id") == project || n["shared"].as_bool() == Some(true))
        .collect();
    let groups: Vec<&Value> = items(c.groups, "security_groups")
        .iter()
        .filter(|g| &s(g, "project_id") == project)
        .collect();
    html! {
        dialog #launch-dialog aria-labelledby="launch-h" open[open] {
            form method="post" action="/instances" {
                h2 #launch-h { "Launch instance" }
                (csrf_field(ctx))
                label for="launch-name" { "Name" }
                input #launch-name name="name" required maxlength="255";
                label for="launch-image" { "Image" }
                select #launch-image name="image" required {
                    @for i in &images { option value=(s(i, "id")) { (s(i, "name")) } }
                }
                @if images.is_empty() { p.hint { "No active image: upload one on the Images page first." } }
                label for="launch-flavor" { "Flavor" }
                select #launch-flavor name="flavor" required {
                    @for f in items(c.flavors, "flavors") {
                        option value=(s(f, "id")) {
                            (s(f, "name")) " (" (s(f, "vcpus")) " vCPU, " (s(f, "ram")) " MiB RAM, " (s(f, "disk")) " GB disk)"
                        }
                    }
                }
                label for="launch-key" { "Key pair" }
                select #launch-key name="key_name" {
                    option value="" { "(none)" }
                    @for k in items(c.keys, "keypairs") {
                        @let name = s(&k["keypair"], "name");
                        option value=(name) { (name) }
                    }
                }
                label for="launch-networks" { "Networks" }
                select #launch-networks name="networks" multiple size=(networks.len().clamp(2, 6)) aria-describedby="launch-networks-hint" {
                    @for n in &networks {
                        option value=(s(n, "id")) {
                            (s(n, "name")) @if n["shared"].as_bool() == Some(true) { " (shared)" }
                        }
                    }
                }
                p.hint #launch-networks-hint {
                    @if networks.is_empty() { "No network yet: the instance boots without one (create one on the Networks page). " }
                    "Choose none for no network; Ctrl-click to choose several (the first is the first NIC)."
                }
                label for="launch-groups" { "Security groups" }
                select #launch-groups name="security_groups" multiple size=(groups.len().clamp(2, 6)) {
                    @for g in &groups {
                        @let name = s(g, "name");
                        option value=(name) selected[name == "default"] { (name) }
                    }
                }
                div.buttons {
                    button type="submit" { "Launch" }
                    button.secondary type="button" data-close="launch-dialog" { "Cancel" }
                }
            }
        }
    }
}

/// The launch dialog's fields, gathered from the posted pairs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LaunchForm {
    /// Instance name.
    pub name: String,
    /// Image id.
    pub image: String,
    /// Flavor id.
    pub flavor: String,
    /// Key pair name, empty for none.
    pub key_name: String,
    /// Network ids in the order chosen.
    pub networks: Vec<String>,
    /// Security group names.
    pub security_groups: Vec<String>,
}

impl LaunchForm {
    /// The form from its url-encoded pairs (unknown names are ignored).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut f = LaunchForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "name" => f.name = v.trim().to_string(),
                "image" => f.image = v,
                "flavor" => f.flavor = v,
                "key_name" => f.key_name = v,
                "networks" if !v.is_empty() => f.networks.push(v),
                "security_groups" if !v.is_empty() => f.security_groups.push(v),
                _ => {}
            }
        }
        f
    }
}

/// Nova's `POST /servers` body for the form.
pub fn launch_body(f: &LaunchForm) -> Value {
    let mut server = json!({"name": f.name, "imageRef": f.image, "flavorRef": f.flavor});
    if f.networks.is_empty() {
        server["networks"] = json!("none");
    } else {
        let nets: Vec<Value> = f.networks.iter().map(|id| json!({"uuid": id})).collect();
        server["networks"] = json!(nets);
        if !f.security_groups.is_empty() {
            let groups: Vec<Value> = f
                .security_groups
                .iter()
                .map(|name| json!({"name": name}))
                .collect();
            server["security_groups"] = json!(groups);
        }
    }
    if !f.key_name.is_empty() {
        server["key_name"] = json!(f.key_name);
    }
    json!({ "server": server })
}

/// POST /instances.
pub async fn launch(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let f = LaunchForm::from_pairs(pairs);
    let result = state
        .api
        .json(
            Method::POST,
            Service::Compute,
            "/servers",
            ctx.token(),
            &launch_body(&f),
        )
        .await
        .map(|_| format!("Instance {} is being launched.", f.name));
    layout::done(&state, &ctx, result, "/instances")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn no_network_chosen_is_none_and_drops_the_groups() {
        let f = LaunchForm::from_pairs(pairs(&[
            ("name", " vm "),
            ("image", "i"),
            ("flavor", "f"),
            ("key_name", ""),
            ("security_groups", "default"),
        ]));
        assert_eq!(
            launch_body(&f),
            json!({"server": {"name": "vm", "imageRef": "i", "flavorRef": "f", "networks": "none"}})
        );
    }

    #[test]
    fn networks_keep_their_order_and_groups_go_by_name() {
        let f = LaunchForm::from_pairs(pairs(&[
            ("name", "vm"),
            ("networks", "n2"),
            ("networks", "n1"),
            ("security_groups", "default"),
            ("security_groups", "web"),
            ("key_name", "k"),
        ]));
        let b = launch_body(&f);
        assert_eq!(
            b["server"]["networks"],
            json!([{"uuid": "n2"}, {"uuid": "n1"}])
        );
        assert_eq!(
            b["server"]["security_groups"],
            json!([{"name": "default"}, {"name": "web"}])
        );
        assert_eq!(b["server"]["key_name"], "k");
    }
}
