//! `ferrostack-bench`: how fast an identity service answers, as a table.
//!
//! A benchmark, not a test: it asserts nothing and prints figures. For each
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

mod identity;
mod load;
mod report;

use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::identity::{Credentials, Op, Target};
use crate::load::{Budget, Cell};

#[derive(Parser, Debug)]
#[command(
    name = "ferrostack-bench",
    version,
    about = "Identity API load benchmark"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Load an identity endpoint and print a table.
    Run(Box<RunArgs>),
    /// Compare two runs saved with `run --json`.
    Compare {
        /// The run to compare against (e.g. the Python Keystone).
        baseline: PathBuf,
        /// The run being judged (e.g. ferrostack).
        candidate: PathBuf,
    },
}

#[derive(Args, Debug)]
struct RunArgs {
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
    /// Concurrencies to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 10, 50])]
    concurrency: Vec<usize>,
    /// Operations to run, comma-separated: token-validate, token-issue, project-list.
    #[arg(long, value_delimiter = ',', value_parser = parse_op,
          default_values = ["token-validate", "token-issue", "project-list"])]
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

fn parse_op(name: &str) -> Result<Op, String> {
    Op::from_name(name).ok_or_else(|| {
        let known: Vec<_> = Op::ALL.iter().map(|op| op.name()).collect();
        format!("unknown operation {name:?} (known: {})", known.join(", "))
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    match Cli::parse().command {
        Command::Run(args) => run(*args),
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
    let title = format!("{}: {} ({per_cell})", args.label, args.url);
    print!("{}", report::table(&title, &cells));
    if let Some(path) = &args.json {
        let value = report::to_json(&args.label, &args.url, &cells);
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
    let creds = Credentials {
        username: args.username.clone(),
        password: args.password.clone(),
        project: args.project.clone(),
        user_domain: args.user_domain.clone(),
        project_domain: args.project_domain.clone(),
    };
    let target = Target::connect(client, &args.url, &creds)
        .await
        .map_err(|e| format!("logging in to {}: {e}", args.url))?;
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
