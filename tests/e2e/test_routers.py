"""Routers through `openstack`, as a project member drives Neutron's L3 API:
a gateway on the admin's external network, a subnet as interface, a static
route, the router's ports in `port list --router`, and the refusals."""

import json

import pytest

pytestmark = pytest.mark.cli

MEMBER, MEMBER_PW, PROJECT = "rita", "rita-pw", "routed"


@pytest.fixture
def member_env(stack) -> dict[str, str]:
    stack.openstack("project", "create", PROJECT)
    stack.openstack("user", "create", "--password", MEMBER_PW, MEMBER)
    stack.openstack("role", "add", "--project", PROJECT, "--user", MEMBER, "member")
    return stack.user_env(MEMBER, MEMBER_PW, PROJECT)


def as_dict(value):
    """A formatted column: a dict in JSON output, or its text in older clients."""
    if isinstance(value, str):
        return json.loads(value) if value.startswith("{") else value
    return value


def test_router_gateway_interface_route_and_delete(stack, member_env):
    # The admin's external network on physnet1.
    stack.openstack(
        "network", "create", "public", "--external", "--provider-network-type", "flat",
        "--provider-physical-network", "physnet1")
    stack.openstack(
        "subnet", "create", "public-subnet", "--network", "public",
        "--subnet-range", "172.24.4.0/24", "--no-dhcp")

    me = member_env
    stack.openstack("network", "create", "private", env=me)
    stack.openstack(
        "subnet", "create", "private-subnet", "--network", "private",
        "--subnet-range", "10.0.0.0/24", env=me)

    router = stack.openstack_json("router", "create", "r1", env=me)
    assert router["status"] == "ACTIVE"
    assert router["admin_state_up"] in (True, "UP")

    stack.openstack("router", "set", "--external-gateway", "public", "r1", env=me)
    shown = stack.openstack_json("router", "show", "r1", env=me)
    gateway = as_dict(shown["external_gateway_info"])
    assert gateway["enable_snat"] is True, gateway
    assert gateway["external_fixed_ips"][0]["ip_address"].startswith("172.24.4."), gateway

    # Turning SNAT off is an admin's choice.
    refused = stack.openstack(
        "router", "set", "--external-gateway", "public", "--disable-snat", "r1",
        env=me, check=False)
    assert refused.returncode != 0
    assert "disallowed by policy" in refused.stderr, refused.stderr

    stack.openstack("router", "add", "subnet", "r1", "private-subnet", env=me)
    ports = stack.openstack_json("port", "list", "--router", "r1", "--long", env=me)
    assert len(ports) == 1, ports  # the gateway port is no project's
    assert ports[0]["Device Owner"] == "network:router_interface", ports
    assert "10.0.0.1" in json.dumps(ports[0]["Fixed IP Addresses"]), ports
    admin_view = stack.openstack_json("port", "list", "--router", "r1", "--long")
    assert sorted(p["Device Owner"] for p in admin_view) == [
        "network:router_gateway", "network:router_interface"], admin_view

    stack.openstack(
        "router", "add", "route", "--route", "destination=10.9.0.0/16,gateway=10.0.0.9",
        "r1", env=me)
    routes = stack.openstack_json("router", "show", "r1", env=me)["routes"]
    assert "10.9.0.0/16" in json.dumps(routes), routes
    # A next hop on no connected subnet is refused.
    refused = stack.openstack(
        "router", "add", "route", "--route", "destination=10.8.0.0/16,gateway=192.168.1.1",
        "r1", env=me, check=False)
    assert refused.returncode != 0
    assert "not connected with router" in refused.stderr, refused.stderr

    # In use: the router while it has an interface, its port for `port delete`.
    refused = stack.openstack("router", "delete", "r1", env=me, check=False)
    assert refused.returncode != 0
    assert "still attached" in refused.stderr, refused.stderr
    refused = stack.openstack("port", "delete", ports[0]["ID"], env=me, check=False)
    assert refused.returncode != 0

    stack.openstack(
        "router", "remove", "route", "--route", "destination=10.9.0.0/16,gateway=10.0.0.9",
        "r1", env=me)
    stack.openstack("router", "remove", "subnet", "r1", "private-subnet", env=me)
    assert stack.openstack_json("port", "list", "--router", "r1", env=me) == []
    stack.openstack("router", "delete", "r1", env=me)
    assert stack.openstack_json("router", "list", env=me) == []
    # The gateway port went with the router.
    assert stack.openstack_json("port", "list", "--network", "public") == []
