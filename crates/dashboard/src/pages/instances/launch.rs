//! The launch dialog and `POST /instances`: boot source, flavor, key
//! pair, networks and security groups.
//!
//! The boot source is an image (the instance's own disk), a new volume
//! made from an image with a size, or an existing bootable volume. The
//! volume ones are Nova's boot from volume: `imageRef: ""` and one
//! `block_device_mapping_v2` entry with `boot_index: 0` and a volume
//! destination, so Nova (not the dashboard) makes the volume and undoes
//! it if the launch fails; nothing is left half-done by two calls. The
//! script shows only the fields of the chosen source; without it all are
//! shown and those of other sources are ignored.
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
use crate::form::{number, Form};
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
    /// Cinder's volume list (null without block storage).
    pub volumes: &'a Value,
}

/// The launch dialog; `open` shows it without script (`?launch=1`), and
/// `boot_volume` (`?boot_volume=ID`, the Volumes page's "Launch instance")
/// chooses that volume as the boot source.
pub fn dialog(ctx: &Ctx, c: &Choices, open: bool, boot_volume: Option<&str>) -> Markup {
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
    let volumes: Vec<&Value> = items(c.volumes, "volumes")
        .iter()
        .filter(|v| v["status"] == "available" && crate::pages::volumes::bootable(v))
        .collect();
    html! {
        dialog #launch-dialog aria-labelledby="launch-h" open[open] {
            form method="post" action="/instances" {
                h2 #launch-h { "Launch instance" }
                (csrf_field(ctx))
                label for="launch-name" { "Name" }
                input #launch-name name="name" required maxlength="255";
                label for="launch-source" { "Boot source" }
                select #launch-source name="boot_source" data-choice {
                    option value="image" { "Image" }
                    option value="volume-from-image" { "New volume from an image" }
                    option value="volume" selected[boot_volume.is_some()] { "Existing bootable volume" }
                }
                div data-when="image volume-from-image" {
                    label for="launch-image" { "Image" }
                    select #launch-image name="image" {
                        @for i in &images { option value=(s(i, "id")) { (s(i, "name")) } }
                    }
                    @if images.is_empty() { p.hint { "No active image: upload one on the Images page first." } }
                }
                div data-when="volume-from-image" {
                    label for="launch-volume-size" { "Volume size (GB)" }
                    input #launch-volume-size name="volume_size" type="number" min="1" value="1";
                }
                div data-when="volume" {
                    label for="launch-volume" { "Bootable volume" }
                    select #launch-volume name="boot_volume" {
                        @for v in &volumes {
                            @let id = s(v, "id");
                            option value=(id) selected[boot_volume == Some(id.as_str())] {
                                (crate::pages::volumes::display_name(v)) " (" (s(v, "size")) " GB)"
                            }
                        }
                    }
                    @if volumes.is_empty() { p.hint { "No available bootable volume: create one from an image on the Volumes page." } }
                }
                div data-when="volume-from-image volume" {
                    label.check { input type="checkbox" name="delete_on_termination" value="on"; "Delete the volume with the instance" }
                }
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
                label for="launch-user-data" { "Customization script" }
                textarea #launch-user-data name="user_data" rows="3" aria-describedby="launch-user-data-hint" {}
                p.hint #launch-user-data-hint {
                    "Optional user data for cloud-init (a shell script starting with #! runs at boot); at most 64 KiB."
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
    /// `image`, `volume-from-image` or `volume` (empty: image).
    pub boot_source: String,
    /// Image id.
    pub image: String,
    /// Size of a new boot volume, as typed.
    pub volume_size: String,
    /// Id of an existing boot volume.
    pub boot_volume: String,
    /// The boot volume goes with the instance.
    pub delete_on_termination: bool,
    /// Flavor id.
    pub flavor: String,
    /// Key pair name, empty for none.
    pub key_name: String,
    /// Network ids in the order chosen.
    pub networks: Vec<String>,
    /// Security group names.
    pub security_groups: Vec<String>,
    /// User data as typed (sent base64-encoded).
    pub user_data: String,
}

impl LaunchForm {
    /// The form from its url-encoded pairs (unknown names are ignored).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut f = LaunchForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "name" => f.name = v.trim().to_string(),
                "boot_source" => f.boot_source = v,
                "image" => f.image = v,
                "volume_size" => f.volume_size = v,
                "boot_volume" => f.boot_volume = v,
                "delete_on_termination" => f.delete_on_termination = !v.is_empty(),
                "flavor" => f.flavor = v,
                "key_name" => f.key_name = v,
                "networks" if !v.is_empty() => f.networks.push(v),
                "security_groups" if !v.is_empty() => f.security_groups.push(v),
                "user_data" => f.user_data = v.replace("\r\n", "\n"),
                _ => {}
            }
        }
        f
    }
}

/// Nova's `POST /servers` body for the form, or what is wrong with it.
pub fn launch_body(f: &LaunchForm) -> Result<Value, String> {
    let mut server = json!({"name": f.name, "flavorRef": f.flavor});
    let image = || {
        if f.image.is_empty() {
            Err("Choose an image.".to_string())
        } else {
            Ok(f.image.clone())
        }
    };
    match f.boot_source.as_str() {
        "" | "image" => server["imageRef"] = json!(image()?),
        "volume-from-image" => {
            let size = number(&f.volume_size, "Volume size (GB)", 1)?;
            server["imageRef"] = json!("");
            server["block_device_mapping_v2"] = json!([{
                "uuid": image()?, "source_type": "image", "destination_type": "volume",
                "volume_size": size, "boot_index": 0,
                "delete_on_termination": f.delete_on_termination,
            }]);
        }
        "volume" => {
            if f.boot_volume.is_empty() {
                return Err("Choose a bootable volume.".into());
            }
            server["imageRef"] = json!("");
            server["block_device_mapping_v2"] = json!([{
                "uuid": f.boot_volume, "source_type": "volume", "destination_type": "volume",
                "boot_index": 0, "delete_on_termination": f.delete_on_termination,
            }]);
        }
        _ => return Err("Unknown boot source.".into()),
    }
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
    if !f.user_data.trim().is_empty() {
        if f.user_data.len() > 65_535 {
            return Err("The customization script is larger than 64 KiB.".into());
        }
        use base64::Engine;
        server["user_data"] =
            json!(base64::engine::general_purpose::STANDARD.encode(f.user_data.as_bytes()));
    }
    Ok(json!({ "server": server }))
}

