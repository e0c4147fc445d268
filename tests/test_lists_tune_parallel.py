"""hplists.tune with the points training concurrently: same answer as in order."""

from __future__ import annotations

import concurrent.futures
import math

import pytest

from helpers import tuning as th
from hplists import tune


def _summary(result):
    return [(t.index, t.value) for t in result.trials], result.best.index


def test_processes_and_an_executor_give_the_sequential_result():
    seq = tune(th.accuracy, "nadamw-paper", k=4, metric="accuracy")
    procs = tune(th.accuracy, "nadamw-paper", k=4, metric="accuracy", executor="processes",
                 workers=2)
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        threads = tune(th.accuracy, "nadamw-paper", k=4, metric="accuracy", executor=pool)
    assert _summary(procs) == _summary(seq) == _summary(threads)


def test_with_a_target_the_first_point_in_list_order_wins_not_the_first_to_finish():
    seen = []
    result = tune(th.slow_first, "nadamw-paper", target=0.9, executor="processes", workers=2,
                  callback=lambda t: seen.append(t.index))
    assert seen[0] == 2  # point 2 finished (and hit) first ...
    assert [t.index for t in result.trials] == [1] and result.best.index == 1  # ... point 1 wins
    assert _summary(result) == _summary(tune(th.slow_first, "nadamw-paper", target=0.9))


def test_a_dead_worker_fails_its_trial_and_the_others_go_on():
    result = tune(th.crashing, "nadamw-paper", executor="processes", workers=2)
    by_index = {t.index: t for t in result.trials}
    assert sorted(by_index) == [1, 2, 3, 4, 5]
    assert not by_index[2].ok and isinstance(by_index[2].result, Exception)
    assert all(by_index[i].ok for i in (1, 3, 4, 5)) and result.best.index == 1


@pytest.mark.xdist_group("ray")  # one local Ray at a time on 2 cores
def test_on_a_real_local_ray():
    ray = pytest.importorskip("ray")
    ray.cloudpickle.register_pickle_by_value(th)  # the tests' module travels by value
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        result = tune(th.accuracy, "nadamw-paper", k=3, metric="accuracy", executor="ray",
                      num_cpus=1)
    finally:
        if started:
            ray.shutdown()
    assert _summary(result) == _summary(tune(th.accuracy, "nadamw-paper", k=3,
                                             metric="accuracy"))


def test_bad_executors_are_named():
    with pytest.raises(ValueError, match="executor must be one of 'processes', 'ray'"):
        tune(th.accuracy, "nadamw-paper", metric="accuracy", executor="gpu")
    with pytest.raises(ValueError, match="workers must be"):
        tune(th.accuracy, "nadamw-paper", metric="accuracy", executor="processes", workers=0)
    assert math.isfinite(tune(th.accuracy, "nadamw-paper", k=1, metric="accuracy").best.value)


def test_a_train_workers_cannot_import_is_refused_before_any_trial_runs():
    """A lambda or a nested function would fail every trial in the spawned workers."""
    from hplists.exceptions import InvalidParameterError

    def nested(point):
        return point.learning_rate

    for train in (nested, lambda p: 0.5):
        with pytest.raises(InvalidParameterError, match="module-level train function"):
            tune(train, "nadamw-paper", k=2, executor="processes")


def test_a_train_from_a_main_that_is_no_file_is_refused_with_how_to_fix_it(tmp_path):
    """`python -c` (or stdin, a notebook): workers cannot re-import __main__."""
    import subprocess
    import sys

    code = ("import hplists\n"
            "def train(point):\n    return point.learning_rate\n"
            "hplists.tune(train, 'nadamw-paper', k=2, executor='processes')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120, check=False)
    assert proc.returncode != 0
    assert "is defined in a __main__ that is not a file" in proc.stderr
    assert "executor='ray' or a concurrent.futures.ThreadPoolExecutor" in proc.stderr
