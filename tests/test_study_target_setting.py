"""The target-setting procedure end to end on a tiny workload, resumption, the targets file.

The tiny workload (a logistic regression defined here, never registered
globally) runs the whole procedure with 4 points per algorithm and 2 seeds, so
every behaviour of ``hplists targets set`` is exercised in seconds: the named
studies, the best configuration over four algorithms, the seed reruns, the
median target, the variant's two algorithms, the provenance, the merge into
the targets file, and resumption after an interruption or a ``kill -9``.

The last test checks the committed targets file against the workload registry.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers.workloads import TinyLogistic
from hplists.cli.main import main
from hplists.curves import Status
from hplists.store import open_store, point_id
from hplists.study import target_setting as ts
from hplists.study.workloads_table import seconds_per_step, to_markdown
from hplists.workloads import registry
from hplists.workloads import targets_file as tfile
from hplists.workloads.contract import Metric

# One xdist worker runs the module, so the procedure fixture runs once.
pytestmark = pytest.mark.xdist_group("targets_procedure")

CONFIG = ts.TargetConfig(points=4, seeds=2, batching="sequential")  # one program per rule
ALL_ALGOS = ("nadamw", "adamw", "nesterov", "heavy_ball")


class Tiny(TinyLogistic):
    name = "tiny_targets"
    version = "3"


class TinyVariant(Tiny):
    """The variant: same task, its own name and base."""

    name = "tiny_targets_variant"
    base = "tiny_targets"


class TinyAccuracy(Tiny):
    """A metric that goes up: the best configuration is the highest value."""

    name = "tiny_targets_accuracy"
    metric = Metric("accuracy", "max")

    def score(self, outputs, valid):
        return {"accuracy": float(np.mean(np.argmax(outputs, 1) == valid["y"]))}


class Broken(Tiny):
    """Every evaluation is NaN: no run can produce a finite metric."""

    name = "tiny_targets_broken"

    def score(self, outputs, valid):
        return {"error_rate": float("nan")}


OTHER = {"target": 0.5, "metric": "error_rate", "mode": "min", "workload_version": "1",
         "provenance": {"note": "set by someone else"}}


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    """The procedure on the tiny base workload and its variant, into a fresh store."""
    d = tmp_path_factory.mktemp("targets")
    path = d / "targets.json"
    tfile.write_entries({"other_workload": OTHER}, path)
    store = open_store(d / "t.db")
    calls = []
    results = ts.set_targets([TinyVariant(), Tiny()], store, CONFIG, targets_path=path,
                             progress=lambda *a: calls.append(a))
    return {"store": store, "results": {r.workload: r for r in results}, "path": path,
            "calls": calls, "dir": d}


def _best(record, mode="min"):
    v = record.curve.metric("error_rate") if mode == "min" else record.curve.metric("accuracy")
    v = v[np.isfinite(v)]
    if v.size == 0:
        return np.inf if mode == "min" else -np.inf
    return float(v.min() if mode == "min" else v.max())


# ----- definitions ---------------------------------------------------------------------------


def test_horizon_is_three_quarters_of_the_budget_rounded_half_up():
    assert [ts.horizon(t) for t in (1000, 40, 10, 6, 2, 1)] == [750, 30, 8, 5, 2, 1]
    assert ts.horizon(100, 0.5) == 50
    with pytest.raises(ValueError, match="horizon_fraction must be in"):
        ts.horizon(100, 1.5)


def test_study_names_say_workload_version_algorithm_and_seed_reruns():
    assert ts.search_study("w", "3", "nesterov") == "targets/w/v3/nesterov"
    assert ts.seeds_study("w", "3", "nesterov") == "targets/w/v3/nesterov/seeds"


def test_reruns_use_fresh_seeds_never_the_search_seed():
    assert ts.TargetConfig(seeds=5).rerun_seeds == (1, 2, 3, 4, 5)
    assert ts.TargetConfig(seeds=3, search_seed=1).rerun_seeds == (0, 2, 3)


@pytest.mark.parametrize("kw,field", [({"points": 0}, "points"), ({"seeds": 0}, "seeds"),
                                      ({"horizon_fraction": 0.0}, "horizon_fraction")])
def test_bad_configuration_names_the_field(kw, field):
    with pytest.raises(ValueError, match=field):
        ts.TargetConfig(**kw)


def test_search_points_are_the_seeded_halton_prefix_of_each_space():
    a = ts.search_points("adamw", 6)
    assert ts.search_points("adamw", 3) == a[:3]
    assert ts.search_points("adamw", 3, halton_seed=2) != a[:3]


# ----- the procedure, end to end ---------------------------------------------------------------


def test_every_trial_is_in_a_study_named_for_what_it_is(done):
    store = done["store"]
    res = done["results"]
    best = res["tiny_targets"].best_algorithm
    variant_algos = ["nadamw"] if best == "nadamw" else ["nadamw", best]
    expected = {ts.search_study("tiny_targets", "3", a) for a in ALL_ALGOS}
    expected |= {ts.seeds_study("tiny_targets", "3", best)}
    expected |= {ts.search_study("tiny_targets_variant", "3", a) for a in variant_algos}
    expected |= {ts.seeds_study("tiny_targets_variant", "3",
                                res["tiny_targets_variant"].best_algorithm)}
    assert set(store.studies()) == expected
    for a in ALL_ALGOS:
        recs = store.trials(study=ts.search_study("tiny_targets", "3", a))
        assert sorted(r.point_index for r in recs) == [0, 1, 2, 3]
        assert {r.seed for r in recs} == {0} and {r.workload_version for r in recs} == {"3"}
        assert [point_id(p) for p in ts.search_points(a, 4)] == [r.point_id for r in recs]
    seeds = store.trials(study=ts.seeds_study("tiny_targets", "3", best))
    assert sorted(r.seed for r in seeds) == [1, 2] and len({r.point_id for r in seeds}) == 1
    assert all(r.status in (Status.COMPLETE, Status.DIVERGED) for r in store.trials())


def test_target_is_the_median_over_seeds_of_the_best_configurations_best_metric(done):
    store, r = done["store"], done["results"]["tiny_targets"]
    # The best configuration, recomputed from the store: best metric over all four searches.
    cands = []
    for k, a in enumerate(ALL_ALGOS):
        for rec in store.trials(study=ts.search_study("tiny_targets", "3", a)):
            cands.append((_best(rec), k, rec.point_index, a, rec.point_id))
    value, _, index, algo, pid = min(cands)
    assert (r.best_algorithm, r.best.best_index, r.best.best) == (algo, index, value)
    seeds = store.trials(study=ts.seeds_study("tiny_targets", "3", algo))
    assert {s.point_id for s in seeds} == {pid}
    per_seed = [_best(s) for s in sorted(seeds, key=lambda s: s.seed)]
    assert list(r.seed_best) == per_seed
    assert r.target == float(np.median(per_seed))


def test_max_metrics_pick_the_highest_value(tmp_path):
    s = open_store(tmp_path / "a.db")
    r = ts.set_target(TinyAccuracy(), s, CONFIG, algorithms=["nadamw", "nesterov"])
    searched = [_best(x, "max") for x in s.trials() if not x.study.endswith("/seeds")]
    reruns = [_best(x, "max") for x in s.trials() if x.study.endswith("/seeds")]
    assert r.mode == "max" and r.best.best == max(searched)
    assert r.target == float(np.median(reruns))


def test_variant_searches_nadamw_plus_the_base_workloads_best_algorithm(done):
    res = done["results"]
    best = res["tiny_targets"].best_algorithm
    got = [s.algorithm for s in res["tiny_targets_variant"].searches]
    assert got == (["nadamw"] if best == "nadamw" else ["nadamw", best])
    assert [s.algorithm for s in res["tiny_targets"].searches] == list(ALL_ALGOS)


def test_provenance_records_how_the_target_was_obtained(done):
    entry = tfile.read_targets(done["path"])["targets"]["tiny_targets"]
    r = done["results"]["tiny_targets"]
    assert entry["target"] == r.target
    assert (entry["metric"], entry["mode"], entry["workload_version"]) == ("error_rate", "min", "3")
    p = entry["provenance"]
    assert "AlgoPerf" in p["procedure"] and p["meets_procedure"] is False  # 4 points, 2 seeds
    assert (p["kind"], p["base"], p["step_budget"], p["horizon"], p["horizon_fraction"]) == (
        "base", None, 40, 30, 0.75)
    assert p["num_evals"] == 20 and p["batch_size"] == 16
    assert set(p["algorithms"]) == set(ALL_ALGOS)
    for a, s in p["algorithms"].items():
        assert (s["points"], s["space"], s["study"]) == (4, f"targets-{a}",
                                                          f"targets/tiny_targets/v3/{a}")
    assert p["best"]["algorithm"] == r.best_algorithm
    assert p["best"]["point_id"] == point_id(p["best"]["point"])
    assert p["seeds"]["seeds"] == [1, 2] and p["seeds"]["best"] == list(r.seed_best)
    assert p["halton_seed"] == ts.HALTON_SEED and p["search_seed"] == 0
    assert p["date"][:2] == "20" and p["hplists_version"] and p["workload_version"] == "3"
    assert p["store"].endswith("t.db") and "jax" in p["software"]
    v = tfile.read_targets(done["path"])["targets"]["tiny_targets_variant"]["provenance"]
    assert (v["kind"], v["base"]) == ("variant", "tiny_targets")


def test_targets_file_merges_new_entries_and_keeps_the_others(done):
    data = tfile.read_targets(done["path"])
    assert data["format"] == "hplists-targets" and data["format_version"] == 1
    assert data["targets"]["other_workload"] == OTHER
    assert sorted(data["targets"]) == ["other_workload", "tiny_targets", "tiny_targets_variant"]
    assert not list(done["dir"].glob(".targets.json.*"))  # no temporary file left behind


def test_progress_reports_every_trial_of_the_plan(done):
    stages, last = {c[0] for c in done["calls"]}, done["calls"][-1]
    assert "tiny_targets adamw" in stages
    n_variant = len(done["results"]["tiny_targets_variant"].searches)
    assert last[2] == 4 * 4 + 2 + 4 * n_variant + 2
    assert last[1] == pytest.approx(last[2])


def test_rerunning_trains_nothing_and_gives_the_same_targets(done):
    store = done["store"]
    n_events = len(store.events())
    again = ts.set_targets([Tiny(), TinyVariant()], store, CONFIG, targets_path=done["path"])
    assert len(store.events()) == n_events  # not one claim
    assert {r.workload: r.target for r in again} == {
        k: v.target for k, v in done["results"].items()}


def test_interrupt_then_rerun_loses_nothing_and_retries_the_interrupted_trials(done, tmp_path):
    store = open_store(tmp_path / "i.db")

    def interrupt(stage, trials_done, total):
        if trials_done > 5.5:  # inside the AdamW search, after NAdamW finished
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ts.set_targets([Tiny()], store, CONFIG, targets_path=tmp_path / "t.json",
                       progress=interrupt)
    assert not (tmp_path / "t.json").exists()  # no target from a partial run
    before = {(r.study, r.point_id, r.seed): r for r in store.trials()}
    nadamw = ts.search_study("tiny_targets", "3", "nadamw")
    adamw = ts.search_study("tiny_targets", "3", "adamw")
    assert [r.status for (s, _, _), r in before.items() if s == nadamw] == [Status.COMPLETE] * 4
    # The trials in flight are not failures: they stay running under this process, and the
    # rerun claims them again (the trial runner's one interrupt behaviour).
    interrupted = {pid for (s, pid, _), r in before.items() if r.status is Status.RUNNING}
    assert interrupted and all(s == adamw for (s, _, _) in before if s != nadamw)
    assert not [r for r in before.values() if r.status is Status.ERROR]

    (r,) = ts.set_targets([Tiny()], store, CONFIG, targets_path=tmp_path / "t.json")
    after = {(x.study, x.point_id, x.seed): x for x in store.trials()}
    assert len(after) == 4 * 4 + 2 and all(x.status is Status.COMPLETE for x in after.values())
    for key, old in before.items():
        if old.status is Status.COMPLETE:  # finished before the interruption: untouched
            assert after[key].provenance == old.provenance
            np.testing.assert_array_equal(after[key].curve.metric("error_rate"),
                                          old.curve.metric("error_rate"))
    finishes = [(e["study"], e["point_id"], e["seed"]) for e in store.events()
                if e["event"] == "finish"]
    assert len(finishes) == len(set(finishes)) == len(after)  # every trial finished once
    assert interrupted <= {pid for _, pid, _ in finishes}
    assert r.target == done["results"]["tiny_targets"].target  # same runs, same target


@pytest.mark.slow
def test_kill_9_during_the_procedure_then_rerun_loses_nothing(tmp_path):
    db, tf = tmp_path / "k.db", tmp_path / "t.json"
    script = tmp_path / "run.py"
    script.write_text(
        "import sys, time\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import test_study_target_setting as m\n"
        "from hplists.store import open_store\n"
        "from hplists.study.target_setting import TargetConfig, set_targets\n"
        "def hang(stage, done, total):\n"
        "    if done > 5.5:\n"
        "        print('mid-run', flush=True)\n"
        "        time.sleep(600)\n"
        "set_targets([m.Tiny()], open_store(sys.argv[1]), TargetConfig(points=4, seeds=2),\n"
        "            targets_path=sys.argv[2], progress=hang)\n"
    )
    proc = subprocess.Popen([sys.executable, str(script), str(db), str(tf)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "mid-run"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    store = open_store(db)
    before = {(r.study, r.point_id, r.seed): r for r in store.trials()}
    running = sum(r.status is Status.RUNNING for r in before.values())  # the AdamW chunk
    assert running >= 1
    ts.set_targets([Tiny()], store, CONFIG, targets_path=tf)
    after = {(r.study, r.point_id, r.seed): r for r in store.trials()}
    assert len(after) == 18 and all(r.status is Status.COMPLETE for r in after.values())
    for key, old in before.items():
        if old.status is Status.COMPLETE:
            assert after[key].provenance == old.provenance
    assert sum(e["event"] == "reclaim" for e in store.events()) == running
    assert "tiny_targets" in tfile.read_targets(tf)["targets"]


def test_variant_whose_base_has_no_target_says_to_set_the_base_first(tmp_path):
    with pytest.raises(ValueError, match=r"set it first .*--workload tiny_targets"):
        ts.set_targets([TinyVariant()], open_store(tmp_path / "v.db"), CONFIG,
                       targets_path=tmp_path / "none.json")


def test_a_workload_where_every_run_diverges_gets_no_target(tmp_path):
    with pytest.raises(ValueError, match="no target-setting run on 'tiny_targets_broken'"):
        ts.set_target(Broken(), open_store(tmp_path / "b.db"), ts.TargetConfig(points=2, seeds=1),
                      algorithms=["nadamw"])


# ----- the targets file ----------------------------------------------------------------------


def test_targets_file_rejects_malformed_content_with_the_file_name(tmp_path):
    p = tmp_path / "t.json"
    p.write_text("{")
    with pytest.raises(ValueError, match="is not valid JSON"):
        tfile.read_targets(p)
    p.write_text(json.dumps({"targets": {}}))
    with pytest.raises(ValueError, match="not an hplists targets file"):
        tfile.read_targets(p)
    p.write_text(json.dumps({"format": "hplists-targets", "format_version": 1,
                             "targets": {"w": {"target": 1.0, "metric": "m", "mode": "up"}}}))
    with pytest.raises(ValueError, match=r"targets\['w'\].mode must be one of 'min', 'max'"):
        tfile.read_targets(p)
    with pytest.raises(ValueError, match="missing"):
        tfile.write_entries({"w": {"target": 1.0}}, tmp_path / "u.json")


# ----- the command line ----------------------------------------------------------------------


@pytest.fixture
def registered(monkeypatch):
    """The tiny workloads in the registry for one test only."""
    registry._load_builtins()
    for cls in (Tiny, TinyVariant):
        monkeypatch.setitem(registry._REGISTRY, cls.name, cls)


def test_cli_set_resumes_the_procedure_and_prints_the_entries(done, registered, capsys):
    code = main(["targets", "set", "--workload", "tiny_targets", "--workload",
                 "tiny_targets_variant", "--store", str(done["dir"] / "t.db"), "--points", "4",
                 "--seeds", "2", "--targets-file", str(done["path"]), "--no-progress", "--json"])
    out = capsys.readouterr()
    assert code == 0 and "below the procedure's 64 points and 5 seeds" in out.err
    entries = json.loads(out.out)
    assert {k: v["target"] for k, v in entries.items()} == {
        k: v.target for k, v in done["results"].items()}


def test_cli_plan_and_show(done, registered, capsys):
    assert main(["targets", "plan", "--workload", "tiny_targets", "--store",
                 str(done["dir"] / "t.db"), "--points", "4", "--seeds", "2"]) == 0
    out = capsys.readouterr().out
    assert "tiny_targets" in out and "18 trials in all, 18 finished" in " ".join(out.split())
    assert main(["targets", "show", "--targets-file", str(done["path"])]) == 0
    out = capsys.readouterr().out
    assert "tiny_targets_variant" in out and "BELOW the procedure" in out
    assert main(["targets", "set", "--workload", "tiny_targets", "--points", "0"]) == 2
    assert "points must be an integer" in capsys.readouterr().err


def test_workloads_table_measures_seconds_per_trial_from_stores(done):
    rate = seconds_per_step([done["store"]])
    assert set(rate) == {"tiny_targets", "tiny_targets_variant"} and rate["tiny_targets"] > 0
    text = to_markdown([{"workload": "tiny_targets", "base": None, "task": "", "metric": "e",
                         "mode": "min", "target": 0.25, "target_stale": True,
                         "best_algorithm": "adamw", "step_budget": 40, "batch_size": 16,
                         "s_per_trial": rate["tiny_targets"] * 40}])
    assert "0.25 (stale: older workload version)" in text


# ----- the committed targets file against the registry ---------------------------------------


def test_committed_targets_cover_every_builtin_workload_with_its_metric_and_direction():
    """Every built-in workload has a target set by the full procedure for its current version.

    Skipped only while the package's targets file does not exist (before the
    lead runs ``hplists targets set``); a workload missing from an existing
    file fails.
    """
    path = tfile.default_path()
    if not path.is_file():
        pytest.skip(f"{path} does not exist yet: it is written by `hplists targets set`"
                    "; this test checks it against the registry once it does")
    entries = tfile.read_targets(path)["targets"]
    names = [n for n in registry.workload_names()
             if type(registry.get_workload(n)).__module__ in registry.BUILTIN_MODULES]
    assert names, "no built-in workload is registered"
    missing = [n for n in names if n not in entries]
    assert not missing, f"built-in workloads without a target in {path}: {missing}"
    for name in names:
        _check_entry(name, entries[name])
        assert registry.get_workload(name).target == entries[name]["target"]


def test_targets_set_so_far_match_the_registry_and_the_procedure():
    """The repository's in-progress file (stores/targets.partial.json) while targets are set.

    ``hplists targets set --targets-file stores/targets.partial.json`` writes
    each workload's entry as it finishes; every entry there must already be
    what the package file will hold.
    """
    path = Path(__file__).resolve().parents[1] / "stores" / "targets.partial.json"
    if not path.is_file():
        pytest.skip(f"{path} does not exist (no target setting in progress)")
    entries = tfile.read_targets(path)["targets"]
    assert entries, f"{path} has no entries"
    for name, entry in entries.items():
        _check_entry(name, entry)


def _check_entry(name, e):
    w = registry.get_workload(name)
    assert (e["metric"], e["mode"]) == (w.metric.name, w.metric.mode), name
    assert e["workload_version"] == str(w.version), (
        f"{name}: target set for version {e['workload_version']}, workload is {w.version}")
    p = e["provenance"]
    assert p["meets_procedure"] is True, f"{name}: target set below the procedure's minimum"
    assert p["step_budget"] == w.step_budget and p["horizon"] == ts.horizon(w.step_budget)
    assert e["target"] == pytest.approx(float(np.median([float(v) for v in p["seeds"]["best"]])))
    if w.base is not None:
        assert set(p["algorithms"]) >= {"nadamw"} and p["base"] == w.base
    else:
        assert set(p["algorithms"]) == set(ALL_ALGOS)


def test_rewriting_an_unchanged_entry_keeps_the_date_it_was_set(tmp_path):
    """`hplists targets set` reruns recompute finished targets; their dates must not move."""
    path = tmp_path / "targets.json"
    entry = {"target": 0.2, "metric": "error_rate", "mode": "min",
             "provenance": {"date": "2026-01-01T00:00:00+00:00", "points": 64}}
    tfile.write_entries({"a": entry}, path)
    later = {**entry, "provenance": {**entry["provenance"], "date": "2026-02-01T00:00:00+00:00"}}
    tfile.write_entries({"a": later}, path)
    assert tfile.read_targets(path)["targets"]["a"]["provenance"]["date"].startswith("2026-01")
    changed = {**later, "target": 0.19}
    tfile.write_entries({"a": changed}, path)
    assert tfile.read_targets(path)["targets"]["a"] == changed


def test_target_setting_runs_on_any_executor_of_the_trial_runner(done, tmp_path):
    """`hplists targets set --executor ...`: the same trials and targets on a pool executor."""
    import concurrent.futures

    from hplists.trials import PoolExecutor

    with concurrent.futures.ThreadPoolExecutor(2) as threads:
        pool = PoolExecutor(2, pool=threads)
        (r,) = ts.set_targets([Tiny()], open_store(tmp_path / "p.db"), CONFIG,
                              targets_path=tmp_path / "t.json", executor=pool)
    assert r.target == done["results"]["tiny_targets"].target


def test_show_points_to_the_targets_file_that_set_wrote_here(tmp_path, monkeypatch, capsys):
    """`targets show` reads the package's file by default; a stores/targets.json written by
    `targets set` in this directory is named, with how to show it."""
    monkeypatch.chdir(tmp_path)
    assert main(["targets", "show"]) == 0
    assert "stores/targets.json" not in capsys.readouterr().out
    (tmp_path / "stores").mkdir()
    (tmp_path / "stores" / "targets.json").write_text("{}")
    assert main(["targets", "show"]) == 0
    out = capsys.readouterr().out
    assert "show it with --targets-file stores/targets.json" in out
    assert "targets file: " in out  # the package's, as before
