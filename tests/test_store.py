"""The trial store contract on every backend (SQLite, PostgreSQL): idempotence, round trips,
stale-trial reclaim, clear errors; then what only the SQLite file has (its format, its schema)."""

from __future__ import annotations

import json
import math
import os
import socket
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers.postgres import execute, is_postgres
from hplists import Curve, HParams, Status
from hplists.cpu import cpu_signature
from hplists.store import (
    CorruptStoreError,
    EmptyStoreError,
    PostgresStore,
    SQLiteStore,
    TrialKey,
    TrialRecord,
    TrialStore,
    open_store,
    point_id,
)
from hplists.store.liveness import run_token

P = HParams(learning_rate=1e-3, beta1=0.9, beta2=0.999, weight_decay=0.1, warmup_fraction=0.05)


def curve(*, status=Status.COMPLETE, message="", n=3, shift=0.0):
    steps = [100 * (i + 1) for i in range(n)]
    return Curve(steps, [1.5 * (i + 1) for i in range(n)],
                 [math.nan] + [1.0 / (i + 1) for i in range(1, n)],
                 {"error_rate": [0.5 - 0.1 * i + shift for i in range(n)],
                  "loss": [math.inf] + [2.0 - 0.1 * i for i in range(1, n)]},
                 status, message)


def assert_curves_equal(a: Curve, b: Curve) -> None:
    np.testing.assert_array_equal(a.steps, b.steps)
    np.testing.assert_array_equal(a.seconds, b.seconds)
    np.testing.assert_array_equal(a.train_loss, b.train_loss)  # NaN == NaN here
    assert sorted(a.metrics) == sorted(b.metrics)
    for k in a.metrics:
        np.testing.assert_array_equal(a.metrics[k], b.metrics[k])
    assert (a.status, a.message) == (b.status, b.message)


@pytest.fixture
def store(store_url):
    """A new store of each backend (``store_url`` in conftest.py)."""
    s = open_store(store_url)
    yield s
    s.close()


@pytest.fixture
def sqlite_store(tmp_path):
    s = open_store(tmp_path / "study.db")
    yield s
    s.close()


# ----- the contract --------------------------------------------------------------------------


def test_open_store_is_a_trial_store_in_wal_mode(store, store_url):
    backend = PostgresStore if is_postgres(store_url) else SQLiteStore
    assert isinstance(store, backend) and isinstance(store, TrialStore)
    assert store.summary()["journal_mode"] == "wal"
    assert store.summary()["meta"]["format"] == "hplists-trial-store"


def test_point_id_is_a_stable_short_sha256():
    """The id of a point never changes between versions: stores stay joinable."""
    assert point_id(HParams(1e-3, 0.9, 0.999)) == "1b18e0bec5bbaa14"
    assert point_id({"b": 1, "a": 0.5}) == point_id({"a": 0.5, "b": 1.0})
    assert point_id({"a": -0.0}) == point_id({"a": 0.0})
    assert point_id(P) == point_id(P.to_dict()) != point_id({"learning_rate": 1e-3})


def test_claim_finish_then_claim_again_is_skipped(store):
    key = store.claim("s", P, "mnist", 0, point_index=2)
    assert isinstance(key, TrialKey) and key.run_token == run_token()
    assert store.trials()[0].status is Status.RUNNING and store.trials()[0].curve is None
    assert store.finish(key, curve())
    assert store.claim("s", P, "mnist", 0) is None
    assert store.claim("s", P, "mnist", 1) is not None  # another seed is another trial


def test_claiming_twice_in_one_process_returns_the_same_trial(store):
    """A process that claims its own in-flight trial again (a retry) gets it back."""
    a = store.claim("s", P, "w", 0)
    b = store.claim("s", P, "w", 0)
    assert a == b and store.count() == 1


