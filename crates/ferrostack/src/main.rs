//! `ferrostack`: the one binary. Thin on purpose: it parses the command
//! line, sets up logging, and hands over to the library crates.

mod agent_cmd;
mod allinone;
mod compute_host;
mod controller;
mod deploy_cmd;
mod host_exports;
mod host_network;
mod host_tls;
mod installer_cmd;
mod logging;
mod migrate_store;
mod ml2_settings;
mod net_cmd;
mod nova_floating;
mod nova_proxies;
mod paths;
mod rcfile;
mod security_compliance;
mod server_networks;
mod server_volumes;
mod volume_images;
mod volume_peers;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// An OpenStack-compatible private cloud in one binary.
#[derive(Parser)]
#[command(name = "ferrostack", version, about)]
struct Cli {
    /// Log filter (e.g. `info`, `ferrostack_identity=debug`); RUST_LOG also works.
    #[arg(long, global = true, env = "FERROSTACK_LOG", default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole cloud on this machine: every API service in one process.
    Allinone(allinone::AllinoneArgs),
    /// Run a compute host that joins a controller (`allinone` elsewhere)
    /// over its host API.
    Agent(agent_cmd::AgentArgs),
    /// Write a commented answer file (Packstack's key names) to edit
    /// before `check` and deploying.
    GenAnswerFile(installer_cmd::GenAnswerFileArgs),
    /// Pre-flight checks of this host (and of the answer file): each
    /// finding OK, WARN or FAIL with the evidence and the fix. Exits 1
    /// when a FAIL means deploy must not proceed.
    Check(installer_cmd::CheckArgs),
    /// Install and start ferrostack on every host of an answer file over
    /// SSH (controller, then agents), then wait until every compute host
    /// has joined. Running it again changes only what differs.
    Deploy(deploy_cmd::DeployArgs),
    /// Operator commands.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// This host's network data plane.
    #[command(subcommand)]
    Net(net_cmd::NetCommand),
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Rotate the token encryption keys: the staged key becomes primary,
    /// a new staged key is created, and the oldest keys beyond the limit
    /// retire (tokens sealed with them stop validating). A running server
    /// picks the new keys up by itself within 5 s.
    RotateTokenKeys {
        /// Data directory (default: /var/lib/ferrostack as root, else ~/.local/share/ferrostack).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The cloud's database, as given to allinone (default DATA/ferrostack.db).
        #[arg(long, env = "FERROSTACK_DATABASE", hide_env_values = true, value_parser = ferrostack_store::Location::parse)]
        database: Option<ferrostack_store::Location>,
        /// The master key sealing the keys (default DATA/master.key).
        #[arg(long)]
        master_key_file: Option<PathBuf>,
        /// Keys kept: staged + primary + secondaries.
        #[arg(long, default_value_t = 3)]
        max_active_keys: usize,
    },
    /// Copy the cloud's state from its SQLite file into another database
    /// (PostgreSQL), every row of every table; then start the controller
    /// with `--database` naming it. Stop the controller first.
    MigrateStore(migrate_store::MigrateStoreArgs),
}

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cli.log));
    tracing_subscriber::fmt()
        .fmt_fields(logging::fields())
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli.command {
        Command::Allinone(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(allinone::run(args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Agent(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(agent_cmd::run(args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::GenAnswerFile(args) => {
            installer_cmd::gen_answer_file(args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check(args) => installer_cmd::check(args),
        Command::Deploy(args) => deploy_cmd::run(args),
        Command::Net(cmd) => {
            net_cmd::run(cmd)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin(AdminCommand::MigrateStore(args)) => {
            migrate_store::run(args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin(AdminCommand::RotateTokenKeys {
            data_dir,
            database,
            master_key_file,
            max_active_keys,
        }) => {
            let dir = data_dir.unwrap_or_else(paths::default_data_dir);
            let database = database
                .unwrap_or_else(|| ferrostack_store::Location::Sqlite(dir.join("ferrostack.db")));
            let master_key_file = master_key_file.unwrap_or_else(|| paths::master_key_file(&dir));
            let master = ferrostack_identity::key_store::MasterKey::load(&master_key_file)
                .context(
                "start a controller once (it creates the master key), or copy the file from one",
            )?;
            let store = ferrostack_store::SqliteStore::open_location(&database)
                .with_context(|| format!("cannot open the database {database}"))?;
            let keys = ferrostack_identity::key_store::SharedKeys::new(Arc::new(store), master);
            let primary = keys.rotate(max_active_keys)?;
            println!("Rotated token keys in {database}: key {primary} is now primary.");
            Ok(ExitCode::SUCCESS)
        }
    }
}
