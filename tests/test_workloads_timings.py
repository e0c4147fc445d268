"""Measured workload speed (timings.json) and the study plan's time estimates built on it."""

from __future__ import annotations

import pytest

from hplists.store import open_store
from hplists.study.workflow import StudyConfig, StudyWorkflow
from hplists.workloads import timings
from hplists.workloads.registry import get_workload
from hplists.workloads.timings import current_timings, measured_seconds_per_step


def test_measured_rate_is_seconds_per_trial_over_the_step_budget():
    measured = current_timings()
    if not measured:
        pytest.skip("timings.json not written yet (run benchmarks/workloads.py)")
    rates = measured_seconds_per_step()
    assert set(rates) == set(measured)
    for name, t in measured.items():
        assert rates[name] == pytest.approx(t["seconds_per_trial"] / get_workload(name).step_budget)
        assert t["chosen"] in t["strategies"] and t["default"] in t["strategies"]


def test_plan_estimates_from_measured_rates_before_any_trial_is_recorded(tmp_path):
    """An empty store: measured workloads get an estimate; variants use their base's rate."""
    measured = measured_seconds_per_step()
    if not measured:
        pytest.skip("timings.json not written yet (run benchmarks/workloads.py)")
    base = sorted(n for n in measured if get_workload(n).base is None)[:2]
    variants = [f"{b}_{s}" for b in base for s in ("layernorm", "gelu")]
    variants = [v for v in variants if _registered(v)]
    store = open_store(tmp_path / "s.db")
    wf = StudyWorkflow(store, StudyConfig(workloads=tuple(base), variants=tuple(variants)))
    rates = wf.seconds_per_step()
    assert {n: rates[n] for n in base} == {n: measured[n] for n in base}
    for v in variants:
        assert rates[v] == measured.get(v, measured[get_workload(v).base])
    broad = next(p for p in wf.plan(["broad"]))
    expected = sum(200 * get_workload(n).step_budget * measured[n] for n in base)
    assert broad.seconds_left == pytest.approx(expected)


def _registered(name: str) -> bool:
    try:
        get_workload(name)
    except ValueError:
        return False
    return True


def test_timings_of_an_older_workload_version_are_not_used(monkeypatch):
    """A changed workload (version bumped) is a different program: its old timing is dropped."""
    w = get_workload("ctr_dlrm")
    entry = {"seconds_per_trial": 1.0, "chosen": "vmap", "default": "vmap", "strategies": {}}
    fake = {"workloads": {"ctr_dlrm": {**entry, "version": w.version},
                          "mri_unet": {**entry, "version": "old"},
                          "gone_workload": {**entry, "version": "1"}}}
    monkeypatch.setattr(timings, "load_timings", lambda: fake)
    assert list(current_timings()) == ["ctr_dlrm"]
    assert measured_seconds_per_step() == {"ctr_dlrm": pytest.approx(1.0 / w.step_budget)}


def test_recorded_rates_are_scaled_by_the_runs_wall_clock_overhead():
    """Plans count wall time: two runs whose finishes are spaced twice as far apart as their
    trials' own seconds (two workers) need twice the recorded time; a long pause splits runs."""
    from hplists.study.step_rates import RUN_GAP_SECONDS, wall_clock_factor

    def run(start, n, spacing, seconds=1.0):
        return [(start + i * spacing, "w", seconds, 10.0) for i in range(n)]

    tight = run(0.0, 12, 0.5)  # 2 workers x 1 s trials, one finish every 0.5 s: no overhead
    assert wall_clock_factor([tight], workers=2) == pytest.approx(1.0)
    slow = run(0.0, 12, 1.0)
    assert wall_clock_factor([slow], workers=2) == pytest.approx(2.0)
    # The pause between two runs is not training time; a run of fewer than 10 trials says little.
    resumed = run(0.0, 12, 1.0) + run(11.0 + 2 * RUN_GAP_SECONDS, 12, 1.0)
    assert wall_clock_factor([resumed], workers=2) == pytest.approx(2.0)
    assert wall_clock_factor([run(0.0, 5, 10.0)], workers=2) is None
    # Never below 1: a trial's seconds are a lower bound on its wall time.
    assert wall_clock_factor([run(0.0, 12, 0.1)], workers=2) == 1.0
    # Finishes without a time (imported trials) are left out.
    assert wall_clock_factor([[(float("nan"), "w", 1.0, 10.0)] * 20], workers=2) is None


def test_a_few_trials_of_a_paused_run_do_not_move_the_plans_rate():
    """A trial of a run paused with SIGSTOP records the pause as its own seconds: the rate
    stays the one of the others (the median), where the mean would triple it. A variant
    without recorded trials takes its base's recorded rate, scaled alike."""
    from hplists.study.step_rates import FinishedTrial, estimated_seconds_per_step
    from hplists.workloads.engine import worker_count

    base = get_workload("ctr_dlrm")
    normal = [FinishedTrial(float(i), base.name, 1.0, 100.0) for i in range(30)]  # 0.01 s/step
    paused = [FinishedTrial(30.0 + i, base.name, 60.0, 100.0) for i in range(2)]  # 0.6 s/step
    variant = get_workload("ctr_dlrm_layernorm")
    rates = estimated_seconds_per_step([], [base, variant], finished=[normal + paused])

    def parallel(w):
        return worker_count() if w.batching.startswith("processes") else 1

    assert rates[base.name] == pytest.approx(0.01 / parallel(base))  # a finish a second: factor 1
    assert rates[variant.name] == pytest.approx(0.01 / parallel(variant))
    mean = estimated_seconds_per_step([], [base], finished=[normal + paused],
                                      statistic=lambda r: r.mean())
    assert mean[base.name] > 2.5 * rates[base.name]
