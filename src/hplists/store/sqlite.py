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
* **Audit trail.** Every claim, reclaim, finish, failure, import and discarded
  duplicate is appended to the ``events`` table (:meth:`SQLiteStore.events`).

Stale trials. A ``running`` row records the claiming process (run token,
host and PID namespace, pid, process identity, heartbeat time), and
:meth:`SQLiteStore.claim` hands it out again when its owner is gone: this
process's own trial, one whose process on this host no longer exists, or one
claimed on another host (or PID namespace) without a heartbeat for
``heartbeat_timeout`` seconds (3600 by default). :mod:`hplists.store.liveness`
states the rule; every backend applies it.

A reclaimed trial gets the new owner and ``attempts + 1``; if the old owner
turns out to be alive and finishes first, its result is kept and the later
one is discarded (logged as an event), so a trial is never recorded twice.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hplists._check import check_choice, check_real
from hplists._version import __version__
from hplists.curves import Curve, Status
from hplists.exceptions import DataError, InvalidParameterError
from hplists.hparams import HParams
from hplists.store._common import (
    check_version,
    curves_from_rows,
    eval_rows,
    point_text,
    prepare_puts,
    terminal_curve,
    trial_args,
)
from hplists.store._common import runs as _runs  # noqa: F401
from hplists.store.base import (
    TERMINAL,
    CorruptStoreError,
    MetricSummary,
    StoreDiskError,
    TrialKey,
    TrialRecord,
    TrialStore,
    canonical_point,
    check_status,
    curve_to_json,
    light_record,
    machine_provenance,
    point_id,
    utc_now,
)
from hplists.store.columns import STATUS_CODE, MetricColumns
from hplists.store.liveness import (  # noqa: F401  (the names this module has always offered)
    HOST_ENV,
    Owner,
    host_identity,
    run_token,
    stale_reason,
)
from hplists.store.liveness import proc_identity as _proc_identity
from hplists.store.liveness import process_gone as _process_gone  # noqa: F401
from hplists.store.liveness import thread_token as _thread_token

__all__ = ["FORMAT", "SCHEMA_VERSION", "SQLiteStore", "run_token", "sqlite_path"]

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

# metric_columns: rows converted to arrays this many at a time, and the row's fields.
_BLOCK_ROWS = 65_536
_SUMMARY_ROW = np.dtype([
    ("point_id", object), ("point_index", np.int64), ("seed", np.int64), ("version", object),
    ("status", np.int8), ("message", object), ("has_curve", np.bool_), ("evals", np.int64),
    ("last_step", np.int64), ("metric_evals", np.int64), ("first_nonfinite", np.int64),
    ("nonfinite_value", np.float64), ("hit_step", np.int64), ("hit_seconds", np.float64),
    ("hit_index", np.int64), ("best", np.float64)])


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


