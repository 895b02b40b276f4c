//! The pinning verifier, directly and over real connections, and the
//! kept certificate.

#![allow(clippy::unwrap_used)]

use super::*;
use axum::routing::get;
use std::sync::atomic::{AtomicUsize, Ordering};

fn identity() -> TlsIdentity {
    TlsIdentity::generate("test", &["127.0.0.1".into(), "localhost".into()])
        .unwrap()
        .0
}

#[test]
fn the_verifier_accepts_the_pinned_certificate_only() {
    let id = identity();
    let other = identity();
    let name = ServerName::try_from("ignored.example").unwrap();
    let v = PinnedCert::new(id.fingerprint(), CONTROLLER_MISMATCH);
    assert!(v
        .verify_server_cert(&id.cert, &[], &name, &[], UnixTime::now())
        .is_ok());
    let e = v
        .verify_server_cert(
            &other.cert,
            std::slice::from_ref(&id.cert),
            &name,
            &[],
            UnixTime::now(),
        )
        .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains(CONTROLLER_MISMATCH), "{msg}");
    assert!(msg.contains(&other.fingerprint().to_string()), "{msg}");
    assert!(!v.supported_verify_schemes().is_empty());
}

#[test]
fn fingerprints_parse_in_the_usual_spellings() {
    let fp = Fingerprint::of(b"x");
    let s = fp.to_string();
    assert!(s.starts_with("sha256:") && s.len() == 7 + 64, "{s}");
    assert_eq!(Fingerprint::parse(&s).unwrap(), fp);
    assert_eq!(Fingerprint::parse(&s[7..].to_uppercase()).unwrap(), fp);
    let colons: Vec<String> = s.as_bytes()[7..]
        .chunks(2)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    assert_eq!(Fingerprint::parse(&colons.join(":")).unwrap(), fp);
    assert!(Fingerprint::parse("sha256:abcd").is_err());
    assert!(Fingerprint::parse("").is_err());
    let json = serde_json::to_string(&fp).unwrap();
    assert_eq!(serde_json::from_str::<Fingerprint>(&json).unwrap(), fp);
}

#[test]
fn a_kept_certificate_is_reused_and_its_key_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let tls = dir.path().join("tls");
    let names = [
        "localhost".to_string(),
        "[::1]".into(),
        "".into(),
        "a b".into(),
    ];
    let first = TlsIdentity::load_or_create(&tls, "t", &names).unwrap();
    let again = TlsIdentity::load_or_create(&tls, "t", &names).unwrap();
    assert_eq!(first.fingerprint(), again.fingerprint());
    let mode = |p: &str| std::fs::metadata(tls.join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("key.pem"), 0o600);
    assert_eq!(mode("."), 0o700);
    std::fs::remove_file(tls.join("cert.pem")).unwrap();
    let e = TlsIdentity::load_or_create(&tls, "t", &names).unwrap_err();
    assert!(e.to_string().contains("key.pem"), "{e}");
    assert!(!format!("{first:?}").contains("PRIVATE"));
}

/// Serves a counter on TLS with `id`; returns the URL and the count of
/// requests that reached the handler.
async fn serve(id: &TlsIdentity) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = axum::Router::new().route(
        "/",
        get(move || async move {
            h.fetch_add(1, Ordering::SeqCst);
            "hello"
        }),
    );
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let listener = id.listener(tcp).unwrap();
    let url = format!(
        "https://{}",
        axum::serve::Listener::local_addr(&listener).unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hits)
}

#[tokio::test]
async fn a_pinned_client_talks_to_its_server_and_to_no_other() {
    let id = identity();
    let (url, hits) = serve(&id).await;
    let good = pinned_client(reqwest::Client::builder(), id.fingerprint(), AGENT_MISMATCH).unwrap();
    let r = good.get(&url).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "hello");
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    let wrong = pinned_client(
        reqwest::Client::builder(),
        identity().fingerprint(),
        AGENT_MISMATCH,
    )
    .unwrap();
    let e = wrong.get(&url).send().await.unwrap_err();
    let msg = crate::wire::error_chain(&e);
    assert!(msg.contains(AGENT_MISMATCH), "{msg}");
    assert_eq!(hits.load(Ordering::SeqCst), 1, "no request got through");

    let plain = url.replacen("https://", "http://", 1);
    assert!(good.get(&plain).send().await.is_err(), "https only");
    assert!(reqwest::Client::new().get(&plain).send().await.is_err());
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    // The server still serves after the failed handshakes.
    assert!(good.get(&url).send().await.unwrap().status().is_success());
}
