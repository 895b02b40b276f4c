"""The answer file's ML2 settings take effect: `allinone --answer-file`
(what `ferrostack deploy` starts on the controller) makes project networks
of CONFIG_NEUTRON_ML2_TENANT_NETWORK_TYPES with segmentation ids from the
configured ranges, seen through `openstack network show` as admin."""

import shutil
import subprocess

import pytest

pytestmark = pytest.mark.cli

# The hosts are this machine; only the networking keys matter to allinone.
HEAD = """[general]
CONFIG_CONTROLLER_HOST=127.0.0.1
CONFIG_COMPUTE_HOSTS=127.0.0.1
CONFIG_NETWORK_HOSTS=127.0.0.1
CONFIG_KEYSTONE_ADMIN_PW=redacted-by-ferrostack-deploy
"""


def stack_with(request, tmp_path, networking: str):
    from conftest import Stack
    answer = tmp_path / "answer.ini"
    answer.write_text(HEAD + networking)
    s = Stack(tmp_path)
    s.hypervisor = "fake"
    s.extra_args = ["--answer-file", str(answer)]
    request.node._ferrostack_stack = s
    return s


@pytest.fixture
def vxlan_stack(request, tmp_path):
    s = stack_with(request, tmp_path, (
        "CONFIG_NEUTRON_ML2_TYPE_DRIVERS=vxlan,flat\n"
        "CONFIG_NEUTRON_ML2_TENANT_NETWORK_TYPES=vxlan\n"
        "CONFIG_NEUTRON_ML2_VNI_RANGES=5000:5009\n"
        "CONFIG_NEUTRON_ML2_VXLAN_GROUP=239.1.1.5\n"))
    try:
        s.start()
        yield s
    finally:
        s.stop()


@pytest.fixture
def vlan_stack(request, tmp_path):
    s = stack_with(request, tmp_path, (
        "CONFIG_NEUTRON_ML2_TYPE_DRIVERS=vlan,flat\n"
        "CONFIG_NEUTRON_ML2_TENANT_NETWORK_TYPES=vlan\n"
        "CONFIG_NEUTRON_ML2_VLAN_RANGES=physnet1:100:101\n"
        "CONFIG_NEUTRON_ML2_FLAT_NETWORKS=physnet1\n"
        "CONFIG_NEUTRON_OVS_BRIDGE_MAPPINGS=physnet1:br-ex\n"
        "CONFIG_NEUTRON_OVS_BRIDGE_IFACES=br-ex:eth0\n"))
    try:
        s.start()
        yield s
    finally:
        s.stop()


def test_a_project_network_takes_a_vni_from_the_configured_range(vxlan_stack):
    vxlan_stack.openstack("network", "create", "n")
    shown = vxlan_stack.openstack_json(
        "network", "show", "n", "-c", "provider:network_type", "-c", "provider:segmentation_id")
    assert shown["provider:network_type"] == "vxlan"
    assert 5000 <= shown["provider:segmentation_id"] <= 5009, shown
    # GRE is not among the type drivers: an admin cannot ask for it.
    refused = vxlan_stack.openstack(
        "network", "create", "g", "--provider-network-type", "gre", check=False)
    assert refused.returncode != 0


def test_vlan_project_networks_use_the_physnets_range_until_it_is_spent(vlan_stack):
    ids = set()
    for name in ("a", "b"):
        vlan_stack.openstack("network", "create", name)
        shown = vlan_stack.openstack_json("network", "show", name)
        assert shown["provider:network_type"] == "vlan"
        assert shown["provider:physical_network"] == "physnet1"
        ids.add(shown["provider:segmentation_id"])
    assert ids == {100, 101}
    spent = vlan_stack.openstack("network", "create", "c", check=False)
    assert spent.returncode != 0


def test_a_bad_answer_file_stops_allinone_naming_the_key(request, tmp_path):
    s = stack_with(request, tmp_path, "CONFIG_NEUTRON_ML2_VNI_RANGES=20:10\n")
    try:
        proc = subprocess.run(s.argv(), capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree(s.instances_dir, ignore_errors=True)
    assert proc.returncode != 0
    assert "CONFIG_NEUTRON_ML2_VNI_RANGES" in proc.stderr, proc.stderr
