"""Score a list on one workload: the first ``k`` points, per seed, as paper 001 scores lists.

For a workload with step budget ``T`` and target, a list's first ``k`` points
trained with seed ``s`` give, per point, the first evaluated step ``t`` that
reaches the target. The list's result for that seed is

* ``fraction``: ``min_k t_k / T`` (``inf`` when no point reaches the target),
  the list's time on the workload in paper 001's cost ``C_tau``;
* ``trials_to_hit``: how many trials, taken in list order, a user needs until
  one reaches the target (``None``: none of the ``k`` does);
* ``best``: the best validation metric of the ``k`` trials, and which point.

Trials go through the one trial loop (:func:`hplists.trials.loop.train_into_store`)
into a store (a temporary one unless ``store=`` is given), in study
``run/<list>`` as ``hplists run --store`` records them, so a killed
evaluation resumes and ``hplists run`` and ``hplists evaluate`` share trials.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import statistics
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hplists._check import check_int
from hplists.curves import Status
from hplists.exceptions import InvalidParameterError
from hplists.hparams import point_dict
from hplists.json_numbers import encode_float
from hplists.metric import Metric, argbest
from hplists.store.base import TrialRecord, TrialStore, point_id
from hplists.trials.loop import train_into_store
from hplists.trials.tasks import resolve_rule

__all__ = ["LIST_RULES", "ListEvaluation", "SeedResult", "budget_text", "evaluate", "list_rule",
           "list_study", "train_list"]

# Older list files name an update rule by another name: list optimizer -> registered rule.
LIST_RULES = {"metz-nadamw": "metz"}


def list_rule(named: Any, ref: str | None) -> Any:
    """The update rule that trains ``named``'s points: ``ref`` if given, else the list's own.

    Example:
        >>> from hplists import get_list
        >>> list_rule(get_list("nadamw-paper"), None) is None  # the engine's NAdamW
        True
    """
    if ref is None and named.optimizer != "nadamw":
        from hplists.optim.rules import RULES

        ref = LIST_RULES.get(named.optimizer, named.optimizer)
        if ref not in RULES:
            raise InvalidParameterError(
                f"list {named.name!r} is for update rule {named.optimizer!r}, which is not "
                "registered; give its rule with update_rule= / --update-rule NAME (a registered "
                "rule) or MODULE:FUNCTION"
            )
    return resolve_rule(ref)


def list_study(list_name: str, update_rule: str | None, steps: int | None,
               step_budget: int) -> str:
    """The study a list's trials on a workload are recorded in (``run/<list>[/<rule>][/T<steps>]``).

    Trials of another rule or budget are other trials, so they get their own study.

    Example:
        >>> list_study("nadamw-paper", None, 200, 400)
        'run/nadamw-paper/T200'
    """
    study = f"run/{list_name}"
    if update_rule:
        study += f"/{update_rule}"
    if steps is not None and steps != step_budget:
        study += f"/T{steps}"
    return study


@contextlib.contextmanager
def _opened(store: TrialStore | str | Path | None) -> Iterator[TrialStore]:
    from hplists.store import open_store

    if isinstance(store, TrialStore):
        yield store
        return
    with contextlib.ExitStack() as stack:
        if store is None:  # a throwaway store: the trial loop records into one either way
            store = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "trials.db"
        opened = stack.enter_context(open_store(store))
        yield opened


def train_list(store: TrialStore, study: str, workload: Any, points: Sequence[Any],
               seeds: Sequence[int], *, step_budget: int | None = None, update_rule: Any = None,
               batching: str | None = None, executor: Any = None,
               progress: Callable[[int], None] | None = None) -> dict[tuple[str, int], TrialRecord]:
    """Trains ``points`` for each seed into ``store`` (skipping recorded trials); their records.

    Returns the record of each ``(point_id, seed)`` that the store holds after
    training (a trial running in another live process is left out).
    """
    for seed in seeds:
        train_into_store(store, study, workload, points, seed, step_budget=step_budget,
                         update_rule=update_rule, batching=batching, executor=executor,
                         progress=progress)
    wanted = set(seeds)
    return {(r.point_id, r.seed): r for r in store.trials(study, workload.name)
            if r.seed in wanted and r.status is not Status.RUNNING}


@dataclasses.dataclass(frozen=True)
class SeedResult:
    """The first ``k`` points of a list on one workload with one training seed.

    ``fractions``, ``bests`` and ``statuses`` have one entry per point, in list
    order; a missed target is ``inf``, a point with no finite metric has the
    metric's worst value. ``first_hit``/``best_index`` are 0-based positions.
    """

    seed: int
    fractions: tuple[float, ...]
    bests: tuple[float, ...]
    statuses: tuple[str, ...]
    first_hit: int | None
    best_index: int | None

    @property
    def fraction(self) -> float:
        """The list's step fraction ``min_k t_k / T`` (``inf``: no point reached the target)."""
        return min(self.fractions)

    @property
    def trials_to_hit(self) -> int | None:
        """Trials needed, in list order, until one reaches the target; ``None`` if none does."""
        return None if self.first_hit is None else self.first_hit + 1

    @property
    def best(self) -> float:
        """The best validation metric of the ``k`` trials (NaN when none is finite)."""
        return math.nan if self.best_index is None else self.bests[self.best_index]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``inf`` as ``"Infinity"``, :mod:`hplists.json_numbers`)."""
        return {"seed": self.seed, "fraction": _json(self.fraction),
                "trials_to_hit": self.trials_to_hit, "first_hit": self.first_hit,
                "best": _json(self.best), "best_index": self.best_index,
                "fractions": [_json(f) for f in self.fractions],
                "bests": [_json(b) for b in self.bests], "statuses": list(self.statuses)}


def _json(x: float) -> float | str | None:
    return encode_float(float(x))


@dataclasses.dataclass(frozen=True)
class ListEvaluation:
    """A list scored on one workload over seeds (:func:`evaluate`'s result)."""

    workload: str
    list_name: str
    k: int
    metric: Metric
    target: float
    step_budget: int
    points: tuple[dict[str, float], ...]
    seeds: tuple[SeedResult, ...]
    budget_factor: float = 1.0  # step_budget in multiples of the workload's T

    @property
    def budget_text(self) -> str:
        """The step budget as :func:`budget_text` writes it."""
        return budget_text(self.step_budget, self.budget_factor)

    @property
    def hit_rate(self) -> float:
        """Fraction of seeds on which some point of the first ``k`` reached the target."""
        return sum(s.first_hit is not None for s in self.seeds) / len(self.seeds)

    @property
    def median_fraction(self) -> float:
        """Median over seeds of the list's step fraction (``inf`` if most seeds missed)."""
        return float(statistics.median(s.fraction for s in self.seeds))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of everything :func:`evaluate` measured."""
        return {"workload": self.workload, "list": self.list_name, "k": self.k,
                "metric": self.metric.name, "mode": self.metric.mode, "target": self.target,
                "step_budget": self.step_budget, "budget_factor": self.budget_factor,
                "hit_rate": self.hit_rate,
                "median_fraction": _json(self.median_fraction),
                "points": [dict(p) for p in self.points],
                "seeds": [s.to_dict() for s in self.seeds]}

    def __str__(self) -> str:
        m = self.metric
        head = (f"{self.list_name} on {self.workload}, first {self.k} points: target "
                f"{m.name} {'<=' if m.mode == 'min' else '>='} {self.target:.4g} within "
                f"{self.budget_text}")
        rows = [f"seed {s.seed}: t/T {_fmt(s.fraction)}, trials to hit "
                f"{s.trials_to_hit if s.trials_to_hit is not None else 'missed'}, best {m.name} "
                f"{s.best:.4g} (point #{'-' if s.best_index is None else s.best_index + 1})"
                for s in self.seeds]
        tail = (f"hit on {self.hit_rate:.0%} of {len(self.seeds)} seeds; median t/T "
                f"{_fmt(self.median_fraction)}")
        return "\n".join([head, *rows, tail])


def budget_text(step_budget: int, budget_factor: float = 1.0) -> str:
    """``T=400``, or ``M=1200 (3 x T)`` for a list chosen on a multiple of the budget.

    Example:
        >>> budget_text(400), budget_text(1200, 3.0)
        ('T=400', 'M=1200 (3 x T)')
    """
    if budget_factor == 1:
        return f"T={step_budget}"
    return f"M={step_budget} ({budget_factor:g} x T)"


def _fmt(x: float) -> str:
    return f"{x:.3f}" if math.isfinite(x) else "inf (missed)"


def _seed_result(seed: int, records: Sequence[TrialRecord | None], spec: Any) -> SeedResult:
    """One seed's trials, in list order, scored as the matrix scores a trial.

    Each trial's ``t / T`` and best value are :func:`hplists.scoring.matrix.score_trial`'s
    (its first hit by :func:`hplists.scoring.time_to_target.first_hit_of`; a failed trial
    is a miss); ``first_hit`` is the first trial in list order that reached the target.
    """
    from hplists.scoring.matrix import score_trial

    metric = Metric(spec.metric, spec.mode)
    fractions, bests, statuses, reached = [], [], [], []
    for r in records:
        if r is None:  # running in another live process: no result yet
            fractions.append(math.inf)
            bests.append(metric.worst)
            statuses.append("running")
            reached.append(False)
            continue
        score = score_trial(r, spec, errors="inf")
        assert score is not None  # running trials were filtered out
        fractions.append(float(score.fraction))
        bests.append(float(score.best))
        statuses.append(Status(r.status).value)
        reached.append(score.index >= 0)
    hit = [i for i, ok in enumerate(reached) if ok]
    values = np.array(bests)
    finite = np.isfinite(values)
    best_index = argbest(np.where(finite, values, np.nan), spec.mode) if finite.any() else None
    return SeedResult(seed, tuple(fractions), tuple(bests), tuple(statuses),
                      hit[0] if hit else None, best_index)


def evaluate(
    workload: Any,
    points: Any = "nadamw-paper",
    k: int = 5,
    seeds: Sequence[int] | int = (0,),
    *,
    store: TrialStore | str | Path | None = None,
    steps: int | None = None,
    target: float | None = None,
    update_rule: str | None = None,
    batching: str | None = None,
    executor: Any = None,
    progress: bool | Callable[[str, int, int], None] | None = None,
) -> ListEvaluation:
    """Trains the first ``k`` points of a list on ``workload`` for each seed and scores them.

    Args:
        workload: a registered workload name or a workload object.
        points: a list name, a :class:`~hplists.NamedList` or a sequence of points.
        k: how many points, from the start of the list.
        seeds: training seeds (an int ``n`` means ``0..n-1``).
        store: a trial store (or its path) to record trials in and reuse; by
            default a temporary one.
        steps: step budget (default: the list's, ``int(budget_factor * T)`` with the
            workload's ``T``: ``T`` for NAdamW's lists, ``3 T`` for the
            learning-rate-free ones); ``t/T`` is then against it.
        target: the validation target (default: the workload's own target).
        update_rule: a registered rule name or ``"module:function"`` (default:
            the list's rule).
        batching, executor: as for :func:`hplists.trials.loop.train_into_store`.
        progress: ``True`` for a rich bar with ETA over the steps to train,
            or ``fn(workload, steps_done, steps_total)``
            (:class:`hplists.progress.StageBar`).

    Example:
        >>> r = evaluate("ctr_dlrm", "nadamw-paper", k=2, seeds=1, steps=40,
        ...              target=0.7, batching="sequential")
        >>> r.k, len(r.seeds), r.seeds[0].trials_to_hit  # loss 0.7 is easy: the first hits
        (2, 1, 1)
        >>> 0 < r.seeds[0].fraction <= 1
        True
    """
    from hplists.lists.registry import NamedList, get_list, list_name, list_points
    from hplists.scoring.workload_specs import WorkloadSpec
    from hplists.workloads.registry import get_workload

    wl = get_workload(workload) if isinstance(workload, str) else workload
    check_int("k", k, low=1)
    seed_list = _seeds(seeds)
    if steps is not None:
        check_int("steps", steps, low=1)
    named = get_list(points) if isinstance(points, str) else points
    chosen = list_points(named)
    if k > len(chosen):
        raise InvalidParameterError(f"k must be at most the list's length {len(chosen)}, got {k}")
    chosen = chosen[:k]
    name = list_name(named)
    rule = list_rule(named, update_rule) if isinstance(named, NamedList) else (
        resolve_rule(update_rule))
    if target is None:
        target = wl.target
        if target is None:
            raise InvalidParameterError(
                f"workload {wl.name!r} has no target at version {wl.version}; set one "
                "(`hplists targets set`, or the workload's target_value/targets_path) or pass "
                "target=/--target"
            )
    # A list's points were chosen for its own budget (3 T for the learning-rate-free lists).
    default = named.budget(wl.step_budget) if isinstance(named, NamedList) else wl.step_budget
    budget = steps if steps is not None else default
    spec = WorkloadSpec(wl.name, wl.metric.name, wl.metric.mode, float(target), budget)
    study = list_study(name, update_rule, steps, default)
    from hplists.progress import StageBar
    from hplists.workloads.engine import trial_steps

    bar = StageBar(progress)
    tick = bar.start(wl.name, len(seed_list) * sum(trial_steps(p, budget) for p in chosen))
    try:
        with _opened(store) as opened:
            records = train_list(opened, study, wl, chosen, seed_list,
                                 step_budget=budget,
                                 update_rule=rule, batching=batching, executor=executor,
                                 progress=tick)
    finally:
        bar.stop()
    ids = [point_id(p) for p in chosen]
    results = tuple(_seed_result(s, [records.get((pid, s)) for pid in ids], spec)
                    for s in seed_list)
    factor = named.budget_factor if steps is None and isinstance(named, NamedList) else 1.0
    return ListEvaluation(wl.name, name, k, wl.metric, float(target), budget,
                          tuple(point_dict(p) for p in chosen), results, factor)


def _seeds(seeds: Sequence[int] | int) -> list[int]:
    if isinstance(seeds, (int, np.integer)):  # check_int refuses a bool
        return list(range(check_int("seeds", seeds, low=1)))
    out = [check_int("seeds", s, low=0) for s in seeds]
    if not out or len(set(out)) != len(out):
        raise InvalidParameterError(f"seeds must be distinct seeds >= 0 (at least one), got {out}")
    return out
