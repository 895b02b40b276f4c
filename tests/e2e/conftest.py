"""Harness for the end-to-end suite: a real `ferrostack allinone` per test.

Each test gets its own server (fresh data dir, free loopback ports, its own
log) through the `stack` fixture, and talks to it the way a user does: the
`openstack` and `nova` executables of this virtualenv, run with the
environment that `source keystonerc_admin` would give, or plain HTTP with
`requests` where the wire format itself is under test.

The server log is kept in the test's tmp dir and attached to the report of
every failing test.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_PREFIX = "ferrostack ready"
START_DEADLINE_S = float(os.environ.get("FERROSTACK_START_DEADLINE", "60"))
STOP_DEADLINE_S = 20.0
CLI_TIMEOUT_S = 120.0
ADMIN_PASSWORD = "e2e-admin-secret"
SERVICES = ("identity", "compute", "image", "volume", "network", "placement")
# Listeners that are not in the catalog: the controller's TLS host API for
# agents, and the dashboard (as root its default port would be 80).
INTERNAL = ("host-api", "dashboard")
# What allinone prints when a listener's port is taken (crates/ferrostack
# allinone.rs, `bind`), and how often a first start tries other ports.
PORT_TAKEN = "cannot listen on"
PORT_RETRIES = 3


def ferrostack_bin() -> Path:
    """The binary under test: $FERROSTACK_BIN, relative paths taken from the repo root."""
    path = Path(os.environ.get("FERROSTACK_BIN", "target/debug/ferrostack"))
    return path if path.is_absolute() else REPO_ROOT / path


def client_bin_dir() -> Path:
    """Directory holding the `openstack`/`nova` scripts of the running virtualenv."""
    here = Path(sys.executable).parent
    if (here / "openstack").exists():
        return here
    found = shutil.which("openstack")
    if found is None:
        pytest.exit("the `openstack` client is not installed; see tests/e2e/README.md", 2)
    return Path(found).parent


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (all held open until all are chosen)."""
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


@contextmanager
def locked(path: Path):
    """Hold an exclusive lock on `path` (made if missing) for the block:
    one pytest process at a time, e.g. to build a file every worker of
    `pytest -n` needs and none may see half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def parse_rc(path: Path) -> dict[str, str]:
    """`export KEY=VALUE` lines of a keystonerc file, as `source` would see them."""
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line.startswith("export "):
            continue
        key, sep, value = line[len("export "):].partition("=")
        if not sep:
            continue
        words = shlex.split(value) if value else [""]
        env[key.strip()] = words[0] if words else ""
    return env


def base_env() -> dict[str, str]:
    """The caller's environment without any OpenStack settings of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["PATH"] = f"{client_bin_dir()}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONWARNINGS"] = "ignore"
    return env


class CommandFailed(AssertionError):
    """A client command exited non-zero where success was expected."""


