//! The keys an answer file may hold: one table that both the generator
//! and the reader use, so a key cannot be written without being readable
//! (or documented without being checked).
//!
//! Packstack's names are kept wherever the meaning is the same, so an
//! operator coming from the seed's tutorial edits the lines he knows.
//! Keys that only ferrostack has start with `CONFIG_FERROSTACK_`.

/// How a key's value is checked and what it turns into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One IP address or host name.
    Host,
    /// One IP address or host name, or empty.
    OptionalHost,
    /// A `postgresql://USER@HOST[:PORT]/DB` URL without a password, or empty.
    DatabaseUrl,
    /// A password that may be empty.
    OptionalPassword,
    /// Comma-separated IP addresses or host names; `min` of them at least.
    HostList {
        /// The fewest entries accepted (0: may be empty).
        min: usize,
    },
    /// A password: anything but empty.
    Password,
    /// `y` or `n`.
    Bool,
    /// An absolute path.
    AbsPath,
    /// An absolute path (or `~/...`), or empty.
    OptionalPath,
    /// `qemu` or `fake`.
    Hypervisor,
    /// A TCP port, 1-65535.
    Port,
    /// Comma-separated ML2 type drivers.
    NetworkTypes,
    /// An IPv4 multicast address, or empty.
    MulticastGroup,
    /// Comma-separated `min:max` VXLAN network identifier ranges.
    VniRanges,
    /// Comma-separated `physnet:bridge`.
    BridgeMappings,
    /// Comma-separated `bridge:interface`.
    BridgeIfaces,
    /// Comma-separated physical network names, or `*`.
    FlatNetworks,
    /// Comma-separated `physnet` or `physnet:min:max` VLAN ranges.
    VlanRanges,
    /// An IPv4 or IPv6 network in CIDR notation.
    Cidr,
    /// `CONFIG_<SERVICE>_INSTALL`: `y` or `n`.
    Service,
}

/// The value a generated file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// This text.
    Literal(&'static str),
    /// The address of the host the file is generated on.
    ThisHost,
    /// A freshly generated password.
    GeneratedPassword,
}

/// One key of the answer file.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    /// The key, e.g. `CONFIG_CONTROLLER_HOST`.
    pub name: &'static str,
    /// How its value is checked.
    pub kind: Kind,
    /// What a generated file holds (and what a missing key means, unless
    /// it is required).
    pub default: DefaultValue,
    /// True when the file must set it (there is no safe default).
    pub required: bool,
    /// The comment written above it.
    pub doc: &'static str,
}

const fn key(name: &'static str, kind: Kind, default: &'static str, doc: &'static str) -> KeySpec {
    KeySpec {
        name,
        kind,
        default: DefaultValue::Literal(default),
        required: false,
        doc,
    }
}

/// The sections of a generated file, each with its keys, in order.
pub const SECTIONS: &[(&str, &[KeySpec])] = &[
    ("Hosts and roles", HOST_KEYS),
    ("Services (Packstack's CONFIG_*_INSTALL)", SERVICE_KEYS),
    (
        "Networking (Neutron ML2 / Open vSwitch settings)",
        NETWORK_KEYS,
    ),
    ("ferrostack's own settings", FERROSTACK_KEYS),
];

