"""The trial-store contract: what a trial is, how a point is identified, what a store does.

A *trial* is one (study, point, workload, seed). The store records, for each
trial, the point, its status (:class:`~hplists.Status`), the evaluation curve
(:class:`~hplists.Curve`) and provenance (package and workload versions,
machine, timestamps). Backends implement :class:`TrialStore`; the default is
:class:`hplists.store.sqlite.SQLiteStore`, and :class:`hplists.store.postgres.PostgresStore`
keeps the same tables in a PostgreSQL database (:mod:`hplists.store.registry`
says which URL opens which).

Points are identified by :func:`point_id`, the first 16 hex digits of the
SHA-256 of the point's canonical JSON (keys sorted, floats in Python's
shortest round-trip form, ``-0.0`` as ``0.0``). An :class:`~hplists.HParams` is
stored with all its fields (``to_dict``), so the same HParams always has the
same id whichever code path recorded it.
"""

from __future__ import annotations

import abc
import dataclasses
import datetime
import hashlib
import json
import math
import os
import platform
import socket
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Self

from hplists._check import check_int, check_real
from hplists._version import __version__
from hplists.cpu import cpu_signature
from hplists.curves import Curve, Status
from hplists.exceptions import DataError, InvalidParameterError
from hplists.hparams import HParams

if TYPE_CHECKING:
    from hplists.store.columns import MetricColumns
from hplists.json_numbers import decode_float, encode_float

__all__ = [
    "CorruptStoreError",
    "EmptyStoreError",
    "TrialKey",
    "TrialRecord",
    "TrialStore",
    "canonical_point",
    "curve_from_json",
    "curve_to_json",
    "machine_provenance",
    "point_id",
]

TERMINAL = (Status.COMPLETE, Status.DIVERGED, Status.ERROR)


class EmptyStoreError(DataError):
    """A caller needs trials and the store (or the selection) has none.

    A :class:`~hplists.exceptions.DataError`, hence an
    :class:`~hplists.exceptions.HplistsError` and a ``ValueError``.
    """


class CorruptStoreError(DataError):
    """A trial store file is damaged, empty where a store was expected, or lacks a table.

    Nothing is written to such a store: restore it from a copy (``PRAGMA
    integrity_check`` in the ``sqlite3`` shell says what is wrong).
    """


# The largest integer a store keeps (SQLite's INTEGER is a signed 64-bit integer).
MAX_INTEGER = 2**63 - 1


class StoreDiskError(DataError):
    """The disk refused an operation on a trial store: full, an I/O error, or read-only.

    The operation was not done. The message says whether the file was checked
    and found intact (``PRAGMA quick_check``), so that nobody restores an
    intact store from an older copy and loses its recent trials.
    """


def canonical_point(point: HParams | Mapping[str, Any]) -> dict[str, float]:
    """The point as a key-sorted dict of finite floats (what the store records).

    Example:
        >>> canonical_point({"lr": 1, "beta": -0.0})
        {'beta': 0.0, 'lr': 1.0}
    """
    if isinstance(point, HParams):
        d: Mapping[str, Any] = point.to_dict()
    elif isinstance(point, Mapping):
        d = point
    else:
        raise InvalidParameterError(
            f"point must be an HParams or a mapping of names to floats, got {type(point).__name__}"
        )
    if not d:
        raise InvalidParameterError("point must have at least one hyperparameter")
    out = {}
    for k in sorted(d, key=str):
        if not isinstance(k, str) or not k:
            raise InvalidParameterError(f"point keys must be non-empty strings, got {k!r}")
        out[k] = check_real(f"point[{k!r}]", d[k]) + 0.0  # + 0.0 folds -0.0 into 0.0
    return out


def _canonical_json(point: Mapping[str, float]) -> str:
    return json.dumps(point, sort_keys=True, separators=(",", ":"), allow_nan=False)


