"""What the commands print: text made safe for a terminal, and tables in four formats.

Study, workload and metric names come from users and imported files. Printed
raw, an escape sequence in one can clear the screen or rewrite earlier lines,
and a right-to-left mark reverses what follows it. :func:`printable` shows
every such character as its escape instead.

Every command that prints a table builds :class:`Table` values and prints them
with :func:`emit` in the format of its ``--format`` option (:func:`add_format`):

* ``table`` (the default): a table for people; written to a file or a pipe it
  keeps every column at full width (``hplists workloads | cat``);
* ``csv``: the rows under a header of column keys, full-precision values (the
  tables of a command one after another, separated by one empty line);
* ``json``: ``{table name: [{column key: value}, ...]}``, unless the command
  has its own JSON (the content its ``--json`` flag printed before);
* ``md``: GitHub pipe tables (``|`` and line breaks in cells escaped).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import math
import sys
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from hplists.json_numbers import jsonable

__all__ = ["FORMATS", "Cell", "Column", "Table", "add_format", "console", "emit", "printable",
           "render"]

# Width of a console that does not write to a terminal (a file, a pipe): tables keep every
# column at their natural width instead of rich's 80-column default.
_PIPE_WIDTH = 1000

#: The values of every table command's ``--format``.
FORMATS = ("table", "csv", "json", "md")


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


def _is_tty(out: Any) -> bool:
    return bool(getattr(out, "isatty", lambda: False)())


def console(**options: Any) -> Any:
    """The rich ``Console`` every command prints its tables with.

    On a terminal it takes the terminal's width; written to a file or a pipe
    (``hplists workloads | cat``), tables keep every column, at full width.

    Example:
        >>> console(file=__import__("io").StringIO()).width
        1000
    """
    from rich.console import Console

    out: Any = options.get("file") or sys.stdout
    options.setdefault("highlight", False)
    return Console(width=None if _is_tty(out) else _PIPE_WIDTH, **options)


# ---------------------------------------------------------------------------- tables


class Cell(NamedTuple):
    """A cell whose text for people (``table``, ``md``) is not its value (``csv``, ``json``).

    Example:
        >>> Column("metric").show(Cell("error_rate ↓", "error_rate"))
        'error_rate ↓'
    """

    text: str
    value: Any


def _value(cell: Any) -> Any:
    return cell.value if isinstance(cell, Cell) else cell


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of a :class:`Table`.

    Attributes:
        name: the header in the ``table`` and ``md`` formats.
        key: the header in ``csv`` and the key in ``json`` (default: ``name``).
        right: right-justified (numbers).
        text: a value's text in the ``table`` and ``md`` formats (default
            ``str``; ``None`` is always empty); ``csv`` and ``json`` keep the value.
        style: a value's rich style in the ``table`` format (e.g. ``"red"``), or None.
        options: more rich column options for the ``table`` format (``no_wrap``,
            ``min_width``, ...); ``max_width`` only applies on a terminal.
        formats: the formats that show the column (default: all).
    """

    name: str
    key: str | None = None
    right: bool = False
    text: Callable[[Any], str] | None = None
    style: Callable[[Any], str | None] | None = None
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    formats: tuple[str, ...] = FORMATS

    @property
    def field(self) -> str:
        return self.key or self.name

    def show(self, value: Any) -> str:
        if isinstance(value, Cell):
            value = value.text
        if value is None:
            return ""
        text = str(self.text(value) if self.text is not None else value)
        return "\n".join(printable(line) for line in text.split("\n"))


