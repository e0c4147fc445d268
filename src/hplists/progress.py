"""Progress of studies, stages and training runs: one rich bar, counted in training steps.

Every long run in hplists (the engine's ``train(progress=True)``, the trial
runner, the studies) shows progress through :class:`StageBar`, in *training
steps* (a trial at horizon ``h`` counts ``int(h T)``), with an ETA.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["ProgressFn", "StageBar"]

# stage, steps done, steps to do (the stage's remaining work when it started)
ProgressFn = Callable[[str, int, int], None]


class StageBar:
    """Progress of a running stage in steps: a rich bar with ETA, a callback, or nothing.

    ``progress`` is ``True`` (a rich bar on stderr), ``None``/``False``
    (nothing) or ``fn(stage, steps_done, steps_total)``. :meth:`start` returns
    ``tick(k)``, to be called with the steps just done, as the trial runner
    (:func:`hplists.study.runner.run`) does.

    Example:
        >>> seen = []
        >>> bar = StageBar(lambda stage, done, total: seen.append((stage, done, total)))
        >>> tick = bar.start("broad", 10); tick(4); tick(6); bar.stop()
        >>> seen
        [('broad', 4, 10), ('broad', 10, 10)]
    """

    def __init__(self, progress: bool | ProgressFn | None) -> None:
        if progress not in (None, False, True) and not callable(progress):
            raise ValueError(f"progress must be True, False, None or a callable, got {progress!r}")
        self.fn = progress if callable(progress) else None
        self.rich = progress is True
        self.bar: Any = None

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
                                TimeRemainingColumn(), console=Console(stderr=True))
            task = self.bar.add_task(stage, total=max(total, 1))
            self.bar.start()

        def tick(k: int) -> None:
            nonlocal done
            done += k
            if self.bar is not None:
                self.bar.advance(task, k)
            if self.fn is not None:
                self.fn(stage, done, total)

        return tick

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
