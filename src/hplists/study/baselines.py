"""The baselines of paper 001 (Sec. 3.1.1), each a study of its own, at the lists' budget.

Every baseline is declared once, as a :class:`Baseline` record in
:data:`BASELINES`: its key, study, report label, the paper's row, and how to run
it (its points, or a Bayesian-optimization budget). The study
(:mod:`hplists.study.workflow`) runs the records, and the report
(:mod:`hplists.report.studies`, :mod:`hplists.report.synthetic`) reads the
same records, so adding a baseline is adding one record here (and the
function that makes its points, if it is new).

Every baseline spends the budget of a 5-point list: five points, each
trained on every base workload with the study's rerun seeds (five by default),
and is scored like the lists (median over seeds):

========================================  ============================================
study                                     points
========================================  ============================================
``baseline/lr-sweep-wd0.5``               :func:`lr_sweep` with weight decay 0.5
``baseline/lr-sweep-wd1e-4``              :func:`lr_sweep` with weight decay 1e-4
``baseline/bo-gp-5``, ``baseline/bo-gp-10``  Gaussian-process Bayesian optimization
                                          (:mod:`hplists.study.bayesopt`)
``baseline/metz``                         the first 5 entries of Metz et al. (2020),
                                          with their update rule (:mod:`hplists.optim.metz`)
``baseline/random-5``                     5 i.i.d. uniform points of ``nadamw-broad``
                                          (:data:`RANDOM_SEARCH_SEED`)
``list/nadamw-paper``                     the published list of paper 001, as it is
``list/nadamw-algoperf-baseline``         AlgoPerf's 5 baseline points, as they are
========================================  ============================================

Learning-rate sweeps (paper 001: "5 points on a log scale" in [1e-4, 1e-2],
weight decay 0.5 or 1e-4, "other hyperparameters at defaults"). Our defaults,
:data:`LR_SWEEP_DEFAULTS`, are Adam's and AlgoPerf's usual ones: beta1 = 0.9,
beta2 = 0.999, eps = 1e-8, a 5% linear warmup (the middle of Table 1's
choices) and no dropout or label smoothing (the regularizers are off, as in
a library's defaults). The schedule is the lists' (warmup, then cosine decay).

Random search draws with ``numpy.random.default_rng(seed)`` (plain random, not
quasi-random: that is the baseline practitioners run); tuning curves over the
200 broad points give random search at every other budget.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hplists import exact
from hplists._check import check_int, check_real
from hplists.exceptions import InvalidParameterError
from hplists.hparams import HParams

__all__ = [
    "BASELINES",
    "BAYESOPT_STUDIES",
    "LR_SWEEP_DEFAULTS",
    "METZ_RULE",
    "RANDOM_SEARCH_SEED",
    "Baseline",
    "BaselineSetup",
    "FixedBaseline",
    "baselines",
    "bayesopt_study",
    "fixed_baselines",
    "lr_sweep",
    "random_search",
]

LR_SWEEP_DEFAULTS: dict[str, float] = {
    "beta1": 0.9,
    "beta2": 0.999,
    "eps": 1e-8,
    "warmup_fraction": 0.05,
    "dropout_rate": 0.0,
    "label_smoothing": 0.0,
}
# Seed of the random-search baseline's 5 points (any fixed seed; recorded in the study).
RANDOM_SEARCH_SEED = 5
METZ_RULE = "metz"  # the registered name (hplists.optim.rules)


def lr_sweep(weight_decay: float, n: int = 5, low: float = 1e-4, high: float = 1e-2,
             **defaults: float) -> list[HParams]:
    """``n`` learning rates log-spaced over ``[low, high]`` (ends included), the rest fixed.

    With ``n = 1`` the one rate is the geometric middle of the range.

    Args:
        weight_decay: the sweep's fixed (decoupled) weight decay.
        n: number of points.
        low, high: the learning-rate range (paper 001: Table 1's, [1e-4, 1e-2]).
        **defaults: overrides of :data:`LR_SWEEP_DEFAULTS`.

    Example:
        >>> [f"{p.learning_rate:.3g}" for p in lr_sweep(0.5)]
        ['0.0001', '0.000316', '0.001', '0.00316', '0.01']
        >>> lr_sweep(0.5)[0].weight_decay, lr_sweep(0.5)[0].warmup_fraction
        (0.5, 0.05)
    """
    n = check_int("n", n, low=1)
    low = check_real("low", low, 0.0, low_open=True)
    high = check_real("high", high, low)
    weight_decay = check_real("weight_decay", weight_decay, 0.0)
    unknown = sorted(set(defaults) - set(LR_SWEEP_DEFAULTS))
    if unknown:
        raise InvalidParameterError(f"unknown default(s) {unknown}; allowed are {sorted(LR_SWEEP_DEFAULTS)}")
    fixed = {**LR_SWEEP_DEFAULTS, **defaults}
    if n == 1:  # one rate: the middle of the range on the log scale
        rates = [math.sqrt(low * high)]
    else:
        # correctly rounded exp/log: the same rates on every machine (hplists.exact)
        rates = [float(exact.exp(x)) for x in np.linspace(float(exact.log(low)),
                                                          float(exact.log(high)), n)]
        rates[0], rates[-1] = low, high  # exact ends
    return [HParams(learning_rate=lr, weight_decay=weight_decay, **fixed) for lr in rates]


def random_search(n: int = 5, seed: int = RANDOM_SEARCH_SEED,
                  space: str = "nadamw-broad") -> list[Any]:
    """``n`` i.i.d. uniform points of the search space (plain random search).

    Example:
        >>> pts = random_search(5)
        >>> len(pts), pts == random_search(5)
        (5, True)
    """
    from hplists.space import get_space

    return get_space(space).sample(n, seed=seed, method="random")


@dataclasses.dataclass(frozen=True)
class BaselineSetup:
    """What a baseline's points may depend on: the list length and the study's seeds.

    Attributes:
        n: the list length ``k`` (the budget of a list, in trials per workload and seed).
        random_seed: seed of the random-search baseline's points.
        space: the search space of random points.
    """

    n: int = 5
    random_seed: int = RANDOM_SEARCH_SEED
    space: str = "nadamw-broad"


@dataclasses.dataclass(frozen=True)
class Baseline:
    """One baseline of paper 001, declared once: what the study runs and the report reads.

    Attributes:
        key: short name: the store manifest's ``baseline:<key>`` and the report's
            ``--study-name baseline:<key>=...``.
        label: the row's label in the report (Tables 5 and 6).
        study: the study holding its trials (with the default list length 5).
        paper_row: the matching row of the paper's Tables 5 and 6 (``None`` if
            the paper has none).
        budget: trials per workload and seed (the tuning budget).
        description: one line for reports.
        points: how to run it, for a baseline of known points: the function
            that makes them (:class:`~hplists.HParams`, or mappings for another
            update rule) from a :class:`BaselineSetup`.
        update_rule: a registered rule name (:mod:`hplists.optim.rules`) or
            ``"package.module:function"`` for ``points``; ``None`` for NAdamW.
        bo_budget: how to run it, for a Bayesian-optimization baseline
            (:mod:`hplists.study.bayesopt`): trials per run.
        sized_study: the study's name ends in the list length (``-5`` at
            ``k = 5``, ``-3`` at ``k = 3``).

    Example:
        >>> b = next(b for b in BASELINES if b.key == "random-5")
        >>> b.study, b.study_at(3), len(b.points(BaselineSetup(n=3)))
        ('baseline/random-5', 'baseline/random-3', 3)
    """

    key: str
    label: str
    study: str
    paper_row: str | None
    budget: int
    description: str = ""
    points: Callable[[BaselineSetup], Sequence[Any]] | None = None
    update_rule: str | None = None
    bo_budget: int | None = None
    sized_study: bool = False

    def __post_init__(self) -> None:
        if (self.points is None) == (self.bo_budget is None):
            raise InvalidParameterError(f"baseline {self.key!r} needs either points or a "
                                        "bo_budget (how to run it), not both")

    def study_at(self, n: int) -> str:
        """The study's name with list length ``n``."""
        if not self.sized_study:
            return self.study
        return f"{self.study.rsplit('-', 1)[0]}-{n}"

    def fixed(self, setup: BaselineSetup) -> FixedBaseline:
        """The baseline's study and points for ``setup`` (a baseline of known points)."""
        if self.points is None:
            raise InvalidParameterError(f"baseline {self.key!r} has no fixed points (it is "
                                        "a Bayesian-optimization run)")
        return FixedBaseline(self.study_at(setup.n), tuple(self.points(setup)), self.description,
                             self.update_rule, self.key)


