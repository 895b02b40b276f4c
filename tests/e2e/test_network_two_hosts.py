"""One VXLAN tenant network across two compute hosts, real guests on both.

Host A (`ferrostack allinone`, which also serves DHCP) and host B
(`ferrostack agent`) are two network namespaces on a veth underlay
(`two_hosts.py`).

The `openstack` client makes a VXLAN network, a subnet and a security
group allowing ICMP, and boots one guest on each host (admin's
`--availability-zone nova:<host>`). The guest on B gets its lease from A's
dnsmasq across VXLAN; each guest then pings the other across hosts and
says so on its console. `ferrostack net show` on both hosts shows the
VXLAN device with its VNI and its peer (unicast, head-end replication)
or its group (multicast), and each guest's tap with its server.

Its text output is written to the test's tmp dir, printed (`-s`), and
appended to $FERROSTACK_NET_SHOW_OUT when that is set. Needs root, QEMU
and dnsmasq; skips loudly otherwise. Everything it makes (namespaces,
processes, /run/ferrostack/network-* state) is removed afterwards.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Stack, ferrostack_bin
from test_network_guests import console
from test_servers import guest_image  # noqa: F401  (fixture)
from two_hosts import A_IP, B_IP, two_host_cloud

pytestmark = [pytest.mark.servers, pytest.mark.network]

SUBNET = "10.60.0"
GUEST_A = f"{SUBNET}.11"
GUEST_B = f"{SUBNET}.12"
GROUP = "239.1.1.5"
MARK = "ferrostack-test:"


@pytest.fixture(params=["unicast", "multicast"])
def two_hosts(request, tmp_path):
    """(controller stack on host A, agent on host B, mode)."""
    mode = request.param
    group = ["--vxlan-group", GROUP] if mode == "multicast" else []
    with two_host_cloud(request, tmp_path, group) as (s, agent):
        yield s, agent, mode


def pinger_script(target: str) -> str:
    """Pings `target` until it answers, then with a full-size packet for
    the network's MTU (1422 bytes of ICMP data: a 1450-byte IP packet,
    1500 on the underlay once wrapped in VXLAN), reporting each once on
    the console with the MTU eth0 got from DHCP."""
    return f"""#!/bin/sh
# The image's init tries DHCP for ~3 s only; a real guest's client keeps
# trying. If that window missed the server, ask again (and say so).
if ! ip -4 addr show dev eth0 | grep -q 'inet '; then
  udhcpc -i eth0 -n -q -t 30 -T 1 -s /usr/share/udhcpc/default.script >/dev/null 2>&1
  echo "{MARK} late lease $(ip -4 addr show dev eth0 | sed -n 's/.*inet \\([0-9./]*\\).*/\\1/p')"
