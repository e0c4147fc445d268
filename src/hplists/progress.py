"""Progress of studies, stages and training runs: rich bars with ETA, or a callback.

One convention for callbacks, ``fn(stage, done, total)``, in one of two units
named by its type:

* :class:`StageBar` counts *training steps* (a trial at horizon ``h`` counts
  ``int(h T)``): the engine's ``train(progress=True)``, the trial loop, the
  studies; callbacks are :data:`StepProgressFn`.
* :class:`TrialProgress` counts *trials* over a whole command that runs many
  small trainings (target setting, calibration); callbacks are
  :data:`TrialProgressFn`, whose ``done`` counts partial trials as fractions.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from hplists.exceptions import InvalidParameterError

__all__ = ["StageBar", "StepProgressFn", "TrialProgress", "TrialProgressFn", "phase"]

# stage, steps done, steps to do (the stage's remaining work when it started)
StepProgressFn = Callable[[str, int, int], None]
# stage, trials done (fractions for partial trials), trials the command needs
TrialProgressFn = Callable[[str, float, int], None]


# Listeners of phases (``fn(what, seconds)``; ``seconds`` None when it begins): the rich bars
# running in this process.
_PHASE_LISTENERS: list[Callable[[str, float | None], None]] = []
# Phases shorter than this are not worth a line of their own.
PHASE_SHOWN_AFTER_S = 0.5


@contextlib.contextmanager
def phase(what: str) -> Iterator[None]:
    """Marks work that trains no step (preparing data, compiling) for this process's bars.

    A rich :class:`StageBar` shows the phase beside the bar while it runs, so
    that a bar standing at 0 steps says why, and prints its time when it ends
    (phases under :data:`PHASE_SHOWN_AFTER_S` seconds print nothing).

    Example:
        >>> seen = []
        >>> _PHASE_LISTENERS.append(lambda what, s: seen.append((what, s is None)))
        >>> with phase("compiling"):
        ...     pass
        >>> _ = _PHASE_LISTENERS.pop(); seen
        [('compiling', True), ('compiling', False)]
    """
    t0 = time.perf_counter()
    for fn in list(_PHASE_LISTENERS):
        fn(what, None)
    try:
        yield
    finally:
        seconds = time.perf_counter() - t0
        for fn in list(_PHASE_LISTENERS):
            fn(what, seconds)


class StageBar:
    """Progress of a running stage in steps: a rich bar with ETA, a callback, or nothing.

    ``progress`` is ``True`` (a rich bar on stderr), ``None``/``False``
    (nothing) or ``fn(stage, steps_done, steps_total)``. :meth:`start` returns
    ``tick(k)``, to be called with the steps just done, as the trial loop
    (:func:`hplists.trials.loop.run`) does.

    Example:
        >>> seen = []
        >>> bar = StageBar(lambda stage, done, total: seen.append((stage, done, total)))
        >>> tick = bar.start("broad", 10); tick(4); tick(6); bar.stop()
        >>> seen
        [('broad', 4, 10), ('broad', 10, 10)]
    """

    def __init__(self, progress: bool | StepProgressFn | None) -> None:
        if progress not in (None, False, True) and not callable(progress):
            raise InvalidParameterError(f"progress must be True, False, None or a callable, got {progress!r}")
        self.fn = progress if callable(progress) else None
        self.rich = progress is True
        self.bar: Any = None
        self._listener: Callable[[str, float | None], None] | None = None

    def start(self, stage: str, total: int) -> Callable[[int], None]:
        done = 0
        if self.rich:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(TextColumn(f"{stage:<10}"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("steps"), TimeElapsedColumn(), TextColumn("ETA"),
                                TimeRemainingColumn(), TextColumn("{task.fields[phase]}"),
                                console=Console(stderr=True))
            task = self.bar.add_task(stage, total=max(total, 1), phase="")
            self.bar.start()
            bar = self.bar

            def on_phase(what: str, seconds: float | None) -> None:
                bar.update(task, phase=f"{what}..." if seconds is None else "")
                if seconds is not None and seconds >= PHASE_SHOWN_AFTER_S:
                    bar.console.print(f"{stage}: {what} took {seconds:.1f} s")

            self._listener = on_phase
            _PHASE_LISTENERS.append(on_phase)

        def tick(k: int) -> None:
            nonlocal done
            done += k
            if self.bar is not None:
                self.bar.advance(task, k)
            if self.fn is not None:
                self.fn(stage, done, total)

        return tick

    def stop(self) -> None:
        if self._listener is not None and self._listener in _PHASE_LISTENERS:
            _PHASE_LISTENERS.remove(self._listener)
        self._listener = None
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


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

    def __init__(self, progress: bool | TrialProgressFn | None, total: int) -> None:
        if progress not in (None, False, True) and not callable(progress):
            raise InvalidParameterError(f"progress must be True, False, None or a callable, got {progress!r}")
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
