//! What each host of an answer file gets: files with their modes and the
//! service to run, computed without touching any host so the whole plan
//! is unit-tested and a re-run computes the same bytes (which is what
//! makes deploy idempotent: a step changes a host only when the bytes it
//! would write differ from what is there).

use crate::answer::{AnswerFile, Host, Role};

/// Where deploy puts the binary on every host.
pub const BINARY_PATH: &str = "/usr/local/bin/ferrostack";
/// ferrostack's configuration directory on every host.
pub const CONFIG_DIR: &str = "/etc/ferrostack";
/// The answer file copy each host's `ferrostack check` reads (the admin
/// password in it is replaced: only the controller needs it).
pub const ANSWER_COPY: &str = "/etc/ferrostack/answer.ini";
/// The controller's admin password, for `--admin-password-file`.
pub const ADMIN_PASSWORD_FILE: &str = "/etc/ferrostack/admin-password";
/// An agent's copy of the controller's join file.
pub const JOIN_FILE: &str = "/etc/ferrostack/join";
/// Where service units go.
pub const UNIT_DIR: &str = "/etc/systemd/system";
/// Logs of services started without systemd.
pub const LOG_DIR: &str = "/var/log/ferrostack";
/// Pid files of services started without systemd.
pub const RUN_DIR: &str = "/run/ferrostack";

/// A file deploy writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// Absolute path on the host.
    pub path: String,
    /// Its bytes.
    pub content: Vec<u8>,
    /// Its mode (0600 for secrets).
    pub mode: u32,
    /// Shown in progress lines.
    pub what: &'static str,
}

/// A long-running ferrostack process on a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    /// Unit name without `.service`: `ferrostack-controller`, `ferrostack-agent`.
    pub name: &'static str,
    /// The command line (`argv`), the binary first.
    pub argv: Vec<String>,
    /// One line for the unit's Description.
    pub description: &'static str,
}

impl ServiceSpec {
    /// The systemd unit file.
    pub fn unit(&self) -> String {
        format!(
            "# Written by `ferrostack deploy`; a re-run rewrites it.\n\
             [Unit]\n\
             Description={}\n\
             After=network-online.target\n\
             Wants=network-online.target\n\n\
             [Service]\n\
             ExecStart={}\n\
             Restart=on-failure\n\
             RestartSec=2\n\
             # VMs are separate processes (QEMU daemonizes): stopping the\n\
             # service must not kill them; the next start re-adopts them.\n\
             KillMode=process\n\
             TimeoutStopSec=40\n\n\
             [Install]\n\
             WantedBy=multi-user.target\n",
            self.description,
            self.argv.join(" ")
        )
    }

    /// The unit file's path.
    pub fn unit_path(&self) -> String {
        format!("{UNIT_DIR}/{}.service", self.name)
    }

