"""Three controllers on one PostgreSQL database serve one cloud.

What a user of a cloud with several controllers must not be able to
tell: which controller answered. A project or server made through one is
seen through the others at once; a role removed on one stops, within a
second, a token issued by another when it is used on the third; a
controller killed with SIGKILL while clients create servers through the
load balancer loses no acknowledged create; fifty creates spread over
the three against a quota of ten make exactly ten servers; and a volume
made through one is extended, snapshotted, cloned, attached and deleted
through the others on the disk of the one that holds it, while a dead
controller's volumes are refused (503) with nothing changed.

One cloud (controllers.py) for the whole module; the SIGKILL test runs
last, since it leaves that cloud with two controllers.
"""

from __future__ import annotations

import os
import threading
import time

import pytest
import requests

from controllers import CONTROLLER_HOSTS, Cloud

pytestmark = [pytest.mark.controllers]

COMPUTE_VERSION = {"OpenStack-API-Version": "compute 2.37"}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory, postgres_server):
    if os.geteuid() != 0:
        pytest.skip("the private PostgreSQL server needs root")
    c = Cloud(tmp_path_factory.mktemp("controllers"), postgres_server.database("multi"))
    try:
        c.start()
        disk = c.workdir / "empty.raw"
        disk.write_bytes(b"\0" * 65536)
        c.openstack("image", "create", "--disk-format", "raw", "--container-format", "bare",
                    "--file", str(disk), "empty")
        c.openstack("flavor", "create", "--vcpus", "1", "--ram", "64", "--disk", "0", "micro")
        c.image_id = c.openstack_json("image", "show", "empty")["id"]
        c.flavor_id = c.openstack_json("flavor", "show", "micro")["id"]
        yield c
    finally:
        c.stop()


@pytest.fixture(autouse=True)
def _logs(request, cloud):
    """A failing test's report carries every controller's log and the agent's."""
    request.node._ferrostack_logs = cloud.logs()


def token(cloud: Cloud, user: str, password: str, project: str,
          controller: int | None = None) -> str:
    body = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "password": password, "domain": {"id": "default"}}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}},
    }}
    resp = requests.post(f"{cloud.url('identity', controller)}/auth/tokens", json=body, timeout=30)
    assert resp.status_code == 201, resp.text
    return resp.headers["X-Subject-Token"]


def admin_project(cloud: Cloud, name: str, **quota: int) -> dict[str, str]:
    """A fresh project the admin works in (admin role), with `quota`; its env."""
    cloud.openstack("project", "create", name)
    cloud.openstack("role", "add", "--user", "admin", "--project", name, "admin")
    if quota:
        args = [f"--{k}={v}" for k, v in quota.items()]
        cloud.openstack("quota", "set", *args, name)
    return cloud.project_env(name)


def create_body(cloud: Cloud, name: str) -> dict:
    return {"server": {"name": name, "imageRef": cloud.image_id, "flavorRef": cloud.flavor_id,
                       "networks": "none"}}


def test_a_project_made_on_one_controller_is_listed_by_the_next_at_once(cloud):
    cloud.openstack("project", "create", "made-on-a", on=0)
    listed = [p["Name"] for p in cloud.openstack_json("project", "list", on=1)]
    assert "made-on-a" in listed


def test_a_server_made_on_one_controller_is_shown_by_another(cloud):
    created = cloud.openstack_json("server", "create", "--image", "empty", "--flavor", "micro",
                                   "--nic", "none", "--wait", "made-on-a", on=0)
    assert created["status"] == "ACTIVE", created
    shown = cloud.openstack_json("server", "show", created["id"], on=2)
    assert (shown["name"], shown["status"]) == ("made-on-a", "ACTIVE")
    cloud.openstack("server", "delete", "--wait", created["id"], on=1)