def point_id(point: HParams | Mapping[str, Any]) -> str:
    """Stable 16-hex-digit id of a point: ``sha256(canonical JSON)[:16]``.

    Example:
        >>> a = point_id(HParams(1e-3, 0.9, 0.999))
        >>> a == point_id(HParams(1e-3, 0.9, 0.999).to_dict()), len(a)
        (True, 16)
    """
    text = _canonical_json(canonical_point(point))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def curve_to_json(curve: Curve) -> dict[str, Any]:
    """A curve as strict JSON (NaN as null, infinities as strings), columnar.

    Example:
        >>> c = Curve([1, 2], [0.1, 0.2], [float("nan"), 1.0], {"err": [float("inf"), 0.5]})
        >>> curve_to_json(c)["train_loss"], curve_to_json(c)["metrics"]
        ([None, 1.0], {'err': ['Infinity', 0.5]})
        >>> curve_from_json(curve_to_json(c)).metric("err").tolist()
        [inf, 0.5]
    """
    return {
        "steps": [int(s) for s in curve.steps],
        "seconds": [encode_float(float(x)) for x in curve.seconds],
        "train_loss": [encode_float(float(x)) for x in curve.train_loss],
        "metrics": {k: [encode_float(float(x)) for x in v] for k, v in curve.metrics.items()},
        "status": curve.status.value,
        "message": curve.message,
    }


def _json_list(d: Mapping[str, Any], key: str, where: str) -> list[Any]:
    if key not in d:
        raise InvalidParameterError(f"{where} is missing field {key!r}")
    v = d[key]
    if not isinstance(v, list):
        raise InvalidParameterError(f"{where}.{key} must be a list, got {type(v).__name__}")
    return v


def _decs(values: list[Any], where: str) -> list[float]:
    out = []
    for i, x in enumerate(values):
        if isinstance(x, bool) or not isinstance(x, (int, float, str, type(None))):
            raise InvalidParameterError(f"{where}[{i}] must be a number, got {x!r}")
        try:
            out.append(decode_float(x))
        except OverflowError:
            raise InvalidParameterError(f"{where}[{i}] is too large for a float") from None
        except InvalidParameterError as e:
            raise InvalidParameterError(f"{where}[{i}]: {e}") from None
    return out


def curve_from_json(d: Mapping[str, Any], where: str = "curve") -> Curve:
    """Inverse of :func:`curve_to_json`; a malformed field is an InvalidParameterError naming it.

    Example:
        >>> curve_from_json({"steps": [1], "seconds": [0], "train_loss": [1], "metrics": 0})
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: curve.metrics must be an object of metric names to lists, got int
    """
    if not isinstance(d, Mapping):
        raise InvalidParameterError(f"{where} must be an object, got {type(d).__name__}")
    steps = [check_int(f"{where}.steps[{i}]", s, low=0)
             for i, s in enumerate(_json_list(d, "steps", where))]
    metrics = d.get("metrics", {})
    if not isinstance(metrics, Mapping):
        raise InvalidParameterError(f"{where}.metrics must be an object of metric names to "
                                    f"lists, got {type(metrics).__name__}")
    for k, v in metrics.items():
        if not isinstance(v, list):
            raise InvalidParameterError(f"{where}.metrics[{k!r}] must be a list, got "
                                        f"{type(v).__name__}")
    message = d.get("message", "")
    if not isinstance(message, str):
        raise InvalidParameterError(f"{where}.message must be a string, got {message!r}")
    try:
        return Curve(
            steps=steps,
            seconds=_decs(_json_list(d, "seconds", where), f"{where}.seconds"),
            train_loss=_decs(_json_list(d, "train_loss", where), f"{where}.train_loss"),
            metrics={str(k): _decs(v, f"{where}.metrics[{k!r}]") for k, v in metrics.items()},
            status=check_status(d.get("status", "complete")),
            message=message,
        )
    except InvalidParameterError as e:
        raise InvalidParameterError(f"{where}: {e}") from None


def check_status(value: Any, *, terminal: bool = False) -> Status:
    """A :class:`Status` from a Status or its string, with a clear error otherwise."""
    allowed = TERMINAL if terminal else tuple(Status)
    try:
        status = Status(value)
    except ValueError:
        status = None
    if status is None or status not in allowed:
        names = ", ".join(repr(s.value) for s in allowed)
        raise InvalidParameterError(f"status must be one of {names}; got {value!r}")
    return status


