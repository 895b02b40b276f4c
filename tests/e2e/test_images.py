"""Images through `openstack image`: upload and download byte for byte,
unsafe uploads refused, and the metadata commands users run."""

import hashlib
import shutil
import subprocess
import time

import pytest
import requests

pytestmark = pytest.mark.cli

needs_qemu_img = pytest.mark.skipif(shutil.which("qemu-img") is None,
                                    reason="qemu-img is not installed")


def qemu_img(*args: str) -> None:
    subprocess.run(["qemu-img", *args], check=True, capture_output=True)


def make_raw(path, size: int = 3 * 1024 * 1024 + 11) -> bytes:
    data = bytes((i * 7) % 253 for i in range(size))
    path.write_bytes(data)
    return data


def image_by_name(stack, name: str):
    rows = stack.openstack_json("image", "list", "--name", name, "--long")
    return rows[0] if rows else None


@needs_qemu_img
def test_qcow2_upload_and_save_are_byte_identical(stack, tmp_path):
    src = tmp_path / "x.qcow2"
    qemu_img("create", "-f", "qcow2", str(src), "16M")
    image = stack.openstack_json("image", "create", "--file", str(src), "--disk-format", "qcow2",
                                 "--container-format", "bare", "img1")
    assert image["status"] == "active"
    assert image["checksum"] == hashlib.md5(src.read_bytes()).hexdigest()
    out = tmp_path / "out"
    stack.openstack("image", "save", "--file", str(out), "img1")
    assert out.read_bytes() == src.read_bytes()


def test_raw_upload_and_save_are_byte_identical(stack, tmp_path):
    src = tmp_path / "x.raw"
    data = make_raw(src)
    image = stack.openstack_json("image", "create", "--file", str(src), "--disk-format", "raw",
                                 "--container-format", "bare", "img2")
    assert image["status"] == "active"
    assert image["size"] == len(data)
    out = tmp_path / "out"
    stack.openstack("image", "save", "--file", str(out), "img2")
    assert out.read_bytes() == data
    shown = stack.openstack_json("image", "show", "img2")
    assert shown["properties"]["os_hash_value"] == hashlib.sha512(data).hexdigest()


@needs_qemu_img
def test_qcow2_with_a_backing_file_is_refused(stack, tmp_path):
    evil = tmp_path / "evil.qcow2"
    qemu_img("create", "-f", "qcow2", "-b", "/etc/passwd", "-F", "raw", str(evil))
    proc = stack.openstack("image", "create", "--file", str(evil), "--disk-format", "qcow2",
                           "--container-format", "bare", "evil", check=False)
    image = image_by_name(stack, "evil")
    assert proc.returncode != 0 or (image is not None and image["Status"] != "active"), proc
    assert "backing file" in proc.stderr, proc.stderr
    assert image is None or image["Status"] != "active"


def test_raw_data_declared_as_qcow2_is_refused(stack, tmp_path):
    src = tmp_path / "x.raw"
    make_raw(src, 1024 * 1024)
    proc = stack.openstack("image", "create", "--file", str(src), "--disk-format", "qcow2",
                           "--container-format", "bare", "liar", check=False)
    assert proc.returncode != 0
    image = image_by_name(stack, "liar")
    assert image is None or image["Status"] != "active"


def test_image_list_show_set_and_delete(stack, tmp_path):
    src = tmp_path / "x.raw"
    make_raw(src, 4096)
    created = stack.openstack_json("image", "create", "--file", str(src), "--disk-format", "raw",
                                   "--container-format", "bare", "--property", "os_distro=test",
                                   "img3")
    names = [row["Name"] for row in stack.openstack_json("image", "list")]
    assert names == ["img3"]
    stack.openstack("image", "set", "--property", "k=v", "--min-disk", "1", "img3")
    shown = stack.openstack_json("image", "show", "img3")
    assert shown["id"] == created["id"]
    assert shown["properties"]["k"] == "v"
    assert shown["properties"]["os_distro"] == "test"
    assert shown["min_disk"] == 1
    stack.openstack("image", "unset", "--property", "k", "img3")
    assert "k" not in stack.openstack_json("image", "show", "img3")["properties"]
    stack.openstack("image", "delete", "img3")
    assert stack.openstack_json("image", "list") == []


def test_protected_image_cannot_be_deleted(stack):
    stack.openstack("image", "create", "--protected", "guarded")
    proc = stack.openstack("image", "delete", "guarded", check=False)
    assert proc.returncode != 0
    assert image_by_name(stack, "guarded") is not None
    stack.openstack("image", "set", "--unprotected", "guarded")
    stack.openstack("image", "delete", "guarded")
    assert image_by_name(stack, "guarded") is None


