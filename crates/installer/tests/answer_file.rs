//! The answer-file reader: good files load with no diagnostics, and each
//! kind of bad line is reported at its exact line and column, all of them
//! at once.

use ferrostack_installer::answer::{self, GenOptions, Host, HypervisorKind, Role};
use ferrostack_installer::Severity;
use std::net::IpAddr;

/// A valid file's first lines; bad cases add line 4.
const HEAD: &str =
    "[general]\nCONFIG_CONTROLLER_HOST=192.168.1.10\nCONFIG_KEYSTONE_ADMIN_PW=secret\n";

/// Diagnostics as `line:column: severity: message (help)`.
fn diags(text: &str) -> Vec<String> {
    answer::parse(text)
        .diagnostics
        .iter()
        .map(|d| {
            let s = d.display_in("f").to_string();
            s.strip_prefix("f:").unwrap_or(&s).to_string()
        })
        .collect()
}

/// Diagnostics of HEAD plus `line4` (and more lines).
fn bad(line4: &str) -> Vec<String> {
    diags(&format!("{HEAD}{line4}\n"))
}

fn ip(s: &str) -> Host {
    Host::Ip(s.parse::<IpAddr>().expect("test address"))
}

#[test]
fn generated_file_loads_cleanly_with_a_fresh_password() {
    let a = answer::generate(&GenOptions::new("10.0.0.5"));
    let b = answer::generate(&GenOptions::new("10.0.0.5"));
    let loaded = answer::parse(&a);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    assert_eq!(loaded.answers.controller, ip("10.0.0.5"));
    assert_eq!(loaded.answers.compute_hosts, vec![ip("10.0.0.5")]);
    assert_eq!(loaded.answers.admin_password.len(), 20);
    assert_ne!(
        loaded.answers.admin_password,
        answer::parse(&b).answers.admin_password
    );
}

#[test]
fn generated_file_has_every_packstack_key_the_seed_edits() {
    let text = answer::generate(&GenOptions::new("10.0.0.5"));
    for key in [
        "CONFIG_CONTROLLER_HOST=",
        "CONFIG_COMPUTE_HOSTS=",
        "CONFIG_NETWORK_HOSTS=",
        "CONFIG_KEYSTONE_ADMIN_PW=",
        "CONFIG_NTP_SERVERS=",
        "CONFIG_NEUTRON_ML2_TYPE_DRIVERS=",
        "CONFIG_NEUTRON_ML2_TENANT_NETWORK_TYPES=",
        "CONFIG_NEUTRON_ML2_VXLAN_GROUP=",
        "CONFIG_NEUTRON_ML2_VNI_RANGES=",
        "CONFIG_NEUTRON_OVS_BRIDGE_MAPPINGS=",
        "CONFIG_NEUTRON_OVS_BRIDGE_IFACES=",
        "CONFIG_PROVISION_DEMO=",
        "CONFIG_SWIFT_INSTALL=n",
        "CONFIG_CEILOMETER_INSTALL=n",
        "CONFIG_AODH_INSTALL=n",
        "CONFIG_GNOCCHI_INSTALL=n",
        "CONFIG_NOVA_INSTALL=y",
        "CONFIG_FERROSTACK_DATA_DIR=",
        "CONFIG_FERROSTACK_HYPERVISOR=qemu",
        "CONFIG_SSH_KEY=",
    ] {
        assert!(text.lines().any(|l| l.starts_with(key)), "{key} missing");
    }
}

#[test]
fn the_seeds_answer_file_loads_cleanly() {
    let loaded = answer::parse(include_str!("fixtures/seed-answer.ini"));
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let a = &loaded.answers;
    assert_eq!(a.admin_password, "a");
    assert_eq!(a.ntp_servers, vec![ip("192.168.1.254")]);
    assert_eq!(
        a.networking.vxlan_group.map(|g| g.to_string()).as_deref(),
        Some("239.1.1.5")
    );
    assert_eq!(a.networking.bridge_mappings[0].bridge, "br-ex");
    assert_eq!(a.networking.bridge_ifaces[0].iface, "eth0");
    assert!(!a.provision_demo);
    assert!(!a.wants("SWIFT") && a.wants("NOVA"));
    assert_eq!(a.hypervisor, HypervisorKind::Qemu);
    let hosts = a.hosts();
    assert_eq!(hosts.len(), 2);
    assert_eq!(hosts[0].host, ip("192.168.1.10"));
    assert_eq!(hosts[0].roles, vec![Role::Controller, Role::Network]);
    assert_eq!(hosts[1].host, ip("192.168.1.11"));
    assert_eq!(hosts[1].roles, vec![Role::Compute, Role::Network]);
}

