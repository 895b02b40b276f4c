//! Identity's caches are keyed on what they derive from: a write elsewhere
//! in the store (a quota change, an agent's report, a catalog change for the
//! token cache) leaves them warm; a write to their own sources empties them.
//!
//! A hit is told from a miss by behaviour, not by peeking inside: a second
//! `SqliteStore` on the same database file plays another controller. Its
//! writes reach the database but move none of the first store's
//! generations, so after one of them a cached answer is stale and a rebuilt
//! one is fresh; which of the two a call returns says whether the cache
//! survived the writes in between.

use ferrostack_identity::key_store::KeySource;
use ferrostack_identity::token::{methods, TokenScope};
use ferrostack_identity::{Identity, IdentityConfig};
use ferrostack_store::identity::{
    Actor, Assignment, Domain, Endpoint, Group, IdentityStore, Project, Region, RevocationEvent,
    Role, Service, Target, User,
};
use ferrostack_store::quota::QuotaStore;
use ferrostack_store::server::{ComputeService, ServerStore};
use ferrostack_store::SqliteStore;
use std::sync::Arc;
use tempfile::TempDir;

struct Fixture {
    identity: Identity,
    /// The store the identity service runs on (moves its generations).
    store: SqliteStore,
    /// Another writer on the same file (moves none of them).
    other: SqliteStore,
    user: User,
    project_id: String,
    token: String,
    audit_id: String,
    _dir: TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ferrostack.db");
    let store = SqliteStore::open(&path).expect("store");
    let other = SqliteStore::open(&path).expect("second store");
    let identity = Identity::new(
        Arc::new(store.clone()),
        KeySource::in_data_dir(dir.path()).expect("keys"),
        IdentityConfig {
            token_ttl_secs: 3600,
            public_url: "http://127.0.0.1:5000".into(),
            security: Default::default(),
        },
    )
    .expect("identity");
    store
        .create_domain(&Domain {
            id: "d".into(),
            name: "D".into(),
            description: String::new(),
            enabled: true,
            tags: vec![],
            extra: Default::default(),
        })
        .expect("store write");
    store
        .create_project(&Project {
            id: "p".into(),
            name: "P".into(),
            domain_id: "d".into(),
            parent_id: None,
            description: String::new(),
            enabled: true,
            tags: vec![],
            extra: Default::default(),
        })
        .expect("store write");
    let user = User {
        id: "u".into(),
        name: "U".into(),
        domain_id: "d".into(),
        enabled: true,
        password_hash: None,
        default_project_id: None,
        description: String::new(),
        email: None,
        extra: Default::default(),
        password_changed_at: None,
        security: Default::default(),
    };
    store.create_user(&user).expect("store write");
    store
        .create_role(&Role {
            id: "member".into(),
            name: "member".into(),
            domain_id: None,
            description: String::new(),
            extra: Default::default(),
        })
        .expect("store write");
    store
        .grant(&Assignment {
            actor: Actor::User("u".into()),
            target: Target::Project("p".into()),
            role_id: "member".into(),
            inherited: false,
        })
        .expect("store write");
    store
        .create_service(&Service {
            id: "compute".into(),
            service_type: "compute".into(),
            name: "nova".into(),
            description: String::new(),
            enabled: true,
            extra: Default::default(),
        })
        .expect("store write");
    let payload = identity.new_payload("u", methods::PASSWORD, TokenScope::Project("p".into()));
    let token = identity.seal(&payload).expect("seal");
    Fixture {
        identity,
        store,
        other,
        user,
        project_id: "p".into(),
        token,
        audit_id: payload.audit_id,
        _dir: dir,
    }
}

impl Fixture {
    fn valid(&self) -> bool {
        self.identity.validate_token(&self.token).is_ok()
    }

    /// Disable the token's user behind the service's back.
    fn disable_user_elsewhere(&self) {
        let mut user = self.user.clone();
        user.enabled = false;
        self.other.update_user(&user).expect("store write");
    }

    /// Writes that feed no identity cache: a quota change and a compute
    /// host's report, as compute traffic makes them.
    fn compute_traffic(&self) {
        let limits = [("cores".to_string(), 8)].into_iter().collect();
        self.store
            .set_limits("compute", &self.project_id, &limits)
            .expect("store write");
        self.store
            .upsert_service(&ComputeService {
                id: 0,
                uuid: "svc".into(),
                host: "h1".into(),
                binary: "nova-compute".into(),
                zone: "nova".into(),
                disabled: false,
                disabled_reason: None,
                forced_down: false,
                capabilities: serde_json::json!({"vcpus": 4}),
                heartbeat_at: 1,
                created_at: 1,
                updated_at: 1,
            })
            .expect("store write");
    }

