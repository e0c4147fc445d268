"""The trial runner's process pool when a worker dies: the rest of the study goes on."""

from __future__ import annotations

from helpers import workloads as sw
from hplists.curves import Status
from hplists.store import open_store
from hplists.trials import PoolExecutor, StaticSource, TrainTask, run


def test_a_dead_worker_fails_its_task_and_the_pool_restarts_for_the_next(tmp_path):
    store = open_store(tmp_path / "s.db")
    line = sw.TinyLine()
    tasks = [TrainTask("s", line, 0, ({"die": 1.0},), (0,), update_rule="helpers.workloads:dying_rule",
                       batching="sequential"),
             TrainTask("s", line, 0, ({"die": 0.0},), (1,), update_rule="helpers.workloads:dying_rule",
                       batching="sequential")]
    pool = PoolExecutor(1)
    try:
        counts = run(store, StaticSource(store, tasks, chunk_size=1), pool)
    finally:
        pool.close()
    assert counts == {"trained": 1, "diverged": 0, "failed": 1}
    assert pool.restarts == 1
    status = {r.point_index: r for r in store.trials(study="s")}
    assert status[0].status == Status.ERROR and "worker process died" in status[0].message
    assert status[1].status == Status.COMPLETE


DRIVER = r"""
import multiprocessing.resource_tracker as rt, sys, time
from helpers import workloads as sw
from hplists.trials import PoolExecutor, TrainTask

pool = PoolExecutor(2)
task = TrainTask("s", sw.TinyLine(), 0, ({"die": 0.0},), (0,),
                 update_rule="helpers.workloads:dying_rule", batching="sequential",
                 step_budget=10**7)
handle = pool.submit(task, lambda k: None)
while not pool._pool._processes:
    time.sleep(0.05)
time.sleep(1.0)
pids = list(pool._pool._processes) + [rt._resource_tracker._pid]
print(" ".join(str(p) for p in pids if p), flush=True)
time.sleep(600)
"""


def test_kill_9_of_the_driver_leaves_no_worker_or_resource_tracker_behind(tmp_path):
    """The pool's workers and its resource tracker end with the driver (kill -9 of the driver)."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    proc = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
                            text=True)
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert len(pids) >= 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    deadline = time.monotonic() + 30
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [p for p in alive if _alive(p)]
    assert not alive, f"processes {alive} outlived their killed driver"


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone (only its entry waits to be reaped)
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_an_interrupted_run_ends_the_pools_workers_mid_task_and_hands_the_trials_back(tmp_path):
    """Ctrl-C during a pool's tasks: the loop aborts them (the workers end at once instead of
    finishing trials nobody waits for) and releases their claims; the pool serves again."""
    import os
    import signal
    import threading
    import time

    import pytest

    store = open_store(tmp_path / "s.db")
    tasks = [TrainTask("s", sw.TinyLine(), 0, ({"die": 0.0, "i": float(i)},), (i,),
                       update_rule="helpers.workloads:dying_rule", batching="sequential",
                       step_budget=10**9) for i in range(2)]
    pool = PoolExecutor(2)
    workers: list[int] = []

    def interrupt_once_training() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and store.count(status="running") < 2:
            time.sleep(0.2)
        time.sleep(3.0)  # both workers inside their trial
        workers.extend(pool._pool._processes)
        os.kill(os.getpid(), signal.SIGINT)  # a real signal wakes the waiting driver

    threading.Thread(target=interrupt_once_training, daemon=True).start()
    start = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            run(store, StaticSource(store, tasks, chunk_size=1), pool)
        stopped = time.monotonic() - start
        assert len(workers) == 2 and not [w for w in workers if _alive(w)]
        assert stopped < 60, f"the interrupted run took {stopped:.0f} s to stop"
        assert store.count(status="running") == 2
        assert len([e for e in store.events() if e["event"] == "release"]) == 2
        short = TrainTask("s2", sw.TinyLine(), 0, ({"die": 0.0},), (0,),
                          update_rule="helpers.workloads:dying_rule", batching="sequential")
        assert run(store, StaticSource(store, [short]), pool)["trained"] == 1
    finally:
        pool.close()


def test_aborting_the_local_executor_ends_the_engines_workers_mid_program():
    """LocalExecutor.abort (the loop's call when a run is interrupted) ends the worker
    processes of the engine's "processes" batching even while they train a program nobody
    waits for, instead of letting the exit wait for it."""
    import threading
    import time

    from hplists import HParams
    from hplists.trials import LocalExecutor
    from hplists.workloads.engine import train, worker_pids

    outcome: list[BaseException | None] = []

    def training() -> None:
        try:
            train(sw.TinyLine(), [HParams(1e-3, 0.9, 0.99)] * 2, step_budget=10**9,
                  batching="processes")
            outcome.append(None)
        except BaseException as e:  # the pool breaks under it
            outcome.append(e)

    thread = threading.Thread(target=training, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(worker_pids()) < 2:
        time.sleep(0.2)
    workers = worker_pids()
    assert len(workers) == 2
    time.sleep(3.0)  # inside their programs
    start = time.monotonic()
    LocalExecutor().abort()
    assert time.monotonic() - start < 30
    assert not [w for w in workers if _alive(w)]
    thread.join(timeout=60)
    assert outcome and outcome[0] is not None  # the training did not finish
    assert worker_pids() == []
