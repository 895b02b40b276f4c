//! Tests of the SQLite [`VolumeStore`]: the default type, group changes
//! written all or nothing, source checks and type rules.

use super::*;
use crate::volume::DEFAULT_TYPE;

fn store() -> (crate::testing::Keep, SqliteStore) {
    crate::testing::store()
}

fn volume(s: &SqliteStore, id: &str) -> Volume {
    let t = s.get_type_by_name(DEFAULT_TYPE).unwrap().unwrap();
    Volume {
        id: id.into(),
        project_id: "p1".into(),
        user_id: "u1".into(),
        name: Some(id.into()),
        description: None,
        size_gib: 1,
        status: "available".into(),
        availability_zone: "nova".into(),
        volume_type_id: t.id,
        backend_name: "local".into(),
        host: None,
        bootable: false,
        read_only: false,
        multiattach: false,
        metadata: BTreeMap::new(),
        image_metadata: BTreeMap::new(),
        snapshot_id: None,
        source_volid: None,
        image_id: None,
        error: None,
        created_at: 1,
        updated_at: 1,
    }
}

fn snapshot(id: &str, volume_id: &str) -> Snapshot {
    Snapshot {
        id: id.into(),
        volume_id: volume_id.into(),
        project_id: "p1".into(),
        user_id: "u1".into(),
        name: None,
        description: None,
        size_gib: 1,
        status: "available".into(),
        metadata: BTreeMap::new(),
        error: None,
        progress: None,
        created_at: 1,
        updated_at: 1,
    }
}

fn attachment(id: &str, volume_id: &str) -> Attachment {
    Attachment {
        id: id.into(),
        volume_id: volume_id.into(),
        project_id: "p1".into(),
        instance_uuid: "vm1".into(),
        attach_status: "reserved".into(),
        attached_host: None,
        mountpoint: None,
        mode: "rw".into(),
        connector: None,
        connection_info: None,
        attach_time: None,
        detach_time: None,
        created_at: 1,
    }
}

#[derive(Debug, thiserror::Error)]
#[error("no")]
struct No;

#[test]
fn the_default_type_exists_from_the_start() {
    let (_d, s) = store();
    let types = s.list_types().unwrap();
    assert_eq!(types.len(), 1);
    assert_eq!(types[0].name, DEFAULT_TYPE);
    assert!(types[0].is_public);
    assert_eq!(
        s.get_type(&types[0].id).unwrap().unwrap().name,
        DEFAULT_TYPE
    );
}

#[test]
fn a_group_change_writes_volume_attachments_and_snapshots_together() {
    let (_d, s) = store();
    s.create_volume(&volume(&s, "v1")).unwrap();
    let g = s
        .change_volume("v1", &mut |g| {
            g.volume.status = "reserved".into();
            g.attachments.push(attachment("a1", "v1"));
            g.snapshots.push(snapshot("s1", "v1"));
            Ok(())
        })
        .unwrap()
        .unwrap();
    assert_eq!(g.volume.status, "reserved");
    assert_eq!(s.get_attachment("a1").unwrap().unwrap().volume_id, "v1");
    assert_eq!(s.list_snapshots(Some("p1")).unwrap().len(), 1);
    assert!(s.list_snapshots(Some("p2")).unwrap().is_empty());
    // A refusal writes nothing.
    let refused = s.change_volume("v1", &mut |g| {
        g.attachments.clear();
        g.volume.status = "available".into();
        Err(Box::new(No))
    });
    assert!(matches!(refused, Err(StoreError::Refused(_))));
    assert_eq!(s.get_volume("v1").unwrap().unwrap().status, "reserved");
    assert_eq!(s.volume_attachments("v1").unwrap().len(), 1);
    // Removing rows from the group deletes them.
    s.change_volume("v1", &mut |g| {
        g.attachments.clear();
        Ok(())
    })
    .unwrap();
    assert!(s.get_attachment("a1").unwrap().is_none());
    // Deleting the volume takes its snapshots.
    s.change_volume("v1", &mut |g| {
        g.delete = true;
        Ok(())
    })
    .unwrap();
    assert!(s.get_volume("v1").unwrap().is_none());
    assert!(s.get_snapshot("s1").unwrap().is_none());
    assert!(s.change_volume("v1", &mut |_| Ok(())).unwrap().is_none());
}

#[test]
fn a_volume_from_a_source_needs_the_source_available() {
    let (_d, s) = store();
    let mut v2 = volume(&s, "v2");
    v2.snapshot_id = Some("s1".into());
    let err = s.create_volume(&v2).unwrap_err();
    assert!(matches!(&err, StoreError::Refused(e)
        if e.downcast_ref::<VolumeConflict>().is_some()));
    assert!(s.get_volume("v2").unwrap().is_none());
    s.create_volume(&volume(&s, "v1")).unwrap();
    s.change_volume("v1", &mut |g| {
        g.snapshots.push(snapshot("s1", "v1"));
        Ok(())
    })
    .unwrap();
    s.create_volume(&v2).unwrap();
    let mut v3 = volume(&s, "v3");
    v3.source_volid = Some("v2".into());
    s.create_volume(&v3).unwrap();
    assert_eq!(s.list_volumes(None).unwrap().len(), 3);
}

#[test]
fn types_keep_specs_and_access_and_refuse_deletion_in_use() {
    let (_d, s) = store();
    let t = VolumeType {
        id: "t1".into(),
        name: "fast".into(),
        description: None,
        is_public: false,
        extra_specs: BTreeMap::from([("volume_backend_name".into(), "local".into())]),
        created_at: 1,
    };
    s.create_type(&t).unwrap();
    assert!(matches!(
        s.create_type(&VolumeType {
            id: "t2".into(),
            ..t.clone()
        }),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.get_type_by_name("fast").unwrap().unwrap().extra_specs,
        t.extra_specs
    );
    s.set_type_specs("t1", &BTreeMap::from([("k".into(), "v".into())]))
        .unwrap();
    assert_eq!(s.get_type("t1").unwrap().unwrap().extra_specs.len(), 2);
    assert!(s.delete_type_spec("t1", "k").unwrap());
    assert!(!s.delete_type_spec("t1", "k").unwrap());
    assert!(s.add_type_access("t1", "p1").unwrap());
    assert!(!s.add_type_access("t1", "p1").unwrap());
    assert_eq!(s.type_access("t1").unwrap(), vec!["p1".to_string()]);
    let mut v = volume(&s, "v1");
    v.volume_type_id = "t1".into();
    s.create_volume(&v).unwrap();
    assert!(s.delete_type("t1").is_err());
    s.change_volume("v1", &mut |g| {
        g.delete = true;
        Ok(())
    })
    .unwrap();
    assert!(s.delete_type("t1").unwrap());
    assert!(s.type_access("t1").unwrap().is_empty());
}
