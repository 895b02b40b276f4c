"""Real guests on a tenant network, driven by the unmodified `openstack`
client: DHCP hands each guest its port's address, a security group decides
whether they ping each other (a rule added lets ping through within
seconds, the rule deleted cuts it again), a kill -9 and restart of the
control plane and agent drops no ping, each guest reads its own metadata
at 169.254.169.254, and a guest that sends from another guest's address
reaches no one.

The whole cloud runs inside a network namespace of its own (its API on
that namespace's loopback; its bridges, taps, nftables tables and guests
inside), so nothing touches this machine's own network; the DHCP
namespaces and dnsmasq processes the agent makes are removed by the
fixture. Needs root, QEMU and dnsmasq; skips loudly otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import Stack
from test_servers import guest_image, prepare  # noqa: F401  (fixture)

pytestmark = [pytest.mark.servers, pytest.mark.network]

SUBNET = "10.50.0"
PINGER_IP = f"{SUBNET}.11"
TARGET_IP = f"{SUBNET}.12"
MARK = "ferrostack-test:"
# Where agents keep dnsmasq's files: network-<hash of the data dir>/dhcp/<network>
# (see crates/ferrostack/src/host_network.rs).
RUN_DIR = Path("/run/ferrostack")


def dhcp_state_path(data_dir: Path) -> Path:
    """Where an agent with `data_dir` keeps its DHCP files (the FNV-1a
    derivation of crates/ferrostack/src/host_network.rs)."""
    h = 0xCBF29CE484222325
    for b in os.fsencode(str(data_dir)):
        h ^= b
        h = (h * 0x100000001B3) % (1 << 64)
    return RUN_DIR / f"network-{h:016x}"


def need(program: str) -> None:
    if shutil.which(program) is None:
        pytest.skip(f"SKIP: {program} is not installed (the data plane needs it)")


@pytest.fixture
def net_stack(request, tmp_path):
    """An allinone with real QEMU guests and the real data plane, inside a
    network namespace of its own."""
    if os.geteuid() != 0:
        pytest.skip("SKIP: guests on networks need root (namespaces, bridges, taps)")
    for program in ("ip", "nft", "dnsmasq", "qemu-system-x86_64"):
        need(program)
    ns = f"fse2e-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
    s = Stack(tmp_path)
    s.netns = ns
    request.node._ferrostack_stack = s
    networks: list[str] = []
    try:
        s.start()
        yield s
        networks = [n["ID"] for n in s.openstack_json("network", "list")]
    finally:
        if not networks and s.proc is not None:
            try:
                networks = [n["ID"] for n in s.openstack_json("network", "list")]
            except Exception:  # noqa: BLE001 - cleanup goes on regardless
                pass
        s.stop()
        s.reap_vms()
        cleanup_dhcp(networks)
        shutil.rmtree(dhcp_state_path(s.data_dir), ignore_errors=True)
        subprocess.run(["ip", "netns", "del", ns], check=False)


def cleanup_dhcp(networks: list[str]) -> None:
    """End the dnsmasq processes the agent started for `networks` (by
    their pid files) and drop their namespaces' names."""
    for net in networks:
        for state in RUN_DIR.glob(f"network-*/dhcp/{net}"):
            try:
                os.kill(int((state / "pid").read_text().strip()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
            shutil.rmtree(state, ignore_errors=True)
        subprocess.run(["ip", "netns", "del", f"qdhcp-{net}"], check=False,
                       capture_output=True)


def pinger_script(target: str) -> str:
    """Reads its metadata, then pings `target` forever from one `ping`
    process (one ICMP id: one conntrack entry for the whole test, like a
    long-lived connection), printing each change of reachability: up on
    a reply, down when no reply came for a second."""
    return f"""#!/bin/sh
for i in 1 2 3; do
  md=$(timeout 10 wget -q -O - http://169.254.169.254/openstack/latest/meta_data.json) && [ -n "$md" ] && break
  sleep 1
done
echo "{MARK} metadata-uuid $(echo "$md" | tr -d '\\n' | sed -n 's/.*"uuid": *"\\([^"]*\\)".*/\\1/p')"
ping -i 0.2 {target} 2>&1 | (
  last=
  while :; do
    if read -t 1 l; then
      case "$l" in *"bytes from"*) s=up ;; *) continue ;; esac
    else
      s=down
    fi
    if [ "$s" != "$last" ]; then echo "{MARK} ping $s"; last=$s; fi
  done
) >/dev/console 2>&1 &
"""


def spoofer_script(own: str, other: str) -> str:
    """Takes another guest's address, tries the metadata service and a
    ping from it, then takes its own address back."""
    return f"""#!/bin/sh
ip addr flush dev eth0
ip addr add {other}/24 dev eth0
ip route add 169.254.169.254/32 via {SUBNET}.2 2>/dev/null
if timeout 5 wget -q -O - http://169.254.169.254/openstack/latest/meta_data.json >/tmp/md 2>/dev/null; then
  echo "{MARK} spoofed-metadata $(tr -d '\\n' </tmp/md | head -c 200)"
else
  echo "{MARK} spoofed-metadata none"
fi
if ping -c 2 -W 1 {SUBNET}.2 >/dev/null 2>&1; then echo "{MARK} spoofed-ping reached"; else echo "{MARK} spoofed-ping lost"; fi
ip addr flush dev eth0
ip addr add {own}/24 dev eth0
"""


def console(stack, name: str, env: dict[str, str] | None = None) -> str:
    return stack.openstack("console", "log", "show", name, env=env).stdout


def wait_console(stack, name: str, pattern: str, after: int = 0, timeout: float = 120,
                 env: dict[str, str] | None = None) -> tuple[re.Match, int]:
    """The first match of `pattern` on `name`'s console past offset `after`."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = console(stack, name, env)
        m = re.compile(pattern).search(text, after)
        if m:
            return m, m.end()
        time.sleep(0.5)
    raise AssertionError(f"{pattern!r} never appeared on {name}'s console:\n{text[-3000:]}")


def wait_console_as(stack, env, name: str, pattern: str) -> tuple[re.Match, int]:
    return wait_console(stack, name, pattern, env=env)


def boot(stack, name: str, net_id: str, ip: str, script: str, tmp: Path, group: str) -> dict:
    user_data = tmp / f"{name}.sh"
    user_data.write_text(script)
    return stack.openstack_json(
        "server", "create", "--image", "guest", "--flavor", "tiny", "--key-name", "mykey",
        "--nic", f"net-id={net_id},v4-fixed-ip={ip}", "--security-group", group,
        "--user-data", str(user_data), "--wait", name)


def test_guests_get_dhcp_metadata_and_security_groups_decide_ping(net_stack, guest_image, tmp_path):
    s = net_stack
    prepare(s, guest_image)
    s.openstack("network", "create", "net1")
    net_id = s.openstack_json("network", "show", "net1")["id"]
    s.openstack("subnet", "create", "--network", "net1", "--subnet-range", f"{SUBNET}.0/24",
                "--dns-nameserver", f"{SUBNET}.1", "sub1")
    # A group with no ingress rule: nothing reaches its guests.
    s.openstack("security", "group", "create", "web")

    target = boot(s, "target", net_id, TARGET_IP, "#!/bin/sh\ntrue\n", tmp_path, "web")
    pinger = boot(s, "pinger", net_id, PINGER_IP, pinger_script(TARGET_IP), tmp_path, "web")
    assert target["status"] == pinger["status"] == "ACTIVE"
    wait_console(s, "target", rf"ferrostack-guest: eth0 {re.escape(TARGET_IP)}/24")
    wait_console(s, "pinger", rf"ferrostack-guest: eth0 {re.escape(PINGER_IP)}/24")
    m, _ = wait_console(s, "pinger", rf"{MARK} metadata-uuid (\S*)")
    assert m.group(1) == pinger["id"], (
        f"the pinger read {m.group(1)!r} as its own id:\n{console(s, 'pinger')[-2500:]}")
    port = s.openstack_json("port", "list", "--server", "pinger")[0]
    assert port["Status"] == "ACTIVE", port

    # No ICMP rule: ping fails.
    _, pos = wait_console(s, "pinger", rf"{MARK} ping down")
    # Allowing ICMP lets it through within seconds (the guest pings every
    # ~0.2 s, under TCG).
    rule = s.openstack_json("security", "group", "rule", "create", "--ingress",
                            "--protocol", "icmp", "web")
    t0 = time.monotonic()
    _, pos = wait_console(s, "pinger", rf"{MARK} ping up", after=pos, timeout=30)
    print(f"ping allowed {time.monotonic() - t0:.1f} s after the rule was created")
    # kill -9 of the whole control plane and its agent, then a restart:
    # the guests, their wiring and their rules are left as they are (the
    # kernel carries the traffic), so the ping never goes down, and the
    # restarted agent adopts all of it.
    s.kill()
    time.sleep(2)
    s.start()
    time.sleep(5)
    text = console(s, "pinger")
    assert f"{MARK} ping down" not in text[pos:], f"ping went down across the restart:\n{text[pos:]}"
    assert s.openstack_json("server", "show", "pinger")["status"] == "ACTIVE"
    # Deleting the rule cuts it again, though the ping is one long-lived
    # flow that conntrack holds as established.
    s.openstack("security", "group", "rule", "delete", rule["id"])
    t0 = time.monotonic()
    wait_console(s, "pinger", rf"{MARK} ping down", after=pos, timeout=30)
    print(f"ping cut {time.monotonic() - t0:.1f} s after the rule was deleted")

    # A guest that sends from another guest's address reaches no one and
    # gets no metadata.
    spoofer = boot(s, "spoofer", net_id, f"{SUBNET}.13", spoofer_script(f"{SUBNET}.13", PINGER_IP),
                   tmp_path, "default")
    assert spoofer["status"] == "ACTIVE"
    m, _ = wait_console(s, "spoofer", rf"{MARK} spoofed-metadata (.*)")
    assert m.group(1).strip() == "none", f"a spoofed source read metadata: {m.group(1)}"
    m, _ = wait_console(s, "spoofer", rf"{MARK} spoofed-ping (\S+)")
    assert m.group(1) == "lost"

    # Another project with the same CIDR and the same address as the
    # pinger: its guest gets its lease from its own network and reads its
    # own metadata, not the pinger's.
    s.openstack("image", "set", "--public", "guest")
    s.openstack("project", "create", "other")
    s.openstack("user", "create", "--project", "other", "--password", "other-pw", "other-user")
    s.openstack("role", "add", "--project", "other", "--user", "other-user", "member")
    other = s.user_env("other-user", "other-pw", "other")
    s.openstack("network", "create", "net1", env=other)
    other_net = s.openstack_json("network", "show", "net1", env=other)["id"]
    assert other_net != net_id
    s.openstack("subnet", "create", "--network", other_net, "--subnet-range", f"{SUBNET}.0/24",
                "sub1", env=other)
    script = tmp_path / "twin.sh"
    script.write_text(pinger_script(f"{SUBNET}.2"))
    twin = s.openstack_json(
        "server", "create", "--image", "guest", "--flavor", "tiny",
        "--nic", f"net-id={other_net},v4-fixed-ip={PINGER_IP}", "--user-data", str(script),
        "--wait", "twin", env=other)
    m, _ = wait_console_as(s, other, "twin", rf"{MARK} metadata-uuid (\S*)")
    assert m.group(1) == twin["id"], f"the twin read {m.group(1)!r}, not its own id"
    wait_console_as(s, other, "twin", rf"{MARK} ping up")

    # Deleting a server removes its port and its tap.
    target_tap = "tap" + s.openstack_json("port", "list", "--server", "target")[0]["ID"][:11]
    assert target_tap in links_of(s)
    s.openstack("server", "delete", "--wait", "target")
    assert s.openstack_json("port", "list", "--device-id", target["id"]) == []
    deadline = time.monotonic() + 20
    while target_tap in links_of(s) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert target_tap not in links_of(s)


def links_of(stack) -> str:
    return subprocess.run(["ip", "-n", stack.netns, "-o", "link"], capture_output=True,
                          text=True, check=True).stdout


def nic_watcher_script() -> str:
    """Waits for a second NIC, asks DHCP for its address, prints its MAC
    and address, then prints when the NIC is gone."""
    return f"""#!/bin/sh
(
  while [ ! -e /sys/class/net/eth1 ]; do sleep 0.2; done
  ip link set eth1 up
  if udhcpc -i eth1 -t 5 -T 1 -A 1 -n -q -f -s /usr/share/udhcpc/default.script >/tmp/udhcpc1.log 2>&1; then
    echo "{MARK} eth1 $(cat /sys/class/net/eth1/address) $(ip -4 -o addr show dev eth1 | awk '{{print $4}}' | head -n 1)"
  else
    echo "{MARK} eth1 $(cat /sys/class/net/eth1/address) no-lease"
  fi
  while [ -e /sys/class/net/eth1 ]; do sleep 0.2; done
  echo "{MARK} eth1 gone"
) >/dev/console 2>&1 &
"""


def test_a_network_added_to_a_running_guest_is_a_nic_it_gets_a_lease_on(
        net_stack, guest_image, tmp_path):
    s = net_stack
    prepare(s, guest_image)
    s.openstack("network", "create", "neta")
    net_a = s.openstack_json("network", "show", "neta")["id"]
    s.openstack("subnet", "create", "--network", "neta", "--subnet-range", f"{SUBNET}.0/24",
                "suba")
    s.openstack("network", "create", "netb")
    s.openstack("subnet", "create", "--network", "netb", "--subnet-range", "10.60.0.0/24",
                "--gateway", "none", "subb")
    vm = boot(s, "vm", net_a, PINGER_IP, nic_watcher_script(), tmp_path, "default")
    assert vm["status"] == "ACTIVE"
    _, pos = wait_console(s, "vm", r"ferrostack-guest: user-data exit")

    t0 = time.monotonic()
    s.openstack("server", "add", "network", "vm", "netb")
    port = next(p for p in s.openstack_json("port", "list", "--server", "vm", "--network", "netb"))
    port = s.openstack_json("port", "show", port["ID"])
    m, pos = wait_console(s, "vm", rf"{MARK} eth1 (\S+) (\S+)", after=pos, timeout=60)
    print(f"the guest had a lease on its new NIC {time.monotonic() - t0:.1f} s after the add")
    assert m.group(1) == port["mac_address"], (m.group(0), port["mac_address"])
    assert m.group(2) == f"{port['fixed_ips'][0]['ip_address']}/24", (m.group(0), port["fixed_ips"])
    assert s.openstack_json("server", "show", "vm")["addresses"]["netb"] == [
        port["fixed_ips"][0]["ip_address"]]

    t0 = time.monotonic()
    s.openstack("server", "remove", "network", "vm", "netb")
    wait_console(s, "vm", rf"{MARK} eth1 gone", after=pos, timeout=60)
    print(f"the NIC left the guest {time.monotonic() - t0:.1f} s after the remove")
    assert s.openstack_json("port", "list", "--network", "netb", "--device-owner",
                            "compute:nova") == []
    tap = "tap" + port["id"][:11]
    deadline = time.monotonic() + 20
    while tap in links_of(s) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert tap not in links_of(s), "the detached port's tap is removed from the host"
    assert s.openstack_json("server", "show", "vm")["status"] == "ACTIVE"
