"""The report's tables, one function per table of paper 001, as plain data.

Each function takes an :class:`~hplists.report.analysis.Analysis` and returns a
:class:`Table`: column names, a kind per column (how to format it), rows of
plain values (``inf`` = target missed, ``None`` = not run / no data) and the
notes a reader needs. A table whose data are missing from the stores says so
in :attr:`Table.missing` instead of failing. Rows whose ``source`` is
``"paper 001"`` are the paper's numbers (:mod:`hplists.report.paper001`), set
beside ours; the paper's workloads are the full-size AlgoPerf ones, ours
their CPU analogs, so they compare in kind, not in value.

Example:
    >>> from hplists.report.analysis import Analysis
    >>> from hplists.report.synthetic import synthetic_study
    >>> records, specs = synthetic_study(num_points=30, workloads=3, baselines=False,
    ...                                  reruns=False)
    >>> t = table4(Analysis(records, specs, registry=False))
    >>> t.columns[:3], len(t.rows)
    (('workload', 'paper 001 workload', 'points trained'), 3)
    >>> table5(Analysis(records[:0], specs, registry=False)).missing
    "study 'broad200' is not in the store(s)"
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hplists.exceptions import InvalidParameterError
from hplists.metric import describe
from hplists.report import paper001
from hplists.report.analysis import Analysis, Missing, Row
from hplists.scoring.cost import cost
from hplists.scoring.profiles import benchmark_score
from hplists.study.calibration import BAND, success_counts

__all__ = [
    "KINDS",
    "TABLES",
    "Table",
    "all_tables",
    "appendix_b",
    "figure2_data",
    "format_cell",
    "summary",
    "table4",
    "table5",
    "table6",
    "table7",
    "table8",
    "table9",
    "table10",
    "table12",
    "table13",
    "workloads",
]

KINDS = ("text", "int", "fraction", "metric", "real", "percent", "hp")
OURS, PAPER = "hplists", "paper 001"
THREE_X = 3  # the paper's claim: a K-point list matches random search with >= 3K trials


@dataclasses.dataclass(frozen=True)
class Table:
    """One table of the report.

    Attributes:
        key: file stem and anchor (``"table5"``).
        title: the heading.
        caption: what the numbers are and how they were computed.
        columns: column names.
        kinds: how each column is formatted (one of :data:`KINDS`).
        rows: the values; ``inf`` = target missed, ``None`` = not run or no data.
        notes: what a reader should know (fallbacks, mismatches, missing rows).
        missing: why the table has no data (``None`` when it has).
    """

    key: str
    title: str
    caption: str
    columns: tuple[str, ...]
    kinds: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...] = ()
    notes: tuple[str, ...] = ()
    missing: str | None = None

    def __post_init__(self) -> None:
        if len(self.kinds) != len(self.columns):
            raise InvalidParameterError(f"table {self.key}: {len(self.columns)} columns but "
                             f"{len(self.kinds)} kinds")
        bad = [k for k in self.kinds if k not in KINDS]
        if bad:
            raise InvalidParameterError(f"table {self.key}: unknown kind(s) {bad}; kinds are {KINDS}")
        for row in self.rows:
            if len(row) != len(self.columns):
                raise InvalidParameterError(f"table {self.key}: row {row!r} has {len(row)} values for "
                                 f"{len(self.columns)} columns")

    def column(self, name: str) -> list[Any]:
        """The values of column ``name``."""
        if name not in self.columns:
            raise InvalidParameterError(f"table {self.key} has no column {name!r}; columns are "
                             f"{list(self.columns)}")
        j = self.columns.index(name)
        return [r[j] for r in self.rows]

    def records(self) -> list[dict[str, Any]]:
        """The rows as dicts (column -> value)."""
        return [dict(zip(self.columns, r, strict=True)) for r in self.rows]


def format_cell(value: Any, kind: str, *, missing: str = "—", inf: str = "∞") -> str:
    """A value as the report shows it.

    Example:
        >>> format_cell(0.738891, "fraction"), format_cell(float("inf"), "fraction")
        ('0.7389', '∞')
        >>> format_cell(None, "metric"), format_cell(0.0412, "percent"), format_cell(30.41749, "metric")
        ('—', '4.1%', '30.4175')
    """
    if value is None:
        return missing
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if kind == "int":
        return str(int(value))
    x = float(value)
    if math.isnan(x):
        return missing
    if math.isinf(x):
        return inf if x > 0 else "-" + inf
    if kind == "fraction":
        return f"{x:.4f}"
    if kind == "percent":
        return f"{100 * x:.1f}%"
    if kind == "metric":
        return f"{x:.6g}"
    if kind == "hp":
        return f"{x:.6g}"
    if kind == "real":
        return f"{x:.4g}"
    return str(value)


def _points(n: int) -> str:
    return f"{n} point" + ("" if n == 1 else "s")


def _workloads(n: int) -> str:
    return f"{n} workload" + ("" if n == 1 else "s")


def _of(n: int | None, total: int) -> str | None:
    return None if n is None else f"{n} of {total}"


def _fraction_columns(a: Analysis, workloads: Sequence[str]) -> tuple[list[str], list[str]]:
    return ["source", "row", *workloads], ["text", "text", *(["fraction"] * len(workloads))]


def _guard(key: str, title: str, caption: str, columns: Sequence[str], kinds: Sequence[str],
           build: Callable[[], tuple[list[tuple[Any, ...]], list[str]]]) -> Table:
    try:
        rows, notes = build()
    except Missing as e:
        return Table(key, title, caption, tuple(columns), tuple(kinds), missing=str(e))
    return Table(key, title, caption, tuple(columns), tuple(kinds), tuple(rows), tuple(notes))


# ---------------------------------------------------------------------- workloads (Tables 2, 11)


def workloads(a: Analysis) -> Table:
    """The workloads, their specs and the paper's workload each one stands for (Tables 2, 3, 11)."""
    cols = ["workload", "kind", "paper 001 workload", "metric", "direction", "target",
            "step budget", "paper target", "paper step budget"]
    kinds = ["text", "text", "text", "text", "text", "metric", "int", "metric", "int"]

    def build() -> tuple[list[tuple[Any, ...]], list[str]]:
        names = a.ordered(list(a.specs))
        if not names:
            raise Missing("no workload has a spec (see the data notes)")
        base = set(a.get("base") or ())
        rows = []
        for w in names:
            s = a.specs[w]
            b = w if w in paper001.WORKLOADS else paper001.base_of(w)
            variant = w not in paper001.WORKLOADS and b is not None
            paper = None if b is None else paper001.paper_name(b)
            if variant and b is not None:  # (variant implies b is not None)
                paper = f"{paper} {paper001.VARIANT_NAMES[b]}"
            own_base = paper001.base_of(w, a.specs)
            kind = "base" if w in base or w in paper001.WORKLOADS else (
                "variant" if variant or own_base else "other")
            target = None if b is None else (paper001.VARIANT_TARGETS if variant
                                             else paper001.TARGETS)[b]
            rows.append((w, kind, paper, s.metric, describe(s.mode), s.target, s.step_budget,
                         target,
                         None if b is None else paper001.BUDGETS[b]))
        return rows, []

    return _guard("workloads", "Workloads", "Each workload's validation metric, target and step "
                  "budget, and the AlgoPerf workload of paper 001 it stands for (paper: Tables "
                  "2, 3 and 11). A trial trains successfully when its validation metric reaches "
                  "the target within the step budget.", cols, kinds, build)


