//! Two controllers on one PostgreSQL database, as two `Identity`s over two
//! `Db`s: they seal and open tokens and credentials with the same keys, a
//! rotation through one is used by the other within a second (by the
//! generation its listener moves, not by a timer), and a controller with
//! another master key refuses to start.

// Test helpers panic on purpose: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use ferrostack_identity::bootstrap::{BootstrapSpec, DEFAULT_DOMAIN_ID};
use ferrostack_identity::key_store::{KeySource, KeyStoreError, MasterKey};
use ferrostack_identity::token::{key_number, methods, TokenScope};
use ferrostack_identity::{Identity, IdentityConfig};
use ferrostack_store::identity::ListFilter;
use ferrostack_store::{Location, SqliteStore};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn controller(url: &str, master: &Path) -> Result<Identity, KeyStoreError> {
    let store = SqliteStore::open_location(&Location::Postgres(url.to_string())).unwrap();
    Identity::new(
        Arc::new(store),
        KeySource {
            master: MasterKey::load_or_create(master)?,
            legacy_dir: None,
        },
        IdentityConfig {
            token_ttl_secs: 3600,
            public_url: "http://127.0.0.1:5000".into(),
            security: Default::default(),
        },
    )
}

#[test]
fn two_controllers_share_tokens_rotations_and_credentials() {
    let Some(db) = ferrostack_store::testing::postgres::database() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("master.key");
    let a = controller(&db.url(), &master).unwrap();
    let b = controller(&db.url(), &master).unwrap();
    a.bootstrap(&BootstrapSpec {
        admin_password: Some("admin-secret-Ferro1".into()),
        catalog: vec![],
    })
    .unwrap();
    let admin = a
        .store
        .get_user_by_name(DEFAULT_DOMAIN_ID, "admin")
        .unwrap()
        .id;
    let project = a
        .store
        .list_projects(&ListFilter {
            name: Some("admin".into()),
            ..Default::default()
        })
        .unwrap()[0]
        .id
        .clone();
    let payload = || {
        a.new_payload(
            &admin,
            methods::PASSWORD,
            TokenScope::Project(project.clone()),
        )
    };

    let before = a.seal(&payload()).unwrap();
    assert_eq!(b.validate_token(&before).unwrap().user_id, admin);
    let from_b = b.seal(&payload()).unwrap();
    assert!(a.validate_token(&from_b).is_ok());

    // A rotation through A: A seals with the new primary at once, B within
    // a second, and each opens the other's tokens.
    let primary = a.shared_keys().rotate(3).unwrap();
    let after = a.seal(&payload()).unwrap();
    assert_eq!(key_number(&after).ok(), Some(primary));
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let t = b.seal(&payload()).unwrap();
        if key_number(&t).ok() == Some(primary) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "B still seals with key {:?}",
            key_number(&t)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let loads = b.key_loads();
    assert!(b.validate_token(&after).is_ok());
    assert!(
        b.validate_token(&before).is_ok(),
        "one rotation keeps the old key"
    );
    assert_eq!(b.key_loads(), loads, "no forced reload was needed");

    // Credentials sealed by one open on the other.
    let sealed = a.seal_credential_blob("c1", r#"{"secret":"s"}"#).unwrap();
    assert_eq!(
        b.open_credential_blob("c1", &sealed).unwrap(),
        r#"{"secret":"s"}"#
    );

    // A controller with another master key refuses to start, naming it.
    let other = dir.path().join("other.key");
    let err = controller(&db.url(), &other).err().unwrap();
    assert!(matches!(err, KeyStoreError::WrongMasterKey(_)), "{err}");
    assert!(err.to_string().contains(&*other.to_string_lossy()), "{err}");
}

#[test]
fn rotations_racing_on_two_controllers_each_take_effect_once() {
    let Some(db) = ferrostack_store::testing::postgres::database() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("master.key");
    let a = Arc::new(controller(&db.url(), &master).unwrap());
    let b = Arc::new(controller(&db.url(), &master).unwrap());
    let racers: Vec<_> = [a.clone(), b.clone(), a.clone(), b.clone()]
        .into_iter()
        .map(|id| std::thread::spawn(move || id.shared_keys().rotate(5).unwrap()))
        .collect();
    let mut primaries: Vec<u32> = racers.into_iter().map(|t| t.join().unwrap()).collect();
    primaries.sort_unstable();
    assert_eq!(primaries, vec![2, 3, 4, 5]);
    let (token_keys, _) = b.shared_keys().load().unwrap();
    assert_eq!(
        token_keys.keys.keys().copied().collect::<Vec<_>>(),
        vec![0, 2, 3, 4, 5]
    );
}
