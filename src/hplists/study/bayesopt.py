"""Bayesian optimization with Optuna's Gaussian-process sampler, as a baseline of paper 001.

Paper 001 runs Vizier "with default settings" for 5 and for 10 *sequential*
trials per workload, maximizing the validation metric on the broad search
space (Sec. 3.1.1). We stand in Optuna's :class:`optuna.samplers.GPSampler`
(a GP with a Matérn-5/2 kernel and log expected improvement), with these
choices:

* **Objective**: the best validation metric of the run (over its
  evaluations, within the budget), signed so that larger is better (``-x`` for
  metrics that go down). A run without a finite metric (diverged at once, or
  failed) is a *failed* Optuna trial, which the GP ignores.
* **Start**: ``n_startup_trials = 2`` random points (Optuna's default of 10
  would make a 5- or 10-trial run pure random search), then the GP proposes
  every further point from all earlier results.
* **Seeds**: each repetition ``s`` of the study (the rerun seeds, 1..5 by
  default) is an independent run: training seed ``s``, and sampler seeds
  derived from ``(sampler_seed, workload, s, trial index)``.
* **State**: nothing but the trial store. Before each trial the Optuna study
  is rebuilt from the run's recorded trials (in trial order) and asked for
  the next point, with a fresh sampler seeded as above. A suggestion is thus
  a function of the earlier results and the seeds only: a killed run resumes
  exactly where it stopped, and the first 5 trials of a 10-trial run *are* a
  5-trial run (:func:`copy_prefix` records them as that study).

A run on a workload is a *chain* of trials ``0..n-1`` (``point_index`` in
the store); chains of different workloads and seeds are independent, so an
executor with several slots trains several at once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np

from hplists._check import check_int
from hplists.curves import Curve, Status
from hplists.exceptions import InvalidParameterError
from hplists.hparams import HParams
from hplists.metric import best_of
from hplists.metric import sign as metric_sign
from hplists.space.dimensions import Discrete, Fixed, Linear, Log
from hplists.space.space import SearchSpace
from hplists.store.base import TrialKey, TrialRecord, TrialStore, point_id
from hplists.trials.loop import claim_trial, record_copies
from hplists.trials.tasks import TrainTask

__all__ = [
    "N_STARTUP_TRIALS",
    "BayesOptSource",
    "copy_prefix",
    "distributions",
    "objective",
    "raw_params",
    "suggest",
]

N_STARTUP_TRIALS = 2
_MAX_ATTEMPTS = 8  # reseeds when the sampler repeats a point already in the chain


def _field(name: str, nadamw: bool) -> tuple[str, bool]:
    flipped = name.startswith("one_minus_")
    field = name[len("one_minus_"):] if flipped else name
    if nadamw and field == "warmup_factor":
        field = "warmup_fraction"
    return field, flipped


def distributions(space: SearchSpace) -> dict[str, Any]:
    """Optuna distributions of the space's searched dimensions (fixed ones are left out).

    Log and linear dimensions become ``FloatDistribution`` (``log=True`` for
    log); discrete ones ``CategoricalDistribution`` over their values.

    Example:
        >>> from hplists.space import get_space
        >>> d = distributions(get_space("nadamw-broad"))
        >>> d["learning_rate"].log, d["dropout_rate"].choices
        (True, (0.0, 0.1))
    """
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    out: dict[str, Any] = {}
    for dim in space.dimensions:
        if isinstance(dim, Log):
            out[dim.name] = FloatDistribution(dim.low, dim.high, log=True)
        elif isinstance(dim, Linear):
            out[dim.name] = FloatDistribution(dim.low, dim.high)
        elif isinstance(dim, Discrete):
            out[dim.name] = CategoricalDistribution(tuple(dim.values))
        elif not isinstance(dim, Fixed):
            raise InvalidParameterError(f"space {space.name!r}: dimension {dim.name!r} of scale "
                             f"{dim.scale!r} has no Optuna distribution")
    return out


def raw_params(space: SearchSpace, point: HParams | Mapping[str, float]) -> dict[str, float]:
    """The values of the searched dimensions that give ``point`` (inverse of materializing).

    ``one_minus_x`` dimensions get ``1 - x`` (clipped to the dimension's range
    against rounding); discrete ones the nearest allowed value.

    Example:
        >>> from hplists.space import get_space
        >>> s = get_space("nadamw-broad")
        >>> p = s.sample(1, seed=3)[0]
        >>> s.materialize({**raw_params(s, p)}).beta1 == p.beta1
        True
    """
    d = point.to_dict() if isinstance(point, HParams) else dict(point)
    out: dict[str, float] = {}
    for dim in space.dimensions:
        if isinstance(dim, Fixed):
            continue
        field, flipped = _field(dim.name, space.is_nadamw)
        if field not in d:
            raise InvalidParameterError(f"point has no {field!r} (dimension {dim.name!r} of {space.name!r})")
        v = 1.0 - float(d[field]) if flipped else float(d[field])
        if isinstance(dim, Discrete):
            v = min(dim.values, key=lambda c: abs(c - v))
        else:
            bounded = cast("Log | Linear", dim)  # every other dimension has low and high
            v = min(max(v, bounded.low), bounded.high)
        out[dim.name] = v
    return out


def _materialize(space: SearchSpace, params: Mapping[str, float]) -> Any:
    raw = {dim.name: (dim.value if isinstance(dim, Fixed) else params[dim.name])
           for dim in space.dimensions}
    return space.materialize(raw)


def objective(curve: Curve | None, metric: str, mode: str) -> float | None:
    """The value BO maximizes: the run's best validation metric, signed; ``None`` if none.

    Example:
        >>> c = Curve([1, 2], [0.1, 0.2], [1.0, 0.5], {"error_rate": [0.4, 0.3]})
        >>> objective(c, "error_rate", "min")
        -0.3
    """
    if curve is None or metric not in curve.metrics:
        return None
    values = np.asarray(curve.metrics[metric], dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    return metric_sign(mode) * float(best_of(values, mode))


def _sampler_seed(base: int, workload: str, seed: int, index: int, attempt: int) -> int:
    text = f"hplists-bayesopt/{base}/{workload}/{seed}/{index}/{attempt}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def suggest(space: SearchSpace, history: Sequence[tuple[Any, float | None]], seed: int, *,
            n_startup_trials: int = N_STARTUP_TRIALS) -> Any:
    """The next point of a GP Bayesian-optimization run, given its earlier points and values.

    Args:
        space: the search space (its fixed dimensions stay fixed).
        history: ``(point, value)`` of the earlier trials in order; ``value``
            is what is maximized, ``None`` for a failed trial.
        seed: the sampler's seed (random start and acquisition optimization).
        n_startup_trials: random points before the GP takes over.

    Example:
        >>> from hplists.space import get_space
        >>> s = get_space("nadamw-broad")
        >>> suggest(s, [], seed=0) == suggest(s, [], seed=0)
        True
    """
    import optuna
    from optuna.trial import TrialState, create_trial

    dists = distributions(space)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        level = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            sampler = optuna.samplers.GPSampler(
                seed=seed, n_startup_trials=n_startup_trials,
                independent_sampler=optuna.samplers.RandomSampler(seed=seed),
                warn_independent_sampling=False)
            study = optuna.create_study(direction="maximize", sampler=sampler)
            for point, value in history:
                params = raw_params(space, point)
                if value is None or not math.isfinite(value):
                    trial = create_trial(params=params, distributions=dists,
                                         state=TrialState.FAIL)
                else:
                    trial = create_trial(params=params, distributions=dists, value=value)
                study.add_trial(trial)
            asked = study.ask(dists)
        finally:
            optuna.logging.set_verbosity(level)
    return _materialize(space, asked.params)


@dataclasses.dataclass
class _Chain:
    workload: Any
    seed: int
    history: list[tuple[Any, float | None]]
    busy: bool = False
    blocked: bool = False  # its next trial runs in another live process


class BayesOptSource:
    """Sequential GP runs (one per workload and seed) as a :class:`~hplists.trials.loop.Source`.

    Args:
        store: the trial store; it alone holds the runs' state.
        study: the study the trials go to (e.g. ``"baseline/bo-gp-10"``).
        workloads: the workloads (instances).
        seeds: one run per seed on each workload (its training seed).
        n_trials: trials per run.
        space: the search space (default ``nadamw-broad``).
        n_startup_trials: random points before the GP.
        sampler_seed: base of the sampler seeds.
    """

    def __init__(self, store: TrialStore, study: str, workloads: Sequence[Any], seeds: Sequence[int],
                 n_trials: int, *, space: SearchSpace | str = "nadamw-broad",
                 n_startup_trials: int = N_STARTUP_TRIALS, sampler_seed: int = 0) -> None:
        from hplists.space import get_space

        self._store = store
        self.study = study
        self.space = get_space(space) if isinstance(space, str) else space
        self.n_trials = check_int("n_trials", n_trials, low=1)
        self.n_startup_trials = check_int("n_startup_trials", n_startup_trials, low=0)
        self.sampler_seed = check_int("sampler_seed", sampler_seed, low=0)
        distributions(self.space)  # check the space early
        self._chains: list[_Chain] = []
        for w in workloads:
            recorded: dict[tuple[int, int], TrialRecord] = {}
            for r in store.trials(study=study, workload=w.name):
                if r.point_index is not None and r.status is not Status.RUNNING:
                    recorded[(r.seed, r.point_index)] = r
            for s in seeds:
                history = []
                for i in range(self.n_trials):
                    rec = recorded.get((int(s), i))
                    if rec is None:
                        break
                    history.append((rec.point, objective(rec.curve, w.metric.name,
                                                         w.metric.mode)))
                self._chains.append(_Chain(w, int(s), history))

    def _open(self, c: _Chain) -> bool:
        return not c.busy and not c.blocked and len(c.history) < self.n_trials

    def remaining_work(self) -> int:
        return sum((self.n_trials - len(c.history)) * c.workload.step_budget
                   for c in self._chains)

    def remaining_trials(self) -> int:
        """Trials of all runs not recorded yet."""
        return sum(self.n_trials - len(c.history) for c in self._chains)

    def done(self) -> bool:
        return not any(c.busy or self._open(c) for c in self._chains)

    def _suggest(self, c: _Chain) -> tuple[Any, int]:
        i = len(c.history)
        seen = {point_id(p) for p, _ in c.history}
        for attempt in range(_MAX_ATTEMPTS):
            seed = _sampler_seed(self.sampler_seed, c.workload.name, c.seed, i, attempt)
            point = suggest(self.space, c.history, seed, n_startup_trials=self.n_startup_trials)
            if point_id(point) not in seen:
                return point, seed
        raise RuntimeError(f"the GP proposed only points already tried in run "
                           f"(workload={c.workload.name!r}, seed={c.seed}) after "
                           f"{_MAX_ATTEMPTS} reseeds")

    def next_task(self, retry_errors: bool) -> tuple[TrainTask, list[TrialKey]] | None:
        # Workload-major order: one workload's runs finish before the next starts, so its
        # data and compiled program stay cached in the engine.
        for c in self._chains:
            while self._open(c):
                point, seed = self._suggest(c)
                i = len(c.history)
                key = claim_trial(
                    self._store, self.study, point, c.workload, c.seed, i,
                    retry_errors=retry_errors,
                    provenance={"bayesopt": {"sampler": "optuna.samplers.GPSampler",
                                             "sampler_seed": seed, "trial": i,
                                             "n_startup_trials": self.n_startup_trials,
                                             "space": self.space.name}})
                if key is not None:
                    c.busy = True
                    return TrainTask(self.study, c.workload, c.seed, (point,), (i,)), [key]
                if not self._take_recorded(c, point):
                    c.blocked = True
        return None

    def _take_recorded(self, c: _Chain, point: Any) -> bool:
        """A claim was refused: use the trial's recorded result if it finished (e.g. an error)."""
        pid = point_id(point)
        for r in self._store.trials(study=self.study, workload=c.workload.name):
            if r.point_id == pid and r.seed == c.seed and r.status is not Status.RUNNING:
                c.history.append((r.point, objective(r.curve, c.workload.metric.name,
                                                     c.workload.metric.mode)))
                return True
        return False

    def record(self, task: TrainTask, curves: Sequence[Curve | None], output: Any) -> None:
        for c in self._chains:
            if c.busy and c.workload.name == task.workload.name and c.seed == task.seed:
                c.busy = False
                c.history.append((task.points[0], objective(
                    curves[0], c.workload.metric.name, c.workload.metric.mode)))
                return

    def unwanted(self, task: TrainTask) -> str | None:
        return None  # every trial of a run is part of it


def copy_prefix(store: TrialStore, source: str, target: str, n: int) -> int:
    """Records the first ``n`` trials of every run of study ``source`` as study ``target``.

    A BO run's first ``n`` trials do not depend on its total budget (see the
    module docstring), so this *is* an ``n``-trial run, without training
    anything twice. Runs with fewer than ``n`` finished trials are skipped.
    Returns the number of trials written (0 when all are there already).
    """
    n = check_int("n", n, low=1)
    runs: dict[tuple[str, int], list[TrialRecord]] = {}
    for r in store.trials(study=source):
        if r.point_index is not None and r.point_index < n and r.status is not Status.RUNNING:
            runs.setdefault((r.workload, r.seed), []).append(r)
    records = []
    for rs in runs.values():
        # every point_index is an int: runs holds only records that have one
        if sorted(cast(int, r.point_index) for r in rs) != list(range(n)):
            continue
        for r in rs:
            prov = {**r.provenance, "copied_from": source}
            records.append(dataclasses.replace(r, study=target, provenance=prov))
    return record_copies(store, records)
