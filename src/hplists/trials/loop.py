"""The trial loop: claim, train anywhere, record. Resumable and executor-agnostic.

The protocol every trial of hplists goes through, the studies' and
:func:`hplists.tune`'s alike (and that makes kill-and-restart lose nothing):

1. a :class:`Source` hands out the next task (:class:`~hplists.trials.tasks.TrainTask`:
   points of one study, workload and seed), *claiming* its trials in the
   store just before it trains (:func:`claim_trial`, ``store.claim``; trials
   already finished, or running in another live process, are skipped);
2. an executor (:mod:`hplists.trials.executors`: this process, a pool of
   worker processes, a fresh process per task; a Ray cluster:
   :mod:`hplists.trials.ray`) trains the task somewhere and hands back its
   output;
3. :func:`run`, the one loop, records each trial's curve (``store.finish``),
   or the failure (``store.fail``), and tells the source, which may then
   release new tasks (sequential searches such as Bayesian optimization do)
   or stop tasks still in flight that it no longer needs (a tuning whose
   target an earlier point reached).

Only the driver writes to the store. A driver killed at any point (even with
``kill -9``) leaves its in-flight trials ``running`` under its pid; the store
hands them out again once that process is gone, and every finished trial is
kept. An interrupted driver (Ctrl-C, or SIGTERM under the command line) stops
its tasks and hands their trials back first (``store.release``), so that any
process may take them at once. Trials that *failed* (the training raised) are recorded as ``error`` and
are not retried unless ``retry_errors=True``.

Example:
    >>> import os, tempfile
    >>> from hplists import HParams
    >>> from hplists.store import open_store
    >>> from hplists.trials.tasks import TrainTask
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

import traceback
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from hplists._check import check_int
from hplists.curves import Curve, Status
from hplists.exceptions import InvalidParameterError, WorkloadBuildError
from hplists.store.base import TrialKey, TrialRecord, TrialStore, point_id
from hplists.trials.executors import Executor, LocalExecutor
from hplists.trials.tasks import Task, Tick, TrainTask, chunked

__all__ = [
    "Source",
    "StaticSource",
    "claim_trial",
    "default_chunk",
    "record_copies",
    "run",
    "train_into_store",
]


TaskT = TypeVar("TaskT", bound=Task)


class Source(Protocol[TaskT]):
    """Hands out tasks, claiming their trials; learns of their results (a study's sampler)."""

    def remaining_work(self) -> int:
        """Units of work still to train (for progress and ETA)."""

    def next_task(self, retry_errors: bool) -> tuple[TaskT, list[TrialKey]] | None:
        """The next task with the keys of its claimed trials; ``None`` if none is ready now.

        Without a store (``run(None, ...)``) nothing is claimed: the keys only name
        the task's trials (one key per trial, as always).
        """

    def done(self) -> bool:
        """Whether every task has been handed out and recorded."""

    def record(self, task: TaskT, curves: Sequence[Curve | None], output: Any) -> None:
        """Called after the task's curves are stored (``None`` for a failed trial).

        ``output`` is what the task's run returned, or the exception it raised.
        """

    def unwanted(self, task: TaskT) -> str | None:
        """Why ``task``, still in flight, is no longer needed, or ``None`` to let it finish.

        The loop asks after each result; an unwanted task is stopped (where its
        executor can) and its trials are recorded as failed with this message.
        """


def claim_trial(store: TrialStore, study: str, point: Any, workload: Any, seed: int,
                index: int | None, *, retry_errors: bool = False,
                provenance: Mapping[str, Any] | None = None) -> TrialKey | None:
    """Claims one trial for this process (``store.claim``): the one place trials are claimed.

    Sources call it when they hand a task out; ``None`` means the trial is done
    (or failed, unless ``retry_errors``) or runs in another live process.
    ``workload`` needs a ``name`` and a ``version``. For a workload that
    declares its regularizers (the workload contract), the provenance records
    the dropout rate and label smoothing it trains the point with
    (``"applied_regularizers"``), since the stored point keeps the list's.
    """
    prov = dict(provenance or {})
    regularizers = getattr(workload, "regularizers", None)
    if regularizers is not None:
        from hplists.workloads.contract import applied_regularizers

        prov.setdefault("applied_regularizers", applied_regularizers(point, regularizers))
    return store.claim(study, point, workload.name, seed, point_index=index,
                       workload_version=workload.version, retry_errors=retry_errors,
                       provenance=prov)


def record_copies(store: TrialStore, records: Sequence[TrialRecord]) -> int:
    """Writes finished trials derived from others (a budget's prefix of a longer run).

    The loop's one other write besides claim/heartbeat/finish/fail; returns the
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
        chunk_size: points claimed and trained together (default:
            :func:`default_chunk`).
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
            size = chunk_size or default_chunk(task)
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

    def record(self, task: TrainTask, curves: Sequence[Curve | None], output: Any) -> None:
        pass

    def unwanted(self, task: TrainTask) -> str | None:
        return None


def default_chunk(task: TrainTask) -> int:
    """Points claimed and trained together by default: what keeps the batching busy.

    ``"vmap"``: one vmapped program's worth (``vmap_size``); ``"sequential"``:
    one; ``"processes"``: two per worker; ``"processes/vmap"``: one full program
    per worker (``vmap_size`` times the workers). A chunk smaller than that
    leaves workers idle, and a vmapped program pads a partial group with
    copies: with ``"processes/vmap"``, two points per worker would make one
    half-padded program on one worker while the others wait. Chunks never
    change a curve: a vmapped program is padded to ``vmap_size`` whatever it
    holds.

    Example:
        >>> from hplists.trials.tasks import TrainTask
        >>> from hplists.workloads.engine import worker_count
        >>> from hplists.workloads.registry import get_workload
        >>> vit = get_workload("image_vit")  # processes/vmap, vmap_size 8
        >>> default_chunk(TrainTask("s", vit, 0, (), ())) == 8 * worker_count()
        True
        >>> default_chunk(TrainTask("s", vit, 0, (), (), batching="vmap"))
        8
    """
    from hplists.workloads.engine import worker_count

    batching = task.batching or getattr(task.workload, "batching", "vmap")
    size = int(getattr(task.workload, "vmap_size", 16))
    if batching == "vmap":
        return size
    if batching == "sequential":
        return 1
    if batching == "processes/vmap":
        return size * worker_count()
    return 2 * worker_count()


# ------------------------------------------------------------------------------------ the loop


def _message(e: BaseException) -> str:
    text = getattr(e, "__traceback_text__", None) or "".join(
        traceback.format_exception(type(e), e, e.__traceback__, limit=8))
    return f"{type(e).__name__}: {e}\n{text}"


def run(
    store: TrialStore | None,
    source: Source[Any],
    executor: Executor | None = None,
    *,
    progress: Tick | None = None,
    retry_errors: bool = False,
    heartbeat: float = 60.0,
    catch: tuple[type[BaseException], ...] = (Exception,),
) -> dict[str, int]:
    """Trains everything ``source`` hands out on ``executor``, recording each result at once.

    Args:
        store: the trial store (only this process writes to it); ``None``
            records nothing (the trials live only in the source, as an
            :func:`hplists.tune` without ``store=``).
        source: what to train.
        executor: where (default: a
            :class:`~hplists.trials.executors.LocalExecutor`, this process).
            An executor passed in is left open, for the caller to reuse or close.
        progress: called with the units of work just done (including the
            work of trials found finished when claimed).
        retry_errors: claim trials that ended in ``error`` again.
        heartbeat: seconds between heartbeats of in-flight trials (so that
            stores shared across machines do not hand them out). A background
            thread sends them while the trials train, whatever the executor:
            a task that trains in this process and blocks for an hour is still
            heartbeated every ``heartbeat`` seconds.
        catch: the exceptions of a task that are recorded as its trials' error
            while the run goes on (default: every ``Exception``); any other
            stops the run (as Optuna's ``catch``).

    Returns:
        Counts of trials: ``trained``, ``diverged``, ``failed``.

    A trial that raised in training is recorded as an error and the run goes
    on, except when the exception is not one of ``catch``, or when its
    workload cannot be built at all
    (:class:`~hplists.exceptions.WorkloadBuildError`: then every trial would
    fail the same way): the run records that task's trials, stops the others
    in flight (recorded as not trained), and raises it once. An interrupt
    (``KeyboardInterrupt``, or SIGTERM under the command line) propagates
    once the loop has stopped the tasks in flight (the executor's ``cancel``
    and ``abort``, where it has them) and handed their trials back
    (``store.release``): still ``running``, not errors (an interrupted trial
    is not a failed one), and any process on any host may claim them at once.
    Any other exception that ends the run hands back the trials in flight too.
    """
    own = executor is None
    executor = executor or LocalExecutor()
    tick = progress or (lambda k: None)
    counts = {"trained": 0, "diverged": 0, "failed": 0}
    in_flight: dict[Any, tuple[Task, list[TrialKey], list[int]]] = {}
    beats = _Heartbeats(store, heartbeat)

    def fail(keys: Sequence[TrialKey], message: str) -> None:
        if store is not None:
            for key in keys:
                store.fail(key, message)

    def drop(handle: Any, message: str) -> None:
        """Stops a task in flight that will not be recorded; its trials fail with ``message``."""
        _, keys, _ = in_flight.pop(handle)
        beats.remove(keys)
        cancel = getattr(executor, "cancel", None)
        if cancel is not None:
            cancel(handle)
        fail(keys, message)

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
                    fail(keys, _message(result))
                    counts["failed"] += len(keys)
                    if isinstance(result, WorkloadBuildError) or not isinstance(result, catch):
                        for other in list(in_flight):
                            drop(other, f"not trained: the run stopped ({result})")
                        raise result
                    curves = [None] * len(keys)
                else:
                    finished = task.curves(result)
                    curves = finished
                    for key, curve in zip(keys, finished, strict=True):
                        if store is not None:
                            store.finish(key, curve)
                    counts["trained"] += len(finished)
                    counts["diverged"] += sum(c.status == Status.DIVERGED for c in finished)
                tick(task.work - ticked[0])
                source.record(task, curves, result)
            for handle, (task, _, _) in list(in_flight.items()):
                reason = source.unwanted(task)
                if reason is not None:
                    drop(handle, reason)
    except BaseException:
        _stop_in_flight(store, executor, {h: keys for h, (_, keys, _) in in_flight.items()})
        raise
    finally:
        beats.stop()
        if own:
            executor.close()


def _stop_in_flight(store: TrialStore | None, executor: Executor,
                    in_flight: Mapping[Any, Sequence[TrialKey]]) -> None:
    """Stops the tasks of a run that is ending early and hands their trials back.

    Best effort: a second interrupt or a store that cannot be written leaves
    the trials ``running``, where the stale rule frees them.
    """
    cancel = getattr(executor, "cancel", None)
    for handle in in_flight:
        if cancel is not None:
            cancel(handle)
    abort = getattr(executor, "abort", None)
    if abort is not None:
        abort()
    if store is None:
        return
    for keys in in_flight.values():
        for key in keys:
            try:
                store.release(key)
            except Exception:  # the trial stays running; the stale rule frees it
                pass


class _Heartbeats:
    """A daemon thread that heartbeats the trials in flight every ``interval`` seconds.

    Without a store there is nothing to heartbeat, and no thread.
    """

    def __init__(self, store: TrialStore | None, interval: float) -> None:
        import threading

        self._store, self._interval = store, float(interval)
        self._keys: dict[tuple[str, str, str, int], TrialKey] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._warned = False
        self._thread = None
        if store is not None:
            self._thread = threading.Thread(target=self._loop, name="hplists-heartbeat",
                                            daemon=True)
            self._thread.start()

    def add(self, keys: Sequence[TrialKey]) -> None:
        with self._lock:
            self._keys.update({(k.study, k.point_id, k.workload, k.seed): k for k in keys})

    def remove(self, keys: Sequence[TrialKey]) -> None:
        with self._lock:
            for k in keys:
                self._keys.pop((k.study, k.point_id, k.workload, k.seed), None)

    def _loop(self) -> None:
        assert self._store is not None
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
        if self._thread is not None:
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

    :func:`run` over one :class:`~hplists.trials.tasks.TrainTask`: points are
    claimed chunk by chunk just before they train, each curve is recorded as
    soon as it finishes, a failure is recorded as the trials' error (retried
    by the next call) and the others go on, and a killed process leaves only
    its chunk in flight, which the store hands out again once the process is
    gone.

    Args:
        indices: each point's index in its study (default ``0..n-1``).
        chunk_size: points claimed at a time (default: :func:`default_chunk`).
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
