//! The DHCP driver: dnsmasq per network, in its own namespace.
//!
//! ```text
//!  brq<net> ── dhq<11 of net> ═veth═ ns-dhcp (in qdhcp-<net>: the DHCP
//!                                     port's MAC and addresses) ── dnsmasq
//! ```
//!
//! dnsmasq serves static leases only (`--dhcp-range=<net>,static`): each
//! port gets exactly its fixed IP from `--dhcp-hostsfile`, nothing
//! dynamic. Options per subnet in `--dhcp-optsfile`: MTU (26), router
//! (3), DNS servers (6) and classless static routes (121, with the
//! default route in it, since clients that take 121 ignore 3). When only
//! the hosts or options change the files are rewritten and dnsmasq gets
//! SIGHUP (it re-reads both without dropping leases); when its command
//! line changes (the subnets) it is restarted. Its pid file lives in the
//! state dir, so a restarted agent adopts the running dnsmasq (checked by
//! its `/proc/<pid>/cmdline`) instead of starting another. IPv4 only so
//! far: IPv6 subnets are skipped.
//!
//! With a metadata proxy ([`DhcpDriver::with_metadata`]), the namespace's
//! port also holds 169.254.169.254, every subnet's clients get a host
//! route to it through the DHCP port, and the proxy serves it there (see
//! [`crate::metadata`]). The proxy lives in the agent's process while
//! dnsmasq and the namespace outlive it, so the address book is also
//! written to the state dir, and listing the networks (at adoption and
//! at every resync) restarts the proxy of any network that has a
//! namespace but no proxy: a restarted agent serves metadata again
//! without a new generation.

use crate::kernel::{Kernel, LinkState};
use crate::metadata::{bind_in_netns, METADATA_IP};
use crate::network::find;
use crate::{error_chain, names, Error, HostNetConfig, Result};
use ferrostack_agent::drivers::{Details, DriverFuture, ObjectDriver};
use ferrostack_agent::metadata_proxy::{AddressBook, MetadataProxy};
use ferrostack_host_contract::network::{DesiredDhcp, DhcpSubnet};
use ferrostack_host_contract::{HostDesired, Kind};
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Converges [`DesiredDhcp`]s.
#[derive(Clone)]
pub struct DhcpDriver {
    cfg: Arc<HostNetConfig>,
    kernel: Kernel,
    metadata: Option<Arc<MetadataProxy>>,
}

impl std::fmt::Debug for DhcpDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DhcpDriver")
            .field("cfg", &self.cfg)
            .field("metadata", &self.metadata.is_some())
            .finish()
    }
}

/// The files of one network's dnsmasq.
pub(crate) struct Files {
    pub(crate) dir: PathBuf,
}

impl Files {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
    fn path_str(&self, name: &str) -> String {
        self.path(name).to_string_lossy().into_owned()
    }
}

impl DhcpDriver {
    /// A driver for the host `cfg` describes.
    pub fn new(cfg: Arc<HostNetConfig>) -> Self {
        let kernel = Kernel::new(cfg.netns.clone());
        DhcpDriver {
            cfg,
            kernel,
            metadata: None,
        }
    }

    /// Serve guests' metadata through `proxy` on every network's DHCP
    /// namespace.
    pub fn with_metadata(mut self, proxy: Arc<MetadataProxy>) -> Self {
        self.metadata = Some(proxy);
        self
    }

    /// Start the metadata server of network `id` in namespace `ns` if it
    /// does not run, and give it the network's addresses.
    fn serve_metadata(&self, d: &DesiredDhcp, ns: &str) -> Result<()> {
        let Some(proxy) = &self.metadata else {
            return Ok(());
        };
        let mut book = AddressBook::new();
        let mut text = String::new();
        for h in &d.hosts {
            if let Some(instance) = &h.instance_id {
                names::check_token(instance)?;
                let ip = names::check_ip(&h.ip_address)?;
                book.insert(ip, instance.clone());
                let _ = writeln!(text, "{ip} {instance}");
            }
        }
        let files = self.files(&d.network_id)?;
        std::fs::write(files.path("metadata"), text).map_err(Error::io(files.path("metadata")))?;
        proxy.set_addresses(&d.network_id, book);
        if !proxy.serving(&d.network_id) {
            self.start_metadata(proxy, &d.network_id, ns)?;
        }
        Ok(())
    }