def _lr_sweep(weight_decay: float) -> Callable[[BaselineSetup], list[HParams]]:
    return lambda s: lr_sweep(weight_decay, s.n)


def _random(s: BaselineSetup) -> list[Any]:
    return random_search(s.n, s.random_seed, s.space)


def _listed(name: str, at_most: int | None = None) -> Callable[[BaselineSetup], tuple[Any, ...]]:
    def points(s: BaselineSetup) -> tuple[Any, ...]:
        from hplists.lists import get_list

        if at_most is None:
            return tuple(get_list(name).points)
        return tuple(get_list(name, k=min(s.n, at_most)).points)

    return points


_SWEEP = ("learning-rate sweep: k log-spaced rates in [1e-4, 1e-2], weight decay {}, beta1 0.9, "
          "beta2 0.999, warmup 0.05, no dropout or label smoothing")

#: Every baseline, in the report's row order (Tables 5 and 6). The study runs those with
#: points in this order, then the Bayesian optimization.
BASELINES: tuple[Baseline, ...] = (
    Baseline("lr-wd0.5", "LR sweep (WD = 0.5)", "baseline/lr-sweep-wd0.5",
             "LR sweep (WD = 0.5)", 5, _SWEEP.format("0.5"), points=_lr_sweep(0.5)),
    Baseline("lr-wd1e-4", "LR sweep (WD = 1e-4)", "baseline/lr-sweep-wd1e-4",
             "LR sweep (WD = 1e-4)", 5, _SWEEP.format("1e-4"), points=_lr_sweep(1e-4)),
    Baseline("bo-5", "BO, Optuna GP (budget = 5)", "baseline/bo-gp-5", "Vizier (budget = 5)", 5,
             "Gaussian-process Bayesian optimization, 5 trials per run", bo_budget=5),
    Baseline("bo-10", "BO, Optuna GP (budget = 10)", "baseline/bo-gp-10",
             "Vizier (budget = 10)", 10,
             "Gaussian-process Bayesian optimization, 10 trials per run", bo_budget=10),
    Baseline("metz", "Metz et al. (first 5)", "baseline/metz", "Metz et al", 5,
             "Metz et al. (2020): the first entries of opt_list's nadamw list, with their "
             "update rule and schedule", points=_listed("metz-nadamw", at_most=5),
             update_rule=METZ_RULE),
    Baseline("random-5", "Random search (budget = 5)", "baseline/random-5",
             "Random Search (budget = 5)", 5,
             "random search: k i.i.d. uniform points of the space (its own seed)",
             points=_random, sized_study=True),
    Baseline("nadamw-paper", "List nadamw-paper (paper 001, Table 10)", "list/nadamw-paper",
             None, 5, "the published 5-point list of paper 001 (Table 10)",
             points=_listed("nadamw-paper")),
    Baseline("nadamw-algoperf-baseline", "List nadamw-algoperf-baseline",
             "list/nadamw-algoperf-baseline", None, 5, "AlgoPerf's 5 NAdamW baseline points",
             points=_listed("nadamw-algoperf-baseline")),
)