const HOST_KEYS: &[KeySpec] = &[
    KeySpec {
        name: "CONFIG_CONTROLLER_HOST",
        kind: Kind::Host,
        default: DefaultValue::ThisHost,
        required: true,
        doc: "The host that runs the API services (Keystone, Nova, Glance, Cinder, Neutron,\nPlacement): an IP address or a host name every host resolves.",
    },
    key(
        "CONFIG_CONTROLLER_HOSTS",
        Kind::HostList { min: 0 },
        "",
        "Several controllers serving one cloud from one PostgreSQL database (set\nCONFIG_DATABASE_URL or CONFIG_DATABASE_HOST), comma-separated, CONFIG_CONTROLLER_HOST\namong them: it starts first, and the others get its host API certificate, join\nfile and token keys. Empty: CONFIG_CONTROLLER_HOST alone.",
    ),
    key(
        "CONFIG_FERROSTACK_PUBLIC_HOST",
        Kind::OptionalHost,
        "",
        "The name or address clients use for the API, put in the service catalog: with\nseveral controllers, your load balancer's (every controller gets the same).\nEmpty: CONFIG_CONTROLLER_HOST.",
    ),
    key(
        "CONFIG_DATABASE_HOST",
        Kind::OptionalHost,
        "",
        "Install Debian's postgresql on this host, create the role and database of\nCONFIG_DATABASE_URL there (password CONFIG_DATABASE_PW) and let the controllers\nconnect. Empty: install nothing (CONFIG_DATABASE_URL names a server you run).",
    ),
    key(
        "CONFIG_DATABASE_URL",
        Kind::DatabaseUrl,
        "",
        "The PostgreSQL database holding the cloud's state, without the password:\npostgresql://USER@HOST:PORT/DB. Empty: postgresql://ferrostack@CONFIG_DATABASE_HOST:5432/ferrostack\nwhen CONFIG_DATABASE_HOST is set, else a SQLite file on the controller.",
    ),
    key(
        "CONFIG_DATABASE_PW",
        Kind::OptionalPassword,
        "",
        "The password of CONFIG_DATABASE_URL's user (needed with CONFIG_DATABASE_HOST).",
    ),
    KeySpec {
        name: "CONFIG_COMPUTE_HOSTS",
        kind: Kind::HostList { min: 1 },
        default: DefaultValue::ThisHost,
        required: false,
        doc: "Hosts that run virtual machines (the ferrostack agent), comma-separated.\nThe seed: CONFIG_COMPUTE_HOSTS=192.168.1.11",
    },
    KeySpec {
        name: "CONFIG_NETWORK_HOSTS",
        kind: Kind::HostList { min: 1 },
        default: DefaultValue::ThisHost,
        required: false,
        doc: "Hosts that carry tenant and external networks, comma-separated.\nThe seed: CONFIG_NETWORK_HOSTS=192.168.1.10,192.168.1.11",
    },
    KeySpec {
        name: "CONFIG_KEYSTONE_ADMIN_PW",
        kind: Kind::Password,
        default: DefaultValue::GeneratedPassword,
        required: true,
        doc: "Password of the `admin` user (it ends up in keystonerc_admin). Generated;\nchange it if you like, it may not be empty.",
    },
    key(
        "CONFIG_NTP_SERVERS",
        Kind::HostList { min: 0 },
        "",
        "NTP servers every host should synchronize with, comma-separated (empty: keep\nthe hosts' own time configuration). `ferrostack check` verifies the clock is\nsynchronized either way. The seed: CONFIG_NTP_SERVERS=192.168.1.254",
    ),
    key(
        "CONFIG_SSH_KEY",
        Kind::OptionalPath,
        "",
        "Public key deploy installs on the hosts so it never asks for a password\nmid-run (empty: ~/.ssh/id_ed25519.pub, else ~/.ssh/id_rsa.pub).",
    ),
];

const SERVICE_KEYS: &[KeySpec] = &[
    key("CONFIG_GLANCE_INSTALL", Kind::Service, "y", "Image service (Glance API)."),
    key("CONFIG_CINDER_INSTALL", Kind::Service, "y", "Block storage (Cinder API)."),
    key("CONFIG_NOVA_INSTALL", Kind::Service, "y", "Compute (Nova API and the agents on CONFIG_COMPUTE_HOSTS)."),
    key("CONFIG_NEUTRON_INSTALL", Kind::Service, "y", "Networking (Neutron API)."),
    key("CONFIG_HORIZON_INSTALL", Kind::Service, "y", "The dashboard, on the controller at CONFIG_FERROSTACK_DASHBOARD_PORT."),
    key(
        "CONFIG_SWIFT_INSTALL",
        Kind::Service,
        "n",
        "The services below are Packstack's that ferrostack does not provide. They are\naccepted so a Packstack answer file loads; `y` only earns a note.",
    ),
    key("CONFIG_CEILOMETER_INSTALL", Kind::Service, "n", ""),
    key("CONFIG_AODH_INSTALL", Kind::Service, "n", ""),
    key("CONFIG_PANKO_INSTALL", Kind::Service, "n", ""),
    key("CONFIG_GNOCCHI_INSTALL", Kind::Service, "n", ""),
    key("CONFIG_HEAT_INSTALL", Kind::Service, "n", ""),
    key("CONFIG_MANILA_INSTALL", Kind::Service, "n", ""),
    key("CONFIG_SAHARA_INSTALL", Kind::Service, "n", ""),
    key("CONFIG_MAGNUM_INSTALL", Kind::Service, "n", ""),
    key("CONFIG_TROVE_INSTALL", Kind::Service, "n", ""),
    key("CONFIG_IRONIC_INSTALL", Kind::Service, "n", ""),
    key("CONFIG_MARIADB_INSTALL", Kind::Service, "n", ""),
    key("CONFIG_CLIENT_INSTALL", Kind::Service, "n", ""),
    key("CONFIG_NAGIOS_INSTALL", Kind::Service, "n", ""),
];

