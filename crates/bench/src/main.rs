//! `ferrostack-bench`: how fast ferrostack's APIs answer, as tables.
//!
//! A benchmark, not a test: it asserts nothing and prints figures.
//!
//! `run` loads an identity service. For each
//! identity operation (token validation, token issue, project list) and each
//! concurrency (1, 10, 50 by default) it runs a closed loop for a few seconds
//! (or a fixed number of requests) and reports requests per second, p50 and
//! p99 latency and the error count. It speaks only the public Keystone v3
//! API, so the same run can be pointed at ferrostack and at the reference
//! Python Keystone; `--json` saves a run and `compare` puts two side by side.
//! `scripts/bench-identity.sh` does all of that; see docs/benchmarks.md.
//!
//! The client defaults to a single-threaded runtime: on a small machine the
//! client shares the CPU with the server under test, and one thread is
//! plenty to keep 50 connections busy. Connections are kept alive and
//! reused, as OpenStack clients do.
//!
//! `servers` boots and deletes servers through the compute API (see
//! [`servers`]): Rally's boot-and-delete at several concurrencies,
//! sequential timings of a real hypervisor's boot split into control plane
//! and QEMU, and token validation alone and next to boot-and-delete (how
//! much compute traffic slows identity). `scripts/bench-servers.sh` runs
//! them against `allinone`.
//!
//! `network` measures networking against the goals of issue 11: port
//! creates over the Neutron API (of a fake-hypervisor `allinone` it starts
//! itself, see [`network`]) and the host data plane's drivers in a network
//! namespace (see [`dataplane`]), in one table. `scripts/bench-network.sh`
//! runs it.
//!
//! `volumes` measures block storage against the goals of issue 12 (see
//! [`volumes`]); `scripts/bench-volumes.sh` runs it with the local
//! backend's own figures.

mod allinone;
mod bare;
mod controllers;
mod controllers_report;
mod dataplane;
mod identity;
mod load;
mod network;
mod network_report;
mod procfs;
mod report;
mod servers;
mod volumes;

use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::identity::{Credentials, Op, Target};
use crate::load::{Budget, Cell};

#[derive(Parser, Debug)]
#[command(
    name = "ferrostack-bench",
    version,
    about = "Identity, compute and network benchmarks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Load an identity endpoint and print a table.
    Run(Box<RunArgs>),
    /// Boot and delete servers through the compute API and print tables.
    Servers(Box<ServersArgs>),
    /// Create ports through the network API and program ports on a
    /// stand-in host; print the figures beside the goals.
    Network(Box<NetworkArgs>),
    /// Create volumes and attach them to a running guest through the
    /// public APIs; print the figures beside the goals.
    Volumes(Box<VolumesArgs>),
    /// Token validation, boot-and-delete and cross-controller
    /// invalidation on SQLite with one controller against PostgreSQL with
    /// one and three (clouds it starts itself); print the figures beside
    /// the goals.
    Controllers(Box<ControllersArgs>),
    /// Compare two runs saved with `run --json`.
    Compare {
        /// The run to compare against (e.g. the Python Keystone).
        baseline: PathBuf,
        /// The run being judged (e.g. ferrostack).
        candidate: PathBuf,
    },
}

/// Who to log in as: a project-scoped password login (defaults from `OS_*`).
#[derive(Args, Debug, Clone)]
pub struct Login {
    /// Identity v3 URL, e.g. http://127.0.0.1:5000/v3.
    #[arg(long, env = "OS_AUTH_URL")]
    url: String,
    /// User to authenticate as.
    #[arg(long, env = "OS_USERNAME", default_value = "admin")]
    username: String,
    /// That user's password.
    #[arg(long, env = "OS_PASSWORD", hide_env_values = true)]
    password: String,
    /// Project to scope tokens to.
    #[arg(long, env = "OS_PROJECT_NAME", default_value = "admin")]
    project: String,
    /// Domain of the user.
    #[arg(long, env = "OS_USER_DOMAIN_NAME", default_value = "Default")]
    user_domain: String,
    /// Domain of the project.
    #[arg(long, env = "OS_PROJECT_DOMAIN_NAME", default_value = "Default")]
    project_domain: String,
}

