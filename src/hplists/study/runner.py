"""Running trials into a store: claim, train anywhere, finish. Resumable and executor-agnostic.

The protocol every part of a study uses (and that makes kill-and-restart lose
nothing):

1. a :class:`Source` hands out the next :class:`TrainTask` (points of one
   study, workload and seed), *claiming* its trials in the store just before
   it trains (``store.claim``; trials already finished, or running in another
   live process, are skipped);
2. an :class:`Executor` trains the task somewhere (this process, a pool of
   worker processes, a Ray cluster: :mod:`hplists.study.ray_runner`) and
   hands back its curves;
3. the driver records each curve (``store.finish``), or the failure
   (``store.fail``), and tells the source, which may then release new tasks
   (sequential searches such as Bayesian optimization do).

Only the driver writes to the store. A driver killed at any point (even with
``kill -9``) leaves its in-flight trials ``running`` under its pid; the store
hands them out again once that process is gone, and every finished trial is
kept. Trials that *failed* (the training raised) are recorded as ``error`` and
are not retried unless ``retry_errors=True``.

Example:
    >>> import os, tempfile
    >>> from hplists import HParams
    >>> from hplists.store import open_store
    >>> from hplists.workloads.registry import get_workload
    >>> store = open_store(os.path.join(tempfile.mkdtemp(), "s.db"))
    >>> task = TrainTask("demo", get_workload("ctr_dlrm"), 0,
    ...                  (HParams(2e-3, 0.9, 0.99, warmup_fraction=0.05),), (0,),
    ...                  step_budget=20, batching="sequential")
    >>> run(store, StaticSource(store, [task]))["trained"]
    1
    >>> run(store, StaticSource(store, [task]))["trained"]  # already done: nothing to do
    0
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import dataclasses
import importlib
import multiprocessing
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, cast

from hplists._check import check_int
from hplists.curves import Curve, Status
from hplists.exceptions import InvalidParameterError, WorkloadBuildError
from hplists.store.base import TrialKey, TrialRecord, TrialStore, point_id

__all__ = [
    "Executor",
    "LocalExecutor",
    "PoolExecutor",
    "Source",
    "StaticSource",
    "TrainTask",
    "chunked",
    "claim_trial",
    "for_worker",
    "record_copies",
    "record_failure",
    "record_value",
    "resolve_rule",
    "run",
    "train_into_store",
    "train_task",
]

Tick = Callable[[int], None]


def resolve_rule(ref: str | None) -> Any:
    """The update rule registered as ``ref`` (:mod:`hplists.optim.rules`), or ``"module:function"``.

    ``None`` is the default NAdamW. Rules travel between processes and
    machines by name, so that any worker that can import hplists can train
    with them.

    Example:
        >>> resolve_rule("prodigy").__name__, resolve_rule("hplists.optim.metz:rule").__name__
        ('prodigy', 'rule')
        >>> resolve_rule("hplists.optim.metz")
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: update_rule must be a registered rule name or 'package.module:function', got 'hplists.optim.metz'
    """
    if ref is None or (callable(ref) and not isinstance(ref, str)):
        return ref  # a rule itself (it must pickle for worker processes)
    if isinstance(ref, str) and ":" not in ref and "." not in ref:
        from hplists.optim.rules import RULES

        if ref not in RULES:
            raise InvalidParameterError(f"update_rule must be a registered rule name ({', '.join(RULES)}) "
                             f"or 'package.module:function', got {ref!r}")
        return RULES[ref]
    if not isinstance(ref, str) or ref.count(":") != 1:
        raise InvalidParameterError(f"update_rule must be a registered rule name or "
                         f"'package.module:function', got {ref!r}")
    module, name = ref.split(":")
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        raise InvalidParameterError(f"update_rule {ref!r} cannot be imported: {e}") from None
    if not callable(fn):
        raise InvalidParameterError(f"update_rule {ref!r} is not callable")
    return fn


@dataclasses.dataclass(frozen=True)
class TrainTask:
    """Points of one study trained together: same workload, seed, budget and update rule.

    Attributes:
        study: the study the trials belong to.
        workload: the workload (a :class:`~hplists.workloads.spec.JaxWorkload`
            instance; it travels to workers by pickling, so its class must be
            importable there).
        seed: the training seed.
        points: the points, in order.
        indices: each point's index in its study (``point_index`` in the store).
        step_budget: steps per trial (default: the workload's).
        update_rule: a registered rule name (``"prodigy"``), ``"package.module:function"``,
            a module-level rule function, or ``None`` for NAdamW.
        batching: the engine's batching for this task (default: the workload's).
    """

    study: str
    workload: Any
    seed: int
    points: tuple[Any, ...]
    indices: tuple[int, ...]
    step_budget: int | None = None
    update_rule: Any = None
    batching: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "points", tuple(self.points))
        object.__setattr__(self, "indices", tuple(int(i) for i in self.indices))
        if len(self.points) != len(self.indices):
            raise InvalidParameterError(f"task of study {self.study!r}: {len(self.points)} points but "
                             f"{len(self.indices)} indices")
        check_int("seed", self.seed, low=0)

    @property
    def budget(self) -> int:
        """Steps of one trial."""
        return int(self.workload.step_budget if self.step_budget is None else self.step_budget)

    @property
    def work(self) -> int:
        """Steps of all the task's trials (the unit of progress; ``int(h T)`` at horizon ``h``)."""
        from hplists.workloads.engine import trial_steps

        return sum(trial_steps(p, self.budget) for p in self.points)

    def subset(self, keep: Sequence[int]) -> TrainTask:
        """The same task with only the points at positions ``keep``."""
        return dataclasses.replace(self, points=tuple(self.points[i] for i in keep),
                                   indices=tuple(self.indices[i] for i in keep))


