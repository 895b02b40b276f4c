//! Every check against a faked host: a healthy host passes, and each
//! injected fault gives the right status, evidence and fix.

// Each test is "a healthy host, with one fault": the default fake, then
// one field changed, reads better than a struct literal.
#![allow(clippy::field_reassign_with_default)]

use ferrostack_installer::answer;
use ferrostack_installer::check::{
    self, AnswerInput, FakeHostFacts, Finding, KvmProbe, Report, Status, TimeService,
};
use std::net::IpAddr;

const GIB: u64 = 1 << 30;

/// The seed's controller as an answer file for this fake host.
const SEED: &str = include_str!("fixtures/seed-answer.ini");

fn run(facts: &FakeHostFacts) -> Report {
    check::run(facts, None)
}

fn run_with(facts: &FakeHostFacts, text: &str) -> Report {
    let loaded = answer::parse(text);
    check::run(
        facts,
        Some(AnswerInput {
            path: "answer.ini",
            loaded: &loaded,
        }),
    )
}

fn one<'a>(r: &'a Report, check: &str) -> &'a Finding {
    let found = r.of(check);
    assert_eq!(found.len(), 1, "{check}: {found:?}");
    found[0]
}

fn fix(f: &Finding) -> &str {
    f.fix.as_deref().unwrap_or("")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

#[test]
fn a_healthy_host_may_deploy_with_no_warning() {
    let r = run(&FakeHostFacts::default());
    let not_ok: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.status != Status::Ok)
        .collect();
    assert!(not_ok.is_empty(), "{not_ok:?}");
    assert!(r.may_deploy);
    assert_eq!(r.roles.len(), 3);
}

#[test]
fn the_seeds_controller_passes_with_the_seeds_answer_file() {
    let r = run_with(&FakeHostFacts::default(), SEED);
    assert!(r.may_deploy, "{}", r.to_text());
    assert_eq!(one(&r, "answer-file").status, Status::Ok);
    let roles: Vec<&str> = r.roles.iter().map(|r| r.as_str()).collect();
    assert_eq!(roles, ["controller", "network"]);
    // The controller runs no VMs: no QEMU needed, no agent port.
    assert!(r.of("kvm").is_empty());
    assert!(!r.findings.iter().any(|f| f.subject == "qemu-system-x86_64"));
    assert!(!r.findings.iter().any(|f| f.subject == "8780"));
    let interfaces = r.of("interface");
    assert_eq!(interfaces.len(), 2, "br-ex and eth0");
    assert!(interfaces.iter().all(|f| f.status == Status::Ok));
}

#[test]
fn chrony_not_synchronized_fails_with_the_seeds_star() {
    let mut facts = FakeHostFacts::default();
    facts.time.synchronized = false;
    facts.time.evidence = "chronyc sources: no source marked '*'".into();
    let r = run_with(&facts, SEED);
    let f = one(&r, "time-sync");
    assert_eq!(f.status, Status::Fail);
    assert!(
        f.evidence.contains("chrony is not synchronized"),
        "{}",
        f.evidence
    );
    assert!(
        fix(f).contains("chronyc sources -v") && fix(f).contains("192.168.1.254"),
        "{}",
        fix(f)
    );
    assert!(!r.may_deploy);
}

#[test]
fn no_time_service_fails_and_says_what_to_install() {
    let mut facts = FakeHostFacts::default();
    facts.time.service = None;
    facts.time.synchronized = false;
    let f = one(&run(&facts), "time-sync").clone();
    assert_eq!(f.status, Status::Fail);
    assert!(fix(&f).starts_with("apt-get install chrony"));
}

#[test]
fn timesyncd_unsynchronized_gets_its_own_fix() {
    let mut facts = FakeHostFacts::default();
    facts.time.service = Some(TimeService::Timesyncd);
    facts.time.synchronized = false;
    let f = one(&run(&facts), "time-sync").clone();
    assert_eq!(f.status, Status::Fail);
    assert!(fix(&f).contains("timesyncd.conf"));
}

#[test]
fn clock_offset_warns_then_fails() {
    let mut facts = FakeHostFacts::default();
    facts.time.offset_seconds = Some(-0.3);
    assert_eq!(one(&run(&facts), "time-sync").status, Status::Warn);
    facts.time.offset_seconds = Some(2.5);
    let r = run(&facts);
    assert_eq!(one(&r, "time-sync").status, Status::Fail);
    assert!(one(&r, "time-sync").evidence.contains("+2.500000 s"));
}