#[test]
fn minimal_file_takes_defaults_and_roles_follow_the_controller() {
    let loaded = answer::parse(HEAD);
    assert!(loaded.is_valid());
    let hosts = loaded.answers.hosts();
    assert_eq!(hosts.len(), 1);
    assert_eq!(
        hosts[0].roles,
        vec![Role::Controller, Role::Compute, Role::Network]
    );
    assert_eq!(loaded.answers.ports.identity, 5000);
}

#[test]
fn chinese_comments_and_crlf_are_fine() {
    let text = "# 时间服务器的地址，注意：用英文标点\r\n[general]\r\nCONFIG_CONTROLLER_HOST=openstack\r\nCONFIG_KEYSTONE_ADMIN_PW=密码abc\r\n";
    let loaded = answer::parse(text);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    assert_eq!(loaded.answers.controller, Host::Name("openstack".into()));
}

#[test]
fn full_width_comma_is_named_with_the_ascii_meant() {
    assert_eq!(
        bad("CONFIG_NETWORK_HOSTS=192.168.1.10，192.168.1.11"),
        ["4:34: error: full-width comma '，' (U+FF0C) in the file (type the ASCII ',' instead)"]
    );
}

#[test]
fn full_width_equals_sign_is_not_also_a_missing_equals() {
    assert_eq!(
        bad("CONFIG_PROVISION_DEMO＝n"),
        ["4:22: error: full-width equals sign '＝' (U+FF1D) in the file (type the ASCII '=' instead)"]
    );
}

#[test]
fn full_width_colon_in_a_bridge_mapping() {
    assert_eq!(
        bad("CONFIG_NEUTRON_OVS_BRIDGE_IFACES=br-ex:eth0\nCONFIG_NEUTRON_OVS_BRIDGE_MAPPINGS=physnet1：br-ex"),
        ["5:44: error: full-width colon '：' (U+FF1A) in the file (type the ASCII ':' instead)"]
    );
}

#[test]
fn full_width_space_quotes_semicolon_parentheses_and_stops() {
    assert_eq!(
        bad("CONFIG_NTP_SERVERS=192.168.1.254\u{3000}"),
        ["4:33: error: ideographic (full-width) space '\u{3000}' (U+3000) in the file (type the ASCII ' ' instead)"]
    );
    let d = bad("CONFIG_SSH_KEY=“/root/.ssh/id_rsa.pub”");
    assert_eq!(d.len(), 3, "{d:?}");
    assert!(d[0].starts_with("4:16: error: left double quotation mark '“' (U+201C)"));
    assert!(d[1].starts_with(
        "4:16: error: CONFIG_SSH_KEY: \"\"/root/.ssh/id_rsa.pub\"\" is not an absolute path"
    ));
    assert!(d[2].starts_with("4:38: error: right double quotation mark '”' (U+201D)"));
    for (line, col, name) in [
        ("CONFIG_NTP_SERVERS=a；b", 21, "full-width semicolon"),
        ("CONFIG_NTP_SERVERS=a、b", 21, "ideographic comma"),
        ("CONFIG_NTP_SERVERS=a。b", 21, "ideographic full stop"),
        (
            "CONFIG_NTP_SERVERS=（a）",
            20,
            "full-width left parenthesis",
        ),
        ("CONFIG_NTP_SERVERS=‘a’", 20, "left single quotation mark"),
    ] {
        let d = bad(line);
        assert!(
            d[0].starts_with(&format!("4:{col}: error: {name}")),
            "{line}: {d:?}"
        );
    }
}

#[test]
fn unknown_key_suggests_the_closest() {
    assert_eq!(
        bad("CONFIG_NTP_SERVER=192.168.1.254"),
        ["4:1: error: unknown key CONFIG_NTP_SERVER (did you mean CONFIG_NTP_SERVERS?)"]
    );
    assert_eq!(
        bad("  config_provision_demo=n"),
        ["4:3: error: unknown key config_provision_demo (did you mean CONFIG_PROVISION_DEMO?)"]
    );
    assert!(bad("CONFIG_WHATEVER_ELSE_ENTIRELY=1")[0].contains("gen-answer-file"));
}