# ---------------------------------------------------------------------- Table 4


def table4(a: Analysis) -> Table:
    """Points of the broad sample that train each workload, and on one or two others (Table 4)."""
    cols = ["workload", "paper 001 workload", "points trained", "share of sample",
            "also on >= 1 other", "also on >= 2 others", "in 1%-15% band",
            "paper: trained / >= 1 / >= 2 (of 200)"]
    kinds = ["text", "text", "int", "percent", "int", "int", "text", "text"]

    def build() -> tuple[list[tuple[Any, ...]], list[str]]:
        m = a.matrix
        ok = np.isfinite(m.fractions)
        success = {w: {i: bool(ok[i, j]) for i in range(m.shape[0])}
                   for j, w in enumerate(m.names)}
        rows = []
        for w, c in zip(m.names, success_counts(success, m.names), strict=True):
            share = c.successes / m.shape[0]
            paper = paper001.TABLE4.get(w)
            rows.append((w, paper001.paper_name(w), c.successes, share, c.also_one, c.also_two,
                         "yes" if BAND[0] <= share <= BAND[1] else "no",
                         None if paper is None else " / ".join(map(str, paper))))
        notes = [f"{int(ok.any(axis=1).sum())} of {m.shape[0]} points train at least one "
                 "workload."]
        outside = [r[0] for r in rows if r[6] == "no"]
        if outside:
            notes.append("Outside the calibration band (1%-15% of the sample): "
                         + ", ".join(outside) + ".")
        return rows, notes

    return _guard("table4", "Table 4: points that train each workload",
                  f"Of the {a.studies.broad!r} sample, the points that reach each base "
                  "workload's target within its budget, and how many of those also reach the "
                  "target on at least one or two other base workloads. The targets are "
                  "calibrated so that 1%-15% of the sample trains each workload (paper: 2 to 24 "
                  "of 200).", cols, kinds, build)


