//! Volume work goes to the controller that holds the data
//! (`ferrostack_volume::remote`): this controller tells the others where
//! it listens, serves their calls to its local backend on the host API
//! listener, and reaches theirs through the same listener on their side.
//!
//! Trust: every controller of a cloud serves the host API certificate
//! copied from the first (README "Several controllers"), so the client
//! pins that one certificate; the bearer is derived from the master key,
//! which only controllers hold. A single controller runs the same code
//! and never finds a peer.

use crate::controller::Membership;
use anyhow::Context;
use ferrostack_host_contract::tls::{self, TlsIdentity};
use ferrostack_store::controller::ControllerStore;
use ferrostack_store::SqliteStore;
use ferrostack_volume::remote::peers::StorePeers;
use ferrostack_volume::remote::serve::{router, PeerService};
use ferrostack_volume::VolumeState;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How long a peer call may take: a create from an image or a clone is a
/// link and an overlay, an extend one `qemu-img resize`.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// What [`start`] needs.
pub struct PeerSetup<'a> {
    /// The store, with this controller registered.
    pub store: &'a SqliteStore,
    /// This controller's registration.
    pub membership: &'a Membership,
    /// The volume service, to reach the others' backends through.
    pub volume: &'a Arc<VolumeState>,
    /// The host API's TLS identity (the cloud's, shared).
    pub tls: &'a TlsIdentity,
    /// The peer key, derived from the master key.
    pub key: String,
    /// Where the others reach this controller's host API listener.
    pub url: String,
    /// This controller's local backend's volume files.
    pub volume_dir: &'a Path,
}

/// Register where peers reach this controller, give the volume service
/// the others' backends, and return the peer endpoint's routes (to serve
/// on the host API listener).
pub async fn start(s: PeerSetup<'_>) -> anyhow::Result<axum::Router> {
    let key: Arc<str> = s.key.into();
    let (store, id, inc, url) = (
        s.store.clone(),
        s.membership.id.clone(),
        s.membership.incarnation.clone(),
        s.url.clone(),
    );
    let dir = s.volume_dir.to_string_lossy().into_owned();
    tokio::task::spawn_blocking(move || store.set_controller_peer(&id, &inc, &url, &dir))
        .await?
        .context("cannot record this controller's peer address")?;
    tracing::info!(url = %s.url, "volume calls of other controllers served here");
    let builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(CALL_TIMEOUT);
    let client = tls::pinned_client(builder, s.tls.fingerprint(), tls::PEER_MISMATCH)
        .context("cannot build the client for peer controllers")?;
    s.volume.set_peers(Arc::new(StorePeers::new(
        Arc::new(s.store.clone()),
        &s.membership.id,
        client,
        key.clone(),
    )));
    Ok(router(PeerService {
        backends: s.volume.backends.clone(),
        images: s.volume.images.clone(),
        key,
    }))
}

/// The host-API URL peers reach this controller at: `--controller-address`
/// when given, else the bind address when it is a specific one, else this
/// host's address.
pub fn peer_url(given: Option<&str>, bind: std::net::IpAddr, port: u16) -> String {
    let host = match given {
        Some(a) => a.to_string(),
        None => crate::paths::default_public_host(bind),
    };
    let host = match host.parse::<std::net::Ipv6Addr>() {
        Ok(v6) => format!("[{v6}]"),
        Err(_) => host,
    };
    format!("https://{host}:{port}")
}
