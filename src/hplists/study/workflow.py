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

:class:`StudyWorkflow` is a :class:`~hplists.study.staged.Study`: every trial
goes through the claim/run/finish protocol of the trial loop
(:mod:`hplists.trials`): killing the process at any point and running the
same command again loses nothing and trains nothing twice. Trials that ended in
error (a failed run is not a result) are trained again on the next run. The
workflow records its manifest (:meth:`StudyWorkflow.manifest`) in the store
under ``paper001``.

The final list is written as a shipped named list (``nadamw-hplists-cpu``)
with its provenance by :meth:`StudyWorkflow.export_list`
(``hplists study export-list``).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from hplists._check import check_choice, check_int, check_real
from hplists._files import atomic_write
from hplists._version import __version__
from hplists.exceptions import InvalidParameterError
from hplists.hparams import HParams
from hplists.json_numbers import encode_float
from hplists.lists.constructed import ConstructedList
from hplists.lists.loo import LeaveOneOut
from hplists.progress import StepProgressFn
from hplists.scoring.matrix import TrialMatrix
from hplists.scoring.workload_specs import WorkloadSpec
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
from hplists.study.staged import SearchRuns, StagePlan, StageResult, StageWork, Study
from hplists.trials import Executor, TrainTask

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
MANIFEST = "paper001"  # the study's name, and its manifest's in the store
EXPORT_NAME = "nadamw-hplists-cpu"
DEFAULT_STORE = "stores/study.db"


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
        known = [b.study_at(self.k) for b in bl.baselines() if b.points is not None]
        known += list(self.bo_studies.values())
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
        return {n: bl.bayesopt_study(n) for n in self.bo_budgets}

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
        frac = encode_float  # inf: "Infinity" (hplists.json_numbers)

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


