"""Ray dispatch: the same claim/run/finish protocol, each task a Ray task, the driver records."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import workloads as study_workloads
from helpers.workloads import TinyBlobs, TinyLine
from hplists.curves import Status
from hplists.space import get_space
from hplists.store import open_store
from hplists.study.bayesopt import BayesOptSource
from hplists.trials import StaticSource, TrainTask, run
from hplists.trials.ray import RayExecutor, ray_available

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.xdist_group("ray")  # one local Ray at a time on 2 cores

POINTS = tuple(get_space("nadamw-broad").sample(4, seed=0))


@pytest.fixture(scope="module")
def executor():
    # Workers import hplists normally; the tests' own modules travel by value.
    ray.cloudpickle.register_pickle_by_value(study_workloads)
    ray.cloudpickle.register_pickle_by_value(__import__(__name__))
    ex = RayExecutor(init_kwargs={"num_cpus": 2, "include_dashboard": False,
                                  "log_to_driver": False})
    yield ex
    ex.close()


def _tasks(study):
    return [TrainTask(study, w, seed, POINTS, tuple(range(len(POINTS))))
            for w in (TinyBlobs(), TinyLine()) for seed in (1, 2)]


@pytest.mark.slow
def test_ray_tasks_give_the_local_curves_and_the_driver_records_them(executor, tmp_path):
    assert ray_available() and executor.slots == 2
    local = open_store(tmp_path / "local.db")
    run(local, StaticSource(local, _tasks("s")))
    remote = open_store(tmp_path / "ray.db")
    counts = run(remote, StaticSource(remote, _tasks("s")), executor)
    assert counts["trained"] == 16 and counts["failed"] == 0
    want = {(r.workload, r.point_id, r.seed): r.curve for r in local.trials()}
    for r in remote.trials():
        name = "error_rate" if r.workload == "study_blobs" else "r2"
        np.testing.assert_allclose(r.curve.metric(name),
                                   want[(r.workload, r.point_id, r.seed)].metric(name),
                                   rtol=1e-5, atol=1e-6)
    # Resumable as locally: nothing left to do.
    assert run(remote, StaticSource(remote, _tasks("s")), executor)["trained"] == 0


@pytest.mark.slow
def test_a_failing_ray_task_is_recorded_as_error(executor, tmp_path):
    store = open_store(tmp_path / "fail.db")
    # NAdamW needs more than a learning rate: building the update rule raises in the worker.
    bad = ({"learning_rate": 0.1}, {"learning_rate": 0.2})
    task = TrainTask("f", TinyLine(), 0, bad, (0, 1))
    counts = run(store, StaticSource(store, [task]), executor)
    assert counts == {"trained": 0, "diverged": 0, "failed": 2}
    assert all(r.status is Status.ERROR and "KeyError" in r.message
               for r in store.trials(study="f"))


@pytest.mark.slow
def test_sequential_bayesopt_runs_spread_over_ray_slots(executor, tmp_path):
    store = open_store(tmp_path / "bo.db")
    source = BayesOptSource(store, "bo", [TinyLine()], (1, 2), 2, n_startup_trials=1)
    assert run(store, source, executor)["trained"] == 4
    assert sorted((r.seed, r.point_index) for r in store.trials(study="bo")) == [
        (1, 0), (1, 1), (2, 0), (2, 1)]


@pytest.mark.slow
def test_an_interrupted_run_cancels_its_ray_tasks_and_hands_the_trials_back(executor, tmp_path):
    """Ctrl-C in the driver: the loop cancels the Ray tasks in flight (ray.cancel) and
    releases their trials, so that another driver takes them at once."""
    import os
    import signal
    import threading
    import time

    store = open_store(tmp_path / "int.db")
    tasks = [TrainTask("i", TinyLine(), 0, (POINTS[i],), (i,), batching="sequential",
                       step_budget=10**9) for i in range(2)]

    def interrupt_once_training() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and store.count(status="running") < 2:
            time.sleep(0.2)
        time.sleep(3.0)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_once_training, daemon=True).start()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run(store, StaticSource(store, tasks, chunk_size=1), executor)
    assert time.monotonic() - start < 90
    assert store.count(status="running") == 2
    assert len([e for e in store.events() if e["event"] == "release"]) == 2
    # The cluster is free again: a short task runs on it now.
    short = TrainTask("i2", TinyLine(), 0, POINTS[:1], (0,), batching="sequential")
    assert run(store, StaticSource(store, [short]), executor)["trained"] == 1
