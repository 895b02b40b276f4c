"""Small compute APIs through the clients: generated x509 key pairs (over
HTTP: the `openstack` client generates keys itself and imports them), the
controller as scheduler and
conductor services (`openstack compute service list`), the host's uptime
(`openstack hypervisor show`), Nova's extension
list (`openstack extension list --compute`) and per-user quotas
(`nova quota-update --user`, `nova quota-show --user`)."""

import pytest
import requests

from conftest import table_rows

pytestmark = pytest.mark.cli


def test_x509_keypair_is_generated_with_its_private_key_once(stack):
    token, _ = stack.issue_token()
    compute = stack.endpoint("compute")
    headers = {"X-Auth-Token": token, "X-OpenStack-Nova-API-Version": "2.2"}
    body = {"keypair": {"name": "xkey", "type": "x509"}}
    made = requests.post(f"{compute}/os-keypairs", json=body, headers=headers, timeout=30)
    assert made.status_code == 201, made.text
    made = made.json()["keypair"]
    assert made["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert made["public_key"].startswith("-----BEGIN CERTIFICATE-----")
    shown = stack.openstack_json("--os-compute-api-version", "2.2", "keypair", "show", "xkey")
    assert shown["type"] == "x509"
    assert shown["fingerprint"] == made["fingerprint"]
    assert len(shown["fingerprint"].split(":")) == 20, shown


def test_the_controller_is_listed_as_scheduler_and_conductor(stack):
    rows = stack.openstack_json("compute", "service", "list")
    seen = {(r["Binary"], r["Zone"], r["State"]) for r in rows}
    assert ("nova-scheduler", "internal", "up") in seen, rows
    assert ("nova-conductor", "internal", "up") in seen, rows
    assert any(r["Binary"] == "nova-compute" for r in rows), rows


def test_hypervisor_show_parses_the_hosts_uptime(stack):
    hypervisor = stack.openstack_json("hypervisor", "list")[0]
    shown = stack.openstack_json("hypervisor", "show", str(hypervisor["ID"]))
    # The client parses `uptime`'s line into these four fields.
    assert shown["host_time"].count(":") == 2, shown
    assert shown["users"].isdigit(), shown
    assert len(shown["load_average"].split(",")) == 3, shown
    assert shown["uptime"], shown


def test_extension_list_has_novas_entries(stack):
    rows = stack.openstack_json("extension", "list", "--compute")
    aliases = {r["Alias"] for r in rows}
    assert {"os-hosts", "os-consoles", "os-user-quotas"} <= aliases, aliases


def test_a_users_quota_is_set_shown_and_enforced_for_that_user(stack):
    stack.openstack("project", "create", "quotademo")
    stack.openstack("user", "create", "--password", "demo-pw", "quota-user")
    stack.openstack("role", "add", "--project", "quotademo", "--user", "quota-user", "member")
    project = stack.openstack_json("project", "show", "quotademo")["id"]
    user = stack.openstack_json("user", "show", "quota-user")["id"]
    stack.nova("quota-update", "--user", user, "--key-pairs", "1", project)
    rows = table_rows(stack.nova("quota-show", "--tenant", project, "--user", user).stdout)
    assert ["key_pairs", "1"] in rows, rows
    # The project's own quota is unchanged.
    rows = table_rows(stack.nova("quota-show", "--tenant", project).stdout)
    assert ["key_pairs", "100"] in rows, rows
    # Above the project's limit: refused.
    proc = stack.nova("quota-update", "--user", user, "--key-pairs", "101", project, check=False)
    assert proc.returncode != 0
    assert "must be less than or equal to 100" in proc.stderr, proc.stderr
    stack.nova("quota-delete", "--tenant", project, "--user", user)
    rows = table_rows(stack.nova("quota-show", "--tenant", project, "--user", user).stdout)
    assert ["key_pairs", "100"] in rows, rows
