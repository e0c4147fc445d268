"""Time-to-target: the first evaluated step at which a run reaches its validation target.

Paper 001 (Sec. 2.5) and AlgoPerf define successful training as reaching the
workload's validation target within its step budget ``T``. For one run with
evaluations at steps ``s_1 < s_2 < ... <= T``,

    t = min { s_j : v_j <= target }    (metrics that go down, ``mode="min"``)
    t = min { s_j : v_j >= target }    (metrics that go up,   ``mode="max"``)

and ``t = inf`` when no evaluation reaches the target. The step fraction is
``t / T`` (``inf`` for a miss).

Non-finite values. An evaluation whose value is NaN or +-inf never reaches the
target. Such values are only legitimate in a run that *diverged* (its training
loss or metrics became non-finite, and training stopped): evaluations made
before the divergence still count, as in AlgoPerf's
``scoring/performance_profile.py`` (read from ``get_best_trial_index``: it
compares ``NaN <= target`` as false and keeps earlier hits). A diverged run
that never reached the target is ``inf``. A run that is *not* marked diverged
and has a non-finite value is an error: the recording is inconsistent, and
scoring it either way could silently change a list.

One definition, computed once. :func:`first_hit_of` turns one curve and a
target into its :class:`Hit` (the evaluation's index, its step ``t``, ``t / T``,
its wall-clock seconds, and the curve's best value); :func:`first_hit` finds
the first hits of many curves at once, with array operations; and
:func:`first_hit_sql` is the same definition in SQL, which a trial store uses to
answer the first hits of millions of trials in its own query. Every figure of
hplists that reports a first hit or ``t / T`` comes from these: the scoring
matrix and submission times (:mod:`hplists.scoring.matrix`, through the
store's :func:`hplists.store.base.summarize` and its query), ``hplists run``,
:func:`hplists.tune` and :func:`hplists.study.evaluate.evaluate`
(``tests/test_time_to_target_agreement.py`` holds them equal). The code lives
in :mod:`hplists.metric`, because the trial store, a layer below scoring, uses
it; this module re-exports it.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from hplists._check import check_choice, check_real
from hplists.exceptions import InvalidParameterError
from hplists.metric import (
    Hit,
    HitSQL,
    best_finite,
    check_budget,
    check_curve,
    check_nonfinite,
    first_hit,
    first_hit_of,
    first_hit_sql,
    fraction_of,
    reaches,
)

__all__ = ["Hit", "HitSQL", "best_value", "first_hit", "first_hit_of", "first_hit_sql",
           "fraction_of", "reaches", "step_fraction", "time_to_target"]

Mode = Literal["min", "max"]


def time_to_target(
    steps: np.ndarray,
    values: np.ndarray,
    target: float,
    mode: Mode,
    *,
    diverged: np.ndarray | bool = False,
) -> np.ndarray:
    """First evaluated step at which ``values`` reach ``target``; ``inf`` if never.

    Args:
        steps: evaluated steps ``[E]``, strictly increasing, shared by every run.
        values: validation metric ``[..., E]``, one curve per leading index.
        target: the validation target.
        mode: ``"min"`` (reached when ``value <= target``) or ``"max"``
            (``value >= target``).
        diverged: whether each run (``[...]``, or one bool for all) diverged;
            non-finite values are allowed only in diverged runs.

    Returns:
        float array ``[...]`` of steps (``inf`` where the target was missed).

    Example:
        >>> time_to_target([10, 20, 30], [0.5, 0.3, 0.2], target=0.3, mode="min")
        array(20.)
        >>> time_to_target([10, 20, 30], [[0.5, 0.3, 0.2], [0.9, 0.8, 0.7]], 0.3, "min")
        array([20., inf])
        >>> time_to_target([10, 20, 30], [0.2, float("nan"), 0.1], 0.25, "min", diverged=True)
        array(10.)
    """
    steps, values = check_curve(steps, values)
    idx = first_hit(values, target, mode, diverged=diverged)
    return np.where(idx >= 0, steps[np.maximum(idx, 0)].astype(np.float64), np.inf)


def step_fraction(
    steps: np.ndarray,
    values: np.ndarray,
    target: float,
    mode: Mode,
    step_budget: int,
    *,
    diverged: np.ndarray | bool = False,
) -> np.ndarray:
    """Time-to-target as a fraction ``t / T`` of the step budget ``T``; ``inf`` for a miss.

    Steps beyond the budget are an error: the budget must be the one the run
    was trained with (the learning-rate schedule depends on it).

    Example:
        >>> step_fraction([25, 50, 75, 100], [0.6, 0.4, 0.25, 0.2], 0.3, "min", 100)
        array(0.75)
    """
    check_real("step_budget", step_budget, low=0.0, low_open=True)
    steps, values = check_curve(steps, values)
    budget = check_budget(steps, step_budget)
    idx = first_hit(values, target, mode, diverged=diverged)
    return fraction_of(np.where(idx >= 0, steps[np.maximum(idx, 0)], -1), budget)


def best_value(
    values: np.ndarray, mode: Mode, *, diverged: np.ndarray | bool = False
) -> np.ndarray:
    """Best finite value of each curve (``min`` or ``max`` over the last axis).

    Non-finite values follow the rule of :func:`time_to_target` (allowed only
    in diverged runs, and never the best); a curve with no finite value gets
    the worst possible value (``+inf`` for ``"min"``, ``-inf`` for ``"max"``).

    Example:
        >>> best_value([[0.5, 0.3, 0.4], [0.9, float("nan"), 0.7]], "min",
        ...            diverged=[False, True])
        array([0.3, 0.7])
    """
    check_choice("mode", mode, ("min", "max"))
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 0 or values.shape[-1] == 0:
        raise InvalidParameterError(f"values must have at least one evaluation, got shape {values.shape}")
    check_nonfinite(values, diverged)
    return best_finite(values, mode)