def run(env: dict[str, str], *argv: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run a client command (e.g. `openstack project list`) with `env`."""
    proc = subprocess.run(
        list(argv),
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )
    if check and proc.returncode != 0:
        raise CommandFailed(describe(proc))
    return proc


def run_json(env: dict[str, str], *argv: str):
    """Run a client command with `-f json` and decode its output."""
    proc = run(env, *argv, "-f", "json")
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as err:
        raise CommandFailed(f"output is not JSON ({err})\n{describe(proc)}") from None


def describe(proc: subprocess.CompletedProcess) -> str:
    """A failure message naming the command, its exit status and its output."""
    return (
        f"command: {shlex.join(proc.args)}\n"
        f"exit status: {proc.returncode}\n"
        f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    )


def table_rows(text: str) -> list[list[str]]:
    """Cells of the rows of a cliff/prettytable table (header row included)."""
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("|")
    ]


def reap_export_daemon(instances_dir: Path) -> None:
    """End the `qemu-storage-daemon` a host started for its volume exports
    (it outlives its agent, like a VM), by its pidfile."""
    pidfile = instances_dir / "_exports" / "daemon.pid"
    try:
        os.kill(int(pidfile.read_text().strip()), signal.SIGKILL)
    except (ValueError, OSError):
        pass


class Stack:
    """One `ferrostack allinone` process on its own data dir and ports."""

    def __init__(self, workdir: Path):
        self.data_dir = workdir / "data"
        self.log_path = workdir / "ferrostack.log"
        # VM state outside the (deep) tmp dir: QMP socket paths must stay
        # under 108 bytes.
        self.instances_dir = Path(tempfile.mkdtemp(prefix="fs-vms-", dir="/tmp"))
        # `--hypervisor`: real QEMU guests unless a test asks for the fake.
        self.hypervisor = "qemu"
        listeners = SERVICES + INTERNAL
        self.ports = dict(zip(listeners, free_ports(len(listeners))))
        self.proc: subprocess.Popen | None = None
        self.env: dict[str, str] = {}
        self.last_exit_status: int | None = None
        # Printed `ferrostack ready` once: later starts are restarts.
        self.was_ready = False
        # Passed as --admin-password when set; None starts without the flag.
        self.admin_password: str | None = ADMIN_PASSWORD
        # Set when start() already failed with the log in its message.
        self.log_reported = False
        # A network namespace the whole cloud runs in (its API on the
        # namespace's loopback, its bridges, taps, nftables and guests
        # inside); clients then run in it too. None: the host's own.
        self.netns: str | None = None
        # Extra `allinone` arguments (e.g. the data plane's settings).
        self.extra_args: list[str] = []
        # Where the listeners bind (clients always use 127.0.0.1); a
        # namespace's other hosts need its host API on another address.
        self.bind = "127.0.0.1"
        self.host_name = "e2e-host"
        # Ports chosen by the caller and shared with other processes (the
        # controllers of one cloud behind one load balancer): a first start
        # that loses one fails instead of moving to new ports.
        self.fixed_ports = False

    # -- lifecycle -----------------------------------------------------

    def argv(self) -> list[str]:
        argv = [
            str(ferrostack_bin()), "allinone",
            "--data-dir", str(self.data_dir),
            "--bind", self.bind,
            "--public-host", "127.0.0.1",
            "--instances-dir", str(self.instances_dir),
            "--hypervisor", self.hypervisor,
            "--host-name", self.host_name,
        ]
        if self.admin_password is not None:
            argv += ["--admin-password", self.admin_password]
        for service, port in self.ports.items():
            argv += [f"--{service}-port", str(port)]
        if not self.netns:
            # Outside a namespace of its own, the cloud must not program
            # this machine's network: its network objects stay in memory.
            argv.append("--fake-network")
        return self.in_netns(argv + self.extra_args)

    def in_netns(self, argv: list[str]) -> list[str]:
        """`argv` run inside the stack's network namespace, if it has one.

        `nsenter --net` rather than `ip netns exec`: the latter also gives
        the process a mount namespace of its own, so the namespaces the
        agent names (`ip netns add qdhcp-...`) would be invisible to the
        next start of the cloud and to this harness."""
        if not self.netns:
            return list(argv)
        return ["nsenter", f"--net=/run/netns/{self.netns}", *argv]

    def start(self) -> None:
        binary = ferrostack_bin()
        if not binary.exists():
            pytest.fail(f"{binary} does not exist: build it with `cargo build -p ferrostack` "
                        "or point FERROSTACK_BIN at it", pytrace=False)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # free_ports() lets its ports go before allinone binds them, so a
        # test running beside this one (pytest -n) or any other program can
        # take one in between. allinone binds before it touches its data
        # dir and says so when it cannot: then a first start on the
        # host's loopback tries again on new ports. Not a restart (clients
        # and the catalog know the old ports), and not in a namespace of
        # the stack's own (nothing else binds there).
        retries = 0 if self.was_ready or self.netns or self.fixed_ports else PORT_RETRIES
        while True:
            offset = self._spawn()
            if self._wait_ready(offset, lost_port_ok=retries > 0):
                break
            retries -= 1
            self._note("lost a port to another process; starting again on new ports")
            self.ports = dict(zip(self.ports, free_ports(len(self.ports))))
        self.was_ready = True
        self.env = {**base_env(), **parse_rc(self.data_dir / "keystonerc_admin")}

    def _spawn(self) -> int:
        """Start allinone; returns where this run's part of the log begins."""
        argv = self.argv()
        with self.log_path.open("a") as log:
            log.write(f"\n=== harness: starting {shlex.join(argv)}\n")
            log.flush()
            offset = log.tell()
            self.proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.data_dir, env={**os.environ, "NO_COLOR": "1"},  # plain-text log
            )
        return offset

    def _wait_ready(self, offset: int, lost_port_ok: bool = False) -> bool:
        """Poll this run's part of the log for the ready line, up to a
        deadline. False: allinone exited because a port was taken, and
        `lost_port_ok` (the caller starts it again on other ports)."""
        assert self.proc is not None
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:
            with self.log_path.open(errors="replace") as log:
                log.seek(offset)
                lines = log.read().splitlines()
            if any(line.startswith(READY_PREFIX) for line in lines):
                return True
            if self.proc.poll() is not None:
                if lost_port_ok and any(PORT_TAKEN in line for line in lines):
                    self.proc = None
                    return False
                self.log_reported = True
                pytest.fail(f"ferrostack exited with status {self.proc.returncode} before "
                            f"printing '{READY_PREFIX}'\n--- server log ---\n{self.log()}",
                            pytrace=False)
            time.sleep(0.05)
        self.kill()
        self.log_reported = True
        pytest.fail(f"ferrostack did not print '{READY_PREFIX}' within {START_DEADLINE_S}s\n"
                    f"--- server log ---\n{self.log()}", pytrace=False)

    def stop(self) -> int | None:
        """SIGTERM the server (by PID) and wait; returns its exit status (None: killed)."""
        if self.proc is None:
            return self.last_exit_status
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                self._note(f"did not exit within {STOP_DEADLINE_S}s of SIGTERM; killed")
                self.last_exit_status = None
                return None
        self._note(f"exited with status {proc.returncode}")
        self.last_exit_status = proc.returncode
        return proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def restart(self) -> int | None:
        status = self.stop()
        self.start()
        return status

    def _note(self, message: str) -> None:
        with self.log_path.open("a") as log:
            log.write(f"=== harness: ferrostack {message}\n")

    def qemu_pids(self) -> dict[str, int]:
        """Live QEMU processes of this stack's VMs, by server id (from their pidfiles)."""
        found = {}
        for pidfile in self.instances_dir.glob("*/qemu.pid"):
            try:
                pid = int(pidfile.read_text().strip())
                os.kill(pid, 0)
            except (ValueError, OSError):
                continue
            found[pidfile.parent.name] = pid
        return found

    def reap_vms(self) -> None:
        """End the VMs this stack started (by their pidfiles) and its volume
        export daemon, and remove their state."""
        for pid in self.qemu_pids().values():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        reap_export_daemon(self.instances_dir)
        shutil.rmtree(self.instances_dir, ignore_errors=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # -- conveniences for tests ----------------------------------------

    @property
    def auth_url(self) -> str:
        return self.env["OS_AUTH_URL"].rstrip("/")

    def openstack(self, *args: str, env: dict[str, str] | None = None, check: bool = True):
        return run(env or self.env, *self.in_netns(["openstack", *args]), check=check)

    def openstack_json(self, *args: str, env: dict[str, str] | None = None):
        return run_json(env or self.env, *self.in_netns(["openstack", *args]))

    def nova(self, *args: str, env: dict[str, str] | None = None, check: bool = True):
        return run(env or self.env, *self.in_netns(["nova", *args]), check=check)

    def issue_token(self, env: dict[str, str] | None = None) -> tuple[str, dict]:
        """Password-authenticate (project scope) over HTTP; returns (token, token body)."""
        env = env or self.env
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": env["OS_USERNAME"], "password": env["OS_PASSWORD"],
                "domain": {"name": env.get("OS_USER_DOMAIN_NAME", "Default")}}}},
            "scope": {"project": {
                "name": env["OS_PROJECT_NAME"],
                "domain": {"name": env.get("OS_PROJECT_DOMAIN_NAME", "Default")}}},
        }}
        resp = requests.post(f"{self.auth_url}/auth/tokens", json=body, timeout=30)
        assert resp.status_code == 201, f"token issue: {resp.status_code} {resp.text}"
        return resp.headers["X-Subject-Token"], resp.json()["token"]

    def endpoint(self, service_type: str, interface: str = "public") -> str:
        """URL of a service from the admin token's catalog."""
        _, token = self.issue_token()
        for service in token.get("catalog", []):
            if service["type"] == service_type:
                for ep in service["endpoints"]:
                    if ep["interface"] == interface:
                        return ep["url"].rstrip("/")
        raise AssertionError(f"no {interface} {service_type} endpoint in the catalog: "
                             f"{token.get('catalog')}")

    def user_env(self, username: str, password: str, project: str) -> dict[str, str]:
        """The environment of a user who sourced an rc file with their own credentials."""
        env = dict(self.env)
        env.update(OS_USERNAME=username, OS_PASSWORD=password, OS_PROJECT_NAME=project,
                   OS_USER_DOMAIN_NAME="Default", OS_PROJECT_DOMAIN_NAME="Default")
        return env


