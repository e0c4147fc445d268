"""Greedy construction of an ordered hyperparameter list (paper 001, Algorithm 1).

Starting from the empty list, repeatedly append the point that lowers the
cost ``C_tau`` (:func:`hplists.scoring.cost.cost`) of the list the most:

    p* = argmin_{p not in L} C_tau(L + p),    L <- L + p*,    until |L| = K.

Because each step only appends, the list of size ``K - 1`` is the prefix of the
list of size ``K``: one run gives the list for every budget up to ``K``.
"""

from __future__ import annotations

import numpy as np

from hplists._check import check_real
from hplists.lists.constructed import ConstructedList, check_list_size
from hplists.scoring.cost import DEFAULT_TAU, check_fractions

__all__ = ["TIE_TOLERANCE", "greedy_list"]

# Costs are compared as sums of logs; sums this close are ties (floating-point noise).
TIE_TOLERANCE = 1e-12


def greedy_list(fractions: np.ndarray, k: int, tau: float = DEFAULT_TAU) -> ConstructedList:
    """Builds an ordered list of ``k`` points greedily (paper 001, Algorithm 1).

    Args:
        fractions: step fractions ``[P, N]`` of ``P`` candidate points on ``N``
            workloads (``inf`` = target missed), or a
            :class:`~hplists.scoring.matrix.TrialMatrix`.
        k: list length, ``1 <= k <= P``.
        tau: penalty factor of the cost, ``>= 1`` (paper: 2).

    Returns:
        a :class:`~hplists.lists.constructed.ConstructedList` (``method="greedy"``).

    Tie-breaking (deterministic): among candidates whose cost ``C_tau(L + p)``
    is minimal (sums of log-fractions within ``1e-12``), take the one that
    trains the most workloads together with ``L``; among those, the lowest
    point index. So once no point lowers the cost any further, the list goes
    on with the lowest-index unused points.

    Complexity: ``O(K P N)`` time, ``O(P N)`` memory.

    Example:
        >>> F = np.array([[0.5, np.inf, np.inf],
        ...               [0.9, 0.6, np.inf],
        ...               [np.inf, np.inf, 0.4]])
        >>> result = greedy_list(F, k=2, tau=2.0)
        >>> result.indices, [round(c, 4) for c in result.costs], result.trained
        ((1, 2), [1.026, 0.6], (2, 3))
    """
    arr = check_fractions(getattr(fractions, "fractions", fractions))
    k = check_list_size(k, arr.shape[0])
    tau = check_real("tau", tau, low=1.0, high=np.inf, high_open=True)
    return build(arr, greedy_order(arr, k, tau), tau, "greedy")


def greedy_order(arr: np.ndarray, k: int, tau: float) -> list[int]:
    """Row indices chosen by Algorithm 1 (validated input; see :func:`greedy_list`)."""
    with np.errstate(divide="ignore"):
        logs = np.log(np.minimum(arr, tau))  # [P, N], each <= log(tau)
    finite = np.isfinite(arr)
    best = np.full(arr.shape[1], np.log(tau))
    trained = np.zeros(arr.shape[1], dtype=bool)
    used = np.zeros(arr.shape[0], dtype=bool)
    order: list[int] = []
    for _ in range(k):
        totals = np.minimum(best, logs).sum(axis=1)  # N * log C_tau(L + p)
        totals[used] = np.inf
        ties = np.flatnonzero(totals <= totals.min() + TIE_TOLERANCE)
        n_trained = (trained | finite[ties]).sum(axis=1)
        p = int(ties[np.argmax(n_trained)])  # argmax returns the first: the lowest index
        order.append(p)
        used[p] = True
        best = np.minimum(best, logs[p])
        trained |= finite[p]
    return order


def build(arr: np.ndarray, order: list[int], tau: float, method: str) -> ConstructedList:
    """The :class:`ConstructedList` of rows ``order`` of ``arr``, with its prefix costs."""
    prefix_best = np.minimum.accumulate(arr[order], axis=0)
    with np.errstate(divide="ignore"):
        costs = np.exp(np.log(np.minimum(prefix_best, tau)).mean(axis=1))
    return ConstructedList(
        indices=tuple(int(i) for i in order),
        costs=tuple(float(c) for c in costs),
        trained=tuple(int(n) for n in np.isfinite(prefix_best).sum(axis=1)),
        fractions=prefix_best[-1].copy(),
        tau=float(tau),
        method=method,
        prefix_fractions=prefix_best,
    )