def test_round_trip_of_curve_point_and_provenance(store):
    """NaN train loss, infinite metric values, HParams and provenance come back exactly."""
    key = store.claim("s", P, "w", 3, point_index=7, workload_version="2")
    c = curve()
    assert store.finish(key, c)
    (t,) = store.trials()
    assert isinstance(t, TrialRecord)
    assert (t.study, t.workload, t.workload_version, t.seed, t.point_index) == (
        "s", "w", "2", 3, 7)
    assert t.point_id == point_id(P) and t.hparams == P and t.point == P.to_dict()
    assert t.status is Status.COMPLETE and t.message == ""
    assert_curves_equal(t.curve, c)
    assert math.isnan(t.curve.train_loss[0]) and t.curve.metric("loss")[0] == math.inf
    prov = t.provenance
    assert prov["hplists"] and prov["python"] and prov["hostname"] == socket.gethostname()
    assert prov["workload_version"] == "2" and prov["run_token"] == run_token()
    assert prov["claimed_at"] <= prov["finished_at"]
    # The curve's last bits depend on the CPU's kernels: the trial says which CPU it ran on.
    assert prov["cpu"] == cpu_signature()


def test_diverged_and_error_trials_keep_status_and_message(store):
    k1 = store.claim("s", P, "a", 0)
    k2 = store.claim("s", P, "b", 0)
    store.finish(k1, curve(status=Status.DIVERGED, message="loss is NaN at step 300"))
    store.fail(k2, "CUDA out of memory")
    a, b = store.trials()
    assert (a.status, a.message, a.curve.status) == (Status.DIVERGED, "loss is NaN at step 300",
                                                     Status.DIVERGED)
    assert (b.status, b.message, b.curve) == (Status.ERROR, "CUDA out of memory", None)
    assert store.claim("s", P, "a", 0) is None and store.claim("s", P, "b", 0) is None


def test_writes_are_idempotent_and_never_overwrite(store):
    """put twice, or finish after put, keeps the first result; duplicates are logged."""
    first = curve()
    assert store.put("s", P, "w", 0, first, point_index=0) is True
    assert store.put("s", P, "w", 0, curve(shift=1.0)) is False
    key = store.claim("s", P, "w", 1)
    assert store.finish(key, first) is True
    assert store.finish(key, curve(shift=1.0)) is False
    assert store.count() == 2
    for t in store.trials():
        assert_curves_equal(t.curve, first)
    events = [e["event"] for e in store.events()]
    assert events == ["put", "claim", "finish", "discard"]


def test_a_late_finish_after_a_put_is_discarded(store):
    """Two writers of one trial: the first result wins, the second is dropped, not duplicated."""
    key = store.claim("s", P, "w", 0)
    assert store.put("s", P, "w", 0, curve()) is True
    assert store.finish(key, curve(shift=1.0)) is False
    (t,) = store.trials()
    assert t.curve.metric("error_rate")[0] == 0.5


def test_trials_filters_and_listing(store):
    for i, wl in enumerate(["b", "a", "c"]):
        store.put("s1", {"x": float(i)}, wl, 0, curve(), point_index=2 - i)
    store.put("s2", {"x": 9.0}, "a", 0, curve(status=Status.DIVERGED))
    store.claim("s2", {"x": 10.0}, "z", 0)
    assert store.studies() == ["s1", "s2"]
    assert store.workloads() == ["a", "b", "c", "z"] and store.workloads("s2") == ["a", "z"]
    assert [t.workload for t in store.trials(study="s1")] == ["a", "b", "c"]
    assert [t.point["x"] for t in store.trials(workload="a")] == [1.0, 9.0]
    assert len(store.trials(status="diverged")) == 1
    assert len(store.trials(status=[Status.COMPLETE, "running"])) == 4
    assert store.count(study="s1") == 3


def test_trials_are_ordered_by_point_index(store):
    for i in (3, 0, 2, 1):
        store.put("s", {"x": float(i)}, "w", 0, curve(), point_index=i)
    store.put("s", {"x": -1.0}, "w", 0, curve())
    assert [t.point_index for t in store.trials()] == [0, 1, 2, 3, None]


def test_workload_version_mismatch_is_an_error(store):
    store.put("s", P, "w", 0, curve(), workload_version="1")
    with pytest.raises(ValueError, match="recorded with workload_version '1', not '2'"):
        store.claim("s", P, "w", 0, workload_version="2")


