//! The port driver: a persistent tap in the network's bridge, and the
//! port's rules (see [`crate::nft`]).
//!
//! The tap is created here, not by QEMU (which runs `script=no`), so it
//! exists, with its MTU, in its bridge and up, before the VM opens it, and
//! it outlives a VM restart or an agent restart. The port id is kept in
//! the tap's alias so `list()` finds the ports from the kernel alone.
//!
//! Each port's rules are one nft transaction of their own, so a rule the
//! kernel refuses fails that port (the engine retries it with backoff)
//! and never the others. The inet maps' elements are keyed on the port's
//! addresses; the driver remembers which elements point at which port (read
//! back from the kernel once after a start) so a changed address leaves
//! nothing stale behind.

use crate::commit::Committer;
use crate::kernel::{Kernel, Link, LinkState};
use crate::network::find;
use crate::nft::{self, PortRules};
use crate::{error_chain, names, Error, HostNetConfig, Result};
use ferrostack_agent::drivers::{Details, DriverFuture, ObjectDriver};
use ferrostack_host_contract::network::DesiredPort;
use ferrostack_host_contract::{HostDesired, Kind};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Mutex;

/// (map, key) of one inet map element.
type Element = (String, String);

#[derive(Debug, Default)]
struct Programmed {
    loaded: bool,
    /// Chain suffix -> the elements pointing at its chains.
    elements: HashMap<String, Vec<Element>>,
    /// Chain suffix -> the commands last applied for it (security on).
    applied: HashMap<String, String>,
}

/// Converges [`DesiredPort`]s.
#[derive(Debug, Clone)]
pub struct PortDriver {
    cfg: Arc<HostNetConfig>,
    kernel: Kernel,
    programmed: Arc<Mutex<Programmed>>,
    committer: Arc<Committer>,
}

impl PortDriver {
    /// A driver for the host `cfg` describes.
    pub fn new(cfg: Arc<HostNetConfig>) -> Self {
        let kernel = Kernel::new(cfg.netns.clone());
        let committer = Arc::new(Committer::new(kernel.clone(), cfg.nft_table.clone()));
        PortDriver {
            cfg,
            kernel,
            programmed: Arc::default(),
            committer,
        }
    }

    /// The ids of the ports whose tap exists.
    /// The ports whose tap exists. A port whose rules this driver applied
    /// and whose chains are gone (a flushed table) gets them back here,
    /// from what was applied: the engine only re-ensures what is absent,
    /// and a port reported absent would not be removed when deleted.
    pub async fn existing(&self) -> Result<Vec<String>> {
        let taps = self.kernel.links(Some("tun")).await?;
        let chains = self.chains().await?;
        let mut lost = Vec::new();
        let mut out = Vec::new();
        {
            let p = self.programmed.lock().await;
            for tap in taps {
                let Some(id) = tap.ifalias.filter(|a| names::check_token(a).is_ok()) else {
                    continue;
                };
                let sfx = nft::chain_suffix(&tap.ifname);
                let intact = ["s", "e", "i"]
                    .iter()
                    .all(|c| chains.contains(&format!("{c}_{sfx}")));
                if let (false, Some(script)) = (intact, p.applied.get(&sfx)) {
                    lost.push((id.clone(), script.clone()));
                }
                out.push(id);
            }
        }
        if !lost.is_empty() {
            self.committer.base_lost();
        }
        for (id, script) in lost {
            tracing::warn!(port = %id.escape_debug(), "port rules vanished; applying them again");
            if let Err(e) = self.committer.apply(script).await {
                tracing::warn!(port = %id.escape_debug(), error = %error_chain(&e), "cannot restore port rules");
            }
        }
        Ok(out)
    }

