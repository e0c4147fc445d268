"""Scoring in the store's own query: the same matrix as from the curves, on the committed stores.

``TrialMatrix.from_store`` asks the store for each trial's first hit and best value
(``TrialStore.metric_summaries``: SQL in SQLite) instead of reading every curve.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from hplists.scoring.matrix import TrialMatrix, score_summary, score_trial
from hplists.scoring.workload_specs import WorkloadSpec
from hplists.store import open_store
from hplists.store.base import TrialStore

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def study_db(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stores")
    for suffix in ("", "-wal"):
        src = ROOT / "stores" / f"study.db{suffix}"
        if src.exists():
            shutil.copy(src, tmp / src.name)
    return open_store(tmp / "study.db", create=False)


def _specs(store, study):
    from hplists.scoring.workload_specs import resolve_specs

    return resolve_specs(store.workloads(study))


@pytest.mark.parametrize("study", ["broad200", "broad200/reruns", "baseline/metz"])
def test_the_sql_summaries_score_as_the_curves_do(study_db, study):
    specs = _specs(study_db, study)
    for w, spec in specs.items():
        sql = study_db.metric_summaries(study, w, spec.metric, spec.mode, spec.target)
        ref = TrialStore.metric_summaries(study_db, study, w, spec.metric, spec.mode, spec.target)
        assert sql == ref
        records = {(r.point_id, r.seed): r for r in study_db.trials(study=study, workload=w)}
        for sm in sql:
            assert score_summary(sm, spec, errors="inf") == score_trial(
                records[(sm.record.point_id, sm.record.seed)], spec, errors="inf")


def test_the_matrix_from_the_store_is_the_matrix_from_the_records(study_db):
    specs = _specs(study_db, "broad200")
    names = sorted(specs)
    a = TrialMatrix.from_store(study_db, specs, study="broad200", workloads=names)
    b = TrialMatrix.from_records(study_db.trials(study="broad200"), specs, study="broad200",
                                 workloads=names)
    assert a.point_ids == b.point_ids and a.points == b.points and a.workloads == b.workloads
    np.testing.assert_array_equal(a.fractions, b.fractions)
    np.testing.assert_array_equal(a.best_metric, b.best_metric)
    np.testing.assert_array_equal(a.seeds, b.seeds)


def test_edge_cases_of_a_summary_score_as_the_curve(tmp_path):
    """Misses, NaN and infinities in diverged runs, a metric that goes up, errors."""
    from hplists import Curve, HParams
    from hplists.curves import Status

    store = open_store(tmp_path / "s.db")
    inf, nan = float("inf"), float("nan")
    runs = [([0.9, 0.5, 0.2], Status.COMPLETE), ([0.9, nan, 0.1], Status.DIVERGED),
            ([0.9, -inf, inf], Status.DIVERGED), ([0.8, 0.7, 0.6], Status.COMPLETE)]
    for i, (values, status) in enumerate(runs):
        store.put("s", HParams(1e-3 * (i + 1), 0.9, 0.99), "w", 0,
                  Curve([10, 20, 30], [1.0, 2.0, 3.0], [1.0] * 3, {"err": values}, status))
    key = store.claim("s", HParams(9e-3, 0.9, 0.99), "w", 0)
    store.fail(key, "boom")
    for mode, target in (("min", 0.5), ("max", 0.85)):
        spec = WorkloadSpec("w", "err", mode, target, 30)
        records = {r.point_id: r for r in store.trials(study="s")}
        for sm in store.metric_summaries("s", "w", "err", mode, target):
            assert score_summary(sm, spec, errors="inf") == \
                score_trial(records[sm.record.point_id], spec, errors="inf")


@pytest.mark.parametrize("time", ["fraction", "seconds"])
def test_submission_times_from_the_store_are_those_from_the_records(study_db, time):
    """`hplists score`'s AlgoPerf submission times, for every study of the committed store."""
    from hplists.scoring.matrix import submission_times, submission_times_from_store
    from hplists.scoring.workload_specs import resolve_specs

    names = ["ctr_dlrm", "graph_gnn", "image_resnet", "mri_unet"]
    specs = resolve_specs(names)
    studies = [s for s in study_db.studies() if set(names) <= set(study_db.workloads(s))]
    from hplists.workloads.registry import get_workload

    # the registered versions are what the targets are for
    version = {w: str(get_workload(w).version) for w in names}
    records = [r for r in study_db.trials() if r.study in studies and r.workload in names]
    keep = {(r.study, r.point_id, r.workload, r.seed) for r in records
            if r.workload_version == version[r.workload]}
    a = submission_times([r for r in records if (r.study, r.point_id, r.workload, r.seed)
                          in keep], specs, studies=studies, workloads=names, time=time,
                         errors="inf")
    b = submission_times_from_store(study_db, specs, studies=studies, workloads=names,
                                    keep=lambda r: (r.study, r.point_id, r.workload, r.seed)
                                    in keep, time=time, errors="inf")
    assert a.names == b.names and a.workloads == b.workloads
    np.testing.assert_array_equal(a.times, b.times)
    np.testing.assert_array_equal(a.seeds, b.seeds)


def test_headers_are_the_trials_without_curves(study_db):
    heads = study_db.headers("broad200")
    full = study_db.trials(study="broad200")
    assert [(h.point_id, h.workload, h.seed, h.status) for h in heads] == \
        [(r.point_id, r.workload, r.seed, r.status) for r in full]
    assert all(h.curve is None and h.provenance == {} for h in heads)
