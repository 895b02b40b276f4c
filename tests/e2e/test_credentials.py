"""Keystone credentials, EC2 credentials and `POST /v3/ec2tokens`, stored
policies, endpoint groups and project endpoint filtering, through the real
clients: `openstack credential ...`, `openstack ec2 credentials ...`,
`openstack policy ...`, `openstack endpoint group ...` and
`openstack endpoint add project`, with ec2tokens requests signed by
keystoneclient's own Ec2Signer (the signer EC2 front ends use)."""

import datetime
import hashlib
import json

import pytest
import requests
from keystoneclient.contrib.ec2.utils import Ec2Signer

pytestmark = pytest.mark.cli


def test_credential_create_list_show_set_delete(stack):
    made = stack.openstack_json("credential", "create", "--type", "cert", "admin",
                                '{"cert": "PEM"}')
    assert made["type"] == "cert"
    assert json.loads(made["blob"]) == {"cert": "PEM"}
    listed = stack.openstack_json("credential", "list", "--type", "cert")
    assert [c["ID"] for c in listed] == [made["id"]]
    stack.openstack("credential", "set", "--user", "admin", "--type", "cert",
                    "--data", '{"cert": "NEW"}', made["id"])
    shown = stack.openstack_json("credential", "show", made["id"])
    assert json.loads(shown["blob"]) == {"cert": "NEW"}
    stack.openstack("credential", "delete", made["id"])
    assert stack.openstack_json("credential", "list", "--type", "cert") == []


def ec2tokens(stack, body):
    return requests.post(f"{stack.auth_url}/ec2tokens", json=body, timeout=30)


def test_ec2_credentials_and_signed_requests(stack):
    made = stack.openstack_json("ec2", "credentials", "create")
    access, secret = made["access"], made["secret"]
    listed = stack.openstack_json("ec2", "credentials", "list")
    assert [c["Access"] for c in listed] == [access]
    # The same credential, seen through /v3/credentials.
    creds = stack.openstack_json("credential", "list", "--type", "ec2")
    assert [c["ID"] for c in creds] == [hashlib.sha256(access.encode()).hexdigest()]

    # Signature version 2, as an EC2 API front end forwards it.
    params = {"Action": "DescribeInstances", "AWSAccessKeyId": access,
              "SignatureVersion": "2", "SignatureMethod": "HmacSHA256",
              "Timestamp": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")}
    v2 = {"access": access, "host": "ec2.example.com:8788", "verb": "GET",
          "path": "/", "params": dict(params)}
    v2["signature"] = Ec2Signer(secret).generate(dict(v2, params=dict(params)))
    resp = ec2tokens(stack, {"credentials": v2})
    assert resp.status_code == 200, resp.text
    token = resp.json()["token"]
    assert token["methods"] == ["ec2credential"]
    assert token["project"]["name"] == "admin"
    subject = resp.headers["X-Subject-Token"]
    check = requests.get(f"{stack.auth_url}/auth/catalog",
                         headers={"X-Auth-Token": subject}, timeout=30)
    assert check.status_code == 200, check.text

    # Signature version 4 (Authorization header), as boto3 signs.
    now = datetime.datetime.utcnow()
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    scope = f"{now.strftime('%Y%m%d')}/RegionOne/ec2/aws4_request"
    headers = {"Host": "ec2.example.com:8788", "X-Amz-Date": amz_date,
               "Authorization": f"AWS4-HMAC-SHA256 Credential={access}/{scope}, "
                                "SignedHeaders=host;x-amz-date, Signature=unused"}
    v4 = {"access": access, "host": "ec2.example.com:8788", "verb": "GET", "path": "/",
          "params": {"Action": "DescribeRegions"}, "headers": headers,
          "body_hash": hashlib.sha256(b"").hexdigest()}
    v4["signature"] = Ec2Signer(secret).generate(json.loads(json.dumps(v4)))
    resp = ec2tokens(stack, {"credentials": v4})
    assert resp.status_code == 200, resp.text

    # A wrong secret, and a deleted credential.
    v2["signature"] = Ec2Signer("not-the-secret").generate(dict(v2, params=dict(params)))
    resp = ec2tokens(stack, {"credentials": v2})
    assert resp.status_code == 401, resp.text
    stack.openstack("ec2", "credentials", "delete", access)
    assert stack.openstack_json("ec2", "credentials", "list") == []
    resp = ec2tokens(stack, {"credentials": v4})
    assert resp.status_code == 404, resp.text


def test_policy_create_list_delete(stack, tmp_path):
    rules = tmp_path / "policy.json"
    rules.write_text('{"compute:get": ""}')
    made = stack.openstack_json("policy", "create", "--type", "application/json", str(rules))
    assert made["type"] == "application/json"
    listed = stack.openstack_json("policy", "list", "--long")
    assert [p["ID"] for p in listed] == [made["id"]]
    stack.openstack("policy", "delete", made["id"])
    assert stack.openstack_json("policy", "list") == []


def catalog_endpoint_ids(stack):
    _, token = stack.issue_token()
    return sorted(ep["id"] for s in token["catalog"] for ep in s["endpoints"])


def test_project_endpoint_filtering(stack, tmp_path):
    everything = catalog_endpoint_ids(stack)
    endpoints = stack.openstack_json("endpoint", "list", "--service", "identity")
    public = next(e for e in endpoints if e["Interface"] == "public")
    stack.openstack("endpoint", "add", "project", public["ID"], "admin")
    assert catalog_endpoint_ids(stack) == [public["ID"]]
    in_project = stack.openstack_json("endpoint", "list", "--project", "admin")
    assert [e["ID"] for e in in_project] == [public["ID"]]

    # An endpoint group adds every compute endpoint.
    compute = stack.openstack_json("service", "show", "compute")
    filters = tmp_path / "filters.json"
    filters.write_text(json.dumps({"service_id": compute["id"]}))
    group = stack.openstack_json("endpoint", "group", "create", "compute-only", str(filters))
    stack.openstack("endpoint", "group", "add", "project", group["id"], "admin")
    compute_eps = [e["ID"] for e in stack.openstack_json("endpoint", "list",
                                                         "--service", "compute")]
    assert catalog_endpoint_ids(stack) == sorted([public["ID"], *compute_eps])

    stack.openstack("endpoint", "group", "delete", group["id"])
    stack.openstack("endpoint", "remove", "project", public["ID"], "admin")
    assert catalog_endpoint_ids(stack) == everything
