//! The metadata a guest reads from 169.254.169.254: the OpenStack tree
//! (`openstack/latest/meta_data.json`, `user_data`, `network_data.json`,
//! `vendor_data.json`, `vendor_data2.json`, `password`) and the EC2 tree
//! (`latest/meta-data/...`, `latest/user-data`), built from the same
//! documents as the config drive so the two never disagree.
//!
//! Which instance asks is decided by the host that received the request
//! (see `ferrostack_host_contract::metadata`); this module only answers
//! for an instance already identified.

use crate::error::ComputeResult;
use crate::servers::lifecycle::config_drive;
use crate::servers::ServerDoc;
use ferrostack_store::server::Instance;
use serde_json::{json, Value};

/// The dated versions of the OpenStack tree served (all the same content,
/// as Nova serves each version it knows).
const OPENSTACK_VERSIONS: &[&str] = &[
    "2012-08-10",
    "2013-04-04",
    "2013-10-17",
    "2015-10-15",
    "2016-06-30",
    "2016-10-06",
    "2017-02-22",
    "2018-08-27",
    "latest",
];

/// The dated versions of the EC2 tree served.
const EC2_VERSIONS: &[&str] = &["2009-04-04", "latest"];

/// One answer: its content type and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// `application/json` or `text/plain`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

fn text(s: impl Into<String>) -> Answer {
    Answer {
        content_type: "text/plain; charset=UTF-8",
        body: s.into().into_bytes(),
    }
}

fn json_answer(v: &Value) -> Answer {
    Answer {
        content_type: "application/json",
        body: v.to_string().into_bytes(),
    }
}

/// The answer to `path` (without a leading `/`) for server `i`; `None`
/// is 404.
pub fn answer(i: &Instance, d: &ServerDoc, path: &str) -> ComputeResult<Option<Answer>> {
    let path = path.trim_matches('/');
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let drive = config_drive(i, d)?;
    Ok(match parts.as_slice() {
        [] => Some(text(
            EC2_VERSIONS
                .iter()
                .map(|v| format!("{v}\n"))
                .collect::<String>()
                + "openstack",
        )),
        ["openstack"] => Some(text(OPENSTACK_VERSIONS.join("\n"))),
        ["openstack", v] if OPENSTACK_VERSIONS.contains(v) => {
            let mut files = vec!["meta_data.json", "network_data.json"];
            if drive.user_data.is_some() {
                files.push("user_data");
            }
            files.extend(["vendor_data.json", "vendor_data2.json", "password"]);
            Some(text(files.join("\n")))
        }
        ["openstack", v, file] if OPENSTACK_VERSIONS.contains(v) => match *file {
            "meta_data.json" => Some(Answer {
                content_type: "application/json",
                body: drive.meta_data_json.into_bytes(),
            }),
            "network_data.json" => drive.network_data_json.map(|n| Answer {
                content_type: "application/json",
                body: n.into_bytes(),
            }),
            "user_data" => drive.user_data.map(|b| Answer {
                content_type: "text/plain",
                body: b,
            }),
            "vendor_data.json" | "vendor_data2.json" => Some(json_answer(&json!({}))),
            "password" => Some(text("")),
            _ => None,
        },
        [v, rest @ ..] if EC2_VERSIONS.contains(v) => ec2(i, d, drive.user_data, rest),
        _ => None,
    })
}

/// The EC2 tree under a version.
fn ec2(i: &Instance, d: &ServerDoc, user_data: Option<Vec<u8>>, rest: &[&str]) -> Option<Answer> {
    let fixed = d
        .nics
        .iter()
        .flat_map(|n| n.fixed_ips.iter())
        .find(|a| a.version == 4)
        .map(|a| a.ip_address.clone())
        .unwrap_or_default();
    let instance_id = format!("i-{}", &i.uuid.replace('-', "")[..8]);
    let zone = d.availability_zone.clone().unwrap_or_default();
    let leaves: Vec<(&str, String)> = vec![
        (
            "ami-id",
            format!(
                "ami-{}",
                &d.image_id.replace('-', "")[..8.min(d.image_id.len())]
            ),
        ),
        ("ami-launch-index", d.launch_index.to_string()),
        ("hostname", d.hostname.clone()),
        ("instance-id", instance_id),
        ("instance-type", d.flavor.name.clone()),
        ("local-hostname", d.hostname.clone()),
        ("local-ipv4", fixed),
        ("reservation-id", d.reservation_id.clone()),
    ];
    match rest {
        [] => Some(text(if user_data.is_some() {
            "meta-data/\nuser-data"
        } else {
            "meta-data/"
        })),
        ["user-data"] => user_data.map(|b| Answer {
            content_type: "text/plain",
            body: b,
        }),
        ["meta-data"] => {
            let mut names: Vec<String> = leaves.iter().map(|(k, _)| k.to_string()).collect();
            names.push("placement/".into());
            if d.key_data.is_some() {
                names.push("public-keys/".into());
            }
            Some(text(names.join("\n")))
        }
        ["meta-data", "placement"] => Some(text("availability-zone")),
        ["meta-data", "placement", "availability-zone"] => Some(text(zone)),
        ["meta-data", "public-keys"] => (d.key_data.as_ref())
            .map(|_| text(format!("0={}", d.key_name.clone().unwrap_or_default()))),
        ["meta-data", "public-keys", "0"] => d.key_data.as_ref().map(|_| text("openssh-key")),
        ["meta-data", "public-keys", "0", "openssh-key"] => d.key_data.clone().map(text),
        ["meta-data", leaf] => leaves
            .iter()
            .find(|(k, _)| k == leaf)
            .map(|(_, v)| text(v.clone())),
        _ => None,
    }
}
