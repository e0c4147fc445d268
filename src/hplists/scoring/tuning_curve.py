"""Random-search tuning curves and the equivalent random-search budget of a list.

A tuning curve answers: if I ran random search with ``n`` trials drawn from
the sampled points, how good would the best trial be? (paper 001, Figure 1
and Appendix B). For a sample ``y_1..y_P`` (one value per point: its best
validation metric, or its step fraction capped at ``tau``) sorted as
``y_(1) <= ... <= y_(P)``, the best of ``n`` draws has an exact distribution:

* without replacement (``n`` distinct points, ``n <= P``):
  ``P(max = y_(i)) = C(i-1, n-1) / C(P, n)``;
* with replacement (``n`` i.i.d. draws from the empirical distribution):
  ``P(max = y_(i)) = (i/P)^n - ((i-1)/P)^n``;

and symmetrically for the minimum. ``statistic="mean"`` gives the expected
best (the U- and V-statistic estimates of the tuning curve, as ``opda``
names them); ``statistic="median"`` gives the median best (opda's quantile
tuning curve, with replacement).

Confidence bands come from ``opda`` (Lourie, Cho & He, 2023): simultaneous
bands for the CDF of the score distribution, mapped to the tuning curve; the
paper uses 70% bands. Bands on the *mean* need the support ``bounds`` of the
values (a mean is unbounded otherwise): e.g. ``(0, 1)`` for an error rate,
``(0, tau)`` for capped step fractions; where a bound is infinite that side of
the band is infinite. Bands on the median need no bounds.

``opda`` (the ``report`` extra) is imported only when bands or medians are
asked for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from hplists._check import check_choice, check_int, check_real
from hplists.exceptions import InvalidParameterError
from hplists.metric import minimizes

__all__ = [
    "TuningCurve",
    "equivalent_budget",
    "expected_best",
    "tuning_curve",
    "workload_tuning_curve",
]

Statistic = Literal["mean", "median"]
BAND_METHODS = ("ld_equal_tailed", "ld_highest_density", "ks", "dkw")

# The most numbers (trials x sample) an expected-best curve is computed in at once.
_CELLS = 1_000_000


@dataclasses.dataclass(frozen=True)
class TuningCurve:
    """Best result of random search against its number of trials.

    Attributes:
        ns: ``[M]`` numbers of trials.
        point: ``[M]`` the expected (or median) best value after ``n`` trials.
        lower, upper: ``[M]`` confidence band (``None`` without bands).
        minimize: whether lower values are better.
        statistic: ``"mean"`` or ``"median"``.
        replacement: whether trials are drawn with replacement.
        confidence: the bands' coverage (``None`` without bands).
    """

    ns: np.ndarray
    point: np.ndarray
    lower: np.ndarray | None
    upper: np.ndarray | None
    minimize: bool
    statistic: str
    replacement: bool
    confidence: float | None


def _check_values(values: object) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise InvalidParameterError(f"values must be a non-empty 1-D array (one per point), got shape "
                         f"{arr.shape}")
    if np.isnan(arr).any():
        raise InvalidParameterError("values must not contain NaN")
    return arr


def _check_ns(ns: object, num: int, replacement: bool) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(ns))
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise InvalidParameterError(f"ns must be a non-empty 1-D sequence of integers, got {ns!r}")
    high = None if replacement else num
    for n in arr:
        check_int("n (number of random-search trials)" + ("" if replacement else
              f"; without replacement at most the {num} sampled points"), int(n), low=1,
              high=high)
    return arr.astype(np.int64)


def expected_best(
    values: np.ndarray | Sequence[float],
    ns: int | Sequence[int] | np.ndarray,
    *,
    minimize: bool,
    replacement: bool = False,
) -> np.ndarray:
    """Exact expected best of ``n`` random-search trials from the sample ``values``.

    Args:
        values: ``[P]`` one value per sampled point (``+-inf`` allowed: a
            value that can be the best with positive probability makes the
            expectation infinite).
        ns: number(s) of trials.
        minimize: whether lower values are better.
        replacement: draw with replacement (i.i.d. from the empirical
            distribution) or without (``n`` distinct points, ``n <= P``).

    Example:
        >>> expected_best([1.0, 2.0, 3.0], [1, 2, 3], minimize=False).round(4).tolist()
        [2.0, 2.6667, 3.0]
        >>> expected_best([1.0, 2.0], 2, minimize=True, replacement=True).tolist()
        [1.25]
    """
    y = _check_values(values)
    trials = _check_ns(ns, y.size, replacement)
    y = np.sort(-y if minimize else y)
    num = y.size
    i = np.arange(1, num + 1)
    rows = max(1, _CELLS // num)  # at most _CELLS weights at once; each n's sum is its own
    out = np.empty(trials.size)
    for lo in range(0, trials.size, rows):
        part = trials[lo:lo + rows]
        if replacement:
            w = (i / num) ** part[:, None] - ((i - 1) / num) ** part[:, None]
        else:
            n = part[:, None]
            log_w = _log_comb(i - 1, n - 1) - _log_comb(num, n)
            w = np.where(i >= n, np.exp(log_w), 0.0)
        with np.errstate(invalid="ignore"):
            out[lo:lo + rows] = np.where(w > 0, w * y, 0.0).sum(axis=1)
    return -out if minimize else out


def _log_comb(n: np.ndarray | int, k: np.ndarray | int) -> np.ndarray:
    """``log C(n, k)`` (``-inf`` outside ``0 <= k <= n``), from a table of log-factorials."""
    n, k = np.broadcast_arrays(n, k)
    top = int(max(n.max(), 0))
    log_fact = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, top + 1)))])
    ok = (k >= 0) & (k <= n)
    n_, k_ = np.where(ok, n, 0), np.where(ok, k, 0)
    return np.where(ok, log_fact[n_] - log_fact[k_] - log_fact[n_ - k_], -np.inf)


def tuning_curve(
    values: np.ndarray | Sequence[float],
    ns: int | Sequence[int] | np.ndarray | None = None,
    *,
    minimize: bool,
    statistic: Statistic = "mean",
    replacement: bool = False,
    confidence: float | None = 0.7,
    bounds: tuple[float, float] = (-np.inf, np.inf),
    band_method: str = "ld_equal_tailed",
    seed: int = 0,
) -> TuningCurve:
    """Random-search tuning curve of a sample of points, with opda confidence bands.

    Args:
        values: ``[P]`` one value per sampled point: its best validation
            metric, or its step fraction capped at ``tau``.
        ns: numbers of trials (default ``1..P``).
        minimize: whether lower values are better.
        statistic: ``"mean"`` (expected best; exact, see :func:`expected_best`)
            or ``"median"`` (median best, with replacement).
        replacement: for ``"mean"``, whether trials are drawn with replacement.
        confidence: coverage of the simultaneous bands (paper: 0.7), or
            ``None`` for no bands.
        bounds: ``(a, b)``, the support of the values' distribution (needed
            for finite bands on the mean).
        band_method: opda's band construction: ``"ld_equal_tailed"`` (default:
            nearly as tight as ``"ld_highest_density"`` and much faster),
            ``"ld_highest_density"``, ``"ks"`` or ``"dkw"``.
        seed: seeds opda's simulation of the band's critical value.

    Example:
        >>> tc = tuning_curve([0.3, 0.25, 0.4, 0.2], [1, 2], minimize=True,
        ...                   bounds=(0.0, 1.0), band_method="dkw")
        >>> tc.point.round(4).tolist()
        [0.2875, 0.2333]
        >>> bool(np.all(tc.lower <= tc.point)) and bool(np.all(tc.point <= tc.upper))
        True
    """
    y = _check_values(values)
    check_choice("statistic", statistic, ("mean", "median"))
    check_choice("band_method", band_method, BAND_METHODS)
    if statistic == "median" and not replacement:
        replacement = True  # the quantile tuning curve is defined for i.i.d. draws
    trials = _check_ns(np.arange(1, y.size + 1) if ns is None else ns, y.size, replacement)
    a, b = (float(x) for x in bounds)
    if not a <= y.min() or not y.max() <= b:
        raise InvalidParameterError(f"bounds must contain every value: got bounds ({a}, {b}) for values "
                         f"in [{y.min()}, {y.max()}]")
    if statistic == "mean":
        point = expected_best(y, trials, minimize=minimize, replacement=replacement)
    if confidence is None and statistic == "mean":
        return TuningCurve(trials, point, None, None, minimize, statistic, replacement, None)

    try:
        from opda.nonparametric import EmpiricalDistribution
    except ModuleNotFoundError as e:  # pragma: no cover - opda is in the report extra
        raise ModuleNotFoundError(
            "confidence bands and median tuning curves need opda: pip install 'hplists[report]'"
        ) from e

    def curve(dist: EmpiricalDistribution) -> np.ndarray:
        if statistic == "mean":
            return np.asarray(dist.average_tuning_curve(trials, minimize=minimize), dtype=float)
        return np.asarray(dist.quantile_tuning_curve(trials, q=0.5, minimize=minimize), dtype=float)

    if statistic == "median":
        point = curve(EmpiricalDistribution(y, a=a, b=b))
    if confidence is None:
        return TuningCurve(trials, point, None, None, minimize, statistic, replacement, None)
    confidence = check_real("confidence", confidence, 0.0, 1.0, low_open=True, high_open=True)
    import warnings

    with warnings.catch_warnings():
        # ties (e.g. capped fractions) only make the bands conservative
        warnings.filterwarnings("ignore", message="Duplicates detected", category=RuntimeWarning)
        low_cdf, _, high_cdf = EmpiricalDistribution.confidence_bands(
            y, confidence, a=a, b=b, generator=np.random.default_rng(seed),
            method=band_method, n_jobs=1,
        )
    # the higher CDF puts mass on lower values, so it gives the lower curve
    return TuningCurve(trials, point, curve(high_cdf), curve(low_cdf), minimize, statistic,
                       replacement, confidence)


def equivalent_budget(
    values: np.ndarray | Sequence[float],
    result: float,
    *,
    minimize: bool,
    replacement: bool = False,
    max_n: int | None = None,
) -> int | None:
    """Smallest ``n`` at which random search's expected best matches ``result``.

    This makes "the list is as good as random search with ``n`` trials"
    (paper 001, Sec. 4.1: "3x tuning efficiency") measurable: with ``result``
    the list's best value on a workload and ``values`` the sampled points'
    values there, it is the first ``n`` with ``E[best of n] <= result``
    (``minimize``) or ``>= result`` (up to a relative ``1e-12``).

    Returns:
        that ``n``, or ``None`` if random search never matches ``result``
        within ``max_n`` trials (default: ``P`` without replacement, ``10 P``
        with).

    The curve takes ``P`` numbers per ``n``. Up to :data:`_CELLS` numbers it is
    computed whole; beyond (large samples), at ``n`` that double until one
    matches, then by halving the interval down to a block that is computed
    whole (the expected best only improves with ``n``): memory stays bounded
    and time grows as ``P log P``, not ``P**2``.

    Example:
        >>> equivalent_budget([0.3, 0.25, 0.4, 0.2], 0.25, minimize=True)
        2
        >>> equivalent_budget([0.3, 0.25, 0.4, 0.2], 0.1, minimize=True) is None
        True
    """
    y = _check_values(values)
    result = check_real("result", result) if np.isfinite(result) else float(result)
    if np.isnan(result):
        raise InvalidParameterError("result must not be NaN")
    num = y.size
    if max_n is None:
        max_n = num if not replacement else 10 * num
    max_n = check_int("max_n", max_n, low=1, high=None if replacement else num)
    slack = 1e-12 * abs(result) if np.isfinite(result) else 0.0

    def matches(ns: np.ndarray) -> np.ndarray:
        curve = expected_best(y, ns, minimize=minimize, replacement=replacement)
        return curve <= result + slack if minimize else curve >= result - slack

    rows = max(1, _CELLS // num)  # values of n per block of the curve
    if max_n <= rows:
        ns = np.arange(1, max_n + 1)
        ok = matches(ns)
        return int(ns[np.argmax(ok)]) if ok.any() else None
    lo, length = 1, rows
    while lo <= max_n:
        hi = min(max_n, lo + length - 1)
        if matches(np.array([hi]))[0]:  # the first match is in lo..hi
            while hi - lo >= rows:  # halve the interval down to one block
                mid = (lo + hi) // 2
                if matches(np.array([mid]))[0]:
                    hi = mid
                else:
                    lo = mid + 1
            ns = np.arange(lo, hi + 1)
            return int(ns[np.argmax(matches(ns))])
        lo, length = hi + 1, 2 * length
    return None


def _workload_values(matrix: Any, workload: str, quantity: str, tau: float
                     ) -> tuple[np.ndarray, bool, tuple[float, float]]:
    check_choice("quantity", quantity, ("metric", "time"))
    col = matrix.column(workload)
    if quantity == "time":
        tau = check_real("tau", tau, low=1.0, high=np.inf, high_open=True)
        return np.minimum(matrix.fractions[:, col], tau), True, (0.0, tau)
    return matrix.best_metric[:, col], minimizes(matrix.workloads[col].mode), (-np.inf, np.inf)


def workload_tuning_curve(
    matrix: Any,
    workload: str,
    *,
    quantity: Literal["metric", "time"] = "metric",
    tau: float = 2.0,
    indices: Sequence[int] | None = None,
    **kwargs: Any,
) -> tuple[TuningCurve, float | None, int | None]:
    """Random-search tuning curve of one workload of a study, and a list's place on it.

    Args:
        matrix: a :class:`~hplists.scoring.matrix.TrialMatrix` (its points are
            the sample random search draws from).
        workload: the workload's name.
        quantity: ``"metric"``, the best validation metric of each point
            (direction from the workload), or ``"time"``, its step fraction
            capped at ``tau`` (bounds ``(0, tau)``, lower is better).
        indices: rows of a list to compare (e.g. a list built without this
            workload); its result is the best of its points.
        **kwargs: passed to :func:`tuning_curve` (``ns``, ``statistic``,
            ``confidence``, ``bounds``, ...).

    Returns:
        ``(curve, list_result, n)``: the tuning curve, the list's result (or
        ``None``) and its :func:`equivalent_budget` (``None`` if no list, or if
        random search never matches it).
    """
    values, minimize, bounds = _workload_values(matrix, workload, quantity, tau)
    kwargs.setdefault("bounds", bounds)
    curve = tuning_curve(values, minimize=minimize, **kwargs)
    if indices is None:
        return curve, None, None
    chosen = values[np.asarray(list(indices), dtype=np.int64)]
    result = float(chosen.min() if minimize else chosen.max())
    n = equivalent_budget(values, result, minimize=minimize,
                          replacement=kwargs.get("replacement", False))
    return curve, result, n
