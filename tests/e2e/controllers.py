"""Three controllers serving one cloud from one PostgreSQL database.

What an operator runs for a control plane that survives a machine: a
private PostgreSQL (tests/e2e/postgres.py); three `ferrostack allinone
--no-compute --database URL` controllers, here on 127.0.0.2, .3 and .4
with the SAME ports (as three machines would have); a load balancer in
front, here a round-robin TCP proxy on 127.0.0.1 with those ports again,
which every controller names as `--public-host` so the catalog, the rc
files and every client go through it; and one compute host, `ferrostack
agent --hypervisor fake`, given all three host API URLs.

The proxy lives in the test process (threads, one per connection
direction): each new connection goes to the next controller that accepts
a TCP connection, so a controller killed with SIGKILL is skipped from
the first connection that finds it gone (and tried again a few seconds
later, as a load balancer's health check would). It counts connections
per controller, so a test can see where traffic went.

What the controllers share besides the database, copied from the first
before the others start, as README "Several controllers" tells operators
to: the host API's certificate and key (`DATA/host-api/`) and the join
file (`DATA/join-token`), so the agent's one pinned fingerprint and one
token are good on every controller; and `DATA/master.key`, which opens
the token keys kept in the database, so a token issued by one validates
on the others. Image data lives on a controller's disk, so the
other two get a symlink to the first one's `DATA/images` (a shared
filesystem, as an NFS mount would be).

Ports: fixed ones below 32768, checked free on all four addresses (the
same port on .2, .3, .4 and .1 must be bindable); a start that loses one
fails rather than moving (the catalog would then be wrong).
"""

from __future__ import annotations

import itertools
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
from contextlib import ExitStack
from pathlib import Path

from conftest import INTERNAL, SERVICES, STOP_DEADLINE_S, Stack, ferrostack_bin, run, run_json

PROXY_HOST = "127.0.0.1"
CONTROLLER_HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
# A controller the proxy found dead is tried again after this long.
DEAD_RETRY_S = 3.0
# The catalog path of each service's endpoint (allinone's catalog).
ENDPOINT_PATHS = {"identity": "/v3", "compute": "/v2.1", "image": "", "network": ""}


def shared_free_ports(count: int, hosts: tuple[str, ...]) -> list[int]:
    """`count` distinct ports below 32768 that are free on every one of
    `hosts` (all held open until all are chosen)."""
    rng = random.Random()
    for _ in range(200):
        chosen: list[int] = []
        with ExitStack() as held:
            for port in rng.sample(range(20000, 32768), count * 4):
                try:
                    for host in hosts:
                        s = held.enter_context(socket.socket())
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                        s.bind((host, port))
                except OSError:
                    continue
                chosen.append(port)
                if len(chosen) == count:
                    return chosen
    raise RuntimeError(f"no {count} ports free on all of {hosts}")


