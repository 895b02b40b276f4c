//! Metadata definitions: a namespace is written whole, renames keep names
//! unique, a refused change or delete leaves the row as it was, and the
//! stock namespaces are loaded once.

use crate::metadefs::{Association, MetaObject, MetadefStore, Namespace, NamespaceBody};
use crate::StoreError;

fn ns(name: &str) -> Namespace {
    Namespace {
        namespace: name.into(),
        visibility: "public".into(),
        protected: false,
        owner: Some("p1".into()),
        created_at: 1,
        updated_at: 1,
        body: NamespaceBody {
            display_name: Some(name.into()),
            resource_type_associations: vec![Association {
                name: "OS::Glance::Image".into(),
                prefix: Some("hw_".into()),
                properties_target: None,
                created_at: 1,
                updated_at: 1,
            }],
            objects: vec![MetaObject {
                name: "o1".into(),
                description: None,
                required: vec![],
                properties: Default::default(),
                created_at: 1,
                updated_at: 1,
            }],
            ..Default::default()
        },
    }
}

#[derive(Debug)]
struct No;
impl std::fmt::Display for No {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no")
    }
}
impl std::error::Error for No {}

#[test]
fn create_get_list_and_duplicates() {
    let (_keep, s) = crate::testing::store();
    assert!(s.create_namespace(&ns("a")).unwrap());
    assert!(!s.create_namespace(&ns("a")).unwrap());
    assert_eq!(s.get_namespace("a").unwrap().unwrap(), ns("a"));
    assert!(s.get_namespace("b").unwrap().is_none());
    assert!(s.create_namespace(&ns("b")).unwrap());
    let names: Vec<_> = s
        .list_namespaces()
        .unwrap()
        .into_iter()
        .map(|n| n.namespace)
        .collect();
    assert_eq!(names, ["a", "b"]);
    let types = s.list_resource_types().unwrap();
    assert_eq!(types.len(), 1);
    assert_eq!(types[0].name, "OS::Glance::Image");
}

#[test]
fn updates_rename_and_refuse() {
    let (_keep, s) = crate::testing::store();
    s.create_namespace(&ns("a")).unwrap();
    s.create_namespace(&ns("b")).unwrap();
    // A refused change writes nothing.
    let e = s
        .update_namespace("a", &mut |n| {
            n.body.objects.clear();
            Err(Box::new(No))
        })
        .unwrap_err();
    assert!(matches!(e, StoreError::Refused(_)));
    assert_eq!(s.get_namespace("a").unwrap().unwrap(), ns("a"));
    // A rename onto a taken name is a conflict.
    let e = s
        .update_namespace("a", &mut |n| {
            n.namespace = "b".into();
            Ok(())
        })
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)));
    // A rename to a free name moves the whole namespace; new resource
    // types appear.
    let moved = s
        .update_namespace("a", &mut |n| {
            n.namespace = "c".into();
            n.body.resource_type_associations[0].name = "OS::Nova::Flavor".into();
            Ok(())
        })
        .unwrap()
        .unwrap();
    assert_eq!(moved.namespace, "c");
    assert!(s.get_namespace("a").unwrap().is_none());
    assert_eq!(s.get_namespace("c").unwrap().unwrap(), moved);
    assert_eq!(s.list_resource_types().unwrap().len(), 2);
    assert!(s.update_namespace("zz", &mut |_| Ok(())).unwrap().is_none());
}

#[test]
fn delete_refused_keeps_the_namespace() {
    let (_keep, s) = crate::testing::store();
    s.create_namespace(&ns("a")).unwrap();
    let e = s
        .delete_namespace("a", &mut |_| Err(Box::new(No)))
        .unwrap_err();
    assert!(matches!(e, StoreError::Refused(_)));
    assert!(s.get_namespace("a").unwrap().is_some());
    assert!(s.delete_namespace("a", &mut |_| Ok(())).unwrap());
    assert!(!s.delete_namespace("a", &mut |_| Ok(())).unwrap());
    // The resource type stays, as in Glance.
    assert_eq!(s.list_resource_types().unwrap().len(), 1);
}

#[test]
fn stock_namespaces_load_once_and_keep_operator_changes() {
    let (_keep, s) = crate::testing::store();
    s.create_namespace(&ns("b")).unwrap();
    let mut changed = ns("b");
    changed.visibility = "private".into();
    s.update_namespace("b", &mut |n| {
        n.visibility = "private".into();
        Ok(())
    })
    .unwrap();
    let made = s
        .load_stock_namespaces("metadefs.test", &[ns("a"), ns("b")])
        .unwrap();
    assert_eq!(made, 1);
    assert_eq!(s.get_namespace("b").unwrap().unwrap(), changed);
    // The operator deletes a stock namespace: a later start keeps it gone.
    s.delete_namespace("a", &mut |_| Ok(())).unwrap();
    assert_eq!(
        s.load_stock_namespaces("metadefs.test", &[ns("a")])
            .unwrap(),
        0
    );
    assert!(s.get_namespace("a").unwrap().is_none());
}
