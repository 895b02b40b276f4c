"""A volume on one host's disk, used by a guest on another host: the
storage host exports it (NBD over TLS with a pre-shared key, served by
its `qemu-storage-daemon`) and the other host's QEMU opens the export.

Host A (`ferrostack allinone`, the storage host of the local volume
backend) and host B (`ferrostack agent`) are two network namespaces on a
veth underlay (`two_hosts.py`). With the unmodified `openstack` client:
a volume is created (its file on A), a guest on B gets it with `server
add volume` and writes a marker to it; while attached, A's daemon listens
on A's underlay address and the controller has the export (its key in no
API answer); after the detach the export is gone (the controller's row
and A's report); a guest on A then reads the marker. Last, a server on
B boots from a volume made from its image (its root disk an export of A),
and its delete ends the export.

Needs root, QEMU, qemu-storage-daemon and dnsmasq; skips otherwise.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import time

import pytest

from test_servers import guest_image  # noqa: F401  (fixture)
from test_volume_guests import GIB, MARK, boot_watching, serial, wait_volume
from test_network_guests import wait_console
from two_hosts import A_IP, two_host_cloud

pytestmark = [pytest.mark.servers, pytest.mark.network]

NBD_PORT = 10809


@pytest.fixture
def two_hosts(request, tmp_path):
    if shutil.which("qemu-storage-daemon") is None:
        pytest.skip("SKIP: qemu-storage-daemon is not installed (volume exports need it)")
    with two_host_cloud(request, tmp_path, []) as hosts:
        yield hosts


def exports(s) -> list[dict]:
    """The controller's export rows (the storage hosts' block-device
    sections are made of them)."""
    with sqlite3.connect(s.data_dir / "ferrostack.db") as db:
        return [json.loads(b) for (b,) in db.execute("SELECT body FROM volume_exports")]


def reported_exports(s, host: str) -> list[str]:
    """The exports `host`'s agent last reported."""
    with sqlite3.connect(s.data_dir / "ferrostack.db") as db:
        return [i for (i,) in db.execute(
            "SELECT id FROM host_objects WHERE host = ? AND kind = 'volume_export'", (host,))]


def listening(ns: str) -> str:
    return subprocess.run(["ip", "netns", "exec", ns, "ss", "-ltnH"],
                          capture_output=True, text=True, check=True).stdout


def test_a_volume_on_host_a_is_written_by_a_guest_on_host_b(two_hosts, guest_image, tmp_path):
    s, agent = two_hosts
    t0 = time.monotonic()
    s.openstack("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                "--file", str(guest_image), "guest")
    s.openstack("flavor", "create", "--vcpus", "1", "--ram", "256", "--disk", "1", "tiny")
    vol = s.openstack_json("volume", "create", "--size", "1", "data")
    wait_volume(s, "data", "available")
    assert s.openstack_json("volume", "show", "data")["os-vol-host-attr:host"] \
        .startswith("host-a"), "the volume lives on host A"
    boot_watching(s, "writer", tmp_path, "ferrostack-marker-b", False,
                  "--availability-zone", f"nova:{agent.host_name}")
    assert s.openstack_json("server", "show", "writer")["OS-EXT-SRV-ATTR:host"] == "host-b"
    print(f"guest on host B up {time.monotonic() - t0:.1f} s in")

    t = time.monotonic()
    s.openstack("server", "add", "volume", "writer", "data")
    m, pos = wait_console(
        s, "writer", rf"{MARK} disk (\S+) serial={serial(vol['id'])} bytes={GIB} data=\[\]")
    print(f"host B's guest saw the exported disk {time.monotonic() - t:.1f} s after "
          "`server add volume`")
    disk = m.group(1)
    wait_console(s, "writer", rf"{MARK} wrote {disk} ferrostack-marker-b", after=pos)
    wait_volume(s, "data", "in-use")

    # The controller's view: one export of the volume, on host A, to host
    # B; A's daemon listens on A's underlay address; the key is in no
    # answer of the volume API.
    rows = exports(s)
    assert [(e["volume_id"], e["host"], e["allowed_hosts"]) for e in rows] \
        == [(vol["id"], "host-a", ["host-b"])], rows
    key = rows[0]["key"]
    assert len(key) == 64
    assert f"{A_IP}:{NBD_PORT}" in listening(s.netns)
    for argv in (("volume", "show", "data"),
                 ("--os-volume-api-version", "3.27", "volume", "attachment", "list")):
        out = s.openstack(*argv).stdout
        assert key not in out, f"the export key leaked in `openstack {' '.join(argv)}`"
    assert key not in s.log() and key not in agent.log(), "the export key is in a log"

    s.openstack("server", "remove", "volume", "writer", "data")
    wait_console(s, "writer", rf"{MARK} gone {disk}", after=pos)
    wait_volume(s, "data", "available")
    # The export goes with the last host that used it: the row at once,
    # A's report once its agent took the export down.
    assert exports(s) == []
    deadline = time.monotonic() + 30
    while reported_exports(s, "host-a") and time.monotonic() < deadline:
        time.sleep(0.3)
    assert reported_exports(s, "host-a") == [], "host A still reports the export"

    # Host A's guest (the file opened locally) reads what host B's wrote.
    boot_watching(s, "reader", tmp_path, "", False, "--availability-zone", "nova:host-a")
    s.openstack("server", "add", "volume", "reader", "data")
    wait_console(s, "reader",
                 rf"{MARK} disk \S+ serial={serial(vol['id'])} bytes={GIB} "
                 r"data=\[ferrostack-marker-b\]")
    wait_volume(s, "data", "in-use")
    assert exports(s) == [], "a volume used on its own host is not exported"
    print(f"marker written on B read on A {time.monotonic() - t0:.1f} s in")

    # Boot from volume on host B: the root disk is an export of host A.
    bfv = s.openstack_json(
        "server", "create", "--image", "guest", "--boot-from-volume", "1", "--flavor", "tiny",
        "--nic", "none", "--availability-zone", f"nova:{agent.host_name}", "--wait", "bfv")
    assert bfv["status"] == "ACTIVE", bfv
    wait_console(s, "bfv", r"ferrostack-guest: ready")
    shown = s.openstack_json("server", "show", "bfv")
    assert shown["OS-EXT-SRV-ATTR:host"] == "host-b", shown
    [root] = shown["volumes_attached"]
    assert [(e["volume_id"], e["allowed_hosts"]) for e in exports(s)] \
        == [(root["id"], ["host-b"])]
    s.openstack("server", "delete", "--wait", "bfv")
    wait_volume(s, root["id"], "available")
    assert exports(s) == []
    print(f"booted from an export of host A on host B {time.monotonic() - t0:.1f} s in")
