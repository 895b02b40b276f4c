"""Volumes that real guests see, driven by the unmodified `openstack` client
against a real allinone (QEMU guests under TCG, the local volume backend):

- a volume attached to a running guest appears in it as a disk with the
  volume's serial; the guest writes a marker, the volume is detached (the
  disk leaves the guest) and attached to a second guest, which reads the
  marker;
- a snapshot of it, and a volume made from the snapshot, hold the marker;
- a snapshot (`--force`) and a backup (`--force`) of a volume attached to
  a running guest hold what the guest wrote before them, not after;
- an attached volume extended (3.42) grows in the running guest;
- a server boots from a volume made from its image;
- `openstack server image create` of that server snapshots its volume
  (an empty image naming the snapshot in `block_device_mapping`), and a
  server booted from that image boots from a volume made from the snapshot;
- over quota is 413 with Cinder's words and nothing is made; another
  project's volume is 404 to an attach;
- kill -9 of the whole cloud right after an attach leaves the volume and
  the server consistent once it is back.

The guests need no network (`--nic none`): what they see comes from a
user_data script that prints every disk on the serial console (name,
serial, size and the first bytes) and writes a marker to an empty one when
asked. Needs root and QEMU; skips loudly otherwise.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from test_network_guests import console, wait_console
from test_servers import guest_image, prepare  # noqa: F401  (fixture)

pytestmark = [pytest.mark.servers]

MARK = "ferrostack-disk:"
GIB = 1024 ** 3


def disk_watcher(write: str = "", timed: bool = False) -> str:
    """Prints each disk with a serial present at boot (`MARK boot-disk
    <name> serial=<serial>`), each virtio disk that appears or changes size
    after boot (`MARK disk <name> serial=<serial> bytes=<n> data=[<first
    bytes>]`),
    and `MARK gone <name>` when one leaves. With `write`, a disk whose
    first sector does not hold it gets it (`MARK wrote <name> <read back>`),
    and one that grew gets `<write>-grown`;
    with `timed`, 300 direct 4 KiB writes go to each new disk's second
    MiB, timed from /proc/uptime (`MARK dd <name> serial=<serial> <t0> <t1>`)."""
    return f"""#!/bin/sh
