//! The engine over fake hosts: first run, re-run, faults.

use super::fake::{FakeController, FakeHost};
use super::plan::{plan, ADMIN_PASSWORD_FILE, BINARY_PATH, JOIN_FILE};
use super::*;
use crate::answer::parse;
use std::rc::Rc;
use std::time::Duration;

const ANSWERS: &str = "[general]\nCONFIG_CONTROLLER_HOST=10.0.0.1\nCONFIG_COMPUTE_HOSTS=10.0.0.2,10.0.0.3\nCONFIG_NETWORK_HOSTS=10.0.0.1\nCONFIG_KEYSTONE_ADMIN_PW=s3cret\nCONFIG_FERROSTACK_HYPERVISOR=fake\n";

struct World {
    hosts: Vec<Rc<FakeHost>>,
    answers: crate::answer::AnswerFile,
    answer_text: String,
}

impl World {
    fn new() -> Self {
        let loaded = parse(ANSWERS);
        assert!(loaded.is_valid(), "{:?}", loaded.diagnostics);
        let hosts = vec![
            FakeHost::new("ctl"),
            FakeHost::new("cmp1"),
            FakeHost::new("cmp2"),
        ];
        // The controller writes its join file and rc file on first start.
        hosts[0].files.borrow_mut().insert(
            "/var/lib/ferrostack/join-token".into(),
            (b"ferrostack-join-v1 tok sha256:ab\n".to_vec(), 0o600),
        );
        World {
            hosts,
            answers: loaded.answers,
            answer_text: ANSWERS.into(),
        }
    }

    fn run(&self, binary: &[u8]) -> (Result<DeploySummary, DeployError>, String) {
        let input = DeployInput {
            answers: &self.answers,
            redacted_answer_file: redact_passwords(&self.answer_text).into_bytes(),
            binary: binary.to_vec(),
            ignore_checks: vec!["time-sync".into()],
            ready_timeout: Duration::from_millis(300),
        };
        let targets: Vec<Target<'_>> = plan(&self.answers)
            .into_iter()
            .zip(&self.hosts)
            .map(|(plan, h)| Target {
                plan,
                remote: h.as_ref() as &dyn RemoteHost,
            })
            .collect();
        let api = FakeController {
            hosts: vec![
                (self.hosts[0].clone(), false),
                (self.hosts[1].clone(), true),
                (self.hosts[2].clone(), true),
            ],
        };
        let mut out = Vec::new();
        let result = deploy(&input, &targets, &api, &mut out);
        (result, String::from_utf8_lossy(&out).into_owned())
    }
}

#[test]
fn first_run_installs_everything_and_a_second_changes_nothing() {
    let world = World::new();
    let (first, log) = world.run(b"binary-v1");
    let first = first.unwrap_or_else(|e| panic!("{e}\n{log}"));
    assert!(!first.changes.is_empty());
    assert_eq!(first.compute_hosts, vec!["cmp1", "cmp2"]);
    let ctl = &world.hosts[0];
    assert_eq!(
        ctl.files.borrow()[ADMIN_PASSWORD_FILE],
        (b"s3cret\n".to_vec(), 0o600)
    );
    for h in &world.hosts {
        assert_eq!(h.files.borrow()[BINARY_PATH].0, b"binary-v1");
        let answer =
            String::from_utf8(h.files.borrow()[plan::ANSWER_COPY].0.clone()).expect("utf8");
        assert!(!answer.contains("s3cret"), "no password in the copies");
    }
    for h in &world.hosts[1..] {
        assert_eq!(
            h.files.borrow()[JOIN_FILE].0,
            b"ferrostack-join-v1 tok sha256:ab\n"
        );
        assert_eq!(
            *h.starts.borrow(),
            vec![("ferrostack-agent".to_string(), true)]
        );
    }

    let (second, log) = world.run(b"binary-v1");
    let second = second.unwrap_or_else(|e| panic!("{e}\n{log}"));
    assert!(second.changes.is_empty(), "{:?}\n{log}", second.changes);
    assert_eq!(
        world.hosts[1].starts.borrow().len(),
        1,
        "no restart when nothing changed"
    );
}

#[test]
fn a_new_binary_restarts_every_service_once() {
    let world = World::new();
    world.run(b"v1").0.expect("first run");
    let (result, log) = world.run(b"v2");
    let summary = result.unwrap_or_else(|e| panic!("{e}\n{log}"));
    assert!(
        log.contains("restarted (its configuration changed)"),
        "{log}"
    );
    assert_eq!(
        summary
            .changes
            .iter()
            .filter(|(_, c)| c.contains("restarted"))
            .count(),
        3
    );
}

