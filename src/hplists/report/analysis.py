"""Everything the report shows, computed once from the trial stores with the scoring core.

:class:`Analysis` reads the trials of one or more stores, scores them against
each workload's spec and runs the method of paper 001 on them: the
leave-one-out lists, the final list, list-size curves, tau sweeps, greedy
against exhaustive, random-search tuning curves, and the rows of Tables 5 and
6. Each part is computed on first use, so a table whose data are missing
does not stop the others; :meth:`Analysis.why_missing` says what is missing
in plain words.

Scoring rules (the same as ``hplists loo`` and ``hplists score``):

* lists are built on the ``broad`` study's matrix of step fractions (one
  seed), with the greedy procedure (paper 001, Algorithm 1), ``K = 5``, ``tau = 2``;
* a study's time on a workload is, as AlgoPerf scores submissions, the median
  over seeds of its best trial's step fraction
  (:func:`hplists.scoring.matrix.submission_times`); its best validation metric
  is likewise the median over seeds of the best trial's best value;
* a trial that ended in error counts as a miss, and points that lack a trial
  on some workload are left out of the matrix; both are counted in
  :attr:`Analysis.notes`.

Every table needs of a trial only its time to target and its best value, so
:meth:`Analysis.from_stores` (what :func:`~hplists.report.write_report` uses)
reads no curve: each store reduces its trials in its own query
(:meth:`~hplists.store.TrialStore.metric_columns`), and the trials are kept
as columns (:class:`~hplists.store.columns.MetricColumns`), scored and
aggregated with array operations. Memory grows with the trials, not with
their evaluations.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from hplists.curves import Status
from hplists.exceptions import DataError, HplistsError, InvalidParameterError
from hplists.lists.constructed import ConstructedList
from hplists.lists.greedy import greedy_list
from hplists.lists.loo import LeaveOneOut, ListSizeCurve, TauSweep, leave_one_out
from hplists.lists.loo import list_size_curve as _list_size_curve
from hplists.lists.loo import tau_sweep as _tau_sweep
from hplists.report import paper001
from hplists.report.studies import DEFAULT_STUDIES, Baseline, StudyNames
from hplists.scoring.cost import DEFAULT_TAU, cost
from hplists.scoring.matrix import ColumnScores, TrialMatrix, score_columns, submissions_of
from hplists.scoring.tuning_curve import TuningCurve, workload_tuning_curve
from hplists.scoring.workload_specs import WorkloadSpec
from hplists.store.base import summarize
from hplists.store.columns import STATUS_CODE, MetricColumns

__all__ = ["PAPER_TAUS", "Analysis", "Missing", "Row", "TuningResult", "load_columns",
           "load_records"]

# Table 12's penalty factors.
PAPER_TAUS = (1.0, 1.11, 1.22, 1.33, 1.44, 1.55, 1.66, 1.77, 1.88, 2.0)


class Missing(Exception):
    """Raised inside :class:`Analysis` when the data for a part are not in the stores."""


@dataclasses.dataclass(frozen=True)
class Row:
    """One tuning procedure's results on a set of workloads (a row of Tables 5-9).

    Attributes:
        label: the row's label.
        study: the study (or, for per-fold studies, the name pattern) read.
        fractions: workload -> median over seeds of the best step fraction.
        best: workload -> median over seeds of the best validation metric.
        seeds: workload -> number of seeds (workloads that were not run are absent).
        paper_row: the matching row of the paper's tables, if any.
        notes: what a reader should know about this row (fallbacks, mismatches).
        budget: trials per workload and seed (``None`` if unknown).
    """

    label: str
    study: str
    fractions: dict[str, float]
    best: dict[str, float]
    seeds: dict[str, int]
    paper_row: str | None = None
    notes: tuple[str, ...] = ()
    budget: int | None = None

    def complete(self, workloads: Sequence[str]) -> bool:
        """Whether the row has a result on every one of ``workloads``."""
        return all(w in self.fractions for w in workloads)

    def trained(self, workloads: Sequence[str]) -> int:
        """Number of ``workloads`` whose target the row reached."""
        return sum(math.isfinite(self.fractions.get(w, math.inf)) for w in workloads)


@dataclasses.dataclass(frozen=True)
class TuningResult:
    """Random search against the leave-one-out list on one held-out workload (Figure 1).

    Attributes:
        workload: the held-out workload.
        metric: tuning curve of the best validation metric (median, with bands).
        metric_mean: expected best validation metric (exact, without replacement).
        list_metric: the list's best validation metric (same seed as the sample).
        n_metric: the list's equivalent random-search budget on the metric.
        time: expected best step fraction capped at tau.
        list_time: the list's step fraction capped at tau.
        n_time: the list's equivalent random-search budget on time to target.
        k: the list's length.
    """

    workload: str
    metric: TuningCurve
    metric_mean: TuningCurve
    list_metric: float
    n_metric: int | None
    time: TuningCurve
    list_time: float
    n_time: int | None
    k: int


def _part(method: Callable[[Any], Any]) -> Any:
    """A lazily computed part of the analysis whose result, or reason for missing, is cached.

    A :class:`Missing`, or an :class:`~hplists.exceptions.HplistsError` from
    the scoring core saying the data cannot be scored (e.g. a trial evaluated
    beyond its workload's budget), makes the part missing, with the error as
    the reason, so one inconsistent study does not stop the rest of the
    report. Any other exception (a bug) propagates with its traceback.
    """
    name = method.__name__

    def get(self: Any) -> Any:
        cache = self.__dict__.setdefault("_parts", {})
        if name not in cache:
            try:
                cache[name] = method(self)
            except Missing as e:
                cache[name] = e
            except HplistsError as e:
                cache[name] = Missing(f"cannot be computed: {e}")
        found = cache[name]
        if isinstance(found, Missing):
            raise found
        return found

    get.__doc__ = method.__doc__
    return property(get)


_RUNNING = STATUS_CODE[Status.RUNNING]
_ERROR = STATUS_CODE[Status.ERROR]


def _median(values: Sequence[float] | np.ndarray) -> float:
    return float(np.median(np.asarray(values, dtype=np.float64)))


def _open(path: str | os.PathLike[str]) -> Any:
    """The existing store at ``path``, or the report's error when there is none."""
    from hplists.store import open_store, store_exists
    from hplists.store.registry import mask_url

    if not store_exists(path):  # a URL's password is never shown
        raise DataError(f"trial store {mask_url(os.fspath(path))!r} does not exist")
    return open_store(path, create=False)


def load_columns(paths: Sequence[str | os.PathLike[str]], specs: Mapping[str, WorkloadSpec]
                 ) -> tuple[MetricColumns, list[dict[str, Any]], int]:
    """:func:`load_records` without the curves: ``(columns, sources, duplicates)``.

    Each store reduces its trials against the spec of their workload
    (:meth:`~hplists.store.TrialStore.metric_columns`: time to target, best
    value; trials of a workload without a spec are read without a metric),
    so no curve is read and memory grows with the trials, not with their
    evaluations. The rows are those :func:`load_records` gives, in its order,
    and duplicates are resolved as it does.
    """
    from hplists.store.registry import mask_url

    if not paths:
        raise InvalidParameterError("stores must name at least one trial store file")
    parts, sources = [], []
    for path in paths:
        store = _open(path)
        try:
            part = MetricColumns.concat([
                store.metric_columns(study, w, specs[w].metric, specs[w].mode, specs[w].target)
                if w in specs else store.metric_columns(study, w, None)
                for study in store.studies() for w in store.workloads(study)])
        finally:
            store.close()
        sources.append({"path": mask_url(os.fspath(path)), "trials": len(part),
                        "studies": sorted(part.studies)})
        parts.append(part)
    columns = MetricColumns.concat(parts)
    del parts
    rows = _first_of_each_trial(columns)
    if rows.size == len(columns) and (rows == np.arange(rows.size)).all():
        return columns, sources, 0  # no trial in two stores: the rows as they are
    return columns.take(rows), sources, len(columns) - rows.size


def _first_of_each_trial(c: MetricColumns) -> np.ndarray:
    """Rows that keep each (study, point, workload, seed) once, as :func:`load_records` does.

    In the order each trial first appears; of its rows, the first finished one,
    else the first.
    """
    n = len(c)
    if not n:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((np.arange(n), c.seed, c.workload, c.point, c.study))
    key = (c.study[order], c.point[order], c.workload[order], c.seed[order])
    new = np.ones(n, dtype=bool)
    new[1:] = np.any([k[1:] != k[:-1] for k in key], axis=0)
    starts = np.flatnonzero(new)
    first = order[starts]
    finished = np.where(c.status[order] == _RUNNING, n, order)
    first_finished = np.minimum.reduceat(finished, starts)
    chosen = np.where(first_finished < n, first_finished, first)
    return chosen[np.argsort(first, kind="stable")]


def load_records(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[Any], list[dict[str, Any]], int]:
    """The trials of every store, without duplicates: ``(records, sources, duplicates)``.

    ``paths`` are paths or URLs (:func:`hplists.store.open_store`). Every curve
    is read; the report reads none (:func:`load_columns`).

    A trial (study, point, workload, seed) found in several stores is kept
    once: a finished one wins over a running one, else the first store's.
    """
    from hplists.store.registry import mask_url

    if not paths:
        raise InvalidParameterError("stores must name at least one trial store file")
    chosen: dict[tuple[str, str, str, int], Any] = {}
    sources = []
    duplicates = 0
    for path in paths:
        where = mask_url(os.fspath(path))  # a URL's password is never shown
        store = _open(path)
        try:
            records = store.trials()
        finally:
            store.close()
        sources.append({"path": where, "trials": len(records),
                        "studies": sorted({r.study for r in records})})
        for r in records:
            key = (r.study, r.point_id, r.workload, int(r.seed))
            old = chosen.get(key)
            if old is None:
                chosen[key] = r
                continue
            duplicates += 1
            if old.status is Status.RUNNING and r.status is not Status.RUNNING:
                chosen[key] = r
    return list(chosen.values()), sources, duplicates


class Analysis:
    """The report's data: trials, specs and every derived result (computed lazily).

    Args:
        records: trial records with their curves (e.g. :func:`load_records`), or
            the trials already reduced against ``specs`` (:func:`load_columns`;
            what :meth:`from_stores` gives, reading no curve).
        specs: workload name -> spec; workloads not covered are looked up in
            the workload registry if ``registry``.
        studies: which study holds what (:class:`~hplists.report.studies.StudyNames`).
        k: list length (paper: 5).
        tau: penalty factor of the cost (paper: 2).
        max_k: largest list size of Figure 2 (paper: 10).
        taus: penalty factors of Table 12.
        bands: opda's band construction for Figure 1 (``"dkw"``: analytic and
            instant; ``"ld_equal_tailed"``: tighter, ~15 s per workload).
        confidence: coverage of the tuning-curve bands (paper: 0.7).
        sources: where the records came from (shown in the report).

    Example:
        >>> import numpy as np
        >>> from hplists.report.synthetic import synthetic_study
        >>> records, specs = synthetic_study(num_points=30, workloads=3, baselines=False,
        ...                                  reruns=False)
        >>> a = Analysis(records, specs, registry=False)
        >>> a.base, a.matrix.shape
        (('ctr_dlrm', 'mri_unet', 'image_resnet'), (30, 3))
        >>> len(a.loo.folds), a.why_missing("variants")
        (3, "neither study 'broad200/reruns' nor study 'broad200/variants' holds a rerun of the final list")
    """

    def __init__(
        self,
        records: Sequence[Any] | MetricColumns,
        specs: Mapping[str, WorkloadSpec] | None = None,
        *,
        studies: StudyNames = DEFAULT_STUDIES,
        registry: bool = True,
        k: int = 5,
        tau: float = DEFAULT_TAU,
        max_k: int = 10,
        taus: Sequence[float] = PAPER_TAUS,
        bands: str = "dkw",
        confidence: float = 0.7,
        sources: Sequence[Mapping[str, Any]] = (),
        duplicates: int = 0,
    ) -> None:
        from hplists._check import check_choice, check_int, check_real
        from hplists.scoring.tuning_curve import BAND_METHODS

        self.k = check_int("k", k, low=1)
        self.tau = check_real("tau", tau, low=1.0)
        self.max_k = check_int("max_k", max_k, low=1)
        self.taus = tuple(check_real("taus", t, low=1.0) for t in taus)
        self.bands = check_choice("bands", bands, BAND_METHODS)
        self.confidence = check_real("confidence", confidence, 0.0, 1.0, low_open=True,
                                     high_open=True)
        if not isinstance(studies, StudyNames):
            raise InvalidParameterError(f"studies must be a StudyNames, got {type(studies).__name__}")
        self.studies = studies
        self.sources = [dict(s) for s in sources]
        self.notes: list[str] = []
        if duplicates:
            self.notes.append(f"{duplicates} trial(s) appear in more than one store; each is "
                              "counted once.")
        given: list[Any] = []
        if isinstance(records, MetricColumns):
            names = sorted(records.workloads[w] for w in np.unique(records.workload).tolist())
        else:
            given = list(records)
            names = sorted({r.workload for r in given})
        self.specs, spec_notes = _resolve_specs(names, specs or {}, registry)
        self.notes += spec_notes
        # records are reduced here, each curve once, as a store's query reduces them
        columns = records if isinstance(records, MetricColumns) else \
            MetricColumns.from_summaries(
                summarize(r, *_reduction(self.specs.get(r.workload))) for r in given)
        self.trials = columns
        self.scores: ColumnScores = score_columns(columns, self.specs, errors="inf")
        order = np.argsort(columns.study, kind="stable")
        bounds = np.flatnonzero(np.diff(columns.study[order])) + 1
        self._rows = {columns.studies[int(columns.study[g[0]])]: np.sort(g)
                      for g in np.split(order, bounds) if g.size}
        self._baselines: dict[Baseline, Row | Missing] = {}
        n_error = int(np.count_nonzero(columns.status == _ERROR))
        n_running = int(np.count_nonzero(columns.status == _RUNNING))
        if n_error:
            self.notes.append(f"{n_error} trial(s) ended in error; they count as misses.")
        if n_running:
            self.notes.append(f"{n_running} trial(s) were still running; they are left out.")

    @classmethod
    def from_stores(cls, stores: Sequence[str | os.PathLike[str]],
                    specs: Mapping[str, WorkloadSpec] | None = None, *, registry: bool = True,
                    **kwargs: Any) -> Analysis:
        """The analysis of the trials of ``stores`` (paths or URLs), reading no curve.

        Each store reduces its trials to their time to target and best value
        (:func:`load_columns`); the tables and figures are those of
        ``Analysis(load_records(stores)[0], ...)``. ``kwargs`` go to the constructor.
        """
        if not stores:
            raise InvalidParameterError("stores must name at least one trial store file")
        names: set[str] = set()
        for path in stores:
            store = _open(path)
            try:
                names.update(store.workloads())
            finally:
                store.close()
        resolved, _ = _resolve_specs(sorted(names), specs or {}, registry)
        columns, sources, duplicates = load_columns(list(stores), resolved)
        return cls(columns, resolved, registry=registry, sources=sources, duplicates=duplicates,
                   **kwargs)

    @property
    def by_study(self) -> dict[str, list[Any]]:
        """Study -> its trials as records without curves (made on each call)."""
        records = self.trials.records()
        return {study: [records[i] for i in rows.tolist()] for study, rows in self._rows.items()}

    # ------------------------------------------------------------------ helpers

    def why_missing(self, part: str) -> str | None:
        """Why ``part`` (an attribute name) has no data, or ``None`` if it has."""
        try:
            getattr(self, part)
        except Missing as e:
            return str(e)
        return None

    def get(self, part: str) -> Any:
        """The attribute ``part``, or ``None`` when its data are missing."""
        try:
            return getattr(self, part)
        except Missing:
            return None

    def _study(self, name: str) -> np.ndarray:
        """The rows of study ``name`` (in load order); a :class:`Missing` if it has none."""
        if name not in self._rows:
            raise Missing(f"study {name!r} is not in the store(s)")
        return self._rows[name]

    def _workloads(self, rows: np.ndarray) -> set[str]:
        """The workloads that ``rows`` are on."""
        c = self.trials
        return {c.workloads[w] for w in np.unique(c.workload[rows]).tolist()}

    def _on(self, rows: np.ndarray, workloads: Iterable[str]) -> np.ndarray:
        """The rows of ``rows`` on ``workloads``, in order."""
        return rows[np.isin(self.trials.workload[rows], self.trials.codes("workloads",
                                                                          workloads))]

    def ordered(self, workloads: Iterable[str]) -> list[str]:
        """Workloads in the paper's column order (unknown names last, sorted)."""
        order = list(paper001.WORKLOADS)

        def key(w: str) -> tuple[int, int, str]:
            base = w if w in order else paper001.base_of(w)
            return (order.index(base) if base in order else len(order), w != base, w)

        return sorted(workloads, key=key)

    # ------------------------------------------------------------------ the sample

    @_part
    def base(self) -> tuple[str, ...]:
        """The base workloads: those of the ``broad`` study that have a spec."""
        present = self._workloads(self._study(self.studies.broad))
        # a variant run into the sample by mistake would pass for a base workload
        variants = {w for w in present if paper001.base_of(w, dict.fromkeys(present))}
        if variants:
            self.notes.append(f"study {self.studies.broad!r} has trials on variant(s) "
                              f"{sorted(variants)}; they are not used as base workloads.")
        usable = [w for w in present if w in self.specs and w not in variants]
        if not usable:
            raise Missing(f"no workload of study {self.studies.broad!r} has a spec "
                          f"(its workloads are {sorted(present)}; see the data notes)")
        return tuple(self.ordered(usable))

    @_part
    def matrix(self) -> TrialMatrix:
        """Step fractions of the ``broad`` sample on the base workloads."""
        rows = self._on(self._study(self.studies.broad), self.base)
        # The study's own rule (StudyWorkflow.lists): a point missing a finished trial on a
        # base workload means the broad stage is not finished, so no list is computed from a
        # subset that the exported list would not come from. Errors count as misses, as the
        # study's `--errors inf`.
        try:
            return TrialMatrix.from_scores(self.scores, study=self.studies.broad,
                                           workloads=list(self.base), rows=rows)
        except DataError as e:
            raise Missing(f"the broad study is not finished ({e}); run `hplists study "
                          "--stage broad`") from None

    @_part
    def loo(self) -> LeaveOneOut:
        """The leave-one-out lists of ``k`` points (paper 001, Sec. 3.1)."""
        self._need_lists(self.k)
        return leave_one_out(self.matrix, self.k, self.tau)

    @_part
    def final(self) -> ConstructedList:
        """The final list: greedy, ``k`` points, on every base workload."""
        self._need_lists(self.k, folds=False)
        return greedy_list(self.matrix, self.k, self.tau)

    @_part
    def sizes(self) -> ListSizeCurve:
        """Held-out results for list sizes ``1..max_k`` (Figure 2)."""
        self._need_lists(1)
        return _list_size_curve(self.matrix, min(self.max_k, self.matrix.shape[0]), self.tau)

    @_part
    def sweep(self) -> TauSweep:
        """Held-out results against the penalty factor (Table 12)."""
        self._need_lists(self.k)
        return _tau_sweep(self.matrix, self.taus, self.k)

    @_part
    def strategies(self) -> dict[str, LeaveOneOut]:
        """Greedy lists and exhaustive sets of 4 points in leave-one-out (Table 13)."""
        self._need_lists(4)
        return {m: leave_one_out(self.matrix, 4, self.tau, method=m)
                for m in ("greedy", "exhaustive")}

    def _need_lists(self, k: int, *, folds: bool = True) -> None:
        m = self.matrix
        if folds and m.shape[1] < 2:
            raise Missing(f"leave-one-out needs at least 2 base workloads; study "
                          f"{self.studies.broad!r} has {list(m.names)}")
        if m.shape[0] < k:
            raise Missing(f"lists of {k} points need at least {k} points; study "
                          f"{self.studies.broad!r} has {m.shape[0]} complete ones")

    @_part
    def tuning(self) -> dict[str, TuningResult]:
        """Random-search tuning curves against each leave-one-out list (Figure 1, App. B)."""
        out = {}
        m = self.matrix
        ns = np.arange(1, min(m.shape[0], 50) + 1)
        for fold in self.loo.folds:
            w, idx = fold.name, list(fold.built.indices)
            band, value, n_metric = workload_tuning_curve(
                m, w, quantity="metric", indices=idx, ns=ns, statistic="median",
                confidence=self.confidence, band_method=self.bands)
            mean, _, _ = workload_tuning_curve(m, w, quantity="metric", ns=ns,
                                               confidence=None)
            time, t_value, n_time = workload_tuning_curve(
                m, w, quantity="time", tau=self.tau, indices=idx, ns=ns, confidence=None)
            assert value is not None and t_value is not None  # given indices, both are set
            out[w] = TuningResult(w, band, mean, float(value), n_metric, time, float(t_value),
                                  n_time, len(idx))
        return out

    # ------------------------------------------------------------------ rows of Tables 5-9

    def _row(self, label: str, study: str, rows: np.ndarray, workloads: Sequence[str],
             paper_row: str | None = None, notes: Sequence[str] = (),
             budget: int | None = None) -> Row:
        """The row of the trials ``rows`` (in order) on those of ``workloads`` they are on.

        As :func:`~hplists.scoring.matrix.submission_times` of those trials: per
        workload, the best over their studies of each study's median over seeds
        of its best trial; and the median over seeds of the best metric.
        """
        c = self.trials
        present = self._workloads(rows)
        workloads = [w for w in workloads if w in present]
        fractions: dict[str, float] = {}
        best: dict[str, float] = {}
        seeds: dict[str, int] = {}
        if workloads:
            studies = sorted(c.studies[s] for s in np.unique(c.study[rows]).tolist())
            subs = submissions_of(self.scores, studies, workloads, rows=rows)
            for j, w in enumerate(subs.workloads):
                if subs.seeds[:, j].max() > 0:
                    fractions[w] = float(subs.times[:, j].min())
                    seeds[w] = int(subs.seeds[:, j].max())
            best = self._best_metrics(rows, list(fractions))
        return Row(label, study, fractions, best, seeds, paper_row, tuple(notes), budget)

    def _best_metrics(self, rows: np.ndarray, workloads: Sequence[str]) -> dict[str, float]:
        """Median over seeds of the best trial's best metric, per workload (any study)."""
        c, out = self.trials, {}
        done = rows[~self.scores.running[rows]]
        for w in workloads:
            mine = self._on(done, [w])
            seeds, group = np.unique(c.seed[mine], return_inverse=True)
            if not seeds.size:
                continue
            best = np.full(seeds.size, np.nan)
            values = self.scores.best[mine]
            if self.specs[w].mode == "min":
                best[:] = np.inf
                np.minimum.at(best, group, values)
            else:
                best[:] = -np.inf
                np.maximum.at(best, group, values)
            out[w] = _median(best)
        return out

    def _rerun(self, workload: str, rows: Sequence[int], what: str
               ) -> tuple[np.ndarray, list[str]]:
        """Trials of the ``reruns`` study on ``workload`` of the points ``rows`` of the matrix."""
        want = {self.matrix.point_ids[i] for i in rows}
        study = self.studies.reruns_study
        c = self.trials
        mine = self._on(self._rows.get(study, np.zeros(0, dtype=np.int64)), [workload])
        mine = mine[np.isin(c.point[mine], c.codes("point_ids", want))]
        notes = []
        got = {c.point_ids[p] for p in np.unique(c.point[mine]).tolist()}
        if mine.size and got != want:
            notes.append(f"the rerun of {what} on {workload} (study {study!r}) lacks "
                         f"{len(want - got)} of its {len(want)} points; its best is over the "
                         "points that were rerun.")
        return mine, notes

    @_part
    def loo_row(self) -> Row:
        """The leave-one-out lists on their held-out workloads (first row of Tables 5, 6).

        From the ``reruns`` study (the points of the list built without each
        workload, on that workload) where present; else from the single seed
        of the ``broad`` sample, with a note saying so.
        """
        parts, notes, fallback = [], [], []
        for fold in self.loo.folds:
            mine, more = self._rerun(fold.name, fold.built.indices,
                                     f"the list built without {fold.name}")
            notes += more
            if mine.size:
                parts.append(mine)
            else:
                fallback.append(fold.name)
        row = self._row("Leave-one-out lists (ours)", self.studies.reruns_study, _joined(parts),
                        self.base, "Leave-one-out lists", budget=self.k)
        fractions, best, seeds = dict(row.fractions), dict(row.best), dict(row.seeds)
        for w in fallback:
            fold = self.loo.folds[self.matrix.column(w)]
            fractions[w], best[w], seeds[w] = fold.fraction, float(fold.best_metric), 1
        if fallback:
            notes.append("no rerun in study " f"{self.studies.reruns_study!r} on "
                         + ", ".join(fallback) + ": those cells are the single seed of study "
                         f"{self.studies.broad!r} the lists were built on.")
        return dataclasses.replace(row, fractions=fractions, best=best, seeds=seeds,
                                   notes=tuple(notes))

    @_part
    def final_row(self) -> Row:
        """The final list's reruns: on the base workloads (``reruns``) and the variants.

        A :class:`Missing` when neither study holds any of it.
        """
        parts, notes = [], []
        final = self.get("final")
        if final is not None:
            for w in self.base:
                mine, more = self._rerun(w, final.indices, "the final list")
                parts.append(mine)
                notes += more
        variants = self.studies.variants_study
        c = self.trials
        on_variants = self._rows.get(variants, np.zeros(0, dtype=np.int64))
        on_variants = self._on(on_variants, [w for w in self._workloads(on_variants)
                                             if w in self.specs and w not in self.base])
        if on_variants.size and final is not None:
            want = {self.matrix.point_ids[i] for i in final.indices}
            got = {c.point_ids[p] for p in np.unique(c.point[on_variants]).tolist()}
            if got != want:
                notes.append(f"study {variants!r} holds {len(got)} point(s) of which "
                             f"{len(got & want)} are in the final list built from study "
                             f"{self.studies.broad!r} ({len(want)} points).")
        rows = _joined([*parts, on_variants])
        if not rows.size:
            raise Missing(f"neither study {self.studies.reruns_study!r} nor study "
                          f"{variants!r} holds a rerun of the final list")
        workloads = self.ordered(self._workloads(rows))
        return self._row("Final list (ours)", f"{self.studies.reruns_study}, {variants}",
                         rows, workloads, notes=notes)

    @_part
    def variants(self) -> tuple[str, ...]:
        """Workloads on which the final list was rerun that are not base workloads."""
        base = set(self.get("base") or ())
        found = [w for w in self.final_row.fractions if w not in base]
        if not found:
            raise Missing(f"study {self.studies.variants_study!r} has no trials on a variant "
                          "workload with a spec")
        return tuple(self.ordered(found))

    def baseline_row(self, baseline: Baseline) -> Row:
        """The row of one baseline on the base workloads (a :class:`Missing` if not run)."""
        if baseline not in self._baselines:
            try:
                self._baselines[baseline] = self._baseline_row(baseline)
            except Missing as e:
                self._baselines[baseline] = e
            except HplistsError as e:
                self._baselines[baseline] = Missing(f"cannot be computed: {e}")
        found = self._baselines[baseline]
        if isinstance(found, Missing):
            raise found
        return found

    def _baseline_row(self, baseline: Baseline) -> Row:
        rows = self._on(self._study(baseline.study), self.base)
        if not rows.size:
            raise Missing(f"study {baseline.study!r} has no trials on the base workloads")
        return self._row(baseline.label, baseline.study, rows, self.base, baseline.paper_row,
                         budget=baseline.budget)

    @_part
    def rows(self) -> list[Row]:
        """Rows of Tables 5 and 6: the leave-one-out lists, then each baseline that was run."""
        out = [self.loo_row]
        for b in self.studies.baselines:
            try:
                out.append(self.baseline_row(b))
            except Missing:
                continue
        return out

    def missing_baselines(self) -> list[tuple[Baseline, str]]:
        """Baselines with no data, and why."""
        out = []
        for b in self.studies.baselines:
            try:
                self.baseline_row(b)
            except Missing as e:
                out.append((b, str(e)))
        return out

    def ranking(self, rows: Sequence[Row] | None = None) -> list[tuple[Row, int, int, float]]:
        """Complete rows ranked by targets reached, then by ``C_tau`` on the base workloads.

        Returns ``(row, rank, trained, cost)`` best first; equal results share a rank.
        """
        rows = self.rows if rows is None else rows
        scored = []
        for row in rows:
            if row.complete(self.base):
                arr = [row.fractions[w] for w in self.base]
                scored.append((row, row.trained(self.base), cost(arr, self.tau)))
        scored.sort(key=lambda s: (-s[1], s[2]))
        out: list[tuple[Row, int, int, float]] = []
        for i, (row, n, c) in enumerate(scored):
            rank = i + 1
            if i and (n, c) == (scored[i - 1][1], scored[i - 1][2]):
                rank = out[-1][1]
            out.append((row, rank, n, c))
        return out


def _resolve_specs(names: Sequence[str], given: Mapping[str, WorkloadSpec], registry: bool
                   ) -> tuple[dict[str, WorkloadSpec], list[str]]:
    from hplists.scoring.workload_specs import resolve_specs

    specs: dict[str, WorkloadSpec] = {}
    notes = []
    for name in names:
        if name in given:
            specs[name] = given[name]
            continue
        if not registry:
            notes.append(f"workload {name!r} has no spec; its trials are left out.")
            continue
        try:
            specs.update(resolve_specs([name], {}))
        except Exception as e:  # a registry lookup may fail in many ways; report, go on
            notes.append(f"workload {name!r} is left out: {e}")
    return specs, notes


def _reduction(spec: WorkloadSpec | None) -> tuple[str | None, str, float]:
    """``(metric, mode, target)`` a trial is reduced with: its spec's, or no metric."""
    return (None, "min", 0.0) if spec is None else (spec.metric, spec.mode, spec.target)


def _joined(parts: Sequence[np.ndarray]) -> np.ndarray:
    """Row indices of ``parts``, one after the other."""
    return np.concatenate([np.asarray(p, dtype=np.int64) for p in parts]) if parts else \
        np.zeros(0, dtype=np.int64)
