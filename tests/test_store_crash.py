"""The store under real failures, on every backend (SQLite, PostgreSQL): a study killed with
SIGKILL, and processes (or threads) claiming and writing at once."""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from hplists import Curve, Status
from hplists.store import open_store

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

# A tiny study runner: every (point, workload) trial is claimed, "trained" for
# `sleep` seconds and finished. It prints its run token, then waits for a `go`
# file (so several workers start together), then how many trials it ran.
WORKER = r"""
import os, sys, time
from hplists import Curve
from hplists.store import open_store
from hplists.store.liveness import run_token

db, study, n_points, sleep, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
store = open_store(db)
print(run_token(), flush=True)
while not os.path.exists(go):
    time.sleep(0.005)
ran = 0
for i in range(n_points):
    for workload in ("a", "b"):
        point = {"learning_rate": 10.0 ** (-4 + 2 * i / n_points), "index": float(i)}
        key = store.claim(study, point, workload, seed=0, point_index=i)
        if key is None:
            continue
        time.sleep(sleep)
        store.finish(key, Curve([10, 20], [0.1, 0.2], [float("nan"), 1.0],
                                {"error_rate": [0.9, 1.0 / (i + 2)]}))
        ran += 1
print("ran", ran, flush=True)
"""

# Puts a shared block of trials (the same keys in every process) and a block of its own.
PUTTER = r"""
import os, sys, time
from hplists import Curve
from hplists.store import open_store

db, me, go = sys.argv[1], sys.argv[2], sys.argv[3]
store = open_store(db, timeout=30)
while not os.path.exists(go):
    time.sleep(0.005)
c = Curve([1], [0.1], [1.0], {"m": [0.5]})
written = 0
for i in range(60):
    written += store.put("shared", {"x": float(i)}, "w", 0, c)
    written += store.put("own-" + me, {"x": float(i)}, "w", 0, c)
print(written, flush=True)
"""


