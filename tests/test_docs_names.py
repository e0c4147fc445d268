"""Every dotted ``hplists.*`` name the README and the docs mention exists: a reader who types it
gets the module, function or class, not an ImportError or AttributeError."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(r"\b(hplists(?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def _resolves(name: str) -> bool:
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


def test_every_dotted_name_in_the_docs_imports():
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    found = {(m.group(1), f.name) for f in files for m in NAME.finditer(f.read_text())}
    assert len(found) > 50  # the docs name many; the scan itself works
    assert sorted((n, f) for n, f in found if not _resolves(n)) == []
