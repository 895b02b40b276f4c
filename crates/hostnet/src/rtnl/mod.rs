//! Route netlink from the agent itself: one `NETLINK_ROUTE` socket per
//! [`Kernel`](crate::kernel::Kernel), requests built by [`msg`], taps made
//! with the tun driver's ioctls, and the short-lived threads that open
//! either inside another network namespace.
//!
//! # Why a blocking socket, used inline
//!
//! A route-netlink request is one `send` and one or two `recv`s that the
//! kernel answers without waiting on any device (tens of microseconds;
//! a full link dump of a thousand taps about a millisecond), so it runs on
//! the calling task like a small file write, under a per-socket mutex
//! that never crosses an `.await`. An async transport (the `rtnetlink`
//! crate's connection task) was rejected: it ties every `Kernel` to the
//! runtime that spawned its task, and its namespace story is the same
//! socket-made-elsewhere one as here, with a channel hop per request.
//!
//! # Namespaces
//!
//! A netlink socket talks to the namespace of the thread that created it,
//! and a tap is made in the namespace `/dev/net/tun` was opened in. For a
//! named namespace that work happens on a fresh std thread that
//! `setns(2)`s into `/run/netns/<name>`, opens the socket (or the tap)
//! and ends; the async caller awaits it and never changes namespace
//! itself. Without a name the socket is made on the calling thread at
//! first use, so a runtime whose threads already entered a namespace (the
//! network benchmark) keeps talking to that one.

pub mod msg;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR,
    NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many netlink requests this process has made.
static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// The number of route-netlink requests the data plane has sent in this
/// process (a dump counts once).
pub fn requests() -> u64 {
    REQUESTS.load(Ordering::Relaxed)
}

/// How often a dump the kernel marks interrupted (the table changed while
/// it was read) is tried again before giving up.
const DUMP_TRIES: usize = 5;

/// One route-netlink socket and its sequence numbers.
pub(crate) struct Rtnl {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Rtnl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rtnl")
            .field("fd", &self.socket.as_raw_fd())
            .field("seq", &self.seq)
            .finish()
    }
}

impl Rtnl {
    /// A socket in the calling thread's namespace.
    pub(crate) fn open() -> io::Result<Self> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        // Errors carry the kernel's reason, not the whole request back.
        let _ = socket.set_cap_ack(true);
        let _ = socket.set_ext_ack(true);
        Ok(Rtnl {
            socket,
            seq: 0,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// Sends `msg` and waits for the kernel's acknowledgement.
    pub(crate) fn ack(&mut self, msg: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        self.exchange(msg, NLM_F_REQUEST | NLM_F_ACK | flags)
            .map(drop)
    }

    /// Sends the request `msg` and collects what the kernel answers before
    /// its acknowledgement (one message for a get).
    pub(crate) fn get(&mut self, msg: RouteNetlinkMessage) -> io::Result<Vec<RouteNetlinkMessage>> {
        self.exchange(msg, NLM_F_REQUEST | NLM_F_ACK)
    }

    /// A whole dump (`NLM_F_DUMP`), again while the kernel says it was
    /// interrupted.
    pub(crate) fn dump(
        &mut self,
        msg: RouteNetlinkMessage,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        for _ in 0..DUMP_TRIES {
            match self.exchange(msg.clone(), NLM_F_REQUEST | NLM_F_DUMP) {
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                other => return other,
            }
        }
        Err(io::Error::new(
            io::ErrorKind::Interrupted,
            "the dump kept changing while read",
        ))
    }

    fn exchange(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        REQUESTS.fetch_add(1, Ordering::Relaxed);
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = seq;
        let mut req = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
        req.finalize();
        let mut out = vec![0u8; req.buffer_len()];
        req.serialize(&mut out);
        self.socket.send(&out, 0)?;
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut got = Vec::new();
        let mut interrupted = false;
        loop {
            self.buf.clear();
            self.buf.reserve(64 * 1024);
            let cap = self.buf.capacity();
            let n = self.socket.recv(&mut self.buf, 0)?;
            if n > cap {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "netlink answer larger than the buffer",
                ));
            }
            let mut off = 0;
            while off + 16 <= self.buf.len() {
                let len = u32::from_ne_bytes([
                    self.buf[off],
                    self.buf[off + 1],
                    self.buf[off + 2],
                    self.buf[off + 3],
                ]) as usize;
                if len < 16 || off + len > self.buf.len() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "truncated netlink message",
                    ));
                }
                let m =
                    NetlinkMessage::<RouteNetlinkMessage>::deserialize(&self.buf[off..off + len])
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                off += (len + 3) & !3;
                if m.header.sequence_number != seq {
                    continue;
                }
                if m.header.flags & NLM_F_DUMP_INTR != 0 {
                    interrupted = true;
                }
                match m.payload {
                    NetlinkPayload::InnerMessage(inner) => got.push(inner),
                    NetlinkPayload::Error(e) if e.code.is_some() => return Err(e.to_io()),
                    NetlinkPayload::Error(_) if !dump => return Ok(got),
                    NetlinkPayload::Done(_) if dump => {
                        if interrupted {
                            return Err(io::Error::from_raw_os_error(libc::EINTR));
                        }
                        return Ok(got);
                    }
                    _ => {}
                }
            }
        }
    }
}

/// The file of named namespace `ns` (as `ip netns add` makes it).
pub(crate) fn netns_path(ns: &str) -> PathBuf {
    PathBuf::from("/run/netns").join(ns)
}

/// Runs `f` on a new thread inside network namespace `ns` and hands its
/// result back; the caller's thread never changes namespace.
pub(crate) async fn in_netns<T, F>(ns: &str, f: F) -> io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    let file = File::open(netns_path(ns))?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("hostnet-netns".into())
        .spawn(move || {
            // SAFETY: setns(2) with a namespace file we opened, on this
            // thread only, which ends right after `f`; it touches no memory
            // of ours.
            #[allow(unsafe_code)]
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            let r = if rc == 0 {
                f()
            } else {
                Err(io::Error::last_os_error())
            };
            let _ = tx.send(r);
        })?;
    rx.await
        .map_err(|_| io::Error::other("the namespace thread ended without an answer"))?
}

/// The `struct ifreq` of `TUNSETIFF`: a name and the flags (the rest of
/// the kernel's union is padding here).
#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Makes persistent tap `name` (no packet information, no vnet header:
/// what `ip tuntap add dev N mode tap` makes) in the calling thread's
/// namespace. QEMU opens it later by name and sets its own vnet header.
pub(crate) fn create_tap(name: &str) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "tap name"));
    }
    let tun = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open("/dev/net/tun")?;
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        flags: (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short,
        _pad: [0; 22],
    };
    req.name[..bytes.len()].copy_from_slice(bytes);
    // SAFETY: TUNSETIFF reads and writes a `struct ifreq`, which `IfReq`
    // lays out (40 bytes) and which outlives the call; the fd is ours.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::ioctl(tun.as_raw_fd(), libc::TUNSETIFF, &mut req as *mut IfReq) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: TUNSETPERSIST takes its argument by value; the fd is ours.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::ioctl(tun.as_raw_fd(), libc::TUNSETPERSIST, 1 as libc::c_ulong) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifreq_is_the_kernels_size() {
        assert_eq!(std::mem::size_of::<IfReq>(), 40);
    }

    #[test]
    fn bad_tap_names_are_refused_before_the_kernel() {
        for n in ["", "a-name-longer-than-15", "a\0b"] {
            let e = create_tap(n).expect_err(n);
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{n:?}");
        }
    }
}
