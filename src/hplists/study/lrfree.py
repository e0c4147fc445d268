"""The learning-rate-free benchmark of paper 002 on the built-in library: one resumable study.

Stages (``hplists study run lrfree --stage ...``), each a set of studies in the store:

1. ``defaults`` (002 Sec. 4, Table 4): every method of
   :data:`hplists.optim.lrfree.METHODS` with its literature defaults, "out of
   the box" (no relative schedule, regularization off), and the evidence-based
   defaults of the baselines: NAdamW and AdamW at paper 001's first point
   (Table 10) and at AlgoPerf's NAdamW baseline point, and Schedule-Free AdamW
   at the AlgoPerf self-tuning submission's point (:data:`SFADAMW_ALGOPERF`).
   Seed 0 on every base workload; a row that reaches any target is run on
   seeds ``1..seeds - 1`` too. Studies ``lrfree/defaults/<row>``.
2. ``calibration`` (002 Sec. 3.2 and 5.1): a scrambled-Halton search of
   ``points`` points per (method, horizon) (:data:`SEARCHES`), one run each
   (seed 0) on every base workload. AdamW and NAdamW search ``lr-free-broad``
   (with the learning rate); the learning-rate-free methods search
   ``lr-free-broad-no-lr`` restricted to what each takes (DoG and COCOB have no
   betas, MoMo no second moment); Schedule-Free AdamW searches
   ``lr-free-broad`` without a horizon. Studies ``lrfree/<method>/h<percent>``.
3. ``candidates`` (002 Sec. 3.2, App. E): the ``top`` (3) points of each
   complete search by ``C_tau`` (the geometric mean of step fractions, misses
   at ``tau``; paper 001 Sec. 2.5), ties broken by the distance of the best
   metrics to the targets (:mod:`hplists.scoring.ranking`), rerun on seeds
   ``1..seeds``; and the AlgoPerf Schedule-Free submission
   (:data:`SFADAMW_ALGOPERF`, rule ``sfadamw_algoperf``) on the same seeds.
   Studies ``<search study>/candidates``.

Nothing else trains: the selection of each (method, horizon)'s representative
by the AlgoPerf benchmark score over all candidates together (Table 6) and the
lists are computed from the store (:meth:`LrFreeStudy.candidates`).

:class:`LrFreeStudy` is a :class:`~hplists.study.staged.Study`: every trial
goes through the trial loop (:func:`hplists.trials.loop.run`: claim, train,
record): killing the process at any moment and running the same command again
loses nothing and trains nothing twice. The study records its manifest
(:meth:`LrFreeStudy.manifest`) in the store under ``lrfree``. Each workload's
maximum is AlgoPerf's self-tuning budget ``M = 3 T`` (:data:`SELF_TUNING_FACTOR`):
a trial with horizon ``h`` trains ``int(h M)`` steps, one without a horizon
``M``, and the plan counts them so; time to target is a fraction of ``M``.

Example:
    >>> import os, tempfile
    >>> from hplists.store import open_store
    >>> st = LrFreeStudy(open_store(os.path.join(tempfile.mkdtemp(), "lrfree.db")),
    ...                  LrFreeConfig(workloads=("ctr_dlrm", "image_resnet"), points=4, k=2))
    >>> [(p.stage, p.trials) for p in st.plan(["defaults", "calibration"])]
    [('defaults', 160), ('calibration', 176)]
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from hplists._check import check_choice, check_int, check_real
from hplists._files import atomic_write
from hplists.exceptions import InvalidParameterError
from hplists.hparams import HParams
from hplists.json_numbers import encode_float
from hplists.method_point import SELF_TUNING_FACTOR
from hplists.progress import StepProgressFn
from hplists.store.base import TrialStore
from hplists.study.samples import resolve_sample
from hplists.study.staged import StagePlan, StageResult, StageWork, Study
from hplists.trials import Executor, StaticSource, TrainTask

__all__ = [
    "DEFAULT_STORE",
    "PAPER_POOL",
    "POOLS",
    "SEARCHES",
    "SFADAMW_ALGOPERF",
    "STAGES",
    "Candidate",
    "DefaultsRow",
    "LrFreeConfig",
    "LrFreeStudy",
    "Search",
    "in_paper_pool",
]

STAGES = ("defaults", "calibration", "candidates")
DEFAULT_STORE = "stores/lrfree.db"

# M = SELF_TUNING_FACTOR * T (hplists.method_point, with its source): T, the budget whose
# 0.75 T set the targets, is the step hint's analog here.

# The AlgoPerf v0.5 self-tuning submission of Schedule-Free AdamW, read from its code
# (mlcommons/submissions_algorithms: previous_leaderboards/algoperf_v05/submissions/
# self_tuning/schedule_free_adamw/submission.py), trained with its own update rule
# (hplists.optim.lrfree.sfadamw_algoperf: r = 0.75, which optax's schedule_free lacks).
# Warmup: int(0.02 * 0.75 * step_hint) steps = 1.5% of T = 0.5% of M = 3 T. Label
# smoothing 0.2. Dropout: the submission keeps each AlgoPerf workload's default (0.1 on
# OGBG, Conformer, DeepSpeech and WMT; 0 on Criteo, fastMRI and ViT); a point has one rate,
# so it takes 0.1, the value in the submission's HPARAMS. eps 1e-8 (its default).
SFADAMW_ALGOPERF: dict[str, float] = {
    "learning_rate": 0.0025, "beta1": 0.9, "beta2": 0.9955159689799007,
    "weight_decay": 0.08121616522670176, "warmup_fraction": 0.02 * 0.75 / SELF_TUNING_FACTOR,
    "weight_lr_power": 2.0, "r": 0.75, "eps": 1e-8, "dropout_rate": 0.1,
    "label_smoothing": 0.2,
}
SFADAMW_ALGOPERF_RULE = "sfadamw_algoperf"

# Methods whose 50% search decides whether they get the 33% and 66% searches too (paper
# 002 Sec. 5.1: only methods with a point that trains more than 2 workloads go on).
ADAPTIVE_METHODS = ("dog", "momo_adam", "cocob")
ADAPTIVE_MIN_HITS = 3  # "more than 2 workloads"

# Paper 002's selection pool (App. E, Table 6): the top 3 candidates of the AdamW, NadamW,
# Prodigy and Mechanic (w. Adam) searches at 33%, 50% and 66%, 36 in all.
PAPER_POOL = ("adamw", "nadamw", "prodigy", "mechanic_adam")
POOLS = ("paper", "extended")


@dataclasses.dataclass(frozen=True)
class Search:
    """One quasi-random search: a method at a horizon (``None``: it has none).

    Example:
        >>> Search("prodigy", 0.5).study, Search("sfadamw").label
        ('lrfree/prodigy/h50', 'Schedule-Free AdamW')
    """

    method: str
    horizon: float | None = None

    def __post_init__(self) -> None:
        from hplists.optim.rules import RULES

        check_choice("method", self.method, tuple(RULES))
        if self.horizon is not None:
            check_real("horizon", self.horizon, 0.0, 1.0, low_open=True)

    @property
    def study(self) -> str:
        if self.horizon is None:
            return f"lrfree/{self.method}"
        return f"lrfree/{self.method}/h{round(self.horizon * 100)}"

    @property
    def label(self) -> str:
        name = _label(self.method)
        return name if self.horizon is None else f"{name} {round(self.horizon * 100)}%"

    def points(self, n: int, seed: int) -> list[dict[str, float]]:
        """The search's first ``n`` scrambled-Halton points, with the horizon (and constants)."""
        out = []
        for p in self.space().sample(n, seed=seed):
            d = p.to_dict() if isinstance(p, HParams) else dict(p)
            if self.method == "prodigy":
                d["safeguard_warmup"] = 1.0  # paper 002 Sec. 2.3: needed with a warmup
            if self.horizon is not None:
                d["horizon"] = float(self.horizon)
            out.append(d)
        return out

    def space(self) -> Any:
        """The search space: Table 3 of paper 002, restricted to what the method takes."""
        from hplists.space import get_space
        from hplists.space.space import SearchSpace

        if self.method in ("adamw", "nadamw"):
            return get_space("lr-free-broad")
        from hplists.optim.lrfree import get_method

        m = get_method(self.method)
        base = get_space("lr-free-broad" if not m.learning_rate_free else "lr-free-broad-no-lr")
        takes = set(m.hyperparameters) | {"warmup_fraction", "dropout_rate", "label_smoothing"}
        dims = tuple(d for d in base.dimensions if d.name.removeprefix("one_minus_") in takes)
        return SearchSpace(f"{base.name}/{self.method}", dims, optimizer=self.method,
                           description=f"{base.name} restricted to what {m.label} takes",
                           source=base.source)


