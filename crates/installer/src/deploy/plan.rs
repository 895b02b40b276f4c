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
/// The controllers' database URL with its password, for `--database-file`.
pub const DATABASE_FILE: &str = "/etc/ferrostack/database";
/// What the first controller's data directory holds that every other
/// controller of the cloud needs the same (relative to the data
/// directory): the host API's certificate and key (agents pin one), the
/// join file (agents hold one token), and the master key of the token
/// keys kept in the database (when the build has one).
pub const SHARED_CONTROLLER_FILES: &[(&str, u32)] = &[
    ("host-api/cert.pem", 0o644),
    ("host-api/key.pem", 0o600),
    ("join-token", 0o600),
    ("master.key", 0o600),
];
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
    /// network-only host: `ferrostack agent` always registers as a
    /// compute host, so none is started there, and DHCP goes to a
    /// network host that is also a compute host; see
    /// [`AnswerFile::dhcp_host`]).
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

/// The data-plane flags of the agent on `host` (`ferrostack agent`, or
/// the controller's in-process agent), from the answer file:
/// `--tunnel-ip` with the host's address when VXLAN or GRE is enabled
/// (the agent finds the interface that holds it; a host name is resolved
/// there), `--vxlan-group` from CONFIG_NEUTRON_ML2_VXLAN_GROUP, and one
/// `--physical-network physnet:bridge` per CONFIG_NEUTRON_OVS_BRIDGE_MAPPINGS
/// entry (flat and VLAN networks reach the bridge through a veth pair; the
/// bridge holds the CONFIG_NEUTRON_OVS_BRIDGE_IFACES interface, which
/// `check` verifies).
pub fn host_net_args(answers: &AnswerFile, host: &Host) -> Vec<String> {
    use crate::answer::NetworkType;
    let n = &answers.networking;
    let mut argv = Vec::new();
    if n.type_drivers
        .iter()
        .any(|t| matches!(t, NetworkType::Vxlan | NetworkType::Gre))
    {
        argv.push("--tunnel-ip".to_string());
        argv.push(host.to_string());
    }
    if let Some(group) = n.vxlan_group {
        argv.push("--vxlan-group".into());
        argv.push(group.to_string());
    }
    for m in &n.bridge_mappings {
        argv.push("--physical-network".into());
        argv.push(format!("{}:{}", m.physnet, m.bridge));
    }
    argv
}

