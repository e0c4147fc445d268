"""Honest errors about the disk: a full disk, an I/O error or a read-only filesystem says what
happened and whether the file is intact, never "damaged, restore it from a copy"; a store on a
read-only filesystem is read as it is.

A real small or read-only filesystem is mounted for each test (tmpfs; needs root, as CI
runs), so SQLite's own errors are what the store sees.
"""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from pathlib import Path

import pytest

from hplists import Curve, HParams
from hplists.store import StoreDiskError, open_store


@contextlib.contextmanager
def _tmpfs(tmp_path: Path, size: str):
    mnt = tmp_path / f"mnt-{uuid.uuid4().hex[:8]}"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                          capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()})")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _curve(n: int) -> Curve:
    steps = list(range(1, n + 1))
    return Curve(steps, [0.1] * n, [1.0] * n, {"error_rate": [0.5] * n})


def test_a_full_disk_says_full_and_that_the_file_is_intact(tmp_path):
    with _tmpfs(tmp_path, "384k") as mnt:
        store = open_store(mnt / "s.db")
        with pytest.raises(StoreDiskError) as err:
            for i in range(10_000):
                key = store.claim("s", HParams(1e-3 + i * 1e-6, 0.9, 0.99), "w", 0, point_index=i)
                store.finish(key, _curve(200))
        text = str(err.value)
        assert "is full" in text and "intact (quick_check: ok)" in text
        assert "damaged" not in text and "restore" not in text
        finished = store.count(study="s", status="complete")
        assert finished > 0  # what was recorded before is still there


def test_a_store_on_a_read_only_filesystem_is_read_and_refuses_writes_with_one_line(tmp_path):
    with _tmpfs(tmp_path, "4m") as mnt:
        store = open_store(mnt / "s.db")
        key = store.claim("s", HParams(1e-3, 0.9, 0.99), "w", 0, point_index=0)
        store.finish(key, _curve(5))
        store.close()  # the last connection checkpoints the WAL into the file, as committed
        wal = mnt / "s.db-wal"
        assert not wal.exists() or wal.stat().st_size == 0
        assert subprocess.run(["mount", "-o", "remount,ro", str(mnt)]).returncode == 0
        ro = open_store(mnt / "s.db", create=False)
        assert [r.status.value for r in ro.trials(study="s")] == ["complete"]
        with pytest.raises(StoreDiskError, match=r"is read-only here .*run it on a writable copy"):
            ro.claim("s", HParams(2e-3, 0.9, 0.99), "w", 0)
