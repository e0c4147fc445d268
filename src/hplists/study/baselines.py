"""The baselines of paper 001 (Sec. 3.1.1), each a study of its own, at the lists' budget.

Every baseline below spends the budget of a 5-point list: five points, each
trained on every base workload with the study's rerun seeds (five by default),
and is scored like the lists (median over seeds). Study names are fixed, so
reports find them:

========================================  ============================================
study                                     points
========================================  ============================================
``baseline/lr-sweep-wd0.5``               :func:`lr_sweep` with weight decay 0.5
``baseline/lr-sweep-wd1e-4``              :func:`lr_sweep` with weight decay 1e-4
``baseline/random-5``                     5 i.i.d. uniform points of ``nadamw-broad``
                                          (:data:`RANDOM_SEARCH_SEED`)
``baseline/metz``                         the first 5 entries of Metz et al. (2020),
                                          with their update rule (:mod:`hplists.optim.metz`)
``list/nadamw-paper``                     the published list of paper 001, as it is
``list/nadamw-algoperf-baseline``         AlgoPerf's 5 baseline points, as they are
``baseline/bo-gp-5``, ``baseline/bo-gp-10``  Gaussian-process Bayesian optimization
                                          (:mod:`hplists.study.bayesopt`)
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
from collections.abc import Sequence
from typing import Any

import numpy as np

from hplists import exact
from hplists._check import check_int, check_real
from hplists.exceptions import InvalidParameterError
from hplists.hparams import HParams

__all__ = [
    "BAYESOPT_STUDIES",
    "LR_SWEEP_DEFAULTS",
    "METZ_RULE",
    "RANDOM_SEARCH_SEED",
    "FixedBaseline",
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
# Budgets of the Bayesian-optimization baselines -> their studies.
BAYESOPT_STUDIES: dict[int, str] = {5: "baseline/bo-gp-5", 10: "baseline/bo-gp-10"}


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
class FixedBaseline:
    """A baseline whose points are known in advance.

    Attributes:
        study: the study its trials go to.
        points: the points, in order (:class:`~hplists.HParams`, or mappings
            for another update rule).
        description: one line for reports.
        update_rule: a registered rule name (:mod:`hplists.optim.rules`) or
            ``"package.module:function"``; ``None`` for NAdamW.
    """

    study: str
    points: tuple[Any, ...]
    description: str
    update_rule: str | None = None


def fixed_baselines(*, random_seed: int = RANDOM_SEARCH_SEED, space: str = "nadamw-broad",
                    n: int = 5, names: Sequence[str] | None = None) -> list[FixedBaseline]:
    """The baselines with fixed points, in report order (all, or those named by study).

    Example:
        >>> [b.study for b in fixed_baselines()]  # doctest: +NORMALIZE_WHITESPACE
        ['baseline/lr-sweep-wd0.5', 'baseline/lr-sweep-wd1e-4', 'baseline/random-5',
         'baseline/metz', 'list/nadamw-paper', 'list/nadamw-algoperf-baseline']
    """
    from hplists.lists import get_list

    n = check_int("n", n, low=1)
    out = [
        FixedBaseline("baseline/lr-sweep-wd0.5", tuple(lr_sweep(0.5, n)),
                      f"learning-rate sweep: {n} log-spaced rates in [1e-4, 1e-2], weight decay "
                      "0.5, beta1 0.9, beta2 0.999, warmup 0.05, no dropout or label smoothing"),
        FixedBaseline("baseline/lr-sweep-wd1e-4", tuple(lr_sweep(1e-4, n)),
                      f"learning-rate sweep: {n} log-spaced rates in [1e-4, 1e-2], weight decay "
                      "1e-4, beta1 0.9, beta2 0.999, warmup 0.05, no dropout or label smoothing"),
        FixedBaseline(f"baseline/random-{n}", tuple(random_search(n, random_seed, space)),
                      f"random search: {n} i.i.d. uniform points of {space} (seed {random_seed})"),
        FixedBaseline("baseline/metz", tuple(get_list("metz-nadamw", k=min(n, 5)).points),
                      "Metz et al. (2020): the first entries of opt_list's nadamw list, with "
                      "their update rule and schedule", update_rule=METZ_RULE),
        FixedBaseline("list/nadamw-paper", tuple(get_list("nadamw-paper").points),
                      "the published 5-point list of paper 001 (Table 10)"),
        FixedBaseline("list/nadamw-algoperf-baseline",
                      tuple(get_list("nadamw-algoperf-baseline").points),
                      "AlgoPerf's 5 NAdamW baseline points"),
    ]
    if names is None:
        return out
    known = [b.study for b in out]
    unknown = [s for s in names if s not in known]
    if unknown:
        raise InvalidParameterError(f"unknown baseline(s) {unknown}; fixed baselines are {known}")
    return [b for b in out if b.study in names]