/// The controller's command line with `--dhcp-host NAME`: the host name
/// the DHCP host's agent registers under, which deploy learns on that
/// host (the answer file names it by address).
pub fn with_dhcp_host(controller: &ServiceSpec, name: &str) -> ServiceSpec {
    let mut spec = controller.clone();
    spec.argv.push("--dhcp-host".into());
    spec.argv.push(name.into());
    spec
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
                    // Every controller writes the same catalog: the
                    // public (load-balanced) name, never its own.
                    "--public-host",
                    &answers.public_host().to_string(),
                    "--admin-password-file",
                    ADMIN_PASSWORD_FILE,
                    "--hypervisor",
                    &hypervisor,
                    // The ML2 settings (CONFIG_NEUTRON_ML2_*) and the
                    // network hosts are read from the answer copy.
                    "--answer-file",
                    ANSWER_COPY,
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
                if let Some(url) = answers.database.connect_url() {
                    files.push(FileSpec {
                        path: DATABASE_FILE.into(),
                        content: format!("{url}\n").into_bytes(),
                        mode: 0o600,
                        what: "database URL",
                    });
                    argv.push("--database-file".into());
                    argv.push(DATABASE_FILE.into());
                }
                if h.roles.contains(&Role::Compute) {
                    argv.extend(host_net_args(answers, &h.host));
                } else {
                    argv.push("--no-compute".into());
                }
                Some(ServiceSpec {
                    name: "ferrostack-controller",
                    argv,
                    description: "ferrostack controller (every API service of the cloud)",
                })
            } else if h.roles.contains(&Role::Compute) {
                let mut argv: Vec<String> = vec![
                    BINARY_PATH.into(),
                    "agent".into(),
                    // Every controller: the agent moves to the next
                    // when one cannot be reached.
                    "--controller".into(),
                    answers
                        .controllers()
                        .iter()
                        .map(|c| format!("https://{}:{}", url_host(c), ports.host_api))
                        .collect::<Vec<_>>()
                        .join(","),
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
                argv.extend(host_net_args(answers, &h.host));
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

    /// The seed's answer file (hosts 192.168.1.10 and .11, physnet1:br-ex
    /// with br-ex:eth0, VXLAN group 239.1.1.5).
    const SEED: &str = include_str!("../../tests/fixtures/seed-answer.ini");

    #[test]
    fn the_seeds_controller_reads_its_network_settings_from_the_answer_copy() {
        let plans = plan(&answers(SEED));
        let cmd = plans[0]
            .service
            .as_ref()
            .expect("controller")
            .shell_command();
        assert!(
            cmd.ends_with("--dashboard-port 80 --no-compute"),
            "a controller without VMs runs no data plane: {cmd}"
        );
        assert!(
            cmd.contains(" --answer-file /etc/ferrostack/answer.ini "),
            "{cmd}"
        );
        assert_eq!(
            with_dhcp_host(plans[0].service.as_ref().expect("controller"), "compute1")
                .argv
                .last()
                .map(String::as_str),
            Some("compute1")
        );
    }

    #[test]
    fn the_seeds_agent_gets_its_tunnel_address_group_and_physical_network() {
        let plans = plan(&answers(SEED));
        assert_eq!(plans.len(), 2);
        let cmd = plans[1].service.as_ref().expect("agent").shell_command();
        assert!(
            cmd.ends_with(
                "--hypervisor qemu --tunnel-ip 192.168.1.11 --vxlan-group 239.1.1.5 --physical-network physnet1:br-ex"
            ),
            "{cmd}"
        );
    }

    #[test]
    fn a_compute_controller_gets_the_data_plane_flags_and_no_tunnel_without_vxlan() {
        let a = answers(
            "CONFIG_CONTROLLER_HOST=10.0.0.1\nCONFIG_COMPUTE_HOSTS=10.0.0.1\nCONFIG_NETWORK_HOSTS=10.0.0.1\nCONFIG_KEYSTONE_ADMIN_PW=x\nCONFIG_NEUTRON_ML2_TYPE_DRIVERS=flat,vlan\nCONFIG_NEUTRON_ML2_TENANT_NETWORK_TYPES=vlan\nCONFIG_NEUTRON_ML2_VLAN_RANGES=physnet1:100:200\nCONFIG_NEUTRON_OVS_BRIDGE_MAPPINGS=physnet1:br-ex\nCONFIG_NEUTRON_OVS_BRIDGE_IFACES=br-ex:eth0\n",
        );
        let cmd = plan(&a)[0]
            .service
            .as_ref()
            .expect("service")
            .shell_command();
        assert!(cmd.ends_with("--physical-network physnet1:br-ex"), "{cmd}");
        assert!(!cmd.contains("--tunnel-ip"), "{cmd}");
        assert!(!cmd.contains("--vxlan-group"), "{cmd}");
    }

    #[test]
    fn several_controllers_share_the_public_host_and_the_database_and_agents_know_them_all() {
        let a = answers(
            "CONFIG_CONTROLLER_HOST=10.0.0.1\nCONFIG_CONTROLLER_HOSTS=10.0.0.1,10.0.0.2,10.0.0.3\nCONFIG_FERROSTACK_PUBLIC_HOST=api.example\nCONFIG_DATABASE_HOST=10.0.0.4\nCONFIG_DATABASE_PW=db-s3cret\nCONFIG_COMPUTE_HOSTS=10.0.0.4\nCONFIG_NETWORK_HOSTS=10.0.0.4\nCONFIG_KEYSTONE_ADMIN_PW=x\n",
        );
        let plans = plan(&a);
        assert_eq!(plans.len(), 4);
        for (p, host) in plans[..3].iter().zip(["10.0.0.1", "10.0.0.2", "10.0.0.3"]) {
            assert!(p.is_controller());
            assert_eq!(p.host.to_string(), host);
            let svc = p.service.as_ref().expect("controller service");
            let cmd = svc.shell_command();
            assert!(cmd.contains("--public-host api.example "), "{cmd}");
            assert!(
                cmd.contains("--database-file /etc/ferrostack/database"),
                "{cmd}"
            );
            assert!(!svc.unit().contains("db-s3cret"), "no secret in the unit");
            let db = p
                .files
                .iter()
                .find(|f| f.path == DATABASE_FILE)
                .expect("db file");
            assert_eq!(db.mode, 0o600);
            assert_eq!(
                String::from_utf8_lossy(&db.content),
                "postgresql://ferrostack:db-s3cret@10.0.0.4:5432/ferrostack\n"
            );
        }
        let agent = plans[3].service.as_ref().expect("agent").shell_command();
        assert!(
            agent.contains(
                "--controller https://10.0.0.1:8779,https://10.0.0.2:8779,https://10.0.0.3:8779 "
            ),
            "{agent}"
        );
    }

    #[test]
    fn one_controller_on_sqlite_gets_no_database_file() {
        let a = answers(
            "CONFIG_CONTROLLER_HOST=10.0.0.1\nCONFIG_COMPUTE_HOSTS=10.0.0.2\nCONFIG_NETWORK_HOSTS=10.0.0.1\nCONFIG_KEYSTONE_ADMIN_PW=x\n",
        );
        let plans = plan(&a);
        assert!(plans[0].files.iter().all(|f| f.path != DATABASE_FILE));
        let cmd = plans[0]
            .service
            .as_ref()
            .expect("controller")
            .shell_command();
        assert!(cmd.contains("--public-host 10.0.0.1 "), "{cmd}");
        assert!(!cmd.contains("--database"), "{cmd}");
    }

    #[test]
    fn shell_quoting_survives_spaces_and_quotes() {
        assert_eq!(shell_quote("plain-arg_1.2"), "plain-arg_1.2");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