def chunked(task: TrainTask, size: int) -> list[TrainTask]:
    """``task`` split into tasks of at most ``size`` points (claimed and trained one by one).

    Example:
        >>> from hplists.workloads.registry import get_workload
        >>> t = TrainTask("s", get_workload("ctr_dlrm"), 0, (1, 2, 3), (0, 1, 2))
        >>> [c.indices for c in chunked(t, 2)]
        [(0, 1), (2,)]
    """
    size = check_int("chunk size", size, low=1)
    n = len(task.points)
    return [task.subset(range(lo, min(lo + size, n))) for lo in range(0, n, size)]


def for_worker(task: TrainTask) -> TrainTask:
    """``task`` with a batching that trains inside one worker process.

    A worker must not start worker processes of its own: ``"processes"``
    batching becomes ``"sequential"`` (``"processes/vmap"`` becomes
    ``"vmap"``), which is what each of the engine's own workers runs.

    Example:
        >>> from hplists.workloads.registry import get_workload
        >>> for_worker(TrainTask("s", get_workload("ctr_dlrm"), 0, (), ())).batching
        'sequential'
    """
    # a str, the task's or its workload's (cast: mypy types this `or` as Optional)
    batching = cast(str, task.batching or getattr(task.workload, "batching", "vmap"))
    if batching.startswith("processes"):
        batching = batching.partition("/")[2] or "sequential"
    return dataclasses.replace(task, batching=batching)


def train_task(task: TrainTask, progress: Tick | None = None) -> list[Curve]:
    """Trains every point of ``task`` with the engine; what every executor runs.

    Module-level (picklable), so process pools and Ray can run it.
    """
    from hplists.workloads import engine

    done = 0

    def report(stage: str, d: int, total: int) -> None:
        nonlocal done
        if progress is not None and d > done:
            progress(d - done)
        done = max(done, d)

    return engine.train(task.workload, list(task.points), task.seed,
                        step_budget=task.step_budget, update_rule=resolve_rule(task.update_rule),
                        batching=task.batching, progress=report)


# ---------------------------------------------------------------------------------- executors


class Executor(Protocol):
    """Where tasks train. The driver submits up to ``slots`` tasks and waits for results."""

    slots: int

    def submit(self, task: TrainTask, tick: Tick) -> Any:
        """Starts ``task``; returns a handle. ``tick(k)`` may report ``k`` steps done."""

    def wait(self, handles: Sequence[Any], timeout: float | None = None
             ) -> list[tuple[Any, list[Curve] | BaseException]]:
        """Blocks until at least one handle is done (or ``timeout``); returns the done ones.

        A task that raised comes back as its exception.
        """

    def close(self) -> None:
        """Releases workers; cancels tasks still running."""


