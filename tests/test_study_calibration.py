"""Calibration of the targets (analog of Table 4 of paper 001): the 200 points, the counts, the flags.

Table 4 counts, per workload, the points that reach the target within the
budget, and how many of those also do on at least one / two other workloads.
The counting is checked on hand-made curves with known answers (including
diverged runs, failed runs, several seeds and a metric that goes up); the
calibration runs are checked on a tiny workload through the API and the CLI.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.workloads import TinyLogistic
from hplists import Curve
from hplists.cli.main import main
from hplists.curves import Status
from hplists.space import get_space
from hplists.store import open_store
from hplists.study import calibration as cal
from hplists.workloads import registry
from hplists.workloads import targets_file as tfile

T = 100


def curve(values, status=Status.COMPLETE, metric="error_rate"):
    steps = [25, 50, 75, 100][: len(values)]
    return Curve(steps, [0.1 * s for s in steps], [1.0] * len(steps), {metric: values}, status)


def spec(target, mode="min", metric="error_rate"):
    return {"target": target, "metric": metric, "mode": mode,
            "provenance": {"step_budget": T}}


P = [{"lr": float(i + 1)} for i in range(6)]  # six points, p0..p5
HIT, MISS = [0.5, 0.3, 0.2, 0.1], [0.9, 0.8, 0.7, 0.6]  # target 0.25 on "a" and "b"


@pytest.fixture
def store(tmp_path):
    """Six points on three workloads with a known success pattern.

    a: p0 p1 p2 succeed (p2 by a run that diverged after reaching the target), p3 failed (error)
    b: p0 p1 succeed; p2 has seeds hit/miss/hit (median: success); p4 seeds hit/miss (miss)
    c (max metric, target 0.8): p0 succeeds, p5 succeeds; p1 misses
    """
    s = open_store(tmp_path / "cal.db")
    put = s.put
    for i in (0, 1):
        put("broad200", P[i], "a", 0, curve(HIT))
    put("broad200", P[2], "a", 0, curve([0.5, 0.2, np.nan], Status.DIVERGED))
    key = s.claim("broad200", P[3], "a", 0)
    s.fail(key, "out of memory")
    for i in (4, 5):
        put("broad200", P[i], "a", 0, curve(MISS))
    for i in (0, 1):
        put("broad200", P[i], "b", 0, curve(HIT))
    for seed, v in ((0, HIT), (1, MISS), (2, HIT)):
        put("broad200", P[2], "b", seed, curve(v))
    for seed, v in ((0, HIT), (1, MISS)):
        put("broad200", P[4], "b", seed, curve(v))
    for i in (3, 5):
        put("broad200", P[i], "b", 0, curve(MISS))
    acc_hit, acc_miss = [0.5, 0.85, 0.9, 0.9], [0.5, 0.6, 0.7, 0.75]
    for i, v in ((0, acc_hit), (1, acc_miss), (5, acc_hit)):
        put("broad200", P[i], "c", 0, curve(v, metric="accuracy"))
    put("other-study", P[0], "a", 0, curve(HIT))
    return s


TARGETS = {"a": spec(0.25), "b": spec(0.25), "c": spec(0.8, "max", "accuracy")}


def test_the_200_points_are_the_seed_0_halton_sample_of_nadamw_broad_in_study_broad200():
    assert cal.CALIBRATION_STUDY == "broad200" and cal.CALIBRATION_SPACE == "nadamw-broad"
    pts = cal.calibration_points()
    assert len(pts) == 200 and pts == get_space("nadamw-broad").sample(200, seed=0)
    assert cal.BAND == (0.01, 0.15)


def test_calibration_table_counts_successes_and_successes_on_one_or_two_other_workloads(store):
    t = cal.calibration_table(store, workloads=["a", "b", "c"], targets=TARGETS, expected_points=6)
    rows = {r.workload: r for r in t.rows}
    a, b, c = rows["a"], rows["b"], rows["c"]
    # a: p0, p1, p2 succeed. p0: also b and c (2 others); p1: also b; p2: also b.
    assert (a.points, a.successes, a.also_one, a.also_two, a.errors) == (6, 3, 3, 1, 1)
    # b: p0, p1, p2 (2 of 3 seeds) succeed; p4 (1 of 2 seeds) does not.
    assert (b.points, b.successes, b.also_one, b.also_two) == (6, 3, 3, 1)
    # c (higher is better): p0 (also a and b), p5 (nowhere else).
    assert (c.points, c.successes, c.also_one, c.also_two) == (3, 2, 1, 1)
    assert a.fraction == 0.5
    assert (a.unknown_elsewhere, b.unknown_elsewhere, c.unknown_elsewhere) == (1, 1, 0)  # p2: no c
    assert t.study == "broad200"


def test_calibration_table_flags_fractions_outside_the_band_and_incomplete_rows(store):
    t = cal.calibration_table(store, workloads=["a", "b", "c"], targets=TARGETS, expected_points=6,
                   band=(0.01, 0.6))
    flags = {r.workload: t.flag(r) for r in t.rows}
    assert flags == {"a": "ok", "b": "ok", "c": "incomplete (3/6)"}
    assert not t.ok
    strict = cal.calibration_table(store, workloads=["a"], targets=TARGETS, expected_points=6)
    assert strict.flag(strict.rows[0]) == "OUTSIDE [1%, 15%]" and not strict.ok
    only_a = cal.calibration_table(store, workloads=["a"], targets=TARGETS, expected_points=6,
                        band=(0.01, 0.6))
    assert only_a.ok and only_a.rows[0].also_one == 0  # no other workload in the table


def test_calibration_table_as_markdown_and_json(store):
    t = cal.calibration_table(store, workloads=["a", "b"], targets=TARGETS, expected_points=6)
    md = t.to_markdown()
    assert md.splitlines()[0].startswith("| workload | target | points | train successfully")
    assert "| a | 0.25 (error_rate, min) | 6 | 3 | 50.0 | 3 | 0 |" in md
    js = t.to_json()
    assert js["rows"][0]["fraction"] == 0.5 and js["ok"] is False and js["band"] == [0.01, 0.15]
    json.dumps(js)


def test_calibration_table_needs_a_target_for_every_workload_and_known_workloads(store):
    with pytest.raises(ValueError, match="workload 'c' has no target; set it first"):
        cal.calibration_table(store, workloads=["a", "c"], targets={"a": spec(0.25)})
    with pytest.raises(ValueError, match=r"has no trials on \['zzz'\]"):
        cal.calibration_table(store, workloads=["zzz"], targets=TARGETS)
    with pytest.raises(ValueError, match="has no trials with study='nope'"):
        cal.calibration_table(store, study="nope", targets=TARGETS)


def test_calibration_table_defaults_to_every_workload_of_the_study_when_none_is_registered(store):
    t = cal.calibration_table(store, targets=TARGETS, expected_points=6)
    assert [r.workload for r in t.rows] == ["a", "b", "c"]


# ----- calibration runs on a tiny workload ----------------------------------------------------


class Tiny(TinyLogistic):
    name = "tiny_calibration"
    batching = "sequential"
    data_seed = 1


def test_calibration_runs_the_first_points_for_the_full_budget_and_resumes(tmp_path):
    store = open_store(tmp_path / "c.db")
    out = cal.run_calibration([Tiny()], store, points=3)
    recs = out["tiny_calibration"]
    assert [r.point_index for r in recs] == [0, 1, 2]
    assert [r.hparams for r in recs] == cal.calibration_points(3)
    assert all(r.study == "broad200" and r.seed == 0 and r.curve.steps[-1] == 40 for r in recs)
    n_events = len(store.events())
    cal.run_calibration([Tiny()], store, points=3)
    assert len(store.events()) == n_events  # nothing trained again

    best = sorted(min(r.curve.metric("error_rate")) for r in recs)
    target = {"target": best[1], "metric": "error_rate", "mode": "min",
              "provenance": {"step_budget": 40}}  # not registered: the entry's budget
    t = cal.calibration_table(store, targets={"tiny_calibration": target}, expected_points=3)
    assert t.rows[0].successes == sum(b <= best[1] for b in best)
    assert t.rows[0].step_budget == 40


def test_cli_calibrate_and_calibration_table(tmp_path, monkeypatch, capsys):
    registry._load_builtins()
    monkeypatch.setitem(registry._REGISTRY, Tiny.name, Tiny)
    db = str(tmp_path / "s" / "c.db")
    assert main(["targets", "calibrate", "--store", db, "--workload", "tiny_calibration",
                 "--points", "2", "--no-progress"]) == 0
    assert "tiny_calibration: 2 trials in study 'broad200'" in capsys.readouterr().out
    recs = open_store(db).trials()
    worst = max(max(r.curve.metric("error_rate")) for r in recs)
    tf = tmp_path / "targets.json"
    tfile.write_entries({"tiny_calibration": {"target": worst, "metric": "error_rate",
                                              "mode": "min"}}, tf)
    args = ["targets", "calibration-table", "--store", db, "--targets-file", str(tf), "--points", "2"]
    assert main([*args, "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["rows"][0]
    assert (row["workload"], row["points"], row["successes"], row["flag"]) == (
        "tiny_calibration", 2, 2, "OUTSIDE [1%, 15%]")
    assert main([*args, "--check"]) == 1
    assert "tiny_calibration" in capsys.readouterr().out
    assert main([*args, "--markdown"]) == 0
    assert "| tiny_calibration |" in capsys.readouterr().out
    assert main(["targets", "calibration-table", "--store", db, "--targets-file", str(tmp_path / "none.json")]) == 2
    assert "has no target" in capsys.readouterr().err


def test_calibration_table_and_the_workloads_table_rewrite_their_readme_sections(store, tmp_path, capsys):
    """--update replaces only the text between each table's markers, naming the command."""
    tf = tmp_path / "targets.json"
    tfile.write_entries(TARGETS, tf)
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- calibration-table:start -->\nold\n<!-- calibration-table:end -->\n"
                      "<!-- workloads-table:start -->\nold\n<!-- workloads-table:end -->\nend\n")
    args = ["targets", "calibration-table", "--store", str(store.path), "--targets-file", str(tf), "--points", "6",
            "--update", str(readme)]
    assert main(args) == 0
    text = readme.read_text()
    section = text.split("<!-- calibration-table:start -->\n")[1].split("<!-- calibration-table:end -->")[0]
    assert section.startswith(f"Generated by `hplists targets calibration-table --store {store.path} --study "
                              f"broad200 --targets-file {tf} --update {readme}`")
    assert "| a | 0.25 (error_rate, min) | 6 | 3 |" in section
    assert text.endswith("<!-- workloads-table:start -->\nold\n<!-- workloads-table:end -->\nend\n")
    assert main(args) == 0 and "already up to date" in capsys.readouterr().out

    assert main(["targets", "table", "--store", str(store.path), "--targets-file", str(tf),
                 "--update", str(readme)]) == 0
    text = readme.read_text()
    section = text.split("<!-- workloads-table:start -->\n")[1]
    assert section.startswith(f"Generated by `hplists targets table --store {store.path} "
                              f"--targets-file {tf} --update {readme}`")
    assert "| workload | variant of |" in section and "| a | 0.25" in text
    readme.write_text("no markers\n")
    assert main(args) == 2 and "has no <!-- calibration-table:start -->" in capsys.readouterr().err
