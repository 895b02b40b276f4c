//! What a client sees of a server, per microversion.
//!
//! One function builds the full (detail) view; the brief list view is its
//! `id`, `name` and `links`. Fields appear and change shape exactly at
//! the microversions Nova changed them (noted inline), because clients
//! (openstackclient, the SDK, Terraform) parse by version.

use super::{doc, status, vm, FlavorSnapshot, ServerDoc};
use crate::error::ComputeResult;
use crate::ComputeState;
use ferrostack_common::time::{iso_seconds, nova_time};
use ferrostack_compute_types::ApiVersion;
use ferrostack_policy::AuthContext;
use ferrostack_store::server::Instance;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha224};

/// `links` of a server.
pub fn links(state: &ComputeState, id: &str) -> Value {
    json!([
        {"rel": "self", "href": format!("{}/v2.1/servers/{id}", state.public_url)},
        {"rel": "bookmark", "href": format!("{}/servers/{id}", state.public_url)},
    ])
}

/// The brief view (`GET /servers`).
pub fn brief(state: &ComputeState, i: &Instance) -> Value {
    json!({"id": i.uuid, "name": i.name, "links": links(state, &i.uuid)})
}

/// Nova's `hostId`: a hash of the host and the project, so a project can
/// tell whether two of its servers share a host without learning its name.
pub fn host_id(project_id: &str, host: Option<&str>) -> String {
    match host {
        None | Some("") => String::new(),
        Some(h) => {
            let digest = Sha224::digest(format!("{project_id}{h}").as_bytes());
            hex::encode(digest)
        }
    }
}

fn flavor_view(state: &ComputeState, v: ApiVersion, f: &FlavorSnapshot) -> Value {
    if v.at_least(47) {
        json!({
            "vcpus": f.vcpus,
            "ram": f.ram,
            "disk": f.disk,
            "ephemeral": f.ephemeral,
            "swap": f.swap,
            "original_name": f.name,
            "extra_specs": f.extra_specs,
        })
    } else {
        json!({
            "id": f.id,
            "links": [{"rel": "bookmark", "href": format!("{}/flavors/{}", state.public_url, f.id)}],
        })
    }
}

fn image_view(state: &ComputeState, d: &ServerDoc) -> Value {
    if d.image_id.is_empty() || d.boots_from_volume() {
        return json!("");
    }
    json!({
        "id": d.image_id,
        "links": [{"rel": "bookmark", "href": format!("{}/images/{}", state.public_url, d.image_id)}],
    })
}

fn time_or_null(t: Option<i64>) -> Value {
    t.map(|t| json!(nova_time(t))).unwrap_or(Value::Null)
}

/// Add `security_groups` (`[{"name"}]`, the groups on the server's ports)
/// to the full views of `rows`, in order, where a server has any: one
/// look-up for the whole page, as Nova's does.
pub fn add_security_groups(
    state: &ComputeState,
    views: &mut [Value],
    rows: &[Instance],
) -> ComputeResult<()> {
    let Some(service) = state.link.networks() else {
        return Ok(());
    };
    let mut ids = Vec::new();
    for i in rows {
        if !doc(i)?.nics.is_empty() {
            ids.push(i.uuid.as_str());
        }
    }
    let groups = service.security_groups_of(&ids)?;
    for (view, i) in views.iter_mut().zip(rows) {
        if let Some(names) = groups.get(&i.uuid) {
            view["security_groups"] = names.iter().map(|n| json!({ "name": n })).collect();
        }
    }
    Ok(())
}

