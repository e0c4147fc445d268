"""Dimensions of a search space: how a uniform coordinate in [0, 1) becomes a value.

Four scales, as AlgoPerf's ``tuning_search_space.json`` files and Table 1 of
paper 001 use them:

* ``log``: base-10 log-uniform on ``[low, high]``, ``low > 0``:
  ``x = 10 ** (log10(low) + u * (log10(high) - log10(low)))``.
* ``linear``: uniform on ``[low, high]``: ``x = low + u * (high - low)``.
* ``discrete``: one of ``n`` values, ``x = values[floor(u * n)]`` (each value
  gets an equal share of the unit interval, as in AlgoPerf's ``halton.py``).
* ``fixed``: always ``value``; it takes no coordinate of the sequence.

Continuous values are clipped to ``[low, high]`` so that float rounding in the
power never puts a point a ulp outside the declared range.

Every value is the same float on every machine: the logarithms of the bounds
and the power are correctly rounded (:mod:`hplists.exact`), never numpy's
CPU-dispatched ``power``, and the rest is IEEE-754 ``+ - * /``.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from hplists import exact
from hplists.exceptions import InvalidParameterError

__all__ = ["SCALES", "Dimension", "Discrete", "Fixed", "Linear", "Log", "dimension_from_dict"]

SCALES = ("log", "linear", "discrete", "fixed")


def _real(dim: str, field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidParameterError(f"dimension {dim!r}: {field} must be a real number, got {value!r}")
    try:
        v = float(value)
    except OverflowError:  # an integer too large for a float
        v = math.inf
    if not math.isfinite(v):
        raise InvalidParameterError(f"dimension {dim!r}: {field} must be finite, got {value!r}")
    return v


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.isidentifier():
        raise InvalidParameterError(f"dimension names must be identifiers like 'learning_rate', got {name!r}")
    return name


class Dimension(abc.ABC):
    """Base class: a named map from a uniform coordinate ``u`` in [0, 1) to a value."""

    scale: ClassVar[str]
    name: str

    @property
    def n_coordinates(self) -> int:
        """How many coordinates of the (quasi-)random sequence it consumes: 1, or 0 if fixed."""
        return 1

    @abc.abstractmethod
    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Maps uniform coordinates in [0, 1) to values, elementwise."""

    @abc.abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The file representation (without the name, which is the key)."""

    @abc.abstractmethod
    def contains(self, x: float) -> bool:
        """Whether ``x`` is a value this dimension can produce."""

    @abc.abstractmethod
    def extremes(self) -> tuple[float, float]:
        """Smallest and largest value the dimension can produce."""


@dataclasses.dataclass(frozen=True)
class _Interval(Dimension):
    """A continuous dimension on ``[low, high]``: what Log and Linear share."""

    name: str
    low: float
    high: float

    def __post_init__(self) -> None:
        _check_name(self.name)
        low = _real(self.name, "low", self.low)
        high = _real(self.name, "high", self.high)
        self._check_low(low)
        if not low < high:
            raise InvalidParameterError(
                f"dimension {self.name!r}: low must be < high, got low={self.low!r}, "
                f"high={self.high!r}"
            )
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def _check_low(self, low: float) -> None:
        """Raises if the scale cannot start at ``low`` (before the bounds are compared)."""

    def to_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "low": self.low, "high": self.high}

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high

    def extremes(self) -> tuple[float, float]:
        return self.low, self.high


@dataclasses.dataclass(frozen=True)
class Log(_Interval):
    """Base-10 log-uniform on ``[low, high]``.

    Example:
        >>> Log("learning_rate", 1e-4, 1e-2).from_unit(np.array([0.0, 0.5])).tolist()
        [0.0001, 0.001]
    """

    scale: ClassVar[str] = "log"

    def _check_low(self, low: float) -> None:
        if low <= 0:
            raise InvalidParameterError(f"dimension {self.name!r}: log scale needs low > 0, got {self.low!r}")

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        lo, hi = float(exact.log10(self.low)), float(exact.log10(self.high))
        x = exact.pow10(lo + np.asarray(u, dtype=np.float64) * (hi - lo))
        return np.clip(x, self.low, self.high)


@dataclasses.dataclass(frozen=True)
class Linear(_Interval):
    """Uniform on ``[low, high]``.

    Example:
        >>> Linear("warmup_fraction", 0.0, 0.2).from_unit(np.array([0.25])).tolist()
        [0.05]
    """

    scale: ClassVar[str] = "linear"

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=np.float64)
        width = self.high - self.low
        if math.isfinite(width):
            return np.clip(self.low + u * width, self.low, self.high)
        # high - low overflows (e.g. [-1e308, 1e308]): the same map without the difference
        return np.clip((1.0 - u) * self.low + u * self.high, self.low, self.high)


@dataclasses.dataclass(frozen=True)
class Discrete(Dimension):
    """One of a finite set of values, each with probability ``1 / n``.

    Example:
        >>> Discrete("dropout_rate", (0.0, 0.1)).from_unit(np.array([0.3, 0.7])).tolist()
        [0.0, 0.1]
    """

    name: str
    values: tuple[float, ...]
    scale: ClassVar[str] = "discrete"

    def __post_init__(self) -> None:
        _check_name(self.name)
        if isinstance(self.values, (str, bytes)) or not isinstance(self.values, Sequence):
            raise InvalidParameterError(
                f"dimension {self.name!r}: values must be a non-empty list of numbers, "
                f"got {self.values!r}"
            )
        values = tuple(_real(self.name, f"values[{i}]", v) for i, v in enumerate(self.values))
        if not values:
            raise InvalidParameterError(f"dimension {self.name!r}: values must not be empty")
        if len(set(values)) != len(values):
            raise InvalidParameterError(f"dimension {self.name!r}: values must be distinct, got {values}")
        object.__setattr__(self, "values", values)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        n = len(self.values)
        idx = np.minimum(np.floor(np.asarray(u, dtype=np.float64) * n).astype(np.int64), n - 1)
        return np.asarray(self.values, dtype=np.float64)[idx]

    def to_dict(self) -> dict[str, Any]:
        return {"scale": "discrete", "values": list(self.values)}

    def contains(self, x: float) -> bool:
        return x in self.values

    def extremes(self) -> tuple[float, float]:
        return min(self.values), max(self.values)


@dataclasses.dataclass(frozen=True)
class Fixed(Dimension):
    """A constant; it consumes no coordinate of the sequence.

    Example:
        >>> Fixed("beta2", 0.999).from_unit(np.zeros(2)).tolist()
        [0.999, 0.999]
    """

    name: str
    value: float
    scale: ClassVar[str] = "fixed"

    def __post_init__(self) -> None:
        _check_name(self.name)
        object.__setattr__(self, "value", _real(self.name, "value", self.value))

    @property
    def n_coordinates(self) -> int:
        return 0

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        return np.full(np.shape(u), self.value, dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {"scale": "fixed", "value": self.value}

    def contains(self, x: float) -> bool:
        return x == self.value

    def extremes(self) -> tuple[float, float]:
        return self.value, self.value


_FIELDS = {
    "log": ({"low", "high"}, Log),
    "linear": ({"low", "high"}, Linear),
    "discrete": ({"values"}, Discrete),
    "fixed": ({"value"}, Fixed),
}


def dimension_from_dict(name: str, spec: Mapping[str, Any]) -> Dimension:
    """Builds a dimension from its file representation.

    Our format is ``{"scale": "log" | "linear", "low": a, "high": b}``,
    ``{"scale": "discrete", "values": [...]}`` or ``{"scale": "fixed", "value": v}``.
    AlgoPerf's format is accepted too: ``{"min": a, "max": b, "scaling": "log" |
    "linear"}`` and ``{"feasible_points": [...]}`` (one feasible point is fixed).

    Example:
        >>> dimension_from_dict("weight_decay", {"scale": "log", "low": 1e-4, "high": 0.5})
        Log(name='weight_decay', low=0.0001, high=0.5)
        >>> dimension_from_dict("beta2", {"feasible_points": [0.999]})
        Fixed(name='beta2', value=0.999)
        >>> dimension_from_dict("lr", {"scale": "exp", "low": 1, "high": 2})
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: dimension 'lr': scale must be one of 'log', 'linear', 'discrete', 'fixed'; got 'exp'
    """
    _check_name(name)
    if not isinstance(spec, Mapping):
        raise InvalidParameterError(f"dimension {name!r}: must be a table/object with a 'scale', got {spec!r}")
    spec = dict(spec)
    if "scale" not in spec and ("feasible_points" in spec or "scaling" in spec):
        spec = _from_algoperf(name, spec)
    if "scale" not in spec:
        raise InvalidParameterError(
            f"dimension {name!r}: missing 'scale' (one of {', '.join(map(repr, SCALES))})"
        )
    scale = spec.pop("scale")
    if not isinstance(scale, str) or scale not in _FIELDS:
        allowed = ", ".join(repr(s) for s in SCALES)
        raise InvalidParameterError(f"dimension {name!r}: scale must be one of {allowed}; got {scale!r}")
    fields, cls = _FIELDS[scale]
    missing = sorted(fields - set(spec))
    unknown = sorted(set(spec) - fields)
    if missing:
        raise InvalidParameterError(f"dimension {name!r}: a {scale} dimension needs {missing}")
    if unknown:
        raise InvalidParameterError(
            f"dimension {name!r}: unknown field(s) {unknown} for a {scale} dimension; "
            f"allowed fields are {sorted(fields | {'scale'})}"
        )
    return cls(name, **spec)


def _from_algoperf(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    if "feasible_points" in spec:
        extra = sorted(set(spec) - {"feasible_points"})
        if extra:
            raise InvalidParameterError(f"dimension {name!r}: unknown field(s) {extra} next to feasible_points")
        points = spec["feasible_points"]
        if isinstance(points, Sequence) and not isinstance(points, str) and len(points) == 1:
            return {"scale": "fixed", "value": points[0]}
        return {"scale": "discrete", "values": points}
    extra = sorted(set(spec) - {"min", "max", "scaling"})
    if extra:
        raise InvalidParameterError(f"dimension {name!r}: unknown field(s) {extra}")
    for key in ("min", "max"):
        if key not in spec:
            raise InvalidParameterError(f"dimension {name!r}: AlgoPerf-style dimension needs {key!r}")
    return {"scale": spec["scaling"], "low": spec["min"], "high": spec["max"]}
