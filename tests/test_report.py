"""The report: each table's numbers, its behaviour when data are missing, and the files it writes.

Stores are built with the real store API (``open_store``, ``put``) and real
curves whose first target hit is set by hand, so every expected number below
is computed by hand or by the method core on the same matrix.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np
import pytest

from hplists import Curve, HParams
from hplists.cli.main import main
from hplists.lists.greedy import greedy_list
from hplists.lists.loo import leave_one_out, tau_sweep
from hplists.report import DEFAULT_STUDIES, Analysis, load_records, paper001, write_report
from hplists.report.analysis import Missing
from hplists.report.markdown import BEGIN, END, splice_results
from hplists.report.tables import (
    all_tables,
    appendix_b,
    summary,
    table4,
    table5,
    table6,
    table7,
    table9,
    table12,
    table13,
)
from hplists.scoring.tuning_curve import equivalent_budget
from hplists.scoring.workload_specs import WorkloadSpec
from hplists.store import open_store

INF = math.inf
BUDGET = 100
STEPS = [25, 50, 75, 100]
# three base workloads (the paper's first three, so paper columns line up), one max-metric
SPECS = {
    "ctr_dlrm": WorkloadSpec("ctr_dlrm", "log_loss", "min", 0.2, BUDGET),
    "mri_unet": WorkloadSpec("mri_unet", "ssim", "max", 0.7, BUDGET),
    "image_resnet": WorkloadSpec("image_resnet", "error_rate", "min", 0.3, BUDGET),
    "image_resnet_silu": WorkloadSpec("image_resnet_silu", "error_rate", "min", 0.3, BUDGET),
}
BASE = ("ctr_dlrm", "mri_unet", "image_resnet")
POINTS = [HParams(lr, 0.9, 0.99) for lr in (1e-3, 2e-3, 3e-3, 4e-3)]
# step fraction of each point on each base workload (inf: target missed)
F = np.array([[0.5, INF, 0.75],
              [INF, 0.5, INF],
              [0.25, 0.75, INF],
              [INF, INF, INF]])


def curve(workload: str, fraction: float, best: float | None = None) -> Curve:
    """A curve that first reaches ``workload``'s target at ``fraction`` of the budget."""
    spec = SPECS[workload]
    sign = 1.0 if spec.mode == "min" else -1.0
    miss = spec.target + sign * 0.1
    hit = spec.target - sign * 0.05 if best is None else best
    values = [hit if s / BUDGET >= fraction else miss for s in STEPS]
    return Curve(STEPS, [s / 10 for s in STEPS], [1.0] * 4, {spec.metric: values})


def put_broad(store, fractions=F, study="broad200") -> None:
    for i, p in enumerate(POINTS[: len(fractions)]):
        for j, w in enumerate(BASE):
            store.put(study, p, w, 0, curve(w, fractions[i, j]), point_index=i)


def analysis(store, **kwargs) -> Analysis:
    records, sources, dup = load_records([store.path])
    return Analysis(records, SPECS, registry=False, k=2, sources=sources, duplicates=dup,
                    **kwargs)


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "s.db")
    yield s
    s.close()


def test_table4_counts_points_reaching_each_target_and_also_others(store):
    """Per workload: points that train it; of those, how many train >= 1 / >= 2 others."""
    put_broad(store)
    t = table4(analysis(store))
    assert t.missing is None
    got = {r["workload"]: (r["points trained"], r["also on >= 1 other"],
                           r["also on >= 2 others"]) for r in t.records()}
    assert got == {"ctr_dlrm": (2, 2, 0), "mri_unet": (2, 1, 0), "image_resnet": (1, 1, 0)}
    assert t.column("share of sample") == [0.5, 0.5, 0.25]
    assert t.column("paper: trained / >= 1 / >= 2 (of 200)")[0] == "24 / 14 / 4"
    assert any("3 of 4 points train at least one workload" in n for n in t.notes)


