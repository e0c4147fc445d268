"""Resumable runs of a study's points into the trial store, with progress over many runs.

:func:`run_pending` is what makes the study commands (``hplists targets set``,
``hplists targets calibrate``) resumable: it trains only the points whose
trial is not finished, hands trials that ended in error (a failed or
interrupted run is not a result) out again, and returns the records of every
point. A process killed with ``kill -9`` leaves its in-flight trials
``running``; the store reclaims them on the next run because their process is
gone. A ``KeyboardInterrupt`` makes the engine record the in-flight trials as
errors, which the next run retries. Either way nothing finished is redone and
nothing is lost.

:class:`TrialProgress` shows one rich progress bar with an ETA over all the
trials of a command (trials found finished are counted as done without
inflating the speed estimate), or reports to a callback.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hplists.curves import Status
from hplists.hparams import Point
from hplists.store.base import TrialRecord, TrialStore, point_id
from hplists.workloads.spec import UpdateRule, Workload

__all__ = ["ProgressFn", "TrialProgress", "TrialsRunningElsewhere", "finished_trials",
           "run_pending"]

# progress(stage, trials_done, trials_total): trials_done counts partial trials as fractions.
ProgressFn = Callable[[str, float, int], None]
_DONE = (Status.COMPLETE, Status.DIVERGED)


class TrialsRunningElsewhere(RuntimeError):
    """Some trials a result needs are still running in another live process."""


class TrialProgress:
    """Trials done over a whole command: a rich bar with ETA, a callback, or nothing.

    Args:
        progress: ``True`` (rich bar on stderr), a function called with
            ``(stage, trials_done, trials_total)``, or ``None``/``False``.
        total: the number of trials the command needs.

    Example:
        >>> seen = []
        >>> p = TrialProgress(lambda *a: seen.append(a), total=3)
        >>> p.start("w adamw", trials=2, already_done=1); p.add(0.5); p.close()
        >>> seen
        [('w adamw', 1.0, 3), ('w adamw', 1.5, 3)]
    """

    def __init__(self, progress: bool | ProgressFn | None, total: int) -> None:
        if progress not in (None, False, True) and not callable(progress):
            raise ValueError(f"progress must be True, False, None or a callable, got {progress!r}")
        self.total, self.done, self.stage = total, 0.0, ""
        self.fn = progress if callable(progress) else None
        self.bar: Any = None
        if progress is True:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("{task.description}"), BarColumn(),
                TextColumn("{task.completed:.0f}/{task.total:.0f} trials"),
                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self.overall = self.bar.add_task("all", total=max(total, 1))
            self.current = self.bar.add_task("", total=1, visible=False)
            self.bar.start()

    def start(self, stage: str, trials: int, already_done: int) -> None:
        """A new stage of ``trials`` trials, ``already_done`` of them finished earlier."""
        self.stage = stage
        self.done += already_done
        if self.bar is not None:
            # Set, not advanced: trials found finished are not progress made now.
            self.bar.update(self.overall, completed=self.done)
            self.bar.reset(self.current, total=max(trials, 1), completed=already_done,
                           description=stage, visible=True)
        self._report()

    def add(self, trials: float) -> None:
        """``trials`` (possibly fractional) more trials done."""
        self.done += trials
        if self.bar is not None:
            self.bar.advance(self.overall, trials)
            self.bar.advance(self.current, trials)
        self._report()

    def grow(self, extra: int) -> None:
        """The command needs ``extra`` more trials than planned (may be negative)."""
        self.total += extra
        if self.bar is not None:
            self.bar.update(self.overall, total=max(self.total, 1))

    def _report(self) -> None:
        if self.fn is not None:
            self.fn(self.stage, self.done, self.total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


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
            :class:`~hplists.workloads.spec.JaxWorkload`).
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
    from hplists.study.runner import train_into_store

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
