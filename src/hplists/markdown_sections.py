"""Generated sections of Markdown files, between two HTML-comment markers.

Every generated part of a hand-written page (the README's and
``docs/results.md``'s Results sections, the workloads table, Table 4) sits
between a begin marker and an end marker, and only that part is rewritten;
everything outside the markers is kept byte for byte.

* :func:`splice_section` replaces a whole section, markers included (the
  generated text carries its own markers), and appends it to a file that has
  none yet;
* :func:`replace_between` replaces only what lies between the markers, which
  must be there;
* :func:`update_file` does the latter to a file, atomically.

Example:
    >>> B, E = "<!-- x:begin -->", "<!-- x:end -->"
    >>> text = splice_section("# Title\\n", f"{B}\\nold\\n{E}\\n", B, E)
    >>> text
    '# Title\\n\\n<!-- x:begin -->\\nold\\n<!-- x:end -->\\n'
    >>> splice_section(text + "tail\\n", f"{B}\\nnew\\n{E}\\n", B, E).splitlines()[2:]
    ['<!-- x:begin -->', 'new', '<!-- x:end -->', 'tail']
    >>> replace_between("a\\n" + B + "\\nold\\n" + E + "\\nb\\n", "new", B, E)
    'a\\n<!-- x:begin -->\\nnew\\n<!-- x:end -->\\nb\\n'
"""

from __future__ import annotations

import os
from pathlib import Path

from hplists.exceptions import InvalidParameterError

__all__ = ["find_section", "replace_between", "splice_section", "update_file"]


def find_section(text: str, begin: str, end: str, *, what: str = "the file"
                 ) -> tuple[int, int] | None:
    """``(start, stop)`` of the first ``begin`` ... ``end`` in ``text``; ``None`` without ``begin``.

    ``stop`` is just after ``end``. A ``begin`` without an ``end`` after it is
    an :class:`~hplists.exceptions.InvalidParameterError` naming ``what``.
    """
    start = text.find(begin)
    if start < 0:
        return None
    stop = text.find(end, start)
    if stop < 0:
        raise InvalidParameterError(f"{what} has the marker {begin!r} but no END marker "
                                    f"({end!r}); fix it by hand before regenerating")
    return start, stop + len(end)


def splice_section(text: str, section: str, begin: str, end: str, *,
                   what: str = "the file") -> str:
    """``text`` with its section from ``begin`` through ``end`` replaced by ``section``.

    ``section`` is the complete new section: it starts with ``begin`` and
    holds ``end`` (usually followed by a newline). One newline right after
    the old ``end`` goes with the old section. A ``text`` without ``begin``
    gets ``section`` appended after a blank line (none for an empty text).
    """
    if not section.startswith(begin) or end not in section:
        raise InvalidParameterError(f"a generated section must start with {begin!r} and hold "
                                    f"{end!r}")
    found = find_section(text, begin, end, what=what)
    if found is None:
        sep = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n")
                                                             else "\n\n")
        return text + sep + section
    start, stop = found
    if text[stop:stop + 1] == "\n":
        stop += 1
    return text[:start] + section + text[stop:]


def replace_between(text: str, body: str, begin: str, end: str, *,
                    what: str = "the file") -> str:
    """``text`` with what lies between ``begin`` and ``end`` replaced by ``"\\n" + body + "\\n"``.

    Both markers must be there (an :class:`~hplists.exceptions.InvalidParameterError`
    naming ``what`` otherwise); they stay where they are.
    """
    found = find_section(text, begin, end, what=what)
    if found is None:
        raise InvalidParameterError(f"{what} has no {begin} ... {end} markers; add them where "
                                    "the table belongs")
    start, stop = found
    return f"{text[:start]}{begin}\n{body}\n{end}{text[stop:]}"


def update_file(path: str | os.PathLike[str], body: str, begin: str, end: str) -> bool:
    """Replaces what lies between the markers in the file ``path``; whether the file changed.

    The file is rewritten atomically, and only when its text changes.
    """
    from hplists._files import atomic_write

    p = Path(path)
    if not p.is_file():
        raise InvalidParameterError(f"{str(path)!r} does not exist")
    text = p.read_text()
    new = replace_between(text, body, begin, end, what=repr(str(path)))
    if new == text:
        return False
    atomic_write(p, new)
    return True