#[test]
fn one_gib_free_fails_a_compute_host() {
    let mut facts = FakeHostFacts::default();
    facts.addresses.push(ip("192.168.1.11"));
    facts.memory.available = GIB;
    facts.memory.total = 2 * GIB;
    let compute_only = "CONFIG_CONTROLLER_HOST=192.168.1.10\nCONFIG_COMPUTE_HOSTS=192.168.1.11\nCONFIG_NETWORK_HOSTS=192.168.1.10\nCONFIG_KEYSTONE_ADMIN_PW=x\n";
    facts.addresses.retain(|a| *a != ip("192.168.1.10"));
    let r = run_with(&facts, compute_only);
    assert_eq!(
        r.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        ["compute"]
    );
    let f = one(&r, "memory");
    assert_eq!(f.status, Status::Fail);
    assert!(
        f.evidence
            .starts_with("1.0 GiB available of 2.0 GiB total; compute needs at least 2.0 GiB"),
        "{}",
        f.evidence
    );
    assert!(fix(f).contains("Cannot allocate memory"));
    // The same memory only warns on the controller (a controller and
    // network host needs 0.75 GiB, 1.5 GiB recommended).
    facts.addresses.push(ip("192.168.1.10"));
    facts.addresses.retain(|a| *a != ip("192.168.1.11"));
    let r = run_with(&facts, compute_only);
    assert_eq!(one(&r, "memory").status, Status::Warn);
}

#[test]
fn three_gib_warns_an_all_in_one_host() {
    let mut facts = FakeHostFacts::default();
    facts.memory.available = 3 * GIB;
    assert_eq!(one(&run(&facts), "memory").status, Status::Warn);
}

#[test]
fn low_disk_fails() {
    let mut facts = FakeHostFacts::default();
    facts.disk_available = GIB;
    let f = one(&run(&facts), "disk").clone();
    assert_eq!(f.status, Status::Fail);
    assert!(fix(&f).contains("CONFIG_FERROSTACK_DATA_DIR"));
}

#[test]
fn no_vmx_or_svm_warns_that_tcg_will_be_used() {
    let mut facts = FakeHostFacts::default();
    facts.cpu_flags = vec!["fpu".into(), "sse2".into()];
    facts.kvm.device = false;
    facts.kvm.probe = KvmProbe::NotRun("/dev/kvm does not exist".into());
    let r = run(&facts);
    let cpu = one(&r, "cpu");
    assert_eq!(cpu.status, Status::Warn);
    assert!(cpu.evidence.contains("TCG"));
    assert!(fix(cpu).contains("host-passthrough"));
    let kvm = one(&r, "kvm");
    assert_eq!(kvm.status, Status::Warn);
    assert!(kvm.evidence.contains("TCG will be used"));
    assert!(r.may_deploy, "TCG is slow, not broken");
}

#[test]
fn kvm_that_does_not_run_a_guest_warns() {
    let mut facts = FakeHostFacts::default();
    facts.kvm.probe = KvmProbe::NoGuest;
    let r = run(&facts);
    assert_eq!(one(&r, "cpu").status, Status::Ok);
    let kvm = one(&r, "kvm");
    assert_eq!(kvm.status, Status::Warn);
    assert!(kvm.evidence.contains("did not run under KVM"));
}

#[test]
fn fake_hypervisor_needs_neither_kvm_nor_qemu() {
    let mut facts = FakeHostFacts::default();
    facts.cpu_flags.clear();
    facts.programs.remove("qemu-system-x86_64");
    let text = format!("{SEED}\nCONFIG_FERROSTACK_HYPERVISOR=fake\n")
        .replace("CONFIG_FERROSTACK_HYPERVISOR=qemu\n", "");
    let r = run_with(
        &facts,
        &text.replace(
            "CONFIG_COMPUTE_HOSTS=192.168.1.11",
            "CONFIG_COMPUTE_HOSTS=192.168.1.10",
        ),
    );
    assert!(r.may_deploy, "{}", r.to_text());
    assert_eq!(one(&r, "kvm").status, Status::Ok);
    assert!(r.of("cpu").is_empty());
}

