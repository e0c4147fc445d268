"""The trial stores over SQL: every operation of the contract, written once for any SQL backend.

:class:`~hplists.store.sqlite.SQLiteStore` and
:class:`~hplists.store.postgres.PostgresStore` keep the same tables (``meta``,
``points``, ``trials``, ``evals``, ``eval_metrics``, ``events``) and the same
rules: a claim is one transaction that reads the trial's row, decides with
:mod:`hplists.store.liveness`'s rule and writes; a finished trial is never
overwritten (the later result is discarded and logged); a curve is two plain
tables; first hits and best values are answered by the database.
:class:`SQLTrialStore` holds all of that once. A backend supplies what differs:

* its connection and transactions (:meth:`SQLTrialStore._write`, which may
  run its work again on a deadlock, and :meth:`SQLTrialStore._read_txn`,
  one consistent snapshot);
* its clock (:meth:`SQLTrialStore._now`: a server's, so that hosts judge
  heartbeats alike, or this process's for a file);
* how an inserted trial's id is read (:meth:`SQLTrialStore._insert_trial`);
* a few phrases of its dialect (:attr:`SQLTrialStore.FOR_UPDATE`,
  :attr:`SQLTrialStore.FINITE`), and what its :meth:`summary` adds.

The SQL here uses the ``?`` and ``:name`` placeholders of Python's
``sqlite3``; a driver that wants another paramstyle translates them in the
cursor it hands over (:func:`format_paramstyle` for psycopg's ``%s``).
"""

from __future__ import annotations

