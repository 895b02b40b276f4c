//! The remote backend against a real local backend behind a real peer
//! endpoint (plain HTTP on loopback here; the binary serves it over the
//! host API's TLS).

use super::serve::{router, PeerService};
use super::*;
use crate::hooks::NoImages;
use crate::local::LocalBackend;
use std::path::Path;

const KEY: &str = "the-peer-key";

struct Peer {
    _dir: tempfile::TempDir,
    local: Arc<LocalBackend>,
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// A "controller" serving its local backend at a loopback port.
async fn peer() -> Peer {
    let dir = tempfile::tempdir().unwrap();
    let local = Arc::new(LocalBackend::open("local", "ctl-a", dir.path().join("volumes")).unwrap());
    let app = router(PeerService {
        backends: vec![local.clone() as Arc<dyn VolumeBackend>],
        images: Arc::new(NoImages),
        key: KEY.into(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    Peer {
        _dir: dir,
        local,
        url,
        stop: Some(tx),
    }
}

fn remote(p: &Peer, key: &str) -> RemoteBackend {
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(2))
        .build()
        .unwrap();
    RemoteBackend::new(
        "local",
        "ctl-a",
        p.local.volumes_dir(),
        &p.url,
        client,
        key.into(),
    )
}

/// The virtual size in a qcow2 header (bytes 24..32, big-endian).
fn virtual_size(path: &Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    u64::from_be_bytes(bytes[24..32].try_into().unwrap())
}

const GIB: u64 = 1 << 30;
const V1: &str = "11111111-1111-4111-8111-111111111111";
const V2: &str = "22222222-2222-4222-8222-222222222222";
const V3: &str = "33333333-3333-4333-8333-333333333333";
const S1: &str = "44444444-4444-4444-8444-444444444444";
const NOPE: &str = "55555555-5555-4555-8555-555555555555";

#[tokio::test]
async fn calls_act_on_the_peers_files() {
    let p = peer().await;
    let r = remote(&p, KEY);
    r.create_blank(V1, 1).await.unwrap();
    let file = p.local.volume_path(V1);
    assert_eq!(virtual_size(&file), GIB);
    // Idempotent, as the trait promises: a repeated step succeeds.
    r.create_blank(V1, 1).await.unwrap();

    r.extend(V1, 2).await.unwrap();
    assert_eq!(virtual_size(&file), 2 * GIB);

    r.create_snapshot(S1, V1).await.unwrap();
    r.create_from_snapshot(V2, S1, 3).await.unwrap();
    assert_eq!(virtual_size(&p.local.volume_path(V2)), 3 * GIB);
    r.create_from_volume(V3, V1, 2).await.unwrap();
    assert!(p.local.volume_path(V3).exists());

    // What a host opens is the peer's file, as the peer itself says.
    assert_eq!(r.connection(V1), p.local.connection(V1));
    let cap = r.capacity().await.unwrap();
    assert_eq!(cap, p.local.capacity().await.unwrap());

    for v in [V3, V2] {
        r.delete(v).await.unwrap();
    }
    r.delete_snapshot(S1).await.unwrap();
    r.delete(V1).await.unwrap();
    assert!(!file.exists());
    r.delete(V1).await.unwrap();
}

#[tokio::test]
async fn the_peers_errors_come_back_as_they_were() {
    let p = peer().await;
    let r = remote(&p, KEY);
    let e = r.extend(NOPE, 2).await.unwrap_err();
    assert!(matches!(e, BackendError::Missing(_)), "{e:?}");
    r.create_blank(V1, 2).await.unwrap();
    let e = r.extend(V1, 1).await.unwrap_err();
    assert!(matches!(e, BackendError::Invalid(_)), "{e:?}");
}

#[tokio::test]
async fn a_caller_without_the_peer_key_changes_nothing() {
    let p = peer().await;
    let r = remote(&p, "not-the-key");
    assert!(r.create_blank(V1, 1).await.is_err());
    assert!(!p.local.volume_path(V1).exists());
    let no_key = reqwest::Client::new()
        .post(format!("{}{CALL_PATH}", p.url))
        .json(&serde_json::json!({"backend": "local", "op": "create_blank", "volume_id": V2, "size_gib": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_key.status(), reqwest::StatusCode::UNAUTHORIZED);
    assert!(!p.local.volume_path(V2).exists());
}

#[tokio::test]
async fn a_peer_that_is_gone_fails_the_call_at_once() {
    let mut p = peer().await;
    let r = remote(&p, KEY);
    r.create_blank(V1, 1).await.unwrap();
    drop(p.stop.take());
    // The listener closes once the server task sees the signal.
    let started = std::time::Instant::now();
    let mut last = Ok(());
    while started.elapsed() < std::time::Duration::from_secs(5) {
        last = r.extend(V1, 2).await;
        if last.is_err() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let e = last.unwrap_err();
    assert!(
        matches!(&e, BackendError::Failed(m) if m.contains("ctl-a")),
        "{e:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
