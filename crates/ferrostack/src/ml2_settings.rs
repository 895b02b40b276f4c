//! The controller's ML2 settings from the answer file (`allinone
//! --answer-file`): CONFIG_NEUTRON_ML2_* become the network service's
//! [`Ml2Config`], and CONFIG_NETWORK_HOSTS says where DHCP is served.
//!
//! Why the answer file and not one `--ml2-*` flag per key: deploy
//! already puts the (password-redacted) answer file on every host for
//! `ferrostack check`, so the controller reading that same file with the
//! installer's own parser leaves one source of truth and one parser.
//! Flags would be a second syntax for vlan and VNI ranges, a second
//! validation to keep in step with `check`'s, and a translation in the
//! deploy plan where a key could silently be dropped. Errors name the key
//! and line, exactly as `ferrostack check` prints them.
//!
//! What the file cannot say is the name the DHCP host's agent registers
//! under (its kernel host name, which deploy learns over SSH): that is
//! `--dhcp-host`. Without it, the DHCP host must be this controller.
//!
//! The network crate stays free of the installer: the mapping lives here,
//! in the binary that links both.

use anyhow::Context;
use ferrostack_installer::answer::{self, AnswerFile, NetworkType};
use ferrostack_network::Ml2Config;
use std::path::Path;

/// Reads and validates an answer file; every error is reported with its
/// line and key.
pub fn read_answer_file(path: &Path) -> anyhow::Result<AnswerFile> {
    let loaded = answer::read_file(path)
        .with_context(|| format!("cannot read the answer file {}", path.display()))?;
    let shown = path.display().to_string();
    let errors: Vec<String> = loaded
        .errors()
        .map(|d| d.display_in(&shown).to_string())
        .collect();
    anyhow::ensure!(
        errors.is_empty(),
        "the answer file {shown} has errors:\n{}",
        errors.join("\n")
    );
    Ok(loaded.answers)
}

/// The answer file's ML2 keys as the network service's settings;
/// `dhcp_host` is the name the DHCP host's agent registers under.
pub fn ml2_config(answers: &AnswerFile, dhcp_host: String) -> Ml2Config {
    let n = &answers.networking;
    let names = |types: &[NetworkType]| types.iter().map(|t| t.as_str().to_string()).collect();
    let mut vlan_ranges = std::collections::BTreeMap::<String, Vec<(i64, i64)>>::new();
    for r in &n.vlan_ranges {
        let ranges = vlan_ranges.entry(r.physnet.clone()).or_default();
        if let Some((a, b)) = r.range {
            ranges.push((i64::from(a), i64::from(b)));
        }
    }
    Ml2Config {
        type_drivers: names(&n.type_drivers),
        tenant_network_types: names(&n.tenant_network_types),
        flat_networks: n.flat_networks.clone(),
        vlan_ranges,
        vni_ranges: n
            .vni_ranges
            .iter()
            .map(|(a, b)| (i64::from(*a), i64::from(*b)))
            .collect(),
        vxlan_group: n.vxlan_group.map(|g| g.to_string()),
        dhcp_host,
        ..Ml2Config::default()
    }
}

