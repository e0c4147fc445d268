"""The study of paper 001 on the built-in library: one resumable workflow over the trial store.

Stages (``hplists study --stage ...``), each a set of studies in the store:

1. ``broad``: the first ``points`` (200) scrambled-Halton points of
   ``nadamw-broad`` (seed :data:`~hplists.study.calibration.CALIBRATION_SEED`),
   one run each (training seed 0) on every base workload, into
   ``broad200``: the same points, seed and study as the calibration of the
   targets (:mod:`hplists.study.calibration`), whose runs are reused.
2. ``lists``: from those trials and the targets, the final ``k``-point list
   on all base workloads (greedy, Algorithm 1, ``tau = 2``) and the
   leave-one-workload-out lists (one per held-out workload). Nothing is
   trained; the lists are derived again whenever needed, so they always
   match the store.
3. ``reruns``: every list point rerun with the rerun seeds (1..5) on the
   workloads it is scored on: the final list's points on every base workload,
   each leave-one-out list's points on its held-out workload. Study
   ``broad200/reruns``; times are medians over the seeds (Sec. 4.2).
4. ``variants``: the final list on every architectural variant, rerun seeds,
   study ``broad200/variants``.
5. ``baselines``: the baselines of :mod:`hplists.study.baselines` and the GP
   Bayesian optimization of :mod:`hplists.study.bayesopt`, same workloads,
   budget and seeds, each in its own study.

Every trial goes through the claim/run/finish protocol of
:mod:`hplists.study.runner`: killing the process at any point and running the
same command again loses nothing and trains nothing twice. Trials that ended in
error (a failed run is not a result) are trained again on the next run.

The final list is written as a shipped named list (``nadamw-hplists-cpu``)
with its provenance by :meth:`StudyWorkflow.export_list`
(``hplists study export-list``).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from hplists._check import check_choice, check_int, check_real
from hplists._files import atomic_write
from hplists._version import __version__
from hplists.exceptions import InvalidParameterError
from hplists.hparams import HParams
from hplists.lists.constructed import ConstructedList
from hplists.lists.loo import LeaveOneOut
from hplists.progress import StageBar as _Bar
from hplists.progress import StepProgressFn
from hplists.scoring.matrix import TrialMatrix
from hplists.scoring.specs import WorkloadSpec
from hplists.store.base import TrialStore, point_id
from hplists.study import baselines as bl
from hplists.study.bayesopt import N_STARTUP_TRIALS, BayesOptSource, copy_prefix
from hplists.study.calibration import (
    CALIBRATION_POINTS,
    CALIBRATION_SEED,
    CALIBRATION_SPACE,
    CALIBRATION_STUDY,
    CALIBRATION_TRAIN_SEED,
    calibration_points,
)
from hplists.study.samples import resolve_sample
from hplists.trials import Executor, Source, StaticSource, TrainTask, run

__all__ = [
    "EXPORT_NAME",
    "STAGES",
    "StagePlan",
    "StageResult",
    "StudyConfig",
    "StudyLists",
    "StudyWorkflow",
    "package_list_path",
]

STAGES = ("broad", "lists", "reruns", "variants", "baselines")
MANIFEST = "paper001"  # the store's manifest name of this workflow
EXPORT_NAME = "nadamw-hplists-cpu"


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """What the study runs. The defaults are paper 001's.

    Attributes:
        workloads: the base workloads (default: every registered base workload).
        variants: the variants the final list runs on (default: every
            registered workload whose ``base`` is one of ``workloads``).
        points: size of the broad sample (200).
        seeds: rerun seeds per point, ``1..seeds`` (5).
        k: list length (5).
        tau: penalty factor of the cost ``C_tau`` (2).
        study: the broad study's name (default ``broad200``, or
            ``broad<points>`` for another sample size).
        sample_seed: scrambled-Halton seed of the broad sample.
        train_seed: training seed of the broad runs.
        baselines: which baseline studies to run (default: all).
        bo_budgets: trial budgets of the Bayesian-optimization baselines.
        bo_startup_trials: random points before the GP takes over.
        bo_sampler_seed: base seed of the GP sampler.
        random_seed: seed of the random-search baseline's points.
        errors: trials that ended in error when the lists are built: ``"raise"``
            (rerun the stage) or ``"inf"`` (count them as misses).

    Example:
        >>> c = StudyConfig(points=12, seeds=2)
        >>> c.broad_study, c.rerun_seeds, c.reruns_study
        ('broad12', (1, 2), 'broad12/reruns')
    """

    workloads: tuple[str, ...] | None = None
    variants: tuple[str, ...] | None = None
    points: int = CALIBRATION_POINTS
    seeds: int = 5
    k: int = 5
    tau: float = 2.0
    study: str | None = None
    sample_seed: int = CALIBRATION_SEED
    train_seed: int = CALIBRATION_TRAIN_SEED
    baselines: tuple[str, ...] | None = None
    bo_budgets: tuple[int, ...] = tuple(bl.BAYESOPT_STUDIES)
    bo_startup_trials: int = N_STARTUP_TRIALS
    bo_sampler_seed: int = 0
    random_seed: int = bl.RANDOM_SEARCH_SEED
    errors: Literal["raise", "inf"] = "raise"

    def __post_init__(self) -> None:
        for name in ("workloads", "variants", "baselines"):
            value = getattr(self, name)
            if value is not None:
                if isinstance(value, str):
                    raise InvalidParameterError(f"{name} must be a sequence of names, got the string "
                                     f"{value!r}")
                object.__setattr__(self, name, tuple(value))
        check_int("points", self.points, low=1)
        check_int("seeds", self.seeds, low=1)
        check_int("k", self.k, low=1, high=self.points)
        check_real("tau", self.tau, low=1.0)
        check_int("sample_seed", self.sample_seed, low=0)
        check_int("train_seed", self.train_seed, low=0)
        budgets = tuple(check_int("bo_budgets", b, low=1) for b in self.bo_budgets)
        object.__setattr__(self, "bo_budgets", tuple(sorted(set(budgets))))
        check_int("bo_startup_trials", self.bo_startup_trials, low=0)
        check_choice("errors", self.errors, ("raise", "inf"))
        if self.workloads is not None and len(self.workloads) < 2:
            raise InvalidParameterError(f"workloads must name at least 2 base workloads (leave-one-out "
                             f"needs them), got {list(self.workloads)}")
        known = [b.study for b in bl.fixed_baselines(n=self.k)] + list(self.bo_studies.values())
        for b in self.baselines or ():
            check_choice("baselines", b, known)

    @property
    def broad_study(self) -> str:
        """The broad study's name."""
        if self.study:
            return self.study
        return CALIBRATION_STUDY if self.points == CALIBRATION_POINTS else f"broad{self.points}"

    @property
    def rerun_seeds(self) -> tuple[int, ...]:
        """Training seeds of reruns, variants and baselines: ``1..seeds``."""
        return tuple(range(1, self.seeds + 1))

    @property
    def reruns_study(self) -> str:
        return f"{self.broad_study}/reruns"

    @property
    def variants_study(self) -> str:
        return f"{self.broad_study}/variants"

    @property
    def bo_studies(self) -> dict[int, str]:
        """Budget -> study of each Bayesian-optimization baseline."""
        return {n: bl.BAYESOPT_STUDIES.get(n, f"baseline/bo-gp-{n}") for n in self.bo_budgets}

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["broad_study"] = self.broad_study
        return d


