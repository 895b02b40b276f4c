"""A guest on a second compute host reaches, and is reached from, the
outside through the router on the network host, over VXLAN (issue 13,
item 3).

Host A (`ferrostack allinone`: controller, compute host, network host:
DHCP and routers) and host B (`ferrostack agent`) are two namespaces on a
veth underlay (two_hosts.py); host A's physnet1 is a veth to the outside
namespace at 203.0.113.1 (outside.py), where the admin's external network
`public` lives. Host B has no external NIC at all: everything of its
guest's to and from the outside crosses the tenant network's VXLAN to the
router's namespace on host A.

The admin boots one guest with `--availability-zone nova:host-b`, checks
with `server show` that it landed there, and from outside: before a
floating IP, the guest's TCP connection is seen as the router's gateway
address (SNAT); with one, `ssh root@FLOATING hostname` answers with the
host key the guest printed on its console, and the guest pings the
outside and is seen as its floating IP. Needs root, QEMU and dnsmasq;
skips loudly otherwise.
"""

from __future__ import annotations

import subprocess
import time
import uuid

import pytest

from outside import Outside, cleanup_router_namespaces, make_public, plug_outside
from test_floating_ssh import (MARK, Cloud, boot, check_outbound, in_pool, pin_host_key,
                               seen_as_script, ssh_hostname, wait_active)
from test_network_guests import wait_console
from test_servers import guest_image  # noqa: F401  (fixture)
from two_hosts import two_host_cloud

pytestmark = [pytest.mark.servers, pytest.mark.network]

FIXED_IP = "10.0.0.30"


@pytest.fixture
def cloud_b(request, tmp_path):
    """A Cloud (test_floating_ssh) whose stack is host A, with host B's
    agent joined and the outside on host A's physnet1; yields (cloud, agent)."""
    ns_out = f"fs2h-o-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns_out], check=True)
    outside = Outside(ns_out, tmp_path)
    routers: list[str] = []
    try:
        subprocess.run(["ip", "-n", ns_out, "link", "set", "lo", "up"], check=True)
        with two_host_cloud(request, tmp_path, [],
                            a_args=["--physical-network", "physnet1:ex-cloud"],
                            prepare_a=lambda ns_a: plug_outside(ns_a, ns_out)) as (s, agent):
            try:
                make_public(s)
                yield Cloud(s, outside, tmp_path), agent
            finally:
                try:
                    routers = [r["ID"] for r in s.openstack_json("router", "list")]
                except Exception:  # noqa: BLE001 - cleanup goes on regardless
                    pass
                outside.stop()
    finally:
        outside.stop()
        cleanup_router_namespaces(routers)
        subprocess.run(["ip", "netns", "del", ns_out], check=False)


def late_lease_then(script: str) -> str:
    """`script` (a #!/bin/sh user data) after a second DHCP try: the image's
    init asks for ~3 s only, and host B's guest asks across the tunnel."""
    body = script.split("\n", 1)[1]
    return f"""#!/bin/sh
if ! ip -4 addr show dev eth0 | grep -q 'inet '; then
  udhcpc -i eth0 -n -q -t 30 -T 1 -s /usr/share/udhcpc/default.script >/dev/null 2>&1
  echo "{MARK} late lease" >/dev/console
fi
{body}"""


def test_guest_on_host_b_uses_the_router_on_host_a(cloud_b, guest_image):  # noqa: F811
    c, agent = cloud_b
    s = c.stack
    t0 = time.monotonic()
    s.openstack("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                "--file", str(guest_image), "guest")
    s.openstack("flavor", "create", "--vcpus", "1", "--ram", "256", "--disk", "1", "tiny")
    s.openstack("keypair", "create", "--public-key", f"{c.key}.pub", "userkey")
    net = s.openstack_json("network", "create", "net1")
    assert net["provider:network_type"] == "vxlan", net
    s.openstack("subnet", "create", "--network", "net1", "--subnet-range", "10.0.0.0/24", "sub1")
    s.openstack("router", "create", "r1")
    s.openstack("router", "set", "--external-gateway", "public", "r1")
    s.openstack("router", "add", "subnet", "r1", "sub1")
    router = s.openstack_json("router", "show", "r1")
    gateway_ip = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    s.openstack("security", "group", "create", "ssh-icmp")
    for rule in (["--protocol", "tcp", "--dst-port", "22"], ["--protocol", "icmp"]):
        s.openstack("security", "group", "rule", "create", "--ingress", *rule, "ssh-icmp")

    script = c.tmp / "vm-b.sh"
    script.write_text(late_lease_then(seen_as_script()))
    s.openstack("server", "create", "--image", "guest", "--flavor", "tiny", "--key-name",
                "userkey", "--nic", f"net-id={net['id']},v4-fixed-ip={FIXED_IP}",
                "--security-group", "ssh-icmp", "--availability-zone",
                f"nova:{agent.host_name}", "--user-data", str(script), "vm-b")
    vm = wait_active(s, "vm-b")
    assert vm["OS-EXT-SRV-ATTR:host"] == agent.host_name == "host-b", vm
    print(f"two hosts: vm-b ACTIVE on host-b {time.monotonic() - t0:.1f} s in")

    # No floating IP yet: the outside sees the guest as the router's
    # gateway address (SNAT on host A, reached over VXLAN).
    m, _ = wait_console(s, "vm-b", rf"{MARK} seen-as (\S+)", timeout=180)
    assert m.group(1) == gateway_ip, (
        f"the outside saw vm-b as {m.group(1)}, not the router's gateway {gateway_ip}")
    print(f"two hosts: SNAT seen from outside {time.monotonic() - t0:.1f} s in")

    fip = s.openstack_json("floating", "ip", "create", "public")
    address = fip["floating_ip_address"]
    assert in_pool(address), fip
    known = pin_host_key(s, "vm-b", address, c.tmp)
    t1 = time.monotonic()
    s.openstack("server", "add", "floating", "ip", "vm-b", address)
    reach = c.outside.wait_tcp(address, 22, timeout=60)
    print(f"two hosts: associate to first TCP connect from outside {reach * 1000:.0f} ms "
          f"(the API call included {time.monotonic() - t1:.2f} s)")
    assert ssh_hostname(c, address, known) == "vm-b"
    check_outbound(c, address, known, expect_source=address)