/// The DHCP host's name for `allinone --answer-file` without
/// `--dhcp-host`: this host's name when the DHCP network host is the
/// controller itself, else an error saying what to pass.
pub fn default_dhcp_host(answers: &AnswerFile, this_host: &str) -> anyhow::Result<String> {
    match answers.dhcp_host() {
        Some(h) if *h == answers.controller => Ok(this_host.to_string()),
        Some(h) => anyhow::bail!(
            "CONFIG_NETWORK_HOSTS: DHCP is served by {h}, not this controller; pass --dhcp-host with the host name {h}'s agent registers under (`ferrostack deploy` does)"
        ),
        None => anyhow::bail!(
            "CONFIG_COMPUTE_HOSTS names no host, so no agent would serve DHCP; pass --dhcp-host to name the host that does"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed's answer file.
    const SEED: &str = include_str!("../../installer/tests/fixtures/seed-answer.ini");

    /// Every ML2 key set, on the seed's hosts: a controller that is a
    /// network host but runs no VMs, and a compute host that is also one.
    const SAMPLE: &str = "[general]\n\
        CONFIG_CONTROLLER_HOST=192.168.1.10\n\
        CONFIG_COMPUTE_HOSTS=192.168.1.11\n\
        CONFIG_NETWORK_HOSTS=192.168.1.10,192.168.1.11\n\
        CONFIG_KEYSTONE_ADMIN_PW=x\n\
        CONFIG_NEUTRON_ML2_TYPE_DRIVERS=vxlan,flat,vlan\n\
        CONFIG_NEUTRON_ML2_TENANT_NETWORK_TYPES=vxlan\n\
        CONFIG_NEUTRON_ML2_FLAT_NETWORKS=physnet1\n\
        CONFIG_NEUTRON_ML2_VLAN_RANGES=physnet1:100:200,physnet2\n\
        CONFIG_NEUTRON_ML2_VNI_RANGES=1000:1999\n\
        CONFIG_NEUTRON_ML2_VXLAN_GROUP=239.1.1.5\n\
        CONFIG_NEUTRON_OVS_BRIDGE_MAPPINGS=physnet1:br-ex\n\
        CONFIG_NEUTRON_OVS_BRIDGE_IFACES=br-ex:eth0\n";

    fn answers(text: &str) -> AnswerFile {
        let loaded = answer::parse(text);
        assert!(loaded.is_valid(), "{:?}", loaded.diagnostics);
        loaded.answers
    }

    #[test]
    fn every_ml2_key_reaches_the_network_settings() {
        let c = ml2_config(&answers(SAMPLE), "compute1".into());
        assert_eq!(c.type_drivers, ["vxlan", "flat", "vlan"]);
        assert_eq!(c.tenant_network_types, ["vxlan"]);
        assert_eq!(c.flat_networks, ["physnet1"]);
        assert_eq!(c.vlan_ranges["physnet1"], [(100, 200)]);
        assert!(
            c.vlan_ranges["physnet2"].is_empty(),
            "a physnet without a range is for provider networks only"
        );
        assert_eq!(c.vni_ranges, [(1000, 1999)]);
        assert_eq!(c.vxlan_group.as_deref(), Some("239.1.1.5"));
        assert_eq!(c.dhcp_host, "compute1");
        assert_eq!(c.tenant_ranges("vxlan"), [(String::new(), 1000, 1999)]);
    }

    #[test]
    fn the_seeds_values_give_vxlan_project_networks_with_its_group() {
        let a = answers(SEED);
        let c = ml2_config(&a, "compute1".into());
        assert_eq!(c.type_drivers, ["flat", "vxlan"]);
        assert_eq!(c.tenant_network_types, ["vxlan"]);
        assert_eq!(c.flat_networks, ["*"]);
        assert!(c.vlan_ranges.is_empty());
        assert_eq!(c.vni_ranges, [(10, 100)]);
        assert_eq!(c.vxlan_group.as_deref(), Some("239.1.1.5"));
        assert_eq!(c.mtu("vxlan"), 1450);
    }

    #[test]
    fn an_answer_file_without_ml2_keys_gives_the_defaults() {
        let a = answers("CONFIG_CONTROLLER_HOST=10.0.0.1\nCONFIG_COMPUTE_HOSTS=10.0.0.1\nCONFIG_NETWORK_HOSTS=10.0.0.1\nCONFIG_KEYSTONE_ADMIN_PW=x\n");
        let c = ml2_config(&a, "h".into());
        assert_eq!(
            c,
            Ml2Config {
                dhcp_host: "h".into(),
                ..Ml2Config::default()
            }
        );
    }

    #[test]
    fn dhcp_goes_to_the_first_network_host_that_runs_an_agent() {
        let a = answers(SEED);
        // 192.168.1.10 is first but runs no VMs, so no agent.
        assert_eq!(
            a.dhcp_host().map(ToString::to_string).as_deref(),
            Some("192.168.1.11")
        );
        let err = default_dhcp_host(&a, "controller").unwrap_err().to_string();
        assert!(
            err.contains("CONFIG_NETWORK_HOSTS") && err.contains("--dhcp-host"),
            "{err}"
        );
        let aio = answers("CONFIG_CONTROLLER_HOST=10.0.0.1\nCONFIG_COMPUTE_HOSTS=10.0.0.1\nCONFIG_NETWORK_HOSTS=10.0.0.1\nCONFIG_KEYSTONE_ADMIN_PW=x\n");
        assert_eq!(default_dhcp_host(&aio, "box").unwrap(), "box");
    }

    #[test]
    fn a_bad_value_is_refused_naming_its_key_and_line() {
        let dir = std::env::temp_dir().join(format!("ml2-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("answer.ini");
        std::fs::write(&path, SAMPLE.replace("1000:1999", "1999:1000")).unwrap();
        let err = read_answer_file(&path).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).ok();
        assert!(err.contains("CONFIG_NEUTRON_ML2_VNI_RANGES"), "{err}");
        assert!(err.contains("answer.ini:10:"), "{err}");
    }
}
