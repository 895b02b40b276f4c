//! `ferrostack agent`: a compute host of a multi-host cloud.
//!
//! It runs the same reconcile engine as `allinone`'s in-process host, but
//! reaches the controller over the HTTPS host API
//! (`ferrostack_agent::remote`): it registers with the join token
//! (retrying until the controller answers), heartbeats by registering
//! again every 10 s, pulls its desired state with a long poll, reports
//! what it observes, downloads base images into its own cache and uploads
//! snapshots. The controller calls back only to read consoles, at
//! `--advertise-url`, with the same token.
//!
//! Both directions are TLS with pinned certificates: the agent trusts
//! only the controller certificate whose fingerprint the join file
//! carries (or `--controller-cert-sha256` gives), so it never sends the
//! token to anyone else; its console server serves a certificate kept
//! in `DATA/agent-api/`, whose fingerprint it registers.
//!
//! SIGTERM stops the agent, never the VMs: QEMU runs daemonized and the
//! next start re-adopts every VM in the instances directory.

use crate::compute_host::{self, Driver};
use crate::{host_tls, paths};
use anyhow::Context;
use clap::Args;
use ferrostack_agent::remote::{console_router, error_chain};
use ferrostack_agent::{Agent, AgentConfig, BaseImages, RemoteBaseImages, RemoteControlPlane};
use ferrostack_host_contract::join::JoinFile;
use ferrostack_host_contract::tls::{Fingerprint, CONTROLLER_MISMATCH};
use ferrostack_host_contract::wire::url_host;
use ferrostack_hypervisor::Capabilities;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often the agent registers again (its heartbeat).
const HEARTBEAT: Duration = Duration::from_secs(10);

/// Options of `ferrostack agent`.
#[derive(Args)]
pub struct AgentArgs {
    /// The controller's host API URL, e.g. https://10.0.0.1:8779; several
    /// separated by commas when several controllers serve the cloud (the
    /// agent moves to the next when one cannot be reached).
    #[arg(long)]
    controller: String,
    /// A copy of the controller's join file (DATA/join-token): the join
    /// token and the fingerprint of the controller's certificate.
    #[arg(long)]
    join_token_file: Option<PathBuf>,
    /// The join token (or the join file's line) itself; prefer the file:
    /// a command line is visible to every user of the machine.
    #[arg(long, env = "FERROSTACK_JOIN_TOKEN", hide_env_values = true)]
    join_token: Option<String>,
    /// The SHA-256 fingerprint of the controller's host API certificate
    /// (`sha256:<hex>`), for a join token without one.
    #[arg(long)]
    controller_cert_sha256: Option<Fingerprint>,
    /// This compute host's name (default: the machine's host name).
    #[arg(long)]
    host_name: Option<String>,
    /// Where the agent keeps instances, its base image cache and
    /// snapshots (default: /var/lib/ferrostack as root, else
    /// ~/.local/share/ferrostack).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Where VM disks, config drives and QMP sockets live (default
    /// DATA/instances; keep it short, Unix socket paths are 108 bytes).
    #[arg(long)]
    instances_dir: Option<PathBuf>,
    /// Address of the agent's console server, which the controller calls.
    #[arg(long, default_value = "0.0.0.0:8780")]
    listen: SocketAddr,
    /// The URL the controller calls back (default: https://<listen>;
    /// required when listening on all addresses).
    #[arg(long)]
    advertise_url: Option<String>,
    /// The hypervisor driver: `qemu` runs real VMs; `fake` keeps them in
    /// memory (control-plane tests).
    #[arg(long, value_enum, default_value_t = Driver::Qemu)]
    hypervisor: Driver,
    /// The host's availability zone.
    #[arg(long, default_value = "nova")]
    zone: String,
    /// The host data plane (tunnel address, physical networks).
    #[command(flatten)]
    net: crate::host_network::HostNetArgs,
}

/// The join token and the controller's certificate fingerprint, from
/// `--join-token-file` or `--join-token`, and `--controller-cert-sha256`.
fn credentials(args: &AgentArgs) -> anyhow::Result<(String, Fingerprint)> {
    let join = match (&args.join_token_file, &args.join_token) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the join file {}", path.display()))?;
            JoinFile::parse(&text).with_context(|| format!("cannot use {}", path.display()))?
        }
        (None, Some(t)) => JoinFile::parse(t).context("cannot use the join token")?,
        (None, None) => anyhow::bail!(
            "the join file is needed: --join-token-file PATH (a copy of the controller's DATA/join-token)"
        ),
    };
    let pin = match (join.controller_cert, args.controller_cert_sha256) {
        (Some(file), Some(flag)) if file != flag => anyhow::bail!(
            "--controller-cert-sha256 {flag} contradicts the join file's {file}"
        ),
        (Some(pin), _) | (None, Some(pin)) => pin,
        (None, None) => anyhow::bail!(
            "the join token has no controller certificate fingerprint (a bare token from before TLS?): \
             copy the controller's current DATA/join-token, or pass --controller-cert-sha256 sha256:<hex>"
        ),
    };
    Ok((join.token, pin))
}

