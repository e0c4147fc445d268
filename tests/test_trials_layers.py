"""The trial loop's place in the package, checked on the source: hplists.trials drives the store
and the workloads and knows nothing above it; hplists.lists (tune) runs on it, not on study."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SRC = Path(__file__).parents[1] / "src" / "hplists"


def _imports(package: str) -> list[tuple[str, int, str]]:
    """(file, line, module) of every import in ``hplists.<package>``, at any depth of the code."""
    out = []
    for path in sorted((SRC / package).rglob("*.py")):
        module = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        if module.endswith(".__init__"):
            module = module.removesuffix(".__init__") + ".__init__"
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                out += [(path.name, node.lineno, a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: resolve against the module's package
                    base = ".".join([*module.split(".")[: -node.level], base]).rstrip(".")
                out += [(path.name, node.lineno, base)]
                out += [(path.name, node.lineno, f"{base}.{a.name}") for a in node.names]
    return out


def _offenders(package: str, forbidden: tuple[str, ...]) -> list[tuple[str, int, str]]:
    return [(f, line, m) for f, line, m in _imports(package)
            if any(m == p or m.startswith(p + ".") for p in forbidden)]


def test_the_trial_loop_imports_nothing_that_drives_it():
    assert len(list((SRC / "trials").glob("*.py"))) >= 6  # the package and its modules
    forbidden = ("hplists.lists", "hplists.study", "hplists.report", "hplists.cli")
    assert not _offenders("trials", forbidden)


def test_lists_import_no_study_module():
    assert not _offenders("lists", ("hplists.study",))


def test_the_checks_see_an_import_where_there_is_one(tmp_path, monkeypatch):
    pkg = tmp_path / "hplists" / "fake"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("from ..study import workflow\n")
    (pkg / "m.py").write_text("def f():\n    import hplists.report.html\n"
                              "    from hplists import cli\n")
    monkeypatch.setattr(sys.modules[__name__], "SRC", tmp_path / "hplists")
    found = sorted(m for _, _, m in _offenders("fake", ("hplists.study", "hplists.report",
                                                        "hplists.cli")))
    assert found == ["hplists.cli", "hplists.report.html", "hplists.study",
                     "hplists.study.workflow"]
