"""A batch of points as the engine reads them: their dicts, trial lengths and stacked arrays."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from hplists._check import check_int, check_real
from hplists.exceptions import InvalidParameterError
from hplists.hparams import HParams, Point
from hplists.method_point import steps_to_run
from hplists.optim.schedule import warmup_steps
from hplists.workloads.contract import REGULARIZER_KEYS


def _point_dict(point: Point, index: int) -> dict[str, float]:
    if isinstance(point, HParams):
        d = point.to_dict()
    elif isinstance(point, Mapping):
        d = {}
        for k, v in point.items():
            d[str(k)] = check_real(f"points[{index}][{k!r}]", v)
    else:
        raise InvalidParameterError(
            f"points[{index}] must be an HParams or a mapping of names to numbers, "
            f"got {type(point).__name__}"
        )
    d.setdefault("dropout_rate", 0.0)
    d.setdefault("label_smoothing", 0.0)
    for name in ("dropout_rate", "label_smoothing"):
        check_real(f"points[{index}].{name}", d[name], 0.0, 1.0, high_open=True)
    return d


def trial_steps(point: Point, step_budget: int) -> int:
    """Steps one trial of ``point`` trains: :func:`hplists.steps_to_run` of the step budget.

    Example:
        >>> trial_steps({"horizon": 0.33}, 1200)
        396
    """
    step_budget = check_int("step_budget", step_budget, low=1)
    return steps_to_run(point, step_budget)


def hp_arrays(
    points: Sequence[Point],
    total_steps: int,
    regularizers: frozenset[str] | set[str] = frozenset(("dropout", "label_smoothing")),
) -> dict[str, np.ndarray]:
    """Stacks points into one float32 array per hyperparameter (int32 ``warmup_steps``).

    This is the ``hp`` mapping the update rule receives (one entry per point).
    ``warmup_steps`` is added where a point has ``warmup_fraction``; a
    regularizer missing from ``regularizers`` is set to 0.

    Example:
        >>> from hplists import HParams
        >>> hp = hp_arrays([HParams(1e-3, 0.9, 0.99, warmup_fraction=0.05)], 1000)
        >>> hp["warmup_steps"].tolist(), hp["dropout_rate"].tolist()
        ([50], [0.0])
    """
    total_steps = check_int("total_steps", total_steps, low=1)
    if len(points) == 0:
        raise InvalidParameterError("points must contain at least one point, got none")
    dicts = [_point_dict(p, i) for i, p in enumerate(points)]
    names = set(dicts[0])
    for i, d in enumerate(dicts):
        if set(d) != names:
            raise InvalidParameterError(
                f"all points must have the same hyperparameter names; points[0] has "
                f"{sorted(names)} but points[{i}] has {sorted(d)}"
            )
    out = {k: np.array([d[k] for d in dicts], dtype=np.float32) for k in sorted(names)}
    if "warmup_fraction" in names:
        out["warmup_steps"] = np.array(
            [warmup_steps(d["warmup_fraction"], total_steps) for d in dicts], dtype=np.int32
        )
    for reg, key in REGULARIZER_KEYS.items():  # the rule applied_regularizers states
        if reg not in regularizers:
            out[key] = np.zeros(len(dicts), np.float32)
    return out
