"""The report reads no curve: each store reduces its trials to their time to target and best
value, and every table is what the curves give (the analysis of the full records).

A store whose curve reads fail makes ``write_report`` fail if anything asks for a curve;
the tables it writes are compared, cell by cell and note by note, with those of
``Analysis(load_records(...))``, which scores every curve.
"""

from __future__ import annotations

import dataclasses

import pytest

from hplists import Curve, HParams
from hplists.report import Analysis, load_records, write_report
from hplists.report.figures import all_figures
from hplists.report.synthetic import synthetic_study
from hplists.report.tables import all_tables
from hplists.store import open_store
from hplists.store.sqlite import SQLiteStore


def _tables(a: Analysis) -> list[tuple[str, str, tuple[str, ...], str | None]]:
    """Every table's rows (repr: NaN equals NaN, floats exactly), notes and reason if missing."""
    return [(t.key, repr(t.rows), t.notes, t.missing) for t in all_tables(a)]


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """A whole synthetic study over two stores: duplicates, a failed and a running trial."""
    tmp = tmp_path_factory.mktemp("stores")
    records, specs = synthetic_study(num_points=24, workloads=3, seeds=2, k=2, num_evals=12)
    first, second = tmp / "a.db", tmp / "b.db"
    with open_store(first) as a:
        a.put_many(records[: len(records) * 2 // 3])
        a.claim("broad200", HParams(0.5, 0.9, 0.99), "ctr_dlrm", 0)  # finished in b.db
        a.claim("broad200", HParams(0.6, 0.9, 0.99), "mri_unet", 0)  # still running
        key = a.claim("broad200/reruns", HParams(0.4, 0.9, 0.99), "mri_unet", 7)
        a.fail(key, "out of memory")
    with open_store(second) as b:
        b.put_many(records[len(records) // 2:])  # a sixth of the trials in both stores
        b.put("broad200", HParams(0.5, 0.9, 0.99), "ctr_dlrm", 0,  # finished here
              Curve([10], [1.0], [1.0], {"log_loss": [0.9]}))
        b.put("other", HParams(0.5, 0.9, 0.99), "no_spec_here", 0,  # a workload without spec
              Curve([10], [1.0], [1.0], {"x": [0.9]}))
    return [first, second], specs


def test_the_analysis_from_the_stores_is_the_analysis_of_the_curves(stores):
    paths, specs = stores
    records, sources, duplicates = load_records(paths)
    curves = Analysis(records, specs, registry=False, k=2, sources=sources,
                      duplicates=duplicates)
    reduced = Analysis.from_stores(paths, specs, registry=False, k=2)
    assert reduced.sources == curves.sources and duplicates > 0
    assert _tables(reduced) == _tables(curves)
    assert reduced.notes == curves.notes
    assert any("still running" in n for n in reduced.notes)
    assert any("ended in error" in n for n in reduced.notes)
    assert any("'no_spec_here' has no spec" in n for n in reduced.notes)
    assert [(f.key, f.png) for f in all_figures(reduced)] == \
        [(f.key, f.png) for f in all_figures(curves)]


def test_write_report_reads_no_curve(stores, tmp_path, monkeypatch):
    paths, specs = stores
    records, sources, duplicates = load_records(paths)
    want = _tables(Analysis(records, specs, registry=False, k=2, sources=sources,
                            duplicates=duplicates))

    def no_curves(*args, **kwargs):
        raise AssertionError("the report read curves")

    monkeypatch.setattr(SQLiteStore, "trials", no_curves)
    monkeypatch.setattr(SQLiteStore, "_read_curves", staticmethod(no_curves))
    report = write_report(paths, tmp_path / "out", specs=specs, registry=False, k=2)
    assert [(t.key, repr(t.rows), t.notes, t.missing) for t in report.tables] == want
    assert (tmp_path / "out" / "tables" / "table5.csv").is_file()


def test_a_trial_that_cannot_be_scored_is_reported_as_from_the_curves(tmp_path):
    """A baseline trial evaluated beyond its budget: the same row missing, the same words."""
    records, specs = synthetic_study(num_points=16, workloads=2, seeds=1, k=2,
                                     baselines=True, num_evals=8)
    spec = specs["ctr_dlrm"]
    bad = next(r for r in records if r.study == "baseline/metz" and r.workload == "ctr_dlrm")
    long = Curve([10, 2 * spec.step_budget], [1.0, 2.0], [1.0, 1.0],
                 {spec.metric: [0.9, 0.1]})
    records = [dataclasses.replace(r, curve=long) if r is bad else r for r in records]
    with open_store(tmp_path / "s.db") as s:
        s.put_many(records)
    loaded, sources, _ = load_records([tmp_path / "s.db"])
    curves = Analysis(loaded, specs, registry=False, k=2, sources=sources)
    reduced = Analysis.from_stores([tmp_path / "s.db"], specs, registry=False, k=2)
    assert _tables(reduced) == _tables(curves)
    why = reduced.why_missing("rows") or next(
        str(e) for b, e in reduced.missing_baselines() if b.study == "baseline/metz")
    assert "beyond the step budget" in why


def test_every_backend_reduces_the_trials_as_the_curves_do(store_url):
    """SQLite in its own query, PostgreSQL through the summaries: the same tables."""
    records, specs = synthetic_study(num_points=16, workloads=2, seeds=2, k=2, num_evals=8)
    with open_store(store_url) as s:
        s.put_many(records)
    loaded, sources, _ = load_records([store_url])
    curves = Analysis(loaded, specs, registry=False, k=2, sources=sources)
    assert _tables(Analysis.from_stores([store_url], specs, registry=False, k=2)) == \
        _tables(curves)
