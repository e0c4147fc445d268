"""Correctly rounded elementary functions: the same bits on every machine.

A point's id hashes its exact float values (:func:`hplists.store.point_id`),
so every value that ends up in a point must not depend on the CPU. numpy's
vectorised ``power``, ``exp`` and ``log`` do: numpy dispatches them to SIMD
kernels chosen at run time (AVX-512, AVX2, baseline), whose last bit differs
between kernels (``10.0 ** x`` on an AVX-512 CPU is 1 ulp below the correctly
rounded value for about 1 value in 15 of a typical sample). Elementwise
``+ - * /`` are IEEE-754 operations, exact to the last bit on every CPU.

These functions evaluate in Python's :mod:`decimal` (libmpdec, integer
arithmetic only, no CPU dispatch) with :data:`PRECISION` significant digits and
round the result to the nearest float64 once. The result is the correctly
rounded value except when the exact value lies within ``10 ** -PRECISION`` of
a rounding midpoint, and it is the same on every machine and Python version
either way.

Example:
    >>> pow10(-3.710550328627943)  # numpy's AVX-512 kernel gives ...13
    0.00019473753634247415
    >>> log10(1e-4), log10(0.2)
    (-4.0, -0.6989700043360187)
"""

from __future__ import annotations

import decimal
from collections.abc import Callable

import numpy as np

from hplists.exceptions import InvalidParameterError

__all__ = ["PRECISION", "exp", "log", "log10", "pow10"]

PRECISION = 50  # significant digits; float64 needs 17, the rest guards the one rounding

_CONTEXT = decimal.Context(prec=PRECISION, rounding=decimal.ROUND_HALF_EVEN,
                           Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)


def _elementwise(fn: Callable[[decimal.Decimal], decimal.Decimal], name: str,
                 x: float | np.ndarray, positive: bool = False) -> float | np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise InvalidParameterError(f"{name} takes finite values, got {x!r}")
    if positive and not (arr > 0).all():
        raise InvalidParameterError(f"{name} takes positive values, got {x!r}")
    # Decimal(float) is exact; float(Decimal) rounds to nearest, ties to even.
    out = np.array([float(fn(decimal.Decimal(float(v)))) for v in arr.ravel()],
                   dtype=np.float64).reshape(arr.shape)
    return float(out) if out.ndim == 0 else out


def pow10(x: float | np.ndarray) -> float | np.ndarray:
    """``10 ** x``, elementwise, correctly rounded (see the module docstring).

    Example:
        >>> pow10(np.array([-4.0, 0.5])).tolist()
        [0.0001, 3.1622776601683795]
    """
    ten = decimal.Decimal(10)
    return _elementwise(lambda d: _CONTEXT.power(ten, d), "pow10", x)


def exp(x: float | np.ndarray) -> float | np.ndarray:
    """``e ** x``, elementwise, correctly rounded.

    Example:
        >>> exp(1.0)
        2.718281828459045
    """
    return _elementwise(_CONTEXT.exp, "exp", x)


def log(x: float | np.ndarray) -> float | np.ndarray:
    """Natural logarithm, elementwise, correctly rounded; ``x > 0``.

    Example:
        >>> log(np.array([1.0, 2.0])).tolist()
        [0.0, 0.6931471805599453]
    """
    return _elementwise(_CONTEXT.ln, "log", x, positive=True)


def log10(x: float | np.ndarray) -> float | np.ndarray:
    """Base-10 logarithm, elementwise, correctly rounded; ``x > 0``.

    Example:
        >>> log10(1000.0)
        3.0
    """
    return _elementwise(_CONTEXT.log10, "log10", x, positive=True)
