"""Progress of studies, stages and training runs: rich bars with ETA, or a callback.

One convention for callbacks, ``fn(stage, done, total)``, in one of two units
named by its type:

* :class:`StageBar` counts *training steps* (a trial at horizon ``h`` counts
  ``int(h T)``): the engine's ``train(progress=True)``, the trial loop, the
  studies; callbacks are :data:`StepProgressFn`.
* :class:`TrialProgress` counts *trials* over a whole command that runs many
  small trainings (target setting, calibration); callbacks are
  :data:`TrialProgressFn`, whose ``done`` counts partial trials as fractions.

Where stderr is not a terminal (a log file of a run in the background, a
pipe), a bar would show nothing until it ends; there both print a plain line
every :data:`LOG_EVERY_S` seconds instead (:class:`LogLines`: done, total,
share, elapsed time and ETA), and one when they stop after any progress.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from hplists.exceptions import InvalidParameterError

__all__ = ["LOG_EVERY_S", "LogLines", "StageBar", "StepProgressFn", "TrialProgress",
           "TrialProgressFn", "phase"]

# stage, steps done, steps to do (the stage's remaining work when it started)
StepProgressFn = Callable[[str, int, int], None]
# stage, trials done (fractions for partial trials), trials the command needs
TrialProgressFn = Callable[[str, float, int], None]


# Seconds between two progress lines where stderr is not a terminal.
LOG_EVERY_S = 60.0

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


def _clock(seconds: float) -> str:
    """``h:mm:ss``, as the bars show elapsed time and ETA."""
    m, sec = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{sec:02d}"


class LogLines:
    """Progress as plain lines, one every ``every`` seconds (default :data:`LOG_EVERY_S`):
    what a log gets instead of a bar.

    ``done`` counts from ``start`` (work found done counts, but not towards the
    speed behind the ETA).

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> log = LogLines("calibration", "steps", 4000, start=1000, every=0.0, file=out)
        >>> log.update(2000)
        >>> log.update(4000, final=True)
        >>> lines = out.getvalue().splitlines()
        >>> lines[0].startswith("calibration: 2,000/4,000 steps (50%), 0:00:00 elapsed, ETA ")
        True
        >>> lines[1].startswith("calibration: 4,000/4,000 steps (100%)")
        True
    """

    def __init__(self, label: str, unit: str, total: float, *, start: float = 0.0,
                 every: float | None = None, file: Any = None) -> None:
        self.label, self.unit, self.total = label, unit, total
        self.every = LOG_EVERY_S if every is None else every
        self.file = file
        self._start, self._t0 = start, time.monotonic()
        self._last = self._t0
        self._done = start
        self._printed = False

    def update(self, done: float, *, final: bool = False) -> None:
        """``done`` so far; prints a line if ``every`` seconds passed since the last (or ``final``)."""
        self._done = done
        now = time.monotonic()
        if not final and now - self._last < self.every:
            return
        self._last, self._printed = now, True
        elapsed = now - self._t0
        made, left = done - self._start, max(self.total - done, 0.0)
        eta = _clock(left * elapsed / made) if made > 0 else "?"
        share = 100.0 * done / self.total if self.total > 0 else 100.0
        print(f"{self.label}: {done:,.0f}/{self.total:,.0f} {self.unit} ({share:.0f}%), "
              f"{_clock(elapsed)} elapsed, ETA {eta}", file=self.file or sys.stderr, flush=True)

    def found(self, n: float) -> None:
        """``n`` more units found done: counted, not as speed (no line)."""
        self._start += n
        self._done += n

    def close(self) -> None:
        """The last line, where it stopped; none for a stage that made no progress and printed
        nothing (a study's searches already done)."""
        if self._done > self._start or self._printed:
            self.update(self._done, final=True)


def _console_is_live(console: Any) -> bool:
    """Whether a rich bar renders as it goes (a terminal or a notebook), not only at its end."""
    return bool(console.is_terminal or console.is_jupyter)


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
        self.log: LogLines | None = None
        self._listener: Callable[[str, float | None], None] | None = None

    def start(self, stage: str, total: int) -> Callable[[int], None]:
        done = 0
        console: Any = None
        if self.rich:
            from rich.console import Console

            console = Console(stderr=True)
            if not _console_is_live(console):
                self.log = LogLines(stage, "steps", max(total, 1))
        if self.rich and self.log is None:
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
                                console=console)
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
            if self.log is not None:
                self.log.update(done)
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
        if self.log is not None:
            self.log.close()
            self.log = None


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
        self.log: LogLines | None = None
        console: Any = None
        if progress is True:
            from rich.console import Console

            console = Console(stderr=True)
            if not _console_is_live(console):
                self.log = LogLines("all", "trials", max(total, 1))
        if progress is True and self.log is None:
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
                console=console,
            )
            self.overall = self.bar.add_task("all", total=max(total, 1))
            self.current = self.bar.add_task("", total=1, visible=False)
            self.bar.start()

    def start(self, stage: str, trials: int, already_done: int) -> None:
        """A new stage of ``trials`` trials, ``already_done`` of them finished earlier."""
        self.stage = stage
        self.done += already_done
        if self.log is not None:  # found finished: not progress made now
            self.log.found(already_done)
            self.log.label = f"all ({stage})"
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
        if self.log is not None:
            self.log.update(self.done)
        self._report()

    def grow(self, extra: int) -> None:
        """The command needs ``extra`` more trials than planned (may be negative)."""
        self.total += extra
        if self.bar is not None:
            self.bar.update(self.overall, total=max(self.total, 1))
        if self.log is not None:
            self.log.total = max(self.total, 1)

    def _report(self) -> None:
        if self.fn is not None:
            self.fn(self.stage, self.done, self.total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
        if self.log is not None:
            self.log.close()
            self.log = None
