//! Image data through HTTP: streamed upload and download with matching
//! hashes, and uploads refused by the inspection (backing file, format
//! mismatch) or by size, leaving the image not active.

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_glance_error, image_body, qemu_img, Images};
use md5::{Digest, Md5};
use reqwest::Method;
use sha2::Sha512;

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 253) as u8).collect()
}

#[tokio::test]
async fn upload_then_download_is_byte_identical_with_matching_hashes() {
    let c = Images::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let id = c.create(&member, image_body("raw1", "raw")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _, body) = c.download(&member, &id).await;
    assert_eq!((status, body.len()), (204, 0), "no data yet");
    let data = pattern(3 * 1024 * 1024 + 17);
    let r = c.upload(&member, &id, data.clone()).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let image = c.show(&member, &id).await.body;
    let md5 = hex::encode(Md5::digest(&data));
    assert_eq!(image["status"], "active");
    assert_eq!(image["size"], data.len());
    assert_eq!(image["virtual_size"], data.len());
    assert_eq!(image["checksum"], md5.as_str());
    assert_eq!(image["os_hash_algo"], "sha512");
    assert_eq!(
        image["os_hash_value"],
        hex::encode(Sha512::digest(&data)).as_str()
    );
    let (status, headers, back) = c.download(&member, &id).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-md5"], md5.as_str());
    assert!(back == data, "downloaded bytes differ");
    // A second upload to an active image conflicts.
    assert_glance_error(&c.upload(&member, &id, vec![0; 512]).await, 409);
    // Deleting removes the data.
    let r =
        c.s.call(c.s.req(Method::DELETE, &c.url(&format!("/v2/images/{id}")), &member))
            .await;
    assert_eq!(r.status, 204);
    assert!(!c.data_dir.path().join("images").join(&id).exists());
}

