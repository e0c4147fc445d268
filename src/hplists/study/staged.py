"""A study in stages over one trial store: what paper 001's and paper 002's studies share.

A :class:`Study` is a sequence of named stages (:attr:`Study.stages`); each
stage is a set of trials in the store, declared as a :class:`StageWork` (the
tasks of known points, and sources such as Bayesian optimization that choose
their points as they go). The base runs, plans and records every study the
same way:

* :meth:`Study.run` checks that the stages can run (:meth:`Study.check_ready`),
  records the study's manifest in the store (:meth:`Study.manifest`: what it
  runs, for the report to read), and runs the stages in order, every trial
  through the one trial loop (:func:`hplists.trials.loop.run`): killing the
  process at any moment and running the same command again loses nothing and
  trains nothing twice;
* :meth:`Study.plan` counts each stage's trials, how many are finished, the
  steps left, and the time left, with one estimator: the steps each workload
  has left times its median recorded seconds per step, times the recorded runs'
  wall-clock overhead
  (:func:`hplists.study.step_rates.estimated_seconds_per_step`);
* :meth:`Study.export_lists` writes each study's lists as named list files
  (``hplists study export-list``); the report of a study is the report layer's,
  above this one (:func:`hplists.report.studies.write_study_report`, keyed by
  :attr:`Study.name`).

A subclass names its stages, says what each trains (:meth:`Study.stage_work`),
and overrides :meth:`Study.run_stage` or :meth:`Study.run_stages` where a stage
decides what to train from what the previous trials gave.

Example:
    >>> StageResult.total("s", [StageResult("s", trained=2, studies=("b",)),
    ...                         StageResult("s", trained=1, failed=1, studies=("a",))])
    StageResult(stage='s', trained=3, diverged=0, failed=1, already_done=0, studies=('a', 'b'))
"""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from hplists._check import check_choice
from hplists.curves import Status
from hplists.exceptions import InvalidParameterError
from hplists.progress import StageBar, StepProgressFn
from hplists.store.base import TrialRecord, TrialStore
from hplists.trials import Executor, StaticSource, TrainTask, run

__all__ = ["SearchRuns", "StageCost", "StagePlan", "StageResult", "StageWork", "Study",
           "busy_seconds", "estimate_seconds", "stage_cost"]


@dataclasses.dataclass(frozen=True)
class StageResult:
    """What one stage did: trials trained, diverged and failed, and those already done."""

    stage: str
    trained: int = 0
    diverged: int = 0
    failed: int = 0
    already_done: int = 0
    studies: tuple[str, ...] = ()

    @classmethod
    def total(cls, stage: str, parts: Sequence[StageResult]) -> StageResult:
        """One stage's result from the results of its parts (studies sorted, once each)."""
        return cls(stage, sum(p.trained for p in parts), sum(p.diverged for p in parts),
                   sum(p.failed for p in parts), sum(p.already_done for p in parts),
                   tuple(sorted({st for p in parts for st in p.studies})))


@dataclasses.dataclass(frozen=True)
class StagePlan:
    """Trials a stage needs, how many are finished, and the estimated time left.

    Attributes:
        stage: the stage.
        studies: the studies its trials go to.
        trials: trials it needs.
        done: trials already finished.
        steps_left: training steps of the trials left.
        exact: ``False`` when the counts are upper bounds (what the stage
            trains depends on trials not finished yet).
        seconds_left: estimated wall seconds left (``None``: a workload with
            steps left has no recorded or measured time per step).
    """

    stage: str
    studies: tuple[str, ...]
    trials: int
    done: int
    steps_left: int
    exact: bool
    seconds_left: float | None

    @property
    def left(self) -> int:
        """Trials left."""
        return self.trials - self.done


@dataclasses.dataclass(frozen=True)
class SearchRuns:
    """Sequential runs of a search, one per workload and seed, that choose points as they go.

    Attributes:
        study: the study their trials go to.
        workloads: the workloads (instances).
        seeds: one run per seed on each workload.
        n_trials: trials per run.
        source: makes the trial source of the runs on some of the workloads
            (e.g. a :class:`~hplists.study.bayesopt.BayesOptSource`): a
            :class:`~hplists.trials.loop.Source` with ``remaining_trials()``
            and ``remaining_work()``, read from the store.
    """

    study: str
    workloads: tuple[Any, ...]
    seeds: tuple[int, ...]
    n_trials: int
    source: Callable[[Sequence[Any]], Any]

    @property
    def trials(self) -> int:
        """Trials of all runs."""
        return self.n_trials * len(self.workloads) * len(self.seeds)


