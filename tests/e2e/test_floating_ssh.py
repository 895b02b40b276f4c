"""A user reaches their server over SSH from outside the cloud, with the
key pair they gave Nova: the first thing every OpenStack user does after
booting a server (issue 13, item 3).

One cloud for the module (outside.py: allinone in a namespace, the `public`
flat external network on a veth to an "outside" namespace at 203.0.113.1),
and at most two real guests at a time:

- `test_direct_ssh_...`: a server booted directly on `public` (no router
  needed). From outside, `ssh -i KEY root@ADDRESS hostname` prints the
  hostname the metadata gave, with the host key the guest printed on its
  console; another key is refused; the guest pings the outside and the
  outside sees its own address; without the security group's tcp/22 rule
  the connection times out. This proves the guest's sshd, the key pair's
  way through the config drive, and the external bridge mapping.
- `test_floating_ip_...`: the full flow through a router: tenant network,
  router with gateway `public`, two servers, a floating IP associated,
  disassociated, associated to the other server, with times printed; a
  guest without a floating IP is seen outside as the router's gateway
  address (SNAT), one with a floating IP as that address.
- `test_two_projects_...`: two projects of their own (a member user
  each), both on 10.0.0.0/24 behind their own router (both at 10.0.0.1)
  with a floating IP each: each floating IP leads to its project's guest,
  each guest's 10.0.0.1 is its own router, neither guest reaches the
  other. Overlapping CIDRs are what router namespaces are for.
- `test_established_ssh_...`: an SSH session through a floating IP keeps
  printing while allinone (with its in-process agent) is SIGKILLed and
  restarted; the router's namespace and nft table are the same ones after.
- The same through a router on another host: test_floating_two_hosts.py.

How a guest is seen from outside: a small TCP service on the outside
machine (203.0.113.1:8080, HTTP for busybox `wget`) answers and logs the
source address of each connection.

There is no DHCP on `public` (like most external networks): the guest takes
its port's address from the config drive's network_data.json.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import CommandFailed, describe
from outside import OUTSIDE_IP, POOL, make_key, outside_cloud, ssh_argv
from test_network_guests import wait_console
from test_servers import guest_image  # noqa: F401  (fixture)

pytestmark = [pytest.mark.servers, pytest.mark.network]

MARK = "ferrostack-test:"
DIRECT_IP = "203.0.113.199"
LISTEN_PORT = 8080


def listener_script(path: Path) -> str:
    """A TCP server on the outside machine that answers each connection
    (HTTP, for busybox wget) with the source address it saw, and logs it."""
    return f"""
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(({OUTSIDE_IP!r}, {LISTEN_PORT}))
s.listen(16)
while True:
    c, peer = s.accept()
    with open({str(path)!r}, "a") as log:
        log.write(peer[0] + "\\n")
    try:
        c.settimeout(5)
        c.recv(4096)
        c.sendall(b"HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\n" + peer[0].encode() + b"\\n")
    except OSError:
        pass
    c.close()
