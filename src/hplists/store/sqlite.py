"""The embedded trial store: one SQLite file (standard library ``sqlite3``, WAL mode).

Safety properties, and how they are obtained:

* **Nothing is pickled.** Points and provenance are JSON text; curves live in
  two plain tables (``evals``: step, seconds, train_loss; ``eval_metrics``:
  step, metric, value) readable with any SQLite client. NaN is stored as NULL.
* **Idempotent writes, no duplicates.** ``UNIQUE(study, point_id, workload,
  seed)``; a trial that is complete, diverged or error is never overwritten
  (:meth:`SQLiteStore.put` and :meth:`SQLiteStore.finish` return ``False``
  and leave the first result in place).
* **Crash safety (kill -9).** Every write is one transaction, and
  ``synchronous=FULL`` makes a committed trial durable. A process killed
  mid-study leaves only its in-flight trials ``running``; a rerun reclaims
  exactly those (see *stale trials* below) and skips every finished one.
* **Several writers.** Each write starts with ``BEGIN IMMEDIATE`` (take the
  write lock before reading, so claim is an atomic test-and-set), waits up to
  ``timeout`` seconds on a busy database and retries on ``SQLITE_BUSY``.
  Several processes can run one study side by side: a trial claimed by a
  live process is not handed out again.
* **Audit trail.** Every claim, reclaim, release, finish, failure, import and discarded
  duplicate is appended to the ``events`` table (:meth:`SQLiteStore.events`).

Stale trials. A ``running`` row records the claiming process (run token,
host and PID namespace, pid, process identity, heartbeat time), and
:meth:`SQLiteStore.claim` hands it out again when its owner is gone: this
process's own trial, one whose process on this host no longer exists, or one
claimed on another host (or PID namespace) without a heartbeat for
``heartbeat_timeout`` seconds (3600 by default), or one its interrupted run
handed back (:meth:`SQLiteStore.release`). :mod:`hplists.store.liveness`
states the rule; every backend applies it.

A reclaimed trial gets the new owner and ``attempts + 1``; if the old owner
turns out to be alive and finishes first, its result is kept and the later
one is discarded (logged as an event), so a trial is never recorded twice.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from hplists._check import check_real
from hplists._version import __version__
from hplists.exceptions import DataError, InvalidParameterError
from hplists.store.base import (
    CorruptStoreError,
    StoreDiskError,
    utc_now,
)
from hplists.store.liveness import (  # noqa: F401  (the names this module has always offered)
    HOST_ENV,
    Owner,
    host_identity,
    run_token,
    stale_reason,
)
from hplists.store.sql import SQLTrialStore, guard

__all__ = ["FORMAT", "SCHEMA_VERSION", "SQLiteStore", "run_token", "sqlite_path"]

T = TypeVar("T")

FORMAT = "hplists-trial-store"
SCHEMA_VERSION = 1

# Schema migrations: MIGRATIONS[v] upgrades a store of schema v to v + 1 inside one write
# transaction (statements of SQL). A store of an older schema is upgraded step by step when a
# process that may write opens it; the tables are then checked against _SCHEMA's columns.
MIGRATIONS: dict[int, tuple[str, ...]] = {}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS points (
    point_id TEXT PRIMARY KEY,
    point    TEXT NOT NULL              -- canonical JSON object of floats
);
CREATE TABLE IF NOT EXISTS trials (
    trial_id         INTEGER PRIMARY KEY AUTOINCREMENT,
    study            TEXT NOT NULL,
    point_id         TEXT NOT NULL REFERENCES points(point_id),
    point_index      INTEGER,
    workload         TEXT NOT NULL,
    workload_version TEXT NOT NULL,
    seed             INTEGER NOT NULL,
    status           TEXT NOT NULL
                     CHECK (status IN ('running', 'complete', 'diverged', 'error')),
    message          TEXT NOT NULL DEFAULT '',
    has_curve        INTEGER NOT NULL DEFAULT 0,
    run_token        TEXT NOT NULL,     -- owner while running, finisher afterwards
    host             TEXT NOT NULL,
    pid              INTEGER NOT NULL,
    proc_identity    TEXT,              -- boot id and start time of pid (Linux)
    heartbeat        REAL NOT NULL,     -- unix time
    attempts         INTEGER NOT NULL DEFAULT 1,
    provenance       TEXT NOT NULL,     -- JSON object
    created_at       REAL NOT NULL,
    updated_at       REAL NOT NULL,
    UNIQUE (study, point_id, workload, seed)
);
CREATE INDEX IF NOT EXISTS trials_by_workload ON trials (workload, study);
CREATE INDEX IF NOT EXISTS trials_by_status ON trials (status);
CREATE TABLE IF NOT EXISTS evals (
    trial_id   INTEGER NOT NULL REFERENCES trials(trial_id),
    step       INTEGER NOT NULL,
    seconds    REAL,
    train_loss REAL,
    PRIMARY KEY (trial_id, step)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS eval_metrics (
    trial_id INTEGER NOT NULL REFERENCES trials(trial_id),
    metric   TEXT NOT NULL,
    step     INTEGER NOT NULL,
    value    REAL,
    PRIMARY KEY (trial_id, metric, step)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    event_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    trial_id  INTEGER NOT NULL,
    time      REAL NOT NULL,
    event     TEXT NOT NULL,
    run_token TEXT NOT NULL,
    host      TEXT NOT NULL,
    pid       INTEGER NOT NULL,
    detail    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS events_by_trial ON events (trial_id);
"""

