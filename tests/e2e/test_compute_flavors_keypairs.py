"""Flavors and key pairs through the clients users have: `openstack` and `nova`."""

import shutil
import subprocess

import pytest

from conftest import table_rows

pytestmark = pytest.mark.cli

# Made with ssh-keygen; `ssh-keygen -l -E md5` prints this fingerprint for it.
ED25519 = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOYqNB63LMemG1AwEE2HXt/r49qchkOVW0IqgznlqyBF"
           " test")
ED25519_MD5 = "31:5a:f2:62:20:1a:bb:3e:59:06:13:00:30:3a:12:b0"


def tiny(stack):
    return stack.openstack_json("flavor", "create", "--ram", "512", "--disk", "1",
                                "--vcpus", "1", "m1.tiny")


def public_key_file(tmp_path):
    """A fresh key from ssh-keygen with its MD5 fingerprint, or the fixed one."""
    path = tmp_path / "id.pub"
    if shutil.which("ssh-keygen"):
        subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-C", "e2e",
                        "-f", str(tmp_path / "id")], check=True)
        out = subprocess.run(["ssh-keygen", "-l", "-E", "md5", "-f", str(path)],
                             check=True, capture_output=True, text=True).stdout
        return path, out.split()[1].removeprefix("MD5:")
    path.write_text(ED25519 + "\n")
    return path, ED25519_MD5


def test_no_flavors_until_the_operator_creates_them(stack):
    assert stack.openstack_json("flavor", "list") == []


def test_flavor_create_list_show(stack):
    made = tiny(stack)
    assert (made["ram"], made["disk"], made["vcpus"]) == (512, 1, 1)
    assert made["os-flavor-access:is_public"] is True
    listed = stack.openstack_json("flavor", "list")
    assert [f["Name"] for f in listed] == ["m1.tiny"]
    assert listed[0]["ID"] == made["id"]
    shown = stack.openstack_json("flavor", "show", "m1.tiny")
    assert shown["id"] == made["id"] and shown["ram"] == 512


def test_flavor_properties_set_and_unset(stack):
    tiny(stack)
    stack.openstack("flavor", "set", "--property", "hw:cpu_policy=shared", "m1.tiny")
    assert stack.openstack_json("flavor", "show", "m1.tiny")["properties"] == {
        "hw:cpu_policy": "shared"}
    stack.openstack("flavor", "unset", "--property", "hw:cpu_policy", "m1.tiny")
    assert stack.openstack_json("flavor", "show", "m1.tiny")["properties"] == {}


def test_duplicate_flavor_name_is_refused(stack):
    tiny(stack)
    proc = stack.openstack("flavor", "create", "--ram", "1", "--disk", "1", "--vcpus", "1",
                           "m1.tiny", check=False)
    assert proc.returncode != 0
    assert "already exists" in proc.stderr, proc.stderr
    assert len(stack.openstack_json("flavor", "list", "--all")) == 1


def test_private_flavor_is_seen_by_projects_given_access(stack):
    stack.openstack("project", "create", "demo")
    stack.openstack("user", "create", "--password", "demo-pw", "demo-user")
    stack.openstack("role", "add", "--project", "demo", "--user", "demo-user", "member")
    demo = stack.user_env("demo-user", "demo-pw", "demo")
    stack.openstack("flavor", "create", "--private", "--ram", "1024", "--disk", "10",
                    "--vcpus", "2", "p1")
    assert stack.openstack_json("flavor", "list", env=demo) == []
    assert stack.openstack("flavor", "show", "p1", env=demo, check=False).returncode != 0
    stack.openstack("flavor", "set", "--project", "demo", "p1")
    demo_id = stack.openstack_json("project", "show", "demo")["id"]
    assert stack.openstack_json("flavor", "show", "p1")["access_project_ids"] == [demo_id]
    assert [f["Name"] for f in stack.openstack_json("flavor", "list", env=demo)] == ["p1"]
    stack.openstack("flavor", "unset", "--project", "demo", "p1")
    assert stack.openstack_json("flavor", "list", env=demo) == []
    # Admins see it with --all (is_public=None) or --private.
    assert [f["Name"] for f in stack.openstack_json("flavor", "list", "--private")] == ["p1"]