class RoundRobinProxy:
    """A TCP load balancer on `host`, one listener per port, each new
    connection to the next live backend on the same port."""

    def __init__(self, host: str, ports: list[int], backends: tuple[str, ...]):
        self.host = host
        self.ports = ports
        self.backends = backends
        self.connections = {b: 0 for b in backends}
        self.dead_since: dict[str, float] = {}
        self._turn = itertools.count()
        self._lock = threading.Lock()
        self._listeners: list[socket.socket] = []
        self._stopped = threading.Event()

    def start(self) -> None:
        for port in self.ports:
            sock = socket.create_server((self.host, port), reuse_port=False, backlog=256)
            self._listeners.append(sock)
            threading.Thread(target=self._accept, args=(sock, port), daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()
        for sock in self._listeners:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _pick(self, port: int) -> socket.socket | None:
        """A connection to the next live backend, or None when none answers."""
        for _ in range(len(self.backends)):
            with self._lock:
                backend = self.backends[next(self._turn) % len(self.backends)]
                since = self.dead_since.get(backend)
                if since is not None and time.monotonic() - since < DEAD_RETRY_S:
                    continue
            try:
                upstream = socket.create_connection((backend, port), timeout=2)
            except OSError:
                with self._lock:
                    self.dead_since[backend] = time.monotonic()
                continue
            upstream.settimeout(None)
            with self._lock:
                self.dead_since.pop(backend, None)
                self.connections[backend] += 1
            return upstream
        return None

    def _accept(self, listener: socket.socket, port: int) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client, port), daemon=True).start()

    def _serve(self, client: socket.socket, port: int) -> None:
        upstream = self._pick(port)
        if upstream is None:
            client.close()
            return
        back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
        back.start()
        _pipe(client, upstream)
        back.join()
        client.close()
        upstream.close()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    """Copy src to dst until src ends (then end dst's writing side)."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for sock, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
        try:
            sock.shutdown(how)
        except OSError:
            pass


class FakeComputeHost:
    """`ferrostack agent --hypervisor fake` joined to every controller."""

    def __init__(self, workdir: Path, controllers: list[str], join_file: Path, port: int):
        self.data_dir = workdir / "data"
        self.log_path = workdir / "agent.log"
        self.host_name = "mc-host"
        self.argv = [
            str(ferrostack_bin()), "agent",
            "--controller", ",".join(controllers),
            "--join-token-file", str(join_file),
            "--host-name", self.host_name,
            "--data-dir", str(self.data_dir),
            "--listen", f"{PROXY_HOST}:{port}",
            "--hypervisor", "fake",
            "--fake-network",
        ]
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a") as log:
            log.write(f"\n=== harness: starting {shlex.join(self.argv)}\n")
            log.flush()
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.data_dir, env={**os.environ, "NO_COLOR": "1"})

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


class Cloud:
    """Three controllers, the proxy and a fake compute host (see the module doc)."""

    def __init__(self, workdir: Path, database_url: str):
        self.workdir = workdir
        names = SERVICES + INTERNAL
        ports = shared_free_ports(len(names) + 1, (PROXY_HOST, *CONTROLLER_HOSTS))
        self.ports = dict(zip(names, ports))
        self.agent_port = ports[-1]
        # What servers are made of (set by whoever uploads them).
        self.image_id = ""
        self.flavor_id = ""
        self.controllers: list[Stack] = []
        for i, host in enumerate(CONTROLLER_HOSTS):
            s = Stack(workdir / f"ctl{i + 1}")
            s.bind = host
            s.ports = dict(self.ports)
            s.fixed_ports = True
            s.hypervisor = "fake"
            s.host_name = f"controller-{i + 1}"
            s.extra_args = ["--no-compute", "--database", database_url]
            self.controllers.append(s)
        # Only the catalog's services and the host API go through the proxy.
        self.proxy = RoundRobinProxy(PROXY_HOST, [self.ports[n] for n in SERVICES + ("host-api",)],
                                     CONTROLLER_HOSTS)
        first = self.controllers[0].data_dir
        self.agent = FakeComputeHost(
            workdir / "compute", [f"https://{h}:{self.ports['host-api']}" for h in CONTROLLER_HOSTS],
            first / "join-token", self.agent_port)

    # -- lifecycle -----------------------------------------------------

    def start(self) -> None:
        self.proxy.start()
        first, *others = self.controllers
        first.start()
        for other in others:
            share_from(first.data_dir, other.data_dir)
        # The others start together: both join a bootstrapped database.
        failures: list[BaseException] = []

        def start(s: Stack) -> None:
            try:
                s.start()
            except BaseException as e:  # noqa: BLE001 - re-raised below
                failures.append(e)

        threads = [threading.Thread(target=start, args=(s,)) for s in others]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if failures:
            raise failures[0]
        self.agent.start()
        self.wait_host_up()

    def stop(self) -> None:
        self.agent.stop()
        for s in self.controllers:
            s.stop()
            shutil.rmtree(s.instances_dir, ignore_errors=True)
        self.proxy.stop()

    def logs(self) -> list[tuple[str, Path]]:
        return [(f"controller {i + 1} ({s.bind}) log", s.log_path)
                for i, s in enumerate(self.controllers)] + [("fake compute host log",
                                                             self.agent.log_path)]

    def wait_host_up(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        services: list = []
        while time.monotonic() < deadline:
            if self.agent.proc is not None and self.agent.proc.poll() is not None:
                raise AssertionError(f"the agent exited with {self.agent.proc.returncode}")
            services = run_json(self.env, "openstack", "compute", "service", "list")
            if any(x["Host"] == self.agent.host_name and x["State"] == "up" for x in services):
                return
            time.sleep(0.5)
        raise AssertionError(f"the compute host never joined: {services}")

    # -- clients -------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """The admin's environment through the load balancer (the rc file)."""
        return self.controllers[0].env

    def url(self, service: str, controller: int | None = None) -> str:
        """A service's URL through the proxy, or on one controller's own address."""
        host = PROXY_HOST if controller is None else CONTROLLER_HOSTS[controller]
        return f"http://{host}:{self.ports[service]}{ENDPOINT_PATHS.get(service, '')}"

    def env_on(self, controller: int, env: dict[str, str] | None = None) -> dict[str, str]:
        """`env` (default the admin's) talking to one controller only: its
        own auth URL, and endpoint overrides in place of the catalog's
        (load-balanced) URLs."""
        env = dict(env or self.env)
        env["OS_AUTH_URL"] = self.url("identity", controller)
        for service in ENDPOINT_PATHS:
            env[f"OS_{service.upper()}_ENDPOINT_OVERRIDE"] = self.url(service, controller)
        return env

    def openstack(self, *args: str, on: int | None = None, env: dict[str, str] | None = None,
                  check: bool = True):
        env = env or self.env
        return run(env if on is None else self.env_on(on, env), "openstack", *args, check=check)

    def openstack_json(self, *args: str, on: int | None = None,
                       env: dict[str, str] | None = None):
        env = env or self.env
        return run_json(env if on is None else self.env_on(on, env), "openstack", *args)

    def project_env(self, project: str) -> dict[str, str]:
        """The admin's environment scoped to another project (through the proxy)."""
        return {**self.env, "OS_PROJECT_NAME": project}


def share_from(first: Path, other: Path) -> None:
    """What a second controller copies from the first (README "Several
    controllers"), and the shared image directory."""
    other.mkdir(parents=True, exist_ok=True)
    shutil.copytree(first / "host-api", other / "host-api", dirs_exist_ok=True)
    for name in ("join-token", "master.key"):
        shutil.copy2(first / name, other / name)
    images = other / "images"
    if not images.exists():
        images.symlink_to(first / "images")

