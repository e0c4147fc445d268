"""Declarative search spaces: an ordered tuple of dimensions plus how a point is materialized.

A search space is data: it is built in Python, or read from a JSON or TOML
file (see :meth:`SearchSpace.from_dict` for the format). The order of the
dimensions is part of the space: the ``i``-th non-fixed dimension takes the
``i``-th coordinate of the (quasi-)random sequence, so the same space, seed and
method give the same points on any machine.

Materialization turns the raw values of the dimensions into a point:

* ``one_minus_<name>`` (the parameterization of paper 001, Table 1) becomes
  ``<name> = 1 - value``;
* for NAdamW spaces (``optimizer == "nadamw"``) AlgoPerf's ``warmup_factor``
  becomes ``warmup_fraction``, and the point is an :class:`~hplists.HParams`
  (fields the space does not set keep their defaults, e.g. ``eps = 1e-8``);
* any other update rule gets a plain ``dict`` of floats.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hplists.exceptions import InvalidParameterError
from hplists.hparams import HParams, Point
from hplists.space.dimensions import Dimension, Discrete, Fixed, dimension_from_dict

__all__ = ["Point", "SearchSpace"]


_HPARAMS_FIELDS = tuple(f.name for f in dataclasses.fields(HParams))
# AlgoPerf key -> HParams field, for NAdamW spaces.
_ALGOPERF_ALIASES = {"warmup_factor": "warmup_fraction"}
_SPACE_KEYS = {"name", "description", "optimizer", "source", "dimensions"}


def _target(name: str, nadamw: bool) -> tuple[str, bool]:
    """(field the value lands in, whether it is stored as ``1 - value``)."""
    flipped = name.startswith("one_minus_")
    field = name[len("one_minus_"):] if flipped else name
    if nadamw:
        field = _ALGOPERF_ALIASES.get(field, field)
    return field, flipped


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """An ordered set of dimensions and the update rule its points are for.

    Attributes:
        name: the space's name, e.g. ``"nadamw-broad"``.
        dimensions: the dimensions, in sequence order.
        optimizer: ``"nadamw"`` makes points :class:`~hplists.HParams`;
            any other value gives plain dicts.
        description: what the space is, with any assumptions.
        source: where the numbers come from.

    Example:
        >>> from hplists.space.dimensions import Discrete, Fixed, Log
        >>> space = SearchSpace("tiny", (
        ...     Log("learning_rate", 1e-4, 1e-2), Log("one_minus_beta1", 1e-3, 0.2),
        ...     Fixed("beta2", 0.999), Discrete("dropout_rate", (0.0, 0.1))))
        >>> space.n_coordinates
        3
        >>> p = space.materialize({"learning_rate": 1e-3, "one_minus_beta1": 0.1,
        ...                        "beta2": 0.999, "dropout_rate": 0.1})
        >>> p.beta1, p.dropout_rate, p.eps
        (0.9, 0.1, 1e-08)
    """

    name: str
    dimensions: tuple[Dimension, ...]
    optimizer: str = "nadamw"
    description: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidParameterError(f"search space name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.optimizer, str) or not self.optimizer:
            raise InvalidParameterError(f"space {self.name!r}: optimizer must be a non-empty string")
        dims = tuple(self.dimensions)
        for d in dims:
            if not isinstance(d, Dimension):
                raise InvalidParameterError(f"space {self.name!r}: not a Dimension: {d!r}")
        object.__setattr__(self, "dimensions", dims)
        names = [d.name for d in dims]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise InvalidParameterError(f"space {self.name!r}: duplicate dimension name(s) {dupes}")
        targets = [_target(n, self.is_nadamw)[0] for n in names]
        clash = sorted({t for t in targets if targets.count(t) > 1})
        if clash:
            raise InvalidParameterError(
                f"space {self.name!r}: several dimensions set {clash} "
                f"(e.g. both 'beta1' and 'one_minus_beta1')"
            )
        if self.is_nadamw:
            self._check_nadamw(names, targets)
        else:
            for d in dims:
                if d.name.startswith("one_minus_"):
                    self._check_one_minus(d)

    @property
    def is_nadamw(self) -> bool:
        """Whether points are :class:`~hplists.HParams`."""
        return self.optimizer == "nadamw"

    @property
    def names(self) -> tuple[str, ...]:
        """Dimension names in sequence order."""
        return tuple(d.name for d in self.dimensions)

    @property
    def n_coordinates(self) -> int:
        """Dimension of the sequence the space is sampled with (fixed dimensions take none)."""
        return sum(d.n_coordinates for d in self.dimensions)

    def _check_one_minus(self, d: Dimension) -> None:
        lo, hi = d.extremes()
        if not (lo > 0.0 and hi <= 1.0):
            raise InvalidParameterError(
                f"space {self.name!r}, dimension {d.name!r}: values must lie in (0, 1] so that "
                f"{d.name[len('one_minus_'):]} = 1 - value lies in [0, 1); got [{lo:g}, {hi:g}]"
            )

    def _check_nadamw(self, names: list[str], targets: list[str]) -> None:
        allowed = set(_HPARAMS_FIELDS) | {f"one_minus_{f}" for f in ("beta1", "beta2")} | set(
            _ALGOPERF_ALIASES
        )
        unknown = [n for n in names if n not in allowed]
        if unknown:
            raise InvalidParameterError(
                f"space {self.name!r}: unknown NAdamW hyperparameter(s) {unknown}; allowed names "
                f"are {sorted(allowed)} (use another optimizer name for a non-NAdamW space)"
            )
        missing = [f for f in ("learning_rate", "beta1", "beta2") if f not in targets]
        if missing:
            raise InvalidParameterError(
                f"space {self.name!r}: a NAdamW space must set {missing} "
                f"(directly or as one_minus_<name>)"
            )
        # Every corner of every dimension must give a valid HParams.
        for d in self.dimensions:
            for x in d.extremes():
                raw = {e.name: e.extremes()[0] for e in self.dimensions}
                raw[d.name] = x
                try:
                    self.materialize(raw)
                except ValueError as e:
                    raise InvalidParameterError(
                        f"space {self.name!r}, dimension {d.name!r} = {x:g}: {e}"
                    ) from None

    def materialize(self, raw: Mapping[str, float]) -> Point:
        """Turns raw dimension values (keyed by dimension name) into a point.

        Example:
            >>> from hplists.space.dimensions import Log
            >>> s = SearchSpace("lr-free", (Log("one_minus_beta2", 1e-3, 1.0),), optimizer="prodigy")
            >>> s.materialize({"one_minus_beta2": 0.25})
            {'beta2': 0.75}
        """
        missing = [n for n in self.names if n not in raw]
        extra = sorted(set(raw) - set(self.names))
        if missing or extra:
            raise InvalidParameterError(
                f"space {self.name!r}: raw point must have exactly the keys {list(self.names)}; "
                f"missing {missing}, unknown {extra}"
            )
        out: dict[str, float] = {}
        for n in self.names:
            field, flipped = _target(n, self.is_nadamw)
            v = float(raw[n])
            out[field] = 1.0 - v if flipped else v
        return HParams(**out) if self.is_nadamw else out

    def points_from_unit(self, unit: np.ndarray) -> list[Point]:
        """Maps an ``(n, n_coordinates)`` array of uniform coordinates to ``n`` points.

        Coordinate ``j`` goes to the ``j``-th non-fixed dimension in
        :attr:`dimensions` order.
        """
        unit = np.asarray(unit, dtype=np.float64)
        if unit.ndim != 2 or unit.shape[1] != self.n_coordinates:
            raise InvalidParameterError(
                f"unit must have shape (n, {self.n_coordinates}) for space {self.name!r}, "
                f"got {unit.shape}"
            )
        n = unit.shape[0]
        columns: dict[str, np.ndarray] = {}
        j = 0
        for d in self.dimensions:
            if d.n_coordinates:
                columns[d.name] = d.from_unit(unit[:, j])
                j += 1
            else:
                columns[d.name] = d.from_unit(np.zeros(n))
        return [self.materialize({k: float(v[i]) for k, v in columns.items()}) for i in range(n)]

    def sample(self, n: int, seed: int = 0, method: str = "halton") -> list[Point]:
        """Draws ``n`` points: scipy's scrambled Halton by default, AlgoPerf's Halton, or random.

        See :func:`hplists.space.sampling.sample` for the exact definition.

        Example:
            >>> from hplists.space import get_space
            >>> pts = get_space("nadamw-broad").sample(3, seed=0)
            >>> len(pts), type(pts[0]).__name__
            (3, 'HParams')
        """
        from hplists.space.sampling import sample

        return sample(self, n, seed=seed, method=method)

    def contains(self, point: Point | Mapping[str, float]) -> bool:
        """Whether ``point`` can be produced by this space (up to 1 - x rounding).

        Example:
            >>> from hplists.space import get_space
            >>> s = get_space("nadamw-broad")
            >>> all(s.contains(p) for p in s.sample(4))
            True
        """
        d = point.to_dict() if isinstance(point, HParams) else dict(point)
        for dim in self.dimensions:
            field, flipped = _target(dim.name, self.is_nadamw)
            if field not in d:
                return False
            v = float(d[field])
            v = 1.0 - v if flipped else v
            if isinstance(dim, (Fixed, Discrete)):
                choices = dim.values if isinstance(dim, Discrete) else (dim.value,)
                ok = any(math.isclose(v, x, rel_tol=1e-12, abs_tol=1e-15) for x in choices)
            else:
                lo, hi = dim.extremes()
                ok = lo * (1 - 1e-12) - 1e-15 <= v <= hi * (1 + 1e-12) + 1e-15
            if not ok:
                return False
        return True

    # ----- files -----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The file representation; :meth:`from_dict` inverts it."""
        return {
            "name": self.name,
            "description": self.description,
            "optimizer": self.optimizer,
            "source": self.source,
            "dimensions": {d.name: d.to_dict() for d in self.dimensions},
        }

    def to_json(self) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, name: str | None = None) -> SearchSpace:
        """Builds a space from its file representation.

        The format (JSON shown; TOML has the same tables)::

            {"name": "my-space", "optimizer": "nadamw", "description": "...", "source": "...",
             "dimensions": {
                "learning_rate":   {"scale": "log", "low": 1e-4, "high": 1e-2},
                "one_minus_beta1": {"scale": "log", "low": 1e-3, "high": 0.2},
                "beta2":           {"scale": "fixed", "value": 0.999},
                "dropout_rate":    {"scale": "discrete", "values": [0.0, 0.1]}}}

        Dimensions are taken in the order written. An AlgoPerf
        ``tuning_search_space.json`` (a top-level object of ``{"min", "max",
        "scaling"}`` / ``{"feasible_points"}`` entries) is read as a NAdamW space
        named ``name``.

        Example:
            >>> SearchSpace.from_dict({"name": "s", "dimensions": {
            ...     "learning_rate": {"scale": "log", "low": 0, "high": 1}}})
            Traceback (most recent call last):
            ...
            hplists.exceptions.InvalidParameterError: space 's': dimension 'learning_rate': log scale needs low > 0, got 0
        """
        if not isinstance(d, Mapping):
            raise InvalidParameterError(f"a search space must be an object/table, got {type(d).__name__}")
        if "dimensions" not in d and d and all(
            isinstance(v, Mapping) and ({"feasible_points"} <= set(v) or "scaling" in v)
            for v in d.values()
        ):
            d = {"name": name or "algoperf", "optimizer": "nadamw", "dimensions": dict(d)}
        unknown = sorted(set(d) - _SPACE_KEYS)
        if unknown:
            raise InvalidParameterError(
                f"search space has unknown key(s) {unknown}; allowed keys are {sorted(_SPACE_KEYS)}"
            )
        space_name = d.get("name", name)
        if not space_name:
            raise InvalidParameterError("search space is missing required key 'name'")
        dims_spec = d.get("dimensions")
        if not isinstance(dims_spec, Mapping) or not dims_spec:
            raise InvalidParameterError(
                f"space {space_name!r}: 'dimensions' must be a non-empty object mapping names "
                f"to dimensions, got {dims_spec!r}"
            )
        for key in ("description", "optimizer", "source"):
            if key in d and not isinstance(d[key], str):
                raise InvalidParameterError(f"space {space_name!r}: {key} must be a string, got {d[key]!r}")
        try:
            dims = tuple(dimension_from_dict(k, v) for k, v in dims_spec.items())
        except ValueError as e:
            raise InvalidParameterError(f"space {space_name!r}: {e}") from None
        return cls(
            name=space_name,
            dimensions=dims,
            optimizer=d.get("optimizer", "nadamw"),
            description=d.get("description", ""),
            source=d.get("source", ""),
        )

    @classmethod
    def from_file(cls, path: str | Path) -> SearchSpace:
        """Reads a space from a ``.json`` or ``.toml`` file (format: :meth:`from_dict`).

        A file without a ``name`` is named after its stem.
        """
        from hplists._files import parse_json, parse_toml, read_text

        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".json", ".toml"):
            raise InvalidParameterError(
                f"search space file {str(path)!r}: suffix must be one of '.json', '.toml'; "
                f"got {path.suffix!r}"
            )
        text = read_text(path, "search space file")
        source = f"search space file {str(path)!r}"
        data = parse_json(text, source) if suffix == ".json" else parse_toml(text, source)
        try:
            return cls.from_dict(data, name=path.stem)
        except InvalidParameterError as e:
            raise InvalidParameterError(f"{source}: {e}") from None

    def describe(self) -> list[dict[str, Any]]:
        """One row per dimension (name, scale, range or values), for tables."""
        return [{"name": d.name, **d.to_dict()} for d in self.dimensions]
