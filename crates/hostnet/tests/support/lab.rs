//! A router lab in a stand-in host: three local networks (an external
//! one and two tenant ones), a "guest" namespace on a veth in each tenant
//! bridge, an "outside" namespace on the external bridge standing for the
//! upstream router (172.24.4.1), and TCP helpers that open sockets inside
//! a namespace (a thread that `setns`es, makes the socket and ends: the
//! socket stays in that namespace).

#![allow(dead_code)]

use super::*;
use ferrostack_hostnet::{NetworkDriver, RouterDriver};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

pub const EXT: &str = "e0e0e0e0-0000-4000-8000-000000000001";
pub const NET1: &str = "a1a1a1a1-0000-4000-8000-000000000001";
pub const NET2: &str = "a2a2a2a2-0000-4000-8000-000000000002";
pub const SUB_EXT: &str = "5e5e5e5e-0000-4000-8000-000000000001";
pub const SUB1: &str = "51515151-0000-4000-8000-000000000001";
pub const SUB2: &str = "52525252-0000-4000-8000-000000000002";
pub const ROUTER: &str = "0f0f0f0f-1111-4222-8333-944455566677";
pub const GW_PORT: &str = "9e9e9e9e-0000-4000-8000-0000000000e1";
pub const IF1: &str = "91919191-0000-4000-8000-000000000011";
pub const IF2: &str = "92929292-0000-4000-8000-000000000022";

pub const GW_IP: &str = "172.24.4.2";
pub const G1_IP: &str = "10.0.1.5";
pub const G2_IP: &str = "10.0.2.5";
pub const OUT_IP: &str = "172.24.4.1";

/// Runs `f` on a thread inside namespace `ns`.
pub fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let file = std::fs::File::open(format!("/run/netns/{ns}")).expect("namespace file");
    std::thread::spawn(move || {
        // SAFETY: setns(2) on this fresh thread only, with a namespace
        // file we hold open; it touches no memory.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns");
        f()
    })
    .join()
    .expect("namespace thread")
}

/// A listener on `addr` in `ns`.
pub fn listen(ns: &str, addr: &str) -> TcpListener {
    let addr: SocketAddr = addr.parse().expect("address");
    let l = in_ns(ns, move || TcpListener::bind(addr).expect("bind"));
    l.set_nonblocking(true).expect("nonblocking");
    l
}

/// A connection from `ns` to `addr`, within `within`.
pub fn connect(ns: &str, addr: &str, within: Duration) -> std::io::Result<TcpStream> {
    let addr: SocketAddr = addr.parse().expect("address");
    let s = in_ns(ns, move || TcpStream::connect_timeout(&addr, within))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    Ok(s)
}

