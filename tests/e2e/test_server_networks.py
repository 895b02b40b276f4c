"""Servers with networks, through the unmodified `openstack` client: the
ports Nova creates and binds, the addresses a user sees, and what a delete
gives back. The host runs the fake hypervisor here (the control plane is
under test); tests/e2e/test_network_guests.py boots real guests that use
the ports.
"""

from __future__ import annotations

import time

import pytest
import requests

from conftest import CommandFailed
from test_servers import fake_stack, wait_for  # noqa: F401  (fixture)

pytestmark = [pytest.mark.servers, pytest.mark.cli]


def prepare(stack) -> None:
    raw = stack.data_dir.parent / "disk.raw"
    raw.write_bytes(b"\0" * 1024 * 1024)
    stack.openstack("image", "create", "--disk-format", "raw", "--container-format", "bare",
                    "--file", str(raw), "img")
    stack.openstack("flavor", "create", "--vcpus", "1", "--ram", "128", "--disk", "1", "tiny")
    stack.openstack("network", "create", "net1")
    stack.openstack("subnet", "create", "--network", "net1", "--subnet-range", "10.20.0.0/24",
                    "sub1")


def ports_of(stack, server_id: str) -> list[dict]:
    return stack.openstack_json("port", "list", "--device-id", server_id, "--long")


def test_a_server_on_a_network_gets_a_bound_port_and_shows_its_address(fake_stack):
    prepare(fake_stack)
    created = fake_stack.openstack_json(
        "server", "create", "--image", "img", "--flavor", "tiny", "--network", "net1",
        "--wait", "vm1")
    assert created["status"] == "ACTIVE", created
    vm1_id = created["id"]
    ports = ports_of(fake_stack, vm1_id)
    assert len(ports) == 1, ports
    port = fake_stack.openstack_json("port", "show", ports[0]["ID"])
    assert port["device_owner"] == "compute:nova", port
    assert port["binding_host_id"] == "e2e-host", port
    ip = port["fixed_ips"][0]["ip_address"]
    assert ip.startswith("10.20.0."), port
    shown = fake_stack.openstack_json("server", "show", "vm1")
    assert shown["addresses"] == {"net1": [ip]}, shown["addresses"]
    listed = fake_stack.openstack_json("server", "list")
    assert listed[0]["Networks"] == {"net1": [ip]}, listed
    token, _ = fake_stack.issue_token()
    r = requests.get(f"{fake_stack.endpoint('compute')}/servers/{vm1_id}/ips",
                     headers={"X-Auth-Token": token}, timeout=30)
    assert r.status_code == 200, r.text
    assert [a["addr"] for a in r.json()["addresses"]["net1"]] == [ip], r.text

    # A fixed address asked for is the one given; a taken one is refused
    # and leaves neither a server nor a port behind.
    net_id = fake_stack.openstack_json("network", "show", "net1")["id"]
    fake_stack.openstack(
        "server", "create", "--image", "img", "--flavor", "tiny",
        "--nic", f"net-id={net_id},v4-fixed-ip=10.20.0.50", "--wait", "vm2")
    assert fake_stack.openstack_json("server", "show", "vm2")["addresses"] == {
        "net1": ["10.20.0.50"]}
    ports_before = len(fake_stack.openstack_json("port", "list"))
    with pytest.raises(CommandFailed):
        fake_stack.openstack("server", "create", "--image", "img", "--flavor", "tiny",
                             "--nic", f"net-id={net_id},v4-fixed-ip=10.20.0.50", "vm3")
    assert [s["Name"] for s in fake_stack.openstack_json("server", "list")] == ["vm2", "vm1"]
    assert len(fake_stack.openstack_json("port", "list")) == ports_before

    # Delete: the port Nova made goes with the server.
    fake_stack.openstack("server", "delete", "--wait", "vm1")
    assert ports_of(fake_stack, vm1_id) == []
    with pytest.raises(CommandFailed):
        fake_stack.openstack("port", "show", port["id"])


def test_a_users_port_is_bound_then_left_unbound_after_delete(fake_stack):
    prepare(fake_stack)
    port = fake_stack.openstack_json("port", "create", "--network", "net1", "myport")
    assert port["binding_host_id"] in ("", None), port
    fake_stack.openstack("server", "create", "--image", "img", "--flavor", "tiny",
                         "--port", "myport", "--wait", "vm1")
    bound = fake_stack.openstack_json("port", "show", "myport")
    assert bound["binding_host_id"] == "e2e-host", bound
    server_id = fake_stack.openstack_json("server", "show", "vm1")["id"]
    assert bound["device_id"] == server_id
    # The port is in use: a second server cannot take it.
    with pytest.raises(CommandFailed) as refused:
        fake_stack.openstack("server", "create", "--image", "img", "--flavor", "tiny",
                             "--port", "myport", "vm2")
    assert "still in use" in str(refused.value), refused.value
    fake_stack.openstack("server", "delete", "--wait", "vm1")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        left = fake_stack.openstack_json("port", "show", "myport")
        if left["device_id"] in ("", None):
            break
        time.sleep(0.5)
    assert left["device_id"] in ("", None), left
    assert left["binding_host_id"] in ("", None), left


