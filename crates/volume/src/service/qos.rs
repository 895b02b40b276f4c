//! QoS specs: named I/O limits, associated with volume types, applied to
//! a volume's disk when it is attached (`front-end` or `both`: QEMU's
//! throttle group, through the instance's spec). `back-end` specs are
//! kept and shown but enforce nothing here: the local backend has no
//! limits of its own.
//!
//! The keys QEMU enforces are validated (non-negative integers; a total
//! is not set beside a read or write limit of the same kind, which QEMU
//! refuses); other keys are kept as given, as Cinder keeps them for
//! back-end drivers.

use super::Caller;
use crate::error::{VolumeError, VolumeResult};
use crate::VolumeState;
use ferrostack_host_contract::block::IoLimits;
use ferrostack_store::volume::Volume;
use ferrostack_store::volume_extras::{ExtrasConflict, QosSpecs};
use ferrostack_store::StoreError;
use std::collections::BTreeMap;

/// The keys a front-end consumer enforces.
pub const LIMIT_KEYS: [&str; 6] = [
    "total_iops_sec",
    "read_iops_sec",
    "write_iops_sec",
    "total_bytes_sec",
    "read_bytes_sec",
    "write_bytes_sec",
];

const CONSUMERS: [&str; 3] = ["front-end", "back-end", "both"];

fn store_error(e: StoreError) -> VolumeError {
    if let StoreError::Refused(inner) = &e {
        if let Some(c) = inner.downcast_ref::<ExtrasConflict>() {
            return match c {
                ExtrasConflict::QosNameTaken(_) => VolumeError::Conflict(c.to_string()),
                _ => VolumeError::BadRequest(c.to_string()),
            };
        }
    }
    VolumeError::from(e)
}

/// Check specs as a whole (after a merge).
pub fn check_specs(specs: &BTreeMap<String, String>) -> VolumeResult<()> {
    for key in LIMIT_KEYS {
        if let Some(v) = specs.get(key) {
            if v.trim().parse::<u64>().is_err() {
                return Err(VolumeError::BadRequest(format!(
                    "Invalid input received: {key} must be a non-negative integer, not {v:?}."
                )));
            }
        }
    }
    for kind in ["iops", "bytes"] {
        let total = specs.contains_key(&format!("total_{kind}_sec"));
        let split = specs.contains_key(&format!("read_{kind}_sec"))
            || specs.contains_key(&format!("write_{kind}_sec"));
        if total && split {
            return Err(VolumeError::BadRequest(format!(
                "Invalid input received: total_{kind}_sec cannot be set with read_{kind}_sec or \
                 write_{kind}_sec."
            )));
        }
    }
    Ok(())
}

