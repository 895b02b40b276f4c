//! Figures of the local backend and the backup store, beside their goals.
//!
//! `cargo run --release -p ferrostack-volume --example backend_bench`
//! (needs `qemu-img`; uses about 5 GiB in a temporary directory, or in
//! `BENCH_DIR` if set).

#![allow(clippy::unwrap_used)]

use ferrostack_volume::backend::{ImageFile, VolumeBackend};
use ferrostack_volume::backup::{BackupStats, BackupStore, RestoreTarget};
use ferrostack_volume::local::LocalBackend;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[v.len() - 1])
}

fn row(what: &str, figure: String, goal: &str) {
    println!("{what:<48} {figure:<34} {goal}");
}

/// `len` bytes of pseudo-random data (xorshift) at `offset` of `path`.
fn fill_random(path: &Path, offset: u64, len: u64, seed: u64) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .unwrap();
    let mut x = seed | 1;
    let mut buf = vec![0u8; (4 * MIB) as usize];
    let mut done = 0;
    while done < len {
        for w in buf.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            w.copy_from_slice(&x.to_le_bytes());
        }
        let n = (len - done).min(buf.len() as u64) as usize;
        f.write_all_at(&buf[..n], offset + done).unwrap();
        done += n as u64;
    }
}

fn qemu_io(path: &Path, cmds: &[String]) {
    let mut c = std::process::Command::new("qemu-io");
    c.args(["-f", "qcow2"]);
    for cmd in cmds {
        c.args(["-c", cmd]);
    }
    let out = c.arg(path).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn backup_row(what: &str, d: Duration, s: &BackupStats, goal: &str) {
    row(
        what,
        format!(
            "{:>8.1} ms, read {:>5} MiB, stored {:>5.1} MiB ({} chunks)",
            ms(d),
            s.bytes_read / MIB,
            s.bytes_stored as f64 / MIB as f64,
            s.new_chunks
        ),
        goal,
    );
}

async fn store_full(store: &BackupStore, backend: &LocalBackend, backup: &str, volume: &str) {
    store
        .backup_volume(backend, backup, volume, None)
        .await
        .unwrap();
}

#[tokio::main]
async fn main() {
    if std::process::Command::new("qemu-img")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIP: qemu-img is not installed");
        return;
    }
    let dir = match std::env::var_os("BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let backend = LocalBackend::open("local", "bench", dir.path().join("volumes")).unwrap();
    let store = BackupStore::open(dir.path().join("backups")).unwrap();
    println!("{:<48} {:<34} goal", "operation", "figure");

    // Blank volumes.
    let mut t = Vec::new();
    for _ in 0..30 {
        let v = id();
        let s = Instant::now();
        backend.create_blank(&v, 10).await.unwrap();
        t.push(s.elapsed());
    }
    let (m, max) = median(t);
    row(
        "create_blank 10 GiB (median / max of 30)",
        format!("{:.1} ms / {:.1} ms", ms(m), ms(max)),
        "<= 20 ms",
    );

    // Volumes from a 1 GiB raw image holding 256 MiB of data.
    let image_path = dir.path().join("image.raw");
    std::fs::File::create(&image_path)
        .unwrap()
        .set_len(GIB)
        .unwrap();
    for i in 0..4 {
        fill_random(&image_path, i * 256 * MIB, 64 * MIB, 7 + i);
    }
    let mut first = Vec::new();
    let mut again = Vec::new();
    for _ in 0..10 {
        let image = ImageFile {
            image_id: id(),
            path: image_path.clone(),
            format: "raw".into(),
            virtual_size: GIB,
            min_disk_gib: 0,
        };
        let s = Instant::now();
        backend.create_from_image(&id(), &image, 2).await.unwrap();
        first.push(s.elapsed());
        let s = Instant::now();
        backend.create_from_image(&id(), &image, 2).await.unwrap();
        again.push(s.elapsed());
    }
    let (m, max) = median(first);
    row(
        "create_from_image 1 GiB, new image (median/max)",
        format!("{:.1} ms / {:.1} ms", ms(m), ms(max)),
        "<= 100 ms",
    );
    let (m, max) = median(again);
    row(
        "create_from_image 1 GiB, image linked already",
        format!("{:.1} ms / {:.1} ms", ms(m), ms(max)),
        "<= 100 ms",
    );

    // A 1 GiB volume full of data (distinct in every chunk).
    let v = id();
    backend.create_blank(&v, 1).await.unwrap();
    let raw = dir.path().join("fill.raw");
    fill_random(&raw, 0, GIB, 42);
    backend.write_raw(&v, &raw).await.unwrap();
    std::fs::remove_file(&raw).unwrap();

    // Snapshots of it.
    let mut t = Vec::new();
    for _ in 0..10 {
        let s = Instant::now();
        backend.create_snapshot(&id(), &v).await.unwrap();
        t.push(s.elapsed());
    }
    let (m, max) = median(t);
    row(
        "create_snapshot, 1 GiB volume (median / max)",
        format!("{:.1} ms / {:.1} ms", ms(m), ms(max)),
        "instant",
    );
    let mut t = Vec::new();
    for _ in 0..10 {
        let s = Instant::now();
        backend.create_from_volume(&id(), &v, 1).await.unwrap();
        t.push(s.elapsed());
    }
    let (m, max) = median(t);
    row(
        "create_from_volume, 1 GiB volume (median / max)",
        format!("{:.1} ms / {:.1} ms", ms(m), ms(max)),
        "-",
    );

    // Backups.
    let full = id();
    let s = Instant::now();
    let st = store
        .backup_volume(&backend, &full, &v, None)
        .await
        .unwrap();
    let full_time = s.elapsed();
    backup_row("full backup, 1 GiB of data", full_time, &st, "-");

    // 1% changed in one run: 10 MiB at 500 MiB, 1 MiB per pattern.
    let cmds: Vec<String> = (0..10)
        .map(|i| format!("write -P {} {}M 1M", i + 1, 500 + i))
        .collect();
    qemu_io(&backend.volume_path(&v), &cmds);
    let inc1 = id();
    let s = Instant::now();
    let st = store
        .backup_volume(&backend, &inc1, &v, Some(&full))
        .await
        .unwrap();
    backup_row(
        "incremental, 1% changed (10 MiB in one run)",
        s.elapsed(),
        &st,
        "~ the change, not the volume",
    );

    // 1% changed, scattered: 160 writes of 64 KiB.
    let cmds: Vec<String> = (0..160u64)
        .map(|i| {
            format!(
                "write -P {} {} 64k",
                i % 250 + 1,
                (i * 6397 % 16384) * 64 * 1024
            )
        })
        .collect();
    qemu_io(&backend.volume_path(&v), &cmds);
    let inc2 = id();
    let s = Instant::now();
    let st = store
        .backup_volume(&backend, &inc2, &v, Some(&inc1))
        .await
        .unwrap();
    backup_row(
        "incremental, 1% changed (160 x 64 KiB, scattered)",
        s.elapsed(),
        &st,
        "~ the change, not the volume",
    );

    // The same scattered 1% with 1 MiB chunks.
    let small = BackupStore::open(dir.path().join("backups-1m"))
        .unwrap()
        .with_chunk_size(MIB);
    let base = id();
    store_full(&small, &backend, &base, &v).await;
    let cmds: Vec<String> = (0..160u64)
        .map(|i| {
            format!(
                "write -P {} {} 64k",
                i % 250 + 1,
                (i * 7919 % 16384) * 64 * 1024
            )
        })
        .collect();
    qemu_io(&backend.volume_path(&v), &cmds);
    let inc3 = id();
    let s = Instant::now();
    let st = small
        .backup_volume(&backend, &inc3, &v, Some(&base))
        .await
        .unwrap();
    backup_row(
        "same, 1 MiB chunks (160 x 64 KiB, scattered)",
        s.elapsed(),
        &st,
        "~ the change, not the volume",
    );

    // Restores.
    let r = id();
    let s = Instant::now();
    let rs = store.restore_to_new(&backend, &full, &r, 1).await.unwrap();
    let d = s.elapsed();
    row(
        "restore full backup to a new volume",
        format!(
            "{:.0} ms, {:.0} MiB/s",
            ms(d),
            rs.data_bytes as f64 / MIB as f64 / d.as_secs_f64()
        ),
        "-",
    );
    let s = Instant::now();
    let rs = store.restore(&backend, &inc2, &r).await.unwrap();
    let d = s.elapsed();
    row(
        "restore incremental into an existing volume",
        format!(
            "{:.0} ms, {:.0} MiB/s",
            ms(d),
            rs.data_bytes as f64 / MIB as f64 / d.as_secs_f64()
        ),
        "-",
    );
    std::io::stdout().flush().unwrap();
}
