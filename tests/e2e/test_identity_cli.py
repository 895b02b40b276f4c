"""Identity through the `openstack` CLI as the admin of keystonerc_admin:
tokens, projects, users, roles, the service catalog."""

import pytest

from conftest import run

pytestmark = pytest.mark.cli

CATALOG_TYPES = {"identity", "compute", "image", "volumev3", "network", "placement"}
# Service type in the catalog -> the `--<name>-port` the harness gave it.
PORT_OF_TYPE = {"identity": "identity", "compute": "compute", "image": "image",
                "volumev3": "volume", "network": "network", "placement": "placement"}


def test_token_issue_is_scoped_to_admin_project(stack):
    token = stack.openstack_json("token", "issue")
    admin = stack.openstack_json("project", "show", "admin")
    assert token["id"]
    assert token["project_id"] == admin["id"]
    assert token["expires"]


def test_bootstrap_creates_standard_roles(stack):
    names = stack.openstack("role", "list", "-f", "value", "-c", "Name").stdout.split()
    # Keystone's bootstrap set, manager included (admin => manager => member => reader).
    assert {"admin", "manager", "member", "reader", "service"} <= set(names)


def test_project_show(stack):
    created = stack.openstack_json("project", "create", "--description", "first", "p1")
    shown = stack.openstack_json("project", "show", "p1")
    assert shown["id"] == created["id"]
    assert shown["name"] == "p1"
    assert shown["description"] == "first"
    assert shown["enabled"] is True
    assert shown["domain_id"] == "default"


def test_project_set_description(stack):
    stack.openstack("project", "create", "--description", "before", "p1")
    stack.openstack("project", "set", "--description", "after", "p1")
    assert stack.openstack_json("project", "show", "p1")["description"] == "after"


def test_project_set_disable(stack):
    stack.openstack("project", "create", "p1")
    stack.openstack("project", "set", "--disable", "p1")
    assert stack.openstack_json("project", "show", "p1")["enabled"] is False


def test_project_set_enable(stack):
    stack.openstack("project", "create", "--disable", "p1")
    stack.openstack("project", "set", "--enable", "p1")
    assert stack.openstack_json("project", "show", "p1")["enabled"] is True


def test_user_create_with_password(stack):
    created = stack.openstack_json("user", "create", "--password", "alice-pw", "alice")
    assert created["name"] == "alice"
    assert created["enabled"] is True
    assert "alice" in stack.openstack("user", "list", "-f", "value", "-c", "Name").stdout.split()


def test_role_add_shows_in_assignment_list(stack):
    stack.openstack("project", "create", "p1")
    stack.openstack("user", "create", "--password", "alice-pw", "alice")
    stack.openstack("role", "add", "--project", "p1", "--user", "alice", "member")
    rows = stack.openstack_json("role", "assignment", "list", "--names")
    assert any(r["Role"] == "member" and r["User"] == "alice@Default"
               and r["Project"] == "p1@Default" for r in rows), rows


def test_catalog_lists_all_services(stack):
    services = stack.openstack_json("catalog", "list")
    assert CATALOG_TYPES <= {s["Type"] for s in services}, services


def test_endpoint_list_has_public_endpoints_on_the_given_ports(stack):
    endpoints = stack.openstack_json("endpoint", "list", "--interface", "public")
    by_type = {e["Service Type"]: e for e in endpoints}
    assert CATALOG_TYPES <= set(by_type), endpoints
    for service_type, port_name in PORT_OF_TYPE.items():
        ep = by_type[service_type]
        assert ep["Region"] == "RegionOne", ep
        assert ep["Enabled"] is True, ep
        assert f"127.0.0.1:{stack.ports[port_name]}" in ep["URL"], ep


def test_clouds_yaml_authenticates(stack):
    env = {k: v for k, v in stack.env.items() if not k.startswith("OS_")}
    env.update(OS_CLIENT_CONFIG_FILE=str(stack.data_dir / "clouds.yaml"), OS_CLOUD="ferrostack")
    proc = run(env, "openstack", "token", "issue", "-f", "value", "-c", "id")
    assert proc.stdout.strip()


def test_unified_limits(stack):
    """Keystone's unified limits through the CLI: a registered default, a
    project's own limit, and the registered limit kept while it is in use."""
    project = stack.openstack_json("project", "create", "limited")
    registered = stack.openstack_json(
        "registered", "limit", "create", "--service", "nova", "--default-limit", "10",
        "--description", "vCPUs", "cores")
    assert registered["default_limit"] == 10
    assert registered["resource_name"] == "cores"
    limit = stack.openstack_json(
        "limit", "create", "--project", "limited", "--service", "nova",
        "--resource-limit", "4", "cores")
    assert limit["project_id"] == project["id"]
    assert limit["resource_limit"] == 4
    # A limit needs a registered limit: refused, nothing created.
    refused = stack.openstack(
        "limit", "create", "--project", "limited", "--service", "nova",
        "--resource-limit", "4", "ram", check=False)
    assert refused.returncode != 0
    listed = stack.openstack_json("limit", "list")
    assert [l["ID"] for l in listed] == [limit["id"]]
    # In use: the registered limit stays.
    assert stack.openstack("registered", "limit", "delete", registered["id"],
                           check=False).returncode != 0
    assert stack.openstack_json("registered", "limit", "show", registered["id"])["id"]
    stack.openstack("limit", "set", "--resource-limit", "6", limit["id"])
    assert stack.openstack_json("limit", "show", limit["id"])["resource_limit"] == 6
    stack.openstack("limit", "delete", limit["id"])
    stack.openstack("registered", "limit", "delete", registered["id"])
    assert stack.openstack_json("registered", "limit", "list") == []
