//! `ferrostack allinone`: every API service of the cloud in one process.
//!
//! Start-up order matters: listeners are bound first (so port 0 works and
//! the catalog carries the real ports), then the store is opened and
//! bootstrapped, then the rc files are written, and only then is
//! `ferrostack ready` printed, so a script that waits for that line can
//! use the cloud at once.
//!
//! `allinone` is also a multi-host controller: a listener of its own
//! (`--host-api-port`, 8779) serves the host API
//! (`ferrostack_compute::hostapi`) over TLS for `ferrostack agent` on
//! other machines. Its self-signed certificate is kept in
//! `DATA/host-api/`; the join file `DATA/join-token` (generated on first
//! start, mode 0600, never printed) holds the join token and that
//! certificate's fingerprint, so copying it to a host is all the trust
//! setup there is (see `host_tls`). Console reads go to whichever host
//! runs the server, over TLS pinned to the agent's registered
//! certificate.

use crate::compute_host::{self, Driver, HostPlan};
use crate::{controller, host_tls, paths, rcfile};
use anyhow::Context;
use clap::Args;
use ferrostack_compute::hostapi;
use ferrostack_identity::bootstrap::{BootstrapSpec, CatalogEntry};
use ferrostack_identity::key_store::{KeySource, MasterKey};
use ferrostack_identity::{Identity, IdentityConfig};
use ferrostack_policy::TokenValidator;
use ferrostack_quota::{ProjectDirectory, QuotaEngine, StoreProjects};
use ferrostack_store::SqliteStore;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Options of `ferrostack allinone`.
#[derive(Args, Debug)]
pub struct AllinoneArgs {
    /// Where state lives (default: /var/lib/ferrostack as root, else ~/.local/share/ferrostack).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The database holding the cloud's state: a PostgreSQL URL
    /// (`postgresql://USER:PASSWORD@HOST:PORT/DB`), which several
    /// controllers can share, or a SQLite file (default DATA/ferrostack.db).
    #[arg(long, env = "FERROSTACK_DATABASE", hide_env_values = true, value_parser = ferrostack_store::Location::parse)]
    database: Option<ferrostack_store::Location>,
    /// Read --database from this file (its first line): what a service
    /// unit uses, so the database password is not on a command line.
    #[arg(long, conflicts_with = "database")]
    database_file: Option<PathBuf>,
    /// The master key sealing the token and credential keys in the
    /// database (default DATA/master.key, created when absent). Every
    /// controller of a cloud needs a copy of the same file.
    #[arg(long)]
    master_key_file: Option<PathBuf>,
    /// Address the API listeners bind to.
    #[arg(long, default_value = "0.0.0.0")]
    bind: IpAddr,
    /// Host name or address put in the service catalog and rc files
    /// (default: the bind address, or this host's address when binding to all).
    #[arg(long)]
    public_host: Option<String>,
    /// Set the admin password (default: generated on first start, then kept).
    #[arg(long, env = "FERROSTACK_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// Read the admin password from this file (its first line): what a
    /// service unit uses, so the password is not on a command line.
    #[arg(long, conflicts_with = "admin_password")]
    admin_password_file: Option<PathBuf>,
    /// Token lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    token_ttl: i64,
    /// How long this controller stays live without a heartbeat, in
    /// milliseconds; heartbeats and recovery sweeps follow at a fifth of
    /// it. For tests that kill controllers; not an operator's setting.
    #[arg(long, hide = true, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(500..))]
    controller_lease_ms: u64,
    /// Identity (Keystone) port.
    #[arg(long, default_value_t = 5000)]
    identity_port: u16,
    /// Compute (Nova) port.
    #[arg(long, default_value_t = 8774)]
    compute_port: u16,
    /// Image (Glance) port.
    #[arg(long, default_value_t = 9292)]
    image_port: u16,
    /// Block storage (Cinder) port.
    #[arg(long, default_value_t = 8776)]
    volume_port: u16,
    /// Network (Neutron) port.
    #[arg(long, default_value_t = 9696)]
    network_port: u16,
    /// Placement port.
    #[arg(long, default_value_t = 8778)]
    placement_port: u16,
    /// Port of the host API (HTTPS, for `ferrostack agent` on other
    /// machines).
    #[arg(long, default_value_t = 8779)]
    host_api_port: u16,
    /// The address other controllers of the cloud reach this one's host
    /// API port at, for volume work on this controller's disk (default:
    /// the bind address, or this host's address when binding to all).
    #[arg(long)]
    controller_address: Option<String>,
    /// Dashboard (web UI) port (default: 80 as root, else 8080).
    #[arg(long)]
    dashboard_port: Option<u16>,
    /// PEM certificate chain: serve the dashboard over HTTPS (needs
    /// --dashboard-key).
    #[arg(long, requires = "dashboard_key")]
    dashboard_cert: Option<PathBuf>,
    /// PEM private key of --dashboard-cert.
    #[arg(long, requires = "dashboard_cert")]
    dashboard_key: Option<PathBuf>,
    /// Largest image upload accepted, in bytes (larger ones answer 413).
    #[arg(long, default_value_t = ferrostack_image::DEFAULT_MAX_IMAGE_SIZE)]
    max_image_size: u64,
    /// Most images a project may own (Glance's image_count_total; default unlimited).
    #[arg(long)]
    image_count_quota: Option<u64>,
    /// Most bytes of image data a project may own (Glance's image_size_total; default unlimited).
    #[arg(long)]
    image_size_quota: Option<u64>,
    /// Also check every uploaded image with `qemu-img info` under
    /// `prlimit` (both must be installed); the Rust inspector always runs.
    #[arg(long)]
    image_qemu_img_check: bool,
    /// The hypervisor driver of this host: `qemu` runs real VMs; `fake`
    /// keeps VMs in memory only (control-plane tests, benchmarks).
    #[arg(long, value_enum, default_value_t = Driver::Qemu)]
    hypervisor: Driver,
    /// This compute host's name (default: the machine's host name).
    #[arg(long)]
    host_name: Option<String>,
    /// Where VM disks, config drives and QMP sockets live (default
    /// DATA/instances). Unix socket paths are short (108 bytes), so a deep
    /// data directory may need a shorter one here.
    #[arg(long)]
    instances_dir: Option<PathBuf>,
    /// Run no VMs here: this is a controller only, and every compute
    /// host joins with `ferrostack agent` (what `ferrostack deploy` starts
    /// when the controller is not among CONFIG_COMPUTE_HOSTS).
    #[arg(long)]
    no_compute: bool,
    /// Take the network service's ML2 settings from this answer file
    /// (CONFIG_NEUTRON_ML2_TYPE_DRIVERS, _TENANT_NETWORK_TYPES,
    /// _FLAT_NETWORKS, _VLAN_RANGES, _VNI_RANGES, _VXLAN_GROUP) and the
    /// DHCP host from CONFIG_NETWORK_HOSTS; other keys are deploy's (it
    /// turns them into this command's flags). Default: the answer file's
    /// defaults (flat and VXLAN, project networks on VNIs 10-100).
    #[arg(long)]
    answer_file: Option<PathBuf>,
    /// The host name of the agent that serves DHCP for every network
    /// (default: this host, or with --answer-file the first of
    /// CONFIG_NETWORK_HOSTS that runs an agent, which must then be this
    /// one; `ferrostack deploy` passes the name it found there).
    #[arg(long)]
    dhcp_host: Option<String>,
    /// The host data plane (tunnel, VXLAN group, physical networks).
    #[command(flatten)]
    net: crate::host_network::HostNetArgs,
    /// The password policy (Keystone's [security_compliance]).
    #[command(flatten)]
    security: Box<crate::security_compliance::SecurityComplianceArgs>,
}

