"""One time to target: every place that reports a first hit or ``t / T`` gives the numbers of
:func:`hplists.scoring.time_to_target.first_hit_of`, on one set of curves.

The curves: a hit, a miss, a diverged run that hit before it diverged (NaN and an infinity
after the hit), a diverged run that missed, a value exactly at the target, a hit at the last
evaluation, a hit at the first, an evaluation grid that stops short of the budget, and a
metric that goes up. They go to the definition (whose answers are also written out here), the
matrix and submission times, ``hplists run``'s summary, :func:`hplists.tune`, the per-seed
results of :func:`hplists.study.evaluate.evaluate`, and a SQLite store's query.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import sqlite3

import numpy as np
import pytest

from hplists import Curve, HParams, get_list, tune
from hplists.cli.workloads import summarize as cli_summary
from hplists.curves import Status
from hplists.metric import Metric
from hplists.scoring.matrix import (
    TrialMatrix,
    score_trial,
    submission_times,
    submission_times_from_store,
)
from hplists.scoring.time_to_target import (
    Hit,
    best_value,
    first_hit,
    first_hit_of,
    first_hit_sql,
    step_fraction,
    time_to_target,
)
from hplists.scoring.workload_specs import WorkloadSpec
from hplists.store import open_store, point_id
from hplists.store.base import TrialRecord, TrialStore
from hplists.store.columns import MetricColumns
from hplists.study.evaluate import _seed_result

INF, NAN = math.inf, math.nan
BUDGET = 100
SPECS = {"down": WorkloadSpec("down", "error_rate", "min", 0.3, BUDGET),
         "up": WorkloadSpec("up", "accuracy", "max", 0.8, BUDGET)}
GRID = [25, 50, 75, 100]


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    workload: str
    values: tuple[float, ...]
    # what the definition answers, written out: index, step, t/T, seconds, best
    expected: Hit
    status: Status = Status.COMPLETE
    steps: tuple[int, ...] = tuple(GRID)

    @property
    def spec(self) -> WorkloadSpec:
        return SPECS[self.workload]

    @property
    def seconds(self) -> list[float]:  # a distinct wall-clock for every case and evaluation
        return [s / 10 + 0.5 * (CASES.index(self) + 1) for s in self.steps]

    @property
    def curve(self) -> Curve:
        return Curve(list(self.steps), self.seconds, [1.0] * len(self.steps),
                     {self.spec.metric: list(self.values)}, self.status)

    @property
    def point(self) -> HParams:
        return HParams(1e-3 * (CASES.index(self) + 1), 0.9, 0.99)


def _hit(index, step, best, case_number):
    seconds = INF if index < 0 else step / 10 + 0.5 * case_number
    return Hit(index, step, INF if index < 0 else step / BUDGET, seconds, best)


CASES: list[Case] = []
CASES += [
    Case("hit", "down", (0.6, 0.25, 0.2, 0.1), expected=_hit(1, 50, 0.1, 1)),
    Case("miss", "down", (0.6, 0.5, 0.4, 0.35), expected=_hit(-1, None, 0.35, 2)),
    Case("diverged after a hit", "down", (0.5, 0.28, NAN, INF), status=Status.DIVERGED,
         expected=_hit(1, 50, 0.28, 3)),
    Case("diverged, missed", "down", (0.5, 0.4, NAN, -INF), status=Status.DIVERGED,
         expected=_hit(-1, None, 0.4, 4)),
    Case("exactly at the target", "down", (0.6, 0.4, 0.3, 0.35), expected=_hit(2, 75, 0.3, 5)),
    Case("at the last evaluation", "down", (0.6, 0.5, 0.4, 0.29), expected=_hit(3, 100, 0.29, 6)),
    Case("at the first evaluation", "down", (0.2, 0.5, 0.1, 0.4), expected=_hit(0, 25, 0.1, 7)),
    Case("short grid", "down", (0.5, 0.3, 0.2), steps=(30, 60, 90), expected=_hit(1, 60, 0.2, 8)),
    Case("max metric", "up", (0.5, 0.79, 0.85, 0.9), expected=_hit(2, 75, 0.9, 9)),
    Case("max metric, exactly at the target", "up", (0.5, 0.8, 0.7, 0.75),
         expected=_hit(1, 50, 0.8, 10)),
    Case("max metric, missed", "up", (0.5, 0.6, 0.79, 0.7), expected=_hit(-1, None, 0.79, 11)),
    Case("max metric, diverged after a hit", "up", (0.81, -INF, NAN, INF),
         status=Status.DIVERGED, expected=_hit(0, 25, 0.81, 12)),
]
IDS = [c.name for c in CASES]


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return (math.isnan(a) and math.isnan(b)) or a == b


def _check(hit: Hit, index: int, step, fraction, seconds, best) -> None:
    """``hit``'s numbers, exactly (a NaN equals a NaN)."""
    got = (index, step, fraction, seconds, best)
    want = (hit.index, hit.step, hit.fraction, hit.seconds, hit.best)
    assert all(_same(g, w) for g, w in zip(got, want, strict=True)), (got, want)