class StudyWorkflow(Study):
    """The study over one trial store (see the module docstring).

    Args:
        store: the trial store (e.g. :func:`hplists.store.open_store`).
        config: what to run.
        specs: workload name -> :class:`~hplists.scoring.workload_specs.WorkloadSpec`
            (metric, direction, target, budget) for workloads whose target is
            not in the package's targets file, or to override it.
        executor: where trials train (default: this process; see
            :mod:`hplists.trials.executors` and :mod:`hplists.trials.ray`).
        progress: ``True`` for a rich progress bar with ETA per stage, or a
            function called with ``(stage, steps_done, steps_total)``.
        timing_stores: further stores whose recorded trials give the plan's
            seconds per step.

    Example:
        >>> import os, tempfile
        >>> from hplists.store import open_store
        >>> store = open_store(os.path.join(tempfile.mkdtemp(), "study.db"))
        >>> wf = StudyWorkflow(store, StudyConfig(workloads=("ctr_dlrm", "image_resnet")))
        >>> [p.stage for p in wf.plan(["broad"])], wf.plan(["broad"])[0].trials
        (['broad'], 400)
    """

    name = MANIFEST
    stages = STAGES
    default_store = DEFAULT_STORE
    config_class = StudyConfig
    min_workloads = 2
    recorded_options = ("points", "seeds", "tau")

    def __init__(self, store: TrialStore, config: StudyConfig | None = None, *,
                 specs: Mapping[str, WorkloadSpec] | None = None,
                 executor: Executor | None = None,
                 progress: bool | StepProgressFn | None = None,
                 timing_stores: Sequence[Any] = ()) -> None:
        super().__init__(store, config, specs=specs, executor=executor, progress=progress,
                         timing_stores=timing_stores)
        self.config: StudyConfig
        self._variants: list[Any] | None = None
        self._planned_lists: dict[str, StudyLists | None] | None = None

    # ----------------------------------------------------------------------------- workloads

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

    def timed_workloads(self) -> list[Any]:
        """The base workloads and the variants (the plan estimates each one's time)."""
        return [*self.workloads, *self.variants]

    def specs(self, names: Sequence[str]) -> dict[str, WorkloadSpec]:
        """Metric, direction, target and budget of each workload (given specs first)."""
        from hplists.scoring.workload_specs import resolve_specs

        return resolve_specs(names, self.given_specs)

    def check_ready(self, stages: Sequence[str]) -> None:
        """:meth:`check_targets`: the lists need every base workload's target."""
        self.check_targets(stages)

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

    def baselines(self) -> list[bl.Baseline]:
        """The baselines of known points this study runs, in order (their records)."""
        cfg = self.config
        return [b for b in bl.baselines() if b.points is not None
                and (cfg.baselines is None or b.study_at(cfg.k) in cfg.baselines)]

    def fixed_baselines(self) -> list[bl.FixedBaseline]:
        """:meth:`baselines` with their points, as the store recorded them
        (:mod:`hplists.study.samples`)."""
        cfg = self.config
        setup = bl.BaselineSetup(cfg.k, cfg.random_seed)
        out = []
        for b in self.baselines():
            fixed = b.fixed(setup)
            out.append(dataclasses.replace(fixed, points=tuple(
                resolve_sample(self.store, fixed.study, fixed.points))))
        return out

    def _bo_budgets(self) -> list[int]:
        cfg = self.config
        if cfg.baselines is None:
            return list(cfg.bo_budgets)
        return [n for n, s in cfg.bo_studies.items() if s in cfg.baselines]

    def _baseline_tasks(self) -> list[TrainTask]:
        # Workload-major: the engine keeps a workload's data and compiled programs cached.
        return [TrainTask(b.study, w, s, b.points, tuple(range(len(b.points))),
                          update_rule=b.update_rule)
                for w in self.workloads for b in self.fixed_baselines()
                for s in self.config.rerun_seeds]

    def _bo_runs(self) -> SearchRuns | None:
        """The Bayesian-optimization runs of the largest budget (smaller ones are its prefixes)."""
        budgets = self._bo_budgets()
        if not budgets:
            return None
        cfg = self.config
        top = max(budgets)

        def source(workloads: Sequence[Any]) -> BayesOptSource:
            return BayesOptSource(self.store, cfg.bo_studies[top], workloads, cfg.rerun_seeds,
                                  top, space=CALIBRATION_SPACE,
                                  n_startup_trials=cfg.bo_startup_trials,
                                  sampler_seed=cfg.bo_sampler_seed)

        return SearchRuns(cfg.bo_studies[top], tuple(self.workloads), cfg.rerun_seeds, top,
                          source)

    # ------------------------------------------------------------------------- stage work

    def stage_work(self, stage: str) -> StageWork | None:
        """What ``stage`` trains: the reruns and variants from the lists when the broad study
        is complete, else an upper bound (``exact=False``); ``lists`` trains nothing."""
        check_choice("stage", stage, STAGES)
        if stage == "lists":
            return None
        if stage == "broad":
            return StageWork(stage, tuple(self._broad_tasks()),
                             studies=(self.config.broad_study,))
        if stage in ("reruns", "variants"):
            lists = self._lists_if_built()
            if lists is None:
                return StageWork(stage, tuple(self._upper_bound_tasks(stage)), exact=False,
                                 studies=(self._stage_study(stage),))
            return self._lists_work(stage, lists)
        tasks = tuple(self._baseline_tasks())
        bo = self._bo_runs()
        studies = (*sorted({t.study for t in tasks}),
                   *(self.config.bo_studies[n] for n in self._bo_budgets()))
        return StageWork(stage, tasks, () if bo is None else (bo,), studies=studies)

    def _stage_study(self, stage: str) -> str:
        return self.config.reruns_study if stage == "reruns" else self.config.variants_study

    def _lists_work(self, stage: str, lists: StudyLists) -> StageWork:
        tasks = self._rerun_tasks(lists) if stage == "reruns" else self._variant_tasks(lists)
        return StageWork(stage, tuple(tasks), studies=(self._stage_study(stage),))

    def _lists_if_built(self) -> StudyLists | None:
        """The lists, or ``None`` while the broad study is not complete (once per plan)."""
        cache = self._planned_lists
        if cache is not None and "lists" in cache:
            return cache["lists"]
        try:
            lists: StudyLists | None = self.lists()
        except ValueError:
            lists = None
        if cache is not None:
            cache["lists"] = lists
        return lists

    def run_stage(self, stage: str, lists: StudyLists | None = None) -> StageResult:
        """Runs one stage (``lists`` trains nothing; it checks that the lists can be built)."""
        check_choice("stage", stage, STAGES)
        if stage == "lists":
            self.lists()
            return StageResult("lists")
        if stage in ("reruns", "variants"):
            return self.execute(self._lists_work(stage, lists or self.lists()))
        result = super().run_stage(stage)
        if stage == "baselines":  # the smaller BO budgets: prefixes of the largest one's runs
            budgets = self._bo_budgets()
            for n in budgets:
                if n < max(budgets):
                    copy_prefix(self.store, self.config.bo_studies[max(budgets)],
                                self.config.bo_studies[n], n)
        return result

    def run_stages(self, stages: Sequence[str]) -> Iterator[StageResult]:
        """Runs ``stages`` in the workflow's order; the reruns and variants share the lists."""
        lists = None
        for stage in STAGES:
            if stage not in stages:
                continue
            if stage in ("reruns", "variants") and lists is None:
                lists = self.lists()
            yield self.run_stage(stage, lists)

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
        for b in self.baselines():
            studies[f"baseline:{b.key}"] = b.study_at(cfg.k)
        bo_keys = {b.bo_budget: b.key for b in bl.baselines() if b.bo_budget is not None}
        for n in self._bo_budgets():
            if n in bo_keys:
                studies[f"baseline:{bo_keys[n]}"] = cfg.bo_studies[n]
        return {"workflow": "paper001", "studies": studies, "k": cfg.k, "tau": cfg.tau,
                "points": cfg.points, "seeds": cfg.seeds, "bo_budgets": list(cfg.bo_budgets),
                "hplists": __version__}

    # ----------------------------------------------------------------------------------- plan

    def plan(self, stages: Sequence[str] | None = None) -> list[StagePlan]:
        """Trials each stage needs, how many are finished, and an estimate of the time left.

        Stages that depend on the lists are planned from the lists when the
        broad study is complete, else with an upper bound (``exact=False``).
        Time estimates: :meth:`~hplists.study.staged.Study.seconds_per_step`.
        """
        self._planned_lists = {}  # the lists are built once for the whole plan
        try:
            return super().plan(stages)
        finally:
            self._planned_lists = None

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
            "step_fractions": {n: encode_float(float(f))
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

    def export_lists(self, output: str | Path | None = None, *, overwrite: bool = False,
                     name: str = EXPORT_NAME) -> list[str]:
        """:meth:`export_list`: the final list as one named list file; its path."""
        return [str(self.export_list(output, name=name, overwrite=overwrite)[1])]


def package_list_path(name: str) -> Path:
    """Where the package ships the named list ``name`` (``hplists/lists/data/<name>.json``).

    Example:
        >>> package_list_path("nadamw-paper").name
        'nadamw-paper.json'
    """
    from importlib import resources

    return Path(str(resources.files("hplists.lists.data").joinpath(f"{name}.json")))