class Agent:
    """One `ferrostack agent` (a compute host joining `controller`'s host
    API) in network namespace `netns`, with its own data dir, VM state
    and log. `args` are its options besides the ones named here."""

    def __init__(self, workdir: Path, netns: str, host_name: str, controller: str,
                 join_file: Path, args: list[str]):
        self.data_dir = workdir / "data"
        self.log_path = workdir / "agent.log"
        self.instances_dir = Path(tempfile.mkdtemp(prefix="fs-vms-", dir="/tmp"))
        self.netns = netns
        self.host_name = host_name
        self.argv = [
            "nsenter", f"--net=/run/netns/{netns}", str(ferrostack_bin()), "agent",
            "--controller", controller,
            "--join-token-file", str(join_file),
            "--host-name", host_name,
            "--data-dir", str(self.data_dir),
            "--instances-dir", str(self.instances_dir),
            *args,
        ]
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a") as log:
            log.write(f"\n=== harness: starting {shlex.join(self.argv)}\n")
            log.flush()
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.data_dir, env={**os.environ, "NO_COLOR": "1"},
            )

    def stop(self) -> None:
        """SIGTERM (by PID), SIGKILL after the stop deadline."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()

    def reap_vms(self) -> None:
        """End this agent's VMs (by their pidfiles) and its volume export
        daemon, and remove their state."""
        for pidfile in self.instances_dir.glob("*/qemu.pid"):
            try:
                os.kill(int(pidfile.read_text().strip()), signal.SIGKILL)
            except (ValueError, OSError):
                pass
        reap_export_daemon(self.instances_dir)
        shutil.rmtree(self.instances_dir, ignore_errors=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


# -- running in parallel (pytest -n, pytest-xdist) ---------------------------
#
# scripts/test.sh runs this suite in worker processes (`-n 2 --dist loadfile
# --no-loadscope-reorder`): most of a test's time is spent waiting for
# guests, clients and servers. Tests may run side by side because
# everything a test makes is its own: ports (free_ports, and Stack.start's
# retry), data and VM dirs (tmp_path, mkdtemp), network namespaces (a random
# suffix), the links, bridges and nftables tables inside them, DHCP state
# under /run/ferrostack (named by the data dir). `loadfile` keeps a module's
# tests on one worker, in file order: a module-scoped fixture (one cloud for
# test_floating_ssh.py, the fixed fsd-h* hosts of test_deploy.py) is made
# once and never twice at a time. (xdist's `loadgroup` would spread single
# tests better, but its groups are lost on pytest 9: it renames the test by
# `item._nodeid`, which pytest 9 no longer reads.) The guest image is built
# under a lock (test_servers.guest_image).

# Rough seconds per test, from CI's slowest-durations list: a real guest
# (or deploy's hosts) tens of seconds, a server or volume on the fake driver
# about fifteen, anything else a few.
def _weight(item) -> int:
    if "guest_image" in item.fixturenames or item.get_closest_marker("deploy"):
        return 40
    if item.get_closest_marker("servers") or item.get_closest_marker("volumes"):
        return 15
    return 4


def pytest_collection_modifyitems(config, items):
    """Heaviest files first (each file's tests stay in order): a worker that
    takes the last long file while the other has nothing left is the whole
    suite's tail, so the long ones are handed out while both are busy."""
    per_file: dict[Path, int] = {}
    for item in items:
        per_file[item.path] = per_file.get(item.path, 0) + _weight(item)
    items.sort(key=lambda item: -per_file[item.path])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the server log to the report of a failed test."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        stack = getattr(item, "_ferrostack_stack", None)
        if stack is not None and not stack.log_reported:
            report.sections.append(
                ("ferrostack server log", f"({stack.log_path})\n{stack.log()}"))
        for agent in getattr(item, "_ferrostack_agents", []):
            report.sections.append(
                (f"ferrostack agent {agent.host_name} log", f"({agent.log_path})\n{agent.log()}"))
        # Further processes of a test's cloud (several controllers): (title, path).
        for title, path in getattr(item, "_ferrostack_logs", []):
            text = path.read_text(errors="replace") if path.exists() else ""
            report.sections.append((title, f"({path})\n{text}"))


# `FERROSTACK_E2E_DATABASE=postgresql`: every cloud of this run keeps its
# state in a database of a private PostgreSQL server (tests/e2e/postgres.py).
DATABASE = os.environ.get("FERROSTACK_E2E_DATABASE", "sqlite")


@pytest.fixture(scope="session")
def postgres_server():
    """A private PostgreSQL server for this pytest process."""
    import postgres
    why_not = postgres.available()
    if why_not is not None:
        pytest.fail(f"PostgreSQL tests cannot run: {why_not}", pytrace=False)
    server = postgres.Server()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def database_args(request) -> list[str]:
    """`--database` for a cloud of this run: a fresh PostgreSQL database
    when the run is on PostgreSQL, nothing (its SQLite file) otherwise."""
    if DATABASE == "sqlite":
        return []
    if DATABASE != "postgresql":
        pytest.fail(f"FERROSTACK_E2E_DATABASE={DATABASE}: use sqlite or postgresql", pytrace=False)
    server = request.getfixturevalue("postgres_server")
    return ["--database", server.database()]


@pytest.fixture
def stack(request, tmp_path, database_args) -> Stack:
    """A running ferrostack allinone, stopped with SIGTERM after the test."""
    s = Stack(tmp_path)
    s.extra_args += database_args
    request.node._ferrostack_stack = s
    try:
        s.start()
        yield s
    finally:
        s.stop()
        s.reap_vms()
