//! The volume-set rules both drivers apply to `attach_volume`,
//! `detach_volume`, `update_volume` and `set_root_limits`, stated once so
//! the fake and QEMU cannot disagree on what is a no-op, what is a
//! conflict and what can change in place.
//!
//! A volume is known by its `volume_id`. What QEMU opened (the connection,
//! the serial the guest sees, read-only, being the root disk) is its
//! identity: changing any of it is a detach and an attach. What can change
//! under a plugged disk is its limits, its size (only up) and the
//! attachment id (bookkeeping only).

use crate::{HypervisorError, InstanceSpec, Result};
use ferrostack_host_contract::block::{Connection, IoLimits, VolumeSpec};

/// The longest volume key: QEMU node names are at most 31 bytes, and the
/// key gets a 2-byte suffix (`-p`, `-f`) for the lower nodes.
const KEY_CHARS: usize = 24;

/// The key a volume's QEMU ids derive from: `vol-` and the first 24
/// letters and digits of its id (lowercased), so the ids are the same
/// whichever way the disk got there (command line or hotplug) and an
/// unplug after an agent restart finds them. For a UUID that is 24 of its
/// 32 hex digits; two volumes of one instance with the same key are
/// refused (`needs_attach`, `validate_set`).
pub(crate) fn key(volume_id: &str) -> String {
    let mut k = String::from("vol-");
    k.extend(
        volume_id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .take(KEY_CHARS),
    );
    k
}

/// Checks a limit set: QEMU refuses a total limit next to a read or write
/// one of the same kind.
pub(crate) fn validate_limits(l: &IoLimits) -> Result<()> {
    if (l.total_iops_sec != 0 && (l.read_iops_sec != 0 || l.write_iops_sec != 0))
        || (l.total_bytes_sec != 0 && (l.read_bytes_sec != 0 || l.write_bytes_sec != 0))
    {
        return Err(HypervisorError::InvalidSpec(format!(
            "I/O limits {l:?} set a total next to a read or write limit of the same kind"
        )));
    }
    Ok(())
}

/// Checks one volume on its own.
pub(crate) fn validate(v: &VolumeSpec) -> Result<()> {
    let bad = |m: String| Err(HypervisorError::InvalidSpec(m));
    if key(&v.volume_id).len() <= "vol-".len() {
        return bad(format!(
            "volume id {:?} has no letters or digits",
            v.volume_id
        ));
    }
    if v.serial.len() > 20
        || !v
            .serial
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return bad(format!(
            "volume {}: serial {:?} is not at most 20 letters, digits, '-', '_' or '.'",
            v.volume_id, v.serial
        ));
    }
    if !matches!(v.boot_index, None | Some(0)) {
        return bad(format!(
            "volume {}: boot_index {:?}; only the root disk (0) has one",
            v.volume_id, v.boot_index
        ));
    }
    match &v.connection {
        Connection::File { path, format } => {
            if !std::path::Path::new(path).is_absolute() {
                return bad(format!(
                    "volume {}: {path:?} is not an absolute path",
                    v.volume_id
                ));
            }
            if format != "qcow2" && format != "raw" {
                return bad(format!(
                    "volume {}: format {format:?} is not qcow2 or raw",
                    v.volume_id
                ));
            }
        }
        Connection::Rbd {
            pool, image, user, ..
        } => {
            if pool.is_empty() || image.is_empty() || user.is_empty() {
                return bad(format!(
                    "volume {}: an RBD connection needs a pool, an image and a user",
                    v.volume_id
                ));
            }
        }
        Connection::Export { address, name, key } => {
            let port_ok = address
                .rsplit_once(':')
                .is_some_and(|(_, p)| p.parse::<u16>().is_ok());
            // The name is the TLS-PSK identity, a line `name:key` in the
            // key file: no separators in it.
            let name_ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
            if !port_ok || !name_ok || !key.is_valid() {
                return bad(format!(
                    "volume {}: an export needs host:port, a name of letters, digits, '-', '_' \
                     or '.', and a 64-hex-digit key",
                    v.volume_id
                ));
            }
        }
    }
    validate_limits(&v.limits)
}

/// Whether two specs of one volume are the same disk to QEMU (what it
/// opened and how the guest sees it).
pub(crate) fn same_disk(a: &VolumeSpec, b: &VolumeSpec) -> bool {
    a.volume_id == b.volume_id
        && a.connection == b.connection
        && a.serial == b.serial
        && a.read_only == b.read_only
        && a.boot_index == b.boot_index
}

