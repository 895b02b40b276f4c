//! The narrow seam to the kernel: links, addresses and FDB entries over
//! route netlink from the agent itself (the private `rtnl` module), taps
//! through the tun driver's ioctls, and, as processes, rule sets
//! (`nft -f -`), named namespaces (`ip netns add/del`) and commands inside
//! one (`ip netns exec`, dnsmasq).
//!
//! The methods keep iproute2's meanings: [`Link`] is what `ip -json
//! -details link show` printed (masters and parents by name, the kind's
//! `info_data` under iproute2's keys), [`Kernel::converge_link`] is one
//! `RTM_SETLINK` of what differs, as `ip link set` was. Netlink removed the
//! process per call (1-3 ms each, about eleven per port); what is left as
//! a process is counted by [`commands_run`], requests by
//! [`netlink_requests`].
//!
//! Every process is an argv handed to the program directly (no shell) and
//! its failure an [`Error::Command`] with the argv, exit status and
//! stderr; a refused request is an [`Error::Kernel`] naming it, with the
//! errno. Names reach here already checked ([`crate::names`]). With
//! [`HostNetConfig::netns`](crate::HostNetConfig::netns) set, every call
//! happens in that namespace (the socket and taps are made by a thread
//! that entered it; processes get `ip -n`, `ip netns exec`), which is how
//! tests and stand-in hosts stay off the machine's own interfaces; a
//! [`Kernel::new`] per namespace reaches any other (the DHCP ones).

mod routes;

pub use routes::Route;

use crate::rtnl::msg;
use crate::rtnl::{self, Rtnl};
use crate::{Error, Result};
use netlink_packet_core::{NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::LinkMessage;
use netlink_packet_route::RouteNetlinkMessage as Rtm;
use serde::Deserialize;
use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::io::AsyncWriteExt;

pub use crate::rtnl::msg::{BridgeOptions, LinkChange, Vxlan};
pub use crate::rtnl::requests as netlink_requests;

/// Where `tool` is, on the usual system paths.
pub fn find_tool(tool: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin"]
        .iter()
        .map(|d| PathBuf::from(d).join(tool))
        .find(|p| p.exists())
}

/// One link as `ip -json -details link show` describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct Link {
    /// Its index (0 when not read from the kernel).
    #[serde(default, rename = "ifindex")]
    pub index: u32,
    /// Its name.
    pub ifname: String,
    /// Its MTU.
    #[serde(default)]
    pub mtu: u32,
    /// Its flags (`UP`, ...).
    #[serde(default)]
    pub flags: Vec<String>,
    /// The bridge it is enslaved to.
    #[serde(default)]
    pub master: Option<String>,
    /// Its alias (we keep the object id there).
    #[serde(default)]
    pub ifalias: Option<String>,
    /// Its MAC.
    #[serde(default)]
    pub address: Option<String>,
    /// The kernel's operational state (`UP`, `DOWN`, `LOWERLAYERDOWN`...).
    #[serde(default)]
    pub operstate: Option<String>,
    /// The device it sits on (a VLAN's parent).
    #[serde(default)]
    pub link: Option<String>,
    /// Kind-specific data.
    #[serde(default)]
    pub linkinfo: Option<LinkInfo>,
}

/// The `linkinfo` of a link.
#[derive(Debug, Clone, Deserialize)]
pub struct LinkInfo {
    /// `bridge`, `vxlan`, `tun`, `veth`, `vlan`...
    #[serde(default)]
    pub info_kind: Option<String>,
    /// The kind's attributes.
    #[serde(default)]
    pub info_data: Option<serde_json::Value>,
}

impl Link {
    /// A link just created: down, MTU unknown, no master or alias.
    pub fn fresh(name: &str, kind: &str) -> Self {
        Link {
            index: 0,
            ifname: name.to_owned(),
            mtu: 0,
            flags: Vec::new(),
            master: None,
            ifalias: None,
            address: None,
            operstate: None,
            link: None,
            linkinfo: Some(LinkInfo {
                info_kind: Some(kind.to_owned()),
                info_data: None,
            }),
        }
    }

