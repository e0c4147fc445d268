"""From recorded trials to arrays: the ``[P, N]`` matrix of step fractions, and submission times.

The method (cost, lists, leave-one-out) works on a matrix of step fractions
``F[p, i] = t_pi / T_i`` of ``P`` points on ``N`` workloads. This module builds
it from trial records (:class:`hplists.store.TrialRecord`, or anything with
the same attributes) and a :class:`~hplists.scoring.workload_specs.WorkloadSpec` per
workload, and checks that the records make a complete, consistent matrix.

Rules, per trial (one point, workload and seed):

* ``complete`` and ``diverged`` trials are scored from their curve with
  :mod:`hplists.scoring.time_to_target` (a diverged run keeps the evaluations
  made before it diverged; a complete run with a non-finite metric is an error):
  each trial's first hit is :func:`~hplists.scoring.time_to_target.first_hit_of`'s,
  reduced by :func:`hplists.store.base.summarize` or by a store's own query (the
  same definition in SQL,
  :func:`~hplists.scoring.time_to_target.first_hit_sql`), and ``t / T`` is
  :func:`~hplists.scoring.time_to_target.fraction_of` it;
* ``running`` trials are in flight and are left out (counted in ``running``);
* ``error`` trials (the run failed, e.g. out of memory) are an error unless
  ``errors="inf"``, which counts them as misses, as AlgoPerf counts failed runs;
* evaluations beyond the step budget are an error (the budget must be the one
  the run was trained with).

Repeated seeds of one point on one workload are summarised by their median:
``F[p, i] = median_s t_pis / T_i`` (``inf`` when at least half the seeds
missed), as the paper reports medians over repetitions.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal

import numpy as np

from hplists import metric
from hplists._check import check_choice
from hplists.curves import Status
from hplists.exceptions import DataError, InvalidParameterError
from hplists.scoring.time_to_target import fraction_of
from hplists.scoring.workload_specs import WorkloadSpec
from hplists.store.base import MetricSummary, TrialRecord, TrialStore, summarize
from hplists.store.columns import STATUS_CODE, MetricColumns

__all__ = [
    "ColumnScores",
    "Submissions",
    "TrialMatrix",
    "TrialScore",
    "grouped_median",
    "score_columns",
    "score_summary",
    "score_trial",
    "submission_times",
    "submission_times_from_store",
]


@dataclasses.dataclass(frozen=True)
class TrialScore:
    """What one trial contributes: step fraction, seconds to target, best metric value.

    ``index`` is the 0-based position, in the trial's curve, of the first
    evaluation that reached the target (-1 for a miss, as AlgoPerf's
    ``get_best_trial_index`` returns); :func:`submission_times` picks a
    study's best trial by it.
    """

    fraction: float
    seconds: float
    best: float
    index: int = -1


def _check_specs(names: Sequence[str], specs: Mapping[str, WorkloadSpec]) -> None:
    """Every workload in ``names`` has a spec; else the error names it and what specs cover."""
    for w in names:
        if w not in specs:
            raise InvalidParameterError(f"unknown workload {w!r}: no spec given for it (specs "
                                        f"cover {sorted(specs)})")


def _label(r: TrialRecord) -> str:
    return f"trial (study={r.study!r}, point={r.point_id}, workload={r.workload!r}, seed={r.seed})"


def score_trial(
    record: TrialRecord, spec: WorkloadSpec, *, errors: Literal["raise", "inf"] = "raise"
) -> TrialScore | None:
    """Scores one finished trial against its workload's target; ``None`` for a running trial.

    Returns the step fraction ``t / T``, the wall-clock seconds and the
    curve index of the first evaluation that reached the target (``inf``,
    ``inf`` and -1 for a miss), and the best finite value of the metric
    within the budget.

    Example:
        >>> import types
        >>> from hplists import Curve
        >>> curve = Curve.from_rows([{"step": s, "seconds": s / 10, "train_loss": 1.0,
        ...                           "error_rate": e} for s, e in [(50, 0.4), (100, 0.2)]])
        >>> rec = types.SimpleNamespace(study="s", point_id="p", workload="w", seed=0,
        ...                             status=Status.COMPLETE, message="", curve=curve)
        >>> score_trial(rec, WorkloadSpec("w", "error_rate", "min", 0.25, 100))
        TrialScore(fraction=1.0, seconds=10.0, best=0.2, index=1)
    """
    return score_summary(summarize(record, spec.metric, spec.mode, spec.target), spec,
                         errors=errors)


def score_summary(
    summary: MetricSummary, spec: WorkloadSpec, *, errors: Literal["raise", "inf"] = "raise"
) -> TrialScore | None:
    """:func:`score_trial` of a trial reduced by :meth:`TrialStore.metric_summaries`.

    The same score, the same errors, without the curve: a store answers the
    first hit and the best value in its own query.
    """
    record = summary.record
    status = Status(record.status)
    worst = metric.worst(spec.mode)
    if status is Status.RUNNING:
        return None
    if status is Status.ERROR:
        if errors == "inf":
            return TrialScore(np.inf, np.inf, worst, -1)
        reason = f": {record.message}" if record.message else ""
        raise DataError(
            f"{_label(record)} ended with status 'error'{reason}; rerun it, or count failed "
            "trials as misses (errors='inf', --errors inf)"
        )
    empty = not summary.has_curve or summary.evals == 0
    if empty and status is Status.DIVERGED:
        return TrialScore(np.inf, np.inf, worst, -1)
    if empty:
        raise DataError(f"{_label(record)} is {status.value} but has no evaluation curve")
    if summary.metric_evals == 0:
        recorded = "" if summary.metrics is None else \
            f"; recorded metrics are {list(summary.metrics)}"
        raise DataError(f"{_label(record)} has no metric {spec.metric!r} (the target's "
                        f"metric){recorded}")
    if summary.last_step is not None and summary.last_step > spec.step_budget:
        raise DataError(
            f"{_label(record)} is evaluated at step {summary.last_step}, beyond the step "
            f"budget {spec.step_budget} of workload {spec.name!r}; the spec's step_budget must "
            "be the budget the run was trained with"
        )
    if status is not Status.DIVERGED and summary.first_nonfinite is not None:
        raise DataError(
            f"{_label(record)} has {spec.metric}={summary.nonfinite_value} at step "
            f"{summary.first_nonfinite} but is not marked diverged; a complete run must have "
            "finite metrics"
        )
    best = worst if summary.best is None else summary.best
    if summary.hit_step is None:
        return TrialScore(np.inf, np.inf, best, -1)
    return TrialScore(float(fraction_of(summary.hit_step, spec.step_budget)),
                      float(summary.hit_seconds) if summary.hit_seconds is not None else np.nan,
                      best, summary.hit_index)


_RUNNING, _ERROR, _DIVERGED = (STATUS_CODE[s] for s in (Status.RUNNING, Status.ERROR,
                                                          Status.DIVERGED))


@dataclasses.dataclass(frozen=True, eq=False)
class ColumnScores:
    """:func:`score_summary` of every row of a :class:`~hplists.store.columns.MetricColumns`.

    Attributes:
        columns: the trials scored.
        fraction, seconds, best, index: each row's :class:`TrialScore`, as arrays.
        running: rows still running (:func:`score_summary` gives ``None``).
        problem: rows that :func:`score_summary` refuses (a trial in error under
            ``errors="raise"``, a finished trial without curve or metric, beyond the
            budget, or non-finite without having diverged); :meth:`check` raises its error.
        unscored: rows of a workload without a spec (left alone).
        specs, errors: what the rows were scored with.
    """

    columns: MetricColumns
    fraction: np.ndarray
    seconds: np.ndarray
    best: np.ndarray
    index: np.ndarray
    running: np.ndarray
    problem: np.ndarray
    unscored: np.ndarray
    specs: Mapping[str, WorkloadSpec]
    errors: str

    def check(self, rows: np.ndarray | None = None) -> None:
        """Raises the error of the first refused row of ``rows`` (indices, in order; default all).

        The error :func:`score_summary` raises for that trial, word for word.
        """
        rows = np.arange(len(self.columns)) if rows is None else np.asarray(rows, dtype=np.int64)
        bad = rows[self.problem[rows]]
        if bad.size:
            i = int(bad[0])
            summary = self.columns.summary(i)
            score_summary(summary, self.specs[summary.record.workload],
                          errors="raise" if self.errors == "raise" else "inf")
            raise AssertionError(f"row {i} was refused but scores")  # pragma: no cover


def score_columns(columns: MetricColumns, specs: Mapping[str, WorkloadSpec], *,
                  errors: Literal["raise", "inf"] = "raise") -> ColumnScores:
    """Every row of ``columns`` scored as :func:`score_summary` scores its summary, in arrays.

    Rows are scored all at once with array operations; a row that
    :func:`score_summary` would refuse is marked (``problem``) and
    :meth:`ColumnScores.check` raises its error when a caller uses it.

    Example:
        >>> from hplists import Curve
        >>> from hplists.store.base import TrialRecord, summarize
        >>> c = Curve([50, 100], [5.0, 10.0], [1.0, 1.0], {"error_rate": [0.4, 0.2]})
        >>> r = TrialRecord("s", "p", 0, {"lr": 1.0}, "w", "1", 0, Status.COMPLETE, "", c, {})
        >>> spec = WorkloadSpec("w", "error_rate", "min", 0.25, 100)
        >>> cols = MetricColumns.from_summaries([summarize(r, "error_rate", "min", 0.25)])
        >>> s = score_columns(cols, {"w": spec})
        >>> s.fraction.tolist(), s.seconds.tolist(), s.best.tolist(), s.index.tolist()
        ([1.0], [10.0], [0.2], [1])
    """
    check_choice("errors", errors, ("raise", "inf"))
    c = columns
    n_w = len(c.workloads)
    has = np.array([w in specs for w in c.workloads] or [False], dtype=bool)
    budget = np.array([specs[w].step_budget if w in specs else 1 for w in c.workloads] or [1],
                      dtype=np.int64)
    worst = np.array([metric.worst(specs[w].mode) if w in specs else np.nan
                      for w in c.workloads] or [np.nan], dtype=np.float64)
    w = c.workload if n_w else np.zeros(len(c), dtype=np.int32)
    scorable = has[w]
    worst_row, budget_row = worst[w], budget[w]
    running = scorable & (c.status == _RUNNING)
    base = scorable & ~running
    err = c.status == _ERROR
    div = c.status == _DIVERGED
    empty = ~c.has_curve | (c.evals == 0)
    problem = base & err & (errors == "raise")
    rest = base & ~err
    problem |= rest & empty & ~div
    rest &= ~empty
    problem |= rest & (c.metric_evals == 0)
    rest &= c.metric_evals != 0
    beyond = rest & (c.last_step >= 0) & (c.last_step > budget_row)
    problem |= beyond
    rest &= ~beyond
    nonfinite = rest & ~div & (c.first_nonfinite >= 0)
    problem |= nonfinite
    good = rest & ~nonfinite
    hit = good & (c.hit_step >= 0)
    fraction = fraction_of(np.where(hit, c.hit_step, -1), budget_row)
    return ColumnScores(
        columns, fraction, np.where(hit, c.hit_seconds, np.inf),
        np.where(good & ~np.isnan(c.best), c.best, worst_row),
        np.where(hit, c.hit_index, -1), running, problem, ~scorable, specs, errors)


def grouped_median(values: np.ndarray, groups: np.ndarray, num_groups: int) -> np.ndarray:
    """``np.median`` of ``values`` within each group ``0..num_groups-1`` (NaN if empty).

    The same numbers as ``np.median`` of each group: the middle value, or the
    mean of the two middle ones, and NaN where a group holds a NaN.

    Example:
        >>> grouped_median(np.array([3.0, 1.0, np.inf, 2.0, 5.0]), np.array([0, 0, 0, 1, 1]),
        ...                3).tolist()
        [3.0, 3.5, nan]
    """
    values = np.asarray(values, dtype=np.float64)
    groups = np.asarray(groups, dtype=np.int64)
    counts = np.bincount(groups, minlength=num_groups)
    out = np.full(num_groups, np.nan)
    if not values.size:
        return out
    order = np.lexsort((values, groups))
    v = values[order]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    full = counts > 0
    lo = (starts + (counts - 1) // 2)[full]
    hi = (starts + counts // 2)[full]
    with np.errstate(invalid="ignore", over="ignore"):
        out[full] = np.where(lo == hi, v[lo], (v[lo] + v[hi]) / 2)
    nan = np.bincount(groups, weights=np.isnan(values), minlength=num_groups) > 0
    out[nan] = np.nan
    return out


@dataclasses.dataclass(frozen=True)
class TrialMatrix:
    """Step fractions and best metric values of ``P`` points on ``N`` workloads.

    Attributes:
        fractions: ``[P, N]`` median over seeds of ``t / T`` (``inf`` = missed).
        best_metric: ``[P, N]`` median over seeds of the best metric value
            within the budget (``+-inf`` for a run with no finite value).
        seeds: ``[P, N]`` number of seeds behind each cell.
        point_ids: the points' ids, in row order (by ``point_index``, then id).
        points: the points (hyperparameter name -> value), in row order.
        workloads: the workloads' specs, in column order.
        study: the study the trials come from.
        running: number of trials left out because they were still running.
    """

    fractions: np.ndarray
    best_metric: np.ndarray
    seeds: np.ndarray
    point_ids: tuple[str, ...]
    points: tuple[Mapping[str, float], ...]
    workloads: tuple[WorkloadSpec, ...]
    study: str | None = None
    running: int = 0

    @property
    def names(self) -> tuple[str, ...]:
        """Workload names, in column order."""
        return tuple(w.name for w in self.workloads)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.fractions.shape)

    def column(self, workload: str) -> int:
        """Column index of ``workload``; a clear error for an unknown name."""
        if workload not in self.names:
            raise InvalidParameterError(f"unknown workload {workload!r}; the matrix has {list(self.names)}")
        return self.names.index(workload)

    def select(self, workloads: Sequence[str]) -> TrialMatrix:
        """The same points on a subset of the workloads, in the given order."""
        cols = [self.column(w) for w in workloads]
        if not cols:
            raise InvalidParameterError("select needs at least one workload")
        return dataclasses.replace(
            self,
            fractions=self.fractions[:, cols],
            best_metric=self.best_metric[:, cols],
            seeds=self.seeds[:, cols],
            workloads=tuple(self.workloads[c] for c in cols),
        )

    @classmethod
    def from_records(
        cls,
        records: Iterable[TrialRecord],
        specs: Mapping[str, WorkloadSpec],
        *,
        study: str | None = None,
        workloads: Sequence[str] | None = None,
        errors: Literal["raise", "inf"] = "raise",
        missing: Literal["raise", "drop"] = "raise",
    ) -> TrialMatrix:
        """Builds the matrix of one study's trials.

        Args:
            records: trial records (e.g. ``store.trials()``).
            specs: workload name -> spec, for every workload used.
            study: the study to use; required when the records hold several.
            workloads: the columns, in order (default: every workload of the
                study, sorted by name).
            errors: ``"raise"`` on a trial that ended in error, or ``"inf"`` to
                count it as a miss.
            missing: a point without a finished trial on some workload is an
                error (``"raise"``), or the point is left out (``"drop"``).

        Example:
            >>> import types
            >>> from hplists import Curve
        >>> from hplists import Curve
            >>> def rec(pid, workload, err):
            ...     c = Curve.from_rows([{"step": 10, "seconds": 1.0, "train_loss": 1.0,
            ...                           "error_rate": err}])
            ...     return types.SimpleNamespace(
            ...         study="s", point_id=pid, point_index=int(pid[1:]), point={"lr": 0.1},
            ...         workload=workload, workload_version="1", seed=0,
            ...         status=Status.COMPLETE, message="", curve=c)
            >>> specs = {w: WorkloadSpec(w, "error_rate", "min", 0.2, 10) for w in "ab"}
            >>> m = TrialMatrix.from_records(
            ...     [rec("p0", "a", 0.1), rec("p0", "b", 0.3), rec("p1", "a", 0.3),
            ...      rec("p1", "b", 0.2)], specs)
            >>> m.point_ids, m.names, m.fractions.tolist()
            (('p0', 'p1'), ('a', 'b'), [[1.0, inf], [inf, 1.0]])
        """
        check_choice("errors", errors, ("raise", "inf"))
        check_choice("missing", missing, ("raise", "drop"))
        records = list(records)
        if not records:
            raise DataError("there are no trials to score (the store or selection is empty)")
        studies = sorted({r.study for r in records})
        if study is None:
            if len(studies) > 1:
                raise InvalidParameterError(f"the trials come from several studies {studies}; choose one "
                                 "(study=..., --study)")
            study = studies[0]
        elif study not in studies:
            raise InvalidParameterError(f"unknown study {study!r}; studies are {studies}")
        records = [r for r in records if r.study == study]
        present = sorted({r.workload for r in records})
        names = list(present if workloads is None else workloads)
        unknown = [w for w in names if w not in present]
        if unknown:
            raise InvalidParameterError(f"unknown workload(s) {unknown} in study {study!r}; its workloads "
                             f"are {present}")
        if not names:
            raise InvalidParameterError("workloads must name at least one workload")
        _check_specs(names, specs)
        columns = MetricColumns.from_summaries(
            summarize(r, specs[r.workload].metric, specs[r.workload].mode,
                      specs[r.workload].target) for r in records if r.workload in names)
        return cls.from_scores(score_columns(columns, specs, errors=errors), study=study,
                               workloads=names, missing=missing)

    @classmethod
    def from_store(
        cls,
        store: TrialStore,
        specs: Mapping[str, WorkloadSpec],
        *,
        study: str,
        workloads: Sequence[str],
        errors: Literal["raise", "inf"] = "raise",
        missing: Literal["raise", "drop"] = "raise",
    ) -> TrialMatrix:
        """:meth:`from_records` of ``study`` in ``store``, without reading a curve.

        The store answers each trial's first hit and best value itself, as
        columns (:meth:`~hplists.store.TrialStore.metric_columns`), and they are
        scored and reduced with array operations, so memory grows with the
        trials, not their evaluations, and no object is made per trial; the
        matrix is the same.
        """
        check_choice("errors", errors, ("raise", "inf"))
        check_choice("missing", missing, ("raise", "drop"))
        names = list(workloads)
        if not names:
            raise InvalidParameterError("workloads must name at least one workload")
        _check_specs(names, specs)
        columns = MetricColumns.concat([
            store.metric_columns(study, w, specs[w].metric, specs[w].mode, specs[w].target)
            for w in names])
        return cls.from_scores(score_columns(columns, specs, errors=errors), study=study,
                               workloads=names, missing=missing)

    @classmethod
    def from_scores(cls, scores: ColumnScores, *, study: str, workloads: Sequence[str],
                    rows: np.ndarray | None = None,
                    missing: Literal["raise", "drop"] = "raise") -> TrialMatrix:
        """The matrix of scored trials (``rows`` of ``scores``, in order; default all).

        Medians over seeds, rows by point index then id; the rows must be one
        study's trials on ``workloads`` (what :meth:`from_records` and
        :meth:`from_store` pass). A refused trial raises its error first.
        """
        check_choice("missing", missing, ("raise", "drop"))
        names = list(workloads)
        c = scores.columns
        rows = np.arange(len(c)) if rows is None else np.asarray(rows, dtype=np.int64)
        scores.check(rows)
        running = int(scores.running[rows].sum())
        done = rows[~scores.running[rows]]
        wl, version = c.workload[done], c.version[done]
        pairs, first = np.unique(wl.astype(np.int64) * max(1, len(c.versions)) + version,
                                 return_index=True)
        by_workload: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for pair, at in zip(pairs.tolist(), first.tolist(), strict=True):
            by_workload[pair // max(1, len(c.versions))].append((at, c.versions[pair % max(
                1, len(c.versions))]))
        mixed = {c.workloads[w]: sorted(v for _, v in found) for w, found in
                 sorted(by_workload.items(), key=lambda kv: min(a for a, _ in kv[1]))
                 if len(found) > 1}
        if mixed:
            raise DataError(f"trials of one workload come from several workload versions "
                            f"{mixed}; results of different versions cannot be mixed")
        if not done.size:
            raise DataError(f"study {study!r} has no finished trials on {names} "
                            f"({running} still running)")
        codes, prow = np.unique(c.point[done], return_inverse=True)
        index = c.point_index[done]
        lowest = np.full(codes.size, np.iinfo(np.int64).max)
        np.minimum.at(lowest, prow[index >= 0], index[index >= 0])
        unindexed = lowest == np.iinfo(np.int64).max
        # rows: indexed points by lowest index, then unindexed ones; ties by id (= code order)
        order = np.lexsort((codes, np.where(unindexed, 0, lowest), unindexed))
        rank = np.empty(codes.size, dtype=np.int64)
        rank[order] = np.arange(codes.size)
        col_of = np.full(max(1, len(c.workloads)), -1, dtype=np.int64)
        for j, w in enumerate(names):
            if w in c.workloads:
                col_of[c.workloads.index(w)] = j
        n_w = len(names)
        cell = rank[prow] * n_w + col_of[wl]
        counts = np.bincount(cell, minlength=codes.size * n_w).reshape(codes.size, n_w)
        incomplete = np.argwhere(counts == 0)
        if incomplete.size and missing == "raise":
            shown = ", ".join(f"{c.point_ids[codes[order[p]]]} on {names[w]!r}"
                              for p, w in incomplete[:3].tolist())
            raise DataError(
                f"the matrix is incomplete: {len(incomplete)} (point, workload) pair(s) have no "
                f"finished trial (e.g. {shown}); finish the study, or leave those points out "
                "(missing='drop', --drop-incomplete)"
            )
        keep = counts.min(axis=1) > 0
        if not keep.any():
            raise DataError("no point has finished trials on every workload " + str(names))
        size = codes.size * n_w
        fractions = grouped_median(scores.fraction[done], cell, size).reshape(-1, n_w)
        best = grouped_median(scores.best[done], cell, size).reshape(-1, n_w)
        kept = order[keep]  # point codes' positions, in row order
        return cls(
            fractions=fractions[keep],
            best_metric=best[keep],
            seeds=counts[keep].astype(int),
            point_ids=tuple(c.point_ids[i] for i in codes[kept].tolist()),
            points=tuple(c.points[i] for i in codes[kept].tolist()),
            workloads=tuple(scores.specs[w] for w in names),
            study=study,
            running=running,
        )


@dataclasses.dataclass(frozen=True)
class Submissions:
    """Per-workload times of several submissions, ready for performance profiles.

    Attributes:
        names: the submissions (studies), in row order.
        workloads: workload names, in column order.
        times: ``[S, N]`` time to target (``inf`` = missed or not run).
        seeds: ``[S, N]`` number of seeds behind each time (0 = not run).
        unit: ``"fraction"`` (of the step budget) or ``"seconds"``.
    """

    names: tuple[str, ...]
    workloads: tuple[str, ...]
    times: np.ndarray
    seeds: np.ndarray
    unit: str


def submission_times(
    records: Iterable[TrialRecord],
    specs: Mapping[str, WorkloadSpec],
    *,
    studies: Sequence[str] | None = None,
    workloads: Sequence[str] | None = None,
    time: Literal["fraction", "seconds"] = "fraction",
    errors: Literal["raise", "inf"] = "raise",
    best_trial: Literal["algoperf", "min"] = "algoperf",
) -> Submissions:
    """Each study as an AlgoPerf *submission*: its time to target on each workload.

    An hplists study is an AlgoPerf submission and a seed ``s`` of it is an
    AlgoPerf *study* (an independent repetition of the tuning). For each seed
    the submission's best trial on workload ``i`` is picked, and its time to
    target is reported; the submission's time is the median over seeds. A
    study with no finished trial on a workload gets ``inf`` there (no credit).

    ``best_trial`` says how the best trial is picked:

    * ``"algoperf"`` (default), the rule of AlgoPerf's
      ``scoring/performance_profile.py`` (``get_best_trial_index`` and
      ``get_workloads_time_to_target``): the trial whose first hit is at the
      earliest *evaluation index* of its curve; ties go to the first trial
      (lowest ``point_index``, then point id, as the trials were run), and
      that trial's time (step fraction or seconds) is reported;
    * ``"min"``: the smallest time over the trials, ``min_p t_pis``.

    On step fractions the two agree whenever the trials of a workload share
    one evaluation grid (every hplists run does): the earliest index is the
    earliest step. With wall-clock ``seconds`` they can differ, since a trial
    that hit at the same or a later evaluation may have got there sooner.

    Measured on ``stores/study.db`` (trials of the registered
    workload versions): AlgoPerf's own ``get_best_trial_index`` (commit
    ``2c90454f``, run with pandas) and the median over seeds give the same
    times as ``best_trial="algoperf"`` in all 88 (study, workload) cells with
    trials, for step fractions and for seconds; ``"min"`` differs in 13 cells
    on seconds and in none on step fractions.

    Args:
        records: trial records of one or more studies.
        specs: workload name -> spec.
        studies: which studies (default: all, sorted).
        workloads: which workloads (default: every workload of the selected
            studies, sorted).
        time: ``"fraction"`` of the step budget (step-based, hardware-free) or
            wall-clock ``"seconds"`` from the curves.
        errors: as in :meth:`TrialMatrix.from_records`.
        best_trial: ``"algoperf"`` or ``"min"``, see above.

    Example (two trials hit at evaluation 1, the second one sooner in seconds):
        >>> import types
        >>> from hplists import Curve
        >>> def rec(i, seconds):
        ...     c = Curve.from_rows([{"step": s, "seconds": t, "train_loss": 1.0,
        ...                           "error_rate": e} for s, t, e in
        ...                          zip([50, 100], seconds, [0.4, 0.2])])
        ...     return types.SimpleNamespace(study="s", point_id=f"p{i}", point_index=i,
        ...         workload="w", seed=0, status=Status.COMPLETE, message="", curve=c)
        >>> specs = {"w": WorkloadSpec("w", "error_rate", "min", 0.25, 100)}
        >>> recs = [rec(0, [4.0, 8.0]), rec(1, [2.0, 6.0])]
        >>> float(submission_times(recs, specs, time="seconds").times[0, 0])
        8.0
        >>> float(submission_times(recs, specs, time="seconds", best_trial="min").times[0, 0])
        6.0
    """
    check_choice("time", time, ("fraction", "seconds"))
    check_choice("errors", errors, ("raise", "inf"))
    check_choice("best_trial", best_trial, ("algoperf", "min"))
    records = list(records)
    if not records:
        raise DataError("there are no trials to score (the store or selection is empty)")
    present = sorted({r.study for r in records})
    names = list(present if studies is None else studies)
    unknown = [s for s in names if s not in present]
    if unknown or not names:
        raise InvalidParameterError(f"unknown study(ies) {unknown}; studies are {present}")
    records = [r for r in records if r.study in names]
    cols = list(sorted({r.workload for r in records}) if workloads is None else workloads)
    _check_specs(cols, specs)
    columns = MetricColumns.from_summaries(
        summarize(r, specs[r.workload].metric, specs[r.workload].mode, specs[r.workload].target)
        for r in records if r.workload in cols)
    return submissions_of(score_columns(columns, specs, errors=errors), names, cols, time=time,
                          best_trial=best_trial)


def submission_times_from_store(
    store: TrialStore,
    specs: Mapping[str, WorkloadSpec],
    *,
    studies: Sequence[str],
    workloads: Sequence[str],
    keep: Callable[[TrialRecord], bool] | None = None,
    versions: Mapping[str, str] | None = None,
    time: Literal["fraction", "seconds"] = "fraction",
    errors: Literal["raise", "inf"] = "raise",
    best_trial: Literal["algoperf", "min"] = "algoperf",
) -> Submissions:
    """:func:`submission_times` of ``studies`` in ``store``, without reading a curve.

    The store answers each trial's first hit as columns
    (:meth:`TrialStore.metric_columns`), scored with array operations;
    ``keep`` leaves trials out (e.g. other workload versions than the target's;
    it is called with each trial's record, without its curve: a Python object
    per trial). ``versions`` (workload -> version) leaves out the trials of a
    workload recorded at another version, with array operations only.
    """
    check_choice("time", time, ("fraction", "seconds"))
    check_choice("errors", errors, ("raise", "inf"))
    check_choice("best_trial", best_trial, ("algoperf", "min"))
    _check_specs(workloads, specs)

    names, cols = list(studies), list(workloads)
    times = np.full((len(names), len(cols)), np.inf)
    seeds = np.zeros((len(names), len(cols)), dtype=int)
    points: dict[str, dict[str, float]] = {}  # the records given to keep share their points
    # A (study, workload) cell needs only its own trials: one at a time, in memory too.
    for a, study in enumerate(names):
        for b, w in enumerate(cols):
            sp = specs[w]
            part = store.metric_columns(study, w, sp.metric, sp.mode, sp.target)
            if versions is not None and w in versions and len(part):
                part = part.take(np.isin(part.version, part.codes("versions", [versions[w]])))
            if keep is not None and len(part):
                part = part.take(np.array([bool(keep(r)) for r in part.records(points)],
                                          dtype=bool))
            cell = submissions_of(score_columns(part, specs, errors=errors), [study], [w],
                                  time=time, best_trial=best_trial)
            times[a, b], seeds[a, b] = cell.times[0, 0], cell.seeds[0, 0]
    return Submissions(tuple(names), tuple(cols), times, seeds, time)


def submissions_of(scores: ColumnScores, studies: Sequence[str], workloads: Sequence[str], *,
                   rows: np.ndarray | None = None,
                   time: Literal["fraction", "seconds"] = "fraction",
                   best_trial: Literal["algoperf", "min"] = "algoperf") -> Submissions:
    """:func:`submission_times` of scored trials (``rows`` of ``scores``, in order; default all).

    Each study's best trial per (workload, seed), then the median over seeds;
    rows of other studies or workloads are left out. A refused trial among the
    rows raises its error first.
    """
    check_choice("time", time, ("fraction", "seconds"))
    check_choice("best_trial", best_trial, ("algoperf", "min"))
    c = scores.columns
    names, cols = list(studies), list(workloads)
    rows = np.arange(len(c)) if rows is None else np.asarray(rows, dtype=np.int64)
    s_of = _positions(c.studies, names)
    w_of = _positions(c.workloads, cols)
    rows = rows[(s_of[c.study[rows]] >= 0) & (w_of[c.workload[rows]] >= 0)]
    scores.check(rows)
    done = rows[~scores.running[rows]]
    t = (scores.fraction if time == "fraction" else scores.seconds)[done]
    a, b, seed = s_of[c.study[done]], w_of[c.workload[done]], c.seed[done]
    if best_trial == "min" and np.isnan(t).any():
        # NaN seconds make the smallest time depend on the trials' order: as the loop does
        return _submissions_loop(scores, done, names, cols, time)
    if best_trial == "min":
        keys: tuple[np.ndarray, ...] = (t,)
    else:  # a miss ranks last; ties go to the first trial in run order
        index, pidx = scores.index[done], c.point_index[done]
        keys = (index < 0, index, pidx < 0, np.where(pidx < 0, 0, pidx), c.point[done])
    # stable: of equal ranks, the first row wins
    order = np.lexsort((np.arange(done.size), *reversed(keys), seed, b, a))
    a, b, seed, t = a[order], b[order], seed[order], t[order]
    first = np.ones(done.size, dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1]) | (seed[1:] != seed[:-1])
    cell = a[first] * len(cols) + b[first]
    size = len(names) * len(cols)
    times = grouped_median(t[first], cell, size).reshape(len(names), len(cols))
    seeds = np.bincount(cell, minlength=size).reshape(len(names), len(cols))
    times[seeds == 0] = np.inf
    return Submissions(tuple(names), tuple(cols), times, seeds.astype(int), time)


def _positions(table: Sequence[str], names: Sequence[str]) -> np.ndarray:
    """For each entry of ``table``, its position in ``names`` (-1 if absent)."""
    where = {n: i for i, n in enumerate(names)}
    return np.array([where.get(v, -1) for v in table] or [-1], dtype=np.int64)


def _submissions_loop(scores: ColumnScores, done: np.ndarray, names: list[str],
                      cols: list[str], time: str) -> Submissions:
    """The smallest time per (study, workload, seed), trial by trial, then the median."""
    c = scores.columns
    t_all = scores.fraction if time == "fraction" else scores.seconds
    per_seed: dict[tuple[str, str, int], float] = {}
    for i in done.tolist():
        key = (c.studies[c.study[i]], c.workloads[c.workload[i]], int(c.seed[i]))
        t = float(t_all[i])
        if key not in per_seed or (t,) < (per_seed[key],):
            per_seed[key] = t
    times = np.full((len(names), len(cols)), np.inf)
    seeds = np.zeros((len(names), len(cols)), dtype=int)
    grouped: dict[tuple[str, str], list[float]] = defaultdict(list)
    for (s, w, _), t in per_seed.items():
        grouped[(s, w)].append(t)
    for a, s in enumerate(names):
        for b, w in enumerate(cols):
            ts = grouped.get((s, w))
            if ts:
                times[a, b] = np.median(ts)
                seeds[a, b] = len(ts)
    return Submissions(tuple(names), tuple(cols), times, seeds, time)
