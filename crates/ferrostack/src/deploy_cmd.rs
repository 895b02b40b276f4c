//! `ferrostack deploy`: a thin wrapper over `ferrostack_installer::deploy`
//! (which holds the logic and its tests): read the answer file, set up
//! SSH keys when asked, run the deployment over SSH, and end with the
//! seed's success line and where things are.

use anyhow::Context;
use clap::Args;
use ferrostack_installer::answer;
use ferrostack_installer::deploy::{
    self, plan::url_host, ssh::SshHost, ssh::SshOptions, DeployInput, HttpControllerApi,
    RemoteHost, Target,
};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

/// How `deploy` and `check --all-hosts` reach the hosts.
#[derive(Args, Debug, Clone)]
pub struct SshArgs {
    /// The private SSH key (default: CONFIG_SSH_KEY without `.pub`, else
    /// ssh's own defaults).
    #[arg(long)]
    ssh_key: Option<PathBuf>,
    /// An ssh_config file for reaching the hosts (`ssh -F`).
    #[arg(long)]
    ssh_config: Option<PathBuf>,
    /// The user deploy logs in as; it must be root: deploy writes
    /// /usr/local/bin and /etc.
    #[arg(long, default_value = "root")]
    ssh_user: String,
    /// Go on despite FAIL findings of this check (e.g. `time-sync`);
    /// they are still shown. Repeatable.
    #[arg(long = "ignore-check", value_name = "CHECK")]
    ignore_checks: Vec<String>,
    /// The ferrostack binary to install (default: this one).
    #[arg(long)]
    binary: Option<PathBuf>,
}

/// Options of `ferrostack deploy`.
#[derive(Args, Debug)]
pub struct DeployArgs {
    /// The answer file (`ferrostack gen-answer-file` writes one).
    #[arg(long)]
    answer_file: PathBuf,
    /// Install our SSH key on each host first, asking for each host's
    /// password once (ssh-copy-id), so the run itself never prompts.
    #[arg(long)]
    setup_ssh_keys: bool,
    #[command(flatten)]
    ssh: SshArgs,
    /// Seconds to wait for the controller's API, and then for the agents
    /// to join.
    #[arg(long, default_value_t = 120)]
    ready_timeout: u64,
}

fn private_key(args: &SshArgs, answers: &answer::AnswerFile) -> Option<PathBuf> {
    if let Some(key) = &args.ssh_key {
        return Some(key.clone());
    }
    let public = answers.ssh_key.as_ref()?;
    let text = public.to_string_lossy();
    Some(PathBuf::from(text.strip_suffix(".pub").unwrap_or(&text)))
}

fn home_key() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(".ssh/id_ed25519")
}

/// `--setup-ssh-keys`: a key pair if there is none, then ssh-copy-id to
/// every host that does not take the key yet (it prompts for that host's
/// password once).
fn setup_ssh_keys(args: &SshArgs, key: &Path, hosts: &[String]) -> anyhow::Result<()> {
    if !key.exists() {
        println!("Creating the SSH key {}", key.display());
        if let Some(dir) = key.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let status = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(key)
            .status()
            .context("cannot run ssh-keygen (apt-get install openssh-client)")?;
        anyhow::ensure!(status.success(), "ssh-keygen failed");
    }
    for host in hosts {
        let target = format!("{}@{host}", args.ssh_user);
        let mut probe = Command::new("ssh");
        if let Some(cfg) = &args.ssh_config {
            probe.arg("-F").arg(cfg);
        }
        let works = probe
            .arg("-i")
            .arg(key)
            .args([
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=10",
                "-o",
                "StrictHostKeyChecking=accept-new",
            ])
            .arg(&target)
            .arg("true")
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if works {
            println!("[{host}] ssh key: ok");
            continue;
        }
        println!("[{host}] ssh key: installing (ssh-copy-id asks for {target}'s password once)");
        let mut copy = Command::new("ssh-copy-id");
        if let Some(cfg) = &args.ssh_config {
            copy.arg("-F").arg(cfg);
        }
        let status = copy
            .arg("-i")
            .arg(key.with_extension("pub"))
            .arg(&target)
            .status()
            .context("cannot run ssh-copy-id (apt-get install openssh-client)")?;
        anyhow::ensure!(status.success(), "ssh-copy-id to {target} failed");
    }
    Ok(())
}

/// The answer file, read and valid; None (after printing the errors)
/// when it has errors.
pub fn read_valid(path: &Path) -> anyhow::Result<Option<(String, answer::Loaded)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the answer file {}", path.display()))?;
    let loaded = answer::parse(&text);
    if loaded.is_valid() {
        return Ok(Some((text, loaded)));
    }
    let shown = path.display().to_string();
    for d in loaded.errors() {
        eprintln!("{}", d.display_in(&shown));
    }
    eprintln!("The answer file has errors; nothing was done on any host. `ferrostack check --answer-file {shown}` shows them too.");
    Ok(None)
}