/// Checks the volumes of a spec together: each valid, no two with the
/// same key or serial, at most one root disk.
pub(crate) fn validate_set(spec: &InstanceSpec) -> Result<()> {
    for (i, v) in spec.volumes.iter().enumerate() {
        validate(v)?;
        if let Some(other) = spec.volumes[..i]
            .iter()
            .find(|o| key(&o.volume_id) == key(&v.volume_id) || o.serial == v.serial)
        {
            return Err(HypervisorError::InvalidSpec(format!(
                "volumes {} and {} have the same QEMU id or serial",
                other.volume_id, v.volume_id
            )));
        }
    }
    if spec
        .volumes
        .iter()
        .filter(|v| v.boot_index.is_some())
        .count()
        > 1
    {
        return Err(HypervisorError::InvalidSpec(
            "more than one volume is the root disk".into(),
        ));
    }
    validate_limits(&spec.root_limits)
}

/// The root volume of a boot-from-volume spec.
pub(crate) fn boot_volume(spec: &InstanceSpec) -> Option<&VolumeSpec> {
    spec.volumes.iter().find(|v| v.boot_index.is_some())
}

/// Whether `v` must be plugged into `spec`'s instance: `false` when the
/// instance has this disk already (attach is idempotent; its limits are
/// `update_volume`'s business), an error when the instance has the volume
/// as another disk, another volume has its ids or serial, or it is a root
/// disk (only present from the spawn on).
pub(crate) fn needs_attach(spec: &InstanceSpec, v: &VolumeSpec) -> Result<bool> {
    validate(v)?;
    if let Some(have) = spec.volumes.iter().find(|o| o.volume_id == v.volume_id) {
        if same_disk(have, v) {
            return Ok(false);
        }
        return Err(HypervisorError::InvalidSpec(format!(
            "instance {} has volume {} attached as another disk; detach it first",
            spec.id, v.volume_id
        )));
    }
    if v.boot_index.is_some() {
        return Err(HypervisorError::InvalidSpec(format!(
            "volume {}: a root disk is given at spawn, not attached",
            v.volume_id
        )));
    }
    if let Some(o) = spec
        .volumes
        .iter()
        .find(|o| key(&o.volume_id) == key(&v.volume_id) || o.serial == v.serial)
    {
        return Err(HypervisorError::InvalidSpec(format!(
            "instance {}: volume {} has the QEMU id or serial of volume {}",
            spec.id, v.volume_id, o.volume_id
        )));
    }
    Ok(true)
}

/// The index of volume `volume_id` in `spec`, if attached; an error if it
/// is the root disk (which goes only with the instance).
pub(crate) fn find_detachable(spec: &InstanceSpec, volume_id: &str) -> Result<Option<usize>> {
    match spec.volumes.iter().position(|v| v.volume_id == volume_id) {
        Some(i) if spec.volumes[i].boot_index.is_some() => {
            Err(HypervisorError::InvalidSpec(format!(
                "volume {volume_id} is the root disk of instance {}; it cannot be detached",
                spec.id
            )))
        }
        r => Ok(r),
    }
}

/// What an `update_volume` changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UpdatePlan {
    /// The volume's index in the spec.
    pub index: usize,
    /// The limits change.
    pub limits: bool,
    /// The size grows.
    pub grow: bool,
    /// The top generation moves on: a running guest may have to switch
    /// its disk onto the volume's new top file (a live snapshot).
    pub switch: bool,
}

