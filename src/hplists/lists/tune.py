"""Tuning with a list: train with its first ``k`` points, in order, and keep the best.

This is the whole algorithm of paper 001 from a practitioner's side (Sec. 3):
a budget of ``k`` trials buys the list's first ``k`` points; each trains the
user's model once; the best validation result wins. With a ``target``, the
points run until one reaches it, which is how the paper scores a list (the
time to the first successful trial).

A trial whose value is NaN or infinite (a diverged run) ranks below every
finite one; ties go to the earlier point, the one the list ranks higher.

The points can train concurrently (``executor=``): in worker processes on this
machine, on a Ray cluster, or on any ``concurrent.futures`` executor. The
result is the same as in order: with a ``target``, the first point *in list
order* that reaches it ends the tuning (later points still running are
stopped and dropped; earlier ones always finish), and a trial whose worker
dies is recorded as failed while the others go on.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from hplists._check import check_choice, check_int
from hplists.exceptions import InvalidParameterError
from hplists.hparams import HParams, point_dict
from hplists.metric import hits
from hplists.metric import sign as metric_sign

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
    def reached(self) -> bool | None:
        """Whether a trial reached ``target`` (``None`` without a target)."""
        if self.target is None:
            return None
        return any(_reaches(t.value, self.target, self.mode) for t in self.trials)

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
    if not math.isfinite(value):
        return False
    return bool(hits(value, target, mode))


def _points(points: str | Any | Sequence[HParams], k: int | None) -> list[HParams]:
    from hplists.lists.constructed import ConstructedList
    from hplists.lists.registry import NamedList, get_list

    if isinstance(points, str):
        # Not checked as the other inputs are: a list for another update rule (metz-nadamw)
        # holds plain dicts, which this returns as they are.
        return cast(list[HParams], list(get_list(points, k=k).points))
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
    todo = _points(points, k)
    rec = None if store is None else _Recorder(store, study or f"tune/{_list_name(points)}",
                                               "train", metric)
    if executor is not None:
        ran = _parallel(train, todo, metric, mode, target, callback, executor, workers,
                        ray_address, num_cpus, num_gpus, rec)
        return TuneResult(tuple(ran), metric or "value", mode, target, budget=len(todo))
    trials: list[TunedTrial] = []
    for index, point in enumerate(todo, start=1):
        old = None if rec is None else rec.recorded(index, point)
        if old is not None:
            trial = old
        else:
            key = None if rec is None else rec.claim(index, point)
            start = time.perf_counter()
            try:
                result = train(point)
            except BaseException as e:
                if rec is not None and key is not None:
                    rec.failed(key, e)
                raise
            seconds = time.perf_counter() - start
            value, metrics = _value(result, metric)
            trial = TunedTrial(index, point, value, metrics, seconds, result)
            if rec is not None and key is not None:
                rec.done(key, trial)
        trials.append(trial)
        value = trial.value
        if callback is not None:
            callback(trial)
        if target is not None and _reaches(value, target, mode):
            break
    return TuneResult(tuple(trials), metric or "value", mode, target, budget=len(todo))


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


def _list_name(points: Any) -> str:
    from hplists.lists.registry import NamedList

    if isinstance(points, str):
        return points
    return points.name if isinstance(points, NamedList) else "points"


class _Recorder:
    """A tuning's trials in a store: read back, claimed, recorded (through the trial runner)."""

    def __init__(self, store: Any, study: str, workload: str, metric: str | None) -> None:
        from hplists.store.base import point_id

        self.store, self.study, self.workload, self.metric = store, study, workload, metric
        self._pid = point_id
        self._old = {r.point_id: r for r in store.trials(study=study, workload=workload)
                     if r.status.value == "complete" and r.curve is not None}

    def recorded(self, index: int, point: HParams) -> TunedTrial | None:
        r = self._old.get(self._pid(point))
        if r is None:
            return None
        metrics = {k: float(v[0]) for k, v in r.curve.metrics.items() if len(v)}
        value = metrics.get(self.metric or "value", math.nan)
        return TunedTrial(index, point, value, metrics, float(r.curve.seconds[0]), None)

    def claim(self, index: int, point: HParams) -> Any:
        from hplists.study.runner import claim_trial

        workload = type("_W", (), {"name": self.workload, "version": "1"})
        key = claim_trial(self.store, self.study, point, workload, 0, index - 1,
                          retry_errors=True)
        if key is None:
            raise InvalidParameterError(f"point {index} of study {self.study!r} is being trained by "
                             "another live process; wait for it, or tune into another study")
        return key

    def done(self, key: Any, trial: TunedTrial) -> None:
        from hplists.study.runner import record_value

        record_value(self.store, key, trial.metrics, trial.seconds)

    def failed(self, key: Any, error: BaseException | str) -> None:
        from hplists.study.runner import record_failure

        record_failure(self.store, key, f"{type(error).__name__}: {error}"
                       if isinstance(error, BaseException) else error)


def _timed(train: Callable[[HParams], Any], point: HParams) -> tuple[Any, float]:
    """``train(point)`` and its wall time, measured where it runs (module level: it pickles)."""
    start = time.perf_counter()
    result = train(point)
    return result, time.perf_counter() - start


