"""Trials as columns: the store's arrays are its summaries, and scoring them with array
operations gives what scoring each trial gives (values, errors word for word, medians,
best trials), against the rules written out trial by trial here."""

from __future__ import annotations

import dataclasses
import math
import types
from collections import defaultdict

import numpy as np
import pytest

from hplists import Curve, HParams
from hplists.curves import Status
from hplists.exceptions import DataError
from hplists.scoring.matrix import (
    TrialMatrix,
    grouped_median,
    score_columns,
    score_summary,
    score_trial,
    submission_times,
    submission_times_from_store,
)
from hplists.scoring.workload_specs import WorkloadSpec
from hplists.store import open_store
from hplists.store.base import TrialStore, summarize
from hplists.store.columns import MetricColumns

INF, NAN = math.inf, math.nan
STEPS = [10, 20, 30]


def _curve(values, status=Status.COMPLETE, seconds=(1.0, 2.0, 3.0), steps=STEPS):
    return Curve(steps, list(seconds), [1.0] * len(steps), {"err": list(values)}, status)


@pytest.fixture
def edge_store(store_url):
    """Every case a reduction must get right, on one workload and a second one, in each backend
    (the database computes the columns: SQLite and PostgreSQL must agree with the curves)."""
    store = open_store(store_url)
    runs = [
        ([0.9, 0.5, 0.2], Status.COMPLETE, 0, None),      # reaches 0.5 at step 20
        ([0.9, NAN, 0.1], Status.DIVERGED, 1, None),      # NaN, then a hit
        ([0.9, -INF, INF], Status.DIVERGED, 2, None),     # infinities never reach
        ([0.8, 0.7, 0.6], Status.COMPLETE, 3, None),      # a miss for "min"
        ([0.9, 0.4, NAN], Status.COMPLETE, 4, None),      # NaN in a complete run: refused
        ([0.3, 0.2, 0.1], Status.COMPLETE, None, None),   # a point without an index
        ([0.9, 0.9, 0.1], Status.COMPLETE, 6, (NAN, 2.0, NAN)),  # NaN seconds at the hit
    ]
    for i, (values, status, index, seconds) in enumerate(runs):
        curve = _curve(values, status, seconds or (1.0, 2.0, 3.0))
        for seed in (0, -3, 2**62):
            store.put("s", HParams(1e-3 * (i + 1), 0.9, 0.99), "w", seed, curve,
                      point_index=index)
    store.put("s", HParams(1e-2, 0.9, 0.99), "w", 0,  # evaluated beyond a budget of 30
              Curve([10, 40], [1.0, 4.0], [1.0, 1.0], {"err": [0.9, 0.1]}), point_index=8)
    store.put("s", HParams(2e-2, 0.9, 0.99), "w", 0,  # the metric is not recorded
              Curve(STEPS, [1.0, 2.0, 3.0], [1.0] * 3, {"other": [0.1] * 3}), point_index=9)
    store.put("s", HParams(3e-2, 0.9, 0.99), "w", 0,  # diverged before any evaluation
              Curve([], [], [], {}, Status.DIVERGED), point_index=10)
    key = store.claim("s", HParams(4e-2, 0.9, 0.99), "w", 0, point_index=11)
    store.fail(key, "out of memory")
    store.claim("s", HParams(5e-2, 0.9, 0.99), "w", 0, point_index=12)  # still running
    store.put("s", HParams(1e-3, 0.9, 0.99), "v", 0, _curve([0.4, 0.3, 0.2]),
              point_index=0, workload_version="2")
    yield store
    store.close()


def _same(a, b):
    """Summaries equal field by field, NaN equal to NaN (``metrics`` is for messages only)."""
    return [repr(dataclasses.replace(s, metrics=None)) for s in a] == \
        [repr(dataclasses.replace(s, metrics=None)) for s in b]