def test_retire_moves_old_versions_out_of_the_study_and_keeps_their_curves(store):
    """After a version bump the study runs again on the new version; old curves stay, audited."""
    store.put("s", P, "w", 0, curve(), workload_version="1")
    store.put("s", {"x": 2.0}, "other", 0, curve(), workload_version="1")
    assert store.retire("s", "w", current_version="2") == {"s/retired/w/v1": 1}
    old = store.trials(study="s/retired/w/v1")
    assert len(old) == 1 and old[0].workload_version == "1"
    assert_curves_equal(old[0].curve, curve())
    assert [t.workload for t in store.trials(study="s")] == ["other"]  # other workloads stay
    assert store.claim("s", P, "w", 0, workload_version="2") is not None
    event = next(e for e in store.events() if e["event"] == "retire")
    assert event["detail"] == {"from": "s", "to": "s/retired/w/v1"}
    assert store.retire("s", "w", current_version="2") == {}  # current version stays


def test_retire_refuses_running_trials(store):
    store.claim("s", P, "w", 0, workload_version="1")
    with pytest.raises(ValueError, match="1 running trial"):
        store.retire("s", "w", current_version="2")
    assert store.studies() == ["s"]


def test_retry_errors_keeps_the_previous_failure_in_the_event_log(store):
    key = store.claim("s", P, "w", 0)
    store.fail(key, "preempted", curve=curve(n=1))
    assert store.claim("s", P, "w", 0) is None
    key = store.claim("s", P, "w", 0, retry_errors=True)
    assert key is not None and store.trials()[0].status is Status.RUNNING
    store.finish(key, curve())
    retry = next(e for e in store.events() if e["event"] == "retry")
    assert retry["detail"]["previous_message"] == "preempted"
    assert retry["detail"]["previous_curve"]["steps"] == [100]


def _filled(store):
    """Trials of every status over two studies, with NaN and infinite values in the curves."""
    for i in range(4):
        store.put("s", {"x": float(i)}, "w", i % 2, curve(shift=-0.15 * i), point_index=i)
    store.put("s", {"x": 9.0}, "w", 0, curve(status=Status.DIVERGED, message="nan"))
    key = store.claim("s", {"x": 10.0}, "w", 0, point_index=1)  # a second point at index 1
    store.fail(key, "oom", curve=curve(n=1))
    store.claim("s", {"x": 11.0}, "w", 0, point_index=7)  # running
    store.put("Zeta", {"x": 1.0}, "v", 0, curve(), point_index=0)
    store.put("alpha", {"x": 1.0}, "W", 0, curve(), point_index=0)


def test_the_fast_readers_agree_with_the_definitions_on_trials(store):
    """count, headers, metric_summaries, recorded_points, studies and workloads, answered by the
    backend's own queries, equal TrialStore's definitions from trials()."""
    _filled(store)
    assert store.count() == TrialStore.count(store) == 9
    assert store.count(study="s", status=["complete", "error"]) == 5
    assert store.headers() == TrialStore.headers(store)
    assert store.headers("s") == TrialStore.headers(store, "s")
    for mode, target in (("min", 0.2), ("max", 0.45), ("min", -5.0)):
        for metric in ("error_rate", "loss", "absent"):
            assert (store.metric_summaries("s", "w", metric, mode, target)
                    == TrialStore.metric_summaries(store, "s", "w", metric, mode, target))
    # The same points at each index (the definition lists them in trials()' order, not first
    # recorded first).
    assert ({i: sorted(map(str, p)) for i, p in store.recorded_points("s").items()}
            == {i: sorted(map(str, p)) for i, p in TrialStore.recorded_points(store, "s").items()})
    assert list(store.recorded_points("s")[1]) == [{"x": 1.0}, {"x": 10.0}]  # first first
    assert store.studies() == TrialStore.studies(store) == ["Zeta", "alpha", "s"]  # byte order
    assert store.workloads() == TrialStore.workloads(store) == ["W", "v", "w"]


def test_summary_counts_every_study_workload_and_status(store):
    _filled(store)
    s = store.summary()
    assert s["trials"] == 9 and s["points"] == 7 and s["evaluations"] == 7 * 3 + 1
    assert s["counts"]["s"]["w"] == {"complete": 4, "diverged": 1, "error": 1, "running": 1}
    assert s["meta"]["schema_version"] == "1" and s["path"] == store.location()
    store.check()


