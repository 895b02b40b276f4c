//! Tests of the SQLite identity store's rules: uniqueness, hierarchy, cascades.

use super::*;
use serde_json::Map;

fn store() -> (crate::testing::Keep, SqliteStore) {
    crate::testing::store()
}

fn domain(s: &SqliteStore) {
    s.create_domain(&Domain {
        id: "default".into(),
        name: "Default".into(),
        description: String::new(),
        enabled: true,
        tags: vec![],
        extra: Map::new(),
    })
    .unwrap();
}

fn project(id: &str, name: &str, parent: Option<&str>) -> Project {
    Project {
        id: id.into(),
        name: name.into(),
        domain_id: "default".into(),
        parent_id: parent.map(Into::into),
        description: String::new(),
        enabled: true,
        tags: vec![],
        extra: Map::new(),
    }
}

#[test]
fn duplicate_project_names_in_a_domain_conflict() {
    let (_d, s) = store();
    domain(&s);
    s.create_project(&project("p1", "web", None)).unwrap();
    let err = s.create_project(&project("p2", "web", None)).unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
}

#[test]
fn a_project_with_children_cannot_be_deleted() {
    let (_d, s) = store();
    domain(&s);
    s.create_project(&project("p1", "parent", None)).unwrap();
    s.create_project(&project("p2", "child", Some("p1")))
        .unwrap();
    assert!(matches!(
        s.delete_project("p1"),
        Err(StoreError::Invalid(_))
    ));
    s.delete_project("p2").unwrap();
    s.delete_project("p1").unwrap();
}

#[test]
fn deleting_a_project_removes_its_assignments_and_credentials() {
    let (_d, s) = store();
    domain(&s);
    s.create_project(&project("p1", "web", None)).unwrap();
    s.create_user(&User {
        id: "u1".into(),
        name: "bob".into(),
        domain_id: "default".into(),
        enabled: true,
        password_hash: None,
        default_project_id: None,
        description: String::new(),
        email: None,
        extra: Map::new(),
        password_changed_at: None,
    })
    .unwrap();
    s.create_role(&Role {
        id: "r1".into(),
        name: "member".into(),
        domain_id: None,
        description: String::new(),
        extra: Map::new(),
    })
    .unwrap();
    s.grant(&Assignment {
        actor: Actor::User("u1".into()),
        target: Target::Project("p1".into()),
        role_id: "r1".into(),
        inherited: false,
    })
    .unwrap();
    s.create_app_credential(&ApplicationCredential {
        id: "c1".into(),
        name: "ci".into(),
        user_id: "u1".into(),
        project_id: "p1".into(),
        secret_hash: "x".into(),
        description: String::new(),
        expires_at: None,
        unrestricted: false,
        role_ids: vec!["r1".into()],
    })
    .unwrap();
    s.delete_project("p1").unwrap();
    assert!(s
        .list_assignments(&AssignmentFilter::default())
        .unwrap()
        .is_empty());
    assert!(s.list_app_credentials("u1").unwrap().is_empty());
}