struct Listeners {
    identity: TcpListener,
    compute: TcpListener,
    image: TcpListener,
    volume: TcpListener,
    network: TcpListener,
    placement: TcpListener,
    host_api: TcpListener,
    dashboard: TcpListener,
}

async fn bind(addr: IpAddr, port: u16, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(SocketAddr::new(addr, port))
        .await
        .with_context(|| format!("cannot listen on {addr}:{port} for the {what} API (is another service using the port?)"))
}

/// How the dashboard (a client of the APIs) reaches a listener: over
/// loopback when the listener is bound to every address.
fn internal_url(listener: &TcpListener) -> anyhow::Result<String> {
    let addr = listener.local_addr()?;
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    Ok(format!("http://{}", SocketAddr::new(ip, addr.port())))
}

/// The dashboard's default port: 80 when we may bind it.
fn default_dashboard_port() -> u16 {
    if paths::running_as_root() {
        80
    } else {
        8080
    }
}

fn url(host: &str, listener: &TcpListener) -> anyhow::Result<String> {
    let port = listener.local_addr()?.port();
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    Ok(format!("http://{host}:{port}"))
}

/// Run until Ctrl-C or SIGTERM.
pub async fn run(mut args: AllinoneArgs) -> anyhow::Result<()> {
    if let Some(path) = &args.admin_password_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the admin password file {}", path.display()))?;
        let password = text.lines().next().unwrap_or("").to_string();
        anyhow::ensure!(
            !password.is_empty(),
            "the admin password file {} is empty",
            path.display()
        );
        args.admin_password = Some(password);
    }
    if let Some(path) = &args.database_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the database file {}", path.display()))?;
        let url = text.lines().next().unwrap_or("").trim();
        let location = ferrostack_store::Location::parse(url).map_err(|e| {
            anyhow::anyhow!("the database file {} is not usable: {e}", path.display())
        })?;
        args.database = Some(location);
    }
    if args.token_ttl < 60 {
        anyhow::bail!("--token-ttl must be at least 60 seconds");
    }
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(paths::default_data_dir);
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o700))?;
    // Read before anything listens, so a bad answer file fails at once.
    let answers = match &args.answer_file {
        Some(path) => Some(crate::ml2_settings::read_answer_file(path)?),
        None => None,
    };

    let listeners = Listeners {
        identity: bind(args.bind, args.identity_port, "identity").await?,
        compute: bind(args.bind, args.compute_port, "compute").await?,
        image: bind(args.bind, args.image_port, "image").await?,
        volume: bind(args.bind, args.volume_port, "block storage").await?,
        network: bind(args.bind, args.network_port, "network").await?,
        placement: bind(args.bind, args.placement_port, "placement").await?,
        host_api: bind(args.bind, args.host_api_port, "host").await?,
        dashboard: bind(
            args.bind,
            args.dashboard_port.unwrap_or_else(default_dashboard_port),
            "dashboard",
        )
        .await?,
    };
    let dashboard_tls = match (&args.dashboard_cert, &args.dashboard_key) {
        (Some(cert), Some(key)) => Some(
            ferrostack_dashboard::load_tls(cert, key)
                .context("cannot set up TLS for the dashboard")?,
        ),
        _ => None,
    };
    let host = args
        .public_host
        .clone()
        .unwrap_or_else(|| paths::default_public_host(args.bind));
    let identity_url = url(&host, &listeners.identity)?;
    let compute_url = url(&host, &listeners.compute)?;
    let image_url = url(&host, &listeners.image)?;
    let volume_url = url(&host, &listeners.volume)?;
    let network_url = url(&host, &listeners.network)?;
    let placement_url = url(&host, &listeners.placement)?;
    let host_api_url = url(&host, &listeners.host_api)?.replacen("http://", "https://", 1);
    let mut dashboard_url = url(&host, &listeners.dashboard)?;
    if dashboard_tls.is_some() {
        dashboard_url = dashboard_url.replacen("http://", "https://", 1);
    }
    let dashboard_config = ferrostack_dashboard::DashboardConfig {
        identity_url: internal_url(&listeners.identity)?,
        compute_url: internal_url(&listeners.compute)?,
        image_url: internal_url(&listeners.image)?,
        network_url: internal_url(&listeners.network)?,
        volume_url: internal_url(&listeners.volume)?,
        tls: dashboard_tls.is_some(),
    };
    let host_api_tls = host_tls::identity(
        &data_dir.join("host-api"),
        "ferrostack host API",
        &host_tls::machine_names(&[&host]),
    )?;

    let database = args
        .database
        .clone()
        .unwrap_or_else(|| ferrostack_store::Location::Sqlite(data_dir.join("ferrostack.db")));
    let store = SqliteStore::open_location(&database)
        .with_context(|| format!("cannot open the database {database}"))?;
    tracing::info!(%database, "state database");
    let (stop_tx, stop_rx) = watch::channel(false);
    // Registered before anything is recovered: the new incarnation replaces
    // the last one, whose leftovers are then recovered below, while other
    // live controllers' work is left alone (see `controller`).
    let membership = controller::Membership::join(
        store.clone(),
        controller::controller_id(&data_dir)?,
        args.host_name
            .clone()
            .unwrap_or_else(compute_host::default_host_name),
        controller::Timings::for_lease(Duration::from_millis(args.controller_lease_ms)),
        stop_rx.clone(),
    )
    .await?;
    let master_key_file = args
        .master_key_file
        .clone()
        .unwrap_or_else(|| paths::master_key_file(&data_dir));
    let master = MasterKey::load_or_create(&master_key_file)?;
    let peer_key = master.derive(ferrostack_volume::remote::KEY_PURPOSE);
    let keys = KeySource {
        master,
        legacy_dir: Some(paths::token_key_dir(&data_dir)),
    };
    let identity = Arc::new(Identity::new(
        Arc::new(store.clone()),
        keys,
        IdentityConfig {
            token_ttl_secs: args.token_ttl,
            public_url: identity_url.clone(),
            security: args.security.policy()?,
        },
    )?);

    let rc_path = data_dir.join("keystonerc_admin");
    let spec = BootstrapSpec {
        admin_password: args.admin_password.clone(),
        catalog: vec![
            entry("identity", "keystone", format!("{identity_url}/v3")),
            entry("compute", "nova", format!("{compute_url}/v2.1")),
            entry("image", "glance", image_url.clone()),
            entry("volumev3", "cinderv3", format!("{volume_url}/v3")),
            entry("network", "neutron", network_url.clone()),
            entry("placement", "placement", placement_url.clone()),
        ],
    };
    let bootstrap_identity = identity.clone();
    let outcome = tokio::task::spawn_blocking(move || bootstrap_identity.bootstrap(&spec))
        .await?
        .map_err(|e| anyhow::anyhow!("bootstrap failed: {e}"))?;
    let password = args
        .admin_password
        .clone()
        .or_else(|| outcome.generated_admin_password.clone())
        .or_else(|| rcfile::read_password(&rc_path));
    let auth_url = format!("{identity_url}/v3");
    rcfile::write_private(
        &rc_path,
        &rcfile::keystonerc(&auth_url, password.as_deref()),
    )?;
    rcfile::write_private(
        &data_dir.join("clouds.yaml"),
        &rcfile::clouds_yaml(&auth_url, password.as_deref()),
    )?;
    // Standard output ends up in a service manager's journal, readable by
    // more people than the 0600 rc file: say where the password is, never
    // what it is.
    if outcome.generated_admin_password.is_some() {
        println!(
            "Generated an admin password, written to {} (mode 0600)",
            rc_path.display()
        );
    }
    println!("Admin credentials: source {}", rc_path.display());

    let validator: Arc<dyn TokenValidator> = identity.clone();
    // Every service's quotas live in the one store; projects are looked up
    // (by id or name) through a read-only view of the identity store.
    let quotas = QuotaEngine::new(Arc::new(store.clone()));
    let purge = quotas.clone();
    identity.on_project_deleted(Box::new(move |project_id| {
        if let Err(e) = purge.project_deleted(project_id) {
            tracing::warn!(project_id, error = %e, "could not remove a deleted project's quotas");
        }
    }));
    let projects: Arc<dyn ProjectDirectory> = Arc::new(StoreProjects(Arc::new(store.clone())));
    let image_data = ferrostack_image::LocalDataStore::open(data_dir.join("images"))
        .with_context(|| format!("cannot create {}", data_dir.join("images").display()))?;
    let image_prober: Option<ferrostack_image::Prober> = if args.image_qemu_img_check {
        let qemu_img = ferrostack_image::QemuImg::default();
        anyhow::ensure!(
            qemu_img.is_available(),
            "--image-qemu-img-check needs qemu-img and prlimit in PATH"
        );
        Some(Arc::new(qemu_img))
    } else {
        None
    };
    ferrostack_image::recover_interrupted_uploads(&store, &store, &store, true)
        .context("cannot recover interrupted image uploads")?;
    let stock = ferrostack_image::metadefs::stock::load(&store)
        .context("cannot load Glance's stock metadata definitions")?;
    if stock > 0 {
        tracing::info!(
            namespaces = stock,
            "loaded the stock metadata definition namespaces"
        );
    }
    let image_data: Arc<dyn ferrostack_image::ImageDataStore> = Arc::new(image_data);
    let volume_host = args
        .host_name
        .clone()
        .unwrap_or_else(compute_host::default_host_name);
    // Volumes in qcow2 files on this host's disk (the local backend), and
    // backups in a directory of their own beside them.
    let local_volumes = ferrostack_volume::local::LocalBackend::open(
        "local",
        volume_host.clone(),
        data_dir.join("volumes"),
    )
    .with_context(|| format!("cannot open {}", data_dir.join("volumes").display()))?;
    let volume_dir = local_volumes.volumes_dir().to_path_buf();
    let backup_store = ferrostack_volume::backup::BackupStore::open(data_dir.join("backups"))
        .with_context(|| format!("cannot open {}", data_dir.join("backups").display()))?;
    let host_plan = HostPlan {
        name: args
            .host_name
            .clone()
            .unwrap_or_else(compute_host::default_host_name),
        driver: args.hypervisor,
        net: args.net.clone(),
        data_dir: data_dir.clone(),
        instances_dir: args
            .instances_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("instances")),
    };
    let host = compute_host::build(
        &host_plan,
        !args.no_compute,
        Arc::new(store.clone()),
        image_data.clone(),
    )?;
    let join_token_path = data_dir.join("join-token");
    let join_token = host_tls::load_or_create_join_file(&join_token_path, &host_api_tls)?;
    let agents = Arc::new(hostapi::AgentDirectory::new(Arc::new(store.clone())));
    let consoles = hostapi::RemoteConsoles::new(agents.clone(), &join_token, host.consoles.clone());
    let dhcp_host = match (&args.dhcp_host, &answers) {
        (Some(name), _) => name.clone(),
        (None, Some(a)) => crate::ml2_settings::default_dhcp_host(a, &host_plan.name)?,
        (None, None) => host_plan.name.clone(),
    };
    let ml2 = match &answers {
        Some(a) => crate::ml2_settings::ml2_config(a, dhcp_host),
        // The answer file's ML2 defaults.
        None => ferrostack_network::Ml2Config {
            dhcp_host,
            ..Default::default()
        },
    };
    tracing::info!(
        type_drivers = ?ml2.type_drivers,
        tenant_network_types = ?ml2.tenant_network_types,
        dhcp_host = %ml2.dhcp_host,
        "network settings"
    );
    let network = ferrostack_network::NetworkState::new(&ferrostack_network::NetworkConfig {
        public_url: network_url.clone(),
        validator: validator.clone(),
        quotas: quotas.clone(),
        projects: projects.clone(),
        store: Arc::new(store.clone()),
        ml2,
        security_groups: Arc::new(store.clone()),
        routers: Arc::new(store.clone()),
    });
    // The volume service first: compute's host link holds it (attaches,
    // boot from volume), and it tells compute of attached volumes that
    // grew through the link, which is set once built.
    let compute_link = Arc::new(std::sync::OnceLock::new());
    let volume = ferrostack_volume::VolumeState::new(&ferrostack_volume::VolumeConfig {
        public_url: volume_url.clone(),
        validator: validator.clone(),
        quotas: quotas.clone(),
        projects: projects.clone(),
        store: Arc::new(store.clone()),
        backends: vec![Arc::new(local_volumes)],
        images: Arc::new(crate::volume_images::StoreImageFiles {
            images: Arc::new(store.clone()),
            dir: data_dir.join("images"),
        }),
        // An attached volume that grows grows in its guests.
        events: Arc::new(crate::server_volumes::ExtendedToCompute {
            store: store.clone(),
            link: compute_link.clone(),
        }),
        availability_zone: ferrostack_volume::DEFAULT_ZONE.into(),
        host: volume_host.clone(),
        backup_store: Some(Arc::new(backup_store)),
    });
    let link = Arc::new(
        ferrostack_compute::hostlink::HostLink::new(
            Arc::new(store.clone()),
            quotas.clone(),
            Arc::new(store.clone()),
            Arc::new(consoles),
            host.snapshots.clone(),
        )
        .with_networks(Arc::new(crate::server_networks::NeutronForNova::new(
            network.clone(),
        )))
        .with_objects(Arc::new(
            crate::server_networks::NetworkObjects::new(
                network.clone(),
                Arc::new(store.clone()),
                Arc::new(store.clone()),
            )
            .with_exports(Arc::new(store.clone())),
        ))
        .with_volumes(Arc::new(crate::server_volumes::CinderForNova::new(
            volume.clone(),
            Arc::new(store.clone()),
        ))),
    );
    let _ = compute_link.set(link.clone());
    let peer_routes = crate::volume_peers::start(crate::volume_peers::PeerSetup {
        store: &store,
        membership: &membership,
        volume: &volume,
        tls: &host_api_tls,
        key: peer_key,
        url: crate::volume_peers::peer_url(
            args.controller_address.as_deref(),
            args.bind,
            listeners.host_api.local_addr()?.port(),
        ),
        volume_dir: &volume_dir,
    })
    .await?;
    volume
        .recover_backups()
        .map_err(|e| anyhow::anyhow!("cannot settle interrupted backups: {e}"))?;
    volume
        .recover_snapshots()
        .map_err(|e| anyhow::anyhow!("cannot settle interrupted snapshots: {e}"))?;
    let host_api = hostapi::HostApiConfig {
        link: link.clone(),
        join_token,
        images_dir: data_dir.join("images"),
        agents,
        inventory: ferrostack_scheduler::InventoryConfig::default(),
    };
    let scheduler = Arc::new(ferrostack_scheduler::Scheduler::new(
        Arc::new(store.clone()),
        ferrostack_scheduler::SchedulerConfig::default(),
    ));
    let mut servers = tokio::task::JoinSet::new();
    let serve = ferrostack_common::serve::serve_until;
    servers.spawn(serve(
        "identity",
        listeners.identity,
        ferrostack_identity::router(identity.clone()),
        stop_rx.clone(),
    ));
    let compute_config = ferrostack_compute::ComputeConfig {
        public_url: compute_url.clone(),
        validator: validator.clone(),
        quotas: quotas.clone(),
        projects: projects.clone(),
        compute: Arc::new(store.clone()),
        servers: Arc::new(store.clone()),
        placement: Arc::new(store.clone()),
        images: Arc::new(store.clone()),
        image_url: image_url.clone(),
        scheduler,
        link: link.clone(),
        operations: Arc::new(store.clone()),
        aggregates: Arc::new(store.clone()),
        controllers: Arc::new(store.clone()),
    };
    let interrupted = ferrostack_compute::recover(&compute_config)
        .map_err(|e| anyhow::anyhow!("cannot recover interrupted server builds: {e:?}"))?;
    if interrupted > 0 {
        tracing::warn!(
            servers = interrupted,
            "servers interrupted while scheduling are now ERROR"
        );
    }
    spawn_recovery_sweep(&membership, &compute_config, &store, stop_rx.clone());
    servers.spawn(serve(
        "compute",
        listeners.compute,
        ferrostack_compute::router(compute_config),
        stop_rx.clone(),
    ));
    // The host API's listener also serves the other controllers' volume
    // calls (`volume_peers`), under the same TLS identity.
    servers.spawn(ferrostack_common::serve::serve_until(
        "host API",
        host_api_tls
            .listener(listeners.host_api)
            .context("cannot set up TLS for the host API")?,
        hostapi::router(host_api).merge(peer_routes),
        stop_rx.clone(),
    ));
    servers.spawn(serve(
        "image",
        listeners.image,
        ferrostack_image::router(ferrostack_image::ImageConfig {
            public_url: image_url.clone(),
            validator: validator.clone(),
            images: Arc::new(store.clone()),
            metadefs: Arc::new(store.clone()),
            data: image_data,
            max_image_size: args.max_image_size,
            quotas: ferrostack_image::ImageQuotas {
                image_count_total: args.image_count_quota,
                image_size_total: args.image_size_quota,
            },
            quota_store: Arc::new(store.clone()),
            operations: Arc::new(store.clone()),
            prober: image_prober,
        }),
        stop_rx.clone(),
    ));
    // The volume service's state: its router serves it, and compute will
    // call its in-process API (attachments, boot from volume) the same way.
    servers.spawn(serve(
        "volume",
        listeners.volume,
        ferrostack_volume::router_for(volume.clone(), validator.clone()),
        stop_rx.clone(),
    ));
    servers.spawn(serve(
        "network",
        listeners.network,
        ferrostack_network::router_for(network, validator.clone()),
        stop_rx.clone(),
    ));
    servers.spawn(serve(
        "placement",
        listeners.placement,
        ferrostack_placement::router(ferrostack_placement::PlacementConfig {
            public_url: placement_url.clone(),
        }),
        stop_rx.clone(),
    ));
    let dashboard = ferrostack_dashboard::router(dashboard_config);
    match dashboard_tls {
        Some(tls) => {
            let local = listeners.dashboard.local_addr()?;
            let listener =
                ferrostack_host_contract::tls::TlsListener::new(listeners.dashboard, local, tls);
            servers.spawn(ferrostack_common::serve::serve_until(
                "dashboard",
                listener,
                dashboard,
                stop_rx.clone(),
            ));
        }
        None => {
            servers.spawn(serve(
                "dashboard",
                listeners.dashboard,
                dashboard,
                stop_rx.clone(),
            ));
        }
    }
    spawn_housekeeping(identity.clone(), &membership, stop_rx.clone());
    let agent = host
        .hv
        .clone()
        .map(|hv| tokio::spawn(compute_host::run(host_plan, hv, link, stop_rx.clone())));

    println!(
        "Other compute hosts join with: ferrostack agent --controller {host_api_url} --join-token-file <a copy of {}>",
        join_token_path.display()
    );
    println!(
        "Dashboard: {dashboard_url} (user admin, the password in keystonerc_admin, domain Default)"
    );
    println!("ferrostack ready: identity at {auth_url}");
    tracing::info!(data_dir = %data_dir.display(), "ferrostack allinone is up");

    tokio::select! {
        _ = shutdown_signal() => tracing::info!("shutting down"),
        Some(result) = servers.join_next() => {
            // A listener stopped on its own: that is fatal for the process.
            let _ = stop_tx.send(true);
            result??;
            anyhow::bail!("a service stopped unexpectedly");
        }
    }
    let _ = stop_tx.send(true);
    let drain = async {
        while let Some(result) = servers.join_next().await {
            if let Ok(Err(e)) = result {
                tracing::warn!(error = %e, "listener ended with an error");
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(10), drain)
        .await
        .is_err()
    {
        tracing::warn!("some requests were still running after 10 s; exiting anyway");
    }
    membership.retire().await;
    if let Some(agent) = agent {
        match tokio::time::timeout(Duration::from_secs(30), agent).await {
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "the compute host failed"),
            Ok(_) => {}
            Err(_) => tracing::warn!("the host agent did not stop within 30 s"),
        }
    }
    println!("ferrostack stopped");
    Ok(())
}