# Paper 002's initial search at 50% for one method per family (the Adam variant where there is
# one: MoMo is searched as MoMo-Adam), the three horizons for AdamW, NAdamW, Prodigy and
# Mechanic (Sec. 5.2), and Schedule-Free AdamW (no horizon). D-Adapt and DoWG are skipped as
# the paper does: Prodigy succeeds D-Adapt, DoWG is close to DoG. Ordered so that the
# initial search (Appendix D) completes first.
SEARCHES: tuple[Search, ...] = (
    *(Search(m, 0.5) for m in ("nadamw", "adamw", "prodigy", "mechanic_adam", "dog",
                               "momo_adam", "cocob")),
    Search("sfadamw"),
    *(Search(m, h) for h in (0.33, 0.66) for m in ("nadamw", "adamw", "prodigy",
                                                   "mechanic_adam")),
)


def _label(rule: str) -> str:
    if rule == SFADAMW_ALGOPERF_RULE:
        return "Schedule-Free AdamW (AlgoPerf)"
    if rule in ("adamw", "nadamw"):
        return {"adamw": "AdamW", "nadamw": "NadamW"}[rule]
    from hplists.optim.lrfree import METHODS

    return METHODS[rule].label if rule in METHODS else rule


@dataclasses.dataclass(frozen=True)
class DefaultsRow:
    """One row of the defaults table: a method (update rule) at one fixed point."""

    name: str
    rule: str
    point: Mapping[str, float]
    label: str

    @property
    def study(self) -> str:
        return f"lrfree/defaults/{self.name}"


def defaults_rows() -> list[DefaultsRow]:
    """The rows of the ``defaults`` stage, in table order (see the module docstring).

    Example:
        >>> [r.name for r in defaults_rows()][-5:]
        ['nadamw-paper001', 'adamw-paper001', 'nadamw-algoperf', 'adamw-algoperf', 'sfadamw-algoperf']
    """
    from hplists.lists import get_list
    from hplists.optim.lrfree import METHODS

    rows = [DefaultsRow(m.name, m.name, dict(m.defaults), f"{m.label} (literature defaults)")
            for m in METHODS.values()]
    paper_point = get_list("nadamw-paper").points[0]
    algoperf_point = get_list("nadamw-algoperf-baseline").points[0]
    assert isinstance(paper_point, HParams) and isinstance(algoperf_point, HParams)  # nadamw lists
    paper = paper_point.to_dict()
    algoperf = algoperf_point.to_dict()
    for rule in ("nadamw", "adamw"):
        rows.append(DefaultsRow(f"{rule}-paper001", rule, paper,
                                f"{_label(rule)} (paper 001 Table 10, point 1)"))
    for rule in ("nadamw", "adamw"):
        rows.append(DefaultsRow(f"{rule}-algoperf", rule, algoperf,
                                f"{_label(rule)} (AlgoPerf baseline point)"))
    rows.append(DefaultsRow("sfadamw-algoperf", SFADAMW_ALGOPERF_RULE, dict(SFADAMW_ALGOPERF),
                            "Schedule-Free AdamW (AlgoPerf self-tuning submission)"))
    return rows


