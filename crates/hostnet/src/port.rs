//! The port driver: a persistent tap in the network's bridge, and the
//! port's rules (see [`crate::nft`]).
//!
//! The tap is created here, not by QEMU (which runs `script=no`), so it
//! exists, with its MTU, in its bridge and up, before the VM opens it, and
//! it outlives a VM restart or an agent restart. The port id is kept in
//! the tap's alias so `list()` finds the ports from the kernel alone.
//!
//! A port's rules are elements in shared sets and maps, plus its
//! profile's chains (see [`crate::nft`]); a port's change is one
//! transaction of its own, batched with concurrent ones by the group
//! commit, so a rule the kernel refuses fails that port (the engine
//! retries it with backoff) and never the others. The driver remembers
//! which elements are each port's and which profile versions it wrote
//! (read back from the kernel once after a start), so an ensure that
//! changes nothing touches nothing, a changed address leaves nothing
//! stale behind, and a rule change rewrites a profile once, not once per
//! member port.

use crate::commit::Committer;
use crate::kernel::{Kernel, Link, LinkState};
use crate::network::find;
use crate::nft::{self, Element, PortRules, Profile};
use crate::{error_chain, names, Error, HostNetConfig, Result};
use ferrostack_agent::drivers::{Details, DriverFuture, ObjectDriver};
use ferrostack_host_contract::network::DesiredPort;
use ferrostack_host_contract::{HostDesired, Kind};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::Mutex;

#[derive(Debug, Default)]
struct Programmed {
    loaded: bool,
    /// Tap -> the elements it has in the kernel (change it through
    /// `put`/`take`, which keep `owners` in step).
    elements: HashMap<String, Vec<Element>>,
    /// (map, key) -> the tap whose map element it is.
    owners: HashMap<(String, String), String>,
    /// Profile name -> the profile whose chains were written (`None`:
    /// found in the kernel, content unknown).
    profiles: HashMap<String, Option<Profile>>,
}

impl Programmed {
    /// The tap other than `tap` whose map element has `e`'s key.
    fn owner_of(&self, tap: &str, e: &Element) -> Option<&str> {
        self.owners
            .get(&(e.set.clone(), e.key.clone()))
            .map(String::as_str)
            .filter(|t| *t != tap)
    }

    /// Records that `tap`'s elements are `elements`.
    fn put(&mut self, tap: &str, elements: Vec<Element>) {
        self.take(tap);
        for e in elements.iter().filter(|e| e.verdict.is_some()) {
            self.owners
                .insert((e.set.clone(), e.key.clone()), tap.to_owned());
        }
        self.elements.insert(tap.to_owned(), elements);
    }

    /// Forgets `tap`'s elements.
    fn take(&mut self, tap: &str) {
        for e in self.elements.remove(tap).into_iter().flatten() {
            let key = (e.set, e.key);
            if self.owners.get(&key).is_some_and(|t| t == tap) {
                self.owners.remove(&key);
            }
        }
    }

    /// The commands that put back tap `tap`'s elements and its profile's
    /// chains as this driver wrote them, if it knows them all.
    fn rebuild(&self, table: &str, tap: &str) -> Option<String> {
        let elements = self.elements.get(tap).filter(|es| !es.is_empty())?;
        let mut out = String::new();
        let mut profiles: Vec<&str> = elements
            .iter()
            .filter_map(|e| e.verdict.as_deref().and_then(nft::profile_of_chain))
            .collect();
        profiles.dedup();
        for name in profiles {
            let profile = self.profiles.get(name)?.as_ref()?;
            out.push_str(&nft::script::profile_commands(table, profile));
        }
        out.push_str(&nft::port_transaction(table, tap, None, &[], elements));
        Some(out)
    }

    /// Forgets everything known of the tables.
    fn clear(&mut self) {
        self.loaded = false;
        self.elements.clear();
        self.owners.clear();
        self.profiles.clear();
    }

    /// `want` without the map keys another port holds; an error when one
    /// of them is not an allowed address pair's (two ports cannot both be
    /// a fixed address).
    fn claimable(&self, rules: &PortRules, want: Vec<Element>) -> Result<Vec<Element>> {
        let mut out = Vec::with_capacity(want.len());
        for e in want {
            match e
                .verdict
                .as_ref()
                .and_then(|_| self.owner_of(&rules.tap, &e))
            {
                Some(_) if rules.is_shared(&e.key) => {}
                Some(other) => {
                    return Err(Error::Conflict(format!(
                        "address {} is already port tap {other}'s",
                        e.key
                    )))
                }
                None => out.push(e),
            }
        }
        Ok(out)
    }
}