"""


def seen_as_script() -> str:
    """Guest user data: until it works, ask the outside listener which
    address it sees this guest as (the router's SNAT address for a guest
    without a floating IP), and print the answer on the console. (`timeout`
    bounds wget: the guest's busybox 1.35 wget segfaults with `-T`.)"""
    return f"""#!/bin/sh
(
  i=0
  while [ $i -lt 120 ]; do
    a=$(timeout 3 wget -q -O - http://{OUTSIDE_IP}:{LISTEN_PORT}/ 2>/dev/null) && [ -n "$a" ] && {{
      echo "{MARK} seen-as $a"; exit 0; }}
    i=$((i + 1))
    sleep 1
  done
  echo "{MARK} seen-as none"
) >/dev/console 2>&1 &
"""


class Cloud:
    def __init__(self, stack, outside, tmp: Path):
        self.stack = stack
        self.outside = outside
        self.tmp = tmp
        self.key = make_key(tmp / "id_user")
        self.wrong_key = make_key(tmp / "id_other")
        # The outside machine's TCP service that tells guests how it sees them.
        self.seen_log = tmp / "seen.log"
        self.seen_log.touch()
        outside.spawn("python3", "-c", listener_script(self.seen_log))


@pytest.fixture(scope="module")
def cloud(tmp_path_factory, guest_image):  # noqa: F811 (fixture)
    tmp = tmp_path_factory.mktemp("outside")
    with outside_cloud(tmp) as (s, out):
        c = Cloud(s, out, tmp)
        s.openstack("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                    "--file", str(guest_image), "guest")
        s.openstack("flavor", "create", "--vcpus", "1", "--ram", "256", "--disk", "1", "tiny")
        s.openstack("keypair", "create", "--public-key", f"{c.key}.pub", "userkey")
        yield c


@pytest.fixture(autouse=True)
def attach_log(request, cloud):
    """The shared cloud's log goes with every failing test's report."""
    request.node._ferrostack_stack = cloud.stack


def boot(s, name: str, nic: str, group: str, user_data: str, tmp: Path, wait: bool = True,
         env: dict[str, str] | None = None) -> dict:
    script = tmp / f"{name}.sh"
    script.write_text(user_data)
    args = ["server", "create", "--image", "guest", "--flavor", "tiny", "--key-name", "userkey",
            "--nic", nic, "--security-group", group, "--user-data", str(script)]
    if wait:
        args.append("--wait")
    return s.openstack_json(*args, name, env=env)


def wait_active(s, name: str, timeout: float = 120, env: dict[str, str] | None = None) -> dict:
    deadline = time.monotonic() + timeout
    last = {}
    while time.monotonic() < deadline:
        last = s.openstack_json("server", "show", name, env=env)
        if last["status"] == "ACTIVE":
            return last
        assert last["status"] != "ERROR", f"{name} went to ERROR: {last.get('fault')}"
        time.sleep(1)
    raise AssertionError(f"{name} never became ACTIVE: {last}")


def pin_host_key(s, name: str, address: str, tmp: Path,
                 env: dict[str, str] | None = None) -> Path:
    """A known_hosts file holding the host key `name` printed on its console
    for `address` (the guest makes a new one every boot)."""
    m, _ = wait_console(s, name, r"ferrostack-guest: ssh-host-key (ssh-ed25519 [A-Za-z0-9+/=]+)",
                        env=env)
    wait_console(s, name, r"ferrostack-guest: sshd ready", env=env)
    path = tmp / f"known_hosts.{name}"
    path.write_text(f"{address} {m.group(1)}\n")
    return path


def check_outbound(c: Cloud, address: str, known_hosts: Path, expect_source: str) -> None:
    """Over SSH to `address`: the guest pings the outside machine, and the
    outside's listener sees its TCP connection come from `expect_source`."""
    ping = c.outside.ssh(c.key, address, f"ping -c 1 -W 3 {OUTSIDE_IP}", known_hosts=known_hosts)
    assert ping.returncode == 0 and "1 packets received" in ping.stdout, describe(ping)
    seen = c.outside.ssh(c.key, address,
                         f"timeout 5 wget -q -O - http://{OUTSIDE_IP}:{LISTEN_PORT}/",
                         known_hosts=known_hosts)
    assert seen.returncode == 0, describe(seen)
    assert seen.stdout.strip() == expect_source, (
        f"the outside saw the guest at {address} as {seen.stdout.strip()}, "
        f"not {expect_source}")


def ssh_hostname(c: Cloud, address: str, known_hosts: Path) -> str:
    proc = c.outside.ssh(c.key, address, "hostname", known_hosts=known_hosts)
    assert proc.returncode == 0, f"ssh from outside failed:\n{describe(proc)}"
    return proc.stdout.strip()


def test_direct_ssh_on_the_external_network_with_the_key_pair(cloud):
    c, s = cloud, cloud.stack
    s.openstack("security", "group", "create", "ssh")
    rule = s.openstack_json("security", "group", "rule", "create", "--ingress", "--protocol",
                            "tcp", "--dst-port", "22", "ssh")
    public = s.openstack_json("network", "show", "public")
    assert public["router:external"] is True, public
    assert public["provider:network_type"] == "flat", public

    t0 = time.monotonic()
    vm = boot(s, "direct1", f"net-id={public['id']},v4-fixed-ip={DIRECT_IP}", "ssh",
              seen_as_script(), c.tmp)
    assert vm["status"] == "ACTIVE", vm
    # No DHCP on `public`: the guest takes its port's address from the
    # config drive's network_data.json, as cloud-init would.
    wait_console(s, "direct1", rf"ferrostack-guest: eth0 {re.escape(DIRECT_IP)}/24 static")
    known = pin_host_key(s, "direct1", DIRECT_IP, c.tmp)
    wait_console(s, "direct1", r"ferrostack-guest: user-data exit 0")
    up = c.outside.wait_tcp(DIRECT_IP, 22, timeout=60)
    print(f"direct: sshd reachable from outside {time.monotonic() - t0:.1f} s after "
          f"`server create` ({up:.2f} s after its user data ran)")

    # The host key is the one the guest printed (StrictHostKeyChecking=yes),
    # and `hostname` prints the metadata's.
    assert ssh_hostname(c, DIRECT_IP, known) == "direct1"
    wrong = c.outside.ssh(c.wrong_key, DIRECT_IP, "hostname", known_hosts=known)
    assert wrong.returncode != 0, "a key that is not the server's key pair got in"
    assert "Permission denied (publickey)" in wrong.stderr, describe(wrong)

    # The guest reaches the outside (ping, and TCP from its user data and
    # from an SSH session), from its own address: nothing between them.
    check_outbound(c, DIRECT_IP, known, expect_source=DIRECT_IP)
    m, _ = wait_console(s, "direct1", rf"{MARK} seen-as (\S+)")
    assert m.group(1) == DIRECT_IP, m.group(0)

    # Without the tcp/22 rule the security group drops the SYN: a timeout,
    # not a refusal.
    s.openstack("security", "group", "rule", "delete", rule["id"])
    cut = c.outside.wait_tcp(DIRECT_IP, 22, up=False, timeout=30)
    print(f"direct: SSH cut {cut:.2f} s after the rule was deleted")
    t1 = time.monotonic()
    blocked = c.outside.ssh(c.key, DIRECT_IP, "hostname", known_hosts=known, connect_timeout=5)
    assert blocked.returncode != 0, "ssh got through without a tcp/22 rule"
    assert "timed out" in blocked.stderr, describe(blocked)
    assert time.monotonic() - t1 >= 4.5, "the connection was refused, not dropped"

    s.openstack("server", "delete", "--wait", "direct1")


# --- through a router and a floating IP --------------------------------------


def in_pool(address: str) -> bool:
    first, last = (ipaddress.ip_address(a) for a in POOL)
    return first <= ipaddress.ip_address(address) <= last


def pending(proc, what: str) -> None:
    """Fail, naming `what`, when the command failed."""
    if proc.returncode != 0:
        raise CommandFailed(f"{what}: " + describe(proc))


def test_floating_ip_ssh_snat_disassociate_and_move(cloud):
    c, s = cloud, cloud.stack
    pending(s.openstack("router", "create", "r1", check=False), "POST /v2.0/routers")
    pending(s.openstack("router", "set", "--external-gateway", "public", "r1", check=False),
            "the router's external gateway")
    s.openstack("network", "create", "net1")
    s.openstack("subnet", "create", "--network", "net1", "--subnet-range", "10.0.0.0/24", "sub1")
    pending(s.openstack("router", "add", "subnet", "r1", "sub1", check=False),
            "PUT /v2.0/routers/{id}/add_router_interface")
    router = s.openstack_json("router", "show", "r1")
    gw_ips = [ip["ip_address"] for ip in router["external_gateway_info"]["external_fixed_ips"]]
    assert gw_ips and all(in_pool(ip) for ip in gw_ips), router
    gateway_ip = gw_ips[0]

    s.openstack("security", "group", "create", "ssh-icmp")
    s.openstack("security", "group", "rule", "create", "--ingress", "--protocol", "tcp",
                "--dst-port", "22", "ssh-icmp")
    s.openstack("security", "group", "rule", "create", "--ingress", "--protocol", "icmp",
                "ssh-icmp")

    # Both guests boot at once (TCG is slow; two at a time is the budget).
    for name in ("fa", "fb"):
        boot(s, name, "net-id=net1", "ssh-icmp", seen_as_script(), c.tmp, wait=False)
    for name in ("fa", "fb"):
        wait_active(s, name)
    # fb has no floating IP: the outside sees it as the router's gateway
    # address (SNAT).
    m, _ = wait_console(s, "fb", rf"{MARK} seen-as (\S+)", timeout=180)
    assert m.group(1) == gateway_ip, (
        f"the outside saw fb as {m.group(1)}, not the router's gateway {gateway_ip}")

    created = s.openstack("floating", "ip", "create", "public", "-f", "json", check=False)
    pending(created, "POST /v2.0/floatingips")
    fip = json.loads(created.stdout)
    address = fip["floating_ip_address"]
    assert in_pool(address), fip
    known_a = pin_host_key(s, "fa", address, c.tmp)
    known_b = pin_host_key(s, "fb", address, c.tmp)

    t0 = time.monotonic()
    s.openstack("server", "add", "floating", "ip", "fa", address)
    reach = c.outside.wait_tcp(address, 22, timeout=60)
    print(f"floating IP: associate to first TCP connect from outside {reach * 1000:.0f} ms "
          f"(the API call included {time.monotonic() - t0:.2f} s)")
    assert ssh_hostname(c, address, known_a) == "fa"

    # From the guest: the outside answers a ping (through the router), and
    # a guest with a floating IP is seen as its floating IP.
    check_outbound(c, address, known_a, expect_source=address)

    t0 = time.monotonic()
    s.openstack("server", "remove", "floating", "ip", "fa", address)
    cut = c.outside.wait_tcp(address, 22, up=False, timeout=30)
    print(f"floating IP: disassociate to cut {(time.monotonic() - t0) * 1000:.0f} ms "
          f"(API call included; {cut * 1000:.0f} ms after it returned)")
    gone = c.outside.ssh(c.key, address, "hostname", known_hosts=known_a, connect_timeout=5)
    assert gone.returncode != 0, f"ssh still reached fa after the disassociation:\n{gone.stdout}"

    t0 = time.monotonic()
    s.openstack("server", "add", "floating", "ip", "fb", address)
    moved = c.outside.wait_tcp(address, 22, timeout=60)
    print(f"floating IP: moved to fb, reachable from outside {moved * 1000:.0f} ms after "
          f"the associate returned ({time.monotonic() - t0:.2f} s with the API call)")
    # fb's host key, not fa's: the address really moved.
    assert ssh_hostname(c, address, known_b) == "fb"


# --- projects of their own: overlapping CIDRs, and a restart -----------------

PROJECT_CIDR = "10.0.0.0/24"
PROJECT_GATEWAY = "10.0.0.1"


class Tenant:
    """A project with its own member user, network `net` on 10.0.0.0/24
    (the same CIDR in every project), router `r` with gateway `public`,
    security group, key pair, and (after `boot`) one guest `<name>-vm`
    with a floating IP."""

    def __init__(self, c: Cloud, name: str, fixed_ip: str):
        s = c.stack
        self.name, self.fixed_ip, self.vm = name, fixed_ip, f"{name}-vm"
        s.openstack("project", "create", name)
        s.openstack("user", "create", "--password", f"{name}-pw", f"{name}-user")
        s.openstack("role", "add", "--project", name, "--user", f"{name}-user", "member")
        self.env = env = s.user_env(f"{name}-user", f"{name}-pw", name)
        s.openstack("keypair", "create", "--public-key", f"{c.key}.pub", "userkey", env=env)
        s.openstack("network", "create", "net", env=env)
        s.openstack("subnet", "create", "--network", "net", "--subnet-range", PROJECT_CIDR,
                    "sub", env=env)
        router = s.openstack_json("router", "create", "r", env=env)
        self.router_id = router["id"]
        s.openstack("router", "set", "--external-gateway", "public", "r", env=env)
        s.openstack("router", "add", "subnet", "r", "sub", env=env)
        ports = s.openstack_json("port", "list", "--router", "r", "--device-owner",
                                 "network:router_interface", "--long", env=env)
        assert len(ports) == 1, ports
        self.router_mac = ports[0]["MAC Address"]
        s.openstack("security", "group", "create", "ssh-icmp", env=env)
        for rule in (["--protocol", "tcp", "--dst-port", "22"], ["--protocol", "icmp"]):
            s.openstack("security", "group", "rule", "create", "--ingress", *rule, "ssh-icmp",
                        env=env)
        self.address = ""
        self.known: Path | None = None

    def boot(self, c: Cloud) -> None:
        boot(c.stack, self.vm, f"net-id=net,v4-fixed-ip={self.fixed_ip}", "ssh-icmp", "#!/bin/sh\n",
             c.tmp, wait=False, env=self.env)

    def float(self, c: Cloud) -> float:
        """A floating IP from `public`, associated once the guest's sshd is
        up; returns the seconds from the associate call's return to the
        first TCP connect from outside."""
        s = c.stack
        wait_active(s, self.vm, env=self.env)
        fip = s.openstack_json("floating", "ip", "create", "public", env=self.env)
        self.address = fip["floating_ip_address"]
        assert in_pool(self.address), fip
        self.known = pin_host_key(s, self.vm, self.address, c.tmp, env=self.env)
        s.openstack("server", "add", "floating", "ip", self.vm, self.address, env=self.env)
        return c.outside.wait_tcp(self.address, 22, timeout=60)

    def ssh(self, c: Cloud, command: str):
        return c.outside.ssh(c.key, self.address, command, known_hosts=self.known)


def clear_servers(s) -> None:
    """Delete every server of the shared cloud (earlier tests' guests):
    TCG guests are slow, two at a time is the budget."""
    ids = [r["ID"] for r in s.openstack_json("server", "list", "--all-projects")]
    if ids:
        s.openstack("server", "delete", "--wait", *ids)


def arp_mac(c: Cloud, t: Tenant, address: str) -> str:
    """The MAC the guest of `t` resolved `address` to (after a ping)."""
    proc = t.ssh(c, f"ping -c 1 -W 3 {address} >/dev/null; cat /proc/net/arp")
    assert proc.returncode == 0, describe(proc)
    for line in proc.stdout.splitlines():
        fields = line.split()
        if fields and fields[0] == address:
            return fields[3].lower()
    raise AssertionError(f"{t.vm} has no ARP entry for {address}:\n{proc.stdout}")


def test_two_projects_with_the_same_cidr_each_reach_their_own_guest(cloud):
    """Two projects, both on 10.0.0.0/24 behind routers that both answer at
    10.0.0.1: each floating IP reaches its project's guest (its host key,
    its hostname), each guest's gateway is its own router, neither guest
    reaches the other, and each is seen outside as its own floating IP."""
    c, s = cloud, cloud.stack
    clear_servers(s)
    s.openstack("image", "set", "--public", "guest")
    red, blue = Tenant(c, "red", "10.0.0.10"), Tenant(c, "blue", "10.0.0.20")
    assert red.router_mac != blue.router_mac
    for t in (red, blue):
        t.boot(c)
    for t in (red, blue):
        reach = t.float(c)
        print(f"project {t.name}: associate to first TCP connect from outside "
              f"{reach * 1000:.0f} ms")
    assert red.address != blue.address

    for t, other in ((red, blue), (blue, red)):
        # The host key pinned from this project's console and the hostname:
        # the floating IP leads to this project's guest, not the other's.
        assert ssh_hostname(c, t.address, t.known) == t.vm
        # 10.0.0.1 is this project's router (its interface port's MAC).
        assert arp_mac(c, t, PROJECT_GATEWAY) == t.router_mac.lower(), (
            f"{t.vm}'s gateway {PROJECT_GATEWAY} is not its own router's port")
        # The other project's guest (ICMP allowed by its group) is not on
        # this network: no answer.
        cross = t.ssh(c, f"ping -c 2 -W 2 {other.fixed_ip}")
        assert cross.returncode != 0 and "0 packets received" in cross.stdout, (
            f"{t.vm} reached {other.vm} at {other.fixed_ip}:\n{describe(cross)}")
        check_outbound(c, t.address, t.known, expect_source=t.address)


def router_state(ns: str) -> dict[str, str]:
    """What a router's namespace is made of, to compare across a restart:
    the namespace itself (inode), its nft table's handle (a re-apply
    replaces the table, so a new handle), its links and addresses."""
    table = subprocess.run(["nsenter", f"--net=/run/netns/{ns}", "nft", "-a", "list", "table",
                            "ip", "ferrostack"], capture_output=True, text=True, timeout=30)
    assert table.returncode == 0, describe(table)
    handle = re.search(r"table ip ferrostack \{ # handle (\d+)", table.stdout)
    assert handle, table.stdout[:500]
    addrs = subprocess.run(["ip", "-n", ns, "-o", "addr"], capture_output=True, text=True,
                           timeout=30)
    return {"inode": str(os.stat(f"/run/netns/{ns}").st_ino), "nft handle": handle.group(1),
            "addresses": addrs.stdout}


def wait_agent_started(s, timeout: float = 60) -> None:
    """Until the restarted allinone's in-process agent says it started
    (it has listed the host and adopted what it found; its first resync
    follows, and the caller waits past one more resync interval)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = s.log().rsplit("=== harness: starting", 1)[-1]
        if "agent starting" in run:
            return
        time.sleep(0.2)
    raise AssertionError("the restarted agent never logged its start")


class Ticks:
    """Lines of a long-running SSH session, each with the monotonic time
    it arrived (a reader thread)."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.times: list[float] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.startswith("tick"):
                self.times.append(time.monotonic())

    def wait_until(self, when: float, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.times and self.times[-1] >= when:
                return
            assert self.proc.poll() is None, (
                f"the SSH session ended ({self.proc.returncode}): {self.proc.stderr.read()}")
            time.sleep(0.1)
        raise AssertionError(f"no tick from the SSH session since {self.times[-1:]}")

    def max_gap(self, since: float) -> float:
        times = [t for t in self.times if t >= since]
        return max(b - a for a, b in zip(times, times[1:]))


@pytest.mark.restart
def test_established_ssh_through_a_floating_ip_survives_a_killed_cloud(cloud):
    """An SSH session through a floating IP keeps printing while allinone
    (controller and its in-process agent) is killed with SIGKILL and
    started again, with no gap over a second, and is still alive once
    the restarted agent has re-converged; the router's namespace and nft
    table are the same ones (nothing torn down or re-applied); a new SSH
    connection works afterwards."""
    c, s = cloud, cloud.stack
    clear_servers(s)
    s.openstack("image", "set", "--public", "guest")
    t = Tenant(c, "green", "10.0.0.10")
    t.boot(c)
    t.float(c)
    ns = f"qrouter-{t.router_id}"
    before = router_state(ns)

    proc = c.outside.spawn(*ssh_argv(c.key, t.address,
                                     "while true; do echo tick; sleep 0.2; done",
                                     known_hosts=t.known),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    ticks = Ticks(proc)
    ticks.wait_until(time.monotonic() + 2)

    t_kill = time.monotonic()
    s.kill()
    s.start()
    t_up = time.monotonic()
    print(f"restart: allinone SIGKILLed and ready again in {t_up - t_kill:.1f} s")
    # The restarted agent's first resync finds the router at the generation
    # it recorded, so nothing is re-applied; the session must go on past
    # it and one periodic resync (10 s).
    wait_agent_started(s)
    ticks.wait_until(time.monotonic() + 12)
    gap = ticks.max_gap(t_kill - 1)
    print(f"restart: longest gap in the session's output across it {gap * 1000:.0f} ms "
          f"(a line every 200 ms)")
    assert gap < 1.0, f"the SSH session stalled {gap:.2f} s across the restart"
    assert proc.poll() is None, "the SSH session ended"

    after = router_state(ns)
    assert after == before, f"the router was rebuilt by the restart:\n{before}\n{after}"
    assert ssh_hostname(c, t.address, t.known) == t.vm
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