def test_put_many_imports_once_and_events_record_everything(store):
    _filled(store)
    records = store.trials(status=["complete", "diverged", "error"])
    other = open_store(store.location().replace("study.db", "other.db")) \
        if isinstance(store, SQLiteStore) else store
    if other is store:  # one database per test: import into another study of it
        records = [TrialRecord(f"copy/{r.study}", r.point_id, r.point_index, r.point,
                               r.workload, r.workload_version, r.seed, r.status, r.message,
                               r.curve, r.provenance) for r in records]
    assert other.put_many(records) == len(records) == 8
    assert other.put_many(records) == 0
    copied = [t for t in other.trials() if t.status is not Status.RUNNING
              and (other is not store or t.study.startswith("copy/"))]
    assert len(copied) == 8
    for a, b in zip(sorted(records, key=lambda r: (r.workload, r.point_id, r.seed)),
                    sorted(copied, key=lambda r: (r.workload, r.point_id, r.seed)), strict=True):
        assert (a.point, a.status, a.message) == (b.point, b.status, b.message)
        assert b.provenance["source_provenance"] == a.provenance
        if a.curve is not None:
            assert_curves_equal(a.curve, b.curve)
    kinds = [e["event"] for e in store.events(study="s")]
    assert kinds == ["put"] * 5 + ["claim", "fail", "claim"]
    assert {e["event"] for e in other.events()} >= {"import"}


def test_manifests_round_trip_and_are_replaced(store):
    assert store.manifest("paper") is None
    store.record_manifest("paper", {"k": 5, "lists": ["a", "b"]})
    store.record_manifest("paper", {"k": 6})
    assert store.manifest("paper") == {"k": 6}
    with pytest.raises(ValueError, match="manifest name must be a non-empty string"):
        store.manifest("")


def test_large_seeds_and_indices_and_unicode_names_round_trip(store):
    big = 2**63 - 1
    store.put("étude/β", {"λ": 0.5}, "wörk", -big - 1, curve(), point_index=big)
    (t,) = store.trials()
    assert (t.study, t.workload, t.seed, t.point_index, t.point) == (
        "étude/β", "wörk", -big - 1, big, {"λ": 0.5})


# ----- stale trials --------------------------------------------------------------------------

CLAIM_AND_EXIT = """
import sys
from hplists.store import open_store
s = open_store(sys.argv[1])
print(s.claim("s", {"x": 1.0}, "w", 0).run_token, flush=True)
if len(sys.argv) > 2:
    sys.stdin.readline()   # stay alive until told to exit
"""


def test_running_trial_of_a_dead_process_is_reclaimed(store, store_url):
    out = subprocess.run([sys.executable, "-c", CLAIM_AND_EXIT, store_url],
                         capture_output=True, text=True, check=True)
    dead_token = out.stdout.strip()
    assert store.trials()[0].status is Status.RUNNING
    key = store.claim("s", {"x": 1.0}, "w", 0)
    assert key is not None and key.run_token == run_token() != dead_token
    (ev,) = [e for e in store.events() if e["event"] == "reclaim"]
    assert ev["detail"]["previous_run_token"] == dead_token
    assert "no longer exists" in ev["detail"]["reason"]


