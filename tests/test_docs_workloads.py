"""docs/workloads.md: its workload, copied into a file as written, trains from the CLI and Python."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "workloads.md"


def _workload_code() -> str:
    blocks = re.findall(r"^```python\n(.*?)^```$", DOC.read_text(encoding="utf-8"),
                        flags=re.MULTILINE | re.DOTALL)
    (code,) = [b for b in blocks if b.startswith("# my_workload.py:")]
    return code


def test_the_example_is_about_forty_lines():
    assert len(_workload_code().splitlines()) <= 45


def _env(tmp_path: Path) -> dict[str, str]:
    return dict(os.environ, HPLISTS_CACHE_DIR=str(tmp_path / "cache"), OMP_NUM_THREADS="1",
                PYTHONDONTWRITEBYTECODE="1")


def test_the_documented_workload_trains_from_the_cli_with_import_of_a_file(tmp_path):
    (tmp_path / "my_workload.py").write_text(_workload_code(), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "hplists.cli.main", "--import", "my_workload.py", "run",
         "--workload", "two_moons", "--k", "2", "--json", "--no-progress"],
        cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=300,
        check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["workload"] == "two_moons"
    assert [p["status"] for p in out["points"]] == ["complete", "complete"]
    # the first point of nadamw-paper reaches the documented target within T
    assert out["points"][0]["best"] <= 0.1


def test_the_documented_workload_evaluates_from_python(tmp_path):
    (tmp_path / "my_workload.py").write_text(_workload_code(), encoding="utf-8")
    script = ("import hplists, my_workload\n"
              "r = hplists.evaluate('two_moons', 'nadamw-paper', k=1, seeds=1)\n"
              "print(r.hit_rate)\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert float(proc.stdout.split()[-1]) == 1.0