@dataclasses.dataclass(frozen=True)
class StudyLists:
    """The lists derived from the broad study.

    Attributes:
        matrix: step fractions of the broad sample on the base workloads.
        final: the final list, built on all base workloads.
        loo: the leave-one-workload-out lists.
        indices: each matrix row's index in the broad sample.
    """

    matrix: TrialMatrix
    final: ConstructedList
    loo: LeaveOneOut
    indices: tuple[int, ...]

    def final_points(self) -> list[tuple[int, HParams]]:
        """``(sample index, point)`` of the final list, in priority order."""
        return [(self.indices[i], HParams.from_dict(self.matrix.points[i]))
                for i in self.final.indices]

    def held_out_points(self, workload: str) -> list[tuple[int, HParams]]:
        """``(sample index, point)`` of the list built without ``workload``."""
        for fold in self.loo.folds:
            if fold.name == workload:
                return [(self.indices[i], HParams.from_dict(self.matrix.points[i]))
                        for i in fold.built.indices]
        raise InvalidParameterError(f"unknown workload {workload!r}; the lists cover "
                         f"{list(self.matrix.names)}")

    def rerun_points(self) -> dict[str, list[tuple[int, HParams]]]:
        """Per base workload, the list points scored there (final list and its held-out list)."""
        out = {}
        for w in self.matrix.names:
            seen: dict[int, HParams] = dict(self.final_points())
            seen.update(self.held_out_points(w))
            out[w] = sorted(seen.items())
        return out

    def to_json(self) -> dict[str, Any]:
        """The lists as plain JSON (sample indices, points, costs, held-out fractions)."""
        def frac(x: float) -> float | str:
            return x if math.isfinite(x) else "inf"

        return {
            "workloads": list(self.matrix.names),
            "final": {"indices": [i for i, _ in self.final_points()],
                      "points": [p.to_dict() for _, p in self.final_points()],
                      "cost": self.final.cost,
                      "fractions": dict(zip(self.matrix.names,
                                            [frac(float(x)) for x in self.final.fractions],
                                            strict=True))},
            "leave_one_out": {
                f.name: {"indices": [self.indices[i] for i in f.built.indices],
                         "fraction": frac(f.fraction), "best_metric": f.best_metric}
                for f in self.loo.folds},
            "trained": self.loo.num_trained,
            "k": self.loo.k,
            "tau": self.loo.tau,
        }


