"""From recorded trials to arrays: the ``[P, N]`` matrix of step fractions, and submission times.

The method (cost, lists, leave-one-out) works on a matrix of step fractions
``F[p, i] = t_pi / T_i`` of ``P`` points on ``N`` workloads. This module builds
it from trial records (:class:`hplists.store.TrialRecord`, or anything with
the same attributes) and a :class:`~hplists.scoring.specs.WorkloadSpec` per
workload, and checks that the records make a complete, consistent matrix.

Rules, per trial (one point, workload and seed):

* ``complete`` and ``diverged`` trials are scored from their curve with
  :mod:`hplists.scoring.time_to_target` (a diverged run keeps the evaluations
  made before it diverged; a complete run with a non-finite metric is an error);
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
from hplists.scoring.specs import WorkloadSpec
from hplists.store.base import MetricSummary, TrialRecord, TrialStore, summarize

__all__ = [
    "Submissions",
    "TrialMatrix",
    "TrialScore",
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
    return TrialScore(float(summary.hit_step) / spec.step_budget,
                      float(summary.hit_seconds) if summary.hit_seconds is not None else np.nan,
                      best, summary.hit_index)


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
        scored = ((r, score_trial(r, specs[r.workload], errors=errors))
                  for r in records if r.workload in names)
        return cls._aggregate(scored, specs, study, names, missing)

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

        The store answers each trial's first hit and best value itself
        (:meth:`~hplists.store.TrialStore.metric_summaries`), so memory grows
        with the trials, not their evaluations; the matrix is the same.
        """
        check_choice("errors", errors, ("raise", "inf"))
        check_choice("missing", missing, ("raise", "drop"))
        names = list(workloads)
        if not names:
            raise InvalidParameterError("workloads must name at least one workload")
        _check_specs(names, specs)

        def scored() -> Iterable[tuple[TrialRecord, TrialScore | None]]:
            for w in names:
                sp = specs[w]
                for sm in store.metric_summaries(study, w, sp.metric, sp.mode, sp.target):
                    yield sm.record, score_summary(sm, sp, errors=errors)

        return cls._aggregate(scored(), specs, study, names, missing)

    @classmethod
    def _aggregate(cls, scored: Iterable[tuple[TrialRecord, TrialScore | None]],
                   specs: Mapping[str, WorkloadSpec], study: str, names: Sequence[str],
                   missing: str) -> TrialMatrix:
        """The matrix from scored trials: medians over seeds, rows by point index."""
        versions: dict[str, set[str]] = defaultdict(set)
        cells: dict[tuple[str, str], list[TrialScore]] = defaultdict(list)
        points: dict[str, Mapping[str, float]] = {}
        index: dict[str, int | None] = {}
        running = 0
        for r, score in scored:
            if score is None:
                running += 1
                continue
            versions[r.workload].add(str(r.workload_version))
            cells[(r.point_id, r.workload)].append(score)
            points.setdefault(r.point_id, r.point)
            if r.point_index is not None:
                prev = index.get(r.point_id)
                index[r.point_id] = r.point_index if prev is None else min(prev, r.point_index)
            else:
                index.setdefault(r.point_id, None)
        mixed = {w: sorted(v) for w, v in versions.items() if len(v) > 1}
        if mixed:
            raise DataError(f"trials of one workload come from several workload versions "
                             f"{mixed}; results of different versions cannot be mixed")
        if not points:
            raise DataError(f"study {study!r} has no finished trials on {names} "
                             f"({running} still running)")
        ids = sorted(points, key=lambda p: (index[p] is None, index[p] or 0, p))
        incomplete = [(p, w) for p in ids for w in names if (p, w) not in cells]
        if incomplete and missing == "raise":
            shown = ", ".join(f"{p} on {w!r}" for p, w in incomplete[:3])
            raise DataError(
                f"the matrix is incomplete: {len(incomplete)} (point, workload) pair(s) have no "
                f"finished trial (e.g. {shown}); finish the study, or leave those points out "
                "(missing='drop', --drop-incomplete)"
            )
        drop = {p for p, _ in incomplete}
        ids = [p for p in ids if p not in drop]
        if not ids:
            raise DataError("no point has finished trials on every workload " + str(names))
        shape = (len(ids), len(names))
        fractions, best, seeds = np.empty(shape), np.empty(shape), np.zeros(shape, dtype=int)
        for a, p in enumerate(ids):
            for b, w in enumerate(names):
                cell = cells[(p, w)]
                if len(cell) == 1:  # the median of one value, without numpy's overhead
                    fractions[a, b], best[a, b] = cell[0].fraction, cell[0].best
                else:
                    fractions[a, b] = np.median([c.fraction for c in cell])
                    best[a, b] = np.median([c.best for c in cell])
                seeds[a, b] = len(cell)
        return cls(
            fractions=fractions,
            best_metric=best,
            seeds=seeds,
            point_ids=tuple(ids),
            points=tuple(points[p] for p in ids),
            workloads=tuple(specs[w] for w in names),
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
    scored = ((r, score_trial(r, specs[r.workload], errors=errors))
              for r in records if r.workload in cols)
    return _submissions(scored, names, cols, time, best_trial)


def submission_times_from_store(
    store: TrialStore,
    specs: Mapping[str, WorkloadSpec],
    *,
    studies: Sequence[str],
    workloads: Sequence[str],
    keep: Callable[[TrialRecord], bool] | None = None,
    time: Literal["fraction", "seconds"] = "fraction",
    errors: Literal["raise", "inf"] = "raise",
    best_trial: Literal["algoperf", "min"] = "algoperf",
) -> Submissions:
    """:func:`submission_times` of ``studies`` in ``store``, without reading a curve.

    The store answers each trial's first hit (:meth:`TrialStore.metric_summaries`);
    ``keep`` leaves trials out (e.g. other workload versions than the target's).
    """
    check_choice("time", time, ("fraction", "seconds"))
    check_choice("errors", errors, ("raise", "inf"))
    check_choice("best_trial", best_trial, ("algoperf", "min"))
    _check_specs(workloads, specs)

    def scored() -> Iterable[tuple[TrialRecord, TrialScore | None]]:
        for study in studies:
            for w in workloads:
                sp = specs[w]
                for sm in store.metric_summaries(study, w, sp.metric, sp.mode, sp.target):
                    if keep is None or keep(sm.record):
                        yield sm.record, score_summary(sm, sp, errors=errors)

    return _submissions(scored(), list(studies), list(workloads), time, best_trial)


def _submissions(scored: Iterable[tuple[TrialRecord, TrialScore | None]], names: list[str],
                 cols: list[str], time: str, best_trial: str) -> Submissions:
    """Each study's best trial per (workload, seed), then the median over seeds."""
    # (study, workload, seed) -> (sort key, time) of the best trial so far
    per_seed: dict[tuple[str, str, int], tuple[tuple, float]] = {}
    for r, score in scored:
        if score is None:
            continue
        t = score.fraction if time == "fraction" else score.seconds
        key = (r.study, r.workload, int(r.seed))
        if best_trial == "min":
            rank: tuple = (t,)
        else:  # a miss ranks last; ties go to the first trial in run order
            first = r.point_index is None, r.point_index or 0, r.point_id
            rank = (score.index < 0, score.index, *first)
        if key not in per_seed or rank < per_seed[key][0]:
            per_seed[key] = (rank, t)
    times = np.full((len(names), len(cols)), np.inf)
    seeds = np.zeros((len(names), len(cols)), dtype=int)
    grouped: dict[tuple[str, str], list[float]] = defaultdict(list)
    for (s, w, _), (_, t) in per_seed.items():
        grouped[(s, w)].append(t)
    for a, s in enumerate(names):
        for b, w in enumerate(cols):
            ts = grouped.get((s, w))
            if ts:
                times[a, b] = np.median(ts)
                seeds[a, b] = len(ts)
    return Submissions(tuple(names), tuple(cols), times, seeds, time)
