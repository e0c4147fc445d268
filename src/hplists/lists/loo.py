"""Leave-one-workload-out cross-validation of list construction (paper 001, Sec. 3.1).

For each workload ``i`` in turn, build a list of ``K`` points from the other
``N - 1`` workloads only, then score it on workload ``i``: its time there is
its best point's, ``t_i = min_{p in L} F[p, i]``. This measures how a list
generalizes to a workload it has never seen, the paper's main test.

Also here, the two sweeps of the paper built on it:

* :func:`list_size_curve` (Figure 2): number of held-out workloads trained and
  mean held-out cost against the list size;
* :func:`tau_sweep` (Table 12): the same against the penalty factor ``tau``.

Repeated seeds enter through the matrix: each cell is the median over seeds
of that point's step fraction (:class:`hplists.scoring.matrix.TrialMatrix`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from hplists._check import check_choice, check_real
from hplists.exceptions import InvalidParameterError
from hplists.lists.constructed import ConstructedList, check_list_size
from hplists.lists.exhaustive import exhaustive_set
from hplists.lists.greedy import greedy_list
from hplists.metric import best_of
from hplists.scoring.cost import DEFAULT_TAU, check_fractions

__all__ = [
    "HeldOut",
    "LeaveOneOut",
    "ListSizeCurve",
    "TauSweep",
    "leave_one_out",
    "list_size_curve",
    "tau_sweep",
]

Method = Literal["greedy", "exhaustive"]


@dataclasses.dataclass(frozen=True)
class HeldOut:
    """One fold: the list built without ``workload``, scored on it.

    Attributes:
        workload: the held-out workload's column.
        name: its name (``None`` when built from a bare array).
        built: the list, built on the other workloads (its ``cost`` is the
            cost there; its indices are rows of the full matrix).
        fraction: the list's best step fraction on the held-out workload.
        best_point: row of the list's fastest point there (``None`` if missed).
        best_metric: the list's best validation metric there (``None`` without
            a :class:`~hplists.scoring.matrix.TrialMatrix`).
    """

    workload: int
    name: str | None
    built: ConstructedList
    fraction: float
    best_point: int | None
    best_metric: float | None = None

    @property
    def trained(self) -> bool:
        """Whether the list reached the held-out workload's target."""
        return bool(np.isfinite(self.fraction))

    def cost(self, tau: float) -> float:
        """``C_tau`` on the held-out workload alone: ``min(fraction, tau)``."""
        return float(min(self.fraction, tau))


@dataclasses.dataclass(frozen=True)
class LeaveOneOut:
    """All folds of a leave-one-workload-out run."""

    folds: tuple[HeldOut, ...]
    k: int
    tau: float
    method: str

    @property
    def fractions(self) -> np.ndarray:
        """``[N]`` held-out step fraction of each fold's list."""
        return np.array([f.fraction for f in self.folds])

    @property
    def num_trained(self) -> int:
        """Number of held-out workloads whose list reached the target (paper: 7 of 8)."""
        return int(sum(f.trained for f in self.folds))

    @property
    def mean_cost(self) -> float:
        """Mean over folds of ``min(held-out fraction, tau)`` (paper 001, Figure 2, right)."""
        return float(np.mean(np.minimum(self.fractions, self.tau)))


def _unpack(fractions: Any) -> tuple[np.ndarray, tuple[str, ...] | None, Any]:
    if hasattr(fractions, "fractions") and hasattr(fractions, "workloads"):
        return check_fractions(fractions.fractions), tuple(fractions.names), fractions
    return check_fractions(fractions), None, None


def _build(arr: np.ndarray, k: int, tau: float, method: str) -> ConstructedList:
    return greedy_list(arr, k, tau) if method == "greedy" else exhaustive_set(arr, k, tau)


def _on_all_workloads(built: ConstructedList, arr: np.ndarray) -> ConstructedList:
    """``built`` with its fractions on every column of ``arr`` (its costs stay those it was built on)."""
    prefix_best = np.minimum.accumulate(arr[list(built.indices)], axis=0)
    return dataclasses.replace(built, fractions=prefix_best[-1].copy(),
                               prefix_fractions=prefix_best)


