//! Several controllers bootstrapping one database at the same moment (as
//! three controllers started together on one PostgreSQL do) leave one
//! cloud: one of each built-in role, project and service, three
//! endpoints per service, and the admin password the first one set.
//! Each "controller" here is an `Identity` on its own store handle of one
//! SQLite file, so their reads and writes interleave as separate
//! processes' would.

use ferrostack_identity::bootstrap::{BootstrapSpec, CatalogEntry, DEFAULT_DOMAIN_ID};
use ferrostack_identity::key_store::KeySource;
use ferrostack_identity::{password, Identity, IdentityConfig};
use ferrostack_store::identity::{IdentityStore, ListFilter};
use ferrostack_store::SqliteStore;
use std::sync::{Arc, Barrier};

const CONTROLLERS: usize = 4;

fn spec(password: Option<&str>) -> BootstrapSpec {
    let entry = |t: &str, n: &str, port: u16| CatalogEntry {
        service_type: t.into(),
        name: n.into(),
        url: format!("http://lb.example:{port}"),
    };
    BootstrapSpec {
        admin_password: password.map(str::to_string),
        catalog: vec![
            entry("identity", "keystone", 5000),
            entry("compute", "nova", 8774),
            entry("image", "glance", 9292),
        ],
    }
}

fn controller(dir: &std::path::Path) -> Arc<Identity> {
    let store = SqliteStore::open(&dir.join("ferrostack.db")).expect("store");
    Arc::new(
        Identity::new(
            Arc::new(store),
            // One master key for all: they are one cloud's controllers.
            KeySource::in_data_dir(dir).expect("keys"),
            IdentityConfig {
                token_ttl_secs: 3600,
                public_url: "http://lb.example:5000".into(),
                security: Default::default(),
            },
        )
        .expect("identity"),
    )
}

#[test]
fn controllers_bootstrapping_at_once_make_one_cloud_and_a_later_one_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let controllers: Vec<_> = (0..CONTROLLERS).map(|_| controller(dir.path())).collect();
    let barrier = Arc::new(Barrier::new(CONTROLLERS));
    let threads: Vec<_> = controllers
        .iter()
        .map(|c| {
            let (c, barrier) = (c.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                c.bootstrap(&spec(None)).expect("bootstrap")
            })
        })
        .collect();
    let outcomes: Vec<_> = threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    let generated: Vec<_> = outcomes
        .iter()
        .filter_map(|o| o.generated_admin_password.clone())
        .collect();
    assert_eq!(generated.len(), 1, "exactly one controller made the admin");

    let store = controllers[0].store.clone();
    let check = |store: &Arc<dyn IdentityStore>| {
        for role in ["admin", "manager", "member", "reader", "service"] {
            let found = store
                .list_roles(&ListFilter {
                    name: Some(role.into()),
                    ..Default::default()
                })
                .expect("roles");
            assert_eq!(found.len(), 1, "role {role}");
        }
        assert_eq!(
            store
                .list_projects(&ListFilter::default())
                .expect("projects")
                .len(),
            2
        );
        let services = store
            .list_services(&ListFilter::default())
            .expect("services");
        assert_eq!(services.len(), 3, "{services:?}");
        assert_eq!(store.list_endpoints().expect("endpoints").len(), 9);
    };
    check(&store);
    let admin = store
        .get_user_by_name(DEFAULT_DOMAIN_ID, "admin")
        .expect("admin");
    let hash = admin.password_hash.clone().expect("hash");
    assert!(password::verify(&generated[0], &hash));

    // A controller joining later, without a password or with the same
    // one, leaves the password (and everything else) as it was.
    let late = controller(dir.path());
    let outcome = late.bootstrap(&spec(None)).expect("late bootstrap");
    assert!(outcome.generated_admin_password.is_none());
    late.bootstrap(&spec(Some(&generated[0])))
        .expect("late bootstrap with the password");
    let again = store
        .get_user_by_name(DEFAULT_DOMAIN_ID, "admin")
        .expect("admin");
    assert_eq!(again.password_hash.as_deref(), Some(hash.as_str()));
    check(&store);
}