class SQLiteStore(TrialStore):
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

    # ----- helpers -------------------------------------------------------------------------------

    _trial_args = staticmethod(trial_args)

    def _owner(self) -> tuple[str, str, int, str | None]:
        pid = os.getpid()
        return _thread_token(), self._host, pid, _proc_identity(pid)

    def _event(self, c: sqlite3.Connection, trial_id: int, event: str, detail: Any = "") -> None:
        token, host, pid, _ = self._owner()
        if not isinstance(detail, str):
            detail = json.dumps(detail, allow_nan=False)
        c.execute(
            "INSERT INTO events(trial_id, time, event, run_token, host, pid, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (trial_id, time.time(), event, token, host, pid, detail),
        )

    @staticmethod
    def _insert_point(c: sqlite3.Connection, pid: str, point: Mapping[str, float]) -> None:
        c.execute("INSERT OR IGNORE INTO points(point_id, point) VALUES (?, ?)",
                  (pid, point_text(point)))

    @staticmethod
    def _lookup(c: sqlite3.Connection, study: str, pid: str, workload: str, seed: int
                ) -> sqlite3.Row | None:
        c.row_factory = sqlite3.Row
        try:
            return c.execute(
                "SELECT * FROM trials WHERE study=? AND point_id=? AND workload=? AND seed=?",
                (study, pid, workload, seed),
            ).fetchone()
        finally:
            c.row_factory = None

    _check_version = staticmethod(check_version)

    def _stale_reason(self, row: sqlite3.Row, now: float) -> str | None:
        return stale_reason(row["host"], int(row["pid"]), row["proc_identity"],
                            float(row["heartbeat"]), my_host=self._host, now=now,
                            heartbeat_timeout=self.heartbeat_timeout)

    @staticmethod
    def _write_curve(c: sqlite3.Connection, trial_id: int, curve: Curve | None) -> None:
        c.execute("DELETE FROM evals WHERE trial_id=?", (trial_id,))
        c.execute("DELETE FROM eval_metrics WHERE trial_id=?", (trial_id,))
        if curve is None:
            return
        evals, metrics = eval_rows(trial_id, curve)
        c.executemany(
            "INSERT INTO evals(trial_id, step, seconds, train_loss) VALUES (?, ?, ?, ?)", evals)
        c.executemany(
            "INSERT INTO eval_metrics(trial_id, metric, step, value) VALUES (?, ?, ?, ?)",
            metrics)

    _terminal_curve = staticmethod(terminal_curve)

    # ----- writing -------------------------------------------------------------------------------

    def claim(
        self,
        study: str,
        point: HParams | Mapping[str, float],
        workload: str,
        seed: int,
        *,
        point_index: int | None = None,
        workload_version: str = "1",
        retry_errors: bool = False,
        provenance: Mapping[str, Any] | None = None,
    ) -> TrialKey | None:
        """Marks a trial ``running`` for this process if it must run; ``None`` if it must not.

        Returns a :class:`TrialKey` when the trial is absent, already owned by
        this process, or ``running`` but stale (its process died; see the module
        docstring), and ``None`` when it is complete, diverged or error
        (unless ``retry_errors``) or running in another live process.

        Args:
            study: the study's name.
            point: an :class:`~hplists.HParams` (recorded with all its fields) or
                a mapping of names to finite floats.
            workload: the workload's name.
            seed: the training seed.
            point_index: position of the point in the study's sample.
            workload_version: version of the workload's definition; a trial
                recorded under another version is an error.
            retry_errors: also hand out trials that ended in ``error``; the
                previous message and curve are kept in the event log.
            provenance: extra JSON-able provenance merged into the record.
        """
        study, workload, seed, wv, index = self._trial_args(study, workload, seed,
                                                            workload_version, point_index)
        canon = canonical_point(point)
        pid = point_id(canon)
        token, host, os_pid, ident = self._owner()
        now = time.time()
        prov = {**machine_provenance(), "workload_version": wv, "run_token": token,
                "claimed_at": utc_now(), **dict(provenance or {})}
        prov_text = json.dumps(prov, allow_nan=False)
        with self._write_txn() as c:
            row = self._lookup(c, study, pid, workload, seed)
            if row is None:
                self._insert_point(c, pid, canon)
                cur = c.execute(
                    "INSERT INTO trials(study, point_id, point_index, workload, workload_version, "
                    "seed, status, run_token, host, pid, proc_identity, heartbeat, provenance, "
                    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, "
                    "?, ?)",
                    (study, pid, index, workload, wv, seed, token, host, os_pid, ident, now,
                     prov_text, now, now),
                )
                trial_id = _inserted_id(cur)
                self._event(c, trial_id, "claim")
                return TrialKey(study, pid, workload, seed, token, trial_id)
            trial_id = int(row["trial_id"])
            self._check_version(row, wv)
            if row["point_index"] is None and index is not None:
                c.execute("UPDATE trials SET point_index=? WHERE trial_id=?", (index, trial_id))
            status = Status(row["status"])
            if status is Status.RUNNING:
                if row["run_token"] == token:
                    return TrialKey(study, pid, workload, seed, token, trial_id)
                reason = self._stale_reason(row, now)
                if reason is None:
                    return None
                detail = {"previous_run_token": row["run_token"], "previous_host": row["host"],
                          "previous_pid": row["pid"], "reason": reason}
                event = "reclaim"
            elif status is Status.ERROR and retry_errors:
                previous = self._read_curves(c, [trial_id]).get(trial_id)
                detail = {"previous_run_token": row["run_token"], "previous_message":
                          row["message"], "previous_curve":
                          None if not row["has_curve"] or previous is None
                          else curve_to_json(previous)}
                event = "retry"
                self._write_curve(c, trial_id, None)
            else:
                return None
            c.execute(
                "UPDATE trials SET status='running', message='', has_curve=0, run_token=?, host=?, "
                "pid=?, proc_identity=?, heartbeat=?, attempts=attempts+1, provenance=?, "
                "updated_at=? WHERE trial_id=?",
                (token, host, os_pid, ident, now, prov_text, now, trial_id),
            )
            self._event(c, trial_id, event, detail)
            return TrialKey(study, pid, workload, seed, token, trial_id)

    def heartbeat(self, key: TrialKey) -> None:
        """Records that the trial of ``key`` is still being worked on (for other hosts' claims).

        Only while ``key`` still owns it: a trial reclaimed by another process
        keeps that owner's heartbeat.
        """
        with self._write_txn() as c:
            c.execute(
                "UPDATE trials SET heartbeat=? WHERE study=? AND point_id=? AND workload=? AND "
                "seed=? AND status='running' AND run_token=?",
                (time.time(), key.study, key.point_id, key.workload, key.seed, key.run_token),
            )

    def _record(self, key: TrialKey, status: Status, message: str, curve: Curve | None,
                event: str) -> bool:
        if not isinstance(key, TrialKey):
            raise InvalidParameterError(f"key must be a TrialKey from claim(), got {type(key).__name__}")
        now = time.time()
        with self._write_txn() as c:
            row = self._lookup(c, key.study, key.point_id, key.workload, key.seed)
            if row is None:
                raise DataError(
                    f"no trial (study={key.study!r}, point_id={key.point_id!r}, "
                    f"workload={key.workload!r}, seed={key.seed}) in {str(self.path)!r}; "
                    f"claim() it first"
                )
            trial_id = int(row["trial_id"])
            if Status(row["status"]) in TERMINAL:
                # Someone recorded it first: keep theirs, log ours.
                self._event(c, trial_id, "discard", {"status": status.value, "message": message,
                                                     "run_token": key.run_token})
                return False
            prov = json.loads(row["provenance"])
            if row["run_token"] != key.run_token:
                prov.update(machine_provenance())
            prov.update({"run_token": key.run_token, "finished_at": utc_now()})
            self._write_curve(c, trial_id, curve)
            c.execute(
                "UPDATE trials SET status=?, message=?, has_curve=?, run_token=?, heartbeat=?, "
                "provenance=?, updated_at=? WHERE trial_id=?",
                (status.value, message, int(curve is not None), key.run_token, now,
                 json.dumps(prov, allow_nan=False), now, trial_id),
            )
            self._event(c, trial_id, event)
            return True

    def finish(self, key: TrialKey, curve: Curve) -> bool:
        """Records the curve of a claimed trial; its status is ``curve.status``.

        Returns ``False`` (and records nothing but an event) if the trial was
        already finished by another process.
        """
        curve = self._terminal_curve(curve, "curve")
        return self._record(key, curve.status, curve.message, curve, "finish")

    def fail(self, key: TrialKey, message: str, curve: Curve | None = None) -> bool:
        """Records a claimed trial as ``error`` with ``message`` (and a partial curve if given)."""
        if not isinstance(message, str):
            raise InvalidParameterError(f"message must be a string, got {type(message).__name__}")
        if curve is not None and not isinstance(curve, Curve):
            raise InvalidParameterError(f"curve must be a hplists.Curve or None, got {type(curve).__name__}")
        return self._record(key, Status.ERROR, message, curve, "fail")

    def put(
        self,
        study: str,
        point: HParams | Mapping[str, float],
        workload: str,
        seed: int,
        curve: Curve,
        *,
        point_index: int | None = None,
        workload_version: str = "1",
        provenance: Mapping[str, Any] | None = None,
    ) -> bool:
        """Records a finished trial in one step; a no-op if it is already finished.

        Returns ``True`` if written, ``False`` if a complete, diverged or error
        result was already recorded (it is kept; results are never overwritten).

        Example:
            >>> import tempfile, os
            >>> from hplists import Curve
            >>> s = SQLiteStore(os.path.join(tempfile.mkdtemp(), "s.db"))
            >>> c = Curve([1], [0.1], [2.0], {"loss": [1.5]})
            >>> s.put("st", {"lr": 0.1}, "w", 0, c), s.put("st", {"lr": 0.1}, "w", 0, c)
            (True, False)
        """
        curve = self._terminal_curve(curve, "curve")
        rec = TrialRecord(study, "", point_index, {}, workload, workload_version, seed,
                          curve.status, curve.message, curve, dict(provenance or {}))
        return self._put_many([(rec, point)], event="put") == 1

    def put_many(self, records: Iterable[TrialRecord]) -> int:
        """Records finished trials (e.g. another store's, or imported ones) in few transactions.

        Each record's ``status`` and ``message`` win over its curve's; its
        ``provenance`` is kept under ``"source_provenance"``. Trials already
        finished here are skipped. Returns the number written.
        """
        items = []
        for r in records:
            if not isinstance(r, TrialRecord):
                raise InvalidParameterError(f"put_many takes TrialRecords, got {type(r).__name__}")
            items.append((r, r.point))
        return self._put_many(items, event="import")

    def _put_many(self, items: Sequence[tuple[TrialRecord, Any]], event: str) -> int:
        token, host, os_pid, ident = self._owner()
        prepared = [(p.study, p.workload, p.seed, p.workload_version, p.point_index, p.status,
                     p.message, p.curve, p.point, p.point_id, p.provenance)
                    for p in prepare_puts(items, event, Owner(token, host, os_pid, ident))]
        written = 0
        chunk = 256
        for start in range(0, len(prepared), chunk):
            with self._write_txn() as c:
                for (study, workload, seed, wv, index, status, message, curve, canon, pid,
                     prov_text) in prepared[start:start + chunk]:
                    now = time.time()
                    row = self._lookup(c, study, pid, workload, seed)
                    if row is not None:
                        self._check_version(row, wv)
                        if Status(row["status"]) in TERMINAL:
                            continue
                        trial_id = int(row["trial_id"])
                        c.execute(
                            "UPDATE trials SET status=?, message=?, has_curve=?, run_token=?, "
                            "host=?, pid=?, proc_identity=?, heartbeat=?, provenance=?, "
                            "point_index=COALESCE(point_index, ?), updated_at=? WHERE trial_id=?",
                            (status.value, message, int(curve is not None), token, host, os_pid,
                             ident, now, prov_text, index, now, trial_id),
                        )
                    else:
                        self._insert_point(c, pid, canon)
                        cur = c.execute(
                            "INSERT INTO trials(study, point_id, point_index, workload, "
                            "workload_version, seed, status, message, has_curve, run_token, host, "
                            "pid, proc_identity, heartbeat, provenance, created_at, updated_at) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (study, pid, index, workload, wv, seed, status.value, message,
                             int(curve is not None), token, host, os_pid, ident, now, prov_text,
                             now, now),
                        )
                        trial_id = _inserted_id(cur)
                    self._write_curve(c, trial_id, curve)
                    self._event(c, trial_id, event)
                    written += 1
        return written

    # ----- reading -------------------------------------------------------------------------------

    @staticmethod
    def _filter(study: str | None, workload: str | None,
                status: Status | str | Sequence[Status | str] | None) -> tuple[str, list[Any]]:
        clauses, params = [], []
        if study is not None:
            clauses.append("t.study = ?")
            params.append(study)
        if workload is not None:
            clauses.append("t.workload = ?")
            params.append(workload)
        if status is not None:
            statuses = [status] if isinstance(status, (str, Status)) else list(status)
            values = [check_status(s).value for s in statuses]
            clauses.append(f"t.status IN ({', '.join('?' * len(values))})")
            params += values
        return (" AND ".join(clauses) or "1"), params

    @staticmethod
    def _read_curves(c: sqlite3.Connection, trial_ids: Sequence[int] | None,
                     where: str = "1", params: Sequence[Any] = (),
                     status: Mapping[int, tuple[Status, str]] | None = None) -> dict[int, Curve]:
        """Curves of the selected trials, with ``status[trial_id]`` (default complete)."""
        if trial_ids is not None:
            where = f"t.trial_id IN ({', '.join('?' * len(trial_ids))})"
            params = list(trial_ids)
        ev = c.execute(
            "SELECT e.trial_id, e.step, e.seconds, e.train_loss FROM evals e "
            f"JOIN trials t ON t.trial_id = e.trial_id WHERE {where} ORDER BY e.trial_id, e.step",
            params,
        ).fetchall()
        mt = c.execute(
            "SELECT m.trial_id, m.metric, m.step, m.value FROM eval_metrics m "
            f"JOIN trials t ON t.trial_id = m.trial_id WHERE {where} "
            "ORDER BY m.trial_id, m.metric, m.step",
            params,
        ).fetchall()
        return curves_from_rows(ev, mt, status)

    def trials(
        self,
        study: str | None = None,
        workload: str | None = None,
        status: Status | str | Sequence[Status | str] | None = None,
    ) -> list[TrialRecord]:
        """Recorded trials, optionally filtered; ``[]`` if none match.

        Ordered by study, workload, point index (unindexed points last), point
        id and seed, so the order does not depend on which process wrote first.
        """
        where, params = self._filter(study, workload, status)
        with self._read_txn() as c:
            rows = c.execute(
                "SELECT t.trial_id, t.study, t.point_id, t.point_index, p.point, t.workload, "
                "t.workload_version, t.seed, t.status, t.message, t.has_curve, t.provenance "
                "FROM trials t JOIN points p ON p.point_id = t.point_id "
                f"WHERE {where} ORDER BY t.study, t.workload, t.point_index IS NULL, "
                "t.point_index, t.point_id, t.seed",
                params,
            ).fetchall()
            finished = {r[0]: (Status(r[8]), r[9]) for r in rows if r[8] != "running"}
            curves = self._read_curves(c, None, where, params, finished) if rows else {}
        out = []
        for (tid, st, pid, index, point, wl, wv, seed, status_, message, has_curve,
             prov) in rows:
            status_ = Status(status_)
            curve = None
            if has_curve and status_ in TERMINAL:
                curve = curves.get(tid) or Curve([], [], [], {}, status_, message)
            out.append(TrialRecord(st, pid, index, json.loads(point), wl, wv, int(seed),
                                   status_, message, curve, json.loads(prov)))
        return out

    def retire(self, study: str, workload: str, current_version: str) -> dict[str, int]:
        """Moves ``workload``'s trials of other versions out of ``study``; nothing is deleted.

        A study holds one version of each workload (:meth:`claim` refuses to mix
        them). When a workload's definition changes and its ``version`` is
        bumped, its old trials move to the study
        ``"<study>/retired/<workload>/v<old version>"``, each with a ``retire``
        event in the audit log, so ``study`` can be run again on the new version
        while the old curves stay in the store. Trials still running refuse the
        move (finish or stop them first). Returns ``{to_study: trials moved}``.

        Example:
            >>> import os, tempfile
            >>> from hplists import Curve, HParams
            >>> store = SQLiteStore(os.path.join(tempfile.mkdtemp(), "s.db"))
            >>> key = store.claim("s", HParams(1e-3, 0.9, 0.99), "w", 0, workload_version="1")
            >>> store.finish(key, Curve([10], [1.0], [0.5], {"error_rate": [0.3]}))
            True
            >>> store.retire("s", "w", current_version="2")
            {'s/retired/w/v1': 1}
            >>> store.studies(), store.retire("s/retired/w/v1", "w", current_version="1")
            (['s/retired/w/v1'], {})
        """
        study, workload, _, current_version, _ = self._trial_args(
            study, workload, 0, current_version, None)
        moved: dict[str, int] = {}
        with self._write_txn() as c:
            rows = c.execute(
                "SELECT trial_id, workload_version, status FROM trials "
                "WHERE study=? AND workload=? AND workload_version<>?",
                (study, workload, current_version),
            ).fetchall()
            running = sum(1 for r in rows if r[2] == "running")
            if running:
                raise DataError(
                    f"study {study!r} has {running} running trial(s) of workload {workload!r} "
                    f"at another version; finish or stop them before retiring that version")
            for trial_id, version, _ in rows:
                to = f"{study}/retired/{workload}/v{version}"
                clash = c.execute(
                    "SELECT 1 FROM trials t JOIN trials o ON o.point_id=t.point_id AND "
                    "o.workload=t.workload AND o.seed=t.seed WHERE t.trial_id=? AND o.study=?",
                    (trial_id, to),
                ).fetchone()
                if clash:
                    raise DataError(f"study {to!r} already holds trial {trial_id}'s point, "
                                     f"workload and seed; nothing was moved")
                c.execute("UPDATE trials SET study=? WHERE trial_id=?", (to, trial_id))
                self._event(c, trial_id, "retire", {"from": study, "to": to})
                moved[to] = moved.get(to, 0) + 1
        return moved

    def count(self, study: str | None = None, workload: str | None = None,
              status: Status | str | Sequence[Status | str] | None = None) -> int:
        """Number of trials matching the filters."""
        where, params = self._filter(study, workload, status)
        with self._read_txn() as c:
            return int(c.execute(f"SELECT COUNT(*) FROM trials t WHERE {where}", params)
                       .fetchone()[0])

    def headers(self, study: str | None = None) -> list[TrialRecord]:
        """:meth:`trials` without curves and provenance, read without touching the curves.

        Each point's JSON is read and parsed once (its trials share the dict).
        """
        where, params = self._filter(study, None, None)
        with self._read_txn() as c:
            rows = c.execute(
                "SELECT t.study, t.point_id, t.point_index, t.workload, t.workload_version, "
                f"t.seed, t.status, t.message FROM trials t WHERE {where} "
                "ORDER BY t.study, t.workload, t.point_index IS NULL, t.point_index, "
                "t.point_id, t.seed", params).fetchall()
            texts = c.execute(
                "SELECT p.point_id, p.point FROM points p WHERE p.point_id IN "
                f"(SELECT t.point_id FROM trials t WHERE {where})", params).fetchall()
        parsed = {pid: json.loads(text) for pid, text in texts}
        statuses = {s.value: s for s in Status}
        return [light_record(st, pid, index, parsed[pid], wl, wv, seed, statuses[status], message)
                for st, pid, index, wl, wv, seed, status, message in rows
                if pid in parsed]  # as trials(): a trial without its point is left out

    def metric_summaries(self, study: str, workload: str, metric: str, mode: str,
                         target: float) -> list[MetricSummary]:
        """Each trial's time to ``target``, answered by SQLite without reading any curve.

        The same answer as :meth:`TrialStore.metric_summaries` (a test holds
        them equal on the committed stores): per trial, the first finite value
        that reaches the target, its seconds and position, the best finite
        value, and what validation needs. Memory grows with the trials, not
        with their evaluations. The rows of :meth:`metric_columns`, as objects.
        """
        check_choice("mode", mode, ("min", "max"))
        return self.metric_columns(study, workload, metric, mode, target).summaries()

    def metric_columns(self, study: str, workload: str, metric: str | None, mode: str = "min",
                       target: float = 0.0) -> MetricColumns:
        """:meth:`metric_summaries` as columns, from one pass of SQLite over each trial's rows.

        Per trial, one grouped scan of its metric's values (count, first non-finite
        step, first step that reaches the target, best finite value), the count and
        last step of its evaluations, and index lookups for the seconds and position
        of the hit; no Python object is made per trial but the row SQLite hands over,
        converted to arrays a block at a time.
        """
        check_choice("mode", mode, ("min", "max"))
        target = check_real("target", target)
        # NaN is stored as NULL; +-inf as SQLite's infinite REAL (9e999 reads as +inf). A
        # comparison with NULL is NULL, so `finite` is false for NaN without testing for it.
        reach, best = ("m.value <= :target", "MIN") if mode == "min" else \
            ("m.value >= :target", "MAX")
        finite = "m.value > -9e999 AND m.value < 9e999"
        status = " ".join(f"WHEN '{s.value}' THEN {STATUS_CODE[s]}" for s in Status)
        sql = f"""
            SELECT t.point_id, COALESCE(t.point_index, -1), t.seed, t.workload_version,
                   CASE t.status {status} END, t.message, t.has_curve,
                   (SELECT COUNT(*) FROM evals e WHERE e.trial_id = t.trial_id),
                   COALESCE((SELECT MAX(e.step) FROM evals e WHERE e.trial_id = t.trial_id), -1),
                   COALESCE(m.n, 0), COALESCE(m.nonfinite, -1),
                   CASE WHEN m.nonfinite IS NULL THEN NULL ELSE
                       (SELECT v.value FROM eval_metrics v WHERE v.trial_id = t.trial_id
                        AND v.metric = :metric AND v.step = m.nonfinite) END,
                   COALESCE(m.hit, -1),
                   CASE WHEN m.hit IS NULL THEN NULL ELSE
                       (SELECT e.seconds FROM evals e WHERE e.trial_id = t.trial_id
                        AND e.step = m.hit) END,
                   CASE WHEN m.hit IS NULL THEN -1 ELSE
                       (SELECT COUNT(*) FROM evals e WHERE e.trial_id = t.trial_id
                        AND e.step < m.hit) END,
                   m.best
            FROM trials t
            LEFT JOIN (SELECT m.trial_id, COUNT(*) AS n,
                              MIN(CASE WHEN {finite} THEN NULL ELSE m.step END) AS nonfinite,
                              MIN(CASE WHEN {reach} AND {finite} THEN m.step END) AS hit,
                              {best}(CASE WHEN {finite} THEN m.value END) AS best
                       FROM eval_metrics m
                       WHERE m.trial_id IN (SELECT t2.trial_id FROM trials t2
                                            WHERE t2.study = :study AND t2.workload = :workload)
                       AND m.metric = :metric
                       GROUP BY m.trial_id) m ON m.trial_id = t.trial_id
            WHERE t.study = :study AND t.workload = :workload"""
        params = {"study": study, "workload": workload, "metric": metric, "target": target}
        blocks = []
        with self._read_txn() as c:
            cur = c.execute(sql, params)
            while rows := cur.fetchmany(_BLOCK_ROWS):
                blocks.append(np.array(rows, dtype=_SUMMARY_ROW))
            if not blocks:
                return MetricColumns.empty()
            table = np.concatenate(blocks)
            del blocks
            ids, point = np.unique(table["point_id"], return_inverse=True)
            texts = self._point_texts
            if any(i not in texts for i in ids.tolist()):  # read each point once per store
                texts.update(c.execute(
                    "SELECT p.point_id, p.point FROM points p WHERE p.point_id IN (SELECT "
                    "t.point_id FROM trials t WHERE t.study = ? AND t.workload = ?)",
                    (study, workload)).fetchall())
        if any(i not in texts for i in ids.tolist()):  # as trials(): a trial without its point
            table = table[np.isin(table["point_id"], list(texts))]  # (a damaged store) is left out
            if not table.size:
                return MetricColumns.empty()
            ids, point = np.unique(table["point_id"], return_inverse=True)
        versions, version = np.unique(table["version"], return_inverse=True)
        n = table.shape[0]
        columns = {name: table[name] for name in _SUMMARY_ROW.fields or ()}
        columns.update(study=np.zeros(n, np.int32), workload=np.zeros(n, np.int32),
                       point=point, version=version)
        cols = MetricColumns.build((study,), (workload,), {i: texts[i] for i in ids.tolist()},
                                   versions.tolist(), columns, table["message"])
        # trials' order: point index (unindexed last), point id (codes are in id order), seed
        return cols.take(np.lexsort((cols.seed, cols.point, cols.point_index,
                                     cols.point_index < 0)))

    def version_counts(self, study: str | None = None) -> dict[tuple[str, str, str], int]:
        """``(study, workload, workload version) -> trials``, sorted, counted by SQLite."""
        where, params = self._filter(study, None, None)
        with self._read_txn() as c:
            rows = c.execute(
                "SELECT t.study, t.workload, t.workload_version, COUNT(*) FROM trials t "
                f"WHERE {where} GROUP BY t.study, t.workload, t.workload_version", params
            ).fetchall()
        return {(st, wl, wv): int(n) for st, wl, wv, n in sorted(rows)}

    def recorded_points(self, study: str) -> dict[int, list[dict[str, float]]]:
        """Point index -> the distinct points ``study`` recorded there (no curves are read)."""
        with self._read_txn() as c:
            rows = c.execute(
                "SELECT t.point_index, p.point, MIN(t.trial_id) AS first FROM trials t "
                "JOIN points p ON p.point_id = t.point_id "
                "WHERE t.study = ? AND t.point_index IS NOT NULL "
                "GROUP BY t.point_index, t.point_id ORDER BY t.point_index, first",
                (study,)).fetchall()
        out: dict[int, list[dict[str, float]]] = {}
        for index, point, _ in rows:
            out.setdefault(int(index), []).append(json.loads(point))
        return out

    def studies(self) -> list[str]:
        """Names of the studies with at least one trial, sorted."""
        with self._read_txn() as c:
            return [r[0] for r in c.execute("SELECT DISTINCT study FROM trials ORDER BY study")]

    def workloads(self, study: str | None = None) -> list[str]:
        """Names of the workloads with at least one trial (in ``study`` if given), sorted."""
        where, params = self._filter(study, None, None)
        with self._read_txn() as c:
            return [r[0] for r in c.execute(
                f"SELECT DISTINCT workload FROM trials t WHERE {where} ORDER BY workload", params)]

    def summary(self) -> dict[str, Any]:
        """Format, schema version, and trial counts per study, workload and status."""
        with self._read_txn() as c:
            meta = dict(c.execute("SELECT key, value FROM meta").fetchall())
            counts = c.execute(
                "SELECT study, workload, status, COUNT(*) FROM trials "
                "GROUP BY study, workload, status ORDER BY study, workload, status"
            ).fetchall()
            n_evals = int(c.execute("SELECT COUNT(*) FROM evals").fetchone()[0])
            n_points = int(c.execute("SELECT COUNT(*) FROM points").fetchone()[0])
            journal = c.execute("PRAGMA journal_mode").fetchone()[0]
        table: dict[str, dict[str, dict[str, int]]] = {}
        for st, wl, status, n in counts:
            table.setdefault(st, {}).setdefault(wl, {})[status] = int(n)
        return {"path": str(self.path), "meta": meta, "journal_mode": journal,
                "points": n_points, "evaluations": n_evals,
                "trials": sum(int(r[3]) for r in counts), "counts": table}

    def events(self, study: str | None = None, workload: str | None = None) -> list[dict[str, Any]]:
        """The audit log: one dict per claim, reclaim, retry, finish, fail, put, import, discard."""
        where, params = self._filter(study, workload, None)
        with self._read_txn() as c:
            rows = c.execute(
                "SELECT e.event_id, e.time, e.event, e.run_token, e.host, e.pid, e.detail, "
                "t.study, t.point_id, t.workload, t.seed FROM events e "
                f"JOIN trials t ON t.trial_id = e.trial_id WHERE {where} ORDER BY e.event_id",
                params,
            ).fetchall()
        keys = ("event_id", "time", "event", "run_token", "host", "pid", "detail", "study",
                "point_id", "workload", "seed")
        out = []
        for r in rows:
            d = dict(zip(keys, r, strict=True))
            d["detail"] = json.loads(d["detail"]) if d["detail"] else {}
            out.append(d)
        return out

    def manifest(self, name: str) -> dict[str, Any] | None:
        """The manifest recorded under ``name`` (``meta`` key ``manifest:<name>``), or ``None``.

        Example:
            >>> import tempfile, os
            >>> from hplists.store import open_store
            >>> s = open_store(os.path.join(tempfile.mkdtemp(), "m.db"))
            >>> s.manifest("paper001") is None
            True
            >>> s.record_manifest("paper001", {"broad": "broad12", "k": 5})
            >>> s.manifest("paper001")
            {'broad': 'broad12', 'k': 5}
        """
        if not isinstance(name, str) or not name:
            raise InvalidParameterError(f"manifest name must be a non-empty string, got {name!r}")
        with self._read_txn() as c:
            row = c.execute("SELECT value FROM meta WHERE key = ?",
                            (f"manifest:{name}",)).fetchone()
        if row is None:
            return None
        value = json.loads(row[0])
        return value if isinstance(value, dict) else None

    def record_manifest(self, name: str, manifest: Mapping[str, Any]) -> None:
        """Records (replaces) the manifest of the study workflow ``name``; see :meth:`manifest`."""
        if not isinstance(name, str) or not name:
            raise InvalidParameterError(f"manifest name must be a non-empty string, got {name!r}")
        text = json.dumps(dict(manifest), sort_keys=True, allow_nan=False)
        with self._write_txn() as c:
            c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                      (f"manifest:{name}", text))

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
for _name in ("__init__", "claim", "heartbeat", "finish", "fail", "put", "put_many", "trials",
              "require_trials", "retire", "count", "studies", "workloads", "summary", "events",
              "check", "recorded_points", "manifest", "record_manifest", "metric_summaries",
              "metric_columns", "headers", "version_counts"):
    setattr(SQLiteStore, _name, _guarded(getattr(SQLiteStore, _name)))
del _name
