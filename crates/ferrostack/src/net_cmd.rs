//! `ferrostack net show`: this host's data plane as the kernel has it
//! (bridges, uplinks, taps, nft chains, DHCP, routers), like the seed cloud's
//! `ovs-vsctl show`. The reading and printing live in
//! `ferrostack_hostnet::show`; this is the command line and the choice of
//! where the agent keeps its DHCP files (the same derivation as the
//! agent's, so no controller and no running agent are needed).

use crate::host_network::dhcp_state_path;
use crate::paths;
use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use ferrostack_hostnet::HostNetConfig;
use std::path::PathBuf;

/// `ferrostack net ...`.
#[derive(Subcommand)]
pub enum NetCommand {
    /// Show this host's data plane, read from the kernel: per network
    /// bridge its MTU and state, its uplink (VXLAN with VNI, local address,
    /// group or peers; or the flat/VLAN interface), its taps (port, instance,
    /// nft chains) and its DHCP server; per router its namespace, gateway,
    /// interfaces, routes, SNAT and floating-IP NAT. Read-only.
    Show(ShowArgs),
}

/// Output format.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// A tree, as `ovs-vsctl show` prints.
    Text,
    /// One JSON document.
    Json,
}

/// `ferrostack net show` options.
#[derive(Args)]
pub struct ShowArgs {
    /// Read the data plane in this network namespace (a stand-in host).
    #[arg(long)]
    netns: Option<String>,
    /// The agent's data directory, which names where its DHCP files are
    /// (default: /var/lib/ferrostack as root, else ~/.local/share/ferrostack).
    #[arg(long, conflicts_with = "state_dir")]
    data_dir: Option<PathBuf>,
    /// The DHCP state directory itself (holding `dhcp/<network>/`).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// The nft table's name (both families).
    #[arg(long, default_value = "ferrostack")]
    nft_table: String,
    /// The DHCP namespaces' prefix.
    #[arg(long, default_value = "qdhcp-")]
    dhcp_prefix: String,
    /// The router namespaces' prefix.
    #[arg(long, default_value = "qrouter-")]
    router_prefix: String,
    /// `text` or `json`.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

/// Runs `ferrostack net ...`.
pub fn run(cmd: NetCommand) -> anyhow::Result<()> {
    let NetCommand::Show(args) = cmd;
    let state_dir = match args.state_dir {
        Some(d) => d,
        None => dhcp_state_path(&args.data_dir.unwrap_or_else(paths::default_data_dir)),
    };
    let mut cfg = HostNetConfig::new(state_dir);
    cfg.netns = args.netns;
    cfg.nft_table = args.nft_table;
    cfg.dhcp_netns_prefix = args.dhcp_prefix;
    cfg.router_netns_prefix = args.router_prefix;
    cfg.validate().context("invalid options")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let view = runtime
        .block_on(ferrostack_hostnet::show::show(&cfg))
        .map_err(|e| anyhow::anyhow!(ferrostack_hostnet::error_chain(&e)))
        .context("cannot read this host's data plane")?;
    match args.format {
        Format::Text => print!("{}", ferrostack_hostnet::show::render_text(&view)),
        Format::Json => println!("{}", serde_json::to_string_pretty(&view)?),
    }
    Ok(())
}