/// The limits a set of specs puts on a disk (none for `back-end`).
pub fn limits_of(q: &QosSpecs) -> IoLimits {
    if q.consumer == "back-end" {
        return IoLimits::default();
    }
    let get = |k: &str| {
        q.specs
            .get(k)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    IoLimits {
        total_iops_sec: get("total_iops_sec"),
        read_iops_sec: get("read_iops_sec"),
        write_iops_sec: get("write_iops_sec"),
        total_bytes_sec: get("total_bytes_sec"),
        read_bytes_sec: get("read_bytes_sec"),
        write_bytes_sec: get("write_bytes_sec"),
    }
}

impl VolumeState {
    /// The QoS specs `id` (admins only reach this).
    pub fn qos(&self, id: &str) -> VolumeResult<QosSpecs> {
        self.store
            .get_qos(id)?
            .ok_or_else(|| VolumeError::NotFound(format!("QoS spec {id} could not be found.")))
    }

    /// Create QoS specs.
    pub fn create_qos(
        &self,
        name: String,
        consumer: Option<String>,
        specs: BTreeMap<String, String>,
    ) -> VolumeResult<QosSpecs> {
        let consumer = consumer.unwrap_or_else(|| "back-end".into());
        if !CONSUMERS.contains(&consumer.as_str()) {
            return Err(VolumeError::BadRequest(
                "Invalid input received: Valid consumer of QoS specs are: ['front-end', \
                 'back-end', 'both']"
                    .into(),
            ));
        }
        if name.trim().is_empty() || name.chars().count() > 255 {
            return Err(VolumeError::BadRequest(
                "Invalid input received: QoS specs name must be 1 to 255 characters.".into(),
            ));
        }
        check_specs(&specs)?;
        let q = QosSpecs {
            id: ferrostack_common::ids::new_uuid(),
            name,
            consumer,
            specs,
            created_at: ferrostack_common::time::now_micros(),
        };
        self.store.create_qos(&q).map_err(store_error)?;
        Ok(q)
    }

    /// Set (merge) keys of QoS specs; the keys as set.
    pub fn set_qos_keys(
        &self,
        id: &str,
        keys: BTreeMap<String, String>,
    ) -> VolumeResult<BTreeMap<String, String>> {
        let q = self.qos(id)?;
        let mut specs = q.specs;
        specs.extend(keys.clone());
        check_specs(&specs)?;
        self.store.set_qos_specs(id, &specs)?;
        Ok(keys)
    }

    /// Unset keys of QoS specs: 404 for a key that is not there.
    pub fn unset_qos_keys(&self, id: &str, keys: &[String]) -> VolumeResult<()> {
        let mut specs = self.qos(id)?.specs;
        for k in keys {
            if specs.remove(k).is_none() {
                return Err(VolumeError::NotFound(format!(
                    "QoS spec {id} has no key {k}."
                )));
            }
        }
        self.store.set_qos_specs(id, &specs)?;
        Ok(())
    }

    /// Delete QoS specs; refused while associated unless `force`.
    pub fn delete_qos(&self, id: &str, force: bool) -> VolumeResult<()> {
        if !self.store.delete_qos(id, force).map_err(store_error)? {
            return Err(VolumeError::NotFound(format!(
                "QoS spec {id} could not be found."
            )));
        }
        Ok(())
    }

    /// Associate QoS specs with a volume type (found by id).
    pub fn associate_qos(&self, caller: &Caller, id: &str, type_id: &str) -> VolumeResult<()> {
        self.qos(id)?;
        let t = self.volume_type(caller, type_id)?;
        if let Some(other) = self.store.qos_of_type(&t.id)? {
            if other.id != id {
                return Err(VolumeError::BadRequest(format!(
                    "Invalid input received: Type {} is already associated with another qos \
                     specs: {}",
                    t.id, other.id
                )));
            }
        }
        Ok(self.store.associate_qos(id, &t.id)?)
    }

    /// Drop the association with one volume type.
    pub fn disassociate_qos(&self, caller: &Caller, id: &str, type_id: &str) -> VolumeResult<()> {
        self.qos(id)?;
        let t = self.volume_type(caller, type_id)?;
        Ok(self.store.disassociate_qos(id, &t.id)?)
    }

    /// Drop every association.
    pub fn disassociate_all_qos(&self, id: &str) -> VolumeResult<()> {
        self.qos(id)?;
        Ok(self.store.disassociate_all_qos(id)?)
    }

    /// The volume types of QoS specs, as `(id, name)`.
    pub fn qos_associations(&self, id: &str) -> VolumeResult<Vec<(String, String)>> {
        self.qos(id)?;
        let mut out = Vec::new();
        for t in self.store.qos_types(id)? {
            if let Some(vt) = self.store.get_type(&t)? {
                out.push((vt.id, vt.name));
            }
        }
        Ok(out)
    }

    /// The limits a volume's disk gets from its type's QoS specs.
    pub fn disk_limits(&self, v: &Volume) -> VolumeResult<IoLimits> {
        Ok(self
            .store
            .qos_of_type(&v.volume_type_id)?
            .map(|q| limits_of(&q))
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_integers_and_a_total_stands_alone() {
        let specs = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(check_specs(&specs(&[("write_iops_sec", "100"), ("vendor:x", "y")])).is_ok());
        assert!(check_specs(&specs(&[("write_iops_sec", "fast")])).is_err());
        assert!(check_specs(&specs(&[("total_iops_sec", "1"), ("read_iops_sec", "1")])).is_err());
        assert!(check_specs(&specs(&[("total_bytes_sec", "1"), ("read_iops_sec", "1")])).is_ok());
        let q = QosSpecs {
            id: "q".into(),
            name: "n".into(),
            consumer: "front-end".into(),
            specs: specs(&[("write_iops_sec", "100"), ("read_bytes_sec", "5")]),
            created_at: 0,
        };
        let l = limits_of(&q);
        assert_eq!(
            (l.write_iops_sec, l.read_bytes_sec, l.total_iops_sec),
            (100, 5, 0)
        );
        let back = QosSpecs {
            consumer: "back-end".into(),
            ..q
        };
        assert_eq!(limits_of(&back), IoLimits::default());
    }
}
