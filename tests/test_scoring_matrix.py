"""From recorded trials to the matrix of step fractions: specs, seeds, statuses and clear errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from hplists import Curve, HParams, Status
from hplists.scoring.matrix import TrialMatrix, score_trial, submission_times
from hplists.scoring.workload_specs import WorkloadSpec, load_specs, resolve_specs
from hplists.store import TrialRecord, open_store, point_id

INF = math.inf
SPECS = {
    "cls": WorkloadSpec("cls", "error_rate", "min", 0.2, 100),
    "mt": WorkloadSpec("mt", "bleu", "max", 30.0, 200),
}


def curve(steps, metric, values, status=Status.COMPLETE, seconds=None):
    steps = list(steps)
    return Curve(steps, seconds or [s / 10 for s in steps], [1.0] * len(steps),
                 {metric: list(values)}, status=status)


def record(point, workload, values, *, seed=0, study="s", index=None, status=Status.COMPLETE,
           steps=None, message=""):
    spec = SPECS[workload]
    c = None
    if values is not None:
        n = len(values)
        steps = steps or [spec.step_budget * (j + 1) // n for j in range(n)]
        c = curve(steps, spec.metric, values, status)
    pt = {"learning_rate": point, "beta1": 0.9, "beta2": 0.99}
    return TrialRecord(study, point_id(pt), index, pt, workload, "1", seed, status, message, c,
                       {})


def test_fractions_follow_each_workloads_direction_target_and_budget():
    recs = [
        record(1e-3, "cls", [0.5, 0.2, 0.1, 0.1], index=0),   # hit at 50/100
        record(1e-3, "mt", [10, 20, 31, 32], index=0),        # hit at 150/200
        record(1e-2, "cls", [0.5, 0.4, 0.3, 0.25], index=1),  # missed
        record(1e-2, "mt", [31, 32, 33, 34], index=1),        # hit at 50/200
    ]
    m = TrialMatrix.from_records(recs, SPECS)
    assert m.names == ("cls", "mt")
    assert m.fractions.tolist() == [[0.5, 0.75], [INF, 0.25]]
    assert m.best_metric.tolist() == [[0.1, 32.0], [0.25, 34.0]]
    assert [p["learning_rate"] for p in m.points] == [1e-3, 1e-2]
    assert m.seeds.tolist() == [[1, 1], [1, 1]]


def test_repeated_seeds_are_summarised_by_their_median():
    recs = [record(1e-3, "cls", v, seed=s) for s, v in enumerate(
        [[0.1, 0.1, 0.1, 0.1], [0.3, 0.3, 0.1, 0.1], [0.3, 0.3, 0.3, 0.3]])]
    # fractions per seed: 0.25, 0.75, inf -> median 0.75
    m = TrialMatrix.from_records(recs, SPECS)
    assert m.fractions.tolist() == [[0.75]]
    assert m.seeds.tolist() == [[3]]
    # with two of three seeds missing, the median is a miss
    recs[1] = record(1e-3, "cls", [0.3] * 4, seed=1)
    assert TrialMatrix.from_records(recs, SPECS).fractions.tolist() == [[INF]]


def test_diverged_trials_keep_earlier_hits_and_running_trials_are_left_out():
    recs = [
        record(1e-3, "cls", [0.5, 0.15, math.nan, math.nan], status=Status.DIVERGED, index=0),
        record(1e-2, "cls", [0.5, math.nan, math.nan, math.nan], status=Status.DIVERGED, index=1),
        record(1e-1, "cls", None, status=Status.RUNNING, index=2),
    ]
    m = TrialMatrix.from_records(recs, SPECS)
    assert m.fractions.tolist() == [[0.5], [INF]]
    assert m.running == 1


def test_nan_in_a_complete_trial_is_a_clear_error():
    recs = [record(1e-3, "cls", [0.5, math.nan, 0.1, 0.1])]
    with pytest.raises(ValueError, match=r"error_rate=nan at step 50 but is not marked diverged"):
        TrialMatrix.from_records(recs, SPECS)


def test_error_trials_stop_scoring_unless_counted_as_misses():
    recs = [record(1e-3, "cls", None, status=Status.ERROR, message="out of memory")]
    with pytest.raises(ValueError, match="ended with status 'error': out of memory"):
        TrialMatrix.from_records(recs, SPECS)
    m = TrialMatrix.from_records(recs, SPECS, errors="inf")
    assert m.fractions.tolist() == [[INF]]


def test_a_workload_without_a_target_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="workload 'cls' has no target"):
        WorkloadSpec("cls", "error_rate", "min", None, 100)
    path = tmp_path / "specs.json"
    path.write_text(json.dumps({"workloads": {"cls": {
        "metric": "error_rate", "mode": "min", "target": None, "step_budget": 100}}}))
    with pytest.raises(ValueError, match="workload 'cls' has no target"):
        load_specs(path)


def test_a_registered_workload_without_a_target_is_a_clear_error():
    import types

    from hplists.scoring.workload_specs import spec_from_workload
    from hplists.workloads import Metric

    w = types.SimpleNamespace(name="toy", metric=Metric("error_rate", "min"), target=None,
                              step_budget=10)
    with pytest.raises(ValueError, match="workload 'toy' has no target"):
        spec_from_workload(w)


def test_specs_files_load_from_toml_and_name_bad_fields(tmp_path):
    good = tmp_path / "s.toml"
    good.write_text('[workloads.mt]\nmetric = "bleu"\nmode = "max"\ntarget = 30.0\n'
                    'step_budget = 200\n')
    assert load_specs(good) == {"mt": SPECS["mt"]}
    bad = tmp_path / "b.toml"
    bad.write_text('[workloads.mt]\nmetric = "bleu"\nmode = "up"\ntarget = 30.0\n'
                   'step_budget = 200\n')
    with pytest.raises(ValueError, match="workload 'mt': mode must be one of 'min', 'max'"):
        load_specs(bad)
    bad.write_text('[workloads.mt]\nmetric = "bleu"\nmode = "max"\ntarget = 30.0\n')
    with pytest.raises(ValueError, match=r"missing field\(s\) \['step_budget'\]"):
        load_specs(bad)
    bad.write_text('[workloads.mt]\nmetric = "bleu"\nmode = "max"\ntarget = 30.0\n'
                   'step_budget = 200\nbudget = 3\n')
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['budget'\]"):
        load_specs(bad)
    with pytest.raises(ValueError, match="suffix must be one of"):
        (tmp_path / "s.yaml").write_text("x")
        load_specs(tmp_path / "s.yaml")
    with pytest.raises(ValueError, match="does not exist"):
        load_specs(tmp_path / "nope.json")


def test_unknown_workload_names_are_clear_errors():
    recs = [record(1e-3, "cls", [0.1] * 4)]
    with pytest.raises(ValueError, match=r"unknown workload\(s\) \['nope'\]"):
        TrialMatrix.from_records(recs, SPECS, workloads=["nope"])
    with pytest.raises(ValueError, match="unknown workload 'cls': no spec given"):
        TrialMatrix.from_records(recs, {"mt": SPECS["mt"]})
    with pytest.raises(ValueError, match="unknown workload 'nope': it is not a registered"):
        resolve_specs(["nope"], SPECS, registry=False)
    with pytest.raises(ValueError, match="unknown study 'x'"):
        TrialMatrix.from_records(recs, SPECS, study="x")
    m = TrialMatrix.from_records(recs, SPECS)
    with pytest.raises(ValueError, match="unknown workload 'mt'; the matrix has"):
        m.column("mt")


def test_no_trials_is_a_clear_error():
    with pytest.raises(ValueError, match="no trials to score"):
        TrialMatrix.from_records([], SPECS)
    with pytest.raises(ValueError, match="no trials to score"):
        submission_times([], SPECS)


def test_several_studies_need_a_choice():
    recs = [record(1e-3, "cls", [0.1] * 4, study="a"), record(1e-3, "cls", [0.1] * 4, study="b")]
    with pytest.raises(ValueError, match=r"several studies \['a', 'b'\]"):
        TrialMatrix.from_records(recs, SPECS)
    assert TrialMatrix.from_records(recs, SPECS, study="b").study == "b"


def test_an_incomplete_matrix_is_an_error_or_drops_points_on_request():
    recs = [record(1e-3, "cls", [0.1] * 4, index=0), record(1e-3, "mt", [31] * 4, index=0),
            record(1e-2, "cls", [0.1] * 4, index=1)]
    with pytest.raises(ValueError, match=r"incomplete: 1 \(point, workload\) pair"):
        TrialMatrix.from_records(recs, SPECS)
    m = TrialMatrix.from_records(recs, SPECS, missing="drop")
    assert len(m.point_ids) == 1 and m.points[0]["learning_rate"] == 1e-3


def test_curves_beyond_the_step_budget_and_missing_metrics_are_errors():
    with pytest.raises(ValueError, match="beyond the step budget 100"):
        TrialMatrix.from_records([record(1e-3, "cls", [0.1, 0.1], steps=[100, 150])], SPECS)
    rec = record(1e-3, "cls", [0.1] * 4)
    with pytest.raises(ValueError, match="has no metric 'bleu'"):
        score_trial(rec, WorkloadSpec("cls", "bleu", "max", 1.0, 100))


def test_mixed_workload_versions_are_refused():
    a = record(1e-3, "cls", [0.1] * 4)
    b = record(1e-2, "cls", [0.1] * 4)
    b = TrialRecord(**{**b.__dict__, "workload_version": "2"})
    with pytest.raises(ValueError, match="several workload versions"):
        TrialMatrix.from_records([a, b], SPECS)


def test_submission_time_is_the_median_over_seeds_of_the_best_trial():
    recs = [
        # study a, seed 0: best of two points is 0.25; seed 1: 0.75; seed 2: missed
        record(1e-3, "cls", [0.1] * 4, study="a", seed=0),
        record(1e-2, "cls", [0.3] * 4, study="a", seed=0),
        record(1e-3, "cls", [0.3, 0.3, 0.1, 0.1], study="a", seed=1),
        record(1e-3, "cls", [0.3] * 4, study="a", seed=2),
        # study b has no trial on "mt": no credit there
        record(1e-3, "cls", [0.3, 0.1, 0.1, 0.1], study="b", seed=0),
        record(1e-3, "mt", [31] * 4, study="a", seed=0),
    ]
    subs = submission_times(recs, SPECS)
    assert subs.names == ("a", "b") and subs.workloads == ("cls", "mt")
    assert subs.times.tolist() == [[0.75, 0.25], [0.5, INF]]
    assert subs.seeds.tolist() == [[3, 1], [1, 0]]
    secs = submission_times(recs, SPECS, time="seconds")
    assert secs.times[1, 0] == 5.0  # the curve's seconds at step 50


def test_matrix_from_a_real_sqlite_store(tmp_path):
    store = open_store(tmp_path / "t.db")
    for i, lr in enumerate([1e-3, 1e-2]):
        hp = HParams(lr, 0.9, 0.99)
        for seed in range(2):
            err = [0.5, 0.15 if lr == 1e-3 else 0.3, 0.1, 0.1]
            store.put("s", hp, "cls", seed, curve([25, 50, 75, 100], "error_rate", err),
                      point_index=i)
    key = store.claim("s", HParams(1e-1, 0.9, 0.99), "cls", 0, point_index=2)
    assert key is not None  # left running
    m = TrialMatrix.from_records(store.trials(), SPECS)
    store.close()
    assert m.fractions.tolist() == [[0.5], [0.75]]
    assert m.seeds.tolist() == [[2], [2]]
    assert m.running == 1
    assert np.array_equal(m.select(["cls"]).fractions, m.fractions)


def test_with_seconds_the_best_trial_is_the_earliest_evaluation_index_as_algoperf_picks_it():
    """AlgoPerf's rule (get_best_trial_index): per seed, the trial that hits at the earliest
    evaluation index, ties to the first trial in run order, and *that trial's* time; not the
    smallest time over trials. Step fractions are the same under both rules."""
    steps = [25, 50, 75, 100]

    def timed(point, index, values, seconds):
        r = record(point, "cls", values, index=index)
        return TrialRecord(**{**r.__dict__, "curve": curve(steps, "error_rate", values,
                                                           seconds=seconds)})

    recs = [
        # both hit at evaluation index 1 (step 50): the second in run order at 6 s ...
        timed(1e-2, 1, [0.3, 0.1, 0.1, 0.1], [3.0, 6.0, 9.0, 12.0]),
        # ... the first in run order at 8 s
        timed(1e-3, 0, [0.3, 0.1, 0.1, 0.1], [4.0, 8.0, 12.0, 16.0]),
        # a third hits at a later evaluation (index 2) but sooner in seconds (3 s)
        timed(3e-3, 2, [0.3, 0.3, 0.1, 0.1], [1.0, 2.0, 3.0, 4.0]),
    ]
    assert [score_trial(r, SPECS["cls"]).index for r in recs] == [1, 1, 2]
    algoperf = submission_times(recs, SPECS, time="seconds")
    assert algoperf.times.tolist() == [[8.0]]  # the first trial (point_index 0), its time
    assert submission_times(recs, SPECS, time="seconds", best_trial="min").times.tolist() == [[3.0]]
    # ties go to the first trial whatever the order of the records
    assert submission_times(recs[::-1], SPECS, time="seconds").times.tolist() == [[8.0]]
    for rule in ("algoperf", "min"):
        assert submission_times(recs, SPECS, best_trial=rule).times.tolist() == [[0.5]]
    with pytest.raises(ValueError, match="best_trial must be one of"):
        submission_times(recs, SPECS, best_trial="fastest")