# ---------------------------------------------------------------------- Tables 5 and 6


def _ranked_rows(a: Analysis, rows: Sequence[Row]) -> dict[str, tuple[int, int, float]]:
    return {r.label: (rank, n, c) for r, rank, n, c in a.ranking(rows)}


def _scores(a: Analysis, rows: Sequence[Row]) -> dict[str, float]:
    complete = [r for r in rows if r.complete(a.base)]
    if not complete:
        return {}
    times = np.array([[r.fractions[w] for w in a.base] for r in complete])
    if not np.isfinite(times).any():
        return {r.label: 0.0 for r in complete}
    return dict(zip([r.label for r in complete], benchmark_score(times).tolist(), strict=True))


def _paper_rank(rows: dict[str, dict[str, float]], tau: float) -> dict[str, tuple[int, int, float]]:
    scored = sorted(((name, sum(math.isfinite(v) for v in vals.values()),
                      cost(list(vals.values()), tau)) for name, vals in rows.items()),
                    key=lambda s: (-s[1], s[2]))
    out: dict[str, tuple[int, int, float]] = {}
    prev = None
    for i, (name, n, c) in enumerate(scored):
        rank = out[prev][0] if prev and (n, c) == out[prev][1:] else i + 1
        out[name] = (rank, n, c)
        prev = name
    return out


def _seeds(row: Row, workloads: Sequence[str]) -> str | None:
    s = sorted({row.seeds[w] for w in workloads if w in row.seeds})
    if not s:
        return None
    return str(s[0]) if len(s) == 1 else f"{s[0]}-{s[-1]}"


