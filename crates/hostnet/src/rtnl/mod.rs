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
    ErrorMessage, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_ACK_TLVS,
    NLM_F_CAPPED, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST,
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
                Err(e) if errno(&e) == Some(libc::EINTR) => continue,
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
                    NetlinkPayload::Error(e) if e.code.is_some() => {
                        return Err(refused(&e, m.header.flags))
                    }
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

/// What the kernel said when it refused a request: its errno and, when it
/// gave one, its extended-ack message ("Unknown device type", ...).
#[derive(Debug)]
struct Refused {
    errno: i32,
    message: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let os = io::Error::from_raw_os_error(self.errno);
        write!(f, "{os} ({})", self.message)
    }
}

impl std::error::Error for Refused {}

/// The errno of an error [`Rtnl`] returned (with or without the kernel's
/// message).
pub(crate) fn errno(e: &io::Error) -> Option<i32> {
    e.raw_os_error()
        .or_else(|| e.get_ref()?.downcast_ref::<Refused>().map(|r| r.errno))
}

/// The error for a refused request, with the kernel's extended-ack
/// message when the answer carries one (`flags`: the answer's).
fn refused(e: &ErrorMessage, flags: u16) -> io::Error {
    let errno = e.raw_code().abs();
    match ext_ack_message(&e.header, flags) {
        Some(message) => io::Error::new(
            io::Error::from_raw_os_error(errno).kind(),
            Refused { errno, message },
        ),
        None => io::Error::from_raw_os_error(errno),
    }
}

/// `NLMSGERR_ATTR_MSG` among the TLVs after the echoed request (its
/// header alone when the answer is capped).
fn ext_ack_message(echoed: &[u8], flags: u16) -> Option<String> {
    const NLMSGERR_ATTR_MSG: u16 = 1;
    if flags & NLM_F_ACK_TLVS == 0 || echoed.len() < 16 {
        return None;
    }
    let mut off = if flags & NLM_F_CAPPED != 0 {
        16
    } else {
        let len = u32::from_ne_bytes(echoed[..4].try_into().ok()?) as usize;
        (len + 3) & !3
    };
    while off + 4 <= echoed.len() {
        let len = u16::from_ne_bytes([echoed[off], echoed[off + 1]]) as usize;
        let kind = u16::from_ne_bytes([echoed[off + 2], echoed[off + 3]]) & 0x3fff;
        if len < 4 || off + len > echoed.len() {
            return None;
        }
        if kind == NLMSGERR_ATTR_MSG {
            let text = &echoed[off + 4..off + len];
            let text = text.split(|b| *b == 0).next().unwrap_or_default();
            return Some(String::from_utf8_lossy(text).into_owned());
        }
        off += (len + 3) & !3;
    }
    None
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

    fn tlv(kind: u16, value: &[u8]) -> Vec<u8> {
        let len = 4 + value.len();
        let mut v = (len as u16).to_ne_bytes().to_vec();
        v.extend(kind.to_ne_bytes());
        v.extend(value);
        v.resize((len + 3) & !3, 0);
        v
    }

    #[test]
    fn the_kernels_message_comes_with_its_errno() {
        let mut echoed = 40u32.to_ne_bytes().to_vec();
        echoed.resize(16, 0);
        echoed.extend(tlv(2, &7u32.to_ne_bytes()));
        echoed.extend(tlv(1, b"Unknown device type\0"));
        let capped = NLM_F_ACK_TLVS | NLM_F_CAPPED;
        let mut e = ErrorMessage::default();
        e.code = std::num::NonZeroI32::new(-libc::EOPNOTSUPP);
        e.header = echoed.clone();
        let err = refused(&e, capped);
        assert_eq!(errno(&err), Some(libc::EOPNOTSUPP));
        assert!(err.to_string().contains("(Unknown device type)"), "{err}");
        // Without the TLV flag, or without a message: the bare errno.
        let bare = refused(&e, NLM_F_CAPPED);
        assert_eq!(bare.raw_os_error(), Some(libc::EOPNOTSUPP));
        e.header.truncate(16);
        assert_eq!(refused(&e, capped).raw_os_error(), Some(libc::EOPNOTSUPP));
        // Not capped: the TLVs follow the whole echoed request.
        let mut whole = 24u32.to_ne_bytes().to_vec();
        whole.resize(24, 0);
        whole.extend(tlv(1, b"Device does not exist\0"));
        assert_eq!(
            ext_ack_message(&whole, NLM_F_ACK_TLVS).as_deref(),
            Some("Device does not exist")
        );
    }

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
