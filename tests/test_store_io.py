"""Export and import of trials (CSV, JSON, Parquet) and the `hplists store` commands."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from hplists import Curve, HParams, Status
from hplists.cli.main import main
from hplists.store import EmptyStoreError, open_store, point_id
from hplists.store.io import (
    export_csv,
    export_json,
    export_parquet,
    export_trials,
    import_csv,
    import_json,
    import_parquet,
)

P = HParams(learning_rate=2e-3, beta1=0.95, beta2=0.99, weight_decay=0.05,
            warmup_fraction=0.02, dropout_rate=0.1)


def _curve(status=Status.COMPLETE, message="", k=1.0):
    return Curve([50, 100, 150], [0.5, 1.0, 1.5], [math.nan, 0.8, 0.6],
                 {"error_rate": [0.9, 0.5 * k, 0.3 * k], "bleu": [math.nan, 10.0, math.inf]},
                 status, message)


@pytest.fixture
def filled(tmp_path):
    """A store with complete, diverged, error, plain-dict and in-flight trials."""
    s = open_store(tmp_path / "src.db")
    s.put("s", P, "wmt", 0, _curve(), point_index=0)
    s.put("s", P, "wmt", 1, _curve(k=1.1), point_index=0, workload_version="3")
    s.put("s", P.replace(learning_rate=0.5), "mnist", 0,
          _curve(Status.DIVERGED, "loss is inf at step 150"), point_index=1)
    key = s.claim("s", P.replace(learning_rate=0.1), "mnist", 0, point_index=2)
    s.fail(key, "killed by the scheduler")
    s.put("lr-free", {"beta1": 0.9, "weight_decay": 1e-3}, "mnist", 0, _curve())
    s.claim("s", P.replace(learning_rate=0.2), "mnist", 0, point_index=3)  # in flight
    return s


def _same(a, b):
    """Two lists of records hold the same trials (provenance aside)."""
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert (x.study, x.point_id, x.point_index, x.point, x.workload, x.workload_version,
                x.seed, x.status, x.message) == (y.study, y.point_id, y.point_index, y.point,
                                                 y.workload, y.workload_version, y.seed,
                                                 y.status, y.message)
        if x.curve is None or y.curve is None:
            assert x.curve is None and y.curve is None
            continue
        np.testing.assert_array_equal(x.curve.steps, y.curve.steps)
        np.testing.assert_array_equal(x.curve.seconds, y.curve.seconds)
        np.testing.assert_array_equal(x.curve.train_loss, y.curve.train_loss)
        assert x.curve.metrics.keys() == y.curve.metrics.keys()
        for k in x.curve.metrics:
            np.testing.assert_array_equal(x.curve.metrics[k], y.curve.metrics[k])


def _finished(store):
    return [t for t in store.trials() if t.status is not Status.RUNNING]


def test_csv_export_import_round_trip(filled, tmp_path):
    """Every finished trial comes back: points (same ids), NaN/inf values, statuses, messages."""
    assert export_csv(filled, tmp_path / "t.csv") == 6
    dst = open_store(tmp_path / "dst.db")
    result = import_csv(dst, tmp_path / "t.csv")
    assert (result.trials, result.written, result.in_flight) == (5, 5, 1)
    _same(_finished(filled), dst.trials())
    again = import_csv(dst, tmp_path / "t.csv")
    assert (again.written, again.skipped) == (0, 5) and dst.count() == 5


def test_csv_layout_is_the_documented_long_table(filled, tmp_path):
    export_csv(filled, tmp_path / "t.csv")
    with open(tmp_path / "t.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    cols = list(rows[0])
    assert cols[:8] == ["study", "workload", "workload_version", "seed", "point_id",
                        "point_index", "status", "message"]
    assert cols[-5:] == ["step", "seconds", "train_loss", "metric.bleu", "metric.error_rate"]
    assert "hp.learning_rate" in cols and "hp.weight_decay" in cols
    wmt = [r for r in rows if r["workload"] == "wmt" and r["seed"] == "0"]
    assert [r["step"] for r in wmt] == ["50", "100", "150"]
    assert wmt[0]["train_loss"] == "" and wmt[2]["metric.bleu"] == "inf"
    assert float(wmt[0]["hp.learning_rate"]) == 2e-3
    error = [r for r in rows if r["status"] == "error"]
    assert len(error) == 1 and error[0]["step"] == "" and error[0]["message"].startswith("killed")


def test_json_export_import_round_trip_keeps_provenance(filled, tmp_path):
    assert export_json(filled, tmp_path / "t.json") == 6
    doc = json.loads((tmp_path / "t.json").read_text())  # strict JSON: no NaN tokens
    assert doc["format"] == "hplists-trials" and len(doc["trials"]) == 6
    assert "NaN" not in (tmp_path / "t.json").read_text()
    dst = open_store(tmp_path / "dst.db")
    assert import_json(dst, tmp_path / "t.json").written == 5
    _same(_finished(filled), dst.trials())
    src_prov = {t.point_id + t.workload + str(t.seed): t.provenance for t in _finished(filled)}
    for t in dst.trials():
        assert t.provenance["source_provenance"] == src_prov[t.point_id + t.workload + str(t.seed)]


def test_parquet_export_when_pyarrow_is_installed(filled, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    assert export_parquet(filled, tmp_path / "t.parquet") == 6
    table = pq.read_table(tmp_path / "t.parquet")
    assert table.num_rows == 3 * 4 + 2  # four trials with 3 evals, error and running rows
    assert str(table.schema.field("step").type) == "int64"
    assert str(table.schema.field("metric.error_rate").type) == "double"
    dst = open_store(tmp_path / "dst.db")
    assert import_parquet(dst, tmp_path / "t.parquet").written == 5
    _same(_finished(filled), dst.trials())


def test_export_trials_dispatches_on_format(filled, tmp_path):
    assert export_trials(filled, tmp_path / "x", "json") == 6
    with pytest.raises(ValueError, match="format must be one of 'csv', 'json', 'parquet'; got 'xml'"):
        export_trials(filled, tmp_path / "x", "xml")


def test_export_of_an_empty_store_is_a_clear_error(tmp_path):
    s = open_store(tmp_path / "empty.db")
    with pytest.raises(EmptyStoreError, match="has no trials"):
        export_csv(s, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_hand_written_csv_with_algoperf_keys_imports_as_hparams(tmp_path):
    """Results produced elsewhere: AlgoPerf key names, unprefixed metrics, blank cells."""
    (tmp_path / "ext.csv").write_text(
        "study,workload,seed,learning_rate,one_minus_beta1,beta2,weight_decay,warmup_factor,"
        "step,seconds,train_loss,ssim\n"
        "ext,fastmri,1,0.001,0.1,0.999,0.1,0.05,100,10.5,0.9,0.70\n"
        "ext,fastmri,1,0.001,0.1,0.999,0.1,0.05,200,21.0,,0.72\n"
        "ext,fastmri,1,0.003,0.1,0.999,0.1,0.05,100,10.0,0.8,0.71\n")
    dst = open_store(tmp_path / "d.db")
    assert import_csv(dst, tmp_path / "ext.csv").written == 2
    t = next(t for t in dst.trials() if t.point["learning_rate"] == 1e-3)
    expected = HParams(1e-3, 0.9, 0.999, weight_decay=0.1, warmup_fraction=0.05)
    assert t.hparams == expected and t.point_id == point_id(expected)
    assert t.curve.metric("ssim").tolist() == [0.70, 0.72] and math.isnan(t.curve.train_loss[1])
    assert t.seed == 1 and t.status is Status.COMPLETE and t.provenance["source_provenance"][
        "imported_from"] == "ext.csv"


def test_csv_without_study_column_takes_the_study_argument(tmp_path):
    (tmp_path / "n.csv").write_text("workload,hp.momentum,step,metric.acc\nw,0.9,1,0.5\n")
    dst = open_store(tmp_path / "d.db")
    with pytest.raises(ValueError, match="missing column 'study'"):
        import_csv(dst, tmp_path / "n.csv")
    assert import_csv(dst, tmp_path / "n.csv", study="sgd").written == 1
    (t,) = dst.trials()
    assert t.study == "sgd" and t.point == {"momentum": 0.9} and t.seed == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("study,step,lr\ns,1,0.1\n", "missing required column 'workload'"),
        ("study,workload,lr\ns,w,0.1\n", "missing required column 'step'"),
        ("study,workload,step,hp.lr,acc\ns,w,1,0.1,high\n",
         "row 2, column 'acc': not a number: 'high'"),
        ("study,workload,step,hp.lr,status\ns,w,1,0.1,done\n",
         "row 2, column 'status': status must be one of 'running', 'complete', 'diverged', "
         "'error'; got 'done'"),
        ("study,workload,step,hp.lr,status\ns,w,1,0.1,complete\ns,w,2,0.1,diverged\n",
         "row 3: status <Status.DIVERGED: 'diverged'> differs from <Status.COMPLETE: "
         "'complete'> in row 2"),
        ("study,workload,step,hp.lr\ns,w,1,0.1\ns,w,1,0.1\n", "has step(s) [1] more than once"),
        ("study,workload,step,hp.lr\ns,w,1.5,0.1\n", "column 'step': must be an integer"),
        ("study,workload,step,acc\ns,w,1,0.5\n", "row 2: no hyperparameter values"),
        ("study,workload,step,point_id,hp.lr\ns,w,1,abc,0.1\n",
         "point_id 'abc' does not match the hyperparameter columns"),
        ("study,workload,step,learning_rate,beta1,beta2\ns,w,1,0.1,1.5,0.9\n",
         "row 2: beta1 must be in [0, 1), got 1.5"),
        ("", "is empty (expected a CSV header)"),
    ],
)
def test_bad_csv_imports_say_where_and_what(tmp_path, text, message):
    (tmp_path / "bad.csv").write_text(text)
    dst = open_store(tmp_path / "d.db")
    with pytest.raises(ValueError) as e:
        import_csv(dst, tmp_path / "bad.csv")
    assert message in str(e.value)
    assert dst.count() == 0


def test_json_import_rejects_other_files(tmp_path):
    (tmp_path / "x.json").write_text('{"trials": []}')
    with pytest.raises(ValueError, match="is not an hplists JSON export"):
        import_json(open_store(tmp_path / "d.db"), tmp_path / "x.json")


# ----- command line --------------------------------------------------------------------------


def test_cli_store_info_export_import(filled, tmp_path, capsys):
    assert main(["store", "info", str(filled.path)]) == 0
    out = capsys.readouterr().out
    assert "format: hplists-trial-store schema 1" in out and "trials: 6" in out
    line = next(x for x in out.splitlines() if x.startswith("s ") and "mnist" in x)
    assert line.split()[2:] == ["0", "1", "1", "1"]  # complete diverged error running

    for fmt in ("csv", "json", "parquet"):
        if fmt == "parquet":
            pytest.importorskip("pyarrow")
        out_file = tmp_path / f"t.{fmt}"
        assert main(["store", "export", str(filled.path), "-o", str(out_file)]) == 0
        assert f"exported 6 trials to {out_file} ({fmt})" in capsys.readouterr().out
        db = tmp_path / f"from_{fmt}.db"
        assert main(["store", "import", str(db), str(out_file)]) == 0
        msg = capsys.readouterr().out
        assert "imported 5 of 5 finished trials" in msg and "1 in-flight" in msg
        _same(_finished(filled), open_store(db).trials())


def test_cli_store_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not a database " * 100)
    assert main(["store", "info", str(tmp_path / "notes.txt")]) == 2
    assert "is not an hplists trial store" in capsys.readouterr().err
    assert main(["store", "info", str(tmp_path / "none.db")]) == 2
    assert "no trial store at" in capsys.readouterr().err
    open_store(tmp_path / "empty.db").close()
    assert main(["store", "export", str(tmp_path / "empty.db"), "-o", str(tmp_path / "e.csv")]) == 2
    assert "has no trials" in capsys.readouterr().err


def test_cli_store_retire_moves_a_registered_workloads_old_versions(tmp_path, capsys):
    store = open_store(tmp_path / "s.db")
    store.put("broad200", {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.99}, "mri_unet", 0,
              Curve([10], [1.0], [0.5], {"ssim": [0.3]}), workload_version="0-old")
    assert main(["store", "retire", str(store.path), "--study", "broad200",
                 "--workload", "mri_unet"]) == 0
    assert "moved 1 trials to broad200/retired/mri_unet/v0-old" in capsys.readouterr().out
    assert store.studies() == ["broad200/retired/mri_unet/v0-old"]
    assert main(["store", "retire", str(store.path), "--study", "broad200",
                 "--workload", "no_such_workload"]) == 2
