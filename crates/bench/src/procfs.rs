//! What the servers benchmark reads from `/proc`: when a QEMU process
//! appears, and how much CPU a process has used.
//!
//! Both come from the kernel rather than from ferrostack's own logs or
//! APIs, so the figures do not depend on what the code under test chooses
//! to report: a process's start is seen from outside, and CPU time is the
//! one figure that other load on a shared machine barely changes.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// User plus system CPU time of process `pid`, from `/proc/<pid>/stat`
/// (fields 14 and 15, in clock ticks of 1/100 s, Linux's USER_HZ).
pub fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields restart after ')'.
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// CPU time of process `root` and its children: their user plus system
/// time, and what `root` has reaped of children that exited (fields 16
/// and 17). For a server that forks a process per connection, such as
/// PostgreSQL's postmaster.
pub fn process_tree_cpu(root: u32) -> Option<Duration> {
    let ticks = |pid: u32, fields: std::ops::Range<usize>| -> Option<(u32, u64)> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        // `rest[0]` is field 3 (state), so field k is rest[k - 3].
        let ppid = rest.get(1)?.parse().ok()?;
        let sum = fields
            .map(|k| rest.get(k - 3)?.parse::<u64>().ok())
            .sum::<Option<u64>>()?;
        Some((ppid, sum))
    };
    let (_, mut total) = ticks(root, 14..18)?;
    for pid in pids().filter(|&p| p != root) {
        if let Some((ppid, own)) = ticks(pid, 14..16) {
            if ppid == root {
                total += own;
            }
        }
    }
    Some(Duration::from_millis(total * 10))
}

/// Watches /proc from a thread (every ~2 ms) for `qemu-system-*` processes
/// that were not there when it started, noting when each was first seen.
///
/// Only new pids are read (a fork of the agent shows the agent's command
/// line until it execs QEMU, so a new pid is re-read until it is QEMU),
/// which keeps a poll to one directory listing and a few small reads.
pub struct ProcWatch {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(String, Instant)>>,
}

impl ProcWatch {
    const INTERVAL: Duration = Duration::from_millis(2);

    pub fn start() -> ProcWatch {
        let before: HashSet<u32> = pids().collect();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut found: HashMap<u32, (String, Instant)> = HashMap::new();
            while !flag.load(Ordering::Relaxed) {
                let new: Vec<u32> = pids()
                    .filter(|p| !before.contains(p) && !found.contains_key(p))
                    .collect();
                for pid in new {
                    let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                        continue;
                    };
                    if let Some(cmdline) = qemu_cmdline(&raw) {
                        found.insert(pid, (cmdline, Instant::now()));
                    }
                }
                std::thread::sleep(Self::INTERVAL);
            }
            found.into_values().collect()
        });
        ProcWatch { stop, thread }
    }

    pub fn stop(self) -> Vec<(String, Instant)> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// The command line (spaces for NULs) of a `/proc/<pid>/cmdline` whose
/// program is `qemu-system-*`; `None` for anything else (`qemu-img` too).
fn qemu_cmdline(raw: &[u8]) -> Option<String> {
    let argv0 = raw.split(|&b| b == 0).next().unwrap_or_default();
    let program = String::from_utf8_lossy(argv0);
    let base = program.rsplit('/').next().unwrap_or_default();
    base.starts_with("qemu-system").then(|| {
        String::from_utf8_lossy(raw)
            .trim_end_matches('\0')
            .replace('\0', " ")
    })
}

fn pids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_cpu_reads_this_process() {
        assert!(process_cpu(std::process::id()).is_some());
        assert!(process_cpu(u32::MAX).is_none());
    }

    #[test]
    fn process_tree_cpu_counts_this_process_and_fails_for_none() {
        let own = process_cpu(std::process::id()).unwrap();
        let tree = process_tree_cpu(std::process::id()).unwrap();
        assert!(tree >= own);
        assert!(process_tree_cpu(u32::MAX).is_none());
    }

    #[test]
    fn only_qemu_system_counts_as_qemu() {
        let raw = b"/usr/bin/qemu-system-x86_64\0-uuid\0abc\0";
        assert_eq!(
            qemu_cmdline(raw).as_deref(),
            Some("/usr/bin/qemu-system-x86_64 -uuid abc")
        );
        assert!(qemu_cmdline(b"qemu-img\0create\0abc/disk.qcow2\0").is_none());
        assert!(qemu_cmdline(b"ferrostack\0allinone\0").is_none());
        assert!(qemu_cmdline(b"").is_none());
    }

    #[test]
    fn proc_watch_stops_and_ignores_other_processes() {
        let watch = ProcWatch::start();
        let mut child = std::process::Command::new("sleep")
            .arg("0.05")
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let seen = watch.stop();
        let _ = child.wait();
        assert!(seen
            .iter()
            .all(|(cmdline, _)| cmdline.contains("qemu-system")));
    }
}
