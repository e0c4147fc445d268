"""Tuning with a list: train with its first ``k`` points, in order, and keep the best.

This is the whole algorithm of paper 001 from a practitioner's side (Sec. 3):
a budget of ``k`` trials buys the list's first ``k`` points; each trains the
user's model once; the best validation result wins. With a ``target``, the
points run until one reaches it, which is how the paper scores a list (the
time to the first successful trial).

A trial whose value is NaN or infinite (a diverged run) ranks below every
finite one; ties go to the earlier point, the one the list ranks higher.

The trials, in list order, are the list's curve: the first that reaches the
target is its first hit, by the definition of time to target
(:func:`hplists.scoring.time_to_target.first_hit_of`, with one evaluation per
trial, the trial budget ``k`` as the budget, and a failed trial's NaN that
never reaches the target): :attr:`TuneResult.first_hit`.

The points can train concurrently (``executor=``): in worker processes on this
machine, on a Ray cluster, or on any ``concurrent.futures`` executor. The
result is the same as in order: with a ``target``, the first point *in list
order* that reaches it ends the tuning (later points still running are
stopped and dropped; earlier ones always finish), and a trial whose worker
dies is recorded as failed while the others go on.

Every trial goes through the trial loop the studies use
(:func:`hplists.trials.loop.run`, on the executors of
:mod:`hplists.trials.executors` and :mod:`hplists.trials.ray`): the tuning is
a source that hands the points out in list order and reads back the ones its
store holds.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hplists._check import check_choice, check_int
from hplists.curves import Curve, Status
from hplists.exceptions import InvalidParameterError
from hplists.hparams import HParams, point_dict
from hplists.lists.registry import list_name, list_points
from hplists.metric import sign as metric_sign
from hplists.scoring.time_to_target import Hit, first_hit_of, reaches
from hplists.store.base import TrialKey, point_id

if TYPE_CHECKING:  # the trial loop is imported when tune runs: `import hplists` stays light
    from hplists.trials.executors import Executor

__all__ = ["TuneResult", "TunedTrial", "tune"]

MODES = ("max", "min")
# Columns of the table: which hyperparameters a reader compares points by.
_SHOWN = (("learning_rate", "lr", ".3g"), ("beta1", "beta1", ".4g"), ("beta2", "beta2", ".4g"),
          ("weight_decay", "wd", ".3g"), ("warmup_fraction", "warmup", "g"),
          ("dropout_rate", "dropout", "g"), ("label_smoothing", "smoothing", "g"))


def _columns(points: Sequence[Any]) -> list[tuple[str, str, str]]:
    """The table's hyperparameter columns: NAdamW's, or every name the points have."""
    if all(isinstance(p, HParams) for p in points):
        return list(_SHOWN)
    known = {f: (h, spec) for f, h, spec in _SHOWN}
    names = dict.fromkeys(k for p in points for k in point_dict(p))
    return [(k, *known.get(k, (k, ".4g"))) for k in names]


@dataclasses.dataclass(frozen=True)
class TunedTrial:
    """One point's trial.

    Attributes:
        index: the point's 1-based position in the list.
        point: the hyperparameters.
        value: the validation metric that ranks trials (NaN for a failed run).
        metrics: every number ``train`` returned (``{metric: value}`` for a float).
        seconds: wall time of ``train``.
        result: what ``train`` returned, unchanged.
    """

    index: int
    point: HParams
    value: float
    metrics: Mapping[str, float]
    seconds: float
    result: Any = None

    @property
    def ok(self) -> bool:
        """Whether the value is finite (the run did not diverge)."""
        return math.isfinite(self.value)


@dataclasses.dataclass(frozen=True)
class TuneResult:
    """The trials of :func:`tune`, in list order, and the best of them.

    ``print(result)`` gives a plain-text table; ``rich`` renders it as a table
    too (``rich.print(result)``).
    """

    trials: tuple[TunedTrial, ...]
    metric: str
    mode: str
    target: float | None = None
    budget: int = 0

    @property
    def best(self) -> TunedTrial:
        """The trial with the best finite value (the first point if none is finite)."""
        sign = metric_sign(self.mode)
        return max(self.trials, key=lambda t: (t.ok, sign * t.value if t.ok else 0.0, -t.index))

    @property
    def first_hit(self) -> Hit | None:
        """The first trial, in list order, that reached ``target`` (``None`` without a target).

        The list's time to target with the trials as its curve
        (:func:`hplists.scoring.time_to_target.first_hit_of`): ``index`` is the
        trial's 0-based position in :attr:`trials` (``-1``: none reached it),
        ``step`` its point's 1-based position in the list, ``fraction`` that
        position over the trial budget ``k`` (``inf``: missed), ``seconds`` the
        training seconds of the trials up to it, and ``best`` the best finite value.

        Example:
            >>> import hplists
            >>> losses = iter([0.5, 0.3, 0.2])  # what three trainings return, in list order
            >>> result = hplists.tune(lambda point: next(losses), "nadamw-paper", k=3,
            ...                       metric="loss", mode="min", target=0.35)
            >>> hit = result.first_hit
            >>> len(result.trials), hit.index, hit.step, round(hit.fraction, 4), hit.best
            (2, 1, 2, 0.6667, 0.3)
        """
        if self.target is None or not self.trials:
            return None
        return first_hit_of([t.index for t in self.trials], [t.value for t in self.trials],
                            self.target, self.mode, self.budget or None,
                            seconds=list(itertools.accumulate(t.seconds for t in self.trials)),
                            diverged=True)

    @property
    def reached(self) -> bool | None:
        """Whether a trial reached ``target`` (``None`` without a target)."""
        if self.target is None:
            return None
        hit = self.first_hit
        return hit is not None and hit.reached

    def _rows(self) -> tuple[list[str], list[list[str]]]:
        names = list(dict.fromkeys(k for t in self.trials for k in t.metrics))
        shown = _columns([t.point for t in self.trials])
        header = ["point", *(h for _, h, _ in shown), *names, "seconds"]
        rows = []
        for t in self.trials:
            values = point_dict(t.point)
            hp = [format(values[f], spec) if f in values else "" for f, _, spec in shown]
            ms = [f"{t.metrics[n]:.4f}" if n in t.metrics else "" for n in names]
            mark = " *" if t.index == self.best.index and t.ok else ""
            rows.append([f"{t.index}{mark}", *hp, *ms, f"{t.seconds:.1f}"])
        return header, rows

    def _title(self) -> str:
        b = self.best
        if not b.ok:  # every trial failed or diverged: there is no best to name
            why = f": {b.result!r}" if isinstance(b.result, BaseException) else ""
            return (f"{len(self.trials)} of {self.budget} trials; none gave a finite "
                    f"{self.metric} (point {b.index}{why})")
        text = (f"{len(self.trials)} of {self.budget} trials; best ({self.metric}, "
                f"{self.mode}): point {b.index} with {b.value:.4f}")
        if self.target is not None:
            text += f"; target {self.target:g} " + ("reached" if self.reached else "not reached")
        return text

    def __str__(self) -> str:
        header, rows = self._rows()
        widths = [max(len(r[j]) for r in [header, *rows]) for j in range(len(header))]
        lines = [self._title(), "  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
        lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        return "\n".join(lines)

    def __rich__(self) -> Any:
        from rich.table import Table

        header, rows = self._rows()
        table = Table(title=self._title())
        for h in header:
            table.add_column(h, justify="right")
        for r in rows:
            table.add_row(*r)
        return table


def _reaches(value: float, target: float, mode: str) -> bool:
    """Whether one trial's value reaches ``target``: the rule of a first hit, for one trial."""
    return bool(reaches(value, target, mode))


