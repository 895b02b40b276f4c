//! The programs ferrostack runs on a host, who needs each, and the
//! Debian package that installs it.

use crate::answer::Role;

/// How bad a missing program is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Deploy cannot work without it.
    Required,
    /// Wanted soon; deploy works without it today.
    Recommended,
}

/// One program.
#[derive(Debug, Clone, Copy)]
pub struct Program {
    /// Its name on `PATH`.
    pub name: &'static str,
    /// The Debian package.
    pub package: &'static str,
    /// The roles that need it.
    pub roles: &'static [Role],
    /// Only with `CONFIG_FERROSTACK_HYPERVISOR=qemu`.
    pub qemu_only: bool,
    /// Required or recommended.
    pub need: Need,
    /// What ferrostack uses it for.
    pub purpose: &'static str,
}

/// Every program the checks look for.
pub const PROGRAMS: &[Program] = &[
    Program {
        name: "qemu-system-x86_64",
        package: "qemu-system-x86",
        roles: &[Role::Compute],
        qemu_only: true,
        need: Need::Required,
        purpose: "runs the VMs",
    },
    Program {
        name: "qemu-img",
        package: "qemu-utils",
        roles: &[Role::Compute],
        qemu_only: true,
        need: Need::Required,
        purpose: "creates VM disks as qcow2 overlays, and snapshots",
    },
    Program {
        name: "mkfs.vfat",
        package: "dosfstools",
        roles: &[Role::Compute],
        qemu_only: true,
        need: Need::Required,
        purpose: "formats the config drive",
    },
    Program {
        name: "mcopy",
        package: "mtools",
        roles: &[Role::Compute],
        qemu_only: true,
        need: Need::Required,
        purpose: "writes metadata and user data onto the config drive",
    },
    Program {
        name: "ip",
        package: "iproute2",
        roles: &[Role::Compute, Role::Network],
        qemu_only: false,
        need: Need::Required,
        purpose: "configures interfaces, bridges and namespaces",
    },
    Program {
        name: "nft",
        package: "nftables",
        roles: &[Role::Compute, Role::Network],
        qemu_only: false,
        need: Need::Required,
        purpose: "security groups and anti-spoofing, applied atomically per port",
    },
    Program {
        name: "dnsmasq",
        package: "dnsmasq-base",
        roles: &[Role::Compute, Role::Network],
        qemu_only: false,
        need: Need::Required,
        purpose: "DHCP for tenant networks (one per network, in a namespace)",
    },
];