_RETRIES = 8

_SQLITE_URL = re.compile(r"^sqlite(\+(?P<driver>[^:/]*))?://(?P<rest>.*)$", re.IGNORECASE | re.DOTALL)


def sqlite_path(url_or_path: str | os.PathLike[str]) -> Path:
    """The file that a plain path or an ``sqlite:///`` URL names.

    As in SQLAlchemy, three slashes then the path: ``sqlite:///stores/s.db``
    is relative to the current folder, ``sqlite:////srv/s.db`` absolute.
    Percent-escapes are decoded. An in-memory database (``sqlite://``,
    ``sqlite:///:memory:``) or a URL with a host or parameters is an
    :class:`~hplists.exceptions.InvalidParameterError`.

    Example:
        >>> sqlite_path("sqlite:///stores/s.db"), sqlite_path("sqlite:////srv/my%20s.db")
        (PosixPath('stores/s.db'), PosixPath('/srv/my s.db'))
        >>> sqlite_path("stores/s.db")
        PosixPath('stores/s.db')
    """
    if isinstance(url_or_path, os.PathLike):
        return Path(url_or_path)
    m = _SQLITE_URL.match(url_or_path)
    if m is None:
        return Path(url_or_path)
    rest = m["rest"]
    if rest in ("", "/", "/:memory:"):
        raise InvalidParameterError(
            f"trial store URL {url_or_path!r} names an in-memory SQLite database, which keeps "
            "nothing; name a file: sqlite:///relative/path.db or sqlite:////absolute/path.db")
    if not rest.startswith("/"):
        raise InvalidParameterError(
            f"trial store URL {url_or_path!r} names a host; an SQLite URL has none: write "
            "sqlite:///relative/path.db or sqlite:////absolute/path.db")
    if "?" in rest:
        raise InvalidParameterError(
            f"trial store URL {url_or_path!r} has parameters ({rest.split('?', 1)[1]!r}); an "
            "SQLite store takes none in its URL (open_store's arguments set them)")
    return Path(urllib.parse.unquote(rest[1:]))


def _is_busy(e: sqlite3.OperationalError) -> bool:
    msg = str(e).lower()
    return "locked" in msg or "busy" in msg


