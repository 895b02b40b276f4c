//! The new identity tables' rules: credentials go with their user and
//! project, endpoint associations with their project, endpoint or group,
//! and only the OS-EP-FILTER tables move the catalog generation.

use crate::credential::{Credential, CredentialStore};
use crate::endpoint_filter::{EndpointFilterStore, EndpointGroup};
use crate::identity::*;
use crate::policies::{PolicyDoc, PolicyStore};
use crate::{Dataset, SqliteStore, StoreError};
use serde_json::Map;

fn store() -> (crate::testing::Keep, SqliteStore) {
    let (keep, s) = crate::testing::store();
    s.create_domain(&Domain {
        id: "default".into(),
        name: "Default".into(),
        description: String::new(),
        enabled: true,
        tags: vec![],
        extra: Map::new(),
    })
    .unwrap();
    s.create_project(&Project {
        id: "p1".into(),
        name: "p1".into(),
        domain_id: "default".into(),
        parent_id: None,
        description: String::new(),
        enabled: true,
        tags: vec![],
        extra: Map::new(),
    })
    .unwrap();
    s.create_user(&User {
        id: "u1".into(),
        name: "u1".into(),
        domain_id: "default".into(),
        enabled: true,
        password_hash: None,
        default_project_id: None,
        description: String::new(),
        email: None,
        extra: Map::new(),
        password_changed_at: None,
        security: Default::default(),
    })
    .unwrap();
    (keep, s)
}

fn credential(id: &str, project: Option<&str>) -> Credential {
    Credential {
        id: id.into(),
        user_id: "u1".into(),
        project_id: project.map(Into::into),
        kind: "ec2".into(),
        sealed_blob: "sealed".into(),
        created_at: 1,
    }
}

#[test]
fn credentials_conflict_on_id_and_go_with_their_user_and_project() {
    let (_d, s) = store();
    s.create_credential(&credential("c1", Some("p1"))).unwrap();
    s.create_credential(&credential("c2", None)).unwrap();
    let err = s.create_credential(&credential("c1", None)).unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        s.list_credentials(Some("u1"), Some("ec2")).unwrap().len(),
        2
    );
    assert!(s.list_credentials(None, Some("totp")).unwrap().is_empty());
    s.update_credential_blob("c2", "resealed").unwrap();
    assert_eq!(s.get_credential("c2").unwrap().sealed_blob, "resealed");

    let before = s.generation(Dataset::Identity);
    s.delete_project("p1").unwrap();
    assert!(matches!(
        s.get_credential("c1"),
        Err(StoreError::NotFound { .. })
    ));
    s.delete_user("u1").unwrap();
    assert!(s.list_credentials(None, None).unwrap().is_empty());
    assert!(s.generation(Dataset::Identity) > before);
}

#[test]
fn endpoint_associations_go_with_what_they_join_and_move_the_catalog() {
    let (_d, s) = store();
    s.create_service(&Service {
        id: "s1".into(),
        service_type: "compute".into(),
        name: "nova".into(),
        description: String::new(),
        enabled: true,
        extra: Map::new(),
    })
    .unwrap();
    s.create_endpoint(&Endpoint {
        id: "e1".into(),
        service_id: "s1".into(),
        interface: "public".into(),
        region_id: None,
        url: "http://x".into(),
        enabled: true,
        extra: Map::new(),
    })
    .unwrap();
    s.create_endpoint_group(&EndpointGroup {
        id: "g1".into(),
        name: "g".into(),
        description: String::new(),
        filters: Map::new(),
    })
    .unwrap();
    let catalog = s.generation(Dataset::Catalog);
    s.add_project_endpoint("p1", "e1").unwrap();
    s.add_project_endpoint("p1", "e1").unwrap();
    s.add_project_endpoint_group("p1", "g1").unwrap();
    assert!(s.generation(Dataset::Catalog) > catalog);
    assert_eq!(
        s.list_project_endpoints().unwrap(),
        vec![("p1".into(), "e1".into())]
    );

    // Policies are uncached: the catalog stays warm.
    let catalog = s.generation(Dataset::Catalog);
    s.create_policy(&PolicyDoc {
        id: "pol".into(),
        blob: "{}".into(),
        kind: "application/json".into(),
        extra: Map::new(),
    })
    .unwrap();
    assert_eq!(s.generation(Dataset::Catalog), catalog);

    s.delete_endpoint("e1").unwrap();
    assert!(s.list_project_endpoints().unwrap().is_empty());
    assert!(matches!(
        s.remove_project_endpoint("p1", "e1"),
        Err(StoreError::NotFound { .. })
    ));
    s.delete_endpoint_group("g1").unwrap();
    assert!(s.list_project_endpoint_groups().unwrap().is_empty());
}
