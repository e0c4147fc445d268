"""``hplists.evaluate`` / ``hplists evaluate``: a list's first k points scored per seed as paper 001 does."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

import hplists
from hplists import HParams
from hplists.cli.main import main
from hplists.exceptions import InvalidParameterError
from hplists.scoring.time_to_target import step_fraction
from hplists.store import open_store
from hplists.study.evaluate import evaluate
from hplists.workloads import engine
from hplists.workloads.registry import get_workload

GOOD = HParams(3e-2, 0.9, 0.99, warmup_fraction=0.05)
FROZEN = HParams(1e-9, 0.9, 0.99, warmup_fraction=0.05)  # barely moves: misses any useful target
TARGET = 0.2  # error rate of study_blobs that GOOD reaches within its 40 steps


def test_scores_match_the_curves_the_engine_trains(tiny):
    w = get_workload("study_blobs")
    result = evaluate(w, [FROZEN, GOOD], k=2, seeds=[0, 3], target=TARGET)
    for s in result.seeds:
        curves = engine.train(w, [FROZEN, GOOD], s.seed)
        expected = [float(step_fraction(c.steps, c.metric("error_rate"), TARGET, "min", 40))
                    for c in curves]
        assert list(s.fractions) == expected
        assert s.bests == tuple(float(np.min(c.metric("error_rate"))) for c in curves)
        # The list's time is its best point's (paper 001's t_i = min_k t_ki).
        assert s.fraction == min(expected) and math.isfinite(s.fraction)


def test_trials_to_hit_counts_points_in_list_order(tiny):
    result = evaluate("study_blobs", [FROZEN, GOOD, GOOD.replace(learning_rate=2e-2)], k=3,
                      seeds=1, target=TARGET)
    (s,) = result.seeds
    assert math.isinf(s.fractions[0])  # the first point misses
    assert s.first_hit == 1 and s.trials_to_hit == 2
    assert result.hit_rate == 1.0
    only_first = evaluate("study_blobs", [FROZEN, GOOD], k=1, seeds=1, target=TARGET)
    assert only_first.seeds[0].trials_to_hit is None
    assert math.isinf(only_first.seeds[0].fraction) and only_first.hit_rate == 0.0
    assert math.isinf(only_first.median_fraction)


def test_a_store_makes_it_resumable_and_shares_trials_with_run(tiny, tmp_path):
    path = tmp_path / "s.db"
    first = evaluate("study_blobs", [FROZEN, GOOD], k=2, seeds=2, store=path, target=TARGET)
    with open_store(path) as store:
        assert store.count() == 4
        assert store.studies() == ["run/points"]
        before = [(r.point_id, r.seed, r.curve.metric("error_rate").tolist())
                  for r in store.trials()]
    again = evaluate("study_blobs", [FROZEN, GOOD], k=2, seeds=2, store=path, target=TARGET)
    assert again == first
    with open_store(path) as store:  # nothing trained again, nothing lost
        assert [(r.point_id, r.seed, r.curve.metric("error_rate").tolist())
                for r in store.trials()] == before


def test_cli_prints_per_seed_results_as_json(tiny, capsys):
    rc = main(["evaluate", "--workload", "study_blobs", "--list", "nadamw-paper", "--k", "2",
               "--seeds", "0,2", "--target", "0.5", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["workload"] == "study_blobs" and out["k"] == 2 and out["target"] == 0.5
    assert [s["seed"] for s in out["seeds"]] == [0, 2]
    assert out["points"] == [p.to_dict() for p in hplists.get_list("nadamw-paper", k=2)]
    for s in out["seeds"]:
        assert len(s["fractions"]) == 2
        finite = [f for f in s["fractions"] if f != "Infinity"]  # a miss: hplists.json_numbers
        assert s["fraction"] == (min(finite) if finite else "Infinity")


def test_cli_text_names_the_list_workload_and_median(tiny, capsys):
    assert main(["evaluate", "--workload", "study_blobs", "--k", "1", "--target", "0.5",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "nadamw-paper on study_blobs, first 1 points" in out
    assert re.search(r"^\W*0\W.*#1\W*$", out, flags=re.MULTILINE), out  # seed 0's row, point #1
    assert "median t/T" in out


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k": 9}, "k must be at most the list's length 5, got 9"),
        ({"k": 0}, "k"),
        ({"seeds": 0}, "seeds"),
        ({"seeds": [1, 1]}, "seeds must be distinct"),
        ({"steps": 0}, "steps"),
    ],
)
def test_bad_input_names_the_field(tiny, kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        evaluate("study_blobs", "nadamw-paper", **{"target": 0.5, **kwargs})


def test_a_workload_without_target_says_how_to_set_one(tiny):
    w = get_workload("study_blobs")
    assert w.target is None
    with pytest.raises(InvalidParameterError, match=r"has no target at version 1; set one \(`hplists targets set`"):
        evaluate(w, "nadamw-paper", k=1)


def test_cli_rejects_malformed_seeds(capsys):
    assert main(["evaluate", "--workload", "ctr_dlrm", "--seeds", "0,x"]) == 2
    assert "seeds must be a count N or comma-separated seeds" in capsys.readouterr().err


def test_a_list_chosen_on_three_times_the_budget_trains_and_scores_against_it(tiny, capsys,
                                                                             tmp_path):
    """A learning-rate-free list (budget_factor 3: horizons and fractions of M = 3 T) trains
    M steps by default, in evaluate and in `hplists run`; t/M is what its study scored."""
    from hplists.lists import NamedList

    w = get_workload("study_blobs")
    named = NamedList("blobs-3t", "a list chosen on M = 3 T", (GOOD, FROZEN),
                      budget_factor=3)
    result = evaluate(w, named, k=1, seeds=1, target=TARGET)
    assert result.step_budget == 3 * w.step_budget == 120 and result.budget_factor == 3.0
    (curve,) = engine.train(w, [GOOD], 0, step_budget=120)
    assert curve.steps[-1] == 120
    assert result.seeds[0].fractions == (
        float(step_fraction(curve.steps, curve.metric("error_rate"), TARGET, "min", 120)),)
    assert "within M=120 (3 x T)" in str(result)
    # --steps still sets the budget outright.
    assert evaluate(w, named, k=1, seeds=1, target=TARGET, steps=40).step_budget == 40
    path = tmp_path / "blobs-3t.json"
    path.write_text(json.dumps(named.to_dict()))
    assert json.loads(path.read_text())["budget_factor"] == 3.0
    assert main(["run", "--workload", "study_blobs", "--list", str(path), "--k", "1",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["step_budget"] == 120 and out["target"] == w.target
    assert main(["run", "--workload", "study_blobs", "--list", str(path), "--k", "1"]) == 0
    assert "M=120 (3 x T)" in capsys.readouterr().out