#[test]
fn a_stopped_agent_is_started_again_without_other_changes() {
    let world = World::new();
    world.run(b"v1").0.expect("first run");
    world.hosts[2].running.borrow_mut().clear();
    let summary = world.run(b"v1").0.expect("second run");
    assert_eq!(summary.changes.len(), 1, "{:?}", summary.changes);
    assert_eq!(summary.changes[0].0, "10.0.0.3");
    assert!(summary.changes[0].1.contains("ferrostack-agent started"));
}

#[test]
fn an_unreachable_host_stops_the_run_before_anything_changes() {
    let world = World::new();
    *world.hosts[2].probe_error.borrow_mut() =
        Some(RemoteError::new("root@10.0.0.3 refused our SSH key").fix("--setup-ssh-keys"));
    let (result, _) = world.run(b"v1");
    let e = result.expect_err("must stop");
    assert_eq!(e.host.as_deref(), Some("10.0.0.3"));
    assert_eq!(e.step, "connect");
    assert!(e.to_string().contains("--setup-ssh-keys"));
    assert!(world.hosts[0].files.borrow().is_empty() || world.hosts[0].files.borrow().len() == 1);
}

#[test]
fn a_failed_check_stops_unless_ignored() {
    let world = World::new();
    *world.hosts[1].check_json.borrow_mut() = Some(
        r#"{"findings":[{"check":"memory","subject":"RAM","status":"fail","evidence":"0.5 GiB available","fix":"add memory"}]}"#.into(),
    );
    let (result, log) = world.run(b"v1");
    let e = result.expect_err("must stop");
    assert_eq!(
        (e.host.as_deref(), e.step.as_str()),
        (Some("10.0.0.2"), "check")
    );
    assert_eq!(e.message, "FAIL findings: 10.0.0.2: memory RAM");
    assert!(log.contains("FAIL memory RAM"), "{log}");
    assert!(
        world.hosts[0].running.borrow().is_empty(),
        "nothing started"
    );
}

#[test]
fn a_service_that_will_not_start_shows_its_log_and_a_rerun_finishes() {
    let world = World::new();
    *world.hosts[1].start_error.borrow_mut() = Some("ferrostack-agent exited at once".into());
    let e = world.run(b"v1").0.expect_err("must stop");
    assert_eq!(
        (e.host.as_deref(), e.step.as_str()),
        (Some("10.0.0.2"), "service")
    );
    assert!(e
        .log
        .as_deref()
        .is_some_and(|l| l.contains("address already in use")));
    *world.hosts[1].start_error.borrow_mut() = None;
    let summary = world.run(b"v1").0.expect("the second run finishes");
    assert_eq!(summary.compute_hosts, vec!["cmp1", "cmp2"]);
}

#[test]
fn passwords_are_redacted_and_positions_kept() {
    let text = "# CONFIG_KEYSTONE_ADMIN_PW=comment stays\nCONFIG_KEYSTONE_ADMIN_PW=s3cret\n  CONFIG_MARIADB_PW = x\nCONFIG_CONTROLLER_HOST=10.0.0.1";
    let red = redact_passwords(text);
    assert!(!red.contains("s3cret"));
    assert!(red.contains("# CONFIG_KEYSTONE_ADMIN_PW=comment stays\n"));
    assert!(red.contains(&format!("  CONFIG_MARIADB_PW ={REDACTED}\n")));
    assert!(red.ends_with("CONFIG_CONTROLLER_HOST=10.0.0.1"));
    assert_eq!(red.lines().count(), text.lines().count());
}

#[test]
fn the_controller_binds_dhcp_to_the_dhcp_hosts_own_name() {
    // CONFIG_NETWORK_HOSTS=10.0.0.1 is the controller, which runs no
    // agent: DHCP falls to the first compute host, cmp1 by its host name.
    let world = World::new();
    let (result, log) = world.run(b"v1");
    result.unwrap_or_else(|e| panic!("{e}\n{log}"));
    let unit = String::from_utf8(
        world.hosts[0].files.borrow()["/etc/systemd/system/ferrostack-controller.service"]
            .0
            .clone(),
    )
    .expect("utf8");
    assert!(
        unit.contains("--answer-file /etc/ferrostack/answer.ini ")
            && unit.contains("--no-compute --dhcp-host cmp1\n"),
        "{unit}"
    );
    assert!(log.contains("DHCP is served by 10.0.0.2 (cmp1)"), "{log}");
}