def test_network_choices_are_checked_before_anything_is_created(fake_stack):
    prepare(fake_stack)
    fake_stack.openstack("network", "create", "net2")
    fake_stack.openstack("subnet", "create", "--network", "net2", "--subnet-range",
                         "10.30.0.0/24", "sub2")
    # Two networks: `auto` is ambiguous (409), and nothing is created.
    with pytest.raises(CommandFailed) as refused:
        fake_stack.openstack("server", "create", "--image", "img", "--flavor", "tiny",
                             "--nic", "auto", "vm1")
    assert "Multiple possible networks found" in str(refused.value), refused.value
    # A network without a subnet cannot be booted on.
    fake_stack.openstack("network", "create", "bare")
    with pytest.raises(CommandFailed) as refused:
        fake_stack.openstack("server", "create", "--image", "img", "--flavor", "tiny",
                             "--network", "bare", "vm1")
    assert "requires a subnet" in str(refused.value), refused.value
    assert fake_stack.openstack_json("server", "list") == []
    assert fake_stack.openstack_json("port", "list", "--device-owner", "compute:nova") == []
    # Several NICs: one port per network, in order.
    fake_stack.openstack("server", "create", "--image", "img", "--flavor", "tiny",
                         "--network", "net1", "--network", "net2", "--wait", "vm2")
    addresses = fake_stack.openstack_json("server", "show", "vm2")["addresses"]
    assert sorted(addresses) == ["net1", "net2"], addresses


def interfaces_of(stack, server: str) -> list[dict]:
    return stack.openstack_json("port", "list", "--server", server, "--long")


def test_networks_and_ports_are_added_to_and_removed_from_a_running_server(fake_stack):
    prepare(fake_stack)
    fake_stack.openstack("network", "create", "net2")
    fake_stack.openstack("subnet", "create", "--network", "net2", "--subnet-range",
                         "10.30.0.0/24", "sub2")
    fake_stack.openstack("server", "create", "--image", "img", "--flavor", "tiny",
                         "--network", "net1", "--wait", "vm1")
    vm1_id = fake_stack.openstack_json("server", "show", "vm1")["id"]

    # `server add network`: Nova makes a port on net2, bound like the boot's.
    fake_stack.openstack("server", "add", "network", "vm1", "net2")
    ports = interfaces_of(fake_stack, "vm1")
    assert len(ports) == 2, ports
    made = next(p for p in ports if p["Fixed IP Addresses"][0]["ip_address"].startswith("10.30."))
    made = fake_stack.openstack_json("port", "show", made["ID"])
    assert (made["device_id"], made["device_owner"], made["binding_host_id"]) == (
        vm1_id, "compute:nova", "e2e-host"), made
    new_ip = made["fixed_ips"][0]["ip_address"]
    addresses = fake_stack.openstack_json("server", "show", "vm1")["addresses"]
    assert addresses["net2"] == [new_ip], addresses
    assert sorted(addresses) == ["net1", "net2"], addresses
    # The agent wires the port on the host (its status follows the report).
    deadline = time.monotonic() + 20
    while fake_stack.openstack_json("port", "show", made["id"])["status"] != "ACTIVE":
        assert time.monotonic() < deadline, "the attached port never became ACTIVE"
        time.sleep(0.5)

    # `server add port`: the user's port is bound to the server.
    fake_stack.openstack("port", "create", "--network", "net2", "--fixed-ip",
                         "ip-address=10.30.0.77", "myport")
    fake_stack.openstack("server", "add", "port", "vm1", "myport")
    mine = fake_stack.openstack_json("port", "show", "myport")
    assert (mine["device_id"], mine["binding_host_id"]) == (vm1_id, "e2e-host"), mine
    addresses = fake_stack.openstack_json("server", "show", "vm1")["addresses"]
    assert sorted(addresses["net2"]) == sorted([new_ip, "10.30.0.77"]), addresses
    listed = fake_stack.openstack_json("server", "list")[0]["Networks"]
    assert sorted(listed["net2"]) == sorted([new_ip, "10.30.0.77"]), listed

    # `server remove port`: the user's port is unbound, not deleted.
    fake_stack.openstack("server", "remove", "port", "vm1", "myport")
    left = fake_stack.openstack_json("port", "show", "myport")
    assert left["device_id"] in ("", None) and left["binding_host_id"] in ("", None), left
    assert fake_stack.openstack_json("server", "show", "vm1")["addresses"]["net2"] == [new_ip]

    # `server add fixed ip` (an interface on net2 with that address, tagged
    # from 2.49); the tag is shown from 2.70.
    added = fake_stack.openstack_json(
        "--os-compute-api-version", "2.49", "server", "add", "fixed", "ip",
        "--fixed-ip-address", "10.30.0.88", "--tag", "data", "vm1", "net2")
    token, _ = fake_stack.issue_token()
    r = requests.get(f"{fake_stack.endpoint('compute')}/servers/{vm1_id}/os-interface",
                     headers={"X-Auth-Token": token,
                              "OpenStack-API-Version": "compute 2.70"}, timeout=30)
    assert r.status_code == 200, r.text
    tagged = [a for a in r.json()["interfaceAttachments"] if a["port_id"] == added["Port ID"]]
    assert [(a["tag"], a["fixed_ips"][0]["ip_address"]) for a in tagged] == [
        ("data", "10.30.0.88")], r.text
    addresses = fake_stack.openstack_json("server", "show", "vm1")["addresses"]
    assert sorted(addresses["net2"]) == sorted([new_ip, "10.30.0.88"]), addresses

    # `server remove network`: every port of the server on net2 goes, and
    # a port Nova made is deleted.
    fake_stack.openstack("server", "remove", "network", "vm1", "net2")
    addresses = fake_stack.openstack_json("server", "show", "vm1")["addresses"]
    assert sorted(addresses) == ["net1"], addresses
    with pytest.raises(CommandFailed):
        fake_stack.openstack("port", "show", made["id"])
    assert len(interfaces_of(fake_stack, "vm1")) == 1
    actions = [a["Action"] for a in fake_stack.openstack_json(
        "server", "event", "list", "vm1")]
    assert actions.count("attach_interface") == 3, actions
    assert actions.count("detach_interface") == 3, actions