@pytest.mark.parametrize(("mode", "target"), [("min", 0.5), ("max", 0.85), ("min", 1.0)])
def test_the_sql_columns_are_the_summaries_of_the_curves(edge_store, mode, target):
    for w in ("w", "v"):
        sql = edge_store.metric_columns("s", w, "err", mode, target)
        ref = TrialStore.metric_columns(edge_store, "s", w, "err", mode, target)
        assert _same(sql.summaries(), ref.summaries())
        assert _same(sql.summaries(), TrialStore.metric_summaries(edge_store, "s", w, "err",
                                                                  mode, target))
        assert sql.records() == [s.record for s in ref.summaries()]
    nometric = edge_store.metric_columns("s", "w", None)
    assert _same(nometric.summaries(), TrialStore.metric_columns(edge_store, "s", "w",
                                                                 None).summaries())
    assert not nometric.metric_evals.any() and (nometric.hit_step == -1).all()


@pytest.mark.parametrize("errors", ["raise", "inf"])
@pytest.mark.parametrize(("mode", "target"), [("min", 0.5), ("max", 0.85)])
def test_each_row_scores_as_its_summary_and_a_refused_one_raises_its_error(
        edge_store, errors, mode, target):
    spec = WorkloadSpec("w", "err", mode, target, 30)
    cols = edge_store.metric_columns("s", "w", "err", mode, target)
    scores = score_columns(cols, {"w": spec}, errors=errors)
    refused = 0
    for i in range(len(cols)):
        try:
            want = score_summary(cols.summary(i), spec, errors=errors)
        except DataError as e:
            refused += 1
            assert scores.problem[i]
            with pytest.raises(DataError) as got:
                scores.check(np.array([i]))
            assert str(got.value) == str(e)
            continue
        assert not scores.problem[i]
        if want is None:
            assert scores.running[i]
            continue
        assert (scores.fraction[i], scores.best[i], scores.index[i]) == \
            (want.fraction, want.best, want.index)
        assert scores.seconds[i] == want.seconds or (math.isnan(scores.seconds[i])
                                                      and math.isnan(want.seconds))
    # NaN in a complete run (3 seeds), beyond the budget, no metric; an error under "raise"
    assert refused == 3 + 2 + (errors == "raise")


def test_the_first_refused_trial_in_order_is_the_one_reported(edge_store):
    spec = {"w": WorkloadSpec("w", "err", "min", 0.5, 30)}
    records = edge_store.trials(study="s", workload="w")
    with pytest.raises(DataError) as whole:
        TrialMatrix.from_store(edge_store, spec, study="s", workloads=["w"])
    with pytest.raises(DataError) as first:
        for r in records:
            score_trial(r, spec["w"])
    assert str(whole.value) == str(first.value)


@pytest.mark.parametrize("seed", range(5))
def test_grouped_median_is_numpy_median(seed):
    rng = np.random.default_rng(seed)
    n, groups = 200, 40
    values = rng.choice([0.1, 0.25, 0.5, 1.0, INF, -INF, NAN], size=n, p=[.2] * 4 + [.1, .05, .05])
    values = np.where(rng.random(n) < 0.3, rng.random(n), values)
    group = rng.integers(0, groups, size=n)
    got = grouped_median(values, group, groups)
    for g in range(groups):
        mine = values[group == g]
        want = np.median(mine) if mine.size else NAN
        assert got[g] == want or (math.isnan(got[g]) and math.isnan(want)), (g, mine)


# ---------------------------------------------------------------- the rules, trial by trial


def _matrix_by_loop(records, specs, names):
    """The matrix as the trial-by-trial rule builds it: per cell, the median over seeds."""
    cells, points, index = defaultdict(list), {}, {}
    for r in records:
        if r.workload not in names:
            continue
        score = score_trial(r, specs[r.workload], errors="inf")
        if score is None:
            continue
        cells[(r.point_id, r.workload)].append(score)
        points.setdefault(r.point_id, r.point)
        if r.point_index is not None:
            index[r.point_id] = min(index.get(r.point_id) or r.point_index, r.point_index)
        else:
            index.setdefault(r.point_id, None)
    ids = sorted(points, key=lambda p: (index[p] is None, index[p] or 0, p))
    ids = [p for p in ids if all((p, w) in cells for w in names)]
    fr = np.array([[np.median([c.fraction for c in cells[(p, w)]]) for w in names] for p in ids])
    best = np.array([[np.median([c.best for c in cells[(p, w)]]) for w in names] for p in ids])
    seeds = np.array([[len(cells[(p, w)]) for w in names] for p in ids])
    return ids, fr, best, seeds


