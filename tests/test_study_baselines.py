"""Baselines of paper 001: learning-rate sweeps, random search, fixed lists, GP Bayesian optimization."""

from __future__ import annotations

import math

import numpy as np
import pytest

from helpers.workloads import TinyBlobs, TinyLine
from hplists import HParams
from hplists.curves import Curve, Status
from hplists.space import get_space
from hplists.store import open_store
from hplists.study import bayesopt
from hplists.study.baselines import (
    LR_SWEEP_DEFAULTS,
    METZ_RULE,
    fixed_baselines,
    lr_sweep,
    random_search,
)
from hplists.trials import run

SPACE = get_space("nadamw-broad")


def test_lr_sweep_is_five_log_spaced_rates_with_documented_defaults():
    pts = lr_sweep(0.5)
    rates = [p.learning_rate for p in pts]
    assert rates[0] == 1e-4 and rates[-1] == 1e-2
    np.testing.assert_allclose(rates, [1e-4, 10**-3.5, 1e-3, 10**-2.5, 1e-2], rtol=1e-12)
    for p in pts:
        assert p.weight_decay == 0.5
        assert {k: getattr(p, k) for k in LR_SWEEP_DEFAULTS} == LR_SWEEP_DEFAULTS
    assert lr_sweep(1e-4)[2].weight_decay == 1e-4
    assert [p.learning_rate for p in lr_sweep(0.1, n=1)] == [pytest.approx(1e-3)]
    with pytest.raises(ValueError, match="unknown default"):
        lr_sweep(0.5, beta3=0.1)
    with pytest.raises(ValueError, match="weight_decay"):
        lr_sweep(-1.0)


def test_random_search_is_seeded_plain_random_inside_the_space():
    pts = random_search(5)
    assert pts == random_search(5) and pts != random_search(5, seed=6)
    assert all(SPACE.contains(p) for p in pts)
    assert pts != SPACE.sample(5, seed=5)  # not the quasi-random sequence


def test_fixed_baselines_have_their_own_studies_and_update_rules():
    named = {b.study: b for b in fixed_baselines()}
    assert list(named) == ["baseline/lr-sweep-wd0.5", "baseline/lr-sweep-wd1e-4",
                           "baseline/metz", "baseline/random-5", "list/nadamw-paper",
                           "list/nadamw-algoperf-baseline"]
    assert named["baseline/metz"].update_rule == METZ_RULE
    assert named["baseline/metz"].points[0]["learning_rate"] == 0.0011948335721160095
    assert all(b.update_rule is None for s, b in named.items() if s != "baseline/metz")
    assert all(len(b.points) == 5 for b in named.values())
    assert len(fixed_baselines(n=3)[0].points) == 3
    with pytest.raises(ValueError, match="unknown baseline"):
        fixed_baselines(names=["baseline/vizier"])


def test_optuna_encoding_round_trips_every_point_of_the_space():
    dists = bayesopt.distributions(SPACE)
    assert set(dists) == set(SPACE.names)
    for p in SPACE.sample(30, seed=2):
        raw = bayesopt.raw_params(SPACE, p)
        for name, v in raw.items():
            assert dists[name]._contains(dists[name].to_internal_repr(v))
        assert SPACE.materialize(raw) == p


def test_objective_is_the_best_metric_signed_so_that_larger_is_better():
    c = Curve([1, 2, 3], [0.1, 0.2, 0.3], [1.0, 0.9, 0.8], {"err": [0.5, 0.2, 0.3]})
    assert bayesopt.objective(c, "err", "min") == -0.2
    assert bayesopt.objective(c, "err", "max") == 0.5
    dead = Curve([1], [0.1], [math.nan], {"err": [math.nan]}, Status.DIVERGED)
    assert bayesopt.objective(dead, "err", "min") is None
    assert bayesopt.objective(None, "err", "min") is None
    assert bayesopt.objective(c, "other", "min") is None


def test_suggestions_are_deterministic_and_the_gp_takes_over_after_the_startup_points():
    history = [(p, -math.log(p.learning_rate)) for p in SPACE.sample(3, seed=4)]
    a = bayesopt.suggest(SPACE, history, seed=7, n_startup_trials=2)
    assert a == bayesopt.suggest(SPACE, history, seed=7, n_startup_trials=2)
    assert isinstance(a, HParams) and SPACE.contains(a)
    # With 10 startup points the same seed gives the random sampler's point: the GP's differs.
    assert a != bayesopt.suggest(SPACE, history, seed=7, n_startup_trials=10)
    # Failed trials are accepted (and ignored by the GP).
    assert SPACE.contains(bayesopt.suggest(SPACE, [*history, (history[0][0], None)], seed=7))


def _bo(store, study="bo", n=3, seeds=(1, 2), progress=None):
    source = bayesopt.BayesOptSource(store, study, [TinyLine()], seeds, n, n_startup_trials=1)
    return run(store, source, progress=progress), source


