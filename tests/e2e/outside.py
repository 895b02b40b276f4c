"""The "outside world" of a cloud, for the tests that reach guests the way a
user does: from a machine that is not part of the cloud, over the external
network.

Two network namespaces stand in for the cloud's host and for that outside
machine, joined by a veth pair that plays the host's external NIC (the
seed's eth0 in br-ex):

    cloud ns: ferrostack allinone (API on its loopback, bridges, taps,
              nftables, dnsmasq, routers, QEMU guests)
              ex-cloud -- enslaved by the data plane into the bridge of
                          the flat network on physnet1
                 |  veth
    outside ns:  ex-out  203.0.113.1/24 (TEST-NET-3): "the internet"

allinone gets `--physical-network physnet1:ex-cloud`, and the admin creates
the external network the way the OpenStack docs do: `network create
--external --provider-network-type flat --provider-physical-network physnet1
public` with subnet 203.0.113.0/24, gateway 203.0.113.1 (the outside
machine, as an upstream router would be), no DHCP, pool .100-.200.

The outside namespace runs the user's `ssh` and anything else that must
come from outside (`Outside.run`); nothing here touches this machine's own
network. Everything made (namespaces, processes, DHCP and router state) is
removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import Stack
from test_network_guests import cleanup_dhcp, dhcp_state_path, need

PHYSNET = "physnet1"
CLOUD_END = "ex-cloud"
OUTSIDE_END = "ex-out"
OUTSIDE_IP = "203.0.113.1"
EXTERNAL_CIDR = "203.0.113.0/24"
POOL = ("203.0.113.100", "203.0.113.200")


def ns_ip(ns: str, *argv: str) -> None:
    subprocess.run(["ip", "-n", ns, *argv], check=True, capture_output=True)


class Outside:
    """The machine outside the cloud: commands run in its namespace."""

    def __init__(self, netns: str, workdir: Path):
        self.netns = netns
        self.workdir = workdir
        self.procs: list[subprocess.Popen] = []

    def argv(self, *argv: str) -> list[str]:
        return ["nsenter", f"--net=/run/netns/{self.netns}", *argv]

    def run(self, *argv: str, timeout: float = 60,
            check: bool = False) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(*argv), capture_output=True, text=True,
                              timeout=timeout, check=check)

    def spawn(self, *argv: str, **kwargs) -> subprocess.Popen:
        """A background process in the namespace, ended (by PID) at teardown."""
        proc = subprocess.Popen(self.argv(*argv), **kwargs)
        self.procs.append(proc)
        return proc

    def ssh(self, key: Path, address: str, command: str, known_hosts: Path | None = None,
            connect_timeout: int = 10) -> subprocess.CompletedProcess:
        """`ssh -i key root@address command` from outside. With
        `known_hosts` the host key must be the one in it (pinned from the
        guest's console), else host key checks are off as in a user's
        first login."""
        return self.run(*ssh_argv(key, address, command, known_hosts, connect_timeout),
                        timeout=connect_timeout + 60)

    def wait_tcp(self, address: str, port: int = 22, up: bool = True,
                 timeout: float = 60) -> float:
        """Seconds until a TCP connect from outside to address:port is
        accepted (`up`: the guest's sshd answering, not just any RST) or no
        longer is (refused, or no answer within 0.5 s: a dropped SYN counts
        that late); AssertionError after `timeout`. One prober process loops
        in the namespace (a new attempt every 20 ms), so the figure is not
        a process start's."""
        attempt = 1.0 if up else 0.5
        code = f"""
import socket, sys, time
t0 = time.monotonic()
while time.monotonic() - t0 < {timeout}:
    s = socket.socket()
    s.settimeout({attempt})
    try:
        s.connect(({address!r}, {port}))
        ok = True
    except OSError:
        ok = False
    finally:
        s.close()
    if ok == {up}:
        sys.exit(0)
    time.sleep(0.02)
sys.exit(1)
"""
        t0 = time.monotonic()
        proc = self.run("python3", "-c", code, timeout=timeout + 30)
        took = time.monotonic() - t0
        if proc.returncode != 0:
            state = "accepted" if up else "refused or timed out"
            raise AssertionError(f"a TCP connect to {address}:{port} from outside was never "
                                 f"{state} within {timeout:.0f} s\n{proc.stderr}")
        return took

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs = []


def ssh_argv(key: Path, address: str, command: str, known_hosts: Path | None = None,
             connect_timeout: int = 10) -> list[str]:
    """The `ssh` command line of `Outside.ssh` (for a session kept open
    with `Outside.spawn`)."""
    opts = ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={connect_timeout}",
            "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR"]
    if known_hosts is not None:
        opts += ["-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known_hosts}"]
    else:
        opts += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    return ["ssh", *opts, "-i", str(key), f"root@{address}", command]


def make_key(path: Path) -> Path:
    """A fresh ed25519 key pair at `path` (private) and `path`.pub."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name,
                    "-f", str(path)], check=True)
    return path


@contextmanager
def outside_cloud(tmp_path: Path):
    """(stack, outside): an allinone in its namespace with physnet1 on the
    veth to the outside namespace, and the `public` external network made.
    Skips loudly without root or the data plane's programs."""
    if os.geteuid() != 0:
        pytest.skip("SKIP: the outside-world tests need root (namespaces, bridges, taps)")
    for program in ("ip", "nft", "dnsmasq", "qemu-system-x86_64", "nsenter", "ssh",
                    "ssh-keygen"):
        need(program)
    suffix = uuid.uuid4().hex[:8]
    ns_cloud, ns_out = f"fsout-c-{suffix}", f"fsout-o-{suffix}"
    s = Stack(tmp_path / "cloud")
    s.netns = ns_cloud
    s.extra_args = ["--physical-network", f"{PHYSNET}:{CLOUD_END}"]
    outside = Outside(ns_out, tmp_path)
    made: list[str] = []
    networks: list[str] = []
    routers: list[str] = []
    try:
        for ns in (ns_cloud, ns_out):
            subprocess.run(["ip", "netns", "add", ns], check=True)
            made.append(ns)
            ns_ip(ns, "link", "set", "lo", "up")
        plug_outside(ns_cloud, ns_out)
        s.start()
        make_public(s)
        yield s, outside
    finally:
        if s.proc is not None:
            try:
                networks = [n["ID"] for n in s.openstack_json("network", "list")]
                routers = [r["ID"] for r in s.openstack_json("router", "list")]
            except Exception:  # noqa: BLE001 - cleanup goes on regardless (no routers API yet)
                pass
        outside.stop()
        s.stop()
        s.reap_vms()
        cleanup_dhcp(networks)
        shutil.rmtree(dhcp_state_path(s.data_dir), ignore_errors=True)
        cleanup_router_namespaces(routers)
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], check=False)


