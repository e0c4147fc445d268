"""The trial loop (claim/run/finish): skips what is done, records failures, survives interruption;
runs any task, with or without a store, and stops what its source no longer needs."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import threading
import types
from typing import Any

import numpy as np
import optax
import pytest

from helpers.workloads import TinyBlobs
from hplists.curves import Curve, Status
from hplists.space import get_space
from hplists.store import open_store
from hplists.store.base import TrialKey, point_id
from hplists.trials import (
    LocalExecutor,
    PoolExecutor,
    StaticSource,
    TrainTask,
    claim_trial,
    default_chunk,
    for_worker,
    resolve_rule,
    run,
)

POINTS = get_space("nadamw-broad").sample(6, seed=0)


def broken_rule(hp, total_steps):
    """An update rule that fails when the engine builds it (module level: importable)."""
    raise ValueError("this rule is broken on purpose")


def sgd_rule(hp, total_steps):
    return optax.sgd(hp["learning_rate"])


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "runner.db")
    yield s
    s.close()


def _task(points, indices=None, **kw):
    indices = range(len(points)) if indices is None else indices
    return TrainTask("s", TinyBlobs(), 0, tuple(points), tuple(indices), **kw)


def test_finished_trials_are_skipped_and_only_the_rest_train(store):
    """A superset of a finished task trains only the new points; old records stay untouched."""
    assert run(store, StaticSource(store, [_task(POINTS[:4])]))["trained"] == 4
    before = {(r.point_id, r.seed): r for r in store.trials(study="s")}
    source = StaticSource(store, [_task(POINTS)])
    assert source.skipped == 4 and source.remaining_work() == 2 * TinyBlobs.step_budget
    assert run(store, source)["trained"] == 2
    after = {(r.point_id, r.seed): r for r in store.trials(study="s")}
    assert len(after) == 6
    for key, r in before.items():
        assert after[key].provenance == r.provenance
        np.testing.assert_array_equal(after[key].curve.metric("error_rate"),
                                      r.curve.metric("error_rate"))
    assert [r.point_index for r in store.trials(study="s")] == list(range(6))


def test_a_failing_task_records_errors_and_a_retry_trains_them(store):
    counts = run(store, StaticSource(store, [_task(POINTS[:2],
                                                   update_rule="test_trials_loop:broken_rule")]))
    assert counts == {"trained": 0, "diverged": 0, "failed": 2}
    errors = store.trials(study="s", status="error")
    assert len(errors) == 2 and "broken on purpose" in errors[0].message
    # Without retry_errors the failed trials are left alone ...
    assert run(store, StaticSource(store, [_task(POINTS[:2])]))["trained"] == 0
    # ... with it they train again, and the earlier failure stays in the event log.
    assert run(store, StaticSource(store, [_task(POINTS[:2])]), retry_errors=True)["trained"] == 2
    assert {r.status for r in store.trials(study="s")} == {Status.COMPLETE}
    assert sum(e["event"] == "retry" for e in store.events(study="s")) == 2


def test_interrupted_run_loses_nothing_and_the_rerun_trains_each_trial_once(store):
    """KeyboardInterrupt mid-task: finished chunks are kept, the in-flight chunk is handed
    back (still running, not an error) and redone."""
    tasks = [_task(POINTS[:3]), _task(POINTS[3:], range(3, 6))]
    seen = []

    def interrupt(k):
        seen.append(k)
        if sum(seen) > 3 * TinyBlobs.step_budget:  # inside the second task
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(store, StaticSource(store, tasks), progress=interrupt)
    assert store.count(study="s", status="complete") == 3
    assert store.count(study="s", status="running") == 3
    released = [e for e in store.events(study="s") if e["event"] == "release"]
    assert len(released) == 3 and {e["detail"]["reason"] for e in released} == {"interrupted"}
    first = {r.point_id: r.provenance for r in store.trials(study="s", status="complete")}
    assert run(store, StaticSource(store, tasks))["trained"] == 3
    records = store.trials(study="s")
    assert len(records) == 6 and {r.status for r in records} == {Status.COMPLETE}
    for r in records:
        if r.point_id in first:
            assert r.provenance == first[r.point_id]
    finishes = [e for e in store.events(study="s") if e["event"] == "finish"]
    assert len(finishes) == 6


def test_update_rules_travel_by_name():
    task = _task(POINTS[:2], update_rule="test_trials_loop:sgd_rule")
    curves = run_local(task)
    assert all(c.status is Status.COMPLETE for c in curves)
    with pytest.raises(ValueError, match="cannot be imported"):
        resolve_rule("test_trials_loop:no_such_rule")
    with pytest.raises(ValueError, match=r"package\.module:function"):
        resolve_rule("sgd_rule")


def run_local(task):
    ex = LocalExecutor()
    handle = ex.submit(task, lambda k: None)
    return ex.wait([handle])[0][1]


class _CountingPool(concurrent.futures.ThreadPoolExecutor):
    """Records how many tasks ran at the same time.

    The first two tasks wait for each other (up to 30 s) before running, so a dispatcher
    that keeps two in flight shows a peak of 2 however slow a loaded machine starts the
    second thread, and one that waits for each result shows 1.
    """

    def __init__(self):
        super().__init__(2)
        self.active = self.peak = self.submitted = 0
        self.lock = threading.Lock()
        self.first_two = threading.Barrier(2, timeout=30)

    def submit(self, fn, *args, **kwargs):
        index, self.submitted = self.submitted, self.submitted + 1

        def wrapped():
            with self.lock:
                self.active += 1
                self.peak = max(self.peak, self.active)
            if index < 2:
                try:
                    self.first_two.wait()
                except threading.BrokenBarrierError:
                    pass  # the second task never came while the first ran: peak stays 1
            try:
                return fn(*args, **kwargs)
            finally:
                with self.lock:
                    self.active -= 1
        return super().submit(wrapped)


def test_pool_executor_keeps_two_tasks_in_flight_and_gives_the_local_curves(tmp_path):
    """The dispatch logic of remote executors (Ray), on a local pool: same results."""
    tasks = [TrainTask("p", TinyBlobs(), seed, tuple(POINTS[:2]), (0, 1)) for seed in (1, 2, 3)]
    local = open_store(tmp_path / "local.db")
    run(local, StaticSource(local, tasks))
    pool = _CountingPool()
    pooled = open_store(tmp_path / "pool.db")
    counts = run(pooled, StaticSource(pooled, tasks), PoolExecutor(2, pool=pool))
    pool.shutdown()
    assert counts["trained"] == 6 and pool.peak == 2
    want = {(r.point_id, r.seed): r.curve for r in local.trials()}
    for r in pooled.trials():
        np.testing.assert_array_equal(r.curve.metric("error_rate"),
                                      want[(r.point_id, r.seed)].metric("error_rate"))


def test_workers_never_nest_worker_processes():
    task = _task(POINTS[:1])
    assert for_worker(task).batching == "vmap"
    assert for_worker(_task(POINTS[:1], batching="processes")).batching == "sequential"
    assert for_worker(_task(POINTS[:1], batching="processes/vmap")).batching == "vmap"


def test_processes_vmap_claims_a_full_program_per_worker_and_chunks_change_no_curve(tmp_path):
    """Two points per worker would make one padded program on one worker, the other idle; the
    default chunk is vmap_size points per worker, and any chunking trains the same bits."""
    from helpers.workloads import TinyBlobsProcessesVmap
    from hplists.workloads.engine import worker_count

    task = TrainTask("s", TinyBlobsProcessesVmap(), 0, tuple(POINTS), tuple(range(6)))
    assert default_chunk(task) == 3 * worker_count()  # two per worker: 4 on 2 cores
    first, keys = StaticSource(open_store(tmp_path / "a.db"), [task]).next_task(False)
    assert len(first.points) == len(keys) == min(6, 3 * worker_count())
    curves = {}
    for chunk in (None, 1, 2):
        store = open_store(tmp_path / f"chunk{chunk}.db")
        assert run(store, StaticSource(store, [task], chunk_size=chunk))["trained"] == 6
        curves[chunk] = {r.point_id: r.curve for r in store.trials()}
        store.close()
    for chunk in (1, 2):
        for pid, c in curves[None].items():
            np.testing.assert_array_equal(c.train_loss, curves[chunk][pid].train_loss)
            np.testing.assert_array_equal(c.metric("error_rate"),
                                          curves[chunk][pid].metric("error_rate"))


def test_task_rejects_mismatched_indices():
    with pytest.raises(ValueError, match="2 points but 1 indices"):
        _task(POINTS[:2], indices=(0,))


def test_each_trial_records_the_regularizers_its_workload_applied(store):
    """The stored point keeps the list's dropout; the provenance says what training used."""
    from helpers.workloads import TinyXor
    from hplists import HParams
    from hplists.workloads.engine import hp_arrays

    point = HParams(1e-2, 0.9, 0.99, dropout_rate=0.1, label_smoothing=0.2)
    for workload in (TinyBlobs(), TinyXor()):  # dropout and smoothing; smoothing only
        task = TrainTask(workload.name, workload, 0, (point,), (0,))
        assert run(store, StaticSource(store, [task]))["trained"] == 1
        (record,) = store.trials(study=workload.name)
        assert record.hparams == point  # the list's point, unchanged
        hp = hp_arrays([point], workload.step_budget, workload.regularizers)
        applied = record.provenance["applied_regularizers"]
        assert sorted(applied) == ["dropout_rate", "label_smoothing"]
        for k, v in applied.items():  # the engine's float32 copy of the same number
            assert np.float32(v) == hp[k][0]
    assert applied == {"dropout_rate": 0.0, "label_smoothing": 0.2}


