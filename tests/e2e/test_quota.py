"""Compute quotas through both clients users have: `openstack quota` and `nova`."""

import pytest

from conftest import table_rows

pytestmark = pytest.mark.cli


def quota_limits(stack, project: str, *flags: str) -> dict[str, int]:
    rows = stack.openstack_json("quota", "show", *flags, project)
    return {row["Resource"]: row["Limit"] for row in rows}


def test_openstack_quota_set_cores(stack):
    stack.openstack("project", "create", "myproject")
    stack.openstack("quota", "set", "--cores", "30", "myproject")
    assert quota_limits(stack, "myproject")["cores"] == 30


def test_nova_quota_update_cores_by_project_name(stack):
    stack.openstack("project", "create", "myproject")
    stack.nova("quota-update", "--cores", "30", "myproject")
    assert quota_limits(stack, "myproject", "--compute")["cores"] == 30


def test_nova_quota_show_reads_openstack_quota_set(stack):
    project_id = stack.openstack_json("project", "create", "myproject")["id"]
    stack.openstack("quota", "set", "--instances", "7", "myproject")
    out = stack.nova("quota-show", "--tenant", project_id).stdout
    assert ["instances", "7"] in table_rows(out), out


def test_quota_of_one_project_does_not_change_another(stack):
    stack.openstack("project", "create", "p1")
    stack.openstack("project", "create", "p2")
    before = quota_limits(stack, "p2", "--compute")["cores"]
    stack.openstack("quota", "set", "--cores", str(before + 11), "p1")
    assert quota_limits(stack, "p2", "--compute")["cores"] == before


def test_deleting_a_project_drops_its_quota_overrides(stack):
    import requests

    project_id = stack.openstack_json("project", "create", "shortlived")["id"]
    stack.openstack("quota", "set", "--networks", "42", "--cores", "31", "shortlived")
    token, _ = stack.issue_token()
    network = stack.endpoint("network")

    def projects_with_network_overrides() -> set[str]:
        resp = requests.get(f"{network}/v2.0/quotas", headers={"X-Auth-Token": token}, timeout=30)
        assert resp.status_code == 200, resp.text
        return {q["project_id"] for q in resp.json()["quotas"]}

    assert project_id in projects_with_network_overrides()
    stack.openstack("project", "delete", "shortlived")
    assert project_id not in projects_with_network_overrides()
