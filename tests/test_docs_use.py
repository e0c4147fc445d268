"""docs/use.md's examples run as written (one short, runnable example per integration).

Each ```python block of that section starts with ``# NAME.py: ...``; it is saved as
``NAME.py`` in a fresh directory and run there as ``python NAME.py``, as a reader who
copies it would (``executor="processes"`` needs a file: its workers import ``train`` from
it). What it prints is checked: the trials of ``hplists.tune`` (one row per point, the
best marked) or the loop's validation results. The AlgoPerf block needs an AlgoPerf
checkout; its first two commands (the search space and the submission shim) run here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hplists import get_list
from hplists.integrations.algoperf import shim

USE = Path(__file__).resolve().parents[1] / "docs" / "use.md"
K = 5  # every block tunes (or loops over) the first 5 points of nadamw-paper
# Two classes in every block's task: chance is 0.5, and even these short runs learn it.
LEARNED = 0.6


def section() -> str:
    return USE.read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", section(), flags=re.MULTILINE | re.DOTALL)


def python_blocks() -> dict[str, str]:
    """``{NAME: code}`` of the section's python blocks, named by their first line."""
    named = {}
    for code in blocks("python"):
        first = re.match(r"# (\w+)\.py: ", code)
        assert first, f"a python block does not start with '# NAME.py: ...':\n{code}"
        named[first.group(1)] = code
    return named