fn entry(service_type: &str, name: &str, url: String) -> CatalogEntry {
    CatalogEntry {
        service_type: service_type.into(),
        name: name.into(),
        url,
    }
}

/// Reload rotated token keys (every controller), and prune old revocation
/// events (one controller an hour, under a lease).
fn spawn_housekeeping(
    identity: Arc<Identity>,
    membership: &controller::Membership,
    mut stop: watch::Receiver<bool>,
) {
    let pruner = identity.clone();
    membership.spawn_singleton(
        "prune-revocations",
        Duration::from_secs(3600),
        // Shorter than the period: whichever controller comes first after
        // it lapses prunes, about once an hour for the whole cloud.
        Duration::from_secs(1800),
        Arc::new(move || Ok(pruner.prune_revocations()?)),
        stop.clone(),
    );
    tokio::spawn(async move {
        let keys = identity
            .clone()
            .reload_keys_every(ferrostack_identity::service::KEY_RELOAD_PERIOD);
        tokio::pin!(keys);
        loop {
            tokio::select! {
                () = &mut keys => {}
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        break;
                    }
                }
            }
        }
    });
}

/// Every few seconds, on one controller at a time: finish the server
/// operations and image uploads of controllers whose lease ran out.
fn spawn_recovery_sweep(
    membership: &controller::Membership,
    compute: &ferrostack_compute::ComputeConfig,
    store: &SqliteStore,
    stop: watch::Receiver<bool>,
) {
    let (compute, store) = (compute.clone(), store.clone());
    let t = membership.timings;
    membership.spawn_singleton(
        "recovery-sweep",
        t.sweep,
        t.sweep_lease,
        Arc::new(move || {
            ferrostack_compute::recover_orphans(&compute)
                .map_err(|e| anyhow::anyhow!("server operations: {e:?}"))?;
            ferrostack_image::recover_interrupted_uploads(&store, &store, &store, false)
                .context("image uploads")?;
            Ok(())
        }),
        stop,
    );
}

/// Resolves on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGTERM; only Ctrl-C stops the server");
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
}
