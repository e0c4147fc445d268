"""``hplists study``: the whole pipeline on tiny workloads, resumption, plans, export, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import workloads as sw
from hplists.cli.main import main
from hplists.curves import Status
from hplists.lists import load_list
from hplists.store import open_store
from hplists.study.workflow import StudyConfig, StudyWorkflow

TESTS = Path(__file__).parent
TINY = ",".join(sw.BASE)
ARGS = ["--workloads", TINY, "--points", "12", "--seeds", "2", "--k", "3", "--no-progress"]


def _write_specs(store_path: Path, out: Path, quantile: float = 0.2) -> Path:
    with open_store(store_path) as store:
        specs = sw.specs_from_broad(store, "broad12", quantile)
    entries = {n: s.to_dict() for n, s in specs.items()}
    entries["study_blobs_wide"] = entries["study_blobs"]  # the variant's target: its base's
    out.write_text(json.dumps({"workloads": entries}))
    return out


def _counts(store, study):
    out = {}
    for r in store.trials(study=study):
        out[r.workload] = out.get(r.workload, 0) + 1
    return out


def test_config_rejects_bad_values_with_the_field_name():
    with pytest.raises(ValueError, match="k must be an integer"):
        StudyConfig(points=4, k=5)
    with pytest.raises(ValueError, match="at least 2 base workloads"):
        StudyConfig(workloads=("study_blobs",))
    with pytest.raises(ValueError, match="baselines must be one of"):
        StudyConfig(baselines=("baseline/vizier",))
    with pytest.raises(ValueError, match="sequence of names"):
        StudyConfig(workloads="study_blobs")
    c = StudyConfig()
    assert c.broad_study == "broad200" and c.rerun_seeds == (1, 2, 3, 4, 5)
    assert c.bo_studies == {5: "baseline/bo-gp-5", 10: "baseline/bo-gp-10"}


def test_the_broad_study_is_the_calibration_study():
    """Same study name, points and training seed as the targets' calibration (runs reused)."""
    from hplists.study.calibration import (
        CALIBRATION_STUDY,
        CALIBRATION_TRAIN_SEED,
        calibration_points,
    )

    c = StudyConfig()
    assert c.broad_study == CALIBRATION_STUDY and c.train_seed == CALIBRATION_TRAIN_SEED
    assert StudyWorkflow(None, c).broad_points() == calibration_points(200)


def test_plan_counts_every_stage_before_anything_trains(tiny, tmp_path):
    store = open_store(tmp_path / "p.db")
    wf = StudyWorkflow(store, StudyConfig(workloads=sw.BASE, points=12, seeds=2, k=3,
                                          bo_budgets=(2, 4)))
    plans = {p.stage: p for p in wf.plan()}
    assert plans["broad"].trials == 36 and plans["broad"].done == 0
    assert plans["broad"].studies == ("broad12",)
    # Lists unknown yet: upper bounds (k final points + k held-out ones per workload).
    assert not plans["reruns"].exact and plans["reruns"].trials == 2 * 3 * 3 * 2
    assert plans["variants"].trials == 3 * 1 * 2  # k points x 1 variant x 2 seeds
    # 4 baselines of k=3 points, 2 lists of 5 points, BO-4 (BO-2 is its prefix): x 3 x 2.
    assert plans["baselines"].trials == (4 * 3 + 2 * 5 + 4) * 3 * 2
    assert "baseline/bo-gp-2" in plans["baselines"].studies
    assert plans["broad"].seconds_left is None  # nothing recorded to estimate from
    assert store.count() == 0


def test_stages_that_need_targets_fail_before_training(tiny, tmp_path):
    store = open_store(tmp_path / "t.db")
    wf = StudyWorkflow(store, StudyConfig(workloads=sw.BASE, points=12, k=3))
    with pytest.raises(ValueError, match=r"have no target.*hplists targets set"):
        wf.run()
    assert store.count() == 0
    from hplists.scoring.workload_specs import WorkloadSpec

    specs = {n: WorkloadSpec(n, "m", "min", 0.1, 40) for n in sw.BASE}
    with pytest.raises(ValueError, match="run --stage broad first"):
        StudyWorkflow(store, wf.config, specs=specs).lists()


