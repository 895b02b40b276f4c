//! The host data plane benchmark: the agent's network drivers
//! (`ferrostack-hostnet`) driven directly, as the agent's engine drives
//! them, against a network namespace standing in for the host.
//!
//! Needs root, iproute2, nft and dnsmasq. Each part runs on a host of its
//! own: a namespace `fsnb-<pid>-<n>` (bridges, taps, nftables) plus the
//! DHCP namespace the DHCP driver makes, both deleted at the end with the
//! dnsmasq inside (by its pid, found with `ip netns pids`). Nothing touches
//! the machine's own interfaces or rule set.
//!
//! What is measured, each from a desired document the controller would
//! write (one local network, a DHCP server on its /16, ports with one
//! fixed IP and a security group of three rules):
//!
//! - *port created to wired*: one port added to a host that has the
//!   network and its DHCP server already; the port's ensure (tap, enslaved,
//!   up, its nft elements) and the DHCP server's ensure (the new hosts entry,
//!   SIGHUP) run concurrently, as the engine runs them (both depend on the
//!   network only). Checked afterwards, untimed: the tap in its bridge,
//!   its nft elements, its MAC in the hosts file.
//! - *rule change to effective*: a rule added to the group; the controller
//!   bumps every member port's generation, so every member is ensured again
//!   (`width` at a time, the engine's `max_concurrent`); done when the last
//!   one is. Checked: the rule's port is in the ruleset.
//! - *N ports from scratch*: network, then the N ports and the DHCP server
//!   (N hosts entries) on a fresh host; then *after a restart*: new driver
//!   instances list what exists and ensure everything again (nothing
//!   changes: what a restarted agent pays to adopt the host). Then the
//!   ruleset's size.
//!
//! What is not measured here: the controller writing the document and
//! the agent noticing it (the host link; see the API part for the
//! controller), and the engine's own bookkeeping.
//!
//! Each part runs on threads that entered the host's namespace (`setns`),
//! so the drivers (`Kernel::new(None)`) open their netlink socket and
//! taps there and run their commands directly, as the agent on a real
//! host does (`nft -f -`), not through `ip netns exec` (which sets up a
//! mount namespace for every command: some 10 ms more per `nft` call
//! here; the last row shows both). Links, addresses and FDB entries are
//! netlink requests, counted beside the commands.

use std::future::Future;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrostack_agent::drivers::ObjectDriver;
use ferrostack_host_contract::network::*;
use ferrostack_host_contract::HostDesired;
use ferrostack_hostnet::kernel::{commands_run, netlink_requests, Kernel};
use ferrostack_hostnet::{DhcpDriver, HostNetConfig, NetworkDriver, PortDriver};

use crate::load::percentile;

type Res<T> = Result<T, String>;

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Ports of the scale part.
    pub ports: usize,
    /// Single ports wired one after the other (samples).
    pub singles: usize,
    /// Ensures at once (the agent's `max_concurrent`).
    pub width: usize,
}

/// A latency sample set, sorted.
#[derive(Debug, Clone, Default)]
pub struct Samples(pub Vec<Duration>);

impl Samples {
    fn from(mut v: Vec<Duration>) -> Self {
        v.sort_unstable();
        Samples(v)
    }
    /// The p-th percentile.
    pub fn p(&self, p: f64) -> Duration {
        percentile(&self.0, p)
    }
}

