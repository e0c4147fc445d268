"""The quickstart examples train with the first k points of a list and report the best."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
LISTS = Path(__file__).resolve().parent / "data" / "lists"


@pytest.mark.parametrize(
    ("script", "args"),
    [
        ("torch_quickstart.py", ["--k", "2", "--steps", "150"]),
        ("jax_quickstart.py", ["--k", "2", "--steps", "150"]),
        ("torch_quickstart.py", ["--list", "nadamw-algoperf-baseline", "--k", "1", "--steps", "60"]),
        # Rules that stop at a horizon, evaluate an average (Schedule-Free) or read the loss (MoMo)
        *((script, ["--list", str(LISTS / name), "--k", "1", "--steps", "150"])
          for script in ("torch_quickstart.py", "jax_quickstart.py")
          for name in ("prodigy-example.json", "sfadamw-example.json", "momo_adam-example.json")),
        *(("lightning_quickstart.py", ["--list", str(LISTS / name), "--k", "1", "--steps", "150"])
          for name in ("sfadamw-example.json", "momo_adam-example.json")),
        ("transformers_quickstart.py", ["--k", "2", "--steps", "60"]),
        ("lightning_quickstart.py", ["--k", "2", "--steps", "60"]),
    ],
)
def test_example_trains_k_points_and_reports_the_best(script, args):
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    k = int(args[args.index("--k") + 1])
    # hplists.tune's table: point (best marked *), the rule's hyperparameters, accuracy,
    # loss, seconds.
    (header,) = [[c.strip() for c in line.split("┃")[1:-1]]
                 for line in proc.stdout.splitlines() if line.startswith("┃")]  # fmt: skip
    rows = [[c.strip() for c in line.split("│")[1:-1]]
            for line in proc.stdout.splitlines() if line.startswith("│")]  # fmt: skip
    assert [int(r[0].rstrip(" *")) for r in rows] == list(range(1, k + 1)), proc.stdout
    (column,) = [i for i, name in enumerate(header) if name.endswith("accuracy")]
    accuracies = [float(r[column]) for r in rows]
    best = re.search(r"best: point (\d+) with validation accuracy ([0-9.]+)", proc.stdout)
    assert best, proc.stdout
    assert float(best.group(2)) == max(accuracies)
    assert accuracies[int(best.group(1)) - 1] == max(accuracies)
    assert rows[int(best.group(1)) - 1][0].endswith("*")
    # Chance is 0.1 for the digits (10 classes), 0.5 for the transformers example's token
    # pairs, 0.25 for the lightning example's 4 classes; even a short run learns them.
    assert max(accuracies) > 0.6, proc.stdout


def test_example_rejects_an_unknown_list():
    spec = importlib.util.spec_from_file_location("torch_quickstart", EXAMPLES / "torch_quickstart.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(ValueError, match="unknown list name 'nope'"):
        module.main(["--list", "nope", "--k", "1"])