const NETWORK_KEYS: &[KeySpec] = &[
    key(
        "CONFIG_NEUTRON_ML2_TYPE_DRIVERS",
        Kind::NetworkTypes,
        "flat,vxlan",
        "Network types offered: local, flat, vlan, gre, vxlan, geneve (comma-separated).",
    ),
    key(
        "CONFIG_NEUTRON_ML2_TENANT_NETWORK_TYPES",
        Kind::NetworkTypes,
        "vxlan",
        "Types of the networks projects create, in order of preference; each must be\nin CONFIG_NEUTRON_ML2_TYPE_DRIVERS.",
    ),
    key(
        "CONFIG_NEUTRON_ML2_FLAT_NETWORKS",
        Kind::FlatNetworks,
        "*",
        "Physical networks flat networks may use (`*`: any).",
    ),
    key(
        "CONFIG_NEUTRON_ML2_VLAN_RANGES",
        Kind::VlanRanges,
        "",
        "VLAN ranges per physical network: physnet1:100:200,physnet2 (empty: none).",
    ),
    key(
        "CONFIG_NEUTRON_ML2_VXLAN_GROUP",
        Kind::MulticastGroup,
        "",
        "IPv4 multicast group for VXLAN (224.0.0.0/4; empty: unicast).\nThe seed: CONFIG_NEUTRON_ML2_VXLAN_GROUP=239.1.1.5",
    ),
    key(
        "CONFIG_NEUTRON_ML2_VNI_RANGES",
        Kind::VniRanges,
        "10:100",
        "VXLAN network identifiers tenant networks get: min:max[,min:max] (1-16777215).",
    ),
    key(
        "CONFIG_NEUTRON_OVS_BRIDGE_MAPPINGS",
        Kind::BridgeMappings,
        "",
        "Physical networks and the bridge that reaches each: physnet:bridge, comma-separated.\nEvery bridge named here must appear in CONFIG_NEUTRON_OVS_BRIDGE_IFACES.\nThe seed: CONFIG_NEUTRON_OVS_BRIDGE_MAPPINGS=physnet1:br-ex",
    ),
    key(
        "CONFIG_NEUTRON_OVS_BRIDGE_IFACES",
        Kind::BridgeIfaces,
        "",
        "Bridges and the interface each owns: bridge:interface, comma-separated.\nThe seed: CONFIG_NEUTRON_OVS_BRIDGE_IFACES=br-ex:eth0",
    ),
    key(
        "CONFIG_PROVISION_DEMO",
        Kind::Bool,
        "n",
        "Create a demo project, user and network after deploy (y/n).",
    ),
    key(
        "CONFIG_PROVISION_DEMO_FLOATRANGE",
        Kind::Cidr,
        "172.24.4.0/24",
        "Floating IP range of the demo's external network (CIDR).",
    ),
];

const FERROSTACK_KEYS: &[KeySpec] = &[
    key(
        "CONFIG_FERROSTACK_DATA_DIR",
        Kind::AbsPath,
        "/var/lib/ferrostack",
        "Where ferrostack keeps its state (SQLite store, images, volumes, VM disks) on\nevery host. `ferrostack check` measures the free space here.",
    ),
    key(
        "CONFIG_FERROSTACK_HYPERVISOR",
        Kind::Hypervisor,
        "qemu",
        "qemu: real VMs (KVM when a probe guest runs under it, else TCG);\nfake: VMs in memory only, for trying the APIs without virtualization.",
    ),
    key("CONFIG_FERROSTACK_IDENTITY_PORT", Kind::Port, "5000", "API ports on the controller: Identity (Keystone)."),
    key("CONFIG_FERROSTACK_COMPUTE_PORT", Kind::Port, "8774", "Compute (Nova)."),
    key("CONFIG_FERROSTACK_IMAGE_PORT", Kind::Port, "9292", "Image (Glance)."),
    key("CONFIG_FERROSTACK_VOLUME_PORT", Kind::Port, "8776", "Block storage (Cinder)."),
    key("CONFIG_FERROSTACK_NETWORK_PORT", Kind::Port, "9696", "Network (Neutron)."),
    key("CONFIG_FERROSTACK_PLACEMENT_PORT", Kind::Port, "8778", "Placement."),
    key(
        "CONFIG_FERROSTACK_HOST_API_PORT",
        Kind::Port,
        "8779",
        "The controller's host API (TLS): agents on compute hosts pull their work here.",
    ),
    key(
        "CONFIG_FERROSTACK_AGENT_PORT",
        Kind::Port,
        "8780",
        "The host API of the agent on each compute host (the controller calls it).",
    ),
    key(
        "CONFIG_FERROSTACK_DASHBOARD_PORT",
        Kind::Port,
        "80",
        "The dashboard on the controller (http://CONTROLLER/ at 80; log in as admin\nwith CONFIG_KEYSTONE_ADMIN_PW).",
    ),
];