/// POST /instances.
pub async fn launch(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let f = LaunchForm::from_pairs(pairs);
    let result = match launch_body(&f) {
        Err(message) => Err(crate::api_client::ApiError {
            status: 400,
            message,
        }),
        Ok(body) => state
            .api
            .json(
                Method::POST,
                Service::Compute,
                "/servers",
                ctx.token(),
                &body,
            )
            .await
            .map(|_| format!("Instance {} is being launched.", f.name)),
    };
    layout::done(&state, &ctx, result, "/instances")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_customization_script_is_sent_as_base64_user_data() {
        let f = LaunchForm::from_pairs(pairs(&[
            ("name", "vm"),
            ("image", "i"),
            ("flavor", "f"),
            ("user_data", "#!/bin/sh\r\necho hi\r\n"),
        ]));
        let b = launch_body(&f).unwrap();
        assert_eq!(b["server"]["user_data"], "IyEvYmluL3NoCmVjaG8gaGkK");
        let blank =
            LaunchForm::from_pairs(pairs(&[("name", "vm"), ("image", "i"), ("flavor", "f")]));
        assert!(launch_body(&blank).unwrap()["server"]
            .get("user_data")
            .is_none());
    }

    #[test]
    fn boot_from_a_new_volume_made_from_an_image() {
        let f = LaunchForm::from_pairs(pairs(&[
            ("name", "vm"),
            ("boot_source", "volume-from-image"),
            ("image", "i"),
            ("volume_size", "3"),
            ("boot_volume", "ignored"),
            ("delete_on_termination", "on"),
            ("flavor", "f"),
        ]));
        let b = launch_body(&f).unwrap();
        assert_eq!(b["server"]["imageRef"], "");
        assert_eq!(
            b["server"]["block_device_mapping_v2"],
            json!([{"uuid": "i", "source_type": "image", "destination_type": "volume",
                "volume_size": 3, "boot_index": 0, "delete_on_termination": true}])
        );
        let mut bad = f;
        bad.volume_size = "0".into();
        assert_eq!(
            launch_body(&bad).unwrap_err(),
            "Volume size (GB) must be a whole number of at least 1."
        );
    }

    #[test]
    fn the_volumes_page_can_preselect_a_boot_volume() {
        let ctx = crate::pages::volumes::tests::ctx();
        let volumes = json!({"volumes": [
            {"id": "v1", "name": "a", "size": 1, "status": "available", "bootable": "true"},
            {"id": "v2", "name": "b", "size": 2, "status": "available", "bootable": "true"},
            {"id": "v3", "name": "c", "size": 2, "status": "available", "bootable": "false"},
            {"id": "v4", "name": "d", "size": 2, "status": "in-use", "bootable": "true"}]});
        let c = Choices {
            images: &Value::Null,
            flavors: &Value::Null,
            keys: &Value::Null,
            networks: &Value::Null,
            groups: &Value::Null,
            volumes: &volumes,
        };
        let html = dialog(&ctx, &c, true, Some("v2")).into_string();
        assert!(html.contains(r#"<option value="volume" selected>"#));
        assert!(html.contains(r#"<option value="v2" selected>"#));
        assert!(html.contains(r#"<option value="v1">"#));
        // Only available bootable volumes are offered.
        assert!(!html.contains("v3") && !html.contains("v4"));
        let plain = dialog(&ctx, &c, false, None).into_string();
        assert!(!plain.contains("selected>"));
    }

    #[test]
    fn boot_from_an_existing_volume() {
        let f = LaunchForm::from_pairs(pairs(&[
            ("name", "vm"),
            ("boot_source", "volume"),
            ("image", "unused"),
            ("boot_volume", "v1"),
            ("flavor", "f"),
        ]));
        let b = launch_body(&f).unwrap();
        assert_eq!(b["server"]["imageRef"], "");
        assert_eq!(
            b["server"]["block_device_mapping_v2"],
            json!([{"uuid": "v1", "source_type": "volume", "destination_type": "volume",
                "boot_index": 0, "delete_on_termination": false}])
        );
        let none = LaunchForm::from_pairs(pairs(&[("boot_source", "volume")]));
        assert_eq!(launch_body(&none).unwrap_err(), "Choose a bootable volume.");
        let no_image = LaunchForm::from_pairs(pairs(&[("name", "vm")]));
        assert_eq!(launch_body(&no_image).unwrap_err(), "Choose an image.");
    }

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
            launch_body(&f).unwrap(),
            json!({"server": {"name": "vm", "imageRef": "i", "flavorRef": "f", "networks": "none"}})
        );
    }

    #[test]
    fn networks_keep_their_order_and_groups_go_by_name() {
        let f = LaunchForm::from_pairs(pairs(&[
            ("name", "vm"),
            ("image", "i"),
            ("networks", "n2"),
            ("networks", "n1"),
            ("security_groups", "default"),
            ("security_groups", "web"),
            ("key_name", "k"),
        ]));
        let b = launch_body(&f).unwrap();
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
