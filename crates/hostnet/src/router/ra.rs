//! IPv6 router advertisements on a router's interfaces whose subnet has
//! `ipv6_ra_mode` set, from the agent itself: a thread per router inside
//! its namespace with one raw ICMPv6 socket, sending an advertisement per
//! link (prefix, flags by mode, MTU, the link's MAC) three times a second
//! apart when started, then every [`INTERVAL`], and at once (at most once
//! a second) when a router solicitation arrives.
//!
//! Why not radvd: it is one more daemon per router to start, adopt by pid
//! file and rewrite a config for, for a packet of under a hundred bytes
//! built in [`ra_packet`]. The thread lives in the agent's process while
//! the namespace outlives it, so what it advertises is written beside the
//! router's marker file and `list()` starts the advertiser again after a
//! restart (as the DHCP driver restores its metadata proxies).

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io;
use std::net::Ipv6Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The period of unsolicited advertisements after the first three.
pub const INTERVAL: Duration = Duration::from_secs(30);
/// How long a host may use the router as its default (seconds).
const ROUTER_LIFETIME: u16 = 1800;

/// One link's advertisement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaLink {
    /// The link inside the namespace (`qr-…`).
    pub ifname: String,
    /// Its MAC (the source link-layer option).
    pub mac: [u8; 6],
    /// The network's MTU.
    pub mtu: u32,
    /// `ipv6_ra_mode`: `slaac`, `dhcpv6-stateless` or `dhcpv6-stateful`.
    pub mode: String,
    /// (prefix, length) advertised on it.
    pub prefixes: Vec<(Ipv6Addr, u8)>,
}

/// The ICMPv6 router advertisement of `l` (checksum left to the kernel).
pub fn ra_packet(l: &RaLink) -> Vec<u8> {
    let (managed, other, autonomous) = match l.mode.as_str() {
        "dhcpv6-stateful" => (true, true, false),
        "dhcpv6-stateless" => (false, true, true),
        _ => (false, false, true),
    };
    let mut p = vec![134, 0, 0, 0, 64];
    p.push(if managed { 0x80 } else { 0 } | if other { 0x40 } else { 0 });
    p.extend(ROUTER_LIFETIME.to_be_bytes());
    p.extend([0u8; 8]); // reachable time, retransmission timer: unspecified
    p.extend([1, 1]);
    p.extend(l.mac);
    p.extend([5, 1, 0, 0]);
    p.extend(l.mtu.to_be_bytes());
    for (prefix, len) in &l.prefixes {
        p.extend([3, 4, *len, 0x80 | if autonomous { 0x40 } else { 0 }]);
        p.extend(86_400u32.to_be_bytes());
        p.extend(14_400u32.to_be_bytes());
        p.extend([0u8; 4]);
        p.extend(prefix.octets());
    }
    p
}

struct Running {
    ns_identity: Option<(u64, u64)>,
    links: Vec<RaLink>,
    stop: Arc<AtomicBool>,
}

/// The advertisers of a driver's routers.
#[derive(Default)]
pub struct Advertisers {
    running: Mutex<HashMap<String, Running>>,
}

impl std::fmt::Debug for Advertisers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.running.lock().map(|m| m.len()).unwrap_or(0);
        f.debug_struct("Advertisers").field("routers", &n).finish()
    }
}

/// A driver dropped (the agent stopping) stops its advertisers: a new
/// driver restores them from the marker files.
impl Drop for Advertisers {
    fn drop(&mut self) {
        let map = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        for r in map.values() {
            r.stop.store(true, Ordering::Relaxed);
        }
    }
}

impl Advertisers {
    /// Router `id` (namespace `ns`, whose identity is `identity`)
    /// advertises on `links` from now on (nothing: it stops).
    pub fn set(
        &self,
        id: &str,
        ns: &str,
        identity: Option<(u64, u64)>,
        links: Vec<RaLink>,
    ) -> io::Result<()> {
        let mut map = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = map.get(id) {
            if r.links == links && r.ns_identity == identity && !r.stop.load(Ordering::Relaxed) {
                return Ok(());
            }
        }
        if let Some(old) = map.remove(id) {
            old.stop.store(true, Ordering::Relaxed);
        }
        if links.is_empty() {
            return Ok(());
        }
        let stop = Arc::new(AtomicBool::new(false));
        let file = std::fs::File::open(format!("/run/netns/{ns}"))?;
        let (flag, sent) = (stop.clone(), links.clone());
        std::thread::Builder::new()
            .name("hostnet-ra".into())
            .spawn(move || {
                if let Err(e) = advertise(&file, &sent, &flag) {
                    tracing::warn!(error = %e, "router advertisements stopped");
                }
            })?;
        map.insert(
            id.to_owned(),
            Running {
                ns_identity: identity,
                links,
                stop,
            },
        );
        Ok(())
    }

    /// Whether router `id` has a live advertiser.
    pub fn running(&self, id: &str) -> bool {
        let map = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(id).is_some_and(|r| !r.stop.load(Ordering::Relaxed))
    }