#[test]
fn malformed_addresses_point_at_the_entry() {
    assert_eq!(
        bad("CONFIG_COMPUTE_HOSTS=192.168.1.11,192.168.1.256"),
        ["4:35: error: CONFIG_COMPUTE_HOSTS: malformed IPv4 address \"192.168.1.256\" (four numbers 0-255 separated by dots, e.g. 192.168.1.10)"]
    );
    assert_eq!(
        bad("CONFIG_COMPUTE_HOSTS=nova01,,nova02"),
        ["4:29: error: CONFIG_COMPUTE_HOSTS: empty entry in a comma-separated list (remove the extra comma)"]
    );
    assert_eq!(
        bad("CONFIG_COMPUTE_HOSTS="),
        ["4:22: error: CONFIG_COMPUTE_HOSTS: at least 1 host needed"]
    );
    assert_eq!(
        bad("CONFIG_NETWORK_HOSTS=nova_01"),
        ["4:26: error: CONFIG_NETWORK_HOSTS: \"nova_01\" is neither an IP address nor a valid host name (host names are letters, digits, '-' and '.')"]
    );
}

#[test]
fn malformed_cidr_points_at_the_prefix() {
    assert_eq!(
        bad("CONFIG_PROVISION_DEMO_FLOATRANGE=172.24.4.0/33"),
        ["4:45: error: CONFIG_PROVISION_DEMO_FLOATRANGE: \"33\" is not a prefix length (0-32)"]
    );
    assert_eq!(
        bad("CONFIG_PROVISION_DEMO_FLOATRANGE=172.24.4.1/24"),
        ["4:34: error: CONFIG_PROVISION_DEMO_FLOATRANGE: 172.24.4.1/24 has host bits set (the network is 172.24.4.0/24)"]
    );
}

#[test]
fn multicast_group_vni_ranges_and_booleans() {
    assert_eq!(
        bad("CONFIG_NEUTRON_ML2_VXLAN_GROUP=192.168.1.5"),
        ["4:32: error: CONFIG_NEUTRON_ML2_VXLAN_GROUP: 192.168.1.5 is not a multicast address (multicast groups are 224.0.0.0-239.255.255.255, e.g. 239.1.1.5)"]
    );
    assert_eq!(
        bad("CONFIG_NEUTRON_ML2_VNI_RANGES=10:100,100:16777216"),
        ["4:42: error: CONFIG_NEUTRON_ML2_VNI_RANGES: \"16777216\" is not a VNI (1-16777215)"]
    );
    assert_eq!(
        bad("CONFIG_NEUTRON_ML2_VNI_RANGES=100"),
        ["4:31: error: CONFIG_NEUTRON_ML2_VNI_RANGES: \"100\" is not a VNI range (min:max, e.g. 1:16777215)"]
    );
    assert_eq!(
        bad("CONFIG_PROVISION_DEMO=yes"),
        ["4:23: error: CONFIG_PROVISION_DEMO: \"yes\" is not y or n (write y)"]
    );
}

#[test]
fn bridge_mapping_must_name_a_listed_bridge() {
    assert_eq!(
        bad("CONFIG_NEUTRON_OVS_BRIDGE_IFACES=br-ex:eth0\nCONFIG_NEUTRON_OVS_BRIDGE_MAPPINGS=physnet1:br-eth"),
        ["5:45: error: bridge \"br-eth\" of physical network physnet1 is not in CONFIG_NEUTRON_OVS_BRIDGE_IFACES (did you mean \"br-ex\"?)"]
    );
    assert_eq!(
        bad("CONFIG_NEUTRON_OVS_BRIDGE_MAPPINGS=physnet1:br-ex"),
        ["4:45: error: bridge \"br-ex\" of physical network physnet1 is not in CONFIG_NEUTRON_OVS_BRIDGE_IFACES (add br-ex:<interface> to CONFIG_NEUTRON_OVS_BRIDGE_IFACES)"]
    );
    assert_eq!(
        bad("CONFIG_NEUTRON_OVS_BRIDGE_IFACES=br-ex"),
        ["4:34: error: CONFIG_NEUTRON_OVS_BRIDGE_IFACES: \"br-ex\" is not bridge:interface (write bridge:interface)"]
    );
}