/// The figures of one run.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// Port created to wired, wall time (port and DHCP concurrently).
    pub wired: Samples,
    /// The port's ensure alone.
    pub wired_port: Samples,
    /// The DHCP server's ensure alone.
    pub wired_dhcp: Samples,
    /// Commands started per single port wired (port + DHCP ensures).
    pub wired_commands: f64,
    /// Netlink requests per single port wired (port + DHCP ensures).
    pub wired_requests: f64,
    /// Why a single port was not found wired afterwards (tap, elements,
    /// hosts entry); `None`: all were.
    pub wired_problem: Option<String>,
    /// Rule added to a group of `singles` ports, to all of them ensured.
    pub rule_small: Samples,
    /// Why the added rule was not found in the ruleset; `None`: it was.
    pub rule_problem: Option<String>,
    /// Ports of the scale part.
    pub ports: usize,
    /// From scratch: total, and its network / ports / DHCP parts.
    pub scratch: Duration,
    /// Network ensure of the scratch run.
    pub scratch_network: Duration,
    /// Ports' ensures of the scratch run (`width` at a time).
    pub scratch_ports: Duration,
    /// DHCP ensure (N hosts) of the scratch run.
    pub scratch_dhcp: Duration,
    /// Commands started by the scratch run.
    pub scratch_commands: u64,
    /// Netlink requests of the scratch run.
    pub scratch_requests: u64,
    /// After a restart: new drivers' `list()` and every ensure.
    pub restart: Duration,
    /// The `list()` part.
    pub restart_list: Duration,
    /// Commands started by the restart run.
    pub restart_commands: u64,
    /// Netlink requests of the restart run.
    pub restart_requests: u64,
    /// A rule added to the group all `ports` ports are in.
    pub rule_large: Duration,
    /// Rules in the host's ruleset (`nft -j list ruleset`).
    pub nft_rules: usize,
    /// Chains in it.
    pub nft_chains: usize,
    /// Lines of `nft list ruleset`.
    pub nft_lines: usize,
    /// Mean cost of one command: `ip link show dev lo`.
    pub cost_ip: Duration,
    /// Mean cost of one `nft list tables`.
    pub cost_nft: Duration,
    /// Mean cost of one `ip netns exec <ns> nft list tables` (how the
    /// drivers would run nft with `HostNetConfig::netns` set).
    pub cost_nft_netns_exec: Duration,
}

/// A stand-in host: a namespace and the three drivers on it.
struct Host {
    ns: String,
    cfg: Arc<HostNetConfig>,
    network: NetworkDriver,
    ports: PortDriver,
    dhcp: DhcpDriver,
}

const TABLE: &str = "fsnbench";

impl Host {
    fn new(n: usize) -> Res<Host> {
        let pid = std::process::id();
        let ns = format!("fsnb-{pid}-{n}");
        run(&["ip", "netns", "add", &ns])?;
        let state = PathBuf::from(format!("/run/ferrostack/bench-{pid}-{n}"));
        let made = std::fs::create_dir_all(&state).and_then(|()| {
            use std::os::unix::fs::PermissionsExt;
            for d in [state.parent().expect("parent"), state.as_path()] {
                std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755))?;
            }
            Ok(())
        });
        // The drivers run on threads inside the namespace: no `ip -n`.
        let mut cfg = HostNetConfig::new(state.clone());
        cfg.nft_table = TABLE.into();
        cfg.dhcp_netns_prefix = format!("fsnbd-{pid}-{n}-");
        let cfg = Arc::new(cfg);
        let host = Host {
            ns,
            network: NetworkDriver::new(cfg.clone()),
            ports: PortDriver::new(cfg.clone()),
            dhcp: DhcpDriver::new(cfg.clone()),
            cfg,
        };
        made.map_err(|e| format!("{}: {e}", state.display()))?;
        Ok(host)
    }

    /// New driver instances on the same host: what a restarted agent has.
    fn restart(&mut self) {
        self.network = NetworkDriver::new(self.cfg.clone());
        self.ports = PortDriver::new(self.cfg.clone());
        self.dhcp = DhcpDriver::new(self.cfg.clone());
    }

    fn kernel(&self) -> Kernel {
        Kernel::new(None)
    }

    async fn nft(&self, args: &[&str]) -> Res<String> {
        let mut argv = vec!["nft"];
        argv.extend(args);
        self.kernel()
            .run(&argv, None)
            .await
            .map_err(|e| ferrostack_hostnet::error_chain(&e))
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // The DHCP namespaces this host's driver made, and the dnsmasq in
        // each (ours: started by this process's driver).
        let prefix = &self.cfg.dhcp_netns_prefix;
        let list = std::process::Command::new("ip")
            .args(["netns", "list"])
            .output();
        let listed = list
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for ns in listed.lines().filter_map(|l| l.split_whitespace().next()) {
            if !ns.starts_with(prefix.as_str()) {
                continue;
            }
            if let Ok(out) = std::process::Command::new("ip")
                .args(["netns", "pids", ns])
                .output()
            {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = std::process::Command::new("kill")
                        .args(["-TERM", pid])
                        .status();
                }
            }
            let _ = run(&["ip", "netns", "del", ns]);
        }
        let _ = run(&["ip", "netns", "del", &self.ns]);
        let _ = std::fs::remove_dir_all(&self.cfg.state_dir);
    }
}

