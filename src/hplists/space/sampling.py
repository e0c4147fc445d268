"""Quasi-random and random points from a search space.

Quasi-random search (Bousquet et al., 2017, "Critical hyper-parameters: no
random, no cry", arXiv 1706.03200) replaces i.i.d. uniform draws with a
low-discrepancy sequence, which covers the space more evenly for the same
budget while keeping random search's simplicity and parallelism. We use a
scrambled Halton sequence, as paper 001 (Sec. 2.2) and AlgoPerf do:

* ``halton``: ``scipy.stats.qmc.Halton(d, scramble=True)`` driven by
  ``numpy.random.default_rng(seed)``; point ``i`` is row ``i`` of
  ``Halton.random(n)``. The sequence is a prefix code: the first ``m`` of
  ``n > m`` points are the ``m`` points.
* ``random``: ``numpy.random.default_rng(seed).random((n, d))``, i.i.d.
  uniform, for baselines.

Here ``d`` is the number of non-fixed dimensions and coordinate ``j`` goes to
the ``j``-th non-fixed dimension in the space's order. The generator is passed
as an explicit ``Generator`` object because scipy's meaning of an *integer*
seed changed in 1.15 (``seed=`` vs ``rng=``); an explicit PCG64 generator means
the same stream on every platform and scipy version.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import qmc

from hplists._check import check_choice, check_int
from hplists.space.space import Point, SearchSpace

__all__ = ["METHODS", "sample", "unit_sequence"]

METHODS = ("halton", "random")


def _halton(d: int, rng: np.random.Generator) -> qmc.Halton:
    try:
        return qmc.Halton(d, scramble=True, rng=rng)
    except TypeError:  # scipy < 1.15 only knows `seed`
        return qmc.Halton(d, scramble=True, seed=rng)


def unit_sequence(d: int, n: int, seed: int = 0, method: str = "halton") -> np.ndarray:
    """The first ``n`` points of a ``d``-dimensional sequence in ``[0, 1)^d``.

    Example:
        >>> u = unit_sequence(2, 4, seed=0)
        >>> u.shape, bool(((u >= 0) & (u < 1)).all())
        ((4, 2), True)
        >>> np.array_equal(unit_sequence(2, 2, seed=0), u[:2])  # prefix property
        True
    """
    d = check_int("d", d, low=0)
    n = check_int("n", n, low=1)
    seed = check_int("seed", seed, low=0)
    method = check_choice("method", method, METHODS)
    rng = np.random.default_rng(seed)
    if d == 0:
        return np.zeros((n, 0))
    if method == "halton":
        return _halton(d, rng).random(n)
    return rng.random((n, d))


def sample(space: SearchSpace, n: int, seed: int = 0, method: str = "halton") -> list[Point]:
    """Draws ``n`` points of ``space``; same space, ``seed`` and ``method`` give the same points.

    Args:
        space: the search space.
        n: number of points, >= 1.
        seed: non-negative integer seed.
        method: ``"halton"`` (scrambled Halton, the default) or ``"random"``.

    Returns:
        :class:`~hplists.HParams` for NAdamW spaces, dicts of floats otherwise.

    Example:
        >>> from hplists.space import get_space
        >>> p = sample(get_space("nadamw-broad"), 2, seed=0)
        >>> 1e-4 <= p[0].learning_rate <= 1e-2, p[0].dropout_rate in (0.0, 0.1)
        (True, True)
    """
    if not isinstance(space, SearchSpace):
        raise ValueError(f"space must be a SearchSpace, got {type(space).__name__}")
    unit = unit_sequence(space.n_coordinates, n, seed=seed, method=method)
    return space.points_from_unit(unit)
