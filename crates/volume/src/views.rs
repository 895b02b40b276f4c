//! The JSON views of volumes, snapshots, attachments and types, in
//! Cinder's shapes, per microversion and per caller (admin-only fields).

use crate::microversion::Version;
use ferrostack_common::time::nova_time;
use ferrostack_store::volume::{Attachment, Snapshot, Volume, VolumeType};
use serde_json::{json, Map, Value};

/// What a volume view needs beside the volume.
pub struct VolumeContext<'a> {
    /// The public URL of `/v3` for links.
    pub base: &'a str,
    /// The request's microversion.
    pub version: Version,
    /// The caller is a cloud admin.
    pub admin: bool,
    /// The name of the volume's type.
    pub type_name: &'a str,
    /// Its attachments.
    pub attachments: &'a [Attachment],
    /// A GET's view (show, detail list): with the extended attributes
    /// (tenant, host, migration status, image metadata), which Cinder's
    /// extensions add to GETs only, not to a create's or update's answer.
    pub extended: bool,
}

fn links(base: &str, project: &str, kind: &str, id: &str) -> Value {
    json!([
        {"rel": "self", "href": format!("{base}/v3/{project}/{kind}/{id}")},
        {"rel": "bookmark", "href": format!("{base}/{project}/{kind}/{id}")},
    ])
}

/// A volume in a list without details.
pub fn volume_summary(v: &Volume, base: &str) -> Value {
    json!({"id": v.id, "name": v.name, "links": links(base, &v.project_id, "volumes", &v.id)})
}

/// One entry of a volume's `attachments`.
pub fn volume_attachment(a: &Attachment) -> Value {
    json!({
        "id": a.volume_id,
        "attachment_id": a.id,
        "volume_id": a.volume_id,
        "server_id": a.instance_uuid,
        "host_name": a.attached_host,
        "device": a.mountpoint,
        "attached_at": a.attach_time.map(nova_time),
    })
}

/// A volume's detail view.
pub fn volume(v: &Volume, cx: &VolumeContext<'_>) -> Value {
    let mut o = Map::new();
    let mut put = |k: &str, val: Value| {
        o.insert(k.to_string(), val);
    };
    put("id", json!(v.id));
    put("name", json!(v.name));
    put("description", json!(v.description));
    put("status", json!(v.status));
    put("size", json!(v.size_gib));
    put("availability_zone", json!(v.availability_zone));
    put("created_at", json!(nova_time(v.created_at)));
    put("updated_at", json!(nova_time(v.updated_at)));
    put(
        "attachments",
        Value::Array(
            cx.attachments
                .iter()
                .filter(|a| a.attach_status == "attached")
                .map(volume_attachment)
                .collect(),
        ),
    );
    put("links", links(cx.base, &v.project_id, "volumes", &v.id));
    put("volume_type", json!(cx.type_name));
    put("snapshot_id", json!(v.snapshot_id));
    put("source_volid", json!(v.source_volid));
    put("metadata", json!(v.metadata));
    put("user_id", json!(v.user_id));
    put("bootable", json!(if v.bootable { "true" } else { "false" }));
    put("encrypted", json!(false));
    put("replication_status", Value::Null);
    put("consistencygroup_id", Value::Null);
    put("multiattach", json!(v.multiattach));
    if cx.extended && !v.image_metadata.is_empty() {
        put("volume_image_metadata", json!(v.image_metadata));
    }
    if cx.extended {
        // Cinder's policy: the owner and admins.
        put("os-vol-tenant-attr:tenant_id", json!(v.project_id));
    }
    if cx.extended && cx.admin {
        put("os-vol-host-attr:host", json!(v.host));
        put("os-vol-mig-status-attr:migstat", Value::Null);
        put("os-vol-mig-status-attr:name_id", Value::Null);
        // Volumes never migrate between backends here (retype stays on
        // its backend), so no migration is ever under way.
        put("migration_status", Value::Null);
        if let Some(e) = &v.error {
            put("ferrostack:error", json!(e));
        }
    }
    let at = |m| cx.version.at_least(m);
    if at(13) {
        put("group_id", Value::Null);
    }
    if at(21) && cx.admin {
        put("provider_id", Value::Null);
    }
    if at(48) {
        put("shared_targets", json!(false));
        put("service_uuid", json!(service_uuid(v.host.as_deref())));
    }
    if at(61) && cx.admin {
        put("cluster_name", Value::Null);
    }
    if at(63) {
        put("volume_type_id", json!(v.volume_type_id));
    }
    if at(65) {
        put("consumes_quota", json!(true));
    }
    Value::Object(o)
}

