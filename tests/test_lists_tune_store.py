"""hplists.tune into a trial store: a killed or failed tuning resumes where it stopped."""

from __future__ import annotations

import math

import pytest

from helpers import tuning as th
from hplists import Curve, Status, get_list, tune
from hplists.store import open_store
from hplists.store.base import point_id

PAPER = get_list("nadamw-paper").points


def test_a_failed_tuning_resumes_from_the_store_and_trains_only_what_is_missing(tmp_path):
    store = open_store(tmp_path / "t.db")
    with pytest.raises(RuntimeError, match="out of memory"):
        tune(th.failing_third, "nadamw-paper", k=4, metric="accuracy", store=store,
             study="tune/x")
    status = sorted((r.point_index, r.status) for r in store.trials(study="tune/x"))
    assert status == [(0, Status.COMPLETE), (1, Status.COMPLETE), (2, Status.ERROR)]
    calls = []

    def counting(point):
        calls.append(point.learning_rate)
        return th.accuracy(point)

    resumed = tune(counting, "nadamw-paper", k=4, metric="accuracy", store=store,
                   study="tune/x")
    fresh = tune(th.accuracy, "nadamw-paper", k=4, metric="accuracy")
    assert len(calls) == 2  # points 3 (failed before) and 4 (never run)
    assert [t.value for t in resumed.trials] == pytest.approx([t.value for t in fresh.trials])
    assert resumed.best.index == fresh.best.index
    assert store.count(study="tune/x", status="complete") == 4


def test_parallel_tuning_records_and_resumes_too(tmp_path):
    store = open_store(tmp_path / "t.db")
    first = tune(th.accuracy, "nadamw-paper", k=3, metric="accuracy", store=store,
                 executor="processes", workers=2)
    assert store.count(study="tune/nadamw-paper", status="complete") == 3
    again = tune(th.accuracy, "nadamw-paper", k=3, metric="accuracy", store=store,
                 executor="processes", workers=2)
    assert [t.value for t in again.trials] == pytest.approx([t.value for t in first.trials])
    assert all(t.result is None for t in again.trials)  # read back, not trained


def test_the_trials_keep_the_store_format_tunings_always_had(tmp_path):
    """Study, workload "train" v1, seed 0, point_index = position - 1, one evaluation at step 1
    holding every number train returned: what a tuning resumes from."""
    store = open_store(tmp_path / "t.db")
    result = tune(th.accuracy, "nadamw-paper", k=2, metric="accuracy", store=store)
    records = sorted(store.trials(study="tune/nadamw-paper"), key=lambda r: r.point_index)
    assert [(r.workload, r.workload_version, r.seed, r.point_index, r.point_id)
            for r in records] == [("train", "1", 0, i, point_id(PAPER[i])) for i in range(2)]
    for r, t in zip(records, result.trials, strict=True):
        assert r.curve.steps.tolist() == [1] and r.curve.seconds.tolist() == [t.seconds]
        assert {k: v.tolist() for k, v in r.curve.metrics.items()} == {
            k: [v] for k, v in t.metrics.items()}


def test_a_store_written_the_way_tunings_always_wrote_resumes_without_training_again(tmp_path):
    """Trials recorded as earlier versions of tune recorded them are read back, not trained."""
    store = open_store(tmp_path / "t.db")
    for i, point in enumerate(PAPER[:2]):
        key = store.claim("tune/nadamw-paper", point, "train", 0, point_index=i,
                          workload_version="1", retry_errors=True)
        metrics = th.accuracy(point)
        store.finish(key, Curve([1], [0.5], [math.nan], {k: [v] for k, v in metrics.items()}))
    calls = []

    def counting(point):
        calls.append(point)
        return th.accuracy(point)

    resumed = tune(counting, "nadamw-paper", k=3, metric="accuracy", store=store)
    assert calls == [PAPER[2]]
    assert [t.value for t in resumed.trials] == pytest.approx(
        [t.value for t in tune(th.accuracy, "nadamw-paper", k=3, metric="accuracy").trials])
    assert [t.seconds for t in resumed.trials[:2]] == [0.5, 0.5]
