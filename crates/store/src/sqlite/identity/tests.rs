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
        security: Default::default(),
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

#[test]
fn deleting_a_domain_takes_its_projects_users_groups_and_grants() {
    let (_d, s) = store();
    domain(&s);
    let other = Domain {
        id: "d2".into(),
        name: "other".into(),
        description: String::new(),
        enabled: false,
        tags: vec![],
        extra: Map::new(),
    };
    s.create_domain(&other).unwrap();
    let in_d2 = |p: Project| Project {
        domain_id: "d2".into(),
        ..p
    };
    s.create_project(&in_d2(project("p1", "top", None)))
        .unwrap();
    s.create_project(&in_d2(project("p2", "child", Some("p1"))))
        .unwrap();
    s.create_project(&project("keep", "keep", None)).unwrap();
    s.create_user(&User {
        id: "u1".into(),
        name: "bob".into(),
        domain_id: "d2".into(),
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
    s.create_group(&Group {
        id: "g1".into(),
        name: "ops".into(),
        domain_id: "d2".into(),
        description: String::new(),
        extra: Map::new(),
    })
    .unwrap();
    s.add_user_to_group("u1", "g1").unwrap();
    for (id, domain_id) in [("r1", None), ("r2", Some("d2".to_string()))] {
        s.create_role(&Role {
            id: id.into(),
            name: id.into(),
            domain_id,
            description: String::new(),
            extra: Map::new(),
        })
        .unwrap();
    }
    for a in [
        (Actor::User("u1".into()), Target::Project("p2".into())),
        (Actor::Group("g1".into()), Target::Project("keep".into())),
        (Actor::User("u1".into()), Target::Domain("d2".into())),
    ] {
        s.grant(&Assignment {
            actor: a.0,
            target: a.1,
            role_id: "r1".into(),
            inherited: false,
        })
        .unwrap();
    }
    s.delete_domain("d2").unwrap();
    assert!(matches!(
        s.get_domain("d2"),
        Err(StoreError::NotFound { .. })
    ));
    for gone in [s.get_project("p1").err(), s.get_project("p2").err()] {
        assert!(matches!(gone, Some(StoreError::NotFound { .. })));
    }
    assert!(s.get_user("u1").is_err());
    assert!(s.get_group("g1").is_err());
    assert!(s.get_role("r2").is_err());
    s.get_role("r1").unwrap();
    s.get_project("keep").unwrap();
    assert!(s
        .list_assignments(&AssignmentFilter::default())
        .unwrap()
        .is_empty());
}

fn bob(s: &SqliteStore) {
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
        security: Default::default(),
    })
    .unwrap();
}

#[test]
fn a_domain_configuration_changes_whole_and_goes_with_its_domain() {
    use crate::domain_config::DomainConfigStore;
    let (_d, s) = store();
    domain(&s);
    assert_eq!(s.get_domain_config("default").unwrap(), None);
    let doc: Map<String, serde_json::Value> =
        serde_json::from_value(serde_json::json!({"ldap": {"url": "ldap://x"}})).unwrap();
    let put = s
        .modify_domain_config("default", &mut |old| {
            assert!(old.is_none());
            Ok(Some(doc.clone()))
        })
        .unwrap();
    assert_eq!(put.as_ref(), Some(&doc));
    // A refused change leaves the document as it was.
    let err = s
        .modify_domain_config("default", &mut |_| Err(StoreError::Invalid("no".into())))
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)));
    assert_eq!(s.get_domain_config("default").unwrap().as_ref(), Some(&doc));
    s.modify_domain_config("default", &mut |_| Ok(Some(doc.clone())))
        .unwrap();
    assert_eq!(
        s.modify_domain_config("default", &mut |_| Ok(None))
            .unwrap(),
        None
    );
    assert_eq!(s.get_domain_config("default").unwrap(), None);
    s.modify_domain_config("default", &mut |_| Ok(Some(doc.clone())))
        .unwrap();
    let mut d = s.get_domain("default").unwrap();
    d.enabled = false;
    s.update_domain(&d).unwrap();
    s.delete_domain("default").unwrap();
    assert_eq!(s.get_domain_config("default").unwrap(), None);
}