def plug_outside(ns_cloud: str, ns_out: str) -> None:
    """The veth between the cloud's host (`ex-cloud`, for physnet1) and the
    outside machine (`ex-out`, 203.0.113.1/24), both namespaces made."""
    ns_ip(ns_cloud, "link", "add", CLOUD_END, "type", "veth", "peer", "name", OUTSIDE_END,
          "netns", ns_out)
    ns_ip(ns_cloud, "link", "set", CLOUD_END, "up")
    ns_ip(ns_out, "addr", "add", f"{OUTSIDE_IP}/24", "dev", OUTSIDE_END)
    ns_ip(ns_out, "link", "set", OUTSIDE_END, "up")


def make_public(s: Stack) -> None:
    """The admin's external network `public` on physnet1, as the OpenStack
    docs make it: gateway the outside machine, no DHCP, a pool."""
    s.openstack("network", "create", "--external", "--provider-network-type", "flat",
                "--provider-physical-network", PHYSNET, "public")
    s.openstack("subnet", "create", "--network", "public", "--subnet-range", EXTERNAL_CIDR,
                "--gateway", OUTSIDE_IP, "--no-dhcp",
                "--allocation-pool", f"start={POOL[0]},end={POOL[1]}", "public-subnet")


def cleanup_router_namespaces(routers: list[str]) -> None:
    """Drop the namespaces the data plane made for `routers` (any name that
    carries the router's id or its first 11 characters, e.g. qrouter-<id>,
    as tap names do): they live in /run/netns,
    which outlives the cloud's own namespace. Processes still in them are
    ended by PID first."""
    if not routers:
        return
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    for name in names:
        if not any(r[:11] in name for r in routers):
            continue
        pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True,
                              text=True).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
