"""``hplists score`` scores what AlgoPerf scores: base workloads, one workload version.

A store like the committed study's: base workloads, an architectural variant,
and a retired study of an older workload version. By default only the base
workloads are scored, variants never share a table with them, and trials of
another version than the registered one (whose target is used) are left out
with a warning that names them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from hplists import Curve, HParams
from hplists.cli.main import main
from hplists.scoring.matrix import submission_times
from hplists.scoring.workload_specs import resolve_specs
from hplists.store import open_store
from hplists.workloads.registry import get_workload

BASE = ("ctr_dlrm", "mri_unet")
VARIANT = "mri_unet_layernorm"


def _curve(workload: str, hit_at: int) -> Curve:
    """20 evaluations; the workload's registered target is first reached at ``hit_at``."""
    w = get_workload(workload)
    steps = np.arange(1, 21) * (w.step_budget // 20)
    sign = 1.0 if w.metric.mode == "min" else -1.0
    values = w.target + sign * np.where(np.arange(20) < hit_at, 0.1, -0.01)
    return Curve(steps, steps / 100, np.ones(20), {w.metric.name: values})


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "study.db"
    store = open_store(path)
    for study, speed in (("fast", 5), ("slow", 10)):
        for p in range(2):
            hp = HParams(learning_rate=10.0 ** -(p + 2), beta1=0.9, beta2=0.99)
            for w in (*BASE, VARIANT):
                store.put(study, hp, w, 0, _curve(w, speed + p), point_index=p,
                          workload_version=get_workload(w).version)
    hp = HParams(learning_rate=1e-3, beta1=0.9, beta2=0.99)
    # a retired study on mri_unet version 1: scored against version 2's target it would win
    store.put("retired/v1", hp, "mri_unet", 0, _curve("mri_unet", 0), point_index=0,
              workload_version="1")
    store.close()
    assert get_workload("mri_unet").version != "1"
    return str(path)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_default_scores_only_the_base_workloads_of_the_current_version(db, capsys):
    code, out, err = run(capsys, "score", "--store", db, "--json")
    assert code == 0
    got = json.loads(out)
    assert got["workload_set"] == "base" and got["workloads"] == list(BASE)
    assert [s["study"] for s in got["submissions"]] == ["fast", "slow"]  # no retired/v1
    assert got["excluded"] == [{"study": "retired/v1", "workload": "mri_unet", "version": "1",
                                "trials": 1, "target_version": get_workload("mri_unet").version}]
    assert "warning: left out trials of other workload versions" in err
    assert "study 'retired/v1' on mri_unet version 1 (1 trials" in err
    # the same numbers as the API on the kept trials
    store = open_store(db, create=False)
    kept = [r for r in store.trials() if r.study != "retired/v1" and r.workload in BASE]
    store.close()
    subs = submission_times(kept, resolve_specs(BASE))
    assert [s["times"] for s in got["submissions"]] == [
        dict(zip(BASE, row, strict=True)) for row in subs.times.tolist()]


def test_variants_are_scored_as_their_own_set(db, capsys):
    code, out, _ = run(capsys, "score", "--store", db, "--variants", "--json")
    got = json.loads(out)
    assert code == 0 and got["workload_set"] == "variants" and got["workloads"] == [VARIANT]
    code, out, _ = run(capsys, "score", "--store", db, "--variants")
    assert code == 0 and "scored as a set of their own" in out


def test_mixing_base_workloads_and_variants_is_refused(db, capsys):
    code, _, err = run(capsys, "score", "--store", db, "--workloads", f"mri_unet,{VARIANT}")
    assert code == 2
    assert ("--workloads mixes base workloads ['mri_unet'] with architectural variants "
            "['mri_unet_layernorm']") in err
    code, _, err = run(capsys, "score", "--store", db, "--variants", "--workloads", "ctr_dlrm")
    assert code == 2 and "--variants scores architectural variants" in err


def test_a_study_of_another_version_only_is_a_clear_error(db, capsys):
    code, _, err = run(capsys, "score", "--store", db, "--studies", "retired/v1")
    assert code == 2 and "study(ies) ['retired/v1'] have no trials to score" in err
    assert "version 1" in err  # the warning still names what was left out


def test_fewer_than_algoperfs_8_base_workloads_is_said(db, capsys):
    code, out, _ = run(capsys, "score", "--store", db)
    assert code == 0
    assert "rho divides by the 2 workloads scored here; AlgoPerf always divides by its 8" in out


def test_best_trial_rule_is_selectable(db, capsys):
    for rule in ("algoperf", "min"):
        code, out, _ = run(capsys, "score", "--store", db, "--time", "seconds", "--best-trial",
                           rule, "--json")
        assert code == 0 and json.loads(out)["best_trial"] == rule


def test_a_workload_known_only_from_specs_with_several_versions_is_refused(tmp_path, capsys):
    """Without a registered version, the specs file cannot say which version its target is for."""
    path = tmp_path / "imported.db"
    store = open_store(path)
    steps = np.arange(1, 21) * 5
    err = np.linspace(0.5, 0.05, 20)
    for version in ("1", "2"):
        store.put(f"s{version}", HParams(learning_rate=1e-3, beta1=0.9, beta2=0.99), "imported",
                  0, Curve(steps, steps / 10, err, {"error_rate": err}), point_index=0,
                  workload_version=version)
    store.close()
    specs = tmp_path / "specs.json"
    specs.write_text(json.dumps({"workloads": {"imported": {
        "metric": "error_rate", "mode": "min", "target": 0.2, "step_budget": 100}}}))
    code, _, err_ = run(capsys, "score", "--store", path, "--specs", specs)
    assert code == 2 and "come from several workload versions {'imported': ['1', '2']}" in err_
    code, _, _ = run(capsys, "score", "--store", path, "--specs", specs, "--studies", "s2")
    assert code == 0
