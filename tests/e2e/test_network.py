"""Networks, subnets and ports through `openstack`, as a user drives Neutron."""

import pytest

pytestmark = pytest.mark.cli


def test_network_subnet_port_lifecycle(stack):
    net = stack.openstack_json("network", "create", "private")
    assert net["name"] == "private"
    assert net["status"] == "ACTIVE"
    assert net["mtu"] == 1450
    assert net["provider:network_type"] == "vxlan"

    subnet = stack.openstack_json(
        "subnet", "create", "private-subnet", "--network", "private",
        "--subnet-range", "10.0.0.0/24", "--dns-nameserver", "8.8.8.8")
    assert subnet["cidr"] == "10.0.0.0/24"
    assert subnet["gateway_ip"] == "10.0.0.1"
    assert subnet["dns_nameservers"] == ["8.8.8.8"]

    port = stack.openstack_json(
        "port", "create", "p1", "--network", "private",
        "--fixed-ip", "subnet=private-subnet,ip-address=10.0.0.50")
    assert port["fixed_ips"] == [{"subnet_id": subnet["id"], "ip_address": "10.0.0.50"}]
    assert port["mac_address"].startswith("fa:16:3e:")

    names = [row["Name"] for row in stack.openstack_json("network", "list")]
    assert names == ["private"]
    ports = stack.openstack_json("port", "list", "--network", "private")
    owners = sorted(p["Name"] for p in ports)
    assert owners == ["", "p1"], ports  # ours and the DHCP port

    shown = stack.openstack_json("port", "show", "p1")
    assert shown["id"] == port["id"]
    assert shown["binding_vif_type"] == "unbound"

    # The address is taken: Neutron's 409, and no port is created.
    failed = stack.openstack(
        "port", "create", "p2", "--network", "private",
        "--fixed-ip", "ip-address=10.0.0.50", check=False)
    assert failed.returncode != 0
    assert "already allocated" in failed.stderr, failed.stderr
    assert len(stack.openstack_json("port", "list", "--network", "private")) == 2

    # A network with a port is in use.
    failed = stack.openstack("network", "delete", "private", check=False)
    assert failed.returncode != 0
    stack.openstack("port", "delete", "p1")
    stack.openstack("subnet", "delete", "private-subnet")
    stack.openstack("network", "delete", "private")
    assert stack.openstack_json("network", "list") == []


def test_bad_subnet_input_answers_neutrons_errors(stack):
    stack.openstack("network", "create", "n1")
    failed = stack.openstack(
        "subnet", "create", "s1", "--network", "n1", "--subnet-range", "10.0.0.0/24",
        "--gateway", "10.1.0.1", check=False)
    assert failed.returncode != 0
    failed = stack.openstack(
        "subnet", "create", "s1", "--network", "n1", "--subnet-range", "10.0.0.0/24",
        "--allocation-pool", "start=10.0.0.10,end=10.0.0.20",
        "--allocation-pool", "start=10.0.0.15,end=10.0.0.30", check=False)
    assert failed.returncode != 0
    assert "overlapping" in failed.stderr.lower(), failed.stderr
    assert stack.openstack_json("subnet", "list") == []


def test_quota_show_counts_networks_subnets_and_ports(stack):
    stack.openstack("network", "create", "n1")
    stack.openstack("subnet", "create", "s1", "--network", "n1",
                    "--subnet-range", "10.0.0.0/24", "--no-dhcp")
    stack.openstack("port", "create", "p1", "--network", "n1")
    rows = stack.openstack_json("quota", "show", "--usage", "admin")
    usage = {row["Resource"]: row for row in rows}
    assert usage["networks"]["In Use"] == 1, rows
    assert usage["subnets"]["In Use"] == 1, rows
    assert usage["ports"]["In Use"] == 1, rows


def test_admin_creates_an_external_flat_network_for_a_project(stack):
    project = stack.openstack_json("project", "create", "demo")
    net = stack.openstack_json(
        "network", "create", "ext", "--external", "--provider-network-type", "flat",
        "--provider-physical-network", "physnet1", "--project", project["id"])
    assert net["router:external"] in (True, "External")
    assert net["provider:network_type"] == "flat"
    assert net["project_id"] == project["id"]
    assert net["mtu"] == 1500


def test_set_tags_ipv6_and_ip_availability(stack):
    stack.openstack("network", "create", "n1", "--tag", "blue")
    stack.openstack("network", "set", "--name", "n2", "--tag", "red", "n1")
    net = stack.openstack_json("network", "show", "n2")
    assert sorted(net["tags"]) == ["blue", "red"]
    assert net["revision_number"] >= 2
    assert [n["Name"] for n in stack.openstack_json("network", "list", "--tags", "red")] == ["n2"]
    assert stack.openstack_json("network", "list", "--not-tags", "red") == []

    v6 = stack.openstack_json(
        "subnet", "create", "v6", "--network", "n2", "--ip-version", "6",
        "--subnet-range", "2001:db8::/64", "--ipv6-ra-mode", "slaac",
        "--ipv6-address-mode", "slaac")
    assert v6["gateway_ip"] == "2001:db8::1"
    stack.openstack("subnet", "create", "v4", "--network", "n2",
                    "--subnet-range", "192.168.5.0/29")
    stack.openstack("subnet", "set", "--no-dhcp", "v4")
    assert stack.openstack_json("subnet", "show", "v4")["enable_dhcp"] is False

    port = stack.openstack_json("port", "create", "p1", "--network", "n2",
                                "--mac-address", "fa:16:3e:00:00:01")
    addresses = sorted(ip["ip_address"] for ip in port["fixed_ips"])
    assert addresses == ["192.168.5.2", "2001:db8::f816:3eff:fe00:1"], port
    stack.openstack("port", "set", "--name", "p2", "p1")
    assert stack.openstack_json("port", "show", "p2")["name"] == "p2"

    availability = stack.openstack_json("ip", "availability", "show", "n2")
    per_subnet = {s["cidr"]: s for s in availability["subnet_ip_availability"]}
    assert per_subnet["192.168.5.0/29"]["total_ips"] == 5
    assert per_subnet["192.168.5.0/29"]["used_ips"] == 1