/// A UUID-shaped id for the cinder-volume service of `host`, the same on
/// every start and build (FNV-1a of the `host@backend` part, twice).
pub fn service_uuid(host: Option<&str>) -> Option<String> {
    let host = host?.split('#').next()?;
    let fnv = |seed: u64| {
        host.bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let hex = format!(
        "{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x6c62_272e_07bb_0142)
    );
    Some(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// A snapshot's view (`extended`: a GET's, see below).
pub fn snapshot(s: &Snapshot, version: Version, extended: bool) -> Value {
    let mut o = json!({
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "status": s.status,
        "size": s.size_gib,
        "volume_id": s.volume_id,
        "metadata": s.metadata,
        "created_at": nova_time(s.created_at),
        "updated_at": nova_time(s.updated_at),
    });
    // A GET's view (show, detail list) has the extended attributes, which
    // Cinder's policy shows to the owner and admins: everyone who sees the
    // snapshot; a create's or update's answer has none.
    if extended {
        o["os-extended-snapshot-attributes:project_id"] = json!(s.project_id);
        o["os-extended-snapshot-attributes:progress"] = json!(match &s.progress {
            Some(p) => p.as_str(),
            None if s.status == "available" => "100%",
            None => "0%",
        });
    }
    if version.at_least(14) {
        o["group_snapshot_id"] = Value::Null;
    }
    if version.at_least(41) {
        o["user_id"] = json!(s.user_id);
    }
    if version.at_least(65) {
        o["consumes_quota"] = json!(true);
    }
    o
}

/// An attachment of the attachments API.
pub fn attachment(a: &Attachment, detail: bool) -> Value {
    let mut o = json!({
        "id": a.id,
        "status": a.attach_status,
        "instance": a.instance_uuid,
        "volume_id": a.volume_id,
    });
    if detail {
        o["attached_at"] = json!(a.attach_time.map(nova_time));
        o["detached_at"] = json!(a.detach_time.map(nova_time));
        o["attach_mode"] = json!(a.mode);
        o["connection_info"] = a.connection_info.clone().unwrap_or(Value::Null);
    }
    o
}

/// A volume type as a create answers it (no `qos_specs_id`, as Cinder).
pub fn volume_type_created(t: &VolumeType) -> Value {
    let mut o = volume_type(t, true);
    if let Some(m) = o.as_object_mut() {
        m.remove("qos_specs_id");
    }
    o
}

/// A volume type as an update answers it (nor the access flag).
pub fn volume_type_updated(t: &VolumeType) -> Value {
    let mut o = volume_type_created(t);
    if let Some(m) = o.as_object_mut() {
        m.remove("os-volume-type-access:is_public");
    }
    o
}

/// A volume type.
pub fn volume_type(t: &VolumeType, admin: bool) -> Value {
    let mut o = json!({
        "id": t.id,
        "name": t.name,
        "description": t.description,
        "is_public": t.is_public,
        "os-volume-type-access:is_public": t.is_public,
    });
    if admin {
        o["extra_specs"] = json!(t.extra_specs);
        o["qos_specs_id"] = Value::Null;
    } else {
        // Cinder shows users only the specs they may read; none are secret
        // here but the backend's name.
        let mut specs = t.extra_specs.clone();
        specs.remove("volume_backend_name");
        o["extra_specs"] = json!(specs);
    }
    o
}
