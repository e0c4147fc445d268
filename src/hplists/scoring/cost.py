"""The cost ``C_tau`` of a hyperparameter list (paper 001, Sec. 2.5).

For ``N`` workloads with step budgets ``T_i`` and a list ``L`` whose points
reach workload ``i``'s target first at steps ``t_ki`` (``inf`` when missed),
the list's time on workload ``i`` is its best point's, ``t_i = min_k t_ki``, and

    C_tau(L) = prod_i min(t_i / T_i, tau) ** (1 / N),

the geometric mean of the step fractions, each capped at the penalty factor
``tau`` (a missed workload costs exactly ``tau``). The paper uses ``tau = 2``.

Everything here works on arrays of step fractions ``t / T``: ``[P, N]`` for
``P`` points on ``N`` workloads (see :mod:`hplists.scoring.matrix` for how they
are computed from recorded trials). ``inf`` marks a miss; NaN is an error.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hplists._check import check_real
from hplists.exceptions import InvalidParameterError

__all__ = [
    "DEFAULT_TAU",
    "check_fractions",
    "cost",
    "list_fractions",
    "log_cost",
    "prefix_costs",
]

DEFAULT_TAU = 2.0


def check_fractions(fractions: object, *, ndim: int | tuple[int, ...] = 2) -> np.ndarray:
    """``fractions`` as a float array of the expected rank, with no NaN and no negative value.

    Example:
        >>> check_fractions([[0.5, float("inf")]]).shape
        (1, 2)
    """
    arr = np.asarray(fractions, dtype=np.float64)
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in dims:
        raise InvalidParameterError(
            f"fractions must be a {' or '.join(f'{d}-D' for d in dims)} array of step "
            f"fractions, got shape {arr.shape}"
        )
    if arr.size == 0 or arr.shape[-1] == 0:
        raise InvalidParameterError(f"fractions must hold at least one workload, got shape {arr.shape}")
    if np.isnan(arr).any():
        raise InvalidParameterError(
            "fractions must not contain NaN; a missed target is inf (see hplists.scoring."
            "time_to_target for how non-finite metrics are handled)"
        )
    if (arr < 0).any():
        raise InvalidParameterError(f"fractions must be >= 0, got minimum {arr.min()}")
    return arr


def _tau(tau: float) -> float:
    return check_real("tau", tau, low=1.0, high=np.inf, high_open=True)


def log_cost(best: np.ndarray, tau: float) -> np.ndarray:
    """``log C_tau`` of per-workload best fractions ``[..., N]``, vectorized over leading axes.

    Working in logs turns the geometric mean into a mean, so greedy and
    exhaustive search compare sums instead of products (no underflow).

    Example:
        >>> float(np.exp(log_cost(np.array([0.5, np.inf]), tau=2.0)))
        1.0
    """
    with np.errstate(divide="ignore"):
        return np.log(np.minimum(best, tau)).mean(axis=-1)


def cost(fractions: np.ndarray | Sequence, tau: float = DEFAULT_TAU) -> float:
    """``C_tau``: geometric mean over workloads of ``min(t_i / T_i, tau)``.

    Args:
        fractions: either the list's best step fraction per workload ``[N]``,
            or the step fractions of each of its ``K`` points ``[K, N]`` (the
            best per workload is then the minimum over points).
        tau: the penalty factor for a missed workload, ``>= 1`` (paper: 2).

    Returns:
        the cost, in ``[min fraction, tau]``; lower is better.

    Example (paper 001, Table 9: the final list on the 8 base workloads)::

        >>> round(cost([0.75886, float("inf"), 0.949664, 0.809714,
        ...             0.82, 0.79, 0.58, 0.659837], tau=2.0), 6)
        0.856396
        >>> cost([[0.5, float("inf")], [0.8, 0.5]], tau=2.0)
        0.5
    """
    arr = check_fractions(fractions, ndim=(1, 2))
    best = arr if arr.ndim == 1 else arr.min(axis=0)
    return float(np.exp(log_cost(best, _tau(tau))))


def list_fractions(fractions: np.ndarray, indices: Sequence[int]) -> np.ndarray:
    """Best step fraction per workload ``[N]`` of the points ``indices`` of ``fractions [P, N]``.

    Example:
        >>> list_fractions(np.array([[0.5, np.inf], [0.8, 0.5]]), [0, 1]).tolist()
        [0.5, 0.5]
    """
    arr = check_fractions(fractions)
    idx = _indices(indices, arr.shape[0])
    return arr[idx].min(axis=0)


def prefix_costs(
    fractions: np.ndarray, indices: Sequence[int], tau: float = DEFAULT_TAU
) -> tuple[np.ndarray, np.ndarray]:
    """Cost and number of workloads trained by each prefix ``indices[:k]``, ``k = 1..K``.

    This is the list-size curve of an ordered list on the workloads of
    ``fractions`` (cf. paper 001, Figure 2, which plots it on held-out
    workloads: see :func:`hplists.lists.loo.list_size_curve`).

    Returns:
        ``(costs [K], trained [K])``.

    Example:
        >>> c, n = prefix_costs(np.array([[0.5, np.inf], [0.8, 0.5]]), [0, 1], tau=2.0)
        >>> c.round(4).tolist(), n.tolist()
        ([1.0, 0.5], [1, 2])
    """
    arr = check_fractions(fractions)
    idx = _indices(indices, arr.shape[0])
    best = np.minimum.accumulate(arr[idx], axis=0)
    return np.exp(log_cost(best, _tau(tau))), np.isfinite(best).sum(axis=1)


def _indices(indices: Sequence[int], num_points: int) -> np.ndarray:
    idx = np.asarray(indices)
    if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
        raise InvalidParameterError(f"indices must be a non-empty 1-D sequence of point indices, got {indices!r}")
    if idx.min() < 0 or idx.max() >= num_points:
        raise InvalidParameterError(f"indices must be in [0, {num_points - 1}], got {idx.tolist()}")
    return idx
