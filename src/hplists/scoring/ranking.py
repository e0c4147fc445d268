"""Ranking the points of a search: by ``C_tau``, then by how far each is from the targets.

Paper 002 (Sec. 3.2) keeps a search's top points by the cost ``C_tau``
(:mod:`hplists.scoring.cost`). Many points tie there: every point that
reaches no target costs exactly ``tau``. Ties are broken with the data, never
with the order of the sample:

    gap(p) = ( prod_i r_i ) ** (1 / N),  r_i = best_i / target_i  (metrics that go down)
                                          r_i = target_i / best_i  (metrics that go up)

the geometric mean over the ``N`` workloads of each point's best validation
metric relative to the target, oriented so that lower is closer (``r_i <= 1``
on a workload whose target was reached). A workload with no finite best value
(every evaluation diverged) has ``r_i = inf``; ratios are clipped to
``[1e-12, 1e12]`` so that a metric of exactly 0 ranks first, not as ``-inf``.
Points equal in both keys keep their sample order.

Both keys are computed with correctly rounded logarithms and an exactly
rounded sum (:mod:`hplists.exact`, :func:`math.fsum`), so the ranking is the
same on every machine: numpy's vectorised ``log`` can differ in the last bit
between CPUs, enough to reorder two points whose costs agree to 1 ulp.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from hplists import exact
from hplists.exceptions import InvalidParameterError
from hplists.scoring.cost import check_fractions
from hplists.scoring.workload_specs import WorkloadSpec

__all__ = ["GAP_CLIP", "log_cost_exact", "log_target_gap", "rank_points"]

GAP_CLIP = 1e12


def log_cost_exact(fractions: Sequence[float], tau: float) -> float:
    """``log C_tau`` of one point (``mean_i log min(f_i, tau)``), the same bits on every CPU.

    Example:
        >>> math.exp(log_cost_exact([0.5, float("inf")], 2.0))  # sqrt(0.5 * 2)
        1.0
    """
    f = check_fractions(fractions, ndim=1)
    capped = [min(float(x), tau) for x in f]
    if min(capped) <= 0:
        return -math.inf
    return math.fsum(float(exact.log(x)) for x in capped) / len(capped)


def log_target_gap(best: Sequence[float], specs: Sequence[WorkloadSpec]) -> float:
    """``log gap``: mean over workloads of ``log r_i`` (see the module docstring).

    Example:
        >>> s = [WorkloadSpec("a", "error_rate", "min", 0.2, 10),
        ...      WorkloadSpec("b", "ssim", "max", 0.8, 10)]
        >>> round(math.exp(log_target_gap([0.1, 0.4], s)), 6)  # sqrt(0.5 * 2)
        1.0
        >>> log_target_gap([0.1, float("-inf")], s)
        inf
    """
    if len(best) != len(specs):
        raise InvalidParameterError(f"best has {len(best)} values for {len(specs)} workloads")
    logs = []
    for b, sp in zip(best, specs, strict=True):
        b = float(b)
        if not math.isfinite(b):
            return math.inf
        num, den = (b, sp.target) if sp.mode == "min" else (sp.target, b)
        if den <= 0 or num <= 0:
            ratio = GAP_CLIP if den <= 0 < num else 1.0 / GAP_CLIP
        else:
            ratio = min(max(num / den, 1.0 / GAP_CLIP), GAP_CLIP)
        logs.append(float(exact.log(ratio)))
    return math.fsum(logs) / len(logs)


def rank_points(fractions: np.ndarray, best: np.ndarray, specs: Sequence[WorkloadSpec],
                tau: float) -> list[int]:
    """Rows of ``fractions`` from best to worst: ``C_tau``, then the target gap, then row.

    Args:
        fractions: ``[P, N]`` step fractions (``inf``: missed).
        best: ``[P, N]`` best validation metric of each point on each workload.
        specs: the ``N`` workloads' specs (metric direction and target).
        tau: the cost's penalty factor.

    Example:
        >>> s = [WorkloadSpec("a", "error_rate", "min", 0.2, 10)]
        >>> inf = float("inf")
        >>> rank_points(np.array([[inf], [inf], [0.5]]), np.array([[0.5], [0.3], [0.2]]), s, 2.0)
        [2, 1, 0]
    """
    f = check_fractions(fractions)
    b = np.asarray(best, dtype=np.float64)
    if b.shape != f.shape:
        raise InvalidParameterError(f"best has shape {b.shape}, fractions {f.shape}")
    keys = [(log_cost_exact(f[i], tau), log_target_gap(b[i], specs), i) for i in range(len(f))]
    return [k[2] for k in sorted(keys)]
