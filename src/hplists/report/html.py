"""The report as one self-contained HTML page.

Everything is inline: the CSS, and the figures as base64 PNG data URIs, so
the page opens from disk, is sent as one file, and never touches the
network. The paper's rows are set in grey italics, missed targets (``∞``) in
red, and a table or figure whose data are missing says why in a highlighted
box.

Example:
    >>> from hplists.report.tables import Table
    >>> t = Table("t", "T", "c", ("row", "w"), ("text", "fraction"), (("a <b>", 0.5),))
    >>> '<td class="label">a &lt;b&gt;</td>' in table_html(t)
    True
"""

from __future__ import annotations

import base64
import html

from hplists.report.document import Report
from hplists.report.figures import Figure
from hplists.report.tables import PAPER, Table, format_cell

__all__ = ["figure_html", "report_html", "table_html"]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #1d1d1f; background: #fafafa; line-height: 1.45; }
main { max-width: 1200px; margin: 0 auto; padding: 1.5rem 2rem 4rem; }
h1 { font-size: 1.6rem; margin-bottom: .3rem; }
h2 { font-size: 1.2rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
nav ol { columns: 2; font-size: .9rem; }
dl.provenance { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem;
                font-size: .85rem; color: #555; }
dl.provenance dt { font-weight: 600; }
dl.provenance dd { margin: 0; word-break: break-word; }
p.caption, figcaption { font-size: .9rem; color: #444; max-width: 60rem; }
.scroll { overflow-x: auto; }
table.data { border-collapse: collapse; font-size: .85rem; margin: .6rem 0; background: #fff; }
table.data th, table.data td { border: 1px solid #ddd; padding: .25rem .5rem; }
table.data th { background: #f0f0f3; position: sticky; top: 0; }
table.data td.label { white-space: nowrap; }
table.data td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.data td.inf { color: #b00020; }
table.data tr.paper td { color: #666; font-style: italic; background: #f7f7f7; }
table.data tr.spec td { color: #555; background: #fcfcf3; }
.missing { border-left: 4px solid #e0a000; background: #fff8e1; padding: .5rem .8rem;
           max-width: 60rem; }
ul.notes { font-size: .85rem; color: #444; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, 1fr)); gap: 1rem; }
figure { margin: .8rem 0; background: #fff; border: 1px solid #e5e5e5; padding: .5rem; }
figure img { max-width: 100%; height: auto; display: block; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def table_html(table: Table) -> str:
    """One table as an HTML section (heading, caption, table or why missing, notes)."""
    out = [f'<section class="table" id="{_e(table.key)}">', f"<h2>{_e(table.title)}</h2>",
           f'<p class="caption">{_e(table.caption)}</p>']
    if table.missing:
        out.append(f'<p class="missing"><strong>Not available:</strong> {_e(table.missing)}.'
                   "</p>")
    else:
        out.append(f'<div class="scroll"><table class="data" data-key="{_e(table.key)}">')
        # workload names may break after an underscore, so wide tables stay readable
        out.append("<thead><tr>" + "".join(f"<th>{_e(c).replace('_', '_<wbr>')}</th>"
                                           for c in table.columns) + "</tr></thead><tbody>")
        for row in table.rows:
            source = row[0] if table.columns[0] == "source" else None
            cls = ' class="paper"' if source == PAPER else (
                ' class="spec"' if source == "spec" else "")
            cells = []
            for v, k in zip(row, table.kinds, strict=True):
                text = format_cell(v, k)
                classes = ["num"] if k != "text" else (["label"] if len(text) <= 45 else [])
                if text == "∞":
                    classes.append("inf")
                attr = f' class="{" ".join(classes)}"' if classes else ""
                cells.append(f"<td{attr}>{_e(text)}</td>")
            out.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
        out.append("</tbody></table></div>")
    if table.notes:
        out.append('<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in table.notes)
                   + "</ul>")
    out.append("</section>")
    return "\n".join(out)


def figure_html(figure: Figure, *, caption: bool = True) -> str:
    """One figure: the PNG as a data URI with its caption (or why it is missing)."""
    if figure.missing:
        return (f'<section class="figure" id="{_e(figure.key)}"><h2>{_e(figure.title)}</h2>'
                f'<p class="caption">{_e(figure.caption)}</p><p class="missing"><strong>Not '
                f"available:</strong> {_e(figure.missing)}.</p></section>")
    data = base64.b64encode(figure.png).decode("ascii")
    cap = f"<figcaption>{_e(figure.caption)}</figcaption>" if caption else ""
    return (f'<figure id="{_e(figure.key)}"><img alt="{_e(figure.title)}" '
            f'src="data:image/png;base64,{data}">{cap}</figure>')


def report_html(report: Report) -> str:
    """The whole report as one self-contained HTML page."""
    body = [f"<h1>{_e(report.title)}</h1>", '<dl class="provenance">']
    body += [f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in report.provenance.items()]
    body.append("</dl>")
    toc = []
    parts: list[str] = []
    items = list(report.items)
    i = 0
    while i < len(items):
        item = items[i]
        if isinstance(item, Figure) and item.key.startswith("figure1_"):
            group: list[Figure] = []
            while i < len(items):
                member = items[i]
                if not (isinstance(member, Figure) and member.key.startswith("figure1_")):
                    break
                group.append(member)
                i += 1
            toc.append(("figure1", "Figure 1: random-search tuning curves, every workload"))
            parts.append('<section class="figure" id="figure1"><h2>Figure 1 and Appendix B: '
                         "random-search tuning curves</h2>"
                         f'<p class="caption">{_e(group[0].caption)}</p><div class="grid">'
                         + "".join(figure_html(f, caption=False) for f in group)
                         + "</div></section>")
            continue
        if isinstance(item, Figure):
            toc.append((item.key, item.title))
            if item.missing:
                parts.append(figure_html(item))
            else:
                parts.append(f'<section class="figure" id="s-{_e(item.key)}"><h2>'
                             f"{_e(item.title)}</h2>{figure_html(item)}</section>")
        else:
            toc.append((item.key, item.title))
            parts.append(table_html(item))
        i += 1
    body.append("<nav><h2>Contents</h2><ol>" + "".join(
        f'<li><a href="#{_e(k)}">{_e(t)}</a></li>' for k, t in toc)
        + '<li><a href="#data-notes">Data notes</a></li></ol></nav>')
    body += parts
    notes = report.notes or ("None: every trial was used.",)
    body.append('<section id="data-notes"><h2>Data notes</h2><ul class="notes">'
                + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul></section>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(report.title)}</title><style>{_CSS}</style></head>\n<body><main>\n"
            + "\n".join(body) + "\n</main></body></html>\n")
