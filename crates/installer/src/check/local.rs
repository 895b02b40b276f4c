//! [`HostFacts`] for the machine we run on: `/proc`, `/sys`, the
//! resolver, a TCP bind per port, and a few programs (`chronyc`,
//! `timedatectl`, `ip`, `df`).
//!
//! Programs are asked in their stable, script-friendly forms (`chronyc
//! -n tracking`, `timedatectl show`, `ip -o addr`, `df --output`); their
//! output is parsed by small pure functions tested below. KVM is judged by
//! the hypervisor crate's own probe, so `check` and the agent cannot
//! disagree about whether guests get KVM.

use super::facts::{DiskSpace, HostFacts, KvmFacts, KvmProbe, Memory, TimeService, TimeSync};
use ferrostack_hypervisor::{Accelerator, QemuConfig, QemuHypervisor};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The local host.
#[derive(Debug, Clone, Default)]
pub struct LocalHostFacts {
    /// Skip the KVM probe guest (it takes up to a few seconds).
    pub skip_kvm_probe: bool,
}

/// Runs a program; its stdout, or a one-line reason it failed.
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().next().unwrap_or("").trim();
        Err(format!(
            "`{program} {}` failed ({}): {first}",
            args.join(" "),
            out.status
        ))
    }
}

/// chrony's `tracking` output: (synchronized, reference, offset seconds).
pub(crate) fn parse_chrony_tracking(text: &str) -> (bool, Option<String>, Option<f64>) {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.split_once(':').filter(|(k, _)| k.trim() == name))
            .map(|(_, v)| v.trim().to_string())
    };
    let synced = field("Leap status").is_some_and(|s| s != "Not synchronised");
    let reference = field("Reference ID").and_then(|r| {
        let inner = r.split_once('(')?.1.trim_end_matches(')').to_string();
        Some(inner)
    });
    let offset = field("System time").and_then(|t| {
        let mut words = t.split_whitespace();
        let n: f64 = words.next()?.parse().ok()?;
        words.next();
        match words.next()? {
            "slow" => Some(-n),
            _ => Some(n),
        }
    });
    (synced, reference, offset)
}

/// The `^*` (selected) line of `chronyc sources`, if any.
pub(crate) fn chrony_selected(sources: &str) -> Option<&str> {
    sources
        .lines()
        .find(|l| l.len() > 2 && l.as_bytes()[1] == b'*')
        .map(str::trim)
}

/// `timedatectl timesync-status`'s `Offset: +1.234ms`, in seconds.
pub(crate) fn parse_timesyncd_offset(text: &str) -> Option<f64> {
    let v = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Offset:"))?
        .trim();
    let split = v.find(|c: char| c.is_ascii_alphabetic() || c == 'µ')?;
    let n: f64 = v[..split].trim_start_matches('+').parse().ok()?;
    Some(match &v[split..] {
        "us" | "µs" => n / 1e6,
        "ms" => n / 1e3,
        "min" => n * 60.0,
        _ => n,
    })
}

fn chrony() -> Result<TimeSync, String> {
    let tracking = run("chronyc", &["-n", "tracking"])?;
    let (leap_ok, reference, offset) = parse_chrony_tracking(&tracking);
    let sources = run("chronyc", &["-n", "sources"]).unwrap_or_default();
    let selected = chrony_selected(&sources);
    let evidence = match selected {
        Some(line) => format!("chronyc sources: {line}"),
        None => "chronyc sources: no source marked '*'".to_string(),
    };
    Ok(TimeSync {
        service: Some(TimeService::Chrony),
        synchronized: leap_ok && selected.is_some(),
        source: selected
            .and_then(|l| l.split_whitespace().nth(1).map(String::from))
            .or(reference),
        offset_seconds: offset,
        evidence,
    })
}

fn timesyncd() -> Result<TimeSync, String> {
    let show = run("timedatectl", &["show"])?;
    let prop = |k: &str| {
        show.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .unwrap_or("")
            .to_string()
    };
    let synced = prop("NTPSynchronized") == "yes";
    let status = run("timedatectl", &["timesync-status"]).unwrap_or_default();
    let server = status
        .lines()
        .find_map(|l| l.trim().strip_prefix("Server:"))
        .map(|s| s.trim().to_string());
    Ok(TimeSync {
        service: Some(TimeService::Timesyncd),
        synchronized: synced,
        source: server,
        offset_seconds: parse_timesyncd_offset(&status),
        evidence: format!(
            "timedatectl show: NTP={} NTPSynchronized={}",
            prop("NTP"),
            prop("NTPSynchronized")
        ),
    })
}

