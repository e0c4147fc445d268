"""``hplists build``, ``hplists loo`` and ``hplists score`` on a real SQLite trial store."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from hplists import Curve, HParams
from hplists.cli.main import main
from hplists.lists.greedy import greedy_list
from hplists.lists.loo import leave_one_out
from hplists.lists.registry import load_list
from hplists.scoring.matrix import TrialMatrix, submission_times
from hplists.scoring.profiles import benchmark_score
from hplists.scoring.workload_specs import load_specs
from hplists.store import open_store

WORKLOADS = ("w0", "w1", "w2")
TARGETS = {"w0": 0.15, "w1": 0.12, "w2": 0.2}
BUDGET = 1000


def make_store(path, *, points=12, seeds=2, studies=("s1",)):
    """A small study: error-rate curves whose speed depends on the point and workload."""
    rng = np.random.default_rng(0)
    store = open_store(path)
    steps = np.arange(1, 21) * (BUDGET // 20)
    for study in studies:
        for p in range(points):
            hp = HParams(learning_rate=float(10 ** rng.uniform(-4, -2)), beta1=0.9, beta2=0.99,
                         weight_decay=0.01, warmup_fraction=0.05)
            for w in WORKLOADS:
                rate = rng.uniform(0.3, 3.0)
                for seed in range(seeds):
                    err = 0.9 * np.exp(-steps / BUDGET * rate * (1 + 0.05 * seed)) + 0.05
                    store.put(study, hp, w, seed, Curve(steps, steps / 100, err,
                                                        {"error_rate": err}), point_index=p)
    store.close()


@pytest.fixture
def study(tmp_path):
    db = tmp_path / "trials.db"
    make_store(db)
    specs = tmp_path / "specs.json"
    specs.write_text(json.dumps({"workloads": {
        w: {"metric": "error_rate", "mode": "min", "target": TARGETS[w], "step_budget": BUDGET}
        for w in WORKLOADS}}))
    return str(db), str(specs)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def matrix(db, specs):
    store = open_store(db, create=False)
    try:
        return TrialMatrix.from_records(store.trials(), load_specs(specs))
    finally:
        store.close()


def test_build_prints_the_greedy_list_and_its_cost(study, capsys):
    db, specs = study
    code, out, _ = run(capsys, "build", "--store", db, "--specs", specs, "--k", 3)
    assert code == 0
    m = matrix(db, specs)
    ref = greedy_list(m.fractions, 3, 2.0)
    for r in ref.indices:
        assert m.point_ids[r] in out
    assert f"cost C_2 = {ref.cost:.6f}" in out
    assert "learning_rate" in out and "w2" in out


def test_build_json_matches_the_api_and_exhaustive_is_no_worse(study, capsys):
    db, specs = study
    m = matrix(db, specs)
    code, out, _ = run(capsys, "build", "--store", db, "--specs", specs, "--k", 3, "--tau", 1.5,
                       "--json")
    greedy = json.loads(out)
    assert code == 0 and greedy["method"] == "greedy" and greedy["tau"] == 1.5
    ref = greedy_list(m.fractions, 3, 1.5)
    assert [p["point_id"] for p in greedy["points"]] == [m.point_ids[r] for r in ref.indices]
    assert greedy["cost"] == pytest.approx(ref.cost)
    code, out, _ = run(capsys, "build", "--store", db, "--specs", specs, "--k", 3, "--tau", 1.5,
                       "--exhaustive", "--json")
    assert json.loads(out)["cost"] <= greedy["cost"] * (1 + 1e-12)


def test_build_output_is_a_loadable_list_file_and_is_never_overwritten(study, capsys, tmp_path):
    db, specs = study
    out_file = tmp_path / "mylist.json"
    code, _, _ = run(capsys, "build", "--store", db, "--specs", specs, "--k", 2, "-o", out_file,
                     "--name", "mine")
    assert code == 0
    named = load_list(out_file)
    m = matrix(db, specs)
    ref = greedy_list(m.fractions, 2, 2.0)
    assert named.name == "mine"
    assert [p.learning_rate for p in named.points] == [
        m.points[r]["learning_rate"] for r in ref.indices]
    assert named.provenance["point_ids"] == [m.point_ids[r] for r in ref.indices]
    before = out_file.read_text()
    code, _, err = run(capsys, "build", "--store", db, "--specs", specs, "--k", 2, "-o", out_file)
    assert code == 2 and "exists; not overwriting" in err
    assert out_file.read_text() == before


def test_loo_prints_the_held_out_table_and_matches_the_api(study, capsys):
    db, specs = study
    code, out, _ = run(capsys, "loo", "--store", db, "--specs", specs, "--k", 2, "--sizes", 3,
                       "--taus", "1,2")
    assert code == 0
    assert "held-out workloads trained" in out and "Figure 2" in out and "Table 12" in out
    code, out, _ = run(capsys, "loo", "--store", db, "--specs", specs, "--k", 2, "--json")
    got = json.loads(out)
    ref = leave_one_out(matrix(db, specs), 2, 2.0)
    assert got["num_trained"] == ref.num_trained
    assert [f["workload"] for f in got["folds"]] == list(WORKLOADS)
    for row, fold in zip(got["folds"], ref.folds, strict=True):
        frac = math.inf if row["fraction"] == "Infinity" else row["fraction"]
        assert frac == pytest.approx(fold.fraction)
        assert 1 <= row["random_search_n_time"] <= 12


def test_score_treats_each_study_as_a_submission(tmp_path, capsys):
    db = tmp_path / "two.db"
    make_store(db, points=4, studies=("a", "b"))
    specs = tmp_path / "specs.toml"
    specs.write_text("".join(
        f'[workloads.{w}]\nmetric = "error_rate"\nmode = "min"\ntarget = {TARGETS[w]}\n'
        f"step_budget = {BUDGET}\n" for w in WORKLOADS))
    code, out, _ = run(capsys, "score", "--store", db, "--specs", specs)
    assert code == 0 and "benchmark score" in out and "tau=4" in out
    code, out, _ = run(capsys, "score", "--store", db, "--specs", specs, "--json")
    got = json.loads(out)
    store = open_store(db, create=False)
    subs = submission_times(store.trials(), load_specs(specs))
    store.close()
    scores = dict(zip(subs.names, benchmark_score(subs.times), strict=True))
    assert {s["study"]: s["score"] for s in got["submissions"]} == pytest.approx(scores)
    assert len(got["taus"]) == 100


def test_a_store_with_several_studies_needs_study_for_build(tmp_path, capsys):
    db = tmp_path / "two.db"
    make_store(db, points=3, seeds=1, studies=("a", "b"))
    specs = tmp_path / "s.json"
    specs.write_text(json.dumps({"workloads": {w: {"metric": "error_rate", "mode": "min",
                                                   "target": 0.2, "step_budget": BUDGET}
                                               for w in WORKLOADS}}))
    code, _, err = run(capsys, "build", "--store", db, "--specs", specs, "--k", 1)
    assert code == 2 and "several studies ['a', 'b']" in err
    code, _, err = run(capsys, "build", "--store", db, "--specs", specs, "--k", 1, "--study", "c")
    assert code == 2 and "study='c'" in err
    code, _, _ = run(capsys, "build", "--store", db, "--specs", specs, "--k", 1, "--study", "b")
    assert code == 0


@pytest.mark.parametrize("command", ["build", "loo", "score"])
def test_an_empty_store_is_a_clear_error(tmp_path, capsys, command):
    db = tmp_path / "empty.db"
    open_store(db).close()
    extra = ["--k", "1"] if command == "build" else []
    code, _, err = run(capsys, command, "--store", db, *extra)
    assert code == 2 and "has no trials" in err
    code, _, err = run(capsys, command, "--store", tmp_path / "missing.db", *extra)
    assert code == 2 and "does not exist" in err


def test_clear_errors_for_bad_names_targets_and_k(study, capsys, tmp_path):
    db, specs = study
    code, _, err = run(capsys, "build", "--store", db, "--specs", specs, "--k", 13)
    assert code == 2 and "k must be an integer in [1, 12]" in err
    code, _, err = run(capsys, "build", "--store", db, "--specs", specs, "--k", 2,
                       "--workloads", "w0,nope")
    assert code == 2 and "unknown workload(s) ['nope']" in err
    code, _, err = run(capsys, "score", "--store", db, "--specs", specs, "--studies", "zz")
    assert code == 2 and "unknown study(ies) ['zz']" in err
    # a workload that is neither in the specs file nor registered
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"workloads": {"w0": {
        "metric": "error_rate", "mode": "min", "target": 0.2, "step_budget": BUDGET}}}))
    code, _, err = run(capsys, "build", "--store", db, "--specs", partial, "--k", 2)
    assert code == 2 and "unknown workload 'w1'" in err
    notarget = tmp_path / "notarget.json"
    notarget.write_text(json.dumps({"workloads": {w: {
        "metric": "error_rate", "mode": "min", "target": None, "step_budget": BUDGET}
        for w in WORKLOADS}}))
    code, _, err = run(capsys, "loo", "--store", db, "--specs", notarget)
    assert code == 2 and "workload 'w0' has no target" in err


def test_a_curve_with_nan_is_a_clear_error(tmp_path, capsys):
    db = tmp_path / "nan.db"
    store = open_store(db)
    store.put("s", HParams(1e-3, 0.9, 0.99), "w0", 0,
              Curve([500, 1000], [1.0, 2.0], [1.0, 1.0], {"error_rate": [0.3, math.nan]}))
    store.close()
    specs = tmp_path / "s.json"
    specs.write_text(json.dumps({"workloads": {"w0": {
        "metric": "error_rate", "mode": "min", "target": 0.2, "step_budget": BUDGET}}}))
    code, _, err = run(capsys, "build", "--store", db, "--specs", specs, "--k", 1)
    assert code == 2 and "error_rate=nan at step 1000 but is not marked diverged" in err
