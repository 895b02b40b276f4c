//! Guests reach metadata at 169.254.169.254 on their own network: the
//! address sits on the DHCP namespace's port (the DHCP server hands every
//! guest a host route to it through the DHCP port's address, as Neutron
//! does for isolated networks), and the agent's metadata proxy
//! (`ferrostack_agent::metadata_proxy`) listens there.
//!
//! The listener is opened inside the namespace by a short-lived thread
//! that enters it (`setns`) and binds; the socket keeps belonging to that
//! namespace after the thread ends, so the agent's async runtime serves
//! it like any other socket and no process runs in the namespace.

use crate::{Error, Result};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::path::PathBuf;

/// The metadata address.
pub const METADATA_IP: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);

/// Bind `addr` inside network namespace `ns` (a name under
/// `/run/netns`, as `ip netns` makes them).
pub fn bind_in_netns(ns: &str, addr: SocketAddr) -> Result<TcpListener> {
    crate::names::check_token(ns)?;
    let path = PathBuf::from("/run/netns").join(ns);
    let file = std::fs::File::open(&path).map_err(Error::io(&path))?;
    let handle = std::thread::spawn(move || -> std::io::Result<TcpListener> {
        // SAFETY: setns(2) on a namespace file we opened, on this thread
        // only (a thread that ends right after the bind); it touches no
        // memory of ours.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        TcpListener::bind(addr)
    });
    let joined = handle
        .join()
        .map_err(|_| Error::Missing(format!("the thread binding {addr} in {ns} panicked")))?;
    joined.map_err(Error::io(&path))
}
