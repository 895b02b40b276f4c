//! Scheduling throughput: schedules per second across many fake hosts, with
//! the in-memory and the SQLite placement store, at 1 and 8 threads.
//!
//! ```text
//! cargo run --release -p ferrostack-scheduler --example throughput -- [hosts] [requests]
//! ```
//!
//! Each request is one instance of a 1 vCPU / 512 MiB / 1 GiB flavor; hosts
//! have room for all of them, so every request is a full snapshot, filter,
//! weigh and claim. Figures are for comparison between changes on one
//! machine, not absolute.

use ferrostack_scheduler::{
    FlavorResources, HostInfo, HostResources, InventoryConfig, RequestSpec, ScheduleError,
    Scheduler, SchedulerConfig,
};
use ferrostack_store::placement::{MemoryPlacement, PlacementStore};
use ferrostack_store::SqliteStore;
use std::sync::Arc;
use std::time::Instant;

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn run(label: &str, store: Arc<dyn PlacementStore>, hosts: usize, requests: usize, threads: usize) {
    let cfg = InventoryConfig::default();
    let infos: Vec<HostInfo> = (0..hosts)
        .map(|i| {
            let name = format!("host{i:05}");
            let inventories = cfg.inventories(HostResources {
                vcpus: 64,
                memory_mb: 512 * 1024,
                disk_gb: 10_000,
            });
            if let Err(e) = store.put_provider(&name, &inventories, None) {
                panic!("cannot add {name}: {e}");
            }
            HostInfo::new(name)
        })
        .collect();
    let scheduler = Arc::new(Scheduler::new(store, SchedulerConfig::default()));
    let infos = Arc::new(infos);
    let per_thread = requests / threads;
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (scheduler, infos) = (scheduler.clone(), infos.clone());
            std::thread::spawn(move || {
                let mut retries = 0usize;
                for i in 0..per_thread {
                    let spec = RequestSpec::new(
                        format!("{t}-{i}"),
                        FlavorResources {
                            vcpus: 1,
                            memory_mb: 512,
                            disk_gb: 1,
                        },
                    );
                    loop {
                        match scheduler.schedule(&spec, &infos) {
                            Ok(_) => break,
                            Err(ScheduleError::ClaimRetriesExhausted { .. }) => retries += 1,
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
                retries
            })
        })
        .collect();
    let retries: usize = workers
        .into_iter()
        .map(|w| w.join().unwrap_or_else(|_| panic!("worker panicked")))
        .sum();
    let elapsed = start.elapsed().as_secs_f64();
    let done = per_thread * threads;
    println!(
        "{label:<8} {hosts:>6} {threads:>8} {done:>9} {:>12.0} {retries:>8}",
        done as f64 / elapsed
    );
}

fn main() {
    let hosts = arg(1, 1000);
    let requests = arg(2, 2000);
    println!(
        "{:<8} {:>6} {:>8} {:>9} {:>12} {:>8}",
        "store", "hosts", "threads", "requests", "schedules/s", "retries"
    );
    for threads in [1, 8] {
        run(
            "memory",
            Arc::new(MemoryPlacement::new()),
            hosts,
            requests,
            threads,
        );
    }
    for threads in [1, 8] {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let store =
            SqliteStore::open(&dir.path().join("bench.db")).unwrap_or_else(|e| panic!("open: {e}"));
        run("sqlite", Arc::new(store), hosts, requests, threads);
    }
}