# ------------------------------------------------------------- any task, any source: the loop


@dataclasses.dataclass(frozen=True)
class _Echo:
    """A task of one trial whose output is its value (a negative one raises); it may wait."""

    study: str
    value: float
    gate: Any = None  # a threading.Event it waits for before it ends

    @property
    def work(self):
        return 1

    def run(self, tick=None):
        if self.gate is not None:
            self.gate.wait(30)
        if self.value < 0:
            raise RuntimeError("negative on purpose")
        return self.value

    def in_worker(self):
        return self

    def curves(self, output):
        return [Curve([1], [0.0], [math.nan], {"value": [output]})]


class _Listed:
    """Hands the tasks out in order; after the first result, tasks with a larger value are
    unwanted when ``stop`` says so."""

    workload = types.SimpleNamespace(name="echo", version="1")

    def __init__(self, store, tasks, stop=None):
        self.store, self.todo, self.stop, self.seen = store, list(tasks), stop, []

    def remaining_work(self):
        return len(self.todo)

    def next_task(self, retry_errors):
        if not self.todo:
            return None
        task = self.todo.pop(0)
        point = {"x": task.value}
        if self.store is None:
            return task, [TrialKey(task.study, point_id(point), "echo", 0, "")]
        return task, [claim_trial(self.store, task.study, point, self.workload, 0, None)]

    def done(self):
        return not self.todo

    def record(self, task, curves, output):
        self.seen.append((task.value, output))

    def unwanted(self, task):
        return self.stop if self.seen and self.stop else None