class LocalExecutor:
    """Trains in this process, one task at a time (the engine's batching uses the cores).

    Example:
        >>> LocalExecutor().slots
        1
    """

    slots = 1

    def __init__(self) -> None:
        self._pending: dict[int, tuple[TrainTask, Tick]] = {}
        self._next = 0

    def submit(self, task: TrainTask, tick: Tick) -> int:
        self._next += 1
        self._pending[self._next] = (task, tick)
        return self._next

    def wait(self, handles: Sequence[Any], timeout: float | None = None
             ) -> list[tuple[Any, list[Curve] | BaseException]]:
        handle = handles[0]
        task, tick = self._pending.pop(handle)
        try:
            return [(handle, train_task(task, tick))]
        except Exception as e:  # recorded as the trials' error; KeyboardInterrupt propagates
            e.__traceback_text__ = traceback.format_exc(limit=8)  # type: ignore[attr-defined]
            return [(handle, e)]

    def close(self) -> None:
        self._pending.clear()


def _init_worker(slot: Any = None) -> None:
    from hplists.workloads.engine import init_worker_process

    init_worker_process(slot)


class PoolExecutor:
    """Trains tasks in a pool of worker processes (spawned, XLA single-threaded), one per slot.

    Runs several tasks at once, which keeps every core busy with tasks that
    cannot batch points together (e.g. Bayesian optimization's sequential
    trials of different seeds). The same protocol as the Ray executor, on one
    machine. The workloads' classes and update rules must be importable in a
    fresh process.

    Workers end themselves when the driver dies (even by ``kill -9``), as the
    engine's do. A worker that dies (out of memory, a crash in native code)
    fails only the tasks it and its pool held, recorded as errors that the next
    run retries; the pool is started again for the tasks after them.

    Args:
        workers: number of processes (default: the number of cores, at most 2).
        pool: an existing ``concurrent.futures.Executor`` to use instead
            (e.g. a ``ThreadPoolExecutor`` in tests); it is not shut down by
            :meth:`close`.
    """

    def __init__(self, workers: int | None = None, *,
                 pool: concurrent.futures.Executor | None = None) -> None:
        from hplists.workloads.engine import worker_count

        self.slots = check_int("workers", worker_count() if workers is None else workers, low=1)
        self._own = pool is None
        self._pool = pool if pool is not None else self._start()
        self.restarts = 0

    def _start(self) -> concurrent.futures.Executor:
        ctx = multiprocessing.get_context("spawn")
        return concurrent.futures.ProcessPoolExecutor(self.slots, mp_context=ctx,
                                                      initializer=_init_worker,
                                                      initargs=(ctx.Value("i", 0),))

    def submit(self, task: TrainTask, tick: Tick) -> concurrent.futures.Future:
        try:
            return self._pool.submit(train_task, for_worker(task))
        except concurrent.futures.process.BrokenProcessPool:
            if not self._own:
                raise
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._start()
            self.restarts += 1
            return self._pool.submit(train_task, for_worker(task))

    def wait(self, handles: Sequence[Any], timeout: float | None = None
             ) -> list[tuple[Any, list[Curve] | BaseException]]:
        done, _ = concurrent.futures.wait(handles, timeout=timeout,
                                          return_when=concurrent.futures.FIRST_COMPLETED)
        out: list[tuple[Any, list[Curve] | BaseException]] = []
        for fut in done:
            exc = fut.exception()
            if isinstance(exc, concurrent.futures.process.BrokenProcessPool):
                exc = RuntimeError(f"a worker process died while training ({exc}); its tasks "
                                   "are recorded as failed and retried by the next run")
            out.append((fut, exc if exc is not None else fut.result()))
        return out

    def close(self) -> None:
        if self._own:
            self._pool.shutdown(wait=True, cancel_futures=True)


# ------------------------------------------------------------------------------------ sources


class Source(Protocol):
    """Hands out tasks, claiming their trials; learns of their results."""

    def remaining_work(self) -> int:
        """Steps still to train (for progress and ETA)."""

    def next_task(self, retry_errors: bool) -> tuple[TrainTask, list[TrialKey]] | None:
        """The next task with the keys of its claimed trials; ``None`` if none is ready now."""

    def done(self) -> bool:
        """Whether every task has been handed out and recorded."""

    def record(self, task: TrainTask, curves: Sequence[Curve | None]) -> None:
        """Called after the task's curves are stored (``None`` for a failed trial)."""


