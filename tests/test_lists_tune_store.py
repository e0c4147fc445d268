"""hplists.tune into a trial store: a killed or failed tuning resumes where it stopped."""

from __future__ import annotations

import pytest

from helpers import tuning as th
from hplists import Status, tune
from hplists.store import open_store


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
