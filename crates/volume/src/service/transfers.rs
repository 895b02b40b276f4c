//! Volume transfers: a project offers a detached volume to whoever holds
//! the transfer's id and auth key; accepting moves the volume (with its
//! snapshots, unless `no_snapshots`) and its quota usage to the accepting
//! project.
//!
//! ```text
//!  create: volume available -> awaiting-transfer ; transfer row (the auth
//!          key shown once in the answer, stored only as a salted SHA-256)
//!  delete: the transfer row goes ; volume back to available
//!  accept: key checked in constant time ; quota taken in the new project
//!          (413 leaves everything as it was) and given back in the old ;
//!          one volume change: owner, snapshots' owner, available ;
//!          transfer row gone
//! ```

use super::{bad_status, quota_error, resources, Caller};
use crate::error::{VolumeError, VolumeResult};
use crate::VolumeState;
use ferrostack_quota::VOLUME;
use ferrostack_store::volume::{Snapshot, Volume};
use ferrostack_store::volume_extras::Transfer;
use ferrostack_store::StoreError;
use sha2::{Digest, Sha256};

fn hash(salt: &str, key: &str) -> String {
    hex::encode(Sha256::digest(format!("{salt}{key}").as_bytes()))
}

/// Equal strings, compared in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl VolumeState {
    /// The transfer `id` if `caller` may see it (its giving project).
    pub fn transfer(&self, caller: &Caller, id: &str) -> VolumeResult<Transfer> {
        match self.store.get_transfer(id)? {
            Some(t) if caller.sees(&t.project_id) => Ok(t),
            _ => Err(VolumeError::NotFound(format!(
                "Transfer {id} could not be found."
            ))),
        }
    }

    /// The transfers of `project` (`None`: all).
    pub fn transfers(&self, project: Option<&str>) -> VolumeResult<Vec<Transfer>> {
        Ok(self.store.list_transfers(project)?)
    }

    /// Offer an available volume; the transfer and its auth key (shown
    /// this once).
    pub fn create_transfer(
        &self,
        caller: &Caller,
        volume_id: &str,
        name: Option<String>,
        no_snapshots: bool,
    ) -> VolumeResult<(Transfer, String)> {
        let v = self.volume(caller, volume_id)?;
        if v.status != "available" {
            return Err(VolumeError::BadRequest(
                bad_status(volume_id, "available", &v.status).to_string(),
            ));
        }
        let key: String = ferrostack_common::ids::new_hex_id()
            .chars()
            .take(16)
            .collect();
        let salt = ferrostack_common::ids::new_hex_id();
        let t = Transfer {
            id: ferrostack_common::ids::new_uuid(),
            volume_id: volume_id.to_string(),
            project_id: v.project_id.clone(),
            name,
            key_hash: hash(&salt, &key),
            salt,
            no_snapshots,
            created_at: ferrostack_common::time::now_micros(),
        };
        self.store.create_transfer(&t).map_err(|e| match e {
            StoreError::Conflict(m) => VolumeError::BadRequest(format!("Invalid volume: {m}")),
            other => other.into(),
        })?;
        let r = self.change(caller, volume_id, |g| {
            if g.volume.status != "available" {
                return Err(bad_status(volume_id, "available", &g.volume.status));
            }
            g.volume.status = "awaiting-transfer".into();
            Ok(())
        });
        if let Err(e) = r {
            let _ = self.store.delete_transfer(&t.id);
            return Err(e);
        }
        tracing::info!(transfer_id = %t.id, volume_id, "volume offered for transfer");
        Ok((t, key))
    }

    /// Cancel a transfer: the volume is available to its project again.
    pub fn delete_transfer(&self, caller: &Caller, id: &str) -> VolumeResult<()> {
        let t = self.transfer(caller, id)?;
        self.store.delete_transfer(id)?;
        self.settle(&t.volume_id, |g| {
            if g.volume.status == "awaiting-transfer" {
                g.volume.status = "available".into();
            }
        });
        Ok(())
    }

    /// Accept transfer `id` with `auth_key` into the caller's project;
    /// the transfer as it was.
    pub fn accept_transfer(
        &self,
        caller: &Caller,
        id: &str,
        auth_key: &str,
    ) -> VolumeResult<Transfer> {
        let t = self
            .store
            .get_transfer(id)?
            .ok_or_else(|| VolumeError::NotFound(format!("Transfer {id} could not be found.")))?;
        if !same(&hash(&t.salt, auth_key), &t.key_hash) {
            return Err(VolumeError::BadRequest(format!(
                "Invalid auth key: Attempt to transfer {id} with invalid auth key."
            )));
        }
        let service = Caller {
            project_id: String::new(),
            user_id: caller.user_id.clone(),
            is_admin: true,
        };
        let v = self.volume(&service, &t.volume_id)?;
        if v.status != "awaiting-transfer" {
            return Err(VolumeError::BadRequest(
                bad_status(&v.id, "awaiting-transfer", &v.status).to_string(),
            ));
        }
        let snapshots: Vec<Snapshot> = if t.no_snapshots {
            Vec::new()
        } else {
            self.store
                .list_snapshots(Some(&v.project_id))?
                .into_iter()
                .filter(|s| s.volume_id == v.id)
                .collect()
        };
        let type_name = self.type_name(&v.volume_type_id)?;
        let (from, to) = (v.project_id.clone(), caller.project_id.clone());
        self.move_quota(&v, &snapshots, &type_name, &from, &to)?;
        let moved = self.change(&service, &v.id, |g| {
            if g.volume.status != "awaiting-transfer" {
                return Err(bad_status(
                    &g.volume.id,
                    "awaiting-transfer",
                    &g.volume.status,
                ));
            }
            g.volume.project_id = to.clone();
            g.volume.user_id = caller.user_id.clone();
            g.volume.status = "available".into();
            for s in g.snapshots.iter_mut() {
                if !t.no_snapshots {
                    s.project_id = to.clone();
                }
            }
            Ok(())
        });
        if let Err(e) = moved {
            // Give the quota back where it was.
            if let Err(q) = self.move_quota(&v, &snapshots, &type_name, &to, &from) {
                tracing::error!(volume_id = %v.id, error = %q, "cannot move a refused transfer's quota back");
            }
            return Err(e);
        }
        self.store.delete_transfer(id)?;
        tracing::info!(transfer_id = id, volume_id = %v.id, from = %from, to = %to, "volume transferred");
        Ok(t)
    }

    /// Hold `v`'s (and its `snapshots`') quota in project `to` instead of
    /// `from`; a refusal (413) puts back what was moved, so the old
    /// holdings are as they were.
    fn move_quota(
        &self,
        v: &Volume,
        snapshots: &[Snapshot],
        type_name: &str,
        from: &str,
        to: &str,
    ) -> VolumeResult<()> {
        let size = v.size_gib as i64;
        let mut held = vec![(
            v.id.clone(),
            resources(&[
                ("volumes", 1),
                ("gigabytes", size),
                (&format!("volumes_{type_name}"), 1),
                (&format!("gigabytes_{type_name}"), size),
            ]),
        )];
        for s in snapshots {
            let size = s.size_gib as i64;
            held.push((
                s.id.clone(),
                resources(&[
                    ("snapshots", 1),
                    ("gigabytes", size),
                    (&format!("snapshots_{type_name}"), 1),
                    (&format!("gigabytes_{type_name}"), size),
                ]),
            ));
        }
        // Each consumer is released before it is reserved again: a
        // consumer id holds in one project at a time.
        let mut done: Vec<&str> = Vec::new();
        for (consumer, amounts) in &held {
            self.quotas.release(&VOLUME, consumer)?;
            if let Err(e) = self.quotas.reserve(&VOLUME, to, consumer, amounts) {
                // Put this one and the ones already moved back.
                let _ = self.quotas.reserve(&VOLUME, from, consumer, amounts);
                for (c, a) in held.iter().filter(|(c, _)| done.contains(&c.as_str())) {
                    let _ = self.quotas.release(&VOLUME, c);
                    let _ = self.quotas.reserve(&VOLUME, from, c, a);
                }
                return Err(quota_error(e));
            }
            done.push(consumer);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compare_whole() {
        let h = hash("salt", "key");
        assert!(same(&h, &hash("salt", "key")));
        assert!(!same(&h, &hash("salt", "kez")));
        assert!(!same(&h, &hash("tlas", "key")));
        assert!(!same("abc", "abcd"));
    }
}