def claim_trial(store: TrialStore, study: str, point: Any, workload: Any, seed: int,
                index: int | None, *, retry_errors: bool = False,
                provenance: Mapping[str, Any] | None = None) -> TrialKey | None:
    """Claims one trial for this process (``store.claim``): the one place trials are claimed.

    Sources call it when they hand a task out; ``None`` means the trial is done
    (or failed, unless ``retry_errors``) or runs in another live process. For a
    workload that declares its regularizers (the workload contract), the
    provenance records the dropout rate and label smoothing it trains the point
    with (``"applied_regularizers"``), since the stored point keeps the list's.
    """
    prov = dict(provenance or {})
    regularizers = getattr(workload, "regularizers", None)
    if regularizers is not None:
        from hplists.workloads.spec import applied_regularizers

        prov.setdefault("applied_regularizers", applied_regularizers(point, regularizers))
    return store.claim(study, point, workload.name, seed, point_index=index,
                       workload_version=workload.version, retry_errors=retry_errors,
                       provenance=prov)


def record_copies(store: TrialStore, records: Sequence[TrialRecord]) -> int:
    """Writes finished trials derived from others (a budget's prefix of a longer run).

    The runner's one other write besides claim/heartbeat/finish/fail; returns the
    number written.
    """
    return store.put_many(records) if records else 0


def _finished(store: TrialStore, study: str, workload: str) -> dict[tuple[str, int], Status]:
    """(point id, seed) -> status of the trials already recorded."""
    return {(r.point_id, r.seed): r.status for r in store.trials(study=study, workload=workload)}


class StaticSource:
    """Tasks known in advance (a sample of points, a list, reruns), claimed chunk by chunk.

    Points already finished in the store are dropped when the source is built,
    so progress and ETA count only what is left.

    Args:
        store: the trial store.
        tasks: the tasks, in order.
        chunk_size: points claimed and trained together (default: the
            workload's ``vmap_size`` for vmap batching, 4 otherwise).
    """

    def __init__(self, store: TrialStore, tasks: Iterable[TrainTask], *,
                 chunk_size: int | None = None) -> None:
        self._store = store
        self._queue: list[TrainTask] = []
        self.skipped = 0
        cache: dict[tuple[str, str], dict[tuple[str, int], Status]] = {}
        for task in tasks:
            key = (task.study, task.workload.name)
            if key not in cache:
                cache[key] = _finished(store, *key)
            done = cache[key]
            keep = []
            for j, p in enumerate(task.points):
                status = done.get((point_id(p), task.seed))
                if status in (None, Status.RUNNING, Status.ERROR):
                    keep.append(j)  # errors: dropped at claim time unless retried
                else:
                    self.skipped += 1
            if not keep:
                continue
            size = chunk_size or _default_chunk(task)
            self._queue.extend(chunked(task.subset(keep), size))
        self._queue.reverse()  # pop() from the end keeps the given order

    def remaining_work(self) -> int:
        return sum(t.work for t in self._queue)

    def next_task(self, retry_errors: bool) -> tuple[TrainTask, list[TrialKey]] | None:
        while self._queue:
            task = self._queue.pop()
            keep, keys = [], []
            for j, (p, i) in enumerate(zip(task.points, task.indices, strict=True)):
                key = claim_trial(self._store, task.study, p, task.workload, task.seed, i,
                                  retry_errors=retry_errors)
                if key is None:
                    self.skipped += 1
                else:
                    keep.append(j)
                    keys.append(key)
            if keys:
                return task.subset(keep), keys
        return None

    def done(self) -> bool:
        return not self._queue

    def record(self, task: TrainTask, curves: Sequence[Curve | None]) -> None:
        pass


def _default_chunk(task: TrainTask) -> int:
    """Points claimed together: a vmapped program's worth, one per worker twice, or one."""
    from hplists.workloads.engine import worker_count

    batching = task.batching or getattr(task.workload, "batching", "vmap")
    if batching == "vmap":
        return int(getattr(task.workload, "vmap_size", 16))
    if batching == "sequential":
        return 1
    return 2 * worker_count()