/// Everything a run over the hosts needs, built from the answer file and
/// the SSH options; `f` runs with the targets, then the SSH control
/// masters are closed.
pub fn over_hosts<R>(
    text: &str,
    answers: &answer::AnswerFile,
    ssh: &SshArgs,
    ready_timeout: Duration,
    f: impl FnOnce(&DeployInput<'_>, &[Target<'_>]) -> R,
) -> anyhow::Result<R> {
    let plans = deploy::plan(answers);
    let binary_path = match &ssh.binary {
        Some(p) => p.clone(),
        None => std::env::current_exe().context("cannot find this program's own binary")?,
    };
    let binary = std::fs::read(&binary_path)
        .with_context(|| format!("cannot read {}", binary_path.display()))?;
    let control_dir = tempfile::Builder::new()
        .prefix("fs-deploy")
        .tempdir_in("/tmp")
        .context("cannot create a directory for SSH control sockets")?;
    let options = SshOptions {
        user: ssh.ssh_user.clone(),
        identity: private_key(ssh, answers),
        config: ssh.ssh_config.clone(),
        control_dir: control_dir.path().to_path_buf(),
    };
    let hosts: Vec<SshHost> = plans
        .iter()
        .map(|p| SshHost::new(&p.host.to_string(), options.clone()))
        .collect();
    let targets: Vec<Target<'_>> = plans
        .into_iter()
        .zip(&hosts)
        .map(|(plan, remote)| Target {
            plan,
            remote: remote as &dyn RemoteHost,
        })
        .collect();
    let input = DeployInput {
        answers,
        redacted_answer_file: deploy::redact_passwords(text).into_bytes(),
        binary,
        ignore_checks: ssh.ignore_checks.clone(),
        ready_timeout,
    };
    let result = f(&input, &targets);
    close_masters(&options);
    Ok(result)
}

/// Runs `ferrostack deploy`; exit 0 on success, 1 when it stopped, 2 on
/// an invalid answer file.
pub fn run(args: DeployArgs) -> anyhow::Result<ExitCode> {
    let Some((text, loaded)) = read_valid(&args.answer_file)? else {
        return Ok(ExitCode::from(2));
    };
    let answers = &loaded.answers;
    let shown = args.answer_file.display().to_string();
    if args.setup_ssh_keys {
        let hosts: Vec<String> = answers.hosts().iter().map(|h| h.host.to_string()).collect();
        let key = private_key(&args.ssh, answers).unwrap_or_else(home_key);
        setup_ssh_keys(&args.ssh, &key, &hosts)?;
    }
    let controller = url_host(&answers.controller);
    let api = HttpControllerApi {
        identity: format!("{controller}:{}", answers.ports.identity),
        compute: format!("{controller}:{}", answers.ports.compute),
        admin_password: answers.admin_password.clone(),
    };
    let result = over_hosts(
        &text,
        answers,
        &args.ssh,
        Duration::from_secs(args.ready_timeout),
        |input, targets| {
            println!("Deploying to {} host(s) from {shown}", targets.len());
            deploy::deploy(input, targets, &api, &mut std::io::stdout())
        },
    )?;
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            eprintln!("\n{e}");
            return Ok(ExitCode::from(1));
        }
    };
    println!("\n **** Installation completed successfully ******\n");
    println!("Additional information:");
    if summary.changes.is_empty() {
        println!(" * No changes: every host already matched the answer file.");
    } else {
        let hosts: std::collections::BTreeSet<&str> =
            summary.changes.iter().map(|(h, _)| h.as_str()).collect();
        println!(
            " * {} change(s) on {} host(s).",
            summary.changes.len(),
            hosts.len()
        );
    }
    println!(" * Compute hosts up: {}", summary.compute_hosts.join(", "));
    let data_dir = answers.data_dir.display();
    if let Some(rc) = &summary.keystonerc {
        let local = args
            .answer_file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .join("keystonerc_admin");
        write_private(&local, rc)?;
        println!(
            " * File {} has been created (a copy of {data_dir}/keystonerc_admin on {}). To use the command line tools, source it.",
            local.display(),
            answers.controller
        );
    }
    let dashboard = match answers.ports.dashboard {
        80 => format!("http://{controller}/"),
        port => format!("http://{controller}:{port}/"),
    };
    println!(
        " * To access the dashboard, browse to {dashboard} and log in as admin (domain Default) with CONFIG_KEYSTONE_ADMIN_PW."
    );
    println!(
        " * The API endpoints are listed by `openstack catalog list`; identity is http://{controller}:{}/v3",
        answers.ports.identity
    );
    Ok(ExitCode::SUCCESS)
}

fn write_private(path: &Path, content: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(content)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Ends this run's SSH control masters (they would linger for
/// ControlPersist seconds otherwise).
fn close_masters(options: &SshOptions) {
    if let Ok(entries) = std::fs::read_dir(&options.control_dir) {
        for entry in entries.flatten() {
            let _ = Command::new("ssh")
                .arg("-o")
                .arg(format!("ControlPath={}", entry.path().display()))
                .args(["-O", "exit", "ferrostack-deploy"])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}
