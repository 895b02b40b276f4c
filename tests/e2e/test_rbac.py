"""A member of one project, logged in with their own credentials: sees their
project only, and is refused what only an admin may do (and nothing happens)."""

import pytest

from conftest import run

pytestmark = [pytest.mark.cli, pytest.mark.rbac]

MEMBER, MEMBER_PW, PROJECT, OTHER_PROJECT = "alice", "alice-pw", "alice-project", "bystander"


@pytest.fixture
def member_env(stack) -> dict[str, str]:
    """Admin creates a project, a user with a password, and makes them a member."""
    stack.openstack("project", "create", PROJECT)
    stack.openstack("project", "create", OTHER_PROJECT)
    stack.openstack("user", "create", "--password", MEMBER_PW, MEMBER)
    stack.openstack("role", "add", "--project", PROJECT, "--user", MEMBER, "member")
    return stack.user_env(MEMBER, MEMBER_PW, PROJECT)


def names(stack, *args: str) -> set[str]:
    return set(stack.openstack(*args, "-f", "value", "-c", "Name").stdout.split())


def test_member_token_is_scoped_to_their_project(stack, member_env):
    token = stack.openstack_json("token", "issue", env=member_env)
    assert token["project_id"] == stack.openstack_json("project", "show", PROJECT)["id"]


def test_member_my_projects_lists_only_their_project(stack, member_env):
    listed = stack.openstack("project", "list", "--my-projects", "-f", "value", "-c", "Name",
                             env=member_env).stdout.split()
    assert listed == [PROJECT]


def test_member_wrong_password_is_refused(stack, member_env):
    env = dict(member_env, OS_PASSWORD="not-the-password")
    proc = run(env, "openstack", "token", "issue", check=False)
    assert proc.returncode != 0 and "401" in proc.stderr, proc.stderr


def refused(proc) -> bool:
    return proc.returncode != 0 and any(
        word in proc.stderr for word in ("403", "Forbidden", "not authorized"))


def test_member_cannot_create_project(stack, member_env):
    proc = run(member_env, "openstack", "project", "create", "intruder", check=False)
    assert refused(proc), proc.stderr
    assert "intruder" not in names(stack, "project", "list")


def test_member_cannot_create_user(stack, member_env):
    proc = run(member_env, "openstack", "user", "create", "--password", "x", "intruder",
               check=False)
    assert refused(proc), proc.stderr
    assert "intruder" not in names(stack, "user", "list")


def test_member_cannot_list_users(stack, member_env):
    proc = run(member_env, "openstack", "user", "list", check=False)
    assert refused(proc), proc.stderr


def test_member_cannot_delete_admin_project(stack, member_env):
    admin_id = stack.openstack_json("project", "show", "admin")["id"]
    proc = run(member_env, "openstack", "project", "delete", admin_id, check=False)
    assert proc.returncode != 0, proc.stdout
    assert "admin" in names(stack, "project", "list")


def test_member_cannot_grant_roles(stack, member_env):
    # Only the effect is asserted: with Keystone itself, `role add` run by a
    # member fails to resolve names, gets 404 on the PUT, and still exits 0.
    run(member_env, "openstack", "role", "add", "--project", PROJECT, "--user", MEMBER,
        "admin", check=False)
    rows = stack.openstack_json("role", "assignment", "list", "--names", "--user", MEMBER)
    assert {r["Role"] for r in rows} == {"member"}, rows


def compute_cores(stack, project: str) -> int:
    rows = stack.openstack_json("quota", "show", "--compute", project)
    return {r["Resource"]: r["Limit"] for r in rows}["cores"]


def test_member_cannot_set_quota(stack, member_env):
    project_id = stack.openstack_json("project", "show", PROJECT)["id"]
    before = compute_cores(stack, project_id)
    proc = run(member_env, "openstack", "quota", "set", "--cores", str(before + 5), project_id,
               check=False)
    assert refused(proc), proc.stderr
    assert compute_cores(stack, project_id) == before
