"""A validation metric's direction, in one place: what "reached", "better", "best" and "worst" mean.

Every part of hplists that compares metric values (scoring, lists, targets,
tuning curves, the report, Bayesian optimization) goes through these, given
a :class:`Metric` or its ``mode``: ``"min"`` for metrics that go down (error
rate, WER, log loss), ``"max"`` for those that go up (accuracy, SSIM, BLEU).
Non-finite values never reach a target and are never better.

The first hit of a curve (time to target, ``t / T``) is computed here too,
once: :func:`first_hit_of` for one curve, :func:`first_hit` for many at once,
and :func:`first_hit_sql` for a trial store's query. The definition is stated
in :mod:`hplists.scoring.time_to_target`, which re-exports them; they live in
this module because the trial store, a layer below scoring, uses them.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

import numpy as np

from hplists._check import check_choice, check_real
from hplists.curves import Curve, Status
from hplists.exceptions import InvalidParameterError

__all__ = ["MODES", "SQL_FINITE", "Hit", "HitSQL", "Metric", "Mode", "argbest", "best_finite",
           "best_of", "better", "check_budget", "check_curve", "check_nonfinite", "describe",
           "first_hit", "first_hit_of", "first_hit_sql", "fraction_of", "hits", "infer_mode",
           "minimizes", "reaches", "sign", "worst"]

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
        """``value <= target`` if the metric goes down, ``>=`` if it goes up (:func:`reaches`)."""
        return bool(reaches(value, target, self.mode))

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


# ----------------------------------------------------------------------------- the first hit
#
# Time to target, as :mod:`hplists.scoring.time_to_target` defines it, is computed here: the
# trial store (a layer below scoring) reduces curves with the same code, and answers the same
# question in SQL with :func:`first_hit_sql`. :mod:`hplists.scoring.time_to_target` re-exports
# every name of this part, and its docstring states the definition.


def reaches(values: Any, target: float, mode: str) -> Any:
    """Which values reach ``target``: finite, and :func:`hits` (``<=`` / ``>=``) it.

    The rule for one evaluation, elementwise; a curve's first hit is its first
    evaluation for which this holds (:func:`first_hit`, :func:`first_hit_of`,
    and :func:`first_hit_sql` in SQL).

    Example:
        >>> reaches(np.array([0.3, 0.2, np.nan, -np.inf]), 0.25, "min").tolist()
        [False, True, False, False]
        >>> bool(reaches(0.9, 0.8, "max")), bool(reaches(float("inf"), 0.8, "max"))
        (True, False)
    """
    values = np.asarray(values, dtype=np.float64)
    return np.isfinite(values) & hits(values, target, mode)


def check_curve(steps: Any, values: Any) -> tuple[np.ndarray, np.ndarray]:
    """``steps`` ``[E]`` (non-empty, strictly increasing) and ``values`` ``[..., E]``, as arrays.

    Example:
        >>> check_curve([10, 20], [[0.5, 0.4]])[1].shape
        (1, 2)
    """
    steps = np.asarray(steps)
    values = np.asarray(values, dtype=np.float64)
    if steps.ndim != 1 or steps.shape[0] == 0:
        raise InvalidParameterError(f"steps must be a non-empty 1-D array, got shape {steps.shape}")
    if steps.shape[0] > 1 and np.any(np.diff(steps) <= 0):
        raise InvalidParameterError("steps must be strictly increasing")
    if values.ndim == 0 or values.shape[-1] != steps.shape[0]:
        raise InvalidParameterError(
            f"values must have one value per step on their last axis ({steps.shape[0]}), "
            f"got shape {values.shape}"
        )
    return steps, values


def check_budget(steps: np.ndarray, step_budget: Any) -> float:
    """``step_budget`` as a float, if positive and no step of the curve is beyond it.

    Example:
        >>> check_budget(np.array([50, 100]), 100)
        100.0
    """
    budget = check_real("step_budget", step_budget, low=0.0, low_open=True)
    if steps[-1] > budget:
        raise InvalidParameterError(
            f"the curve is evaluated at step {int(steps[-1])}, beyond the step budget "
            f"{budget:g}; step_budget must be the budget the run was trained with"
        )
    return budget


def check_nonfinite(values: np.ndarray, diverged: np.ndarray | bool) -> None:
    """Refuses a non-finite value in a run not marked ``diverged`` (``[...]`` or one bool).

    Example:
        >>> check_nonfinite(np.array([[0.5, np.nan]]), diverged=[True])  # allowed
        >>> check_nonfinite(np.array([0.5, np.nan]), diverged=False)
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: values contain a non-finite value (nan) at evaluation 1 that is not marked diverged; mark the run diverged or fix the recording
    """
    bad = ~np.isfinite(values) & ~np.asarray(diverged, dtype=bool)[..., None]
    if np.any(bad):
        where = np.argwhere(bad)[0]
        run = tuple(int(i) for i in where[:-1])
        raise InvalidParameterError(
            f"values contain a non-finite value ({values[tuple(where)]}) at evaluation "
            f"{int(where[-1])}"
            + (f" of run {run}" if run else "")
            + " that is not marked diverged; mark the run diverged or fix the recording"
        )


def first_hit(
    values: Any,
    target: float,
    mode: str,
    *,
    diverged: np.ndarray | bool = False,
) -> np.ndarray:
    """Index of the first evaluation of each curve that reaches ``target``; ``-1`` if none.

    Args:
        values: validation metric ``[..., E]``, one curve per leading index.
        target: the validation target.
        mode: ``"min"`` (reached when ``value <= target``) or ``"max"``
            (``value >= target``).
        diverged: whether each run (``[...]``, or one bool for all) diverged;
            non-finite values are allowed only in diverged runs.

    Example:
        >>> first_hit([[0.5, 0.3, 0.2], [0.9, 0.8, 0.7]], target=0.3, mode="min")
        array([ 1, -1])
    """
    check_choice("mode", mode, MODES)
    target = check_real("target", target)
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 0 or values.shape[-1] == 0:
        raise InvalidParameterError(f"values must have at least one evaluation, got shape {values.shape}")
    check_nonfinite(values, diverged)
    return _first(reaches(values, target, mode))


def _first(reach: np.ndarray) -> np.ndarray:
    """Index of the first ``True`` on the last axis; ``-1`` where there is none."""
    return np.where(reach.any(axis=-1), reach.argmax(axis=-1), -1)


def fraction_of(step: Any, step_budget: Any) -> np.ndarray:
    """``t / T``: the first hit's step over the step budget; ``inf`` for a miss (a step ``< 0``).

    Works on arrays (``-1`` marks a miss, as in the store's columns) and on numbers.

    Example:
        >>> fraction_of(np.array([75, -1]), 100).tolist(), float(fraction_of(50, 200))
        ([0.75, inf], 0.25)
    """
    s = np.asarray(step, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(s >= 0, s / np.asarray(step_budget, dtype=np.float64), np.inf)


def best_finite(values: Any, mode: str) -> np.ndarray:
    """The best finite value of each curve (last axis); :func:`worst` where none is finite.

    Example:
        >>> best_finite(np.array([[0.5, np.nan, 0.3], [np.nan, np.nan, np.nan]]), "min").tolist()
        [0.3, inf]
    """
    values = np.asarray(values, dtype=np.float64)
    return best_of(np.where(np.isfinite(values), values, worst(mode)), mode, axis=-1)


@dataclasses.dataclass(frozen=True)
class Hit:
    """Where one run first reached its target (:func:`first_hit_of`), or that it never did.

    Attributes:
        index: 0-based position, in the curve, of the first evaluation that
            reached the target; ``-1`` for a miss (AlgoPerf's
            ``get_best_trial_index`` convention).
        step: that evaluation's step ``t``; ``None`` for a miss.
        fraction: ``t / T`` of the step budget ``T``; ``inf`` for a miss, NaN
            for a hit when no budget was given.
        seconds: wall-clock seconds at that evaluation; ``inf`` for a miss,
            NaN for a hit when the curve has no wall-clock.
        best: the best finite value of the curve (:func:`worst` if none is finite).
    """

    index: int
    step: int | None
    fraction: float
    seconds: float
    best: float

    @property
    def reached(self) -> bool:
        """Whether some evaluation reached the target."""
        return self.index >= 0


def first_hit_of(
    curve_or_steps: Curve | Any,
    values: str | Any,
    target: float,
    mode: str,
    budget: float | None = None,
    *,
    seconds: Any = None,
    diverged: bool | None = None,
) -> Hit:
    """The first hit of one curve: the definition of time to target, for one run.

    The first evaluation whose value is finite and reaches ``target``
    (:func:`reaches`: ``<=`` for ``"min"``, ``>=`` for ``"max"``); its index,
    step, ``t / T`` and seconds, and the curve's best finite value. Non-finite
    values never reach the target and are allowed only in a run that diverged
    (:mod:`hplists.scoring.time_to_target` states the whole definition).

    Args:
        curve_or_steps: a :class:`~hplists.curves.Curve`, or its evaluated steps
            ``[E]`` (strictly increasing).
        values: the metric's values ``[E]``, or, with a curve, the metric's name.
        target: the validation target.
        mode: ``"min"`` or ``"max"``.
        budget: the step budget ``T`` the run was trained with (no step may be
            beyond it); ``None``: no ``fraction`` (NaN for a hit).
        seconds: wall-clock seconds at each evaluation (default: the curve's).
        diverged: whether the run diverged (default: the curve's status is
            ``diverged``; ``False`` for bare steps).

    Example:
        >>> first_hit_of([25, 50, 75, 100], [0.6, 0.4, 0.25, 0.2], 0.3, "min", 100,
        ...              seconds=[1.0, 2.0, 3.0, 4.0])
        Hit(index=2, step=75, fraction=0.75, seconds=3.0, best=0.2)
        >>> first_hit_of([25, 50], [0.5, float("nan")], 0.3, "min", 100, diverged=True)
        Hit(index=-1, step=None, fraction=inf, seconds=inf, best=0.5)
        >>> c = Curve([10, 20], [1.0, 2.0], [0.5, 0.4], {"accuracy": [0.7, 0.9]})
        >>> first_hit_of(c, "accuracy", 0.9, "max", 20)
        Hit(index=1, step=20, fraction=1.0, seconds=2.0, best=0.9)
    """
    check_choice("mode", mode, MODES)
    target = check_real("target", target)
    if isinstance(curve_or_steps, Curve):  # its steps were checked when it was made
        curve = curve_or_steps
        steps = curve.steps
        values = np.asarray(curve.metric(values) if isinstance(values, str) else values,
                            dtype=np.float64)
        if values.shape != steps.shape:
            raise InvalidParameterError(
                f"values must have one value per step of the curve ({len(curve)}), got shape "
                f"{values.shape}")
        if seconds is None:
            seconds = curve.seconds
        if diverged is None:
            diverged = curve.status is Status.DIVERGED
    else:
        if isinstance(values, str):
            raise InvalidParameterError(
                f"values names a metric ({values!r}), which needs a Curve; got steps")
        steps, values = check_curve(curve_or_steps, values)
        if values.ndim != 1:
            raise InvalidParameterError(f"values must be one curve [E], got shape {values.shape}")
    if not steps.size:
        raise InvalidParameterError("the curve must have at least one evaluation")
    total = None if budget is None else check_budget(steps, budget)
    if not diverged:
        check_nonfinite(values, False)
    reach = reaches(values, target, mode)
    i = int(reach.argmax())  # the first True (as _first, for one curve)
    if not reach[i]:
        i = -1
    best = float(best_finite(values, mode))
    if i < 0:
        return Hit(-1, None, math.inf, math.inf, best)
    step = int(steps[i])
    at = math.nan if seconds is None else float(seconds[i])
    return Hit(i, step, math.nan if total is None else float(fraction_of(step, total)), at, best)


# How each database tells a finite value (NaN is stored as NULL: a comparison with NULL is
# NULL, false in a condition). SQLite reads 9e999 as +inf.
SQL_FINITE = {
    "sqlite": "{value} > -9e999 AND {value} < 9e999",
    "postgresql": "{value} IS NOT NULL AND {value} < 'Infinity'::float8 "
                  "AND {value} > '-Infinity'::float8",
}


@dataclasses.dataclass(frozen=True)
class HitSQL:
    """:func:`first_hit_of` in SQL, over one trial's rows of one metric (``GROUP BY`` trial).

    Attributes:
        finite: condition: the row's value is a finite number.
        reaches: condition: the row's value reaches the target (:func:`reaches`).
        first_step: aggregate: the step of the first hit (``Hit.step``), NULL for a miss.
        best: aggregate: the best finite value (``Hit.best``), NULL when none is finite.

    The rest of a :class:`Hit` follows from ``first_step``: ``index`` is the number
    of the trial's evaluations at earlier steps, ``seconds`` the evaluation's at
    ``first_step``, and ``fraction`` is :func:`fraction_of` it.
    """

    finite: str
    reaches: str
    first_step: str
    best: str


def first_hit_sql(mode: str, dialect: str = "sqlite", *, value: str = "m.value",
                  step: str = "m.step", target: str = ":target") -> HitSQL:
    """The SQL of a first hit: the same definition as :func:`first_hit_of`, for a database.

    A store that holds millions of trials answers their first hits in its own
    query (memory then grows with the trials, not their evaluations); this is
    the text it uses, so that the store and :func:`first_hit_of` define one
    thing. ``value``, ``step`` and ``target`` are the query's expressions for a
    row's metric value, its step, and the target (a placeholder).

    Example:
        >>> sql = first_hit_sql("min")
        >>> sql.reaches
        '((m.value > -9e999 AND m.value < 9e999) AND m.value <= :target)'
        >>> sql.first_step
        'MIN(CASE WHEN ((m.value > -9e999 AND m.value < 9e999) AND m.value <= :target) THEN m.step END)'
        >>> import sqlite3
        >>> db = sqlite3.connect(":memory:")
        >>> _ = db.execute("CREATE TABLE m (step INTEGER, value REAL)")
        >>> _ = db.executemany("INSERT INTO m VALUES (?, ?)", [(10, 0.5), (20, None), (30, 0.2)])
        >>> db.execute(f"SELECT {sql.first_step}, {sql.best} FROM m", {"target": 0.3}).fetchone()
        (30, 0.2)
    """
    check_choice("mode", mode, MODES)
    check_choice("dialect", dialect, tuple(SQL_FINITE))
    finite = f"({SQL_FINITE[dialect].format(value=value)})"
    reach = f"({finite} AND {value} {'<=' if mode == 'min' else '>='} {target})"
    return HitSQL(finite, reach, f"MIN(CASE WHEN {reach} THEN {step} END)",
                  f"{'MIN' if mode == 'min' else 'MAX'}(CASE WHEN {finite} THEN {value} END)")