/// `/proc/meminfo` -> MemTotal, MemAvailable.
pub(crate) fn parse_meminfo(text: &str) -> Option<Memory> {
    let kib = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
            .map(|k| k * 1024)
    };
    Some(Memory {
        total: kib("MemTotal:")?,
        available: kib("MemAvailable:")?,
    })
}

/// `ip -o addr` lines -> addresses.
pub(crate) fn parse_ip_addr(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            w.find(|t| *t == "inet" || *t == "inet6")?;
            w.next()?.split('/').next()?.parse().ok()
        })
        .collect()
}

impl HostFacts for LocalHostFacts {
    fn hostname(&self) -> String {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "localhost".into())
    }

    fn addresses(&self) -> Vec<IpAddr> {
        let mut addrs = run("ip", &["-o", "addr", "show"])
            .map(|t| parse_ip_addr(&t))
            .unwrap_or_default();
        if !addrs.iter().any(IpAddr::is_loopback) {
            addrs.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        addrs
    }

    fn time_sync(&self) -> TimeSync {
        let chrony_err = match chrony() {
            Ok(t) => return t,
            Err(e) => e,
        };
        match timesyncd() {
            Ok(t) => t,
            Err(e) => TimeSync {
                service: None,
                synchronized: false,
                source: None,
                offset_seconds: None,
                evidence: format!("{chrony_err}; {e}"),
            },
        }
    }

    fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        (name, 0)
            .to_socket_addrs()
            .map(|it| {
                let mut v: Vec<IpAddr> = it.map(|a| a.ip()).collect();
                v.dedup();
                v
            })
            .map_err(|e| format!("{name}: {e}"))
    }

    fn resolv_conf(&self) -> Result<String, String> {
        std::fs::read_to_string("/etc/resolv.conf").map_err(|e| format!("/etc/resolv.conf: {e}"))
    }

    fn memory(&self) -> Option<Memory> {
        parse_meminfo(&std::fs::read_to_string("/proc/meminfo").ok()?)
    }

    fn disk_space(&self, path: &Path) -> Result<DiskSpace, String> {
        let measured = path
            .ancestors()
            .find(|p| p.exists())
            .unwrap_or(Path::new("/"))
            .to_path_buf();
        let p = measured.to_string_lossy().into_owned();
        let out = run("df", &["-B1", "--output=avail", &p])?;
        let available = out
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .ok_or_else(|| format!("unexpected `df` output: {}", out.trim()))?;
        Ok(DiskSpace {
            measured,
            available,
        })
    }

    fn cpu_flags(&self) -> Vec<String> {
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("flags"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, f)| f.split_whitespace().map(String::from).collect())
            })
            .unwrap_or_default()
    }

    fn kvm(&self) -> KvmFacts {
        let device = Path::new("/dev/kvm").exists();
        let probe = if !device {
            KvmProbe::NotRun("/dev/kvm does not exist".into())
        } else if self.skip_kvm_probe {
            KvmProbe::NotRun("skipped (--no-kvm-probe)".into())
        } else if self.program("qemu-system-x86_64").is_none() {
            KvmProbe::NotRun("qemu-system-x86_64 is not installed".into())
        } else {
            probe_kvm()
        };
        KvmFacts { device, probe }
    }

    fn program(&self, name: &str) -> Option<PathBuf> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    }

    fn kernel_config(&self) -> Result<String, String> {
        if Path::new("/proc/config.gz").exists() {
            let out = Command::new("gzip")
                .args(["-dc", "/proc/config.gz"])
                .output()
                .map_err(|e| format!("cannot run gzip to read /proc/config.gz: {e}"))?;
            if out.status.success() {
                return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
            }
        }
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_err(|e| format!("cannot read the kernel release: {e}"))?;
        let path = format!("/boot/config-{}", release.trim());
        std::fs::read_to_string(&path)
            .map_err(|e| format!("neither /proc/config.gz nor {path} can be read: {e}"))
    }

    fn module_loaded(&self, name: &str) -> bool {
        Path::new("/sys/module").join(name).exists()
    }

    fn modules_loadable(&self) -> bool {
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|r| {
                Path::new("/lib/modules")
                    .join(r.trim())
                    .join("modules.dep")
                    .exists()
            })
            .unwrap_or(false)
    }

    fn interfaces(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir("/sys/class/net")
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    fn port_free(&self, port: u16) -> Result<(), String> {
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
        TcpListener::bind(addr)
            .map(drop)
            .map_err(|e| format!("bind {addr}: {e}"))
    }

    fn answers(&self, addr: IpAddr, port: u16) -> Result<(), String> {
        let target = SocketAddr::new(addr, port);
        match std::net::TcpStream::connect_timeout(&target, std::time::Duration::from_secs(2)) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Ok(()),
            Err(e) => Err(format!("TCP {target}: {e}")),
        }
    }

    fn port_holder(&self, port: u16) -> Option<(String, u32)> {
        let inodes: Vec<u64> = ["/proc/net/tcp", "/proc/net/tcp6"]
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .flat_map(|text| listening_inodes(&text, port))
            .collect();
        if inodes.is_empty() {
            return None;
        }
        let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
        for proc_entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Ok(pid) = proc_entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(fds) = std::fs::read_dir(proc_entry.path().join("fd")) else {
                continue;
            };
            let holds = fds.flatten().any(|fd| {
                std::fs::read_link(fd.path())
                    .is_ok_and(|target| wanted.iter().any(|w| target.as_os_str() == w.as_str()))
            });
            if holds {
                let comm = std::fs::read_to_string(proc_entry.path().join("comm")).ok()?;
                return Some((comm.trim().to_string(), pid));
            }
        }
        None
    }
}