/// The next connection `l` accepts within 3 s, and its peer's address.
pub fn accept(l: &TcpListener) -> (TcpStream, String) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        match l.accept() {
            Ok((s, peer)) => {
                s.set_nonblocking(false).expect("blocking");
                s.set_read_timeout(Some(Duration::from_secs(2)))
                    .expect("timeout");
                return (s, peer.ip().to_string());
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "nothing connected within 3 s");
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// Whether `a`'s bytes reach `b` (one round trip of a short message).
pub fn carries(a: &mut TcpStream, b: &mut TcpStream) -> bool {
    if a.write_all(b"ping\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 5];
    b.read_exact(&mut buf).is_ok() && &buf == b"ping\n"
}

/// The stand-in host, its networks' bridges and the three namespaces.
pub struct Lab {
    pub host: TestHost,
    pub g1: String,
    pub g2: String,
    pub out: String,
}

fn net(id: &str, mtu: u32) -> DesiredNetwork {
    DesiredNetwork {
        id: id.into(),
        segment: Segment::Local,
        mtu,
        admin_state_up: true,
        generation: 1,
        deleted: false,
    }
}

fn router_port(id: &str, network: &str, subnet: &str, mac: &str, ip: &str) -> DesiredPort {
    DesiredPort {
        id: id.into(),
        network_id: network.into(),
        tap: String::new(),
        mac_address: mac.into(),
        fixed_ips: vec![FixedIp {
            subnet_id: subnet.into(),
            ip_address: ip.into(),
        }],
        allowed_address_pairs: vec![],
        port_security_enabled: false,
        security_groups: vec![],
        admin_state_up: true,
        device_id: Some(ROUTER.into()),
        generation: 1,
        deleted: false,
    }
}

/// The lab's router with floating IPs `fips` (floating, fixed).
pub fn router(fips: &[(&str, &str)]) -> DesiredRouter {
    let subnet = |id: &str, cidr: &str, gw: &str| RouterSubnet {
        id: id.into(),
        cidr: cidr.into(),
        gateway_ip: Some(gw.into()),
        ipv6_ra_mode: None,
    };
    DesiredRouter {
        id: ROUTER.into(),
        gateway: Some(router_port(
            GW_PORT,
            EXT,
            SUB_EXT,
            "fa:16:3e:0e:00:01",
            GW_IP,
        )),
        enable_snat: true,
        interfaces: vec![
            router_port(IF1, NET1, SUB1, "fa:16:3e:01:00:01", "10.0.1.1"),
            router_port(IF2, NET2, SUB2, "fa:16:3e:02:00:01", "10.0.2.1"),
        ],
        subnets: vec![
            subnet(SUB_EXT, "172.24.4.0/24", OUT_IP),
            subnet(SUB1, "10.0.1.0/24", "10.0.1.1"),
            subnet(SUB2, "10.0.2.0/24", "10.0.2.1"),
        ],
        routes: vec![],
        floating_ips: fips
            .iter()
            .map(|(f, x)| FloatingIp {
                id: format!("fip-{f}"),
                floating_ip_address: (*f).into(),
                fixed_ip_address: (*x).into(),
            })
            .collect(),
        admin_state_up: true,
        generation: 1,
        deleted: false,
    }
}

/// The host document with the lab's networks and router `r`.
pub fn lab_doc(r: DesiredRouter) -> HostDesired {
    doc(NetworkSection {
        networks: vec![net(EXT, 1500), net(NET1, 1450), net(NET2, 1450)],
        routers: vec![r],
        ..NetworkSection::default()
    })
}

impl Lab {
    /// The host with its bridges, and the guest and outside namespaces.
    pub async fn new() -> Self {
        let host = TestHost::new();
        let networks = NetworkDriver::new(host.cfg.clone());
        let d = lab_doc(router(&[]));
        for n in &d.network.networks {
            networks.converge(&d, n).await.expect("network");
        }
        let ns = host.ns.clone();
        let mk = |name: &str, net: &str, host_end: &str, cidr: &str, via: Option<&str>| {
            let g = format!("{ns}-{name}");
            sh(&["ip", "netns", "add", &g]);
            sh(&["ip", "-n", &g, "link", "set", "lo", "up"]);
            sh(&[
                "ip", "-n", &ns, "link", "add", host_end, "type", "veth", "peer", "name", "eth0",
                "netns", &g,
            ]);
            let br = ferrostack_hostnet::names::bridge(&host.cfg, net).expect("bridge");
            sh(&[
                "ip", "-n", &ns, "link", "set", host_end, "master", &br, "up",
            ]);
            sh(&["ip", "-n", &g, "addr", "add", cidr, "dev", "eth0"]);
            sh(&["ip", "-n", &g, "link", "set", "eth0", "up"]);
            if let Some(via) = via {
                sh(&["ip", "-n", &g, "route", "add", "default", "via", via]);
            }
            g
        };
        let g1 = mk("g1", NET1, "gv1", "10.0.1.5/24", Some("10.0.1.1"));
        let g2 = mk("g2", NET2, "gv2", "10.0.2.5/24", Some("10.0.2.1"));
        let out = mk("out", EXT, "ov0", "172.24.4.1/24", None);
        Lab { host, g1, g2, out }
    }

    /// The router namespace's name.
    pub fn router_ns(&self) -> String {
        format!("{}{ROUTER}", self.host.cfg.router_netns_prefix)
    }

    /// A router driver for the lab's host.
    pub fn driver(&self) -> RouterDriver {
        RouterDriver::new(self.host.cfg.clone())
    }
}
