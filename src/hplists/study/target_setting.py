"""Validation targets by AlgoPerf's target-setting procedure, scaled to a 2-core CPU.

AlgoPerf (Dahl et al. 2023, arXiv 2306.07179; ``docs/DOCUMENTATION.md``,
"Defining target performance") tuned AdamW, NAdamW, SGD with Nesterov momentum
and heavy-ball momentum with 200 trials each, reran the best configuration 20
times, and took the median of the best validation results as the target; the
target-setting runs used 3/4 of the step budget that submissions get. hplists
runs the same procedure with fewer trials (``docs/targets.md``). For a
workload with step budget ``T``:

1. **Horizon.** ``H = round(0.75 * T)`` (half up): every target-setting run
   trains for ``H`` steps and its learning-rate schedule ends at ``H``, so the
   budget ``T`` is 4/3 of what the target-setting runs needed.
2. **Search.** For each algorithm ``A``, the first ``n >= 64`` points of the
   scrambled Halton sequence (seed :data:`HALTON_SEED`) of the search space
   ``targets-A`` (``hplists/space/data/targets-A.json``) train with seed 0
   and update rule ``A`` (:mod:`hplists.optim.rules`). Base workloads search
   all four algorithms; a variant searches NAdamW plus the algorithm that won
   on its base workload.
3. **Best configuration.** The (algorithm, point) whose run reached the best
   validation metric at any evaluation (lowest for ``"min"`` metrics, highest
   for ``"max"``; diverged runs count with the evaluations made before they
   diverged). Ties go to the earlier algorithm, then the lower point index.
4. **Seeds.** The best configuration is rerun with ``S >= 5`` fresh seeds
   ``1..S`` at the same horizon (seed 0 is the search run, which was selected
   for being best and would bias the median).
5. **Target.** The median over the ``S`` seeds of each seed's best
   validation metric.

Every trial goes to the trial store under a study that says what it is:
``targets/<workload>/v<version>/<algorithm>`` for the searches and
``targets/<workload>/v<version>/<algorithm>/seeds`` for the reruns (the
workload version is part of the name because the store keeps results of
different versions apart). Rerunning skips finished trials and retries
trials that ended in error (an interrupted run), so killing the command and
starting it again loses nothing. Each finished workload is merged into the
targets file at once (:func:`hplists.workloads.targets_file.write_entries`) with
its provenance.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hplists._check import check_int, check_real
from hplists._version import __version__
from hplists.curves import Status
from hplists.exceptions import DataError, InvalidParameterError
from hplists.hparams import Point
from hplists.json_numbers import encode_float
from hplists.metric import better
from hplists.metric import worst as metric_worst
from hplists.progress import TrialProgress, TrialProgressFn
from hplists.store.base import TrialRecord, TrialStore, point_id, utc_now
from hplists.study.samples import resolve_sample
from hplists.trials.pending import TrialsRunningElsewhere, run_pending
from hplists.workloads.contract import JaxWorkload, Workload, eval_schedule

__all__ = [
    "ALGORITHMS",
    "DEFAULT_TARGETS_FILE",
    "HALTON_SEED",
    "MIN_POINTS",
    "MIN_SEEDS",
    "PROCEDURE",
    "AlgorithmSearch",
    "TargetConfig",
    "TargetResult",
    "TrialsRunningElsewhere",
    "horizon",
    "plan",
    "search_points",
    "search_study",
    "seeds_study",
    "set_target",
    "set_targets",
    "trial_best",
]

# Where `set_targets` writes by default: a user path, never the package's data.
DEFAULT_TARGETS_FILE = Path("stores") / "targets.json"

ALGORITHMS = ("nadamw", "adamw", "nesterov", "heavy_ball")
# Halton seed of the target-setting searches; the calibration points (nadamw-broad,
# hplists.study.calibration) use seed 0, so the two samples are unrelated.
HALTON_SEED = 1
SEARCH_SEED = 0
MIN_POINTS = 64
MIN_SEEDS = 5
PROCEDURE = (
    "AlgoPerf target setting scaled to a 2-core CPU (hplists.study.target_setting, docs/targets.md): "
    "quasi-random search (scrambled Halton) of each algorithm's targets-<algorithm> space at "
    "horizon round(0.75 T); the best configuration over all algorithms (best validation metric "
    "at any evaluation) rerun with fresh seeds 1..S at the same horizon; target = median over "
    "seeds of each seed's best validation metric. Base workloads: NAdamW, AdamW, SGD+Nesterov, "
    "heavy-ball; variants: NAdamW plus the best algorithm of the base workload."
)

@dataclasses.dataclass(frozen=True)
class TargetConfig:
    """How many points and seeds the procedure uses, and the horizon.

    The procedure of ``docs/targets.md`` needs ``points >= 64`` and
    ``seeds >= 5``; smaller values are accepted (for tests and trial runs) and
    recorded as such in the provenance (``meets_procedure: false``).

    Example:
        >>> TargetConfig(points=0)
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: points must be an integer in [1, inf], got 0
    """

    points: int = MIN_POINTS
    seeds: int = MIN_SEEDS
    horizon_fraction: float = 0.75
    halton_seed: int = HALTON_SEED
    search_seed: int = SEARCH_SEED
    batching: str | None = None

    def __post_init__(self) -> None:
        check_int("points", self.points, low=1)
        check_int("seeds", self.seeds, low=1)
        check_real("horizon_fraction", self.horizon_fraction, 0.0, 1.0, low_open=True)
        check_int("halton_seed", self.halton_seed, low=0)
        check_int("search_seed", self.search_seed, low=0)

    @property
    def rerun_seeds(self) -> tuple[int, ...]:
        """Seeds of the reruns: ``1..seeds``, never the search seed."""
        start = 1 if self.search_seed == 0 else 0
        seeds = [s for s in range(start, start + self.seeds + 1) if s != self.search_seed]
        return tuple(seeds[: self.seeds])


@dataclasses.dataclass(frozen=True)
class AlgorithmSearch:
    """The search of one algorithm on one workload."""

    algorithm: str
    space: str
    study: str
    points: int
    best: float
    best_index: int
    best_point: dict[str, float]
    diverged: int

    def to_json(self) -> dict[str, Any]:
        return {"space": self.space, "study": self.study, "points": self.points,
                "best": encode_float(self.best), "best_point_index": self.best_index,
                "best_point": self.best_point, "diverged": self.diverged}


@dataclasses.dataclass(frozen=True)
class TargetResult:
    """A target and everything needed to check how it was obtained."""

    workload: str
    target: float
    metric: str
    mode: str
    workload_version: str
    searches: tuple[AlgorithmSearch, ...]
    best: AlgorithmSearch
    seeds: tuple[int, ...]
    seed_best: tuple[float, ...]
    provenance: dict[str, Any]

    @property
    def best_algorithm(self) -> str:
        return self.best.algorithm

    def to_entry(self) -> dict[str, Any]:
        """The entry written to the targets file."""
        return {"target": self.target, "metric": self.metric, "mode": self.mode,
                "workload_version": self.workload_version, "provenance": self.provenance}


def horizon(step_budget: int, fraction: float = 0.75) -> int:
    """Steps of a target-setting run: ``round(fraction * step_budget)``, half up, at least 1.

    Example:
        >>> horizon(1000), horizon(10), horizon(2)
        (750, 8, 2)
    """
    step_budget = check_int("step_budget", step_budget, low=1)
    fraction = check_real("horizon_fraction", fraction, 0.0, 1.0, low_open=True)
    return max(1, math.floor(fraction * step_budget + 0.5))


def search_study(workload: str, version: str, algorithm: str) -> str:
    """Study name of a search: ``targets/<workload>/v<version>/<algorithm>``.

    Example:
        >>> search_study("ctr_dlrm", "1", "adamw")
        'targets/ctr_dlrm/v1/adamw'
    """
    return f"targets/{workload}/v{version}/{algorithm}"


def seeds_study(workload: str, version: str, algorithm: str) -> str:
    """Study name of the seed reruns of the best configuration.

    Example:
        >>> seeds_study("ctr_dlrm", "1", "adamw")
        'targets/ctr_dlrm/v1/adamw/seeds'
    """
    return search_study(workload, version, algorithm) + "/seeds"


def space_name(algorithm: str) -> str:
    """The search space of ``algorithm``'s target-setting search: ``targets-<algorithm>``."""
    return f"targets-{algorithm}"


