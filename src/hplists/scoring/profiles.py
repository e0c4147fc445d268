"""Performance profiles and the AlgoPerf benchmark score (paper 002, Sec. 3.3).

Given the times to target ``t[s, i]`` of ``S`` submissions on ``N`` workloads
(``inf`` = target missed), as AlgoPerf's ``scoring/performance_profile.py``
(``compute_performance_profiles``) and ``scoring/score_submissions.py``
(``compute_leaderboard_score``) compute them with the defaults below:

1. ``best_i = min_s t[s, i]``; a time more than ``max_tau`` (4) times the best
   becomes ``inf``;
2. ``r[s, i] = t[s, i] / best_i`` (``inf`` where nobody reached the target);
3. the performance profile (Dolan & More, 2002) of submission ``s`` is
   ``rho_s(tau) = |{i : r[s, i] <= tau}| / N`` on ``num_points`` (100) evenly
   spaced ``tau`` in ``[min_tau, max_tau] = [1, 4]``;
4. the benchmark score is the area under ``rho_s`` by the trapezoid rule,
   divided by ``max_tau - min_tau``; it lies in ``[0, 1]`` (1: fastest on every
   workload; no credit for a missed workload).

Profiles and scores are relative: they depend on the whole set of submissions.

Where AlgoPerf is fixed and hplists is not: AlgoPerf always sets times more
than **4** times the best to ``inf`` (its ``max_tau`` argument only sets the
plotted range) and always divides ``rho`` by its **8** base workloads
(``NUM_BASE_WORKLOADS``), whatever columns it is given; it also voids a base
workload's time when its held-out variant misses the target. Here the cut is
``max_tau`` and the divisor is ``N``, the number of columns given. The two are
the same computation exactly when ``max_tau = 4`` (the default) and the
columns are the 8 base workloads, as ``hplists score`` passes by default;
with another ``max_tau`` or another set of columns the numbers are hplists'
own, not AlgoPerf's.

Measured: AlgoPerf's own ``compute_performance_profiles`` and
``compute_leaderboard_score`` (commit ``2c90454f``, run with pandas on the
same times, a one-off check) against this module on 200 random
cases of 2 to 11 submissions on 8 workloads, with misses and times beyond 4x:
``rho`` identical, scores within 1.9e-15. The test suite checks hand
computations (``tests/test_scoring_profiles.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from hplists._check import check_int, check_real
from hplists.exceptions import InvalidParameterError

__all__ = ["PerformanceProfiles", "benchmark_score", "performance_profiles"]


@dataclasses.dataclass(frozen=True)
class PerformanceProfiles:
    """Performance profiles of ``S`` submissions.

    Attributes:
        taus: ``[T]`` the grid of ratios ``tau``.
        rho: ``[S, T]`` fraction of workloads within ``tau`` of the best.
        ratios: ``[S, N]`` time over the best time (``inf`` beyond ``max_tau``
            or when missed).
        times: ``[S, N]`` the times, with those beyond ``max_tau`` x best set to ``inf``.
    """

    taus: np.ndarray
    rho: np.ndarray
    ratios: np.ndarray
    times: np.ndarray

    @property
    def scores(self) -> np.ndarray:
        """``[S]`` benchmark scores: normalized trapezoid area under each profile."""
        span = self.taus[-1] - self.taus[0]
        return np.trapezoid(self.rho, x=self.taus, axis=-1) / span


def _check_times(times: object) -> np.ndarray:
    arr = np.asarray(times, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidParameterError(
            "times must be a 2-D array [submissions, workloads] with at least one of each, "
            f"got shape {arr.shape}"
        )
    if np.isnan(arr).any():
        raise InvalidParameterError("times must not contain NaN; a missed target is inf")
    if (arr <= 0).any():
        raise InvalidParameterError(f"times must be > 0 (inf for a miss), got minimum {arr.min()}")
    return arr


def performance_profiles(
    times: np.ndarray | Sequence[Sequence[float]],
    *,
    min_tau: float = 1.0,
    max_tau: float = 4.0,
    num_points: int = 100,
) -> PerformanceProfiles:
    """Performance profiles of submissions from their times to target (AlgoPerf's at the defaults).

    Args:
        times: ``[S, N]`` time to target of each submission on each workload
            (steps, step fractions or seconds; ``inf`` = missed).
        min_tau, max_tau: the range of ratios (AlgoPerf: 1 and 4); times more
            than ``max_tau`` times the best are set to ``inf`` (AlgoPerf cuts
            at 4 whatever its ``max_tau``; see the module docstring).
        num_points: grid size (AlgoPerf: 100).

    Example (two submissions, two workloads):
        >>> p = performance_profiles([[1.0, 2.0], [2.5, float("inf")]])
        >>> p.ratios.tolist()
        [[1.0, 1.0], [2.5, inf]]
        >>> float(p.rho[1, 0]), float(p.rho[1, -1])
        (0.0, 0.5)
    """
    arr = _check_times(times)
    min_tau = check_real("min_tau", min_tau, low=1.0)
    max_tau = check_real("max_tau", max_tau, low=min_tau, low_open=True)
    num_points = check_int("num_points", num_points, low=2)
    best = arr.min(axis=0)
    cut = np.where(arr > max_tau * best, np.inf, arr)
    with np.errstate(invalid="ignore"):
        ratios = np.where(np.isfinite(best), cut / best, np.inf)
    taus = np.linspace(min_tau, max_tau, num_points)
    rho = (ratios[:, None, :] <= taus[None, :, None]).sum(axis=-1) / arr.shape[1]
    return PerformanceProfiles(taus=taus, rho=rho, ratios=ratios, times=cut)


def benchmark_score(
    times: np.ndarray | Sequence[Sequence[float]] | PerformanceProfiles,
    *,
    min_tau: float = 1.0,
    max_tau: float = 4.0,
    num_points: int = 100,
) -> np.ndarray:
    """AlgoPerf benchmark score of each submission: normalized area under its profile.

    Args:
        times: ``[S, N]`` times to target (see :func:`performance_profiles`),
            or profiles already computed.

    Returns:
        ``[S]`` scores in ``[0, 1]``.

    Example (hand computation: submission 0 is fastest everywhere; submission 1
    is 2.5x slower on workload 0, so ``rho = 1/2`` for ``tau >= 2.5``, and the
    trapezoid area over the 99 intervals of width ``3/99`` is
    ``(0.25 + 49 * 0.5) * 3 / 99 = 0.75``, which over ``4 - 1`` gives 0.25):
        >>> benchmark_score([[1.0, 2.0], [2.5, float("inf")]]).round(12).tolist()
        [1.0, 0.25]
    """
    if not isinstance(times, PerformanceProfiles):
        times = performance_profiles(
            times, min_tau=min_tau, max_tau=max_tau, num_points=num_points
        )
    return times.scores
