"""Security groups and rules through `openstack security group ...`."""

import pytest

pytestmark = pytest.mark.cli


def rules_of(stack, group: str) -> list[dict]:
    return stack.openstack_json("security", "group", "rule", "list", group)


def test_a_project_has_one_default_group_with_neutrons_rules(stack):
    groups = stack.openstack_json("security", "group", "list")
    assert [g["Name"] for g in groups] == ["default"], groups
    rules = rules_of(stack, "default")
    shapes = sorted((r["Direction"], r["Ethertype"], bool(r["Remote Security Group"])) for r in rules)
    assert shapes == [
        ("egress", "IPv4", False),
        ("egress", "IPv6", False),
        ("ingress", "IPv4", True),
        ("ingress", "IPv6", True),
    ], rules
    again = stack.openstack_json("security", "group", "list")
    assert again == groups


def test_create_show_list_and_delete_a_group(stack):
    created = stack.openstack_json("security", "group", "create", "--description", "web tier", "web")
    assert created["name"] == "web"
    assert created["description"] == "web tier"
    shown = stack.openstack_json("security", "group", "show", "web")
    assert shown["id"] == created["id"]
    names = {g["Name"] for g in stack.openstack_json("security", "group", "list")}
    assert names == {"default", "web"}
    stack.openstack("security", "group", "delete", "web")
    names = {g["Name"] for g in stack.openstack_json("security", "group", "list")}
    assert names == {"default"}


def test_rules_by_protocol_port_and_remote_group(stack):
    stack.openstack("security", "group", "create", "web")
    stack.openstack("security", "group", "create", "db")
    icmp = stack.openstack_json("security", "group", "rule", "create", "--protocol", "icmp", "web")
    assert icmp["protocol"] == "icmp"
    ssh = stack.openstack_json("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", "web")
    assert (ssh["port_range_min"], ssh["port_range_max"]) == (22, 22)
    db_id = stack.openstack_json("security", "group", "show", "db")["id"]
    pg = stack.openstack_json(
        "security", "group", "rule", "create",
        "--protocol", "tcp", "--dst-port", "5432", "--remote-group", "web", "db",
    )
    assert pg["security_group_id"] == db_id
    assert pg["remote_group_id"] == stack.openstack_json("security", "group", "show", "web")["id"]
    ids = {r["ID"] for r in rules_of(stack, "web")}
    assert {icmp["id"], ssh["id"]} <= ids
    stack.openstack("security", "group", "rule", "delete", ssh["id"])
    ids = {r["ID"] for r in rules_of(stack, "web")}
    assert ssh["id"] not in ids and icmp["id"] in ids


def test_a_duplicate_rule_is_refused(stack):
    stack.openstack("security", "group", "create", "web")
    stack.openstack("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "80", "web")
    proc = stack.openstack(
        "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "80", "web", check=False
    )
    assert proc.returncode != 0
    assert "already exists" in proc.stderr, proc.stderr


def test_the_default_group_cannot_be_deleted_by_its_project(stack):
    stack.openstack("project", "create", "myproject")
    stack.openstack("user", "create", "--password", "pw-alice", "alice")
    stack.openstack("role", "add", "--project", "myproject", "--user", "alice", "member")
    alice = stack.user_env("alice", "pw-alice", "myproject")
    groups = stack.openstack_json("security", "group", "list", env=alice)
    assert [g["Name"] for g in groups] == ["default"]
    proc = stack.openstack("security", "group", "delete", groups[0]["ID"], env=alice, check=False)
    assert proc.returncode != 0
    assert len(stack.openstack_json("security", "group", "list", env=alice)) == 1