def test_a_role_removed_on_one_controller_stops_a_token_of_another_on_the_third(cloud):
    cloud.openstack("project", "create", "revoked")
    cloud.openstack("user", "create", "--password", "revoked-secret", "revokee")
    cloud.openstack("role", "add", "--user", "revokee", "--project", "revoked", "member")
    # Issued by controller A, used on controller C.
    issued = token(cloud, "revokee", "revoked-secret", "revoked", controller=0)
    servers_on_c = f"{cloud.url('compute', 2)}/servers"
    resp = requests.get(servers_on_c, headers={"X-Auth-Token": issued}, timeout=30)
    assert resp.status_code == 200, resp.text

    cloud.openstack("role", "remove", "--user", "revokee", "--project", "revoked", "member",
                    on=1)
    removed = time.monotonic()
    status = 200
    while time.monotonic() - removed < 5:
        status = requests.get(servers_on_c, headers={"X-Auth-Token": issued},
                              timeout=30).status_code
        if status == 401:
            break
        time.sleep(0.01)
    delay = time.monotonic() - removed
    print(f"\nthe token stopped on the third controller {delay * 1000:.0f} ms after "
          "the role removal returned")
    assert status == 401, "the token still works after the role was removed"
    assert delay < 1.0, f"the token worked for {delay:.2f} s after the role removal"


