"""Resumable runs of a study's points into the trial store, with progress over many runs.

:func:`run_pending` is what makes the study commands (``hplists targets set``,
``hplists targets calibrate``) resumable: it trains only the points whose
trial is not finished, hands trials that ended in error (a failed or
interrupted run is not a result) out again, and returns the records of every
point. A process killed with ``kill -9`` leaves its in-flight trials
``running``; the store reclaims them on the next run because their process is
gone. A ``KeyboardInterrupt`` (or SIGTERM under the command line) hands them
back (``store.release``), and the next run, in this process or another,
claims them again at once. Either way nothing finished is redone and nothing
is lost.

:class:`hplists.progress.TrialProgress` shows one rich progress bar with an ETA over all the
trials of a command (trials found finished are counted as done without
inflating the speed estimate), or reports to a callback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hplists.curves import Status
from hplists.hparams import Point
from hplists.progress import TrialProgress
from hplists.store.base import TrialRecord, TrialStore, point_id
from hplists.workloads.contract import UpdateRule, Workload

__all__ = ["TrialsRunningElsewhere", "finished_trials", "run_pending"]
_DONE = (Status.COMPLETE, Status.DIVERGED)


class TrialsRunningElsewhere(RuntimeError):
    """Some trials a result needs are still running in another live process."""


def finished_trials(store: TrialStore, study: str, workload: str, seed: int) -> dict[str, TrialRecord]:
    """Every recorded trial of ``study`` on ``workload`` with ``seed``, by point id."""
    return {r.point_id: r for r in store.trials(study=study, workload=workload) if r.seed == seed}


def run_pending(
    workload: Workload,
    store: TrialStore,
    study: str,
    points: Sequence[Point],
    indices: Sequence[int],
    seed: int,
    *,
    steps: int | None = None,
    rule: UpdateRule | None = None,
    batching: str | None = None,
    progress: TrialProgress | None = None,
    stage: str | None = None,
    executor: Any = None,
) -> list[TrialRecord]:
    """Trains the points of ``study`` whose trial is not finished; returns every point's record.

    Args:
        workload: the workload (the engine trains a
            :class:`~hplists.workloads.contract.JaxWorkload`).
        store: the trial store (``retry_errors`` claims: :class:`~hplists.store.SQLiteStore`).
        study: the study name.
        points: the points, in the study's order.
        indices: each point's index in the study's sample.
        seed: the training seed.
        steps: the step budget of the runs (default: the workload's).
        rule: the update rule (default: NAdamW, ``hplists.optax.rule``).
        batching: the engine's batching strategy (default: the workload's).
        progress: where to report trials done.
        stage: the progress label (default: workload and study).

    Returns:
        The records of ``points``, in order (complete, diverged or error).

    Raises:
        TrialsRunningElsewhere: some trials are claimed by another live process.
    """
    from hplists.trials.loop import train_into_store

    steps = workload.step_budget if steps is None else steps
    have = finished_trials(store, study, workload.name, seed)
    todo = [(p, i) for p, i in zip(points, indices, strict=True)
            if (r := have.get(point_id(p))) is None or r.status not in _DONE]
    if progress is not None:
        progress.start(stage or f"{workload.name} {study} seed {seed}", len(points),
                       len(points) - len(todo))
    if todo:
        def tick(k: int) -> None:
            if progress is not None:
                progress.add(k / steps)

        # Errors are not results: train_into_store hands them out again (the store's event
        # log keeps the earlier failure).
        train_into_store(store, study, workload, [p for p, _ in todo], seed,
                         indices=[i for _, i in todo], step_budget=steps, update_rule=rule,
                         batching=batching, progress=tick, executor=executor)
    have = finished_trials(store, study, workload.name, seed)
    out, waiting = [], 0
    for p in points:
        r = have.get(point_id(p))
        if r is None or r.status is Status.RUNNING:
            waiting += 1
        else:
            out.append(r)
    if waiting:
        raise TrialsRunningElsewhere(
            f"{waiting} trial(s) of study {study!r} on {workload.name!r} are still running in "
            "another process; run the command again when they have finished"
        )
    return out
