"""The trial runner's process pool when a worker dies: the rest of the study goes on."""

from __future__ import annotations

import study_workloads as sw
from hplists.curves import Status
from hplists.store import open_store
from hplists.study.runner import PoolExecutor, StaticSource, TrainTask, run


def test_a_dead_worker_fails_its_task_and_the_pool_restarts_for_the_next(tmp_path):
    store = open_store(tmp_path / "s.db")
    line = sw.TinyLine()
    tasks = [TrainTask("s", line, 0, ({"die": 1.0},), (0,), update_rule="study_workloads:dying_rule",
                       batching="sequential"),
             TrainTask("s", line, 0, ({"die": 0.0},), (1,), update_rule="study_workloads:dying_rule",
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