def search_points(algorithm: str, n: int, halton_seed: int = HALTON_SEED
                  ) -> list[Point]:
    """The first ``n`` scrambled-Halton points of ``targets-<algorithm>``.

    Example:
        >>> p = search_points("nesterov", 2)
        >>> sorted(p[0])[:3], p == search_points("heavy_ball", 2)
        (['decay_steps_factor', 'dropout_rate', 'end_factor'], True)
    """
    from hplists.space import get_space

    return get_space(space_name(algorithm)).sample(n, seed=halton_seed)


def trial_best(record: TrialRecord, metric: str, mode: Literal["min", "max"]) -> float:
    """Best value of ``metric`` over a finished trial's evaluations (direction-aware).

    A run that failed or diverged before its first evaluation gets the worst
    value (``+inf`` for ``"min"``, ``-inf`` for ``"max"``).
    """
    from hplists.scoring.time_to_target import best_value

    worst = metric_worst(mode)
    curve = record.curve
    if record.status is Status.ERROR or curve is None or len(curve) == 0:
        return worst
    if metric not in curve.metrics:
        raise DataError(
            f"trial (study={record.study!r}, workload={record.workload!r}, point "
            f"{record.point_id}) has no metric {metric!r}; it recorded {sorted(curve.metrics)}"
        )
    return float(best_value(curve.metrics[metric], mode,
                            diverged=record.status is Status.DIVERGED))