def test_another_projects_private_image_is_invisible(stack):
    stack.openstack("image", "create", "--private", "secret")
    stack.openstack("project", "create", "other")
    stack.openstack("user", "create", "--password", "other-pw-123", "bob")
    stack.openstack("role", "add", "--user", "bob", "--project", "other", "member")
    bob = stack.user_env("bob", "other-pw-123", "other")
    assert stack.openstack_json("image", "list", env=bob) == []
    proc = stack.openstack("image", "show", "secret", env=bob, check=False)
    assert proc.returncode != 0


def test_sharing_an_image_with_another_project(stack):
    image_id = stack.openstack_json("image", "create", "--shared", "sh1")["id"]
    stack.openstack("project", "create", "other")
    stack.openstack("user", "create", "--password", "other-pw-123", "bob")
    stack.openstack("role", "add", "--user", "bob", "--project", "other", "member")
    bob = stack.user_env("bob", "other-pw-123", "other")
    stack.openstack("image", "add", "project", "sh1", "other")
    assert stack.openstack_json("image", "list", env=bob) == [], "pending shares are not listed"
    stack.openstack("image", "set", "--accept", image_id, env=bob)
    assert [r["Name"] for r in stack.openstack_json("image", "list", env=bob)] == ["sh1"]
    proc = stack.openstack("image", "delete", image_id, env=bob, check=False)
    assert proc.returncode != 0, "a member cannot delete the owner's image"
    stack.openstack("image", "remove", "project", "sh1", "other")
    assert stack.openstack_json("image", "list", env=bob) == []


@pytest.mark.restart
def test_images_and_their_data_survive_a_restart(stack, tmp_path):
    src = tmp_path / "x.raw"
    data = make_raw(src, 70000)
    stack.openstack("image", "create", "--file", str(src), "--disk-format", "raw",
                    "--container-format", "bare", "kept")
    assert stack.restart() == 0
    out = tmp_path / "out"
    stack.openstack("image", "save", "--file", str(out), "kept")
    assert out.read_bytes() == data


def wait_for_status(stack, name: str, want: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        shown = stack.openstack_json("image", "show", name)
        if shown["status"] == want or time.monotonic() > deadline:
            return shown
        time.sleep(0.5)


def test_image_create_with_import_stages_then_imports(stack, tmp_path):
    src = tmp_path / "x.raw"
    data = make_raw(src, 300000)
    stack.openstack("image", "create", "--import", "--file", str(src), "--disk-format", "raw",
                    "--container-format", "bare", "imported")
    shown = wait_for_status(stack, "imported", "active")
    assert shown["status"] == "active"
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    out = tmp_path / "out"
    stack.openstack("image", "save", "--file", str(out), "imported")
    assert out.read_bytes() == data
    tasks = stack.openstack_json("image", "task", "list")
    assert [t["Type"] for t in tasks] == ["api_image_import"]
    assert [t["Status"] for t in tasks] == ["success"]


def test_image_stage_then_import_with_glance_direct(stack, tmp_path):
    src = tmp_path / "x.raw"
    data = make_raw(src, 5000)
    # Created over HTTP: `openstack image create` without `--file` uploads
    # whatever its stdin holds, which under a test runner is not a terminal.
    token, _ = stack.issue_token()
    resp = requests.post(f"{stack.endpoint('image')}/v2/images", timeout=30,
                         headers={"X-Auth-Token": token},
                         json={"name": "staged", "disk_format": "raw",
                               "container_format": "bare"})
    assert resp.status_code == 201, resp.text
    assert stack.openstack_json("image", "show", "staged")["status"] == "queued"
    stack.openstack("image", "stage", "--file", str(src), "staged")
    assert stack.openstack_json("image", "show", "staged")["status"] == "uploading"
    # A method this cloud does not offer is refused; the image stays staged.
    refused = stack.openstack("image", "import", "--method", "web-download", "--uri",
                              "http://127.0.0.1:9/x.raw", "staged", check=False)
    assert refused.returncode != 0
    assert stack.openstack_json("image", "show", "staged")["status"] == "uploading"
    # The client's default sends `all_stores_must_succeed: false`, which a
    # single-store Glance refuses (and the client ignores); accepted here.
    stack.openstack("image", "import", "--method", "glance-direct", "staged")
    assert wait_for_status(stack, "staged", "active")["status"] == "active"
    out = tmp_path / "out"
    stack.openstack("image", "save", "--file", str(out), "staged")
    assert out.read_bytes() == data
