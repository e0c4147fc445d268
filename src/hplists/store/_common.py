"""What the SQL backends share: argument checks, curve rows, the records a put writes.

Both backends keep a curve in the same two tables (``evals``: step, seconds,
train_loss; ``eval_metrics``: metric, step, value; NaN as NULL) and check
their arguments with the same messages; this module is that common part.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hplists._check import check_int
from hplists.curves import Curve, Status
from hplists.exceptions import DataError, InvalidParameterError
from hplists.store.base import (
    MAX_INTEGER,
    TERMINAL,
    TrialRecord,
    canonical_point,
    check_status,
    machine_provenance,
    point_id,
    utc_now,
)
from hplists.store.liveness import Owner


def trial_args(study: Any, workload: Any, seed: Any, workload_version: Any,
               point_index: Any) -> tuple[str, str, int, str, int | None]:
    """The checked (study, workload, seed, workload_version, point_index) of a trial."""
    for name, v in (("study", study), ("workload", workload)):
        if not isinstance(v, str) or not v:
            raise InvalidParameterError(f"{name} must be a non-empty string, got {v!r}")
    seed = check_int("seed", seed, high=MAX_INTEGER)
    if isinstance(workload_version, int) and not isinstance(workload_version, bool):
        workload_version = str(workload_version)
    if not isinstance(workload_version, str) or not workload_version:
        raise InvalidParameterError(f"workload_version must be a non-empty string, got {workload_version!r}")
    if point_index is not None:
        point_index = check_int("point_index", point_index, low=0, high=MAX_INTEGER)
    return study, workload, seed, workload_version, point_index


def check_version(row: Any, workload_version: str) -> None:
    """A recorded trial (``row[column]``) of another workload version is a DataError."""
    if row["workload_version"] != workload_version:
        raise DataError(
            f"trial (study={row['study']!r}, point_id={row['point_id']!r}, "
            f"workload={row['workload']!r}, seed={row['seed']}) was recorded with "
            f"workload_version {row['workload_version']!r}, not {workload_version!r}; "
            f"results of different workload versions belong in different studies"
        )


def terminal_curve(curve: Any, what: str) -> Curve:
    """``curve`` if it is a Curve with a terminal status; an InvalidParameterError otherwise."""
    if not isinstance(curve, Curve):
        raise InvalidParameterError(f"{what} must be a hplists.Curve, got {type(curve).__name__}")
    if curve.status not in TERMINAL:
        raise InvalidParameterError(
            f"{what}.status must be one of 'complete', 'diverged', 'error' to be recorded; "
            f"got {curve.status.value!r}"
        )
    return curve


def point_text(point: Mapping[str, float]) -> str:
    """The canonical JSON of a point, as the ``points`` table holds it."""
    return json.dumps(point, sort_keys=True, separators=(",", ":"), allow_nan=False)


def null_nan(x: float) -> float | None:
    """``x`` as a float, NaN as None (SQL NULL)."""
    x = float(x)
    return None if math.isnan(x) else x


def eval_rows(trial_id: int, curve: Curve) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The ``evals`` rows (trial_id, step, seconds, train_loss) and ``eval_metrics`` rows
    (trial_id, metric, step, value) of a curve."""
    steps = [int(s) for s in curve.steps]
    evals = [(trial_id, s, null_nan(a), null_nan(b))
             for s, a, b in zip(steps, curve.seconds, curve.train_loss, strict=True)]
    metrics = [(trial_id, name, s, null_nan(v)) for name, values in curve.metrics.items()
               for s, v in zip(steps, values, strict=True)]
    return evals, metrics


