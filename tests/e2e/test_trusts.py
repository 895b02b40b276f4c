"""Trusts (OS-TRUST) and inherited role grants (OS-INHERIT) through the real
clients: `openstack trust ...`, a trust-scoped token from keystoneauth the
way Heat and Magnum get theirs, `openstack role add --inherited` and
`openstack role assignment list --effective`."""

import pytest
import requests
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

pytestmark = pytest.mark.cli

ALICE_PW = "alice-trustee-pw"


def make_trustee(stack):
    return stack.openstack_json("user", "create", "--password", ALICE_PW, "alice")


def trust_session(stack, trust_id):
    auth = v3.Password(auth_url=stack.auth_url, username="alice", password=ALICE_PW,
                       user_domain_name="Default", trust_id=trust_id)
    return ks_session.Session(auth=auth)


def test_trust_create_list_show_delete(stack):
    alice = make_trustee(stack)
    trust = stack.openstack_json("trust", "create", "--project", "admin", "--role", "member",
                                 "--impersonate", "admin", alice["id"])
    assert trust["trustee_user_id"] == alice["id"]
    assert trust["is_impersonation"] is True
    assert "member" in str(trust["roles"])
    listed = stack.openstack_json("trust", "list")
    assert [t["ID"] for t in listed] == [trust["id"]]
    shown = stack.openstack_json("trust", "show", trust["id"])
    assert shown["project_id"] == trust["project_id"]
    stack.openstack("trust", "delete", trust["id"])
    assert stack.openstack_json("trust", "list") == []
    gone = stack.openstack("trust", "show", trust["id"], check=False)
    assert gone.returncode != 0


def test_a_trust_scoped_token_from_keystoneauth(stack):
    alice = make_trustee(stack)
    admin = stack.openstack_json("user", "show", "admin")
    trust = stack.openstack_json("trust", "create", "--project", "admin", "--role", "reader",
                                 "--impersonate", "admin", alice["id"])
    sess = trust_session(stack, trust["id"])
    ref = sess.auth.get_auth_ref(sess)
    assert ref.trust_scoped
    assert ref.trust_id == trust["id"]
    assert ref.trustee_user_id == alice["id"]
    assert ref.trustor_user_id == admin["id"]
    # Impersonation: the token acts as the trustor, with the delegated role only.
    assert ref.user_id == admin["id"]
    assert ref.role_names == ["reader"]
    assert ref.project_id == trust["project_id"]
    # The token is good for the catalog's services.
    token = sess.get_token()
    resp = requests.get(f"{stack.auth_url}/auth/catalog", headers={"X-Auth-Token": token},
                        timeout=30)
    assert resp.status_code == 200, resp.text

    # Deleting the trust ends the token.
    stack.openstack("trust", "delete", trust["id"])
    resp = requests.get(f"{stack.auth_url}/auth/catalog", headers={"X-Auth-Token": token},
                        timeout=30)
    assert resp.status_code == 401, resp.text


def test_role_add_inherited_and_effective_assignments(stack):
    make_trustee(stack)
    stack.openstack("role", "create", "inheritor")
    stack.openstack("project", "create", "parent")
    stack.openstack("project", "create", "--parent", "parent", "child")
    stack.openstack("role", "add", "--inherited", "--project", "parent", "--user", "alice",
                    "inheritor")
    raw = stack.openstack_json("role", "assignment", "list", "--user", "alice", "--names")
    assert len(raw) == 1 and raw[0]["Inherited"] is True
    child = stack.openstack_json("role", "assignment", "list", "--effective", "--user", "alice",
                                 "--project", "child", "--names")
    assert [(a["Role"], a["Inherited"]) for a in child] == [("inheritor", False)]
    parent = stack.openstack_json("role", "assignment", "list", "--effective", "--user", "alice",
                                  "--project", "parent")
    assert parent == []
    # alice can now get a token on the child project, not on the parent.
    env = stack.user_env("alice", ALICE_PW, "child")
    token = stack.openstack_json("token", "issue", env=env)
    assert token["project_id"] == stack.openstack_json("project", "show", "child")["id"]
    refused = stack.openstack("token", "issue", env=stack.user_env("alice", ALICE_PW, "parent"),
                              check=False)
    assert refused.returncode != 0
    stack.openstack("role", "remove", "--inherited", "--project", "parent", "--user", "alice",
                    "inheritor")
    assert stack.openstack_json("role", "assignment", "list", "--user", "alice") == []


def test_role_add_inherited_on_a_domain_for_a_group(stack):
    make_trustee(stack)
    stack.openstack("role", "create", "domainwide")
    stack.openstack("group", "create", "heirs")
    stack.openstack("group", "add", "user", "heirs", "alice")
    stack.openstack("project", "create", "anywhere")
    stack.openstack("role", "add", "--inherited", "--domain", "default", "--group", "heirs",
                    "domainwide")
    eff = stack.openstack_json("role", "assignment", "list", "--effective", "--user", "alice",
                               "--project", "anywhere", "--names")
    assert [a["Role"] for a in eff] == ["domainwide"]


@pytest.mark.restart
def test_a_trust_and_its_token_survive_a_restart(stack):
    alice = make_trustee(stack)
    trust = stack.openstack_json("trust", "create", "--project", "admin", "--role", "member",
                                 "admin", alice["id"])
    sess = trust_session(stack, trust["id"])
    token = sess.get_token()
    stack.restart()
    assert stack.openstack_json("trust", "show", trust["id"])["id"] == trust["id"]
    resp = requests.get(f"{stack.auth_url}/auth/catalog", headers={"X-Auth-Token": token},
                        timeout=30)
    assert resp.status_code == 200, resp.text
    # And a new trust-scoped token is still given.
    again = trust_session(stack, trust["id"])
    assert again.auth.get_auth_ref(again).trust_scoped