    /// Administratively up.
    pub fn is_up(&self) -> bool {
        self.flags.iter().any(|f| f == "UP")
    }

    /// Its kind (`bridge`, `vxlan`, `tun`...).
    pub fn kind(&self) -> Option<&str> {
        self.linkinfo.as_ref()?.info_kind.as_deref()
    }

    /// One attribute of its kind's data.
    pub fn data(&self, key: &str) -> Option<&serde_json::Value> {
        self.linkinfo.as_ref()?.info_data.as_ref()?.get(key)
    }
}

/// How many commands [`Kernel::run`] has started in this process.
static COMMANDS_RUN: AtomicU64 = AtomicU64::new(0);

/// The number of external commands (`nft`, `ip netns`, dnsmasq, ...) the
/// data plane has started in this process so far: benchmarks divide it by
/// the ports they programmed, since a process per call is what costs most
/// (links, addresses and FDB entries are netlink requests now, counted by
/// [`netlink_requests`]).
pub fn commands_run() -> u64 {
    COMMANDS_RUN.load(Ordering::Relaxed)
}

/// Talks to the kernel in the configured namespace: netlink for links,
/// addresses and FDB entries, processes for the rest. Clones share one
/// netlink socket, opened at first use.
#[derive(Debug, Clone)]
pub struct Kernel {
    netns: Option<String>,
    rtnl: Arc<Mutex<Option<Rtnl>>>,
    /// Link index -> name, for the masters and parents links refer to
    /// (indexes are not reused and we never rename, so a name once read
    /// stays right; it saves a request per port on every ensure).
    names: Arc<Mutex<HashMap<u32, String>>>,
}

impl Kernel {
    /// Everything in named namespace `netns` (`None`: the namespace of the
    /// thread that makes the first request, the agent's own).
    pub fn new(netns: Option<String>) -> Self {
        Kernel {
            netns,
            rtnl: Arc::default(),
            names: Arc::default(),
        }
    }

    /// The namespace, if any.
    pub fn netns(&self) -> Option<&str> {
        self.netns.as_deref()
    }