def _start(tmp_path, code, *args):
    script = tmp_path / f"script_{abs(hash(code))}.py"
    if not script.exists():  # rewriting it could truncate it under a starting interpreter
        script.write_text(code)
    return subprocess.Popen([sys.executable, str(script), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.005)


def test_kill_9_mid_study_then_rerun_loses_nothing_and_duplicates_nothing(tmp_path, store_url):
    """SIGKILL a study mid-trial; the rerun redoes only the in-flight trial, each trial once."""
    db, go = store_url, tmp_path / "go"
    go.touch()
    n_points = 8
    first = _start(tmp_path, WORKER, db, "s", n_points, 0.2, go)
    token1 = first.stdout.readline().strip()
    store = open_store(db)
    try:
        _wait_for(lambda: store.count(status="complete") >= 3
                  and store.count(status="running") == 1)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
        first.stdout.close()
        first.stderr.close()
    assert first.returncode == -signal.SIGKILL

    before = {(t.point_id, t.workload): t for t in store.trials()}
    done_before = {k for k, t in before.items() if t.status is Status.COMPLETE}
    in_flight = {k for k, t in before.items() if t.status is Status.RUNNING}
    assert len(in_flight) == 1 and len(done_before) >= 3

    rerun = _start(tmp_path, WORKER, db, "s", n_points, 0.0, go)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    token2, ran = out.splitlines()[0], int(out.splitlines()[1].split()[1])

    after = store.trials()
    keys = [(t.point_id, t.workload) for t in after]
    assert len(after) == 2 * n_points and len(set(keys)) == len(keys)
    assert all(t.status is Status.COMPLETE for t in after)
    assert ran == 2 * n_points - len(done_before)  # completed trials were not rerun
    for t in after:
        k = (t.point_id, t.workload)
        expected = token1 if k in done_before else token2
        assert t.provenance["run_token"] == expected, k
        if k in done_before:  # the recorded result is untouched
            assert t.provenance == before[k].provenance
    finishes = collections.Counter((e["point_id"], e["workload"]) for e in store.events()
                                   if e["event"] == "finish")
    assert set(finishes.values()) == {1} and len(finishes) == 2 * n_points
    reclaims = [e for e in store.events() if e["event"] == "reclaim"]
    assert [(e["point_id"], e["workload"]) for e in reclaims] == list(in_flight)
    assert reclaims[0]["detail"]["previous_run_token"] == token1
    assert not [e for e in store.events() if e["event"] == "discard"]


def test_two_processes_running_one_study_split_the_work(tmp_path, store_url):
    """Two workers on one study: every trial is run once, by one of them, and none is lost."""
    db, go = store_url, tmp_path / "go"
    open_store(db).close()
    n_points = 15
    workers = [_start(tmp_path, WORKER, db, "s", n_points, 0.03, go) for _ in range(2)]
    tokens = [w.stdout.readline().strip() for w in workers]
    go.touch()
    ran = []
    for w in workers:
        out, err = w.communicate(timeout=120)
        assert w.returncode == 0, err
        ran.append(int(out.split()[-1]))
    assert sum(ran) == 2 * n_points and min(ran) > 0
    store = open_store(db)
    trials = store.trials()
    assert len(trials) == 2 * n_points and all(t.status is Status.COMPLETE for t in trials)
    assert {t.provenance["run_token"] for t in trials} <= set(tokens)
    finishes = collections.Counter((e["point_id"], e["workload"]) for e in store.events()
                                   if e["event"] == "finish")
    assert set(finishes.values()) == {1}
    assert not [e for e in store.events() if e["event"] in ("discard", "reclaim")]


def test_two_processes_putting_concurrently_lose_nothing(tmp_path, store_url):
    """Concurrent idempotent puts: each shared trial is written exactly once, own ones all."""
    db, go = store_url, tmp_path / "go"
    open_store(db).close()
    procs = [_start(tmp_path, PUTTER, db, me, go) for me in ("p", "q")]
    time.sleep(0.5)
    go.touch()
    written = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        written.append(int(out))
    store = open_store(db)
    assert sum(written) == 60 + 2 * 60
    assert store.count(study="shared") == 60
    assert store.count(study="own-p") == 60 and store.count(study="own-q") == 60


def test_three_processes_racing_for_the_same_trials_each_claim_one_once(tmp_path, store_url):
    """No training time between claims: the claimers collide on every trial, and still each
    trial is claimed, run and finished by exactly one of them."""
    db, go = store_url, tmp_path / "go"
    open_store(db).close()
    n_points = 20
    workers = [_start(tmp_path, WORKER, db, "race", n_points, 0.0, go) for _ in range(3)]
    tokens = [w.stdout.readline().strip() for w in workers]
    go.touch()
    ran = []
    for w in workers:
        out, err = w.communicate(timeout=180)
        assert w.returncode == 0, err
        ran.append(int(out.split()[-1]))
    assert sum(ran) == 2 * n_points
    store = open_store(db)
    trials = store.trials(study="race")
    assert len(trials) == 2 * n_points and all(t.status is Status.COMPLETE for t in trials)
    assert {t.provenance["run_token"] for t in trials} <= set(tokens)
    events = store.events(study="race")
    claims = collections.Counter((e["point_id"], e["workload"]) for e in events
                                 if e["event"] == "claim")
    assert set(claims.values()) == {1} and len(claims) == 2 * n_points
    assert not [e for e in events if e["event"] in ("discard", "reclaim")]


def test_threads_with_their_own_store_objects_never_claim_one_trial_twice(store_url):
    """Four threads, each with its own connection, claim one set of trials in shuffled orders:
    a trial claimed by a live thread is not handed to another."""
    open_store(store_url).close()
    keys = [({"x": float(i)}, w) for i in range(15) for w in ("a", "b")]
    got: dict[int, list[tuple[float, str]]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def claimer(me: int) -> None:
        store = open_store(store_url, timeout=60)
        order = keys[:]
        random.Random(me).shuffle(order)
        mine = got.setdefault(me, [])
        try:
            start.wait()
            for point, workload in order:
                key = store.claim("t", point, workload, 0)
                if key is not None:
                    mine.append((point["x"], workload))
                    store.finish(key, Curve([1], [0.1], [1.0], {"m": [0.5]}))
        except BaseException as e:
            errors.append(e)
        finally:
            store.close()

    threads = [threading.Thread(target=claimer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert not errors, errors
    claimed = [k for mine in got.values() for k in mine]
    assert len(claimed) == len(set(claimed)) == len(keys)
    store = open_store(store_url)
    assert store.count(study="t", status="complete") == len(keys)
    assert not [e for e in store.events(study="t") if e["event"] in ("discard", "reclaim")]


def test_simultaneous_claims_of_one_new_trial_have_one_winner(store_url):
    """Four connections claim the same absent trial at the same instant, 25 times over: each
    time exactly one gets it (on PostgreSQL the losers' inserts conflict and they read the
    winner's row)."""
    stores = [open_store(store_url, timeout=60) for _ in range(4)]
    winners = []
    try:
        for i in range(25):
            barrier, results = threading.Barrier(len(stores)), []

            def claim(store, i=i, barrier=barrier, results=results):
                barrier.wait()
                results.append(store.claim("one", {"x": float(i)}, "w", 0))

            threads = [threading.Thread(target=claim, args=(s,)) for s in stores]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            winners.append(sum(r is not None for r in results))
    finally:
        for s in stores:
            s.close()
    assert winners == [1] * 25
    store = open_store(store_url)
    assert store.count(study="one", status="running") == 25
    assert [e["event"] for e in store.events(study="one")] == ["claim"] * 25
