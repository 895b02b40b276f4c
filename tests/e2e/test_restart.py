"""State survives a clean restart: SIGTERM, then `ferrostack allinone` again on
the same data dir keeps what users created (same command line unless a test
drops `--admin-password` to show the stored password is what counts)."""

import pytest
import requests

from conftest import run

pytestmark = [pytest.mark.cli, pytest.mark.restart]


def test_sigterm_exits_cleanly(stack):
    assert stack.stop() == 0


def test_restart_keeps_project(stack):
    created = stack.openstack_json("project", "create", "--description", "kept", "p1")
    stack.restart()
    shown = stack.openstack_json("project", "show", "p1")
    assert (shown["id"], shown["description"]) == (created["id"], "kept")


def test_restart_keeps_user_and_their_password(stack):
    stack.openstack("project", "create", "p1")
    created = stack.openstack_json("user", "create", "--password", "alice-pw", "alice")
    stack.openstack("role", "add", "--project", "p1", "--user", "alice", "member")
    stack.restart()
    assert stack.openstack_json("user", "show", "alice")["id"] == created["id"]
    token = stack.openstack_json("token", "issue", env=stack.user_env("alice", "alice-pw", "p1"))
    assert token["user_id"] == created["id"]


def test_restart_keeps_admin_password(stack):
    before = dict(stack.env)
    stack.restart()
    assert stack.env["OS_PASSWORD"] == before["OS_PASSWORD"]
    run(before, "openstack", "token", "issue")


def test_restart_without_password_flag_keeps_admin_password(stack):
    before = dict(stack.env)
    stack.admin_password = None
    stack.restart()
    run(before, "openstack", "token", "issue")


def test_restart_keeps_changed_admin_password(stack):
    stack.openstack("user", "set", "--password", "changed-secret", "admin")
    stack.admin_password = None
    stack.restart()
    run(dict(stack.env, OS_PASSWORD="changed-secret"), "openstack", "token", "issue")


def test_restart_keeps_issued_tokens_valid(stack):
    token, _ = stack.issue_token()
    stack.restart()
    resp = requests.get(f"{stack.auth_url}/projects", headers={"X-Auth-Token": token},
                        timeout=30)
    assert resp.status_code == 200, resp.text


def test_restart_keeps_quota(stack):
    stack.openstack("project", "create", "myproject")
    stack.openstack("quota", "set", "--cores", "30", "myproject")
    stack.restart()
    rows = stack.openstack_json("quota", "show", "--compute", "myproject")
    assert {r["Resource"]: r["Limit"] for r in rows}["cores"] == 30