def test_a_port_in_use_elsewhere_cannot_be_added_and_nothing_changes(fake_stack):
    prepare(fake_stack)
    fake_stack.openstack("server", "create", "--image", "img", "--flavor", "tiny",
                         "--network", "net1", "--wait", "vm1")
    fake_stack.openstack("server", "create", "--image", "img", "--flavor", "tiny",
                         "--network", "net1", "--wait", "vm2")
    vm1_port = interfaces_of(fake_stack, "vm1")[0]["ID"]
    before = fake_stack.openstack_json("server", "show", "vm2")["addresses"]
    with pytest.raises(CommandFailed) as refused:
        fake_stack.openstack("server", "add", "port", "vm2", vm1_port)
    assert "in use" in str(refused.value), refused.value
    assert fake_stack.openstack_json("server", "show", "vm2")["addresses"] == before
    vm1_id = fake_stack.openstack_json("server", "show", "vm1")["id"]
    assert fake_stack.openstack_json("port", "show", vm1_port)["device_id"] == vm1_id
    assert len(interfaces_of(fake_stack, "vm2")) == 1
    # The wire answer is Nova's 409 conflictingRequest.
    token, _ = fake_stack.issue_token()
    vm2_id = fake_stack.openstack_json("server", "show", "vm2")["id"]
    r = requests.post(f"{fake_stack.endpoint('compute')}/servers/{vm2_id}/os-interface",
                      headers={"X-Auth-Token": token},
                      json={"interfaceAttachment": {"port_id": vm1_port}}, timeout=30)
    assert r.status_code == 409, r.text
    assert r.json()["conflictingRequest"]["code"] == 409, r.text


def test_security_groups_are_added_to_and_removed_from_a_servers_ports(fake_stack):
    prepare(fake_stack)
    web = fake_stack.openstack_json("security", "group", "create", "web")["id"]
    fake_stack.openstack("server", "create", "--image", "img", "--flavor", "tiny",
                         "--network", "net1", "--network", "net1", "--wait", "vm1")

    def groups_shown() -> list[str]:
        shown = fake_stack.openstack_json("server", "show", "vm1")["security_groups"]
        return sorted(g["name"] for g in shown)

    def port_groups() -> list[set[str]]:
        return [set(fake_stack.openstack_json("port", "show", p["ID"])["security_group_ids"])
                for p in interfaces_of(fake_stack, "vm1")]

    assert groups_shown() == ["default"]
    fake_stack.openstack("server", "add", "security", "group", "vm1", "web")
    assert groups_shown() == ["default", "web"]
    assert all(web in groups for groups in port_groups()), port_groups()
    # A port attached now gets the server's groups, as Nova gives it the
    # instance's.
    fake_stack.openstack("server", "add", "network", "vm1", "net1")
    assert len(port_groups()) == 3 and all(web in g for g in port_groups()), port_groups()
    fake_stack.openstack("server", "remove", "security", "group", "vm1", "web")
    assert groups_shown() == ["default"]
    assert all(web not in groups for groups in port_groups()), port_groups()
    # Removing a group the server does not have, or adding one that does
    # not exist, is refused.
    with pytest.raises(CommandFailed) as refused:
        fake_stack.openstack("server", "remove", "security", "group", "vm1", "web")
    assert "not associated" in str(refused.value), refused.value
    with pytest.raises(CommandFailed):
        fake_stack.openstack("server", "add", "security", "group", "vm1", "nope")
    assert groups_shown() == ["default"]
