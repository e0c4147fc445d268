"""Trials reduced to their time to target, as columns: what scoring a large study reads.

:meth:`TrialStore.metric_summaries <hplists.store.base.TrialStore.metric_summaries>` gives one
:class:`~hplists.store.base.MetricSummary` (and one :class:`~hplists.store.TrialRecord`) per
trial; at a million trials those Python objects alone take a gigabyte and most of the time.
:class:`MetricColumns` holds the same reductions as numpy arrays, one row per trial, with the
strings (studies, workloads, points, versions) stored once and referred to by integer codes.
:meth:`TrialStore.metric_columns <hplists.store.base.TrialStore.metric_columns>` returns it
(the SQLite store straight from its query), and
:func:`hplists.scoring.matrix.score_columns` scores it with array operations.

A row turns back into the summary it stands for with :meth:`MetricColumns.summary`, so
that an error about one trial is raised by the same code, with the same words, as when
every trial was an object.

Example:
    >>> from hplists import Curve
    >>> from hplists.store.base import TrialRecord, summarize
    >>> c = Curve([10, 20], [1.0, 2.0], [0.5, 0.4], {"err": [0.3, 0.1]})
    >>> r = TrialRecord("s", "p", 0, {"lr": 1.0}, "w", "1", 0, Status.COMPLETE, "", c, {})
    >>> cols = MetricColumns.from_summaries([summarize(r, "err", "min", 0.2)])
    >>> len(cols), cols.hit_step.tolist(), cols.best.tolist()
    (1, [20], [0.1])
    >>> cols.summary(0) == summarize(r, "err", "min", 0.2)
    True
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from hplists.curves import Status
from hplists.store.base import MetricSummary, TrialRecord, light_record

__all__ = ["STATUSES", "STATUS_CODE", "MetricColumns"]

# A status as an integer code: STATUSES[code], and STATUS_CODE[status] back.
STATUSES: tuple[Status, ...] = tuple(Status)
STATUS_CODE: dict[Status | str, int] = {
    **{s: i for i, s in enumerate(STATUSES)}, **{s.value: i for i, s in enumerate(STATUSES)}}

# The numeric columns, their dtypes, and the value that stands for None.
_INT = np.int64
NUMERIC: tuple[tuple[str, Any], ...] = (
    ("study", np.int32), ("workload", np.int32), ("point", np.int32), ("version", np.int32),
    ("point_index", _INT), ("seed", _INT), ("status", np.int8), ("has_curve", np.bool_),
    ("evals", _INT), ("last_step", _INT), ("metric_evals", _INT), ("first_nonfinite", _INT),
    ("nonfinite_value", np.float64), ("hit_step", _INT), ("hit_seconds", np.float64),
    ("hit_index", _INT), ("best", np.float64),
)


@dataclasses.dataclass(frozen=True, eq=False)
class MetricColumns:
    """Trials reduced as :class:`~hplists.store.base.MetricSummary` does, one array per field.

    The tables ``studies``, ``workloads``, ``point_ids`` (sorted, so that comparing codes
    compares ids), ``point_json`` (each point's JSON, in the order of ``point_ids``; parsed
    only when asked for, :attr:`points`) and ``versions`` hold each string once; the columns ``study``, ``workload``, ``point`` and ``version`` are codes
    into them. ``None`` is ``-1`` in an integer column (``point_index``, ``last_step``,
    ``first_nonfinite``, ``hit_step``; ``hit_index`` is ``-1`` for a miss, as in the summary)
    and NaN in ``best``; ``nonfinite_value`` and ``hit_seconds`` are NaN where the curve
    held NaN, and mean something only where ``first_nonfinite`` / ``hit_step`` are set.
    ``status`` is a code into :data:`STATUSES`; ``message`` an object array of strings.
    Rows are in the order of the summaries they stand for.
    """

    studies: tuple[str, ...]
    workloads: tuple[str, ...]
    point_ids: tuple[str, ...]
    point_json: tuple[str, ...]
    versions: tuple[str, ...]
    study: np.ndarray
    workload: np.ndarray
    point: np.ndarray
    version: np.ndarray
    point_index: np.ndarray
    seed: np.ndarray
    status: np.ndarray
    has_curve: np.ndarray
    evals: np.ndarray
    last_step: np.ndarray
    metric_evals: np.ndarray
    first_nonfinite: np.ndarray
    nonfinite_value: np.ndarray
    hit_step: np.ndarray
    hit_seconds: np.ndarray
    hit_index: np.ndarray
    best: np.ndarray
    message: np.ndarray

    def __len__(self) -> int:
        return int(self.study.shape[0])

    @functools.cached_property
    def points(self) -> tuple[dict[str, float], ...]:
        """The points, parsed (once), in the order of ``point_ids``."""
        return tuple(json.loads(text) for text in self.point_json)

    # ------------------------------------------------------------------ rows back as objects

    def record(self, i: int) -> TrialRecord:
        """Row ``i`` as a trial record without its curve and provenance."""
        index = int(self.point_index[i])
        code = int(self.point[i])
        return TrialRecord(self.studies[self.study[i]], self.point_ids[code],
                           None if index < 0 else index, self.points[code],
                           self.workloads[self.workload[i]], self.versions[self.version[i]],
                           int(self.seed[i]), STATUSES[self.status[i]], str(self.message[i]),
                           None, {})

    def summary(self, i: int) -> MetricSummary:
        """Row ``i`` as the :class:`~hplists.store.base.MetricSummary` it stands for."""
        def opt(column: np.ndarray) -> int | None:
            v = int(column[i])
            return None if v < 0 else v

        nonfinite, hit = opt(self.first_nonfinite), opt(self.hit_step)
        best = float(self.best[i])
        return MetricSummary(
            self.record(i), bool(self.has_curve[i]), int(self.evals[i]), opt(self.last_step),
            int(self.metric_evals[i]), nonfinite,
            None if nonfinite is None else float(self.nonfinite_value[i]),
            hit, None if hit is None else float(self.hit_seconds[i]),
            -1 if hit is None else int(self.hit_index[i]), None if math.isnan(best) else best)

    def summaries(self) -> list[MetricSummary]:
        """Every row as a :class:`~hplists.store.base.MetricSummary`, in order."""
        return [self.summary(i) for i in range(len(self))]

    def records(self, points: dict[str, dict[str, float]] | None = None) -> list[TrialRecord]:
        """Every row as :meth:`record` gives it, in order (made from lists, not per element).

        ``points``: parsed points by id, shared with other calls (filled here), so that
        the records of several columns share their point dicts and parse each once.
        """
        studies, workloads, versions = self.studies, self.workloads, self.versions
        ids = self.point_ids
        if points is None:
            parsed = self.points
        else:
            parsed = tuple(points[i] if i in points else points.setdefault(i, json.loads(t))
                           for i, t in zip(ids, self.point_json, strict=True))
        return [light_record(studies[s], ids[p], None if i < 0 else i, parsed[p], workloads[w],
                             versions[v], seed, STATUSES[st], m)
                for s, p, i, w, v, seed, st, m in zip(
                    self.study.tolist(), self.point.tolist(), self.point_index.tolist(),
                    self.workload.tolist(), self.version.tolist(), self.seed.tolist(),
                    self.status.tolist(), self.message.tolist(), strict=True)]

    # ------------------------------------------------------------------ building

    @classmethod
    def empty(cls) -> MetricColumns:
        """No rows."""
        return cls.build((), (), {}, (), {n: np.zeros(0, dtype=t) for n, t in NUMERIC},
                         np.zeros(0, dtype=object))

    @classmethod
    def build(cls, studies: Sequence[str], workloads: Sequence[str], points: Mapping[str, str],
              versions: Sequence[str], columns: Mapping[str, np.ndarray],
              message: np.ndarray) -> MetricColumns:
        """Columns from their tables and arrays; ``columns["point"]`` codes index ``points``' keys.

        ``points`` maps each point id to its JSON text. The point table is sorted by id
        here (the codes are renumbered to match).
        """
        ids = list(points)
        order = sorted(range(len(ids)), key=ids.__getitem__)
        cols = {n: np.ascontiguousarray(columns[n], dtype=t) for n, t in NUMERIC}
        if order != list(range(len(ids))):
            rank = np.empty(len(ids), dtype=np.int32)
            rank[order] = np.arange(len(ids), dtype=np.int32)
            cols["point"] = rank[cols["point"]]
        return cls(tuple(studies), tuple(workloads), tuple(ids[j] for j in order),
                   tuple(points[ids[j]] for j in order), tuple(versions), **cols,
                   message=np.asarray(message, dtype=object))

    @classmethod
    def from_summaries(cls, summaries: Iterable[MetricSummary]) -> MetricColumns:
        """The columns of ``summaries`` (what a store without its own query returns).

        A summary's record may be any object with a record's attributes; a missing
        ``point`` reads as ``{}`` and a missing ``workload_version`` as ``"1"``.
        """
        tables: dict[str, dict[Any, int]] = {k: {} for k in ("study", "workload", "version")}
        points: dict[str, str] = {}
        point_code: dict[str, int] = {}
        rows: list[tuple[Any, ...]] = []
        message: list[str] = []

        def code(table: str, value: Any) -> int:
            return tables[table].setdefault(value, len(tables[table]))

        for s in summaries:
            r = s.record
            if r.point_id not in point_code:
                point_code[r.point_id] = len(points)
                points[r.point_id] = json.dumps(dict(getattr(r, "point", {})), sort_keys=True,
                                                separators=(",", ":"))
            rows.append((
                code("study", r.study), code("workload", r.workload), point_code[r.point_id],
                code("version", str(getattr(r, "workload_version", "1"))),
                -1 if r.point_index is None else r.point_index, r.seed,
                STATUS_CODE[Status(r.status)], s.has_curve, s.evals,
                -1 if s.last_step is None else s.last_step, s.metric_evals,
                -1 if s.first_nonfinite is None else s.first_nonfinite,
                math.nan if s.nonfinite_value is None else s.nonfinite_value,
                -1 if s.hit_step is None else s.hit_step,
                math.nan if s.hit_seconds is None else s.hit_seconds,
                s.hit_index if s.hit_step is not None else -1,
                math.nan if s.best is None else s.best))
            message.append(r.message)
        arrays = _columns(rows)
        return cls.build(list(tables["study"]), list(tables["workload"]), points,
                         list(tables["version"]), arrays, np.array(message, dtype=object))

    # ------------------------------------------------------------------ selecting and joining

    def take(self, rows: np.ndarray | Sequence[int]) -> MetricColumns:
        """The rows ``rows`` (indices, in that order; or a boolean mask), same tables."""
        idx = np.asarray(rows)
        out = dataclasses.replace(self, **{n: getattr(self, n)[idx] for n, _ in NUMERIC},
                                  message=self.message[idx])
        if "points" in self.__dict__:  # parsed already: the same tables, not parsed again
            out.__dict__["points"] = self.__dict__["points"]
        return out

    @classmethod
    def concat(cls, parts: Sequence[MetricColumns]) -> MetricColumns:
        """The rows of every part, in order, with their tables merged."""
        parts = [p for p in parts if len(p)] or list(parts[:1])
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        merged: dict[str, dict[str, int]] = {}
        recoded: dict[str, list[np.ndarray]] = {}
        for table, column in (("studies", "study"), ("workloads", "workload"),
                              ("versions", "version")):
            index: dict[str, int] = {}
            recoded[column] = []
            for p in parts:
                lookup = np.array([index.setdefault(v, len(index)) for v in getattr(p, table)]
                                  or [0], dtype=np.int32)
                recoded[column].append(lookup[getattr(p, column)])
            merged[table] = index
        points: dict[str, str] = {}
        for p in parts:
            for pid, text in zip(p.point_ids, p.point_json, strict=True):
                points.setdefault(pid, text)
        ids = sorted(points)
        recoded["point"] = [np.searchsorted(np.array(ids, dtype=object), np.array(
            p.point_ids, dtype=object)).astype(np.int32)[p.point] if len(p) else
            np.zeros(0, dtype=np.int32) for p in parts]
        columns = {n: np.concatenate(recoded[n]) if n in recoded else
                   np.concatenate([getattr(p, n) for p in parts]) for n, _ in NUMERIC}
        return cls(tuple(merged["studies"]), tuple(merged["workloads"]), tuple(ids),
                   tuple(points[i] for i in ids), tuple(merged["versions"]), **columns,
                   message=np.concatenate([p.message for p in parts]))

    # ------------------------------------------------------------------ lookups

    def rows_of(self, *, study: str | None = None,
                workloads: Iterable[str] | None = None) -> np.ndarray:
        """Indices (ascending) of the rows of ``study`` on ``workloads`` (``None``: any)."""
        keep = np.ones(len(self), dtype=bool)
        if study is not None:
            keep &= self.study == (self.studies.index(study) if study in self.studies else -1)
        if workloads is not None:
            keep &= np.isin(self.workload, self.codes("workloads", workloads))
        return np.flatnonzero(keep)

    def codes(self, table: str, names: Iterable[str]) -> np.ndarray:
        """The codes of ``names`` in ``table`` (``"studies"``, ``"workloads"``, ...), known ones."""
        values: tuple[str, ...] = getattr(self, table)
        where = {v: i for i, v in enumerate(values)}
        return np.array([where[n] for n in names if n in where], dtype=np.int64)


def _columns(rows: Sequence[tuple[Any, ...]]) -> dict[str, np.ndarray]:
    """Rows of the :data:`NUMERIC` fields (numbers, ``-1``/NaN for None) as named arrays."""
    if not rows:
        return {n: np.zeros(0, dtype=t) for n, t in NUMERIC}
    table = np.array(rows, dtype=[(n, t) for n, t in NUMERIC])
    return {n: table[n] for n, _ in NUMERIC}