@pytest.mark.slow
def test_bayesopt_with_a_fixed_seed_is_deterministic_and_resumes_exactly(tmp_path):
    """Two fresh runs give the same points; a run killed mid-way resumes to the same points."""
    a = open_store(tmp_path / "a.db")
    counts, _ = _bo(a)
    assert counts["trained"] == 6
    runs = {(r.seed, r.point_index): r.point_id for r in a.trials(study="bo")}
    assert sorted(runs) == [(s, i) for s in (1, 2) for i in range(3)]
    assert len(set(runs.values())) == 6

    b = open_store(tmp_path / "b.db")
    done = []

    def interrupt(k):
        done.append(k)
        if sum(done) > 3 * TinyLine.step_budget:  # during the fourth trial
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _bo(b, progress=interrupt)
    assert b.count(study="bo", status="complete") == 3
    counts, source = _bo(b)
    assert counts["trained"] == 3 and source.done()
    assert {(r.seed, r.point_index): r.point_id for r in b.trials(study="bo")} == runs
    for r in b.trials(study="bo"):
        assert r.status is Status.COMPLETE
        assert r.provenance["bayesopt"]["trial"] == r.point_index
    # Nothing left: a third run trains nothing.
    assert _bo(b)[0]["trained"] == 0

    # The first 2 trials of each 3-trial run are a 2-trial run.
    assert bayesopt.copy_prefix(a, "bo", "bo-2", 2) == 4
    assert bayesopt.copy_prefix(a, "bo", "bo-2", 2) == 0
    prefix = {(r.seed, r.point_index): r.point_id for r in a.trials(study="bo-2")}
    assert prefix == {k: v for k, v in runs.items() if k[1] < 2}
    assert all(r.provenance["source_provenance"]["copied_from"] == "bo"
               for r in a.trials(study="bo-2"))


def test_bayesopt_source_counts_work_and_reads_recorded_runs(tmp_path):
    store = open_store(tmp_path / "c.db")
    source = bayesopt.BayesOptSource(store, "bo", [TinyBlobs(), TinyLine()], (1, 2, 3), 4)
    assert source.remaining_trials() == 24
    assert source.remaining_work() == 12 * TinyBlobs.step_budget + 12 * TinyLine.step_budget
    with pytest.raises(ValueError, match="n_trials"):
        bayesopt.BayesOptSource(store, "bo", [TinyLine()], (1,), 0)


def test_a_baseline_is_one_record_that_the_study_and_the_report_read(tiny, monkeypatch, tmp_path):
    """Adding a baseline is adding one record to hplists.study.baselines.BASELINES: the study
    plans and runs it, records it in its manifest, and the report shows its row."""
    from helpers import workloads as sw
    from hplists.report.analysis import Analysis
    from hplists.report.synthetic import synthetic_study
    from hplists.report.tables import table5, table6
    from hplists.study import baselines as bl
    from hplists.study.workflow import StudyConfig, StudyWorkflow

    fake = bl.Baseline("two-points", "Two fixed points", "baseline/two-points", None, 2,
                       "two NAdamW points", points=lambda s: [HParams(1e-3, 0.9, 0.999),
                                                              HParams(3e-3, 0.9, 0.99)])
    monkeypatch.setattr(bl, "BASELINES", (*bl.BASELINES, fake))

    # the study: planned, runnable by its study name, in the manifest
    cfg = StudyConfig(workloads=sw.BASE, points=12, seeds=2, k=3, bo_budgets=())
    wf = StudyWorkflow(open_store(tmp_path / "p.db"), cfg)
    (plan,) = wf.plan(["baselines"])
    assert "baseline/two-points" in plan.studies
    # 4 baselines of k = 3 points, 2 lists of 5 points and the new one's 2, x 3 workloads x 2 seeds
    assert plan.trials == (4 * 3 + 2 * 5 + 2) * 3 * 2
    assert wf.manifest()["studies"]["baseline:two-points"] == "baseline/two-points"
    only = StudyWorkflow(wf.store, StudyConfig(workloads=sw.BASE, points=12, seeds=2, k=3,
                                               bo_budgets=(), baselines=("baseline/two-points",)))
    assert only.plan(["baselines"])[0].trials == 2 * 3 * 2

    # the report: a row of Tables 5 and 6 from a (synthetic) store holding its study
    records, specs = synthetic_study(num_points=20, workloads=3, num_evals=8, seeds=2)
    assert {r.study for r in records} >= {"baseline/two-points"}
    a = Analysis(records, specs, registry=False)
    assert "Two fixed points" in [r.label for r in a.rows]
    for table in (table5(a), table6(a)):
        assert table.missing is None and "Two fixed points" in table.column("row"), table.key