impl Login {
    fn credentials(&self) -> Credentials {
        Credentials {
            username: self.username.clone(),
            password: self.password.clone(),
            project: self.project.clone(),
            user_domain: self.user_domain.clone(),
            project_domain: self.project_domain.clone(),
        }
    }
}

#[derive(Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    login: Login,
    /// Concurrencies to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 10, 50])]
    concurrency: Vec<usize>,
    /// Operations to run, comma-separated: token-validate, bare-axum (the
    /// reference: validation's body from a bare axum handler in this
    /// process), token-issue, project-list.
    #[arg(long, value_delimiter = ',', value_parser = parse_op,
          default_values = ["token-validate", "bare-axum", "token-issue", "project-list"])]
    ops: Vec<Op>,
    /// Seconds per cell (ignored when --requests is given).
    #[arg(long, default_value_t = 3.0)]
    duration: f64,
    /// Requests per cell, instead of a duration.
    #[arg(long)]
    requests: Option<u64>,
    /// Worker threads of the client's runtime.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Per-request timeout, seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Name of this run in titles and comparisons.
    #[arg(long, default_value = "identity")]
    label: String,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// What `servers` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Rally's boot-and-delete, at each `--concurrency` (fake hypervisor).
    BootDelete,
    /// `--runs` sequential boots and deletes on QEMU, the boot split into
    /// API, control plane and hypervisor.
    QemuTiming,
    /// Token validation (`--validate-concurrency` workers) alone, then
    /// while boot-and-delete runs at each `--concurrency`; one `--duration`
    /// per cell (`--cycles` does not apply).
    ValidateUnderBootDelete,
}

