"""What scoring needs to know about a workload: its metric, direction, target and step budget.

Built-in and registered workloads carry this themselves
(:func:`spec_from_workload`). Results imported from elsewhere (another
framework, a cluster, AlgoPerf logs) are scored with a small *workload specs*
file, JSON or TOML::

    # specs.toml
    [workloads.imagenet_resnet]
    metric = "error_rate"
    mode = "min"            # "min": lower is better; "max": higher is better
    target = 0.22569
    step_budget = 186666

or the same as JSON: ``{"workloads": {"imagenet_resnet": {"metric": ...}}}``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from hplists._check import check_choice, check_int, check_real
from hplists.exceptions import InvalidParameterError

__all__ = ["WorkloadSpec", "load_specs", "resolve_specs", "spec_from_workload"]


@dataclasses.dataclass(frozen=True)
class WorkloadSpec:
    """A workload as scoring sees it.

    Attributes:
        name: the workload's name (as recorded in the trial store).
        metric: name of the validation metric the target is on.
        mode: ``"min"`` if lower is better (target reached when ``<=``),
            ``"max"`` if higher is better (``>=``).
        target: the validation target.
        step_budget: the number of training steps ``T``.

    Example:
        >>> WorkloadSpec("mnist", "error_rate", "min", 0.02, 1000).target
        0.02
        >>> WorkloadSpec("mnist", "error_rate", "min", None, 1000)
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: workload 'mnist' has no target: time-to-target needs one (set it with `hplists targets set`, or give it in a workload specs file)
    """

    name: str
    metric: str
    mode: Literal["min", "max"]
    target: float
    step_budget: int

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidParameterError(f"workload name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.metric, str) or not self.metric:
            raise InvalidParameterError(f"workload {self.name!r}: metric must be a non-empty string, "
                             f"got {self.metric!r}")
        check_choice(f"workload {self.name!r}: mode", self.mode, ("min", "max"))
        if self.target is None:
            raise InvalidParameterError(
                f"workload {self.name!r} has no target: time-to-target needs one (set it with "
                "`hplists targets set`, or give it in a workload specs file)"
            )
        object.__setattr__(self, "target", check_real(f"workload {self.name!r}: target",
                                                      self.target))
        object.__setattr__(self, "step_budget", check_int(
            f"workload {self.name!r}: step_budget", self.step_budget, low=1))

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "mode": self.mode, "target": self.target,
                "step_budget": self.step_budget}


_FIELDS = ("metric", "mode", "target", "step_budget")


def _parse(data: Any, source: str) -> dict[str, WorkloadSpec]:
    if not isinstance(data, Mapping) or not isinstance(data.get("workloads"), Mapping):
        raise InvalidParameterError(f"{source}: a workload specs file needs a 'workloads' table mapping "
                         "workload names to {metric, mode, target, step_budget}")
    out = {}
    for name, entry in data["workloads"].items():
        if not isinstance(entry, Mapping):
            raise InvalidParameterError(f"{source}: workloads.{name} must be a table of {list(_FIELDS)}")
        unknown = sorted(set(entry) - set(_FIELDS))
        missing = [f for f in _FIELDS if f not in entry]
        if unknown:
            raise InvalidParameterError(f"{source}: workloads.{name} has unknown field(s) {unknown}; "
                             f"allowed fields are {list(_FIELDS)}")
        if missing:
            raise InvalidParameterError(f"{source}: workloads.{name} is missing field(s) {missing}")
        try:
            out[str(name)] = WorkloadSpec(name=str(name), **{f: entry[f] for f in _FIELDS})
        except ValueError as e:
            raise InvalidParameterError(f"{source}: {e}") from None
    return out


def load_specs(path: str | Path) -> dict[str, WorkloadSpec]:
    """Reads a workload specs file (``.json`` or ``.toml``): name -> :class:`WorkloadSpec`.

    Example:
        >>> import tempfile, os
        >>> d = tempfile.mkdtemp(); p = os.path.join(d, "specs.json")
        >>> _ = open(p, "w").write('{"workloads": {"w": {"metric": "bleu", "mode": "max",'
        ...                        ' "target": 30.8, "step_budget": 100}}}')
        >>> load_specs(p)["w"].mode
        'max'
    """
    from hplists._files import parse_json, parse_toml, read_text

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".toml"):
        raise InvalidParameterError(f"workload specs file {str(path)!r}: the suffix must be one "
                                    f"of '.json', '.toml'; got {suffix!r}")
    text = read_text(path, "workload specs file")
    source = f"workload specs file {str(path)!r}"
    data = parse_json(text, source) if suffix == ".json" else parse_toml(text, source)
    return _parse(data, str(path))


def spec_from_workload(workload: Any) -> WorkloadSpec:
    """The spec of a :class:`~hplists.workloads.Workload` (an error if it has no target)."""
    return WorkloadSpec(
        name=workload.name,
        metric=workload.metric.name,
        mode=workload.metric.mode,
        target=workload.target,
        step_budget=workload.step_budget,
    )


def resolve_specs(
    names: Iterable[str],
    specs: Mapping[str, WorkloadSpec] | None = None,
    *,
    registry: bool = True,
) -> dict[str, WorkloadSpec]:
    """A spec for each workload in ``names``: from ``specs`` first, else the workload registry.

    The registry (which may import a framework) is consulted only for names
    missing from ``specs``. A name found in neither is an error.

    Example:
        >>> s = {"w": WorkloadSpec("w", "error_rate", "min", 0.1, 10)}
        >>> list(resolve_specs(["w"], s))
        ['w']
    """
    specs = dict(specs or {})
    out = {}
    for name in names:
        if name in specs:
            out[name] = specs[name]
            continue
        if registry:
            from hplists.workloads.registry import get_workload

            try:
                workload = get_workload(name)
            except ValueError:
                workload = None
            if workload is not None:
                out[name] = spec_from_workload(workload)
                continue
        given = f" (the specs given cover {sorted(specs)})" if specs else ""
        raise InvalidParameterError(
            f"unknown workload {name!r}: it is not a registered workload and has no spec"
            f"{given}; describe it in a workload specs file (--specs)"
        )
    return out
