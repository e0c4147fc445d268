"""The layering the package promises, checked on its source: who may write trials, which
layer may import which (only its own and those below), and that no module reaches into
another module's private names."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).parents[1] / "src" / "hplists"
# Store methods that write trials.
WRITES = {"claim", "finish", "fail", "heartbeat", "put", "put_many", "retire", "import_records"}
# Where they may be called: the store itself, its own commands (`hplists store import|retire`),
# and the one trial loop (hplists.trials).
# report.synthetic builds a synthetic store for examples and tests (no trial of it is trained).
WRITERS = {"hplists.store", "hplists.cli.store", "hplists.trials",
           "hplists.report.synthetic"}

# The layers of the package, lowest first. A module may import modules of its own layer and
# of the layers below it, never of one above: at module level and inside functions alike
# (imports under ``if TYPE_CHECKING:`` are exempt, they never run). Each name stands for that
# module or package and everything in it; the longest name that covers a module decides its
# layer, and "hplists" covers only the package's own __init__ (a facade over lists and scoring).
LAYERS: tuple[tuple[str, ...], ...] = (
    # foundations: argument checks, the exceptions, correctly rounded arithmetic, files, the
    # version, non-finite numbers in JSON, generated Markdown sections, the CPU
    ("hplists._check", "hplists.exceptions", "hplists.exact", "hplists._files",
     "hplists._version", "hplists.json_numbers", "hplists.markdown_sections", "hplists.cpu"),
    # one point, one curve, a metric's direction, the progress bars
    ("hplists.hparams", "hplists.method_point", "hplists.curves", "hplists.metric",
     "hplists.progress"),
    # search spaces, update rules, the trial store
    ("hplists.space", "hplists.optim", "hplists.store"),
    # the workload contract, the engine, the built-in workloads (they know no scoring)
    ("hplists.workloads",),
    # time-to-target, cost, profiles, rankings (a registered workload's spec comes from
    # hplists.workloads.registry)
    ("hplists.scoring",),
    # the one trial loop: trials trained into a store, its tasks and executors
    ("hplists.trials",),
    # named lists and tune (which runs a list's trials through the trial loop)
    ("hplists.lists",),
    # targets, calibration, the study workflows, baselines, evaluate
    ("hplists.study",),
    # tables, figures, the reports
    ("hplists.report",),
    # the practitioner entry points: the package's facade, framework integrations, the
    # PyTorch and Optax facades
    ("hplists", "hplists.integrations", "hplists.torch", "hplists.optax",
     "hplists.torch_lrfree"),
    # the hplists command
    ("hplists.cli",),
)

# Imports that break the rules today, in modules being reworked elsewhere. One line each:
# (importing module, what it imports: a module of a higher layer, or "module._name" for a
# private name). The list only shrinks: an entry that no longer occurs fails
# test_the_allowlist_holds_only_what_still_breaks_the_rules, so delete its line with the fix.
ALLOWED: set[tuple[str, str]] = {
    # optim: blockwise_quant's private helpers, shared by its PyTorch and CPU kernels
    ("hplists.optim._torch_nadamw8_cpu", "hplists.optim.blockwise_quant._BUCKET_FIRST"),
}


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        yield name, ast.parse(path.read_text(), filename=str(path))


def _is_package(module: str) -> bool:
    return SRC.parent.joinpath(*module.split("."), "__init__.py").is_file()


def _is_module(name: str) -> bool:
    path = SRC.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _from_base(node: ast.ImportFrom, module: str) -> str:
    """The module a ``from ... import`` reads from (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if _is_package(module) else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, node.module or ""]).rstrip(".")


def _imports(tree: ast.AST, module: str) -> set[str]:
    """Every module ``module`` imports (``from pkg import sub`` counts as ``pkg.sub``)."""
    return {target for _, target, _ in _import_targets(tree, module)}


