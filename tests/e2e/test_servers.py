"""Servers with real QEMU guests, driven by the unmodified `openstack` client.

The guest is the repo's own test image (guest-image/): it boots under TCG in
seconds, reads its config drive and prints `ferrostack-guest: ready` and the
injected public key on the serial console, which is what `openstack console
log show` returns. Every test runs its own `allinone`; the harness ends the
VMs a test leaves (by their pidfiles) after the server stops.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO_ROOT, CommandFailed, locked

pytestmark = [pytest.mark.servers]

GUEST = REPO_ROOT / "target" / "guest-image" / "ferrostack-guest.qcow2"
READY = "ferrostack-guest: ready"


@pytest.fixture(scope="session")
def guest_image() -> Path:
    """The test guest, built (again) when missing or older than its sources
    (a checkout that changed guest-image/ must not boot yesterday's image:
    the SSH tests need the sshd it gained). Under a lock: with `pytest -n`
    each worker asks, and only the first may build it."""
    with locked(GUEST.parent.with_name("guest-image.lock")):
        if not GUEST.exists() or (guest_image_stale() and os.geteuid() == 0):
            if os.geteuid() != 0:
                pytest.skip("the test guest is not built and building it needs root "
                            "(guest-image/build.sh)")
            subprocess.run([str(REPO_ROOT / "guest-image" / "build.sh")], check=True,
                           capture_output=True, timeout=900)
    return GUEST


def guest_image_stale() -> bool:
    built = GUEST.stat().st_mtime
    sources = REPO_ROOT / "guest-image"
    return any(f.stat().st_mtime > built for f in sources.rglob("*") if f.is_file())


@pytest.fixture
def fake_stack(request, tmp_path, database_args):
    """A stack whose host runs the fake hypervisor (no VMs)."""
    from conftest import Stack
    s = Stack(tmp_path)
    s.hypervisor = "fake"
    s.extra_args += database_args
    request.node._ferrostack_stack = s
    try:
        s.start()
        yield s
    finally:
        s.stop()
        s.reap_vms()


def server(stack, name: str) -> dict:
    return stack.openstack_json("server", "show", name)


def wait_for(stack, name: str, status: str, timeout: float = 90) -> dict:
    """Poll until the server has `status` and no task, as a user watching it would."""
    deadline = time.monotonic() + timeout
    last = {}
    while time.monotonic() < deadline:
        last = server(stack, name)
        if last["status"] == status and last.get("OS-EXT-STS:task_state") in (None, ""):
            return last
        if last["status"] == "ERROR" and status != "ERROR":
            raise AssertionError(f"{name} went to ERROR: {last.get('fault')}")
        time.sleep(0.5)
    raise AssertionError(f"{name} never reached {status}; last: {json.dumps(last)}")


def console_until(stack, name: str, needle: str, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = stack.openstack("console", "log", "show", name).stdout
        if needle in text:
            return text
        time.sleep(1)
    raise AssertionError(f"{needle!r} never appeared on {name}'s console:\n{text[-2000:]}")


def absolute_limits(stack) -> dict[str, int]:
    rows = stack.openstack_json("limits", "show", "--absolute")
    return {r["Name"]: r["Value"] for r in rows}


def prepare(stack, guest_image: Path) -> str:
    """Upload the guest, make flavors and a key pair; return the public key."""
    stack.openstack("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                    "--file", str(guest_image), "guest")
    stack.openstack("flavor", "create", "--vcpus", "1", "--ram", "256", "--disk", "1", "tiny")
    stack.openstack("flavor", "create", "--vcpus", "2", "--ram", "320", "--disk", "2", "small")
    stack.openstack("keypair", "create", "mykey")  # prints the private key once
    return stack.openstack("keypair", "show", "--public-key", "mykey").stdout.strip()


def boot(stack, name: str, image: str = "guest", flavor: str = "tiny", *extra: str) -> dict:
    return stack.openstack_json("server", "create", "--image", image, "--flavor", flavor,
                                "--key-name", "mykey", "--nic", "none", "--wait", *extra, name)


def test_a_real_guest_boots_with_its_key_and_delete_leaves_nothing(stack, guest_image):
    public_key = prepare(stack, guest_image)
    created = boot(stack, "vm1")
    assert created["status"] == "ACTIVE", created
    server_id = created["id"]
    pids = stack.qemu_pids()
    assert server_id in pids, f"no QEMU process for {server_id}: {pids}"

    log = console_until(stack, "vm1", READY)
    assert f"public-key {public_key}" in log, log[-2000:]
    assert f"instance-id {server_id}" in log
    assert "hostname vm1" in log

    hypervisors = stack.openstack_json("hypervisor", "list")
    assert [h["Hypervisor Hostname"] for h in hypervisors] == ["e2e-host"]
    limits = absolute_limits(stack)
    assert (limits["total_instances_used"], limits["total_cores_used"],
            limits["total_ram_used"]) == (1, 1, 256)

    stack.openstack("server", "delete", "--wait", "vm1")
    assert server_id not in stack.qemu_pids()
    assert not (stack.instances_dir / server_id).exists(), "the VM's directory is left"
    limits = absolute_limits(stack)
    assert (limits["total_instances_used"], limits["total_cores_used"]) == (0, 0)
    assert stack.openstack_json("server", "list") == []


def test_power_actions_resize_and_a_snapshot_that_boots_again(stack, guest_image):
    prepare(stack, guest_image)
    boot(stack, "vm1")
    server_id = server(stack, "vm1")["id"]

    stack.openstack("server", "stop", "vm1")
    assert wait_for(stack, "vm1", "SHUTOFF")["OS-EXT-STS:power_state"] in (4, "Shutdown")
    assert server_id not in stack.qemu_pids(), "a stopped server has no QEMU process"
    stack.openstack("server", "start", "vm1")
    wait_for(stack, "vm1", "ACTIVE")
    stack.openstack("server", "reboot", "--hard", "--wait", "vm1")
    wait_for(stack, "vm1", "ACTIVE")
    for action, status in [("pause", "PAUSED"), ("unpause", "ACTIVE"),
                           ("suspend", "SUSPENDED"), ("resume", "ACTIVE")]:
        stack.openstack("server", action, "vm1")
        wait_for(stack, "vm1", status)

    # A wrong state is a clear 409, not a silent no-op.
    refused = stack.openstack("server", "start", "vm1", check=False)
    assert refused.returncode != 0
    assert "409" in refused.stderr or "Cannot 'start'" in refused.stderr, refused.stderr

    stack.openstack("server", "resize", "--flavor", "small", "--wait", "vm1")
    resized = wait_for(stack, "vm1", "VERIFY_RESIZE")
    assert resized["flavor"]["vcpus"] == 2, resized["flavor"]
    stack.openstack("server", "resize", "confirm", "vm1")
    assert wait_for(stack, "vm1", "ACTIVE")["flavor"]["name"] == "small"
    assert "-smp 2" in " ".join(_cmdline(stack.qemu_pids()[server_id]))

    stack.openstack("server", "image", "create", "--name", "snap", "--wait", "vm1")
    image = stack.openstack_json("image", "show", "snap")
    assert (image["status"], image["disk_format"]) == ("active", "qcow2"), image
    assert image["properties"].get("image_type") == "snapshot", image["properties"]
    wait_for(stack, "vm1", "ACTIVE")

    again = boot(stack, "vm2", "snap", "small")
    assert again["status"] == "ACTIVE"
    console_until(stack, "vm2", "hostname vm2")
    console_until(stack, "vm2", READY)


def _cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")


def test_a_restarted_controller_and_agent_readopt_running_guests(stack, guest_image):
    prepare(stack, guest_image)
    server_id = boot(stack, "vm1")["id"]
    console_until(stack, "vm1", READY)
    pid = stack.qemu_pids()[server_id]

    stack.kill()  # SIGKILL: controller and agent die mid-flight
    os.kill(pid, 0)  # the guest does not
    stack.start()
    assert stack.qemu_pids().get(server_id) == pid, "the guest was restarted, not adopted"
    assert server(stack, "vm1")["status"] == "ACTIVE"
    console_until(stack, "vm1", READY)

    # The adopted guest is still under control.
    stack.openstack("server", "stop", "vm1")
    wait_for(stack, "vm1", "SHUTOFF")
    stack.openstack("server", "delete", "--wait", "vm1")
    assert server_id not in stack.qemu_pids()


def test_a_guest_that_dies_behind_our_back_shows_shutoff(stack, guest_image):
    prepare(stack, guest_image)
    server_id = boot(stack, "vm1")["id"]
    os.kill(stack.qemu_pids()[server_id], signal.SIGKILL)
    wait_for(stack, "vm1", "SHUTOFF", timeout=60)
    stack.openstack("server", "start", "vm1")
    wait_for(stack, "vm1", "ACTIVE")


def test_quota_and_unavailable_networks_are_refused_with_clear_errors(fake_stack, tmp_path):
    stack = fake_stack
    disk = tmp_path / "empty.raw"
    disk.write_bytes(b"\0" * 65536)
    stack.openstack("image", "create", "--disk-format", "raw", "--container-format", "bare",
                    "--file", str(disk), "empty")
    stack.openstack("flavor", "create", "--vcpus", "1", "--ram", "64", "--disk", "0", "micro")
    stack.openstack("quota", "set", "--instances", "1", "admin")
    first = stack.openstack_json("server", "create", "--image", "empty", "--flavor", "micro",
                                 "--nic", "none", "--wait", "one")
    assert first["status"] == "ACTIVE"
    refused = stack.openstack("server", "create", "--image", "empty", "--flavor", "micro",
                              "--nic", "none", "two", check=False)
    assert refused.returncode != 0
    assert "Quota exceeded for instances" in refused.stderr, refused.stderr
    auto = stack.openstack("server", "create", "--image", "empty", "--flavor", "micro",
                           "--nic", "auto", "three", check=False)
    # `auto` with no network the project may use (and no auto-allocated
    # topology configured) is refused before anything is created.
    assert auto.returncode != 0, auto.stderr
    assert "Unable to automatically allocate a network" in auto.stderr, auto.stderr
    assert [s["Name"] for s in stack.openstack_json("server", "list")] == ["one"]
    with pytest.raises(CommandFailed):
        stack.openstack("server", "show", "two")
