//! The NIC-set rules both drivers apply to `attach_nic` and `detach_nic`,
//! stated once so the fake and QEMU cannot disagree on what is a no-op,
//! what is a conflict and which NIC a detach means.

use crate::{HypervisorError, InstanceSpec, NicSpec, Result};

/// Whether a tap name is one QEMU and the kernel take: 1 to 15 bytes of
/// ASCII letters, digits, `-` and `_` (so it also makes valid QMP ids).
pub(crate) fn tap_ok(tap: &str) -> bool {
    !tap.is_empty()
        && tap.len() <= 15
        && tap
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether a MAC address is `aa:bb:cc:dd:ee:ff`.
pub(crate) fn mac_ok(mac: &str) -> bool {
    mac.len() == 17
        && mac.split(':').count() == 6
        && mac
            .split(':')
            .all(|o| o.len() == 2 && o.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Checks a NIC's tap and MAC.
pub(crate) fn validate(nic: &NicSpec) -> Result<()> {
    if !tap_ok(&nic.tap) {
        return Err(HypervisorError::InvalidSpec(format!(
            "bad tap device name {:?}",
            nic.tap
        )));
    }
    if !mac_ok(&nic.mac) {
        return Err(HypervisorError::InvalidSpec(format!(
            "bad MAC address {:?}",
            nic.mac
        )));
    }
    Ok(())
}

/// Whether `nic` must be plugged into `spec`'s instance: `false` when the
/// instance has exactly this NIC already (attach is idempotent), an error
/// when another NIC holds its tap, MAC or port.
pub(crate) fn needs_attach(spec: &InstanceSpec, nic: &NicSpec) -> Result<bool> {
    validate(nic)?;
    if spec.nics.contains(nic) {
        return Ok(false);
    }
    let clash = spec.nics.iter().find(|n| {
        n.tap == nic.tap
            || n.mac.eq_ignore_ascii_case(&nic.mac)
            || (n.port_id.is_some() && n.port_id == nic.port_id)
    });
    match clash {
        Some(n) => Err(HypervisorError::InvalidSpec(format!(
            "instance {} has a NIC on tap {} with MAC {} already; detach it first",
            spec.id, n.tap, n.mac
        ))),
        None => Ok(true),
    }
}

/// The index of the NIC a detach of `key` means: the one whose tap or
/// port id is `key`.
pub(crate) fn find(spec: &InstanceSpec, key: &str) -> Option<usize> {
    spec.nics
        .iter()
        .position(|n| n.tap == key || n.port_id.as_deref() == Some(key))
}

/// The QMP id of the netdev of the NIC on `tap` (stable across restarts,
/// valid because tap names are, see [`tap_ok`]).
pub(crate) fn netdev_id(tap: &str) -> String {
    format!("net-{tap}")
}

/// The QMP id of the virtio-net device of the NIC on `tap`.
pub(crate) fn device_id(tap: &str) -> String {
    format!("nic-{tap}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BaseFormat;
    use uuid::Uuid;

    fn nic(tap: &str, mac: &str, port: Option<&str>) -> NicSpec {
        NicSpec {
            tap: tap.into(),
            mac: mac.into(),
            port_id: port.map(Into::into),
        }
    }

    fn spec(nics: Vec<NicSpec>) -> InstanceSpec {
        InstanceSpec {
            id: Uuid::new_v4(),
            name: "vm".into(),
            vcpus: 1,
            memory_mib: 64,
            root_disk_gib: 0,
            image_id: String::new(),
            base_image: "/base".into(),
            base_format: BaseFormat::Qcow2,
            config_drive: None,
            nics,
            volumes: Vec::new(),
            root_limits: Default::default(),
        }
    }

    #[test]
    fn attach_is_idempotent_and_refuses_clashes() {
        let a = nic("tapa", "fa:16:3e:00:00:01", Some("pa"));
        let s = spec(vec![a.clone()]);
        assert!(!needs_attach(&s, &a).expect("same NIC"));
        assert!(needs_attach(&s, &nic("tapb", "fa:16:3e:00:00:02", Some("pb"))).expect("new"));
        for clash in [
            nic("tapa", "fa:16:3e:00:00:02", None),
            nic("tapb", "FA:16:3E:00:00:01", None),
            nic("tapb", "fa:16:3e:00:00:02", Some("pa")),
        ] {
            assert!(matches!(
                needs_attach(&s, &clash),
                Err(HypervisorError::InvalidSpec(_))
            ));
        }
        assert!(needs_attach(&s, &nic("tap,x", "fa:16:3e:00:00:02", None)).is_err());
        assert!(needs_attach(&s, &nic("tapc", "fa:16:3e:00:00", None)).is_err());
    }

    #[test]
    fn detach_finds_by_tap_or_port() {
        let s = spec(vec![
            nic("tapa", "fa:16:3e:00:00:01", Some("pa")),
            nic("tapb", "fa:16:3e:00:00:02", None),
        ]);
        assert_eq!(find(&s, "tapb"), Some(1));
        assert_eq!(find(&s, "pa"), Some(0));
        assert_eq!(find(&s, "pb"), None);
        assert_eq!(device_id("tapa"), "nic-tapa");
        assert_eq!(netdev_id("tapa"), "net-tapa");
    }
}
