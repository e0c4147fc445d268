"""Quasi-random and random points from a search space.

Quasi-random search (Bousquet et al., 2017, "Critical hyper-parameters: no
random, no cry", arXiv 1706.03200) replaces i.i.d. uniform draws with a
low-discrepancy sequence, which covers the space more evenly for the same
budget while keeping random search's simplicity and parallelism. Paper 001
(Sec. 2.2) samples its points quasi-randomly; three methods are offered:

* ``halton`` (the default): scipy's scrambled Halton sequence,
  ``scipy.stats.qmc.Halton(d, scramble=True)`` driven by
  ``numpy.random.default_rng(seed)`` (bases 2, 3, 5, ..., the first ``d``
  primes, with random digit permutations); point ``i`` is row ``i`` of
  ``Halton.random(n)``. The sequence is a prefix code: the first ``m`` of
  ``n > m`` points are the ``m`` points. This is **not** AlgoPerf's
  generator; it is the default because its small bases cover the space more
  evenly (centered discrepancy, ``scipy.stats.qmc.discrepancy(u,
  method="CD")`` at ``n = 200, d = 7``, seeds 0-2: 0.0022-0.0024, against
  0.0185 for ``algoperf-halton`` and 0.010-0.022 for ``random``) and because
  of the prefix property, which growing a study relies on.
* ``algoperf-halton`` (opt-in): the sequence of AlgoPerf's
  ``algoperf/halton.py`` (mlcommons/algorithmic-efficiency), reimplemented
  here, for rerunning an AlgoPerf search point for point. Dimension ``j`` is
  a Van der Corput sequence in base ``p_j``, where ``p_1 < ... < p_d`` are the
  odd primes just below the largest one under ``1000 k`` (``k = 1``, or more
  for larger ``d``: for ``d = 7``, 947 to 991), with digits permuted by
  ``numpy.random.RandomState(p_j).shuffle`` (0 stays 0) and shifted modulo 1
  by that generator's next ``random_sample()``. Indices ``1 .. n + 100`` are
  generated and the first 100 dropped; the ``n`` rows are then shuffled with
  ``numpy.random.RandomState(seed).shuffle``, which is what AlgoPerf's
  ``numpy.random.shuffle`` does after ``numpy.random.seed(seed)``. Only that
  last shuffle depends on the seed, and it depends on ``n``: no prefix
  property. ``tests/test_space_algoperf_halton.py`` pins numbers printed by
  AlgoPerf's own ``halton.py`` (commit ``2c90454f``, run with numpy 2.4):
  ``generate_sequence`` for seeds 0 and 42 at (n, d) = (5, 7), (3, 2),
  (200, 7) and (4, 200), and ``generate_search`` on AlgoPerf's archived NAdamW
  space; all agree bit for bit.
* ``random``: ``numpy.random.default_rng(seed).random((n, d))``, i.i.d.
  uniform, for baselines.

For ``halton`` and ``random``, ``d`` is the number of non-fixed dimensions and
coordinate ``j`` goes to the ``j``-th non-fixed dimension in the space's order,
mapped by the dimension (:mod:`hplists.space.dimensions`). ``algoperf-halton``
follows AlgoPerf's ``generate_search`` instead, so that the *values* agree too:
every dimension, fixed ones included (a single feasible point there), takes a
coordinate in the space's order, and the coordinate ``u`` maps as AlgoPerf
maps it: ``low * exp(u * log(high / low))`` on a log scale,
``u * (high - low) + low`` on a linear one, ``values[floor(u * n)]`` for a
discrete one. A space written in AlgoPerf's key order (as
``nadamw-algoperf-archived`` is) then gives AlgoPerf's points, up to the
renaming of ``one_minus_beta1`` into ``beta1 = 1 - one_minus_beta1``.

The scipy generator is passed as an explicit ``Generator`` object because
scipy's meaning of an *integer* seed changed in 1.15 (``seed=`` vs ``rng=``);
an explicit PCG64 generator means the same stream on every platform and scipy
version. ``numpy.random.RandomState`` (MT19937) is numpy's frozen legacy
stream, the same on every numpy version.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import qmc

from hplists._check import check_choice, check_int
from hplists.exceptions import InvalidParameterError
from hplists.hparams import Point
from hplists.space.dimensions import Discrete, Fixed, Linear, Log
from hplists.space.space import SearchSpace

__all__ = ["METHODS", "algoperf_halton", "algoperf_primes", "sample", "unit_sequence"]

METHODS = ("halton", "algoperf-halton", "random")

# AlgoPerf's generate_sequence defaults: points dropped at the start of each dimension.
_ALGOPERF_SKIP = 100


def _halton(d: int, rng: np.random.Generator) -> qmc.Halton:
    try:
        return qmc.Halton(d, scramble=True, rng=rng)
    except TypeError:  # scipy < 1.15 only knows `seed`
        return qmc.Halton(d, scramble=True, seed=rng)


def _odd_primes_below(n: int) -> list[int]:
    """Odd primes below ``n`` (2 is left out, as AlgoPerf's sieve of Sundaram leaves it out)."""
    if n < 4:
        return []
    sieve = np.ones(n, dtype=bool)
    sieve[:2] = False
    for k in range(2, math.isqrt(n - 1) + 1):
        if sieve[k]:
            sieve[k * k::k] = False
    return [int(p) for p in np.flatnonzero(sieve) if p != 2]


def algoperf_primes(d: int) -> list[int]:
    """The ``d`` bases of AlgoPerf's Halton sequence.

    The odd primes below ``1000 k`` for the smallest ``k`` that yields at least
    ``d + 1`` of them, without the largest one, the ``d`` before it.

    Example:
        >>> algoperf_primes(7)
        [947, 953, 967, 971, 977, 983, 991]
        >>> algoperf_primes(200)[-1]  # 200 dimensions need the primes below 2000
        1997
    """
    d = check_int("d", d, low=1)
    k = 1
    while True:
        primes = _odd_primes_below(1000 * k)
        if len(primes) >= d + 1:
            return primes[-d - 1:-1]
        k += 1


def _algoperf_dimension(base: int, n: int) -> np.ndarray:
    """Points ``skip + 1 .. skip + n`` of the shuffled, shifted Van der Corput sequence."""
    rng = np.random.RandomState(base)
    digits = list(range(1, base))
    rng.shuffle(digits)
    permutation = np.asarray([0, *digits], dtype=np.int64)
    shift = rng.random_sample()
    index = np.arange(1, n + _ALGOPERF_SKIP + 1, dtype=np.int64)
    value = np.zeros(index.shape, dtype=np.float64)
    denominator = base
    while index.any():
        # Same operations in the same order as AlgoPerf (each term is an exact integer
        # ratio rounded once, added from the lowest digit up), so the same bits.
        value += permutation[index % base] / np.float64(denominator)
        denominator *= base
        index //= base
    return np.fmod(value + shift, 1.0)[_ALGOPERF_SKIP:]


def algoperf_halton(d: int, n: int, seed: int = 0) -> np.ndarray:
    """The ``(n, d)`` points of AlgoPerf's ``halton.generate_sequence(n, d)`` after ``seed``.

    Equal, bit for bit, to ``numpy.random.seed(seed)`` followed by AlgoPerf's
    ``generate_sequence(num_samples=n, num_dims=d)`` with its defaults (skip
    100, a shift per dimension, shuffled rows); see the module docstring.

    Example:
        >>> u = algoperf_halton(7, 5, seed=0)
        >>> u.shape, float(u[0, 0])
        ((5, 7), 0.4900986017554397)
        >>> bool((algoperf_halton(7, 3, seed=0) == u[:3]).all())  # no prefix property
        False
    """
    d = check_int("d", d, low=1)
    n = check_int("n", n, low=1)
    seed = check_int("seed", seed, low=0, high=2**32 - 1)
    columns = np.stack([_algoperf_dimension(p, n) for p in algoperf_primes(d)], axis=1)
    order = list(range(n))
    np.random.RandomState(seed).shuffle(order)  # a list, as AlgoPerf shuffles a list of rows
    return columns[order]


def unit_sequence(d: int, n: int, seed: int = 0, method: str = "halton") -> np.ndarray:
    """The first ``n`` points of a ``d``-dimensional sequence in ``[0, 1)^d``.

    ``method`` is one of :data:`METHODS` (see the module docstring).

    Example:
        >>> u = unit_sequence(2, 4, seed=0)
        >>> u.shape, bool(((u >= 0) & (u < 1)).all())
        ((4, 2), True)
        >>> np.array_equal(unit_sequence(2, 2, seed=0), u[:2])  # prefix property
        True
        >>> unit_sequence(2, 4, method="sobol")
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: method must be one of 'halton', 'algoperf-halton', 'random'; got 'sobol'
    """
    d = check_int("d", d, low=0)
    n = check_int("n", n, low=1)
    seed = check_int("seed", seed, low=0)
    method = check_choice("method", method, METHODS)
    if d == 0:
        return np.zeros((n, 0))
    if method == "algoperf-halton":
        return algoperf_halton(d, n, seed)
    rng = np.random.default_rng(seed)
    if method == "halton":
        return _halton(d, rng).random(n)
    return rng.random((n, d))


def _algoperf_values(dim: object, u: np.ndarray) -> np.ndarray:
    """AlgoPerf's ``_generate_double_point`` / ``_generate_discrete_point`` for one dimension."""
    if isinstance(dim, Log):
        return np.asarray([dim.low * math.exp(x * math.log(dim.high / dim.low)) for x in u])
    if isinstance(dim, Linear):
        return np.asarray([x * (dim.high - dim.low) + dim.low for x in u])
    if isinstance(dim, Discrete):
        return np.asarray([dim.values[math.floor(x * len(dim.values))] for x in u])
    if isinstance(dim, Fixed):
        return np.full(len(u), dim.value)
    raise InvalidParameterError(f"method 'algoperf-halton' maps log, linear, discrete and fixed "
                     f"dimensions; got {type(dim).__name__}")


def sample(space: SearchSpace, n: int, seed: int = 0, method: str = "halton") -> list[Point]:
    """Draws ``n`` points of ``space``; same space, ``seed`` and ``method`` give the same points.

    Args:
        space: the search space.
        n: number of points, >= 1.
        seed: non-negative integer seed.
        method: ``"halton"`` (scipy's scrambled Halton, the default),
            ``"algoperf-halton"`` (AlgoPerf's sequence and value mapping, to
            rerun an AlgoPerf search) or ``"random"``; see the module docstring.

    Returns:
        :class:`~hplists.HParams` for NAdamW spaces, dicts of floats otherwise.

    Example:
        >>> from hplists.space import get_space
        >>> p = sample(get_space("nadamw-broad"), 2, seed=0)
        >>> 1e-4 <= p[0].learning_rate <= 1e-2, p[0].dropout_rate in (0.0, 0.1)
        (True, True)
        >>> a = sample(get_space("nadamw-algoperf-archived"), 5, seed=0,
        ...            method="algoperf-halton")
        >>> a[0].learning_rate  # AlgoPerf's generate_search gives the same first point
        0.0009554263254837416
    """
    if not isinstance(space, SearchSpace):
        raise InvalidParameterError(f"space must be a SearchSpace, got {type(space).__name__}")
    method = check_choice("method", method, METHODS)
    if method != "algoperf-halton":
        unit = unit_sequence(space.n_coordinates, n, seed=seed, method=method)
        return space.points_from_unit(unit)
    unit = algoperf_halton(len(space.dimensions), n, seed)
    columns = {d.name: _algoperf_values(d, unit[:, j]) for j, d in enumerate(space.dimensions)}
    return [space.materialize({k: float(v[i]) for k, v in columns.items()}) for i in range(n)]