def runs(keys: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of the runs of equal consecutive keys (or of a boolean change mask)."""
    if keys.dtype == bool:
        n = keys.shape[0] + 1
        cuts = np.flatnonzero(keys) + 1
    else:
        n = keys.shape[0]
        cuts = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    edges = [0, *cuts.tolist(), n]
    return list(itertools.pairwise(edges))


def curves_from_rows(ev: Sequence[Sequence[Any]], mt: Sequence[Sequence[Any]],
                     status: Mapping[int, tuple[Status, str]] | None = None) -> dict[int, Curve]:
    """Curves from ``evals`` rows (trial_id, step, seconds, train_loss) ordered by trial and
    step, and ``eval_metrics`` rows (trial_id, metric, step, value) ordered by trial, metric and
    step; each with ``status[trial_id]`` (default complete)."""
    # Columns via zip(*rows) and numpy: ~10x faster than appending per row.
    evals: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    if ev:
        tid, step, sec, loss = zip(*ev, strict=True)
        tid_a = np.asarray(tid, dtype=np.int64)
        step_a = np.asarray(step, dtype=np.int64)
        sec_a = np.asarray(sec, dtype=np.float64)  # None (NULL) -> NaN
        loss_a = np.asarray(loss, dtype=np.float64)
        for a, b in runs(tid_a):
            evals[int(tid_a[a])] = (step_a[a:b], sec_a[a:b], loss_a[a:b])
    metrics: dict[int, dict[str, np.ndarray]] = {}
    if mt:
        tid, name, step, value = zip(*mt, strict=True)
        tid_a = np.asarray(tid, dtype=np.int64)
        name_a = np.asarray(name)
        step_a = np.asarray(step, dtype=np.int64)
        val_a = np.asarray(value, dtype=np.float64)
        change = (tid_a[1:] != tid_a[:-1]) | (name_a[1:] != name_a[:-1])
        for a, b in runs(change):
            t = int(tid_a[a])
            steps = evals.get(t, (np.zeros(0, np.int64),))[0]
            if np.array_equal(step_a[a:b], steps):
                values = val_a[a:b]
            else:  # not written by this store: align on the evaluated steps
                values = np.full(len(steps), np.nan)
                pos = np.searchsorted(steps, step_a[a:b])
                ok = (pos < len(steps)) & (steps[np.minimum(pos, len(steps) - 1)]
                                           == step_a[a:b])
                values[pos[ok]] = val_a[a:b][ok]
            metrics.setdefault(t, {})[str(name_a[a])] = values
    empty = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
    status = status or {}
    return {t: Curve(*evals.get(t, empty), metrics.get(t, {}),
                     *status.get(t, (Status.COMPLETE, "")))
            for t in set(evals) | set(metrics)}


@dataclasses.dataclass(frozen=True)
class PreparedPut:
    """One finished trial, checked and ready to write (what ``put`` and ``put_many`` write)."""

    study: str
    workload: str
    seed: int
    workload_version: str
    point_index: int | None
    status: Status
    message: str
    curve: Curve | None
    point: dict[str, float]
    point_id: str
    provenance: str  # JSON text


def prepare_puts(items: Sequence[tuple[TrialRecord, Any]], event: str,
                 who: Owner) -> list[PreparedPut]:
    """The (record, point) pairs checked, their curves given the records' status and message,
    and their provenance: ``put`` keeps the record's, an import (``event="import"``) keeps it
    under ``"source_provenance"``."""
    base_prov = machine_provenance()
    prepared = []
    for rec, point in items:
        study, workload, seed, wv, index = trial_args(
            rec.study, rec.workload, rec.seed, rec.workload_version, rec.point_index)
        status = check_status(rec.status, terminal=True)
        if rec.curve is None and status is not Status.ERROR:
            raise InvalidParameterError(f"a {status.value} trial needs a curve (study={study!r}, "
                             f"workload={workload!r}, seed={seed})")
        curve = rec.curve
        if curve is not None and (curve.status is not status or curve.message != rec.message):
            curve = Curve(curve.steps, curve.seconds, curve.train_loss, curve.metrics,
                          status, rec.message)
        canon = canonical_point(point)
        if event == "put":
            prov = {**base_prov, "workload_version": wv, "run_token": who.run_token,
                    "finished_at": utc_now(), **rec.provenance}
        else:
            prov = {**base_prov, "workload_version": wv, "run_token": who.run_token,
                    "imported_at": utc_now(), "source_provenance": rec.provenance}
        prepared.append(PreparedPut(study, workload, seed, wv, index, status, rec.message, curve,
                                    canon, point_id(canon), json.dumps(prov, allow_nan=False)))
    return prepared
