//! Test hosts in network namespaces: each test gets its own namespace
//! (`fst-<pid>-<n>`) as "the host", a state dir, and prefixes for its
//! DHCP and router namespaces; the guard deletes all of them (and any
//! `<host>-…` namespace a test made) and stops the dnsmasq
//! processes it started (by their pid files), even when the test panics.

#![allow(dead_code)]

use ferrostack_host_contract::network::*;
use ferrostack_host_contract::HostDesired;
use ferrostack_hostnet::{HostNetConfig, Tunnel};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

pub mod lab;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Why these tests cannot run here, if they cannot.
pub fn skip_reason() -> Option<String> {
    ferrostack_hostnet::prerequisites().err()
}

/// Prints a loud SKIP and returns true when the test cannot run.
pub fn skip(test: &str) -> bool {
    match skip_reason() {
        Some(r) => {
            eprintln!("SKIP: {test}: {r} (needs root, ip, bridge, nft, dnsmasq)");
            true
        }
        None => false,
    }
}

pub fn sh(argv: &[&str]) -> String {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .expect("spawn");
    assert!(
        out.status.success(),
        "{argv:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn sh_ok(argv: &[&str]) -> bool {
    Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// One stand-in host.
pub struct TestHost {
    pub ns: String,
    pub cfg: Arc<HostNetConfig>,
    pub dir: tempfile::TempDir,
}

impl TestHost {
    /// A fresh namespace with an underlay veth (`ul0`, 10.99.0.1/24) for
    /// tunnels.
    pub fn new() -> Self {
        let h = Self::bare("10.99.0.1");
        h.ip(&["link", "add", "ul0", "type", "veth", "peer", "name", "ul1"]);
        h.ip(&["link", "set", "ul1", "up"]);
        h.underlay_up();
        h
    }

    /// Two hosts whose `ul0`s are the two ends of one veth (the underlay):
    /// 10.99.0.1 and 10.99.0.2.
    pub fn pair() -> (Self, Self) {
        let a = Self::bare("10.99.0.1");
        let b = Self::bare("10.99.0.2");
        sh(&[
            "ip", "link", "add", "ul0", "netns", &a.ns, "type", "veth", "peer", "name", "ul0",
            "netns", &b.ns,
        ]);
        a.underlay_up();
        b.underlay_up();
        (a, b)
    }

    fn underlay_up(&self) {
        let ip = self
            .cfg
            .tunnel
            .as_ref()
            .map(|t| t.local_ip.clone())
            .unwrap_or_default();
        self.ip(&["addr", "add", &format!("{ip}/24"), "dev", "ul0"]);
        self.ip(&["link", "set", "ul0", "up"]);
    }

    fn bare(tunnel_ip: &str) -> Self {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let ns = format!("fst-{}-{n}", std::process::id());
        sh(&["ip", "netns", "add", &ns]);
        sh(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        let dir = tempfile::tempdir().expect("tempdir");
        // dnsmasq drops to nobody and re-reads its files on SIGHUP.
        sh(&["chmod", "755", dir.path().to_str().expect("utf-8")]);
        let mut cfg = HostNetConfig::new(dir.path().to_path_buf());
        cfg.netns = Some(ns.clone());
        cfg.dhcp_netns_prefix = format!("{ns}-d-");
        cfg.router_netns_prefix = format!("{ns}-r-");
        cfg.nft_table = "fsttest".into();
        cfg.tunnel = Some(Tunnel {
            local_ip: tunnel_ip.into(),
            device: "ul0".into(),
        });
        cfg.validate().expect("valid config");
        TestHost {
            ns,
            cfg: Arc::new(cfg),
            dir,
        }
    }

    /// `ip -n <ns> args...`'s stdout.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut v = vec!["ip", "-n", self.ns.as_str()];
        v.extend(args);
        sh(&v)
    }

    /// Whether link `name` exists in the host namespace.
    pub fn has_link(&self, name: &str) -> bool {
        sh_ok(&["ip", "-n", &self.ns, "link", "show", "dev", name])
    }

    /// The host's nft ruleset.
    pub fn ruleset(&self) -> String {
        sh(&["ip", "netns", "exec", &self.ns, "nft", "list", "ruleset"])
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        if let Ok(dirs) = std::fs::read_dir(self.dir.path().join("dhcp")) {
            for d in dirs.flatten() {
                let Ok(pid) = std::fs::read_to_string(d.path().join("pid")) else {
                    continue;
                };
                let pid = pid.trim().to_owned();
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                if String::from_utf8_lossy(&cmdline).contains("dnsmasq") {
                    let _ = Command::new("kill").arg(&pid).status();
                }
            }
        }
        let list = Command::new("ip").args(["netns", "list"]).output();
        if let Ok(out) = list {
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let name = line.split_whitespace().next().unwrap_or_default();
                // The host's own, its DHCP and router namespaces, and the
                // guests' and outside's a test made (`<ns>-...`).
                if name == self.ns || name.starts_with(&format!("{}-", self.ns)) {
                    let _ = Command::new("ip").args(["netns", "del", name]).status();
                }
            }
        }
    }
}

pub const NET: &str = "3f2a9c1e-0b1d-4c55-9e7a-1b2c3d4e5f60";
pub const SUBNET: &str = "5d1c2b3a-1111-4222-8333-944455566677";

pub fn network(segment: Segment) -> DesiredNetwork {
    DesiredNetwork {
        id: NET.into(),
        segment,
        mtu: 1450,
        admin_state_up: true,
        generation: 1,
        deleted: false,
    }
}

pub fn port(id: &str, tap: &str, mac: &str, ip: &str, groups: &[&str]) -> DesiredPort {
    DesiredPort {
        id: id.into(),
        network_id: NET.into(),
        tap: tap.into(),
        mac_address: mac.into(),
        fixed_ips: vec![FixedIp {
            subnet_id: SUBNET.into(),
            ip_address: ip.into(),
        }],
        allowed_address_pairs: vec![],
        port_security_enabled: true,
        security_groups: groups.iter().map(|g| g.to_string()).collect(),
        admin_state_up: true,
        device_id: None,
        generation: 1,
        deleted: false,
    }
}

pub fn rule(
    direction: RuleDirection,
    protocol: Option<u8>,
    min: Option<u16>,
    max: Option<u16>,
) -> DesiredRule {
    DesiredRule {
        id: format!("r-{direction:?}-{protocol:?}-{min:?}"),
        direction,
        ethertype: "IPv4".into(),
        protocol,
        port_range_min: min,
        port_range_max: max,
        remote_prefixes: vec![],
    }
}

pub fn group(id: &str, rules: Vec<DesiredRule>) -> DesiredSecurityGroup {
    DesiredSecurityGroup {
        id: id.into(),
        stateful: true,
        rules,
        generation: 1,
    }
}

pub fn dhcp(hosts: Vec<DhcpHost>) -> DesiredDhcp {
    let mut p = port(
        "dhcp-port-0000-0000-0000-000000000001",
        "unused",
        "fa:16:3e:00:00:02",
        "10.0.0.2",
        &[],
    );
    p.port_security_enabled = false;
    DesiredDhcp {
        network_id: NET.into(),
        port: p,
        subnets: vec![DhcpSubnet {
            id: SUBNET.into(),
            cidr: "10.0.0.0/24".into(),
            gateway_ip: Some("10.0.0.1".into()),
            dns_nameservers: vec!["10.0.0.53".into()],
            host_routes: vec![("192.168.50.0/24".into(), "10.0.0.254".into())],
        }],
        hosts,
        generation: 1,
        deleted: false,
    }
}

pub fn doc(section: NetworkSection) -> HostDesired {
    HostDesired {
        revision: 1,
        instances: Vec::new(),
        network: section,
        block_devices: Default::default(),
    }
}