def test_flavor_delete(stack):
    tiny(stack)
    stack.openstack("flavor", "delete", "m1.tiny")
    assert stack.openstack_json("flavor", "list", "--all") == []


def test_nova_flavor_commands(stack):
    stack.nova("flavor-create", "m1.small", "auto", "2048", "20", "1")
    rows = table_rows(stack.nova("flavor-list").stdout)
    assert rows[0][1] == "Name" and rows[1][1] == "m1.small", rows
    stack.nova("flavor-key", "m1.small", "set", "hw:cpu_policy=dedicated")
    assert "hw:cpu_policy" in stack.nova("flavor-show", "m1.small").stdout
    stack.nova("flavor-delete", "m1.small")
    assert len(table_rows(stack.nova("flavor-list").stdout)) == 1


def test_keypair_create_generates_a_private_key_once(stack):
    out = stack.openstack("keypair", "create", "mykey").stdout
    assert "PRIVATE KEY-----" in out, out
    shown = stack.openstack_json("keypair", "show", "mykey")
    assert shown["name"] == "mykey" and shown["type"] == "ssh"
    assert "PRIVATE KEY" not in stack.openstack("keypair", "show", "mykey").stdout


def test_keypair_import_fingerprint_matches_ssh_keygen(stack, tmp_path):
    path, fingerprint = public_key_file(tmp_path)
    made = stack.openstack_json("keypair", "create", "--public-key", str(path), "k2")
    assert made["fingerprint"] == fingerprint
    listed = stack.openstack_json("keypair", "list")
    assert [(k["Name"], k["Fingerprint"]) for k in listed] == [("k2", fingerprint)]
    public = stack.openstack("keypair", "show", "--public-key", "k2").stdout.strip()
    assert public == path.read_text().strip()


def test_keypair_import_of_garbage_is_refused(stack, tmp_path):
    bad = tmp_path / "bad.pub"
    bad.write_text("this is not a key\n")
    proc = stack.openstack("keypair", "create", "--public-key", str(bad), "bad", check=False)
    assert proc.returncode != 0
    assert "Keypair data is invalid" in proc.stderr, proc.stderr
    assert stack.openstack_json("keypair", "list") == []


def test_keypair_delete(stack, tmp_path):
    path, _ = public_key_file(tmp_path)
    stack.openstack("keypair", "create", "--public-key", str(path), "k")
    stack.openstack("keypair", "delete", "k")
    assert stack.openstack_json("keypair", "list") == []


def test_keypairs_are_per_user(stack, tmp_path):
    stack.openstack("project", "create", "demo")
    stack.openstack("user", "create", "--password", "demo-pw", "demo-user")
    stack.openstack("role", "add", "--project", "demo", "--user", "demo-user", "member")
    demo = stack.user_env("demo-user", "demo-pw", "demo")
    path, _ = public_key_file(tmp_path)
    stack.openstack("keypair", "create", "--public-key", str(path), "admins-key")
    assert stack.openstack_json("keypair", "list", env=demo) == []
    assert stack.openstack("keypair", "show", "admins-key", env=demo,
                           check=False).returncode != 0


def test_nova_keypair_commands(stack, tmp_path):
    path = tmp_path / "k.pub"
    path.write_text(ED25519 + "\n")
    stack.nova("keypair-add", "--pub-key", str(path), "novakey")
    rows = table_rows(stack.nova("keypair-list").stdout)
    assert ["novakey", "ssh", ED25519_MD5] in rows, rows
    assert ED25519_MD5 in stack.nova("keypair-show", "novakey").stdout
    stack.nova("keypair-delete", "novakey")
    assert len(table_rows(stack.nova("keypair-list").stdout)) == 1