#[test]
fn a_missing_program_fails_with_its_package() {
    let mut facts = FakeHostFacts::default();
    facts.programs.remove("qemu-img");
    facts.programs.remove("nft");
    let r = run(&facts);
    let f = r.findings.iter().find(|f| f.subject == "qemu-img").unwrap();
    assert_eq!(f.status, Status::Fail);
    assert_eq!(fix(f), "apt-get install qemu-utils");
    let f = r.findings.iter().find(|f| f.subject == "nft").unwrap();
    assert_eq!(f.status, Status::Fail);
    assert_eq!(fix(f), "apt-get install nftables");
    assert!(!r.may_deploy);
}

#[test]
fn the_kernel_is_checked_for_the_data_plane_and_names_the_security_group_path() {
    let facts = FakeHostFacts::default();
    let r = run(&facts);
    assert!(r.may_deploy, "{}", r.to_text());
    let path = r
        .findings
        .iter()
        .find(|f| f.check == "security-groups")
        .unwrap();
    assert!(
        path.evidence.starts_with("nf_conntrack_bridge"),
        "{}",
        path.evidence
    );

    // This repo's CI kernel: br_netfilter but no nf_conntrack_bridge, and
    // no 802.1Q.
    let mut facts = FakeHostFacts::default();
    facts.kernel_config = "CONFIG_BRIDGE=y\nCONFIG_TUN=y\nCONFIG_VETH=y\nCONFIG_NF_TABLES=y\nCONFIG_NFT_CT=y\nCONFIG_VXLAN=y\nCONFIG_BRIDGE_NETFILTER=y\n".into();
    let r = run(&facts);
    assert!(r.may_deploy, "{}", r.to_text());
    let path = r
        .findings
        .iter()
        .find(|f| f.check == "security-groups")
        .unwrap();
    assert!(
        path.evidence.starts_with("br_netfilter"),
        "{}",
        path.evidence
    );
    let vxlan = r
        .findings
        .iter()
        .find(|f| f.check == "kernel" && f.subject == "vxlan")
        .unwrap();
    assert_eq!(vxlan.status, Status::Ok);
    assert!(
        r.findings.iter().all(|f| f.subject != "8021q"),
        "vlan is not in the default type drivers"
    );

    // A kernel without VXLAN, with vxlan in the type drivers: fail, with the fix.
    facts.kernel_config = facts.kernel_config.replace("CONFIG_VXLAN=y\n", "");
    let r = run(&facts);
    let vxlan = r
        .findings
        .iter()
        .find(|f| f.check == "kernel" && f.subject == "vxlan")
        .unwrap();
    assert_eq!(vxlan.status, Status::Fail);
    assert!(
        fix(vxlan).contains("CONFIG_NEUTRON_ML2_TYPE_DRIVERS"),
        "{}",
        fix(vxlan)
    );
    assert!(!r.may_deploy);
}

#[test]
fn a_bridge_typo_fails_and_names_the_bridge_meant() {
    // Consistent in the file (so the reader accepts it) but not on the host.
    let text = SEED
        .replace("physnet1:br-ex", "physnet1:br-exx")
        .replace("br-ex:eth0", "br-exx:eth0");
    let r = run_with(&FakeHostFacts::default(), &text);
    assert_eq!(one(&r, "answer-file").status, Status::Ok);
    let f = r.findings.iter().find(|f| f.subject == "br-exx").unwrap();
    assert_eq!(f.status, Status::Fail);
    assert!(f
        .evidence
        .starts_with("bridge br-exx is not in /sys/class/net"));
    assert!(
        fix(f).starts_with("did you mean br-ex? create it before deploying"),
        "{}",
        fix(f)
    );
    assert!(!r.may_deploy);
}

#[test]
fn a_missing_interface_fails() {
    let mut facts = FakeHostFacts::default();
    facts.interfaces = vec!["lo".into(), "ens3".into(), "br-ex".into()];
    let r = run_with(&facts, SEED);
    let f = r.findings.iter().find(|f| f.subject == "eth0").unwrap();
    assert_eq!(f.status, Status::Fail);
    assert!(fix(f).contains("CONFIG_NEUTRON_OVS_BRIDGE_IFACES"));
}