def _submissions_by_loop(records, specs, studies, names, time, best_trial):
    """AlgoPerf's rule written out: per (study, workload, seed) the best trial, then medians."""
    best = {}
    for r in records:
        if r.study not in studies or r.workload not in names:
            continue
        score = score_trial(r, specs[r.workload], errors="inf")
        if score is None:
            continue
        t = score.fraction if time == "fraction" else score.seconds
        rank = (t,) if best_trial == "min" else (
            score.index < 0, score.index, r.point_index is None, r.point_index or 0, r.point_id)
        key = (r.study, r.workload, r.seed)
        if key not in best or rank < best[key][0]:
            best[key] = (rank, t)
    times = np.full((len(studies), len(names)), INF)
    for a, s in enumerate(studies):
        for b, w in enumerate(names):
            ts = [t for (s_, w_, _), (_, t) in best.items() if (s_, w_) == (s, w)]
            if ts:
                times[a, b] = np.median(ts)
    return times


def _random_records(seed):
    """Duck-typed trials of two studies on three workloads: seeds, ties, misses, errors."""
    rng = np.random.default_rng(seed)
    out = []
    for study in ("a", "b"):
        for p in range(12):
            index = None if p in (3, 7) else int(rng.integers(0, 6))  # shared indices: ties
            for w in ("x", "y", "z"):
                for s in range(int(rng.integers(1, 4))):
                    k = int(rng.integers(0, 4))  # first hit at evaluation k (3: a miss)
                    values = [0.9 if j < k else 0.1 for j in range(3)]
                    status = Status.COMPLETE
                    if rng.random() < 0.05:
                        status = Status.ERROR
                    elif rng.random() < 0.05:
                        status = Status.RUNNING
                    seconds = sorted(rng.choice([1.0, 2.0, 3.0, 4.0], size=3))
                    curve = None if status is not Status.COMPLETE else _curve(
                        values, seconds=seconds)
                    out.append(types.SimpleNamespace(
                        study=study, point_id=f"p{p:02d}", point_index=index,
                        point={"lr": float(p)}, workload=w, workload_version="1", seed=s,
                        status=status, message="", curve=curve))
    rng.shuffle(out)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_matrix_and_submission_times_follow_the_rules_trial_by_trial(seed):
    records = _random_records(seed)
    specs = {w: WorkloadSpec(w, "err", "min", 0.5, 30) for w in "xyz"}
    names = ["x", "y", "z"]
    m = TrialMatrix.from_records([r for r in records if r.study == "a"], specs, study="a",
                                 workloads=names, errors="inf", missing="drop")
    ids, fr, best, seeds = _matrix_by_loop([r for r in records if r.study == "a"], specs, names)
    assert list(m.point_ids) == ids
    np.testing.assert_array_equal(m.fractions, fr)
    np.testing.assert_array_equal(m.best_metric, best)
    np.testing.assert_array_equal(m.seeds, seeds)
    for time in ("fraction", "seconds"):
        for rule in ("algoperf", "min"):
            subs = submission_times(records, specs, studies=["a", "b"], workloads=names,
                                    time=time, errors="inf", best_trial=rule)
            np.testing.assert_array_equal(
                subs.times, _submissions_by_loop(records, specs, ["a", "b"], names, time, rule))


def test_submission_times_from_a_store_call_keep_once_per_trial(edge_store):
    specs = {"w": WorkloadSpec("w", "err", "min", 0.5, 30)}
    seen = []

    def keep(r):
        seen.append((r.point_id, r.seed))
        return r.status is not Status.ERROR and r.seed == 0 and r.point_index not in (4, 8, 9)

    subs = submission_times_from_store(edge_store, specs, studies=["s"], workloads=["w"],
                                       keep=keep)
    assert sorted(seen) == sorted((r.point_id, r.seed) for r in edge_store.trials(workload="w"))
    kept = [r for r in edge_store.trials(workload="w") if keep(r)]
    assert subs.times.tolist() == submission_times(kept, specs, studies=["s"]).times.tolist()