def test_leave_one_out_row_uses_median_over_seeds_of_the_fold_points_only(store):
    """The reruns study also holds the final list's points; only the fold's points count."""
    put_broad(store)
    a = analysis(store)
    fold = next(f for f in leave_one_out(a.matrix, 2).folds if f.name == "ctr_dlrm")
    assert sorted(fold.built.indices) == [0, 1]  # hand-checked greedy on mri_unet, image_resnet
    per_seed = {0: [0.5, 0.75, INF], 1: [INF, 0.25, INF]}  # seeds 1, 2, 3
    for i, fractions in per_seed.items():
        for s, f in enumerate(fractions, 1):
            store.put("broad200/reruns", POINTS[i], "ctr_dlrm", s, curve("ctr_dlrm", f))
    for s in (1, 2, 3):  # a faster point that is not in the fold's list
        store.put("broad200/reruns", POINTS[2], "ctr_dlrm", s, curve("ctr_dlrm", 0.25))
    row = analysis(store).loo_row
    # per seed best over the fold's points: 0.5, 0.25, inf -> median 0.5
    assert row.fractions["ctr_dlrm"] == 0.5
    assert row.seeds["ctr_dlrm"] == 3
    # workloads without reruns fall back to the sample's single seed, and say so
    assert row.fractions["mri_unet"] == a.loo.folds[1].fraction
    assert row.seeds["mri_unet"] == 1
    assert any("mri_unet" in n and "single seed" in n for n in row.notes)


def test_a_baseline_is_scored_per_seed_then_median(store):
    """AlgoPerf's rule: best trial of each seed, then the median over seeds."""
    put_broad(store)
    sweep = {0: [0.25, INF, INF], 1: [0.5, 0.5, 0.75]}  # point -> seeds 1..3 on ctr_dlrm
    for i, fractions in sweep.items():
        for s, f in enumerate(fractions, 1):
            for w in BASE:
                store.put("baseline/lr-sweep-wd0.5", POINTS[i], w, s,
                          curve(w, f if w == "ctr_dlrm" else INF))
    t = table5(analysis(store))
    row = next(r for r in t.records() if r["row"] == "LR sweep (WD = 0.5)")
    assert row["ctr_dlrm"] == 0.5  # seeds: min(0.25, 0.5), min(inf, 0.5), min(inf, 0.75)
    assert row["mri_unet"] == INF and row["targets reached"] == "1 of 3"
    assert row["seeds"] == "3"


def test_baselines_not_run_are_reported_as_such_not_invented(store):
    put_broad(store)
    t = table5(analysis(store))
    rows = {r["row"]: r for r in t.records() if r["source"] == "hplists"}
    metz = rows["Metz et al. (first 5)"]
    assert all(metz[w] is None for w in BASE) and metz["rank"] is None
    assert any(n.startswith("Metz et al. (first 5): no result (study 'baseline/metz' is not in "
                            "the store(s))") for n in t.notes)
    assert rows["Leave-one-out lists (ours)"]["rank"] == "1 of 1"
    # the paper's rows are there, with its numbers and ranks
    paper = {r["row"]: r for r in t.records() if r["source"] == "paper 001"}
    assert paper["Leave-one-out lists"]["ctr_dlrm"] == 0.73889
    assert paper["Leave-one-out lists"]["rank"] == "1 of 6"
    assert paper["Metz et al"]["targets reached"] == "0 of 8"


def test_every_table_and_figure_says_why_when_the_sample_is_missing(store, tmp_path):
    """A store without the broad study still gives a report; each part says what is missing."""
    store.put("baseline/metz", POINTS[0], "ctr_dlrm", 1, curve("ctr_dlrm", 0.5))
    report = write_report([store.path], tmp_path / "out", specs=SPECS, registry=False, k=2)
    for t in report.tables:
        if t.key == "workloads":
            assert t.missing is None
        elif t.key == "summary":  # every claim: no data, and the note says why
            assert set(t.column("verdict")) == {"no data"}
            assert t.notes == ("Leave-one-out: study 'broad200' is not in the store(s).",)
        else:
            assert t.missing and "broad200" in t.missing, (t.key, t.missing)
    assert all(f.missing and not f.png for f in report.figures)
    html = (tmp_path / "out" / "report.html").read_text()
    assert html.count("Not available:") == len(report.tables) - 2 + len(report.figures)


def test_best_metric_follows_the_metric_direction(store):
    """Table 6: the best of a max metric is its largest value, of a min metric its smallest."""
    put_broad(store)
    for s, best in enumerate((0.9, 0.8, 0.95), 1):  # mri_unet: max; ssim of the fold's points
        for i in (0, 2):
            store.put("broad200/reruns", POINTS[i], "mri_unet", s,
                      curve("mri_unet", 0.5, best=best - 0.1 * i))
    a = analysis(store)
    assert sorted(next(f for f in a.loo.folds if f.name == "mri_unet").built.indices) == [0, 2]
    row = next(r for r in table6(a).records() if r["row"] == "Leave-one-out lists (ours)")
    assert row["mri_unet (ssim ↑)"] == pytest.approx(0.9)  # median of 0.9, 0.8, 0.95
    target = next(r for r in table6(a).records() if r["row"] == "target")
    assert target["ctr_dlrm (log_loss ↓)"] == 0.2