#[test]
fn a_changed_answer_file_restarts_the_controller_only() {
    let mut world = World::new();
    world.run(b"v1").0.expect("first run");
    let changed = format!("{ANSWERS}CONFIG_NEUTRON_ML2_VNI_RANGES=500:600\n");
    let loaded = parse(&changed);
    assert!(loaded.is_valid(), "{:?}", loaded.diagnostics);
    world.answers = loaded.answers;
    world.answer_text = changed;
    let (result, log) = world.run(b"v1");
    result.unwrap_or_else(|e| panic!("{e}\n{log}"));
    assert_eq!(
        world.hosts[0].starts.borrow().last(),
        Some(&("ferrostack-controller".to_string(), true)),
        "{log}"
    );
    assert_eq!(world.hosts[1].starts.borrow().len(), 1, "{log}");
}

#[test]
fn other_controllers_get_the_first_ones_identity_and_agents_know_every_controller() {
    let text = "CONFIG_CONTROLLER_HOST=10.0.0.1\nCONFIG_CONTROLLER_HOSTS=10.0.0.1,10.0.0.2\nCONFIG_FERROSTACK_PUBLIC_HOST=api.example\nCONFIG_DATABASE_HOST=10.0.0.3\nCONFIG_DATABASE_URL=postgresql://fs@db.example/cloud\nCONFIG_DATABASE_PW=db-pw\nCONFIG_COMPUTE_HOSTS=10.0.0.3\nCONFIG_NETWORK_HOSTS=10.0.0.3\nCONFIG_KEYSTONE_ADMIN_PW=s3cret\nCONFIG_FERROSTACK_HYPERVISOR=fake\n";
    let loaded = parse(text);
    assert!(loaded.is_valid(), "{:?}", loaded.diagnostics);
    let hosts = vec![
        FakeHost::new("ctl1"),
        FakeHost::new("ctl2"),
        FakeHost::new("cmp"),
    ];
    let first_files = [
        (
            "/var/lib/ferrostack/join-token",
            &b"ferrostack-join-v1 tok sha256:ab\n"[..],
            0o600,
        ),
        ("/var/lib/ferrostack/host-api/cert.pem", b"CERT", 0o644),
        ("/var/lib/ferrostack/host-api/key.pem", b"KEY", 0o600),
    ];
    for (path, content, mode) in first_files {
        hosts[0]
            .files
            .borrow_mut()
            .insert(path.into(), (content.to_vec(), mode));
    }
    let world = World {
        hosts,
        answers: loaded.answers,
        answer_text: text.into(),
    };
    let (result, log) = world.run(b"v1");
    result.unwrap_or_else(|e| panic!("{e}\n{log}"));
    let second = world.hosts[1].files.borrow();
    for (path, content, mode) in first_files {
        assert_eq!(
            second.get(path),
            Some(&(content.to_vec(), mode)),
            "{path}\n{log}"
        );
    }
    assert_eq!(
        second[plan::DATABASE_FILE].0,
        b"postgresql://fs:db-pw@db.example:5432/cloud\n"
    );
    for h in &world.hosts[..2] {
        assert_eq!(
            *h.starts.borrow(),
            vec![("ferrostack-controller".to_string(), true)]
        );
    }
    assert!(
        !world.hosts[1].files.borrow().contains_key(JOIN_FILE),
        "a controller needs no agent join file"
    );
    // PostgreSQL set up on the database host, the password on stdin only.
    let scripts = world.hosts[2].scripts.borrow();
    assert_eq!(scripts.len(), 1, "{log}");
    assert_eq!(scripts[0].2, b"db-pw");
    assert!(!scripts[0].1.contains("db-pw"));
    assert!(scripts[0]
        .1
        .contains("'host cloud fs 10.0.0.2/32 scram-sha-256'"));
    assert!(
        log.find("[10.0.0.3] database").expect("db step")
            < log.find("[10.0.0.1] service").expect("ctl1")
    );
    let answer = String::from_utf8(second[plan::ANSWER_COPY].0.clone()).expect("utf8");
    assert!(
        !answer.contains("db-pw"),
        "no database password in the copies"
    );
    // The controller started second is started after the first is ready,
    // and the agent after both.
    let ctl2 = log.find("[10.0.0.2] service").expect("ctl2 started");
    let first_ready = log.find("[10.0.0.1] ready").expect("ctl1 ready");
    let agent = log.find("[10.0.0.3] service").expect("agent started");
    assert!(first_ready < ctl2 && ctl2 < agent, "{log}");
}
