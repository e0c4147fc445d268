"""The trial runner under real failures: a study killed with SIGKILL at random moments, and
several studies writing one store at once, on every store backend (SQLite, PostgreSQL);
docs/reliability.md lists what each test proves."""

from __future__ import annotations

import collections
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.postgres import is_postgres
from hplists import Status
from hplists.store import open_store

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

TESTS = Path(__file__).parent
N_POINTS = 32

# A real study: the trial runner (claim, train with the engine, record) over a tiny workload.
STUDY = r"""
import sys
from helpers import workloads as sw
from hplists.store import open_store
from hplists.trials import train_into_store

db, study = sys.argv[1], sys.argv[2]
n = int(sys.argv[3])
points = [{"learning_rate": 10.0 ** (-3 + 2.5 * i / n), "beta1": 0.9, "beta2": 0.99,
           "weight_decay": 0.0, "warmup_fraction": 0.05} for i in range(n)]
store = open_store(db, timeout=60)
print("started", flush=True)
counts = train_into_store(store, study, sw.TinyLine(), points, 0, step_budget=1500,
                          update_rule="adamw", batching="sequential", chunk_size=2)
print("counts", counts["trained"], counts["failed"], flush=True)
"""


def _start(tmp_path: Path, *args: object) -> subprocess.Popen:
    script = tmp_path / "study.py"
    if not script.exists():  # written once: rewriting it under a starting process empties it
        script.write_text(STUDY)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(TESTS), os.environ.get("PYTHONPATH", "")]), "HPLISTS_COMPILATION_CACHE": "off"}
    return subprocess.Popen([sys.executable, str(script), *map(str, args), str(N_POINTS)],
                            env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _integrity(db: str) -> str:
    """SQLite's integrity_check; on a server, the store's own check (the server keeps its pages)."""
    if is_postgres(db):
        with open_store(db, create=False) as store:
            store.check()
        return "ok"
    with sqlite3.connect(db) as c:
        return c.execute("PRAGMA integrity_check").fetchone()[0]


def test_kill_9_at_random_moments_then_resume_loses_and_duplicates_nothing(tmp_path, store_url):
    db = store_url
    rng = random.Random(14)
    kills, seen_done, in_flight = 0, [], 0
    while kills < 6:
        proc = _start(tmp_path, db, "s")
        assert proc.stdout.readline().strip() == "started"
        # Kill at a random moment of the study, whatever the machine's speed: once a random
        # number (1 to 4) of further trials has finished, while the next chunk trains.
        before = len(seen_done[-1]) if seen_done else 0
        wanted = before + rng.randint(1, 4)
        with open_store(db) as watch:
            while watch.count(study="s", status="complete") < wanted and proc.poll() is None:
                time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.05))
        assert proc.poll() is None, proc.stderr.read()  # the study is not over yet
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close(), proc.stderr.close()
        kills += 1
        with open_store(db) as store:
            done = {t.point_id for t in store.trials(study="s", status="complete")}
            in_flight += store.count(study="s", status="running")
        assert all(d <= done for d in seen_done)  # no completed trial is ever lost
        seen_done.append(done)
    assert in_flight > 0  # some kills hit trials mid-training, which the rerun reclaims
    final = _start(tmp_path, db, "s")
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    with open_store(db) as store:
        trials = store.trials(study="s")
        events = store.events(study="s")
    assert len(trials) == N_POINTS and {t.status for t in trials} <= {Status.COMPLETE,
                                                                       Status.DIVERGED}
    assert not [t for t in trials if t.status is Status.RUNNING]
    finishes = collections.Counter(e["point_id"] for e in events if e["event"] == "finish")
    assert set(finishes.values()) == {1} and len(finishes) == N_POINTS  # recorded once each
    before_last = seen_done[-1]
    for t in trials:  # a trial finished before a kill kept its first result
        if t.point_id in before_last:
            assert t.provenance["pid"] != final.pid
    assert _integrity(db) == "ok"


