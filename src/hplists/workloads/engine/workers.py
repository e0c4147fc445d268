"""Worker processes: one per core, single-threaded XLA, gone with their parent."""

from __future__ import annotations

import atexit
import concurrent.futures
import multiprocessing
import os
import queue as queue_mod
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from hplists.curves import Curve
from hplists.hparams import Point
from hplists.optim.update_rule import UpdateRule
from hplists.workloads.contract import JaxWorkload
from hplists.workloads.engine.loop import iter_in_process
from hplists.workloads.engine.programs import default_rule

# Flags that make a worker process's XLA:CPU single-threaded, so that one
# worker per core do not fight over the cores.
WORKER_XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false"

# With this variable set to 1, each worker process pins itself to one core of its own
# (os.sched_setaffinity) before XLA starts. XLA:CPU sizes its thread pool by the cores
# it may run on, so a pinned worker is truly single-threaded (the flag above leaves
# XLA's other threads running). Side by side on 2 cores, pinned workers train 1.11-1.15x
# faster with 12% less CPU time (benchmarks/study_workers.py); but XLA then partitions
# some kernels differently, so on some workloads their curves are other bits than an
# unpinned worker's. Stores keep one kind: the learning-rate-free study sets it; the
# paper-001 stores were trained without it.
PIN_ENV = "HPLISTS_PIN_WORKERS"




_POOL: concurrent.futures.ProcessPoolExecutor | None = None
_QUEUE: Any = None
_WORKER_QUEUE: Any = None


def init_worker_process(slot: Any = None, parent: int | None = None) -> None:
    """Prepares a worker process: single-threaded XLA:CPU, and an exit when its parent dies.

    Every pool of training processes (the engine's own, the trial runner's)
    starts its workers with this, so one worker per core do not fight over the
    cores and no worker outlives a killed driver. ``slot`` is the pool's shared
    counter (a ``multiprocessing.Value``): with :data:`PIN_ENV` set to 1, the
    worker takes the next slot and pins itself to that core. ``parent`` is the
    pid of the process that made the pool (pools start workers on demand, and a
    slow start can outlast a killed driver: the worker's parent pid is then
    already another's, and it exits at once); ``None`` takes this process's
    parent as it is now.
    """
    # Ctrl-C in a terminal reaches the whole process group; the driver alone handles it
    # (and ends its workers), so a worker does not die mid-task with a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if slot is not None and os.environ.get(PIN_ENV) == "1" and hasattr(os, "sched_setaffinity"):
        with slot.get_lock():
            mine = slot.value
            slot.value += 1
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cores[mine % len(cores)]})
    flags = os.environ.get("XLA_FLAGS", "")
    if WORKER_XLA_FLAGS not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {WORKER_XLA_FLAGS}".strip()
    parent = os.getppid() if parent is None else parent
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def init_engine_worker(q: Any, slot: Any = None, parent: int | None = None) -> None:
    """The initializer of the engine's own worker processes: :func:`init_worker_process`,
    and ``q``, the queue on which :func:`run_worker_task` reports its steps."""
    global _WORKER_QUEUE
    init_worker_process(slot, parent)
    _WORKER_QUEUE = q


def _exit_with_parent(parent: int) -> None:
    """Ends this worker when the process that started it is gone (killed, crashed)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def run_worker_task(task: int, workload: JaxWorkload, points: list[Point], seed: int,
                    total_steps: int, rule: UpdateRule | None, inner: str,
                    budget: int | None = None) -> list[Curve]:
    """Trains ``points`` in a worker process (``inner``: ``"vmap"`` or ``"sequential"``);
    their curves, in order. Steps done are reported as ``(task, steps so far)`` on the
    worker's queue."""
    done = 0

    def tick(k: int) -> None:
        nonlocal done
        done += k
        if _WORKER_QUEUE is not None:
            _WORKER_QUEUE.put((task, done))

    rule = rule or default_rule()
    return [c for _, c in iter_in_process(workload, points, seed, total_steps, rule, inner,
                                          tick, budget)]


def worker_count() -> int:
    """Worker processes that ``"processes"`` batching trains points on, in parallel.

    Example:
        >>> 1 <= worker_count() <= 2
        True
    """
    return max(1, min(2, os.cpu_count() or 1))


