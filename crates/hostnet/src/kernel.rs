//! The narrow seam to the kernel: links, addresses, FDB entries through
//! iproute2 (`ip -json`, `bridge`), rule sets through `nft -f -`, and
//! commands inside a namespace through `ip netns exec`.
//!
//! Every call is an argv handed to the program directly (no shell) and its
//! failure an [`Error::Command`] with the argv, exit status and stderr.
//! Names reach here already checked ([`crate::names`]). With
//! [`HostNetConfig::netns`](crate::HostNetConfig::netns) set, every call
//! runs in that namespace (`ip -n`, `bridge -n`, `ip netns exec`), which
//! is how tests and stand-in hosts stay off the machine's own interfaces.
//! Netlink proper (the `rtnetlink` crate) would replace the processes
//! behind the same methods.

use crate::{Error, Result};
use serde::Deserialize;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::AsyncWriteExt;

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

/// The number of external commands (`ip`, `bridge`, `nft`, ...) the data
/// plane has started in this process so far: benchmarks divide it by the
/// ports they programmed, since a process per call is what costs most.
pub fn commands_run() -> u64 {
    COMMANDS_RUN.load(Ordering::Relaxed)
}

/// Runs the data plane's commands, in the configured namespace.
#[derive(Debug, Clone)]
pub struct Kernel {
    netns: Option<String>,
}

impl Kernel {
    /// Commands in `netns` (`None`: the agent's own namespace).
    pub fn new(netns: Option<String>) -> Self {
        Kernel { netns }
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

    /// `ip [-n ns] args...`.
    pub async fn ip(&self, args: &[&str]) -> Result<String> {
        self.run(&self.with_ns("ip", args), None).await
    }

    /// `bridge [-n ns] args...`.
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

    /// All links (with details), or those of one `type`.
    pub async fn links(&self, kind: Option<&str>) -> Result<Vec<Link>> {
        let mut args = vec!["-json", "-details", "link", "show"];
        if let Some(k) = kind {
            args.extend(["type", k]);
        }
        self.parse_links(&args).await
    }

    /// One link, if it exists.
    pub async fn link(&self, name: &str) -> Result<Option<Link>> {
        match self
            .parse_links(&["-json", "-details", "link", "show", "dev", name])
            .await
        {
            Ok(all) => Ok(all.into_iter().find(|l| l.ifname == name)),
            Err(Error::Command { stderr, .. }) if stderr.contains("does not exist") => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn parse_links(&self, args: &[&str]) -> Result<Vec<Link>> {
        let out = self.ip(args).await?;
        if out.trim().is_empty() {
            return Ok(Vec::new());
        }
        serde_json::from_str(&out).map_err(|source| Error::Output {
            argv: args.iter().map(|s| s.to_string()).collect(),
            source,
        })
    }

    /// Deletes link `name`; absent is fine.
    pub async fn delete_link(&self, name: &str) -> Result<()> {
        if self.link(name).await?.is_some() {
            self.ip(&["link", "del", "dev", name]).await?;
        }
        Ok(())
    }

    /// Brings `name` to the MTU, alias, master and admin state given, in
    /// one `ip link set` of what differs (nothing when nothing does).
    pub async fn converge_link(&self, have: &Link, want: &LinkState<'_>) -> Result<()> {
        let name = have.ifname.as_str();
        let mtu = want.mtu.to_string();
        let mut args = vec!["link", "set", "dev", name];
        if have.mtu != want.mtu {
            args.extend(["mtu", &mtu]);
        }
        if let Some(alias) = want.alias.filter(|a| have.ifalias.as_deref() != Some(*a)) {
            args.extend(["alias", alias]);
        }
        if let Some(master) = want.master.filter(|m| have.master.as_deref() != Some(*m)) {
            args.extend(["master", master]);
        }
        if have.is_up() != want.up {
            args.push(if want.up { "up" } else { "down" });
        }
        if args.len() > 4 {
            self.ip(&args).await?;
        }
        Ok(())
    }

    /// The namespaces that exist.
    pub async fn namespaces(&self) -> Result<Vec<String>> {
        let out = self.run(&["ip", "netns", "list"], None).await?;
        Ok(out
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_owned)
            .collect())
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