    fn start_metadata(&self, proxy: &MetadataProxy, network_id: &str, ns: &str) -> Result<()> {
        let listener = bind_in_netns(ns, (METADATA_IP, 80).into())?;
        proxy
            .serve(network_id, listener)
            .map_err(Error::io(format!("/run/netns/{ns}")))
    }

    /// A network with a namespace but no metadata server (the agent
    /// restarted): its server again, with the address book last written.
    fn restore_metadata(&self, proxy: &MetadataProxy, network_id: &str) -> Result<()> {
        let files = self.files(network_id)?;
        let path = files.path("metadata");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            // Not ours, or never served: nothing to restore (an orphan
            // namespace is removed by the engine).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(&path)(e)),
        };
        let mut book = AddressBook::new();
        for line in text.lines() {
            if let Some((ip, instance)) = line.split_once(' ') {
                book.insert(names::check_ip(ip)?, instance.to_string());
            }
        }
        proxy.set_addresses(network_id, book);
        let ns = names::dhcp_netns(&self.cfg, network_id)?;
        self.start_metadata(proxy, network_id, &ns)
    }

    fn files(&self, network_id: &str) -> Result<Files> {
        names::check_token(network_id)?;
        Ok(Files {
            dir: self.cfg.state_dir.join("dhcp").join(network_id),
        })
    }

    /// The networks whose DHCP namespace exists. A dnsmasq found dead is
    /// started again here from its recorded command line (the engine only
    /// re-ensures what is absent).
    pub async fn existing(&self) -> Result<Vec<String>> {
        let prefix = &self.cfg.dhcp_netns_prefix;
        let veths: Vec<String> = (self.kernel.links(Some("veth")).await?)
            .into_iter()
            .map(|l| l.ifname)
            .collect();
        let namespaces = self.kernel.namespaces().await?;
        let mut out = Vec::new();
        for id in dhcp_networks_here(&namespaces, prefix, &veths) {
            let files = self.files(&id)?;
            if running(&files).await.is_none() {
                self.restart(&format!("{prefix}{id}"), &files).await;
            }
            out.push(id);
        }
        Ok(out)
    }

    async fn restart(&self, ns: &str, files: &Files) {
        let Ok(args) = tokio::fs::read_to_string(files.path("args")).await else {
            return;
        };
        let args: Vec<String> = args.lines().map(str::to_owned).collect();
        tracing::warn!(namespace = %ns.escape_debug(), "dnsmasq not running; starting it again");
        if let Err(e) = self.start(ns, &args, files).await {
            tracing::warn!(namespace = %ns.escape_debug(), error = %error_chain(&e), "cannot restart dnsmasq");
        }
    }

    /// Makes network `d.network_id`'s DHCP server match `d`.
    pub async fn converge(&self, desired: &HostDesired, d: &DesiredDhcp) -> Result<Details> {
        let net = find(&desired.network.networks, "network", &d.network_id, |n| {
            &n.id
        })?;
        let br = names::bridge(&self.cfg, &net.id)?;
        if self.kernel.link(&br).await?.is_none() {
            return Err(Error::Missing(format!(
                "bridge {br} of network {} does not exist yet",
                net.id
            )));
        }
        let ns = names::dhcp_netns(&self.cfg, &d.network_id)?;
        self.plumb(d, &br, &ns, net.mtu).await?;
        let files = self.files(&d.network_id)?;
        // A namespace deleted behind our back and made again by plumb()
        // is a new one: a dnsmasq and a metadata server still running in
        // the old one serve a dead veth, so both start again here.
        let stale = match running(&files).await {
            Some(pid) => !same_namespace(
                netns_id(&format!("/proc/{pid}/ns/net")),
                netns_id(&format!("/run/netns/{ns}")),
            ),
            None => false,
        };
        if stale {
            tracing::warn!(namespace = %ns, "dnsmasq runs in a namespace that is gone; starting it again");
            if let Some(proxy) = &self.metadata {
                proxy.stop(&d.network_id);
            }
        }
        let args = dnsmasq_args(&files, &d.subnets)?;
        let hosts = render_hosts(d)?;
        let metadata_via = self.metadata.as_ref().map(|_| d);
        let opts = render_opts(&d.subnets, net.mtu, metadata_via)?;
        tokio::fs::create_dir_all(&files.dir)
            .await
            .map_err(Error::io(&files.dir))?;
        set_mode(&files.dir, 0o755)?;
        searchable(&files.dir)?;
        let changed_hosts = write_if_changed(&files.path("hosts"), &hosts).await?;
        let changed_opts = write_if_changed(&files.path("opts"), &opts).await?;
        let changed_args = write_if_changed(&files.path("args"), &args.join("\n")).await?;
        let pid = match running(&files).await {
            Some(pid) if !changed_args && !stale => {
                if changed_hosts || changed_opts {
                    signal(pid, libc::SIGHUP)?;
                }
                pid
            }
            running_pid => {
                if let Some(pid) = running_pid {
                    stop(pid, &files).await?;
                }
                self.start(&ns, &args, &files).await?
            }
        };
        self.serve_metadata(d, &ns)?;
        let mut details = Details::new();
        details.insert("namespace".into(), ns.into());
        details.insert("pid".into(), pid.into());
        Ok(details)
    }

    /// The namespace, the veth into the bridge, the DHCP port's MAC and
    /// addresses on its inner end.
    async fn plumb(&self, d: &DesiredDhcp, br: &str, ns: &str, mtu: u32) -> Result<()> {
        let inner = Kernel::new(Some(ns.to_owned()));
        if !self.kernel.namespaces().await?.iter().any(|n| n == ns) {
            self.kernel.run(&["ip", "netns", "add", ns], None).await?;
        }
        let outer = names::dhcp_veth(&d.network_id)?;
        let inner_link = inner.link(names::DHCP_INNER).await?;
        if inner_link.is_none() {
            self.kernel.delete_link(&outer).await?;
            self.kernel
                .create_veth(&outer, names::DHCP_INNER, Some(ns))
                .await?;
        }
        let have = self
            .kernel
            .link(&outer)
            .await?
            .ok_or_else(|| Error::Missing(format!("veth {outer} vanished after creation")))?;
        let want = LinkState {
            mtu,
            alias: None,
            master: Some(br),
            up: true,
        };
        self.kernel.converge_link(&have, &want).await?;
        let mac = names::check_mac(&d.port.mac_address)?;
        let have = inner
            .link(names::DHCP_INNER)
            .await?
            .ok_or_else(|| Error::Missing(format!("{} vanished in {ns}", names::DHCP_INNER)))?;
        if have.address.as_deref().map(str::to_ascii_lowercase) != Some(mac.clone()) {
            inner.set_mac(names::DHCP_INNER, &mac).await?;
        }
        let want = LinkState {
            mtu,
            alias: None,
            master: None,
            up: true,
        };
        inner.converge_link(&have, &want).await?;
        inner.set_up("lo").await?;
        self.converge_addresses(&inner, d).await
    }

    async fn converge_addresses(&self, inner: &Kernel, d: &DesiredDhcp) -> Result<()> {
        let mut want = Vec::new();
        for ip in &d.port.fixed_ips {
            let Some(subnet) = d.subnets.iter().find(|s| s.id == ip.subnet_id) else {
                continue;
            };
            let addr = names::check_ip(&ip.ip_address)?;
            let (_, len) = names::check_prefix(&subnet.cidr)?;
            want.push(format!("{addr}/{len}"));
        }
        if self.metadata.is_some() {
            want.push(format!("{METADATA_IP}/32"));
        }
        let have = inner.addresses(names::DHCP_INNER).await?;
        for a in want.iter().filter(|a| !have.contains(a)) {
            inner.add_address(names::DHCP_INNER, a).await?;
        }
        for a in have.iter().filter(|a| !want.contains(a)) {
            inner.del_address(names::DHCP_INNER, a).await?;
        }
        Ok(())
    }

    async fn start(&self, ns: &str, args: &[String], files: &Files) -> Result<i32> {
        let _ = tokio::fs::remove_file(files.path("pid")).await;
        let mut argv: Vec<&str> = vec!["ip", "netns", "exec", ns];
        argv.extend(args.iter().map(String::as_str));
        // dnsmasq daemonizes: the command returns once it has started (or
        // failed to, with its reason on stderr); the pid file follows.
        self.kernel.run(&argv, None).await?;
        for _ in 0..100 {
            if let Some(pid) = running(files).await {
                return Ok(pid);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(Error::Missing(format!(
            "dnsmasq in {ns} wrote no pid file {}",
            files.path("pid").display()
        )))
    }

    /// Stops network `id`'s dnsmasq and removes its namespace, veth and files.
    pub async fn teardown(&self, id: &str) -> Result<()> {
        if let Some(proxy) = &self.metadata {
            proxy.stop(id);
        }
        let files = self.files(id)?;
        if let Some(pid) = running(&files).await {
            stop(pid, &files).await?;
        }
        self.kernel.delete_link(&names::dhcp_veth(id)?).await?;
        let ns = names::dhcp_netns(&self.cfg, id)?;
        if self.kernel.namespaces().await?.contains(&ns) {
            self.kernel.run(&["ip", "netns", "del", &ns], None).await?;
        }
        match tokio::fs::remove_dir_all(&files.dir).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(&files.dir)(e)),
            _ => Ok(()),
        }
    }
}

