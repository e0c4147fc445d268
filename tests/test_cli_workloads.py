"""``hplists workloads`` and ``hplists run``: tables, JSON, the store, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.workloads import TinyBlobs
from hplists.cli.main import main
from hplists.workloads.registry import register, workload_names


@register
class CliBlobs(TinyBlobs):
    """A tiny registered workload so the commands run in a second."""

    name = "test_cli_blobs"
    task = "three Gaussian classes"
    batching = "sequential"


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")


def run_json(capsys, *argv):
    assert main(["run", "--workload", "test_cli_blobs", "--json", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_workloads_lists_every_registered_workload(capsys):
    assert main(["workloads", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["workloads"]
    by_name = {r["name"]: r for r in rows}
    assert set(by_name) == set(workload_names())
    blobs = by_name["test_cli_blobs"]
    assert (blobs["metric"], blobs["mode"], blobs["step_budget"], blobs["batch_size"]) == (
        "error_rate", "min", 40, 16)
    assert "seconds_per_trial" in blobs


def test_workloads_table_names_the_metric_direction(capsys):
    assert main(["workloads"]) == 0
    out = capsys.readouterr().out
    assert "test_cli_blobs" in out and "error_rate ↓" in out


def test_run_reports_each_point_and_the_best(capsys):
    out = run_json(capsys, "--k", "3", "--list", "nadamw-paper")
    assert out["k"] == 3 and len(out["points"]) == 3
    assert all(p["status"] == "complete" for p in out["points"])
    bests = [p["best"] for p in out["points"]]
    assert out["best_index"] == int(np.argmin(bests))
    assert out["points"][0]["point"]["learning_rate"] == pytest.approx(0.007188680089024849)
    assert out["target"] is None  # no target for this workload


def test_run_table_prints_the_best_point(capsys):
    assert main(["run", "--workload", "test_cli_blobs", "--k", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "best point: #" in out and "no target" in out


def test_run_with_a_store_trains_each_point_once(tmp_path, capsys):
    from hplists.store import open_store

    db = str(tmp_path / "runs.db")
    first = run_json(capsys, "--k", "2", "--store", db)
    again = run_json(capsys, "--k", "2", "--store", db)
    assert first["points"] == again["points"]  # read back from the store, not retrained
    store = open_store(db)
    trials = store.trials("run/nadamw-paper", "test_cli_blobs")
    assert len(trials) == 2
    events = [r.provenance.get("claimed_at") for r in trials]
    assert all(events)


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["run", "--workload", "nope"], "unknown workload"),
     (["run", "--workload", "test_cli_blobs", "--k", "0"], "k must be"),
     (["run", "--workload", "test_cli_blobs", "--list", "nope"], "unknown list"),
     (["run", "--workload", "test_cli_blobs", "--batching", "gpu"], "batching must be"),
     (["run", "--workload", "test_cli_blobs", "--list", "metz-nadamw", "--update-rule",
       "nowhere"], "update_rule must be")],
)
def test_bad_arguments_are_one_clear_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_run_with_a_store_keeps_another_budget_in_its_own_study(tmp_path, capsys):
    """--steps (and --update-rule) are part of what a stored trial is."""
    from hplists.store import open_store

    db = str(tmp_path / "runs.db")
    full = run_json(capsys, "--k", "1", "--store", db)
    short = run_json(capsys, "--k", "1", "--store", db, "--steps", "10")
    assert short["points"][0] != full["points"][0]  # trained again, not read back
    studies = open_store(db).studies()
    assert set(studies) == {"run/nadamw-paper", "run/nadamw-paper/T10"}


def test_tables_keep_every_column_when_not_written_to_a_terminal(capsys):
    """`hplists workloads | cat` used to lose the metric, target and T columns at 80 columns."""
    from hplists.cli.main import main

    assert main(["workloads"]) == 0
    header = next(line for line in capsys.readouterr().out.splitlines() if "name" in line)
    for column in ("metric", "target", " T ", "batching", "CPU-s/trial"):
        assert column in header