fn run(argv: &[&str]) -> Res<()> {
    let out = std::process::Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .map_err(|e| format!("{argv:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{argv:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The desired network section of a host: network `net`, ports `0..n`,
/// group `sg` with `extra` added rules on top of three.
struct Doc {
    net: String,
    n: usize,
    extra: usize,
    generation: u64,
}

fn port_id(i: usize) -> String {
    format!("nb-port-{i:05}")
}

fn tap(i: usize) -> String {
    format!("tapnb{i:05}")
}

fn mac(i: usize) -> String {
    format!("fa:16:3e:01:{:02x}:{:02x}", i / 256, i % 256)
}

fn ip(i: usize) -> String {
    // 10.9.0.0/16; .0.1 the gateway, .0.2 the DHCP port.
    let a = i + 10;
    format!("10.9.{}.{}", a / 256, a % 256)
}

fn rule(
    id: String,
    direction: RuleDirection,
    protocol: Option<u8>,
    port: Option<u16>,
) -> DesiredRule {
    DesiredRule {
        id,
        direction,
        ethertype: "IPv4".into(),
        protocol,
        port_range_min: port,
        port_range_max: port,
        remote_prefixes: vec!["10.0.0.0/8".into()],
    }
}

/// The port an added rule `j` opens (found in the ruleset to check it).
fn extra_port(j: usize) -> u16 {
    40000 + j as u16
}

impl Doc {
    fn port(&self, i: usize) -> DesiredPort {
        DesiredPort {
            id: port_id(i),
            network_id: self.net.clone(),
            tap: tap(i),
            mac_address: mac(i),
            fixed_ips: vec![FixedIp {
                subnet_id: "nb-subnet".into(),
                ip_address: ip(i),
            }],
            allowed_address_pairs: vec![],
            port_security_enabled: true,
            security_groups: vec!["nb-sg".into()],
            admin_state_up: true,
            device_id: None,
            generation: self.generation,
            deleted: false,
        }
    }

    fn build(&self) -> Arc<HostDesired> {
        let mut rules = vec![
            rule("r-ssh".into(), RuleDirection::Ingress, Some(6), Some(22)),
            rule("r-icmp".into(), RuleDirection::Ingress, Some(1), None),
            rule("r-out".into(), RuleDirection::Egress, None, None),
        ];
        for j in 0..self.extra {
            rules.push(rule(
                format!("r-extra-{j}"),
                RuleDirection::Ingress,
                Some(6),
                Some(extra_port(j)),
            ));
        }
        let mut dhcp_port = self.port(0);
        dhcp_port.id = format!("nb-dhcp-{}", &self.net[..8]);
        dhcp_port.tap = String::new();
        dhcp_port.mac_address = "fa:16:3e:02:00:02".into();
        dhcp_port.fixed_ips[0].ip_address = "10.9.0.2".into();
        dhcp_port.security_groups = vec![];
        dhcp_port.port_security_enabled = false;
        let network = NetworkSection {
            networks: vec![DesiredNetwork {
                id: self.net.clone(),
                segment: Segment::Local,
                mtu: 1500,
                admin_state_up: true,
                generation: 1,
                deleted: false,
            }],
            ports: (0..self.n).map(|i| self.port(i)).collect(),
            security_groups: vec![DesiredSecurityGroup {
                id: "nb-sg".into(),
                stateful: true,
                rules,
                generation: self.generation,
            }],
            dhcp: vec![DesiredDhcp {
                network_id: self.net.clone(),
                port: dhcp_port,
                subnets: vec![DhcpSubnet {
                    id: "nb-subnet".into(),
                    cidr: "10.9.0.0/16".into(),
                    gateway_ip: Some("10.9.0.1".into()),
                    dns_nameservers: vec![],
                    host_routes: vec![],
                }],
                hosts: (0..self.n)
                    .map(|i| DhcpHost {
                        mac_address: mac(i),
                        ip_address: ip(i),
                        hostname: format!("host-{i}"),
                        instance_id: None,
                    })
                    .collect(),
                generation: self.generation,
                deleted: false,
            }],
            ..Default::default()
        };
        Arc::new(HostDesired {
            revision: self.generation,
            instances: Vec::new(),
            network,
            block_devices: Default::default(),
        })
    }
}

async fn ensure(driver: &dyn ObjectDriver, doc: &HostDesired, id: &str) -> Res<Duration> {
    let t = Instant::now();
    driver
        .ensure(doc, id)
        .await
        .map(drop)
        .map_err(|e| format!("ensure {:?} {id}: {e}", driver.kind()))?;
    Ok(t.elapsed())
}

/// Ensures ports `0..n` of `doc`, `width` at a time.
async fn ensure_ports(
    ports: &PortDriver,
    doc: &Arc<HostDesired>,
    n: usize,
    width: usize,
) -> Res<Duration> {
    let t = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(width.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let (ports, doc, sem) = (ports.clone(), doc.clone(), sem.clone());
        set.spawn(async move {
            let _permit = sem.acquire().await.expect("semaphore");
            ensure(&ports, &doc, &port_id(i)).await
        });
    }
    let mut first_error = None;
    while let Some(done) = set.join_next().await {
        if let Err(e) = done.expect("ensure task panicked") {
            first_error.get_or_insert(e);
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(t.elapsed()),
    }
}

/// Runs every part, each on a fresh host; the figures.
pub fn run_all(plan: Plan) -> Res<Figures> {
    ferrostack_hostnet::prerequisites().map_err(|why| format!("data plane part skipped: {why}"))?;
    let mut f = Figures {
        ports: plan.ports,
        ..Default::default()
    };
    let host = Host::new(1)?;
    in_netns(&host.ns, singles(plan, &mut f, &host))?;
    drop(host);
    let mut host = Host::new(2)?;
    in_netns(&host.ns.clone(), scale(plan, &mut f, &mut host))?;
    Ok(f)
}

/// Runs `part` on a runtime whose threads are all in namespace `ns` (a
/// thread's network namespace is inherited by the threads it starts and
/// the processes they spawn).
fn in_netns<T: Send>(ns: &str, part: impl Future<Output = Res<T>> + Send) -> Res<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            enter_netns(ns)?;
            // Two workers, as on the agent's small hosts: the drivers'
            // bookkeeping does not wait behind one another's processes.
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| format!("runtime: {e}"))?
                .block_on(part)
        })
        .join()
        .map_err(|_| "the data plane part panicked".to_owned())?
    })
}