    /// Stops router `id`'s advertiser (it ends within a second).
    pub fn stop(&self, id: &str) {
        let mut map = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = map.remove(id) {
            r.stop.store(true, Ordering::Relaxed);
        }
    }
}

fn setsockopt<T>(fd: &OwnedFd, level: i32, name: i32, value: &T) -> io::Result<()> {
    // SAFETY: setsockopt(2) reads size_of::<T>() bytes of `value`, which
    // lives across the call.
    #[allow(unsafe_code)]
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as u32,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The thread's body: enters the namespace, opens the socket, advertises
/// until `stop`.
fn advertise(ns: &std::fs::File, links: &[RaLink], stop: &AtomicBool) -> io::Result<()> {
    // SAFETY: setns(2) on this thread only (its own, ending with the
    // loop), with a namespace file we hold; it touches no memory.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: socket(2) with constant arguments; the fd is owned at once.
    #[allow(unsafe_code)]
    let fd = unsafe {
        libc::socket(
            libc::AF_INET6,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::IPPROTO_ICMPV6,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nothing else owns.
    #[allow(unsafe_code)]
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // Hosts drop neighbour discovery that did not come with hop limit 255.
    setsockopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS, &255i32)?;
    setsockopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, &255i32)?;
    let tv = libc::timeval {
        tv_sec: 1,
        tv_usec: 0,
    };
    setsockopt(&fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)?;
    let packets: Vec<(String, Vec<u8>)> = links
        .iter()
        .map(|l| (l.ifname.clone(), ra_packet(l)))
        .collect();
    let mut sent = 0u32;
    let mut next = Instant::now();
    let mut last_solicited = Instant::now() - Duration::from_secs(2);
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::Relaxed) {
        if Instant::now() >= next {
            send_all(&fd, &packets);
            sent += 1;
            next = Instant::now()
                + if sent < 3 {
                    Duration::from_secs(1)
                } else {
                    INTERVAL
                };
        }
        // SAFETY: recv(2) writes at most buf.len() bytes into buf.
        #[allow(unsafe_code)]
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        let solicitation = n > 0 && buf[0] == 133;
        if solicitation && last_solicited.elapsed() >= Duration::from_secs(1) {
            send_all(&fd, &packets);
            last_solicited = Instant::now();
        }
    }
    Ok(())
}

/// One advertisement per link to all nodes (`ff02::1`); a link not there
/// (being repaired) or without its link-local address yet is skipped
/// until the next round.
fn send_all(fd: &OwnedFd, packets: &[(String, Vec<u8>)]) {
    for (ifname, p) in packets {
        let Ok(name) = std::ffi::CString::new(ifname.as_str()) else {
            continue;
        };
        // SAFETY: if_nametoindex(3) reads the NUL-terminated name.
        #[allow(unsafe_code)]
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if index == 0 {
            continue;
        }
        // SAFETY: sockaddr_in6 is plain data; zeroed is a valid value.
        #[allow(unsafe_code)]
        let mut to: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
        to.sin6_family = libc::AF_INET6 as u16;
        to.sin6_addr.s6_addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1).octets();
        to.sin6_scope_id = index;
        // SAFETY: sendto(2) reads `p` and `to`, both alive for the call.
        #[allow(unsafe_code)]
        let _ = unsafe {
            libc::sendto(
                fd.as_raw_fd(),
                p.as_ptr().cast(),
                p.len(),
                0,
                (&to as *const libc::sockaddr_in6).cast(),
                std::mem::size_of::<libc::sockaddr_in6>() as u32,
            )
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advertisement_carries_flags_mtu_mac_and_prefix() {
        let l = RaLink {
            ifname: "qr-x".into(),
            mac: [0xfa, 0x16, 0x3e, 0, 0, 1],
            mtu: 1450,
            mode: "slaac".into(),
            prefixes: vec![("2001:db8:1::".parse().expect("v6"), 64)],
        };
        let p = ra_packet(&l);
        assert_eq!(p.len(), 16 + 8 + 8 + 32);
        assert_eq!((p[0], p[4], p[5]), (134, 64, 0));
        assert_eq!(&p[18..24], &l.mac);
        assert_eq!(&p[28..32], &1450u32.to_be_bytes());
        assert_eq!((p[32], p[34], p[35]), (3, 64, 0xc0), "on-link, autonomous");
        assert_eq!(&p[48..64], &l.prefixes[0].0.octets());
        let stateful = ra_packet(&RaLink {
            mode: "dhcpv6-stateful".into(),
            ..l.clone()
        });
        assert_eq!((stateful[5], stateful[35]), (0xc0, 0x80), "M and O, not A");
        let stateless = ra_packet(&RaLink {
            mode: "dhcpv6-stateless".into(),
            ..l
        });
        assert_eq!((stateless[5], stateless[35]), (0x40, 0xc0));
    }
}