#[test]
fn network_types_are_known_and_consistent() {
    assert_eq!(
        bad("CONFIG_NEUTRON_ML2_TYPE_DRIVERS=flat,vxaln"),
        ["4:38: error: CONFIG_NEUTRON_ML2_TYPE_DRIVERS: unknown network type \"vxaln\" (did you mean \"vxlan\"?)"]
    );
    assert_eq!(
        bad("CONFIG_NEUTRON_ML2_TYPE_DRIVERS=flat\nCONFIG_NEUTRON_ML2_TENANT_NETWORK_TYPES=vxlan"),
        ["5:41: error: tenant network type \"vxlan\" is not in CONFIG_NEUTRON_ML2_TYPE_DRIVERS (add vxlan to CONFIG_NEUTRON_ML2_TYPE_DRIVERS)"]
    );
}

#[test]
fn duplicate_key_and_missing_equals() {
    assert_eq!(
        bad("CONFIG_CONTROLLER_HOST=192.168.1.11"),
        ["4:1: error: CONFIG_CONTROLLER_HOST is already set on line 2 (keep one of the two lines; the first one is used)"]
    );
    assert_eq!(
        bad("CONFIG_PROVISION_DEMO n"),
        ["4:22: error: missing '=' after CONFIG_PROVISION_DEMO (write CONFIG_PROVISION_DEMO=VALUE)"]
    );
}

#[test]
fn ports_must_be_valid_and_distinct() {
    assert_eq!(
        bad("CONFIG_FERROSTACK_IMAGE_PORT=5000"),
        ["4:30: error: CONFIG_FERROSTACK_IMAGE_PORT: port 5000 is also CONFIG_FERROSTACK_IDENTITY_PORT (give every API its own port)"]
    );
    assert_eq!(
        bad("CONFIG_FERROSTACK_AGENT_PORT=70000"),
        ["4:30: error: CONFIG_FERROSTACK_AGENT_PORT: \"70000\" is not a TCP port (1-65535)"]
    );
}

#[test]
fn services_ferrostack_lacks_are_a_note_when_wanted_and_silent_when_not() {
    let loaded = answer::parse(&format!(
        "{HEAD}CONFIG_SWIFT_INSTALL=y\nCONFIG_HEAT_INSTALL=n\nCONFIG_SWIFT_STORAGES=\n"
    ));
    assert!(loaded.is_valid());
    assert_eq!(loaded.diagnostics.len(), 1);
    let d = &loaded.diagnostics[0];
    assert_eq!((d.line, d.column, d.severity), (4, 22, Severity::Note));
    assert!(d.message.contains("no object storage"), "{}", d.message);
    assert!(loaded.answers.wants("SWIFT"));
    assert!(!loaded.answers.wants("HEAT"));
}

#[test]
fn required_keys_and_empty_password() {
    assert_eq!(
        diags("[general]\nCONFIG_CONTROLLER_HOST=10.0.0.1\n"),
        ["1:1: error: CONFIG_KEYSTONE_ADMIN_PW is not set (add it; `ferrostack gen-answer-file` writes a complete file)"]
    );
    assert_eq!(
        diags("CONFIG_CONTROLLER_HOST=10.0.0.1\nCONFIG_KEYSTONE_ADMIN_PW=\n"),
        ["2:26: error: CONFIG_KEYSTONE_ADMIN_PW: the admin password may not be empty"]
    );
}

#[test]
fn every_problem_is_reported_in_line_order() {
    let text = "[general]\n\
                CONFIG_CONTROLLER_HOST=192.168.1.300\n\
                CONFIG_KEYSTONE_ADMIN_PW=a\n\
                CONFIG_NTP_SERVERS=192.168.1.254，pool.ntp.org\n\
                CONFIG_NEUTRON_OVS_BRIDGE_IFACES=br-ex:eth0\n\
                CONFIG_NEUTRON_OVS_BRIDGE_MAPPINGS=physnet1:br-ext\n\
                CONFIG_COMPUTE_HOST=192.168.1.11\n\
                CONFIG_PROVISION_DEMO\n";
    let got: Vec<String> = diags(text)
        .iter()
        .map(|d| d.split(": error").next().unwrap().to_string())
        .collect();
    assert_eq!(got, ["2:24", "4:33", "6:45", "7:1", "8:22"]);
    let loaded = answer::parse(text);
    assert!(!loaded.is_valid());
    // Good values still count: the mapping is kept for the host checks.
    assert_eq!(
        loaded.answers.networking.bridge_mappings[0].bridge,
        "br-ext"
    );
}

