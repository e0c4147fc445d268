"""The report's figures (analogs of paper 001's Figures 1-5), drawn with matplotlib's Agg backend.

Each function takes an :class:`~hplists.report.analysis.Analysis` and returns
:class:`Figure` objects holding the rendered PNG (and SVG) bytes, so nothing
depends on a display or on pyplot's global state. A figure whose data are
missing carries the reason in :attr:`Figure.missing` and no image.

Example:
    >>> from hplists.report.analysis import Analysis
    >>> from hplists.report.synthetic import synthetic_study
    >>> records, specs = synthetic_study(num_points=30, workloads=3, baselines=False,
    ...                                  reruns=False)
    >>> fig = figure2(Analysis(records, specs, registry=False))
    >>> fig.key, fig.png[:4], fig.missing
    ('figure2', b'\\x89PNG', None)
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from hplists.report.analysis import Analysis, Missing, TuningResult

__all__ = ["Figure", "all_figures", "figure1", "figure2", "figure_profiles", "file_stem"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


_MAX_STEM = 120  # characters of a name kept as it is


def file_stem(name: str) -> str:
    """``name`` as a file stem that stays inside its directory.

    Names made of letters, digits, ``_``, ``-`` and ``.`` (not leading) are
    kept; any other name (a workload named ``x/../..`` from an imported file)
    has every other character replaced by ``_`` and a hash of the name
    appended, so two names never share a file. A long name is cut to 80
    characters and hashed too, so that the file name (with ``.png``) stays
    far below the 255-byte limit of file systems.

    Example:
        >>> file_stem("image_resnet"), file_stem("../../etc/passwd")
        ('image_resnet', '_.._etc_passwd-3754d6cb')
        >>> len(file_stem("w" * 300))
        89
    """
    stem = _UNSAFE.sub("_", name).lstrip(".")
    if stem == name and stem and len(stem) <= _MAX_STEM:
        return stem
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{stem[:80] or 'x'}-{digest}"

_BLUE, _ORANGE, _GREY, _RED = "#1f77b4", "#d62728", "#7f7f7f", "#9467bd"


@dataclasses.dataclass(frozen=True)
class Figure:
    """One rendered figure.

    Attributes:
        key: file stem and anchor (``"figure1_image_resnet"``).
        title: the heading.
        caption: what is drawn.
        png: the PNG image (empty when missing).
        svg: the SVG image (empty unless asked for, or when missing).
        missing: why the figure has no data (``None`` when drawn).
    """

    key: str
    title: str
    caption: str
    png: bytes = b""
    svg: bytes = b""
    missing: str | None = None


def _new(width: float, height: float, ncols: int, right: float = 0.98) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    # a fixed layout: constrained layout would double the drawing time
    fig.subplots_adjust(left=0.08, right=right, bottom=0.15, top=0.86, wspace=0.28)
    return fig, fig.subplots(1, ncols, squeeze=False)[0]


def _render(fig: Any, svg: bool) -> tuple[bytes, bytes]:
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    out = b""
    if svg:
        buf = io.BytesIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
        out = buf.getvalue()
    return png.getvalue(), out


def _guard(key: str, title: str, caption: str, draw: Callable[[], Any], svg: bool) -> Figure:
    try:
        fig = draw()
    except Missing as e:
        return Figure(key, title, caption, missing=str(e))
    png, svg_bytes = _render(fig, svg)
    return Figure(key, title, caption, png, svg_bytes)


def _clip(y: np.ndarray, low: float, high: float) -> np.ndarray:
    return np.clip(np.where(np.isnan(y), high, y), low, high)


def _limits(values: list[np.ndarray]) -> tuple[float, float]:
    finite = np.concatenate([v[np.isfinite(v)] for v in values])
    low, high = float(finite.min()), float(finite.max())
    pad = 0.08 * (high - low or abs(high) or 1.0)
    return low - pad, high + pad


def _figure1_one(a: Analysis, t: TuningResult) -> Any:
    spec = a.specs[t.workload]
    fig, (left, right) = _new(9.0, 3.3, 2)
    ns = t.metric.ns
    low, high = _limits([t.metric.point, t.metric_mean.point, np.array([t.list_metric])])
    assert t.metric.lower is not None and t.metric.upper is not None  # made with a confidence
    band_lo, band_hi = _clip(t.metric.lower, low, high), _clip(t.metric.upper, low, high)
    left.fill_between(ns, band_lo, band_hi, color=_BLUE, alpha=0.2, linewidth=0,
                      label=f"{t.metric.confidence:.0%} band (opda, {a.bands})")
    left.plot(ns, t.metric.point, color=_BLUE, label="random search: median best of n")
    left.plot(ns, t.metric_mean.point, color=_BLUE, linestyle=":",
              label="random search: expected best of n")
    left.axhline(t.list_metric, color=_ORANGE, label=f"{t.k}-point list built without it")
    if t.n_metric is not None and t.n_metric <= ns[-1]:
        left.axvline(t.n_metric, color=_ORANGE, linestyle="--", linewidth=1,
                     label=f"equivalent budget n = {t.n_metric}")
    left.axvline(t.k, color=_GREY, linestyle=":", linewidth=1)
    left.set_ylim(low, high)
    left.set_xlabel("random-search trials n")
    left.set_ylabel(f"best {spec.metric} ({'lower' if spec.mode == 'min' else 'higher'} "
                    "is better)")
    left.set_title("validation metric", fontsize=10)
    left.legend(fontsize=7, loc="best")
    right.plot(ns, t.time.point, color=_BLUE, label="random search: expected best of n")
    right.axhline(t.list_time, color=_ORANGE, label=f"{t.k}-point list")
    if t.n_time is not None and t.n_time <= ns[-1] and t.list_time < a.tau:
        right.axvline(t.n_time, color=_ORANGE, linestyle="--", linewidth=1,
                      label=f"equivalent budget n = {t.n_time}")
    right.axvline(t.k, color=_GREY, linestyle=":", linewidth=1)
    right.set_ylim(0, a.tau * 1.05)
    right.set_xlabel("random-search trials n")
    right.set_ylabel(f"min(t/T, {a.tau:g})  (lower is better)")
    right.set_title("time to target", fontsize=10)
    right.legend(fontsize=7, loc="best")
    fig.suptitle(f"{t.workload} held out", fontsize=11)
    return fig


def figure1(a: Analysis, *, svg: bool = False) -> list[Figure]:
    """Random-search tuning curves against each leave-one-out list (Figure 1, Appendix B)."""
    caption = (f"Random search from the {a.studies.broad!r} sample against the {a.k}-point "
               "list built without this workload. Left: best validation metric after n trials "
               f"(median with a {a.confidence:.0%} simultaneous confidence band from opda, "
               "and the exact expected best); right: expected best step fraction to the "
               f"target, capped at tau = {a.tau:g}. The dashed line marks the list's "
               "equivalent random-search budget; the dotted one the list's own size.")
    try:
        tuning = a.tuning
    except Missing as e:
        return [Figure("figure1", "Figure 1: lists against random search", caption,
                       missing=str(e))]
    out = []
    for w, t in tuning.items():
        png, svg_bytes = _render(_figure1_one(a, t), svg)
        out.append(Figure(f"figure1_{file_stem(w)}", f"Figure 1: {w}", caption, png, svg_bytes))
    return out


def figure2(a: Analysis, *, svg: bool = False) -> Figure:
    """List size against held-out workloads trained and mean held-out cost (Figure 2)."""
    def draw() -> Any:
        s, n = a.sizes, a.matrix.shape[1]
        fig, (left, right) = _new(9.0, 3.2, 2)
        left.plot(s.ks, s.trained, marker="o", color=_BLUE, label="hplists")
        if n == 8:
            left.plot([5, 7], [7, 8], linestyle="none", marker="s", color=_ORANGE,
                      label="paper 001 (Table 5, Sec. 4.2.1)")
        left.set_ylim(0, n + 0.5)
        left.set_xlabel("list size")
        left.set_ylabel(f"held-out workloads trained (of {n})")
        left.set_xticks(s.ks)
        left.legend(fontsize=8, loc="lower right")
        right.plot(s.ks, s.mean_cost, marker="o", color=_BLUE)
        right.set_ylim(0, a.tau * 1.05)
        right.set_xlabel("list size")
        right.set_ylabel(f"mean held-out min(t/T, {a.tau:g})")
        right.set_xticks(s.ks)
        return fig

    return _guard("figure2", "Figure 2: list size",
                  "Leave-one-out greedy lists of each size. Left: held-out workloads trained; "
                  "right: mean held-out cost (lower is better).", draw, svg)


def figure_profiles(a: Analysis, *, svg: bool = False) -> Figure:
    """Performance profiles of the rows of Table 5 (AlgoPerf's comparison)."""
    def draw() -> Any:
        rows = [r for r in a.rows if r.complete(a.base)]
        if len(rows) < 2:
            raise Missing("fewer than two rows of Table 5 have a result on every base "
                          "workload")
        times = np.array([[r.fractions[w] for w in a.base] for r in rows])
        if not np.isfinite(times).any():
            raise Missing("no row of Table 5 reaches any target")
        return draw_profiles([r.label for r in rows], times)

    return _guard("profiles", "Performance profiles of Table 5's rows",
                  "AlgoPerf's performance profiles (Dolan and Moré, 2002) of the rows of Table "
                  "5: the fraction of base workloads on which a row reaches the target within "
                  "tau times the fastest row's time. The score is the normalized area under "
                  "the profile on [1, 4].", draw, svg)


def draw_profiles(labels: list[str], times: np.ndarray, scores: Any = None) -> Any:
    """A matplotlib figure of AlgoPerf's performance profiles of ``times`` (rows: labels).

    ``scores`` (default: each row's benchmark score among these rows) go into the legend.
    """
    from hplists.scoring.profiles import performance_profiles

    prof = performance_profiles(times)
    scores = prof.scores if scores is None else scores
    fig, (ax,) = _new(9.0, 3.6, 1, right=0.58)
    for i, (label, score) in enumerate(zip(labels, scores, strict=True)):
        ax.step(prof.taus, prof.rho[i], where="post", linewidth=2 if i == 0 else 1.2,
                label=f"{label} (score {score:.3f})")
    ax.set_xlabel("tau (time / best time)")
    ax.set_ylabel("fraction of base workloads")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


def profiles_figure(key: str, title: str, caption: str, labels: list[str], times: np.ndarray,
                    *, scores: Any = None, svg: bool = False) -> Figure:
    """:func:`draw_profiles` as a report :class:`Figure` (missing when nothing reaches a target)."""
    def draw() -> Any:
        if len(labels) < 1 or not np.isfinite(times).any():
            raise Missing("no row reaches any target")
        return draw_profiles(labels, times, scores)

    return _guard(key, title, caption, draw, svg)


def all_figures(a: Analysis, *, svg: bool = False) -> list[Figure]:
    """Every figure of the report, in order."""
    return [*figure1(a, svg=svg), figure2(a, svg=svg), figure_profiles(a, svg=svg)]