#[tokio::test]
async fn a_qcow2_with_a_backing_file_is_refused_and_not_active() {
    let c = Images::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let dir = tempfile::tempdir().unwrap();
    qemu_img(
        dir.path(),
        &[
            "create",
            "-f",
            "qcow2",
            "-b",
            "/etc/passwd",
            "-F",
            "raw",
            "evil.qcow2",
        ],
    );
    let evil = std::fs::read(dir.path().join("evil.qcow2")).unwrap();
    let id = c.create(&member, image_body("evil", "qcow2")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = c.upload(&member, &id, evil).await;
    assert!(
        assert_glance_error(&r, 400).contains("backing file"),
        "{}",
        r.body
    );
    let image = c.show(&member, &id).await.body;
    assert_eq!(image["status"], "queued");
    assert_eq!(image["size"], serde_json::Value::Null);
    let (status, _, _) = c.download(&member, &id).await;
    assert_eq!(status, 204);
    let leftovers = std::fs::read_dir(c.data_dir.path().join("images"))
        .unwrap()
        .count();
    assert_eq!(leftovers, 0, "the refused upload was removed");
}

#[tokio::test]
async fn a_clean_qcow2_is_accepted_with_its_virtual_size() {
    let c = Images::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let dir = tempfile::tempdir().unwrap();
    qemu_img(dir.path(), &["create", "-f", "qcow2", "ok.qcow2", "16M"]);
    let data = std::fs::read(dir.path().join("ok.qcow2")).unwrap();
    let id = c.create(&member, image_body("ok", "qcow2")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(c.upload(&member, &id, data.clone()).await.status, 204);
    let image = c.show(&member, &id).await.body;
    assert_eq!(image["status"], "active");
    assert_eq!(image["virtual_size"], 16 * 1024 * 1024);
    assert!(c.download(&member, &id).await.2 == data);
}

#[tokio::test]
async fn raw_data_declared_as_qcow2_is_refused() {
    let c = Images::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let id = c.create(&member, image_body("liar", "qcow2")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = c.upload(&member, &id, pattern(1 << 20)).await;
    assert!(
        assert_glance_error(&r, 400).contains("declared qcow2"),
        "{}",
        r.body
    );
    assert_eq!(c.show(&member, &id).await.body["status"], "queued");
}

#[tokio::test]
async fn an_upload_over_the_size_limit_is_413_and_leaves_the_image_queued() {
    let c = Images::start_with_max(1024 * 1024).await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let id = c.create(&member, image_body("big", "raw")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = c.upload(&member, &id, pattern(2 * 1024 * 1024)).await;
    assert_glance_error(&r, 413);
    assert_eq!(c.show(&member, &id).await.body["status"], "queued");
    // Within the limit it then succeeds.
    assert_eq!(c.upload(&member, &id, pattern(4096)).await.status, 204);
}

#[tokio::test]
async fn uploads_need_formats_the_right_media_type_and_ownership() {
    let c = Images::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let (other, _) = c.other_project("other").await;
    let bare = c
        .create(&member, serde_json::json!({"name": "noformat"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_glance_error(&c.upload(&member, &bare, vec![0; 512]).await, 400);
    let id = c.create(&member, image_body("x", "raw")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let rb =
        c.s.req(
            Method::PUT,
            &c.url(&format!("/v2/images/{id}/file")),
            &member,
        )
        .header("Content-Type", "application/json")
        .body("{}");
    assert_glance_error(&c.s.call(rb).await, 415);
    assert_glance_error(&c.upload(&other, &id, vec![0; 512]).await, 404);
    assert_eq!(c.show(&member, &id).await.body["status"], "queued");
}

#[tokio::test]
async fn the_projects_total_size_quota_refuses_the_upload_that_would_pass_it() {
    let quotas = ferrostack_image::ImageQuotas {
        image_count_total: None,
        image_size_total: Some(10_000),
    };
    let c = Images::start_with(ferrostack_image::DEFAULT_MAX_IMAGE_SIZE, quotas).await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let first = c.create(&member, image_body("a", "raw")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(c.upload(&member, &first, pattern(6000)).await.status, 204);
    let second = c.create(&member, image_body("b", "raw")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = c.upload(&member, &second, pattern(6000)).await;
    assert!(
        assert_glance_error(&r, 413).contains("image_size_total"),
        "{}",
        r.body
    );
    assert_eq!(c.show(&member, &second).await.body["status"], "queued");
    assert_eq!(c.upload(&member, &second, pattern(4000)).await.status, 204);
}

#[tokio::test]
async fn deactivated_images_are_not_downloadable_until_reactivated() {
    let c = Images::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let id = c.create(&member, image_body("d", "raw")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let action = |a: &str| c.url(&format!("/v2/images/{id}/actions/{a}"));
    let r =
        c.s.call(c.s.req(Method::POST, &action("deactivate"), &member))
            .await;
    assert_glance_error(&r, 400);
    c.upload(&member, &id, pattern(512)).await;
    for _ in 0..2 {
        let r =
            c.s.call(c.s.req(Method::POST, &action("deactivate"), &member))
                .await;
        assert_eq!(r.status, 204, "{}", r.body);
    }
    assert_eq!(c.show(&member, &id).await.body["status"], "deactivated");
    assert_glance_error(
        &c.s.get(&c.url(&format!("/v2/images/{id}/file")), &member)
            .await,
        403,
    );
    let r =
        c.s.call(c.s.req(Method::POST, &action("reactivate"), &member))
            .await;
    assert_eq!(r.status, 204);
    assert_eq!(c.download(&member, &id).await.2, pattern(512));
}

#[tokio::test]
async fn an_upload_interrupted_by_a_restart_can_be_retried() {
    use ferrostack_store::image::ImageStore;
    let c = Images::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let id = c.create(&member, image_body("r", "raw")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // As if the process died mid-upload.
    c.s.store
        .transition_status(&id, &["queued"], "saving", 1)
        .unwrap();
    assert_glance_error(&c.upload(&member, &id, pattern(512)).await, 409);
    assert_eq!(
        ferrostack_image::recover_interrupted_uploads(&c.s.store, &c.s.store, &c.s.store, true)
            .unwrap(),
        1
    );
    assert_eq!(c.upload(&member, &id, pattern(512)).await.status, 204);
}

#[tokio::test]
async fn the_qemu_img_check_refuses_an_upload_it_disagrees_with() {
    let info: ferrostack_image_inspect::QemuImgInfo =
        serde_json::from_value(serde_json::json!({"format": "raw", "virtual-size": 1})).unwrap();
    let prober: ferrostack_image::Prober =
        std::sync::Arc::new(ferrostack_image_inspect::FixedProber { info });
    let c = Images::start_full(
        ferrostack_image::DEFAULT_MAX_IMAGE_SIZE,
        Default::default(),
        Some(prober),
    )
    .await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let id = c.create(&member, image_body("x", "raw")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = c.upload(&member, &id, pattern(4096)).await;
    assert!(
        assert_glance_error(&r, 400).contains("virtual size"),
        "{}",
        r.body
    );
    assert_eq!(c.show(&member, &id).await.body["status"], "queued");
}

#[tokio::test]
async fn qemu_imgs_sector_rounding_of_a_raw_image_is_not_a_disagreement() {
    // qemu-img reports 4097 raw bytes as 4608 (nine 512-byte sectors).
    let info: ferrostack_image_inspect::QemuImgInfo =
        serde_json::from_value(serde_json::json!({"format": "raw", "virtual-size": 4608})).unwrap();
    let prober: ferrostack_image::Prober =
        std::sync::Arc::new(ferrostack_image_inspect::FixedProber { info });
    let c = Images::start_full(
        ferrostack_image::DEFAULT_MAX_IMAGE_SIZE,
        Default::default(),
        Some(prober),
    )
    .await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let id = c.create(&member, image_body("x", "raw")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(c.upload(&member, &id, pattern(4097)).await.status, 204);
    assert_eq!(c.show(&member, &id).await.body["virtual_size"], 4097);
}

#[tokio::test]
async fn an_upload_the_qemu_img_check_agrees_with_is_accepted() {
    let prober: ferrostack_image::Prober =
        std::sync::Arc::new(ferrostack_image_inspect::FakeQemuImg);
    let c = Images::start_full(
        ferrostack_image::DEFAULT_MAX_IMAGE_SIZE,
        Default::default(),
        Some(prober),
    )
    .await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let id = c.create(&member, image_body("x", "raw")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(c.upload(&member, &id, pattern(4096)).await.status, 204);
    assert_eq!(c.show(&member, &id).await.body["status"], "active");
}

#[tokio::test]
async fn parallel_uploads_cannot_together_pass_the_total_size_quota() {
    const MIB: usize = 1 << 20;
    let quotas = ferrostack_image::ImageQuotas {
        image_count_total: None,
        image_size_total: Some(10 * MIB as u64),
    };
    let c = Images::start_with(ferrostack_image::DEFAULT_MAX_IMAGE_SIZE, quotas).await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let mut ids = Vec::new();
    for i in 0..8 {
        let image = c.create(&member, image_body(&format!("p{i}"), "raw")).await;
        ids.push(image["id"].as_str().unwrap().to_string());
    }
    let replies = futures_util::future::join_all(
        ids.iter().map(|id| c.upload(&member, id, pattern(4 * MIB))),
    )
    .await;
    let mut active = 0;
    for (id, r) in ids.iter().zip(&replies) {
        if r.status == 204 {
            active += 1;
            assert_eq!(c.show(&member, id).await.body["status"], "active");
        } else {
            let message = assert_glance_error(r, 413);
            assert!(message.contains("image_size_total"), "{message}");
            assert_eq!(c.show(&member, id).await.body["status"], "queued");
        }
    }
    assert_eq!(active, 2, "two 4 MiB images fit in 10 MiB, not more");
    let stored: Vec<_> = std::fs::read_dir(c.data_dir.path().join("images"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        stored.len(),
        2,
        "only the accepted images have data: {stored:?}"
    );
}

/// PUT `data` as image data with no Content-Length (chunked, 1 MiB
/// chunks), as a client streaming from a pipe does; returns the status.
async fn upload_chunked(c: &Images, token: &str, id: &str, data: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = c.root.trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PUT /v2/images/{id}/file HTTP/1.1\r\nHost: {addr}\r\nX-Auth-Token: {token}\r\n\
         Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    for chunk in data.chunks(1 << 20) {
        let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
        frame.extend_from_slice(chunk);
        frame.extend_from_slice(b"\r\n");
        // Refused mid-stream, the server may stop reading: that is fine.
        if conn.write_all(&frame).await.is_err() {
            break;
        }
    }
    let _ = conn.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {answer}"))
}

#[tokio::test]
async fn a_chunked_upload_reserves_as_it_goes_and_stops_at_the_quota() {
    const MIB: usize = 1 << 20;
    let quotas = ferrostack_image::ImageQuotas {
        image_count_total: None,
        image_size_total: Some(10 * MIB as u64),
    };
    let c = Images::start_with(ferrostack_image::DEFAULT_MAX_IMAGE_SIZE, quotas).await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let image = c.create(&member, image_body(&format!("c{i}"), "raw")).await;
        ids.push(image["id"].as_str().unwrap().to_string());
    }
    assert_eq!(
        upload_chunked(&c, &member, &ids[0], &pattern(4 * MIB)).await,
        204
    );
    // 8 MiB more do not fit in the 6 MiB left: refused once past them.
    assert_eq!(
        upload_chunked(&c, &member, &ids[1], &pattern(8 * MIB)).await,
        413
    );
    assert_eq!(c.show(&member, &ids[1]).await.body["status"], "queued");
    // 6 MiB do fit, although a whole reservation slice would not.
    assert_eq!(
        upload_chunked(&c, &member, &ids[2], &pattern(6 * MIB)).await,
        204
    );
    assert_eq!(c.show(&member, &ids[2]).await.body["size"], 6 * MIB);
}

#[tokio::test]
async fn an_upload_a_live_controller_runs_is_left_alone_until_that_controller_stops() {
    use ferrostack_store::controller::ControllerStore;
    use ferrostack_store::image::ImageStore;
    use std::time::Duration;
    let c = Images::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let id = c.create(&member, image_body("r", "raw")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let store = &c.s.store;
    let long = Duration::from_secs(60);
    // Another controller records an upload into the image and is streaming it.
    store
        .register_controller("ctl-other", "other-1", "elsewhere", long)
        .unwrap();
    ferrostack_image::uploads::begin(store, &id).unwrap();
    store
        .transition_status(&id, &["queued"], "saving", 1)
        .unwrap();
    // This controller starts (its own incarnation) and recovers: not its business.
    store
        .register_controller("ctl-me", "me-1", "here", long)
        .unwrap();
    let recover = || ferrostack_image::recover_interrupted_uploads(store, store, store, true);
    assert_eq!(recover().unwrap(), 0);
    assert_eq!(store.get_image(&id).unwrap().unwrap().status, "saving");
    // The other controller stops: its upload is queued again, once.
    store.retire_controller("ctl-other", "other-1").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut requeued = 0;
    while requeued == 0 && std::time::Instant::now() < deadline {
        requeued = recover().unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(requeued, 1);
    assert_eq!(recover().unwrap(), 0);
    assert_eq!(c.upload(&member, &id, pattern(512)).await.status, 204);
}