#[test]
fn answer_file_errors_fail_with_their_location() {
    let text = SEED.replace("physnet1:br-ex", "physnet1:br-eth");
    let r = run_with(&FakeHostFacts::default(), &text);
    let f = one(&r, "answer-file");
    assert_eq!(f.status, Status::Fail);
    let line = text
        .lines()
        .position(|l| l.starts_with("CONFIG_NEUTRON_OVS_BRIDGE_MAPPINGS="))
        .unwrap()
        + 1;
    assert_eq!(f.subject, format!("answer.ini:{line}:45"));
    assert!(fix(f).starts_with("did you mean \"br-ex\"?"));
    assert!(!r.may_deploy);
}

#[test]
fn a_service_ferrostack_lacks_is_a_warning_not_a_failure() {
    let text = SEED.replace("CONFIG_SWIFT_INSTALL=n", "CONFIG_SWIFT_INSTALL=y");
    let r = run_with(&FakeHostFacts::default(), &text);
    assert_eq!(one(&r, "answer-file").status, Status::Warn);
    assert!(r.may_deploy);
}

#[test]
fn host_names_must_resolve() {
    let facts = FakeHostFacts::default();
    let text = "CONFIG_CONTROLLER_HOST=openstack\nCONFIG_COMPUTE_HOSTS=nova01\nCONFIG_KEYSTONE_ADMIN_PW=x\n";
    let r = run_with(&facts, text);
    let f = r.findings.iter().find(|f| f.subject == "nova01").unwrap();
    assert_eq!(f.status, Status::Fail);
    assert!(fix(f).contains("/etc/hosts"));
    assert_eq!(
        r.findings
            .iter()
            .find(|f| f.subject == "openstack" && f.check == "resolve")
            .unwrap()
            .status,
        Status::Ok
    );
}

#[test]
fn a_name_that_resolves_to_loopback_warns_in_a_multi_host_cloud() {
    let mut facts = FakeHostFacts::default();
    facts
        .hosts
        .insert("openstack".into(), vec![ip("127.0.1.1")]);
    facts
        .hosts
        .insert("nova01".into(), vec![ip("192.168.1.11")]);
    let text = "CONFIG_CONTROLLER_HOST=openstack\nCONFIG_COMPUTE_HOSTS=nova01\nCONFIG_KEYSTONE_ADMIN_PW=x\n";
    let r = run_with(&facts, text);
    let f = r
        .findings
        .iter()
        .find(|f| f.subject == "openstack" && f.check == "resolve")
        .unwrap();
    assert_eq!(f.status, Status::Warn);
    assert!(fix(f).contains("127.0.1.1"));
}

#[test]
fn a_search_line_in_resolv_conf_warns() {
    let mut facts = FakeHostFacts::default();
    facts.resolv_conf = "search example.com\nnameserver 192.168.1.254\n".into();
    let f = one(&run(&facts), "resolv-conf").clone();
    assert_eq!(f.status, Status::Warn);
    assert_eq!(f.evidence, "has `search example.com`");
    assert!(fix(&f).starts_with("remove the `search` line"));
}

#[test]
fn a_busy_port_fails_and_names_the_key() {
    let mut facts = FakeHostFacts::default();
    facts.busy_ports.insert(5000);
    let r = run(&facts);
    let f = r.findings.iter().find(|f| f.subject == "5000").unwrap();
    assert_eq!(f.status, Status::Fail);
    assert!(f.evidence.contains("identity API"));
    assert!(fix(f).contains("ss -ltnp"));
}

#[test]
fn a_host_not_in_the_answer_file_is_checked_for_every_role_with_a_warning() {
    let mut facts = FakeHostFacts::default();
    facts.addresses = vec![ip("127.0.0.1"), ip("10.9.9.9")];
    facts.hostname = "elsewhere".into();
    let r = run_with(&facts, SEED);
    let f = one(&r, "roles");
    assert_eq!(f.status, Status::Warn);
    assert!(f.evidence.contains("is none of the answer file's hosts"));
    assert_eq!(r.roles.len(), 3);
}