def _record(case: Case, study: str = "s", seed: int = 0) -> TrialRecord:
    return TrialRecord(study, point_id(case.point), CASES.index(case), case.point.to_dict(),
                       case.workload, "1", seed, case.status, "", case.curve, {})


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    return tmp_path_factory.mktemp("agreement") / "trials.db"


@pytest.fixture(scope="module")
def store(path):
    with open_store(path) as s:
        for case in CASES:
            s.put("s", case.point, case.workload, 0, case.curve, point_index=CASES.index(case))
            # one study per case too: its submission time is the case's own
            s.put(f"case{CASES.index(case)}", case.point, case.workload, 0, case.curve,
                  point_index=0)
        yield s


# --------------------------------------------------------------------------- the definition


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_definition_gives_the_written_out_answers(case):
    hit = first_hit_of(case.curve, case.spec.metric, case.spec.target, case.spec.mode, BUDGET)
    e = case.expected
    _check(hit, e.index, e.step, e.fraction, e.seconds, e.best)
    assert hit.reached == (e.index >= 0)
    # the same answer from bare arrays
    assert first_hit_of(list(case.steps), list(case.values), case.spec.target, case.spec.mode,
                        BUDGET, seconds=case.seconds,
                        diverged=case.status is Status.DIVERGED) == hit


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_vectorised_functions_agree_with_the_definition(case):
    hit = case.expected
    args = (case.spec.target, case.spec.mode)
    diverged = case.status is Status.DIVERGED
    assert int(first_hit(case.values, *args, diverged=diverged)) == hit.index
    assert float(time_to_target(case.steps, case.values, *args, diverged=diverged)) == (
        INF if hit.step is None else hit.step)
    assert float(step_fraction(case.steps, case.values, *args, BUDGET,
                               diverged=diverged)) == hit.fraction
    assert float(best_value(case.values, case.spec.mode, diverged=diverged)) == hit.best


def test_the_vectorised_functions_agree_on_many_curves_at_once():
    on_grid = [c for c in CASES if c.workload == "down" and list(c.steps) == GRID]
    values = np.array([c.values for c in on_grid])
    diverged = np.array([c.status is Status.DIVERGED for c in on_grid])
    assert first_hit(values, 0.3, "min", diverged=diverged).tolist() == [
        c.expected.index for c in on_grid]
    assert step_fraction(GRID, values, 0.3, "min", BUDGET, diverged=diverged).tolist() == [
        c.expected.fraction for c in on_grid]


# --------------------------------------------------------------------------- the matrix


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_score_trial_agrees(case):
    s = score_trial(_record(case), case.spec)
    _check(case.expected, s.index, case.expected.step, s.fraction, s.seconds, s.best)


@pytest.mark.parametrize("workload", ["down", "up"])
def test_the_matrix_agrees_from_records_and_from_the_store(store, workload):
    cases = [c for c in CASES if c.workload == workload]
    want_f = [c.expected.fraction for c in cases]
    want_b = [c.expected.best for c in cases]
    m = TrialMatrix.from_records([_record(c) for c in CASES], SPECS, study="s",
                                 workloads=[workload])
    assert m.point_ids == tuple(point_id(c.point) for c in cases)
    assert m.fractions[:, 0].tolist() == want_f
    assert m.best_metric[:, 0].tolist() == want_b
    m = TrialMatrix.from_store(store, SPECS, study="s", workloads=[workload])
    assert m.fractions[:, 0].tolist() == want_f
    assert m.best_metric[:, 0].tolist() == want_b


@pytest.mark.parametrize("time", ["fraction", "seconds"])
def test_submission_times_agree(store, time):
    studies = [f"case{i}" for i in range(len(CASES))]
    records = [_record(c, study=f"case{i}") for i, c in enumerate(CASES)]
    want = [c.expected.fraction if time == "fraction" else c.expected.seconds for c in CASES]
    cols = {"down": 0, "up": 1}
    for subs in (submission_times(records, SPECS, studies=studies, workloads=["down", "up"],
                                  time=time),
                 submission_times_from_store(store, SPECS, studies=studies,
                                             workloads=["down", "up"], time=time)):
        got = [float(subs.times[i, cols[c.workload]]) for i, c in enumerate(CASES)]
        assert got == want


# --------------------------------------------------------------------------- hplists run


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_run_summary_agrees(case):
    out = cli_summary(case.curve, Metric(case.spec.metric, case.spec.mode), case.spec.target)
    hit = case.expected
    assert out["target_step"] == hit.step
    assert out["target_seconds"] == (None if hit.step is None else hit.seconds)
    assert out["best"] == hit.best