@dataclasses.dataclass(frozen=True)
class Table:
    """Rows under named columns, printable as a table, CSV, JSON or Markdown (:func:`render`).

    Attributes:
        columns: the columns (a plain string is a left-justified column of that name).
        rows: one sequence of values per row, in column order.
        title: printed above the table (``table`` and ``md`` formats).
        caption: printed below it (``table`` and ``md`` formats).
        name: the table's key in the generic ``json`` format.
        plain: the ``table`` format prints aligned columns without borders or title,
            a line per row, for ``grep`` and ``cut``.

    Example:
        >>> t = Table(["name", Column("n", right=True)], [["a", 1], ["b|c", 22]])
        >>> print(render(t, "md"), end="")
        | name | n |
        | --- | ---: |
        | a | 1 |
        | b\\|c | 22 |
        >>> print(render(t, "csv"), end="")
        name,n
        a,1
        b|c,22
    """

    columns: Sequence[Column | str]
    rows: Sequence[Sequence[Any]]
    title: str | None = None
    caption: str | None = None
    name: str = "rows"
    plain: bool = False

    @property
    def cols(self) -> list[Column]:
        return [c if isinstance(c, Column) else Column(c) for c in self.columns]

    def shown(self, fmt: str) -> tuple[list[Column], list[list[Any]]]:
        """The columns format ``fmt`` shows, and the rows' cells in them."""
        keep = [j for j, c in enumerate(self.cols) if fmt in c.formats]
        return ([self.cols[j] for j in keep],
                [[row[j] for j in keep] for row in self.rows])

    def records(self) -> list[dict[str, Any]]:
        """The rows as dicts keyed by the columns' keys (the values of :class:`Cell` cells)."""
        cols, rows = self.shown("json")
        return [{c.field: _value(v) for c, v in zip(cols, row, strict=True)} for row in rows]


def add_format(p: argparse.ArgumentParser, *, json_flag: bool = True,
               markdown_flag: bool = False, what: str = "the table") -> None:
    """``--format table|csv|json|md`` on a command's parser (and ``--json``, its alias)."""
    p.add_argument("--format", default="table", choices=FORMATS,
                   help=f"how to print {what}: table (default; full width when not written "
                   "to a terminal), csv, json or md (a GitHub Markdown table)")
    if json_flag:
        p.add_argument("--json", dest="format", action="store_const", const="json",
                       help="the same as --format json")
    if markdown_flag:
        p.add_argument("--markdown", dest="format", action="store_const", const="md",
                       help="the same as --format md")