class _Backend:
    """Starts one trial somewhere and hands back a ``concurrent.futures.Future``."""

    def __init__(self, executor: str | concurrent.futures.Executor, workers: int | None,
                 ray_address: str | None, num_cpus: float, num_gpus: float) -> None:
        from hplists._check import check_real

        self.kind = executor if isinstance(executor, str) else "executor"
        self._own: dict[concurrent.futures.Future, Any] = {}
        if isinstance(executor, str):
            check_choice("executor", executor, ("processes", "ray"))
        elif not isinstance(executor, concurrent.futures.Executor):
            raise InvalidParameterError(f"executor must be 'processes', 'ray', a concurrent.futures."
                             f"Executor or None, got {executor!r}")
        self._executor = executor
        if self.kind == "ray":
            try:
                import ray
            except ImportError:
                raise ImportError('executor="ray" needs Ray: pip install "hplists[ray]"') \
                    from None
            if not ray.is_initialized():
                ray.init(address=ray_address)
            self._remote = ray.remote(_timed).options(
                num_cpus=check_real("num_cpus", num_cpus, 0.0),
                num_gpus=check_real("num_gpus", num_gpus, 0.0))
            default = max(1, int(float(ray.cluster_resources().get("CPU", 1.0))
                                 // max(num_cpus, 1e-9)))
        elif self.kind == "processes":
            from hplists.workloads.engine import worker_count

            default = worker_count()
        else:
            default = 4
        self.workers = check_int("workers", default if workers is None else workers, low=1)

    def submit(self, train: Callable[[HParams], Any], point: HParams) -> concurrent.futures.Future:
        if self.kind == "ray":
            return self._remote.remote(train, point).future()
        if self.kind == "processes":
            import multiprocessing

            # One process per trial: a trial that kills its process fails alone.
            pool = concurrent.futures.ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("spawn"))
            fut = pool.submit(_timed, train, point)
            self._own[fut] = pool
            return fut
        assert isinstance(self._executor, concurrent.futures.Executor)
        return self._executor.submit(_timed, train, point)

    def release(self, fut: concurrent.futures.Future, *, stop: bool = False) -> None:
        """Frees what ran ``fut``; ``stop`` ends it if it still runs."""
        pool = self._own.pop(fut, None)
        if pool is not None:
            if stop:
                for proc in list(getattr(pool, "_processes", {}).values()):
                    proc.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
        elif stop:
            fut.cancel()


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


def _parallel(train: Callable[[HParams], Any], todo: list[HParams], metric: str | None,
              mode: str, target: float | None, callback: Callable[[TunedTrial], None] | None,
              executor: str | concurrent.futures.Executor, workers: int | None,
              ray_address: str | None, num_cpus: float, num_gpus: float,
              rec: _Recorder | None = None) -> list[TunedTrial]:
    if executor == "processes":
        _check_spawnable(train)
    backend = _Backend(executor, workers, ray_address, num_cpus, num_gpus)
    done: dict[int, TunedTrial] = {}
    pending: dict[concurrent.futures.Future, tuple[int, HParams, float]] = {}
    keys: dict[int, Any] = {}
    nxt, first_hit = 0, math.inf

    def finish(trial: TunedTrial) -> None:
        nonlocal first_hit
        done[trial.index] = trial
        if callback is not None:
            callback(trial)
        if target is not None and _reaches(trial.value, target, mode):
            first_hit = min(first_hit, trial.index)

    try:
        while True:
            while len(pending) < backend.workers and nxt < len(todo) and nxt + 1 < first_hit:
                index, point = nxt + 1, todo[nxt]
                nxt += 1
                old = None if rec is None else rec.recorded(index, point)
                if old is not None:
                    finish(old)
                    continue
                if rec is not None:
                    keys[index] = rec.claim(index, point)
                pending[backend.submit(train, point)] = (index, point, time.perf_counter())
            if not pending:
                break
            finished, _ = concurrent.futures.wait(
                pending, return_when=concurrent.futures.FIRST_COMPLETED)
            for fut in finished:
                index, point, start = pending.pop(fut)
                backend.release(fut)
                try:
                    result, seconds = fut.result()
                except Exception as e:  # train raised, or its worker died: a failed trial
                    trial = TunedTrial(index, point, math.nan, {}, time.perf_counter() - start,
                                       e)
                    if rec is not None:
                        rec.failed(keys.pop(index), e)
                else:
                    value, metrics = _value(result, metric)
                    trial = TunedTrial(index, point, value, metrics, seconds, result)
                    if rec is not None:
                        rec.done(keys.pop(index), trial)
                finish(trial)
            for fut in [f for f, (i, _, _) in pending.items() if i > first_hit]:
                index = pending.pop(fut)[0]
                backend.release(fut, stop=True)  # later than the first hit: not needed
                if rec is not None:
                    rec.failed(keys.pop(index), "stopped: an earlier point reached the target")
    finally:
        for fut in list(pending):
            index = pending.pop(fut)[0]
            backend.release(fut, stop=True)
            if rec is not None and index in keys:
                rec.failed(keys.pop(index), "interrupted before it finished")
    return [done[i] for i in sorted(done) if i <= first_hit]