# --------------------------------------------------------------------------- tune


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_tune_agrees_with_the_trials_as_a_curve(case):
    """tune's trials, in list order, are a curve with one evaluation per trial."""
    k = len(case.values)
    returned = iter(case.values)
    result = tune(lambda point: next(returned), get_list("nadamw-paper")[:k],
                  metric=case.spec.metric, mode=case.spec.mode, target=case.spec.target)
    hit = case.expected
    # tune stops at the first trial that reaches the target: the curve's first hit
    assert len(result.trials) == (k if hit.index < 0 else hit.index + 1)
    assert result.reached == (hit.index >= 0)
    trial_seconds = list(itertools.accumulate(t.seconds for t in result.trials))
    _check(result.first_hit, hit.index, None if hit.index < 0 else hit.index + 1,
           INF if hit.index < 0 else (hit.index + 1) / k,
           INF if hit.index < 0 else trial_seconds[hit.index],
           best_value(list(case.values[:len(result.trials)]), case.spec.mode, diverged=True))
    assert result.first_hit == first_hit_of(range(1, len(result.trials) + 1),
                                            [t.value for t in result.trials],
                                            case.spec.target, case.spec.mode, k,
                                            seconds=trial_seconds, diverged=True)


# --------------------------------------------------------------------------- evaluate


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_evaluate_agrees_per_trial(case):
    r = _seed_result(0, [_record(case)], case.spec)
    hit = case.expected
    assert r.fractions == (hit.fraction,)
    assert r.fraction == hit.fraction
    assert r.bests == (hit.best,)
    assert r.best == hit.best
    assert r.first_hit == (None if hit.index < 0 else 0)
    assert r.trials_to_hit == (None if hit.index < 0 else 1)


@pytest.mark.parametrize("workload", ["down", "up"])
def test_evaluate_agrees_on_a_list(workload):
    # the misses first: the list's first hit is then not its first trial
    cases = sorted((c for c in CASES if c.workload == workload), key=lambda c: c.expected.reached)
    r = _seed_result(3, [_record(c, seed=3) for c in cases], SPECS[workload])
    hits = [c.expected for c in cases]
    assert r.fractions == tuple(h.fraction for h in hits)
    assert r.fraction == min(h.fraction for h in hits)
    assert r.first_hit == next(i for i, h in enumerate(hits) if h.reached) > 0
    assert r.best == metric_best(workload, [h.best for h in hits])


def metric_best(workload, values):
    return min(values) if SPECS[workload].mode == "min" else max(values)


# --------------------------------------------------------------------------- the store


@pytest.mark.parametrize("workload", ["down", "up"])
def test_the_stores_columns_agree(store, workload):
    """The SQLite store's query and the reduction of curves (the default) give the hits."""
    spec = SPECS[workload]
    cases = {CASES.index(c): c for c in CASES if c.workload == workload}
    query = store.metric_columns("s", workload, spec.metric, spec.mode, spec.target)
    default = MetricColumns.from_summaries(TrialStore.metric_summaries(
        store, "s", workload, spec.metric, spec.mode, spec.target))  # curves, reduced
    for cols in (query, default):
        assert sorted(cols.point_index.tolist()) == sorted(cases)
        for row, index in enumerate(cols.point_index.tolist()):
            hit = cases[index].expected
            step = int(cols.hit_step[row])
            _check(hit, int(cols.hit_index[row]), None if step < 0 else step,
                   INF if step < 0 else step / spec.step_budget,
                   INF if step < 0 else float(cols.hit_seconds[row]), float(cols.best[row]))


@pytest.mark.parametrize("workload", ["down", "up"])
def test_the_sql_of_the_definition_agrees(store, path, workload):
    """:func:`first_hit_sql`, run on the store's tables, answers each trial's first hit."""
    spec = SPECS[workload]
    sql = first_hit_sql(spec.mode)
    db = sqlite3.connect(path)
    try:
        rows = db.execute(f"""
            SELECT h.point_index, h.hit, h.best,
                   (SELECT COUNT(*) FROM evals e WHERE e.trial_id = h.trial_id
                    AND e.step < h.hit),
                   (SELECT e.seconds FROM evals e WHERE e.trial_id = h.trial_id
                    AND e.step = h.hit)
            FROM (SELECT t.trial_id, t.point_index, {sql.first_step} AS hit, {sql.best} AS best
                  FROM eval_metrics m JOIN trials t ON t.trial_id = m.trial_id
                  WHERE t.study = 's' AND t.workload = :workload AND m.metric = :metric
                  GROUP BY t.trial_id) h""",
            {"workload": workload, "metric": spec.metric, "target": spec.target}).fetchall()
    finally:
        db.close()
    assert sorted(r[0] for r in rows) == [i for i, c in enumerate(CASES)
                                          if c.workload == workload]
    for index, step, best, position, seconds in rows:
        hit = CASES[index].expected
        _check(hit, -1 if step is None else position, step,
               INF if step is None else step / spec.step_budget,
               INF if step is None else seconds, best)
