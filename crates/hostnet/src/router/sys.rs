//! What a router namespace needs beyond links, addresses and routes, done
//! from the agent itself on a short-lived thread inside the namespace
//! (no process): forwarding on (`/proc/sys/net` is the namespace of the
//! thread that opens it), and gratuitous ARP from the gateway link over a
//! raw `AF_PACKET` socket when a floating IP appears there.
//!
//! Why gratuitous ARP and not only answering: the outside's neighbours
//! (an upstream router, another host) may still map a moved floating IP
//! to the MAC of its previous router, or to nothing after a timeout;
//! an unsolicited ARP request for the address (sender = target = the
//! floating IP, as `arping -U` sends) updates their caches at once.
//! Three are sent, spaced, since one may be lost while a bridge learns.

use crate::rtnl;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// How many gratuitous ARPs per address, and how far apart.
pub const GARP_COUNT: u32 = 3;
/// The spacing of gratuitous ARPs.
pub const GARP_SPACING: Duration = Duration::from_millis(300);

/// Turns IPv4 and IPv6 forwarding on in namespace `ns`.
pub async fn enable_forwarding(ns: &str) -> io::Result<()> {
    rtnl::in_netns(ns, || {
        for (path, value) in [
            ("/proc/sys/net/ipv4/ip_forward", "1"),
            ("/proc/sys/net/ipv6/conf/all/forwarding", "1"),
        ] {
            let now = match std::fs::read_to_string(path) {
                Ok(now) => now,
                // A kernel booted with IPv6 disabled has no such file.
                Err(e) if e.kind() == io::ErrorKind::NotFound && path.contains("ipv6") => continue,
                Err(e) => return Err(e),
            };
            if now.trim() != value {
                std::fs::write(path, value)?;
            }
        }
        Ok(())
    })
    .await
}

/// Whether IPv4 forwarding is on in namespace `ns`.
pub async fn forwarding(ns: &str) -> io::Result<bool> {
    rtnl::in_netns(ns, || {
        Ok(std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")?.trim() == "1")
    })
    .await
}

/// The gratuitous ARP request announcing `ip` at `mac`.
pub fn garp_frame(mac: [u8; 6], ip: Ipv4Addr) -> [u8; 42] {
    let mut f = [0u8; 42];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    f[14..16].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    f[16..18].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    f[18] = 6;
    f[19] = 4;
    f[20..22].copy_from_slice(&1u16.to_be_bytes()); // request
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&ip.octets());
    // Target MAC zero, target address the same as the sender's.
    f[38..42].copy_from_slice(&ip.octets());
    f
}

fn packet_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket(2) with constant arguments; the fd it returns is
    // owned by the OwnedFd at once.
    #[allow(unsafe_code)]
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from((libc::ETH_P_ARP as u16).to_be()),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor nothing else owns.
    #[allow(unsafe_code)]
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn send(fd: &OwnedFd, ifindex: u32, frame: &[u8]) -> io::Result<()> {
    // SAFETY: sockaddr_ll is plain data; zeroed is a valid value.
    #[allow(unsafe_code)]
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = (libc::ETH_P_ARP as u16).to_be();
    addr.sll_ifindex = ifindex as i32;
    addr.sll_halen = 6;
    addr.sll_addr[..6].copy_from_slice(&[0xff; 6]);
    // SAFETY: sendto(2) reads `frame` and `addr`, both alive for the call.
    #[allow(unsafe_code)]
    let rc = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            frame.as_ptr().cast(),
            frame.len(),
            0,
            (&addr as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Announces `ips` at `mac` on link `ifindex` of namespace `ns`: the
/// first gratuitous ARP of each before this returns, the others from a
/// thread that holds the socket (made in the namespace, so it sends
/// there from anywhere).
pub async fn announce(ns: &str, ifindex: u32, mac: [u8; 6], ips: Vec<Ipv4Addr>) -> io::Result<()> {
    if ips.is_empty() {
        return Ok(());
    }
    let fd = rtnl::in_netns(ns, packet_socket).await?;
    for ip in &ips {
        send(&fd, ifindex, &garp_frame(mac, *ip))?;
    }
    std::thread::Builder::new()
        .name("hostnet-garp".into())
        .spawn(move || {
            for _ in 1..GARP_COUNT {
                std::thread::sleep(GARP_SPACING);
                for ip in &ips {
                    // The link may be gone meanwhile: nothing to announce.
                    let _ = send(&fd, ifindex, &garp_frame(mac, *ip));
                }
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gratuitous_arp_names_the_address_twice() {
        let mac = [0xfa, 0x16, 0x3e, 0, 0, 1];
        let f = garp_frame(mac, Ipv4Addr::new(172, 24, 4, 20));
        assert_eq!(&f[0..6], &[0xff; 6]);
        assert_eq!(&f[12..14], &[0x08, 0x06]);
        assert_eq!(&f[20..22], &[0, 1]);
        assert_eq!(&f[22..28], &mac);
        assert_eq!(&f[28..32], &[172, 24, 4, 20]);
        assert_eq!(&f[32..38], &[0; 6]);
        assert_eq!(&f[38..42], &[172, 24, 4, 20]);
    }
}