def _better(a: float, b: float, mode: str) -> bool:
    """Strictly better; values are finite or the mode's worst (see :func:`trial_best`)."""
    return better(a, b, mode)


def _algorithms_for(workload: Workload, done: Mapping[str, TargetResult],
                    targets_path: str | os.PathLike[str] | None) -> tuple[str, ...]:
    if workload.base is None:
        return ALGORITHMS
    best = _base_best(workload, done, targets_path)
    return ("nadamw",) if best == "nadamw" else ("nadamw", best)


def _base_best(workload: Workload, done: Mapping[str, TargetResult],
               targets_path: str | os.PathLike[str] | None) -> str:
    from hplists.workloads.targets_file import read_targets

    base = workload.base
    assert base is not None  # _algorithms_for asks only for a variant's base
    if base in done:
        return done[base].best_algorithm
    entry = read_targets(targets_path)["targets"].get(base)
    if entry is None and targets_path is not None:  # the package's targets, read-only
        entry = read_targets(None)["targets"].get(base)
    if entry is None:
        raise InvalidParameterError(
            f"variant {workload.name!r} searches NAdamW plus the best algorithm of its base "
            f"workload {base!r}, which has no target yet; set it first "
            f"(hplists targets set --workload {base})"
        )
    try:
        from hplists.workloads.registry import get_workload

        version = get_workload(base).version
    except ValueError:  # the base is not registered here: trust the entry
        version = entry.get("workload_version")
    if entry.get("workload_version") != version:
        raise InvalidParameterError(
            f"the target of base workload {base!r} was set for version "
            f"{entry.get('workload_version')!r}, but {base!r} is now version {version!r}; "
            f"set it again first (hplists targets set --workload {base})"
        )
    return str(entry["provenance"]["best"]["algorithm"])


def _store_label(store: TrialStore) -> str:
    path = Path(getattr(store, "path", "") or "")
    if not str(path):
        return repr(store)
    path, cwd = path.resolve(), Path.cwd().resolve()
    # Relative to the repository when the store is inside it (committed stores).
    return str(path.relative_to(cwd)) if path.is_relative_to(cwd) else str(path)


def set_target(
    workload: Workload,
    store: TrialStore,
    config: TargetConfig = TargetConfig(),
    *,
    algorithms: Sequence[str] | None = None,
    done: Mapping[str, TargetResult] | None = None,
    targets_path: str | os.PathLike[str] | None = None,
    progress: bool | TrialProgressFn | TrialProgress | None = None,
    executor: Any = None,
) -> TargetResult:
    """Runs (or resumes) the procedure on one workload and returns its target.

    Args:
        workload: a :class:`~hplists.workloads.contract.JaxWorkload`.
        store: the trial store (:func:`hplists.store.open_store`).
        config: points, seeds, horizon, Halton seed and batching.
        algorithms: the algorithms to search (default: all four for a base
            workload; NAdamW plus the base's best for a variant).
        done: targets set earlier in this run, by workload name (a variant
            finds its base's best algorithm there, else in the targets file).
        targets_path: the targets file variants read their base from.
        progress: ``True`` for a rich progress bar with ETA, a function
            called with ``(stage, trials_done, trials_total)``, or the
            :class:`~hplists.progress.TrialProgress` of a larger command.
    """
    own = not isinstance(progress, TrialProgress)
    if algorithms is None:
        algorithms = _algorithms_for(workload, done or {}, targets_path)
    algorithms = tuple(algorithms)
    bar = (progress if isinstance(progress, TrialProgress) else
           TrialProgress(progress, len(algorithms) * config.points + config.seeds))
    try:
        return _set_target(workload, store, config, algorithms, bar, executor)
    finally:
        if own:
            bar.close()