def _import_targets(tree: ast.AST, module: str) -> Iterator[tuple[int, str, bool]]:
    """(line, imported module, under TYPE_CHECKING) for every import in ``tree``."""
    typing_only = _type_checking_nodes(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name, id(node) in typing_only
        elif isinstance(node, ast.ImportFrom):
            base = _from_base(node, module)
            for a in node.names:
                sub = f"{base}.{a.name}"
                yield node.lineno, sub if _is_module(sub) else base, id(node) in typing_only


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and (
                (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
                or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")):
            for stmt in node.body:
                out |= {id(n) for n in ast.walk(stmt)}
    return out


def _layer(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (length of the covering name, layer)
    for rank, names in enumerate(LAYERS):
        for name in names:
            covers = module == name or (name != "hplists" and module.startswith(name + "."))
            if covers and (best is None or len(name) > best[0]):
                best = (len(name), rank)
    return None if best is None else best[1]


def _upward_imports(tree: ast.AST, module: str) -> list[tuple[int, str]]:
    """(line, module) of each import of a higher layer than ``module``'s."""
    own = _layer(module)
    assert own is not None, f"{module} is in no layer: add it to LAYERS"
    out = []
    for line, target, typing_only in _import_targets(tree, module):
        if typing_only or not (target == "hplists" or target.startswith("hplists.")):
            continue
        theirs = _layer(target)
        if theirs is not None and theirs > own:
            out.append((line, target))
    return out


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _private_module_owner(module: str) -> str | None:
    """The package a private module belongs to (``hplists.store._common``: hplists.store)."""
    parts = module.split(".")
    for i, part in enumerate(parts):
        if _private(part):
            return ".".join(parts[:i])
    return None


def _private_uses(tree: ast.AST, module: str) -> list[tuple[int, str]]:
    """(line, "module._name") of each private name ``module`` takes from another module.

    ``from m import _x``, ``m._x`` on a name bound to an imported hplists module, and a
    private module (``_m`` in ``pkg._m``) used from outside its package. Dunder names are
    public.
    """
    out = []

    def check_module(line: int, target: str) -> None:
        owner = _private_module_owner(target)
        if owner is not None and not (module == owner or module.startswith(owner + ".")):
            out.append((line, target))

    bound: dict[str, str] = {}  # local name -> the hplists module it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("hplists"):
                    check_module(node.lineno, a.name)
                    if a.asname:
                        bound[a.asname] = a.name
                    else:
                        bound[a.name.split(".")[0]] = a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            base = _from_base(node, module)
            if not base.startswith("hplists"):
                continue
            check_module(node.lineno, base)
            for a in node.names:
                full = f"{base}.{a.name}"
                if _is_module(full):
                    check_module(node.lineno, full)
                    bound[a.asname or a.name] = full
                elif _private(a.name) and base != module:
                    out.append((node.lineno, full))

    def module_of(value: ast.AST) -> str | None:
        if isinstance(value, ast.Name):
            return bound.get(value.id)
        if isinstance(value, ast.Attribute):
            parent = module_of(value.value)
            if parent is not None and _is_module(f"{parent}.{value.attr}"):
                return f"{parent}.{value.attr}"
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            owner = module_of(node.value)
            if owner is None or owner == module:
                continue
            full = f"{owner}.{node.attr}"
            if _is_module(full):
                check_module(node.lineno, full)
            elif _private(node.attr):
                out.append((node.lineno, full))
    return sorted(set(out))


def _violations() -> tuple[list[str], set[tuple[str, str]]]:
    """Every rule broken outside ALLOWED (as text), and the ALLOWED entries that still occur."""
    broken, still = [], set()
    for name, tree in _modules():
        found = [(line, target, "imports a higher layer")
                 for line, target in _upward_imports(tree, name)]
        found += [(line, target, "takes a private name")
                  for line, target in _private_uses(tree, name)]
        for line, target, what in found:
            if (name, target) in ALLOWED:
                still.add((name, target))
            else:
                broken.append(f"{name}:{line} {what}: {target}")
    return broken, still


def test_no_module_imports_a_higher_layer_or_another_modules_private_names():
    broken, _ = _violations()
    assert not broken, "\n".join(broken)


def test_the_allowlist_holds_only_what_still_breaks_the_rules():
    _, still = _violations()
    fixed = sorted(ALLOWED - still)
    assert not fixed, f"fixed: delete these lines from ALLOWED in {__file__}: {fixed}"


def test_every_module_is_in_a_layer():
    missing = [name for name, _ in _modules() if _layer(name) is None]
    assert not missing, f"add them to LAYERS: {missing}"


def test_the_checks_see_a_violation_where_there_is_one():
    source = (
        "from typing import TYPE_CHECKING\n"
        "from hplists.study.workflow import StudyWorkflow\n"  # 2: study is above scoring
        "from hplists.curves import Curve\n"
        "if TYPE_CHECKING:\n"
        "    from hplists.report import html\n"  # exempt: never runs
        "def f(w):\n"
        "    from hplists.cli import main\n"  # 7: a function-level import counts too (cli.main)
        "    from hplists.store.liveness import _boot_id, __doc__\n"  # 8: _boot_id
        "    from hplists.workloads import engine\n"
        "    import hplists.workloads.engine.data as d\n"
        "    import hplists.store.base\n"
        "    from hplists.store._common import runs\n"  # 12: another package's private module
        "    engine.train(w, [])\n"
        "    engine._data(w)\n"  # 14
        "    d._keys(0)\n"  # 15
        "    hplists.store.base._x\n"  # 16
        "    self._store.claim()\n"
    )
    tree = ast.parse(source)
    assert _upward_imports(tree, "hplists.scoring.example") == [
        (2, "hplists.study.workflow"), (7, "hplists.cli.main")]
    assert _private_uses(tree, "hplists.scoring.example") == [
        (8, "hplists.store.liveness._boot_id"), (12, "hplists.store._common"),
        (14, "hplists.workloads.engine._data"), (15, "hplists.workloads.engine.data._keys"),
        (16, "hplists.store.base._x")]
    # The same imports are fine one layer up, and a package's private module is its own.
    assert _upward_imports(ast.parse("from hplists.report import html\n"),
                           "hplists.cli.example") == []
    assert _private_uses(ast.parse("from hplists.store._common import runs\n"),
                         "hplists.store.example") == []
    # Relative imports resolve against the module's package.
    relative = ast.parse("from .data import _keys\nfrom ...study import workflow\n")
    assert _private_uses(relative, "hplists.workloads.engine.loop") == [
        (1, "hplists.workloads.engine.data._keys")]
    assert _upward_imports(relative, "hplists.workloads.engine") == [
        (2, "hplists.study.workflow")]
    assert _layer("hplists.trials.loop") < _layer("hplists.lists") < _layer("hplists.study")
    assert _layer("hplists") == _layer("hplists.torch")  # the root covers only itself


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
