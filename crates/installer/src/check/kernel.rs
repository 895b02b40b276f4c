//! What the network data plane needs of the kernel, read from its build
//! configuration (`/proc/config.gz`, else `/boot/config-<release>`).
//!
//! The configuration is the one source that answers both "built in" and
//! "a module" on every host, including hosts where modules cannot be
//! loaded at all (containers, some VMs): `/sys/module` lists only loaded
//! modules and built-ins with parameters, and `lsmod` nothing built in.
//! A feature built as a module (`=m`) is accepted when it is loaded or
//! the host has a module tree to load it from.
//!
//! Security groups have two paths, and this check says which one a host
//! gets: with `nf_conntrack_bridge` the port rules can be stateful in the
//! bridge family itself; without it (the common case, and this repo's CI
//! kernel) anti-spoofing runs per port in the bridge family and the
//! stateful rules run in the inet family through `br_netfilter`, keyed on
//! the port's addresses (there the input interface is the bridge, not the
//! port).

use super::facts::HostFacts;
use super::Finding;
use crate::answer::{AnswerFile, NetworkType, Role};
use std::collections::BTreeMap;

/// A kernel's configuration: `CONFIG_X` -> `y` or `m`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelConfig {
    options: BTreeMap<String, char>,
}

/// How a kernel has one feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Has {
    /// Built in.
    BuiltIn,
    /// A module.
    Module,
    /// Not at all.
    No,
}

impl KernelConfig {
    /// Parse the text of a kernel `.config`.
    pub fn parse(text: &str) -> Self {
        let options = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .filter_map(|(k, v)| match v.trim() {
                "y" => Some((k.trim().to_string(), 'y')),
                "m" => Some((k.trim().to_string(), 'm')),
                _ => None,
            })
            .collect();
        KernelConfig { options }
    }

    /// How the kernel has `CONFIG_<name>`.
    pub fn has(&self, name: &str) -> Has {
        match self.options.get(&format!("CONFIG_{name}")) {
            Some('y') => Has::BuiltIn,
            Some('m') => Has::Module,
            _ => Has::No,
        }
    }
}

/// One kernel feature the data plane uses.
struct Feature {
    option: &'static str,
    module: &'static str,
    purpose: &'static str,
}

const BRIDGE: Feature = Feature {
    option: "BRIDGE",
    module: "bridge",
    purpose: "a Linux bridge per network",
};
const TUN: Feature = Feature {
    option: "TUN",
    module: "tun",
    purpose: "a tap device per VM port",
};
const VETH: Feature = Feature {
    option: "VETH",
    module: "veth",
    purpose: "DHCP and metadata namespaces plugged into the bridges",
};
const NF_TABLES: Feature = Feature {
    option: "NF_TABLES",
    module: "nf_tables",
    purpose: "security groups and anti-spoofing",
};
const CONNTRACK: Feature = Feature {
    option: "NFT_CT",
    module: "nft_ct",
    purpose: "stateful security groups",
};
const VXLAN: Feature = Feature {
    option: "VXLAN",
    module: "vxlan",
    purpose: "VXLAN tenant networks",
};
const VLAN: Feature = Feature {
    option: "VLAN_8021Q",
    module: "8021q",
    purpose: "VLAN networks",
};
const GRE: Feature = Feature {
    option: "NET_IPGRE",
    module: "ip_gre",
    purpose: "GRE tenant networks",
};

/// The data plane's kernel findings for a compute or network host.
pub(super) fn dataplane(facts: &dyn HostFacts, a: &AnswerFile, roles: &[Role]) -> Vec<Finding> {
    if !roles
        .iter()
        .any(|r| matches!(r, Role::Compute | Role::Network))
    {
        return Vec::new();
    }
    let config = match facts.kernel_config() {
        Ok(text) => KernelConfig::parse(&text),
        Err(e) => {
            return vec![Finding::warn("kernel", "configuration", e).fix(
                "the kernel's features could not be checked; a kernel with /proc/config.gz or /boot/config-<release> lets `check` verify them",
            )]
        }
    };
    let loadable = facts.modules_loadable();
    let mut features = vec![BRIDGE, TUN, VETH, NF_TABLES, CONNTRACK];
    let types = &a.networking.type_drivers;
    if types.contains(&NetworkType::Vxlan) {
        features.push(VXLAN);
    }
    if types.contains(&NetworkType::Vlan) {
        features.push(VLAN);
    }
    if types.contains(&NetworkType::Gre) {
        features.push(GRE);
    }
    let mut out: Vec<Finding> = features
        .iter()
        .map(|f| feature(&config, facts, loadable, f))
        .collect();
    out.push(security_group_path(&config));
    out
}