# ------------------------------------------------------------------------------------ the loop


def _message(e: BaseException) -> str:
    text = getattr(e, "__traceback_text__", None) or "".join(
        traceback.format_exception(type(e), e, e.__traceback__, limit=8))
    return f"{type(e).__name__}: {e}\n{text}"


def run(
    store: TrialStore,
    source: Source,
    executor: Executor | None = None,
    *,
    progress: Tick | None = None,
    retry_errors: bool = False,
    heartbeat: float = 60.0,
) -> dict[str, int]:
    """Trains everything ``source`` hands out on ``executor``, recording each result at once.

    Args:
        store: the trial store (only this process writes to it).
        source: what to train.
        executor: where (default: a :class:`LocalExecutor`, this process). An
            executor passed in is left open, for the caller to reuse or close.
        progress: called with the number of steps just done (including the
            work of trials found finished when claimed).
        retry_errors: claim trials that ended in ``error`` again.
        heartbeat: seconds between heartbeats of in-flight trials (so that
            stores shared across machines do not hand them out). A background
            thread sends them while the trials train, whatever the executor:
            a task that trains in this process and blocks for an hour is still
            heartbeated every ``heartbeat`` seconds.

    Returns:
        Counts of trials: ``trained``, ``diverged``, ``failed``.

    A trial that raised in training is recorded as an error and the run goes
    on, except when its workload cannot be built at all
    (:class:`~hplists.exceptions.WorkloadBuildError`): then every trial would
    fail the same way, so the run records that task's trials, releases the
    others in flight, and raises it once. An interrupt (``KeyboardInterrupt``) propagates and leaves the trials
    in flight ``running`` under this process: a rerun in this process claims
    them again, and so does any process once this one is gone. They are not
    errors: an interrupted trial is not a failed one.
    """
    own = executor is None
    executor = executor or LocalExecutor()
    tick = progress or (lambda k: None)
    counts = {"trained": 0, "diverged": 0, "failed": 0}
    in_flight: dict[Any, tuple[TrainTask, list[TrialKey], list[int]]] = {}
    beats = _Heartbeats(store, heartbeat)
    try:
        while True:
            while len(in_flight) < executor.slots:
                nxt = source.next_task(retry_errors)
                if nxt is None:
                    break
                task, keys = nxt
                ticked = [0]

                def task_tick(k: int, ticked: list[int] = ticked, cap: int = task.work) -> None:
                    k = min(k, cap - ticked[0])
                    if k > 0:
                        ticked[0] += k
                        tick(k)

                beats.add(keys)
                in_flight[executor.submit(task, task_tick)] = (task, keys, ticked)
            if not in_flight:
                if source.done():
                    return counts
                raise RuntimeError("the study is stuck: nothing is in flight and no task is "
                                   "ready (another process may hold the remaining trials)")
            for handle, result in executor.wait(list(in_flight), timeout=heartbeat):
                task, keys, ticked = in_flight.pop(handle)
                beats.remove(keys)
                curves: Sequence[Curve | None]
                if isinstance(result, BaseException):
                    msg = _message(result)
                    for key in keys:
                        store.fail(key, msg)
                    counts["failed"] += len(keys)
                    curves = [None] * len(keys)
                    if isinstance(result, WorkloadBuildError):
                        for _, others, _ in in_flight.values():
                            for key in others:
                                store.fail(key, f"not trained: the run stopped ({result})")
                        in_flight.clear()
                        raise result
                else:
                    finished = list(result)
                    curves = finished
                    for key, curve in zip(keys, finished, strict=True):
                        store.finish(key, curve)
                        counts["trained"] += 1
                        counts["diverged"] += curve.status == Status.DIVERGED
                tick(task.work - ticked[0])
                source.record(task, curves)
    finally:
        beats.stop()
        if own:
            executor.close()