def leave_one_out(
    fractions: Any,
    k: int,
    tau: float = DEFAULT_TAU,
    *,
    method: Method = "greedy",
) -> LeaveOneOut:
    """Leave-one-workload-out cross-validation (paper 001, Sec. 3.1 and Table 5).

    Args:
        fractions: step fractions ``[P, N]``, ``N >= 2``, or a
            :class:`~hplists.scoring.matrix.TrialMatrix` (then folds carry
            workload names and the list's best validation metric).
        k: list length, ``1 <= k <= P``.
        tau: penalty factor of the cost (paper: 2).
        method: ``"greedy"`` (Algorithm 1) or ``"exhaustive"`` (Appendix D).

    Example:
        >>> F = np.array([[0.5, 0.6, np.inf],
        ...               [np.inf, 0.9, 0.7],
        ...               [0.8, np.inf, np.inf]])
        >>> loo = leave_one_out(F, k=1, tau=2.0)
        >>> [f.built.indices for f in loo.folds], loo.fractions.tolist(), loo.num_trained
        ([(1,), (0,), (0,)], [inf, 0.6, inf], 1)
    """
    arr, names, matrix = _unpack(fractions)
    check_choice("method", method, ("greedy", "exhaustive"))
    if arr.shape[1] < 2:
        raise InvalidParameterError(f"leave-one-out needs at least 2 workloads, got {arr.shape[1]}")
    k = check_list_size(k, arr.shape[0])
    tau = check_real("tau", tau, low=1.0, high=np.inf, high_open=True)
    folds = []
    for i in range(arr.shape[1]):
        keep = [j for j in range(arr.shape[1]) if j != i]
        built = _build(arr[:, keep], k, tau, method)
        held = arr[list(built.indices), i]
        first = int(np.argmin(held))  # first in list order among equal times
        best_metric = None
        if matrix is not None:
            values = matrix.best_metric[list(built.indices), i]
            mode = matrix.workloads[i].mode
            best_metric = float(best_of(values, mode))
        folds.append(HeldOut(
            workload=i,
            name=None if names is None else names[i],
            built=_on_all_workloads(built, arr),
            fraction=float(held[first]),
            best_point=built.indices[first] if np.isfinite(held[first]) else None,
            best_metric=best_metric,
        ))
    return LeaveOneOut(tuple(folds), k, tau, method)


@dataclasses.dataclass(frozen=True)
class ListSizeCurve:
    """Held-out performance against list size (paper 001, Figure 2).

    Attributes:
        ks: ``[K]`` list sizes ``1..K``.
        trained: ``[K]`` number of held-out workloads trained.
        mean_cost: ``[K]`` mean over held-out workloads of ``min(fraction, tau)``.
        fractions: ``[K, N]`` held-out fraction of each fold's list prefix.
    """

    ks: np.ndarray
    trained: np.ndarray
    mean_cost: np.ndarray
    fractions: np.ndarray


def list_size_curve(
    fractions: Any,
    max_k: int,
    tau: float = DEFAULT_TAU,
    *,
    method: Method = "greedy",
) -> ListSizeCurve:
    """Leave-one-out results for every list size ``1..max_k`` (paper 001, Figure 2).

    Greedy lists are prefix-consistent, so one greedy run of length ``max_k``
    per fold gives every size; exhaustive sets are searched for each size.

    Example:
        >>> F = np.array([[0.5, 0.6, np.inf],
        ...               [np.inf, 0.9, 0.7],
        ...               [0.8, np.inf, np.inf]])
        >>> curve = list_size_curve(F, max_k=3, tau=2.0)
        >>> curve.trained.tolist()
        [1, 3, 3]
    """
    arr, _, _ = _unpack(fractions)
    check_choice("method", method, ("greedy", "exhaustive"))
    max_k = check_list_size(max_k, arr.shape[0])
    tau = check_real("tau", tau, low=1.0, high=np.inf, high_open=True)
    if arr.shape[1] < 2:
        raise InvalidParameterError(f"leave-one-out needs at least 2 workloads, got {arr.shape[1]}")
    held = np.empty((max_k, arr.shape[1]))
    for i in range(arr.shape[1]):
        others = np.delete(arr, i, axis=1)
        if method == "greedy":
            order = list(greedy_list(others, max_k, tau).indices)
            held[:, i] = np.minimum.accumulate(arr[order, i])
        else:
            for k in range(1, max_k + 1):
                held[k - 1, i] = arr[list(exhaustive_set(others, k, tau).indices), i].min()
    return ListSizeCurve(
        ks=np.arange(1, max_k + 1),
        trained=np.isfinite(held).sum(axis=1),
        mean_cost=np.minimum(held, tau).mean(axis=1),
        fractions=held,
    )


@dataclasses.dataclass(frozen=True)
class TauSweep:
    """Held-out performance against the penalty factor (paper 001, Table 12).

    Attributes:
        taus: ``[T]`` penalty factors.
        trained: ``[T]`` number of held-out workloads trained.
        mean_cost: ``[T]`` mean held-out ``min(fraction, tau)`` at each tau.
        runs: the leave-one-out run at each tau.
    """

    taus: np.ndarray
    trained: np.ndarray
    mean_cost: np.ndarray
    runs: tuple[LeaveOneOut, ...]


def tau_sweep(
    fractions: Any,
    taus: Sequence[float],
    k: int,
    *,
    method: Method = "greedy",
) -> TauSweep:
    """Leave-one-out at each penalty factor in ``taus`` (paper 001, Appendix C, Table 12).

    Example:
        >>> F = np.array([[0.5, 0.6, np.inf],
        ...               [np.inf, 0.9, 0.7],
        ...               [0.8, np.inf, np.inf]])
        >>> tau_sweep(F, [1.0, 2.0], k=2).trained.tolist()
        [3, 3]
    """
    taus = [check_real("tau", t, low=1.0, high=np.inf, high_open=True) for t in taus]
    if not taus:
        raise InvalidParameterError("taus must hold at least one penalty factor")
    runs = tuple(leave_one_out(fractions, k, t, method=method) for t in taus)
    return TauSweep(
        taus=np.array(taus),
        trained=np.array([r.num_trained for r in runs]),
        mean_cost=np.array([r.mean_cost for r in runs]),
        runs=runs,
    )
