//! `ferrostack net show`: the operator's view of one host's data plane,
//! read from the kernel alone (the seed cloud's `ovs-vsctl show`).
//!
//! Why from the kernel and not from the controller or the agent: the
//! question an operator asks is "what does this host really carry?",
//! which is exactly what may differ from the desired state (drift, a
//! dead dnsmasq, an agent that is down). So this reads what the drivers
//! write, with the same names ([`crate::names`]): bridges `brq…` with the
//! network id in their alias, their members (VXLAN/VLAN/flat uplinks,
//! taps with the port id in their alias, the DHCP veth), the FDB flood
//! entries, the per-tap nft chains and the inet maps' addresses, the DHCP
//! namespaces and the dnsmasq files (pid, hosts, metadata book, which
//! maps a port's address to its instance), and the router namespaces
//! (links, routes, forwarding, the SNAT and floating-IP NAT of their nft
//! table: [`router`]). It only reads: no `add`, no
//! directory created, nothing signalled. What cannot be read (no nft
//! table, a permission refused) becomes a note in the report rather
//! than an error, so a half-broken host still shows what it has.
//!
//! Gathering (processes, files) is here; building the view and printing
//! it are pure functions in [`view`], tested on captured output.

pub mod router;
pub mod text;
pub mod view;

#[cfg(test)]
mod tests;

pub use text::{esc, render_text};
pub use view::{ChainView, DhcpView, HostView, NetworkView, PortView, Snapshot, UplinkView};