/// Moves this thread into network namespace `ns`.
#[allow(unsafe_code)]
fn enter_netns(ns: &str) -> Res<()> {
    let path = format!("/run/netns/{ns}");
    let file = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
    // SAFETY: setns(2) with a namespace file we opened and hold open for
    // the call; it changes the calling thread's network namespace only.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(format!("setns {path}: {}", std::io::Error::last_os_error()))
    }
}

/// Single ports wired one after the other, then rule changes on them.
async fn singles(plan: Plan, f: &mut Figures, host: &Host) -> Res<()> {
    let mut doc = Doc {
        net: "nb000001-0000-4000-8000-000000000001".into(),
        n: 0,
        extra: 0,
        generation: 1,
    };
    let d = doc.build();
    ensure(&host.network, &d, &doc.net).await?;
    ensure(&host.dhcp, &d, &doc.net).await?;
    // One port untimed: dnsmasq's first SIGHUP, the table's base objects.
    doc.n = 1;
    let d = doc.build();
    ensure(&host.ports, &d, &port_id(0)).await?;
    ensure(&host.dhcp, &d, &doc.net).await?;

    let (mut wall, mut port, mut dhcp) = (Vec::new(), Vec::new(), Vec::new());
    let before = commands_run();
    let before_nl = netlink_requests();
    for i in 1..=plan.singles {
        doc.n = i + 1;
        doc.generation += 1;
        let d = doc.build();
        let id = port_id(i);
        let t = Instant::now();
        let (p, h) = tokio::join!(
            ensure(&host.ports, &d, &id),
            ensure(&host.dhcp, &d, &doc.net)
        );
        wall.push(t.elapsed());
        port.push(p?);
        dhcp.push(h?);
    }
    f.wired_commands = (commands_run() - before) as f64 / plan.singles.max(1) as f64;
    f.wired_requests = (netlink_requests() - before_nl) as f64 / plan.singles.max(1) as f64;
    f.wired = Samples::from(wall);
    f.wired_port = Samples::from(port);
    f.wired_dhcp = Samples::from(dhcp);
    f.wired_problem = check_wired(host, &doc).await.err();

    // Rule changes: each adds one rule to the group all the ports are in.
    let mut times = Vec::new();
    for _ in 0..plan.singles.clamp(1, 20) {
        doc.extra += 1;
        doc.generation += 1;
        let d = doc.build();
        times.push(ensure_ports(&host.ports, &d, doc.n, plan.width).await?);
    }
    f.rule_small = Samples::from(times);
    f.rule_problem = check_rules(host, doc.extra).await.err();
    Ok(())
}