#[test]
fn text_output_is_aligned_and_json_is_parseable() {
    let mut facts = FakeHostFacts::default();
    facts.programs.remove("mcopy");
    let r = run(&facts);
    let text = r.to_text();
    let status_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("OK") || l.starts_with("FAIL") || l.starts_with("WARN"))
        .collect();
    assert_eq!(status_lines.len(), r.findings.len());
    // The evidence starts in the same column on every line: after the
    // widest "check subject" label and two spaces.
    let width = r
        .findings
        .iter()
        .map(|f| f.check.len() + 1 + f.subject.len())
        .max()
        .unwrap();
    for (line, f) in status_lines.iter().zip(&r.findings) {
        let evidence_start = 6 + width + 2;
        assert!(
            f.evidence
                .starts_with(line[evidence_start..].split("  ").next().unwrap()),
            "{line}"
        );
        assert_ne!(line.as_bytes()[evidence_start - 1], b'-', "{line}");
    }
    assert!(text.contains("fix: apt-get install mtools"));
    assert!(text
        .trim_end()
        .ends_with("deploy may NOT proceed: fix the FAIL findings and run the check again."));
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(json["may_deploy"], false);
    assert_eq!(json["summary"]["fail"], 1);
    let f = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["subject"] == "mcopy")
        .unwrap();
    assert_eq!(f["status"], "fail");
    assert_eq!(f["check"], "program");
    assert_eq!(f["fix"], "apt-get install mtools");
}

#[test]
fn every_other_host_must_answer() {
    let text = "CONFIG_CONTROLLER_HOST=192.168.1.10\nCONFIG_COMPUTE_HOSTS=192.168.1.11,192.168.1.12\nCONFIG_NETWORK_HOSTS=192.168.1.10\nCONFIG_KEYSTONE_ADMIN_PW=x\n";
    let mut facts = FakeHostFacts::default();
    let r = run_with(&facts, text);
    let reach = r.of("reach");
    assert_eq!(
        reach.len(),
        2,
        "this host (192.168.1.10) is not probed: {reach:?}"
    );
    assert!(reach.iter().all(|f| f.status == Status::Ok));
    facts.silent.insert(ip("192.168.1.12"));
    let r = run_with(&facts, text);
    let down: Vec<_> = r
        .of("reach")
        .into_iter()
        .filter(|f| f.status == Status::Fail)
        .collect();
    assert_eq!(down.len(), 1);
    assert_eq!(down[0].subject, "192.168.1.12");
    assert!(
        down[0].evidence.contains("timed out"),
        "{}",
        down[0].evidence
    );
    assert!(fix(down[0]).contains("firewall"));
    assert!(!r.may_deploy);
}

#[test]
fn a_port_held_by_ferrostack_is_a_redeploy_and_others_are_named() {
    let mut facts = FakeHostFacts::default();
    facts.busy_ports.extend([5000, 8774]);
    facts.port_holders.insert(5000, ("ferrostack".into(), 4242));
    facts.port_holders.insert(8774, ("nginx".into(), 77));
    let r = run(&facts);
    let port = |p: &str| {
        r.of("port")
            .into_iter()
            .find(|f| f.subject == p)
            .cloned()
            .expect("finding")
    };
    let ours = port("5000");
    assert_eq!(ours.status, Status::Ok);
    assert!(
        ours.evidence.contains("served by ferrostack (pid 4242)"),
        "{}",
        ours.evidence
    );
    let theirs = port("8774");
    assert_eq!(theirs.status, Status::Fail);
    assert!(
        theirs.evidence.contains("taken by nginx (pid 77)"),
        "{}",
        theirs.evidence
    );
    assert!(!r.may_deploy);
}

#[test]
fn a_controller_must_reach_the_shared_database() {
    let text = "CONFIG_CONTROLLER_HOST=192.168.1.10\nCONFIG_CONTROLLER_HOSTS=192.168.1.10,192.168.1.11\nCONFIG_DATABASE_URL=postgresql://fs@192.168.1.20:6543/cloud\nCONFIG_DATABASE_PW=pw\nCONFIG_COMPUTE_HOSTS=192.168.1.12\nCONFIG_NETWORK_HOSTS=192.168.1.12\nCONFIG_KEYSTONE_ADMIN_PW=x\n";
    let mut facts = FakeHostFacts::default();
    let r = run_with(&facts, text);
    let db = one(&r, "database");
    assert_eq!(db.status, Status::Ok, "{db:?}");
    assert_eq!(db.subject, "192.168.1.20:6543");
    facts.silent.insert(ip("192.168.1.20"));
    let r = run_with(&facts, text);
    let db = one(&r, "database");
    assert_eq!(db.status, Status::Fail);
    assert!(fix(db).contains("listen_addresses"), "{db:?}");
    assert!(!r.may_deploy);
}
