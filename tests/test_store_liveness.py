"""A live trial is never trained twice: heartbeats flow while it trains, whatever blocks, and a
process in another PID namespace with the same hostname is judged by them, not by /proc.

A claiming process runs ``hplists.trials.loop.run`` with an executor that blocks in training
(as the in-process executor does for a whole chunk); another process, with the same hostname but
another PID namespace (``HPLISTS_HOST_ID``), tries to claim the trial meanwhile. Both backends
(SQLite, PostgreSQL) apply the one rule of :mod:`hplists.store.liveness`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from hplists import HParams
from hplists.store import liveness, open_store, sqlite
from hplists.store.liveness import HOST_ENV, host_identity

TESTS = Path(__file__).resolve().parent

_OWNER = r"""
import sys, time
sys.path.insert(0, sys.argv[2])
from helpers.workloads import TinyBlobs
from hplists import HParams
from hplists.store import open_store
from hplists.trials import StaticSource, TrainTask, run

class Blocking:  # trains for an hour without returning, like one long in-process chunk
    slots = 1
    def submit(self, task, tick):
        print("training", flush=True)
        return 1
    def wait(self, handles, timeout=None):
        time.sleep(3600)
    def close(self):
        pass

store = open_store(sys.argv[1])
point = HParams(1e-3, 0.9, 0.99, warmup_fraction=0.05)
task = TrainTask("s", TinyBlobs(), 0, (point,), (0,), batching="sequential")
run(store, StaticSource(store, [task]), Blocking(), heartbeat=0.2)
"""


def test_host_identity_carries_the_pid_namespace_and_can_be_named(monkeypatch):
    if os.path.exists("/proc/self/ns/pid"):
        assert "/pid:[" in host_identity()
    monkeypatch.setenv(HOST_ENV, "node-7")
    assert host_identity() == "node-7"


def test_the_liveness_names_stay_importable_from_the_sqlite_store():
    """Code that imported the public process-identity names from the SQLite module keeps
    working, and gets the very same objects (one run token per process)."""
    assert sqlite.run_token is liveness.run_token and sqlite.HOST_ENV == HOST_ENV
    assert sqlite.host_identity is host_identity


def test_the_stale_rule_judges_this_host_by_its_processes_and_others_by_heartbeats():
    me = host_identity()
    alive = liveness.owner()
    assert liveness.stale_reason(me, alive.pid, alive.proc_identity, 0.0, my_host=me,
                                 now=1e9, heartbeat_timeout=1.0) is None  # old heartbeat: alive
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    gone = liveness.stale_reason(me, int(done.stdout), None, 1e9, my_host=me, now=1e9,
                                 heartbeat_timeout=3600.0)
    assert gone is not None and "no longer exists" in gone
    if alive.proc_identity:  # a reused pid is another process
        reused = liveness.stale_reason(me, alive.pid, "other-boot:1", 1e9, my_host=me, now=1e9,
                                       heartbeat_timeout=3600.0)
        assert reused == f"pid {alive.pid} now belongs to another process"
    # a row from before hosts carried their namespace: the plain hostname is this host
    assert liveness.stale_reason(me.split("/")[0], alive.pid, None, 0.0, my_host=me, now=1e9,
                                 heartbeat_timeout=1.0) is None
    assert liveness.stale_reason("elsewhere", alive.pid, None, 100.0, my_host=me, now=150.0,
                                 heartbeat_timeout=60.0) is None
    assert "no heartbeat for 90 s" in liveness.stale_reason(
        "elsewhere", alive.pid, None, 100.0, my_host=me, now=190.0, heartbeat_timeout=60.0)


def test_a_slow_trial_in_another_namespace_is_never_taken_while_alive_and_is_once_dead(
        tmp_path, store_url):
    db = store_url
    open_store(db).close()
    env = {**os.environ, HOST_ENV: "samehost/pid:[1]"}
    owner = subprocess.Popen([sys.executable, "-c", _OWNER, db, str(TESTS)], env=env,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None and owner.stdout.readline().strip() == "training"
        os.environ[HOST_ENV] = "samehost/pid:[2]"  # the same hostname, another PID namespace
        try:
            other = open_store(db, heartbeat_timeout=1.0)
        finally:
            del os.environ[HOST_ENV]
        point = HParams(1e-3, 0.9, 0.99, warmup_fraction=0.05)
        end = time.monotonic() + 4.0  # four heartbeat timeouts: only heartbeats keep it
        while time.monotonic() < end:
            assert other.claim("s", point, "study_blobs", 0, point_index=0,
                               workload_version="1") is None
            time.sleep(0.25)
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        time.sleep(1.5)  # the heartbeat goes stale
        key = other.claim("s", point, "study_blobs", 0, point_index=0, workload_version="1")
        assert key is not None
        reclaim = [e for e in other.events(study="s") if e["event"] == "reclaim"]
        assert reclaim and "no heartbeat" in reclaim[-1]["detail"]["reason"]
    finally:
        if owner.poll() is None:
            owner.kill()