/// The full view (`GET /servers/{id}`, `GET /servers/detail`).
pub fn detail(
    state: &ComputeState,
    caller: &AuthContext,
    v: ApiVersion,
    i: &Instance,
) -> ComputeResult<Value> {
    let d = doc(i)?;
    let admin = caller.is_admin();
    let mut m = Map::new();
    m.insert("id".into(), json!(i.uuid));
    m.insert("name".into(), json!(i.name));
    m.insert(
        "status".into(),
        json!(status(&i.vm_state, i.task_state.as_deref())),
    );
    m.insert("tenant_id".into(), json!(i.project_id));
    m.insert("user_id".into(), json!(i.user_id));
    m.insert("metadata".into(), json!(d.metadata));
    m.insert(
        "hostId".into(),
        json!(host_id(&i.project_id, i.host.as_deref())),
    );
    m.insert("image".into(), image_view(state, &d));
    m.insert("flavor".into(), flavor_view(state, v, &d.flavor));
    m.insert("created".into(), json!(iso_seconds(i.created_at)));
    m.insert("updated".into(), json!(iso_seconds(i.updated_at)));
    m.insert("addresses".into(), server_addresses(state, &d.nics));
    m.insert("accessIPv4".into(), json!(d.access_ipv4));
    m.insert("accessIPv6".into(), json!(d.access_ipv6));
    m.insert("links".into(), links(state, &i.uuid));
    m.insert("OS-DCF:diskConfig".into(), json!(d.disk_config));
    if matches!(i.vm_state.as_str(), vm::BUILDING | vm::ACTIVE) {
        m.insert(
            "progress".into(),
            json!(if i.vm_state == vm::ACTIVE { 100 } else { 0 }),
        );
    }
    m.insert(
        "OS-EXT-AZ:availability_zone".into(),
        json!(d.availability_zone.clone().unwrap_or_default()),
    );
    m.insert(
        "config_drive".into(),
        json!(if d.config_drive { "True" } else { "" }),
    );
    m.insert("key_name".into(), json!(d.key_name));
    m.insert("OS-SRV-USG:launched_at".into(), time_or_null(d.launched_at));
    m.insert(
        "OS-SRV-USG:terminated_at".into(),
        time_or_null(d.terminated_at),
    );
    m.insert("OS-EXT-STS:task_state".into(), json!(i.task_state));
    m.insert("OS-EXT-STS:vm_state".into(), json!(i.vm_state));
    m.insert("OS-EXT-STS:power_state".into(), json!(i.power_state));
    let attached: Vec<Value> = (d.volumes.iter().chain(&d.detaching_volumes))
        .map(|vol| {
            if v.at_least(3) {
                json!({"id": vol.volume_id, "delete_on_termination": vol.delete_on_termination})
            } else {
                json!({"id": vol.volume_id})
            }
        })
        .collect();
    m.insert(
        "os-extended-volumes:volumes_attached".into(),
        Value::Array(attached),
    );
    if admin {
        m.insert("OS-EXT-SRV-ATTR:host".into(), json!(i.host));
        m.insert("OS-EXT-SRV-ATTR:hypervisor_hostname".into(), json!(i.host));
        m.insert(
            "OS-EXT-SRV-ATTR:instance_name".into(),
            json!(format!("instance-{:08x}", i.seq)),
        );
        if v.at_least(3) {
            m.insert(
                "OS-EXT-SRV-ATTR:reservation_id".into(),
                json!(d.reservation_id),
            );
            m.insert("OS-EXT-SRV-ATTR:launch_index".into(), json!(d.launch_index));
            m.insert("OS-EXT-SRV-ATTR:hostname".into(), json!(d.hostname));
            m.insert("OS-EXT-SRV-ATTR:kernel_id".into(), json!(""));
            m.insert("OS-EXT-SRV-ATTR:ramdisk_id".into(), json!(""));
            m.insert("OS-EXT-SRV-ATTR:root_device_name".into(), json!("/dev/vda"));
            m.insert("OS-EXT-SRV-ATTR:user_data".into(), json!(d.user_data));
        }
    } else if v.at_least(90) {
        m.insert("OS-EXT-SRV-ATTR:hostname".into(), json!(d.hostname));
    }
    if let Some(f) = d.fault.as_ref().filter(|_| i.vm_state == vm::ERROR) {
        let mut fault = json!({
            "code": f.code,
            "message": f.message,
            "created": iso_seconds(f.created),
        });
        if admin {
            fault["details"] = json!(f.details);
        }
        m.insert("fault".into(), fault);
    }
    if v.at_least(9) {
        m.insert("locked".into(), json!(d.locked));
    }
    if v.at_least(16) {
        let host_status = if i.host.is_some() { "UP" } else { "" };
        m.insert("host_status".into(), json!(host_status));
    }
    if v.at_least(19) {
        m.insert("description".into(), json!(d.description));
    }
    if v.at_least(26) {
        m.insert("tags".into(), json!(d.tags));
    }
    if v.at_least(63) {
        m.insert("trusted_image_certificates".into(), Value::Null);
    }
    if v.at_least(71) {
        m.insert("server_groups".into(), json!(d.server_groups));
    }
    if v.at_least(73) {
        m.insert("locked_reason".into(), json!(d.locked_reason));
    }
    if v.at_least(96) {
        m.insert(
            "pinned_availability_zone".into(),
            json!(d.pinned_availability_zone),
        );
    }
    Ok(Value::Object(m))
}

/// Which answer an [`action_view`] is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeAnswer {
    /// `PUT /servers/{id}`.
    Update,
    /// The `rebuild` action.
    Rebuild,
}