@dataclasses.dataclass(frozen=True)
class LrFreeConfig:
    """What the study runs. The defaults are paper 002's.

    Attributes:
        workloads: the base workloads (default: every registered base workload).
        points: points per search (200).
        seeds: seeds of the candidates' reruns ``1..seeds`` and of the defaults
            rows that reach a target ``0..seeds-1`` (5).
        top: candidates per search (3).
        tau: ``C_tau``'s penalty factor, for ranking a search's points (2).
        k: list length for the lists built from each search (5).
        searches: the (method, horizon) searches (:data:`SEARCHES`).
        sample_seed: scrambled-Halton seed of every search's sample.
        train_seed: training seed of the defaults and the searches.
        budget_factor: each workload's maximum ``M = budget_factor * T``
            (:data:`SELF_TUNING_FACTOR`): a trial at horizon ``h`` trains
            ``int(h M)`` steps, one without a horizon ``M``, and time to target is
            a fraction of ``M``.
        adaptive: add the 33% and 66% searches of each method of
            :data:`ADAPTIVE_METHODS` whose 50% search has a point that trains
            more than 2 workloads (paper 002 Sec. 5.1).
        pin_workers: train in worker processes pinned to one core each
            (:data:`hplists.workloads.engine.workers.PIN_ENV`): truly
            single-threaded XLA, faster side by side; every trial of a store
            must be trained the same way, since the bits differ.
    """

    workloads: tuple[str, ...] | None = None
    points: int = 200
    seeds: int = 5
    top: int = 3
    tau: float = 2.0
    k: int = 5
    searches: tuple[Search, ...] = SEARCHES
    sample_seed: int = 0
    train_seed: int = 0
    budget_factor: int = SELF_TUNING_FACTOR
    adaptive: bool = True
    pin_workers: bool = True

    def __post_init__(self) -> None:
        check_int("budget_factor", self.budget_factor, low=1)
        if self.workloads is not None:
            if isinstance(self.workloads, str):
                raise InvalidParameterError(f"workloads must be a sequence of names, got the string "
                                 f"{self.workloads!r}")
            object.__setattr__(self, "workloads", tuple(self.workloads))
        check_int("points", self.points, low=1)
        check_int("seeds", self.seeds, low=1)
        check_int("top", self.top, low=1, high=self.points)
        check_int("k", self.k, low=1, high=self.points)
        check_real("tau", self.tau, low=1.0)
        check_int("sample_seed", self.sample_seed, low=0)
        check_int("train_seed", self.train_seed, low=0)
        searches = tuple(self.searches)
        if not all(isinstance(s, Search) for s in searches):
            raise InvalidParameterError(f"searches must be Search objects, got {searches!r}")
        studies = [s.study for s in searches]
        if len(set(studies)) != len(studies):
            raise InvalidParameterError(f"searches must be distinct, got {studies}")
        object.__setattr__(self, "searches", searches)


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A rerun candidate: a search's point (or the AlgoPerf Schedule-Free point)."""

    label: str
    search: Search
    index: int  # the point's index in its search's sample (-1: the AlgoPerf point)
    point: Mapping[str, float]

    @property
    def study(self) -> str:
        return f"{self.search.study}/candidates"


def in_paper_pool(candidate: Candidate) -> bool:
    """Whether paper 002's selection (Table 6) scores this candidate: :data:`PAPER_POOL`.

    Example:
        >>> in_paper_pool(Candidate("x", Search("prodigy", 0.33), 4, {}))
        True
        >>> in_paper_pool(Candidate("x", Search("dog", 0.5), 4, {}))
        False
    """
    s = candidate.search
    return candidate.index >= 0 and s.method in PAPER_POOL and s.horizon is not None


@dataclasses.dataclass(frozen=True)
class ScoredCandidate:
    """A candidate's reruns: median step fraction and best metric per workload, and its score.

    Attributes:
        candidate: the candidate.
        group: the (method, horizon) it represents (its search's label, or
            ``"Schedule-Free AdamW (AlgoPerf)"``).
        fractions: workload -> median over seeds of ``t / T`` (``inf``: missed).
        best: workload -> median over seeds of the best validation metric.
        score: AlgoPerf benchmark score over all scored candidates together.
    """

    candidate: Candidate
    group: str
    fractions: Mapping[str, float]
    best: Mapping[str, float]
    score: float

    @property
    def targets(self) -> int:
        return sum(math.isfinite(f) for f in self.fractions.values())


@dataclasses.dataclass(frozen=True)
class SearchLists:
    """Paper 001's lists built from one search (seed 0): final and leave-one-out.

    Attributes:
        search: the search.
        final: the ``k``-point greedy list on every base workload (rows of ``matrix``).
        indices: the final list's sample indices.
        curve: leave-one-workload-out results for list sizes ``1..k``: size 1 is
            the single calibrated default chosen without the held-out workload.
        matrix: the search's step fractions.
    """

    search: Search
    final: Any
    indices: tuple[int, ...]
    curve: Any
    matrix: Any