WRITE='{write}'
TIMED='{"1" if timed else ""}'
(
  boot=""
  for d in /sys/block/vd*; do
    boot="$boot ${{d##*/}}"
    ser=$(cat "$d/serial" 2>/dev/null)
    [ -n "$ser" ] && echo "{MARK} boot-disk ${{d##*/}} serial=$ser"
  done
  seen=""
  while :; do
    now=""
    for d in /sys/block/vd*; do
      [ -e "$d" ] || continue
      n=${{d##*/}}
      case " $boot " in *" $n "*) continue ;; esac
      sz=$(cat "$d/size")
      # A disk just plugged may show no capacity yet: take it next round.
      [ "$sz" -gt 0 ] || continue
      ser=$(cat "$d/serial" 2>/dev/null)
      # Keyed by serial too: another volume may take a name just freed.
      now="$now $n:$ser:$sz"
      case " $seen " in *" $n:$ser:$sz "*) continue ;; esac
      data=$(dd if=/dev/$n bs=512 count=1 2>/dev/null | tr -d '\\000' | head -c 64)
      echo "{MARK} disk $n serial=$ser bytes=$((sz * 512)) data=[$data]"
      want="$WRITE"
      case " $seen " in *" $n:$ser:"*) want="$WRITE-grown" ;; esac
      if [ -n "$WRITE" ] && [ "$data" != "$want" ]; then
        dd if=/dev/zero of=/dev/$n bs=512 count=1 conv=notrunc 2>/dev/null
        printf '%s' "$want" | dd of=/dev/$n bs=512 conv=sync,notrunc 2>/dev/null
        sync
        echo 3 >/proc/sys/vm/drop_caches
        echo "{MARK} wrote $n $(dd if=/dev/$n bs=512 count=1 2>/dev/null | tr -d '\\000' | head -c 64)"
      fi
      if [ -n "$TIMED" ]; then
        t0=$(cut -d ' ' -f 1 /proc/uptime)
        dd if=/dev/zero of=/dev/$n bs=4k count=300 seek=256 oflag=direct 2>/dev/null
        t1=$(cut -d ' ' -f 1 /proc/uptime)
        echo "{MARK} dd $n serial=$ser $t0 $t1"
      fi
    done
    for s in $seen; do
      case "$now " in *" ${{s%%:*}}:"*) ;; *) echo "{MARK} gone ${{s%%:*}}" ;; esac
    done
    seen="$now"
    sleep 0.3
  done
) >/dev/console 2>&1 &
"""


def boot_watching(stack, name: str, tmp: Path, write: str = "", timed: bool = False,
                  *extra: str) -> dict:
    """A guest running `disk_watcher`; `extra` are more `server create`
    options (an admin's `--availability-zone nova:<host>`)."""
    script = tmp / f"{name}.sh"
    script.write_text(disk_watcher(write, timed))
    server = stack.openstack_json(
        "server", "create", "--image", "guest", "--flavor", "tiny", "--nic", "none",
        "--user-data", str(script), *extra, "--wait", name)
    assert server["status"] == "ACTIVE", server
    wait_console(stack, name, r"ferrostack-guest: user-data exit")
    return server


def wait_volume(stack, name: str, status: str, timeout: float = 60, env=None) -> dict:
    deadline = time.monotonic() + timeout
    v = {}
    while time.monotonic() < deadline:
        v = stack.openstack_json("volume", "show", name, env=env)
        if v["status"] == status:
            return v
        assert v["status"] != "error", f"volume {name} went to error: {v}"
        time.sleep(0.3)
    raise AssertionError(f"volume {name} never became {status}: {v}")


def serial(volume_id: str) -> str:
    return volume_id[:20]


def test_a_volume_carries_its_data_between_guests_snapshots_and_grows_attached(
        stack, guest_image, tmp_path):
    s = stack
    prepare(s, guest_image)
    vol = s.openstack_json("volume", "create", "--size", "1", "data")
    wait_volume(s, "data", "available")
    boot_watching(s, "writer", tmp_path, write="ferrostack-marker-1")
    boot_watching(s, "reader", tmp_path)

    t0 = time.monotonic()
    s.openstack("server", "add", "volume", "writer", "data")
    m, pos = wait_console(
        s, "writer", rf"{MARK} disk (\S+) serial={serial(vol['id'])} bytes={GIB} data=\[\]")
    print(f"the guest saw the new disk {time.monotonic() - t0:.1f} s after `server add volume`")
    disk = m.group(1)
    wait_console(s, "writer", rf"{MARK} wrote {disk} ferrostack-marker-1", after=pos)
    v = wait_volume(s, "data", "in-use")
    attached = v["attachments"][0]
    assert attached["server_id"] == s.openstack_json("server", "show", "writer")["id"]
    assert [a["id"] for a in s.openstack_json("server", "show", "writer")["volumes_attached"]] \
        == [vol["id"]]

    s.openstack("server", "remove", "volume", "writer", "data")
    wait_console(s, "writer", rf"{MARK} gone {disk}", after=pos)
    wait_volume(s, "data", "available")

    s.openstack("server", "add", "volume", "reader", "data")
    wait_console(s, "reader",
                 rf"{MARK} disk \S+ serial={serial(vol['id'])} bytes={GIB} "
                 r"data=\[ferrostack-marker-1\]")
    wait_volume(s, "data", "in-use")
    s.openstack("server", "remove", "volume", "reader", "data")
    wait_volume(s, "data", "available")

    # A snapshot of the (detached) volume, and a volume made from it, keep
    # the marker.
    s.openstack("volume", "snapshot", "create", "--volume", "data", "snap1")
    deadline = time.monotonic() + 60
    while s.openstack_json("volume", "snapshot", "show", "snap1")["status"] != "available":
        assert time.monotonic() < deadline, "the snapshot never became available"
        time.sleep(0.3)
    copy = s.openstack_json("volume", "create", "--snapshot", "snap1", "--size", "1", "copy")
    wait_volume(s, "copy", "available")
    # A volume with snapshots is not deleted (Cinder's 400).
    refused = s.openstack("volume", "delete", "data", check=False)
    assert refused.returncode != 0
    assert s.openstack_json("volume", "show", "data")["status"] == "available"

    s.openstack("server", "add", "volume", "reader", "copy")
    m, pos = wait_console(
        s, "reader",
        rf"{MARK} disk (\S+) serial={serial(copy['id'])} bytes={GIB} "
        r"data=\[ferrostack-marker-1\]")
    wait_volume(s, "copy", "in-use")

    # Extended while attached, the disk grows in the running guest.
    t0 = time.monotonic()
    s.openstack("--os-volume-api-version", "3.42", "volume", "set", "--size", "2", "copy")
    wait_console(s, "reader", rf"{MARK} disk {m.group(1)} serial={serial(copy['id'])} "
                              rf"bytes={2 * GIB} ", after=pos)
    print(f"the guest saw the larger disk {time.monotonic() - t0:.1f} s after the extend")
    assert s.openstack_json("volume", "show", "copy")["size"] == 2

    # The VM re-created (a hard reboot, a stop and a start) has the volume
    # again from its first boot.
    s.openstack("server", "reboot", "--hard", "--wait", "reader")
    _, pos = wait_console(s, "reader", rf"{MARK} boot-disk \S+ serial={serial(copy['id'])}",
                          after=pos)
    s.openstack("server", "stop", "reader")
    deadline = time.monotonic() + 60
    while s.openstack_json("server", "show", "reader")["status"] != "SHUTOFF":
        assert time.monotonic() < deadline, "reader never stopped"
        time.sleep(0.5)
    s.openstack("server", "start", "reader")
    wait_console(s, "reader", rf"{MARK} boot-disk \S+ serial={serial(copy['id'])}", after=pos)
    assert s.openstack_json("volume", "show", "copy")["status"] == "in-use"


def test_over_quota_and_another_projects_volume_are_refused_and_change_nothing(
        stack, guest_image, tmp_path):
    s = stack
    prepare(s, guest_image)
    project = s.env["OS_PROJECT_NAME"]
    s.openstack("quota", "set", "--gigabytes", "3", project)
    before = s.openstack_json("volume", "list")
    over = s.openstack("volume", "create", "--size", "5", "big", check=False)
    assert over.returncode != 0
    assert "exceeds allowed gigabytes quota" in over.stderr, over.stderr
    assert "413" in over.stderr, over.stderr
    assert s.openstack_json("volume", "list") == before

    # Another project's volume: an attach by a member of this project
    # (who can see the server) is 404, and the volume stays available.
    s.openstack("user", "create", "--project", project, "--password", "alice-pw", "alice")
    s.openstack("role", "add", "--project", project, "--user", "alice", "member")
    s.openstack("project", "create", "other")
    s.openstack("user", "create", "--project", "other", "--password", "bob-pw", "bob")
    s.openstack("role", "add", "--project", "other", "--user", "bob", "member")
    alice = s.user_env("alice", "alice-pw", project)
    bob = s.user_env("bob", "bob-pw", "other")
    theirs = s.openstack_json("volume", "create", "--size", "1", "bobs", env=bob)
    wait_volume(s, "bobs", "available", env=bob)
    vm = s.openstack_json("server", "create", "--image", "guest", "--flavor", "tiny",
                          "--nic", "none", "--wait", "vm", env=alice)
    # The openstack CLI looks the volume up in Cinder first (404 to alice);
    # novaclient sends the attach to Nova as it is, which answers 404 too.
    refused = s.openstack("server", "add", "volume", vm["id"], theirs["id"], env=alice,
                          check=False)
    assert refused.returncode != 0
    assert "No Volume found" in refused.stderr, refused.stderr
    refused = s.nova("volume-attach", vm["id"], theirs["id"], env=alice, check=False)
    assert refused.returncode != 0
    assert "HTTP 404" in refused.stderr, refused.stderr
    assert s.openstack_json("volume", "show", "bobs", env=bob)["status"] == "available"
    assert s.openstack_json("server", "show", vm["id"], env=alice)["volumes_attached"] == []
    # Nor can alice see or delete it.
    assert s.openstack("volume", "show", theirs["id"], env=alice, check=False).returncode != 0


def test_a_server_boots_from_a_volume_made_from_its_image(stack, guest_image):
    s = stack
    prepare(s, guest_image)
    server = s.openstack_json(
        "server", "create", "--image", "guest", "--boot-from-volume", "1", "--flavor", "tiny",
        "--nic", "none", "--wait", "bfv")
    assert server["status"] == "ACTIVE", server
    wait_console(s, "bfv", r"ferrostack-guest: ready")
    shown = s.openstack_json("server", "show", "bfv")
    assert shown["image"] in ("", None) or "booted from volume" in str(shown["image"]).lower()
    [root] = shown["volumes_attached"]
    v = wait_volume(s, root["id"], "in-use")
    assert v["bootable"] in (True, "true"), v
    assert v["size"] == 1
    # The root volume cannot be detached.
    refused = s.openstack("server", "remove", "volume", "bfv", root["id"], check=False)
    assert refused.returncode != 0
    s.openstack("server", "delete", "--wait", "bfv")
    # Not deleted with the server (the CLI does not ask for it): available.
    wait_volume(s, root["id"], "available")


def test_an_image_of_a_volume_backed_server_is_a_snapshot_of_its_volume(stack, guest_image):
    s = stack
    prepare(s, guest_image)
    server = s.openstack_json(
        "server", "create", "--image", "guest", "--boot-from-volume", "1", "--flavor", "tiny",
        "--nic", "none", "--wait", "bfv-snap-src")
    assert server["status"] == "ACTIVE", server
    wait_console(s, "bfv-snap-src", r"ferrostack-guest: ready")
    [root] = s.openstack_json("server", "show", "bfv-snap-src")["volumes_attached"]
    s.openstack("server", "image", "create", "--name", "bfv-image", "--wait", "bfv-snap-src")
    image = s.openstack_json("image", "show", "bfv-image")
    assert image["status"] == "active" and image["size"] == 0, image
    props = image["properties"]
    assert props["bdm_v2"] in ("True", True), props
    bdms = props["block_device_mapping"]
    bdms = json.loads(bdms) if isinstance(bdms, str) else bdms
    [bdm] = bdms
    assert (bdm["source_type"], bdm["destination_type"], bdm["boot_index"]) == (
        "snapshot", "volume", 0), bdm
    deadline = time.monotonic() + 120
    while True:
        snap = s.openstack_json("volume", "snapshot", "show", bdm["snapshot_id"])
        if snap["status"] == "available":
            break
        assert snap["status"] != "error" and time.monotonic() < deadline, snap
        time.sleep(0.5)
    assert snap["volume_id"] == root["id"], snap
    # Booting the image boots a new volume made from that snapshot.
    again = s.openstack_json("server", "create", "--image", "bfv-image", "--flavor", "tiny",
                             "--nic", "none", "--wait", "bfv-from-image")
    assert again["status"] == "ACTIVE", again
    wait_console(s, "bfv-from-image", r"ferrostack-guest: ready")
    [new_root] = s.openstack_json("server", "show", "bfv-from-image")["volumes_attached"]
    made = wait_volume(s, new_root["id"], "in-use")
    assert made["snapshot_id"] == bdm["snapshot_id"], made
    for vm in ("bfv-from-image", "bfv-snap-src"):
        s.openstack("server", "delete", "--wait", vm)


def test_a_kill_during_an_attach_leaves_volume_and_server_consistent(stack, guest_image,
                                                                       tmp_path):
    s = stack
    prepare(s, guest_image)
    vol = s.openstack_json("volume", "create", "--size", "1", "crashy")
    wait_volume(s, "crashy", "available")
    boot_watching(s, "vm", tmp_path)
    s.openstack("server", "add", "volume", "vm", "crashy")
    s.kill()
    time.sleep(1)
    s.start()
    deadline = time.monotonic() + 90
    status = ""
    while time.monotonic() < deadline:
        status = s.openstack_json("volume", "show", "crashy")["status"]
        if status in ("in-use", "available"):
            break
        time.sleep(0.5)
    attached = [a["id"] for a in s.openstack_json("server", "show", "vm")["volumes_attached"]]
    if status == "in-use":
        assert attached == [vol["id"]]
        wait_console(s, "vm", rf"{MARK} disk \S+ serial={serial(vol['id'])} ")
    else:
        assert status == "available", f"the volume stayed {status!r} after the restart"
        assert attached == [], attached
    # Either way it can be detached (or attached) again and ends available.
    if status == "in-use":
        s.openstack("server", "remove", "volume", "vm", "crashy")
    wait_volume(s, "crashy", "available")
    assert s.openstack_json("server", "show", "vm")["status"] == "ACTIVE"


def wait_backup(stack, name: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    b = {}
    while time.monotonic() < deadline:
        b = stack.openstack_json("volume", "backup", "show", name)
        if b["status"] == "available":
            return b
        assert b["status"] != "error", f"backup {name} went to error: {b}"
        time.sleep(0.5)
    raise AssertionError(f"backup {name} never became available: {b}")


def test_backups_restore_each_point_in_time_and_qos_caps_a_guests_writes(
        stack, guest_image, tmp_path):
    s = stack
    prepare(s, guest_image)
    s.openstack_json("volume", "create", "--size", "1", "data")
    wait_volume(s, "data", "available")
    boot_watching(s, "first", tmp_path, write="ferrostack-backup-1")
    boot_watching(s, "second", tmp_path, write="ferrostack-backup-2")

    # The first guest writes its marker; a full backup keeps it.
    s.openstack("server", "add", "volume", "first", "data")
    wait_console(s, "first", rf"{MARK} wrote \S+ ferrostack-backup-1")
    s.openstack("server", "remove", "volume", "first", "data")
    wait_volume(s, "data", "available")
    s.openstack("volume", "backup", "create", "--name", "full", "data")
    full = wait_backup(s, "full")
    assert full["is_incremental"] is False

    # The second overwrites it; an incremental backup keeps that.
    s.openstack("server", "add", "volume", "second", "data")
    wait_console(s, "second", rf"{MARK} wrote \S+ ferrostack-backup-2")
    s.openstack("server", "remove", "volume", "second", "data")
    wait_volume(s, "data", "available")
    s.openstack("volume", "backup", "create", "--incremental", "--name", "inc", "data")
    inc = wait_backup(s, "inc")
    assert inc["is_incremental"] is True
    assert inc["object_count"] < full["object_count"] or full["object_count"] <= 1, (inc, full)
    # The full backup has an increment on it: it stays.
    assert s.openstack("volume", "backup", "delete", "full", check=False).returncode != 0
    assert wait_backup(s, "full")["status"] == "available"

    # Each restore holds its own point in time (read by a guest): the
    # full one over an existing volume, the incremental one to a new one.
    s.openstack("volume", "create", "--size", "1", "from-full")
    wait_volume(s, "from-full", "available")
    s.openstack("volume", "backup", "restore", "--force", "full", "from-full")
    s.openstack("volume", "backup", "restore", "inc", "from-inc")
    for name in ("from-full", "from-inc"):
        deadline = time.monotonic() + 120
        while True:
            v = s.openstack_json("volume", "show", name)
            if v["status"] == "available":
                break
            assert v["status"] in ("creating", "restoring-backup"), v
            assert time.monotonic() < deadline, v
            time.sleep(0.5)
    ids = {n: s.openstack_json("volume", "show", n)["id"] for n in ("from-full", "from-inc")}
    boot_watching(s, "reader", tmp_path)
    for name, marker in (("from-full", "ferrostack-backup-1"), ("from-inc", "ferrostack-backup-2")):
        s.openstack("server", "add", "volume", "reader", name)
        wait_console(s, "reader", rf"{MARK} disk \S+ serial={serial(ids[name])} bytes={GIB} "
                                  rf"data=\[{marker}\]")
        s.openstack("server", "remove", "volume", "reader", name)
        wait_volume(s, name, "available")

    # QoS: 100 write IOPS on a type; a guest's 300 direct writes to a
    # volume of that type take about 3 s, to a plain volume far less.
    qos = s.openstack_json("volume", "qos", "create", "--consumer", "front-end",
                           "--property", "write_iops_sec=100", "slow")
    s.openstack("volume", "type", "create", "slowdisk")
    s.openstack("volume", "qos", "associate", qos["id"], "slowdisk")
    s.openstack("volume", "create", "--size", "1", "--type", "slowdisk", "throttled")
    s.openstack("volume", "create", "--size", "1", "plain")
    wait_volume(s, "throttled", "available")
    wait_volume(s, "plain", "available")
    boot_watching(s, "timer", tmp_path, timed=True)
    took = {}
    pos = 0
    for name in ("plain", "throttled"):
        vid = s.openstack_json("volume", "show", name)["id"]
        s.openstack("server", "add", "volume", "timer", name)
        m, pos = wait_console(s, "timer", rf"{MARK} dd \S+ serial={serial(vid)} (\S+) (\S+)",
                              after=pos, timeout=120)
        took[name] = float(m.group(2)) - float(m.group(1))
        s.openstack("server", "remove", "volume", "timer", name)
        wait_volume(s, name, "available")
    print(f"300 direct 4 KiB writes: plain {took['plain']:.2f} s, "
          f"throttled at 100 IOPS {took['throttled']:.2f} s")
    assert took["throttled"] >= 2.5, took
    assert took["throttled"] > 2 * took["plain"], took

    # Live: a snapshot and a backup of the volume while the first guest
    # has it and writes to it. Marker A before the snapshot, marker B (the
    # watcher's "-grown" write after an extend) after it.
    start = len(console(s, "first"))
    s.openstack("server", "add", "volume", "first", "data")
    m, pos = wait_console(s, "first", rf"{MARK} wrote (\S+) ferrostack-backup-1\b",
                          after=start)
    disk = m.group(1)
    wait_volume(s, "data", "in-use")
    # Before 3.66 an in-use volume needs `force` (from 3.66 the client
    # sends none and none is needed).
    old = ("--os-volume-api-version", "3.65")
    refused = s.openstack(*old, "volume", "snapshot", "create", "--volume", "data",
                          "live-no-force", check=False)
    assert refused.returncode != 0, "an in-use volume needs --force"
    t0 = time.monotonic()
    s.openstack(*old, "volume", "snapshot", "create", "--force", "--volume", "data", "live")
    deadline = time.monotonic() + 90
    while (st := s.openstack_json("volume", "snapshot", "show", "live")["status"]) != "available":
        assert st == "creating" and time.monotonic() < deadline, st
        time.sleep(0.3)
    print(f"a live snapshot took {time.monotonic() - t0:.1f} s")
    s.openstack("--os-volume-api-version", "3.42", "volume", "set", "--size", "2", "data")
    wait_console(s, "first", rf"{MARK} wrote {disk} ferrostack-backup-1-grown", after=pos)
    s.openstack("volume", "backup", "create", "--force", "--name", "live-bak", "data")
    wait_backup(s, "live-bak")
    assert s.openstack_json("volume", "show", "data")["status"] == "in-use"
    snap_copy = s.openstack_json("volume", "create", "--snapshot", "live", "--size", "1",
                                 "from-live")
    wait_volume(s, "from-live", "available")
    s.openstack("volume", "backup", "restore", "live-bak", "from-live-bak")
    wait_volume(s, "from-live-bak", "available", timeout=120)
    bak_copy = s.openstack_json("volume", "show", "from-live-bak")
    for vid, size, marker in ((snap_copy["id"], GIB, "ferrostack-backup-1"),
                              (bak_copy["id"], 2 * GIB, "ferrostack-backup-1-grown")):
        s.openstack("server", "add", "volume", "reader", vid)
        wait_console(s, "reader", rf"{MARK} disk \S+ serial={serial(vid)} bytes={size} "
                                  rf"data=\[{marker}\]")
        s.openstack("server", "remove", "volume", "reader", vid)
        wait_volume(s, vid, "available")