def run_block(name: str, tmp_path: Path) -> str:
    code = python_blocks()[name]
    (tmp_path / f"{name}.py").write_text(code, encoding="utf-8")
    env = dict(os.environ, HPLISTS_CACHE_DIR=str(tmp_path / "cache"),
               HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1",
               MPLCONFIGDIR=str(tmp_path / "mpl"), PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([sys.executable, f"{name}.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"{name}.py failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def check_tune(out: str, metric: str) -> None:
    """``print(result)`` of hplists.tune: the title, then one row per point, the best marked."""
    lines = out.splitlines()
    title = [i for i, line in enumerate(lines) if re.match(r"\d+ of \d+ trials; ", line)]
    assert len(title) == 1, out
    head = re.fullmatch(r"(\d+) of (\d+) trials; best \((\w+), max\): point (\d+) with (\S+)",
                        lines[title[0]])
    assert head, out
    assert (int(head[1]), int(head[2]), head[3]) == (K, K, metric), out
    header = lines[title[0] + 1].split()
    assert header[0] == "point" and metric in header, out
    rows = [line.replace(" *", "").split() for line in lines[title[0] + 2:title[0] + 2 + K]]
    marked = [int(line.split()[0]) for line in lines[title[0] + 2:title[0] + 2 + K]
              if line.split()[1] == "*"]
    assert [int(r[0]) for r in rows] == list(range(1, K + 1)), out
    values = [float(dict(zip(header, r, strict=True))[metric]) for r in rows]
    best = values.index(max(values)) + 1  # ties go to the earlier point
    assert marked == [best] and int(head[4]) == best, out
    assert float(head[5]) == max(values) > LEARNED, out


def check_loop(out: str) -> None:
    """The PyTorch loop: each point's validation accuracy, then the best of them."""
    accuracies = [float(a) for a in re.findall(r"^point \d+: validation accuracy ([0-9.]+)$",
                                               out, flags=re.MULTILINE)]
    assert [int(i) for i in re.findall(r"^point (\d+): ", out, flags=re.MULTILINE)] == \
        list(range(1, K + 1)), out
    best = re.search(r"^best: point (\d+) with validation accuracy ([0-9.]+)$", out,
                     flags=re.MULTILINE)
    assert best, out
    assert int(best[1]) == accuracies.index(max(accuracies)) + 1, out
    assert float(best[2]) == max(accuracies) > LEARNED, out


def check_one_point(out: str) -> None:
    """The JAX block trains the list's first point once."""
    accuracy = re.search(r"^point 1: validation accuracy ([0-9.]+)$", out, flags=re.MULTILINE)
    assert accuracy and float(accuracy[1]) > LEARNED, out


# What each block prints; a block added to or dropped from docs/use.md fails
# test_the_section_has_one_python_block_per_integration until it is listed here.
CHECKS = {
    "torch_loop": check_loop,
    "tune": lambda out: check_tune(out, "accuracy"),
    "tune_processes": lambda out: check_tune(out, "accuracy"),
    "jax_optax": check_one_point,
    "hf_trainer": lambda out: check_tune(out, "eval_accuracy"),  # trainer.evaluate()'s name
    "lightning_fit": lambda out: check_tune(out, "accuracy"),
}


def test_the_section_has_one_python_block_per_integration():
    assert list(python_blocks()) == list(CHECKS)
    assert len(blocks("python")) == 6
    for name, code in python_blocks().items():
        assert "..." not in code, f"{name}.py elides code"


@pytest.mark.parametrize("name", list(CHECKS))
def test_python_block_runs_as_written(name, tmp_path):
    out = run_block(name, tmp_path)
    CHECKS[name](out)
    if name == "hf_trainer":  # each point's Trainer writes under its own output_dir
        assert sorted(p.name for p in (tmp_path / "hplists-trainer").iterdir()) == \
            [f"point-{i}" for i in range(1, K + 1)]


ALGOPERF_KEYS = {"learning_rate", "one_minus_beta1", "beta2", "weight_decay", "warmup_factor",
                 "dropout_rate", "label_smoothing"}
SUBMISSION_FUNCTIONS = ("init_optimizer_state", "update_params", "prepare_for_eval",
                        "data_selection", "get_batch_size")


def algoperf_commands() -> list[str]:
    """The AlgoPerf block's commands, continuation lines joined."""
    (bash,) = blocks("bash")
    return [c for c in bash.replace("\\\n", " ").splitlines() if c.strip()]


def run_bash(script: str, cwd: Path) -> None:
    # `hplists` and `python` as the page's reader has them: those of this environment.
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent),
                                                 os.environ.get("PATH", "")]),
               HPLISTS_CACHE_DIR=str(cwd / "cache"))
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def import_file(path: Path):
    spec = importlib.util.spec_from_file_location(f"readme_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_algoperf_block_exports_the_search_space_and_writes_the_shim(tmp_path):
    commands = algoperf_commands()
    assert len(commands) == 3, commands
    export, write_shim, runner = commands
    assert export.startswith("hplists export nadamw-paper --format algoperf -o hplists_space.json")
    assert write_shim.startswith('python -c "from hplists.integrations.algoperf import shim;')
    assert "--submission_path=hplists_nadamw_pytorch.py" in runner
    assert "--tuning_search_space=hplists_space.json" in runner
    # The JAX variant the block's comment gives: shim('jax') for --framework=jax.
    write_jax = (write_shim.replace("shim('pytorch')", "shim('jax')")
                 .replace("hplists_nadamw_pytorch.py", "hplists_nadamw_jax.py"))
    assert write_jax != write_shim
    run_bash("\n".join([export, write_shim, write_jax]), tmp_path)

    # A JSON list of the list's 5 points under AlgoPerf's names, as the submissions read them.
    space = json.loads((tmp_path / "hplists_space.json").read_text(encoding="utf-8"))
    points = get_list("nadamw-paper").points
    assert isinstance(space, list) and len(space) == len(points) == K
    assert all(set(trial) == ALGOPERF_KEYS for trial in space), space
    assert space == [p.to_algoperf() for p in points]
    from hplists.integrations.algoperf import read_hyperparameters

    assert [read_hyperparameters(trial)[0] for trial in space] == list(points)

    # The one-line files re-export the installed submissions' five functions.
    from hplists.integrations.algoperf import jax_submission, pytorch_submission

    for framework, submission in (("pytorch", pytorch_submission), ("jax", jax_submission)):
        path = tmp_path / f"hplists_nadamw_{framework}.py"
        assert path.read_text(encoding="utf-8") == shim(framework)
        module = import_file(path)
        for function in SUBMISSION_FUNCTIONS:
            assert getattr(module, function) is getattr(submission, function), function
