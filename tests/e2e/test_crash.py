"""State survives a crash: SIGKILL while clients are writing, then start again.

Every write the server acknowledged (201) must be there after the restart,
and the database must open without repair. This is what SQLite's WAL with
synchronous=FULL promises; the test holds ferrostack to it."""

import threading
import time

import pytest
import requests

pytestmark = [pytest.mark.http, pytest.mark.restart]


def test_sigkill_during_writes_loses_no_acknowledged_write(stack):
    token, _ = stack.issue_token()
    headers = {"X-Auth-Token": token}
    url = f"{stack.auth_url}/projects"
    acknowledged: list[str] = []
    stop = threading.Event()

    def writer(worker: int) -> None:
        n = 0
        while not stop.is_set():
            name = f"crash-{worker}-{n}"
            try:
                resp = requests.post(url, json={"project": {"name": name}},
                                     headers=headers, timeout=10)
            except requests.RequestException:
                return  # the server is gone
            if resp.status_code == 201:
                acknowledged.append(resp.json()["project"]["id"])
            n += 1

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    stack.kill()  # SIGKILL, mid-stream
    stop.set()
    for t in threads:
        t.join(timeout=15)
    assert len(acknowledged) >= 40, "the writers did not get going"

    stack.start()
    fresh, _ = stack.issue_token()
    resp = requests.get(url, headers={"X-Auth-Token": fresh}, timeout=30)
    assert resp.status_code == 200, resp.text
    present = {p["id"] for p in resp.json()["projects"]}
    lost = [pid for pid in acknowledged if pid not in present]
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged projects were lost"


def test_sigkill_keeps_tokens_and_quotas(stack):
    token, _ = stack.issue_token()
    stack.openstack("project", "create", "survivor")
    stack.openstack("quota", "set", "--cores", "33", "survivor")
    stack.kill()
    stack.start()
    resp = requests.get(f"{stack.auth_url}/auth/tokens", timeout=30,
                        headers={"X-Auth-Token": token, "X-Subject-Token": token})
    assert resp.status_code == 200, resp.text
    rows = stack.openstack_json("quota", "show", "--compute", "survivor")
    assert {r["Resource"]: r["Limit"] for r in rows}["cores"] == 33