/// What an `update_volume` changes. An error when the volume is not
/// attached, `new` is another disk, it would shrink, or its top
/// generation would go back (compute only bumps it).
pub(crate) fn update_plan(spec: &InstanceSpec, new: &VolumeSpec) -> Result<UpdatePlan> {
    validate(new)?;
    let Some(i) = spec
        .volumes
        .iter()
        .position(|v| v.volume_id == new.volume_id)
    else {
        return Err(HypervisorError::InvalidSpec(format!(
            "volume {} is not attached to instance {}",
            new.volume_id, spec.id
        )));
    };
    let old = &spec.volumes[i];
    if !same_disk(old, new) {
        return Err(HypervisorError::InvalidSpec(format!(
            "volume {}: only limits and size change in place; detach and attach it",
            new.volume_id
        )));
    }
    if new.size_gib < old.size_gib {
        return Err(HypervisorError::InvalidSpec(format!(
            "volume {}: {} GiB is smaller than its {} GiB; volumes never shrink",
            new.volume_id, new.size_gib, old.size_gib
        )));
    }
    if new.top_generation < old.top_generation {
        return Err(HypervisorError::InvalidSpec(format!(
            "volume {}: top generation {} is behind the applied {}",
            new.volume_id, new.top_generation, old.top_generation
        )));
    }
    Ok(UpdatePlan {
        index: i,
        limits: old.limits != new.limits,
        grow: new.size_gib > old.size_gib,
        switch: new.top_generation > old.top_generation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BaseFormat;
    use uuid::Uuid;

    fn vol(id: &str) -> VolumeSpec {
        VolumeSpec {
            volume_id: id.into(),
            attachment_id: format!("att-{id}"),
            connection: Connection::File {
                path: format!("/volumes/{id}.qcow2"),
                format: "qcow2".into(),
            },
            serial: VolumeSpec::serial_for(id),
            read_only: false,
            boot_index: None,
            limits: IoLimits::default(),
            size_gib: 1,
            top_generation: 0,
        }
    }

    fn spec(volumes: Vec<VolumeSpec>) -> InstanceSpec {
        InstanceSpec {
            id: Uuid::new_v4(),
            name: "vm".into(),
            vcpus: 1,
            memory_mib: 128,
            root_disk_gib: 0,
            image_id: String::new(),
            base_image: "/base.qcow2".into(),
            base_format: BaseFormat::Qcow2,
            config_drive: None,
            nics: Vec::new(),
            volumes,
            root_limits: IoLimits::default(),
        }
    }

    #[test]
    fn keys_fit_node_names() {
        let k = key("6c1f8a1e-6c1e-4b4e-9f0a-3b1d2c3d4e5f");
        assert_eq!(k, "vol-6c1f8a1e6c1e4b4e9f0a3b1d");
        assert!(k.len() + 2 <= 31);
        assert_eq!(key("Vol_A"), "vol-vola");
        assert!(validate(&vol("---")).is_err());
    }

    #[test]
    fn attach_is_idempotent_and_refuses_clashes() {
        let a = vol("aaaa");
        let s = spec(vec![a.clone()]);
        assert!(!needs_attach(&s, &a).expect("same disk"));
        let mut limited = a.clone();
        limited.limits.write_iops_sec = 20;
        assert!(
            !needs_attach(&s, &limited).expect("limits are update's"),
            "attach of a disk the instance has changes nothing"
        );
        assert!(needs_attach(&s, &vol("bbbb")).expect("new"));
        let mut ro = a.clone();
        ro.read_only = true;
        let mut same_key = vol("AAAA");
        same_key.serial = "other".into();
        let mut same_serial = vol("cccc");
        same_serial.serial = a.serial.clone();
        let mut root = vol("dddd");
        root.boot_index = Some(0);
        let mut bad_limits = vol("eeee");
        bad_limits.limits.total_iops_sec = 1;
        bad_limits.limits.read_iops_sec = 1;
        for clash in [ro, same_key, same_serial, root, bad_limits] {
            assert!(
                matches!(
                    needs_attach(&s, &clash),
                    Err(HypervisorError::InvalidSpec(_))
                ),
                "{clash:?}"
            );
        }
    }

    #[test]
    fn updates_change_limits_and_grow_only() {
        let a = vol("aaaa");
        let s = spec(vec![a.clone()]);
        let mut b = a.clone();
        b.limits.write_iops_sec = 20;
        b.size_gib = 2;
        b.top_generation = 1;
        let plan = update_plan(&s, &b).expect("update");
        assert_eq!(
            (plan.index, plan.limits, plan.grow, plan.switch),
            (0, true, true, true)
        );
        let s2 = spec(vec![b.clone()]);
        let mut back = b.clone();
        back.top_generation = 0;
        assert!(update_plan(&s2, &back).is_err(), "generations only go up");
        let mut smaller = a.clone();
        smaller.size_gib = 0;
        assert!(update_plan(&s, &smaller).is_err());
        let mut other = a.clone();
        other.serial = "x".into();
        assert!(update_plan(&s, &other).is_err());
        assert!(update_plan(&s, &vol("zzzz")).is_err());
    }

    #[test]
    fn the_root_disk_stays() {
        let mut root = vol("root1");
        root.boot_index = Some(0);
        let s = spec(vec![root, vol("data1")]);
        assert!(find_detachable(&s, "root1").is_err());
        assert_eq!(find_detachable(&s, "data1").expect("data"), Some(1));
        assert_eq!(find_detachable(&s, "none").expect("none"), None);
        assert!(validate_set(&s).is_ok());
        let mut two = s.clone();
        two.volumes[1].boot_index = Some(0);
        assert!(validate_set(&two).is_err());
    }
}