    /// Runs `argv`, feeding `stdin`; its stdout.
    pub async fn run(&self, argv: &[&str], stdin: Option<&str>) -> Result<String> {
        COMMANDS_RUN.fetch_add(1, Ordering::Relaxed);
        let argv_owned: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        let mut cmd = tokio::process::Command::new(argv[0]);
        cmd.args(&argv[1..])
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|source| Error::Spawn {
            argv: argv_owned.clone(),
            source,
        })?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            let written = pipe.write_all(input.as_bytes()).await;
            drop(pipe);
            written.map_err(|source| Error::Spawn {
                argv: argv_owned.clone(),
                source,
            })?;
        }
        let out = child
            .wait_with_output()
            .await
            .map_err(|source| Error::Spawn {
                argv: argv_owned.clone(),
                source,
            })?;
        if !out.status.success() {
            return Err(Error::Command {
                argv: argv_owned,
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn with_ns<'a>(&'a self, tool: &'a str, args: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec![tool];
        if let Some(ns) = &self.netns {
            v.extend(["-n", ns.as_str()]);
        }
        v.extend(args);
        v
    }

    /// `ip [-n ns] args...` (a process: what netlink does not cover here,
    /// and the operator's view's `-json` reads).
    pub async fn ip(&self, args: &[&str]) -> Result<String> {
        self.run(&self.with_ns("ip", args), None).await
    }

    /// `bridge [-n ns] args...` (a process, as [`Kernel::ip`]).
    pub async fn bridge(&self, args: &[&str]) -> Result<String> {
        self.run(&self.with_ns("bridge", args), None).await
    }

    /// `argv` inside namespace `ns` (or the configured one when `None`).
    pub async fn exec_in(
        &self,
        ns: Option<&str>,
        argv: &[&str],
        stdin: Option<&str>,
    ) -> Result<String> {
        match ns.or(self.netns.as_deref()) {
            Some(ns) => {
                let mut v = vec!["ip", "netns", "exec", ns];
                v.extend(argv);
                self.run(&v, stdin).await
            }
            None => self.run(argv, stdin).await,
        }
    }

    /// One atomic nft transaction.
    pub async fn nft(&self, script: &str) -> Result<String> {
        self.exec_in(None, &["nft", "-f", "-"], Some(script)).await
    }

    /// Runs `f` on this kernel's netlink socket, opening it first if
    /// needed (in the named namespace by a thread that enters it, or on
    /// the calling thread). `what` names the request in errors.
    async fn rtnl<T>(&self, what: &str, f: impl FnOnce(&mut Rtnl) -> io::Result<T>) -> Result<T> {
        let open = self
            .rtnl
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        if !open {
            let socket = match &self.netns {
                Some(ns) => rtnl::in_netns(ns, Rtnl::open).await,
                None => Rtnl::open(),
            }
            .map_err(Error::kernel(format!(
                "netlink socket in namespace {:?}",
                self.netns.as_deref().unwrap_or("(own)")
            )))?;
            let mut slot = self.rtnl.lock().unwrap_or_else(PoisonError::into_inner);
            if slot.is_none() {
                *slot = Some(socket);
            }
        }
        let mut slot = self.rtnl.lock().unwrap_or_else(PoisonError::into_inner);
        match slot.as_mut() {
            Some(socket) => f(socket).map_err(Error::kernel(what)),
            None => Err(Error::Missing("netlink socket vanished".into())),
        }
    }

    /// All links (with details), or those of one kind (`bridge`, `tun`...).
    pub async fn links(&self, kind: Option<&str>) -> Result<Vec<Link>> {
        let all = self
            .rtnl("RTM_GETLINK dump", |s| {
                s.dump(Rtm::GetLink(LinkMessage::default()))
            })
            .await?;
        let msgs: Vec<LinkMessage> = all
            .into_iter()
            .filter_map(|m| match m {
                Rtm::NewLink(l) => Some(l),
                _ => None,
            })
            .collect();
        let names: HashMap<u32, String> = msgs
            .iter()
            .filter_map(|m| Some((m.header.index, msg::link_name(m)?.to_owned())))
            .collect();
        let name_of = |i: u32| names.get(&i).cloned();
        Ok(msgs
            .iter()
            .map(|m| msg::link_from(m, &name_of))
            .filter(|l| kind.is_none() || l.kind() == kind)
            .collect())
    }

    /// One link, if it exists.
    pub async fn link(&self, name: &str) -> Result<Option<Link>> {
        let what = format!("RTM_GETLINK {name}");
        self.rtnl(&what, |s| {
            let Some(m) = get_link(s, msg::get_link(name))? else {
                return Ok(None);
            };
            // Its master, parent and underlay by name: one get each the
            // first time an index is seen.
            let mut names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
            for i in msg::referenced_indexes(&m) {
                if names.contains_key(&i) {
                    continue;
                }
                if let Some(r) = get_link(s, msg::get_link_index(i))? {
                    names.insert(i, msg::link_name(&r).unwrap_or_default().to_owned());
                }
            }
            Ok(Some(msg::link_from(&m, &|i| names.get(&i).cloned())))
        })
        .await
    }

    /// The index of link `name`, if it exists.
    async fn index(&self, name: &str) -> Result<Option<u32>> {
        let what = format!("RTM_GETLINK {name}");
        self.rtnl(&what, |s| {
            Ok(get_link(s, msg::get_link(name))?.map(|m| m.header.index))
        })
        .await
    }

    /// The index of link `name`, which must exist (`what` says what it is).
    async fn need_index(&self, name: &str, what: &str) -> Result<u32> {
        self.index(name)
            .await?
            .ok_or_else(|| Error::Missing(format!("{what} {name} does not exist")))
    }

    async fn request(&self, what: &str, m: Rtm, flags: u16) -> Result<()> {
        self.rtnl(what, |s| s.ack(m, flags)).await
    }

    /// Deletes link `name`; absent is fine.
    pub async fn delete_link(&self, name: &str) -> Result<()> {
        let what = format!("RTM_DELLINK {name}");
        self.rtnl(&what, |s| {
            match s.ack(Rtm::DelLink(msg::del_link(name)), 0) {
                Err(e) if rtnl::errno(&e) == Some(libc::ENODEV) => Ok(()),
                other => other,
            }
        })
        .await
    }

    /// Brings `name` to the MTU, alias, master and admin state given, in
    /// one `RTM_SETLINK` of what differs (nothing when nothing does).
    pub async fn converge_link(&self, have: &Link, want: &LinkState<'_>) -> Result<()> {
        let name = have.ifname.as_str();
        let mut change = LinkChange::default();
        if have.mtu != want.mtu {
            change.mtu = Some(want.mtu);
        }
        if let Some(alias) = want.alias.filter(|a| have.ifalias.as_deref() != Some(*a)) {
            change.alias = Some(alias.to_owned());
        }
        if let Some(master) = want.master.filter(|m| have.master.as_deref() != Some(*m)) {
            change.master = Some(self.need_index(master, "bridge").await?);
        }
        if have.is_up() != want.up {
            change.up = Some(want.up);
        }
        self.set_link(name, &change).await
    }

    /// One `RTM_SETLINK` of `name` (nothing when `change` is empty).
    pub async fn set_link(&self, name: &str, change: &LinkChange) -> Result<()> {
        if change.is_empty() {
            return Ok(());
        }
        let what = format!("RTM_SETLINK {name} ({change:?})");
        self.request(&what, Rtm::SetLink(msg::set_link(name, change)), 0)
            .await
    }

    /// Enslaves `name` to bridge `master` (`ip link set dev N master B`).
    pub async fn set_master(&self, name: &str, master: &str) -> Result<()> {
        let change = LinkChange {
            master: Some(self.need_index(master, "bridge").await?),
            ..LinkChange::default()
        };
        self.set_link(name, &change).await
    }

    /// Sets `name`'s MAC (`ip link set dev N address M`).
    pub async fn set_mac(&self, name: &str, mac: &str) -> Result<()> {
        let address = msg::parse_mac(mac).ok_or_else(|| Error::invalid("MAC", mac))?;
        let change = LinkChange {
            address: Some(address),
            ..LinkChange::default()
        };
        self.set_link(name, &change).await
    }

    /// Brings `name` up (`ip link set dev N up`).
    pub async fn set_up(&self, name: &str) -> Result<()> {
        let change = LinkChange {
            up: Some(true),
            ..LinkChange::default()
        };
        self.set_link(name, &change).await
    }

    async fn create(&self, what: &str, m: LinkMessage) -> Result<()> {
        self.request(what, Rtm::NewLink(m), NLM_F_CREATE | NLM_F_EXCL)
            .await
    }

    /// Makes bridge `name` with `options` (`ip link add name N type bridge
    /// ...`).
    pub async fn create_bridge(&self, name: &str, options: &BridgeOptions) -> Result<()> {
        let what = format!("RTM_NEWLINK {name} (bridge)");
        self.create(&what, msg::new_bridge(name, options)).await
    }

    /// Changes bridge `name`'s options (`ip link set dev N type bridge ...`).
    pub async fn set_bridge(&self, name: &str, options: &BridgeOptions) -> Result<()> {
        let what = format!("RTM_NEWLINK {name} (bridge options {options:?})");
        self.request(&what, Rtm::NewLink(msg::set_bridge(name, options)), 0)
            .await
    }

    /// Makes VXLAN device `name` on underlay `device` (`ip link add name N
    /// type vxlan id I local L dev D dstport P [group G]`).
    pub async fn create_vxlan(
        &self,
        name: &str,
        vni: u32,
        local: IpAddr,
        device: &str,
        port: u16,
        group: Option<IpAddr>,
    ) -> Result<()> {
        let device = self.need_index(device, "tunnel device").await?;
        let v = Vxlan {
            name,
            vni,
            local,
            device,
            port,
            group,
        };
        let what = format!("RTM_NEWLINK {name} (vxlan {vni})");
        self.create(&what, msg::new_vxlan(&v)).await
    }

    /// Makes veth pair `name`/`peer`, the peer in named namespace
    /// `peer_netns` when given (`ip link add N type veth peer name P
    /// [netns NS]`).
    pub async fn create_veth(
        &self,
        name: &str,
        peer: &str,
        peer_netns: Option<&str>,
    ) -> Result<()> {
        let ns_file = match peer_netns {
            Some(ns) => {
                let path = rtnl::netns_path(ns);
                Some(std::fs::File::open(&path).map_err(Error::io(&path))?)
            }
            None => None,
        };
        let m = msg::new_veth(name, peer, ns_file.as_ref().map(|f| f.as_raw_fd()));
        let what = format!("RTM_NEWLINK {name} (veth, peer {peer} in {peer_netns:?})");
        let created = self.create(&what, m).await;
        drop(ns_file);
        created
    }

    /// Makes VLAN sub-interface `name` of `parent` (`ip link add link P
    /// name N type vlan id V`).
    pub async fn create_vlan(&self, name: &str, parent: &str, vid: u16) -> Result<()> {
        let parent = self.need_index(parent, "VLAN parent").await?;
        let what = format!("RTM_NEWLINK {name} (vlan {vid})");
        self.create(&what, msg::new_vlan(name, parent, vid)).await
    }

    /// Makes persistent tap `name` (`ip tuntap add dev N mode tap`): the
    /// tun driver's `TUNSETIFF` and `TUNSETPERSIST`, in the namespace.
    pub async fn create_tap(&self, name: &str) -> Result<()> {
        let what = format!("TUNSETIFF {name} (tap)");
        let owned = name.to_owned();
        match &self.netns {
            Some(ns) => rtnl::in_netns(ns, move || rtnl::create_tap(&owned)).await,
            None => rtnl::create_tap(name),
        }
        .map_err(Error::kernel(what))
    }

    /// The destinations of device `dev`'s all-zero (flooding) FDB entries
    /// (`bridge fdb show dev D`, the `00:00:00:00:00:00 dst P` lines).
    pub async fn flood_peers(&self, dev: &str) -> Result<Vec<String>> {
        let index = self.need_index(dev, "device").await?;
        let what = format!("RTM_GETNEIGH dump (bridge fdb of {dev})");
        let all = self
            .rtnl(&what, |s| s.dump(Rtm::GetNeighbour(msg::fdb_dump(index))))
            .await?;
        let entries = all.iter().filter_map(|m| match m {
            Rtm::NewNeighbour(n) => Some(n),
            _ => None,
        });
        Ok(msg::flood_destinations(index, entries))
    }

    /// Adds an all-zero FDB entry flooding `dev`'s traffic to `dst`
    /// (`bridge fdb append 00:00:00:00:00:00 dev D dst P`).
    pub async fn flood_add(&self, dev: &str, dst: IpAddr) -> Result<()> {
        let index = self.need_index(dev, "device").await?;
        let what = format!("RTM_NEWNEIGH {dev} 00:00:00:00:00:00 dst {dst}");
        let m = Rtm::NewNeighbour(msg::flood_entry(index, dst));
        self.request(&what, m, NLM_F_CREATE | NLM_F_APPEND).await
    }

    /// Removes the all-zero FDB entry of `dev` to `dst` (`bridge fdb del
    /// 00:00:00:00:00:00 dev D dst P`); absent is fine.
    pub async fn flood_del(&self, dev: &str, dst: IpAddr) -> Result<()> {
        let index = self.need_index(dev, "device").await?;
        let what = format!("RTM_DELNEIGH {dev} 00:00:00:00:00:00 dst {dst}");
        let m = Rtm::DelNeighbour(msg::flood_entry(index, dst));
        self.rtnl(&what, |s| match s.ack(m, 0) {
            Err(e) if rtnl::errno(&e) == Some(libc::ENOENT) => Ok(()),
            other => other,
        })
        .await
    }

    /// The global-scope addresses of `dev`, as `A/L` (`ip addr show dev
    /// D`, `scope global`).
    pub async fn addresses(&self, dev: &str) -> Result<Vec<String>> {
        let index = self.need_index(dev, "device").await?;
        let what = format!("RTM_GETADDR dump ({dev})");
        let all = self
            .rtnl(&what, |s| {
                s.dump(Rtm::GetAddress(AddressMessage::default()))
            })
            .await?;
        let addrs = all.iter().filter_map(|m| match m {
            Rtm::NewAddress(a) => Some(a),
            _ => None,
        });
        Ok(msg::global_addresses(index, addrs))
    }

    /// Adds address `cidr` (`A/L`) to `dev` (`ip addr add A/L dev D`).
    pub async fn add_address(&self, dev: &str, cidr: &str) -> Result<()> {
        let (addr, len) = parse_cidr(cidr)?;
        let index = self.need_index(dev, "device").await?;
        let what = format!("RTM_NEWADDR {cidr} dev {dev}");
        let m = Rtm::NewAddress(msg::address(index, addr, len));
        self.request(&what, m, NLM_F_CREATE | NLM_F_EXCL).await
    }

    /// Removes address `cidr` (`A/L`) from `dev` (`ip addr del A/L dev D`).
    pub async fn del_address(&self, dev: &str, cidr: &str) -> Result<()> {
        let (addr, len) = parse_cidr(cidr)?;
        let index = self.need_index(dev, "device").await?;
        let what = format!("RTM_DELADDR {cidr} dev {dev}");
        self.request(&what, Rtm::DelAddress(msg::address(index, addr, len)), 0)
            .await
    }

    /// The named namespaces that exist: the entries of `/run/netns`, which
    /// is all `ip netns list` reads (no process for it).
    pub async fn namespaces(&self) -> Result<Vec<String>> {
        let dir = std::path::Path::new("/run/netns");
        let mut entries = match tokio::fs::read_dir(dir).await {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(dir)(e)),
        };
        let mut out = Vec::new();
        while let Some(e) = entries.next_entry().await.map_err(Error::io(dir))? {
            if let Some(name) = e.file_name().to_str() {
                out.push(name.to_owned());
            }
        }
        out.sort();
        Ok(out)
    }
}