def test_running_trial_of_a_live_process_is_not_handed_out(store, store_url):
    p = subprocess.Popen([sys.executable, "-c", CLAIM_AND_EXIT, store_url, "wait"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        p.stdout.readline()
        assert store.claim("s", {"x": 1.0}, "w", 0) is None
    finally:
        p.stdin.write("\n")
        p.stdin.close()
        p.wait(timeout=30)
    assert store.claim("s", {"x": 1.0}, "w", 0) is not None


def test_running_trial_claimed_on_another_host_is_stale_after_heartbeat_timeout(store_url):
    store = open_store(store_url, heartbeat_timeout=60.0)
    key = store.claim("s", P, "w", 0)
    # Pretend another machine claimed it (liveness can only be judged by heartbeat).
    execute(store_url, "UPDATE trials SET host='elsewhere', run_token='other', heartbeat=?",
            (time.time() - 30,))
    assert store.claim("s", P, "w", 0) is None
    execute(store_url, "UPDATE trials SET heartbeat=?", (time.time() - 120,))
    key = store.claim("s", P, "w", 0)
    assert key is not None
    reason = next(e for e in store.events() if e["event"] == "reclaim")["detail"]["reason"]
    assert "host 'elsewhere'" in reason
    store.heartbeat(key)
    assert store.finish(key, curve())
    store.close()


def test_a_released_trial_is_taken_at_once_by_a_live_process_or_another_host(store, store_url):
    """An interrupted run hands its trials back: no wait for its exit or for heartbeat_timeout."""
    key = store.claim("s", P, "w", 0)
    # Another live process of this host, and a fresh heartbeat: not stale, not to be taken.
    execute(store_url, "UPDATE trials SET run_token='other', pid=?, proc_identity=NULL",
            (os.getppid(),))
    assert store.claim("s", P, "w", 0) is None
    assert not store.release(key)  # no longer its owner: nothing written
    execute(store_url, "UPDATE trials SET run_token=?, pid=?", (key.run_token, os.getpid()))
    assert store.release(key)
    assert store.count(status="running") == 1  # still not a result, nor an error
    release = next(e for e in store.events() if e["event"] == "release")
    assert release["detail"] == {"reason": "interrupted"}
    # Pretend the run was on another host, heartbeating a second ago.
    execute(store_url, "UPDATE trials SET host='elsewhere', run_token='other', heartbeat=?",
            (time.time() - 1,))
    taken = store.claim("s", P, "w", 0)
    assert taken is not None and taken.run_token != "other"
    reclaim = next(e for e in store.events() if e["event"] == "reclaim")
    assert reclaim["detail"]["reason"] == "handed back by its interrupted run"
    ((pid, host),) = execute(store_url, "SELECT pid, host FROM trials")
    assert pid == os.getpid() and host != "elsewhere"  # the claimer owns it again
    assert store.finish(taken, curve())
    assert not store.release(taken)  # finished: nothing to hand back


def test_a_run_claiming_again_what_it_handed_back_owns_it_again(store, store_url):
    """Released by this process, then claimed by it: the row names it again, so no other
    process takes the trial while it trains."""
    key = store.claim("s", P, "w", 0)
    assert store.release(key)
    again = store.claim("s", P, "w", 0)
    assert again is not None
    ((pid,),) = execute(store_url, "SELECT pid FROM trials")
    assert pid == os.getpid()
    assert store.claim("s", P, "w", 0) == again  # its own: still handed to it


def test_a_heartbeat_renews_only_the_owners_claim(store, store_url):
    key = store.claim("s", P, "w", 0)
    execute(store_url, "UPDATE trials SET heartbeat=?", (time.time() - 500,))
    store.heartbeat(TrialKey(key.study, key.point_id, key.workload, key.seed, "someone else"))
    ((hb,),) = execute(store_url, "SELECT heartbeat FROM trials")
    assert hb < time.time() - 400
    store.heartbeat(key)
    ((hb,),) = execute(store_url, "SELECT heartbeat FROM trials")
    assert abs(hb - time.time()) < 60


# ----- errors --------------------------------------------------------------------------------


def test_a_file_that_is_not_a_store_is_a_clear_error(tmp_path):
    text = tmp_path / "notes.db"
    text.write_text("hello, this is not a database\n" * 100)
    with pytest.raises(ValueError, match=r"is not an hplists trial store \(not an SQLite database"):
        open_store(text)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as c:
        c.execute("CREATE TABLE users (name TEXT)")
    with pytest.raises(ValueError, match=r"SQLite database but not an hplists trial store"):
        open_store(other)
    assert text.read_text().startswith("hello")  # nothing was written to either file
    with sqlite3.connect(other) as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_unknown_schema_version_is_a_clear_error(tmp_path):
    s = open_store(tmp_path / "v.db")
    s.put("s", P, "w", 0, curve())
    s.close()
    with sqlite3.connect(tmp_path / "v.db") as c:
        c.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(ValueError, match=r"has schema version '99'; hplists .* reads schema "
                                         r"version 1"):
        open_store(tmp_path / "v.db")


def test_missing_store_without_create_and_directories_are_errors(tmp_path):
    with pytest.raises(ValueError, match="no trial store at"):
        open_store(tmp_path / "absent.db", create=False)
    assert not (tmp_path / "absent.db").exists()
    with pytest.raises(ValueError, match="is a directory"):
        open_store(tmp_path)


def test_empty_store_is_a_clear_error_where_trials_are_needed(store):
    assert store.trials() == []
    with pytest.raises(EmptyStoreError, match=r"has no trials$"):
        store.require_trials()
    store.put("s", P, "w", 0, curve())
    with pytest.raises(EmptyStoreError, match=r"no trials with study='t'; it holds studies \['s'\]"):
        store.require_trials(study="t")
    assert len(store.require_trials(study="s")) == 1


def test_bad_arguments_name_the_field(store):
    with pytest.raises(ValueError, match="status must be one of 'running', 'complete', "
                                         "'diverged', 'error'; got 'done'"):
        store.trials(status="done")
    with pytest.raises(ValueError, match=r"curve\.status must be one of 'complete', 'diverged', "
                                         r"'error' to be recorded; got 'running'"):
        store.put("s", P, "w", 0, curve(status=Status.RUNNING))
    with pytest.raises(ValueError, match=r"point\['lr'\] must be in \(-inf, inf\), got nan"):
        store.claim("s", {"lr": float("nan")}, "w", 0)
    with pytest.raises(ValueError, match="study must be a non-empty string"):
        store.claim("", P, "w", 0)
    with pytest.raises(ValueError, match=r"seed must be an integer"):
        store.claim("s", P, "w", 1.5)
    with pytest.raises(ValueError, match=r"point_index must be an integer in \[0, "):
        store.claim("s", P, "w", 0, point_index=-1)
    with pytest.raises(ValueError, match="point must be an HParams or a mapping"):
        store.claim("s", [1e-3], "w", 0)
    with pytest.raises(ValueError, match="claim\\(\\) it first"):
        store.finish(TrialKey("s", "0" * 16, "w", 0, "t"), curve())


def test_nothing_is_pickled(sqlite_store):
    """Every stored value is plain SQL text or numbers; JSON columns parse as JSON."""
    store = sqlite_store
    store.put("s", P, "w", 0, curve())
    with sqlite3.connect(store.path) as c:
        for table in ("meta", "points", "trials", "evals", "eval_metrics", "events"):
            for row in c.execute(f"SELECT * FROM {table}"):
                assert not any(isinstance(v, bytes) for v in row), table
        (point, prov), = c.execute("SELECT point, provenance FROM trials JOIN points "
                                   "USING (point_id)")
        assert json.loads(point) == P.to_dict() and isinstance(json.loads(prov), dict)


def _schema_with_a_note(sq):
    old = "provenance       TEXT NOT NULL,     -- JSON object"
    assert old in sq._SCHEMA
    return sq._SCHEMA.replace(old, old + "\n    note TEXT NOT NULL DEFAULT '',", 1)


def test_a_store_missing_a_column_is_named_at_open(tmp_path, monkeypatch):
    """The tables are checked against the schema when the store opens, not where the code
    first touches the missing column."""
    from hplists.store import sqlite as sq

    SQLiteStore(tmp_path / "s.db").close()
    monkeypatch.setattr(sq, "_SCHEMA", _schema_with_a_note(sq))
    sq._schema_columns.cache_clear()
    try:
        with pytest.raises(CorruptStoreError, match=r"lacks column\(s\) \['note'\] of table "
                                                     "'trials'.*left unchanged"):
            SQLiteStore(tmp_path / "s.db", create=False)
    finally:
        sq._schema_columns.cache_clear()


def test_a_store_of_an_older_schema_is_upgraded_step_by_step_at_open(tmp_path, monkeypatch):
    """The migration mechanism, shown with a test migration: schema 1 -> 2 adds a column."""
    from hplists.store import sqlite as sq

    path = tmp_path / "old.db"
    store = SQLiteStore(path)
    store.put("s", HParams(1e-3, 0.9, 0.99), "w", 0, Curve([1], [0.1], [1.0], {"e": [0.5]}))
    store.close()
    monkeypatch.setattr(sq, "_SCHEMA", _schema_with_a_note(sq))
    monkeypatch.setattr(sq, "SCHEMA_VERSION", 2)
    monkeypatch.setattr(sq, "MIGRATIONS", {
        1: ("ALTER TABLE trials ADD COLUMN note TEXT NOT NULL DEFAULT ''",)})
    sq._schema_columns.cache_clear()
    try:
        upgraded = SQLiteStore(path)
        meta = upgraded.summary()["meta"]
        assert meta["schema_version"] == "2" and "migrated_to_2" in meta
        assert [r.study for r in upgraded.trials()] == ["s"]  # nothing lost
        upgraded.close()
    finally:
        sq._schema_columns.cache_clear()