import abc
import contextlib
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from hplists._check import check_choice, check_real
from hplists.curves import Curve, Status
from hplists.exceptions import DataError, InvalidParameterError
from hplists.hparams import HParams
from hplists.metric import first_hit_sql
from hplists.store._common import (
    check_version,
    curves_from_rows,
    eval_rows,
    point_text,
    prepare_puts,
    terminal_curve,
    trial_args,
)
from hplists.store.base import (
    TERMINAL,
    MetricSummary,
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
from hplists.store.liveness import RELEASED_PID, Owner, owner, stale_reason

__all__ = ["SQLTrialStore", "format_paramstyle"]

T = TypeVar("T")

# metric_columns: rows converted to arrays this many at a time, and the row's fields.
_BLOCK_ROWS = 65_536
_SUMMARY_ROW = np.dtype([
    ("point_id", object), ("point_index", np.int64), ("seed", np.int64), ("version", object),
    ("status", np.int8), ("message", object), ("has_curve", np.bool_), ("evals", np.int64),
    ("last_step", np.int64), ("metric_evals", np.int64), ("first_nonfinite", np.int64),
    ("nonfinite_value", np.float64), ("hit_step", np.int64), ("hit_seconds", np.float64),
    ("hit_index", np.int64), ("best", np.float64)])

# A named placeholder, not the second colon of a cast (``'Infinity'::float8``).
_NAMED = re.compile(r"(?<!:):([A-Za-z_]\w*)")


@functools.lru_cache(maxsize=256)
def format_paramstyle(sql: str) -> str:
    """``sql`` with ``?`` and ``:name`` placeholders in the ``format`` paramstyle (``%s``, ``%(name)s``).

    A literal ``%`` is doubled, as drivers of that style (psycopg) expect.
    The SQL of :class:`SQLTrialStore` has no ``?`` or ``:name`` inside
    string literals, which this does not parse.

    Example:
        >>> format_paramstyle("SELECT a FROM t WHERE b = ? AND c < :x AND d::float8 LIKE '5%'")
        "SELECT a FROM t WHERE b = %s AND c < %(x)s AND d::float8 LIKE '5%%'"
    """
    return _NAMED.sub(r"%(\1)s", sql.replace("%", "%%").replace("?", "%s"))


def _row_dict(cur: Any) -> dict[str, Any] | None:
    """The cursor's next row as ``{column: value}`` (DB-API ``description``), or ``None``."""
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def _placeholders(n: int) -> str:
    return ", ".join("?" * n)


class SQLTrialStore(TrialStore):
    """A :class:`~hplists.store.base.TrialStore` over the hplists tables in an SQL database.

    Subclasses connect and supply the hooks named in the module docstring;
    every read and write of the contract is implemented here.
    """

    #: Appended to a ``SELECT`` in a write transaction to lock the rows it reads
    #: (``""`` where a write transaction already holds the whole database).
    FOR_UPDATE = ""
    #: The SQL dialect of :func:`hplists.metric.first_hit_sql` (how a finite value is tested).
    DIALECT = "sqlite"

    heartbeat_timeout: float
    _host: str
    # point id -> its JSON, read once (a point's id is the hash of that text, so it never
    # changes): metric_columns reads the points of every workload of a study
    _point_texts: dict[str, str]

    # ----- what a backend supplies -------------------------------------------------------------

    @abc.abstractmethod
    def _write(self, work: Callable[[Any], T]) -> T:
        """``work(cursor)`` in one write transaction (perhaps run again: it must only do SQL)."""

    @abc.abstractmethod
    def _read_txn(self) -> contextlib.AbstractContextManager[Any]:
        """One read transaction, a consistent snapshot of every table; yields a cursor."""

    @abc.abstractmethod
    def _now(self, c: Any) -> float:
        """The store's clock, in unix seconds (heartbeats, events, updates)."""

    @abc.abstractmethod
    def _insert_trial(self, c: Any, values: Mapping[str, Any]) -> int | None:
        """Inserts a trial row; its id, or ``None`` if another process inserted it first."""

    @abc.abstractmethod
    def _summary_extra(self, c: Any) -> dict[str, Any]:
        """What :meth:`summary` says of the backend: ``journal_mode``, and any other keys."""

    # ----- helpers -------------------------------------------------------------------------------

    def _owner(self) -> Owner:
        return owner(self._host)

    def _event(self, c: Any, trial_id: int, event: str, detail: Any = "",
               now: float | None = None) -> None:
        who = self._owner()
        if not isinstance(detail, str):
            detail = json.dumps(detail, allow_nan=False)
        c.execute(
            "INSERT INTO events(trial_id, time, event, run_token, host, pid, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (trial_id, self._now(c) if now is None else now, event, who.run_token, who.host,
             who.pid, detail))

    @staticmethod
    def _insert_point(c: Any, pid: str, point: Mapping[str, float]) -> None:
        c.execute("INSERT INTO points(point_id, point) VALUES (?, ?) "
                  "ON CONFLICT (point_id) DO NOTHING", (pid, point_text(point)))

    def _lookup(self, c: Any, study: str, pid: str, workload: str, seed: int
                ) -> dict[str, Any] | None:
        """The trial's row (locked until the transaction ends), or ``None``."""
        return _row_dict(c.execute(
            "SELECT * FROM trials WHERE study=? AND point_id=? AND workload=? AND seed=?"
            + self.FOR_UPDATE, (study, pid, workload, seed)))

    def _stale_reason(self, row: Mapping[str, Any], now: float) -> str | None:
        return stale_reason(row["host"], int(row["pid"]), row["proc_identity"],
                            float(row["heartbeat"]), my_host=self._host, now=now,
                            heartbeat_timeout=self.heartbeat_timeout)

    @staticmethod
    def _write_curve(c: Any, trial_id: int, curve: Curve | None) -> None:
        c.execute("DELETE FROM evals WHERE trial_id=?", (trial_id,))
        c.execute("DELETE FROM eval_metrics WHERE trial_id=?", (trial_id,))
        if curve is None:
            return
        evals, metrics = eval_rows(trial_id, curve)
        if evals:
            c.executemany("INSERT INTO evals(trial_id, step, seconds, train_loss) "
                          "VALUES (?, ?, ?, ?)", evals)
        if metrics:
            c.executemany("INSERT INTO eval_metrics(trial_id, metric, step, value) "
                          "VALUES (?, ?, ?, ?)", metrics)

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
        this process, or ``running`` but stale (its process died; see
        :mod:`hplists.store.liveness`), and ``None`` when it is complete,
        diverged or error (unless ``retry_errors``) or running in another live
        process. Atomic among concurrent claimers: one transaction reads the
        row (locked), decides and writes.

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
        study, workload, seed, wv, index = trial_args(study, workload, seed, workload_version,
                                                      point_index)
        canon = canonical_point(point)
        pid = point_id(canon)
        who = self._owner()
        prov = {**machine_provenance(), "workload_version": wv, "run_token": who.run_token,
                "claimed_at": utc_now(), **dict(provenance or {})}
        prov_text = json.dumps(prov, allow_nan=False)

        def work(c: Any) -> TrialKey | None:
            now = self._now(c)
            row = self._lookup(c, study, pid, workload, seed)
            if row is None:
                self._insert_point(c, pid, canon)
                trial_id = self._insert_trial(c, {
                    "study": study, "point_id": pid, "point_index": index, "workload": workload,
                    "workload_version": wv, "seed": seed, "status": "running",
                    "run_token": who.run_token, "host": who.host, "pid": who.pid,
                    "proc_identity": who.proc_identity, "heartbeat": now,
                    "provenance": prov_text, "created_at": now, "updated_at": now})
                if trial_id is not None:
                    self._event(c, trial_id, "claim", now=now)
                    return TrialKey(study, pid, workload, seed, who.run_token, trial_id)
                row = self._lookup(c, study, pid, workload, seed)  # another claimer's
                if row is None:  # pragma: no cover - a conflicting row is never deleted
                    raise DataError(f"trial store {self.location()!r}: a trial vanished "
                                    "mid-claim")
            trial_id = int(row["trial_id"])
            check_version(row, wv)
            if row["point_index"] is None and index is not None:
                c.execute("UPDATE trials SET point_index=? WHERE trial_id=?", (index, trial_id))
            status = Status(row["status"])
            detail: dict[str, Any]
            if status is Status.RUNNING:
                if row["run_token"] == who.run_token and int(row["pid"]) != RELEASED_PID:
                    return TrialKey(study, pid, workload, seed, who.run_token, trial_id)
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
                "UPDATE trials SET status='running', message='', has_curve=0, run_token=?, "
                "host=?, pid=?, proc_identity=?, heartbeat=?, attempts=attempts+1, "
                "provenance=?, updated_at=? WHERE trial_id=?",
                (who.run_token, who.host, who.pid, who.proc_identity, now, prov_text, now,
                 trial_id))
            self._event(c, trial_id, event, detail, now=now)
            return TrialKey(study, pid, workload, seed, who.run_token, trial_id)

        return self._write(work)

    def heartbeat(self, key: TrialKey) -> None:
        """Records that the trial of ``key`` is still being worked on (for other hosts' claims).

        Only while ``key`` still owns it: a trial reclaimed by another process
        keeps that owner's heartbeat.
        """

        def work(c: Any) -> None:
            c.execute(
                "UPDATE trials SET heartbeat=? WHERE study=? AND point_id=? AND workload=? AND "
                "seed=? AND status='running' AND run_token=?",
                (self._now(c), key.study, key.point_id, key.workload, key.seed, key.run_token))

        self._write(work)

    def release(self, key: TrialKey, reason: str = "interrupted") -> bool:
        """Hands a claimed trial back: still ``running``, but any claimer may take it at once.

        What an interrupted run does with its trials in flight, so that another
        host need not wait ``heartbeat_timeout`` for them, nor a process of this
        host for the interrupted one to exit. The row keeps its status and
        provenance; its owner's pid becomes :data:`~hplists.store.liveness.RELEASED_PID`,
        and a ``release`` event records ``reason``. Returns ``False`` (and
        writes nothing) where ``key`` no longer owns the trial: it finished, or
        another process took it.

        Example:
            >>> import os, tempfile
            >>> from hplists.store import open_store
            >>> s = open_store(os.path.join(tempfile.mkdtemp(), "s.db"))
            >>> key = s.claim("st", {"lr": 0.1}, "w", 0)
            >>> s.release(key), s.count(status="running")
            (True, 1)
            >>> [e["event"] for e in s.events()]
            ['claim', 'release']
        """
        if not isinstance(key, TrialKey):
            raise InvalidParameterError(f"key must be a TrialKey from claim(), got {type(key).__name__}")

        def work(c: Any) -> bool:
            now = self._now(c)
            row = self._lookup(c, key.study, key.point_id, key.workload, key.seed)
            if (row is None or row["status"] != Status.RUNNING.value
                    or row["run_token"] != key.run_token):
                return False
            c.execute("UPDATE trials SET pid=?, proc_identity=NULL, updated_at=? "
                      "WHERE trial_id=?", (RELEASED_PID, now, int(row["trial_id"])))
            self._event(c, int(row["trial_id"]), "release", {"reason": str(reason)}, now=now)
            return True

        return self._write(work)

    def _record(self, key: TrialKey, status: Status, message: str, curve: Curve | None,
                event: str) -> bool:
        if not isinstance(key, TrialKey):
            raise InvalidParameterError(f"key must be a TrialKey from claim(), got {type(key).__name__}")

        def work(c: Any) -> bool:
            now = self._now(c)
            row = self._lookup(c, key.study, key.point_id, key.workload, key.seed)
            if row is None:
                raise DataError(
                    f"no trial (study={key.study!r}, point_id={key.point_id!r}, "
                    f"workload={key.workload!r}, seed={key.seed}) in {self.location()!r}; "
                    f"claim() it first")
            trial_id = int(row["trial_id"])
            if Status(row["status"]) in TERMINAL:
                # Someone recorded it first: keep theirs, log ours.
                self._event(c, trial_id, "discard", {"status": status.value, "message": message,
                                                     "run_token": key.run_token}, now=now)
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
                 json.dumps(prov, allow_nan=False), now, trial_id))
            self._event(c, trial_id, event, now=now)
            return True

        return self._write(work)

    def finish(self, key: TrialKey, curve: Curve) -> bool:
        """Records the curve of a claimed trial; its status is ``curve.status``.

        Returns ``False`` (and records nothing but an event) if the trial was
        already finished by another process.
        """
        curve = terminal_curve(curve, "curve")
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
            >>> from hplists.store import open_store
            >>> s = open_store(os.path.join(tempfile.mkdtemp(), "s.db"))
            >>> c = Curve([1], [0.1], [2.0], {"loss": [1.5]})
            >>> s.put("st", {"lr": 0.1}, "w", 0, c), s.put("st", {"lr": 0.1}, "w", 0, c)
            (True, False)
        """
        curve = terminal_curve(curve, "curve")
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
        who = self._owner()
        prepared = prepare_puts(items, event, who)
        written = 0
        chunk = 256
        for start in range(0, len(prepared), chunk):
            batch = prepared[start:start + chunk]

            def work(c: Any, batch: Sequence[Any] = batch) -> int:
                n = 0
                for p in batch:
                    now = self._now(c)
                    trial_id: int | None = None
                    row = self._lookup(c, p.study, p.point_id, p.workload, p.seed)
                    if row is None:
                        self._insert_point(c, p.point_id, p.point)
                        trial_id = self._insert_trial(c, {
                            "study": p.study, "point_id": p.point_id,
                            "point_index": p.point_index, "workload": p.workload,
                            "workload_version": p.workload_version, "seed": p.seed,
                            "status": p.status.value, "message": p.message,
                            "has_curve": int(p.curve is not None), "run_token": who.run_token,
                            "host": who.host, "pid": who.pid,
                            "proc_identity": who.proc_identity, "heartbeat": now,
                            "provenance": p.provenance, "created_at": now, "updated_at": now})
                        if trial_id is None:  # another process inserted it first
                            row = self._lookup(c, p.study, p.point_id, p.workload, p.seed)
                    if row is not None:
                        check_version(row, p.workload_version)
                        if Status(row["status"]) in TERMINAL:
                            continue
                        trial_id = int(row["trial_id"])
                        c.execute(
                            "UPDATE trials SET status=?, message=?, has_curve=?, run_token=?, "
                            "host=?, pid=?, proc_identity=?, heartbeat=?, provenance=?, "
                            "point_index=COALESCE(point_index, ?), updated_at=? WHERE trial_id=?",
                            (p.status.value, p.message, int(p.curve is not None),
                             who.run_token, who.host, who.pid, who.proc_identity, now,
                             p.provenance, p.point_index, now, trial_id))
                    assert trial_id is not None
                    self._write_curve(c, trial_id, p.curve)
                    self._event(c, trial_id, event, now=now)
                    n += 1
                return n

            written += self._write(work)
        return written

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
            >>> from hplists.store import open_store
            >>> store = open_store(os.path.join(tempfile.mkdtemp(), "s.db"))
            >>> key = store.claim("s", HParams(1e-3, 0.9, 0.99), "w", 0, workload_version="1")
            >>> store.finish(key, Curve([10], [1.0], [0.5], {"error_rate": [0.3]}))
            True
            >>> store.retire("s", "w", current_version="2")
            {'s/retired/w/v1': 1}
            >>> store.studies(), store.retire("s/retired/w/v1", "w", current_version="1")
            (['s/retired/w/v1'], {})
        """
        study, workload, _, current_version, _ = trial_args(study, workload, 0,
                                                            current_version, None)

        def work(c: Any) -> dict[str, int]:
            moved: dict[str, int] = {}
            rows = c.execute(
                "SELECT trial_id, workload_version, status FROM trials "
                "WHERE study=? AND workload=? AND workload_version<>? ORDER BY trial_id"
                + self.FOR_UPDATE, (study, workload, current_version)).fetchall()
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
                    (trial_id, to)).fetchone()
                if clash:
                    raise DataError(f"study {to!r} already holds trial {trial_id}'s point, "
                                    f"workload and seed; nothing was moved")
                c.execute("UPDATE trials SET study=? WHERE trial_id=?", (to, trial_id))
                self._event(c, trial_id, "retire", {"from": study, "to": to})
                moved[to] = moved.get(to, 0) + 1
            return moved

        return self._write(work)

    def record_manifest(self, name: str, manifest: Mapping[str, Any]) -> None:
        """Records (replaces) the manifest of the study workflow ``name``; see :meth:`manifest`."""
        if not isinstance(name, str) or not name:
            raise InvalidParameterError(f"manifest name must be a non-empty string, got {name!r}")
        text = json.dumps(dict(manifest), sort_keys=True, allow_nan=False)
        self._write(lambda c: c.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT (key) "
            "DO UPDATE SET value = excluded.value", (f"manifest:{name}", text)))

    # ----- reading -------------------------------------------------------------------------------

    @staticmethod
    def _filter(study: str | None, workload: str | None,
                status: Status | str | Sequence[Status | str] | None) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if study is not None:
            clauses.append("t.study = ?")
            params.append(study)
        if workload is not None:
            clauses.append("t.workload = ?")
            params.append(workload)
        if status is not None:
            statuses = [status] if isinstance(status, (str, Status)) else list(status)
            values = [check_status(s).value for s in statuses]
            clauses.append(f"t.status IN ({_placeholders(len(values))})")
            params += values
        return (" AND ".join(clauses) or "1 = 1"), params

    @staticmethod
    def _read_curves(c: Any, trial_ids: Sequence[int] | None, where: str = "1 = 1",
                     params: Sequence[Any] = (),
                     status: Mapping[int, tuple[Status, str]] | None = None) -> dict[int, Curve]:
        """Curves of the selected trials, with ``status[trial_id]`` (default complete)."""
        if trial_ids is not None:
            where = f"t.trial_id IN ({_placeholders(len(trial_ids))})"
            params = list(trial_ids)
        ev = c.execute(
            "SELECT e.trial_id, e.step, e.seconds, e.train_loss FROM evals e "
            f"JOIN trials t ON t.trial_id = e.trial_id WHERE {where} ORDER BY e.trial_id, e.step",
            params).fetchall()
        mt = c.execute(
            "SELECT m.trial_id, m.metric, m.step, m.value FROM eval_metrics m "
            f"JOIN trials t ON t.trial_id = m.trial_id WHERE {where} "
            "ORDER BY m.trial_id, m.metric, m.step", params).fetchall()
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
                "t.point_index, t.point_id, t.seed", params).fetchall()
            finished = {r[0]: (Status(r[8]), r[9]) for r in rows if r[8] != "running"}
            curves = self._read_curves(c, None, where, params, finished) if rows else {}
        out = []
        for (tid, st, pid, index, point, wl, wv, seed, status_, message, has_curve,
             prov) in rows:
            status_ = Status(status_)
            curve = None
            if has_curve and status_ in TERMINAL:
                curve = curves.get(tid) or Curve([], [], [], {}, status_, message)
            out.append(TrialRecord(st, pid, None if index is None else int(index),
                                   json.loads(point), wl, wv, int(seed), status_, message, curve,
                                   json.loads(prov)))
        return out

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
        """Each trial's time to ``target``, answered by the database without reading any curve.

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
        """:meth:`metric_summaries` as columns, from one pass of the database over each trial's rows.

        Per trial, one grouped scan of its metric's values (count, first non-finite
        step, first step that reaches the target, best finite value), the count and
        last step of its evaluations, and index lookups for the seconds and position
        of the hit; no Python object is made per trial but the row the driver hands
        over, converted to arrays a block at a time.
        """
        check_choice("mode", mode, ("min", "max"))
        target = check_real("target", target)
        # The first hit's definition in SQL (NaN is stored as NULL: never finite, never a hit).
        hit = first_hit_sql(mode, self.DIALECT)
        finite = hit.finite
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
                              {hit.first_step} AS hit,
                              {hit.best} AS best
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
        """``(study, workload, workload version) -> trials``, sorted, counted by the database."""
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
                "GROUP BY t.point_index, p.point_id, p.point ORDER BY t.point_index, first",
                (study,)).fetchall()
        out: dict[int, list[dict[str, float]]] = {}
        for index, point, _ in rows:
            out.setdefault(int(index), []).append(json.loads(point))
        return out

    def studies(self) -> list[str]:
        """Names of the studies with at least one trial, sorted."""
        with self._read_txn() as c:
            return [r[0] for r in c.execute("SELECT DISTINCT study FROM trials ORDER BY study")
                    .fetchall()]

    def workloads(self, study: str | None = None) -> list[str]:
        """Names of the workloads with at least one trial (in ``study`` if given), sorted."""
        where, params = self._filter(study, None, None)
        with self._read_txn() as c:
            return [r[0] for r in c.execute(
                f"SELECT DISTINCT workload FROM trials t WHERE {where} ORDER BY workload",
                params).fetchall()]

    def summary(self) -> dict[str, Any]:
        """Format, schema version, and trial counts per study, workload and status.

        Keys: ``path`` (the store's :meth:`location`), ``meta``, ``journal_mode``,
        ``points``, ``evaluations``, ``trials``, ``counts`` (study -> workload ->
        status -> trials), and whatever the backend adds.
        """
        with self._read_txn() as c:
            meta = dict(c.execute("SELECT key, value FROM meta ORDER BY key").fetchall())
            counts = c.execute(
                "SELECT study, workload, status, COUNT(*) FROM trials "
                "GROUP BY study, workload, status ORDER BY study, workload, status").fetchall()
            n_evals = int(c.execute("SELECT COUNT(*) FROM evals").fetchone()[0])
            n_points = int(c.execute("SELECT COUNT(*) FROM points").fetchone()[0])
            extra = self._summary_extra(c)
        table: dict[str, dict[str, dict[str, int]]] = {}
        for st, wl, status, n in counts:
            table.setdefault(st, {}).setdefault(wl, {})[status] = int(n)
        return {"path": self.location(), "meta": meta,
                "journal_mode": extra.pop("journal_mode"), "points": n_points,
                "evaluations": n_evals, "trials": sum(int(r[3]) for r in counts),
                "counts": table, **extra}

    def events(self, study: str | None = None, workload: str | None = None) -> list[dict[str, Any]]:
        """The audit log: one dict per claim, reclaim, release, retry, finish, fail, put, import,
        discard."""
        where, params = self._filter(study, workload, None)
        with self._read_txn() as c:
            rows = c.execute(
                "SELECT e.event_id, e.time, e.event, e.run_token, e.host, e.pid, e.detail, "
                "t.study, t.point_id, t.workload, t.seed FROM events e "
                f"JOIN trials t ON t.trial_id = e.trial_id WHERE {where} ORDER BY e.event_id",
                params).fetchall()
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


#: The public operations that touch the database: each backend wraps these so that its
#: driver's errors reach the caller as one-line hplists errors naming the store.
GUARDED = ("__init__", "claim", "heartbeat", "finish", "fail", "put", "put_many", "trials",
           "require_trials", "retire", "count", "studies", "workloads", "summary", "events",
           "check", "recorded_points", "manifest", "record_manifest", "metric_summaries",
           "metric_columns", "headers", "version_counts")


def guard(cls: type[SQLTrialStore], wrap: Callable[[Any], Any]) -> None:
    """Wraps each of :data:`GUARDED`'s methods of ``cls`` (its own or inherited) in ``wrap``."""
    for name in GUARDED:
        setattr(cls, name, wrap(getattr(cls, name)))