fn feature(config: &KernelConfig, facts: &dyn HostFacts, loadable: bool, f: &Feature) -> Finding {
    let subject = f.module;
    match config.has(f.option) {
        Has::BuiltIn => Finding::ok("kernel", subject, format!("built in ({})", f.purpose)),
        Has::Module if facts.module_loaded(f.module) => {
            Finding::ok("kernel", subject, format!("module loaded ({})", f.purpose))
        }
        Has::Module if loadable => Finding::ok(
            "kernel",
            subject,
            format!("module, loaded on first use ({})", f.purpose),
        ),
        Has::Module => Finding::fail(
            "kernel",
            subject,
            format!("a module that is not loaded, and this host has no module tree to load it from; ferrostack needs it for {}", f.purpose),
        )
        .fix(format!("load it on the host (`modprobe {}`) or install the kernel's modules", f.module)),
        Has::No => Finding::fail(
            "kernel",
            subject,
            format!("CONFIG_{} is not set; ferrostack needs it for {}", f.option, f.purpose),
        )
        .fix(match f.option {
            "VLAN_8021Q" => "use a kernel with 802.1Q VLAN support, or remove vlan from CONFIG_NEUTRON_ML2_TYPE_DRIVERS".to_string(),
            "NET_IPGRE" => "use a kernel with GRE, or remove gre from CONFIG_NEUTRON_ML2_TYPE_DRIVERS".to_string(),
            "VXLAN" => "use a kernel with VXLAN, or remove vxlan from CONFIG_NEUTRON_ML2_TYPE_DRIVERS".to_string(),
            _ => "use a Debian kernel (linux-image-amd64), which has it".to_string(),
        }),
    }
}

/// Which path stateful security groups take on this kernel.
fn security_group_path(config: &KernelConfig) -> Finding {
    if config.has("NF_CONNTRACK_BRIDGE") != Has::No {
        return Finding::ok(
            "security-groups",
            "path",
            "nf_conntrack_bridge: stateful port rules in the bridge family",
        );
    }
    if config.has("BRIDGE_NETFILTER") != Has::No {
        return Finding::ok(
            "security-groups",
            "path",
            "br_netfilter: anti-spoofing per port in the bridge family, stateful rules in the inet family keyed on each port's addresses (no nf_conntrack_bridge)",
        );
    }
    Finding::fail(
        "security-groups",
        "path",
        "neither nf_conntrack_bridge nor br_netfilter: bridged traffic cannot be filtered statefully",
    )
    .fix("use a kernel with CONFIG_BRIDGE_NETFILTER or CONFIG_NF_CONNTRACK_BRIDGE (Debian's have both)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_says_built_in_module_or_absent() {
        let c = KernelConfig::parse(
            "# comment\nCONFIG_BRIDGE=y\nCONFIG_VXLAN=m\n# CONFIG_VLAN_8021Q is not set\nCONFIG_LOG_BUF_SHIFT=17\n",
        );
        assert_eq!(c.has("BRIDGE"), Has::BuiltIn);
        assert_eq!(c.has("VXLAN"), Has::Module);
        assert_eq!(c.has("VLAN_8021Q"), Has::No);
        assert_eq!(c.has("LOG_BUF_SHIFT"), Has::No);
    }

    #[test]
    fn the_security_group_path_follows_the_kernel() {
        let with = |s: &str| security_group_path(&KernelConfig::parse(s)).evidence;
        assert!(
            with("CONFIG_NF_CONNTRACK_BRIDGE=m\nCONFIG_BRIDGE_NETFILTER=y")
                .contains("nf_conntrack_bridge:")
        );
        assert!(with("CONFIG_BRIDGE_NETFILTER=y").contains("br_netfilter"));
        let none = security_group_path(&KernelConfig::parse(""));
        assert_eq!(none.status, super::super::Status::Fail);
    }
}