def test_columns_taken_and_joined_keep_every_row_as_it_was(edge_store):
    parts = [edge_store.metric_columns("s", w, "err", "min", 0.5) for w in ("v", "w")]
    joined = MetricColumns.concat(parts)
    assert _same(joined.summaries(), parts[0].summaries() + parts[1].summaries())
    assert list(joined.point_ids) == sorted(joined.point_ids)
    picked = joined.take(np.array([5, 0, 3]))
    assert _same(picked.summaries(), [joined.summary(i) for i in (5, 0, 3)])
    assert _same(MetricColumns.from_summaries(joined.summaries()).summaries(),
                 joined.summaries())
    rec = edge_store.trials(study="s", workload="w")[0]
    assert summarize(rec, None, "min", 0.0).metric_evals == 0


@pytest.mark.parametrize("rule", ["algoperf", "min"])
def test_nan_seconds_pick_the_trial_the_rule_picks(edge_store, rule):
    """A hit whose wall-clock seconds are NaN: the smallest time depends on the trials' order."""
    specs = {"w": WorkloadSpec("w", "err", "min", 0.5, 30)}
    good = [r for r in edge_store.trials(workload="w")
            if r.point_index not in (4, 8, 9) and r.status is not Status.RUNNING]
    want = _submissions_by_loop(good, specs, ["s"], ["w"], "seconds", rule)
    got = submission_times_from_store(
        edge_store, specs, studies=["s"], workloads=["w"], time="seconds", errors="inf",
        best_trial=rule, keep=lambda r: r.point_index not in (4, 8, 9))
    np.testing.assert_array_equal(got.times, want)


def test_a_trial_whose_point_is_gone_is_left_out_as_trials_leaves_it(tmp_path):
    """A damaged store: headers and columns hold the trials that trials() gives."""
    import sqlite3

    path = tmp_path / "s.db"
    with open_store(path) as store:
        for i in range(3):
            store.put("s", HParams(1e-3 * (i + 1), 0.9, 0.99), "w", 0, _curve([0.9, 0.4, 0.2]),
                      point_index=i)
        gone = store.trials()[1].point_id
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("DELETE FROM points WHERE point_id = ?", (gone,))
    conn.commit()
    conn.close()
    with open_store(path, create=False) as store:
        want = [r.point_id for r in store.trials()]
        assert gone not in want and len(want) == 2
        assert [h.point_id for h in store.headers()] == want
        assert [r.point_id for r in store.metric_columns("s", "w", "err", "min", 0.5).records()
                ] == want


def test_versions_leave_out_other_versions_as_keep_does(edge_store):
    specs = {"v": WorkloadSpec("v", "err", "min", 0.5, 30),
             "w": WorkloadSpec("w", "err", "min", 0.5, 30)}
    edge_store.put("s", HParams(7e-3, 0.9, 0.99), "v", 1, _curve([0.2, 0.2, 0.2]),
                   point_index=3, workload_version="3")
    counts = edge_store.version_counts()
    assert counts == TrialStore.version_counts(edge_store) == {
        ("s", "v", "2"): 1, ("s", "v", "3"): 1, ("s", "w", "1"): 26}
    assert edge_store.version_counts("other") == {}
    for version, seeds in (("2", [0]), ("3", [1])):
        by_keep = submission_times_from_store(
            edge_store, specs, studies=["s"], workloads=["v"], errors="inf",
            keep=lambda r, version=version: r.workload_version == version)
        by_versions = submission_times_from_store(
            edge_store, specs, studies=["s"], workloads=["v"], errors="inf",
            versions={"v": version})
        np.testing.assert_array_equal(by_keep.times, by_versions.times)
        assert by_keep.seeds.tolist() == by_versions.seeds.tolist() == [[len(seeds)]]