/// Every port of `doc` has its tap in the bridge, up, its nft elements
/// and its hosts entry.
async fn check_wired(host: &Host, doc: &Doc) -> Res<()> {
    let kernel = host.kernel();
    let bridge = ferrostack_hostnet::names::bridge(&host.cfg, &doc.net)
        .map_err(|e| ferrostack_hostnet::error_chain(&e))?;
    let ruleset = host.nft(&["list", "ruleset"]).await?;
    let hosts_file = host.cfg.state_dir.join("dhcp").join(&doc.net).join("hosts");
    let hosts = std::fs::read_to_string(&hosts_file)
        .map_err(|e| format!("{}: {e}", hosts_file.display()))?;
    for i in 0..doc.n {
        let link = kernel
            .link(&tap(i))
            .await
            .map_err(|e| ferrostack_hostnet::error_chain(&e))?
            .ok_or_else(|| format!("tap {} missing", tap(i)))?;
        if link.master.as_deref() != Some(bridge.as_str()) || !link.is_up() {
            return Err(format!("tap {} not up in {bridge}: {link:?}", tap(i)));
        }
        // Its map elements (jumping to its groups' chains) carry its tap.
        if !ruleset.contains(&format!("comment \"{}\" : jump pi_", tap(i))) {
            return Err(format!("no ingress element of {}", tap(i)));
        }
        if !hosts.contains(&format!("{},{}", mac(i), ip(i))) {
            return Err(format!("no hosts entry for {}", mac(i)));
        }
    }
    Ok(())
}

