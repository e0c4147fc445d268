"""Named, ordered hyperparameter lists shipped as JSON data files.

A list is a fully specified training algorithm: with a budget of ``k`` trials,
run its first ``k`` points and keep the best (paper 001, Sec. 1).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, cast, overload

from hplists._check import check_int, check_real
from hplists._files import load_json
from hplists.exceptions import InvalidParameterError
from hplists.hparams import HParams
from hplists.lists._sequence import check_index
from hplists.method_point import MethodPoint
from hplists.store.base import canonical_point

__all__ = ["NamedList", "available_lists", "get_list", "list_name", "list_points", "load_list",
           "register_list"]

_DATA = "hplists.lists.data"
_EXTRA: dict[str, NamedList] = {}


@dataclasses.dataclass(frozen=True)
class NamedList(Sequence[HParams | MethodPoint]):
    """An ordered list of points with its provenance; a sequence of its points.

    A ``NamedList`` behaves like the tuple of its points in priority order:
    ``len``, iteration, indexing (negative too), ``in``, ``reversed``,
    ``.index`` and ``.count``. A slice is a ``NamedList`` again, holding
    ``points[slice]`` with the same name, description, optimizer, source and
    provenance (those describe where the points come from), so
    ``get_list(name)[:k]`` equals ``get_list(name, k=k)``. Equality compares
    every field, as for any dataclass: a list never equals a bare tuple of
    its points (compare ``.points`` for that).

    Attributes:
        name: the list's name, e.g. ``"nadamw-paper"``.
        description: one line saying what the list is.
        points: the points in priority order.
        optimizer: the update rule the points are defined for (``"nadamw"``).
        source: where the numbers come from.
        provenance: free-form metadata (study, workloads, tau, dates, versions).
        budget_factor: the step budget the points were chosen for, in multiples
            of a workload's budget ``T``: 1 for NAdamW's lists, 3 for the
            learning-rate-free study's (``M = 3 T``, paper 002's budget; a
            point's ``horizon`` is a fraction of it). ``hplists run`` and
            ``hplists evaluate`` train ``int(budget_factor * T)`` steps by default.

    Example:
        >>> named = get_list("nadamw-paper")
        >>> len(named), named[0] is named.points[0], named[-1] == named.points[4]
        (5, True, True)
        >>> [round(p.learning_rate, 5) for p in named[:3]]
        [0.00719, 0.00117, 0.00118]
        >>> head = named[:3]
        >>> head.name, head.optimizer, len(head), head == get_list("nadamw-paper", k=3)
        ('nadamw-paper', 'nadamw', 3, True)
        >>> named.points[2] in named, list(reversed(named)) == list(named.points[::-1])
        (True, True)
        >>> named[5]
        Traceback (most recent call last):
        ...
        IndexError: NamedList 'nadamw-paper' index 5 out of range: it has 5 points (valid indices -5 to 4)
    """

    name: str
    description: str
    points: tuple[HParams | MethodPoint, ...]
    optimizer: str = "nadamw"
    source: str = ""
    provenance: dict[str, Any] = dataclasses.field(default_factory=dict)
    budget_factor: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "budget_factor", check_real(
            f"list {self.name!r}: budget_factor", self.budget_factor, low=0.0, low_open=True))

    def budget(self, step_budget: int) -> int:
        """The steps a trial of this list's points gets on a workload with budget ``T``.

        Example:
            >>> get_list("nadamw-paper").budget(400)
            400
        """
        step_budget = check_int("step_budget", step_budget, low=1)
        return max(1, int(self.budget_factor * step_budget))

    def __len__(self) -> int:
        return len(self.points)

    @overload
    def __getitem__(self, index: int) -> HParams | MethodPoint: ...

    @overload
    def __getitem__(self, index: slice) -> NamedList: ...

    def __getitem__(self, index: int | slice) -> HParams | MethodPoint | NamedList:
        """The point at ``index``, or for a slice a ``NamedList`` of those points."""
        if isinstance(index, slice):
            return dataclasses.replace(self, points=self.points[index])
        return self.points[check_index(index, len(self.points), f"NamedList {self.name!r}")]

    def __iter__(self) -> Iterator[HParams | MethodPoint]:
        return iter(self.points)

    def __reversed__(self) -> Iterator[HParams | MethodPoint]:
        return reversed(self.points)

    def __contains__(self, point: object) -> bool:
        return point in self.points

    def first(self, k: int) -> tuple[HParams | MethodPoint, ...]:
        """The first ``k`` points: what a budget of ``k`` trials runs."""
        k = check_int("k", k, low=1, high=len(self.points))
        return self.points[:k]

    def to_dict(self) -> dict[str, Any]:
        budget = {} if self.budget_factor == 1 else {"budget_factor": self.budget_factor}
        return {
            "name": self.name,
            "description": self.description,
            "optimizer": self.optimizer,
            "source": self.source,
            **budget,
            "provenance": self.provenance,
            "points": [p.to_dict() for p in self.points],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NamedList:
        if not isinstance(d, dict):
            raise InvalidParameterError(f"a list must be a JSON object with 'name' and 'points', "
                                        f"got {type(d).__name__}")
        for key in ("name", "points"):
            if key not in d:
                raise InvalidParameterError(f"list file is missing required key {key!r}")
        if not isinstance(d["name"], str) or not d["name"]:
            raise InvalidParameterError(f"list 'name' must be a non-empty string, got "
                                        f"{d['name']!r}")
        if not isinstance(d["points"], list):
            raise InvalidParameterError(f"list {d['name']!r}: 'points' must be a list of "
                                        f"objects, got {type(d['points']).__name__}")
        for i, p in enumerate(d["points"]):
            if not isinstance(p, dict):
                raise InvalidParameterError(f"list {d['name']!r}, point {i}: must be an object "
                                            f"of hyperparameter names to numbers, got {p!r}")
        points = []
        optimizer = d.get("optimizer", "nadamw")
        if not isinstance(optimizer, str) or not optimizer:
            raise InvalidParameterError(f"list {d['name']!r}: 'optimizer' must be the name of "
                                        f"an update rule, got {optimizer!r}")
        for i, p in enumerate(d["points"]):
            try:
                # Other update rules name their own hyperparameters (e.g. metz-nadamw).
                points.append(HParams.from_dict(p) if optimizer == "nadamw"
                              else MethodPoint(optimizer, canonical_point(p)))
            except ValueError as e:
                raise InvalidParameterError(f"list {d['name']!r}, point {i}: {e}") from None
        if not points:
            raise InvalidParameterError(f"list {d['name']!r} has no points")
        return cls(
            name=d["name"],
            description=d.get("description", ""),
            points=tuple(points),
            optimizer=d.get("optimizer", "nadamw"),
            source=d.get("source", ""),
            provenance=d.get("provenance", {}),
            budget_factor=d.get("budget_factor", 1.0),
        )


def _builtin_names() -> list[str]:
    files = resources.files(_DATA).iterdir()
    return sorted(f.name[: -len(".json")] for f in files if f.name.endswith(".json"))


def available_lists() -> list[str]:
    """Names of every list: the shipped ones and any registered in this process.

    Example:
        >>> "nadamw-paper" in available_lists()
        True
    """
    return sorted(set(_builtin_names()) | set(_EXTRA))


def load_list(path: str | Path) -> NamedList:
    """Reads a list from a JSON file in the shipped format; bad files name the file and field.

    Example:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "l.json"
        >>> _ = f.write_text("[false]")
        >>> load_list(f)
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: ...l.json: a list must be a JSON object ...
    """
    data = load_json(path, "list file")
    try:
        return NamedList.from_dict(data)
    except InvalidParameterError as e:
        raise InvalidParameterError(f"{path}: {e}") from None


def register_list(named: NamedList, *, overwrite: bool = False) -> None:
    """Makes ``named`` available to :func:`get_list` in this process."""
    if not overwrite and named.name in available_lists():
        raise InvalidParameterError(f"a list named {named.name!r} exists; pass overwrite=True")
    _EXTRA[named.name] = named


def get_list(name: str | Path, k: int | None = None) -> NamedList:
    """The named list, or the list file at a path, truncated to its first ``k`` points.

    ``name`` is a list name (:func:`available_lists`) or the path of a list
    file (a ``.json`` name, or one with a folder), such as ``hplists build -o``
    writes; a path is read with :func:`load_list`.

    Example:
        >>> points = get_list("nadamw-paper", k=2).points
        >>> len(points), points[0].learning_rate
        (2, 0.007188680089024849)
        >>> get_list("nadamw-papr")
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: unknown list name 'nadamw-papr' (did you mean 'nadamw-paper'?); available lists are [...]
    """
    if isinstance(name, Path) or (isinstance(name, str) and name not in _EXTRA and (
            name.endswith(".json") or "/" in name or os.sep in name)):
        named = load_list(name)
    elif name in _EXTRA:
        named = _EXTRA[name]
    elif name in _builtin_names():
        text = resources.files(_DATA).joinpath(f"{name}.json").read_text()
        named = NamedList.from_dict(json.loads(text))
    else:
        import difflib

        close = difflib.get_close_matches(str(name), available_lists(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InvalidParameterError(
            f"unknown list name {name!r}{hint}; available lists are {available_lists()}"
        )
    if k is None:
        return named
    return dataclasses.replace(named, points=named.first(k))


def list_points(points: str | Any | Sequence[HParams], k: int | None = None) -> list[HParams]:
    """The first ``k`` points (default: all) of a list name, a :class:`NamedList` or HParams.

    ``k`` is a budget of trials: a ``k`` past the list's end gives all its points.

    What :func:`hplists.tune` and :func:`hplists.study.evaluate.evaluate` train:
    a name is looked up with :func:`get_list` (a list for another update rule,
    such as ``metz-nadamw``, holds plain dicts, returned as they are); any other
    sequence or iterable must hold :class:`~hplists.HParams` and not be empty.

    Example:
        >>> len(list_points("nadamw-paper", 2)), list_points(get_list("nadamw-paper"))[0].learning_rate
        (2, 0.007188680089024849)
        >>> len(list_points("nadamw-paper", 8)), len(list_points(get_list("nadamw-paper"), 8))
        (5, 5)
        >>> list_points([])
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: points must not be empty
    """
    from hplists.lists.constructed import ConstructedList

    if isinstance(points, str):
        # Not checked as the other inputs are: a list for another update rule (metz-nadamw)
        # holds plain dicts, which this returns as they are. k is a budget of trials, so a
        # budget past the list's end takes the whole list (a calibrated default: 1 point).
        named = list(get_list(points).points)
        return cast(list[HParams], named if k is None else named[: check_int("k", k, low=1)])
    if isinstance(points, ConstructedList):
        raise InvalidParameterError("points is a ConstructedList, whose points are row indices of the matrix "
                         "it was built from; pass their hyperparameters in its order, e.g. "
                         "[candidates[i] for i in built]")
    if isinstance(points, NamedList):
        points = points.points
    out = list(points)
    bad = [i for i, p in enumerate(out) if not isinstance(p, HParams)]
    if bad:
        raise InvalidParameterError(f"points must be a list name, a NamedList or HParams; item {bad[0]} is "
                         f"{type(out[bad[0]]).__name__}")
    if not out:
        raise InvalidParameterError("points must not be empty")
    return out if k is None else out[: check_int("k", k, low=1)]


def list_name(points: Any) -> str:
    """The name a list goes by in a study: a list name as it is, a NamedList's, else ``"points"``.

    Example:
        >>> list_name("nadamw-paper"), list_name(get_list("nadamw-paper")), list_name([])
        ('nadamw-paper', 'nadamw-paper', 'points')
    """
    if isinstance(points, str):
        return points
    return points.name if isinstance(points, NamedList) else "points"
