"""Two compute hosts in network namespaces, for the tests that need a
second host (networks across hosts, volumes exported to another host).

Two network namespaces stand in for two machines, joined by a veth pair
on a private underlay (192.168.77.0/24, only inside them). Host A runs
`ferrostack allinone` (the controller and its in-process compute host);
host B runs `ferrostack agent`, joined with A's join file over the host
API on the underlay. Both run real QEMU guests and the real data plane,
with their tunnel address on the veth.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import Agent, Stack
from test_network_guests import cleanup_dhcp, dhcp_state_path, need

A_IP = "192.168.77.1"
B_IP = "192.168.77.2"
AGENT_PORT = 8780


def ns_run(ns: str, *argv: str) -> None:
    subprocess.run(["ip", "-n", ns, *argv], check=True, capture_output=True)


@contextmanager
def two_host_cloud(request, tmp_path: Path, extra_args: list[str], a_args: Sequence[str] = (),
                   prepare_a: Callable[[str], None] | None = None):
    """(controller stack on host A, agent on host B); `extra_args` go to
    both hosts, `a_args` to host A only; `prepare_a` gets host A's
    namespace before anything starts in it (e.g. to plug in an external
    NIC). Everything made (namespaces, processes, DHCP state) is removed
    afterwards."""
    if os.geteuid() != 0:
        pytest.skip("SKIP: two hosts need root (namespaces, bridges, taps)")
    for program in ("ip", "nft", "dnsmasq", "qemu-system-x86_64", "nsenter"):
        need(program)
    suffix = uuid.uuid4().hex[:8]
    ns_a, ns_b = f"fs2h-a-{suffix}", f"fs2h-b-{suffix}"
    s = Stack(tmp_path / "a")
    s.netns = ns_a
    s.host_name = "host-a"
    # The host API must be reachable from host B: all of A's addresses
    # (inside its namespace only); clients still use 127.0.0.1.
    s.bind = "0.0.0.0"
    s.extra_args = ["--tunnel-ip", A_IP, *extra_args, *a_args]
    request.node._ferrostack_stack = s
    agent = Agent(tmp_path / "b", ns_b, "host-b",
                  controller=f"https://{A_IP}:{s.ports['host-api']}",
                  join_file=s.data_dir / "join-token",
                  args=["--listen", f"{B_IP}:{AGENT_PORT}", "--hypervisor", "qemu",
                        "--tunnel-ip", B_IP, *extra_args])
    request.node._ferrostack_agents = [agent]
    made: list[str] = []
    networks: list[str] = []
    try:
        for ns in (ns_a, ns_b):
            subprocess.run(["ip", "netns", "add", ns], check=True)
            made.append(ns)
            ns_run(ns, "link", "set", "lo", "up")
        # The underlay: a veth pair made inside A, its peer put into B.
        ns_run(ns_a, "link", "add", "ul-a", "type", "veth", "peer", "name", "ul-b", "netns", ns_b)
        for ns, dev, ip in ((ns_a, "ul-a", A_IP), (ns_b, "ul-b", B_IP)):
            ns_run(ns, "addr", "add", f"{ip}/24", "dev", dev)
            ns_run(ns, "link", "set", dev, "up")
        if prepare_a is not None:
            prepare_a(ns_a)
        s.start()
        agent.start()
        wait_joined(s, agent)
        yield s, agent
        networks = [n["ID"] for n in s.openstack_json("network", "list")]
    finally:
        if not networks and s.proc is not None:
            try:
                networks = [n["ID"] for n in s.openstack_json("network", "list")]
            except Exception:  # noqa: BLE001 - cleanup goes on regardless
                pass
        agent.stop()
        agent.reap_vms()
        s.stop()
        s.reap_vms()
        cleanup_dhcp(networks)
        for data_dir in (s.data_dir, agent.data_dir):
            shutil.rmtree(dhcp_state_path(data_dir), ignore_errors=True)
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], check=False)


def wait_joined(s: Stack, agent: Agent, timeout: float = 60) -> None:
    """Until the controller lists host B's compute service as up."""
    deadline = time.monotonic() + timeout
    services = []
    while time.monotonic() < deadline:
        if agent.proc is not None and agent.proc.poll() is not None:
            raise AssertionError(f"the agent exited with {agent.proc.returncode}:\n{agent.log()}")
        services = s.openstack_json("compute", "service", "list")
        if any(x["Host"] == agent.host_name and x["State"] == "up" for x in services):
            return
        time.sleep(0.5)
    raise AssertionError(f"{agent.host_name} never joined: {services}\n{agent.log()}")