def _pool() -> tuple[concurrent.futures.ProcessPoolExecutor, Any]:
    global _POOL, _QUEUE
    if _POOL is None:
        ctx = multiprocessing.get_context("spawn")
        _QUEUE = ctx.Queue()
        _POOL = concurrent.futures.ProcessPoolExecutor(
            worker_count(), mp_context=ctx, initializer=init_engine_worker,
            initargs=(_QUEUE, ctx.Value("i", 0), os.getpid())
        )
    return _POOL, _QUEUE


def worker_pids() -> list[int]:
    """Process ids of the live worker processes of ``batching="processes"`` (for accounting)."""
    if _POOL is None:
        return []
    return [p.pid for p in getattr(_POOL, "_processes", {}).values() if p.is_alive()]


def terminate_pool(pool: concurrent.futures.Executor) -> None:
    """Ends a process pool's workers now, without waiting for the tasks they run.

    What an interrupted run does with work whose results it no longer wants;
    :meth:`~concurrent.futures.Executor.shutdown` would wait for them.

    Example:
        >>> pool = concurrent.futures.ThreadPoolExecutor(1)  # no processes: only shut down
        >>> terminate_pool(pool)
        >>> pool.submit(print)
        Traceback (most recent call last):
        ...
        RuntimeError: cannot schedule new futures after shutdown
    """
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=10.0)


def stop_workers() -> None:
    """Ends the worker processes of ``batching="processes"`` now, mid-task (they restart on
    demand); :func:`shutdown_workers` lets their tasks finish first.

    Example:
        >>> stop_workers(); worker_pids()
        []
    """
    global _POOL, _QUEUE
    if _POOL is not None:
        terminate_pool(_POOL)
    _POOL, _QUEUE = None, None


@atexit.register
def shutdown_workers() -> None:
    """Stops the worker processes of ``batching="processes"`` (they restart on demand)."""
    global _POOL, _QUEUE
    if _POOL is not None:
        _POOL.shutdown(wait=True, cancel_futures=True)
    _POOL, _QUEUE = None, None


def iter_in_workers(workload: JaxWorkload, points: Sequence[Point], seed: int,
                    total_steps: int, rule: UpdateRule | None, inner: str,
                    tick: Callable[[int], None], budget: int | None = None
                    ) -> Iterator[tuple[int, Curve]]:
    """Trains one program group's points on the worker processes (:func:`worker_count`), one
    task per program (a point, or ``vmap_size`` points); yields ``(index, curve)`` as tasks
    finish. ``tick(k)`` counts ``k`` more steps done."""
    pool, q = _pool()
    n = len(points)
    # One task per program: a point ("sequential") or a group of vmap_size points.
    size = 1 if inner == "sequential" else getattr(workload, "vmap_size", 16)
    groups = [list(range(lo, min(lo + size, n))) for lo in range(0, n, size)]
    futures = {}
    try:
        for task, idx in enumerate(groups):
            fut = pool.submit(run_worker_task, task, workload, [points[i] for i in idx], seed,
                              total_steps, rule, inner, budget)
            futures[fut] = idx
    except concurrent.futures.process.BrokenProcessPool:
        shutdown_workers()
        raise
    seen: dict[int, int] = {}
    pending = set(futures)
    try:
        while pending:
            done, pending = concurrent.futures.wait(
                pending, timeout=0.2, return_when=concurrent.futures.FIRST_COMPLETED
            )
            _drain(q, seen, tick)
            for fut in done:
                try:
                    curves = fut.result()
                except concurrent.futures.process.BrokenProcessPool as e:
                    shutdown_workers()
                    raise RuntimeError(
                        f"a worker process died while training {workload.name!r}. With "
                        "batching='processes' the workload class and the update rule must be "
                        "importable in a fresh process (defined in a module, not in __main__ of "
                        "an interactive session or inside a function), and the worker must "
                        "have enough memory; batching='sequential' has no such requirement"
                    ) from e
                yield from zip(futures[fut], curves, strict=True)
        _drain(q, seen, tick)
    except KeyboardInterrupt:
        stop_workers()  # nobody waits for these programs any more: free the cores now
        raise
    finally:
        for fut in pending:
            fut.cancel()


def _drain(q: Any, seen: dict[int, int], tick: Callable[[int], None]) -> None:
    while True:
        try:
            task, done = q.get_nowait()
        except queue_mod.Empty:
            return
        if done > seen.get(task, 0):
            tick(done - seen.get(task, 0))
            seen[task] = done
