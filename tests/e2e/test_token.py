"""Token lifetime as a user sees it: issue, revoke, and what a revoked token is worth."""

import pytest
import requests

from conftest import run

pytestmark = pytest.mark.cli


def validate(stack, admin_token: str, subject: str) -> int:
    resp = requests.get(f"{stack.auth_url}/auth/tokens", timeout=30,
                        headers={"X-Auth-Token": admin_token, "X-Subject-Token": subject})
    return resp.status_code


def token_env(stack, token: str) -> dict[str, str]:
    """Environment of a user authenticating with a bare token instead of a password."""
    env = {k: v for k, v in stack.env.items()
           if k not in ("OS_USERNAME", "OS_PASSWORD", "OS_USER_DOMAIN_NAME")}
    env.update(OS_AUTH_TYPE="v3token", OS_TOKEN=token)
    return env


def test_issued_token_validates(stack):
    token = stack.openstack("token", "issue", "-f", "value", "-c", "id").stdout.strip()
    admin_token, _ = stack.issue_token()
    assert validate(stack, admin_token, token) == 200


def test_issued_token_authenticates_the_cli(stack):
    token = stack.openstack("token", "issue", "-f", "value", "-c", "id").stdout.strip()
    out = run(token_env(stack, token), "openstack", "project", "list", "-f", "value", "-c", "Name")
    assert "admin" in out.stdout.split()


def test_revoked_token_no_longer_validates(stack):
    token = stack.openstack("token", "issue", "-f", "value", "-c", "id").stdout.strip()
    stack.openstack("token", "revoke", token)
    admin_token, _ = stack.issue_token()
    assert validate(stack, admin_token, token) == 404


def test_revoked_token_cannot_authenticate_the_cli(stack):
    token = stack.openstack("token", "issue", "-f", "value", "-c", "id").stdout.strip()
    stack.openstack("token", "revoke", token)
    proc = run(token_env(stack, token), "openstack", "project", "list", check=False)
    # Keystone's own answer here is "Failed to validate token (HTTP 404)".
    assert proc.returncode != 0, proc.stdout
    assert "admin" not in proc.stdout


def rotate_keys(stack) -> None:
    from conftest import ferrostack_bin

    run(stack.env, str(ferrostack_bin()), "admin", "rotate-token-keys",
        "--data-dir", str(stack.data_dir))


def test_key_rotation_keeps_tokens_until_their_key_retires(stack):
    """The operator's Fernet-style rotation, on a running server: a token
    survives one rotation and stops working once its key is retired (three
    keys kept: staged, primary, one secondary)."""
    before = stack.openstack("token", "issue", "-f", "value", "-c", "id").stdout.strip()
    rotate_keys(stack)
    admin_token, _ = stack.issue_token()  # sealed with the new primary
    assert validate(stack, admin_token, before) == 200
    rotate_keys(stack)
    fresh_admin, _ = stack.issue_token()
    assert validate(stack, fresh_admin, admin_token) == 200, "a token one rotation old still works"
    assert validate(stack, fresh_admin, before) == 404, "the retired key's token must be refused"