fn advertise_url(args: &AgentArgs, bound: SocketAddr) -> anyhow::Result<String> {
    if let Some(url) = &args.advertise_url {
        anyhow::ensure!(
            url.starts_with("https://"),
            "--advertise-url must be an https:// URL (the console server serves TLS)"
        );
        return Ok(url.trim_end_matches('/').to_string());
    }
    anyhow::ensure!(
        !bound.ip().is_unspecified(),
        "--advertise-url is needed when --listen is {} (the controller must know which address reaches this host)",
        args.listen
    );
    Ok(format!("https://{bound}"))
}

fn private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot restrict {}", dir.display()))
}

/// Run the agent until SIGTERM or Ctrl-C.
pub async fn run(args: AgentArgs) -> anyhow::Result<()> {
    let (token, controller_cert) = credentials(&args)?;
    let host = args
        .host_name
        .clone()
        .unwrap_or_else(compute_host::default_host_name);
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(paths::default_data_dir);
    private_dir(&data_dir)?;
    let instances_dir = args
        .instances_dir
        .clone()
        .unwrap_or_else(|| data_dir.join("instances"));
    let snapshot_dir = data_dir.join("snapshots");
    private_dir(&snapshot_dir)?;

    let plane = RemoteControlPlane::new(&args.controller, &token, &host, controller_cert)
        .context("cannot set up the controller connection")?
        .with_snapshot_dir(&snapshot_dir)
        .with_tunnel_ip(args.net.tunnel_address()?);
    let hv = compute_host::driver(args.hypervisor, &instances_dir)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let console_url = advertise_url(&args, listener.local_addr()?)?;
    let advertised = url_host(&console_url).unwrap_or_default();
    let console_tls = host_tls::identity(
        &data_dir.join("agent-api"),
        "ferrostack agent",
        &host_tls::machine_names(&[&host, advertised]),
    )?;
    let console_cert = console_tls.fingerprint();
    let listener = console_tls
        .listener(listener)
        .context("cannot set up TLS for the console server")?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let console = tokio::spawn(ferrostack_common::serve::serve_until(
        "agent console",
        listener,
        console_router(hv.clone(), token.clone()),
        stop_rx.clone(),
    ));
    let caps = hv
        .capabilities()
        .await
        .context("cannot read the hypervisor's capabilities")?;
    println!(
        "ferrostack agent: host {host}, controller {} ({controller_cert}), console at {console_url} ({console_cert})",
        args.controller
    );
    tokio::select! {
        r = register_until_accepted(&plane, &args.zone, &caps, &console_url, console_cert) => r?,
        _ = crate::allinone::shutdown_signal() => {
            println!("ferrostack agent stopped before it registered");
            return Ok(());
        }
    }
    tracing::info!(host = %host, accelerator = caps.accelerator.as_str(), "registered with the controller");

    let heartbeat = {
        let (plane, zone, caps, url) = (
            plane.clone(),
            args.zone.clone(),
            caps.clone(),
            console_url.clone(),
        );
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT);
            tick.tick().await;
            let mut caps = caps;
            loop {
                tick.tick().await;
                ferrostack_hypervisor::host_facts::refresh_load(&mut caps);
                if let Err(e) = plane.register(&zone, &caps, &url, console_cert).await {
                    tracing::warn!(error = %error_chain(&e), "heartbeat to the controller failed");
                }
            }
        })
    };
    let images: Option<Arc<dyn BaseImages>> = match args.hypervisor {
        Driver::Qemu => Some(Arc::new(RemoteBaseImages::new(
            plane.clone(),
            instances_dir.join("_base"),
        ))),
        Driver::Fake => None,
    };
    let config = AgentConfig {
        snapshot_dir: Some(snapshot_dir),
        images,
        ..AgentConfig::default()
    };
    let plane = Arc::new(plane);
    let mut drivers =
        crate::host_network::drivers(args.hypervisor, &data_dir, &args.net, &host, plane.clone())?;
    drivers.push(crate::host_exports::driver(
        args.hypervisor,
        &instances_dir,
        &host,
        args.net.tunnel_address()?.as_deref(),
        args.net.nbd_port,
    ));
    let agent = tokio::spawn(Agent::run_with_drivers(
        host,
        plane.clone(),
        plane,
        hv,
        drivers,
        config,
        stop_rx,
    ));
    crate::allinone::shutdown_signal().await;
    tracing::info!("stopping the agent (VMs keep running)");
    let _ = stop_tx.send(true);
    heartbeat.abort();
    if tokio::time::timeout(Duration::from_secs(30), agent)
        .await
        .is_err()
    {
        tracing::warn!("the host agent did not stop within 30 s");
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), console).await;
    println!("ferrostack agent stopped");
    Ok(())
}

/// Registers, retrying with backoff (1 s doubling to 30 s) until the
/// controller accepts; a controller whose certificate is not the pinned
/// one is an error at once (retrying cannot fix it).
async fn register_until_accepted(
    plane: &RemoteControlPlane,
    zone: &str,
    caps: &Capabilities,
    console_url: &str,
    console_cert: Fingerprint,
) -> anyhow::Result<()> {
    let mut delay = Duration::from_secs(1);
    loop {
        match plane.register(zone, caps, console_url, console_cert).await {
            Ok(()) => return Ok(()),
            Err(e) if error_chain(&e).contains(CONTROLLER_MISMATCH) => anyhow::bail!(
                "{}; copy the controller's current DATA/join-token (or check --controller)",
                error_chain(&e)
            ),
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), retry_in = ?delay, "cannot register with the controller");
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}
