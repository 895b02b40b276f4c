//! The snapshot upload of [`RemoteControlPlane::report`] against a mock
//! controller: uploaded before the report, the local file removed after
//! it; a refused upload reported as `snapshot_error`.

#![allow(clippy::unwrap_used)]

use super::*;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::{post, put};
use axum::{Json, Router};

#[derive(Default)]
struct Seen {
    /// (image id, bytes) of each upload.
    uploads: Vec<(String, Vec<u8>)>,
    /// Each report, with how many uploads had arrived before it.
    reports: Vec<(usize, Vec<ObservedInstance>)>,
}

type Shared = Arc<Mutex<Seen>>;

/// A mock controller on TLS: its URL, what it saw, and a control plane
/// pinned to its certificate.
async fn mock(upload_status: StatusCode) -> (RemoteControlPlane, Shared) {
    let (url, pin, seen) = mock_server(upload_status).await;
    let plane = RemoteControlPlane::new(&url, "t", "h1", pin).unwrap();
    (plane, seen)
}

/// The mock controller alone: its URL, its certificate, what it saw.
async fn mock_server(upload_status: StatusCode) -> (String, tls::Fingerprint, Shared) {
    let seen: Shared = Arc::default();
    let app = Router::new()
        .route(
            "/internal/host/v1/snapshots/{id}",
            put(
                move |State(s): State<Shared>,
                      UrlPath(id): UrlPath<String>,
                      body: axum::body::Bytes| async move {
                    if upload_status.is_success() {
                        s.lock().unwrap().uploads.push((id, body.to_vec()));
                    }
                    upload_status
                },
            ),
        )
        .route(
            "/internal/host/v1/hosts/{host}/observed",
            post(
                |State(s): State<Shared>, Json(o): Json<Vec<ObservedInstance>>| async move {
                    let mut s = s.lock().unwrap();
                    let n = s.uploads.len();
                    s.reports.push((n, o));
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state(seen.clone());
    let id = tls::TlsIdentity::generate("mock", &["127.0.0.1".into()])
        .unwrap()
        .0;
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", tcp.local_addr().unwrap());
    let listener = id.listener(tcp).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, id.fingerprint(), seen)
}

fn observed(id: Uuid, last_snapshot: &str) -> ObservedInstance {
    ObservedInstance {
        id,
        power_state: Some(ferrostack_hypervisor::PowerState::Running),
        task: TaskOutcome::Idle,
        fault: None,
        observed_generation: 1,
        pid: None,
        last_reboot: None,
        orphan: false,
        last_snapshot: Some(last_snapshot.into()),
        snapshot_error: None,
        last_rebuild: None,
        resize_backup: false,
        size: None,
        nics: vec![],
        volumes: Vec::new(),
    }
}

#[tokio::test]
async fn a_snapshot_is_uploaded_before_its_report_and_then_removed() {
    let (plane, seen) = mock(StatusCode::NO_CONTENT).await;
    let dir = tempfile::tempdir().unwrap();
    let image = Uuid::new_v4().to_string();
    let file = dir.path().join(format!("{image}.qcow2"));
    std::fs::write(&file, b"snapshot bytes").unwrap();
    let plane = plane.with_snapshot_dir(dir.path());
    plane.book().images.insert("req-1".into(), image.clone());
    let id = Uuid::new_v4();
    plane
        .report("h1", vec![observed(id, "req-1")])
        .await
        .unwrap();
    {
        let s = seen.lock().unwrap();
        assert_eq!(s.uploads, vec![(image.clone(), b"snapshot bytes".to_vec())]);
        assert_eq!(s.reports.len(), 1);
        assert_eq!(s.reports[0].0, 1, "uploaded before the report");
        assert_eq!(s.reports[0].1[0].snapshot_error, None);
    }
    assert!(!file.exists(), "the local copy is removed");
    // Reported again (a resync): not uploaded again.
    plane
        .report("h1", vec![observed(id, "req-1")])
        .await
        .unwrap();
    assert_eq!(seen.lock().unwrap().uploads.len(), 1);
}

#[tokio::test]
async fn a_refused_upload_is_reported_as_the_snapshot_error() {
    let (plane, seen) = mock(StatusCode::INSUFFICIENT_STORAGE).await;
    let dir = tempfile::tempdir().unwrap();
    let image = Uuid::new_v4().to_string();
    std::fs::write(dir.path().join(format!("{image}.qcow2")), b"x").unwrap();
    let plane = plane.with_snapshot_dir(dir.path());
    plane.book().images.insert("req-1".into(), image);
    let unknown = observed(Uuid::new_v4(), "req-unknown");
    plane
        .report("h1", vec![observed(Uuid::new_v4(), "req-1"), unknown])
        .await
        .unwrap();
    let s = seen.lock().unwrap();
    let report = &s.reports[0].1;
    let e = report[0].snapshot_error.as_deref().unwrap();
    assert!(e.contains("507"), "{e}");
    let e = report[1].snapshot_error.as_deref().unwrap();
    assert!(e.contains("does not know"), "{e}");
}

#[test]
fn bad_settings_are_refused_and_the_token_is_not_shown() {
    let pin = tls::Fingerprint::of(b"cert");
    assert!(RemoteControlPlane::new("https://c:8779", "t", "a/b", pin).is_err());
    assert!(RemoteControlPlane::new("c:8779", "t", "h", pin).is_err());
    assert!(RemoteControlPlane::new("https://a:8779,http://b:8779", "t", "h", pin).is_err());
    assert!(RemoteControlPlane::new(" , ", "t", "h", pin).is_err());
    let e = RemoteControlPlane::new("http://c:8779", "t", "h", pin).unwrap_err();
    assert!(e.to_string().contains("https://"), "{e}");
    let p = RemoteControlPlane::new("https://c:8779/", "sekrit", "h", pin).unwrap();
    assert!(!format!("{p:?}").contains("sekrit"));
    assert_eq!(p.url("/x"), "https://c:8779/internal/host/v1/x");
}

#[tokio::test]
async fn an_unreachable_controller_moves_the_agent_to_the_next_and_an_error_answer_does_not() {
    let (url, pin, seen) = mock_server(StatusCode::NO_CONTENT).await;
    // A port nobody listens on: bound, then closed.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("https://{}", l.local_addr().unwrap())
    };
    let plane = RemoteControlPlane::new(&format!("{dead}, {url}/"), "t", "h1", pin).unwrap();
    let id = Uuid::new_v4();
    let first = plane.report("h1", vec![observed(id, "none")]).await;
    assert!(first.is_err(), "the first controller is down");
    assert!(seen.lock().unwrap().reports.is_empty());
    plane
        .report("h1", vec![observed(id, "none")])
        .await
        .expect("the retry reaches the second controller");
    assert_eq!(seen.lock().unwrap().reports.len(), 1);
    assert!(plane.url("/x").starts_with(&url));

    // An answer, even an error, comes from a live controller: no move.
    let (url_b, pin_b, _) = mock_server(StatusCode::INSUFFICIENT_STORAGE).await;
    let plane = RemoteControlPlane::new(&format!("{url_b},{dead}"), "t", "h1", pin_b).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("img.qcow2"), b"x").unwrap();
    let plane = plane.with_snapshot_dir(dir.path());
    plane.book().images.insert("req-1".into(), "img".into());
    plane.report("h1", vec![observed(id, "req-1")]).await.ok();
    assert!(plane.url("/x").starts_with(&url_b), "{}", plane.url("/x"));
}