/// Every key, in file order.
pub fn all() -> impl Iterator<Item = &'static KeySpec> {
    SECTIONS.iter().flat_map(|(_, keys)| keys.iter())
}

/// The key called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static KeySpec> {
    all().find(|k| k.name == name)
}

/// Services ferrostack provides, by the middle of their `CONFIG_*_INSTALL`
/// key.
pub const PROVIDED_SERVICES: &[&str] = &["GLANCE", "CINDER", "NOVA", "NEUTRON", "HORIZON"];

/// What an operator gets instead of a Packstack service ferrostack does not
/// provide, by the middle of its `CONFIG_*_INSTALL` key.
pub fn unprovided_note(service: &str) -> Option<&'static str> {
    Some(match service {
        "SWIFT" => "ferrostack provides no object storage (Swift); the setting is ignored",
        "CEILOMETER" | "AODH" | "PANKO" | "GNOCCHI" => {
            "ferrostack provides no telemetry, alarming or metering services; the setting is ignored"
        }
        "HEAT" => "ferrostack provides no orchestration (Heat); the setting is ignored",
        "MANILA" => "ferrostack provides no shared file systems (Manila); the setting is ignored",
        "SAHARA" | "MAGNUM" | "TROVE" | "IRONIC" => {
            "ferrostack does not provide this service; the setting is ignored"
        }
        "MARIADB" => {
            "ferrostack needs no database server: its state is SQLite inside CONFIG_FERROSTACK_DATA_DIR"
        }
        "CLIENT" => "ferrostack does not install the OpenStack clients; `apt-get install python3-openstackclient` where you need them",
        "NAGIOS" => "ferrostack does not install Nagios; `ferrostack check` is its health check",
        _ => return None,
    })
}

/// The first word after `CONFIG_` of Packstack's own settings (tuning,
/// repositories, per-service passwords and options) that ferrostack has
/// no use for: a key of these families that is not a ferrostack key, and
/// not a likely typo of one, is ignored with one note for the file, so a
/// whole `packstack --gen-answer-file` output loads.
pub const PACKSTACK_FAMILIES: &[&str] = &[
    "AMQP",
    "CINDER",
    "DEBUG",
    "DEFAULT",
    "ENABLE",
    "EXCLUDE",
    "GLANCE",
    "HORIZON",
    "KEYSTONE",
    "LBAAS",
    "NEUTRON",
    "NOVA",
    "PROVISION",
    "REDIS",
    "REPO",
    "RH",
    "SATELLITE",
    "SELFSIGN",
    "SERVICE",
    "SSL",
    "STORAGE",
    "TEMPEST",
    "UNSUPPORTED",
    "USE",
    "VCENTER",
    "VMWARE",
    "VPNAAS",
    "FWAAS",
    "OVN",
    "MANILA",
    "SAHARA",
    "HEAT",
    "IRONIC",
    "MAGNUM",
    "TROVE",
    "PANKO",
    "AODH",
    "GNOCCHI",
    "CEILOMETER",
    "SWIFT",
    "MARIADB",
    "NAGIOS",
    "CLIENT",
    "SKIP",
    "VMWARE",
];

/// True when `key` is of a [`PACKSTACK_FAMILIES`] family.
pub fn packstack_family(key: &str) -> bool {
    key.strip_prefix("CONFIG_")
        .and_then(|rest| rest.split('_').next())
        .is_some_and(|family| PACKSTACK_FAMILIES.contains(&family))
}

/// Packstack services whose other keys (`CONFIG_SWIFT_STORAGES`, ...) are
/// accepted without a word, so a Packstack file for them still loads.
pub fn unprovided_prefix(key: &str) -> bool {
    let Some(rest) = key.strip_prefix("CONFIG_") else {
        return false;
    };
    let service = rest.split('_').next().unwrap_or("");
    unprovided_note(service).is_some()
}