def test_final_list_on_base_workloads_and_variants(store):
    """Tables 7 and 9 read the final list's points from the reruns and variants studies."""
    put_broad(store)
    a = analysis(store)
    final = greedy_list(a.matrix, 2).indices
    assert table9(a).records()[0]["seeds"] == "1"  # no reruns yet: the sample's seed
    for s in (1, 2, 3):
        for i in final:
            for w in BASE:
                store.put("broad200/reruns", POINTS[i], w, s, curve(w, F[i, BASE.index(w)]))
            store.put("broad200/variants", POINTS[i], "image_resnet_silu", s,
                      curve("image_resnet_silu", 0.75 if i == final[0] else INF))
    a = analysis(store)
    t9 = {r["source"]: r for r in table9(a).records()}
    assert [t9["hplists"][w] for w in BASE] == F[list(final)].min(axis=0).tolist()
    assert t9["hplists"]["seeds"] == "3"
    assert t9["paper 001"]["ctr_dlrm"] == paper001.TABLE9["ctr_dlrm"]
    t7 = table7(a)
    assert t7.columns[2:3] == ("image_resnet_silu",)
    ours, paper = t7.records()
    assert ours["image_resnet_silu"] == 0.75 and ours["targets reached"] == "1 of 1"
    assert paper["image_resnet_silu"] == paper001.TABLE7["image_resnet"]  # matched by base


def test_paper_final_list_cost_is_the_hand_computed_c2():
    """Table 9 of paper 001: C_2 = (0.75886 * 2 * 0.949664 * ... * 0.659837) ** (1/8)."""
    by_hand = (0.75886 * 2 * 0.949664 * 0.809714 * 0.82 * 0.79 * 0.58 * 0.659837) ** (1 / 8)
    assert paper001.table9_cost() == pytest.approx(by_hand, rel=1e-12)
    assert list(paper001.TABLE9) == list(paper001.WORKLOADS)


def test_ablation_tables_are_the_core_results(store):
    """Tables 12 and 13 report exactly what tau_sweep and leave_one_out compute."""
    put_broad(store)
    a = analysis(store)
    sweep = tau_sweep(a.matrix, a.taus, 2)
    t12 = table12(a)
    assert t12.column("tau") == list(a.taus)
    assert t12.column("held-out trained") == [f"{n} of 3" for n in sweep.trained]
    assert t12.column("paper: trained (of 8)")[0] == 6
    t13 = {r["strategy (size)"]: r for r in table13(a).records()}
    for method in ("greedy", "exhaustive"):
        loo = leave_one_out(a.matrix, min(4, 4), method=method)
        assert t13[f"{method} (4)"]["held-out trained"] == f"{loo.num_trained} of 3"
        assert t13[f"{method} (4)"]["mean held-out min(t/T, tau)"] == loo.mean_cost


def test_equivalent_budget_is_the_core_result_on_the_held_out_column(store):
    put_broad(store)
    a = analysis(store)
    rows = {r["workload"]: r for r in appendix_b(a).records()}
    for fold in a.loo.folds:
        values = a.matrix.best_metric[:, fold.workload]
        minimize = a.matrix.workloads[fold.workload].mode == "min"
        chosen = values[list(fold.built.indices)]
        result = chosen.min() if minimize else chosen.max()
        n = equivalent_budget(values, result, minimize=minimize)
        assert rows[fold.name]["equivalent budget n (metric)"] == n
        assert rows[fold.name]["list best metric"] == result


def test_ranking_orders_by_targets_then_cost_and_ties_share_a_rank(store):
    put_broad(store)
    for study, f in (("baseline/metz", INF), ("list/nadamw-paper", INF),
                     ("baseline/random-5", 0.5)):
        for w in BASE:
            store.put(study, POINTS[3], w, 1, curve(w, f if w == "ctr_dlrm" else INF))
    ranked = [(r.label, rank, n) for r, rank, n, _ in analysis(store).ranking()]
    assert ranked[0][0] == "Leave-one-out lists (ours)"
    assert ranked[1:] == [("Random search (budget = 5)", 2, 1),
                          ("Metz et al. (first 5)", 3, 0),
                          ("List nadamw-paper (paper 001, Table 10)", 3, 0)]