def table5(a: Analysis) -> Table:
    """Held-out step fractions of the leave-one-out lists against the baselines (Table 5)."""
    def build() -> tuple[list[tuple[Any, ...]], list[str]]:
        base = list(a.base)
        rows = a.rows
        ranks, scores = _ranked_rows(a, rows), _scores(a, rows)
        out = []
        for r in rows:
            rank = ranks.get(r.label)
            out.append((OURS, r.label, *(r.fractions.get(w) for w in base),
                        _of(r.trained(base), len(base)), None if rank is None else rank[2],
                        scores.get(r.label), None if rank is None else f"{rank[0]} of "
                        f"{len(ranks)}", _seeds(r, base)))
        for b, _why in a.missing_baselines():
            out.append((OURS, b.label, *([None] * len(base)), None, None, None, None, None))
        notes = [f"{b.label}: no result ({why})." for b, why in a.missing_baselines()]
        notes += [n for r in rows for n in r.notes]
        incomplete = [r.label for r in rows if not r.complete(base)]
        if incomplete:
            notes.append("Not ranked (no result on every base workload): "
                         + ", ".join(incomplete) + ".")
        paper_ranks = _paper_rank(paper001.TABLE5, a.tau)
        paper_scores = dict(zip(paper001.TABLE5, benchmark_score(np.array(
            [list(v.values()) for v in paper001.TABLE5.values()])).tolist(), strict=True))
        for name, vals in paper001.TABLE5.items():
            paper_rank, n, c = paper_ranks[name]
            out.append((PAPER, name, *(vals.get(w) for w in base), _of(n, 8), c,
                        paper_scores[name], f"{paper_rank} of {len(paper_ranks)}", "5"))
        return out, notes

    base = list(a.get("base") or ())
    cols, kinds = _fraction_columns(a, base)
    cols += ["targets reached", f"C_{a.tau:g}", "AlgoPerf score", "rank", "seeds"]
    kinds += ["text", "real", "real", "text", "text"]
    return _guard(
        "table5", "Table 5: leave-one-out lists against the baselines (step fractions)",
        f"Step fraction t/T at which each procedure first reaches a base workload's target "
        f"(∞: missed; —: not run). Our first row is, for each workload, the {a.k}-point list "
        f"built without it (greedy, tau = {a.tau:g}). Each cell is the median over seeds of "
        "the best trial's fraction, as AlgoPerf scores a submission. Rows are ranked by "
        f"targets reached, then by the cost C_{a.tau:g} (geometric mean of min(t/T, "
        f"{a.tau:g})); the AlgoPerf score (area under the performance profile, tau in [1, 4]) "
        "is relative to the rows of the same source. " + _bo_note(), cols, kinds, build)


def _bo_note() -> str:
    text = ("The Bayesian-optimization rows use Optuna's GP sampler, maximizing the validation "
            "metric on nadamw-broad with sequential trials, where the paper used Vizier")
    try:  # the study code states how many random points start each run
        from hplists.study.bayesopt import N_STARTUP_TRIALS
    except Exception:  # the report does not need the study code to run
        return text + "."
    return (text + f"; each run starts from {N_STARTUP_TRIALS} random point(s), not Optuna's "
            "default of 10, which would make a 5- or 10-trial run pure random search.")


def table6(a: Analysis) -> Table:
    """Best validation metric of the leave-one-out lists and the baselines (Table 6)."""
    def build() -> tuple[list[tuple[Any, ...]], list[str]]:
        base = list(a.base)
        out = [("spec", "target", *(a.specs[w].target for w in base))]
        for r in a.rows:
            out.append((OURS, r.label, *(r.best.get(w) for w in base)))
        for b, _ in a.missing_baselines():
            out.append((OURS, b.label, *([None] * len(base))))
        for name, vals in paper001.TABLE6.items():
            out.append((PAPER, name, *(vals.get(w) for w in base)))
        notes = [f"{b.label}: no result ({why})." for b, why in a.missing_baselines()]
        return out, notes

    base = list(a.get("base") or ())
    cols = ["source", "row", *(f"{w} ({a.specs[w].metric} "
                               f"{'↓' if a.specs[w].mode == 'min' else '↑'})" for w in base)]
    kinds = ["text", "text", *(["metric"] * len(base))]
    return _guard(
        "table6", "Table 6: best validation metrics",
        "Best validation metric within the budget (↓: lower is better, ↑: higher), median "
        "over seeds of the best trial. For our leave-one-out row, each workload's value "
        "comes from the list built without it.", cols, kinds, build)


# ---------------------------------------------------------------------- Tables 7, 8, 9, 10


def _paper_variant(table: dict[str, float], variant: str) -> float | None:
    b = paper001.base_of(variant)
    return None if b is None else table.get(b)