@dataclasses.dataclass(frozen=True)
class StageWork:
    """What one stage trains, as far as it is known now.

    Attributes:
        stage: the stage.
        tasks: tasks of known points (:class:`~hplists.trials.tasks.TrainTask`).
        searches: runs that choose their points as they go (:class:`SearchRuns`).
        exact: ``False`` when the tasks are an upper bound.
        studies: the stage's studies (default: the tasks' studies, sorted, then
            the searches').
    """

    stage: str
    tasks: tuple[TrainTask, ...] = ()
    searches: tuple[SearchRuns, ...] = ()
    exact: bool = True
    studies: tuple[str, ...] | None = None

    def study_names(self) -> tuple[str, ...]:
        """The stage's studies."""
        if self.studies is not None:
            return self.studies
        return (*sorted({t.study for t in self.tasks}), *(s.study for s in self.searches))


@dataclasses.dataclass(frozen=True)
class StageCost:
    """What a stage's recorded trials cost (:func:`stage_cost`).

    Attributes:
        stage: the stage.
        trials: finished trials (complete or diverged).
        diverged: of those, diverged.
        errors: trials that ended in an error (not results; a rerun trains them again).
        training_seconds: the finished trials' recorded seconds at their last
            evaluation, summed: each trial's share of its program's training and
            evaluation time, without compilation. These are wall-clock seconds: a
            trial in flight while its run was paused (SIGSTOP) counts the pause.
        wall_seconds: wall-clock seconds during which at least one of the stage's
            trials was in flight (:func:`busy_seconds` of their last claim to
            their finish): pauses of a run count, the time between runs does not.
        median_rate_seconds: the finished trials' steps, each times the median
            seconds per step of its workload's finished trials in the stage
            (:func:`hplists.study.step_rates.seconds_per_step_of`), summed: the
            training seconds without the outliers that a paused run, or one
            sharing the cores, records (NaN with no timed trial).
    """

    stage: str
    trials: int
    diverged: int
    errors: int
    training_seconds: float
    wall_seconds: float
    median_rate_seconds: float = math.nan

    @property
    def trials_per_hour(self) -> float:
        """Finished trials per wall-clock hour (NaN with no wall-clock time)."""
        return self.trials / (self.wall_seconds / 3600) if self.wall_seconds > 0 else math.nan


def busy_seconds(intervals: Sequence[tuple[float, float]]) -> float:
    """The length of the union of ``(start, end)`` intervals: time during which any was open.

    Example:
        >>> busy_seconds([(0, 10), (5, 20), (30, 35)])  # 0-20 and 30-35
        25.0
        >>> busy_seconds([])
        0.0
    """
    total, end = 0.0, -math.inf
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return float(total)


def stage_cost(stage: str, records: Sequence[TrialRecord]) -> StageCost:
    """The :class:`StageCost` of ``records``, the trials of ``stage`` recorded in a store.

    Example:
        >>> import numpy as np
        >>> from hplists.curves import Curve, Status
        >>> from hplists.store.base import TrialRecord
        >>> def trial(status, start, end, seconds):
        ...     curve = Curve(np.array([10]), [seconds], [1.0], {"loss": [1.0]}, status)
        ...     times = {"claimed_at": f"2026-01-01T00:{start:02d}:00+00:00",
        ...              "finished_at": f"2026-01-01T00:{end:02d}:00+00:00"}
        ...     return TrialRecord("s", "p", 0, {}, "w", "1", 0, status, "", curve, times)
        >>> c = stage_cost("search", [trial(Status.COMPLETE, 0, 2, 50.0),
        ...                           trial(Status.DIVERGED, 1, 3, 40.0)])
        >>> c.trials, c.diverged, c.training_seconds, c.wall_seconds, c.trials_per_hour
        (2, 1, 90.0, 180.0, 40.0)
        >>> paused = stage_cost("search", [trial(Status.COMPLETE, 0, 2, 50.0),
        ...                                trial(Status.COMPLETE, 1, 3, 40.0),
        ...                                trial(Status.COMPLETE, 2, 9, 400.0)])  # paused
        >>> paused.training_seconds, paused.median_rate_seconds  # 3 trials of 10 steps at 5 s/step
        (490.0, 150.0)
    """
    from hplists.study.step_rates import FinishedTrial, seconds_per_step_of

    finished = [r for r in records if r.status in (Status.COMPLETE, Status.DIVERGED)]
    timed = [FinishedTrial(math.nan, r.workload, float(r.curve.seconds[-1]),
                           float(r.curve.steps[-1])) for r in finished
             if r.curve is not None and len(r.curve) and math.isfinite(r.curve.seconds[-1])
             and r.curve.steps[-1] > 0]
    seconds = [float(r.curve.seconds[-1]) for r in finished
               if r.curve is not None and len(r.curve) and math.isfinite(r.curve.seconds[-1])]
    rates = seconds_per_step_of([timed])
    median_rate = float(sum(t.steps * rates[t.workload] for t in timed)) if timed else math.nan
    spans = []
    for r in finished:
        start, end = r.provenance_time("claimed_at"), r.provenance_time("finished_at")
        if start is not None and end is not None and end >= start:
            spans.append((start, end))
    return StageCost(stage, len(finished), sum(r.status is Status.DIVERGED for r in finished),
                     sum(r.status is Status.ERROR for r in records), float(sum(seconds)),
                     busy_seconds(spans), median_rate)


