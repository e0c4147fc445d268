"""The 8-bit state study (hplists.study.state_bits) and its report (hplists.report.state_bits)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from helpers import workloads as sw
from hplists import Curve, get_list
from hplists.cli.main import main
from hplists.exceptions import InvalidParameterError
from hplists.report import state_bits as report
from hplists.scoring.matrix import submission_times_from_store
from hplists.scoring.workload_specs import WorkloadSpec
from hplists.store import open_store
from hplists.store.base import point_id
from hplists.study.evaluate import list_study
from hplists.study.state_bits import (
    StateBitsConfig,
    StateBitsStudy,
    builtin_workloads,
    measure_quantization,
    parameter_counts,
    read_measurement,
)
from hplists.trials import LocalExecutor
from hplists.workloads import registry

SPECS = {"study_blobs": WorkloadSpec("study_blobs", "error_rate", "min", 0.3, 40),
         "study_line": WorkloadSpec("study_line", "r2", "max", 0.5, 40)}
S32, S8 = "run/nadamw-hplists-cpu", "run/nadamw-hplists-cpu/nadamw8"


class WideBlobs(sw.TinyBlobs):
    """study_blobs with 512 hidden units: its first layer (8 x 512 = 4096 elements) is the
    smallest tensor whose moments nadamw8 stores in 8 bits."""

    name = "state8_wide_blobs"
    hidden = 512
    step_budget = 20


@pytest.fixture
def wide(tiny):
    registry.register(WideBlobs)  # dropped with the tiny workloads after the test
    yield WideBlobs()


def _study(tmp_path, **kw):
    cfg = StateBitsConfig(**{"workloads": ("study_blobs",), "seeds": 1, "k": 2,
                             "quantization_workload": WideBlobs.name, **kw})
    return StateBitsStudy(open_store(tmp_path / "state8.db"), cfg, specs=SPECS,
                          executor=LocalExecutor(), progress=False)


# ----------------------------------------------------------------------------- the task set


def test_the_study_is_16_workloads_5_points_3_seeds_on_two_sides(tmp_path):
    st = StateBitsStudy(open_store(tmp_path / "state8.db"))
    names = builtin_workloads()
    assert [w.name for w in st.workloads] == names and len(names) == 16
    assert sum(w.base is None for w in st.workloads) == 8
    tasks = st.tasks()
    assert sum(len(t.points) for t in tasks) == 480
    ids = [point_id(p) for p in get_list("nadamw-hplists-cpu").points[:5]]
    sides: dict[str, set] = {S32: set(), S8: set()}
    for t in tasks:
        assert t.update_rule == (None if t.study == S32 else "nadamw8")
        assert t.step_budget is None and t.indices == (0, 1, 2, 3, 4)
        sides[t.study] |= {(t.workload.name, t.seed, point_id(p)) for p in t.points}
    assert sides[S32] == sides[S8]  # the same points and seeds on both sides
    assert sides[S32] == {(w, s, i) for w in names for s in (1, 2, 3) for i in ids}
    # the studies `hplists evaluate --list nadamw-hplists-cpu [--update-rule nadamw8]` writes
    w = st.workloads[0]
    assert (st.study("32-bit", w), st.study("8-bit", w)) == (
        list_study("nadamw-hplists-cpu", None, None, w.step_budget),
        list_study("nadamw-hplists-cpu", "nadamw8", None, w.step_budget))
    plan = {p.stage: p for p in st.plan()}
    assert (plan["train"].trials, plan["train"].done, plan["train"].left) == (480, 0, 480)
    assert (plan["quantization"].trials, plan["quantization"].done) == (5, 0)
    assert plan["train"].seconds_left is not None and plan["train"].seconds_left > 0
    assert st.quantization_path() == tmp_path / "state8_quantization.json"


def test_short_runs_get_studies_of_their_own_and_the_config_is_checked(tmp_path):
    st = StateBitsStudy(open_store(tmp_path / "s.db"),
                        StateBitsConfig(workloads=("ctr_dlrm",), steps=20))
    assert st.study("8-bit", st.workloads[0]) == f"{S8}/T20"
    assert st.specs()["ctr_dlrm"].step_budget == 20
    with pytest.raises(InvalidParameterError, match="seeds"):
        StateBitsConfig(seeds=0)
    with pytest.raises(InvalidParameterError, match="string"):
        StateBitsConfig(workloads="ctr_dlrm")
    assert parameter_counts(registry.get_workload("ctr_dlrm")) == (101393, 99200)


# ----------------------------------------------------------------------------- resuming


def test_a_second_run_trains_nothing_and_keeps_the_measurement(wide, tmp_path):
    st = _study(tmp_path)
    first = {r.stage: r for r in st.run()}
    assert (first["train"].trained, first["train"].already_done) == (4, 0)
    assert (first["quantization"].trained, first["quantization"].already_done) == (2, 0)
    path = st.quantization_path()
    data = path.read_bytes()
    assert len(st.store.trials(S32)) == len(st.store.trials(S8)) == 2
    again = {r.stage: r for r in _study(tmp_path).run()}
    assert (again["train"].trained, again["train"].already_done) == (0, 4)
    assert (again["quantization"].trained, again["quantization"].already_done) == (0, 2)
    assert path.read_bytes() == data  # kept as it is
    assert [(p.stage, p.left, p.steps_left) for p in _study(tmp_path).plan()] == [
        ("quantization", 0, 0), ("train", 0, 0)]
    assert st.store.manifest("state8")["studies"] == {"32-bit:study_blobs": S32,
                                                       "8-bit:study_blobs": S8}
    # A partial measurement is completed; another study's is refused.
    partial = json.loads(data)
    partial["runs"] = partial["runs"][:1]
    path.write_text(json.dumps(partial))
    assert _study(tmp_path).run(["quantization"])[0].trained == 1
    assert json.loads(path.read_text())["runs"][1] == json.loads(data)["runs"][1]
    with pytest.raises(InvalidParameterError, match="seed differ"):
        _study(tmp_path, quantization_seed=2).run(["quantization"])


# --------------------------------------------------------------------- the quantization error


def test_the_quantization_error_is_small_not_zero_and_from_the_real_rule(wide, monkeypatch):
    from hplists.optim import optax_nadamw8
    from hplists.trials.tasks import resolve_rule
    from hplists.workloads import engine

    calls = []
    real = optax_nadamw8.quantize_blockwise
    monkeypatch.setattr(optax_nadamw8, "quantize_blockwise",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    point = get_list("nadamw-hplists-cpu").points[0]
    run = measure_quantization(wide, point, 1)
    assert calls  # the rule's own quantization ran
    assert run["status"] == "complete" and run["steps"] == list(wide.eval_steps)
    for name in ("m_error", "v_error"):
        assert all(1e-4 < e < 0.05 for e in run[name]), (name, run[name])
    assert run["codes_matching"] == [1.0] * 20  # what the rule stored is q(m) of the f32 moments
    assert run["m_drift"][0] == pytest.approx(run["m_error"][0])  # nothing accumulated yet
    assert 0 < run["param_drift"][-1] < 0.5
    # The 8-bit run is the engine's nadamw8 trial of the study (same init, batches, dropout).
    curve = engine.train(wide, [point], 1, update_rule=resolve_rule("nadamw8"),
                         batching="sequential")[0]
    np.testing.assert_allclose(run["train_loss"], curve.train_loss, rtol=1e-5)
    with pytest.raises(InvalidParameterError, match="no parameter tensor"):
        measure_quantization(registry.get_workload("study_blobs"), point, 1)


# ---------------------------------------------------------------------------- the report


def _curve(values, status="complete"):
    steps = np.array([10, 20, 30, 40])
    return Curve(steps, steps / 10.0, np.ones(4), {"error_rate": np.array(values, float)},
                 status)


# Per side and seed: the error rates of points 1 and 2 at steps 10..40 (target 0.3, lower is
# better); None: not recorded yet.
BLOBS = {
    S32: {1: ([.5, .4, .3, .2], [.5, .25, .2, .1]),   # t/T 0.75 and 0.5: list 0.5, best 0.1
          2: ([.5, .45, .4, .35], [.6, .5, .4, .3]),  # the second point at 40: 1.0, best 0.3
          3: ([.9, .8, .7, .6], [.5, .5, .4, .31])},  # missed, best 0.31
    S8: {1: ([.5, .4, .35, .32], [.5, .45, .4, .4]),  # missed, best 0.32
         2: ([.3, .2, .2, .2], [.5, .4, .3, .3]),     # the first point at 10: 0.25, best 0.2
         3: ([.5, .4, .3, .2], None)},                # not all finished: left out
}


def test_the_report_table_of_a_synthetic_store(tiny, tmp_path):
    st = StateBitsStudy(open_store(tmp_path / "state8.db"),
                        StateBitsConfig(workloads=("study_blobs",), k=2), specs=SPECS)
    points = st.points()
    for study, seeds in BLOBS.items():
        for seed, curves in seeds.items():
            for i, values in enumerate(curves):
                if values is not None:
                    st.store.put(study, points[i], "study_blobs", seed, _curve(values),
                                 point_index=i)
    results = report.StateBitsResults(st)
    (w,) = results.workloads
    a, b = w.sides["32-bit"], w.sides["8-bit"]
    assert [(s.seed, s.fraction, s.trials_to_hit, s.best) for s in a.seeds] == [
        (1, 0.5, 1, 0.1), (2, 1.0, 2, 0.3), (3, math.inf, None, 0.31)]
    assert (a.hits, a.fraction, a.best, a.trials) == (2, 1.0, 0.3, 6)
    assert [s.seed for s in b.seeds] == [1, 2] and (b.hits, b.trials) == (1, 5)
    assert b.fraction == math.inf and b.best == pytest.approx(0.26)  # medians of two seeds
    assert results.pairs("32-bit") == (2, 2) and results.pairs("8-bit") == (1, 2)
    assert (results.finished, results.trials) == (11, 12)
    # the list's t/T per seed is AlgoPerf's (and Table 5's) time of a submission
    times = submission_times_from_store(st.store, st.specs(), studies=[S32],
                                        workloads=["study_blobs"])
    assert times.times[0, 0] == a.fraction
    summary = report.tables(results)[0]
    assert summary.columns[:6] == ("workload", "in 8-bit", "targets 32-bit", "targets 8-bit",
                                   "t/T 32-bit", "t/T 8-bit")
    assert summary.rows[0] == ("study_blobs", 0.0, "2 of 3", "1 of 2", 1.0, math.inf,
                               "error_rate (min)", 0.3, pytest.approx(0.26))
    assert summary.rows[-1][:4] == ("all", None, "2 of 2", "1 of 2")
    assert report.tables(results)[2].missing.startswith("no quantization measurement")


def test_the_report_splices_its_sections_and_writes_the_tables(tiny, tmp_path):
    st = StateBitsStudy(open_store(tmp_path / "state8.db"),
                        StateBitsConfig(workloads=("study_blobs",), k=2), specs=SPECS)
    points = st.points()
    for i, values in enumerate(BLOBS[S32][1]):
        st.store.put(S32, points[i], "study_blobs", 1, _curve(values), point_index=i)
    page, readme = tmp_path / "results.md", tmp_path / "README.md"
    page.write_text(f"# Results\n\n{report.BEGIN}\nold\n{report.END}\n\ntail\n")
    readme.write_text(f"intro\n\n{report.SUMMARY_BEGIN}\nold\n{report.SUMMARY_END}\nend\n")
    results = report.StateBitsResults(st)
    written = report.write(results, tmp_path / "out", command="hplists study report state8 X",
                           readme=page, summary=readme)
    assert sorted(p.rsplit("/", 1)[-1] for p in written) == [
        "README.md", "results.md", "state8.md", "state8_quantization.csv",
        "state8_quantization_series.csv", "state8_seeds.csv", "state8_summary.csv"]
    text, summary = page.read_text(), readme.read_text()
    assert text.startswith("# Results\n\n" + report.BEGIN) and text.endswith(
        report.END + "\n\ntail\n")
    assert "old" not in text and "`hplists study report state8 X`" in summary
    assert summary.startswith("intro\n\n") and summary.endswith(report.SUMMARY_END + "\nend\n")
    assert "| study_blobs | 0.0% | 1 of 1 | — | 0.5000 | — |" in summary
    report.write(results, None, command="hplists study report state8 X", readme=page,
                 summary=readme)
    assert (page.read_text(), readme.read_text()) == (text, summary)  # regenerating: the same
    assert read_measurement(tmp_path / "none.json") is None


# ------------------------------------------------------------------------- the command line


def test_the_command_line_plans_and_refuses_what_state8_does_not_read(tmp_path, monkeypatch,
                                                                       capsys):
    monkeypatch.chdir(tmp_path)  # no stores/: planned against an empty store
    assert main(["study", "plan", "state8", "--json"]) == 0
    plan = {p["stage"]: p for p in json.loads(capsys.readouterr().out)}
    assert (plan["train"]["trials"], plan["quantization"]["trials"]) == (480, 5)
    assert plan["quantization"]["studies"] == ["stores/state8_quantization.json"]
    assert not (tmp_path / "stores").exists()
    assert main(["study", "plan", "state8", "--points", "64"]) == 2
    assert "--points applies to study paper001, lrfree only" in capsys.readouterr().err
    open_store(tmp_path / "s.db").close()
    assert main(["study", "report", "state8", "--store", "s.db"]) == 2  # nothing to write
    assert main(["study", "report", "lrfree", "--store", "s.db"]) == 2
    assert "give -o DIR" in capsys.readouterr().err


def test_every_study_report_goes_through_one_entry_point_which_names_what_is_missing():
    """`write_study_report` dispatches the three studies' reports; a folder is required but for
    state8, whose summary table is its alone."""
    import types

    from hplists.report.studies import write_study_report

    with pytest.raises(InvalidParameterError, match="out_dir is required for study 'lrfree'"):
        write_study_report(types.SimpleNamespace(name="lrfree"), None, command="c")
    with pytest.raises(InvalidParameterError, match="summary applies to study 'state8' only"):
        write_study_report(types.SimpleNamespace(name="paper001"), "out", command="c",
                           summary="README.md")
    with pytest.raises(InvalidParameterError, match="no report for study 'nope'"):
        write_study_report(types.SimpleNamespace(name="nope"), "out", command="c")
