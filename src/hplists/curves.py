"""Evaluation curves: what one training run of one point on one workload records.

A curve is the unit that every part of hplists exchanges: workloads produce
curves, the trial store persists them, and the method core (time-to-target,
cost, lists) reads them.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hplists.exceptions import InvalidParameterError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["Curve", "Status"]


class Status(enum.StrEnum):
    """Life cycle of a trial. Only ``RUNNING`` trials are redone after a crash."""

    RUNNING = "running"
    COMPLETE = "complete"
    DIVERGED = "diverged"
    ERROR = "error"


@dataclasses.dataclass(frozen=True)
class Curve:
    """Validation curve of one run.

    Attributes:
        steps: evaluated steps, strictly increasing (the last one is the budget
            for a run that completed).
        seconds: wall-clock seconds since the run started, at each evaluation.
        train_loss: training loss at each evaluation (NaN where unknown).
        metrics: validation metric name -> values, one per evaluation.
        status: ``complete``, ``diverged`` or ``error``.
        message: why a run diverged or failed.

    Example:
        >>> c = Curve.from_rows([
        ...     {"step": 10, "seconds": 0.5, "train_loss": 1.0, "error_rate": 0.6},
        ...     {"step": 20, "seconds": 1.0, "train_loss": 0.5, "error_rate": 0.4}])
        >>> c.metric("error_rate").tolist(), c.status.value
        ([0.6, 0.4], 'complete')
    """

    steps: np.ndarray
    seconds: np.ndarray
    train_loss: np.ndarray
    metrics: Mapping[str, np.ndarray]
    status: Status = Status.COMPLETE
    message: str = ""

    if TYPE_CHECKING:
        # The generated __init__, as type checkers should see it: __post_init__ turns any
        # array-like into the float64 (int64 for steps) arrays above and a str into a Status.
        def __init__(
            self,
            steps: ArrayLike,
            seconds: ArrayLike,
            train_loss: ArrayLike,
            metrics: Mapping[str, ArrayLike],
            status: Status | str = Status.COMPLETE,
            message: str = "",
        ) -> None: ...

    def __post_init__(self) -> None:
        try:
            steps = np.asarray(self.steps, dtype=np.int64)
        except (OverflowError, TypeError, ValueError):
            raise InvalidParameterError(
                f"steps must be a 1-D sequence of integers, got {_short(self.steps)}") from None
        if steps.ndim != 1:
            raise InvalidParameterError(f"steps must be a 1-D sequence, got shape {steps.shape}")
        n = steps.shape[0]
        if n > 1 and np.any(np.diff(steps) <= 0):
            raise InvalidParameterError(
                f"steps must be a strictly increasing 1-D sequence, got {steps}")
        if n and steps[0] < 0:
            raise InvalidParameterError(f"steps must be >= 0, got {int(steps[0])}")
        object.__setattr__(self, "steps", steps)
        for name in ("seconds", "train_loss"):
            arr = _floats(name, getattr(self, name))
            if arr.shape != (n,):
                raise InvalidParameterError(f"{name} must have one value per step ({n}), got {arr.shape}")
            object.__setattr__(self, name, arr)
        if not isinstance(self.metrics, Mapping):
            raise InvalidParameterError(
                f"metrics must map metric names to values, got {_short(self.metrics)}")
        metrics = {}
        for key, values in self.metrics.items():
            arr = _floats(f"metric {key!r}", values)
            if arr.shape != (n,):
                raise InvalidParameterError(
                    f"metric {key!r} must have one value per step ({n}), got {arr.shape}"
                )
            metrics[str(key)] = arr
        object.__setattr__(self, "metrics", metrics)
        object.__setattr__(self, "status", Status(self.status))

    def __len__(self) -> int:
        return int(self.steps.shape[0])

    def metric(self, name: str) -> np.ndarray:
        """Values of validation metric ``name``; a clear error if it was not recorded."""
        if name not in self.metrics:
            raise InvalidParameterError(
                f"metric {name!r} is not in this curve; recorded metrics are "
                f"{sorted(self.metrics)}"
            )
        return self.metrics[name]

    def rows(self) -> list[dict[str, Any]]:
        """One dict per evaluation: step, seconds, train_loss and every metric."""
        out = []
        for i in range(len(self)):
            row: dict[str, Any] = {
                "step": int(self.steps[i]),
                "seconds": float(self.seconds[i]),
                "train_loss": float(self.train_loss[i]),
            }
            row.update({k: float(v[i]) for k, v in self.metrics.items()})
            out.append(row)
        return out

    @classmethod
    def from_rows(
        cls,
        rows: Sequence[Mapping[str, Any]],
        status: Status | str = Status.COMPLETE,
        message: str = "",
    ) -> Curve:
        """Builds a curve from evaluation rows (as :meth:`rows` returns them)."""
        rows = sorted(rows, key=lambda r: int(r["step"]))
        names: list[str] = []
        for r in rows:
            names += [k for k in r if k not in ("step", "seconds", "train_loss") and k not in names]

        def col(key: str) -> list[float]:
            return [_float(r.get(key)) for r in rows]

        return cls(
            steps=[int(r["step"]) for r in rows],  # __post_init__ checks the int64 range
            seconds=col("seconds"),
            train_loss=col("train_loss"),
            metrics={k: col(k) for k in names},
            status=status,
            message=message,
        )


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 80 else text[:77] + "..."


def _floats(name: str, values: Any) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64)
    except (OverflowError, TypeError, ValueError):
        raise InvalidParameterError(
            f"{name} must be a sequence of numbers, got {_short(values)}") from None


def _float(x: Any) -> float:
    return math.nan if x is None else float(x)
