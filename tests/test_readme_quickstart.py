"""The README's quick starts run as written, with every shipped list in both frameworks.

Each quick start is saved as a file and run in a fresh process, as a reader who
copies it would; only its ``LIST`` line changes, to each shipped list and to
list files of the learning-rate-free kinds (Prodigy with a horizon, Mechanic,
Schedule-Free), which are read the way ``hplists build -o`` output is. A list
whose method has no PyTorch implementation that computes its rule is run in
JAX only, and the test says which and why.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import hplists

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "tests" / "data" / "lists").glob("*.json"))
LISTS = [*hplists.available_lists(), *(str(p) for p in EXAMPLES)]
LIST_LINE = re.compile(r'^LIST, K, T = "nadamw-paper", (\d+), (\d+)', re.MULTILINE)


def quick_starts() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)
    named = {}
    for code in blocks:
        first = re.match(r"# (quickstart_\w+)\.py: ", code)
        if first:
            named[first.group(1)] = code
    return named


def test_the_readme_has_a_short_quick_start_per_framework():
    blocks = quick_starts()
    assert set(blocks) == {"quickstart_torch", "quickstart_jax"}
    for name, code in blocks.items():
        assert len(code.splitlines()) <= 35, name
        assert LIST_LINE.search(code), f"{name} names its list on one LIST line"


def _no_torch_path(method: str) -> str | None:
    from hplists import torch_lrfree

    if method in ("nadamw", "metz", *torch_lrfree.METHODS):
        return None
    if method in torch_lrfree.UNSUPPORTED:
        return torch_lrfree.UNSUPPORTED[method]
    return f"hplists has no PyTorch implementation of update rule {method!r}"


def _run(name: str, list_name: str, tmp_path: Path, code: str | None = None) -> str:
    """The quick start with ``LIST`` set, each list at its own budget: the README's ``T``
    times the list's ``budget_factor`` (3 for a learning-rate-free list, whose points were
    chosen on ``M = 3 T``, as ``hplists run`` gives them)."""
    factor = hplists.get_list(list_name).budget_factor
    code = LIST_LINE.sub(
        lambda m: f"LIST, K, T = {list_name!r}, {m.group(1)}, {int(factor * int(m.group(2)))}",
        quick_starts()[name] if code is None else code, count=1)
    (tmp_path / f"{name}.py").write_text(code, encoding="utf-8")
    env = dict(os.environ, HPLISTS_CACHE_DIR=str(tmp_path / "cache"), OMP_NUM_THREADS="1",
               PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([sys.executable, f"{name}.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


# Methods whose lists do not learn the PyTorch quick start's task within its budget, and
# why; their runs must still finish every trial with a finite accuracy.
SLOW_IN_THE_TORCH_QUICK_START = {
    "dog": "DoG's first steps are r_eps = 1e-6 (1 + |x_0|) long: from the MLP's random "
           "initialization its points stay near chance after 150 steps (the JAX quick start's "
           "linear model, from 0, reaches 0.93; with the same model, data and initialization "
           "the PyTorch and JAX runs agree to 3e-9)",
}


def _check(out: str, list_name: str, learns: bool = True) -> None:
    k = min(5, len(hplists.get_list(list_name)))
    best = re.search(rf"^{k} of {k} trials; best \(accuracy, max\): point (\d+) with ([0-9.]+)$",
                     out, flags=re.MULTILINE)
    assert best, out
    if learns:
        assert float(best.group(2)) > 0.6, out  # chance is 0.5 on the quick starts' task
    else:
        assert 0.0 <= float(best.group(2)) <= 1.0, out


@pytest.mark.parametrize("list_name", LISTS, ids=lambda n: Path(n).stem)
def test_jax_quick_start_runs_every_list(list_name, tmp_path):
    _check(_run("quickstart_jax", list_name, tmp_path), list_name)


@pytest.mark.parametrize("list_name", LISTS, ids=lambda n: Path(n).stem)
def test_torch_quick_start_runs_every_list_with_a_pytorch_rule(list_name, tmp_path):
    method = hplists.get_list(list_name).optimizer
    why = _no_torch_path(method)
    if why is not None:
        pytest.skip(f"{method}: {why}")
    from hplists import torch_lrfree

    package = torch_lrfree.PACKAGES.get(method)
    if package and not package.startswith("hplists"):
        pytest.importorskip(package.replace("-optimizer", "").replace("-", "_"))
    _check(_run("quickstart_torch", list_name, tmp_path), list_name,
           learns=method not in SLOW_IN_THE_TORCH_QUICK_START)


# Per quick start: the call that hands the optimizer the batch loss, and the same without it.
WITHOUT_LOSS = {
    "quickstart_torch": ("optimizer.step(lambda: loss)", "optimizer.step()"),
    "quickstart_jax": ("tx.update(grads, state, params, value=loss)",
                       "tx.update(grads, state, params)"),
}


@pytest.mark.parametrize("name", sorted(WITHOUT_LOSS))
def test_a_loop_that_does_not_hand_over_the_loss_stops_at_a_momo_list_and_says_why(
        name, tmp_path):
    """The quick starts run MoMo's lists (the tests above) because they pass the batch
    loss, as docs/use.md says in their words; the same loop without it stops at the first
    point with the error that names what is missing, not with a wrong answer."""
    from hplists.optim import lrfree

    momo = str(ROOT / "tests" / "data" / "lists" / "momo_adam-example.json")
    assert lrfree.get_method(hplists.get_list(momo).optimizer).needs_loss
    with_loss, without = WITHOUT_LOSS[name]
    use = " ".join((ROOT / "docs" / "use.md").read_text(encoding="utf-8").split())
    assert with_loss in use, f"docs/use.md no longer says {with_loss!r}"
    code = quick_starts()[name]
    assert code.count(with_loss) == 1, f"{name} no longer hands over the loss as docs/use.md says"
    with pytest.raises(AssertionError, match="needs the batch loss"):
        _run(name, momo, tmp_path, code.replace(with_loss, without))