def test_summary_ranks_the_lists_also_among_rows_of_their_own_budget(store):
    """A baseline with more trials (BO at budget 10) may outrank the lists; the paper's claim
    is at equal budget, so the summary gives that rank too, without hiding the other."""
    put_broad(store)
    for w in BASE:
        store.put("baseline/bo-gp-10", POINTS[3], w, 1, curve(w, 0.25))
    rows = {r["claim"]: r for r in summary(analysis(store)).records()}
    rank = rows["Rank of the leave-one-out lists among the rows of Table 5"]
    assert rank["hplists"].startswith("2 of 2 (behind BO, Optuna GP (budget = 10) (3 targets")
    assert rank["hplists"].endswith("; 1 of 1 among the rows with the same 2-trial budget")
    assert rank["verdict"] == "disagrees: a baseline does as well or better"


def test_failed_and_duplicate_trials_are_counted_and_noted(store, tmp_path):
    put_broad(store)
    key = store.claim("broad200", HParams(9e-3, 0.9, 0.99), "ctr_dlrm", 0)
    store.fail(key, "out of memory")
    other = open_store(tmp_path / "other.db")
    put_broad(other)  # the same trials again
    other.close()
    records, _sources, dup = load_records([store.path, tmp_path / "other.db"])
    assert dup == 12 and len(records) == 13
    a = Analysis(records, SPECS, registry=False, k=2, duplicates=dup)
    # The failed point has no trial on the other workloads: the broad study is not finished,
    # and the report, like the study, builds no list from a subset of it.
    with pytest.raises(Missing, match="the broad study is not finished"):
        _ = a.matrix
    notes = " ".join(a.notes)
    assert "12 trial(s) appear in more than one store" in notes
    assert "1 trial(s) ended in error; they count as misses" in notes


def test_study_names_can_be_overridden_and_unknown_keys_are_errors():
    s = DEFAULT_STUDIES.with_overrides({"broad": "b12", "baseline:bo-5": "bo5"})
    assert (s.broad, s.reruns_study, s.variants_study) == ("b12", "b12/reruns", "b12/variants")
    assert next(b for b in s.baselines if b.key == "bo-5").study == "bo5"
    with pytest.raises(ValueError, match=r"unknown study key 'loo'; the keys are \['broad'"):
        DEFAULT_STUDIES.with_overrides({"loo": "x"})
    with pytest.raises(ValueError, match="bands must be one of"):
        Analysis([], SPECS, registry=False, bands="fast")


def test_readme_section_replaces_only_what_is_between_the_markers():
    head, tail = "# hplists\n\nIntro.\n\n", "\n## Licence\n\nApache-2.0\n"
    old = head + BEGIN + "\nold results\n" + END + "\n" + tail
    new = splice_results(old, BEGIN + "\nnew results\n" + END + "\n")
    assert new == head + BEGIN + "\nnew results\n" + END + "\n" + tail
    assert splice_results("# x\n", BEGIN + "\ns\n" + END + "\n") == \
        "# x\n\n" + BEGIN + "\ns\n" + END + "\n"
    with pytest.raises(ValueError, match="no END marker"):
        splice_results(BEGIN + "\nbroken", BEGIN + "\ns\n" + END + "\n")


def test_readme_section_names_baselines_that_reach_other_counts_than_in_the_paper(store):
    """The paper's LR sweep (WD = 0.5) reaches 2 of 8 targets; one reaching all of ours is a
    disagreement the README states in words; a baseline matching the paper is not listed."""
    from hplists.report.document import build
    from hplists.report.markdown import results_section

    put_broad(store)
    for w in BASE:
        store.put("baseline/lr-sweep-wd0.5", POINTS[2], w, 1, curve(w, 0.5))
    section = results_section(build(analysis(store)))
    line = next(x for x in section.splitlines() if x.startswith("- Targets reached by"))
    assert line == ("- Targets reached by Table 5's baselines, here and in the paper: "
                    "LR sweep (WD = 0.5) 3 of 3 (paper, LR sweep (WD = 0.5): 2 of 8).")


# ---------------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from hplists.report.synthetic import write_synthetic_store

    d = tmp_path_factory.mktemp("synthetic")
    db = d / "study.db"
    write_synthetic_store(db, num_points=40, workloads=4, num_evals=12, seeds=2)
    return db, Path(f"{db}.specs.json")