def _guarded(method: Any) -> Any:
    """``method`` with SQLite's errors as hplists errors that name the store and say what happened.

    A malformed page ("database disk image is malformed") or a missing table
    is raised by SQLite only when a query reaches it; the caller then gets one
    clear :class:`CorruptStoreError` instead of a raw ``sqlite3.DatabaseError``.
    A full disk, an I/O error or a read-only file is a :class:`StoreDiskError`
    that says whether the file is intact (it is checked). A busy database is
    left as it is (the store retries those).
    """

    @functools.wraps(method)
    def guarded(self: SQLiteStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as e:
            if isinstance(e, sqlite3.OperationalError) and _is_busy(e):
                raise
            raise _store_error(self.path, e) from e

    return guarded


# SQLite's primary result codes (sqlite3.h), for errors whose name Python does not give.
_DISK_ERRORS = {13: "SQLITE_FULL", 10: "SQLITE_IOERR", 8: "SQLITE_READONLY",
                14: "SQLITE_CANTOPEN"}


def _error_name(e: sqlite3.DatabaseError) -> str:
    name = getattr(e, "sqlite_errorname", None)
    if name:
        return str(name)
    code = getattr(e, "sqlite_errorcode", None)
    return _DISK_ERRORS.get(int(code) & 0xFF, "") if code is not None else ""


def _intact(path: Path) -> str:
    """Whether the file passes ``PRAGMA quick_check``, said as a clause of an error message."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as e:
        return f"the file could not be checked ({e})"
    if [str(r[0]) for r in rows] == ["ok"]:
        return "the file is intact (quick_check: ok), and nothing recorded before was lost"
    return f"the file is damaged too ({'; '.join(str(r[0]) for r in rows[:3])})"


def _store_error(path: Path, e: sqlite3.DatabaseError) -> DataError:
    """The hplists error for an SQLite error on the store at ``path`` (see :func:`_guarded`)."""
    where = repr(str(path))
    name = _error_name(e)
    msg = str(e)
    if name.startswith("SQLITE_FULL"):
        return StoreDiskError(f"the disk holding trial store {where} is full ({msg}); the "
                              f"operation was not done; {_intact(path)}: free some space and "
                              "run it again")
    if name.startswith("SQLITE_IOERR"):
        return StoreDiskError(f"an I/O error on trial store {where} ({name}: {msg}); the "
                              f"operation was not done; {_intact(path)}: check the disk and "
                              "run it again")
    if name.startswith("SQLITE_READONLY"):
        return StoreDiskError(f"trial store {where} is read-only here ({msg}); the operation "
                              "needs to write, and was not done: run it on a writable copy")
    if name.startswith("SQLITE_CANTOPEN"):
        return StoreDiskError(f"trial store {where} cannot be opened ({msg}): check that its "
                              "folder exists and may be read")
    if msg.startswith("no such table"):
        return CorruptStoreError(f"trial store {where} is damaged: {msg} (an hplists store has "
                                 "every table); the operation was not done")
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in msg:
        return CorruptStoreError(f"trial store {where} is damaged ({msg}); the operation was "
                                 "not done: restore the file from a copy")
    return DataError(f"SQLite refused an operation on trial store {where} ({name or 'error'}: "
                     f"{msg}); the operation was not done")


@functools.cache
def _schema_columns() -> dict[str, tuple[str, ...]]:
    """Table -> its columns, as :data:`_SCHEMA` creates them (read from an in-memory copy)."""
    conn = sqlite3.connect(":memory:")
    try:
        for stmt in _SCHEMA.split(";"):
            if stmt.strip():
                conn.execute(stmt)
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: tuple(r[1] for r in conn.execute(f"PRAGMA table_info({t})")) for t in tables}
    finally:
        conn.close()


def _inserted_id(cur: sqlite3.Cursor) -> int:
    """The rowid of the row an INSERT just wrote (``lastrowid`` is typed optional)."""
    rowid = cur.lastrowid
    if rowid is None:  # pragma: no cover - a successful INSERT always sets it
        raise AssertionError("INSERT did not set lastrowid")
    return int(rowid)


class SQLiteStore(SQLTrialStore):
    """Trial store in one SQLite file; see the module docstring for its guarantees.

    Args:
        path: the database file; created (with its schema) if missing and ``create``.
        create: whether a missing file is created; otherwise it is an error.
        timeout: seconds a write waits for another process's lock.
        heartbeat_timeout: seconds after which a ``running`` trial claimed on
            another host (whose process cannot be checked) counts as stale.

    Example:
        >>> import tempfile, os
        >>> from hplists import Curve, HParams
        >>> path = os.path.join(tempfile.mkdtemp(), "study.db")
        >>> store = SQLiteStore(path)
        >>> p = HParams(1e-3, 0.9, 0.999)
        >>> key = store.claim("demo", p, "mnist", seed=0, point_index=0)
        >>> curve = Curve([10, 20], [1.0, 2.0], [0.5, 0.3], {"error_rate": [0.2, 0.1]})
        >>> store.finish(key, curve)
        True
        >>> store.claim("demo", p, "mnist", seed=0) is None    # done: skipped on rerun
        True
        >>> [(t.workload, t.status.value, t.curve.metric("error_rate").tolist())
        ...  for t in store.trials(study="demo")]
        [('mnist', 'complete', [0.2, 0.1])]
        >>> store.close()
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        timeout: float = 60.0,
        heartbeat_timeout: float = 3600.0,
    ) -> None:
        self.path = Path(path)
        self.timeout = check_real("timeout", timeout, 0.0)
        self.heartbeat_timeout = check_real("heartbeat_timeout", heartbeat_timeout, 0.0,
                                            low_open=True)
        if self.path.is_dir():
            raise InvalidParameterError(
                f"trial store path {str(self.path)!r} is a directory, not a file")
        if not self.path.exists() and not create:
            raise InvalidParameterError(f"no trial store at {str(self.path)!r}")
        if not self.path.parent.exists():
            raise InvalidParameterError(
                f"directory of trial store {str(self.path)!r} does not exist")
        self._create = create
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._conn_pid = -1
        self._opened_read_only = ""  # the URI parameter the connection was opened with
        self._host = host_identity()
        # point id -> its JSON, read once (a point's id is the hash of that text, so it never
        # changes): metric_columns reads the points of every workload of a study
        self._point_texts: dict[str, str] = {}
        self._connection()

    # ----- connection and schema -----------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        # A connection must not cross fork(): a child opens its own.
        if self._conn is not None and self._conn_pid == os.getpid():
            return self._conn
        target, uri = str(self.path), False
        self._opened_read_only = readonly = self._read_only()
        if readonly:
            # On a read-only filesystem (or in a folder this process may not write) SQLite
            # cannot create the WAL's shared-memory file: nobody can write there, so the file
            # is opened as immutable; a file that only this process may not write, read-only.
            target, uri = f"{self.path.resolve().as_uri()}?{readonly}", True
        conn = sqlite3.connect(target, timeout=self.timeout, isolation_level=None,
                               check_same_thread=False, uri=uri)
        try:
            self._open(conn)
        except BaseException:
            conn.close()
            raise
        self._conn, self._conn_pid = conn, os.getpid()
        return conn

    def _read_only(self) -> str:
        """``""`` for a writable store; else the URI parameter that opens it read-only."""
        if not self.path.exists():
            return ""
        folder = self.path.resolve().parent
        ro_fs = hasattr(os, "statvfs") and bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
        if ro_fs or not os.access(folder, os.W_OK):
            wal = self.path.with_name(self.path.name + "-wal")
            if wal.exists() and wal.stat().st_size > 0:
                import warnings

                warnings.warn(f"trial store {str(self.path)!r} is on a read-only filesystem "
                              "with a write-ahead log that cannot be read there: the trials "
                              "in it are not shown (checkpoint it where it is writable)",
                              stacklevel=3)
            return "immutable=1"
        return "" if os.access(self.path, os.W_OK) else "mode=ro"

    def _open(self, conn: sqlite3.Connection) -> None:
        where = repr(str(self.path))
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as e:
            raise DataError(f"{where} is not an hplists trial store (not an SQLite database: {e})") \
                from None
        if not tables and not self._create:  # a read-only use never turns a file into a store
            raise CorruptStoreError(f"{where} is empty, not an hplists trial store (it was left "
                                    "unchanged)")
        if tables and "meta" not in tables:
            raise DataError(
                f"{where} is an SQLite database but not an hplists trial store "
                f"(it has tables {sorted(tables)} and no 'meta' table)"
            )
        if tables:
            self._check_meta(conn)
        if self._opened_read_only:
            if not tables:
                raise StoreDiskError(f"{where} is empty and read-only here: no trial store can "
                                     "be created in it")
            return  # read-only: nothing to set up; a write says the store is read-only
        self._retry(lambda: conn.execute("PRAGMA journal_mode=WAL").fetchone())
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        if not tables:
            with self._write_txn(conn) as c:
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        c.execute(stmt)
                now = utc_now()
                for k, v in (("format", FORMAT), ("schema_version", str(SCHEMA_VERSION)),
                             ("created_at", now), ("created_by", f"hplists {__version__}")):
                    c.execute("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)", (k, v))
            self._check_meta(conn)

    def _check_meta(self, conn: sqlite3.Connection) -> None:
        where = repr(str(self.path))
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("format") != FORMAT:
            raise DataError(
                f"{where} is not an hplists trial store (meta format is {meta.get('format')!r}, "
                f"expected {FORMAT!r})"
            )
        version = meta.get("schema_version")
        known = [str(v) for v in range(1, SCHEMA_VERSION + 1)]
        if version not in known:
            raise DataError(
                f"trial store {where} has schema version {version!r}; hplists {__version__} "
                f"reads schema version {'1 to ' if SCHEMA_VERSION > 1 else ''}{SCHEMA_VERSION} "
                "(use the hplists version that wrote it)"
            )
        if int(version) < SCHEMA_VERSION:
            self._migrate(conn, int(version))
        self._check_tables(conn)

    def _migrate(self, conn: sqlite3.Connection, version: int) -> None:
        """Upgrades the store from schema ``version`` to :data:`SCHEMA_VERSION`, step by step."""
        where = repr(str(self.path))
        if self._opened_read_only:
            raise StoreDiskError(
                f"trial store {where} has schema version {version} and needs an upgrade to "
                f"{SCHEMA_VERSION}, which needs to write: open it once where it is writable")
        with self._write_txn(conn) as c:
            current = int(dict(c.execute("SELECT key, value FROM meta").fetchall())
                          ["schema_version"])  # another process may have upgraded it
            for v in range(current, SCHEMA_VERSION):
                for stmt in MIGRATIONS[v]:
                    c.execute(stmt)
                c.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(v + 1),))
                c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                          (f"migrated_to_{v + 1}", f"{utc_now()} by hplists {__version__}"))

    def _check_tables(self, conn: sqlite3.Connection) -> None:
        """Every table of the schema with every column; a missing one is named at open."""
        for table, columns in _schema_columns().items():
            have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            if not have:
                raise CorruptStoreError(f"trial store {str(self.path)!r} is damaged: no table "
                                        f"{table!r} (an hplists store has every table)")
            missing = sorted(set(columns) - have)
            if missing:
                raise CorruptStoreError(
                    f"trial store {str(self.path)!r} lacks column(s) {missing} of table "
                    f"{table!r} for schema version {SCHEMA_VERSION}; it was left unchanged")

    def _retry(self, fn: Any) -> Any:
        for attempt in range(_RETRIES):
            try:
                return fn()
            except sqlite3.OperationalError as e:
                if not _is_busy(e) or attempt == _RETRIES - 1:
                    raise
                time.sleep(min(0.05 * 2**attempt, 2.0))
        raise AssertionError("unreachable")  # pragma: no cover

    @contextlib.contextmanager
    def _write_txn(self, conn: sqlite3.Connection | None = None) -> Iterator[sqlite3.Connection]:
        with self._lock:
            c = conn if conn is not None else self._connection()
            self._retry(lambda: c.execute("BEGIN IMMEDIATE"))
            try:
                yield c
            except BaseException:
                c.execute("ROLLBACK")
                raise
            self._retry(lambda: c.execute("COMMIT"))

    @contextlib.contextmanager
    def _read_txn(self) -> Iterator[sqlite3.Connection]:
        # One read transaction: a consistent snapshot across the three tables.
        with self._lock:
            c = self._connection()
            c.execute("BEGIN")
            try:
                yield c
            finally:
                c.execute("COMMIT")

    @classmethod
    def open_url(cls, url: str | os.PathLike[str], *, create: bool = True, timeout: float = 60.0,
                 heartbeat_timeout: float = 3600.0) -> SQLiteStore:
        """The store at a plain path or an ``sqlite:///`` URL (see :func:`sqlite_path`)."""
        return cls(sqlite_path(url), create=create, timeout=timeout,
                   heartbeat_timeout=heartbeat_timeout)

    @classmethod
    def url_exists(cls, url: str | os.PathLike[str]) -> bool:
        """Whether the file that ``url`` names exists (as a file, not a folder)."""
        return sqlite_path(url).is_file()

    def close(self) -> None:
        """Closes the connection (the store reopens it on next use)."""
        with self._lock:
            if self._conn is not None and self._conn_pid == os.getpid():
                self._conn.close()
            self._conn = None

    def location(self) -> str:
        """The store's file, as error messages name it."""
        return str(self.path)

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    # ----- what SQLTrialStore needs of a backend ------------------------------------------------

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        with self._write_txn() as c:
            return work(c)

    def _now(self, c: Any) -> float:
        return time.time()

    def _insert_trial(self, c: Any, values: Mapping[str, Any]) -> int:
        # BEGIN IMMEDIATE holds the database: nobody inserted the row since the lookup.
        cur = c.execute(f"INSERT INTO trials({', '.join(values)}) "
                        f"VALUES ({', '.join('?' * len(values))})", list(values.values()))
        return _inserted_id(cur)

    def _summary_extra(self, c: Any) -> dict[str, Any]:
        return {"journal_mode": c.execute("PRAGMA journal_mode").fetchone()[0]}

    def check(self) -> None:
        """Raises a :class:`CorruptStoreError` unless SQLite's ``quick_check`` finds the file sound.

        Commands that write to an existing store (``hplists store import``) call it
        first, so a damaged file is refused before anything is written.

        Example:
            >>> import tempfile, os
            >>> from hplists.store import open_store
            >>> open_store(os.path.join(tempfile.mkdtemp(), "c.db")).check()
        """
        with self._lock:
            rows = self._connection().execute("PRAGMA quick_check").fetchall()
        problems = [str(r[0]) for r in rows if str(r[0]) != "ok"]
        if problems:
            raise CorruptStoreError(
                f"trial store {str(self.path)!r} is damaged ({'; '.join(problems[:3])}); "
                "nothing was written: restore the file from a copy")


# Every public operation reports SQLite's errors as hplists errors (see _guarded).
guard(SQLiteStore, _guarded)