fi
(
  i=0
  while [ $i -lt 300 ]; do
    if ping -c 1 -W 1 {target} >/dev/null 2>&1; then echo "{MARK} ping up {target}"; break; fi
    i=$((i+1)); sleep 0.2
  done
  big=down
  for i in 1 2 3 4 5 6 7 8 9 10; do
    if ping -c 1 -W 1 -s 1422 {target} >/dev/null 2>&1; then big=up; break; fi
  done
  echo "{MARK} full-size ping $big mtu $(cat /sys/class/net/eth0/mtu)"
) >/dev/console 2>&1 &
"""


def boot(s: Stack, name: str, host: str, net_id: str, ip: str, target: str, tmp: Path) -> None:
    user_data = tmp / f"{name}.sh"
    user_data.write_text(pinger_script(target))
    s.openstack("server", "create", "--image", "guest", "--flavor", "tiny",
                "--nic", f"net-id={net_id},v4-fixed-ip={ip}", "--security-group", "pingable",
                "--availability-zone", f"nova:{host}", "--user-data", str(user_data), name)


def wait_active(s: Stack, names: list[str], timeout: float = 120) -> dict[str, dict]:
    """Until every server in `names` is ACTIVE (one listing per poll)."""
    deadline = time.monotonic() + timeout
    rows: dict[str, dict] = {}
    while time.monotonic() < deadline:
        rows = {r["Name"]: r for r in s.openstack_json("server", "list", "--long")}
        for name in names:
            if rows.get(name, {}).get("Status") == "ERROR":
                raise AssertionError(f"{name} went to ERROR: {s.openstack_json('server', 'show', name)}")
        if all(rows.get(n, {}).get("Status") == "ACTIVE" for n in names):
            return rows
        time.sleep(0.5)
    raise AssertionError(f"not all of {names} became ACTIVE: {rows}")


def wait_guests(s: Stack, want: dict[str, tuple[str, str]], timeout: float = 120) -> None:
    """Until each guest's console shows its lease (`ip`/24), that it
    pinged `target`, and with a full-size packet at MTU 1450; a guest
    without a lease fails at once."""
    deadline = time.monotonic() + timeout
    pending = dict(want)
    text = ""
    while pending and time.monotonic() < deadline:
        for name, (ip, target) in list(pending.items()):
            text = console(s, name)
            lease = re.search(r"ferrostack-guest: eth0 (\S+)", text)
            if lease and lease.group(1) == "no-lease":
                lease = re.search(rf"{MARK} late lease (\S*)", text)
                if lease:
                    print(f"{name}: no lease in the image's 3 s window; a later DHCP request got one")
            if lease:
                assert lease.group(1) == f"{ip}/24", f"{name}: {lease.group(0)}\n{text[-2500:]}"
            if lease and f"{MARK} ping up {target}" in text and f"{MARK} full-size" in text:
                assert f"{MARK} full-size ping up mtu 1450" in text, text[-2500:]
                del pending[name]
        if pending:
            time.sleep(0.5)
    assert not pending, f"{list(pending)} never pinged across hosts; last console:\n{text[-2500:]}"


def net_show(ns: str, data_dir: Path) -> str:
    proc = subprocess.run([str(ferrostack_bin()), "net", "show", "--netns", ns,
                           "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, f"net show failed ({proc.returncode}):\n{proc.stderr}"
    return proc.stdout


def test_guests_on_two_hosts_get_leases_and_ping_across_vxlan(two_hosts, guest_image, tmp_path):
    s, agent, mode = two_hosts
    t0 = time.monotonic()
    s.openstack("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                "--file", str(guest_image), "guest")
    s.openstack("flavor", "create", "--vcpus", "1", "--ram", "256", "--disk", "1", "tiny")
    net = s.openstack_json("network", "create", "span")
    assert net["provider:network_type"] == "vxlan", net
    vni = net["provider:segmentation_id"]
    assert net["mtu"] == 1450, f"VXLAN over a 1500 underlay leaves 1450: {net['mtu']}"
    s.openstack("subnet", "create", "--network", "span", "--subnet-range", f"{SUBNET}.0/24",
                "span-v4")
    s.openstack("security", "group", "create", "pingable")
    s.openstack("security", "group", "rule", "create", "--ingress", "--protocol", "icmp",
                "pingable")

    boot(s, "vm-a", "host-a", net["id"], GUEST_A, GUEST_B, tmp_path)
    boot(s, "vm-b", agent.host_name, net["id"], GUEST_B, GUEST_A, tmp_path)
    rows = wait_active(s, ["vm-a", "vm-b"])
    assert (rows["vm-a"]["Host"], rows["vm-b"]["Host"]) == ("host-a", "host-b"), rows
    print(f"[{mode}] both ACTIVE {time.monotonic() - t0:.1f} s in")

    # Both leases come from host A's dnsmasq (vm-b's across the tunnel),
    # and each guest reaches the other across hosts.
    wait_guests(s, {"vm-a": (GUEST_A, GUEST_B), "vm-b": (GUEST_B, GUEST_A)})
    print(f"[{mode}] leases and ping across hosts {time.monotonic() - t0:.1f} s in")
    ports = {p["Fixed IP Addresses"][0]["ip_address"]: p
             for p in s.openstack_json("port", "list", "--network", "span")}
    for ip in (GUEST_A, GUEST_B):
        assert ports[ip]["Status"] == "ACTIVE", ports[ip]

    # Host A's DHCP server is there (an agent of an older build on the same
    # machine may delete every qdhcp- namespace it sees; ours makes it
    # again at its next resync, so poll briefly).
    deadline = time.monotonic() + 30
    show_a = net_show(s.netns, s.data_dir)
    while "DHCP qdhcp-" not in show_a and time.monotonic() < deadline:
        time.sleep(1)
        show_a = net_show(s.netns, s.data_dir)
    shows = {"host-a": show_a, "host-b": net_show(agent.netns, agent.data_dir)}
    text = "".join(f"$ ferrostack net show --netns {ns} --data-dir {d}   # {h}, {mode}\n{shows[h]}\n"
                   for h, ns, d in (("host-a", s.netns, s.data_dir),
                                    ("host-b", agent.netns, agent.data_dir)))
    (tmp_path / f"net-show-{mode}.txt").write_text(text)
    print(text)
    if os.environ.get("FERROSTACK_NET_SHOW_OUT"):
        with open(os.environ["FERROSTACK_NET_SHOW_OUT"], "a") as out:
            out.write(text)
    for host, local, peer, ip, vm in (("host-a", A_IP, B_IP, GUEST_A, rows["vm-a"]),
                                      ("host-b", B_IP, A_IP, GUEST_B, rows["vm-b"])):
        show = shows[host]
        assert f"Uplink vxlan-{vni}" in show, show
        assert re.search(rf"type: vxlan, vni: {vni}, local: {re.escape(local)}, dev: ul-", show), show
        if mode == "multicast":
            assert f"group: {GROUP}" in show, show
        else:
            assert f"peers: [{peer}]" in show, show
        tap = "tap" + ports[ip]["ID"][:11]
        assert re.search(rf"Port {tap}\n\s+port_id: \S+\n\s+instance: {vm['ID']}", show), show
    assert "DHCP qdhcp-" in shows["host-a"] and "DHCP: none on this host" in shows["host-b"]
