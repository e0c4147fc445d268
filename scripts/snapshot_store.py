"""Stages a consistent snapshot of a live trial store for commit, without stopping its writer.

A study writes its SQLite store (WAL mode) while it runs, so the file on disk
can be mid-checkpoint and the newest trials sit in the ``-wal`` file. This
copies the store through SQLite's online backup API (a consistent read
snapshot) and stages that copy under the store's own path (``git
update-index``), leaving the live file untouched::

    python scripts/snapshot_store.py stores/lrfree.db
    git commit -m "stores: ..."
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("store", type=Path, help="the live store, a path inside the repository")
    args = p.parse_args()
    if not args.store.is_file():
        print(f"snapshot_store: no store at {args.store}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        snap = Path(tmp) / "snapshot.db"
        src = sqlite3.connect(f"file:{args.store}?mode=ro", uri=True)
        dst = sqlite3.connect(snap)
        with dst:
            src.backup(dst)
        ok = dst.execute("PRAGMA integrity_check").fetchone()[0]
        count = dst.execute("SELECT count(*) FROM trials WHERE status != 'running'").fetchone()[0]
        # WAL as the store itself opens it (so reading the committed file leaves it unchanged);
        # closing the last connection checkpoints it, so no -wal file is needed either.
        dst.execute("PRAGMA journal_mode=WAL")
        src.close()
        dst.close()
        if ok != "ok":
            print(f"snapshot_store: integrity_check says {ok!r}; nothing staged", file=sys.stderr)
            return 1
        blob = subprocess.run(["git", "hash-object", "-w", str(snap)], check=True,
                              capture_output=True, text=True).stdout.strip()
    subprocess.run(["git", "update-index", "--add", "--cacheinfo", f"100644,{blob},{args.store}"],
                   check=True)
    print(f"staged {args.store}: {count} finished trials (integrity ok)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