/// Converges [`DesiredPort`]s.
#[derive(Debug, Clone)]
pub struct PortDriver {
    cfg: Arc<HostNetConfig>,
    kernel: Kernel,
    programmed: Arc<Mutex<Programmed>>,
    committer: Arc<Committer>,
    /// The previous layout's leftovers were looked for.
    legacy_checked: Arc<AtomicBool>,
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
            legacy_checked: Arc::default(),
        }
    }

    /// The ports whose tap exists and is programmed: in the `ports` set
    /// (security on) or the `open` set (security off). A port this driver
    /// programmed and that is in neither (a flushed table) gets its rules
    /// back here; any other tap in neither (a tap made before a crash, or
    /// by the layout before this one) is reported absent, so the engine
    /// ensures it.
    pub async fn existing(&self) -> Result<Vec<String>> {
        let taps = self.kernel.links(Some("tun")).await?;
        let table = &self.cfg.nft_table;
        let bridge = self.list_json(&["table", "bridge", table]).await?;
        self.remove_legacy(bridge.as_ref()).await?;
        let programmed = nft::parse_tables(bridge.as_ref(), None).by_tap;
        let mut lost = Vec::new();
        let mut out = Vec::new();
        {
            let mut p = self.programmed.lock().await;
            for tap in taps {
                let Some(id) = tap.ifalias.filter(|a| names::check_token(a).is_ok()) else {
                    continue;
                };
                let marked = programmed
                    .get(&tap.ifname)
                    .is_some_and(|es| es.iter().any(|e| e.set == "ports" || e.set == "open"));
                if marked {
                    out.push(id);
                } else if let Some(script) = p.rebuild(&self.cfg.nft_table, &tap.ifname) {
                    lost.push((id.clone(), script));
                    out.push(id);
                }
            }
            if !lost.is_empty() {
                // Whatever we knew of the tables is void: read them again
                // at the next change.
                p.clear();
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

    /// Once per driver: deletes what the previous layout (a chain triple
    /// per port) left in the tables, so an upgraded agent's ports are
    /// programmed afresh (they are in neither set, so `existing` reports
    /// them absent) and nothing old still filters their traffic.
    async fn remove_legacy(&self, bridge: Option<&serde_json::Value>) -> Result<()> {
        if self.legacy_checked.load(Ordering::Acquire) {
            return Ok(());
        }
        let table = &self.cfg.nft_table;
        let inet = self.list_json(&["table", "inet", table]).await?;
        let (maps, chains) = legacy_objects(bridge, inet.as_ref());
        if !maps.is_empty() || !chains.is_empty() {
            tracing::warn!(
                chains = chains.len(),
                "nft tables from an earlier layout: replacing them"
            );
            let script = format!(
                "{}{}",
                nft::base(table),
                nft::legacy_removal(table, &maps, &chains)
            );
            self.kernel.nft(&script).await?;
            self.programmed.lock().await.clear();
        }
        self.legacy_checked.store(true, Ordering::Release);
        Ok(())
    }

    /// `nft -j list <what>`; `None` when it does not exist.
    async fn list_json(&self, what: &[&str]) -> Result<Option<serde_json::Value>> {
        let mut argv = vec!["nft", "-j", "list"];
        argv.extend(what);
        match self.kernel.exec_in(None, &argv, None).await {
            Ok(out) if out.trim().is_empty() => Ok(None),
            Ok(out) => serde_json::from_str(&out)
                .map(Some)
                .map_err(|source| Error::Output {
                    argv: argv.iter().map(|s| s.to_string()).collect(),
                    source,
                }),
            Err(Error::Command { stderr, .. }) if stderr.contains("No such file") => Ok(None),
            Err(e) => Err(e),
        }
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
            self.unprogram(&port.tap, true).await?;
        }
        let mut details = Details::new();
        details.insert("tap".into(), port.tap.clone().into());
        details.insert("bridge".into(), br.into());
        details.insert("network_id".into(), port.network_id.clone().into());
        Ok(details)
    }

    async fn program(&self, rules: &PortRules) -> Result<()> {
        let table = &self.cfg.nft_table;
        let profile = &rules.profile;
        let (had, want, write_profile) = {
            let mut p = self.programmed.lock().await;
            self.load(&mut p).await?;
            let want = p.claimable(rules, rules.elements())?;
            let had = p.elements.get(&rules.tap).cloned().unwrap_or_default();
            let write_profile = match p.profiles.get(&profile.name) {
                Some(Some(applied))
                    if applied.rules == profile.rules && applied.stateful == profile.stateful =>
                {
                    false
                }
                Some(Some(applied)) => !profile.older_than(&applied.generations),
                _ => true,
            };
            if !write_profile && had == want {
                return Ok(());
            }
            (had, want, write_profile)
        };
        let commands = write_profile.then(|| nft::script::profile_commands(table, profile));
        let script = nft::port_transaction(table, &rules.tap, commands.as_deref(), &had, &want);
        let applied = self.committer.apply(script).await;
        let mut p = self.programmed.lock().await;
        match applied {
            Ok(()) => {
                p.put(&rules.tap, want);
                if write_profile {
                    p.profiles
                        .insert(profile.name.clone(), Some(profile.clone()));
                }
                Ok(())
            }
            Err(e) => {
                // What we remember may be out of date (a flushed table, an
                // address now another port's): read the kernel again next
                // time.
                p.loaded = false;
                Err(e)
            }
        }
    }

    /// Takes port `tap`'s elements away (and its profile's chains if no
    /// other port uses them); with `open`, marks the tap as a port with
    /// security off.
    async fn unprogram(&self, tap: &str, open: bool) -> Result<()> {
        let want: Vec<Element> = open.then(|| nft::open_element(tap)).into_iter().collect();
        let (had, unused) = {
            let mut p = self.programmed.lock().await;
            self.load(&mut p).await?;
            let had = p.elements.get(tap).cloned().unwrap_or_default();
            if had == want {
                return Ok(());
            }
            let used_elsewhere: HashSet<&str> = p
                .elements
                .iter()
                .filter(|(t, _)| t.as_str() != tap)
                .flat_map(|(_, es)| es.iter())
                .filter_map(|e| e.verdict.as_deref().and_then(nft::profile_of_chain))
                .collect();
            let mut unused: Vec<String> = had
                .iter()
                .filter_map(|e| e.verdict.as_deref().and_then(nft::profile_of_chain))
                .filter(|name| !used_elsewhere.contains(name))
                .map(str::to_owned)
                .collect();
            unused.sort();
            unused.dedup();
            (had, unused)
        };
        let table = &self.cfg.nft_table;
        let script = format!(
            "{}{}",
            nft::port_transaction(table, tap, None, &had, &want),
            nft::remove_transaction(table, &[], &unused)
        );
        let applied = self.committer.apply(script).await;
        let mut p = self.programmed.lock().await;
        match applied {
            Ok(()) => {
                p.put(tap, want);
                for name in &unused {
                    p.profiles.remove(name);
                }
                Ok(())
            }
            Err(e) => {
                p.loaded = false;
                Err(e)
            }
        }
    }

    /// Reads which elements are whose and which profiles exist, once.
    async fn load(&self, p: &mut Programmed) -> Result<()> {
        if p.loaded {
            return Ok(());
        }
        let table = &self.cfg.nft_table;
        let bridge = self.list_json(&["table", "bridge", table]).await?;
        let inet = self.list_json(&["table", "inet", table]).await?;
        let owned = nft::parse_tables(bridge.as_ref(), inet.as_ref());
        p.clear();
        for (tap, elements) in owned.by_tap {
            p.put(&tap, elements);
        }
        p.profiles = owned.profiles.into_iter().map(|n| (n, None)).collect();
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
        self.unprogram(&tap.ifname, false).await?;
        self.kernel.delete_link(&tap.ifname).await
    }
}

/// (family, name) of nft objects.
type NftObjects = Vec<(String, String)>;

/// The maps and chains (family, name) of the layout before this one in
/// the two tables' `nft -j list table` output.
fn legacy_objects(
    bridge: Option<&serde_json::Value>,
    inet: Option<&serde_json::Value>,
) -> (NftObjects, NftObjects) {
    const MAPS: [&str; 5] = ["spoof", "eg4", "in4", "eg6", "in6"];
    let mut maps = Vec::new();
    let mut chains = Vec::new();
    let items = [bridge, inet]
        .into_iter()
        .flatten()
        .filter_map(|v| v.get("nftables")?.as_array())
        .flatten();
    for it in items {
        let (Some(obj), is_map) = (
            it.get("map").or_else(|| it.get("chain")),
            it.get("map").is_some(),
        ) else {
            continue;
        };
        let (Some(family), Some(name)) = (
            obj.get("family").and_then(|f| f.as_str()),
            obj.get("name").and_then(|n| n.as_str()),
        ) else {
            continue;
        };
        let legacy = if is_map {
            MAPS.contains(&name)
        } else {
            match family {
                "bridge" => name.starts_with("s_"),
                _ => name.starts_with("e_") || name.starts_with("i_"),
            }
        };
        if legacy {
            let entry = (family.to_owned(), name.to_owned());
            if is_map {
                maps.push(entry);
            } else {
                chains.push(entry);
            }
        }
    }
    (maps, chains)
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