def table7(a: Analysis) -> Table:
    """The final list's step fractions on the variants (Table 7)."""
    def build() -> tuple[list[tuple[Any, ...]], list[str]]:
        v, row = list(a.variants), a.final_row
        fr = [row.fractions[w] for w in v]
        paper = [_paper_variant(paper001.TABLE7, w) for w in v]
        every = list(paper001.TABLE7.values())  # the paper's counts are over its 8 variants
        out = [(OURS, row.label, *fr, _of(row.trained(v), len(v)), cost(fr, a.tau),
                _seeds(row, v)),
               (PAPER, "Final 5-point list", *paper,
                _of(sum(map(math.isfinite, every)), len(every)), cost(every, a.tau), "5")]
        return out, list(row.notes)

    v = list(a.get("variants") or ())
    cols, kinds = _fraction_columns(a, v)
    return _guard(
        "table7", "Table 7: the final list on the variants (step fractions)",
        "Step fraction t/T at which the final list (built on all base workloads) first "
        "reaches each variant's target, median over seeds of the best trial (∞: missed). "
        "The variants were never used to build the list.",
        [*cols, "targets reached", f"C_{a.tau:g}", "seeds"],
        [*kinds, "text", "real", "text"], build)


def table8(a: Analysis) -> Table:
    """The final list's best validation metrics on the variants (Table 8)."""
    def build() -> tuple[list[tuple[Any, ...]], list[str]]:
        v, row = list(a.variants), a.final_row
        return [("spec", "target", *(a.specs[w].target for w in v)),
                (OURS, row.label, *(row.best.get(w) for w in v)),
                (PAPER, "Final 5-point list", *(_paper_variant(paper001.TABLE8, w)
                                                for w in v))], []

    v = list(a.get("variants") or ())
    cols = ["source", "row", *(f"{w} ({a.specs[w].metric} "
                               f"{'↓' if a.specs[w].mode == 'min' else '↑'})" for w in v)]
    return _guard(
        "table8", "Table 8: the final list's best validation metrics on the variants",
        "Best validation metric of the final list on each variant, median over seeds of the "
        "best trial.", cols, ["text", "text", *(["metric"] * len(v))], build)


def table9(a: Analysis) -> Table:
    """The final list's step fractions on the base workloads (Tables 9 and 14)."""
    def build() -> tuple[list[tuple[Any, ...]], list[str]]:
        base = list(a.base)
        notes: list[str] = []
        row = a.get("final_row")
        if row is not None and row.complete(base):
            fr = [row.fractions[w] for w in base]
            label, seeds = row.label, _seeds(row, base)
            notes += row.notes
        else:
            fr = a.final.fractions.tolist()
            label, seeds = f"Final list (ours, 1 seed of {a.studies.broad!r})", "1"
            why = a.why_missing("final_row") or "it has no trial on some base workload"
            notes.append(f"No rerun of the final list on every base workload ({why}): the "
                         f"fractions are those of the single seed of {a.studies.broad!r} the "
                         "list was built on.")
        out = [(OURS, label, *fr, _of(sum(map(math.isfinite, fr)), len(base)),
                cost(fr, a.tau), seeds)]
        paper = [paper001.TABLE9.get(w) for w in base]
        every = list(paper001.TABLE9.values())
        out.append((PAPER, "Final 5-point list", *paper,
                    _of(sum(map(math.isfinite, every)), len(every)),
                    paper001.table9_cost(a.tau), "5"))
        return out, notes

    base = list(a.get("base") or ())
    cols, kinds = _fraction_columns(a, base)
    return _guard(
        "table9", "Table 9: the final list on the base workloads (step fractions)",
        "The final list was built on these workloads, so this is optimistic; the "
        "leave-one-out row of Table 5 is the fair measure.",
        [*cols, "targets reached", f"C_{a.tau:g}", "seeds"],
        [*kinds, "text", "real", "text"], build)


_HP = ("learning_rate", "beta1", "beta2", "weight_decay", "warmup_fraction", "dropout_rate",
       "label_smoothing")