    /// The names of the chains in our tables (both families).
    async fn chains(&self) -> Result<std::collections::HashSet<String>> {
        let out = match self
            .kernel
            .exec_in(None, &["nft", "list", "chains"], None)
            .await
        {
            Ok(out) => out,
            Err(Error::Command { stderr, .. }) if stderr.is_empty() => String::new(),
            Err(e) => return Err(e),
        };
        Ok(out
            .lines()
            .filter_map(|l| l.trim().strip_prefix("chain "))
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_owned)
            .collect())
    }

    /// Makes `port`'s tap and rules match it.
    pub async fn converge(&self, desired: &HostDesired, port: &DesiredPort) -> Result<Details> {
        names::check_token(&port.id)?;
        names::check_ifname(&port.tap)?;
        let n = &desired.network;
        let net = find(&n.networks, "network", &port.network_id, |x| &x.id)?;
        let br = names::bridge(&self.cfg, &net.id)?;
        let have = match self.kernel.link(&port.tap).await? {
            Some(l) => l,
            None => {
                self.kernel.create_tap(&port.tap).await?;
                // A new tap is down, unenslaved, without alias: no need to
                // read it back before setting everything.
                Link::fresh(&port.tap, "tun")
            }
        };
        if have.kind() != Some("tun") {
            return Err(Error::Unsupported(format!(
                "{} exists and is not a tap ({:?})",
                port.tap,
                have.kind()
            )));
        }
        let want = LinkState {
            mtu: net.mtu,
            alias: Some(&port.id),
            master: Some(&br),
            up: port.admin_state_up && net.admin_state_up,
        };
        if let Err(e) = self.kernel.converge_link(&have, &want).await {
            // Only now ask why (one call fewer per port on the way that works).
            if self.kernel.link(&br).await?.is_none() {
                return Err(Error::Missing(format!(
                    "bridge {br} of network {} does not exist yet",
                    net.id
                )));
            }
            return Err(e);
        }
        if port.port_security_enabled {
            let mut groups = Vec::new();
            for g in &port.security_groups {
                groups.push(find(&n.security_groups, "security group", g, |x| &x.id)?);
            }
            let rules = PortRules::new(port, &br, &groups)?;
            self.program(&rules).await?;
        } else {
            self.unprogram(&port.tap).await?;
        }
        let mut details = Details::new();
        details.insert("tap".into(), port.tap.clone().into());
        details.insert("bridge".into(), br.into());
        details.insert("network_id".into(), port.network_id.clone().into());
        Ok(details)
    }

    async fn program(&self, rules: &PortRules) -> Result<()> {
        let sfx = nft::chain_suffix(&rules.tap);
        let stale = self.stale(&sfx).await?;
        let script = nft::port_transaction(&self.cfg.nft_table, rules, &stale);
        if self.programmed.lock().await.applied.get(&sfx) == Some(&script) {
            // Already in the kernel (a vanished table shows in `list`).
            return Ok(());
        }
        let now = nft::elements(rules)
            .into_iter()
            .map(|(m, k)| (m.to_owned(), k))
            .collect();
        self.commit(script.clone(), sfx.clone(), Some(now)).await?;
        self.programmed.lock().await.applied.insert(sfx, script);
        Ok(())
    }

    async fn unprogram(&self, tap: &str) -> Result<()> {
        let sfx = nft::chain_suffix(tap);
        let stale = self.stale(&sfx).await?;
        let script = nft::remove_transaction(&self.cfg.nft_table, tap, &stale);
        self.commit(script, sfx, None).await
    }

    /// The elements pointing at port `sfx`'s chains now.
    async fn stale(&self, sfx: &str) -> Result<Vec<Element>> {
        let mut p = self.programmed.lock().await;
        self.load(&mut p).await?;
        Ok(p.elements.get(sfx).cloned().unwrap_or_default())
    }

    /// Applies `script`; records the port's elements (`None`: it has none).
    async fn commit(&self, script: String, sfx: String, now: Option<Vec<Element>>) -> Result<()> {
        let applied = self.committer.apply(script).await;
        let mut p = self.programmed.lock().await;
        match applied {
            Ok(()) => {
                match now {
                    Some(now) => p.elements.insert(sfx, now),
                    None => {
                        p.applied.remove(&sfx);
                        p.elements.remove(&sfx)
                    }
                };
                Ok(())
            }
            Err(e) => {
                // What we remember may be out of date (a flushed table, an
                // address now another port's): read the kernel again next time.
                p.loaded = false;
                p.applied.remove(&sfx);
                Err(e)
            }
        }
    }

    /// Reads which inet map elements point at which port's chains, once.
    async fn load(&self, p: &mut Programmed) -> Result<()> {
        if p.loaded {
            return Ok(());
        }
        let table = &self.cfg.nft_table;
        let out = match self
            .kernel
            .exec_in(None, &["nft", "-j", "list", "table", "inet", table], None)
            .await
        {
            Ok(out) => out,
            Err(Error::Command { stderr, .. }) if stderr.contains("No such file") => String::new(),
            Err(e) => return Err(e),
        };
        if !out.trim().is_empty() {
            let v: serde_json::Value =
                serde_json::from_str(&out).map_err(|source| Error::Output {
                    argv: vec!["nft".into(), "-j".into(), "list".into(), "table".into()],
                    source,
                })?;
            p.elements = parse_elements(&v);
        }
        p.loaded = true;
        Ok(())
    }

    /// Tears port `id` down: its rules and its tap.
    pub async fn teardown(&self, id: &str) -> Result<()> {
        names::check_token(id)?;
        let taps = self.kernel.links(Some("tun")).await?;
        let Some(tap) = taps.into_iter().find(|l| l.ifalias.as_deref() == Some(id)) else {
            return Ok(());
        };
        self.unprogram(&tap.ifname).await?;
        self.kernel.delete_link(&tap.ifname).await
    }
}