use crate::dhcp::{running, Files};
use crate::kernel::Kernel;
use crate::{error_chain, names, Error, HostNetConfig, Result};
use serde_json::Value;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Reads the data plane `cfg` describes (its namespace, prefixes, nft
/// table and DHCP state dir) and builds the view.
pub async fn show(cfg: &HostNetConfig) -> Result<HostView> {
    cfg.validate()?;
    let kernel = Kernel::new(cfg.netns.clone());
    let mut notes = Vec::new();
    let mut snap = Snapshot {
        links: kernel.links(None).await?,
        ..Snapshot::default()
    };
    for l in &snap.links {
        if l.kind() == Some("vxlan") && l.data("group").is_none() {
            match kernel
                .bridge(&["-json", "fdb", "show", "dev", &l.ifname])
                .await
            {
                Ok(out) => {
                    let v: Value = serde_json::from_str(&out).unwrap_or_default();
                    snap.peers.insert(l.ifname.clone(), view::flood_peers(&v));
                }
                Err(e) => notes.push(format!("fdb of {}: {}", l.ifname, error_chain(&e))),
            }
        }
    }
    let ours = |l: &&crate::kernel::Link| {
        l.kind() == Some("bridge") && l.ifname.starts_with(&cfg.bridge_prefix)
    };
    for br in snap.links.iter().filter(ours) {
        match kernel
            .bridge(&["-json", "fdb", "show", "br", &br.ifname])
            .await
        {
            Ok(out) => {
                let v: Value = serde_json::from_str(&out).unwrap_or_default();
                snap.learned.extend(view::learned_macs(&v));
            }
            Err(e) => notes.push(format!("fdb of {}: {}", br.ifname, error_chain(&e))),
        }
    }
    snap.nft_bridge = nft_table(&kernel, "bridge", &cfg.nft_table, &mut notes).await;
    snap.nft_inet = nft_table(&kernel, "inet", &cfg.nft_table, &mut notes).await;
    let veths: Vec<String> = (snap.links.iter())
        .filter(|l| l.kind() == Some("veth"))
        .map(|l| l.ifname.clone())
        .collect();
    let namespaces = kernel.namespaces().await?;
    let here = crate::dhcp::dhcp_networks_here(&namespaces, &cfg.dhcp_netns_prefix, &veths);
    for ns in &namespaces {
        let Some(id) = ns.strip_prefix(cfg.dhcp_netns_prefix.as_str()) else {
            continue;
        };
        if names::check_token(id).is_err() {
            notes.push(format!(
                "namespace {} skipped: not a network id",
                ns.escape_default()
            ));
            continue;
        }
        // Namespace names are machine-wide: one with neither our veth nor
        // our state files is another host's (a stand-in host on the same
        // machine). Ours with its veth lost is still shown (drift).
        let ours = here.iter().any(|h| h == id) || cfg.state_dir.join("dhcp").join(id).is_dir();
        if !ours {
            continue;
        }
        let d = read_dhcp(cfg, id, ns, &mut notes).await;
        snap.dhcp.insert(id.to_owned(), d);
    }
    let routers = router::read_routers(cfg, &namespaces, &snap.links, &mut notes).await;
    snap.vm_taps = vm_taps(cfg.netns.as_deref());
    let (networks, unattached_ports, orphan_dhcp) = view::build(&snap, &cfg.bridge_prefix);
    Ok(HostView {
        netns: cfg.netns.clone(),
        nft_table: cfg.nft_table.clone(),
        state_dir: cfg.state_dir.display().to_string(),
        networks,
        unattached_ports,
        orphan_dhcp,
        routers,
        notes,
    })
}

/// `nft -j list table <family> <table>`; `None` (and a note) when absent
/// or unreadable.
async fn nft_table(
    kernel: &Kernel,
    family: &str,
    table: &str,
    notes: &mut Vec<String>,
) -> Option<Value> {
    let argv = ["nft", "-j", "list", "table", family, table];
    match kernel.exec_in(None, &argv, None).await {
        Ok(out) => match serde_json::from_str(&out) {
            Ok(v) => Some(v),
            Err(e) => {
                notes.push(format!("nft {family} {table}: unreadable output: {e}"));
                None
            }
        },
        Err(Error::Command { stderr, .. }) if stderr.contains("No such file") => {
            notes.push(format!("no nft table {family} {table}"));
            None
        }
        Err(e) => {
            notes.push(format!("nft {family} {table}: {}", error_chain(&e)));
            None
        }
    }
}

/// Network `id`'s DHCP server in namespace `ns`: its addresses, and its
/// dnsmasq by the pid file in the state dir, or, when that dir has none
/// (a state dir other than the agent's was given), the dnsmasq found
/// running in the namespace, whose command line names its files.
async fn read_dhcp(cfg: &HostNetConfig, id: &str, ns: &str, notes: &mut Vec<String>) -> DhcpView {
    let mut d = DhcpView {
        network_id: id.to_owned(),
        namespace: ns.to_owned(),
        present: true,
        ..DhcpView::default()
    };
    let inner = Kernel::new(Some(ns.to_owned()));
    match inner
        .ip(&["-json", "addr", "show", "dev", names::DHCP_INNER])
        .await
    {
        Ok(out) => d.addresses = addresses(&serde_json::from_str(&out).unwrap_or_default()),
        Err(e) => notes.push(format!("addresses in {ns}: {}", error_chain(&e))),
    }
    let mut files = Files {
        dir: cfg.state_dir.join("dhcp").join(id),
    };
    d.dnsmasq_pid = read_pid(&files.dir);
    if d.dnsmasq_pid.is_none() {
        if let Some((pid, dir)) = dnsmasq_in(ns) {
            d.dnsmasq_pid = Some(pid);
            files = Files { dir };
        }
    }
    d.dnsmasq_alive = d.dnsmasq_pid.is_some() && running(&files).await == d.dnsmasq_pid;
    d.files = Some(files.dir.display().to_string());
    if let Ok(text) = std::fs::read_to_string(files.dir.join("hosts")) {
        let lines = text.lines().filter(|l| !l.trim().is_empty());
        d.hosts = Some(lines.clone().count());
        for line in lines {
            let mut fields = line.split(',');
            if let (Some(mac), Some(ip)) = (fields.next(), fields.next()) {
                d.leases.insert(mac.to_ascii_lowercase(), ip.to_owned());
            }
        }
    }
    if let Ok(text) = std::fs::read_to_string(files.dir.join("metadata")) {
        for line in text.lines() {
            if let Some((ip, instance)) = line.split_once(' ') {
                d.instances
                    .insert(ip.to_owned(), instance.trim().to_owned());
            }
        }
    }
    d
}

fn read_pid(dir: &Path) -> Option<i32> {
    std::fs::read_to_string(dir.join("pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The `local/prefixlen` of `ip -json addr show`'s first link, link-local
/// ones left out.
pub fn addresses(v: &Value) -> Vec<String> {
    v.get(0)
        .and_then(|l| l.get("addr_info")?.as_array())
        .into_iter()
        .flatten()
        .filter(|i| i.get("scope").and_then(Value::as_str) != Some("link"))
        .filter_map(|i| {
            Some(format!(
                "{}/{}",
                i.get("local")?.as_str()?,
                i.get("prefixlen")?.as_u64()?
            ))
        })
        .collect()
}

/// A dnsmasq whose network namespace is `ns` (same inode as
/// `/run/netns/<ns>`): its pid and the directory of its pid file.
/// Per tap, the instance of the QEMU process in network namespace `ns`
/// (`None`: this process's own) that holds it, from the processes'
/// command lines.
fn vm_taps(ns: Option<&str>) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    let want = match ns {
        Some(ns) => std::fs::metadata(Path::new("/run/netns").join(ns)),
        None => std::fs::metadata("/proc/self/ns/net"),
    };
    let (Ok(want), Ok(procs)) = (want, std::fs::read_dir("/proc")) else {
        return out;
    };
    for entry in procs.flatten() {
        let is_pid = entry
            .file_name()
            .to_str()
            .is_some_and(|s| s.parse::<i32>().is_ok());
        let Ok(have) = std::fs::metadata(entry.path().join("ns/net")) else {
            continue;
        };
        if !is_pid || (have.dev(), have.ino()) != (want.dev(), want.ino()) {
            continue;
        }
        let is_qemu = std::fs::read_to_string(entry.path().join("comm"))
            .is_ok_and(|c| c.trim().starts_with("qemu"));
        if !is_qemu {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let argv = cmdline
            .split(|b| *b == 0)
            .filter_map(|a| std::str::from_utf8(a).ok());
        out.extend(view::qemu_taps(argv));
    }
    out
}

fn dnsmasq_in(ns: &str) -> Option<(i32, PathBuf)> {
    let want = std::fs::metadata(Path::new("/run/netns").join(ns)).ok()?;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(have) = std::fs::metadata(entry.path().join("ns/net")) else {
            continue;
        };
        if (have.dev(), have.ino()) != (want.dev(), want.ino()) {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let dir = cmdline
            .split(|b| *b == 0)
            .filter_map(|a| std::str::from_utf8(a).ok())
            .find_map(|a| a.strip_prefix("--pid-file="))
            .and_then(|p| Path::new(p).parent().map(Path::to_path_buf));
        let is_dnsmasq =
            std::fs::read_to_string(entry.path().join("comm")).is_ok_and(|c| c.trim() == "dnsmasq");
        if let (true, Some(dir)) = (is_dnsmasq, dir) {
            return Some((pid, dir));
        }
    }
    None
}