def table10(a: Analysis) -> Table:
    """The final list's points, in priority order (Table 10)."""
    def build() -> tuple[list[tuple[Any, ...]], list[str]]:
        m, final = a.matrix, a.final
        n = m.shape[1]
        out = []
        for i, (r, c, t) in enumerate(zip(final.indices, final.costs, final.trained,
                                          strict=True), 1):
            p = m.points[r]
            out.append((OURS, i, m.point_ids[r], *(p.get(h) for h in _HP), c, _of(t, n)))
        for i, p in enumerate(paper001.TABLE10, 1):
            out.append((PAPER, i, None, *(p[h] for h in _HP), None, None))
        notes = _shipped_list_note(a)
        return out, notes

    return _guard(
        "table10", "Table 10: the final list's points, in priority order",
        f"The greedy {a.k}-point list built on every base workload (tau = {a.tau:g}). "
        "Prefix cost and trained: C_tau and targets reached on the base workloads by the "
        "first i points. The warmup fraction is of the step budget; the schedule is linear "
        "warmup then cosine decay to zero (optax NAdamW, with bias correction).",
        ["source", "#", "point id", *_HP, f"prefix C_{a.tau:g}", "prefix trained"],
        ["text", "int", "text", *(["hp"] * len(_HP)), "real", "text"], build)


def _shipped_list_note(a: Analysis) -> list[str]:
    from hplists.lists import available_lists, get_list
    from hplists.store.base import point_id

    name = "nadamw-hplists-cpu"
    if name not in available_lists():
        return [f"The list is not shipped yet as {name!r}."]
    shipped = [point_id(p) for p in get_list(name).points]
    ours = [a.matrix.point_ids[i] for i in a.final.indices]
    if shipped == ours:
        return [f"The shipped list {name!r} holds exactly these points, in this order."]
    return [f"The shipped list {name!r} differs from this one: it holds {shipped}."]


# ---------------------------------------------------------------------- Tables 12 and 13


def table12(a: Analysis) -> Table:
    """Held-out workloads trained against the penalty factor tau (Table 12)."""
    def build() -> tuple[list[tuple[Any, ...]], list[str]]:
        s, n = a.sweep, a.matrix.shape[1]
        rows = [(float(t), _of(int(k), n), float(c), paper001.TABLE12.get(round(float(t), 2)))
                for t, k, c in zip(s.taus, s.trained, s.mean_cost, strict=True)]
        return rows, []

    return _guard(
        "table12", "Table 12: the penalty factor tau",
        f"Leave-one-out with greedy {a.k}-point lists built with each penalty factor tau on the "
        f"single seed of {a.studies.broad!r}: held-out workloads trained, and the mean held-out "
        "cost min(t/T, tau). The paper's column counts of 8 workloads.",
        ["tau", "held-out trained", "mean held-out min(t/T, tau)", "paper: trained (of 8)"],
        ["real", "text", "real", "int"], build)


def table13(a: Analysis) -> Table:
    """Greedy lists against exhaustive best sets of 4 points in leave-one-out (Table 13)."""
    def build() -> tuple[list[tuple[Any, ...]], list[str]]:
        n = a.matrix.shape[1]
        rows = []
        for method, loo in a.strategies.items():
            built = float(np.mean([f.built.cost for f in loo.folds]))
            rows.append((f"{method} (4)", _of(loo.num_trained, n), loo.mean_cost, built,
                         paper001.TABLE13[method]))
        return rows, []

    return _guard(
        "table13", "Table 13: greedy lists against exhaustive sets (4 points)",
        f"Leave-one-out on the single seed of {a.studies.broad!r}: for each held-out workload, "
        "the greedy 4-point list and the exhaustive best set of 4 points (lowest C_tau over all "
        "sets) are built on the other workloads. The exhaustive set costs less where it was "
        "built, which says nothing about the held-out workload.",
        ["strategy (size)", "held-out trained", "mean held-out min(t/T, tau)",
         f"mean C_{a.tau:g} on the other workloads", "paper: trained (of 8)"],
        ["text", "text", "real", "real", "int"], build)