#[derive(Args, Debug)]
struct ServersArgs {
    #[command(flatten)]
    login: Login,
    /// What to measure.
    #[arg(long, value_enum, default_value_t = Scenario::BootDelete)]
    scenario: Scenario,
    /// Image file to upload and boot.
    #[arg(long)]
    image_file: PathBuf,
    /// Disk format of the image file.
    #[arg(long, default_value = "qcow2")]
    image_format: String,
    /// vCPUs of the flavor created for the run.
    #[arg(long, default_value_t = 1)]
    flavor_vcpus: u64,
    /// RAM of the flavor, MiB.
    #[arg(long, default_value_t = 64)]
    flavor_ram: u64,
    /// Root disk of the flavor, GiB (0: the image's size).
    #[arg(long, default_value_t = 0)]
    flavor_disk: u64,
    /// boot-delete: concurrencies, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 10, 50])]
    concurrency: Vec<usize>,
    /// boot-delete: seconds per cell (ignored when --cycles is given).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// boot-delete: cycles per cell, instead of a duration.
    #[arg(long)]
    cycles: Option<u64>,
    /// validate-under-boot-delete: concurrent token validations.
    #[arg(long, default_value_t = 10)]
    validate_concurrency: usize,
    /// qemu-timing: sequential boots.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// qemu-timing: allinone's --instances-dir, to read each VM's pidfile time.
    #[arg(long)]
    instances_dir: Option<PathBuf>,
    /// boot-delete: pid of the server under test, to report its CPU time
    /// per cycle (read from /proc; a figure other load on the machine
    /// barely changes).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Milliseconds between two polls of a server's status.
    #[arg(long, default_value_t = 20)]
    poll_ms: u64,
    /// Seconds to wait for one state change before counting an error.
    #[arg(long, default_value_t = 300)]
    wait_timeout: u64,
    /// Per-request timeout, seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Name of this run in titles.
    #[arg(long, default_value = "servers")]
    label: String,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct NetworkArgs {
    /// Identity v3 URL of a running cloud (default: start a fresh
    /// `ferrostack allinone --hypervisor fake` on loopback).
    #[arg(long)]
    url: Option<String>,
    /// User to authenticate as (with --url).
    #[arg(long, default_value = "admin")]
    username: String,
    /// That user's password (with --url).
    #[arg(long, env = "OS_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Project to scope the token to.
    #[arg(long, default_value = "admin")]
    project: String,
    /// The ferrostack binary to start (default: `ferrostack` beside this one).
    #[arg(long)]
    ferrostack_bin: Option<PathBuf>,
    /// API: concurrencies, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 10])]
    concurrency: Vec<usize>,
    /// API: port creates (then deletes) per concurrency.
    #[arg(long, default_value_t = 1000)]
    api_ports: usize,
    /// API: the subnet's CIDR (room for --api-ports ports).
    #[arg(long, default_value = "10.128.0.0/16")]
    cidr: String,
    /// Data plane: ports on the host for the scale figures.
    #[arg(long, default_value_t = 1000)]
    host_ports: usize,
    /// Data plane: single ports wired one after another (samples).
    #[arg(long, default_value_t = 30)]
    singles: usize,
    /// Data plane: ensures at once (the agent's max_concurrent).
    #[arg(long, default_value_t = 8)]
    width: usize,
    /// Skip the API part.
    #[arg(long)]
    skip_api: bool,
    /// Skip the data plane part (it needs root, iproute2, nft, dnsmasq).
    #[arg(long)]
    skip_dataplane: bool,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct VolumesArgs {
    /// The ferrostack binary to start (default: `ferrostack` beside this one).
    #[arg(long)]
    ferrostack_bin: Option<PathBuf>,
    /// The test guest (guest-image/build.sh) for the attach figure; with
    /// it the cloud runs real QEMU guests (root needed).
    #[arg(long)]
    guest_image: Option<PathBuf>,
    /// Samples per figure (the attach figure takes at most 10).
    #[arg(long, default_value_t = 20)]
    samples: usize,
}

#[derive(Args, Debug)]
struct ControllersArgs {
    /// The ferrostack binary to start (default: `ferrostack` beside this one).
    #[arg(long)]
    ferrostack_bin: Option<PathBuf>,
    /// The image boot-and-delete boots (the fake hypervisor never reads
    /// it; default: the repo's test guest, else a small file made here).
    #[arg(long)]
    image_file: Option<PathBuf>,
    /// Token validation workers.
    #[arg(long, default_value_t = 50)]
    concurrency: usize,
    /// Seconds of token validation per topology.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Boot-and-delete workers.
    #[arg(long, default_value_t = 10)]
    boot_concurrency: usize,
    /// Seconds of boot-and-delete per topology.
    #[arg(long, default_value_t = 10.0)]
    boot_duration: f64,
    /// Role removals timed for the invalidation figure.
    #[arg(long, default_value_t = 20)]
    samples: usize,
    /// Only the topologies whose name starts with one of these
    /// (comma-separated, e.g. `sqlite,postgresql x3`).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

fn run_controllers(args: ControllersArgs) -> Result<(), Box<dyn Error>> {
    let bin = match &args.ferrostack_bin {
        Some(bin) => bin.clone(),
        None => std::env::current_exe()?.with_file_name("ferrostack"),
    };
    let work = tempfile::tempdir()?;
    let image_file = match &args.image_file {
        Some(file) => file.clone(),
        None => {
            let guest = PathBuf::from("target/guest-image/ferrostack-guest.qcow2");
            if guest.exists() {
                guest
            } else {
                // A qcow2 header is all the image API checks here.
                let file = work.path().join("bench.qcow2");
                let made = std::process::Command::new("qemu-img")
                    .args(["create", "-q", "-f", "qcow2"])
                    .arg(&file)
                    .arg("64M")
                    .status()?;
                if !made.success() {
                    return Err("qemu-img create failed; give --image-file".into());
                }
                file
            }
        }
    };
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let topologies: Vec<_> = controllers::Topology::standard(cpus)
        .into_iter()
        .filter(|t| args.only.is_empty() || args.only.iter().any(|o| t.name.starts_with(o)))
        .collect();
    let plan = controllers::Plan {
        bin,
        image_file,
        concurrency: args.concurrency,
        duration: Duration::try_from_secs_f64(args.duration)?,
        boot_concurrency: args.boot_concurrency,
        boot_duration: Duration::try_from_secs_f64(args.boot_duration)?,
        samples: args.samples,
    };
    let rows = controllers::run(&plan, &topologies)?;
    let title = format!(
        "controllers: token validation x{} ({:.1} s), fake-hypervisor boot-and-delete x{} ({:.1} s), {} role removals; {cpus} CPUs",
        args.concurrency, args.duration, args.boot_concurrency, args.boot_duration, args.samples
    );
    print!("{}", controllers_report::table(&title, &rows));
    Ok(())
}

fn run_volumes(args: VolumesArgs) -> Result<(), Box<dyn Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let bin = match &args.ferrostack_bin {
        Some(bin) => bin.clone(),
        None => std::env::current_exe()?.with_file_name("ferrostack"),
    };
    let hypervisor = if args.guest_image.is_some() {
        "qemu"
    } else {
        "fake"
    };
    eprintln!(
        "starting {} allinone --hypervisor {hypervisor} ...",
        bin.display()
    );
    let cloud = allinone::Allinone::start_with(&bin, Duration::from_secs(120), hypervisor)?;
    let work = tempfile::tempdir()?;
    let creds = identity::Credentials {
        username: "admin".into(),
        password: cloud.password.clone(),
        project: "admin".into(),
        user_domain: "Default".into(),
        project_domain: "Default".into(),
    };
    let series = runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?;
        let api = volumes::VolumeApi::login(client, &cloud.auth_url, &creds).await?;
        Ok::<_, String>(
            volumes::run(&api, args.samples, args.guest_image.as_deref(), work.path()).await,
        )
    })?;
    print!("{}", volumes::table(&series));
    drop(cloud);
    Ok(())
}

