"""Block storage with the real `openstack` client: volumes, snapshots,
types, quota usage, transfers, backups, QoS specs, and what another project
sees.

These need a volume backend in the binary (the local backend, wired in
allinone): without one, volume create answers "No valid backend was found"
and every test here fails on purpose, loudly, with that message.
"""

import time

import pytest

from conftest import CommandFailed

pytestmark = [pytest.mark.cli, pytest.mark.volumes]

DEADLINE_S = 60.0


def create_volume(stack, *args: str, env=None) -> dict:
    try:
        return stack.openstack_json("volume", "create", *args, env=env)
    except CommandFailed as err:
        if "No valid backend" in str(err):
            pytest.fail(
                "the binary has no volume backend: wire crates/volume/src/local.rs "
                f"into allinone.rs ({err})"
            )
        raise


def wait_status(stack, kind: str, name: str, status: str, env=None) -> dict:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        shown = stack.openstack_json(kind, "show", name, env=env)
        if shown["status"] == status:
            return shown
        assert shown["status"] not in ("error", "error_deleting"), shown
        assert time.monotonic() < deadline, f"{kind} {name} never became {status}: {shown}"
        time.sleep(0.5)


def wait_gone(stack, kind: str, name: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while stack.openstack(kind, "show", name, check=False).returncode == 0:
        assert time.monotonic() < deadline, f"{kind} {name} never went"
        time.sleep(0.5)


def volume_usage(stack, project: str) -> dict[str, int]:
    rows = stack.openstack_json("quota", "show", "--usage", "--volume", project)
    return {row["Resource"]: row["In Use"] for row in rows}


def test_volume_lifecycle_with_snapshot_and_usage(stack):
    project_id = stack.openstack_json("project", "show", "admin")["id"]
    created = create_volume(stack, "--size", "1", "vol1")
    assert created["status"] in ("creating", "available"), created
    wait_status(stack, "volume", "vol1", "available")
    listed = stack.openstack_json("volume", "list")
    assert [v["Name"] for v in listed] == ["vol1"]
    stack.openstack("volume", "set", "--property", "tier=gold", "--description", "d", "vol1")
    shown = stack.openstack_json("volume", "show", "vol1")
    assert shown["properties"] in ({"tier": "gold"}, "tier='gold'"), shown
    stack.openstack("volume", "set", "--size", "2", "vol1")
    wait_status(stack, "volume", "vol1", "available")
    assert stack.openstack_json("volume", "show", "vol1")["size"] == 2

    stack.openstack_json("volume", "snapshot", "create", "--volume", "vol1", "snap1")
    wait_status(stack, "volume snapshot", "snap1", "available")
    usage = volume_usage(stack, project_id)
    assert (usage["volumes"], usage["snapshots"], usage["gigabytes"]) == (1, 1, 4), usage

    create_volume(stack, "--snapshot", "snap1", "vol2")
    wait_status(stack, "volume", "vol2", "available")

    # A volume with a snapshot is not deleted without cascade.
    refused = stack.openstack("volume", "delete", "vol1", check=False)
    assert refused.returncode != 0
    stack.openstack("volume", "delete", "--purge", "vol1")
    wait_gone(stack, "volume", "vol1")
    stack.openstack("volume", "delete", "vol2")
    wait_gone(stack, "volume", "vol2")
    usage = volume_usage(stack, project_id)
    assert (usage["volumes"], usage["snapshots"], usage["gigabytes"]) == (0, 0, 0), usage


def test_over_quota_is_refused_with_cinders_message(stack):
    stack.openstack("quota", "set", "--gigabytes", "3", "admin")
    create_volume(stack, "--size", "2", "small")
    proc = stack.openstack("volume", "create", "--size", "2", "big", check=False)
    assert proc.returncode != 0
    assert "exceeds allowed gigabytes quota" in proc.stderr, proc.stderr
    assert [v["Name"] for v in stack.openstack_json("volume", "list")] == ["small"]


def test_another_project_does_not_see_the_volume(stack):
    create_volume(stack, "--size", "1", "mine")
    stack.openstack("project", "create", "other")
    stack.openstack("user", "create", "--password", "pw-other", "bob")
    stack.openstack("role", "add", "--project", "other", "--user", "bob", "member")
    env = stack.user_env("bob", "pw-other", "other")
    assert stack.openstack_json("volume", "list", env=env) == []
    volume_id = stack.openstack_json("volume", "show", "mine")["id"]
    proc = stack.openstack("volume", "show", volume_id, env=env, check=False)
    assert proc.returncode != 0


def test_types_and_availability_zones(stack):
    stack.openstack("volume", "type", "create", "--property", "volume_backend_name=local", "fast")
    names = [t["Name"] for t in stack.openstack_json("volume", "type", "list")]
    assert "fast" in names and "__DEFAULT__" in names, names
    zones = stack.openstack_json("availability", "zone", "list", "--volume")
    assert [z["Zone Name"] for z in zones] == ["nova"], zones
    services = stack.openstack_json("volume", "service", "list")
    assert {s["Binary"] for s in services} == {"cinder-scheduler", "cinder-volume"}, services


def test_a_volume_transferred_to_another_project_moves_with_its_usage(stack):
    admin_project = stack.openstack_json("project", "show", "admin")["id"]
    create_volume(stack, "--size", "1", "gift")
    wait_status(stack, "volume", "gift", "available")
    request = stack.openstack_json("volume", "transfer", "request", "create", "gift")
    assert request["auth_key"], request
    assert stack.openstack_json("volume", "show", "gift")["status"] == "awaiting-transfer"
    stack.openstack("project", "create", "receiver")
    stack.openstack("user", "create", "--project", "receiver", "--password", "rx-pw", "rx")
    stack.openstack("role", "add", "--project", "receiver", "--user", "rx", "member")
    rx = stack.user_env("rx", "rx-pw", "receiver")
    wrong = stack.openstack("volume", "transfer", "request", "accept", "--auth-key",
                            "0000000000000000", request["id"], env=rx, check=False)
    assert wrong.returncode != 0 and "Invalid auth key" in wrong.stderr, wrong.stderr
    stack.openstack("volume", "transfer", "request", "accept", "--auth-key",
                    request["auth_key"], request["id"], env=rx)
    mine = stack.openstack_json("volume", "list", env=rx)
    assert [v["Name"] for v in mine] == ["gift"]
    # The giving project (the admin's, listing its own) has it no more.
    assert stack.openstack_json("volume", "list") == []
    assert volume_usage(stack, admin_project)["volumes"] == 0
    assert volume_usage(stack, "receiver")["volumes"] == 1


def test_backups_and_qos_specs_through_the_cli(stack):
    create_volume(stack, "--size", "1", "precious")
    wait_status(stack, "volume", "precious", "available")
    stack.openstack("volume", "backup", "create", "--name", "b1", "precious")
    full = wait_status(stack, "volume backup", "b1", "available")
    assert full["is_incremental"] is False
    stack.openstack("volume", "backup", "create", "--incremental", "--name", "b2", "precious")
    inc = wait_status(stack, "volume backup", "b2", "available")
    assert inc["is_incremental"] is True
    assert stack.openstack("volume", "backup", "delete", "b1", check=False).returncode != 0
    stack.openstack("volume", "backup", "delete", "b2")
    wait_gone(stack, "volume backup", "b2")
    stack.openstack("volume", "backup", "delete", "b1")
    wait_gone(stack, "volume backup", "b1")

    bad = stack.openstack("volume", "qos", "create", "--property", "total_iops_sec=10",
                          "--property", "read_iops_sec=5", "bad", check=False)
    assert bad.returncode != 0
    assert stack.openstack_json("volume", "qos", "list") == []
    qos = stack.openstack_json("volume", "qos", "create", "--consumer", "front-end",
                               "--property", "write_iops_sec=100", "slow")
    stack.openstack("volume", "type", "create", "slowdisk")
    stack.openstack("volume", "qos", "associate", "slow", "slowdisk")
    shown = stack.openstack_json("volume", "qos", "show", "slow")
    assert "slowdisk" in str(shown["associations"]), shown
    refused = stack.openstack("volume", "qos", "delete", "slow", check=False)
    assert refused.returncode != 0
    stack.openstack("volume", "qos", "delete", "--force", qos["id"])
    assert stack.openstack_json("volume", "qos", "list") == []
