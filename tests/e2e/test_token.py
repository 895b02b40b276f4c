"""Token lifetime as a user sees it: issue, revoke, and what a revoked token is worth."""

import base64
import time

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

    # The keys are in the cloud's database: the CLI is given the same
    # `--database` as the server (nothing: the data dir's SQLite file).
    database = []
    if "--database" in stack.extra_args:
        i = stack.extra_args.index("--database")
        database = stack.extra_args[i:i + 2]
    run(stack.env, str(ferrostack_bin()), "admin", "rotate-token-keys",
        "--data-dir", str(stack.data_dir), *database)


# The server re-reads its keys this often (KEY_RELOAD_PERIOD in
# crates/identity/src/service.rs) when no change notification reaches it
# (a rotation by another process on a SQLite file); on PostgreSQL the
# rotation's notification gets there first.
KEY_RELOAD_S = 5


def key_number(token: str) -> int:
    """The key a token names: its first four bytes, big-endian."""
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    return int.from_bytes(raw[:4], "big")


def token_sealed_with(stack, number: int) -> str:
    """A new admin token, as soon as the server seals with key `number`: a
    rotation reaches a running server within its reload period."""
    deadline = time.monotonic() + 3 * KEY_RELOAD_S
    while True:
        token, _ = stack.issue_token()
        if key_number(token) == number:
            return token
        assert time.monotonic() < deadline, \
            f"key {number} not used {3 * KEY_RELOAD_S} s after the rotation (got {key_number(token)})"
        time.sleep(0.25)


def test_key_rotation_keeps_tokens_until_their_key_retires(stack):
    """The operator's Fernet-style rotation, on a running server: a token
    survives one rotation and stops working once its key is retired (three
    keys kept: staged, primary, one secondary). The server picks each
    rotation up within its reload period."""
    before = stack.openstack("token", "issue", "-f", "value", "-c", "id").stdout.strip()
    assert key_number(before) == 1
    rotate_keys(stack)
    admin_token = token_sealed_with(stack, 2)
    assert validate(stack, admin_token, before) == 200
    rotate_keys(stack)
    # Keys are loaded all at once: key 3 in use means key 1 is gone.
    fresh_admin = token_sealed_with(stack, 3)
    assert validate(stack, fresh_admin, admin_token) == 200, "a token one rotation old still works"
    assert validate(stack, fresh_admin, before) == 404, "the retired key's token must be refused"