fn parse_op(name: &str) -> Result<Op, String> {
    Op::from_name(name).ok_or_else(|| {
        let known: Vec<_> = Op::ALL.iter().map(|op| op.name()).collect();
        format!("unknown operation {name:?} (known: {})", known.join(", "))
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    match Cli::parse().command {
        Command::Run(args) => run(*args),
        Command::Servers(args) => run_servers(*args),
        Command::Network(args) => run_network(*args),
        Command::Volumes(args) => run_volumes(*args),
        Command::Controllers(args) => run_controllers(*args),
        Command::Compare {
            baseline,
            candidate,
        } => {
            let read = |path: &PathBuf| -> Result<serde_json::Value, Box<dyn Error>> {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("reading {}: {e}", path.display()))?;
                Ok(serde_json::from_str(&text)
                    .map_err(|e| format!("parsing {}: {e}", path.display()))?)
            };
            print!(
                "{}",
                report::compare(&read(&baseline)?, &read(&candidate)?)?
            );
            Ok(())
        }
    }
}

fn run(args: RunArgs) -> Result<(), Box<dyn Error>> {
    let budget = match args.requests {
        Some(n) => Budget::Requests(n),
        None => Budget::Time(Duration::try_from_secs_f64(args.duration)?),
    };
    let runtime = if args.client_threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(args.client_threads);
        builder
    }
    .enable_all()
    .build()?;

    let cells = runtime.block_on(measure(&args, budget))?;
    let per_cell = match budget {
        Budget::Time(d) => format!("{:.1} s per cell", d.as_secs_f64()),
        Budget::Requests(n) => format!("{n} requests per cell"),
    };
    let title = format!("{}: {} ({per_cell})", args.label, args.login.url);
    print!("{}", report::table(&title, &cells));
    if let Some(path) = &args.json {
        let value = report::to_json(&args.label, &args.login.url, &cells);
        std::fs::write(path, serde_json::to_string_pretty(&value)? + "\n")
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(())
}

async fn measure(args: &RunArgs, budget: Budget) -> Result<Vec<Cell>, Box<dyn Error>> {
    let max_conc = args.concurrency.iter().copied().max().unwrap_or(1);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(max_conc)
        .timeout(Duration::from_secs(args.timeout))
        .build()?;
    let url = &args.login.url;
    let mut target = Target::connect(client, url, &args.login.credentials())
        .await
        .map_err(|e| format!("logging in to {url}: {e}"))?;
    if args.ops.contains(&Op::BareAxum) {
        let body = target
            .validation_body()
            .await
            .map_err(|e| format!("a validation for the bare reference: {e}"))?;
        target.set_bare_reference(bare::start(body)?);
    }
    let target = Arc::new(target);

    let mut cells = Vec::new();
    for &op in &args.ops {
        // One untimed call first: a broken operation stops the run here with
        // its error instead of filling a table with failures.
        target
            .call(op)
            .await
            .map_err(|e| format!("warm-up {op}: {e}"))?;
        for &concurrency in &args.concurrency {
            eprintln!("{}: {op} x{concurrency} ...", args.label);
            cells.push(load::run_cell(Arc::clone(&target), op, concurrency, budget).await);
        }
    }
    Ok(cells)
}

fn run_servers(args: ServersArgs) -> Result<(), Box<dyn Error>> {
    let budget = match args.cycles {
        Some(n) => Budget::Requests(n),
        None => Budget::Time(Duration::try_from_secs_f64(args.duration)?),
    };
    let poll = servers::Polling {
        interval: Duration::from_millis(args.poll_ms),
        timeout: Duration::from_secs(args.wait_timeout),
    };
    // One thread, as for `run`: the server under test needs the cores more.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (cells, runs, mixed) = runtime.block_on(async {
        let max_conc = args.concurrency.iter().copied().max().unwrap_or(1);
        let max_conc = max_conc.max(args.validate_concurrency);
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(max_conc)
            .timeout(Duration::from_secs(args.timeout))
            .build()?;
        let url = &args.login.url;
        let mut cloud = servers::Cloud::login(client.clone(), url, &args.login.credentials())
            .await
            .map_err(|e| format!("logging in to {url}: {e}"))?;
        let setup = servers::Setup {
            image_file: args.image_file.clone(),
            image_format: args.image_format.clone(),
            vcpus: args.flavor_vcpus,
            ram_mib: args.flavor_ram,
            disk_gib: args.flavor_disk,
        };
        eprintln!("{}: {}", args.label, cloud.prepare(&setup).await?);
        let cloud = Arc::new(cloud);
        // Untimed: stops a broken setup here, fills QEMU's base image cache.
        let warm = cloud
            .cycle("bench-warm-up", poll)
            .await
            .map_err(|e| format!("warm-up boot-and-delete: {e}"))?;
        eprintln!(
            "{}: warm-up boot-and-delete {:.0} ms (ACTIVE after {:.0} ms)",
            args.label,
            warm.0.as_secs_f64() * 1000.0,
            warm.1.as_secs_f64() * 1000.0
        );
        let (mut cells, mut runs, mut mixed) = (Vec::new(), Vec::new(), Vec::new());
        match args.scenario {
            Scenario::BootDelete => {
                for &concurrency in &args.concurrency {
                    eprintln!("{}: boot-delete x{concurrency} ...", args.label);
                    let cell = servers::boot_delete(
                        cloud.clone(),
                        concurrency,
                        budget,
                        poll,
                        args.server_pid,
                    );
                    cells.push(cell.await);
                }
            }
            Scenario::QemuTiming => {
                let dir = args.instances_dir.as_deref();
                runs = servers::qemu_timing(&cloud, args.runs, dir, poll).await?;
            }
            Scenario::ValidateUnderBootDelete => {
                let target = Target::connect(client.clone(), url, &args.login.credentials())
                    .await
                    .map_err(|e| format!("logging in to {url} for validation: {e}"))?;
                target
                    .call(Op::Validate)
                    .await
                    .map_err(|e| format!("warm-up {}: {e}", Op::Validate))?;
                mixed = servers::validate_under_boot_delete(
                    cloud.clone(),
                    Arc::new(target),
                    args.validate_concurrency,
                    &args.concurrency,
                    Duration::try_from_secs_f64(args.duration)?,
                    poll,
                    args.server_pid,
                )
                .await;
            }
        }
        Ok::<_, Box<dyn Error>>((cells, runs, mixed))
    })?;

    let url = &args.login.url;
    let poll_note = format!("poll every {} ms", args.poll_ms);
    if args.scenario == Scenario::ValidateUnderBootDelete {
        let title = format!(
            "{}: token-validate x{} alone and during boot-and-delete, {url} ({:.1} s per cell, {poll_note})",
            args.label, args.validate_concurrency, args.duration
        );
        print!("{}", report::mixed_table(&title, &mixed));
    } else if args.scenario == Scenario::BootDelete {
        let per_cell = match budget {
            Budget::Time(d) => format!("{:.1} s per cell", d.as_secs_f64()),
            Budget::Requests(n) => format!("{n} cycles per cell"),
        };
        let title = format!(
            "{}: boot-and-delete, {url} ({per_cell}, {poll_note})",
            args.label
        );
        print!("{}", report::cycles_table(&title, &cells));
    } else {
        let title = format!(
            "{}: {} sequential boots, {url} ({poll_note})",
            args.label,
            runs.len()
        );
        print!("{}", report::spawn_table(&title, &runs));
    }
    if let Some(path) = &args.json {
        let mut value = report::servers_json(&args.label, url, &cells, &runs);
        if args.scenario == Scenario::ValidateUnderBootDelete {
            value["validate_under_boot_delete"] = report::mixed_json(&mixed);
        }
        std::fs::write(path, serde_json::to_string_pretty(&value)? + "\n")
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(())
}

