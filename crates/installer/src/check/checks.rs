//! The checks themselves: facts and settings in, findings out. No I/O
//! here; every observation comes from [`HostFacts`].
//!
//! Thresholds are deliberately modest: ferrostack's controller is one
//! process, so it is the guests on compute hosts that need memory and
//! disk. The seed's "Cannot allocate memory" and "bridge name typed
//! wrong" failures are what the memory and interface checks are for.

use super::facts::{HostFacts, KvmProbe, TimeService};
use super::programs::{Need, PROGRAMS};
use super::{AnswerInput, Finding};
use crate::answer::{AnswerFile, Host, HypervisorKind, Role};
use crate::diag::{did_you_mean, Severity};
use std::net::IpAddr;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Clock offsets above this WARN; above [`OFFSET_FAIL`] FAIL.
const OFFSET_WARN: f64 = 0.1;
/// Keystone tokens and TLS start failing around here.
const OFFSET_FAIL: f64 = 1.0;

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / GIB as f64)
}

fn role_names(roles: &[Role]) -> String {
    if roles.is_empty() {
        return "no role".into();
    }
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join("+")
}

/// One finding per answer-file diagnostic (errors FAIL, notes WARN).
pub(super) fn answer_file(a: AnswerInput<'_>) -> Vec<Finding> {
    let mut out: Vec<Finding> = a
        .loaded
        .diagnostics
        .iter()
        .map(|d| {
            let location = format!("{}:{}:{}", a.path, d.line, d.column);
            let f = match d.severity {
                Severity::Error => Finding::fail("answer-file", location, d.message.clone()),
                Severity::Note => Finding::warn("answer-file", location, d.message.clone()),
            };
            let fix = match (&d.help, d.severity) {
                (Some(h), _) => format!("{h} (line {}, column {})", d.line, d.column),
                (None, Severity::Error) => format!("correct line {} of {}", d.line, a.path),
                (None, Severity::Note) => "nothing to do if that is what you want".into(),
            };
            f.fix(fix)
        })
        .collect();
    if out.is_empty() {
        out.push(Finding::ok(
            "answer-file",
            a.path,
            "read and validated: no problems",
        ));
    }
    out
}

/// Whether the answer file's `host` is this machine.
fn is_this_host(facts: &dyn HostFacts, host: &Host, hostname: &str, addrs: &[IpAddr]) -> bool {
    match host {
        Host::Ip(ip) => ip.is_loopback() || addrs.contains(ip),
        Host::Name(n) => {
            let short = hostname.split('.').next().unwrap_or(hostname);
            n.eq_ignore_ascii_case(hostname)
                || n.eq_ignore_ascii_case(short)
                || n == "localhost"
                || facts
                    .resolve(n)
                    .is_ok_and(|ips| ips.iter().any(|ip| !ip.is_loopback() && addrs.contains(ip)))
        }
    }
}

/// The roles of this host. A host the file does not name is checked for
/// every role the file uses, so nothing is skipped by accident.
pub(super) fn roles(
    facts: &dyn HostFacts,
    a: &AnswerFile,
    from_file: bool,
) -> (Vec<Role>, Finding) {
    let hostname = facts.hostname();
    let addrs = facts.addresses();
    let hosts = a.hosts();
    let mine: Vec<Role> = hosts
        .iter()
        .filter(|h| is_this_host(facts, &h.host, &hostname, &addrs))
        .flat_map(|h| h.roles.iter().copied())
        .collect();
    let mut mine = mine;
    mine.sort();
    mine.dedup();
    if !mine.is_empty() || !from_file {
        let roles = if mine.is_empty() {
            vec![Role::Controller, Role::Compute, Role::Network]
        } else {
            mine
        };
        let evidence = format!("this host ({hostname}) is {}", role_names(&roles));
        return (roles.clone(), Finding::ok("roles", hostname, evidence));
    }
    let mut all: Vec<Role> = hosts.iter().flat_map(|h| h.roles.iter().copied()).collect();
    all.sort();
    all.dedup();
    let named: Vec<String> = hosts.iter().map(|h| h.host.to_string()).collect();
    let f = Finding::warn(
        "roles",
        hostname.clone(),
        format!(
            "this host ({hostname}; {}) is none of the answer file's hosts ({}); checked for every role: {}",
            addrs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
            named.join(", "),
            role_names(&all)
        ),
    )
    .fix("run `ferrostack check --answer-file FILE` on each host named in the answer file");
    (all, f)
}

