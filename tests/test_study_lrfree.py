"""The learning-rate-free study of paper 002 (hplists.study.lrfree) on tiny workloads."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from hplists.cli.main import main
from hplists.optim.lrfree import METHODS
from hplists.scoring.workload_specs import WorkloadSpec, resolve_specs
from hplists.store import open_store
from hplists.study.lrfree import (
    SEARCHES,
    SELF_TUNING_FACTOR,
    SFADAMW_ALGOPERF,
    LrFreeConfig,
    LrFreeStudy,
    Search,
    defaults_rows,
)
from hplists.trials import LocalExecutor

SPECS = {"study_line": WorkloadSpec("study_line", "r2", "max", 0.5, 40),
         "study_blobs": WorkloadSpec("study_blobs", "error_rate", "min", 0.3, 40)}


def _study(tmp_path, **kw):
    cfg = LrFreeConfig(**{"workloads": ("study_line", "study_blobs"), "points": 3, "seeds": 2,
                          "top": 1, "k": 1, **kw})
    return LrFreeStudy(open_store(tmp_path / "lrfree.db"), cfg, specs=SPECS,
                       executor=LocalExecutor(), progress=False)


def test_default_searches_are_the_papers_with_a_study_each():
    studies = [s.study for s in SEARCHES]
    assert len(set(studies)) == len(studies) == 16
    assert {s.horizon for s in SEARCHES if s.method == "prodigy"} == {0.33, 0.5, 0.66}
    assert {s.method for s in SEARCHES if s.horizon == 0.5} == {
        "nadamw", "adamw", "prodigy", "mechanic_adam", "dog", "momo_adam", "cocob"}
    assert Search("sfadamw").study == "lrfree/sfadamw"


def test_each_search_samples_only_what_its_method_takes():
    assert set(Search("dog", 0.5).points(2, 0)[0]) == {
        "warmup_fraction", "weight_decay", "dropout_rate", "label_smoothing", "horizon"}
    prodigy = Search("prodigy", 0.33).points(2, 0)[0]
    assert prodigy["safeguard_warmup"] == 1.0 and prodigy["horizon"] == 0.33
    assert {"beta1", "beta2"} <= set(prodigy) and "learning_rate" not in prodigy
    assert "learning_rate" in Search("nadamw", 0.5).points(1, 0)[0]
    assert "horizon" not in Search("sfadamw").points(1, 0)[0]


@pytest.mark.parametrize("kw,match", [
    ({"method": "adam"}, "method must be one of"),
    ({"method": "prodigy", "horizon": 1.5}, r"horizon must be in \(0, 1\]"),
    ({"method": "prodigy", "horizon": 0.0}, r"horizon must be in \(0, 1\]"),
])
def test_bad_searches_name_the_field_and_the_allowed_values(kw, match):
    with pytest.raises(ValueError, match=match):
        Search(**kw)


def test_defaults_rows_cover_every_method_and_the_evidence_based_baselines():
    rows = {r.name: r for r in defaults_rows()}
    assert rows["prodigy"].point["relative_schedule"] == 0.0  # out of the box: no schedule
    assert rows["sfadamw-algoperf"].point == SFADAMW_ALGOPERF
    assert rows["sfadamw-algoperf"].rule == "sfadamw_algoperf"
    assert rows["nadamw-paper001"].rule == "nadamw" and rows["adamw-algoperf"].rule == "adamw"
    assert rows["mechanic"].label == "Mechanic (literature defaults)"  # paper 002 Table 4
    # one row per method of hplists.optim.lrfree.METHODS, then the 5 evidence-based ones
    assert len(rows) == len(METHODS) + 5


def test_the_schedule_free_submission_point_is_the_submissions_code():
    """AlgoPerf v0.5 self-tuning Schedule-Free AdamW: lr, betas, weight decay, r, the power,
    label smoothing, and a warmup of int(0.02 * 0.75 * step_hint) steps = 1.5% of T."""
    from hplists.optim.schedule import warmup_steps
    from hplists.workloads.registry import get_workload

    p = SFADAMW_ALGOPERF
    assert (p["learning_rate"], p["beta1"], p["beta2"], p["weight_decay"]) == \
        (0.0025, 0.9, 0.9955159689799007, 0.08121616522670176)
    assert (p["r"], p["weight_lr_power"], p["label_smoothing"], p["eps"]) == (0.75, 2.0, 0.2, 1e-8)
    for name in ("ctr_dlrm", "image_resnet", "speech_rnn", "translate_transformer"):
        t = get_workload(name).step_budget
        assert warmup_steps(p["warmup_fraction"], SELF_TUNING_FACTOR * t) == int(0.02 * t * 0.75)


def test_the_budget_is_algoperf_self_tuning_three_times_t():
    """A trial at horizon h trains int(h M) steps with M = 3 T, one without a horizon M; time
    to target is a fraction of M (the specs' step budget), the targets are the workloads'."""
    from hplists.workloads.engine import trial_steps
    from hplists.workloads.registry import get_workload

    assert SELF_TUNING_FACTOR == 3
    st = LrFreeStudy(None, LrFreeConfig(workloads=("image_resnet",)))
    w = get_workload("image_resnet")
    assert w.step_budget == 400 and st.max_steps(w) == 1200
    (task,) = st._tasks("s", "prodigy", Search("prodigy", 0.33).points(1, 0), [0], [0])
    assert task.budget == 1200 and trial_steps(task.points[0], task.budget) == 396
    (sf,) = st._tasks("s", "sfadamw", Search("sfadamw").points(1, 0), [0], [0])
    assert trial_steps(sf.points[0], sf.budget) == 1200
    spec = st.specs()["image_resnet"]
    assert spec.step_budget == 1200
    assert spec.target == resolve_specs(["image_resnet"])["image_resnet"].target


def test_adaptive_searches_follow_the_50_percent_searches(tmp_path, monkeypatch):
    """33% and 66% searches join for a method whose 50% search trains > 2 workloads."""
    st = _study(tmp_path, searches=(Search("dog", 0.5), Search("cocob", 0.5)))
    monkeypatch.setattr(st, "is_complete", lambda s: s.horizon == 0.5)
    monkeypatch.setattr(st, "max_hits", lambda s: {"dog": 3, "cocob": 2}[s.method])
    assert [s.study for s in st.searches()] == [
        "lrfree/dog/h50", "lrfree/cocob/h50", "lrfree/dog/h33", "lrfree/dog/h66"]
    assert st.adaptive_pending() == []  # both decided: DoG in, COCOB complete and out
    # Unfinished 50% searches: a DoG point already trains 3, and more points cannot undo
    # that; COCOB's may still reach 3.
    monkeypatch.setattr(st, "is_complete", lambda s: False)
    assert len(st.searches()) == 4 and st.adaptive_pending() == ["cocob"]
    monkeypatch.setattr(st, "max_hits", lambda s: 2)
    assert len(st.searches()) == 2 and st.adaptive_pending() == ["dog", "cocob"]


def test_calibration_then_candidates_resume_and_count_horizons_as_their_steps(tiny, tmp_path):
    st = _study(tmp_path, searches=(Search("adamw", 0.5), Search("sfadamw")))
    plan = {p.stage: p for p in st.plan()}
    assert plan["calibration"].trials == 2 * 3 * 2
    # M = 3 T = 120: horizon 0.5 trains 60 steps, Schedule-Free (no horizon) 120
    assert plan["calibration"].steps_left == 3 * 2 * 60 + 3 * 2 * 120
    assert not plan["candidates"].exact
    first = st.run(["calibration", "candidates"])
    assert [r.trained for r in first] == [12, 3 * 2 * 2]  # 2 tops + the AlgoPerf point
    assert [r.already_done for r in first] == [0, 0]  # early reruns are not counted twice
    # the most targets one point reached, from the finished trials: the matrix's count
    fractions = st.search_matrix(Search("adamw", 0.5)).fractions
    assert st.max_hits(Search("adamw", 0.5)) == int(np.isfinite(fractions).sum(axis=1).max())
    assert len(st.hits_by_point(Search("adamw", 0.5))) == 3
    again = st.run(["calibration", "candidates"])
    assert [r.trained for r in again] == [0, 0]
    assert [r.already_done for r in again] == [12, 12]  # each trial once
    plan = {p.stage: p for p in st.plan(["calibration", "candidates"])}
    assert plan["candidates"].exact and plan["candidates"].steps_left == 0
    cands = st.candidates()
    assert [c.study for c in cands] == ["lrfree/adamw/h50/candidates",
                                        "lrfree/sfadamw/candidates",
                                        "lrfree/sfadamw_algoperf/candidates"]
    best = st.top_points(Search("adamw", 0.5))[0]
    assert cands[0].index == best[0] and cands[0].point == best[1]
    seeds = {r.seed for r in st.store.trials(study="lrfree/adamw/h50/candidates")}
    assert seeds == {1, 2}


def test_defaults_stage_reruns_only_rows_that_reach_a_target(tiny, tmp_path):
    st = _study(tmp_path, workloads=("study_line",))
    result = st.run(["defaults"])[0]
    hits = st.defaults_hits()
    assert set(hits) == {r.name for r in defaults_rows()}
    hit_rows = [n for n, k in hits.items() if k]
    assert hit_rows  # some defaults reach R^2 0.5 on a noisy line
    assert result.trained == 16 + len(hit_rows)  # seed 0 for all, seed 1 for hit rows
    for r in defaults_rows():
        seeds = {t.seed for t in st.store.trials(study=r.study)}
        assert seeds == ({0, 1} if hits[r.name] else {0})


def test_cli_plan_prints_json_without_a_store_and_refuses_unknown_stages(tmp_path, capsys):
    db = tmp_path / "none.db"
    assert main(["study", "lrfree", "--plan", "--store", str(db), "--json",
                 "--stage", "calibration", "--workloads", "ctr_dlrm,image_resnet"]) == 0
    plans = json.loads(capsys.readouterr().out)
    # 16 searches, and at most 6 adaptive ones (DoG, MoMo-Adam, COCOB at 33% and 66%)
    assert plans[0]["stage"] == "calibration" and plans[0]["trials"] == (16 + 6) * 200 * 2
    assert plans[0]["exact"] is False
    assert plans[0]["seconds_left"] > 0 and not db.exists()
    assert main(["study", "lrfree", "--plan", "--store", str(db), "--stage", "sweep"]) == 2
    assert "stage must be one of 'defaults', 'calibration', 'candidates'" in \
        capsys.readouterr().err


def test_cli_takes_points_seeds_and_tau_not_given_from_the_stores_last_run(tmp_path, capsys):
    db = tmp_path / "lrfree.db"
    LrFreeStudy(open_store(db), LrFreeConfig(points=12, seeds=3, tau=3.0)).record_manifest()

    def plan(*extra):
        assert main(["study", "plan", "lrfree", "--store", str(db), "--json", "--stage",
                     "calibration", "--workloads", "ctr_dlrm,image_resnet", *extra]) == 0
        out = capsys.readouterr()
        return json.loads(out.out)[0]["trials"], out.err

    trials, err = plan()
    assert trials == (16 + 6) * 12 * 2  # the store's 12 points, not the default 200
    assert "--points 12, --seeds 3, --tau 3, as the last run on" in err
    trials, err = plan("--points", "20", "--tau", "2")
    assert trials == (16 + 6) * 20 * 2 and "--seeds 3, as the last run" in err
    assert "--points" not in err and "--tau" not in err
    # a store no run has written: the configuration's defaults, said nowhere
    trials, err = plan("--store", str(tmp_path / "new.db"))
    assert trials == (16 + 6) * 200 * 2 and "last run" not in err


def test_costs_count_every_stage_trial_once_and_time_within_the_run(tiny, tmp_path):
    import time

    from hplists.report import lrfree as rep

    st = _study(tmp_path, searches=(Search("adamw", 0.5),))
    start = time.time()
    st.run(["calibration", "candidates"])
    elapsed = time.time() - start
    st.store.put_many([dataclasses.replace(next(iter(st.store.trials(study="lrfree/adamw/h50"))),
                                           study="broad")])  # another study's: in no stage
    costs = {c.stage: c for c in st.costs()}
    assert list(costs) == ["defaults", "calibration", "candidates", "all"]
    finished = {stage: sum(1 for r in st.store.trials() if st.stage_of(r.study) == stage
                           and r.status.value in ("complete", "diverged"))
                for stage in ("calibration", "candidates")}
    assert costs["defaults"].trials == 0 and costs["defaults"].wall_seconds == 0
    assert costs["calibration"].trials == finished["calibration"] == 3 * 2
    # the search's top 1 and the AlgoPerf Schedule-Free submission, seeds 1-2, 2 workloads
    assert costs["candidates"].trials == finished["candidates"] == 2 * 2 * 2
    assert costs["all"].trials == sum(finished.values())
    # timestamps have whole seconds: the busy time is within the run, give or take one each
    for c in (costs["calibration"], costs["candidates"]):
        assert 0 < c.training_seconds and 0 <= c.wall_seconds <= elapsed + 2
        assert 0 < c.median_rate_seconds
    assert costs["all"].median_rate_seconds == pytest.approx(
        costs["calibration"].median_rate_seconds + costs["candidates"].median_rate_seconds)
    assert costs["all"].wall_seconds <= costs["calibration"].wall_seconds + \
        costs["candidates"].wall_seconds
    table = {t.key: t for t in rep.tables(rep.LrFreeResults(st))}["lrfree_compute"]
    assert table.column("stage") == ["defaults", "calibration", "candidates", "all"]
    assert table.column("finished trials") == [0, 6, 8, 14]


def test_report_tables_from_a_run_study_and_the_readme_section(tiny, tmp_path):
    from hplists.report import lrfree as rep

    st = _study(tmp_path, searches=(Search("adamw", 0.5), Search("prodigy", 0.5)))
    empty = rep.LrFreeResults(st)
    keys = {t.key: t for t in rep.tables(empty)}
    assert keys["lrfree_table6"].missing and keys["lrfree_appendix_d"].missing
    assert {r[3] for r in keys["lrfree_claims"].rows} == {"no data"}
    st.run(["calibration", "candidates"])
    res = rep.LrFreeResults(st)
    assert res.searches["AdamW 50%"][1:] == (3, res.searches["AdamW 50%"][2])
    # paper 002's pool: AdamW/NadamW/Prodigy/Mechanic candidates; the extended pool: all
    assert set(res.scores) == {"AdamW 50% 0", "Prodigy (w. Adam) 50% 0"}
    assert set(res.extended_scores) == {*res.scores, "Schedule-Free AdamW (AlgoPerf)"}
    assert all(0.0 <= s <= 1.0 for s in res.scores.values())
    assert max(res.scores.values()) > 0  # someone is the best on some workload
    reps = res.representatives()
    assert set(reps) == {"AdamW 50%", "Prodigy (w. Adam) 50%"}
    # App. F: the pool's representatives and the AlgoPerf submission, scored after selection
    assert {sc.group for sc in res.appendix_f} == {*reps, "Schedule-Free AdamW (AlgoPerf)"}
    assert set(res.representatives("extended")) == {*reps, "Schedule-Free AdamW (AlgoPerf)"}
    tables = {t.key: t for t in rep.tables(res)}
    assert not tables["lrfree_appendix_f"].notes and not tables["lrfree_extended"].notes
    # Before the submission's reruns are complete, the tables that should hold it say so.
    res.appendix_f = [sc for sc in res.appendix_f if sc.candidate.index >= 0]
    res.extended = [sc for sc in res.extended if sc.candidate.index >= 0]
    tables = {t.key: t for t in rep.tables(res)}
    for key in ("lrfree_appendix_f", "lrfree_extended"):
        assert "submission is not in this table yet" in " ".join(tables[key].notes), key
    assert not tables["lrfree_table6"].notes
    res = rep.LrFreeResults(st)
    table6 = {t.key: t for t in rep.tables(res)}["lrfree_table6"]
    row6 = table6.column("representative").index("AdamW 50%")
    assert table6.column("paper 002 score")[row6] == 0.242
    w = res.workloads[0]
    assert table6.column(w)[row6] == res.candidates[reps["AdamW 50%"]][1][w]
    # Table 5: per search and workload, the best over its candidates, then the targets.
    table5 = {t.key: t for t in rep.tables(res)}["lrfree_table5"]
    assert table5.column("search")[-1] == "target"
    assert table5.column(w)[-1] == res.specs[w].target
    values = [m[w] for g, _, m in res.candidates.values() if g == "AdamW 50%"]
    best = min(values) if res.specs[w].mode == "min" else max(values)
    assert table5.column(w)[table5.column("search").index("AdamW 50%")] == best
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\nkept\n")
    written = rep.write(res, str(tmp_path / "out"), command="cmd", readme=str(readme))
    # 12 tables, the Markdown, the HTML, the README and Figure 1
    assert (tmp_path / "out" / "lrfree.html").is_file() and len(written) == 13 + 2 + 1 + 1
    figure = tmp_path / "out" / "figures" / "lrfree_figure1.png"  # the profiles, Figure 1
    assert figure.read_bytes().startswith(b"\x89PNG")
    assert "figures/lrfree_figure1.png" in (tmp_path / "out" / "lrfree.md").read_text()
    text = readme.read_text()
    assert text.startswith("# x\n\nkept\n") and rep.BEGIN in text and "| claim |" in text
    rep.write(res, str(tmp_path / "out"), command="cmd", readme=str(readme))
    assert readme.read_text().count(rep.BEGIN) == 1  # regenerated in place


def test_lists_per_search_and_the_exported_calibrated_defaults(tiny, tmp_path):
    from hplists.lists import load_list
    from hplists.report import lrfree as rep

    st = _study(tmp_path, searches=(Search("prodigy", 0.5), Search("sfadamw")), k=2)
    st.run(["calibration", "candidates"])
    sl = st.search_lists(Search("prodigy", 0.5))
    assert len(sl.final.indices) == 2 and len(sl.indices) == 2
    assert sl.curve.trained.shape == (2,) and sl.curve.trained[1] >= sl.curve.trained[0]
    table = {t.key: t for t in rep.tables(rep.LrFreeResults(st))}["lrfree_lists"]
    assert table.column("search") == ["Prodigy (w. Adam) 50%", "Schedule-Free AdamW"]
    reps = st.representatives(st.scored_candidates("extended"))  # export's pool: every search
    written = st.export_lists(str(tmp_path / "lists"))
    # the AlgoPerf submission's point is scored, never exported: this study did not choose it
    hitting = {sc.candidate.search.method for sc in reps.values()
               if sc.targets and sc.candidate.index >= 0}
    assert written and {load_list(w).optimizer for w in written} == hitting
    for w in written:
        named = load_list(w)
        assert named.provenance["workload_versions"] and named.provenance["date"]
        # horizons and step fractions are of M = 3 T: the list says so, and run/evaluate read it
        assert named.budget_factor == st.config.budget_factor == 3
        if w.endswith("-calibrated-cpu.json"):
            assert len(named.points) == 1
    again = st.export_lists(str(tmp_path / "lists"))  # same points: rewritten in place
    assert again == written


def test_cli_report_and_export_lists_from_a_store(tiny, tmp_path, capsys):
    st = _study(tmp_path, searches=(Search("adamw", 0.5),))
    st.run(["calibration"])
    specs = tmp_path / "specs.json"
    specs.write_text(json.dumps({"workloads": {n: s.to_dict() for n, s in SPECS.items()}}))
    common = ["study", "lrfree", "--store", str(tmp_path / "lrfree.db"), "--specs", str(specs),
              "--workloads", "study_line,study_blobs", "--points", "3", "--k", "1"]
    assert main([*common, "--report", str(tmp_path / "out")]) == 0
    md = (tmp_path / "out" / "lrfree.md").read_text()
    assert "AdamW 50%" in md and "Paper 002's conclusions" in md
    capsys.readouterr()
    # searches and candidates not run yet: the lists may still change, so it refuses ...
    assert main([*common, "--export-lists", str(tmp_path / "lists")]) == 2
    err = capsys.readouterr().err
    assert "is not finished (calibration: at most " in err and "--partial" in err
    # ... unless told to write what the finished searches give now (here: nothing)
    with pytest.warns(UserWarning, match="not finished"):
        assert main(["study", "export-list", "lrfree", *common[2:], "-o",
                     str(tmp_path / "lists"), "--partial"]) == 0
    assert "no learning-rate-free method" in capsys.readouterr().err
    assert main(["study", "export-list", "paper001", "-o", str(tmp_path / "l.json"),
                 "--partial"]) == 2
    assert "--partial applies to study lrfree only" in capsys.readouterr().err
    assert main(["study", "lrfree", "--store", str(tmp_path / "none.db"), "--report",
                 str(tmp_path / "x")]) == 2


def test_a_smaller_configuration_uses_the_first_points_of_a_larger_run(tiny, tmp_path):
    """The sample is prefix-consistent: points=3 reads a 4-point search as complete."""
    big = _study(tmp_path, searches=(Search("adamw", 0.5),), points=4)
    big.run(["calibration"])
    small = LrFreeStudy(big.store, LrFreeConfig(workloads=("study_line", "study_blobs"),
                                                points=3, seeds=2, top=1, k=1,
                                                searches=(Search("adamw", 0.5),)),
                        specs=SPECS, executor=LocalExecutor(), progress=False)
    assert small.complete_searches() == [Search("adamw", 0.5)]
    assert small.search_matrix(Search("adamw", 0.5)).fractions.shape == (3, 2)
    assert next(i for i, _ in small.top_points(Search("adamw", 0.5))) in (0, 1, 2)


def test_each_search_is_rerun_as_soon_as_it_is_complete(tiny, tmp_path):
    """Calibration and candidates together: search, its candidates, next search, ..., the rest."""
    st = _study(tmp_path, searches=(Search("adamw", 0.5), Search("sfadamw")))
    executed = []
    execute = st._execute

    def spy(stage, tasks):
        executed.append((stage, sorted({t.study for t in tasks})))
        return execute(stage, tasks)

    st._execute = spy
    results = st.run(["calibration", "candidates"])
    assert executed == [
        ("calibration", ["lrfree/adamw/h50"]),
        ("candidates", ["lrfree/adamw/h50/candidates"]),
        ("calibration", ["lrfree/sfadamw"]),
        ("candidates", ["lrfree/sfadamw/candidates"]),
        ("candidates", ["lrfree/adamw/h50/candidates", "lrfree/sfadamw/candidates",
                        "lrfree/sfadamw_algoperf/candidates"]),
    ]
    # The same trials as the stages one after the other, counted under their stage.
    assert [(r.stage, r.trained) for r in results] == [("calibration", 12),
                                                      ("candidates", 3 * 2 * 2)]


def test_a_new_method_is_one_record_of_the_methods_registry(monkeypatch, tmp_path):
    """A learning-rate-free method added to hplists.optim.lrfree.METHODS (rules.py registers
    every method's rule at import) gets its defaults row, its searches and its labels."""
    import dataclasses

    from hplists.optim import lrfree as methods
    from hplists.optim.rules import RULES

    new = dataclasses.replace(methods.METHODS["dog"], name="dog_again", label="DoG, again")
    monkeypatch.setitem(methods.METHODS, "dog_again", new)
    monkeypatch.setitem(RULES, "dog_again", RULES["dog"])
    rows = {r.name: r for r in defaults_rows()}
    assert rows["dog_again"].rule == "dog_again"
    assert rows["dog_again"].label == "DoG, again (literature defaults)"
    search = Search("dog_again", 0.5)
    assert search.label == "DoG, again 50%" and "learning_rate" not in search.points(1, 0)[0]
    st = LrFreeStudy(open_store(tmp_path / "l.db"),
                     LrFreeConfig(workloads=("ctr_dlrm", "image_resnet"), points=4, k=2,
                                  searches=(search,)))
    plans = {p.stage: p for p in st.plan(["defaults", "calibration"])}
    assert "lrfree/defaults/dog_again" in plans["defaults"].studies
    assert plans["calibration"].studies == ("lrfree/dog_again/h50",)
    assert plans["calibration"].trials == 4 * 2


def test_a_second_pass_with_more_points_reselects_and_scores_only_the_new_top(tiny, tmp_path):
    """64 points, then 100: the second pass adds points to each search, picks its top points
    anew from all of them, reruns those, and scores only them; a first-pass candidate that
    fell out of the top keeps its reruns in the store but is no longer scored."""
    search = Search("adamw", 0.5)
    first = _study(tmp_path, searches=(search,), points=2)
    first.run(["calibration", "candidates"])
    old_top = [p for _, p in first.top_points(search)]
    second = LrFreeStudy(first.store, dataclasses.replace(first.config, points=6), specs=SPECS,
                         executor=LocalExecutor(), progress=False)
    assert not second.is_complete(search)
    assert [p.left for p in second.plan(["calibration"])] == [4 * 2]  # the 4 new points
    second.run(["calibration", "candidates"])
    new_top = [p for _, p in second.top_points(search)]
    assert new_top != old_top, "the premise: the new points hold a better one"
    assert second.search_matrix(search).fractions.shape == (6, 2)
    scored = [sc for sc in second.scored_candidates("extended") if sc.candidate.index >= 0]
    assert [sc.candidate.point for sc in scored] == new_top  # the old candidate is not scored
    reruns = second.store.trials(study=f"{search.study}/candidates")
    from hplists.store.base import point_id

    # Nothing discarded: the old candidate's reruns stay in the store.
    assert {r.point_id for r in reruns} == {point_id(p) for p in old_top + new_top}
    assert len(reruns) == 2 * 2 * 2  # (old, new) x seeds 1..2 x workloads


def test_every_committed_trial_trains_its_horizon_of_the_self_tuning_budget(tmp_path):
    """The committed store holds paper 002's budget: each complete trial's last evaluation is
    at int(h M) steps, M = 3 T its workload's self-tuning maximum (image_resnet, T = 400: 396
    steps at 33%, 1,200 for Schedule-Free, which has no horizon)."""
    import shutil
    from pathlib import Path

    from hplists.workloads.engine import trial_steps
    from hplists.workloads.registry import get_workload

    committed = Path(__file__).parent.parent / "stores" / "lrfree.db"
    shutil.copy(committed, tmp_path / "lrfree.db")  # read a copy: opening writes WAL files
    store = open_store(tmp_path / "lrfree.db", create=False)
    last: dict[tuple[str, str], set[int]] = {}
    for r in store.trials(status="complete"):
        m = SELF_TUNING_FACTOR * get_workload(r.workload).step_budget
        assert int(r.curve.steps[-1]) == trial_steps(r.point, m), (r.study, r.workload)
        last.setdefault((r.study, r.workload), set()).add(int(r.curve.steps[-1]))
    assert last[("lrfree/adamw/h33", "image_resnet")] == {396}
    assert last[("lrfree/sfadamw", "image_resnet")] == {1200}
    assert last[("lrfree/defaults/sfadamw-algoperf", "image_resnet")] == {1200}