@dataclasses.dataclass(frozen=True)
class StageResult:
    """What one stage did: trials trained, diverged and failed, and those already done."""

    stage: str
    trained: int = 0
    diverged: int = 0
    failed: int = 0
    already_done: int = 0
    studies: tuple[str, ...] = ()


class StudyWorkflow:
    """The study over one trial store (see the module docstring for the stages).

    Args:
        store: the trial store (e.g. :func:`hplists.store.open_store`).
        config: what to run.
        specs: workload name -> :class:`~hplists.scoring.specs.WorkloadSpec`
            (metric, direction, target, budget) for workloads whose target is
            not in the package's targets file, or to override it.
        executor: where trials train (default: this process; see
            :mod:`hplists.study.runner` and :mod:`hplists.study.ray_runner`).
        progress: ``True`` for a rich progress bar with ETA per stage, or a
            function called with ``(stage, steps_done, steps_total)``.

    Example:
        >>> import os, tempfile
        >>> from hplists.store import open_store
        >>> store = open_store(os.path.join(tempfile.mkdtemp(), "study.db"))
        >>> wf = StudyWorkflow(store, StudyConfig(workloads=("ctr_dlrm", "image_resnet")))
        >>> [p.stage for p in wf.plan(["broad"])], wf.plan(["broad"])[0].trials
        (['broad'], 400)
    """

    def __init__(self, store: TrialStore, config: StudyConfig | None = None, *,
                 specs: Mapping[str, WorkloadSpec] | None = None,
                 executor: Executor | None = None,
                 progress: bool | StepProgressFn | None = None) -> None:
        self.store = store
        self.config = config or StudyConfig()
        self._specs = dict(specs or {})
        self.executor = executor
        self._bar = _Bar(progress)
        self._workloads: list[Any] | None = None
        self._variants: list[Any] | None = None

    # ----------------------------------------------------------------------------- workloads

    @property
    def workloads(self) -> list[Any]:
        """The base workloads (instances), in the configured order."""
        if self._workloads is None:
            from hplists.workloads.registry import get_workload, workload_names

            names = self.config.workloads or tuple(workload_names(variants=False))
            if len(names) < 2:
                raise InvalidParameterError(f"the study needs at least 2 base workloads, found {list(names)}")
            self._workloads = [get_workload(n) for n in names]
            variants = [w.name for w in self._workloads if w.base is not None]
            if variants:
                raise InvalidParameterError(f"workloads must be base workloads; {variants} are variants "
                                 "(pass them as variants)")
        return self._workloads

    @property
    def variants(self) -> list[Any]:
        """The variants the final list runs on."""
        if self._variants is None:
            from hplists.workloads.registry import get_workload, workload_names

            bases = {w.name for w in self.workloads}
            if self.config.variants is None:
                names = [n for n in workload_names() if get_workload(n).base in bases]
            else:
                names = list(self.config.variants)
            self._variants = [get_workload(n) for n in names]
            orphans = [v.name for v in self._variants if v.base is None]
            if orphans:
                raise InvalidParameterError(f"variants must be variants of a base workload; {orphans} are "
                                 "base workloads")
        return self._variants

    def specs(self, names: Sequence[str]) -> dict[str, WorkloadSpec]:
        """Metric, direction, target and budget of each workload (given specs first)."""
        from hplists.scoring.specs import resolve_specs

        return resolve_specs(names, self._specs)

    def check_targets(self, stages: Sequence[str]) -> None:
        """A clear error, before anything trains, if a stage needs targets that are missing.

        The lists (and so reruns and variants) need the base workloads' targets;
        variants train without theirs (only their scoring needs them).
        """
        names: list[str] = []
        if any(s in stages for s in ("lists", "reruns", "variants")):
            names += [w.name for w in self.workloads]
        missing = []
        for n in names:
            try:
                self.specs([n])
            except ValueError:
                missing.append(n)
        if missing:
            raise InvalidParameterError(
                f"workload(s) {missing} have no target, and the lists need one on every base "
                "workload. Set them first (`hplists targets set`), give them with --specs FILE, "
                "or run only --stage broad,baselines"
            )

    # --------------------------------------------------------------------------------- stages

    def broad_points(self) -> list[HParams]:
        """The broad sample: the first ``points`` scrambled-Halton points of nadamw-broad.

        The indices the store holds keep their recorded points (:mod:`hplists.study.samples`).
        """
        return resolve_sample(self.store, self.config.broad_study,
                              calibration_points(self.config.points, self.config.sample_seed))

    def _broad_tasks(self) -> list[TrainTask]:
        pts = self.broad_points()
        return [TrainTask(self.config.broad_study, w, self.config.train_seed, tuple(pts),
                          tuple(range(len(pts)))) for w in self.workloads]

    def lists(self) -> StudyLists:
        """The final list and the leave-one-out lists, from the broad study's trials."""
        from hplists.lists.greedy import greedy_list
        from hplists.lists.loo import leave_one_out

        cfg = self.config
        names = [w.name for w in self.workloads]
        specs = self.specs(names)
        index = {point_id(p): i for i, p in enumerate(self.broad_points())}
        records = [r for r in self.store.trials(study=cfg.broad_study)
                   if r.point_id in index and r.workload in names]
        if not records:
            raise InvalidParameterError(f"study {cfg.broad_study!r} has no trials of the broad sample on "
                             f"{names}; run --stage broad first")
        try:
            matrix = TrialMatrix.from_records(records, specs, study=cfg.broad_study,
                                              workloads=names, errors=cfg.errors)
        except ValueError as e:
            raise InvalidParameterError(f"{e} (the broad stage is not finished: run --stage broad)") \
                from None
        final = greedy_list(matrix.fractions, cfg.k, cfg.tau)
        loo = leave_one_out(matrix, cfg.k, cfg.tau)
        return StudyLists(matrix, final, loo, tuple(index[p] for p in matrix.point_ids))

    def _rerun_tasks(self, lists: StudyLists) -> list[TrainTask]:
        by_name = {w.name: w for w in self.workloads}
        tasks = []
        for name, pts in lists.rerun_points().items():
            for s in self.config.rerun_seeds:
                tasks.append(TrainTask(self.config.reruns_study, by_name[name], s,
                                       tuple(p for _, p in pts), tuple(i for i, _ in pts)))
        return tasks

    def _variant_tasks(self, lists: StudyLists) -> list[TrainTask]:
        pts = lists.final_points()
        return [TrainTask(self.config.variants_study, v, s, tuple(p for _, p in pts),
                          tuple(i for i, _ in pts))
                for v in self.variants for s in self.config.rerun_seeds]

    def _fixed_baselines(self) -> list[bl.FixedBaseline]:
        cfg = self.config
        all_fixed = [dataclasses.replace(b, points=tuple(resolve_sample(self.store, b.study,
                                                                        b.points)))
                     for b in bl.fixed_baselines(random_seed=cfg.random_seed, n=cfg.k)]
        if cfg.baselines is None:
            return all_fixed
        return [b for b in all_fixed if b.study in cfg.baselines]

    def _bo_budgets(self) -> list[int]:
        cfg = self.config
        if cfg.baselines is None:
            return list(cfg.bo_budgets)
        return [n for n, s in cfg.bo_studies.items() if s in cfg.baselines]

    def _baseline_tasks(self) -> list[TrainTask]:
        # Workload-major: the engine keeps a workload's data and compiled programs cached.
        return [TrainTask(b.study, w, s, b.points, tuple(range(len(b.points))),
                          update_rule=b.update_rule)
                for w in self.workloads for b in self._fixed_baselines()
                for s in self.config.rerun_seeds]

    def _bo_source(self) -> BayesOptSource | None:
        budgets = self._bo_budgets()
        if not budgets:
            return None
        cfg = self.config
        return BayesOptSource(self.store, cfg.bo_studies[max(budgets)], self.workloads,
                              cfg.rerun_seeds, max(budgets), space=CALIBRATION_SPACE,
                              n_startup_trials=cfg.bo_startup_trials,
                              sampler_seed=cfg.bo_sampler_seed)

    def _execute(self, stage: str, sources: Sequence[Source], studies: Sequence[str],
                 already: int) -> StageResult:
        total = sum(s.remaining_work() for s in sources)
        tick = self._bar.start(stage, total)
        counts = {"trained": 0, "diverged": 0, "failed": 0}
        try:
            for source in sources:
                got = run(self.store, source, self.executor, progress=tick, retry_errors=True)
                for k in counts:
                    counts[k] += got[k]
        finally:
            self._bar.stop()
        return StageResult(stage, already_done=already, studies=tuple(studies), **counts)

    def run_stage(self, stage: str, lists: StudyLists | None = None) -> StageResult:
        """Runs one stage (``lists`` trains nothing; it checks that the lists can be built)."""
        check_choice("stage", stage, STAGES)
        if stage == "lists":
            self.lists()
            return StageResult("lists")
        if stage == "broad":
            source = StaticSource(self.store, self._broad_tasks())
            return self._execute(stage, [source], [self.config.broad_study], source.skipped)
        if stage in ("reruns", "variants"):
            lists = lists or self.lists()
            if stage == "reruns":
                tasks, study = self._rerun_tasks(lists), self.config.reruns_study
            else:
                tasks, study = self._variant_tasks(lists), self.config.variants_study
            source = StaticSource(self.store, tasks)
            return self._execute(stage, [source], [study], source.skipped)
        fixed = StaticSource(self.store, self._baseline_tasks())
        bo = self._bo_source()
        sources: list[Source] = [fixed] + ([bo] if bo is not None else [])
        studies = [b.study for b in self._fixed_baselines()]
        studies += [self.config.bo_studies[n] for n in self._bo_budgets()]
        already = fixed.skipped
        if bo is not None:
            already += bo.n_trials * len(self.workloads) * self.config.seeds \
                - bo.remaining_trials()
        result = self._execute(stage, sources, studies, already)
        if bo is not None:
            top = max(self._bo_budgets())
            for n in self._bo_budgets():
                if n < top:
                    copy_prefix(self.store, self.config.bo_studies[top],
                                self.config.bo_studies[n], n)
        return result

    def run(self, stages: Sequence[str] = STAGES, *,
            callback: Callable[[StageResult], None] | None = None) -> list[StageResult]:
        """Runs the stages in the workflow's order; resumable at any point.

        ``callback`` is called with each stage's result as soon as it is done.
        """
        stages = [check_choice("stage", s, STAGES) for s in stages]
        self.check_targets(stages)
        self.store.record_manifest(MANIFEST, self.manifest())
        out, lists = [], None
        for stage in STAGES:
            if stage not in stages:
                continue
            if stage in ("reruns", "variants") and lists is None:
                lists = self.lists()
            out.append(self.run_stage(stage, lists))
            if callback is not None:
                callback(out[-1])
        return out

    def manifest(self) -> dict[str, Any]:
        """What this study runs, as it records it in the store for the report to read.

        The report takes its study names from here (``hplists report``), so a study
        run with another ``k``, sample size or name is found without guessing.

        Example:
            >>> import os, tempfile
            >>> from hplists.store import open_store
            >>> wf = StudyWorkflow(open_store(os.path.join(tempfile.mkdtemp(), "s.db")),
            ...                    StudyConfig(points=12, k=3))
            >>> m = wf.manifest()
            >>> m["studies"]["broad"], m["studies"]["baseline:random-5"], m["k"]
            ('broad12', 'baseline/random-3', 3)
        """
        cfg = self.config
        studies = {"broad": cfg.broad_study, "reruns": cfg.reruns_study,
                   "variants": cfg.variants_study}
        for b in self._fixed_baselines():
            key = "random-5" if b.study.startswith("baseline/random-") else {
                "baseline/lr-sweep-wd0.5": "lr-wd0.5", "baseline/lr-sweep-wd1e-4": "lr-wd1e-4",
                "baseline/metz": "metz", "list/nadamw-paper": "nadamw-paper",
                "list/nadamw-algoperf-baseline": "nadamw-algoperf-baseline"}.get(b.study)
            if key is not None:
                studies[f"baseline:{key}"] = b.study
        for n in self._bo_budgets():
            if n in (5, 10):
                studies[f"baseline:bo-{n}"] = cfg.bo_studies[n]
        return {"workflow": "paper001", "studies": studies, "k": cfg.k, "tau": cfg.tau,
                "points": cfg.points, "seeds": cfg.seeds, "bo_budgets": list(cfg.bo_budgets),
                "hplists": __version__}

    # ----------------------------------------------------------------------------------- plan

    def plan(self, stages: Sequence[str] = STAGES) -> list[StagePlan]:
        """Trials each stage needs, how many are finished, and an estimate of the time left.

        Stages that depend on the lists are planned from the lists when the
        broad study is complete, else with an upper bound (``exact=False``).
        Time estimates use the mean recorded seconds per step of each workload
        in the store, times the recorded runs' wall-clock overhead
        (:func:`hplists.study.workloads_table.estimated_seconds_per_step`);
        ``None`` without any.
        """
        stages = [check_choice("stage", s, STAGES) for s in stages]
        seconds = self._seconds_per_step()
        lists = None
        if any(s in stages for s in ("reruns", "variants")):
            try:
                lists = self.lists()
            except ValueError:
                lists = None
        out = []
        for stage in stages:
            if stage == "lists":
                continue
            exact = True
            bo_trials = 0
            if stage == "broad":
                tasks = self._broad_tasks()
            elif stage in ("reruns", "variants"):
                if lists is not None:
                    tasks = (self._rerun_tasks(lists) if stage == "reruns"
                             else self._variant_tasks(lists))
                else:
                    exact = False
                    tasks = self._upper_bound_tasks(stage)
            else:
                tasks = self._baseline_tasks()
                budgets = self._bo_budgets()
                if budgets:
                    bo_trials = max(budgets) * len(self.workloads) * self.config.seeds
            out.append(self._plan_tasks(stage, tasks, exact, bo_trials, seconds))
        return out

    def _upper_bound_tasks(self, stage: str) -> list[TrainTask]:
        cfg = self.config
        pts = tuple(self.broad_points()[: cfg.k])
        if stage == "variants":
            return [TrainTask(cfg.variants_study, v, s, pts, tuple(range(len(pts))))
                    for v in self.variants for s in cfg.rerun_seeds]
        # At most the final list's k points and the held-out list's k others.
        both = tuple(self.broad_points()[: 2 * cfg.k])
        return [TrainTask(cfg.reruns_study, w, s, both, tuple(range(len(both))))
                for w in self.workloads for s in cfg.rerun_seeds]

    def _plan_tasks(self, stage: str, tasks: Sequence[TrainTask], exact: bool, bo_trials: int,
                    seconds: Mapping[str, float]) -> StagePlan:
        trials = sum(len(t.points) for t in tasks) + bo_trials
        done = 0
        if exact:
            done = StaticSource(self.store, tasks).skipped
            if bo_trials:
                bo = self._bo_source()
                assert bo is not None
                done += bo_trials - bo.remaining_trials()
        left_work: dict[str, int] = {}
        for t in tasks:
            left_work[t.workload.name] = left_work.get(t.workload.name, 0) + t.work
        if bo_trials:
            for w in self.workloads:
                left_work[w.name] = left_work.get(w.name, 0) + (
                    max(self._bo_budgets()) * self.config.seeds * w.step_budget)
        scale = (trials - done) / trials if trials else 0.0
        est: float | None = 0.0
        for name, steps in left_work.items():
            if name not in seconds:
                est = None
                break
            assert est is not None
            est += steps * scale * seconds[name]
        studies = sorted({t.study for t in tasks})
        if stage == "baselines":
            studies += [self.config.bo_studies[n] for n in self._bo_budgets()]
        return StagePlan(stage, tuple(studies), trials, done, exact, est)

    def _seconds_per_step(self) -> dict[str, float]:
        """Wall seconds per step of each workload, for the plan's estimates
        (:func:`hplists.study.workloads_table.estimated_seconds_per_step`)."""
        from hplists.study.workloads_table import estimated_seconds_per_step

        return estimated_seconds_per_step([self.store], [*self.workloads, *self.variants])

    # -------------------------------------------------------------------------------- export

    def export_list(self, path: str | Path | None = None, *, name: str = EXPORT_NAME,
                    overwrite: bool = False) -> tuple[Any, Path]:
        """Writes the final list as a named list file with its provenance.

        Args:
            path: the file (default: ``stores/lists/<name>.json`` under the working
                directory). The package's ``lists/data/<name>.json`` makes it a
                shipped list: pass :func:`package_list_path` on purpose
                (``hplists study export-list --into-package``).
            name: the list's name.
            overwrite: replace an existing file whose points differ.

        Returns:
            The :class:`~hplists.lists.NamedList` and the path written.
        """

        from hplists.lists.registry import NamedList

        cfg = self.config
        lists = self.lists()
        specs = self.specs([w.name for w in self.workloads])
        final = lists.final_points()
        names = list(lists.matrix.names)
        provenance = {
            "study": cfg.broad_study,
            "store": Path(str(getattr(self.store, "path", "?"))).name,
            "space": CALIBRATION_SPACE,
            "sample": {"points": cfg.points, "method": "halton", "seed": cfg.sample_seed,
                       "train_seed": cfg.train_seed},
            "sample_indices": [i for i, _ in final],
            "method": "greedy (paper 001, Algorithm 1)",
            "k": cfg.k,
            "tau": cfg.tau,
            "cost": lists.final.cost,
            "workloads": names,
            "workload_versions": {w.name: w.version for w in self.workloads},
            "targets": {n: specs[n].to_dict() for n in names},
            "step_fractions": {n: (float(f) if math.isfinite(f) else "inf")
                               for n, f in zip(names, lists.final.fractions, strict=True)},
            "trained": int(lists.final.trained[-1]),
            "date": datetime.datetime.now(datetime.UTC).date().isoformat(),
            "hplists": __version__,
        }
        named = NamedList(
            name=name,
            description=f"{cfg.k}-point NAdamW list built greedily (tau={cfg.tau:g}) from "
            f"{cfg.points} nadamw-broad points on hplists' {len(names)} built-in CPU workloads.",
            points=tuple(p for _, p in final),
            optimizer="nadamw",
            source=f"hplists study (paper 001's method) on the built-in workloads, study "
            f"{cfg.broad_study!r}; reproduce with `hplists study` and `hplists study "
            "export-list`.",
            provenance=provenance,
        )
        path = Path("stores") / "lists" / f"{name}.json" if path is None else Path(path)
        payload = {**named.to_dict(),
                   "schedule": "linear warmup from 0, then cosine decay to 0 at the step budget"}
        if path.exists() and not overwrite:
            old = json.loads(path.read_text())
            if old.get("points") != payload["points"]:
                raise InvalidParameterError(f"list file {str(path)!r} exists with other points; pass "
                                 "overwrite=True (--force) to replace it")
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(payload, indent=2) + "\n")
        return named, path


def package_list_path(name: str) -> Path:
    """Where the package ships the named list ``name`` (``hplists/lists/data/<name>.json``).

    Example:
        >>> package_list_path("nadamw-paper").name
        'nadamw-paper.json'
    """
    from importlib import resources

    return Path(str(resources.files("hplists.lists.data").joinpath(f"{name}.json")))


@dataclasses.dataclass(frozen=True)
class StagePlan:
    """Trials a stage needs.

    Attributes:
        stage: the stage.
        studies: the studies its trials go to.
        trials: trials it needs.
        done: trials already finished.
        exact: ``False`` when the counts are upper bounds (lists not built yet).
        seconds_left: estimated wall seconds left (``None``: no recorded trials to
            estimate from).
    """

    stage: str
    studies: tuple[str, ...]
    trials: int
    done: int
    exact: bool
    seconds_left: float | None