/// The last of `extra` added rules is in the ruleset.
async fn check_rules(host: &Host, extra: usize) -> Res<()> {
    let ruleset = host.nft(&["list", "ruleset"]).await?;
    let want = format!("dport {}", extra_port(extra.saturating_sub(1)));
    if ruleset.contains(&want) {
        Ok(())
    } else {
        Err(format!("`{want}` not in the ruleset"))
    }
}

/// N ports from scratch, after a restart, a rule change on all; the size
/// of the ruleset; what one command costs.
async fn scale(plan: Plan, f: &mut Figures, host: &mut Host) -> Res<()> {
    let mut doc = Doc {
        net: "nb000002-0000-4000-8000-000000000002".into(),
        n: plan.ports,
        extra: 0,
        generation: 1,
    };
    let d = doc.build();
    let before = commands_run();
    let before_nl = netlink_requests();
    let t = Instant::now();
    f.scratch_network = ensure(&host.network, &d, &doc.net).await?;
    let (p, h) = tokio::join!(
        ensure_ports(&host.ports, &d, plan.ports, plan.width),
        ensure(&host.dhcp, &d, &doc.net)
    );
    f.scratch = t.elapsed();
    f.scratch_ports = p?;
    f.scratch_dhcp = h?;
    f.scratch_commands = commands_run() - before;
    f.scratch_requests = netlink_requests() - before_nl;
    check_wired(host, &doc)
        .await
        .map_err(|e| format!("after the scratch run: {e}"))?;

    host.restart();
    let before = commands_run();
    let before_nl = netlink_requests();
    let t = Instant::now();
    let (nets, ports, dhcps) =
        tokio::join!(host.network.list(), host.ports.list(), host.dhcp.list());
    f.restart_list = t.elapsed();
    let (nets, ports, dhcps) = (nets?, ports?, dhcps?);
    if nets.len() != 1 || ports.len() != plan.ports || dhcps.len() != 1 {
        return Err(format!(
            "after a restart the drivers list {} networks, {} ports, {} DHCP servers",
            nets.len(),
            ports.len(),
            dhcps.len()
        ));
    }
    ensure(&host.network, &d, &doc.net).await?;
    let (p, h) = tokio::join!(
        ensure_ports(&host.ports, &d, plan.ports, plan.width),
        ensure(&host.dhcp, &d, &doc.net)
    );
    p?;
    h?;
    f.restart = t.elapsed();
    f.restart_commands = commands_run() - before;
    f.restart_requests = netlink_requests() - before_nl;

    doc.extra = 1;
    doc.generation += 1;
    let d = doc.build();
    f.rule_large = ensure_ports(&host.ports, &d, plan.ports, plan.width).await?;
    check_rules(host, 1).await?;

    let json = host.nft(&["-j", "list", "ruleset"]).await?;
    let v: serde_json::Value = serde_json::from_str(&json).map_err(|e| format!("nft -j: {e}"))?;
    let items = v["nftables"].as_array().cloned().unwrap_or_default();
    f.nft_rules = items.iter().filter(|x| x.get("rule").is_some()).count();
    f.nft_chains = items.iter().filter(|x| x.get("chain").is_some()).count();
    f.nft_lines = host.nft(&["list", "ruleset"]).await?.lines().count();

    let kernel = host.kernel();
    let n = 20;
    let t = Instant::now();
    for _ in 0..n {
        kernel
            .ip(&["link", "show", "dev", "lo"])
            .await
            .map_err(|e| e.to_string())?;
    }
    f.cost_ip = t.elapsed() / n;
    let t = Instant::now();
    for _ in 0..n {
        host.nft(&["list", "tables"]).await?;
    }
    f.cost_nft = t.elapsed() / n;
    let t = Instant::now();
    for _ in 0..n {
        kernel
            .run(
                &["ip", "netns", "exec", &host.ns, "nft", "list", "tables"],
                None,
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    f.cost_nft_netns_exec = t.elapsed() / n;
    Ok(())
}