/// chrony / systemd-timesyncd state and offset.
pub(super) fn time_sync(facts: &dyn HostFacts, a: &AnswerFile) -> Finding {
    let t = facts.time_sync();
    let ntp = if a.ntp_servers.is_empty() {
        "<your NTP server>".to_string()
    } else {
        a.ntp_servers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(service) = t.service else {
        return Finding::fail("time-sync", "clock", format!("no time service answered: {}", t.evidence)).fix(format!(
            "apt-get install chrony; put one `server NAME iburst` line per NTP server ({ntp}) in /etc/chrony/chrony.conf; systemctl enable --now chrony; then `chronyc sources` must show a '^*' line"
        ));
    };
    let name = match service {
        TimeService::Chrony => "chrony",
        TimeService::Timesyncd => "systemd-timesyncd",
    };
    let offset = t
        .offset_seconds
        .map(|o| format!(", offset {o:+.6} s"))
        .unwrap_or_default();
    let source = t
        .source
        .as_deref()
        .map(|s| format!(" to {s}"))
        .unwrap_or_default();
    if !t.synchronized {
        let fix = match service {
            TimeService::Chrony => format!(
                "no NTP source is selected (the seed's missing '*' in `chronyc sources -v`): check the `server` lines of /etc/chrony/chrony.conf name {ntp}, that UDP port 123 to it is open, then `systemctl restart chrony` and wait for '^*'"
            ),
            TimeService::Timesyncd => format!(
                "set NTP={ntp} in /etc/systemd/timesyncd.conf, `timedatectl set-ntp true`, `systemctl restart systemd-timesyncd`, and wait for NTPSynchronized=yes"
            ),
        };
        return Finding::fail(
            "time-sync",
            "clock",
            format!("{name} is not synchronized{offset}; {}", t.evidence),
        )
        .fix(fix);
    }
    let evidence = format!("{name} synchronized{source}{offset}; {}", t.evidence);
    match t.offset_seconds.map(f64::abs) {
        Some(o) if o > OFFSET_FAIL => Finding::fail("time-sync", "clock", evidence)
            .fix("the clock is off by more than a second: `chronyc makestep` (or restart the time service) and check again"),
        Some(o) if o > OFFSET_WARN => Finding::warn("time-sync", "clock", evidence)
            .fix("the clock is still converging; wait a few minutes or `chronyc makestep`"),
        _ => Finding::ok("time-sync", "clock", evidence),
    }
}

/// Every host name of the answer file resolves (and, in a multi-host
/// deployment, not to loopback).
pub(super) fn name_resolution(facts: &dyn HostFacts, a: &AnswerFile) -> Vec<Finding> {
    let multi_host = a.hosts().len() > 1;
    let mut names: Vec<String> = Vec::new();
    let hosts = a
        .hosts()
        .into_iter()
        .map(|h| h.host)
        .chain(a.ntp_servers.iter().cloned());
    for h in hosts {
        if let Host::Name(n) = h {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    let mut out = Vec::new();
    for name in names {
        let name = name.as_str();
        out.push(match facts.resolve(name) {
            Err(e) => Finding::fail("resolve", name, format!("does not resolve: {e}")).fix(format!(
                "add `<address> {name}` to /etc/hosts on every host (as the seed does), or to your DNS"
            )),
            Ok(ips) if multi_host && ips.iter().all(IpAddr::is_loopback) => Finding::warn(
                "resolve",
                name,
                format!("resolves only to loopback ({})", ips.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")),
            )
            .fix(format!("other hosts cannot reach {name} that way: map it to its LAN address in /etc/hosts (not 127.0.1.1)")),
            Ok(ips) => Finding::ok(
                "resolve",
                name,
                format!("resolves to {}", ips.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")),
            ),
        });
    }
    if out.is_empty() {
        out.push(Finding::ok(
            "resolve",
            "hosts",
            "the answer file names hosts by address only",
        ));
    }
    out
}

/// Every other host of the answer file answers from here (SSH's port:
/// deploy needs it, and a refusal still proves the host is up).
pub(super) fn reachability(facts: &dyn HostFacts, a: &AnswerFile) -> Vec<Finding> {
    let hostname = facts.hostname();
    let addrs = facts.addresses();
    let mut out = Vec::new();
    for h in a.hosts() {
        if is_this_host(facts, &h.host, &hostname, &addrs) {
            continue;
        }
        let subject = h.host.to_string();
        let target = match &h.host {
            Host::Ip(ip) => Some(*ip),
            Host::Name(n) => facts.resolve(n).ok().and_then(|ips| ips.first().copied()),
        };
        let Some(ip) = target else {
            continue; // The resolve check has said why.
        };
        out.push(match facts.answers(ip, 22) {
            Ok(()) => Finding::ok("reach", subject, format!("{ip} answers on TCP 22")),
            Err(e) => Finding::fail("reach", subject, format!("{ip} does not answer: {e}")).fix(
                "check the address in the answer file, that the host is up, and that no firewall between the hosts drops TCP (22, and the API ports)",
            ),
        });
    }
    out
}

/// A controller reaches the database the controllers share (its
/// CONFIG_DATABASE_URL host and port): a controller that cannot open it
/// exits on start. A refused connection still proves the path is open
/// (deploy may not have installed PostgreSQL yet); silence is a FAIL.
pub(super) fn database(facts: &dyn HostFacts, a: &AnswerFile, roles: &[Role]) -> Vec<Finding> {
    let Some(url) = a.database.effective_url() else {
        return Vec::new();
    };
    if !roles.contains(&Role::Controller) {
        return Vec::new();
    }
    let subject = format!("{}:{}", url.host, url.port);
    let target = match url.host.parse::<IpAddr>() {
        Ok(ip) => Ok(ip),
        Err(_) => facts
            .resolve(&url.host)
            .and_then(|ips| ips.first().copied().ok_or_else(|| "no address".to_string())),
    };
    let finding = match target.and_then(|ip| facts.answers(ip, url.port).map(|()| ip)) {
        Ok(ip) => Finding::ok(
            "database",
            subject,
            format!("{ip} answers on TCP {} (the controllers' PostgreSQL)", url.port),
        ),
        Err(e) => Finding::fail("database", subject, format!("the database does not answer: {e}")).fix(
            "check CONFIG_DATABASE_URL's host and port, that PostgreSQL listens there (listen_addresses) and that no firewall drops the port",
        ),
    };
    vec![finding]
}

/// No `search` line in /etc/resolv.conf (the seed's rule).
pub(super) fn resolv_conf(facts: &dyn HostFacts) -> Finding {
    match facts.resolv_conf() {
        Err(e) => Finding::warn("resolv-conf", "/etc/resolv.conf", e)
            .fix("create /etc/resolv.conf with a `nameserver` line"),
        Ok(text) => match text.lines().find(|l| l.trim_start().starts_with("search")) {
            Some(line) => Finding::warn("resolv-conf", "/etc/resolv.conf", format!("has `{}`", line.trim())).fix(
                "remove the `search` line (and stop DHCP or netplan from adding it back): short names then resolve the same way on every host",
            ),
            None if !text.lines().any(|l| l.trim_start().starts_with("nameserver")) => {
                Finding::warn("resolv-conf", "/etc/resolv.conf", "no `nameserver` line")
                    .fix("add `nameserver <your DNS server>`")
            }
            None => Finding::ok("resolv-conf", "/etc/resolv.conf", "no `search` line"),
        },
    }
}

/// (fail below, warn below) per role, in bytes.
fn memory_needs(role: Role) -> (u64, u64) {
    match role {
        Role::Controller => (512 * MIB, GIB),
        Role::Compute => (2 * GIB, 4 * GIB),
        Role::Network => (256 * MIB, 512 * MIB),
    }
}

/// MemAvailable against what the roles need.
pub(super) fn memory(facts: &dyn HostFacts, roles: &[Role]) -> Finding {
    let (fail, warn) = roles
        .iter()
        .map(|r| memory_needs(*r))
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let Some(m) = facts.memory() else {
        return Finding::warn("memory", "RAM", "cannot read /proc/meminfo")
            .fix("check the host by hand: `free -h`");
    };
    let evidence = format!(
        "{} available of {} total; {} needs at least {}, {} recommended",
        gib(m.available),
        gib(m.total),
        role_names(roles),
        gib(fail),
        gib(warn)
    );
    if m.available < fail {
        Finding::fail("memory", "RAM", evidence).fix(
            "free memory (stop other services or VMs) or give the host more RAM; otherwise guests fail with \"Cannot allocate memory\" as in the seed",
        )
    } else if m.available < warn {
        Finding::warn("memory", "RAM", evidence)
            .fix("works for a few small guests; add RAM for more")
    } else {
        Finding::ok("memory", "RAM", evidence)
    }
}

/// Free space where CONFIG_FERROSTACK_DATA_DIR lives.
pub(super) fn disk(facts: &dyn HostFacts, a: &AnswerFile, roles: &[Role]) -> Finding {
    let (fail, warn) = roles
        .iter()
        .map(|r| match r {
            Role::Controller => (2 * GIB, 10 * GIB),
            Role::Compute => (5 * GIB, 20 * GIB),
            Role::Network => (100 * MIB, 100 * MIB),
        })
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let subject = a.data_dir.display().to_string();
    match facts.disk_space(&a.data_dir) {
        Err(e) => Finding::warn("disk", subject, e).fix("check the space by hand: `df -h`"),
        Ok(d) => {
            let evidence = format!(
                "{} free on {}; {} needs at least {}, {} recommended",
                gib(d.available),
                d.measured.display(),
                role_names(roles),
                gib(fail),
                gib(warn)
            );
            if d.available < fail {
                Finding::fail("disk", subject, evidence).fix(
                    "free space there, or point CONFIG_FERROSTACK_DATA_DIR at a larger file system",
                )
            } else if d.available < warn {
                Finding::warn("disk", subject, evidence)
                    .fix("enough to start; images and VM disks will fill it quickly")
            } else {
                Finding::ok("disk", subject, evidence)
            }
        }
    }
}

/// CPU flags and whether KVM really runs a guest (compute hosts with QEMU).
pub(super) fn virtualization(
    facts: &dyn HostFacts,
    a: &AnswerFile,
    roles: &[Role],
) -> Vec<Finding> {
    if !roles.contains(&Role::Compute) {
        return Vec::new();
    }
    if a.hypervisor == HypervisorKind::Fake {
        return vec![Finding::ok(
            "kvm",
            "hypervisor",
            "CONFIG_FERROSTACK_HYPERVISOR=fake: no virtualization needed",
        )];
    }
    let flags = facts.cpu_flags();
    let virt: Vec<&str> = ["vmx", "svm"]
        .into_iter()
        .filter(|f| flags.iter().any(|g| g == f))
        .collect();
    let cpu = if virt.is_empty() {
        Finding::warn("cpu", "virtualization", "the CPU flags have neither vmx (Intel VT-x) nor svm (AMD-V): guests will run under TCG, 10-50x slower")
            .fix("enable VT-x/AMD-V in the firmware; on a VM, expose it to the guest (libvirt: <cpu mode='host-passthrough'/>, as the seed did for ssse3)")
    } else {
        Finding::ok(
            "cpu",
            "virtualization",
            format!("CPU flag {}", virt.join(", ")),
        )
    };
    let k = facts.kvm();
    let kvm = match (&k.probe, k.device) {
        (KvmProbe::RanGuest, _) => Finding::ok("kvm", "/dev/kvm", "a probe guest ran under KVM: guests get KVM"),
        (KvmProbe::NoGuest, _) => Finding::warn("kvm", "/dev/kvm", "/dev/kvm exists but a probe guest did not run under KVM (nested virtualization?): TCG will be used")
            .fix("check `dmesg | grep -i kvm`; on a VM enable nested virtualization; guests still run, slowly"),
        (KvmProbe::NotRun(why), false) => Finding::warn("kvm", "/dev/kvm", format!("{why}: TCG will be used"))
            .fix(if virt.is_empty() {
                "no hardware virtualization here; guests still run, slowly".to_string()
            } else {
                "load the module (`modprobe kvm_intel` or `modprobe kvm_amd`) and check `ls -l /dev/kvm`".to_string()
            }),
        (KvmProbe::NotRun(why), true) => Finding::warn("kvm", "/dev/kvm", format!("/dev/kvm exists; no probe guest was run ({why}): TCG may be used"))
            .fix("install QEMU and run the check again"),
    };
    vec![cpu, kvm]
}

/// Required programs with the Debian package for each.
pub(super) fn programs(facts: &dyn HostFacts, a: &AnswerFile, roles: &[Role]) -> Vec<Finding> {
    PROGRAMS
        .iter()
        .filter(|p| p.roles.iter().any(|r| roles.contains(r)))
        .filter(|p| !p.qemu_only || a.hypervisor == HypervisorKind::Qemu)
        .map(|p| match facts.program(p.name) {
            Some(path) => Finding::ok(
                "program",
                p.name,
                format!("{} ({})", path.display(), p.purpose),
            ),
            None => {
                let evidence = format!("not found on PATH; ferrostack needs it: {}", p.purpose);
                let f = match p.need {
                    Need::Required => Finding::fail("program", p.name, evidence),
                    Need::Recommended => Finding::warn("program", p.name, evidence),
                };
                f.fix(format!("apt-get install {}", p.package))
            }
        })
        .collect()
}

/// Bridges and interfaces of CONFIG_NEUTRON_OVS_BRIDGE_* exist here
/// (network hosts).
pub(super) fn interfaces(facts: &dyn HostFacts, a: &AnswerFile, roles: &[Role]) -> Vec<Finding> {
    let n = &a.networking;
    if !roles.contains(&Role::Network)
        || (n.bridge_ifaces.is_empty() && n.bridge_mappings.is_empty())
    {
        return Vec::new();
    }
    let present = facts.interfaces();
    let mut wanted: Vec<(&str, &str, Option<&str>)> = Vec::new();
    for b in &n.bridge_ifaces {
        wanted.push((b.bridge.as_str(), "bridge", Some(b.iface.as_str())));
        wanted.push((b.iface.as_str(), "interface", None));
    }
    for m in &n.bridge_mappings {
        wanted.push((m.bridge.as_str(), "bridge", None));
    }
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for (name, what, port) in wanted {
        if seen.contains(&name) {
            continue;
        }
        seen.push(name);
        if present.iter().any(|p| p == name) {
            out.push(Finding::ok(
                "interface",
                name,
                format!("{what} {name} exists"),
            ));
            continue;
        }
        let evidence = format!(
            "{what} {name} is not in /sys/class/net (present: {})",
            present.join(", ")
        );
        let hint = did_you_mean(name, present.iter().map(String::as_str))
            .map(|m| format!("did you mean {m}? "))
            .unwrap_or_default();
        let fix = match (what, port) {
            ("bridge", Some(port)) => format!(
                "{hint}create it before deploying: `ip link add {name} type bridge && ip link set {port} master {name} && ip link set {name} up`, moving {port}'s address to {name}"
            ),
            ("bridge", None) => format!("{hint}correct the bridge name in CONFIG_NEUTRON_OVS_BRIDGE_MAPPINGS, or create the bridge"),
            _ => format!("{hint}correct the interface name in CONFIG_NEUTRON_OVS_BRIDGE_IFACES (`ip link` lists them)"),
        };
        out.push(Finding::fail("interface", name, evidence).fix(fix));
    }
    out
}

/// The ports of this host's roles are free.
pub(super) fn ports(facts: &dyn HostFacts, a: &AnswerFile, roles: &[Role]) -> Vec<Finding> {
    a.ports
        .for_roles(roles)
        .into_iter()
        .map(|(port, what)| {
            let subject = port.to_string();
            let Err(e) = facts.port_free(port) else {
                return Finding::ok("port", subject, format!("TCP {port} ({what}) is free"));
            };
            match facts.port_holder(port) {
                // A re-run of deploy: the port is ferrostack's own.
                Some((program, pid)) if program == "ferrostack" => Finding::ok(
                    "port",
                    subject,
                    format!("TCP {port} ({what}) is served by ferrostack (pid {pid}): already deployed here"),
                ),
                holder => {
                    let by = holder.map(|(program, pid)| format!(" by {program} (pid {pid})")).unwrap_or_default();
                    Finding::fail("port", subject, format!("TCP {port} ({what}) is taken{by}: {e}")).fix(format!(
                        "stop what listens there (`ss -ltnp 'sport = :{port}'` shows it), or choose another port in the answer file"
                    ))
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;

    #[test]
    fn memory_needs_add_up_per_role() {
        let f = memory(
            &super::super::FakeHostFacts::default(),
            &[Role::Controller, Role::Compute],
        );
        assert_eq!(f.status, Status::Ok);
        assert!(f.evidence.contains("2.5 GiB"), "{}", f.evidence);
    }
}