def _set_target(workload: Workload, store: TrialStore, config: TargetConfig,
                algorithms: tuple[str, ...], progress: TrialProgress,
                executor: Any = None) -> TargetResult:
    from hplists.optim.rules import get_rule

    if not isinstance(workload, JaxWorkload):
        raise InvalidParameterError(f"workload {getattr(workload, 'name', workload)!r} must be a "
                         "JaxWorkload to be trained by the engine")
    for a in algorithms:
        get_rule(a)  # validates the name
    name, version = workload.name, str(workload.version)
    metric, mode = workload.metric.name, workload.metric.mode
    steps = horizon(workload.step_budget, config.horizon_fraction)
    indices = list(range(config.points))

    searches: list[AlgorithmSearch] = []
    best_of: dict[str, Point] = {}
    for a in algorithms:
        study = search_study(name, version, a)
        pts = resolve_sample(store, study, search_points(a, config.points, config.halton_seed))
        records = run_pending(workload, store, study, pts, indices, config.search_seed,
                              steps=steps, rule=get_rule(a), batching=config.batching,
                              progress=progress, stage=f"{name} {a}", executor=executor)
        by_id = {r.point_id: r for r in records}
        values = [trial_best(by_id[point_id(p)], metric, mode) for p in pts]
        k = 0
        for i, v in enumerate(values):
            if _better(v, values[k], mode):
                k = i
        best_of[a] = pts[k]
        searches.append(AlgorithmSearch(
            algorithm=a, space=space_name(a), study=study, points=len(pts), best=values[k],
            best_index=k, best_point=dict(by_id[point_id(pts[k])].point),
            diverged=sum(by_id[point_id(p)].status is Status.DIVERGED for p in pts),
        ))
    best = searches[0]
    for s in searches[1:]:
        if _better(s.best, best.best, mode):
            best = s
    if not math.isfinite(best.best):
        raise DataError(
            f"no target-setting run on {name!r} produced a finite {metric!r} (every point of "
            f"{list(algorithms)} diverged or failed); fix the workload before setting its target"
        )

    study = seeds_study(name, version, best.algorithm)
    seed_best = []
    for seed in config.rerun_seeds:
        (record,) = run_pending(workload, store, study, [best_of[best.algorithm]],
                                [best.best_index], seed, steps=steps,
                                rule=get_rule(best.algorithm), batching=config.batching,
                                progress=progress, stage=f"{name} {best.algorithm} seed {seed}",
                                executor=executor)
        seed_best.append(trial_best(record, metric, mode))
    target = float(np.median(seed_best))
    if not math.isfinite(target):
        raise DataError(
            f"the best configuration on {name!r} ({best.algorithm}, point {best.best_index}) "
            f"diverged on at least half of the seeds {list(config.rerun_seeds)}: "
            f"best values {seed_best}; no target can be set from it"
        )

    meets = (config.points >= MIN_POINTS and config.seeds >= MIN_SEEDS
             and "nadamw" in algorithms
             and (workload.base is not None or set(ALGORITHMS) <= set(algorithms)))
    prov = {
        "procedure": PROCEDURE,
        "meets_procedure": bool(meets),
        "kind": "variant" if workload.base else "base",
        "base": workload.base,
        "step_budget": int(workload.step_budget),
        "horizon": steps,
        "horizon_fraction": config.horizon_fraction,
        "num_evals": len(eval_schedule(steps, min(workload.num_evals, steps))),
        "batch_size": int(workload.batch_size),
        "algorithms": {s.algorithm: s.to_json() for s in searches},
        "halton_seed": config.halton_seed,
        "search_seed": config.search_seed,
        "best": {"algorithm": best.algorithm, "point": best.best_point,
                 "point_id": point_id(best.best_point), "point_index": best.best_index,
                 "value": best.best},
        "seeds": {"study": study, "seeds": list(config.rerun_seeds),
                  "best": [encode_float(v) for v in seed_best]},
        "target_rule": "median over seeds of each seed's best validation metric",
        "date": utc_now(),
        "hplists_version": __version__,
        "workload_version": version,
        "store": _store_label(store),
        "software": {m: str(getattr(sys.modules.get(m), "__version__", "")) for m in
                     ("jax", "optax", "flax", "numpy") if m in sys.modules},
    }
    return TargetResult(
        workload=name, target=target, metric=metric, mode=mode, workload_version=version,
        searches=tuple(searches), best=best, seeds=tuple(config.rerun_seeds),
        seed_best=tuple(seed_best), provenance=prov,
    )


