//! Glance tasks: stored and read back whole, listed per image, updated;
//! an import's status change and its `os_glance_*` properties are one
//! write that happens only from the expected status.

use crate::image::{Image, ImageData, ImageStore, ImageTask, ImageTaskStore};
use serde_json::json;

fn image(id: &str) -> Image {
    Image {
        id: id.into(),
        name: None,
        status: "uploading".into(),
        visibility: "private".into(),
        owner: Some("p1".into()),
        protected: false,
        os_hidden: false,
        disk_format: Some("raw".into()),
        container_format: Some("bare".into()),
        size: None,
        virtual_size: None,
        checksum: None,
        os_hash_algo: None,
        os_hash_value: None,
        min_disk: 0,
        min_ram: 0,
        tags: vec![],
        properties: [("keep".to_string(), "me".to_string())].into(),
        created_at: 1,
        updated_at: 1,
    }
}

fn task(id: &str, image_id: &str, at: i64) -> ImageTask {
    ImageTask {
        id: id.into(),
        task_type: "api_image_import".into(),
        status: "pending".into(),
        owner: Some("p1".into()),
        image_id: Some(image_id.into()),
        request_id: Some("req-1".into()),
        user_id: Some("u1".into()),
        input: json!({"import_req": {"method": {"name": "glance-direct"}}}),
        result: None,
        message: String::new(),
        expires_at: None,
        created_at: at,
        updated_at: at,
    }
}

#[test]
fn tasks_round_trip_list_per_image_and_update() {
    let (_keep, s) = crate::testing::store();
    s.create_task(&task("t1", "i1", 1)).unwrap();
    s.create_task(&task("t2", "i2", 2)).unwrap();
    assert!(
        s.create_task(&task("t1", "i1", 3)).is_err(),
        "ids are unique"
    );
    assert_eq!(s.get_task("t1").unwrap().unwrap(), task("t1", "i1", 1));
    assert!(s.get_task("nope").unwrap().is_none());
    let all: Vec<_> = s.list_tasks().unwrap().into_iter().map(|t| t.id).collect();
    assert_eq!(all, ["t1", "t2"]);
    let of_i2: Vec<_> = s
        .tasks_of_image("i2")
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(of_i2, ["t2"]);
    let mut done = task("t1", "i1", 1);
    done.status = "success".into();
    done.result = Some(json!({"image_id": "i1"}));
    done.expires_at = Some(99);
    done.updated_at = 5;
    assert!(s.update_task(&done).unwrap());
    assert_eq!(s.get_task("t1").unwrap().unwrap(), done);
    assert!(!s.update_task(&task("nope", "i1", 1)).unwrap());
}

#[test]
fn import_transitions_carry_their_properties() {
    let (_keep, s) = crate::testing::store();
    s.create_image(&image("i1")).unwrap();
    let set = [("os_glance_import_task", Some("t1")), ("keep", None)];
    let (_, moved) = s
        .transition_with_properties("i1", &["queued"], "importing", &set, 2)
        .unwrap()
        .unwrap();
    assert!(!moved, "not from uploading");
    let unchanged = s.get_image("i1").unwrap().unwrap();
    assert_eq!(unchanged.status, "uploading");
    assert!(!unchanged.properties.contains_key("os_glance_import_task"));
    let (_, moved) = s
        .transition_with_properties("i1", &["uploading"], "importing", &set, 2)
        .unwrap()
        .unwrap();
    assert!(moved);
    let importing = s.get_image("i1").unwrap().unwrap();
    assert_eq!(importing.status, "importing");
    assert_eq!(importing.properties["os_glance_import_task"], "t1");
    assert!(!importing.properties.contains_key("keep"));
    // A metadata update read before the import started keeps its lock.
    let mut stale = image("i1");
    stale
        .properties
        .insert("os_glance_forged".into(), "x".into());
    stale.properties.insert("user".into(), "y".into());
    assert!(s.update_image(&stale).unwrap());
    let updated = s.get_image("i1").unwrap().unwrap();
    assert_eq!(updated.properties["os_glance_import_task"], "t1");
    assert_eq!(updated.properties["user"], "y");
    assert!(!updated.properties.contains_key("os_glance_forged"));
    let data = ImageData {
        size: 4,
        virtual_size: 4,
        checksum: "c".into(),
        os_hash_algo: "sha512".into(),
        os_hash_value: "h".into(),
    };
    let clear = [("os_glance_import_task", None)];
    assert!(s.finish_import("i1", &data, &clear, 3).unwrap());
    let active = s.get_image("i1").unwrap().unwrap();
    assert_eq!((active.status.as_str(), active.size), ("active", Some(4)));
    assert_eq!(
        active.properties.keys().collect::<Vec<_>>(),
        ["keep", "user"]
    );
    assert!(
        !s.finish_import("i1", &data, &clear, 4).unwrap(),
        "only from importing"
    );
    assert!(!s.finish_import("gone", &data, &clear, 4).unwrap());
}