@pytest.mark.slow
def test_whole_pipeline_end_to_end_through_the_cli(tiny, tmp_path, capsys):
    """broad -> lists -> reruns -> variants -> baselines -> export, then a rerun trains nothing."""
    db = tmp_path / "study.db"
    assert main(["study", "--store", str(db), "--stage", "broad", *ARGS]) == 0
    specs = _write_specs(db, tmp_path / "specs.json")
    argv = ["study", "--store", str(db), "--specs", str(specs), "--bo-budgets", "2,3", *ARGS]
    assert main(argv) == 0
    out = capsys.readouterr()
    assert "final list (k=3, tau=2)" in out.out and "leave-one-out" in out.out
    assert "broad: trained 0" in out.err and "already done 36" in out.err

    store = open_store(db)
    cfg = StudyConfig(workloads=sw.BASE, points=12, seeds=2, k=3, bo_budgets=(2, 3))
    from hplists.scoring.workload_specs import load_specs
    wf = StudyWorkflow(store, cfg, specs=load_specs(specs))
    lists = wf.lists()
    assert len(lists.final.indices) == 3 and len(lists.loo.folds) == 3

    # Reruns: on each base workload, the final list and its held-out list, seeds 1 and 2.
    reruns = store.trials(study="broad12/reruns")
    for w, pts in lists.rerun_points().items():
        got = {(r.point_index, r.seed) for r in reruns if r.workload == w}
        assert got == {(i, s) for i, _ in pts for s in (1, 2)}
    assert {r.status for r in reruns} <= {Status.COMPLETE, Status.DIVERGED}
    # Variants: the final list on the variant.
    variants = store.trials(study="broad12/variants")
    assert {(r.workload, r.point_index, r.seed) for r in variants} == {
        ("study_blobs_wide", i, s) for i, _ in lists.final_points() for s in (1, 2)}
    # Baselines: their own studies, every base workload, both seeds.
    for study, n in [("baseline/lr-sweep-wd0.5", 3), ("baseline/lr-sweep-wd1e-4", 3),
                     ("baseline/random-3", 3), ("baseline/metz", 3), ("list/nadamw-paper", 5),
                     ("list/nadamw-algoperf-baseline", 5), ("baseline/bo-gp-3", 3),
                     ("baseline/bo-gp-2", 2)]:
        assert _counts(store, study) == {w: n * 2 for w in sw.BASE}, study
    metz = store.trials(study="baseline/metz")
    assert "epsilon" in metz[0].point and "weight_decay" not in metz[0].point
    bo3 = {(r.workload, r.seed, r.point_index): r.point_id
           for r in store.trials(study="baseline/bo-gp-3")}
    bo2 = {(r.workload, r.seed, r.point_index): r.point_id
           for r in store.trials(study="baseline/bo-gp-2")}
    assert bo2 == {k: v for k, v in bo3.items() if k[2] < 2}

    # Resumable: running everything again trains nothing and records nothing new.
    total = store.count()
    assert main(argv) == 0
    assert "trained 0" in capsys.readouterr().err
    assert store.count() == total
    plans = wf.plan()
    assert all(p.exact and p.done == p.trials for p in plans)
    assert all(p.seconds_left == 0.0 for p in plans)

    # The final list as a named list with its provenance.
    out_file = tmp_path / "nadamw-hplists-cpu.json"
    assert main(["study", "export-list", "--store", str(db), "--specs", str(specs),
                 "-o", str(out_file), *ARGS]) == 0
    named = load_list(out_file)
    assert named.name == "nadamw-hplists-cpu"
    assert [p.to_dict() for p in named.points] == [p.to_dict() for _, p in lists.final_points()]
    prov = named.provenance
    assert prov["study"] == "broad12" and prov["tau"] == 2.0 and prov["k"] == 3
    assert prov["workloads"] == list(sw.BASE) and prov["store"] == "study.db"
    assert {"date", "hplists", "targets", "cost", "sample_indices"} <= set(prov)
    # Same points again: fine; other points need --force.
    assert main(["study", "export-list", "--store", str(db), "--specs", str(specs),
                 "-o", str(out_file), *ARGS]) == 0
    data = json.loads(out_file.read_text())
    data["points"] = data["points"][::-1]
    out_file.write_text(json.dumps(data))
    assert main(["study", "export-list", "--store", str(db), "--specs", str(specs),
                 "-o", str(out_file), *ARGS]) == 2
    assert "pass overwrite=True (--force)" in capsys.readouterr().err
    # Without -o the list goes under the working directory's stores/, never into the package.
    from hplists.study.workflow import package_list_path

    shipped = package_list_path("nadamw-hplists-cpu").read_bytes()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert main(["study", "export-list", "--store", str(db), "--specs", str(specs),
                     *ARGS]) == 0
    finally:
        os.chdir(cwd)
    assert load_list(tmp_path / "stores" / "lists" / "nadamw-hplists-cpu.json").name == \
        "nadamw-hplists-cpu"
    assert package_list_path("nadamw-hplists-cpu").read_bytes() == shipped

    # The lists and the plan as JSON.
    assert main(["study", "lists", "--json", "--store", str(db), "--specs", str(specs),
                 *ARGS]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["final"]["indices"] == [i for i, _ in lists.final_points()]
    assert set(payload["leave_one_out"]) == set(sw.BASE)

    # The report of this store: every table and figure of the issue filled from these runs.
    names = ["broad=broad12", "reruns=broad12/reruns", "variants=broad12/variants",
             "baseline:random-5=baseline/random-3", "baseline:bo-5=baseline/bo-gp-2",
             "baseline:bo-10=baseline/bo-gp-3"]
    out_dir = tmp_path / "report"
    assert main(["report", str(db), "-o", str(out_dir), "--specs", str(specs), "--k", "3",
                 "--max-k", "4", *[a for n in names for a in ("--study-name", n)]]) == 0
    printed = capsys.readouterr().out
    assert "no data for" not in printed, printed  # the CLI names every table left empty
    md = (out_dir / "report.md").read_text()
    for key, title in [("table4", "Table 4"), ("table5", "Table 5"), ("table6", "Table 6"),
                       ("table7", "Table 7"), ("table8", "Table 8"), ("table9", "Table 9"),
                       ("table10", "Table 10"), ("table12", "Table 12"),
                       ("table13", "Table 13"), ("appendix_b", "Appendix B")]:
        assert title in md, key
        rows = (out_dir / "tables" / f"{key}.csv").read_text().strip().splitlines()
        assert len(rows) >= 2, key  # a header and at least one row
    pngs = {p.stem for p in (out_dir / "figures").glob("*.png")}
    assert {f"figure1_{w}" for w in sw.BASE} | {"figure2"} <= pngs, pngs


_CHILD = """
import sys
sys.path.insert(0, {tests!r})
from helpers import workloads as study_workloads
study_workloads.register()
from hplists.cli.main import main
sys.exit(main({argv!r}))
"""


@pytest.mark.slow
def test_kill_9_mid_study_then_rerun_loses_nothing_and_duplicates_nothing(tiny, tmp_path):
    db = tmp_path / "kill.db"
    argv = ["study", "--store", str(db), "--stage", "broad", "--workloads", TINY,
            "--points", "24", "--no-progress"]
    code = _CHILD.format(tests=str(TESTS), argv=argv)
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    killed = False
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            with open_store(db) as s:
                done = s.count(study="broad24", status="complete")
            if done >= 24:  # the first workload is finished, the rest is not
                os.kill(proc.pid, signal.SIGKILL)
                killed = True
                break
        time.sleep(0.05)
    proc.wait()
    assert killed, f"the study finished before it could be killed: {proc.stderr.read()[-2000:]}"
    with open_store(db) as s:
        before = {(r.workload, r.point_id): (r.provenance, r.curve.metrics)
                  for r in s.trials(study="broad24", status="complete")}
    assert 24 <= len(before) < 72

    assert main(argv) == 0
    with open_store(db) as s:
        records = s.trials(study="broad24")
        assert len(records) == 72
        assert len({(r.workload, r.point_id, r.seed) for r in records}) == 72
        assert {r.status for r in records} <= {Status.COMPLETE, Status.DIVERGED}
        for r in records:
            if (r.workload, r.point_id) in before:  # finished before the kill: untouched
                assert r.provenance == before[(r.workload, r.point_id)][0]
        finishes = [e for e in s.events(study="broad24") if e["event"] == "finish"]
        assert len(finishes) == 72


def test_bayesian_optimization_baselines_are_chosen_by_their_study_names():
    """As docs/study.md shows: --baselines baseline/bo-gp-10."""
    cfg = StudyConfig(baselines=("baseline/bo-gp-10", "baseline/metz"))
    assert cfg.bo_studies[10] == "baseline/bo-gp-10"
    with pytest.raises(ValueError, match=r"baselines must be one of .*'baseline/bo-gp-5'"):
        StudyConfig(baselines=("baseline/bo-gp-7",))


def test_the_study_records_its_manifest_and_the_report_takes_its_names(tmp_path):
    """With k = 3 the random-search baseline is baseline/random-3; the report finds it from the
    store's manifest instead of guessing baseline/random-5."""
    from hplists.cli.report import _manifest_studies
    from hplists.report.studies import DEFAULT_STUDIES
    from hplists.study.workflow import MANIFEST

    db = tmp_path / "s.db"
    with open_store(db) as store:
        wf = StudyWorkflow(store, StudyConfig(points=12, k=3))
        store.record_manifest(MANIFEST, wf.manifest())
    names = _manifest_studies([str(db)])
    assert names["broad"] == "broad12" and names["baseline:random-5"] == "baseline/random-3"
    studies = DEFAULT_STUDIES.with_overrides(names)
    assert studies.broad == "broad12"
    assert {b.key: b.study for b in studies.baselines}["random-5"] == "baseline/random-3"
    assert _manifest_studies([str(tmp_path / "none.db")]) == {}
