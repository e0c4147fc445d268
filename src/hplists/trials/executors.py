"""Where tasks train: this process, a pool of worker processes, or a fresh process per task.

An :class:`Executor` is all the trial loop (:func:`hplists.trials.loop.run`)
needs of a place to train: it starts a task, waits for some to finish, and
hands back each one's output (or the exception it raised). The Ray executor
(:class:`hplists.trials.ray.RayExecutor`) is one more.

Example:
    >>> LocalExecutor().slots
    1
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import multiprocessing
import os
import traceback
from collections.abc import Sequence
from typing import Any, Protocol

from hplists._check import check_int
from hplists.trials.tasks import Task, Tick, run_task

__all__ = ["Executor", "FreshProcessExecutor", "LocalExecutor", "PoolExecutor"]

Done = list[tuple[Any, Any]]  # (handle, the task's output or the exception it raised)


class Executor(Protocol):
    """Where tasks train. The loop submits up to ``slots`` tasks and waits for results.

    An executor may also have ``cancel(handle)``, which stops a task still
    running (the loop calls it for a task its source no longer needs); one
    without it lets such a task finish and the loop drops its output. And it
    may have ``abort()``, which stops every task at once without waiting for
    any (the loop calls it when the run is interrupted; :meth:`close` may
    wait for tasks already running).
    """

    slots: int

    def submit(self, task: Task, tick: Tick) -> Any:
        """Starts ``task``; returns a handle. ``tick(k)`` may report ``k`` units of work done."""

    def wait(self, handles: Sequence[Any], timeout: float | None = None) -> Done:
        """Blocks until at least one handle is done (or ``timeout``); returns the done ones.

        A task that raised comes back as its exception.
        """

    def close(self) -> None:
        """Releases workers; cancels tasks still running."""


def _died(exc: BaseException | None) -> BaseException | None:
    if isinstance(exc, concurrent.futures.process.BrokenProcessPool):
        return RuntimeError(f"a worker process died while training ({exc}); its tasks "
                            "are recorded as failed and retried by the next run")
    return exc


class LocalExecutor:
    """Trains in this process, one task at a time (the engine's batching uses the cores).

    Example:
        >>> LocalExecutor().slots
        1
    """

    slots = 1

    def __init__(self) -> None:
        self._pending: dict[int, tuple[Task, Tick]] = {}
        self._next = 0

    def submit(self, task: Task, tick: Tick) -> int:
        self._next += 1
        self._pending[self._next] = (task, tick)
        return self._next

    def wait(self, handles: Sequence[Any], timeout: float | None = None) -> Done:
        handle = handles[0]
        task, tick = self._pending.pop(handle)
        try:
            return [(handle, run_task(task, tick))]
        except Exception as e:  # recorded as the trials' error; KeyboardInterrupt propagates
            e.__traceback_text__ = traceback.format_exc(limit=8)  # type: ignore[attr-defined]
            return [(handle, e)]

    def cancel(self, handle: Any) -> None:
        self._pending.pop(handle, None)

    def abort(self) -> None:
        """Drops the tasks not started and ends the engine's worker processes (``"processes"``
        batching), which may still train a task this process stopped waiting for."""
        from hplists.workloads.engine import stop_workers

        self._pending.clear()
        stop_workers()

    def close(self) -> None:
        self._pending.clear()


def _init_worker(slot: Any = None, parent: int | None = None) -> None:
    from hplists.workloads.engine import init_worker_process

    init_worker_process(slot, parent)


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
            (e.g. a ``ThreadPoolExecutor`` in tests, or the one a user hands
            :func:`hplists.tune`); it is not shut down by :meth:`close`.
    """

    def __init__(self, workers: int | None = None, *,
                 pool: concurrent.futures.Executor | None = None) -> None:
        if workers is None:
            from hplists.workloads.engine import worker_count

            workers = worker_count()
        self.slots = check_int("workers", workers, low=1)
        self._own = pool is None
        self._pool = pool if pool is not None else self._start()
        self.restarts = 0

    def _start(self) -> concurrent.futures.Executor:
        ctx = multiprocessing.get_context("spawn")
        return concurrent.futures.ProcessPoolExecutor(self.slots, mp_context=ctx,
                                                      initializer=_init_worker,
                                                      initargs=(ctx.Value("i", 0),
                                                                os.getpid()))

    def submit(self, task: Task, tick: Tick) -> concurrent.futures.Future:
        try:
            return self._pool.submit(run_task, task.in_worker())
        except concurrent.futures.process.BrokenProcessPool:
            if not self._own:
                raise
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._start()
            self.restarts += 1
            return self._pool.submit(run_task, task.in_worker())

    def wait(self, handles: Sequence[Any], timeout: float | None = None) -> Done:
        done, _ = concurrent.futures.wait(handles, timeout=timeout,
                                          return_when=concurrent.futures.FIRST_COMPLETED)
        out: Done = []
        for fut in done:
            exc = _died(fut.exception())
            out.append((fut, exc if exc is not None else fut.result()))
        return out

    def cancel(self, handle: Any) -> None:
        handle.cancel()  # a task already running finishes; the loop drops its output

    def abort(self) -> None:
        """Ends this executor's own worker processes now, tasks and all (an interrupted run);
        the next task starts a new pool. A pool handed in is left alone."""
        if not self._own:
            return
        from hplists.workloads.engine import terminate_pool

        terminate_pool(self._pool)
        self._pool = self._start()

    def close(self) -> None:
        if self._own:
            self._pool.shutdown(wait=True, cancel_futures=True)


class FreshProcessExecutor:
    """Trains each task in a fresh spawned process of its own, up to ``workers`` at once.

    A task that kills its process (out of memory, a crash in native code)
    fails alone, and :meth:`cancel` stops a task by ending its process. The
    processes run the task as they find it: nothing is set up in them (unlike
    :class:`PoolExecutor`'s single-threaded XLA), so a user's training keeps
    its framework's defaults. What :func:`hplists.tune` runs ``executor="processes"`` on.

    Args:
        workers: tasks at once (default: the number of cores, at most 2).
    """

    def __init__(self, workers: int | None = None) -> None:
        if workers is None:
            from hplists.workloads.engine import worker_count

            workers = worker_count()
        self.slots = check_int("workers", workers, low=1)
        self._pools: dict[concurrent.futures.Future, concurrent.futures.ProcessPoolExecutor] = {}

    def submit(self, task: Task, tick: Tick) -> concurrent.futures.Future:
        pool = concurrent.futures.ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn"))
        fut = pool.submit(run_task, task.in_worker())
        self._pools[fut] = pool
        return fut

    def wait(self, handles: Sequence[Any], timeout: float | None = None) -> Done:
        done, _ = concurrent.futures.wait(handles, timeout=timeout,
                                          return_when=concurrent.futures.FIRST_COMPLETED)
        out: Done = []
        for fut in done:
            pool = self._pools.pop(fut, None)
            if pool is not None:
                pool.shutdown(wait=False)
            exc = _died(fut.exception())
            out.append((fut, exc if exc is not None else fut.result()))
        return out

    def cancel(self, handle: Any) -> None:
        pool = self._pools.pop(handle, None)
        if pool is None:
            handle.cancel()
            return
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)

    def abort(self) -> None:
        """Ends every task's process now (an interrupted run)."""
        self.close()

    def close(self) -> None:
        for fut in list(self._pools):
            self.cancel(fut)
