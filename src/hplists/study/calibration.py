"""Calibration of the targets: the analog of Table 4 of paper 001.

Paper 001 (Sec. 4.1, Table 4) counts, on each AlgoPerf base workload, how many
of its 200 ``nadamw-broad`` points reach the validation target within the step
budget ``T`` (2 to 24 of 200), and how many of those also reach the target on
at least one, and on at least two, of the other base workloads. hplists asks
the same of its own targets: on every base workload, between 1% and
15% of the 200 points must succeed, else the workload is changed and its
target set again (a target is never tuned by hand).

The 200 points are the first 200 scrambled-Halton points (seed
:data:`CALIBRATION_SEED`) of ``nadamw-broad``, trained with seed 0 for the
full budget ``T`` with NAdamW (``hplists.optax.rule``) into the study
:data:`CALIBRATION_STUDY` (``"broad200"``): the same points and study as the
200-point study of the method, which therefore reuses these runs.

A point *succeeds* on a workload when its run reaches the target at some
evaluation within ``T`` (:func:`hplists.scoring.matrix.score_trial`; with
several seeds, the median step fraction must be finite). Trials that ended in
error count as misses and are reported.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from hplists._check import check_int
from hplists.curves import Status
from hplists.exceptions import InvalidParameterError
from hplists.hparams import HParams
from hplists.progress import TrialProgress, TrialProgressFn
from hplists.store.base import TrialRecord, TrialStore
from hplists.study.samples import resolve_sample
from hplists.trials.pending import run_pending

__all__ = [
    "BAND",
    "CALIBRATION_POINTS",
    "CALIBRATION_SEED",
    "CALIBRATION_SPACE",
    "CALIBRATION_STUDY",
    "CALIBRATION_TRAIN_SEED",
    "SuccessCounts",
    "Table4",
    "Table4Row",
    "calibration_points",
    "calibration_table",
    "run_calibration",
    "success_counts",
]

CALIBRATION_STUDY = "broad200"
CALIBRATION_SPACE = "nadamw-broad"
CALIBRATION_POINTS = 200
CALIBRATION_SEED = 0  # scrambled Halton seed of the 200 points
CALIBRATION_TRAIN_SEED = 0  # training seed of their runs
BAND = (0.01, 0.15)


def calibration_points(n: int = CALIBRATION_POINTS, seed: int = CALIBRATION_SEED) -> list[HParams]:
    """The first ``n`` scrambled-Halton points of ``nadamw-broad`` (Table 1 of paper 001).

    Example:
        >>> pts = calibration_points(200)
        >>> len(pts), pts[:3] == calibration_points(3)
        (200, True)
    """
    from hplists.space import get_space

    n = check_int("points", n, low=1)
    return get_space(CALIBRATION_SPACE).sample(n, seed=seed)  # type: ignore[return-value]


def run_calibration(
    workloads: Sequence[Any] | None,
    store: TrialStore,
    *,
    points: int = CALIBRATION_POINTS,
    study: str = CALIBRATION_STUDY,
    batching: str | None = None,
    progress: bool | TrialProgressFn | None = None,
) -> dict[str, list[TrialRecord]]:
    """Trains the calibration points on each workload for its full budget, into ``store``.

    Resumable (:func:`hplists.trials.pending.run_pending`): finished trials are
    skipped, trials that ended in error (e.g. interrupted) run again.

    Args:
        workloads: names or instances (default: every registered base workload).
        store: the trial store.
        points: how many of the sample's points (default 200).
        study: the study name (default ``"broad200"``, shared with the paper-001 study).
        batching: the engine's batching strategy (default: the workload's).
        progress: ``True`` for a progress bar with ETA over all trials, or a
            function called with ``(stage, trials_done, trials_total)``.

    Returns:
        The records of the points, per workload name.
    """
    from hplists.workloads.registry import get_workload, workload_names

    if not workloads:
        workloads = workload_names(variants=False)
    todo = [get_workload(w) if isinstance(w, str) else w for w in workloads]
    pts = resolve_sample(store, study, calibration_points(points))
    bar = TrialProgress(progress, len(pts) * len(todo))
    out = {}
    try:
        for w in todo:
            out[w.name] = run_pending(w, store, study, pts, range(len(pts)),
                                      CALIBRATION_TRAIN_SEED, batching=batching, progress=bar,
                                      stage=f"{w.name} {study}")
    finally:
        bar.close()
    return out


@dataclasses.dataclass(frozen=True)
class Table4Row:
    """One workload of the calibration table.

    Attributes:
        workload: the workload's name.
        target, metric, mode, step_budget: what success is measured against.
        points: points with a finished trial on this workload.
        successes: points reaching the target within the budget.
        also_one: successes that also succeed on at least one other workload.
        also_two: successes that also succeed on at least two other workloads.
        errors: trials that ended in error (counted as misses).
        unknown_elsewhere: successes that lack a finished trial on some other
            workload of the table (their ``also_*`` counts may grow).
    """

    workload: str
    target: float
    metric: str
    mode: str
    step_budget: int
    points: int
    successes: int
    also_one: int
    also_two: int
    errors: int = 0
    unknown_elsewhere: int = 0

    @property
    def fraction(self) -> float:
        """``successes / points`` (NaN without points)."""
        return self.successes / self.points if self.points else math.nan

    def in_band(self, band: tuple[float, float] = BAND) -> bool:
        """Whether the success fraction lies in ``band`` (both ends included)."""
        return self.points > 0 and band[0] <= self.fraction <= band[1]


@dataclasses.dataclass(frozen=True)
class Table4:
    """The calibration table over the base workloads of one study."""

    rows: tuple[Table4Row, ...]
    study: str
    expected_points: int = CALIBRATION_POINTS
    band: tuple[float, float] = BAND

    @property
    def ok(self) -> bool:
        """Every workload has all its points and a success fraction inside the band."""
        return all(r.points == self.expected_points and r.in_band(self.band) for r in self.rows)

    def flag(self, row: Table4Row) -> str:
        if row.points < self.expected_points:
            return f"incomplete ({row.points}/{self.expected_points})"
        if not row.in_band(self.band):
            return f"OUTSIDE [{self.band[0]:.0%}, {self.band[1]:.0%}]"
        return "ok"

    def to_json(self) -> dict[str, Any]:
        return {
            "study": self.study, "expected_points": self.expected_points,
            "band": list(self.band), "ok": self.ok,
            "rows": [{**dataclasses.asdict(r), "fraction": r.fraction, "flag": self.flag(r)}
                     for r in self.rows],
        }

    def to_markdown(self) -> str:
        """The table as GitHub Markdown, with the paper's column meanings."""
        lines = [
            "| workload | target | points | train successfully | % | also on 1 other | "
            "also on 2 others | flag |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for r in self.rows:
            lines.append(
                f"| {r.workload} | {r.target:.6g} ({r.metric}, {r.mode}) | {r.points} | "
                f"{r.successes} | {100 * r.fraction:.1f} | {r.also_one} | {r.also_two} | "
                f"{self.flag(r)} |"
            )
        return "\n".join(lines)


def _targets(names: Sequence[str], targets: Mapping[str, Any] | str | os.PathLike[str] | None
             ) -> dict[str, Any]:
    from hplists.scoring.workload_specs import WorkloadSpec
    from hplists.workloads.registry import get_workload
    from hplists.workloads.targets_file import read_targets

    if targets is None or isinstance(targets, (str, os.PathLike)):
        entries = read_targets(targets)["targets"]
    else:
        entries = dict(targets)
    specs = {}
    for name in names:
        entry = entries.get(name)
        if entry is None:
            raise InvalidParameterError(f"workload {name!r} has no target; set it first "
                             f"(hplists targets set --workload {name})")
        try:
            budget = get_workload(name).step_budget
        except ValueError:  # not registered here: the budget the target was set for
            budget = entry.get("provenance", {}).get("step_budget")
        if budget is None:
            raise InvalidParameterError(f"workload {name!r} is not registered and its target entry has no "
                             "step_budget")
        specs[name] = WorkloadSpec(name, entry["metric"], entry["mode"], entry["target"],
                                   budget)
    return specs


class SuccessCounts(NamedTuple):
    """The counts of one workload's row of Table 4 (see :class:`Table4Row`)."""

    points: int
    successes: int
    also_one: int
    also_two: int
    unknown_elsewhere: int


def success_counts(success: Mapping[str, Mapping[Any, bool]], names: Sequence[str]
                   ) -> list[SuccessCounts]:
    """Table 4's counts from which point trains which workload.

    ``success[w][p]`` says whether point ``p`` reaches workload ``w``'s target
    within its budget; a point absent from ``success[w]`` has no finished trial
    there. "Other workloads" are the other entries of ``names``.

    Example:
        >>> ok = {"a": {0: True, 1: True, 2: False}, "b": {0: True, 1: False, 2: True},
        ...       "c": {0: True, 2: False}}
        >>> [tuple(c) for c in success_counts(ok, ["a", "b", "c"])]
        [(3, 2, 1, 1, 1), (3, 2, 1, 1, 0), (2, 1, 1, 1, 0)]
    """
    out = []
    for w in names:
        winners = [p for p, ok in success.get(w, {}).items() if ok]
        also, unknown = [], 0
        for p in winners:
            others = [success.get(o, {}).get(p) for o in names if o != w]
            also.append(sum(bool(x) for x in others))
            unknown += any(x is None for x in others)
        out.append(SuccessCounts(points=len(success.get(w, {})), successes=len(winners),
                                 also_one=sum(a >= 1 for a in also),
                                 also_two=sum(a >= 2 for a in also), unknown_elsewhere=unknown))
    return out


def calibration_table(
    store: TrialStore,
    *,
    workloads: Sequence[str] | None = None,
    study: str = CALIBRATION_STUDY,
    targets: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    expected_points: int = CALIBRATION_POINTS,
    band: tuple[float, float] = BAND,
) -> Table4:
    """Counts, per workload, the points of ``study`` that reach the target within the budget.

    Args:
        store: the trial store holding the calibration runs.
        workloads: the table's workloads (default: the study's workloads that
            are registered base workloads, or all of its workloads if none is
            registered). "Other workloads" are the other workloads of the table.
        study: the study of the 200 points (default ``"broad200"``).
        targets: a targets file path, or a mapping of workload names to
            entries with ``target``, ``metric``, ``mode`` (default: the
            package's targets file).
        expected_points: the sample size a complete row has.
        band: the allowed range of success fractions.
    """
    from hplists.scoring.matrix import score_trial
    from hplists.workloads.registry import get_workload

    records = store.require_trials(study=study)
    present = sorted({r.workload for r in records})
    if workloads:
        names = list(workloads)
        unknown = [w for w in names if w not in present]
        if unknown:
            raise InvalidParameterError(f"study {study!r} has no trials on {unknown}; its workloads are "
                             f"{present}")
    else:
        names = []
        for w in present:
            try:
                if get_workload(w).base is None:
                    names.append(w)
            except ValueError:
                pass
        names = names or present
    specs = _targets(names, targets)
    fractions: dict[tuple[str, str], list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    for r in records:
        if r.workload not in specs:
            continue
        score = score_trial(r, specs[r.workload], errors="inf")
        if score is None:  # still running
            continue
        errors[r.workload] += r.status is Status.ERROR
        fractions[(r.point_id, r.workload)].append(score.fraction)
    success: dict[str, dict[str, bool]] = defaultdict(dict)  # workload -> point -> success
    for (pid, w), fr in fractions.items():
        success[w][pid] = bool(np.isfinite(np.median(fr)))
    rows = []
    for w, c in zip(names, success_counts(success, names), strict=True):
        s = specs[w]
        rows.append(Table4Row(
            workload=w, target=s.target, metric=s.metric, mode=s.mode,
            step_budget=s.step_budget, points=c.points, successes=c.successes,
            also_one=c.also_one, also_two=c.also_two, errors=errors[w],
            unknown_elsewhere=c.unknown_elsewhere,
        ))
    return Table4(rows=tuple(rows), study=study, expected_points=expected_points, band=band)