/// The (map, key) elements of `nft -j list table` per chain suffix.
fn parse_elements(v: &serde_json::Value) -> HashMap<String, Vec<Element>> {
    let mut out: HashMap<String, Vec<Element>> = HashMap::new();
    let items = v
        .get("nftables")
        .and_then(|x| x.as_array())
        .cloned()
        .unwrap_or_default();
    for item in items {
        let Some(map) = item.get("map") else { continue };
        let Some(name) = map.get("name").and_then(|x| x.as_str()) else {
            continue;
        };
        let elems = map
            .get("elem")
            .and_then(|x| x.as_array())
            .cloned()
            .unwrap_or_default();
        for e in elems {
            let Some(pair) = e.as_array() else { continue };
            let (Some(key), Some(val)) = (pair.first(), pair.get(1)) else {
                continue;
            };
            let parts: Vec<String> = key
                .get("concat")
                .and_then(|c| c.as_array())
                .map(|c| {
                    c.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let target = val
                .get("jump")
                .and_then(|j| j.get("target"))
                .and_then(|t| t.as_str());
            if let (2, Some(target)) = (parts.len(), target) {
                let sfx = target.get(2..).unwrap_or_default().to_owned();
                let key = format!("\"{}\" . {}", parts[0], parts[1]);
                out.entry(sfx).or_default().push((name.to_owned(), key));
            }
        }
    }
    for v in out.values_mut() {
        v.sort();
        v.dedup();
    }
    out
}

impl ObjectDriver for PortDriver {
    fn kind(&self) -> Kind {
        Kind::Port
    }

    fn list(&self) -> DriverFuture<'_, Vec<String>> {
        Box::pin(async move { self.existing().await.map_err(|e| error_chain(&e)) })
    }

    fn ensure<'a>(&'a self, desired: &'a HostDesired, id: &'a str) -> DriverFuture<'a, Details> {
        Box::pin(async move {
            let port =
                find(&desired.network.ports, "port", id, |p| &p.id).map_err(|e| error_chain(&e))?;
            self.converge(desired, port)
                .await
                .map_err(|e| error_chain(&e))
        })
    }

    fn remove<'a>(&'a self, id: &'a str) -> DriverFuture<'a, ()> {
        Box::pin(async move { self.teardown(id).await.map_err(|e| error_chain(&e)) })
    }
}