#[test]
fn access_rules_are_shared_per_user_and_kept_while_in_use() {
    use crate::access_rule::{AccessRule, AccessRuleStore};
    let (_d, s) = store();
    domain(&s);
    s.create_project(&project("p1", "web", None)).unwrap();
    bob(&s);
    let cred = |id: &str, name: &str| ApplicationCredential {
        id: id.into(),
        name: name.into(),
        user_id: "u1".into(),
        project_id: "p1".into(),
        secret_hash: "x".into(),
        description: String::new(),
        expires_at: None,
        unrestricted: false,
        role_ids: vec![],
    };
    let rule = |id: &str, path: &str| AccessRule {
        id: id.into(),
        user_id: "u1".into(),
        service: "compute".into(),
        method: "GET".into(),
        path: path.into(),
    };
    s.create_app_credential_with_rules(&cred("c1", "one"), &[rule("r1", "/a"), rule("r2", "/b")])
        .unwrap();
    // The same triple under another id is the stored rule.
    s.create_app_credential_with_rules(&cred("c2", "two"), &[rule("r9", "/a")])
        .unwrap();
    assert_eq!(s.list_access_rules("u1").unwrap().len(), 2);
    let of_c2 = s.app_credential_access_rules("c2").unwrap();
    assert_eq!(of_c2, vec![rule("r1", "/a")]);
    // A conflicting credential name writes no rule.
    let err = s
        .create_app_credential_with_rules(&cred("c3", "one"), &[rule("r3", "/c")])
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(s.list_access_rules("u1").unwrap().len(), 2);

    assert!(matches!(
        s.delete_access_rule("u1", "r1"),
        Err(StoreError::Conflict(_))
    ));
    s.delete_app_credential("c1").unwrap();
    assert!(
        s.delete_access_rule("u1", "r1").is_err(),
        "c2 still uses r1"
    );
    s.delete_access_rule("u1", "r2").unwrap();
    assert!(matches!(
        s.delete_access_rule("someone", "r1"),
        Err(StoreError::NotFound { .. })
    ));
    s.delete_app_credential("c2").unwrap();
    s.delete_access_rule("u1", "r1").unwrap();
    assert!(matches!(
        s.delete_access_rule("u1", "r1"),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn password_policy_state_round_trips_and_failures_count_concurrently() {
    let (_d, s) = store();
    domain(&s);
    let mut u = User {
        id: "u1".into(),
        name: "bob".into(),
        domain_id: "default".into(),
        enabled: true,
        password_hash: Some("h3".into()),
        default_project_id: None,
        description: String::new(),
        email: None,
        extra: Map::new(),
        password_changed_at: Some(5),
        security: UserSecurity {
            options: serde_json::from_str(r#"{"lock_password": true}"#).unwrap(),
            password_expires_at: Some(99),
            password_self_service: true,
            password_history: vec!["h1".into(), "h2".into()],
        },
    };
    s.create_user(&u).unwrap();
    assert_eq!(s.get_user("u1").unwrap(), u);
    u.security.password_history.remove(0);
    u.security.password_expires_at = None;
    s.update_user(&u).unwrap();
    assert_eq!(s.get_user("u1").unwrap(), u);

    assert_eq!(s.login_failures("u1").unwrap(), None);
    std::thread::scope(|scope| {
        for i in 0..8 {
            let s = &s;
            scope.spawn(move || s.record_login_failure("u1", 100 + i).unwrap());
        }
    });
    let f = s.login_failures("u1").unwrap().unwrap();
    assert_eq!(f.count, 8, "every concurrent failure counted");
    // Updating the user record does not touch the count.
    s.update_user(&u).unwrap();
    assert_eq!(s.login_failures("u1").unwrap().unwrap().count, 8);
    s.clear_login_failures("u1").unwrap();
    assert_eq!(s.login_failures("u1").unwrap(), None);
    s.clear_login_failures("u1").unwrap();
    // Deleting the user drops its failures.
    s.record_login_failure("u1", 200).unwrap();
    s.delete_user("u1").unwrap();
    assert_eq!(s.login_failures("u1").unwrap(), None);
}