def test_fifty_creates_over_three_controllers_against_a_quota_of_ten_make_ten(cloud):
    env = admin_project(cloud, "race", instances=10)
    tok = token(cloud, "admin", env["OS_PASSWORD"], "race")
    start = threading.Barrier(50)
    statuses: list[int] = [0] * 50

    def create(i: int) -> None:
        url = f"{cloud.url('compute', i % len(CONTROLLER_HOSTS))}/servers"
        start.wait()
        resp = requests.post(url, json=create_body(cloud, f"race-{i}"), timeout=60,
                             headers={"X-Auth-Token": tok, **COMPUTE_VERSION})
        statuses[i] = resp.status_code

    threads = [threading.Thread(target=create, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(statuses)) == [202, 403], statuses
    assert statuses.count(202) == 10, statuses
    servers = cloud.openstack_json("server", "list", env=env)
    assert len(servers) == 10, servers
    limits = {r["Name"]: r["Value"]
              for r in cloud.openstack_json("limits", "show", "--absolute", env=env)}
    assert (limits["max_total_instances"], limits["total_instances_used"]) == (10, 10), limits


# -- volumes: the data lives on one controller, the requests land anywhere --

VOLUME_VERSION = {"OpenStack-API-Version": "volume 3.42"}
GIB = 1 << 30


def volume_api(cloud: Cloud, controller: int, tok: str):
    """A REST caller of one controller's block storage API."""
    base = f"http://{CONTROLLER_HOSTS[controller]}:{cloud.ports['volume']}/v3"

    def call(method: str, path: str, body: dict | None = None) -> requests.Response:
        return requests.request(method, f"{base}{path}", json=body, timeout=60,
                                headers={"X-Auth-Token": tok, **VOLUME_VERSION})
    return call


def volume_file(cloud: Cloud, controller: int, volume_id: str):
    """Where controller `controller`'s local backend keeps a volume's top file."""
    return cloud.controllers[controller].data_dir / "volumes" / "volumes" / volume_id


def virtual_size(path) -> int:
    """The virtual size in a qcow2 header (bytes 24..32, big-endian)."""
    with open(path, "rb") as f:
        head = f.read(32)
    return int.from_bytes(head[24:32], "big")


def wait_volume(call, volume_id: str, status: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    shown: dict = {}
    while time.monotonic() < deadline:
        resp = call("GET", f"/volumes/{volume_id}")
        assert resp.status_code == 200, resp.text
        shown = resp.json()["volume"]
        if shown["status"] == status:
            return shown
        assert not shown["status"].startswith("error"), shown
        time.sleep(0.2)
    raise AssertionError(f"volume {volume_id} never became {status}: {shown}")


def new_volume(call, name: str, size: int = 1, **extra) -> dict:
    resp = call("POST", "/volumes", {"volume": {"name": name, "size": size, **extra}})
    assert resp.status_code == 202, resp.text
    return wait_volume(call, resp.json()["volume"]["id"], "available")


@pytest.fixture(scope="module")
def storage_agent(cloud):
    """An agent on the first controller's host: what exports its volumes
    to guests on other hosts (fake exports here, as the fake hypervisor)."""
    from controllers import FakeComputeHost, shared_free_ports
    port = shared_free_ports(1, ("127.0.0.1",))[0]
    agent = FakeComputeHost(cloud.workdir / "storage-agent",
                            [f"https://{h}:{cloud.ports['host-api']}" for h in CONTROLLER_HOSTS],
                            cloud.controllers[0].data_dir / "join-token", port)
    agent.host_name = cloud.controllers[0].host_name
    agent.argv[agent.argv.index("mc-host")] = agent.host_name
    agent.start()
    yield agent
    agent.stop()


def test_a_volume_is_worked_on_through_every_controller_where_its_data_lives(cloud,
                                                                           storage_agent):
    tok = token(cloud, "admin", cloud.env["OS_PASSWORD"], "admin")
    on = [volume_api(cloud, i, tok) for i in range(len(CONTROLLER_HOSTS))]
    v = new_volume(on[0], "mc-vol")
    vid = v["id"]
    assert v["os-vol-host-attr:host"].startswith("controller-1@"), v
    data = volume_file(cloud, 0, vid)
    assert virtual_size(data) == GIB
    assert not any(volume_file(cloud, i, vid).exists() for i in (1, 2))

    # Extended through the second controller: the first one's file grows.
    resp = on[1]("POST", f"/volumes/{vid}/action", {"os-extend": {"new_size": 2}})
    assert resp.status_code == 202, resp.text
    assert wait_volume(on[1], vid, "available")["size"] == 2
    assert virtual_size(data) == 2 * GIB
    assert not volume_file(cloud, 1, vid).exists()

    # Snapshotted through the third, cloned from it and from the volume
    # through the second: the copies are on the first controller too.
    resp = on[2]("POST", "/snapshots", {"snapshot": {"volume_id": vid, "name": "mc-snap"}})
    assert resp.status_code == 202, resp.text
    sid = resp.json()["snapshot"]["id"]
    deadline = time.monotonic() + 60
    while on[2]("GET", f"/snapshots/{sid}").json()["snapshot"]["status"] != "available":
        assert time.monotonic() < deadline, "the snapshot never became available"
        time.sleep(0.2)
    from_snap = new_volume(on[1], "mc-from-snap", size=3, snapshot_id=sid)
    clone = new_volume(on[2], "mc-clone", size=2, source_volid=vid)
    for c in (from_snap, clone):
        assert c["os-vol-host-attr:host"].startswith("controller-1@"), c
        assert volume_file(cloud, 0, c["id"]).exists()
    assert virtual_size(volume_file(cloud, 0, from_snap["id"])) == 3 * GIB

    # Attached to a (fake) server through the second controller's compute
    # API, and detached through the third's.
    created = cloud.openstack_json("server", "create", "--image", "empty", "--flavor", "micro",
                                   "--nic", "none", "--wait", "mc-vol-server", on=1)
    server = created["id"]
    compute = f"http://{CONTROLLER_HOSTS[1]}:{cloud.ports['compute']}/v2.1"
    headers = {"X-Auth-Token": tok, **COMPUTE_VERSION}
    resp = requests.post(f"{compute}/servers/{server}/os-volume_attachments", timeout=60,
                         headers=headers, json={"volumeAttachment": {"volumeId": clone["id"]}})
    assert resp.status_code == 200, resp.text
    attached = wait_volume(on[0], clone["id"], "in-use", timeout=90)
    assert attached["attachments"][0]["server_id"] == server
    compute_c = f"http://{CONTROLLER_HOSTS[2]}:{cloud.ports['compute']}/v2.1"
    resp = requests.delete(f"{compute_c}/servers/{server}/os-volume_attachments/{clone['id']}",
                           headers=headers, timeout=60)
    assert resp.status_code == 202, resp.text
    wait_volume(on[2], clone["id"], "available", timeout=90)
    cloud.openstack("server", "delete", "--wait", server)

    # Deleted through controllers that do not hold them: the files go.
    for call, vol in ((on[1], clone), (on[2], from_snap)):
        assert call("DELETE", f"/volumes/{vol['id']}").status_code == 202
    assert on[1]("DELETE", f"/snapshots/{sid}").status_code == 202
    deadline = time.monotonic() + 60
    while on[1]("GET", f"/snapshots/{sid}").status_code != 404:
        assert time.monotonic() < deadline, "the snapshot was never deleted"
        time.sleep(0.2)
    assert on[2]("DELETE", f"/volumes/{vid}").status_code == 202
    deadline = time.monotonic() + 60
    for vol in (vid, clone["id"], from_snap["id"]):
        while on[0]("GET", f"/volumes/{vol}").status_code != 404:
            assert time.monotonic() < deadline, f"volume {vol} was never deleted"
            time.sleep(0.2)
        assert not volume_file(cloud, 0, vol).exists()


def test_backups_of_another_controllers_volume_are_refused_naming_its_host(cloud):
    tok = token(cloud, "admin", cloud.env["OS_PASSWORD"], "admin")
    a, b = volume_api(cloud, 0, tok), volume_api(cloud, 1, tok)
    v = new_volume(a, "mc-backup-source")
    resp = b("POST", "/backups", {"backup": {"volume_id": v["id"]}})
    assert resp.status_code == 400, resp.text
    assert "controller-1" in resp.json()["badRequest"]["message"]
    assert b("GET", "/backups").json()["backups"] == []
    assert wait_volume(a, v["id"], "available")
    assert a("DELETE", f"/volumes/{v['id']}").status_code == 202


def test_volumes_of_the_controller_killed_next_are_made_there(cloud):
    """Made before the kill below, for the test after it."""
    tok = token(cloud, "admin", cloud.env["OS_PASSWORD"], "admin")
    v = new_volume(volume_api(cloud, 1, tok), "on-the-victim")
    assert v["os-vol-host-attr:host"].startswith("controller-2@"), v
    assert volume_file(cloud, 1, v["id"]).exists()


def test_killing_a_controller_while_creating_servers_loses_no_acknowledged_create(cloud):
    env = admin_project(cloud, "survive", instances=-1, cores=-1, ram=-1)
    tok = token(cloud, "admin", env["OS_PASSWORD"], "survive")
    url = f"{cloud.url('compute')}/servers"  # through the load balancer
    acknowledged: list[tuple[float, str]] = []
    failures: list[tuple[float, str]] = []
    stop = threading.Event()

    def writer(worker: int) -> None:
        for n in range(10_000):
            if stop.is_set():
                return
            try:
                # A connection per request, so the load balancer spreads them.
                resp = requests.post(url, json=create_body(cloud, f"survive-{worker}-{n}"),
                                     headers={"X-Auth-Token": tok, "Connection": "close",
                                              **COMPUTE_VERSION}, timeout=60)
            except requests.RequestException as e:
                failures.append((time.monotonic(), f"{type(e).__name__}: {e}"))
                continue
            if 200 <= resp.status_code < 300:
                acknowledged.append((time.monotonic(), resp.json()["server"]["id"]))
            else:
                failures.append((time.monotonic(), f"{resp.status_code} {resp.text[:200]}"))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 60
        while len(acknowledged) < 15 and time.monotonic() < deadline:
            time.sleep(0.02)
        victim = cloud.controllers[1]
        victim.kill()  # SIGKILL, mid-stream
        killed = time.monotonic()
        sent_to_victim = cloud.proxy.connections[CONTROLLER_HOSTS[1]]
        while (sum(1 for t, _ in acknowledged if t > killed) < 15
               and time.monotonic() < killed + 60):
            time.sleep(0.02)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=90)
    assert len(acknowledged) >= 15, f"the writers did not get going: {failures[:5]}"
    after = [ok for ok in acknowledged if ok[0] > killed]
    assert len(after) >= 15, f"creates stopped working after the kill: {failures[-5:]}"
    # The load balancer stops sending to the dead controller: nothing
    # reached it after the kill, and every create sent after the first
    # connection that found it gone (a second at most) was answered.
    assert cloud.proxy.connections[CONTROLLER_HOSTS[1]] == sent_to_victim
    late = [f for t, f in failures if t > killed + 1]
    assert not late, f"creates failed after the load balancer had the news: {late[:5]}"

    listed = {s["ID"]: s["Status"] for s in cloud.openstack_json("server", "list", env=env)}
    lost = [sid for _, sid in acknowledged if sid not in listed]
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged servers are gone"
    print(f"\n{len(acknowledged)} creates acknowledged ({len(after)} after the kill), "
          f"{len(failures)} cut off by the kill, none lost")

    deadline = time.monotonic() + 60
    building: list[str] = []
    while time.monotonic() < deadline:
        listed = {s["ID"]: s["Status"] for s in cloud.openstack_json("server", "list", env=env)}
        building = [sid for sid, status in listed.items() if status == "BUILD"]
        if not building:
            break
        time.sleep(1)
    # Survivors take over the dead controller's in-flight work once its
    # lease runs out: a create cut off inside it does not stay in BUILD.
    assert not building, f"servers stuck in BUILD: {building}"


def test_a_dead_controllers_volumes_are_refused_cleanly_and_the_others_work(cloud):
    """After the kill above: the second controller's volume cannot be
    worked on (503, nothing changed), the first's can."""
    tok = token(cloud, "admin", cloud.env["OS_PASSWORD"], "admin")
    a, c = volume_api(cloud, 0, tok), volume_api(cloud, 2, tok)
    listed = c("GET", "/volumes/detail?name=on-the-victim").json()["volumes"]
    assert len(listed) == 1, listed
    victim = listed[0]
    # Once its lease has run out (about ten seconds after the kill), its
    # volumes are refused before anything changes; a connection request
    # changes nothing either way, so it is what is polled.
    deadline = time.monotonic() + 30
    while True:
        resp = c("POST", f"/volumes/{victim['id']}/action",
                 {"os-initialize_connection": {"connector": {}}})
        if resp.status_code == 503 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert resp.status_code == 503, resp.text
    assert "controller-2" in resp.json()["serviceUnavailable"]["message"]

    for call, method, path, body in (
            (c, "POST", f"/volumes/{victim['id']}/action", {"os-extend": {"new_size": 2}}),
            (a, "POST", "/snapshots", {"snapshot": {"volume_id": victim["id"]}}),
            (c, "DELETE", f"/volumes/{victim['id']}", None)):
        started = time.monotonic()
        resp = call(method, path, body)
        assert resp.status_code == 503, (path, resp.text)
        assert time.monotonic() - started < 5, "a refusal took too long"
    after = c("GET", f"/volumes/{victim['id']}").json()["volume"]
    assert (after["status"], after["size"]) == ("available", 1), after
    assert c("GET", "/snapshots").json()["snapshots"] == []

    mine = new_volume(a, "on-a-survivor")
    resp = c("POST", f"/volumes/{mine['id']}/action", {"os-extend": {"new_size": 2}})
    assert resp.status_code == 202, resp.text
    assert wait_volume(c, mine["id"], "available")["size"] == 2
    assert virtual_size(volume_file(cloud, 0, mine["id"])) == 2 * GIB