def baselines() -> tuple[Baseline, ...]:
    """The declared baselines (:data:`BASELINES`, read when called), in the report's order."""
    return BASELINES


# Budgets of the Bayesian-optimization baselines -> their studies.
BAYESOPT_STUDIES: dict[int, str] = {b.bo_budget: b.study for b in BASELINES
                                    if b.bo_budget is not None}


def bayesopt_study(n: int) -> str:
    """The study of the Bayesian-optimization baseline with ``n`` trials per run.

    Example:
        >>> bayesopt_study(10), bayesopt_study(4)
        ('baseline/bo-gp-10', 'baseline/bo-gp-4')
    """
    for b in baselines():
        if b.bo_budget == n:
            return b.study
    return f"baseline/bo-gp-{n}"


@dataclasses.dataclass(frozen=True)
class FixedBaseline:
    """A baseline whose points are known in advance, resolved for one study.

    Attributes:
        study: the study its trials go to.
        points: the points, in order (:class:`~hplists.HParams`, or mappings
            for another update rule).
        description: one line for reports.
        update_rule: a registered rule name (:mod:`hplists.optim.rules`) or
            ``"package.module:function"``; ``None`` for NAdamW.
        key: its :class:`Baseline` record's key.
    """

    study: str
    points: tuple[Any, ...]
    description: str
    update_rule: str | None = None
    key: str = ""


def fixed_baselines(*, random_seed: int = RANDOM_SEARCH_SEED, space: str = "nadamw-broad",
                    n: int = 5, names: Sequence[str] | None = None) -> list[FixedBaseline]:
    """The baselines with fixed points, in report order (all, or those named by study).

    Example:
        >>> [b.study for b in fixed_baselines()]  # doctest: +NORMALIZE_WHITESPACE
        ['baseline/lr-sweep-wd0.5', 'baseline/lr-sweep-wd1e-4', 'baseline/metz',
         'baseline/random-5', 'list/nadamw-paper', 'list/nadamw-algoperf-baseline']
    """
    n = check_int("n", n, low=1)
    setup = BaselineSetup(n, random_seed, space)
    out = [b.fixed(setup) for b in baselines() if b.points is not None]
    if names is None:
        return out
    known = [b.study for b in out]
    unknown = [s for s in names if s not in known]
    if unknown:
        raise InvalidParameterError(f"unknown baseline(s) {unknown}; fixed baselines are {known}")
    return [b for b in out if b.study in names]
