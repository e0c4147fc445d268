"""Tables as CSV: one header row, then the values as they are (not as the report formats them).

Floats are written in Python's shortest round-trip form (``inf`` for a missed
target), ``None`` (not run, no data) as an empty field, so a CSV reads back
into the same numbers. Text that a spreadsheet would run as a formula (a
name starting with ``=``, ``+``, ``-`` or ``@``) is written with a leading
``'``.

Example:
    >>> from hplists.report.tables import Table
    >>> t = Table("t", "T", "", ("row", "w"), ("text", "fraction"),
    ...           (("list", 0.5), ("sweep", float("inf")), ("bo", None)))
    >>> print(table_csv(t), end="")
    row,w
    list,0.5
    sweep,inf
    bo,
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from hplists.report.tables import Table

__all__ = ["table_csv"]


# A text field starting with one of these is a formula to a spreadsheet (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(x: object) -> str:
    """Text as a CSV field no spreadsheet runs: a leading ``=+-@`` (or tab, CR) gets a ``'``.

    Example:
        >>> print(_text('=HYPERLINK("http://x")'), _text("image_resnet"))
        '=HYPERLINK("http://x") image_resnet
    """
    s = str(x)
    return "'" + s if s.startswith(_FORMULA_START) else s


def _value(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return "" if math.isnan(x) else repr(x)
    if isinstance(x, int):
        return str(x)
    return _text(x)


def table_csv(table: Table) -> str:
    """The table as CSV text (``\\n`` line ends); a table without data has only its header."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([_text(c) for c in table.columns])
    for row in table.rows:
        writer.writerow([_value(x) for x in row])
    return buf.getvalue()
