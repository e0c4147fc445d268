"""The layering the package promises, checked on its source: who may write trials, who
may import whom (one trial loop; optim below workloads)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parents[1] / "src" / "hplists"
# Store methods that write trials.
WRITES = {"claim", "finish", "fail", "heartbeat", "put", "put_many", "retire", "import_records"}
# Where they may be called: the store itself, its own commands (`hplists store import|retire`),
# and the one trial loop. report.synthetic builds a synthetic store for examples and tests
# (no trial of it is trained).
WRITERS = {"hplists.store", "hplists.cli.store", "hplists.study.runner",
           "hplists.report.synthetic"}


def _modules():
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        yield name, ast.parse(path.read_text(), filename=str(path))


def _imports(tree: ast.AST, module: str) -> set[str]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = module.split(".")[: -node.level]
                out.add(".".join([*base, node.module or ""]).rstrip("."))
            elif node.module:
                out.add(node.module)
    return out


def test_only_the_store_and_the_trial_runner_write_trials():
    offenders = []
    for name, tree in _modules():
        if any(name == w or name.startswith(w + ".") for w in WRITERS):
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in WRITES and _store_like(node.func.value)):
                offenders.append(f"{name}:{node.lineno} .{node.func.attr}()")
    assert not offenders, offenders


def _store_like(value: ast.AST) -> bool:
    """``store.x(...)`` / ``self.store.x(...)`` / ``self._store.x(...)``."""
    if isinstance(value, ast.Name):
        return "store" in value.id
    return isinstance(value, ast.Attribute) and "store" in value.attr


def test_the_check_sees_a_write_where_there_is_one():
    tree = ast.parse("def f(store, self):\n    store.finish(k, c)\n    self._store.claim(1)\n")
    calls = [n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Attribute) and _store_like(n.func.value)]
    assert calls == ["finish", "claim"]


def test_optim_imports_nothing_above_it():
    above = ("hplists.workloads", "hplists.study", "hplists.report", "hplists.cli",
             "hplists.lists", "hplists.scoring", "hplists.store")
    offenders = [(name, imp) for name, tree in _modules() if name.startswith("hplists.optim")
                 for imp in _imports(tree, name) if imp.startswith(above)]
    assert not offenders, offenders


def test_the_engine_knows_no_store():
    engine = [(n, t) for n, t in _modules() if n.startswith("hplists.workloads.engine")]
    assert len(engine) >= 6  # the package and its one-concept modules
    offenders = [(n, i) for n, t in engine for i in _imports(t, n)
                 if i.startswith(("hplists.store", "hplists.study"))]
    assert not offenders, offenders
