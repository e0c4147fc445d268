"""Named, ordered hyperparameter lists shipped as JSON data files.

A list is a fully specified training algorithm: with a budget of ``k`` trials,
run its first ``k`` points and keep the best (paper 001, Sec. 1).
"""

from __future__ import annotations

import dataclasses
import json
from importlib import resources
from pathlib import Path
from typing import Any

from hplists._check import check_int
from hplists.hparams import HParams
from hplists.store.base import canonical_point

__all__ = ["NamedList", "available_lists", "get_list", "load_list", "register_list"]

_DATA = "hplists.lists.data"
_EXTRA: dict[str, NamedList] = {}


@dataclasses.dataclass(frozen=True)
class NamedList:
    """An ordered list of points with its provenance.

    Attributes:
        name: the list's name, e.g. ``"nadamw-paper"``.
        description: one line saying what the list is.
        points: the points in priority order.
        optimizer: the update rule the points are defined for (``"nadamw"``).
        source: where the numbers come from.
        provenance: free-form metadata (study, workloads, tau, dates, versions).
    """

    name: str
    description: str
    points: tuple[HParams, ...]
    optimizer: str = "nadamw"
    source: str = ""
    provenance: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.points)

    def first(self, k: int) -> tuple[HParams, ...]:
        """The first ``k`` points: what a budget of ``k`` trials runs."""
        k = check_int("k", k, low=1, high=len(self.points))
        return self.points[:k]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "optimizer": self.optimizer,
            "source": self.source,
            "provenance": self.provenance,
            "points": [p.to_dict() if isinstance(p, HParams) else dict(p) for p in self.points],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NamedList:
        for key in ("name", "points"):
            if key not in d:
                raise ValueError(f"list file is missing required key {key!r}")
        points = []
        nadamw = d.get("optimizer", "nadamw") == "nadamw"
        for i, p in enumerate(d["points"]):
            try:
                # Lists for other update rules (e.g. metz-nadamw) keep plain float dicts.
                points.append(HParams.from_dict(p) if nadamw else canonical_point(p))
            except ValueError as e:
                raise ValueError(f"list {d['name']!r}, point {i}: {e}") from None
        if not points:
            raise ValueError(f"list {d['name']!r} has no points")
        return cls(
            name=d["name"],
            description=d.get("description", ""),
            points=tuple(points),
            optimizer=d.get("optimizer", "nadamw"),
            source=d.get("source", ""),
            provenance=d.get("provenance", {}),
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
    """Reads a list from a JSON file in the shipped format."""
    return NamedList.from_dict(json.loads(Path(path).read_text()))


def register_list(named: NamedList, *, overwrite: bool = False) -> None:
    """Makes ``named`` available to :func:`get_list` in this process."""
    if not overwrite and named.name in available_lists():
        raise ValueError(f"a list named {named.name!r} exists; pass overwrite=True")
    _EXTRA[named.name] = named


def get_list(name: str, k: int | None = None) -> NamedList:
    """Returns the named list, truncated to its first ``k`` points when ``k`` is given.

    Example:
        >>> points = get_list("nadamw-paper", k=2).points
        >>> len(points), points[0].learning_rate
        (2, 0.007188680089024849)
    """
    if name in _EXTRA:
        named = _EXTRA[name]
    elif name in _builtin_names():
        text = resources.files(_DATA).joinpath(f"{name}.json").read_text()
        named = NamedList.from_dict(json.loads(text))
    else:
        raise ValueError(
            f"unknown list name {name!r}; available lists are {available_lists()}"
        )
    if k is None:
        return named
    return dataclasses.replace(named, points=named.first(k))
