"""A validation metric's direction, in one place: what "reached", "better", "best" and "worst" mean.

Every part of hplists that compares metric values (scoring, lists, targets,
tuning curves, the report, Bayesian optimization) goes through these, given
a :class:`Metric` or its ``mode``: ``"min"`` for metrics that go down (error
rate, WER, log loss), ``"max"`` for those that go up (accuracy, SSIM, BLEU).
Non-finite values never reach a target and are never better.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

import numpy as np

from hplists._check import check_choice

__all__ = ["MODES", "Metric", "Mode", "argbest", "best_of", "better", "describe", "hits",
           "infer_mode", "minimizes", "sign", "worst"]

Mode = Literal["min", "max"]
MODES = ("min", "max")


def worst(mode: str) -> float:
    """The worst possible value: ``+inf`` for ``"min"``, ``-inf`` for ``"max"``.

    Example:
        >>> worst("min"), worst("max")
        (inf, -inf)
    """
    return math.inf if mode == "min" else -math.inf


def sign(mode: str) -> float:
    """``+1`` where larger is better, ``-1`` where smaller is: ``sign * value`` is to maximize.

    Example:
        >>> sign("max") * 0.9 > sign("max") * 0.8, sign("min") * 0.1 > sign("min") * 0.2
        (True, True)
    """
    return 1.0 if mode == "max" else -1.0


def better(a: float, b: float, mode: str) -> bool:
    """Whether ``a`` is strictly better than ``b`` (compared as they are).

    Example:
        >>> better(0.1, 0.2, "min"), better(0.1, 0.2, "max")
        (True, False)
    """
    return a < b if mode == "min" else a > b


def hits(values: Any, target: float, mode: str) -> Any:
    """Which ``values`` reach ``target`` (``<=`` for ``"min"``, ``>=`` for ``"max"``); NaN never.

    Works on floats and on arrays (elementwise).

    Example:
        >>> hits(np.array([0.3, 0.2, np.nan]), 0.25, "min").tolist()
        [False, True, False]
    """
    with np.errstate(invalid="ignore"):
        return values <= target if mode == "min" else values >= target


def best_of(values: Any, mode: str, axis: int | None = None) -> Any:
    """The best of ``values`` (their minimum for ``"min"``, maximum for ``"max"``).

    Example:
        >>> float(best_of(np.array([0.3, 0.1]), "min")), float(best_of(np.array([0.3, 0.1]), "max"))
        (0.1, 0.3)
    """
    values = np.asarray(values)
    return values.min(axis=axis) if mode == "min" else values.max(axis=axis)


def argbest(values: Any, mode: str) -> int:
    """Index of the best value, NaN ignored (``nanargmin`` / ``nanargmax``).

    Example:
        >>> argbest(np.array([0.3, np.nan, 0.1]), "min"), argbest(np.array([0.3, 0.1]), "max")
        (2, 0)
    """
    return int(np.nanargmin(values) if mode == "min" else np.nanargmax(values))


def minimizes(mode: str) -> bool:
    """Whether smaller values are better.

    Example:
        >>> minimizes("min"), minimizes("max")
        (True, False)
    """
    return mode == "min"


# Metric names whose direction is known (after dropping a split prefix such as "val_").
_LOWER = ("loss", "error", "error_rate", "err", "wer", "cer", "log_loss", "logloss", "nll",
          "perplexity", "ppl", "mse", "mae", "rmse", "cross_entropy", "ce", "regret")
_HIGHER = ("accuracy", "acc", "auc", "auroc", "roc_auc", "f1", "precision", "recall", "bleu",
           "ssim", "psnr", "r2", "exact_match", "map", "ndcg", "iou", "miou", "dice",
           "top1", "top5", "top1_accuracy", "top5_accuracy", "reward", "score")
_PREFIXES = ("validation_", "valid_", "val_", "eval_", "test_", "train_", "dev_")


def infer_mode(name: str) -> str | None:
    """The direction of a metric known by its name: ``"min"``, ``"max"``, or ``None``.

    A split prefix (``val_``, ``eval_``, ``test_``, ...) is dropped first, and a name
    that ends in ``loss``, ``error`` or ``accuracy`` counts as those.

    Example:
        >>> infer_mode("loss"), infer_mode("val_accuracy"), infer_mode("eval/wer")
        ('min', 'max', 'min')
        >>> infer_mode("my_loss"), infer_mode("throughput") is None
        ('min', True)
    """
    n = name.strip().lower().replace("-", "_").replace("/", "_").replace(" ", "_")
    for prefix in _PREFIXES:
        if n.startswith(prefix):
            n = n[len(prefix):]
            break
    if n in _LOWER or n.endswith(("_loss", "loss", "_error", "_err")):
        return "min"
    if n in _HIGHER or n.endswith(("_accuracy", "_acc")):
        return "max"
    return None


def describe(mode: str) -> str:
    """``"lower is better"`` or ``"higher is better"``.

    Example:
        >>> describe("max")
        'higher is better'
    """
    return "lower is better" if mode == "min" else "higher is better"


@dataclasses.dataclass(frozen=True)
class Metric:
    """A validation metric with its direction.

    Example:
        >>> m = Metric("error_rate", "min")
        >>> m.reached(0.2, target=0.25), m.reached(0.3, target=0.25)
        (True, False)
        >>> m.describe()
        'error_rate (lower is better)'
    """

    name: str
    mode: Mode

    def __post_init__(self) -> None:
        check_choice("Metric.mode", self.mode, MODES)

    def reached(self, value: float, target: float) -> bool:
        """``value <= target`` for metrics that go down, ``>=`` for those that go up."""
        if not math.isfinite(value):
            return False
        return bool(hits(value, target, self.mode))

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` is strictly better than ``b`` (NaN is never better)."""
        if not math.isfinite(a):
            return False
        if not math.isfinite(b):
            return True
        return better(a, b, self.mode)

    @property
    def worst(self) -> float:
        return worst(self.mode)

    def describe(self) -> str:
        """The metric's name and direction, as tables print it."""
        return f"{self.name} ({describe(self.mode)})"