fn run_network(args: NetworkArgs) -> Result<(), Box<dyn Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let api = if args.skip_api {
        Err("skipped (--skip-api)".to_owned())
    } else {
        network_api(&args, &runtime)
    };
    let plan = dataplane::Plan {
        ports: args.host_ports,
        singles: args.singles,
        width: args.width,
    };
    let dataplane = if args.skip_dataplane {
        Err("skipped (--skip-dataplane)".to_owned())
    } else {
        eprintln!(
            "data plane: {} single ports, then {} ports, {} at once ...",
            args.singles, args.host_ports, args.width
        );
        dataplane::run_all(plan)
    };
    let title = format!(
        "network: {} API port creates per concurrency; data plane in a namespace host, {} ensures at once",
        args.api_ports, args.width
    );
    print!(
        "{}",
        network_report::table(&title, &api, &dataplane, args.singles)
    );
    if let Some(path) = &args.json {
        let value = network_report::json(&api, &dataplane);
        std::fs::write(path, serde_json::to_string_pretty(&value)? + "\n")
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(())
}

/// The API part: against `--url`, or an allinone started here.
fn network_api(
    args: &NetworkArgs,
    runtime: &tokio::runtime::Runtime,
) -> Result<Vec<network::PortCell>, String> {
    let mut started = None;
    let (url, password) = match &args.url {
        Some(url) => (
            url.clone(),
            args.password.clone().ok_or("--url needs --password")?,
        ),
        None => {
            let bin = match &args.ferrostack_bin {
                Some(bin) => bin.clone(),
                None => std::env::current_exe()
                    .map_err(|e| e.to_string())?
                    .with_file_name("ferrostack"),
            };
            eprintln!("starting {} allinone --hypervisor fake ...", bin.display());
            let cloud = allinone::Allinone::start(&bin, Duration::from_secs(120))?;
            let found = (cloud.auth_url.clone(), cloud.password.clone());
            started = Some(cloud);
            found
        }
    };
    let creds = identity::Credentials {
        username: args.username.clone(),
        password,
        project: args.project.clone(),
        user_domain: "Default".into(),
        project_domain: "Default".into(),
    };
    let cells = runtime.block_on(async {
        let max_conc = args.concurrency.iter().copied().max().unwrap_or(1);
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(max_conc)
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?;
        let api = network::NetworkApi::login(client, &url, &creds)
            .await
            .map_err(|e| format!("logging in to {url}: {e}"))?;
        let setup = api.prepare(&args.cidr).await?;
        // Untimed: a broken setup stops here with its error.
        let warm = api.create_port(&setup, "bench-warm-up").await?;
        api.delete_port(&warm).await?;
        let (api, setup) = (Arc::new(api), Arc::new(setup));
        let mut cells = Vec::new();
        for &c in &args.concurrency {
            eprintln!("API: {} port creates and deletes x{c} ...", args.api_ports);
            let (create, delete) =
                network::create_delete(api.clone(), setup.clone(), c, args.api_ports).await;
            cells.push(create);
            cells.push(delete);
        }
        api.cleanup(&setup).await?;
        Ok::<_, String>(cells)
    });
    drop(started);
    cells
}