def _value(result: Any, metric: str | None) -> tuple[float, dict[str, float]]:
    if isinstance(result, Mapping):
        metrics = {str(k): float(v) for k, v in result.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if metric is None or metric not in metrics:
            raise InvalidParameterError(f"train returned a mapping, so metric must name one of its numbers "
                             f"{sorted(metrics)}; got metric={metric!r}")
        return metrics[metric], metrics
    if isinstance(result, (str, bytes)):
        raise InvalidParameterError("train must return a number or a mapping of names to numbers, got "
                         f"{type(result).__name__}")
    try:
        value = float(result)
    except (TypeError, ValueError):
        raise InvalidParameterError("train must return a number or a mapping of names to numbers, got "
                         f"{type(result).__name__}") from None
    return value, {metric or "value": value}


def tune(
    train: Callable[[HParams], Any],
    points: str | Any | Sequence[HParams] = "nadamw-paper",
    *,
    k: int | None = None,
    metric: str | None = None,
    mode: str | None = None,
    target: float | None = None,
    callback: Callable[[TunedTrial], None] | None = None,
    executor: str | concurrent.futures.Executor | None = None,
    workers: int | None = None,
    ray_address: str | None = None,
    num_cpus: float = 1.0,
    num_gpus: float = 0.0,
    store: Any = None,
    study: str | None = None,
) -> TuneResult:
    """Trains with the first ``k`` points of a list, in order, and keeps the best.

    Args:
        train: ``train(point) -> value`` trains the user's model with one
            point and returns its validation result: a number, or a mapping
            of names to numbers of which ``metric`` ranks the trials.
        points: a list name (:func:`hplists.get_list`), a
            :class:`~hplists.lists.NamedList` or a slice of one
            (``get_list(name)[:3]``), or any sequence or iterable of
            :class:`~hplists.HParams` in priority order.
        k: the trial budget (default: every point).
        metric: the key of ``train``'s mapping that ranks trials (required
            for mappings; the column's name for numbers).
        mode: ``"max"`` if higher is better (accuracy), ``"min"`` if lower is
            (loss, error rate). Default: inferred from a known ``metric`` name
            (:func:`hplists.metric.infer_mode`: loss, error, WER, ... are
            ``"min"``; accuracy, AUC, BLEU, ... ``"max"``), with a one-line
            notice; an unknown name needs ``mode``. When ``train`` returns
            plain numbers and no ``metric`` names them, higher is better,
            with a notice.
        target: stop after the first trial that reaches it (``>=`` for max,
            ``<=`` for min), as the paper scores lists; ``None`` runs all ``k``.
        callback: called with each :class:`TunedTrial` as it finishes (e.g.
            to log or checkpoint).
        executor: where the points train: ``None`` one after another in this
            process; ``"processes"`` each in a fresh worker process (``train``
            must be importable: a module-level function); ``"ray"`` as Ray
            tasks (``ray.init(address=ray_address)`` unless Ray runs already;
            each task reserves ``num_cpus`` and ``num_gpus``); or a
            ``concurrent.futures.Executor`` of your own.
        workers: trials at once (default: 2 for processes, the cluster's CPUs
            over ``num_cpus`` for Ray, 4 for an executor of your own).
        store: a trial store (:func:`hplists.store.open_store`): each trial is
            claimed there before it trains and recorded when it ends, and points
            already recorded are read back instead of trained, so a killed or
            failed tuning resumes where it stopped (failed trials train again).
        study: the store's study (default ``"tune/<list name>"``, or
            ``"tune/points"``): one study per tuning (its workload is
            ``"train"``), so a resumed tuning may use a changed ``train``.

    Returns:
        A :class:`TuneResult`; ``result.best.point`` is the point to keep.

    Example:
        >>> import hplists
        >>> def train(point):  # stands for a real training run
        ...     return {"accuracy": 1.0 - abs(point.learning_rate - 0.002) * 100,
        ...             "loss": point.learning_rate}
        >>> result = hplists.tune(train, "nadamw-paper", k=3, metric="accuracy")
        >>> result.best.index, round(result.best.value, 4)
        (3, 0.9183)
        >>> hplists.tune(train, "nadamw-paper", metric="accuracy", target=0.9).trials[-1].index
        2
        >>> hplists.tune(train, hplists.get_list("nadamw-paper")[:2], metric="accuracy").budget
        2
    """
    mode = _mode(metric, mode)
    if target is not None:
        target = float(target)
        if not math.isfinite(target):
            raise InvalidParameterError(f"target must be a finite number or None, got {target!r}")
    from hplists.trials.loop import run

    todo = list_points(points, k)
    tuning = _Tuning(train, todo, metric, mode, target, callback, store,
                     study or f"tune/{list_name(points)}")
    ex = None if executor is None else _executor(train, executor, workers, ray_address,
                                                 num_cpus, num_gpus)
    try:
        # In order in this process, train's exception ends the tuning (after it is recorded);
        # on an executor, a failed trial is recorded and the others go on.
        run(store, tuning, ex, retry_errors=True, catch=() if ex is None else (Exception,))
    finally:
        if ex is not None:
            ex.close()
    return TuneResult(tuple(tuning.result()), metric or "value", mode, target, budget=len(todo))


def _mode(metric: str | None, mode: str | None) -> str:
    """``mode``, or the direction of ``metric`` (see :func:`tune`), said in one line."""
    import sys

    from hplists.metric import infer_mode

    if mode is not None:
        return check_choice("mode", mode, MODES)
    if metric is None:
        print("hplists.tune: ranking train's numbers as higher-is-better (mode='max'); pass "
              "mode='min' for a loss or an error", file=sys.stderr)
        return "max"
    inferred = infer_mode(str(metric))
    if inferred is None:
        raise InvalidParameterError(
            f"mode is required for metric {metric!r}: pass mode='min' if lower is better "
            "(a loss, an error rate) or mode='max' if higher is (an accuracy)")
    print(f"hplists.tune: metric {metric!r} ranks lower-is-better (mode='{inferred}')"
          if inferred == "min" else f"hplists.tune: metric {metric!r} ranks higher-is-better "
          f"(mode='{inferred}')", file=sys.stderr)
    return inferred


@dataclasses.dataclass(frozen=True)
class _Workload:
    """The workload a tuning's trials are recorded under: the user's ``train``."""

    name: str = "train"
    version: str = "1"


_TRAIN = _Workload()


@dataclasses.dataclass(frozen=True)
class _Trial:
    """One point's trial as a task of the trial loop: ``train(point)``, timed where it runs.

    Module-level and frozen: it travels to worker processes and Ray tasks by pickling.
    """

    study: str
    train: Callable[[HParams], Any]
    point: HParams
    index: int  # 1-based position in the list
    metric: str | None

    @property
    def work(self) -> int:
        return 1

    def run(self, tick: Callable[[int], None] | None = None) -> tuple[Any, float]:
        """``train(point)`` and its wall time, measured where it runs."""
        start = time.perf_counter()
        result = self.train(self.point)
        return result, time.perf_counter() - start

    def in_worker(self) -> _Trial:
        return self

    def curves(self, output: tuple[Any, float]) -> list[Curve]:
        """What the store keeps: one evaluation, at step 1, holding every number train returned."""
        result, seconds = output
        _, metrics = _value(result, self.metric)
        return [Curve([1], [float(seconds)], [math.nan],
                      {str(k): [float(v)] for k, v in metrics.items()})]


class _Tuning:
    """A tuning as a source of the trial loop: the points in list order, one trial each.

    Points its store holds (``complete``) are read back, not trained; the
    others are claimed there (``retry_errors``: failed ones train again) just
    before they train. Without a store nothing is claimed or recorded. With a
    ``target``, no point after the first that reaches it is handed out, and
    those in flight are stopped.
    """

    def __init__(self, train: Callable[[HParams], Any], todo: list[HParams], metric: str | None,
                 mode: str, target: float | None,
                 callback: Callable[[TunedTrial], None] | None, store: Any, study: str) -> None:
        self._train, self._todo, self._metric, self._mode = train, todo, metric, mode
        self._target, self._callback, self._store, self.study = target, callback, store, study
        self._trials: dict[int, TunedTrial] = {}
        self._started: dict[int, float] = {}
        self._next = 0
        self._first_hit = math.inf
        self._old = {} if store is None else {
            r.point_id: r for r in store.trials(study=study, workload=_TRAIN.name)
            if r.status is Status.COMPLETE and r.curve is not None}

    def result(self) -> list[TunedTrial]:
        """The trials in list order, up to the first that reached the target."""
        return [self._trials[i] for i in sorted(self._trials) if i <= self._first_hit]

    def remaining_work(self) -> int:
        return len(self._todo) - self._next

    def done(self) -> bool:
        return self._next >= len(self._todo) or self._next + 1 >= self._first_hit

    def next_task(self, retry_errors: bool) -> tuple[_Trial, list[TrialKey]] | None:
        while not self.done():
            index, point = self._next + 1, self._todo[self._next]
            self._next += 1
            old = self._recorded(index, point)
            if old is not None:
                self._finish(old)
                continue
            key = self._claim(index, point, retry_errors)
            self._started[index] = time.perf_counter()
            return _Trial(self.study, self._train, point, index, self._metric), [key]
        return None

    def record(self, task: _Trial, curves: Sequence[Curve | None], output: Any) -> None:
        if isinstance(output, BaseException):  # train raised, or its worker died: a failed trial
            seconds = time.perf_counter() - self._started.pop(task.index)
            self._finish(TunedTrial(task.index, task.point, math.nan, {}, seconds, output))
            return
        self._started.pop(task.index, None)
        result, seconds = output
        value, metrics = _value(result, self._metric)
        self._finish(TunedTrial(task.index, task.point, value, metrics, seconds, result))

    def unwanted(self, task: _Trial) -> str | None:
        if task.index > self._first_hit:  # later than the first hit: not needed
            return "stopped: an earlier point reached the target"
        return None

    def _finish(self, trial: TunedTrial) -> None:
        self._trials[trial.index] = trial
        if self._callback is not None:
            self._callback(trial)
        if self._target is not None and _reaches(trial.value, self._target, self._mode):
            self._first_hit = min(self._first_hit, trial.index)

    def _recorded(self, index: int, point: HParams) -> TunedTrial | None:
        if not self._old:  # no store, or nothing recorded in it
            return None
        r = self._old.get(point_id(point))
        if r is None:
            return None
        metrics = {k: float(v[0]) for k, v in r.curve.metrics.items() if len(v)}
        value = metrics.get(self._metric or "value", math.nan)
        return TunedTrial(index, point, value, metrics, float(r.curve.seconds[0]), None)

    def _claim(self, index: int, point: HParams, retry_errors: bool) -> TrialKey:
        from hplists.trials.loop import claim_trial

        if self._store is None:  # nothing to claim in: the key only names the trial
            return TrialKey(self.study, point_id(point), _TRAIN.name, 0, "")
        key = claim_trial(self._store, self.study, point, _TRAIN, 0, index - 1,
                          retry_errors=retry_errors)
        if key is None:
            raise InvalidParameterError(f"point {index} of study {self.study!r} is being trained by "
                             "another live process; wait for it, or tune into another study")
        return key


def _executor(train: Callable[[HParams], Any], executor: str | concurrent.futures.Executor,
              workers: int | None, ray_address: str | None, num_cpus: float,
              num_gpus: float) -> Executor:
    """The trial loop's executor for ``tune(executor=...)``."""
    from hplists.trials.executors import FreshProcessExecutor, PoolExecutor

    if isinstance(executor, str):
        check_choice("executor", executor, ("processes", "ray"))
    elif not isinstance(executor, concurrent.futures.Executor):
        raise InvalidParameterError(f"executor must be 'processes', 'ray', a concurrent.futures."
                         f"Executor or None, got {executor!r}")
    if workers is not None:
        check_int("workers", workers, low=1)
    if executor == "processes":
        _check_spawnable(train)
        # One process per trial: a trial that kills its process fails alone.
        return FreshProcessExecutor(workers)
    if executor == "ray":
        from hplists.trials.ray import RayExecutor, ray_available

        if not ray_available():
            raise ImportError('executor="ray" needs Ray: pip install "hplists[ray]"')
        # Ray stays up for the next tuning; the user's training keeps its own XLA settings.
        return RayExecutor(ray_address, num_cpus=num_cpus, num_gpus=num_gpus, slots=workers,
                           single_threaded_xla=False, shutdown=False)
    assert isinstance(executor, concurrent.futures.Executor)
    return PoolExecutor(4 if workers is None else workers, pool=executor)


def _check_spawnable(train: Callable[[HParams], Any]) -> None:
    """Refuses a ``train`` that fresh worker processes cannot import, before any trial runs.

    Workers are spawned: they unpickle ``train`` by its module and name, so a
    lambda, a nested function, or a function of a ``__main__`` that is no file
    (``python -c``, standard input, a notebook) would fail every trial.
    """
    import pickle
    import sys

    name = getattr(train, "__qualname__", repr(train))
    if getattr(train, "__module__", None) == "__main__" and not getattr(
            sys.modules.get("__main__"), "__file__", None):
        raise InvalidParameterError(
            f"executor='processes' needs a train function that worker processes can import; "
            f"{name!r} is defined in a __main__ that is not a file (python -c, standard input "
            "or a notebook): put it in a module or script file, or use executor='ray' or a "
            "concurrent.futures.ThreadPoolExecutor")
    try:
        pickle.dumps(train)
    except (pickle.PicklingError, AttributeError, TypeError) as e:
        raise InvalidParameterError(
            f"executor='processes' needs a module-level train function (worker processes "
            f"import it by name); {name!r} cannot be pickled: {e}") from None
