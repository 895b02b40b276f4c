//! Backups through the HTTP API over the real local backend and backup
//! store (qcow2 files and chunk files in a temporary directory, written
//! and compared with qemu-io and qemu-img): a full backup, a change, an
//! incremental one that stores only the change, restores byte-identical
//! to the volume at each backup's time (to a new and to an existing
//! volume), delete in order, quota, another project's 404.
//!
//! Needs qemu-img and qemu-io; skips loudly without them.

#![allow(clippy::unwrap_used)]

use ferrostack_testkit::{Reply, Served};
use ferrostack_volume::backend::VolumeBackend;
use ferrostack_volume::backup::BackupStore;
use ferrostack_volume::local::LocalBackend;
use reqwest::Method;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct World {
    v: Served,
    backend: Arc<LocalBackend>,
    member: String,
    dir: tempfile::TempDir,
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok()
}

async fn world() -> Option<World> {
    if !have("qemu-img") || !have("qemu-io") {
        eprintln!("SKIP: qemu-img and qemu-io are needed (Debian's qemu-utils)");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let backend =
        Arc::new(LocalBackend::open("local", "storage1", dir.path().join("volumes")).unwrap());
    let store = Arc::new(BackupStore::open(dir.path().join("backups")).unwrap());
    let b = backend.clone();
    let v = Served::start("/v3", |s, public_url| {
        ferrostack_volume::router(ferrostack_volume::VolumeConfig {
            public_url,
            validator: s.validator(),
            quotas: s.quotas.clone(),
            projects: s.projects.clone(),
            store: Arc::new(s.store.clone()),
            backends: vec![b as Arc<dyn VolumeBackend>],
            images: Arc::new(ferrostack_volume::hooks::NoImages),
            events: Arc::new(ferrostack_volume::hooks::NoEvents),
            availability_zone: "nova".into(),
            host: "controller".into(),
            backup_store: Some(store),
        })
    })
    .await;
    let member = v.s.user_token("alice", &v.project, "member").await;
    Some(World {
        v,
        backend,
        member,
        dir,
    })
}

fn run(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl World {
    async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Reply {
        let mut rb = self
            .v
            .s
            .req(method, &self.v.url(path), token)
            .header("OpenStack-API-Version", "volume 3.64");
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        self.v.s.call(rb).await
    }

    async fn until(&self, path: &str, key: &str, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let r = self.call(Method::GET, path, &self.member, None).await;
            assert_eq!(r.status, 200, "{path}: {}", r.body);
            let got = &r.body[key];
            if got["status"] == status {
                return got.clone();
            }
            assert!(
                Instant::now() < deadline,
                "{path} never became {status}: {got}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn volume(&self, size: u64) -> String {
        let r = self
            .call(
                Method::POST,
                "/volumes",
                &self.member,
                Some(json!({"volume": {"size": size}})),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.body);
        let id = r.body["volume"]["id"].as_str().unwrap().to_string();
        self.until(&format!("/volumes/{id}"), "volume", "available")
            .await;
        id
    }

    async fn backup(&self, volume: &str, incremental: bool) -> Value {
        let body = json!({"backup": {"volume_id": volume, "incremental": incremental}});
        let r = self
            .call(Method::POST, "/backups", &self.member, Some(body))
            .await;
        assert_eq!(r.status, 202, "{}", r.body);
        let id = r.body["backup"]["id"].as_str().unwrap().to_string();
        let b = self
            .until(&format!("/backups/{id}"), "backup", "available")
            .await;
        self.until(&format!("/volumes/{volume}"), "volume", "available")
            .await;
        b
    }

    fn path(&self, volume: &str) -> String {
        self.backend
            .volume_path(volume)
            .to_string_lossy()
            .into_owned()
    }

    fn write(&self, volume: &str, pattern: u8, offset_mib: u64) {
        let cmd = format!("write -P {pattern} {offset_mib}M 1M");
        run(&["qemu-io", "-f", "qcow2", "-c", &cmd, &self.path(volume)]);
    }

    /// The volume's data now, as a raw file.
    fn snapshot_raw(&self, volume: &str, name: &str) -> PathBuf {
        let out = self.dir.path().join(name);
        run(&[
            "qemu-img",
            "convert",
            "-O",
            "raw",
            &self.path(volume),
            &out.to_string_lossy(),
        ]);
        out
    }

    fn same(&self, volume: &str, reference: &Path) -> bool {
        Command::new("qemu-img")
            .args(["compare", "-f", "qcow2", "-F", "raw"])
            .arg(self.path(volume))
            .arg(reference)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap()
            .success()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_backups_store_the_change_and_restore_byte_identical() {
    let Some(w) = world().await else { return };
    let vol = w.volume(1).await;
    w.write(&vol, 0xab, 0);
    let at_full = w.snapshot_raw(&vol, "full.raw");
    let full = w.backup(&vol, false).await;
    assert_eq!(full["is_incremental"], false);
    assert_eq!(full["size"], 1);
    let full_id = full["id"].as_str().unwrap().to_string();

    w.write(&vol, 0xcd, 8);
    let at_inc = w.snapshot_raw(&vol, "inc.raw");
    let inc = w.backup(&vol, true).await;
    assert_eq!(inc["is_incremental"], true);
    let inc_id = inc["id"].as_str().unwrap().to_string();
    let (full_chunks, inc_chunks) = (
        full["object_count"].as_u64().unwrap(),
        inc["object_count"].as_u64().unwrap(),
    );
    assert!(
        inc_chunks >= 1 && inc_chunks < full_chunks.max(2),
        "the increment stored {inc_chunks} chunks, the full backup {full_chunks}"
    );
    let shown = w
        .call(Method::GET, &format!("/backups/{full_id}"), &w.member, None)
        .await;
    assert_eq!(shown.body["backup"]["has_dependent_backups"], true);

    // The full backup has an increment on it: not deleted.
    let r = w
        .call(
            Method::DELETE,
            &format!("/backups/{full_id}"),
            &w.member,
            None,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.to_string().contains("Incremental backups exist"));

    // Restore the increment to a new volume: the data at its time.
    let r = w
        .call(
            Method::POST,
            &format!("/backups/{inc_id}/restore"),
            &w.member,
            Some(json!({"restore": {"name": "back"}})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["restore"]["backup_id"], inc_id.as_str());
    let restored = r.body["restore"]["volume_id"].as_str().unwrap().to_string();
    w.until(&format!("/volumes/{restored}"), "volume", "available")
        .await;
    assert!(
        w.same(&restored, &at_inc),
        "the restore differs from the volume at backup time"
    );

    // Restore the full backup over the original: the older data.
    let r = w
        .call(
            Method::POST,
            &format!("/backups/{full_id}/restore"),
            &w.member,
            Some(json!({"restore": {"volume_id": vol}})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    w.until(&format!("/volumes/{vol}"), "volume", "available")
        .await;
    assert!(
        w.same(&vol, &at_full),
        "the restore over the volume differs from its full backup"
    );
    w.until(&format!("/backups/{full_id}"), "backup", "available")
        .await;

    // Quota counts both; another project sees neither.
    let usage =
        w.v.s
            .quotas
            .usage(&ferrostack_quota::VOLUME, &w.v.project)
            .unwrap();
    assert_eq!((usage["backups"], usage["backup_gigabytes"]), (2, 2));
    let elsewhere = w.v.s.project("elsewhere");
    let stranger = w.v.s.user_token("mallory", &elsewhere, "member").await;
    let r = w
        .call(Method::GET, &format!("/backups/{inc_id}"), &stranger, None)
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = w
        .call(
            Method::DELETE,
            &format!("/backups/{inc_id}"),
            &stranger,
            None,
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);

    // Newest first: both go, and their quota with them.
    for id in [&inc_id, &full_id] {
        let r = w
            .call(Method::DELETE, &format!("/backups/{id}"), &w.member, None)
            .await;
        assert_eq!(r.status, 202, "{}", r.body);
        let deadline = Instant::now() + Duration::from_secs(30);
        while w
            .call(Method::GET, &format!("/backups/{id}"), &w.member, None)
            .await
            .status
            != 404
        {
            assert!(Instant::now() < deadline, "backup {id} never went");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let list = w.call(Method::GET, "/backups", &w.member, None).await;
    assert_eq!(list.body["backups"], json!([]));
    let usage =
        w.v.s
            .quotas
            .usage(&ferrostack_quota::VOLUME, &w.v.project)
            .unwrap();
    assert_eq!(usage["backups"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_backups_create_nothing() {
    let Some(w) = world().await else { return };
    // No earlier backup: an incremental one is refused.
    let vol = w.volume(1).await;
    let r = w
        .call(
            Method::POST,
            "/backups",
            &w.member,
            Some(json!({"backup": {"volume_id": vol, "incremental": true}})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.to_string().contains("No backups available"));
    // Another project's volume, and a missing one: 404.
    let elsewhere = w.v.s.project("elsewhere");
    let stranger = w.v.s.user_token("mallory", &elsewhere, "member").await;
    let r = w
        .call(
            Method::POST,
            "/backups",
            &stranger,
            Some(json!({"backup": {"volume_id": vol}})),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    // Over the backups quota: 413, nothing made.
    let admin = w.v.s.admin_token().await;
    let r = w
        .call(
            Method::PUT,
            &format!("/os-quota-sets/{}", w.v.project),
            &admin,
            Some(json!({"quota_set": {"backups": 0}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = w
        .call(
            Method::POST,
            "/backups",
            &w.member,
            Some(json!({"backup": {"volume_id": vol}})),
        )
        .await;
    assert_eq!(r.status, 413, "{}", r.body);
    let list = w
        .call(Method::GET, "/backups/detail", &w.member, None)
        .await;
    assert_eq!(list.body["backups"], json!([]));
    let v = w
        .call(Method::GET, &format!("/volumes/{vol}"), &w.member, None)
        .await;
    assert_eq!(v.body["volume"]["status"], "available");
}