def utc_now() -> str:
    """Current UTC time, ISO 8601 with seconds."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def machine_provenance() -> dict[str, Any]:
    """Where and with what a trial ran: package, python, numpy, jax/torch if loaded, machine, CPU.

    ``cpu`` is :func:`hplists.cpu.cpu_signature` (model name and instruction-set
    features), since a curve's last bits depend on the CPU that trained it.

    jax and torch are reported only if the process already imported them, so
    recording a trial never imports a framework.

    Example:
        >>> p = machine_provenance()
        >>> sorted(k for k in ("hplists", "python", "hostname") if k in p)
        ['hostname', 'hplists', 'python']
    """
    import numpy as np

    prov: dict[str, Any] = {
        "hplists": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "cpu": cpu_signature(),
    }
    for mod in ("jax", "jaxlib", "torch", "optax", "flax"):
        m = sys.modules.get(mod)
        if m is not None and getattr(m, "__version__", None):
            prov[mod] = str(m.__version__)
    return prov


@dataclasses.dataclass(frozen=True)
class TrialKey:
    """Handle of a claimed trial, returned by :meth:`TrialStore.claim`.

    ``run_token`` identifies the claiming process; :meth:`TrialStore.finish`
    and :meth:`TrialStore.fail` use it to record who finished the trial.
    """

    study: str
    point_id: str
    workload: str
    seed: int
    run_token: str
    trial_id: int | None = None


@dataclasses.dataclass(frozen=True)
class TrialRecord:
    """One recorded trial.

    Attributes:
        study: the study's name.
        point_id: :func:`point_id` of ``point``.
        point_index: position of the point in the study's sample (``None`` if not given).
        point: hyperparameter name -> value.
        workload: the workload's name.
        workload_version: version of the workload's definition.
        seed: training seed.
        status: running, complete, diverged or error.
        message: why the trial diverged or failed.
        curve: the evaluation curve (``None`` while running, or for an error
            recorded without one).
        provenance: versions, machine, run token and timestamps.
    """

    study: str
    point_id: str
    point_index: int | None
    point: dict[str, float]
    workload: str
    workload_version: str
    seed: int
    status: Status
    message: str
    curve: Curve | None
    provenance: dict[str, Any]

    @property
    def hparams(self) -> HParams:
        """The point as an :class:`~hplists.HParams` (an error for non-NAdamW points)."""
        return HParams.from_dict(self.point)

    def provenance_time(self, key: str) -> float | None:
        """The unix time of the provenance's ISO 8601 timestamp ``key`` (``claimed_at``,
        ``finished_at``); ``None`` where it is missing or unreadable (a running trial
        has no ``finished_at``, an imported one no ``claimed_at``).

        Example:
            >>> from hplists.curves import Status
            >>> r = TrialRecord("s", "p", 0, {}, "w", "1", 0, Status.COMPLETE, "", None,
            ...                 {"claimed_at": "2026-01-01T00:00:00+00:00",
            ...                  "finished_at": "2026-01-01T00:01:30+00:00"})
            >>> r.provenance_time("finished_at") - r.provenance_time("claimed_at")
            90.0
            >>> r.provenance_time("heartbeat") is None
            True
        """
        try:
            return datetime.datetime.fromisoformat(str(self.provenance[key])).timestamp()
        except (KeyError, ValueError):
            return None

    def to_json(self) -> dict[str, Any]:
        """Strict-JSON representation (see :func:`curve_to_json`)."""
        return {
            "study": self.study,
            "point_id": self.point_id,
            "point_index": self.point_index,
            "point": dict(self.point),
            "workload": self.workload,
            "workload_version": self.workload_version,
            "seed": self.seed,
            "status": self.status.value,
            "message": self.message,
            "curve": None if self.curve is None else curve_to_json(self.curve),
            "provenance": self.provenance,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> TrialRecord:
        """Inverse of :meth:`to_json`; the point id is recomputed and checked.

        A missing or malformed field is an
        :class:`~hplists.exceptions.InvalidParameterError` that names it.
        """
        if not isinstance(d, Mapping):
            raise InvalidParameterError(f"a trial must be an object, got {type(d).__name__}")
        for key in ("point", "study", "workload"):
            if key not in d:
                raise InvalidParameterError(f"trial record is missing field {key!r}")
        point = canonical_point(d["point"])
        pid = point_id(point)
        if d.get("point_id") not in (None, pid):
            raise InvalidParameterError(
                f"trial record: point_id {d['point_id']!r} does not match its point ({pid!r})"
            )
        for key in ("study", "workload", "workload_version", "message"):
            v = d.get(key)
            if isinstance(v, bool) or (key in d and not isinstance(v, (str, int))):
                raise InvalidParameterError(f"trial record: {key} must be a string, "
                                            f"got {d[key]!r}")
        provenance = d.get("provenance", {})
        if not isinstance(provenance, Mapping):
            raise InvalidParameterError(f"trial record: provenance must be an object, got "
                                        f"{type(provenance).__name__}")
        curve = d.get("curve")
        index = d.get("point_index")
        return cls(
            study=str(d["study"]),
            point_id=pid,
            point_index=None if index is None else check_int("point_index", index, low=0,
                                                              high=MAX_INTEGER),
            point=point,
            workload=str(d["workload"]),
            workload_version=str(d.get("workload_version", "1")),
            seed=check_int("seed", d.get("seed", 0), low=-MAX_INTEGER - 1, high=MAX_INTEGER),
            status=check_status(d.get("status", "complete")),
            message=str(d.get("message", "")),
            curve=None if curve is None else curve_from_json(curve),
            provenance=dict(provenance),
        )


_new = object.__new__
_set = object.__setattr__


def light_record(study: str, point_id: str, point_index: int | None, point: dict[str, float],
                 workload: str, workload_version: str, seed: int, status: Status,
                 message: str) -> TrialRecord:
    """``TrialRecord(..., curve=None, provenance={})`` from values a store has already checked.

    The same object, made without the frozen dataclass's ``__init__`` and its
    argument handling, which counts when a store hands over a million trials'
    headers. Each field is set as ``__init__`` sets it, in its order, so the
    record takes the memory a record does (a dict assigned to ``__dict__``
    would take twice as much).

    Example:
        >>> r = light_record("s", "p", 0, {"lr": 1.0}, "w", "1", 0, Status.COMPLETE, "")
        >>> r == TrialRecord("s", "p", 0, {"lr": 1.0}, "w", "1", 0, Status.COMPLETE, "", None, {})
        True
    """
    r = _new(TrialRecord)
    _set(r, "study", study)
    _set(r, "point_id", point_id)
    _set(r, "point_index", point_index)
    _set(r, "point", point)
    _set(r, "workload", workload)
    _set(r, "workload_version", workload_version)
    _set(r, "seed", seed)
    _set(r, "status", status)
    _set(r, "message", message)
    _set(r, "curve", None)
    _set(r, "provenance", {})
    return r


@dataclasses.dataclass(frozen=True)
class MetricSummary:
    """One trial reduced to what time-to-target needs for one metric and target, no curve.

    What :meth:`TrialStore.metric_summaries` returns, and what
    :func:`hplists.scoring.matrix.score_summary` scores exactly as
    :func:`~hplists.scoring.matrix.score_trial` scores the whole record.

    Attributes:
        record: the trial without its curve and provenance (``None`` and ``{}``).
        has_curve: whether a curve was recorded.
        evals: number of evaluations; ``last_step`` the step of the last one.
        metric_evals: evaluations that hold the metric.
        first_nonfinite: step of the first NaN or infinite value of the metric, or ``None``;
            ``nonfinite_value`` that value.
        hit_step: step of the first finite value that reaches the target, or ``None``;
            ``hit_seconds`` its wall-clock seconds, ``hit_index`` its position in the curve.
        best: the best finite value, or ``None`` if there is none.
        metrics: the names of the curve's metrics, where the store gives them
            (for error messages).
    """

    record: TrialRecord
    has_curve: bool
    evals: int
    last_step: int | None
    metric_evals: int
    first_nonfinite: int | None
    nonfinite_value: float | None
    hit_step: int | None
    hit_seconds: float | None
    hit_index: int
    best: float | None
    metrics: tuple[str, ...] | None = dataclasses.field(default=None, compare=False)


def summarize(record: TrialRecord, metric: str | None, mode: str, target: float
              ) -> MetricSummary:
    """A trial with its curve reduced to a :class:`MetricSummary`: the one reduction.

    The hit and the best value are :func:`hplists.metric.first_hit_of`'s, the
    definition of :mod:`hplists.scoring.time_to_target` (NaN and infinite
    values never reach a target). Non-finite values are reduced, not judged:
    ``first_nonfinite`` records the first, and scoring refuses it in a run not
    marked diverged. ``metric=None`` reduces the curve to its length only (as a
    curve without the metric).

    Example:
        >>> from hplists import Curve
        >>> c = Curve([10, 20], [1.0, 2.0], [0.5, 0.4], {"err": [0.3, 0.1]})
        >>> r = TrialRecord("s", "p", 0, {"lr": 1.0}, "w", "1", 0, Status.COMPLETE, "", c, {})
        >>> s = summarize(r, "err", "min", 0.2)
        >>> s.hit_step, s.hit_seconds, s.hit_index, s.best
        (20, 2.0, 1, 0.1)
    """
    import numpy as np

    from hplists import metric as direction

    c = record.curve
    has = c is not None and metric is not None and metric in c.metrics
    values = np.asarray(c.metrics[metric], dtype=np.float64) if has and c and metric is not None \
        else np.zeros(0)
    hit = direction.first_hit_of(  # a Curve's steps were checked when it was made
        c if isinstance(c, Curve) else c.steps, values, target, mode, seconds=c.seconds,
        diverged=True) if c is not None and values.size else None
    bad = np.flatnonzero(~np.isfinite(values))
    light = (dataclasses.replace(record, curve=None, provenance={})
             if dataclasses.is_dataclass(record) else record)  # duck-typed records pass as is
    return MetricSummary(
        light, c is not None,
        len(c) if c is not None else 0,
        int(c.steps[-1]) if c is not None and len(c) else None,
        len(values) if has else 0,
        int(c.steps[bad[0]]) if c is not None and bad.size else None,
        float(values[bad[0]]) if c is not None and bad.size else None,
        hit.step if hit is not None else None,
        hit.seconds if hit is not None and hit.reached else None,
        hit.index if hit is not None else -1,
        hit.best if hit is not None and math.isfinite(hit.best) else None,
        tuple(sorted(c.metrics)) if c is not None else None)


class TrialStore(abc.ABC):
    """What every trial store does: abstract primitives, and helpers built on them once.

    The shape of Optuna's ``BaseStorage``. A backend implements the abstract
    methods (claiming, recording, reading, retiring, the audit log, an
    integrity check, a summary, closing); :meth:`require_trials`,
    :meth:`count`, :meth:`studies` and :meth:`workloads` are derived from
    :meth:`trials` here, and a backend may override them with faster
    equivalents. The default backend is :class:`hplists.store.sqlite.SQLiteStore`,
    whose docstrings give the full semantics (stale-trial reclaiming, stated in
    :mod:`hplists.store.liveness`; idempotent writes; the events recorded).
    :func:`hplists.store.open_store` opens a backend by URL through the class
    methods :meth:`open_url` and :meth:`url_exists`.

    A store is a context manager that :meth:`close` s itself on exit.
    """

    # ----- primitives ----------------------------------------------------------------------------

    @abc.abstractmethod
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

        A trial must run when it is absent, already owned by this process,
        ``running`` in a process that is gone, or (with ``retry_errors``) ended
        in ``error``. ``provenance`` is merged into the recorded provenance.
        """

    @abc.abstractmethod
    def heartbeat(self, key: TrialKey) -> None:
        """Records that the trial of ``key`` is still being worked on."""

    def release(self, key: TrialKey, reason: str = "interrupted") -> bool:
        """Hands a claimed, unfinished trial back so that any claimer may take it at once.

        The trial loop calls it for its trials in flight when a run is
        interrupted. ``True`` if the trial was handed back. A backend that
        cannot hand trials back keeps this default, ``False``: the trial stays
        ``running`` until the stale rule (:mod:`hplists.store.liveness`) frees
        it, when its process is gone or its heartbeat too old.
        """
        return False

    @abc.abstractmethod
    def finish(self, key: TrialKey, curve: Curve) -> bool:
        """Records the curve of a claimed trial (status ``curve.status``).

        ``False`` (and nothing recorded but an event) if the trial was already
        finished by another process.
        """

    @abc.abstractmethod
    def fail(self, key: TrialKey, message: str, curve: Curve | None = None) -> bool:
        """Records a claimed trial as ``error`` with ``message`` (and a partial curve if given)."""

    @abc.abstractmethod
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
        """Records a finished trial in one step; ``False`` (a no-op) if it is already finished."""

    @abc.abstractmethod
    def put_many(self, records: Iterable[TrialRecord]) -> int:
        """Records finished trials, skipping those finished here; returns the number written."""

    @abc.abstractmethod
    def trials(
        self,
        study: str | None = None,
        workload: str | None = None,
        status: Status | str | Sequence[Status | str] | None = None,
    ) -> list[TrialRecord]:
        """Recorded trials, optionally filtered, in a fixed order; ``[]`` if none match.

        The order is study, workload, point index (unindexed points last), point
        id, seed.
        """

    @abc.abstractmethod
    def retire(self, study: str, workload: str, current_version: str) -> dict[str, int]:
        """Moves ``workload``'s trials of other versions out of ``study``; ``{to_study: moved}``."""

    @abc.abstractmethod
    def events(self, study: str | None = None, workload: str | None = None) -> list[dict[str, Any]]:
        """The audit log: one dict per claim, reclaim, release, retry, finish, fail, put, import,
        discard."""

    @abc.abstractmethod
    def summary(self) -> dict[str, Any]:
        """What the store holds: its format and trial counts per study, workload and status."""

    @abc.abstractmethod
    def check(self) -> None:
        """Raises a :class:`CorruptStoreError` unless the store is sound."""

    @abc.abstractmethod
    def manifest(self, name: str) -> dict[str, Any] | None:
        """The manifest a study workflow recorded under ``name`` (what it ran), or ``None``."""

    @abc.abstractmethod
    def record_manifest(self, name: str, manifest: Mapping[str, Any]) -> None:
        """Records (replaces) the JSON-able ``manifest`` of the study workflow ``name``."""

    @abc.abstractmethod
    def close(self) -> None:
        """Releases the store's resources (it may reopen them on next use)."""

    # ----- opening by URL (hplists.store.registry) -----------------------------------------------

    @classmethod
    def open_url(cls, url: str | os.PathLike[str], *, create: bool = True, timeout: float = 60.0,
                 heartbeat_timeout: float = 3600.0) -> TrialStore:
        """Opens the store that ``url`` names (a URL of this backend's scheme).

        What :func:`hplists.store.open_store` calls; a backend registered with
        :func:`hplists.store.registry.register_backend` implements it.
        """
        raise NotImplementedError(f"{cls.__name__} cannot be opened by URL")

    @classmethod
    def url_exists(cls, url: str | os.PathLike[str]) -> bool:
        """Whether ``url`` names a store that is there (:func:`hplists.store.store_exists`)."""
        raise NotImplementedError(f"{cls.__name__} cannot be looked up by URL")

    # ----- derived helpers -----------------------------------------------------------------------

    def location(self) -> str:
        """Where the store lives, as error messages name it and ``open_store`` takes it back.

        An SQLite store's file path (as given); a server store's URL with its
        password masked (``postgresql://me:***@host:5432/db``), so it can be
        printed and logged. This default is the class name.
        """
        return type(self).__name__

    def require_trials(
        self,
        study: str | None = None,
        workload: str | None = None,
        status: Status | str | Sequence[Status | str] | None = None,
    ) -> list[TrialRecord]:
        """Like :meth:`trials`, but an empty result is an :class:`EmptyStoreError` saying why.

        Example:
            >>> import tempfile, os
            >>> from hplists.store import open_store
            >>> open_store(os.path.join(tempfile.mkdtemp(), "e.db")).require_trials()
            Traceback (most recent call last):
            ...
            hplists.store.base.EmptyStoreError: trial store '...e.db' has no trials
        """
        found = self.trials(study=study, workload=workload, status=status)
        if found:
            return found
        what = ", ".join(f"{k}={v!r}" for k, v in
                         (("study", study), ("workload", workload), ("status", status))
                         if v is not None)
        if not self.studies():
            raise EmptyStoreError(f"trial store {self.location()!r} has no trials")
        raise EmptyStoreError(
            f"trial store {self.location()!r} has no trials with {what}; it holds studies "
            f"{self.studies()} on workloads {self.workloads()}"
        )

    def count(self, study: str | None = None, workload: str | None = None,
              status: Status | str | Sequence[Status | str] | None = None) -> int:
        """Number of trials matching the filters."""
        return len(self.trials(study=study, workload=workload, status=status))

    def headers(self, study: str | None = None) -> list[TrialRecord]:
        """:meth:`trials` without curves and provenance: what selecting trials needs, cheaply.

        In :meth:`trials`' order; a store that can, answers without reading curves.
        """
        return [dataclasses.replace(r, curve=None, provenance={})
                for r in self.trials(study=study)]

    def metric_summaries(self, study: str, workload: str, metric: str, mode: str,
                         target: float) -> list[MetricSummary]:
        """Each trial of ``study`` on ``workload`` reduced to its time to ``target``, no curves.

        Hits follow :mod:`hplists.scoring.time_to_target` (``<=`` for ``"min"``,
        ``>=`` for ``"max"``; NaN and infinite values never reach). This
        default reads the curves one trial at a time; a store that can answer
        in its own query language (SQLite) does so without reading them.
        """
        return [summarize(r, metric, mode, target)
                for r in self.trials(study=study, workload=workload)]

    def metric_columns(self, study: str, workload: str, metric: str | None, mode: str = "min",
                       target: float = 0.0) -> MetricColumns:
        """:meth:`metric_summaries` as columns: numpy arrays, one row per trial, in that order.

        What scoring a large study reads (:class:`~hplists.store.columns.MetricColumns`):
        no Python object per trial. ``metric=None`` asks for the trials only (every row
        then holds no metric: its workload has no target to reduce it against). This
        default converts :meth:`metric_summaries`; the SQLite store answers in its query.
        """
        from hplists.store.columns import MetricColumns

        if metric is None:
            return MetricColumns.from_summaries(
                summarize(r, None, mode, target) for r in self.trials(study=study,
                                                                     workload=workload))
        return MetricColumns.from_summaries(
            self.metric_summaries(study, workload, metric, mode, target))

    def version_counts(self, study: str | None = None) -> dict[tuple[str, str, str], int]:
        """``(study, workload, workload version) -> trials``, sorted; no record is made.

        What choosing the trials of one workload version needs (``hplists score``
        leaves out other versions than a target's). This default counts
        :meth:`headers`; the SQLite store counts in its query.
        """
        counts: dict[tuple[str, str, str], int] = {}
        for r in self.headers(study):
            key = (r.study, r.workload, str(r.workload_version))
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items()))

    def recorded_points(self, study: str) -> dict[int, list[dict[str, float]]]:
        """Point index -> the distinct points ``study`` recorded at that index, first recorded first.

        A study's sample is defined by its space, seed and method, but the
        points it recorded are the source of truth for the indices it holds
        (:func:`hplists.study.samples.resolve_sample`). Trials without an index
        are left out.
        """
        out: dict[int, list[dict[str, float]]] = {}
        for r in self.trials(study=study):
            if r.point_index is not None and r.point not in out.setdefault(r.point_index, []):
                out[r.point_index].append(dict(r.point))
        return out

    def studies(self) -> list[str]:
        """Names of the studies with at least one trial, sorted."""
        return sorted({t.study for t in self.trials()})

    def workloads(self, study: str | None = None) -> list[str]:
        """Names of the workloads with at least one trial (in ``study`` if given), sorted."""
        return sorted({t.workload for t in self.trials(study=study)})

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