def estimate_seconds(steps: Sequence[tuple[str, int]], rates: Mapping[str, float]
                     ) -> float | None:
    """Seconds of ``(workload, steps)`` work at ``rates`` (wall seconds per step of each workload).

    ``None`` when a workload with steps left has no rate.

    Example:
        >>> estimate_seconds([("a", 10), ("b", 0)], {"a": 0.5})
        5.0
        >>> estimate_seconds([("a", 10), ("b", 4)], {"a": 0.5}) is None
        True
    """
    seconds, missing = 0.0, False
    for name, n in steps:
        rate = rates.get(name)
        missing |= rate is None and n > 0
        seconds += n * (rate or 0.0)
    return None if missing else seconds


class Study(abc.ABC):
    """A resumable study in stages over one trial store (see the module docstring).

    Args:
        store: the trial store (e.g. :func:`hplists.store.open_store`).
        config: what to run (the subclass's :attr:`config_class`; default: its defaults).
        specs: workload name -> :class:`~hplists.scoring.workload_specs.WorkloadSpec`
            (metric, direction, target, budget) for workloads whose target is
            not in the package's targets file, or to override it.
        executor: where trials train (default: this process; see
            :mod:`hplists.trials.executors` and :mod:`hplists.trials.ray`).
        progress: ``True`` for a progress bar with ETA per stage, or a function
            called with ``(stage, steps_done, steps_total)``.
        timing_stores: further stores whose recorded trials give the plan's
            seconds per step.
    """

    #: The study's name on the command line (``hplists study ACTION NAME``).
    name: ClassVar[str]
    #: The stages, in the order they run.
    stages: ClassVar[tuple[str, ...]]
    #: The store the command line uses by default.
    default_store: ClassVar[str]
    #: The configuration class.
    config_class: ClassVar[type]
    #: Fewest base workloads the study needs.
    min_workloads: ClassVar[int] = 1
    #: Further stores the command line reads the plan's timings from, when they exist.
    timing_store_paths: ClassVar[tuple[str, ...]] = ()
    #: Notes under the plan (how the study counts steps).
    plan_notes: ClassVar[tuple[str, ...]] = ()
    #: What ``hplists study export-list`` says when :meth:`export_lists` wrote nothing.
    nothing_to_export: ClassVar[str] = "nothing to export yet"
    #: Configuration fields that a command not given them takes from the store's manifest
    #: (:meth:`recorded_settings`): the settings of the run that filled the store.
    recorded_options: ClassVar[tuple[str, ...]] = ()

    def __init__(self, store: TrialStore, config: Any = None, *,
                 specs: Mapping[str, Any] | None = None, executor: Executor | None = None,
                 progress: bool | StepProgressFn | None = None,
                 timing_stores: Sequence[Any] = ()) -> None:
        self.store = store
        self.config = self.config_class() if config is None else config
        self.given_specs = dict(specs or {})
        self.executor = executor
        self.timing_stores = list(timing_stores)
        self._bar = StageBar(progress)
        self._workloads: list[Any] | None = None

    # ------------------------------------------------------------------------- workloads

    @property
    def workloads(self) -> list[Any]:
        """The base workloads (instances), in the configured order."""
        if self._workloads is None:
            from hplists.workloads.registry import get_workload, workload_names

            names = self.config.workloads or tuple(workload_names(variants=False))
            if len(names) < self.min_workloads:
                raise InvalidParameterError(f"the study needs at least {self.min_workloads} base "
                                            f"workloads, found {list(names)}")
            workloads = [get_workload(n) for n in names]
            variants = [w.name for w in workloads if w.base is not None]
            if variants:
                raise InvalidParameterError(f"workloads must be base workloads; {variants} are "
                                            "variants")
            self._workloads = workloads
        return self._workloads

    def timed_workloads(self) -> list[Any]:
        """The workloads the study trains on (the plan estimates each one's time)."""
        return self.workloads

    # ---------------------------------------------------------------------------- stages

    def check_stages(self, stages: Sequence[str] | None) -> list[str]:
        """``stages`` (default: all) checked against :attr:`stages`."""
        if stages is None:
            return list(self.stages)
        if isinstance(stages, str):
            raise InvalidParameterError(f"stages must be a sequence of names, got the string "
                                        f"{stages!r}")
        return [check_choice("stage", s, self.stages) for s in stages]

    @abc.abstractmethod
    def stage_work(self, stage: str) -> StageWork | None:
        """What ``stage`` trains, as known from the store now (``None``: it trains nothing).

        Counts that depend on trials not finished yet are upper bounds
        (``exact=False``).
        """

    def check_ready(self, stages: Sequence[str]) -> None:  # noqa: B027 (a hook; default: ready)
        """Raises, before anything trains, if ``stages`` cannot run (e.g. a target is missing)."""

    def run_stage(self, stage: str) -> StageResult:
        """Runs one stage (what :meth:`stage_work` declares); resumable at any point."""
        check_choice("stage", stage, self.stages)
        work = self.stage_work(stage)
        if work is None:
            return StageResult(stage)
        return self.execute(work)

    def run_stages(self, stages: Sequence[str]) -> Iterator[StageResult]:
        """Runs ``stages`` in the study's order, each result as soon as its stage is done."""
        for stage in self.stages:
            if stage in stages:
                yield self.run_stage(stage)

    def run(self, stages: Sequence[str] | None = None, *,
            callback: Callable[[StageResult], None] | None = None) -> list[StageResult]:
        """Runs the stages (default: all) in order; resumable at any point.

        Checks first that they can run (:meth:`check_ready`), and records the
        manifest (:meth:`record_manifest`). ``callback`` is called with each
        stage's result as soon as it is done.
        """
        chosen = self.check_stages(stages)
        self.check_ready(chosen)
        self.record_manifest()
        out = []
        for result in self.run_stages(chosen):
            out.append(result)
            if callback is not None:
                callback(result)
        return out

    def execute(self, work: StageWork) -> StageResult:
        """Trains ``work`` through the trial loop, with a progress bar over the whole stage."""
        tasks = list(work.tasks)
        static = StaticSource(self.store, tasks)
        searches = [(runs, runs.source(runs.workloads)) for runs in work.searches]
        sources = [static, *(source for _, source in searches)]
        already = static.skipped + sum(runs.trials - source.remaining_trials()
                                       for runs, source in searches)
        executor, own = self.executor_for(tasks)
        tick = self._bar.start(work.stage, sum(s.remaining_work() for s in sources))
        counts = {"trained": 0, "diverged": 0, "failed": 0}
        try:
            for source in sources:
                got = run(self.store, source, executor, progress=tick, retry_errors=True)
                for k in counts:
                    counts[k] += got[k]
        finally:
            self._bar.stop()
            if own is not None:
                own.close()
        return StageResult(work.stage, already_done=already, studies=work.study_names(), **counts)

    def executor_for(self, tasks: Sequence[TrainTask]) -> tuple[Any, Any]:
        """Where ``tasks`` train, and the executor to close afterwards (``None``: none).

        Default: :attr:`executor` (``None``: this process).
        """
        return self.executor, None

    # ------------------------------------------------------------------------------ plan

    def plan(self, stages: Sequence[str] | None = None) -> list[StagePlan]:
        """Per stage (default: all): trials, how many are finished, steps and time left.

        A stage that trains nothing has no plan. Time estimates: see
        :meth:`seconds_per_step`; ``None`` for a stage with steps left on a
        workload without any timing.
        """
        chosen = self.check_stages(stages)
        rates = self.seconds_per_step()
        out = []
        for stage in chosen:
            work = self.stage_work(stage)
            if work is not None:
                out.append(self.plan_work(work, rates))
        return out

    def unfinished(self, stages: Sequence[str] | None = None) -> list[StagePlan]:
        """The stages of ``stages`` (default: all) with trials left, or whose work the
        trials not finished yet may still change (``exact=False``); counts only.

        Empty when those stages have trained everything they ever will.
        """
        works = (self.stage_work(s) for s in self.check_stages(stages))
        plans = (self.plan_work(w, {}) for w in works if w is not None)
        return [p for p in plans if p.left or not p.exact]

    def plan_work(self, work: StageWork, rates: Mapping[str, float]) -> StagePlan:
        """The plan of ``work`` with ``rates`` (wall seconds per step of each workload)."""
        trials = sum(len(t.points) for t in work.tasks)
        done = 0
        steps: list[tuple[str, int]] = []
        for t in work.tasks:
            source = StaticSource(self.store, [t])
            done += source.skipped
            steps.append((t.workload.name, source.remaining_work()))
        for runs in work.searches:
            for w in runs.workloads:  # per workload: each has its own time per step
                one = runs.source([w])
                total = runs.n_trials * len(runs.seeds)
                trials += total
                done += total - one.remaining_trials()
                steps.append((w.name, one.remaining_work()))
        return StagePlan(work.stage, work.study_names(), trials, done,
                         sum(n for _, n in steps), work.exact, estimate_seconds(steps, rates))

    def seconds_per_step(self) -> dict[str, float]:
        """Wall seconds per step of each workload the study trains on, for the plan.

        The median recorded seconds per step of each workload in this store and
        :attr:`timing_stores`, times the recorded runs' wall-clock overhead; else
        the timings ``benchmarks/workloads.py`` measured
        (:func:`hplists.study.step_rates.estimated_seconds_per_step`).
        """
        from hplists.study.step_rates import estimated_seconds_per_step

        return estimated_seconds_per_step([self.store, *self.timing_stores],
                                          self.timed_workloads())

    # -------------------------------------------------------------------------- manifest

    @abc.abstractmethod
    def manifest(self) -> dict[str, Any]:
        """What this study runs (its studies by key, its settings), as JSON.

        :meth:`run` records it in the store under :attr:`name`; the report reads
        its study names from there.
        """

    def record_manifest(self) -> None:
        """Records :meth:`manifest` in the store under :attr:`name` (replacing an older one)."""
        self.store.record_manifest(self.name, self.manifest())

    @classmethod
    def recorded_settings(cls, store: TrialStore) -> dict[str, Any]:
        """The :attr:`recorded_options` that the last run on ``store`` recorded in its manifest.

        A store filled at 64 points per search is planned, reported and
        exported at 64 unless told otherwise, rather than against the
        configuration's default: the command then describes the experiment the
        store holds. Empty for a store no run of this study has written.

        Example:
            >>> import os, tempfile
            >>> from hplists.store import open_store
            >>> from hplists.study.lrfree import LrFreeConfig, LrFreeStudy
            >>> store = open_store(os.path.join(tempfile.mkdtemp(), "s.db"))
            >>> LrFreeStudy.recorded_settings(store)
            {}
            >>> LrFreeStudy(store, LrFreeConfig(points=64)).record_manifest()
            >>> LrFreeStudy.recorded_settings(store)
            {'points': 64, 'seeds': 5, 'tau': 2.0}
        """
        manifest = store.manifest(cls.name) or {}
        return {k: manifest[k] for k in cls.recorded_options if k in manifest}

    # ----------------------------------------------------------------------------- costs

    def stage_of(self, study: str) -> str | None:
        """The stage whose trials go to the store's ``study`` (``None``: none of this study's).

        The default knows none; a study that reports :meth:`costs` says which.
        """
        return None

    def costs(self) -> list[StageCost]:
        """What each stage's trials in the store cost (:func:`stage_cost`), in stage order,
        then all of them together (stage ``"all"``: its wall clock counts once the time
        during which trials of two stages were in flight; its hours at the median rate are
        the stages' summed, each stage at its own rates).

        Every trial the store holds for a stage counts, also those of a larger
        or earlier configuration than this one (what was spent, not what the
        configuration needs).
        """
        by_stage: dict[str, list[TrialRecord]] = {s: [] for s in self.stages}
        stage_of: dict[str, str | None] = {}  # once per study, not once per trial
        for r in self.store.trials():
            if r.study not in stage_of:
                stage_of[r.study] = self.stage_of(r.study)
            stage = stage_of[r.study]
            if stage is not None:
                by_stage[stage].append(r)
        every = [r for records in by_stage.values() for r in records]
        stages = [stage_cost(s, records) for s, records in by_stage.items()]
        # Each stage at its own rates: its programs differ (vmapped searches, single points).
        timed = [c.median_rate_seconds for c in stages if math.isfinite(c.median_rate_seconds)]
        total = dataclasses.replace(stage_cost("all", every),
                                    median_rate_seconds=float(sum(timed)) if timed else math.nan)
        return [*stages, total]

    # ----------------------------------------------------------------------------- lists

    @abc.abstractmethod
    def export_lists(self, output: str | Path | None = None, *,
                     overwrite: bool = False) -> list[str]:
        """Writes the study's lists as named list files with their provenance; the paths."""

