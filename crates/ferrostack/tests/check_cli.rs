//! The built binary's `gen-answer-file` and `check` on this machine.
//! Statuses of the host checks depend on the machine, so only the shape
//! of the output, the exit status rule and answer-file findings (which
//! do not depend on the machine) are asserted.

use serde_json::Value;
use std::process::{Command, Output};

fn ferrostack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrostack"))
        .args(args)
        .env("FERROSTACK_LOG", "warn")
        .output()
        .expect("run ferrostack")
}

fn check_json(args: &[&str]) -> (Value, i32) {
    let out = ferrostack(&[&["check", "--format", "json"], args].concat());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (report, out.status.code().expect("exit code"))
}

fn assert_well_formed(report: &Value, code: i32) {
    let findings = report["findings"].as_array().expect("findings");
    assert!(!findings.is_empty());
    for f in findings {
        assert!(
            ["ok", "warn", "fail"].contains(&f["status"].as_str().unwrap_or("")),
            "{f}"
        );
        assert!(
            f["check"].is_string() && f["subject"].is_string() && f["evidence"].is_string(),
            "{f}"
        );
        if f["status"] == "fail" {
            assert!(f["fix"].is_string(), "a FAIL always says what to do: {f}");
        }
    }
    let fails = findings.iter().filter(|f| f["status"] == "fail").count();
    assert_eq!(report["summary"]["fail"], fails);
    assert_eq!(report["may_deploy"], fails == 0);
    assert_eq!(
        code,
        if fails == 0 { 0 } else { 1 },
        "exit status follows may_deploy"
    );
    for check in [
        "time-sync",
        "memory",
        "disk",
        "port",
        "program",
        "resolv-conf",
    ] {
        assert!(
            findings.iter().any(|f| f["check"] == check),
            "no {check} finding"
        );
    }
}

#[test]
fn check_without_answer_file_reports_json() {
    let (report, code) = check_json(&[]);
    assert_well_formed(&report, code);
    assert!(report["answer_file"].is_null());
    assert_eq!(
        report["roles"],
        serde_json::json!(["controller", "compute", "network"])
    );
}

#[test]
fn generated_answer_file_checks_and_a_bridge_typo_fails_at_its_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("answer.ini");
    let p = path.to_str().unwrap();
    let out = ferrostack(&["gen-answer-file", "--host", "127.0.0.1", p]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = ferrostack(&["gen-answer-file", p]);
    assert!(
        !again.status.success(),
        "an existing file is not replaced without --force"
    );

    let (report, code) = check_json(&["--answer-file", p, "--no-kvm-probe"]);
    assert_well_formed(&report, code);
    let answer: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "answer-file")
        .collect();
    assert_eq!(answer.len(), 1);
    assert_eq!(answer[0]["status"], "ok");

    let text = std::fs::read_to_string(&path).unwrap();
    let text = text
        .replace(
            "CONFIG_NEUTRON_OVS_BRIDGE_MAPPINGS=\n",
            "CONFIG_NEUTRON_OVS_BRIDGE_MAPPINGS=physnet1:br-eth\n",
        )
        .replace(
            "CONFIG_NEUTRON_OVS_BRIDGE_IFACES=\n",
            "CONFIG_NEUTRON_OVS_BRIDGE_IFACES=br-ex:eth0\n",
        );
    std::fs::write(&path, &text).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("CONFIG_NEUTRON_OVS_BRIDGE_MAPPINGS="))
        .unwrap()
        + 1;
    let (report, code) = check_json(&["--answer-file", p, "--no-kvm-probe"]);
    assert_well_formed(&report, code);
    assert_eq!(code, 1);
    let f = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "answer-file")
        .unwrap();
    assert_eq!(f["status"], "fail");
    assert_eq!(f["subject"], format!("{p}:{line}:45"));
    assert!(
        f["fix"]
            .as_str()
            .unwrap()
            .starts_with("did you mean \"br-ex\"?"),
        "{f}"
    );
}