/// The server as Nova answers an update or a rebuild. From 2.75 that is
/// the full view; before, Nova's view builder leaves out the extended
/// attributes (availability zone, config drive, usage times, states,
/// attached volumes, `OS-EXT-SRV-ATTR:*`, `host_status`, the addresses'
/// type and MAC) and `key_name` (a rebuild shows it from 2.54). A rebuild
/// adds `user_data` from 2.57. Clients validate these answers against
/// schemas that refuse extra fields, so the difference matters.
pub fn action_view(
    state: &ComputeState,
    caller: &AuthContext,
    v: ApiVersion,
    i: &Instance,
    answer: ChangeAnswer,
) -> ComputeResult<Value> {
    let mut view = detail(state, caller, v, i)?;
    if !v.at_least(75) {
        if let Value::Object(m) = &mut view {
            m.retain(|k, _| {
                !(k.starts_with("OS-EXT-SRV-ATTR:")
                    || k.starts_with("OS-EXT-STS:")
                    || k.starts_with("OS-SRV-USG:")
                    || matches!(
                        k.as_str(),
                        "OS-EXT-AZ:availability_zone"
                            | "config_drive"
                            | "os-extended-volumes:volumes_attached"
                            | "host_status"
                            | "security_groups"
                    ))
            });
            if !(answer == ChangeAnswer::Rebuild && v.at_least(54)) {
                m.remove("key_name");
            }
            if let Some(Value::Object(networks)) = m.get_mut("addresses") {
                for entries in networks.values_mut() {
                    for entry in entries.as_array_mut().into_iter().flatten() {
                        if let Value::Object(e) = entry {
                            e.remove("OS-EXT-IPS:type");
                            e.remove("OS-EXT-IPS-MAC:mac_addr");
                        }
                    }
                }
            }
        }
    }
    if answer == ChangeAnswer::Rebuild && v.at_least(57) {
        // Nova's rebuild shows the user data as `user_data` only: its
        // view leaves out `OS-EXT-SRV-ATTR:user_data` (2.75+ shows the
        // other extended attributes).
        if let Value::Object(m) = &mut view {
            m.remove("OS-EXT-SRV-ATTR:user_data");
        }
        view["user_data"] = json!(doc(i)?.user_data);
    }
    Ok(view)
}

/// `addresses` of a server's NICs with their floating IPs, read from
/// the network service now (none when it cannot answer: the fixed
/// addresses still show).
pub fn server_addresses(state: &ComputeState, nics: &[crate::networks::ServerNic]) -> Value {
    let floating = match state.link.networks() {
        Some(n) if !nics.is_empty() => {
            let ports: Vec<String> = nics.iter().map(|n| n.port_id.clone()).collect();
            n.floating_ips(&ports).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "floating IPs of a server not read");
                Vec::new()
            })
        }
        _ => Vec::new(),
    };
    addresses(nics, &floating)
}

/// `addresses`: per network name, each fixed address with its MAC, each
/// followed by its floating IPs (`OS-EXT-IPS:type` `floating`), as Nova
/// lists them.
pub fn addresses(
    nics: &[crate::networks::ServerNic],
    floating: &[crate::networks::FloatingAddress],
) -> Value {
    let mut out = serde_json::Map::new();
    for nic in nics {
        let entry = out
            .entry(nic.network_name.clone())
            .or_insert_with(|| json!([]));
        if let Value::Array(list) = entry {
            for a in &nic.fixed_ips {
                list.push(json!({
                    "version": a.version,
                    "addr": a.ip_address,
                    "OS-EXT-IPS:type": "fixed",
                    "OS-EXT-IPS-MAC:mac_addr": nic.mac_address,
                }));
                let of_this = floating
                    .iter()
                    .filter(|f| f.port_id == nic.port_id && f.fixed_ip_address == a.ip_address);
                for f in of_this {
                    list.push(json!({
                        "version": 4,
                        "addr": f.floating_ip_address,
                        "OS-EXT-IPS:type": "floating",
                        "OS-EXT-IPS-MAC:mac_addr": nic.mac_address,
                    }));
                }
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_floating_ip_follows_its_fixed_address() {
        use crate::networks::{FloatingAddress, NicAddress, ServerNic};
        let nic = ServerNic {
            port_id: "p1".into(),
            network_id: "n1".into(),
            network_name: "net1".into(),
            mac_address: "fa:16:3e:00:00:01".into(),
            tap: "tapp1".into(),
            mtu: 1450,
            fixed_ips: vec![NicAddress {
                ip_address: "10.0.0.5".into(),
                version: 4,
                subnet_id: "s1".into(),
                cidr: "10.0.0.0/24".into(),
                gateway_ip: None,
                dns_nameservers: vec![],
            }],
            preserve_on_delete: false,
            tag: None,
        };
        let floating = [FloatingAddress {
            port_id: "p1".into(),
            fixed_ip_address: "10.0.0.5".into(),
            floating_ip_address: "203.0.113.7".into(),
        }];
        let a = addresses(&[nic], &floating);
        let types: Vec<(&str, &str)> = (a["net1"].as_array().unwrap().iter())
            .map(|e| {
                let kind = e["OS-EXT-IPS:type"].as_str().unwrap();
                (e["addr"].as_str().unwrap(), kind)
            })
            .collect();
        assert_eq!(types, [("10.0.0.5", "fixed"), ("203.0.113.7", "floating")]);
    }

    #[test]
    fn host_id_is_per_project_and_empty_without_host() {
        assert_eq!(host_id("p", None), "");
        let a = host_id("p", Some("h"));
        assert_eq!(a.len(), 56);
        assert_ne!(a, host_id("q", Some("h")));
    }
}
