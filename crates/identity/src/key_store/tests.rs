use super::*;
use crate::token::{self, methods, TokenPayload, TokenScope};
use ferrostack_store::SqliteStore;

fn setup() -> (tempfile::TempDir, SqliteStore, SharedKeys) {
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = SqliteStore::open(&d.path().join("db")).unwrap_or_else(|e| panic!("{e}"));
    let master =
        MasterKey::load_or_create(&d.path().join("master.key")).unwrap_or_else(|e| panic!("{e}"));
    let keys = SharedKeys::new(Arc::new(store.clone()), master);
    (d, store, keys)
}

fn payload() -> TokenPayload {
    TokenPayload {
        methods: methods::PASSWORD,
        user_id: "u1".into(),
        scope: TokenScope::Unscoped,
        issued_at: 1,
        expires_at: i64::MAX,
        audit_id: "a".into(),
        parent_audit_id: None,
        app_cred_id: None,
        trust_id: None,
    }
}

#[test]
fn the_master_key_file_is_created_private_and_read_back() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = d.path().join("master.key");
    let a = MasterKey::load_or_create(&path).unwrap_or_else(|e| panic!("{e}"));
    let mode = std::fs::metadata(&path)
        .unwrap_or_else(|e| panic!("{e}"))
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(std::fs::read(&path).unwrap_or_default().len(), 32);
    let b = MasterKey::load_or_create(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.key[..], b.key[..]);
    assert!(!format!("{a:?}").contains(&format!("{:?}", &a.key[..4])));
    std::fs::write(&path, b"short").unwrap_or_else(|e| panic!("{e}"));
    let err = MasterKey::load(&path).unwrap_err().to_string();
    assert!(err.contains("master.key"), "{err}");
}

#[test]
fn keys_round_trip_sealed_and_the_column_never_holds_them() {
    let (_d, store, keys) = setup();
    assert_eq!(
        keys.ensure(None).unwrap_or_else(|e| panic!("{e}")),
        Ensured::Created
    );
    assert_eq!(
        keys.ensure(None).unwrap_or_else(|e| panic!("{e}")),
        Ensured::Present
    );
    let (token_keys, credential_keys) = keys.load().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        token_keys.keys.keys().copied().collect::<Vec<_>>(),
        vec![0, 1]
    );
    assert_eq!(
        credential_keys.keys.keys().copied().collect::<Vec<_>>(),
        vec![0, 1]
    );
    let rows = store.list_token_keys().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rows.len(), 4);
    for row in &rows {
        let raw = URL_SAFE_NO_PAD
            .decode(row.sealed.trim_start_matches("1:"))
            .unwrap_or_default();
        for set in [&token_keys, &credential_keys] {
            for k in set.keys.values() {
                assert!(!raw.windows(32).any(|w| w == &k[..]), "a key in the clear");
                assert!(!row.sealed.contains(&URL_SAFE_NO_PAD.encode(&k[..])));
            }
        }
    }
    // The loaded keys seal and open tokens, also after a "restart".
    let t = token::seal(&token_keys, &payload()).unwrap_or_else(|e| panic!("{e}"));
    let (again, _) = keys.load().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        token::open(&again, &t).unwrap_or_else(|e| panic!("{e}")),
        payload()
    );
}

#[test]
fn a_wrong_master_key_is_refused_naming_its_file() {
    let (d, store, keys) = setup();
    keys.ensure(None).unwrap_or_else(|e| panic!("{e}"));
    let other_path = d.path().join("other.key");
    let other = MasterKey::load_or_create(&other_path).unwrap_or_else(|e| panic!("{e}"));
    let wrong = SharedKeys::new(Arc::new(store), other);
    for err in [
        wrong.load().err(),
        wrong.ensure(None).err(),
        wrong.rotate(3).err(),
    ] {
        let err = err.unwrap_or_else(|| panic!("the wrong master key was accepted"));
        assert!(matches!(err, KeyStoreError::WrongMasterKey(_)), "{err}");
        assert!(
            err.to_string().contains(&*other_path.to_string_lossy()),
            "{err}"
        );
    }
}

