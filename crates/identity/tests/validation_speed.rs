//! How fast `validate_token` answers, in-process (no HTTP): a cached
//! token (the hot path every API call pays) and first validations (open
//! the token, rebuild the context). Ignored: a measurement, not a test;
//! run with `cargo test --release -p ferrostack-identity --test
//! validation_speed -- --ignored --nocapture`.

#![allow(clippy::unwrap_used)]

use ferrostack_identity::bootstrap::{BootstrapSpec, DEFAULT_DOMAIN_ID};
use ferrostack_identity::token::{methods, TokenScope};
use ferrostack_identity::{Identity, IdentityConfig};
use ferrostack_store::identity::ListFilter;
use ferrostack_store::SqliteStore;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrostack_identity::key_store::KeySource;

#[test]
#[ignore]
fn validation_speed() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("ferrostack.db")).unwrap();
    let id = Identity::new(
        Arc::new(store),
        KeySource::in_data_dir(dir.path()).unwrap(),
        IdentityConfig {
            token_ttl_secs: 3600,
            public_url: "http://127.0.0.1:5000".into(),
            security: Default::default(),
        },
    )
    .unwrap();
    id.bootstrap(&BootstrapSpec {
        admin_password: Some("admin-secret-Ferro1".into()),
        catalog: vec![],
    })
    .unwrap();
    let admin = id
        .store
        .get_user_by_name(DEFAULT_DOMAIN_ID, "admin")
        .unwrap()
        .id;
    let project = id
        .store
        .list_projects(&ListFilter {
            name: Some("admin".into()),
            ..Default::default()
        })
        .unwrap()[0]
        .id
        .clone();
    let seal = || {
        id.seal(&id.new_payload(
            &admin,
            methods::PASSWORD,
            TokenScope::Project(project.clone()),
        ))
        .unwrap()
    };
    for round in 0..3 {
        let token = seal();
        let window = Duration::from_secs(2);
        let start = Instant::now();
        let mut hits = 0u64;
        while start.elapsed() < window {
            for _ in 0..1000 {
                id.validate_token(&token).unwrap();
            }
            hits += 1000;
        }
        let hit_ns = start.elapsed().as_nanos() as f64 / hits as f64;
        let tokens: Vec<String> = (0..20_000).map(|_| seal()).collect();
        let start = Instant::now();
        for t in &tokens {
            id.validate_token(t).unwrap();
        }
        let miss_ns = start.elapsed().as_nanos() as f64 / tokens.len() as f64;
        println!("round {round}: cached validation {hit_ns:.0} ns ({:.0}/s), first validation {miss_ns:.0} ns ({:.0}/s)",
            1e9 / hit_ns, 1e9 / miss_ns);
    }
}
