"""Parameter validation with messages that name the field and the allowed values.

Every public entry point validates its input through these helpers, so a bad
value fails early with, e.g., ``InvalidParameterError: beta2 must be in [0, 1), got 1.0``
(:class:`hplists.exceptions.InvalidParameterError`, also a ``ValueError``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from hplists.exceptions import InvalidParameterError

__all__ = ["check_choice", "check_int", "check_real"]


def _short(value: Any) -> str:
    """``repr(value)``, cut to 80 characters (a 400-digit integer stays readable)."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text)} characters)"


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    left = "(" if low_open or low is None else "["
    right = ")" if high_open or high is None else "]"
    return f"{left}{lo}, {hi}{right}"


def check_real(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Returns ``value`` as a float if it is finite and inside the interval.

    Example:
        >>> check_real("beta1", 0.9, 0.0, 1.0, high_open=True)
        0.9
    """
    if isinstance(value, bool) or (not isinstance(value, (int, float)) and not hasattr(
        value, "__float__"
    )):
        raise InvalidParameterError(
            f"{name} must be a real number in {_interval(low, high, low_open, high_open)}, "
            f"got {_short(value)}"
        )
    if getattr(value, "ndim", 0) != 0:  # a numpy array is not one number
        raise InvalidParameterError(
            f"{name} must be a real number in {_interval(low, high, low_open, high_open)}, "
            f"got an array of shape {getattr(value, 'shape', '?')}"
        )
    try:
        v = float(value)
    except (OverflowError, TypeError, ValueError):  # e.g. an int of 400 digits
        v = math.nan
    bad = not math.isfinite(v)
    if low is not None:
        bad |= v <= low if low_open else v < low
    if high is not None:
        bad |= v >= high if high_open else v > high
    if bad:
        raise InvalidParameterError(
            f"{name} must be in {_interval(low, high, low_open, high_open)}, got {_short(value)}"
        )
    return v


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """Returns ``value`` as an int if it is an integer in ``[low, high]``.

    Example:
        >>> check_int("total_steps", 100, low=1)
        100
    """
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok and not isinstance(value, bool) and hasattr(value, "__index__"):  # numpy integers
        try:
            value, ok = int(value.__index__()), True
        except (TypeError, ValueError):  # e.g. a numpy array of several integers
            ok = False
    if ok and (low is None or value >= low) and (high is None or value <= high):
        return int(value)
    lo = "-inf" if low is None else str(low)
    hi = "inf" if high is None else str(high)
    raise InvalidParameterError(f"{name} must be an integer in [{lo}, {hi}], got {_short(value)}")


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Returns ``value`` if it is one of ``choices``.

    Example:
        >>> check_choice("format", "json", ["json", "algoperf"])
        'json'
    """
    choices = list(choices)
    try:
        found = bool(value in choices)
    except (TypeError, ValueError):  # e.g. a numpy array compared elementwise
        found = False
    if not found:
        allowed = ", ".join(repr(c) for c in choices)
        raise InvalidParameterError(f"{name} must be one of {allowed}; got {_short(value)}")
    return value