#[test]
fn a_key_moved_to_another_number_does_not_open() {
    let (_d, store, keys) = setup();
    keys.ensure(None).unwrap_or_else(|e| panic!("{e}"));
    store
        .change_token_keys(&mut |now| {
            let mut next = now.to_vec();
            let mut moved = next
                .iter()
                .find(|k| k.repository == TOKEN && k.number == 1)
                .cloned()
                .unwrap_or_else(|| panic!("no key 1"));
            moved.number = 7;
            next.push(moved);
            Ok(Some(next))
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(keys.load().is_err());
}

#[test]
fn an_old_key_directory_is_imported_once_and_its_tokens_stay_valid() {
    let (d, _store, keys) = setup();
    let dir = d.path().join("token-keys");
    let repo = KeyRepository::new(&dir, 3);
    repo.ensure_initialized().unwrap_or_else(|e| panic!("{e}"));
    repo.rotate().unwrap_or_else(|e| panic!("{e}"));
    let cred_repo = KeyRepository::new(legacy_credential_dir(&dir), 3);
    cred_repo
        .ensure_initialized()
        .unwrap_or_else(|e| panic!("{e}"));
    let old = repo.load().unwrap_or_else(|e| panic!("{e}"));
    let old_creds = cred_repo.load().unwrap_or_else(|e| panic!("{e}"));
    let before = token::seal(&old, &payload()).unwrap_or_else(|e| panic!("{e}"));
    let blob =
        crate::credentials::seal(&old_creds, "c1", "secret").unwrap_or_else(|e| panic!("{e}"));

    assert_eq!(
        keys.ensure(Some(&dir)).unwrap_or_else(|e| panic!("{e}")),
        Ensured::Imported
    );
    assert!(!dir.exists() && d.path().join("token-keys.imported").exists());
    assert!(d.path().join("credential-keys.imported").exists());
    let (token_keys, credential_keys) = keys.load().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        token_keys.keys.keys().copied().collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(
        token::open(&token_keys, &before).unwrap_or_else(|e| panic!("{e}")),
        payload()
    );
    assert_eq!(
        crate::credentials::open(&credential_keys, "c1", &blob).unwrap_or_else(|e| panic!("{e}")),
        "secret"
    );
    // A second start imports nothing.
    assert_eq!(
        keys.ensure(Some(&dir)).unwrap_or_else(|e| panic!("{e}")),
        Ensured::Present
    );
}

#[test]
fn rotation_promotes_the_staged_key_and_retires_the_oldest() {
    let (_d, _store, keys) = setup();
    keys.ensure(None).unwrap_or_else(|e| panic!("{e}"));
    let (before, creds) = keys.load().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(keys.rotate(3).unwrap_or_else(|e| panic!("{e}")), 2);
    let (after, creds_after) = keys.load().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        after.keys.keys().copied().collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(
        after.keys[&2][..],
        before.keys[&0][..],
        "the staged key became primary"
    );
    assert_ne!(after.keys[&0][..], before.keys[&0][..]);
    assert_eq!(
        creds.keys[&1][..],
        creds_after.keys[&1][..],
        "credential keys unchanged"
    );
    keys.rotate(3).unwrap_or_else(|e| panic!("{e}"));
    let (after, _) = keys.load().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        after.keys.keys().copied().collect::<Vec<_>>(),
        vec![0, 2, 3]
    );
}

#[test]
fn racing_rotations_each_take_effect_once() {
    let (_d, _store, keys) = setup();
    keys.ensure(None).unwrap_or_else(|e| panic!("{e}"));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let k = keys.clone();
            std::thread::spawn(move || k.rotate(5).unwrap_or_else(|e| panic!("{e}")))
        })
        .collect();
    let mut primaries: Vec<u32> = threads.into_iter().map(|t| t.join().unwrap_or(0)).collect();
    primaries.sort_unstable();
    assert_eq!(primaries, vec![2, 3, 4, 5]);
    let (after, _) = keys.load().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        after.keys.keys().copied().collect::<Vec<_>>(),
        vec![0, 2, 3, 4, 5]
    );
}

#[test]
fn a_derived_secret_is_shared_by_copies_of_the_key_only() {
    let dir = tempfile::tempdir().unwrap();
    let a = MasterKey::load_or_create(&dir.path().join("a.key")).unwrap();
    std::fs::copy(dir.path().join("a.key"), dir.path().join("copy.key")).unwrap();
    let copy = MasterKey::load(&dir.path().join("copy.key")).unwrap();
    let other = MasterKey::load_or_create(&dir.path().join("b.key")).unwrap();
    let s = a.derive("peer");
    assert_eq!(s.len(), 64);
    assert_eq!(copy.derive("peer"), s);
    assert_ne!(other.derive("peer"), s);
    assert_ne!(a.derive("other purpose"), s);
    // Nothing of the key shows in the secret.
    let raw = hex::encode(std::fs::read(dir.path().join("a.key")).unwrap());
    assert!(!s.contains(&raw[..16]));
}