/// The socket inodes of `/proc/net/tcp{,6}` lines that listen (state
/// 0A) on local `port`.
pub(crate) fn listening_inodes(text: &str, port: u16) -> Vec<u64> {
    let port_hex = format!("{port:04X}");
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local = fields.get(1)?;
            let (_, local_port) = local.rsplit_once(':')?;
            (local_port == port_hex && *fields.get(3)? == "0A")
                .then(|| fields.get(9)?.parse().ok())
                .flatten()
        })
        .collect()
}

/// The hypervisor crate's probe, in a throw-away state directory.
fn probe_kvm() -> KvmProbe {
    let dir = match tempfile::Builder::new().prefix("fs-kvm").tempdir() {
        Ok(d) => d,
        Err(e) => return KvmProbe::NotRun(format!("no temporary directory: {e}")),
    };
    let hv = match QemuHypervisor::new(QemuConfig::new(dir.path())) {
        Ok(hv) => hv,
        Err(e) => return KvmProbe::NotRun(e.to_string()),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return KvmProbe::NotRun(format!("no async runtime: {e}")),
    };
    match runtime.block_on(hv.accelerator()) {
        Accelerator::Kvm => KvmProbe::RanGuest,
        Accelerator::Tcg => KvmProbe::NoGuest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_inodes_come_from_listen_lines_of_the_port_only() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1388 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1388 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 20 4 30 10 -1
   2: 00000000:2242 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 100 0 0 10 0
";
        assert_eq!(listening_inodes(text, 5000), vec![4242]);
        assert_eq!(listening_inodes(text, 8770), vec![4444]);
        assert!(listening_inodes(text, 22).is_empty());
    }

    #[test]
    fn chrony_tracking_synchronized_and_offset() {
        let t = "Reference ID    : C0A801FE (192.168.1.254)\nStratum         : 4\nSystem time     : 0.000031000 seconds slow of NTP time\nLeap status     : Normal\n";
        let (ok, r, off) = parse_chrony_tracking(t);
        assert!(ok);
        assert_eq!(r.as_deref(), Some("192.168.1.254"));
        assert_eq!(off, Some(-0.000031));
        let t = "Reference ID    : 00000000 ()\nLeap status     : Not synchronised\n";
        assert!(!parse_chrony_tracking(t).0);
    }

    #[test]
    fn chrony_sources_star() {
        let s = "MS Name/IP address Stratum Poll Reach LastRx Last sample\n===\n^? 10.0.0.1 0 6 0 - +0ns[+0ns] +/- 0ns\n^* 192.168.1.254 3 7 377 28 +31us[+89us] +/- 25ms\n";
        assert!(chrony_selected(s).is_some_and(|l| l.contains("192.168.1.254")));
        assert_eq!(chrony_selected("^? 10.0.0.1 0 6 0 -\n"), None);
    }

    #[test]
    fn timesyncd_offsets() {
        assert_eq!(parse_timesyncd_offset("  Offset: +1.500ms\n"), Some(0.0015));
        assert_eq!(parse_timesyncd_offset("Offset: -2s"), Some(-2.0));
    }

    #[test]
    fn meminfo_and_addresses() {
        let m =
            parse_meminfo("MemTotal: 2048 kB\nMemFree: 10 kB\nMemAvailable: 1024 kB\n").unwrap();
        assert_eq!((m.total, m.available), (2048 * 1024, 1024 * 1024));
        let a = parse_ip_addr(
            "1: lo    inet 127.0.0.1/8 scope host lo\n2: eth0    inet6 fe80::1/64 scope link\n",
        );
        assert_eq!(a.len(), 2);
    }
}