# A text field starting with one of these is a formula to a spreadsheet (CSV injection);
# such a field gets a leading "'", as in the report's CSV files (hplists.report.csv).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> str:
    r"""A CSV field: numbers in full (``repr``), text that no spreadsheet runs as a formula.

    Example:
        >>> _csv_cell(1 / 3), _csv_cell(None), _csv_cell(float("nan")), _csv_cell("=1+1")
        ('0.3333333333333333', '', '', "'=1+1")
    """
    if value is None:
        return ""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, (bool, int)):
        return str(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(jsonable(value))
    text = "\n".join(printable(line) for line in str(value).split("\n"))
    return "'" + text if text.startswith(_FORMULA_START) else text


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").strip().replace("\n", "<br>")


def _plain(t: Table) -> str:
    cols, rows = t.shown("table")
    cells = [[c.name for c in cols]] + [[c.show(v) for c, v in zip(cols, row, strict=True)]
                                        for row in rows]
    widths = [max(len(r[j]) for r in cells) for j in range(len(cols))]
    return "".join("  ".join(cell.rjust(w) if c.right else cell.ljust(w)
                             for c, cell, w in zip(cols, row, widths, strict=True)).rstrip()
                   + "\n" for row in cells)


def _rich(t: Table, tty: bool) -> Any:
    from rich.table import Table as RichTable
    from rich.text import Text

    # On a terminal the title and caption wrap to the table's width; elsewhere they are
    # lines of their own (see _print_rich), so that nothing breaks a grep.
    title = None if t.title is None or not tty else Text(printable(t.title))
    caption = None if t.caption is None or not tty else Text(printable(t.caption))
    out = RichTable(title=title, caption=caption)
    cols, rows = t.shown("table")
    for c in cols:
        options = dict(c.options)
        if not tty:  # full width: nothing is cut
            options.pop("max_width", None)
            if options.get("overflow") == "ellipsis":
                options.pop("overflow")
        out.add_column(Text(c.name), justify="right" if c.right else "left", **options)
    for row in rows:
        out.add_row(*(Text(c.show(v), style=(c.style(_value(v)) or "") if c.style else "")
                      for c, v in zip(cols, row, strict=True)))
    return out


def _print_rich(t: Table, out: Any) -> None:
    from rich.console import Console

    tty = _is_tty(out)
    table = _rich(t, tty)
    if tty:
        console(file=out).print(table)
        return
    # Not a terminal: the title, the table as wide as it needs (nothing wraps, nothing is
    # cut), the caption.
    if t.title is not None:
        out.write(_lines(t.title))
    probe = Console(width=_PIPE_WIDTH, file=io.StringIO())
    width = min(_PIPE_WIDTH, max(probe.measure(table).maximum, 20))
    Console(width=width, file=out, highlight=False, no_color=True).print(table)
    if t.caption is not None:
        out.write(_lines(t.caption))


def render(tables: Table | Sequence[Table], fmt: str = "table") -> str:
    """The tables as text in format ``fmt`` (one of :data:`FORMATS`).

    The ``table`` format is the text a file or a pipe gets (full width, no colour).
    """
    from hplists._check import check_choice

    items = [tables] if isinstance(tables, Table) else list(tables)
    fmt = check_choice("format", fmt, FORMATS)
    if fmt == "json":
        return json.dumps({t.name: jsonable(t.records()) for t in items}, indent=2,
                          default=str) + "\n"
    blocks = []
    for t in items:
        cols, rows = t.shown(fmt)
        if fmt == "csv":
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow([_csv_cell(c.field) for c in cols])
            w.writerows([_csv_cell(_value(v)) for v in row] for row in rows)
            blocks.append(buf.getvalue())
        elif fmt == "md":
            lines = [] if t.title is None else [f"**{_md_cell(printable(t.title))}**", ""]
            lines.append("| " + " | ".join(_md_cell(c.name) for c in cols) + " |")
            lines.append("| " + " | ".join("---:" if c.right else "---" for c in cols) + " |")
            lines += ["| " + " | ".join(_md_cell(c.show(v)) for c, v in zip(cols, row,
                                                                             strict=True)) + " |"
                      for row in rows]
            if t.caption:
                lines += ["", _md_cell(printable(t.caption))]
            blocks.append("\n".join(lines) + "\n")
        elif t.plain:
            blocks.append(_plain(t))
        else:
            buf = io.StringIO()
            _print_rich(t, buf)
            blocks.append(buf.getvalue())
    return "\n".join(blocks)


def emit(tables: Table | Sequence[Table], fmt: str = "table", *,
         before: Sequence[str] = (), after: Sequence[str] = (), payload: Any = None,
         file: Any = None) -> None:
    """Prints the tables in format ``fmt`` to ``file`` (default: standard output).

    ``before`` and ``after`` are lines printed around the tables in the
    ``table`` and ``md`` formats (headings, totals, notes); ``csv`` prints the
    rows only. ``payload``: what the ``json`` format prints instead of the
    generic ``{name: rows}`` (a command's own JSON).
    """
    out = sys.stdout if file is None else file
    items = [tables] if isinstance(tables, Table) else list(tables)
    if fmt == "json" and payload is not None:
        out.write(json.dumps(jsonable(payload), indent=2, default=str) + "\n")
        return
    if fmt in ("csv", "json"):
        out.write(render(items, fmt))
        return
    for line in before:
        out.write(_lines(line))
    if fmt == "md" and before:
        out.write("\n")
    if fmt == "table":
        for t in items:
            if t.plain:
                out.write(_plain(t))
            else:
                out.flush()
                _print_rich(t, out)
    else:
        out.write(render(items, fmt))
    if fmt == "md" and after:
        out.write("\n")
    for line in after:
        out.write(_lines(line))


def _lines(text: str) -> str:
    return "".join(printable(line) + "\n" for line in text.split("\n"))
