"""The wire format where clients do not hide it: status codes, each service's
error body, and the request id header. Raw HTTP with `requests`."""

import json
import re
import uuid

import pytest
import requests

pytestmark = pytest.mark.http

REQUEST_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture
def admin(stack) -> dict[str, str]:
    """Headers of an admin request: a project-scoped admin token."""
    token, _ = stack.issue_token()
    return {"X-Auth-Token": token}


def assert_keystone_error(resp: requests.Response, code: int) -> None:
    assert resp.status_code == code, resp.text
    error = resp.json()["error"]
    assert error["code"] == code, error
    assert isinstance(error["title"], str) and error["title"], error
    assert isinstance(error["message"], str) and error["message"], error


def project_ids(stack, admin) -> set[str]:
    resp = requests.get(f"{stack.auth_url}/projects", headers=admin, timeout=30)
    assert resp.status_code == 200, resp.text
    return {p["id"] for p in resp.json()["projects"]}


def test_malformed_json_project_create_is_400(stack, admin):
    resp = requests.post(f"{stack.auth_url}/projects", data=b'{"project": {"name": "bad",',
                         headers={**admin, "Content-Type": "application/json"}, timeout=30)
    assert_keystone_error(resp, 400)


def test_malformed_json_project_create_creates_nothing(stack, admin):
    before = project_ids(stack, admin)
    requests.post(f"{stack.auth_url}/projects", data=b'{"project": {"name": "bad",',
                  headers={**admin, "Content-Type": "application/json"}, timeout=30)
    assert project_ids(stack, admin) == before


def test_project_create_without_name_is_400(stack, admin):
    resp = requests.post(f"{stack.auth_url}/projects", json={"project": {"enabled": True}},
                         headers=admin, timeout=30)
    assert_keystone_error(resp, 400)


def test_unknown_project_id_is_404(stack, admin):
    resp = requests.get(f"{stack.auth_url}/projects/{uuid.uuid4().hex}", headers=admin,
                        timeout=30)
    assert_keystone_error(resp, 404)


def test_missing_token_is_401(stack):
    resp = requests.get(f"{stack.auth_url}/projects", timeout=30)
    assert_keystone_error(resp, 401)


def test_garbage_token_is_401(stack):
    resp = requests.get(f"{stack.auth_url}/projects", headers={"X-Auth-Token": "garbage"},
                        timeout=30)
    assert_keystone_error(resp, 401)


def test_nova_quota_put_non_integer_is_400(stack, admin):
    project_id = stack.issue_token()[1]["project"]["id"]
    compute = stack.endpoint("compute")
    resp = requests.put(f"{compute}/os-quota-sets/{project_id}",
                        json={"quota_set": {"cores": "lots"}}, headers=admin, timeout=30)
    assert resp.status_code == 400, resp.text
    body = resp.json()["badRequest"]
    assert body["code"] == 400 and body["message"], body


def test_nova_quota_put_non_integer_changes_nothing(stack, admin):
    project_id = stack.issue_token()[1]["project"]["id"]
    url = f"{stack.endpoint('compute')}/os-quota-sets/{project_id}"
    before = requests.get(url, headers=admin, timeout=30).json()
    requests.put(url, json={"quota_set": {"cores": "lots"}}, headers=admin, timeout=30)
    assert requests.get(url, headers=admin, timeout=30).json() == before


# (description, service type or None for identity, method, path under the endpoint,
#  authenticated?, body)
REQUESTS = [
    ("identity version", None, "GET", "", False, None),
    ("identity list ok", None, "GET", "/projects", True, None),
    ("identity 401", None, "GET", "/projects", False, None),
    ("identity 404", None, "GET", f"/projects/{uuid.uuid4().hex}", True, None),
    ("identity 400", None, "POST", "/projects", True, b"{not json"),
    ("token issue", None, "POST", "/auth/tokens", False, "password"),
    ("compute quota", "compute", "GET", "/os-quota-sets/{project_id}", True, None),
    ("compute 400", "compute", "PUT", "/os-quota-sets/{project_id}", True,
     b'{"quota_set": {"cores": "lots"}}'),
    ("compute 401", "compute", "GET", "/os-quota-sets/{project_id}", False, None),
    ("image", "image", "GET", "", True, None),
    ("volume", "volumev3", "GET", "", True, None),
    ("network", "network", "GET", "", True, None),
    ("placement", "placement", "GET", "", True, None),
]


@pytest.mark.parametrize("name,service,method,path,authed,body", REQUESTS,
                         ids=[r[0] for r in REQUESTS])
def test_response_carries_request_id(stack, admin, name, service, method, path, authed, body):
    token, token_body = stack.issue_token()
    base = stack.auth_url if service is None else stack.endpoint(service)
    url = base + path.format(project_id=token_body["project"]["id"])
    headers = {"Content-Type": "application/json", **(admin if authed else {})}
    if body == "password":
        env = stack.env
        body = json.dumps({"auth": {"identity": {"methods": ["password"], "password": {
            "user": {"name": env["OS_USERNAME"], "password": env["OS_PASSWORD"],
                     "domain": {"id": "default"}}}}}}).encode()
    resp = requests.request(method, url, data=body, headers=headers, timeout=30)
    request_id = resp.headers.get("X-OpenStack-Request-Id")
    assert request_id is not None, f"{resp.status_code} {dict(resp.headers)}"
    assert REQUEST_ID.match(request_id), request_id