    /// An identity write no token involves.
    fn create_unrelated_group(&self) {
        let group = Group {
            id: "g".into(),
            name: "G".into(),
            domain_id: "d".into(),
            description: String::new(),
            extra: Default::default(),
        };
        IdentityStore::create_group(&self.store, &group).expect("store write");
    }

    fn endpoint_urls(&self) -> Vec<String> {
        let catalog = self.identity.catalog().expect("catalog");
        catalog[0]["endpoints"]
            .as_array()
            .expect("endpoints")
            .iter()
            .map(|e| e["url"].as_str().expect("url").to_string())
            .collect()
    }
}

#[test]
fn compute_and_catalog_writes_leave_validated_tokens_cached() {
    let f = fixture();
    assert!(f.valid());
    f.disable_user_elsewhere();
    f.compute_traffic();
    f.store
        .create_region(&Region {
            id: "RegionTwo".into(),
            description: String::new(),
            parent_region_id: None,
            extra: Default::default(),
        })
        .expect("store write");
    assert!(
        f.valid(),
        "the cached context survived writes it does not derive from"
    );
}

#[test]
fn an_identity_write_empties_the_token_cache() {
    let f = fixture();
    assert!(f.valid());
    f.disable_user_elsewhere();
    // Any identity record, even one the token does not involve.
    f.create_unrelated_group();
    assert!(!f.valid(), "rebuilt: the user is disabled now");
}

#[test]
fn a_revocation_event_empties_the_token_cache() {
    let f = fixture();
    assert!(f.valid());
    f.disable_user_elsewhere();
    f.identity
        .revoke(RevocationEvent {
            audit_id: Some("some-other-token".into()),
            user_id: None,
            project_id: None,
            issued_before: 0,
        })
        .expect("store write");
    assert!(!f.valid(), "rebuilt: the user is disabled now");
}

#[test]
fn the_revocation_list_is_reread_on_revocation_writes_only() {
    let f = fixture();
    assert!(f.valid());
    // Revoked behind the service's back; an identity write then empties the
    // token cache, but the revocation list is still the one read before.
    f.other
        .add_revocation(&RevocationEvent {
            audit_id: Some(f.audit_id.clone()),
            user_id: None,
            project_id: None,
            issued_before: 0,
        })
        .expect("store write");
    f.store
        .revoke(&Assignment {
            actor: Actor::User("u".into()),
            target: Target::Project("p".into()),
            role_id: "member".into(),
            inherited: false,
        })
        .expect("store write");
    f.store
        .grant(&Assignment {
            actor: Actor::User("u".into()),
            target: Target::Project("p".into()),
            role_id: "member".into(),
            inherited: false,
        })
        .expect("store write");
    f.compute_traffic();
    assert!(
        f.valid(),
        "the revocation list survived non-revocation writes"
    );
    f.identity
        .revoke_user_tokens("someone-else")
        .expect("store write");
    assert!(!f.valid(), "re-read: the token's own revocation is seen");
}

#[test]
fn the_catalog_is_rebuilt_on_catalog_writes_only() {
    let f = fixture();
    assert!(f.endpoint_urls().is_empty());
    f.other
        .create_endpoint(&Endpoint {
            id: "e".into(),
            service_id: "compute".into(),
            interface: "public".into(),
            region_id: None,
            url: "http://compute".into(),
            enabled: true,
            extra: Default::default(),
        })
        .expect("store write");
    f.compute_traffic();
    f.identity
        .revoke_user_tokens("someone-else")
        .expect("store write");
    f.create_unrelated_group();
    assert!(
        f.endpoint_urls().is_empty(),
        "the catalog survived writes it does not derive from"
    );
    f.store
        .create_region(&Region {
            id: "RegionTwo".into(),
            description: String::new(),
            parent_region_id: None,
            extra: Default::default(),
        })
        .expect("store write");
    assert_eq!(
        f.endpoint_urls(),
        ["http://compute"],
        "rebuilt on a catalog write"
    );
}
