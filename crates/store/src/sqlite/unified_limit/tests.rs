//! The unified limit rules the store keeps: uniqueness, a limit needs its
//! registered limit, a registered limit in use cannot move or go.

use super::*;
use crate::identity::{Domain, IdentityStore, Project, Service};
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
        name: "web".into(),
        domain_id: "default".into(),
        parent_id: None,
        description: String::new(),
        enabled: true,
        tags: vec![],
        extra: Map::new(),
    })
    .unwrap();
    s.create_service(&Service {
        id: "s1".into(),
        service_type: "compute".into(),
        name: "nova".into(),
        description: String::new(),
        enabled: true,
        extra: Map::new(),
    })
    .unwrap();
    (keep, s)
}

fn registered(id: &str, resource: &str) -> RegisteredLimit {
    RegisteredLimit {
        id: id.into(),
        service_id: "s1".into(),
        region_id: None,
        resource_name: resource.into(),
        default_limit: 10,
        description: None,
    }
}

fn limit(id: &str, resource: &str) -> Limit {
    Limit {
        id: id.into(),
        service_id: "s1".into(),
        region_id: None,
        resource_name: resource.into(),
        project_id: Some("p1".into()),
        domain_id: None,
        resource_limit: 5,
        description: Some("web's cores".into()),
    }
}

#[test]
fn limits_follow_keystones_rules() {
    let (_k, s) = store();
    s.create_registered_limits(&[registered("r1", "cores")])
        .unwrap();
    // A duplicate in a batch: nothing of the batch is stored.
    let err = s
        .create_registered_limits(&[registered("r2", "ram"), registered("r3", "cores")])
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        s.list_registered_limits(&LimitFilter::default())
            .unwrap()
            .len(),
        1
    );

    // No registered limit for "ram": refused, nothing stored.
    let err = s
        .create_limits(&[limit("l1", "cores"), limit("l2", "ram")])
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { kind, .. } if kind == NO_REGISTERED_LIMIT),
        "{err:?}"
    );
    assert!(s.list_limits(&LimitFilter::default()).unwrap().is_empty());
    s.create_limits(&[limit("l1", "cores")]).unwrap();
    assert!(matches!(
        s.create_limits(&[limit("l9", "cores")]),
        Err(StoreError::Conflict(_))
    ));
    let got = s.get_limit("l1").unwrap();
    assert_eq!(got, limit("l1", "cores"));
    let f = LimitFilter {
        project_id: Some("p1".into()),
        resource_name: Some("cores".into()),
        ..Default::default()
    };
    assert_eq!(s.list_limits(&f).unwrap().len(), 1);

    // In use: the registered limit keeps what it registers and stays.
    let mut r = s.get_registered_limit("r1").unwrap();
    r.default_limit = 20;
    s.update_registered_limit(&r).unwrap();
    r.resource_name = "vcpus".into();
    assert!(matches!(
        s.update_registered_limit(&r),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.delete_registered_limit("r1"),
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(s.get_registered_limit("r1").unwrap().resource_name, "cores");

    let mut l = got;
    l.resource_limit = 7;
    s.update_limit(&l).unwrap();
    assert_eq!(s.get_limit("l1").unwrap().resource_limit, 7);
    // A deleted project takes its limits along.
    s.delete_project("p1").unwrap();
    assert!(s.list_limits(&LimitFilter::default()).unwrap().is_empty());
    s.delete_registered_limit("r1").unwrap();
    assert!(matches!(
        s.get_registered_limit("r1"),
        Err(StoreError::NotFound { .. })
    ));
}