def _resolve(workloads: Sequence[str | Workload] | None) -> list[Workload]:
    from hplists.workloads.registry import get_workload, workload_names

    if workloads is None or len(workloads) == 0:
        workloads = workload_names()
    out = [get_workload(w) if isinstance(w, str) else w for w in workloads]
    for w in out:
        if not isinstance(w, Workload):
            raise InvalidParameterError(f"workloads must be names or Workload instances, got {w!r}")
    names = [w.name for w in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InvalidParameterError(f"workloads are given more than once: {dupes}")
    # Base workloads first: a variant searches its base's best algorithm.
    return sorted(out, key=lambda w: w.base is not None)


def plan(
    workloads: Sequence[str | Workload] | None,
    store: TrialStore | None = None,
    config: TargetConfig = TargetConfig(),
    *,
    targets_path: str | os.PathLike[str] | None = None,
) -> list[dict[str, Any]]:
    """The trials the procedure needs per workload, and how many the store already has.

    A variant whose base has no target yet is planned with two algorithms
    (NAdamW and the unknown best of its base; one if that turns out to be NAdamW).
    A base workload needs ``4 * points + seeds`` trials (261 by default).
    """
    rows: list[dict[str, Any]] = []
    done_names: dict[str, TargetResult] = {}
    for w in _resolve(workloads):
        try:
            algos = list(_algorithms_for(w, done_names, targets_path))
        except ValueError:
            algos = ["nadamw", "?"]
        trials = len(algos) * config.points + config.seeds
        have = 0
        if store is not None:
            for a in algos:
                if a == "?":
                    continue
                have += sum(r.status in (Status.COMPLETE, Status.DIVERGED) and r.seed ==
                            config.search_seed and (r.point_index or 0) < config.points
                            for r in store.trials(study=search_study(w.name, str(w.version), a),
                                                  workload=w.name))
                have += sum(r.status in (Status.COMPLETE, Status.DIVERGED) and r.seed in
                            config.rerun_seeds for r in store.trials(
                                study=seeds_study(w.name, str(w.version), a), workload=w.name))
        rows.append({"workload": w.name, "base": w.base, "algorithms": algos,
                     "points": config.points, "seeds": config.seeds,
                     "horizon": horizon(w.step_budget, config.horizon_fraction),
                     "step_budget": w.step_budget, "trials": trials, "finished": have})
    return rows


def set_targets(
    workloads: Sequence[str | Workload] | None,
    store: TrialStore,
    config: TargetConfig = TargetConfig(),
    *,
    targets_path: str | os.PathLike[str] | None = None,
    write: bool = True,
    progress: bool | TrialProgressFn | None = None,
    executor: Any = None,
) -> list[TargetResult]:
    """Runs (or resumes) the procedure on every workload, writing each target as it is set.

    Base workloads run before variants. Each finished workload is merged into
    the targets file (default: :data:`DEFAULT_TARGETS_FILE`, ``stores/targets.json``
    under the working directory; the package's own file is read-only data,
    written only when passed explicitly, as ``hplists targets set
    --into-package`` does) at once, so an interruption keeps every target
    already set; a rerun skips every finished trial.

    Args:
        workloads: names or instances (default: every registered workload).
        store: the trial store.
        config: points, seeds, horizon, Halton seed and batching.
        targets_path: the targets file to merge into (and read bases from).
        write: ``False`` computes the targets without writing them.
        progress: ``True`` for a rich progress bar with ETA over all trials,
            or a function called with ``(stage, trials_done, trials_total)``.
        executor: where trials train (:mod:`hplists.trials.executors`: this process by
            default, a :class:`~hplists.trials.executors.PoolExecutor`, or a
            :class:`~hplists.trials.ray.RayExecutor`).
    """
    from hplists.workloads.targets_file import write_entries

    if targets_path is None:
        targets_path = DEFAULT_TARGETS_FILE
    todo = _resolve(workloads)
    rows = plan(todo, None, config, targets_path=targets_path)
    bar = TrialProgress(progress, sum(r["trials"] for r in rows))
    done: dict[str, TargetResult] = {}
    try:
        for w, row in zip(todo, rows, strict=True):
            algos = _algorithms_for(w, done, targets_path)
            bar.grow((len(algos) - len(row["algorithms"])) * config.points)
            result = set_target(w, store, config, algorithms=algos, done=done,
                                targets_path=targets_path, progress=bar, executor=executor)
            done[w.name] = result
            if write:
                write_entries({w.name: result.to_entry()}, targets_path)
    finally:
        bar.close()
    return list(done.values())