class _Heartbeats:
    """A daemon thread that heartbeats the trials in flight every ``interval`` seconds."""

    def __init__(self, store: TrialStore, interval: float) -> None:
        import threading

        self._store, self._interval = store, float(interval)
        self._keys: dict[tuple[str, str, str, int], TrialKey] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._warned = False
        self._thread = threading.Thread(target=self._loop, name="hplists-heartbeat", daemon=True)
        self._thread.start()

    def add(self, keys: Sequence[TrialKey]) -> None:
        with self._lock:
            self._keys.update({(k.study, k.point_id, k.workload, k.seed): k for k in keys})

    def remove(self, keys: Sequence[TrialKey]) -> None:
        with self._lock:
            for k in keys:
                self._keys.pop((k.study, k.point_id, k.workload, k.seed), None)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                keys = list(self._keys.values())
            for key in keys:
                try:
                    self._store.heartbeat(key)
                except Exception as e:  # retried next time: a missed beat never ends the run
                    if not self._warned:
                        import warnings

                        warnings.warn(f"a heartbeat of trial {key.study}/{key.workload} failed "
                                      f"({e}); retrying every {self._interval:g} s",
                                      stacklevel=1)
                        self._warned = True

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=max(5.0, self._interval))


def train_into_store(
    store: TrialStore,
    study: str,
    workload: Any,
    points: Sequence[Any],
    seed: int = 0,
    *,
    indices: Sequence[int] | None = None,
    step_budget: int | None = None,
    update_rule: Any = None,
    batching: str | None = None,
    chunk_size: int | None = None,
    executor: Executor | None = None,
    progress: Tick | None = None,
) -> dict[str, int]:
    """Trains the points of ``study`` on ``workload`` that the store does not have yet.

    :func:`run` over one :class:`TrainTask`: points are claimed chunk by
    chunk just before they train, each curve is recorded as soon as it
    finishes, a failure is recorded as the trials' error (retried by the next
    call) and the others go on, and a killed process leaves only its chunk in
    flight, which the store hands out again once the process is gone.

    Args:
        indices: each point's index in its study (default ``0..n-1``).
        chunk_size: points claimed at a time (default: ``vmap_size`` for
            ``"vmap"``, 1 for ``"sequential"``, 2 per worker for ``"processes"``).
        progress: called with the steps just done.

    Returns:
        Counts of trials: ``trained``, ``diverged``, ``failed``, and ``skipped``
        (already recorded, or running in another live process).

    Example:
        >>> import os, tempfile
        >>> from hplists import HParams
        >>> from hplists.store import open_store
        >>> from hplists.workloads.registry import get_workload
        >>> store = open_store(os.path.join(tempfile.mkdtemp(), "s.db"))
        >>> pts = [HParams(2e-3, 0.9, 0.99, warmup_fraction=0.05)]
        >>> w = get_workload("ctr_dlrm")
        >>> train_into_store(store, "demo", w, pts, step_budget=20, batching="sequential")
        {'trained': 1, 'diverged': 0, 'failed': 0, 'skipped': 0}
        >>> train_into_store(store, "demo", w, pts, step_budget=20, batching="sequential")
        {'trained': 0, 'diverged': 0, 'failed': 0, 'skipped': 1}
    """
    points = tuple(points)
    idx = tuple(range(len(points))) if indices is None else tuple(indices)
    if len(idx) != len(points):
        raise InvalidParameterError(f"indices must have one index per point ({len(points)}), got {len(idx)}")
    task = TrainTask(study, workload, seed, points, idx, step_budget=step_budget,
                     update_rule=update_rule, batching=batching)
    if chunk_size is not None:
        check_int("chunk_size", chunk_size, low=1)
    source = StaticSource(store, [task], chunk_size=chunk_size)
    counts = run(store, source, executor, progress=progress, retry_errors=True)
    return {**counts, "skipped": source.skipped}


def record_value(store: TrialStore, key: TrialKey, metrics: Mapping[str, float],
                 seconds: float) -> None:
    """Records a claimed trial that a user's function trained: its numbers as one evaluation.

    What :func:`hplists.tune` writes for each point when it tunes into a store
    (the curve has one evaluation, at step 1, holding every number ``train``
    returned), so that a killed tuning resumes from the store.
    """
    curve = Curve([1], [float(seconds)], [float("nan")],
                  {str(k): [float(v)] for k, v in metrics.items()})
    store.finish(key, curve)


def record_failure(store: TrialStore, key: TrialKey, message: str) -> None:
    """Records a claimed trial as failed (retried by the next run that retries errors)."""
    store.fail(key, message)
