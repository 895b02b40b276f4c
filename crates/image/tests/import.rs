//! Glance's interoperable import through HTTP: stage, then `glance-direct`
//! import as a task; refused requests leave the image as it was; bad data
//! fails the task and sends the image back to `queued`; staged bytes
//! count against the size quota; an import cut short by a stopped
//! controller can be run again; the tasks API is admin-only and its
//! legacy URL import creates nothing.

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_glance_error, image_body, Images};
use md5::{Digest, Md5};
use serde_json::{json, Value};

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 253) as u8).collect()
}

fn direct() -> Value {
    json!({"method": {"name": "glance-direct"}})
}

async fn new_image(c: &Images, token: &str, disk_format: &str) -> String {
    c.create(token, image_body("imp", disk_format)).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Poll until the image leaves `importing`; its final view.
async fn settled(c: &Images, token: &str, id: &str) -> Value {
    for _ in 0..200 {
        let image = c.show(token, id).await.body;
        if image["status"] != "importing" {
            return image;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("image {id} still importing");
}

fn staged_file(c: &Images, id: &str) -> std::path::PathBuf {
    c.data_dir
        .path()
        .join("images")
        .join(format!(".{id}.staged"))
}

#[tokio::test]
async fn stage_then_glance_direct_import_activates_the_image_as_a_task() {
    let c = Images::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let info = c.s.get(&c.url("/v2/info/import"), &member).await;
    assert_eq!(
        info.body["import-methods"]["value"],
        json!(["glance-direct"])
    );
    let id = new_image(&c, &member, "raw").await;
    let data = pattern(100_000);
    let r = c.stage(&member, &id, data.clone()).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let image = c.show(&member, &id).await.body;
    assert_eq!(image["status"], "uploading");
    assert!(
        image.get("os_glance_stage_host").is_none(),
        "hidden: {image}"
    );
    assert!(staged_file(&c, &id).exists());
    let r = c.import(&member, &id, direct()).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let request_id = r.headers["x-openstack-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let image = settled(&c, &member, &id).await;
    assert_eq!(image["status"], "active", "{image}");
    assert_eq!(image["size"], data.len());
    assert_eq!(image["checksum"], hex::encode(Md5::digest(&data)).as_str());
    assert_eq!(image["os_glance_importing_to_stores"], "");
    assert_eq!(image["os_glance_failed_import"], "");
    assert!(image.get("os_glance_import_task").is_none(), "{image}");
    assert!(!staged_file(&c, &id).exists(), "staged data consumed");
    assert_eq!(c.download(&member, &id).await.2, data);
    let tasks =
        c.s.get(&c.url(&format!("/v2/images/{id}/tasks")), &member)
            .await;
    let tasks = tasks.body["tasks"].as_array().unwrap().clone();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["status"], "success");
    assert_eq!(tasks[0]["request_id"], request_id.as_str());
    assert_eq!(
        tasks[0]["input"]["import_req"]["method"]["name"],
        "glance-direct"
    );
    assert_eq!(tasks[0]["result"]["image_id"], id.as_str());
    let task_url = c.url(&format!("/v2/tasks/{}", tasks[0]["id"].as_str().unwrap()));
    assert_glance_error(&c.s.get(&task_url, &member).await, 403);
    let admin = c.s.admin_token().await;
    let shown = c.s.get(&task_url, &admin).await;
    assert_eq!(shown.body["type"], "api_image_import", "{}", shown.body);
    let listed = c.s.get(&c.url("/v2/tasks?status=success"), &admin).await;
    assert_eq!(listed.body["tasks"].as_array().unwrap().len(), 1);
    assert!(listed.body["tasks"][0].get("input").is_none());
    assert_glance_error(&c.s.get(&c.url("/v2/tasks?status=nope"), &admin).await, 400);
    // Importing again into an active image conflicts.
    assert_glance_error(&c.import(&member, &id, direct()).await, 409);
}

#[tokio::test]
async fn refused_import_requests_leave_the_image_and_its_staged_data_alone() {
    let c = Images::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let id = new_image(&c, &member, "raw").await;
    // Nothing staged yet.
    assert_glance_error(&c.import(&member, &id, direct()).await, 409);
    assert_eq!(c.show(&member, &id).await.body["status"], "queued");
    assert_eq!(c.stage(&member, &id, pattern(4096)).await.status, 204);
    // A second stage conflicts; the first one's data stays.
    assert_glance_error(&c.stage(&member, &id, pattern(10)).await, 409);
    let web = json!({"method": {"name": "web-download", "uri": "http://127.0.0.1:1/x"}});
    for body in [
        web,
        json!({"method": {"name": "copy-image"}}),
        json!({"method": {}}),
        json!({"method": {"name": "glance-direct"}, "all_stores_must_succeed": "no"}),
    ] {
        assert_glance_error(&c.import(&member, &id, body).await, 400);
    }
    let (other, _) = c.other_project("other").await;
    assert_glance_error(&c.import(&other, &id, direct()).await, 404);
    let image = c.show(&member, &id).await.body;
    assert_eq!(image["status"], "uploading");
    assert!(staged_file(&c, &id).exists());
    let tasks =
        c.s.get(&c.url(&format!("/v2/images/{id}/tasks")), &member)
            .await;
    assert_eq!(
        tasks.body["tasks"],
        json!([]),
        "no task for a refused request"
    );
    // The staged data is still importable.
    assert_eq!(c.import(&member, &id, direct()).await.status, 202);
    assert_eq!(settled(&c, &member, &id).await["status"], "active");
    assert_eq!(c.download(&member, &id).await.2, pattern(4096));
}

#[tokio::test]
async fn data_refused_by_inspection_fails_the_task_and_queues_the_image() {
    let c = Images::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let id = new_image(&c, &member, "qcow2").await;
    assert_eq!(c.stage(&member, &id, pattern(8192)).await.status, 204);
    assert_eq!(c.import(&member, &id, direct()).await.status, 202);
    let image = settled(&c, &member, &id).await;
    assert_eq!(image["status"], "queued", "{image}");
    assert!(image["size"].is_null());
    assert!(image.get("os_glance_import_task").is_none(), "{image}");
    assert!(!staged_file(&c, &id).exists(), "refused data removed");
    assert!(!c.data_dir.path().join("images").join(&id).exists());
    let tasks =
        c.s.get(&c.url(&format!("/v2/images/{id}/tasks")), &member)
            .await;
    let task = &tasks.body["tasks"][0];
    assert_eq!(task["status"], "failure");
    assert!(
        task["message"].as_str().unwrap().contains("refused"),
        "{task}"
    );
    assert!(task["expires_at"].is_string());
}

#[tokio::test]
async fn staged_bytes_count_against_the_size_quota_until_imported_or_deleted() {
    let quotas = ferrostack_image::ImageQuotas {
        image_count_total: None,
        image_size_total: Some(10_000),
    };
    let c = Images::start_with(ferrostack_image::DEFAULT_MAX_IMAGE_SIZE, quotas).await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let a = new_image(&c, &member, "raw").await;
    let b = new_image(&c, &member, "raw").await;
    let r = c.stage(&member, &a, pattern(12_000)).await;
    assert!(assert_glance_error(&r, 413).contains("image_size_total"));
    assert_eq!(c.show(&member, &a).await.body["status"], "queued");
    assert!(!staged_file(&c, &a).exists());
    assert_eq!(c.stage(&member, &a, pattern(6000)).await.status, 204);
    // The staged 6000 bytes are held: 6000 more do not fit.
    assert_glance_error(&c.upload(&member, &b, pattern(6000)).await, 413);
    assert_glance_error(&c.stage(&member, &b, pattern(6000)).await, 413);
    assert_eq!(c.show(&member, &b).await.body["status"], "queued");
    // Imported, they count as the image's size (still no room) ...
    assert_eq!(c.import(&member, &a, direct()).await.status, 202);
    assert_eq!(settled(&c, &member, &a).await["status"], "active");
    assert_glance_error(&c.upload(&member, &b, pattern(6000)).await, 413);
    // ... and a staged image's deletion gives its bytes back.
    let d = new_image(&c, &member, "raw").await;
    assert_eq!(c.stage(&member, &d, pattern(3000)).await.status, 204);
    assert_glance_error(&c.upload(&member, &b, pattern(3000)).await, 413);
    let del = c.s.req(
        reqwest::Method::DELETE,
        &c.url(&format!("/v2/images/{d}")),
        &member,
    );
    assert_eq!(c.s.call(del).await.status, 204);
    assert!(!staged_file(&c, &d).exists());
    assert_eq!(c.upload(&member, &b, pattern(3000)).await.status, 204);
}

#[tokio::test]
async fn an_import_cut_short_by_a_restart_is_staged_again() {
    use ferrostack_store::image::ImageTaskStore;
    let c = Images::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let id = new_image(&c, &member, "raw").await;
    assert_eq!(c.stage(&member, &id, pattern(2048)).await.status, 204);
    // As if the process died right after the image went importing.
    c.s.store
        .transition_with_properties(&id, &["uploading"], "importing", &[], 1)
        .unwrap();
    assert_glance_error(&c.import(&member, &id, direct()).await, 409);
    let store = &c.s.store;
    assert_eq!(
        ferrostack_image::recover_interrupted_uploads(store, store, store, true).unwrap(),
        1
    );
    assert_eq!(c.show(&member, &id).await.body["status"], "uploading");
    assert_eq!(c.import(&member, &id, direct()).await.status, 202);
    assert_eq!(settled(&c, &member, &id).await["status"], "active");
    // A staged image is not an interrupted upload: recovery leaves it.
    let staged = new_image(&c, &member, "raw").await;
    assert_eq!(c.stage(&member, &staged, pattern(10)).await.status, 204);
    assert_eq!(
        ferrostack_image::recover_interrupted_uploads(store, store, store, true).unwrap(),
        0
    );
    assert_eq!(c.show(&member, &staged).await.body["status"], "uploading");
}

#[tokio::test]
async fn the_tasks_api_is_admin_only_and_its_url_import_creates_nothing() {
    let c = Images::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let admin = c.s.admin_token().await;
    let task = json!({"type": "import", "input": {
        "import_from": "http://example.invalid/x.qcow2",
        "import_from_format": "qcow2",
        "image_properties": {"disk_format": "qcow2", "container_format": "bare"}
    }});
    let url = c.url("/v2/tasks");
    let r =
        c.s.send(reqwest::Method::POST, &url, &member, task.clone())
            .await;
    assert_glance_error(&r, 403);
    assert_glance_error(&c.s.get(&url, &member).await, 403);
    let r = c.s.send(reqwest::Method::POST, &url, &admin, task).await;
    assert!(assert_glance_error(&r, 400).contains("filtering"));
    let bad = json!({"type": "import", "input": {"import_from": "http://x/"}});
    assert_glance_error(
        &c.s.send(reqwest::Method::POST, &url, &admin, bad).await,
        400,
    );
    let listed = c.s.get(&url, &admin).await;
    assert_eq!(listed.body["tasks"], json!([]), "{}", listed.body);
    let schema = c.s.get(&c.url("/v2/schemas/tasks"), &member).await;
    assert_eq!(schema.body["name"], "tasks");
    let missing = c.url(&format!("/v2/tasks/{}", uuid_like()));
    assert_glance_error(&c.s.get(&missing, &admin).await, 404);
}

fn uuid_like() -> &'static str {
    "00000000-0000-4000-8000-000000000000"
}
