"""A throwaway PostgreSQL server for the store tests: initdb into a temporary folder, pg_ctl start
on a free port, one fresh database per test.

:func:`start` returns a running :class:`Server`, or the reason why none could start (no
PostgreSQL binaries, no psycopg, root without a ``postgres`` user to run them as, initdb or the
server failing); the fixtures in ``conftest.py`` skip with that reason. With
``HPLISTS_REQUIRE_POSTGRES=1`` in the environment they fail instead (CI that installed the
server wants to know when it did not start).

initdb refuses to run as root, so as root the server runs as the ``postgres`` user (Debian's
package creates it) through ``runuser``. Connections over TCP need a password (scram), those on
the server's own socket are trusted: the tests pass a URL with a password, as a real deployment
would, and check that no error message shows it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

USER = "postgres"
PASSWORD = "hplists-test-secret"
REQUIRE_ENV = "HPLISTS_REQUIRE_POSTGRES"


def find_bin(name: str) -> str | None:
    """``name`` (initdb, pg_ctl) on PATH, else from the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda p: [int(x) for x in Path(p).parts[-3].split(".")
                                       if x.isdigit()])
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A running server; :meth:`stop` ends it and removes its folder."""

    def __init__(self, folder: Path, port: int, run_as: list[str], pg_ctl: str) -> None:
        self.folder, self.port, self.run_as, self.pg_ctl = folder, port, run_as, pg_ctl
        self.data = folder / "data"

    def url(self, dbname: str = "postgres", password: str | None = PASSWORD) -> str:
        auth = USER if password is None else f"{USER}:{password}"
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{dbname}"

    def _admin(self) -> Any:
        import psycopg

        return psycopg.connect(self.url(), autocommit=True, connect_timeout=10)

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with contextlib.suppress(Exception), self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        subprocess.run([*self.run_as, self.pg_ctl, "-D", str(self.data), "-m", "immediate",
                        "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)


def start() -> Server | str:
    """A started server, or why none could start."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'hplists[postgres]')"
    initdb, pg_ctl = find_bin("initdb"), find_bin("pg_ctl")
    if not initdb or not pg_ctl:
        return ("no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in "
                "/usr/lib/postgresql/*/bin: install the Debian package 'postgresql'")
    run_as: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="hplists-pg-"))
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        try:
            user = pwd.getpwnam(USER)
        except KeyError:
            shutil.rmtree(folder, ignore_errors=True)
            return (f"running as root and there is no '{USER}' user to run initdb as "
                    "(initdb refuses root)")
        runuser = shutil.which("runuser")
        if not runuser:
            shutil.rmtree(folder, ignore_errors=True)
            return "running as root without runuser to run initdb as another user"
        os.chown(folder, user.pw_uid, user.pw_gid)
        run_as = [runuser, "-u", USER, "--"]
    pwfile = folder / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if run_as:
        os.chown(pwfile, pwd.getpwnam(USER).pw_uid, -1)
    try:
        done = subprocess.run(
            [*run_as, initdb, "-D", str(folder / "data"), "-U", USER, "--pwfile", str(pwfile),
             "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
             "--no-sync"], capture_output=True, text=True, timeout=180)
        if done.returncode:
            raise RuntimeError(f"initdb failed: {(done.stderr or done.stdout).strip()[-500:]}")
        for _ in range(3):  # a free port may be taken between choosing and binding it
            port = _free_port()
            options = (f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off "
                       "-c max_connections=200 -c shared_buffers=32MB")
            done = subprocess.run(
                [*run_as, pg_ctl, "-D", str(folder / "data"), "-l", str(folder / "log"),
                 "-o", options, "-w", "-t", "120", "start"],
                capture_output=True, text=True, timeout=180)
            if done.returncode == 0:
                server = Server(folder, port, run_as, pg_ctl)
                _wait_ready(server)
                return server
        log = (folder / "log").read_text()[-500:] if (folder / "log").exists() else ""
        raise RuntimeError(f"pg_ctl start failed: {(done.stderr or done.stdout).strip()[-300:]} "
                           f"{log}")
    except Exception as e:  # any failure is a reason to skip
        subprocess.run([*run_as, pg_ctl, "-D", str(folder / "data"), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)
        return f"the PostgreSQL test server did not start: {' '.join(str(e).split())}"


def _wait_ready(server: Server, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            server._admin().close()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def is_postgres(url_or_path: Any) -> bool:
    return isinstance(url_or_path, str) and url_or_path.startswith(("postgresql://",
                                                                     "postgres://"))


def execute(url_or_path: Any, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Runs one statement on a store behind its back (``?`` placeholders); the rows, committed."""
    if is_postgres(url_or_path):
        import psycopg

        with psycopg.connect(url_or_path, autocommit=True) as conn:
            cur = conn.execute(sql.replace("?", "%s"), params)
            return cur.fetchall() if cur.description else []
    with sqlite3.connect(url_or_path) as conn:
        return conn.execute(sql, params).fetchall()