    /// The command line, quoted for a POSIX shell.
    pub fn shell_command(&self) -> String {
        self.argv
            .iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Quotes `s` for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// One host's share of the deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPlan {
    /// The host as the answer file names it (what SSH connects to).
    pub host: Host,
    /// Its roles.
    pub roles: Vec<Role>,
    /// Configuration files (the binary and the answer copy are separate
    /// steps, and an agent's join file comes from the controller).
    pub files: Vec<FileSpec>,
    /// What runs there; None for a host with nothing to run yet (a
    /// network-only host: the network dataplane is not built).
    pub service: Option<ServiceSpec>,
}

impl HostPlan {
    /// True for the controller.
    pub fn is_controller(&self) -> bool {
        self.roles.contains(&Role::Controller)
    }
}

/// The URL form of a host (IPv6 in brackets).
pub fn url_host(host: &Host) -> String {
    match host {
        Host::Ip(std::net::IpAddr::V6(v6)) => format!("[{v6}]"),
        other => other.to_string(),
    }
}

/// Every host's plan, the controller first.
pub fn plan(answers: &AnswerFile) -> Vec<HostPlan> {
    let hypervisor = answers.hypervisor.as_str().to_string();
    let data_dir = answers.data_dir.display().to_string();
    let ports = &answers.ports;
    answers
        .hosts()
        .into_iter()
        .map(|h| {
            let mut files = Vec::new();
            let service = if h.roles.contains(&Role::Controller) {
                files.push(FileSpec {
                    path: ADMIN_PASSWORD_FILE.into(),
                    content: format!("{}\n", answers.admin_password).into_bytes(),
                    mode: 0o600,
                    what: "admin password",
                });
                let mut argv: Vec<String> = [
                    BINARY_PATH,
                    "allinone",
                    "--data-dir",
                    &data_dir,
                    "--public-host",
                    &h.host.to_string(),
                    "--admin-password-file",
                    ADMIN_PASSWORD_FILE,
                    "--hypervisor",
                    &hypervisor,
                ]
                .map(String::from)
                .to_vec();
                for (flag, port) in [
                    ("--identity-port", ports.identity),
                    ("--compute-port", ports.compute),
                    ("--image-port", ports.image),
                    ("--volume-port", ports.volume),
                    ("--network-port", ports.network),
                    ("--placement-port", ports.placement),
                    ("--host-api-port", ports.host_api),
                    ("--dashboard-port", ports.dashboard),
                ] {
                    argv.push(flag.into());
                    argv.push(port.to_string());
                }
                if !h.roles.contains(&Role::Compute) {
                    argv.push("--no-compute".into());
                }
                Some(ServiceSpec {
                    name: "ferrostack-controller",
                    argv,
                    description: "ferrostack controller (every API service of the cloud)",
                })
            } else if h.roles.contains(&Role::Compute) {
                let argv: Vec<String> = vec![
                    BINARY_PATH.into(),
                    "agent".into(),
                    "--controller".into(),
                    format!(
                        "https://{}:{}",
                        url_host(&answers.controller),
                        ports.host_api
                    ),
                    "--join-token-file".into(),
                    JOIN_FILE.into(),
                    "--data-dir".into(),
                    data_dir.clone(),
                    "--listen".into(),
                    format!("0.0.0.0:{}", ports.agent),
                    "--advertise-url".into(),
                    format!("https://{}:{}", url_host(&h.host), ports.agent),
                    "--hypervisor".into(),
                    hypervisor.clone(),
                ];
                Some(ServiceSpec {
                    name: "ferrostack-agent",
                    argv,
                    description: "ferrostack compute agent (runs this host's VMs)",
                })
            } else {
                None
            };
            HostPlan {
                host: h.host,
                roles: h.roles,
                files,
                service,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::parse;

    fn answers(text: &str) -> AnswerFile {
        let loaded = parse(text);
        assert!(loaded.is_valid(), "{:?}", loaded.diagnostics);
        loaded.answers
    }

    #[test]
    fn controller_first_then_agents_with_the_controller_url() {
        let a = answers(
            "[general]\nCONFIG_CONTROLLER_HOST=10.0.0.1\nCONFIG_COMPUTE_HOSTS=10.0.0.2,10.0.0.3\nCONFIG_NETWORK_HOSTS=10.0.0.1\nCONFIG_KEYSTONE_ADMIN_PW=s3cret\n",
        );
        let plans = plan(&a);
        assert_eq!(plans.len(), 3);
        assert!(plans[0].is_controller());
        let controller = plans[0].service.as_ref().expect("controller service");
        assert!(controller.argv.contains(&"--no-compute".to_string()));
        assert!(
            !controller.unit().contains("s3cret"),
            "no secret on the command line"
        );
        assert_eq!(plans[0].files[0].mode, 0o600);
        let agent = plans[1].service.as_ref().expect("agent service");
        assert_eq!(agent.name, "ferrostack-agent");
        let cmd = agent.shell_command();
        assert!(cmd.contains("--controller https://10.0.0.1:8779"), "{cmd}");
        assert!(
            cmd.contains("--advertise-url https://10.0.0.2:8780"),
            "{cmd}"
        );
    }

    #[test]
    fn a_controller_that_is_also_compute_runs_vms_itself() {
        let a = answers(
            "CONFIG_CONTROLLER_HOST=10.0.0.1\nCONFIG_COMPUTE_HOSTS=10.0.0.1\nCONFIG_NETWORK_HOSTS=10.0.0.1\nCONFIG_KEYSTONE_ADMIN_PW=x\n",
        );
        let plans = plan(&a);
        assert_eq!(plans.len(), 1);
        let svc = plans[0].service.as_ref().expect("service");
        assert!(!svc.argv.contains(&"--no-compute".to_string()));
    }

    #[test]
    fn shell_quoting_survives_spaces_and_quotes() {
        assert_eq!(shell_quote("plain-arg_1.2"), "plain-arg_1.2");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
