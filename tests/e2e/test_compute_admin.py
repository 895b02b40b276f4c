"""Compute's administrative APIs through the clients operators use:
aggregates and the zones they make (`openstack aggregate ...`), os-hosts,
usage (`nova usage-list`, `openstack usage list`), migrations
(`openstack server migration list`), external events, and the images
proxy as openstacksdk's compute proxy calls it."""

import openstack
import pytest
import requests

pytestmark = pytest.mark.cli


def compute_host(stack):
    services = stack.openstack_json("compute", "service", "list", "--service", "nova-compute")
    assert services, "the allinone registers its compute service"
    return services[0]["Host"]


def test_aggregate_with_a_zone_puts_its_host_in_that_zone(stack):
    host = compute_host(stack)
    agg = stack.openstack_json("aggregate", "create", "--zone", "az1", "--property", "ssd=true",
                               "agg1")
    assert agg["availability_zone"] == "az1"
    stack.openstack("aggregate", "add", "host", "agg1", host)
    shown = stack.openstack_json("aggregate", "show", "agg1")
    assert shown["hosts"] == [host]
    assert shown["properties"] == {"ssd": "true"}
    zones = stack.openstack_json("availability", "zone", "list", "--compute")
    assert "az1" in [z["Zone Name"] for z in zones]
    services = stack.openstack_json("compute", "service", "list", "--service", "nova-compute")
    assert services[0]["Zone"] == "az1"
    # Nova's refusals: a second aggregate of the name, a delete with hosts,
    # the host in a second zone.
    dup = stack.openstack("aggregate", "create", "agg1", check=False)
    assert dup.returncode != 0 and "409" in dup.stderr
    busy = stack.openstack("aggregate", "delete", "agg1", check=False)
    assert busy.returncode != 0
    stack.openstack("aggregate", "create", "--zone", "az2", "agg2")
    clash = stack.openstack("aggregate", "add", "host", "agg2", host, check=False)
    assert clash.returncode != 0 and "409" in clash.stderr
    stack.openstack("aggregate", "remove", "host", "agg1", host)
    stack.openstack("aggregate", "delete", "agg1", "agg2")
    assert stack.openstack_json("aggregate", "list") == []
    services = stack.openstack_json("compute", "service", "list", "--service", "nova-compute")
    assert services[0]["Zone"] == "nova"


def test_aggregate_of_an_unknown_host_is_404(stack):
    stack.openstack("aggregate", "create", "agg1")
    proc = stack.openstack("aggregate", "add", "host", "agg1", "no-such-host", check=False)
    assert proc.returncode != 0 and "404" in proc.stderr


def test_usage_lists_and_audit_log_answer(stack):
    usage = stack.openstack_json("usage", "list")
    assert usage == []
    proc = stack.nova("usage-list")
    assert proc.returncode == 0, proc.stderr
    token, _ = stack.issue_token()
    compute = stack.endpoint("compute")
    audit = requests.get(f"{compute}/os-instance_usage_audit_log",
                         headers={"X-Auth-Token": token}, timeout=30)
    assert audit.status_code == 200
    log = audit.json()["instance_usage_audit_logs"]
    assert log["num_hosts_not_run"] == log["num_hosts"] >= 1
    bad = requests.get(f"{compute}/os-instance_usage_audit_log/invalid_time",
                       headers={"X-Auth-Token": token}, timeout=30)
    assert bad.status_code == 400


def test_migrations_list_is_empty_without_resizes(stack):
    assert stack.openstack_json("server", "migration", "list") == []


def test_os_hosts_until_2_42(stack):
    host = compute_host(stack)
    token, _ = stack.issue_token()
    compute = stack.endpoint("compute")
    headers = {"X-Auth-Token": token, "X-OpenStack-Nova-API-Version": "2.42"}
    hosts = requests.get(f"{compute}/os-hosts", headers=headers, timeout=30).json()["hosts"]
    assert {"host_name": host, "service": "compute", "zone": "nova"} in hosts
    shown = requests.get(f"{compute}/os-hosts/{host}", headers=headers, timeout=30).json()
    assert shown["host"][0]["resource"]["project"] == "(total)"
    headers["X-OpenStack-Nova-API-Version"] = "2.43"
    assert requests.get(f"{compute}/os-hosts", headers=headers, timeout=30).status_code == 404


def test_external_event_for_an_unknown_server_is_404(stack):
    token, _ = stack.issue_token()
    compute = stack.endpoint("compute")
    body = {"events": [{"name": "network-changed",
                        "server_uuid": "00000000-0000-0000-0000-000000000000"}]}
    resp = requests.post(f"{compute}/os-server-external-events", json=body,
                         headers={"X-Auth-Token": token}, timeout=30)
    assert resp.status_code == 404
    assert "itemNotFound" in resp.json()


def test_images_proxy_lists_shows_and_edits_metadata(stack, tmp_path):
    src = tmp_path / "disk.raw"
    src.write_bytes(b"\0" * 1024 * 1024)
    image = stack.openstack_json("image", "create", "--file", str(src), "--disk-format", "raw",
                                 "--container-format", "bare", "--property", "os_distro=test",
                                 "img1")
    env = stack.env
    conn = openstack.connect(
        auth_url=env["OS_AUTH_URL"], username=env["OS_USERNAME"], password=env["OS_PASSWORD"],
        project_name=env["OS_PROJECT_NAME"], user_domain_name="Default",
        project_domain_name="Default", compute_api_version="2.35")
    listed = [i for i in conn.compute.images()]
    assert [i.id for i in listed] == [image["id"]]
    shown = conn.compute.get_image(image["id"])
    # The custom properties, the client's own `owner_specified.*` included.
    assert shown.status == "ACTIVE" and shown.metadata["os_distro"] == "test"
    conn.compute.set_image_metadata(image["id"], flavor="small")
    props = stack.openstack_json("image", "show", image["id"])["properties"]
    assert props["flavor"] == "small"
    conn.compute.delete_image_metadata(image["id"], ["os_distro"])
    metadata = conn.compute.get_image(image["id"]).metadata
    assert "os_distro" not in metadata and metadata["flavor"] == "small"
    conn.compute.delete_image(image["id"])
    proc = stack.openstack("image", "show", image["id"], check=False)
    assert proc.returncode != 0