/// What [`Kernel::converge_link`] makes a link.
#[derive(Debug, Clone)]
pub struct LinkState<'a> {
    /// Its MTU.
    pub mtu: u32,
    /// Its alias, if we keep one.
    pub alias: Option<&'a str>,
    /// The bridge it belongs in, if any.
    pub master: Option<&'a str>,
    /// Administratively up.
    pub up: bool,
}

/// The one link `req` names (`None` when the kernel knows no such link).
fn get_link(s: &mut Rtnl, req: LinkMessage) -> io::Result<Option<LinkMessage>> {
    match s.get(Rtm::GetLink(req)) {
        Ok(msgs) => Ok(msgs.into_iter().find_map(|m| match m {
            Rtm::NewLink(l) => Some(l),
            _ => None,
        })),
        Err(e) if rtnl::errno(&e) == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `A/L` as an address and a prefix length that fits it.
fn parse_cidr(cidr: &str) -> Result<(IpAddr, u8)> {
    let bad = || Error::invalid("address/prefix", cidr);
    let (a, l) = cidr.split_once('/').ok_or_else(bad)?;
    let addr: IpAddr = a.parse().map_err(|_| bad())?;
    let len: u8 = l.parse().map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if len > max {
        return Err(bad());
    }
    Ok((addr, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_within_their_family() {
        assert_eq!(
            parse_cidr("10.0.0.2/24").expect("v4"),
            ("10.0.0.2".parse().expect("ip"), 24)
        );
        assert_eq!(parse_cidr("fd00::2/64").expect("v6").1, 64);
        for bad in ["10.0.0.2", "10.0.0.2/33", "x/24", "fd00::2/129"] {
            assert!(parse_cidr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_link_read_from_json_still_parses() {
        let l: Link = serde_json::from_str(
            r#"{"ifindex":4,"ifname":"tapx","mtu":1450,"flags":["UP"],"linkinfo":{"info_kind":"tun"}}"#,
        )
        .expect("link");
        assert_eq!((l.index, l.kind(), l.is_up()), (4, Some("tun"), true));
    }
}