# ---------------------------------------------------------------------- Figures' data


def appendix_b(a: Analysis) -> Table:
    """Each leave-one-out list's equivalent random-search budget (Figure 1, Appendix B)."""
    def build() -> tuple[list[tuple[Any, ...]], list[str]]:
        rows = []
        for w, t in a.tuning.items():
            rs5 = float(t.metric_mean.point[min(t.k, t.metric_mean.point.size) - 1])
            paper = None
            if w in paper001.WORKLOADS:
                paper = "≈ 5 (same budget)" if w in ("ctr_dlrm", "translate_transformer") \
                    else ">= 15"
            rows.append((w, a.specs[w].metric, t.list_metric, rs5, t.n_metric,
                         None if t.n_metric is None else t.n_metric >= THREE_X * t.k,
                         t.list_time, t.n_time, paper))
        notes = ["n: the fewest random-search trials (without replacement, from the "
                 f"{a.matrix.shape[0]} sampled points) whose expected best is at least as good "
                 "as the list; — means random search never matches it."]
        missed = [w for w, t in a.tuning.items() if t.list_time >= a.tau]
        if missed:
            notes.append("The list missed the target on " + ", ".join(missed) + ", so any "
                         "random search matches it on time to target (n = 1 there).")
        return rows, notes

    return _guard(
        "appendix_b", "Figure 1 and Appendix B: the lists against random search",
        f"For each held-out workload, the best validation metric of the {a.k}-point list "
        f"built without it, against random search from the {a.studies.broad!r} sample (one "
        "seed, the same runs the list was scored on), and the list's equivalent random-search "
        "budget n on the metric and on time to target (step fraction capped at tau).",
        ["workload", "metric", "list best metric", f"random search ({a.k}) expected best",
         "equivalent budget n (metric)", f"n >= {THREE_X}x list size",
         "list min(t/T, tau)", "equivalent budget n (time)", "paper 001: n (metric)"],
        ["text", "text", "metric", "metric", "int", "text", "real", "int", "text"], build)


def figure2_data(a: Analysis) -> Table:
    """The data of Figure 2: held-out results against list size."""
    def build() -> tuple[list[tuple[Any, ...]], list[str]]:
        s, n = a.sizes, a.matrix.shape[1]
        return [(int(k), _of(int(t), n), float(c)) for k, t, c in
                zip(s.ks, s.trained, s.mean_cost, strict=True)], []

    return _guard(
        "figure2_data", "Figure 2 (data): list size against held-out results",
        "Leave-one-out greedy lists of each size: held-out workloads trained and the mean "
        "held-out cost min(t/T, tau). Paper: every held-out workload is trained from 7 "
        "points on.",
        ["list size", "held-out trained", "mean held-out min(t/T, tau)"],
        ["int", "text", "real"], build)


# ---------------------------------------------------------------------- the closing note