/// The identity (device, inode) of the network namespace at `path`
/// (`/proc/<pid>/ns/net` or `/run/netns/<name>`), if it can be read.
fn netns_id(path: &str) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Whether two namespace identities are the same namespace; when either
/// is unknown, assume so (no restart on a guess).
fn same_namespace(a: Option<(u64, u64)>, b: Option<(u64, u64)>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

/// The networks whose DHCP namespace (`<prefix><id>`) is this host's:
/// those whose veth's outer end (`dhq…`) is among `veths_here`, the veths
/// of the host's own namespace. Namespace names are machine-wide, so
/// agents sharing a machine (stand-in hosts in namespaces, as the tests
/// run them) see each other's; one without our veth is another host's,
/// never ours to adopt, report or tear down. (Ours with its veth lost
/// is not listed either, so an object that wants it is ensured again and
/// the veth comes back.)
pub(crate) fn dhcp_networks_here(
    namespaces: &[String],
    prefix: &str,
    veths_here: &[String],
) -> Vec<String> {
    namespaces
        .iter()
        .filter_map(|ns| ns.strip_prefix(prefix))
        .filter(|id| names::check_token(id).is_ok())
        .filter(|id| names::dhcp_veth(id).is_ok_and(|veth| veths_here.contains(&veth)))
        .map(str::to_owned)
        .collect()
}

/// dnsmasq's argv (without the namespace wrapper).
fn dnsmasq_args(files: &Files, subnets: &[DhcpSubnet]) -> Result<Vec<String>> {
    let mut a: Vec<String> = [
        "dnsmasq",
        "--conf-file=/dev/null",
        "--no-hosts",
        "--no-resolv",
        "--port=0",
        "--bind-interfaces",
        "--except-interface=lo",
        "--dhcp-authoritative",
        "--log-dhcp",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.push(format!("--interface={}", names::DHCP_INNER));
    a.push(format!("--pid-file={}", files.path_str("pid")));
    a.push(format!("--dhcp-hostsfile={}", files.path_str("hosts")));
    a.push(format!("--dhcp-optsfile={}", files.path_str("opts")));
    a.push(format!("--dhcp-leasefile={}", files.path_str("leases")));
    a.push(format!("--log-facility={}", files.path_str("log")));
    for (i, s) in subnets.iter().enumerate() {
        let (net, len) = names::check_prefix(&s.cidr)?;
        if net.is_ipv4() {
            let mask = std::net::Ipv4Addr::from(if len == 0 { 0 } else { u32::MAX << (32 - len) });
            a.push(format!("--dhcp-range=set:s{i},{net},static,{mask},86400s"));
        }
    }
    Ok(a)
}

fn hostname_ok(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 63
        && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !h.starts_with('-')
}

/// One `mac,ip[,hostname]` line per IPv4 host.
fn render_hosts(d: &DesiredDhcp) -> Result<String> {
    let mut out = String::new();
    for h in &d.hosts {
        let mac = names::check_mac(&h.mac_address)?;
        let ip = names::check_ip(&h.ip_address)?;
        if !ip.is_ipv4() {
            continue;
        }
        let _ = write!(out, "{mac},{ip}");
        if hostname_ok(&h.hostname) {
            let _ = write!(out, ",{}", h.hostname);
        }
        out.push('\n');
    }
    Ok(out)
}

/// The options of each IPv4 subnet, tagged by the range that set it;
/// with `metadata_via`, a host route to the metadata address through the
/// DHCP port's address on each subnet.
fn render_opts(
    subnets: &[DhcpSubnet],
    mtu: u32,
    metadata_via: Option<&DesiredDhcp>,
) -> Result<String> {
    let mut out = format!("option:mtu,{mtu}\n");
    for (i, s) in subnets.iter().enumerate() {
        let (net, _) = names::check_prefix(&s.cidr)?;
        if !net.is_ipv4() {
            continue;
        }
        let mut routes = Vec::new();
        let dhcp_ip =
            metadata_via.and_then(|d| d.port.fixed_ips.iter().find(|ip| ip.subnet_id == s.id));
        if let Some(ip) = dhcp_ip {
            routes.push(format!(
                "{METADATA_IP}/32,{}",
                names::check_ip(&ip.ip_address)?
            ));
        }
        for (dst, hop) in &s.host_routes {
            let (_, dst) = names::render_prefix(dst)?;
            let dst = if dst.contains('/') {
                dst
            } else {
                format!("{dst}/32")
            };
            routes.push(format!("{dst},{}", names::check_ip(hop)?));
        }
        if let Some(gw) = &s.gateway_ip {
            let gw = names::check_ip(gw)?;
            let _ = writeln!(out, "tag:s{i},option:router,{gw}");
            routes.push(format!("0.0.0.0/0,{gw}"));
        }
        if !routes.is_empty() {
            let _ = writeln!(
                out,
                "tag:s{i},option:classless-static-route,{}",
                routes.join(",")
            );
        }
        let mut dns = Vec::new();
        for n in &s.dns_nameservers {
            let ip = names::check_ip(n)?;
            if ip.is_ipv4() {
                dns.push(ip.to_string());
            }
        }
        if !dns.is_empty() {
            let _ = writeln!(out, "tag:s{i},option:dns-server,{}", dns.join(","));
        }
    }
    Ok(out)
}

/// dnsmasq drops to `nobody` and reads its hosts and options files as
/// that user (at start and on SIGHUP): every directory above them must be
/// searchable by others, or it serves no one and says so only in its log.
fn searchable(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for d in dir.ancestors() {
        let mode = std::fs::metadata(d)
            .map_err(Error::io(d))?
            .permissions()
            .mode();
        if mode & 0o001 == 0 {
            return Err(Error::Unsupported(format!(
                "dnsmasq (user nobody) cannot reach its files in {}: {} is not searchable by others",
                dir.display(),
                d.display()
            )));
        }
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(Error::io(path))
}

/// Writes `text` to `path` unless it already holds it; whether it wrote.
async fn write_if_changed(path: &Path, text: &str) -> Result<bool> {
    if tokio::fs::read_to_string(path).await.ok().as_deref() == Some(text) {
        return Ok(false);
    }
    let tmp = path.with_extension("tmp");
    tokio::fs::write(&tmp, text)
        .await
        .map_err(Error::io(&tmp))?;
    set_mode(&tmp, 0o644)?;
    tokio::fs::rename(&tmp, path)
        .await
        .map_err(Error::io(path))?;
    Ok(true)
}

/// The pid of this network's dnsmasq, if it runs: the pid file's process
/// is a dnsmasq started with this pid file (not a recycled pid).
pub(crate) async fn running(files: &Files) -> Option<i32> {
    let pid: i32 = tokio::fs::read_to_string(files.path("pid"))
        .await
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cmdline = tokio::fs::read(format!("/proc/{pid}/cmdline")).await.ok()?;
    let cmdline = String::from_utf8_lossy(&cmdline);
    let ours = cmdline.contains("dnsmasq")
        && cmdline.contains(&format!("--pid-file={}", files.path_str("pid")));
    ours.then_some(pid)
}

fn signal(pid: i32, sig: i32) -> Result<()> {
    // SAFETY: kill(2) with a pid we read from our own pid file and checked
    // (by /proc/<pid>/cmdline) is our dnsmasq; it touches no memory.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::kill(pid, sig) };
    if rc != 0 {
        return Err(Error::Io {
            path: PathBuf::from(format!("/proc/{pid}")),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

async fn stop(pid: i32, files: &Files) -> Result<()> {
    signal(pid, libc::SIGTERM)?;
    for _ in 0..100 {
        if running(files).await.is_none() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    signal(pid, libc::SIGKILL)
}

impl ObjectDriver for DhcpDriver {
    fn kind(&self) -> Kind {
        Kind::Dhcp
    }

    fn list(&self) -> DriverFuture<'_, Vec<String>> {
        Box::pin(async move {
            let found = self.existing().await.map_err(|e| error_chain(&e))?;
            if let Some(proxy) = &self.metadata {
                for id in found.iter().filter(|id| !proxy.serving(id)) {
                    if let Err(e) = self.restore_metadata(proxy, id) {
                        tracing::warn!(network = %id, error = %error_chain(&e), "metadata server not restored");
                    }
                }
            }
            Ok(found)
        })
    }

    fn ensure<'a>(&'a self, desired: &'a HostDesired, id: &'a str) -> DriverFuture<'a, Details> {
        Box::pin(async move {
            let d = find(&desired.network.dhcp, "dhcp", id, |d| &d.network_id)
                .map_err(|e| error_chain(&e))?;
            self.converge(desired, d).await.map_err(|e| error_chain(&e))
        })
    }

    fn remove<'a>(&'a self, id: &'a str) -> DriverFuture<'a, ()> {
        Box::pin(async move { self.teardown(id).await.map_err(|e| error_chain(&e)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_namespaces_with_our_veth_are_this_hosts_dhcp_servers() {
        let ours = "fa955e82-2217-4e48-a9cc-4e3e24747b01";
        let theirs = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9";
        let namespaces = vec![
            format!("qdhcp-{ours}"),
            // Another agent's on the same machine: its veth is in its own
            // host's namespace, not in ours.
            format!("qdhcp-{theirs}"),
            "fs2h-a-1234".to_string(),
            "qdhcp-bad/name".to_string(),
        ];
        let veths = vec![names::dhcp_veth(ours).unwrap(), "ul-a".to_string()];
        assert_eq!(dhcp_networks_here(&namespaces, "qdhcp-", &veths), [ours]);
        assert!(dhcp_networks_here(&namespaces, "qdhcp-", &[]).is_empty());
    }

    #[test]
    fn a_dnsmasq_left_in_a_replaced_namespace_is_stale() {
        let own = netns_id("/proc/self/ns/net");
        assert!(own.is_some(), "this process has a network namespace");
        assert!(same_namespace(own, netns_id("/proc/self/ns/net")));
        assert!(!same_namespace(
            Some((4, 4026532001)),
            Some((4, 4026532999))
        ));
        // Unknown (a pid gone, a name not mounted): no restart on a guess.
        assert!(same_namespace(None, own));
        assert!(same_namespace(
            netns_id("/run/netns/no-such-namespace"),
            own
        ));
    }
}
