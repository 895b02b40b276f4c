"""`ferrostack deploy` to three hosts: a controller and two compute agents.

Each host is a network namespace with its own address, host name, sshd
and private /etc/ferrostack, /var/lib/ferrostack, /usr/local/bin (see
tests/deploy/README.md for what this stand-in is and is not). Deploy
reaches them over real SSH with key authentication, exactly as it would
reach three machines; the cloud is then asked with the `openstack` client
whether both agents joined.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests

from conftest import REPO_ROOT, base_env, ferrostack_bin, parse_rc, run, run_json

HOSTS_SH = REPO_ROOT / "tests" / "deploy" / "hosts.sh"
CONTROLLER = "10.201.0.11"
COMPUTES = ["10.201.0.12", "10.201.0.13"]
DEPLOY_TIMEOUT_S = 600

pytestmark = [
    pytest.mark.deploy,
    pytest.mark.skipif(os.geteuid() != 0, reason="namespaces and sshd need root"),
    pytest.mark.skipif(not Path("/usr/sbin/sshd").exists(), reason="openssh-server is not installed"),
]


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    """Three SSH-reachable hosts; torn down (with every process in them) afterwards."""
    state = tmp_path_factory.mktemp("hosts")
    subprocess.run(["bash", str(HOSTS_SH), "down", str(state)], capture_output=True)
    up = subprocess.run(["bash", str(HOSTS_SH), "up", str(state), "3"], capture_output=True, text=True, timeout=120)
    if up.returncode != 0:
        subprocess.run(["bash", str(HOSTS_SH), "down", str(state)], capture_output=True)
        pytest.fail(f"hosts.sh up failed:\n{up.stdout}\n{up.stderr}")
    yield state
    subprocess.run(["bash", str(HOSTS_SH), "down", str(state)], capture_output=True, timeout=120)


def answer_file(state: Path, workdir: Path) -> Path:
    """The generated answer file, edited the way the seed edits its own."""
    path = workdir / "answer.ini"
    subprocess.run([str(ferrostack_bin()), "gen-answer-file", "--host", CONTROLLER, str(path)], check=True, capture_output=True)
    edits = {
        "CONFIG_CONTROLLER_HOST": CONTROLLER,
        "CONFIG_COMPUTE_HOSTS": ",".join(COMPUTES),
        "CONFIG_NETWORK_HOSTS": CONTROLLER,
        "CONFIG_KEYSTONE_ADMIN_PW": "deploy-admin-secret",
        "CONFIG_FERROSTACK_HYPERVISOR": "fake",
        "CONFIG_SSH_KEY": str(state / "id_ed25519.pub"),
    }
    lines = []
    for line in path.read_text().splitlines():
        key = line.split("=", 1)[0]
        lines.append(f"{key}={edits.pop(key)}" if key in edits else line)
    assert not edits, f"keys missing from the generated file: {edits}"
    path.write_text("\n".join(lines) + "\n")
    return path


def deploy(state: Path, answers: Path, *extra: str) -> subprocess.CompletedProcess:
    if "--ssh-config" not in extra:
        extra = ("--ssh-config", str(state / "ssh_config"), *extra)
    argv = [
        str(ferrostack_bin()), "deploy",
        "--answer-file", str(answers),
        # No NTP server is reachable from the test hosts: the FAIL is shown, not fatal.
        "--ignore-check", "time-sync",
        "--ready-timeout", "90",
        *extra,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=DEPLOY_TIMEOUT_S)


def on_host(state: Path, host: str, script: str) -> str:
    """Run `script` on a host over SSH, as an operator would."""
    return subprocess.run(
        ["ssh", "-F", str(state / "ssh_config"), host, script], capture_output=True, text=True, check=True
    ).stdout


def show(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"


def test_check_all_hosts_names_an_injected_fault_and_starts_nothing(hosts, tmp_path):
    answers = answer_file(hosts, tmp_path)
    # The seed's typo: the bridge's interface is not the host's (eth9 for eth0).
    text = re.sub(r"(?m)^CONFIG_NEUTRON_OVS_BRIDGE_IFACES=.*$", "CONFIG_NEUTRON_OVS_BRIDGE_IFACES=br-ex:eth9", answers.read_text())
    text = re.sub(r"(?m)^CONFIG_NEUTRON_OVS_BRIDGE_MAPPINGS=.*$", "CONFIG_NEUTRON_OVS_BRIDGE_MAPPINGS=extnet:br-ex", text)
    answers.write_text(text)
    proc = subprocess.run(
        [str(ferrostack_bin()), "check", "--answer-file", str(answers), "--all-hosts",
         "--ssh-config", str(hosts / "ssh_config"), "--ignore-check", "time-sync"],
        capture_output=True, text=True, timeout=DEPLOY_TIMEOUT_S,
    )
    print(proc.stdout, proc.stderr)
    assert proc.returncode == 1, show(proc)
    assert f"[{CONTROLLER}] check            FAIL interface eth9" in proc.stdout, show(proc)
    assert "interface eth9 is not in /sys/class/net" in proc.stdout, show(proc)
    assert "did you mean eth0?" in proc.stdout, show(proc)
    assert f"Stopped on {CONTROLLER} at step \"check\": FAIL findings: {CONTROLLER}: interface br-ex, interface eth9" in proc.stderr, show(proc)
    # Checking started nothing anywhere.
    for host in [CONTROLLER, *COMPUTES]:
        ps = subprocess.run(
            ["ssh", "-F", str(hosts / "ssh_config"), host, "ls /run/ferrostack"],
            capture_output=True, text=True, check=True,
        )
        assert ps.stdout.strip() == "", f"{host}: {ps.stdout}"


def test_deploy_three_hosts_then_rerun_changes_nothing(hosts, tmp_path):
    answers = answer_file(hosts, tmp_path)

    first = deploy(hosts, answers)
    print(first.stdout)
    assert first.returncode == 0, show(first)
    assert "Installation completed successfully" in first.stdout, show(first)
    assert "fsd-h2" in first.stdout and "fsd-h3" in first.stdout, show(first)
    for host in [CONTROLLER, *COMPUTES]:
        assert f"[{host}] binary" in first.stdout and "changed" in first.stdout
    assert "FAIL (ignored: --ignore-check time-sync)" in first.stdout, show(first)

    # The cloud says both agents joined, through the real client.
    rc = tmp_path / "keystonerc_admin"
    assert rc.exists(), show(first)
    assert oct(rc.stat().st_mode & 0o777) == "0o600"
    env = base_env() | parse_rc(rc)
    assert env["OS_AUTH_URL"].startswith(f"http://{CONTROLLER}:5000"), env["OS_AUTH_URL"]
    services = run_json(env, "openstack", "compute", "service", "list")
    up = sorted(s["Host"] for s in services if s["State"] == "up" and s["Binary"] == "nova-compute")
    assert up == ["fsd-h2", "fsd-h3"], services
    # The controller does the scheduling and conducting, and is listed so.
    control = sorted((s["Binary"], s["Host"], s["State"]) for s in services if s["Binary"] != "nova-compute")
    assert control == [("nova-conductor", "fsd-h1", "up"), ("nova-scheduler", "fsd-h1", "up")], services
    hypervisors = run_json(env, "openstack", "hypervisor", "list")
    assert sorted(h["Hypervisor Hostname"] for h in hypervisors) == ["fsd-h2", "fsd-h3"], hypervisors

    # The dashboard answers on the controller's port 80 with its login page.
    login = requests.get(f"http://{CONTROLLER}/login", timeout=10)
    assert login.status_code == 200 and 'type="password"' in login.text, login.text[:500]
    assert f"browse to http://{CONTROLLER}/" in first.stdout, show(first)

    # No secret left the controller: the agents' answer copies are redacted.
    for host in COMPUTES:
        copy = subprocess.run(
            ["ssh", "-F", str(hosts / "ssh_config"), host, "cat /etc/ferrostack/answer.ini"],
            capture_output=True, text=True, check=True,
        ).stdout
        assert "deploy-admin-secret" not in copy

    second = deploy(hosts, answers)
    print(second.stdout)
    assert second.returncode == 0, show(second)
    assert "No changes: every host already matched the answer file." in second.stdout, show(second)
    assert "changed:" not in second.stdout, show(second)

    # A stopped agent is the one thing a third run changes.
    subprocess.run(
        ["ssh", "-F", str(hosts / "ssh_config"), COMPUTES[1], "kill $(cat /run/ferrostack/ferrostack-agent.pid)"],
        check=True, capture_output=True,
    )
    # (--setup-ssh-keys finds the key already accepted everywhere and asks nothing.)
    third = deploy(hosts, answers, "--setup-ssh-keys")
    assert third.returncode == 0, show(third)
    for host in [CONTROLLER, *COMPUTES]:
        assert f"[{host}] ssh key: ok" in third.stdout, show(third)
    changed = [line for line in third.stdout.splitlines() if "changed:" in line]
    assert changed == [f"[{COMPUTES[1]}] service          changed: ferrostack-agent started"], show(third)

    # An agent that cannot start (its TLS key pair damaged): deploy stops at that host
    # and step, with the agent's own last log lines.
    on_host(hosts, COMPUTES[0], "kill $(cat /run/ferrostack/ferrostack-agent.pid); sleep 1; "
            "echo damaged > /var/lib/ferrostack/agent-api/cert.pem")
    fourth = deploy(hosts, answers)
    assert fourth.returncode == 1, show(fourth)
    assert f'Stopped on {COMPUTES[0]} at step "service"' in fourth.stderr, show(fourth)
    assert "last log lines:" in fourth.stderr and "agent-api" in fourth.stderr, show(fourth)
    # The operator repairs it; the same command finishes the job.
    on_host(hosts, COMPUTES[0], "rm /var/lib/ferrostack/agent-api/cert.pem /var/lib/ferrostack/agent-api/key.pem")
    fifth = deploy(hosts, answers)
    assert fifth.returncode == 0, show(fifth)
    changed = [line for line in fifth.stdout.splitlines() if "changed:" in line]
    assert changed == [f"[{COMPUTES[0]}] service          changed: ferrostack-agent started"], show(fifth)


def test_deploy_without_an_authorized_key_says_so_and_changes_nothing(hosts, tmp_path):
    answers = answer_file(hosts, tmp_path)
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    # The hosts' ssh_config with the stranger's key in place of the authorized one.
    config = tmp_path / "ssh_config"
    config.write_text((hosts / "ssh_config").read_text().replace(str(hosts / "id_ed25519"), str(stranger)))
    proc = deploy(hosts, answers, "--ssh-config", str(config), "--ssh-key", str(stranger))
    assert proc.returncode == 1, show(proc)
    assert f"Stopped on {CONTROLLER} at step \"connect\"" in proc.stderr, show(proc)
    assert "refused our SSH key" in proc.stderr and "--setup-ssh-keys" in proc.stderr, show(proc)
    assert "changed:" not in proc.stdout, "no host was touched"


def test_deploy_two_controllers_with_postgresql_on_a_host_and_an_agent_that_outlives_one(hosts, tmp_path):
    """The answer file of a cloud whose control plane survives a machine: two
    controllers, PostgreSQL installed by deploy on the first controller's host,
    one compute host. Every controller answers from the one database, a token
    issued by one is good on the other, and when the first controller is
    killed the agent goes on reporting through the second.

    The hosts are made anew: the earlier tests left a one-controller cloud on
    them. PostgreSQL's binaries are the machine's (scripts/test.sh installs
    them; these hosts reach no package mirror), its cluster is the host's own
    (tests/deploy/hosts.sh gives each host private PostgreSQL directories), so
    deploy has to create, configure and start it."""
    subprocess.run(["bash", str(HOSTS_SH), "down", str(hosts)], capture_output=True, timeout=120)
    up = subprocess.run(["bash", str(HOSTS_SH), "up", str(hosts), "3"], capture_output=True, text=True, timeout=120)
    assert up.returncode == 0, f"hosts.sh up failed:\n{up.stdout}\n{up.stderr}"
    second_controller, compute = COMPUTES
    answers = answer_file(hosts, tmp_path)
    text = answers.read_text()
    for key, value in {
        "CONFIG_CONTROLLER_HOSTS": f"{CONTROLLER},{second_controller}",
        "CONFIG_COMPUTE_HOSTS": compute,
        # No load balancer here: the catalog names the first controller.
        "CONFIG_FERROSTACK_PUBLIC_HOST": CONTROLLER,
        "CONFIG_DATABASE_HOST": CONTROLLER,
        "CONFIG_DATABASE_PW": "deploy-db-secret",
    }.items():
        text, n = re.subn(rf"(?m)^{key}=.*$", f"{key}={value}", text)
        assert n == 1, f"{key} is not in the generated answer file"
    answers.write_text(text)

    first = deploy(hosts, answers)
    print(first.stdout)
    assert first.returncode == 0, show(first)
    assert re.search(rf"\[{re.escape(CONTROLLER)}\] database +changed: .*cluster", first.stdout), show(first)
    for secret in ("deploy-db-secret", "deploy-admin-secret"):
        assert secret not in first.stdout + first.stderr
    # PostgreSQL runs on the database host, listening where the controllers reach it.
    listening = on_host(hosts, CONTROLLER, "ss -Hltn 'sport = :5432'")
    assert listening.strip(), "nothing listens on 5432 on the database host"
    # The second controller holds the URL with the password in a 0600 file, not in its command line.
    mode = on_host(hosts, second_controller, "stat -c %a /etc/ferrostack/database")
    assert mode.strip() == "600", mode
    assert "deploy-db-secret" not in on_host(hosts, second_controller, "cat /proc/$(cat /run/ferrostack/ferrostack-controller.pid)/cmdline")

    rc = tmp_path / "keystonerc_admin"
    env = base_env() | parse_rc(rc)
    # A project made through the catalog (the first controller) is seen by the second
    # at once, with a token the first issued.
    run(env, "openstack", "project", "create", "made-on-the-first")
    token = run(env, "openstack", "token", "issue", "-f", "value", "-c", "id").stdout.strip()
    seen = requests.get(f"http://{second_controller}:5000/v3/projects", params={"name": "made-on-the-first"},
                        headers={"X-Auth-Token": token}, timeout=10)
    assert seen.status_code == 200, seen.text
    assert [p["name"] for p in seen.json()["projects"]] == ["made-on-the-first"], seen.text
    services = run_json(env, "openstack", "compute", "service", "list")
    assert [(s["Host"], s["State"]) for s in services if s["Binary"] == "nova-compute"] == [("fsd-h3", "up")], services

    # The first controller dies (its machine, as far as the agent can tell).
    on_host(hosts, CONTROLLER, "kill -9 $(cat /run/ferrostack/ferrostack-controller.pid)")
    killed_at = time.time()
    second = {"X-Auth-Token": token, "X-OpenStack-Nova-API-Version": "2.53"}
    deadline = killed_at + 60
    while True:
        answer = requests.get(f"http://{second_controller}:8774/v2.1/os-services", params={"binary": "nova-compute"},
                              headers=second, timeout=10)
        assert answer.status_code == 200, answer.text
        [service] = answer.json()["services"]
        reported = datetime.fromisoformat(service["updated_at"]).replace(tzinfo=timezone.utc).timestamp()
        if reported > killed_at + 1:
            break
        assert time.time() < deadline, f"the agent has not reported through {second_controller} since the kill: {service}"
        time.sleep(2)
    assert service["state"] == "up", service