class LrFreeStudy(Study):
    """Paper 002's study over one trial store (see the module docstring).

    Args:
        store: the trial store.
        config: what to run.
        specs: workload name -> :class:`~hplists.scoring.workload_specs.WorkloadSpec`,
            overriding the package's targets.
        executor: where trials train (default: this process).
        progress: ``True`` for a progress bar with ETA per stage, or a function
            called with ``(stage, steps_done, steps_total)``.
        timing_stores: further stores whose recorded trials give the plan's
            seconds per step (e.g. the paper-001 study's).
    """

    name = "lrfree"
    stages = STAGES
    default_store = DEFAULT_STORE
    config_class = LrFreeConfig
    timing_store_paths = ("stores/study.db",)  # paper 001's study: the same workloads
    recorded_options = ("points", "seeds", "tau")
    plan_notes = ("a trial at horizon h costs int(h M) steps (M = 3 T, AlgoPerf's self-tuning "
                  "budget)",)
    nothing_to_export = ("no learning-rate-free method has a scored representative that "
                         "reaches a target yet (the candidates stage writes them)")

    def __init__(self, store: TrialStore, config: LrFreeConfig | None = None, *,
                 specs: Mapping[str, Any] | None = None, executor: Executor | None = None,
                 progress: bool | StepProgressFn | None = None,
                 timing_stores: Sequence[Any] = ()) -> None:
        super().__init__(store, config, specs=specs, executor=executor, progress=progress,
                         timing_stores=timing_stores)
        self.config: LrFreeConfig

    def specs(self) -> dict[str, Any]:
        """Workload specs with the study's maximum ``M = budget_factor * T`` as step budget.

        The targets are the workloads' own: AlgoPerf uses the same targets in
        both tuning rulesets.
        """
        from hplists.scoring.workload_specs import resolve_specs

        f = self.config.budget_factor
        return {n: dataclasses.replace(sp, step_budget=f * sp.step_budget) for n, sp in
                resolve_specs([w.name for w in self.workloads], self.given_specs).items()}

    def max_steps(self, workload: Any) -> int:
        """The workload's maximum ``M = budget_factor * T`` (AlgoPerf's self-tuning budget).

        Example:
            >>> from hplists.workloads.registry import get_workload
            >>> LrFreeStudy(None).max_steps(get_workload("image_resnet"))  # T = 400
            1200
        """
        return self.config.budget_factor * int(workload.step_budget)

    # ---------------------------------------------------------------------------- tasks

    def _tasks(self, study: str, rule: str, points: Sequence[Mapping[str, float]],
               indices: Sequence[int], seeds: Sequence[int]) -> list[TrainTask]:
        # Workload-major: the engine keeps a workload's data and programs cached. A single
        # point trains alone ("vmap" would pad it to vmap_size copies).
        batching = "sequential" if len(points) == 1 else None
        return [TrainTask(study, w, s, tuple(points), tuple(indices),
                          step_budget=self.max_steps(w), update_rule=rule, batching=batching)
                for w in self.workloads for s in seeds]

    def defaults_tasks(self, extra_seeds: bool) -> list[TrainTask]:
        """Seed-0 tasks of every defaults row, or the extra seeds of the rows with a hit."""
        tasks = []
        rows = defaults_rows()
        hits = self.defaults_hits() if extra_seeds else {}
        for r in rows:
            if not extra_seeds:
                seeds: Sequence[int] = (self.config.train_seed,)
            elif hits.get(r.name):
                seeds = [s for s in range(self.config.seeds) if s != self.config.train_seed]
            else:
                continue
            tasks += self._tasks(r.study, r.rule, [r.point], [0], seeds)
        return tasks

    def defaults_hits(self) -> dict[str, int]:
        """Row name -> number of base workloads whose target the row reached on the first seed."""
        from hplists.scoring.matrix import score_trial

        specs = self.specs()
        out: dict[str, int] = {}
        for r in defaults_rows():
            hit = set()
            for rec in self.store.trials(study=r.study):
                if rec.seed != self.config.train_seed or rec.workload not in specs:
                    continue
                if rec.curve is None or rec.status.value not in ("complete", "diverged"):
                    continue
                score = score_trial(rec, specs[rec.workload])
                assert score is not None  # None only for a running trial
                if math.isfinite(score.fraction):
                    hit.add(rec.workload)
            out[r.name] = len(hit)
        return out

    def searches(self) -> list[Search]:
        """The configured searches, then the adaptive ones the store's 50% searches call for.

        With ``adaptive``, each method of :data:`ADAPTIVE_METHODS` whose 50%
        search has a point that reaches the target on more than 2 base
        workloads (seed 0) gets its 33% and 66% searches (paper 002 Sec. 5.1).
        The most targets one point reached can only grow as the search's trials
        finish, so a method is in as soon as one point has: in a second pass
        with more points, a method that was in after the first stays in from
        the start.
        """
        out = list(self.config.searches)
        if not self.config.adaptive:
            return out
        for m in ADAPTIVE_METHODS:
            half = Search(m, 0.5)
            if half in out and self.max_hits(half) >= ADAPTIVE_MIN_HITS:
                out += [x for x in (Search(m, 0.33), Search(m, 0.66)) if x not in out]
        return out

    def hits_by_point(self, search: Search) -> dict[str, set[str]]:
        """Point id -> the base workloads whose target the point reached (seed 0), for each
        point of the search's sample with a finished or failed trial so far."""
        from hplists.scoring.matrix import score_trial

        specs = self.specs()
        ids = self.sample_ids(search)
        out: dict[str, set[str]] = {}
        for r in self.store.trials(study=search.study):
            spec = specs.get(r.workload)
            if spec is None or r.seed != self.config.train_seed or r.point_id not in ids \
                    or r.status.value == "running":
                continue
            score = score_trial(r, spec, errors="inf")
            hit = out.setdefault(r.point_id, set())
            if score is not None and math.isfinite(score.fraction):
                hit.add(r.workload)
        return out

    def max_hits(self, search: Search) -> int:
        """The most base workloads whose target one point of ``search`` reached (seed 0), over
        the trials finished so far (final once the search is complete)."""
        return max(map(len, self.hits_by_point(search).values()), default=0)

    def hit_rate(self, search: Search) -> float:
        """Share of the search's points that reach the target on at least one workload (seed 0)."""
        import numpy as np

        f = self.search_matrix(search).fractions
        return float(np.isfinite(f).any(axis=1).mean()) if f.size else 0.0

    def adaptive_pending(self) -> list[str]:
        """Methods of :data:`ADAPTIVE_METHODS` not in :meth:`searches` yet whose 50% search
        is not complete: they may still call for their 33% and 66% searches."""
        if not self.config.adaptive:
            return []
        chosen = self.searches()
        return [m for m in ADAPTIVE_METHODS if Search(m, 0.5) in self.config.searches
                and Search(m, 0.33) not in chosen and not self.is_complete(Search(m, 0.5))]

    def search_tasks(self, searches: Sequence[Search] | None = None) -> list[TrainTask]:
        """Seed-0 tasks of every point of ``searches`` (default: :meth:`searches`)."""
        cfg = self.config
        tasks = []
        for s in self.searches() if searches is None else searches:
            pts = self.search_points(s)
            tasks += self._tasks(s.study, s.method, pts, range(len(pts)), (cfg.train_seed,))
        return tasks

    def search_points(self, search: Search) -> list[dict[str, float]]:
        """The search's configured sample, with the bits its store recorded (``resolve_sample``)."""
        return resolve_sample(self.store, search.study,
                              search.points(self.config.points, self.config.sample_seed))

    def sample_ids(self, search: Search) -> set[str]:
        """Point ids of the search's configured sample (its first ``points`` Halton points).

        The sample is prefix-consistent, so a store that holds more points (a
        larger run) serves a smaller configuration with its first points.
        """
        from hplists.store.base import point_id

        return {point_id(p) for p in self.search_points(search)}

    def search_matrix(self, search: Search) -> Any:
        """Step fractions of the search's sample (``TrialMatrix``); an unfinished one raises."""
        from hplists.scoring.matrix import TrialMatrix

        names = [w.name for w in self.workloads]
        ids = self.sample_ids(search)
        records = [r for r in self.store.trials(study=search.study)
                   if r.workload in names and r.point_id in ids]
        return TrialMatrix.from_records(records, self.specs(), study=search.study,
                                        workloads=names)

    def top_points(self, search: Search) -> list[tuple[int, dict[str, float]]]:
        """``(sample index, point)`` of the search's ``top`` points (seed 0).

        Ranked by ``C_tau``, ties broken by the distance of each point's best
        metrics to the targets (:func:`hplists.scoring.ranking.rank_points`),
        never by sample index: where no point hits, the closest ones are kept.
        """
        from hplists.scoring.ranking import rank_points
        from hplists.store.base import point_id

        m = self.search_matrix(search)
        pts = self.search_points(search)
        index = {point_id(p): i for i, p in enumerate(pts)}
        rows = rank_points(m.fractions, m.best_metric, m.workloads, self.config.tau)
        return [(index[m.point_ids[i]], pts[index[m.point_ids[i]]])
                for i in rows[: self.config.top]]

    def medians(self, records: Sequence[Any]) -> tuple[dict[str, float], dict[str, float],
                                                       dict[str, int]]:
        """Per workload: median step fraction and best metric over the records' seeds, and
        how many seeds (records of running trials or unknown workloads are left out).

        The step fractions are of the study's maximum ``M`` (misses: ``inf``), as
        :meth:`specs` scores them.
        """
        import numpy as np

        from hplists.scoring.matrix import score_trial

        specs = self.specs()
        frac: dict[str, list[float]] = {}
        best: dict[str, list[float]] = {}
        for r in records:
            spec = specs.get(r.workload)
            if spec is None or r.status.value == "running":
                continue
            s = score_trial(r, spec, errors="inf")
            if s is None:
                continue
            frac.setdefault(r.workload, []).append(s.fraction)
            best.setdefault(r.workload, []).append(s.best)
        return ({w: float(np.median(v)) for w, v in frac.items()},
                {w: float(np.median(v)) for w, v in best.items()},
                {w: len(v) for w, v in frac.items()})

    def _rerun_cells(self) -> list[tuple[Candidate, str, dict[str, float], dict[str, float]]]:
        """(candidate, group, step fractions, best metrics) of every candidate fully rerun."""
        from hplists.store.base import point_id

        names = [w.name for w in self.workloads]
        rows = []
        for c in self.candidates():
            pid = point_id(c.point)
            records = [r for r in self.store.trials(study=c.study) if r.point_id == pid]
            frac, best, seeds = self.medians(records)
            if set(frac) != set(names) or min(seeds.values()) < self.config.seeds:
                continue
            group = _label(SFADAMW_ALGOPERF_RULE) if c.index < 0 else c.search.label
            rows.append((c, group, frac, best))
        return rows

    def _score(self, rows: Sequence[tuple[Candidate, str, dict[str, float], dict[str, float]]]
               ) -> list[ScoredCandidate]:
        import numpy as np

        from hplists.scoring.profiles import benchmark_score

        if not rows:
            return []
        names = [w.name for w in self.workloads]
        scores = benchmark_score(np.array([[r[2][w] for w in names] for r in rows]))
        return [ScoredCandidate(c, g, f, b, float(x))
                for (c, g, f, b), x in zip(rows, scores, strict=True)]

    def scored_candidates(self, pool: str = "paper") -> list[ScoredCandidate]:
        """The candidates of ``pool`` rerun on all seeds and workloads, scored together.

        The score is AlgoPerf's benchmark score (performance profiles of the
        median step fractions, cut at 4x the best, area over [1, 4]) over the
        pool; candidates still missing a seed or workload are left out.

        * ``"paper"``: paper 002's selection pool (App. E, Table 6), the top
          points of the searches of :data:`PAPER_POOL` at their three horizons
          (4 x 3 x 3 = 36 candidates);
        * ``"extended"``: every candidate, also those of DoG, MoMo-Adam, COCOB,
          hplists' own Schedule-Free search and the AlgoPerf Schedule-Free
          submission, which paper 002's selection did not score together.
        """
        check_choice("pool", pool, POOLS)
        rows = self._rerun_cells()
        if pool == "paper":
            rows = [r for r in rows if in_paper_pool(r[0])]
        return self._score(rows)

    def appendix_f(self, scored: Sequence[ScoredCandidate] | None = None
                   ) -> list[ScoredCandidate]:
        """The paper pool's representatives and the AlgoPerf Schedule-Free submission, scored
        together after the selection, as paper 002's App. F adds Schedule-Free AdamW.

        ``scored``: the paper pool's :meth:`scored_candidates`, if already computed.
        """
        reps = self.representatives(self.scored_candidates("paper") if scored is None else scored)
        chosen = [sc.candidate for sc in reps.values()]
        rows = [r for r in self._rerun_cells() if r[0] in chosen or r[0].index < 0]
        return self._score(rows)

    def representatives(self, scored: Sequence[ScoredCandidate] | None = None
                        ) -> dict[str, ScoredCandidate]:
        """(method, horizon) -> its candidate with the highest score (002 Table 6; ties: first).

        ``scored``: :meth:`scored_candidates` already computed (default: the
        paper pool's, computed here).
        """
        best: dict[str, ScoredCandidate] = {}
        for sc in self.scored_candidates() if scored is None else scored:
            if sc.group not in best or sc.score > best[sc.group].score:
                best[sc.group] = sc
        return best

    def search_lists(self, search: Search) -> SearchLists:
        """The ``k``-point greedy list (tau) of a complete search, and its leave-one-out curve."""
        from hplists.lists.greedy import greedy_list
        from hplists.lists.loo import list_size_curve
        from hplists.store.base import point_id

        m = self.search_matrix(search)
        index = {point_id(p): i for i, p in enumerate(self.search_points(search))}
        final = greedy_list(m.fractions, self.config.k, self.config.tau)
        curve = list_size_curve(m.fractions, self.config.k, self.config.tau)
        return SearchLists(search, final, tuple(index[m.point_ids[i]] for i in final.indices),
                           curve, m)

    def calibrated_defaults(self) -> tuple[list[ScoredCandidate], dict[str, ScoredCandidate]]:
        """Each (method, horizon)'s representative in the extended pool (best score first),
        and per learning-rate-free method the one :meth:`export_lists` writes.

        A method's exported default is its best-scoring representative; AdamW and
        NAdamW (baselines), representatives that reach no target, and the AlgoPerf
        submission's point (not calibrated here) are not exported.
        """
        reps = self.representatives(self.scored_candidates("extended"))
        by_method: dict[str, ScoredCandidate] = {}
        for sc in reps.values():
            m = sc.candidate.search.method
            if m in ("adamw", "nadamw") or sc.targets == 0 or sc.candidate.index < 0:
                continue
            if m not in by_method or sc.score > by_method[m].score:
                by_method[m] = sc
        return sorted(reps.values(), key=lambda sc: -sc.score), by_method

    def export_lists(self, output: str | Path | None = None, *,
                     overwrite: bool = False, partial: bool = False) -> list[str]:
        """Writes, per learning-rate-free method that reaches a target, two named list files.

        ``<method>-calibrated-cpu`` holds the representative of its best (method,
        horizon) by score (one point: the calibrated default,
        :meth:`calibrated_defaults`), and ``<method>-list-cpu`` the ``k``-point
        greedy list of that search; each with its provenance (store, study,
        sample indices, workloads and their versions, targets, date). AdamW and
        NAdamW are baselines and are not exported. Files go to the directory
        ``output`` (required); load them with :func:`hplists.lists.load_list`,
        or copy them into the package's ``lists/data`` to ship them. Returns the
        paths written.

        The calibrated defaults are chosen by a score relative to the best of
        every candidate, so they may change until the last search and its
        candidates are done: with trials of the ``calibration`` or
        ``candidates`` stages left, this raises, unless ``partial`` (then it
        warns and writes what the finished searches give now).
        """
        import datetime
        import json

        from hplists._version import __version__

        if output is None:
            raise InvalidParameterError("the learning-rate-free study writes several list files: "
                                        "give the directory to write them into")
        left = self.unfinished(["calibration", "candidates"])
        if left:
            what = "; ".join(f"{p.stage}: {'at most ' if not p.exact else ''}{p.left} trials"
                             for p in left)
            msg = (f"the study at {self.config.points} points per search is not finished "
                   f"({what} left), so its lists may still change")
            if not partial:
                raise InvalidParameterError(
                    f"{msg}: finish it with `hplists study run lrfree`, or pass partial=True "
                    "(--partial) to write what the finished searches give now")
            warnings.warn(msg, UserWarning, stacklevel=2)
        _, by_method = self.calibrated_defaults()
        out = Path(output)
        out.mkdir(parents=True, exist_ok=True)
        specs = self.specs()
        written = []
        for method, sc in by_method.items():
            c = sc.candidate
            prov = {"store": str(getattr(self.store, "path", "?")), "study": c.search.study,
                    "space": c.search.space().name, "sample": {
                        "points": self.config.points, "method": "halton",
                        "seed": self.config.sample_seed, "train_seed": self.config.train_seed},
                    "workloads": [w.name for w in self.workloads],
                    "workload_versions": {w.name: w.version for w in self.workloads},
                    "targets": {n: s.to_dict() for n, s in specs.items()},
                    "date": datetime.datetime.now(datetime.UTC).date().isoformat(),
                    "hplists": __version__,
                    "budget": {"max_steps": f"{self.config.budget_factor} x T (AlgoPerf's "
                                            "self-tuning budget, paper 002 Sec. 3.1)",
                               "horizon": "a point with horizon h trains int(h M) steps with "
                                          "its schedule decaying to 0 there; in PyTorch, "
                                          "total_steps is M and the run stops at h M",
                               "step_fractions": "of M"}}
            files = [(f"{method}-calibrated-cpu", [dict(c.point)], {
                "selection": "AlgoPerf benchmark score over every candidate of the study "
                             "(paper 002 Sec. 3.2; the extended pool)", "score": sc.score,
                "sample_index": c.index,
                "step_fractions": {k: encode_float(v) for k, v in sc.fractions.items()},
                "seeds": list(range(1, self.config.seeds + 1))}, "calibrated default")]
            if c.index >= 0:
                lists = self.search_lists(c.search)
                pts = [lists.matrix.points[i] for i in lists.final.indices]
                files.append((f"{method}-list-cpu", [dict(p) for p in pts], {
                    "method": "greedy (paper 001, Algorithm 1)", "k": self.config.k,
                    "tau": self.config.tau, "cost": lists.final.cost,
                    "sample_indices": list(lists.indices)}, f"{self.config.k}-point list"))
            for name, points, extra, what in files:
                path = out / f"{name}.json"
                payload = {"name": name, "optimizer": method, "points": points,
                           "description": f"{what} of {c.search.label} from hplists' "
                           "learning-rate-free study on its 8 built-in CPU workloads",
                           "source": "hplists study run lrfree (paper 002's procedure)",
                           # horizons and step fractions are of M = budget_factor x T
                           "budget_factor": self.config.budget_factor,
                           "provenance": {**prov, **extra}}
                if path.exists() and not overwrite:
                    old = json.loads(path.read_text())
                    if old.get("points") != payload["points"]:
                        raise InvalidParameterError(f"list file {str(path)!r} exists with other points; "
                                         "pass overwrite=True to replace it")
                atomic_write(path, json.dumps(payload, indent=2) + "\n")
                written.append(str(path))
        return written

    def complete_searches(self) -> list[Search]:
        """Searches whose every point is recorded on every base workload (none running)."""
        return [s for s in self.searches() if self.is_complete(s)]

    def is_complete(self, search: Search) -> bool:
        """Whether every point of ``search`` is recorded on every base workload (none running)."""
        try:
            m = self.search_matrix(search)
        except ValueError:
            return False
        return bool(m.fractions.shape[0] == self.config.points and m.running == 0)

    def candidates(self, searches: Sequence[Search] | None = None) -> list[Candidate]:
        """The rerun candidates of the complete searches, then the AlgoPerf Schedule-Free point."""
        out = []
        for s in self.complete_searches() if searches is None else searches:
            for rank, (i, p) in enumerate(self.top_points(s)):
                out.append(Candidate(f"{s.label} {rank}", s, i, p))
        out.append(Candidate("Schedule-Free AdamW (AlgoPerf)", Search(SFADAMW_ALGOPERF_RULE), -1,
                             dict(SFADAMW_ALGOPERF)))
        return out

    def candidate_tasks(self, candidates: Sequence[Candidate] | None = None) -> list[TrainTask]:
        seeds = range(1, self.config.seeds + 1)
        tasks = []
        for c in self.candidates() if candidates is None else candidates:
            tasks += self._tasks(c.study, c.search.method, [c.point], [max(c.index, 0)], seeds)
        return tasks

    # ---------------------------------------------------------------------------- stages

    def executor_for(self, tasks: Sequence[TrainTask]) -> tuple[Any, Any]:
        """Single-point tasks (defaults, candidates) train one per core in worker processes
        (pinned to a core each with ``pin_workers``) unless an executor is given."""
        if self.config.pin_workers:  # inherited by the worker processes started from here
            import os

            from hplists.workloads.engine.workers import PIN_ENV

            os.environ[PIN_ENV] = "1"
        if self.executor is None and tasks and all(len(t.points) == 1 for t in tasks):
            from hplists.trials.executors import PoolExecutor

            own = PoolExecutor()
            return own, own
        return self.executor, None

    def _execute(self, stage: str, tasks: Sequence[TrainTask]) -> StageResult:
        return self.execute(StageWork(stage, tuple(tasks)))

    def run_stage(self, stage: str) -> StageResult:
        """Runs one stage; resumable at any point."""
        check_choice("stage", stage, STAGES)
        if stage == "defaults":
            first = self._execute(stage, self.defaults_tasks(extra_seeds=False))
            return StageResult.total(stage, [first,
                                             self._execute(stage, self.defaults_tasks(True))])
        if stage == "calibration":
            return StageResult.total(stage, [self._execute(stage, self.search_tasks([search]))
                                             for search in self._each_search()])
        return self._execute(stage, self.candidate_tasks())

    def _each_search(self) -> Iterator[Search]:
        """Every search, in order, including the adaptive ones that earlier ones call for."""
        seen: list[Search] = []
        while pending := [s for s in self.searches() if s not in seen]:
            seen.append(pending[0])
            yield pending[0]

    def check_ready(self, stages: Sequence[str]) -> None:
        """Every base workload needs its target before anything trains (:meth:`specs`)."""
        self.specs()

    def run_stages(self, stages: Sequence[str]) -> Iterator[StageResult]:
        """Runs the stages in order, each result as soon as its stage is done.

        With both ``calibration`` and ``candidates``, each search's candidates
        are rerun as soon as the search is complete, before the next search
        starts: the same trials as the stages one after the other, but every
        committed snapshot of a long study holds finished (method, horizon)
        results, not only unranked searches. The ``candidates`` stage then
        trains what is left (the AlgoPerf Schedule-Free point).
        """
        early: list[StageResult] = []  # candidates rerun between the searches
        for stage in STAGES:
            if stage not in stages:
                continue
            if stage == "calibration" and "candidates" in stages:
                parts = []
                for search in self._each_search():
                    parts.append(self._execute(stage, self.search_tasks([search])))
                    if self.is_complete(search):
                        cands = [c for c in self.candidates([search]) if c.search == search]
                        early.append(self._execute("candidates", self.candidate_tasks(cands)))
                yield StageResult.total(stage, parts)
            elif stage == "candidates":
                # The last pass sees every candidate trial: those finished before this
                # run, and those the early reruns trained. Count each trial once.
                rest = self.run_stage(stage)
                rest = dataclasses.replace(
                    rest, already_done=rest.already_done - sum(r.trained for r in early))
                early = [dataclasses.replace(r, already_done=0) for r in early]
                yield StageResult.total(stage, [*early, rest])
            else:
                yield self.run_stage(stage)

    def manifest(self) -> dict[str, Any]:
        """What this study runs, as it records it in the store (under ``lrfree``).

        Studies by key: ``defaults:<row>``, ``search:<method>/h<percent>`` and
        ``candidates:<...>`` of every configured search, and the AlgoPerf
        Schedule-Free submission's candidates; the adaptive searches' methods;
        the settings.

        Example:
            >>> m = LrFreeStudy(None, LrFreeConfig(points=8)).manifest()
            >>> m["studies"]["search:prodigy/h50"], m["points"], m["adaptive_methods"][0]
            ('lrfree/prodigy/h50', 8, 'dog')
        """
        from hplists._version import __version__

        cfg = self.config
        studies = {f"defaults:{r.name}": r.study for r in defaults_rows()}
        algoperf = Search(SFADAMW_ALGOPERF_RULE)
        for s in (*cfg.searches, algoperf):
            key = s.study.removeprefix("lrfree/")
            if s != algoperf:
                studies[f"search:{key}"] = s.study
            studies[f"candidates:{key}"] = f"{s.study}/candidates"
        return {"workflow": self.name, "studies": studies, "points": cfg.points,
                "seeds": cfg.seeds, "top": cfg.top, "tau": cfg.tau, "k": cfg.k,
                "sample_seed": cfg.sample_seed, "train_seed": cfg.train_seed,
                "budget_factor": cfg.budget_factor,
                "adaptive_methods": list(ADAPTIVE_METHODS) if cfg.adaptive else [],
                "hplists": __version__}

    def stage_of(self, study: str) -> str | None:
        """The stage of a study of this one's in the store: the defaults rows' studies,
        the searches' (``lrfree/<method>[/h<percent>]``), their candidates' (``.../candidates``).

        Example:
            >>> st = LrFreeStudy(None)
            >>> [st.stage_of(s) for s in ("lrfree/defaults/prodigy", "lrfree/prodigy/h50",
            ...                           "lrfree/sfadamw_algoperf/candidates", "broad")]
            ['defaults', 'calibration', 'candidates', None]
        """
        if study in {r.study for r in defaults_rows()}:
            return "defaults"
        if not study.startswith("lrfree/"):
            return None
        return "candidates" if study.endswith("/candidates") else "calibration"

    # ------------------------------------------------------------------------------ plan

    def plan(self, stages: Sequence[str] | None = None) -> list[StagePlan]:
        """Trials per stage, how many are done, and the time left from measured timings.

        A trial's cost is the steps it trains (``int(h M)`` at horizon ``h``)
        times its workload's measured seconds per step
        (:meth:`~hplists.study.staged.Study.seconds_per_step`: the stores'
        recorded trials, else ``benchmarks/workloads.py``'s timings).
        """
        return super().plan(stages)

    def stage_work(self, stage: str) -> StageWork:
        """What ``stage`` trains, as known now: an upper bound (``exact=False``) while the
        defaults' extra seeds or the searches' candidates depend on trials not finished."""
        check_choice("stage", stage, STAGES)
        exact = True
        if stage == "defaults":
            tasks = self.defaults_tasks(extra_seeds=False)
            extra = self.defaults_tasks(extra_seeds=True)
            if not self._all_done(tasks):
                exact = False  # which rows get extra seeds is not known yet
                extra = [dataclasses.replace(t, seed=s) for t in tasks
                         for s in range(self.config.seeds) if s != self.config.train_seed]
            tasks = tasks + extra
        elif stage == "calibration":
            # A method whose 50% search is not complete may add its 33% and 66% ones.
            maybe = [Search(m, h) for m in self.adaptive_pending() for h in (0.33, 0.66)]
            exact = not maybe
            tasks = self.search_tasks([*self.searches(), *maybe])
        else:
            maybe = [Search(m, h) for m in self.adaptive_pending() for h in (0.33, 0.66)]
            searches = [*self.searches(), *maybe]
            done = [s for s in searches if self.is_complete(s)]
            exact = len(done) == len(searches)
            cands = self.candidates(done)
            # A search not complete yet contributes at most `top` candidates.
            pending = [s for s in searches if s not in done]
            cands += [Candidate(s.label, s, i, p) for s in pending for i, p in
                      enumerate(s.points(self.config.top, self.config.sample_seed))]
            tasks = self.candidate_tasks(cands)
        return StageWork(stage, tuple(tasks), exact=exact)

    def _all_done(self, tasks: Sequence[TrainTask]) -> bool:
        source = StaticSource(self.store, tasks)
        return source.remaining_work() == 0