def test_four_studies_writing_one_store_at_once_share_the_work_without_loss(tmp_path,
                                                                            store_url):
    db = store_url
    open_store(db).close()
    procs = [_start(tmp_path, db, "s") for _ in range(4)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert "database is locked" not in err
    trained = [int(out.split("counts")[1].split()[0]) for out, _ in outs]
    with open_store(db) as store:
        trials = store.trials(study="s")
        events = store.events(study="s")
    # Each trial was trained by exactly one of the four; none is missing, none twice.
    assert sum(trained) == N_POINTS == len(trials)
    finishes = collections.Counter(e["point_id"] for e in events if e["event"] == "finish")
    assert set(finishes.values()) == {1}
    assert _integrity(db) == "ok"


def test_a_trial_diverged_before_its_first_evaluation_is_a_miss_everywhere(tmp_path):
    """NaN at step 1: recorded diverged with no evaluation; scoring, lists and the CLI treat
    it as a miss (it once made every table of the study fail)."""
    import math

    from hplists import Curve
    from hplists.cli.main import main
    from hplists.lists.greedy import greedy_list
    from hplists.scoring.matrix import TrialMatrix
    from hplists.scoring.workload_specs import WorkloadSpec

    db = tmp_path / "s.db"
    specs = {w: WorkloadSpec(w, "error_rate", "min", 0.3, 100) for w in ("a", "b")}
    good = Curve([50, 100], [1.0, 2.0], [0.5, 0.4], {"error_rate": [0.4, 0.2]})
    nan = Curve([], [], [], {"error_rate": []}, "diverged",
                "training loss became non-finite at step 1")
    with open_store(db) as store:
        for w in ("a", "b"):
            store.put("s", {"lr": 1.0}, w, 0, good)
            store.put("s", {"lr": 1e9}, w, 0, nan)
        records = store.trials(study="s")
    assert {r.status for r in records} == {Status.COMPLETE, Status.DIVERGED}
    m = TrialMatrix.from_records(records, specs, study="s")
    blown = m.point_ids.index(next(r.point_id for r in records if r.status is Status.DIVERGED))
    assert all(math.isinf(f) for f in m.fractions[blown])
    assert list(greedy_list(m.fractions, 1, 2.0).indices) == [1 - blown]
    specs_file = tmp_path / "specs.json"
    specs_file.write_text('{"workloads": {' + ", ".join(
        f'"{w}": {{"metric": "error_rate", "mode": "min", "target": 0.3, "step_budget": 100}}'
        for w in ("a", "b")) + "}}")
    assert main(["build", "--store", str(db), "--k", "1", "--specs", str(specs_file)]) == 0


def test_threads_of_one_process_never_claim_the_same_trial(store_url):
    """claim() is exclusive between threads as between processes (the threads share one store
    object, hence one connection)."""
    import threading

    from hplists import Curve

    store = open_store(store_url)
    points = [{"x": float(i)} for i in range(150)]
    claimed: list[list[str]] = [[] for _ in range(4)]
    start = threading.Barrier(4)

    def worker(j: int) -> None:
        start.wait()
        for p in points:
            key = store.claim("s", p, "w", 0)
            if key is not None:
                claimed[j].append(key.point_id)
                store.finish(key, Curve([1], [0.1], [1.0], {"m": [0.5]}))

    threads = [threading.Thread(target=worker, args=(j,)) for j in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [p for c in claimed for p in c]
    assert len(everything) == len(set(everything)) == 150
    assert store.count(study="s", status="complete") == 150


# A workload whose trials train for minutes, in the engine's worker processes.
SLOW = r"""
from helpers.workloads import TinyLine
from hplists.workloads import registry


class SlowLine(TinyLine):
    name = "slow_line"
    batching = "processes"


registry.register(SlowLine)
"""


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_sigterm_stops_a_run_at_once_and_hands_its_trials_back(tmp_path):
    """SIGTERM (what kill and schedulers send) stops `hplists run` as Ctrl-C would: exit
    status 143 with one line, its worker processes ended mid-trial rather than waited for,
    and the trials in flight handed back to the store for any process to take at once."""
    (tmp_path / "slowmod.py").write_text(SLOW)
    db = tmp_path / "s.db"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(tmp_path), str(TESTS), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hplists.cli.main", "--import", "slowmod", "run",
         "--workload", "slow_line", "--store", str(db), "--k", "2", "--steps", str(10**9),
         "--no-progress"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        workers: list[int] = []
        while time.monotonic() < deadline and len(workers) < 2:  # training has started
            time.sleep(0.5)
            assert proc.poll() is None, proc.communicate()[1]
            workers = [w for w in _children(proc.pid)
                       if "spawn_main" in Path(f"/proc/{w}/cmdline").read_text(errors="replace")]
        assert len(workers) == 2, "the run's worker processes never started"
        time.sleep(2.0)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 143, err
    assert "hplists run: interrupted (SIGTERM)" in err and "Traceback" not in err, err
    assert not [w for w in workers if _alive(w)], "worker processes outlived the interrupted run"
    store = open_store(db, create=False)
    running = store.trials(status="running")
    assert len(running) == 2 and store.count() == 2  # not errors: interrupted is not failed
    released = [e for e in store.events() if e["event"] == "release"]
    assert len(released) == 2
    assert store.claim(running[0].study, running[0].point, "slow_line", 0,
                       workload_version=running[0].workload_version) is not None
    store.close()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")
