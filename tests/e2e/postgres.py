"""A private PostgreSQL server for the end-to-end suite.

Debian's PostgreSQL (the `postgresql` package; scripts/test.sh installs
it) run from a temporary directory: `initdb` as the `postgres` system user
(the server refuses to run as root), listening on a Unix socket only (no
port to collide with, and reachable from inside a test's network
namespace too), with trust authentication for that socket. One server per
pytest process; each cloud gets a database of its own.

`FERROSTACK_E2E_DATABASE=postgresql` makes every `stack` of the suite run
on such a database instead of its SQLite file (scripts/test.sh runs the
identity, quota and server tests that way too).
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path


def _newest_bin() -> Path:
    """Debian's newest installed PostgreSQL (Debian 12 has 15)."""
    found = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")
             if Path(p).parent.name.isdigit()]
    if not found:
        return Path("/usr/lib/postgresql/15/bin")
    return max(found, key=lambda p: int(p.parent.name))


PG_BIN = _newest_bin()
USER = "postgres"
ROLE = "ferrostack"


def available() -> str | None:
    """None when a private server can run here, else why not."""
    if not (PG_BIN / "initdb").exists():
        return f"{PG_BIN}/initdb is missing: install Debian's postgresql package"
    if shutil.which("runuser") is None:
        return "runuser (util-linux) is missing"
    try:
        import pwd
        pwd.getpwnam(USER)
    except KeyError:
        return f"there is no {USER} user (the postgresql package creates it)"
    if os.geteuid() != 0:
        return "the private server is started as the postgres user, which needs root"
    return None


class Server:
    """One private PostgreSQL server; `database()` makes a fresh database."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="fs-pg-", dir="/tmp"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.log_path = self.root / "postgres.log"
        self.proc: subprocess.Popen | None = None
        self._names = itertools.count(1)

    def _as_postgres(self, *argv: str) -> list[str]:
        return ["runuser", "-u", USER, "--", *argv]

    def start(self) -> None:
        self.socket_dir.mkdir()
        shutil.chown(self.root, USER)
        shutil.chown(self.socket_dir, USER)
        subprocess.run(
            self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", ROLE,
                              "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"),
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        log = self.log_path.open("w")
        shutil.chown(self.log_path, USER)
        # Unix socket only; fsync off: these databases live for one test
        # run, and the suite's restart tests kill ferrostack, not PostgreSQL.
        self.proc = subprocess.Popen(
            self._as_postgres(str(PG_BIN / "postgres"), "-D", str(self.data),
                              "-k", str(self.socket_dir), "-c", "listen_addresses=",
                              "-c", "fsync=off", "-c", "max_connections=300"),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited: {self.log_path.read_text()}")
            if self.psql("postgres", "SELECT 1", check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"postgres did not accept connections: {self.log_path.read_text()}")

    def psql(self, database: str, sql: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(PG_BIN / "psql"), "-h", str(self.socket_dir), "-U", ROLE, "-d", database,
             "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
            capture_output=True, text=True, check=check)

    def database(self, prefix: str = "cloud") -> str:
        """Create an empty database; its URL for `--database`."""
        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        self.psql("postgres", f'CREATE DATABASE "{name}"')
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgresql://{ROLE}@localhost/{name}?host={self.socket_dir}"

    def _postmaster_pid(self) -> int | None:
        """The server's own PID (its first line of postmaster.pid)."""
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            # To the postmaster itself: runuser does not pass SIGINT on, so
            # signalling it alone left the server running after the tests.
            postmaster = self._postmaster_pid()
            os.kill(postmaster or self.proc.pid, signal.SIGINT)  # fast shutdown: ends sessions
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                for pid in (postmaster, self.proc.pid):
                    if pid is not None:
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except OSError:
                            pass
                self.proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)