def test_without_a_store_the_loop_records_nothing_and_the_source_gets_every_output():
    source = _Listed(None, [_Echo("e", 1.0), _Echo("e", -1.0), _Echo("e", 2.0)])
    assert run(None, source) == {"trained": 2, "diverged": 0, "failed": 1}
    assert [v for v, _ in source.seen] == [1.0, -1.0, 2.0]
    assert isinstance(source.seen[1][1], RuntimeError) and source.seen[2][1] == 2.0


def test_a_task_its_source_no_longer_needs_is_stopped_and_recorded_with_the_reason(store):
    gate = threading.Event()
    source = _Listed(store, [_Echo("u", 1.0), _Echo("u", 2.0, gate)], stop="not needed")
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        counts = run(store, source, PoolExecutor(2, pool=pool))
        gate.set()
    assert counts == {"trained": 1, "diverged": 0, "failed": 0}
    assert source.seen == [(1.0, 1.0)]  # the stopped task's output is dropped
    by_value = {r.point["x"]: r for r in store.trials(study="u")}
    assert by_value[1.0].status is Status.COMPLETE
    assert by_value[2.0].status is Status.ERROR and by_value[2.0].message == "not needed"


def test_an_exception_outside_catch_stops_the_run_and_the_trials_in_flight(store):
    gate = threading.Event()
    source = _Listed(store, [_Echo("c", 1.0, gate), _Echo("c", -1.0)])
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        with pytest.raises(RuntimeError, match="negative on purpose"):
            run(store, source, PoolExecutor(2, pool=pool), catch=())
        gate.set()
    by_value = {r.point["x"]: r for r in store.trials(study="c")}
    assert by_value[-1.0].status is Status.ERROR and "negative on purpose" in by_value[-1.0].message
    assert by_value[1.0].message == "not trained: the run stopped (negative on purpose)"
