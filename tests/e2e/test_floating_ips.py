"""Floating IPs through the unmodified `openstack` client: create from an
external network, list, associate to a server and to a port, disassociate,
delete. The router is two ports with the router owners, as the router
service makes them (its API is another piece of work); the host runs the
fake hypervisor (the control plane is under test).
"""

from __future__ import annotations

import json

import pytest

from test_server_networks import ports_of, prepare
from test_servers import fake_stack, wait_for  # noqa: F401  (fixture)

pytestmark = [pytest.mark.servers, pytest.mark.cli]

ROUTER = "5b1f1bd2-64f7-4a8a-9d0d-2f3b1a7c0e11"


def external_and_router(stack) -> None:
    stack.openstack("network", "create", "public", "--external")
    stack.openstack("subnet", "create", "--network", "public", "--no-dhcp",
                    "--subnet-range", "203.0.113.0/24", "public-sub")
    stack.openstack("port", "create", "--network", "net1", "--device-owner",
                    "network:router_interface", "--device", ROUTER,
                    "--fixed-ip", "subnet=sub1,ip-address=10.20.0.1", "router-if")
    stack.openstack("port", "create", "--network", "public", "--device-owner",
                    "network:router_gateway", "--device", ROUTER, "router-gw")


def test_floating_ip_create_associate_disassociate_delete(fake_stack):
    stack = fake_stack
    prepare(stack)
    external_and_router(stack)
    stack.openstack("server", "create", "--image", "img", "--flavor", "tiny",
                    "--network", "net1", "vm1")
    vm = wait_for(stack, "vm1", "ACTIVE")
    port = ports_of(stack, vm["id"])[0]

    fip = stack.openstack_json("floating", "ip", "create", "public")
    address = fip["floating_ip_address"]
    assert address.startswith("203.0.113."), fip
    assert fip["status"] == "DOWN"
    listed = stack.openstack_json("floating", "ip", "list")
    assert [row["Floating IP Address"] for row in listed] == [address]

    # `server add floating ip` finds the server's port by device id.
    stack.openstack("server", "add", "floating", "ip", "vm1", address)
    shown = stack.openstack_json("floating", "ip", "show", address)
    assert shown["port_id"] == port["ID"]
    assert shown["fixed_ip_address"] == port["Fixed IP Addresses"][0]["ip_address"]
    assert shown["router_id"] == ROUTER
    assert shown["status"] == "ACTIVE"
    # Nova shows it with the server's addresses.
    assert address in json.dumps(stack.openstack_json("server", "show", "vm1")["addresses"])

    stack.openstack("server", "remove", "floating", "ip", "vm1", address)
    shown = stack.openstack_json("floating", "ip", "show", address)
    assert shown["port_id"] is None and shown["router_id"] is None
    assert address not in json.dumps(stack.openstack_json("server", "show", "vm1")["addresses"])

    stack.openstack("floating", "ip", "set", "--port", port["ID"], address)
    assert stack.openstack_json("floating", "ip", "show", address)["port_id"] == port["ID"]
    stack.openstack("floating", "ip", "unset", "--port", address)
    assert stack.openstack_json("floating", "ip", "show", address)["port_id"] is None

    stack.openstack("floating", "ip", "delete", address)
    assert stack.openstack_json("floating", "ip", "list") == []


def test_a_port_without_a_router_cannot_have_a_floating_ip(fake_stack):
    stack = fake_stack
    prepare(stack)
    stack.openstack("network", "create", "public", "--external")
    stack.openstack("subnet", "create", "--network", "public", "--no-dhcp",
                    "--subnet-range", "203.0.113.0/24", "public-sub")
    stack.openstack("port", "create", "--network", "net1", "p1")
    fip = stack.openstack_json("floating", "ip", "create", "public")
    failed = stack.openstack("floating", "ip", "set", "--port", "p1",
                             fip["floating_ip_address"], check=False)
    assert failed.returncode != 0
    assert "is not reachable from subnet" in failed.stderr, failed.stderr
