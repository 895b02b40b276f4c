//! Which controller holds a storage host's data, and a backend for it.
//!
//! A volume's host is `HOST@backend#pool`, where `HOST` is the host name
//! of the controller whose local backend made it. The `controllers` table
//! says, per controller, that host name, whether its lease holds, and
//! where it listens for peers ([`ControllerStore::set_controller_peer`]).
//! Read on every lookup (one indexed read; a controller that just died or
//! came back is seen at once, no cache to go stale).

use super::{PeerError, RemoteBackend};
use crate::backend::VolumeBackend;
use ferrostack_store::controller::ControllerStore;
use std::sync::Arc;

/// Backends of other controllers, by storage host.
pub trait Peers: Send + Sync {
    /// The backend `backend_name` of storage host `host` when another
    /// controller serves that host: `Ok(None)` when no other controller is
    /// registered under it (then nobody else holds its data);
    /// [`PeerError::Down`] when its controller is not live.
    fn backend_at(
        &self,
        host: &str,
        backend_name: &str,
    ) -> Result<Option<Arc<dyn VolumeBackend>>, PeerError>;
}

/// [`Peers`] from the `controllers` table.
pub struct StorePeers {
    store: Arc<dyn ControllerStore>,
    me: String,
    client: reqwest::Client,
    key: Arc<str>,
}

impl StorePeers {
    /// Controller `me`'s view of the others in `store`; `client` is what
    /// reaches their peer endpoints (TLS pinned to the cloud's host API
    /// certificate), `key` the peer key.
    pub fn new(
        store: Arc<dyn ControllerStore>,
        me: &str,
        client: reqwest::Client,
        key: Arc<str>,
    ) -> Self {
        StorePeers {
            store,
            me: me.into(),
            client,
            key,
        }
    }
}

impl Peers for StorePeers {
    fn backend_at(
        &self,
        host: &str,
        backend_name: &str,
    ) -> Result<Option<Arc<dyn VolumeBackend>>, PeerError> {
        let all = self
            .store
            .controllers()
            .map_err(|e| PeerError::Store(e.to_string()))?;
        let mut named: Vec<_> = all
            .into_iter()
            .filter(|c| c.host == host && c.id != self.me)
            .collect();
        if named.is_empty() {
            return Ok(None);
        }
        // Two controllers with one host name: the live one, the newest.
        named.sort_by_key(|c| (c.live, c.started_at));
        let c = named.pop().expect("not empty");
        if !c.live {
            return Err(PeerError::Down(host.into()));
        }
        let (Some(url), Some(dir)) = (c.peer_url, c.volume_dir) else {
            return Err(PeerError::NoAddress(host.into()));
        };
        Ok(Some(Arc::new(RemoteBackend::new(
            backend_name,
            host,
            dir,
            &url,
            self.client.clone(),
            self.key.clone(),
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrostack_store::SqliteStore;
    use std::time::Duration;

    fn peers(dir: &std::path::Path) -> (SqliteStore, StorePeers) {
        let store = SqliteStore::open(&dir.join("db")).unwrap();
        let p = StorePeers::new(
            Arc::new(store.clone()),
            "me",
            reqwest::Client::new(),
            "k".into(),
        );
        (store, p)
    }

    #[test]
    fn a_live_peer_with_an_address_gives_its_backend_with_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let (store, p) = peers(dir.path());
        store
            .register_controller("other", "o-1", "ctl-b", Duration::from_secs(60))
            .unwrap();
        // Not said where it listens yet: a clear refusal, not a guess.
        assert_eq!(
            p.backend_at("ctl-b", "local").err(),
            Some(PeerError::NoAddress("ctl-b".into()))
        );
        store
            .set_controller_peer("other", "o-1", "https://10.0.0.3:8779", "/b/volumes")
            .unwrap();
        let b = p.backend_at("ctl-b", "local").unwrap().unwrap();
        assert_eq!((b.host(), b.backend_name()), ("ctl-b", "local"));
        assert_eq!(
            b.connection("v"),
            ferrostack_host_contract::block::Connection::File {
                path: "/b/volumes/v".into(),
                format: "qcow2".into()
            }
        );
    }

    #[test]
    fn a_peer_whose_lease_ran_out_is_down_and_unknown_hosts_are_nobodys() {
        let dir = tempfile::tempdir().unwrap();
        let (store, p) = peers(dir.path());
        store
            .register_controller("other", "o-1", "ctl-b", Duration::from_secs(60))
            .unwrap();
        store
            .set_controller_peer("other", "o-1", "https://10.0.0.3:8779", "/b")
            .unwrap();
        store.retire_controller("other", "o-1").unwrap();
        assert_eq!(
            p.backend_at("ctl-b", "local").err(),
            Some(PeerError::Down("ctl-b".into()))
        );
        assert!(p.backend_at("elsewhere", "local").unwrap().is_none());
        // This controller's own row is never a peer.
        store
            .register_controller("me", "m-1", "ctl-a", Duration::from_secs(60))
            .unwrap();
        assert!(p.backend_at("ctl-a", "local").unwrap().is_none());
    }
}
