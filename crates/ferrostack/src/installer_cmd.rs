//! `ferrostack gen-answer-file` and `ferrostack check`: thin wrappers over
//! `ferrostack_installer`, which holds the logic and the tests.

use crate::paths;
use anyhow::Context;
use clap::{Args, ValueEnum};
use ferrostack_installer::answer::{self, GenOptions};
use ferrostack_installer::check::{self, AnswerInput, LocalHostFacts};
use ferrostack_installer::deploy;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Options of `ferrostack gen-answer-file`.
#[derive(Args, Debug)]
pub struct GenAnswerFileArgs {
    /// The file to write (mode 0600: it holds the admin password).
    path: PathBuf,
    /// Replace the file if it exists.
    #[arg(long)]
    force: bool,
    /// The address written for the controller, compute and network hosts
    /// (default: this host's address).
    #[arg(long)]
    host: Option<String>,
}

/// Output format of `ferrostack check`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned text.
    Text,
    /// One JSON document.
    Json,
}

/// Options of `ferrostack check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The answer file to validate and to take this host's roles from
    /// (default: check this host as an all-in-one deployment).
    #[arg(long)]
    answer_file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Do not start a probe guest to see whether KVM really works.
    #[arg(long)]
    no_kvm_probe: bool,
    /// Check every host of the answer file instead, over SSH: this binary
    /// and a copy of the answer file (passwords redacted) are put on each
    /// host (where deploy would put them) and each checks itself. Nothing
    /// is started.
    #[arg(long, requires = "answer_file")]
    all_hosts: bool,
    #[command(flatten)]
    ssh: crate::deploy_cmd::SshArgs,
}

/// Writes a new answer file.
pub fn gen_answer_file(args: GenAnswerFileArgs) -> anyhow::Result<()> {
    let host = args
        .host
        .unwrap_or_else(|| paths::default_public_host(IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
    let text = answer::generate(&GenOptions::new(host));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).mode(0o600);
    if args.force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(&args.path).with_context(|| {
        format!(
            "cannot create {} (use --force to replace an existing file)",
            args.path.display()
        )
    })?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", args.path.display()))?;
    println!(
        "Wrote {} (mode 0600; the admin password in it was generated). Edit it, then run\n  ferrostack check --answer-file {}",
        args.path.display(),
        args.path.display()
    );
    Ok(())
}

/// Runs the pre-flight checks; exit status 0 when deploy may proceed.
pub fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    if args.all_hosts {
        return check_all_hosts(&args);
    }
    let loaded = match &args.answer_file {
        Some(path) => Some(answer::read_file(path)?),
        None => None,
    };
    let path = args
        .answer_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let input = loaded.as_ref().map(|loaded| AnswerInput {
        path: &path,
        loaded,
    });
    let facts = LocalHostFacts {
        skip_kvm_probe: args.no_kvm_probe,
    };
    let report = check::run(&facts, input);
    match args.format {
        Format::Text => print!("{}", report.to_text()),
        Format::Json => println!("{}", report.to_json()),
    }
    Ok(if report.may_deploy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `check --all-hosts`: each host of the answer file checks itself.
fn check_all_hosts(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.format == Format::Text,
        "--all-hosts prints text; run `ferrostack check --format json` on a host for JSON"
    );
    let path = args
        .answer_file
        .as_deref()
        .unwrap_or(Path::new("answer.ini"));
    let Some((text, loaded)) = crate::deploy_cmd::read_valid(path)? else {
        return Ok(ExitCode::from(2));
    };
    let result = crate::deploy_cmd::over_hosts(
        &text,
        &loaded.answers,
        &args.ssh,
        std::time::Duration::from_secs(60),
        |input, targets| {
            println!("Checking {} host(s) of {}", targets.len(), path.display());
            deploy::check_hosts(input, targets, &mut std::io::stdout())
        },
    )?;
    Ok(match result {
        Ok(()) => {
            println!("\nEvery host passed: deploy may proceed.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("\n{e}");
            ExitCode::from(1)
        }
    })
}