#[test]
fn packstack_settings_without_use_are_one_note_and_typos_still_errors() {
    let loaded = answer::parse(&format!(
        "{HEAD}CONFIG_DEFAULT_PASSWORD=x\nCONFIG_AMQP_HOST=10.0.0.1\nCONFIG_NOVA_SCHED_RAM_ALLOC_RATIO=1.5\nCONFIG_KEYSTONE_REGION=RegionOne\nCONFIG_NEUTRON_ML2_MECHANISM_DRIVERS=openvswitch\nCONFIG_USE_EPEL=n\nCONFIG_SSL_CACERT_SELFSIGN=y\n"
    ));
    assert!(loaded.is_valid(), "{:?}", loaded.diagnostics);
    assert_eq!(loaded.diagnostics.len(), 1, "{:?}", loaded.diagnostics);
    let d = &loaded.diagnostics[0];
    assert_eq!((d.line, d.column, d.severity), (4, 1, Severity::Note));
    assert!(
        d.message.starts_with("7 Packstack setting(s) ferrostack has no use for are ignored: CONFIG_DEFAULT_PASSWORD, CONFIG_AMQP_HOST")
            && d.message.ends_with("and 2 more"),
        "{}",
        d.message
    );
    // A near miss of a ferrostack key is a typo, even in a Packstack family.
    assert_eq!(
        bad("CONFIG_NEUTRON_ML2_VNI_RANGE=10:100"),
        ["4:1: error: unknown key CONFIG_NEUTRON_ML2_VNI_RANGE (did you mean CONFIG_NEUTRON_ML2_VNI_RANGES?)"]
    );
}

#[test]
fn several_controllers_need_one_database_and_the_first_controller_among_them() {
    let all = |e: &[String], needle: &str| e.iter().any(|d| d.contains(needle));
    let e = bad("CONFIG_CONTROLLER_HOSTS=192.168.1.11,192.168.1.12");
    assert!(all(&e, "4:25: error: CONFIG_CONTROLLER_HOSTS does not list CONFIG_CONTROLLER_HOST (192.168.1.10)"), "{e:?}");
    assert!(
        all(&e, "several controllers need one PostgreSQL database"),
        "{e:?}"
    );
    let e =
        bad("CONFIG_CONTROLLER_HOSTS=192.168.1.10,192.168.1.11\nCONFIG_DATABASE_HOST=192.168.1.11");
    assert!(
        all(&e, "CONFIG_DATABASE_HOST needs CONFIG_DATABASE_PW"),
        "{e:?}"
    );
    let e = bad("CONFIG_DATABASE_HOST=192.168.1.99\nCONFIG_DATABASE_PW=x");
    assert!(
        all(
            &e,
            "CONFIG_DATABASE_HOST 192.168.1.99 is none of the cloud's hosts"
        ),
        "{e:?}"
    );
    let e = bad("CONFIG_DATABASE_URL=postgresql://fs:pw@db/cloud");
    assert!(all(&e, "the URL holds a password"), "{e:?}");
    let ok = answer::parse(&format!(
        "{HEAD}CONFIG_CONTROLLER_HOSTS=192.168.1.10,192.168.1.11\nCONFIG_DATABASE_URL=postgresql://fs@db/cloud\nCONFIG_DATABASE_PW=pw\nCONFIG_FERROSTACK_PUBLIC_HOST=api.example\n"
    ));
    assert!(ok.diagnostics.is_empty(), "{:?}", ok.diagnostics);
    let a = ok.answers;
    assert_eq!(
        a.controllers(),
        vec![ip("192.168.1.10"), ip("192.168.1.11")]
    );
    assert_eq!(a.public_host().to_string(), "api.example");
    assert_eq!(
        a.database.connect_url().as_deref(),
        Some("postgresql://fs:pw@db:5432/cloud")
    );
    let roles: Vec<_> = a.hosts().into_iter().map(|h| h.roles).collect();
    assert!(roles[1].contains(&Role::Controller));
}
