"""Text from stores and files, made safe to print on a terminal.

Study, workload and metric names come from users and imported files. Printed
raw, an escape sequence in one can clear the screen or rewrite earlier lines,
and a right-to-left mark reverses what follows it. :func:`printable` shows
every such character as its escape instead.
"""

from __future__ import annotations

import unicodedata
from typing import Any

__all__ = ["console", "printable"]

# Width of a console that does not write to a terminal (a file, a pipe): tables keep every
# column at their natural width instead of rich's 80-column default.
_PIPE_WIDTH = 1000


def printable(text: object) -> str:
    r"""``text`` with control, format and separator characters shown as escapes.

    Example:
        >>> printable("broad200"), printable("a\x1b[2Jb"), printable("x\u202ey")
        ('broad200', 'a\\x1b[2Jb', 'x\\u202ey')
    """
    out = []
    for ch in str(text):
        if unicodedata.category(ch)[0] == "C" or ch in "\u2028\u2029":
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else
                       f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)


def console(**options: Any) -> Any:
    """The rich ``Console`` every command prints its tables with.

    On a terminal it takes the terminal's width; written to a file or a pipe
    (``hplists workloads | cat``), tables keep every column, at full width.

    Example:
        >>> console(file=__import__("io").StringIO()).width
        1000
    """
    import sys

    from rich.console import Console

    out: Any = options.get("file") or sys.stdout
    tty = bool(getattr(out, "isatty", lambda: False)())
    options.setdefault("highlight", False)
    return Console(width=None if tty else _PIPE_WIDTH, **options)