def test_report_command_writes_html_markdown_csv_and_png(synthetic, tmp_path, capsys):
    db, specs = synthetic
    out = tmp_path / "report"
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n\nKept.\n")
    assert main(["report", str(db), "-o", str(out), "--specs", str(specs), "--svg",
                 "--readme", str(readme)]) == 0
    printed = capsys.readouterr().out
    assert "Held-out base workloads trained by a 5-point list:" in printed
    expected = {"summary", "workloads", "table4", "appendix_b", "table5", "table6",
                "figure2_data", "table7", "table8", "table9", "table10", "table12", "table13"}
    assert {p.stem for p in (out / "tables").glob("*.csv")} == expected
    pngs = {p.stem for p in (out / "figures").glob("*.png")}
    assert pngs == {"figure1_ctr_dlrm", "figure1_mri_unet", "figure1_image_resnet",
                    "figure1_image_vit", "figure2", "profiles"}
    assert {p.stem for p in (out / "figures").glob("*.svg")} == pngs
    assert all((out / "figures" / f"{p}.png").read_bytes()[:4] == b"\x89PNG" for p in pngs)
    md = (out / "report.md").read_text()
    for n in (4, 5, 6, 7, 8, 9, 10, 12, 13):
        assert f"### Table {n}:" in md
    assert "figures/figure2.png" in md and "Not available" not in md
    text = readme.read_text()
    assert text.startswith("# Title\n\nKept.\n") and BEGIN in text and "## Paper 001's experiments" in text
    assert text.endswith(END + "\n")
    assert (out / "results.md").read_text() in text


def test_csv_reads_back_the_table_values(synthetic, tmp_path):
    db, specs_path = synthetic
    from hplists.scoring.workload_specs import load_specs

    specs = load_specs(specs_path)
    report = write_report([db], tmp_path, specs=specs, registry=False)
    t = report.table("table5")
    with open(tmp_path / "tables" / "table5.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == t.columns
    for got, want in zip(rows[1:], t.rows, strict=True):
        for g, w, kind in zip(got, want, t.kinds, strict=True):
            if w is None:
                assert g == ""
            elif kind == "fraction":
                assert float(g) == w  # exact: shortest round-trip repr, inf as "inf"
            else:
                assert g == str(w)


def test_html_is_self_contained(synthetic, tmp_path):
    """No external resource: every image is a data URI; no script, stylesheet or font links."""
    db, specs = synthetic
    assert main(["report", str(db), "-o", str(tmp_path), "--specs", str(specs)]) == 0
    html = (tmp_path / "report.html").read_text()
    srcs = re.findall(r'\bsrc="([^"]*)"', html)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not re.search(r"<(link|script|iframe)\b", html)
    assert "url(" not in html and "@import" not in html
    assert html.count('<table class="data"') == 13


def test_report_command_errors_are_one_clear_line(tmp_path, capsys):
    assert main(["report", "--store", str(tmp_path / "none.db"), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"trial store '{tmp_path / 'none.db'}' does not exist" in err
    assert main(["report", "--store", str(tmp_path / "none.db"), "-o", str(tmp_path / "o"),
                 "--study-name", "nope"]) == 2
    assert "--study-name must be KEY=NAME, got 'nope'" in capsys.readouterr().err


def test_all_tables_have_data_on_a_complete_synthetic_study(synthetic):
    db, specs_path = synthetic
    from hplists.scoring.workload_specs import load_specs

    records, sources, _dup = load_records([db])
    a = Analysis(records, load_specs(specs_path), registry=False, sources=sources)
    for t in all_tables(a):
        assert t.missing is None and t.rows, t.key


def test_an_inconsistent_study_is_reported_and_the_rest_still_computed(store):
    """A baseline trial evaluated beyond the workload's budget makes only that row missing."""
    put_broad(store)
    long = Curve([50, 200], [1.0, 2.0], [1.0, 1.0], {"log_loss": [0.5, 0.1]})
    store.put("baseline/metz", POINTS[0], "ctr_dlrm", 1, long)
    a = analysis(store)
    t = table5(a)
    assert t.missing is None
    note = next(n for n in t.notes if n.startswith("Metz et al. (first 5): no result"))
    assert "cannot be computed" in note and "beyond the step budget 100" in note
    assert a.loo_row.fractions  # the rest is there


def test_summary_sets_each_claim_beside_the_paper_and_says_when_not_comparable(store):
    put_broad(store)
    rows = {r["claim"]: r for r in summary(analysis(store)).records()}
    held = rows["Held-out base workloads trained by a 2-point list"]
    assert held["paper 001"] == "7 of 8 (Table 5)"
    assert held["hplists"] == \
        "2 of 3 (median over seeds: 1); 2 of 3 on the seed the lists were built from"
    assert held["verdict"] == "not directly comparable (3 workloads; the paper has 8)"
    assert rows["Variants trained by the final list"]["verdict"] == "no data"
    assert rows["Rank of the leave-one-out lists among the rows of Table 5"]["hplists"] == \
        "no baseline has a result on every base workload"