def summary(a: Analysis) -> Table:
    """The closing note: the paper's claims next to what our library shows."""
    cols = ["claim", "paper 001", "hplists", "verdict"]
    kinds = ["text"] * 4

    def verdict(ours: int | None, total: int | None, paper: int, *, fewer_is_better: bool = False
                ) -> str:
        if ours is None or total is None:
            return "no data"
        if total != 8:
            return f"not directly comparable ({_workloads(total)}; the paper has 8)"
        if ours == paper:
            return "agrees"
        better = ours < paper if fewer_is_better else ours > paper
        return f"disagrees: {'better' if better else 'worse'} than the paper"

    def build() -> tuple[list[tuple[Any, ...]], list[str]]:
        claims = {
            "held_out_trained": f"Held-out base workloads trained by a {a.k}-point list",
            "three_x": f"Workloads where the list matches random search with >= {THREE_X}x "
                       "its budget (best validation metric)",
            "rank": "Rank of the leave-one-out lists among the rows of Table 5",
            "final_on_variants": "Variants trained by the final list",
            "all_trained_at_k": "Smallest list size that trains every held-out workload",
        }
        found: dict[str, tuple[str | None, str]] = {}
        notes = []
        loo = a.get("loo")
        if loo is None:
            notes.append(f"Leave-one-out: {a.why_missing('loo')}.")
        else:
            row, n = a.loo_row, len(loo.folds)
            held = row.trained(a.base)
            # The folds are scored on the single seed the lists were built from;
            # the row on the reruns' medians. Both are shown: they can differ.
            found["held_out_trained"] = (f"{held} of {n} (median over seeds: "
                                         f"{_seeds(row, a.base)}); {loo.num_trained} of {n} "
                                         f"on the seed the lists were built from",
                                         verdict(held, n, paper001.CLAIMS["held_out_trained"][0]))
            ranking = a.ranking()
            mine = [r for r in ranking if r[0] is row]
            if mine and len(ranking) > 1:
                rank = mine[0][1]
                ahead = [f"{r.label} ({t} targets, C = {c:.3f})" for r, rk, t, c in ranking
                         if rk < rank]
                text = f"{rank} of {len(ranking)}" + (" (behind " + "; ".join(ahead) + ")"
                                                       if ahead else "")
                # The paper's claim is at equal budget; rows with more trials rank too.
                same = a.ranking([r for r in a.rows if r.budget == row.budget])
                if ahead and len(same) < len(ranking):
                    rk = next(r[1] for r in same if r[0] is row)
                    text += (f"; {rk} of {len(same)} among the rows with the same "
                             f"{row.budget}-trial budget")
                alone = rank == 1 and not any(r[1] == 1 for r in ranking if r[0] is not row)
                found["rank"] = (text, "agrees" if alone else
                                 "disagrees: a baseline does as well or better")
            else:
                found["rank"] = ("no baseline has a result on every base workload", "no data")
        tuning = a.get("tuning")
        if tuning is not None:
            k = sum(1 for t in tuning.values()
                    if t.n_metric is not None and t.n_metric >= THREE_X * t.k)
            found["three_x"] = (f"{k} of {len(tuning)}",
                                verdict(k, len(tuning), paper001.CLAIMS["three_x"][0]))
        variants = a.get("variants")
        if variants is not None:
            k = a.final_row.trained(variants)
            found["final_on_variants"] = (f"{k} of {len(variants)}", verdict(
                k, len(variants), paper001.CLAIMS["final_on_variants"][0]))
        sizes = a.get("sizes")
        if sizes is not None:
            n = a.matrix.shape[1]
            full = np.flatnonzero(sizes.trained == n)
            k_full = int(sizes.ks[full[0]]) if full.size else None
            text = f"from {_points(k_full)} on" if k_full is not None else \
                f"not within {_points(int(sizes.ks[-1]))}"
            if n != 8:
                word = f"not directly comparable ({_workloads(n)}; the paper has 8)"
            elif k_full is None:
                word = "disagrees: worse than the paper"
            else:
                word = verdict(k_full, 8, 7, fewer_is_better=True)
            found["all_trained_at_k"] = (text, word)
        rows = [(claim, paper001.CLAIMS[key][1], *found.get(key, (None, "no data")))
                for key, claim in claims.items()]
        return rows, notes

    return _guard("summary", "Summary: the paper's claims and ours",
                  "The claims of paper 001 about its leave-one-out lists, next to what this "
                  "library's workloads show. A verdict compares counts of the same kind on "
                  "different workloads (the paper's are full-size AlgoPerf workloads).",
                  cols, kinds, build)


# Every table, in the order of the report.
TABLES: tuple[Callable[[Analysis], Table], ...] = (
    summary, workloads, table4, appendix_b, table5, table6, figure2_data, table7, table8,
    table9, table10, table12, table13,
)


def all_tables(a: Analysis) -> list[Table]:
    """Every table of the report, in order."""
    return [f(a) for f in TABLES]
