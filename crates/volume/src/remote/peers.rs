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
