"""What trains: a task's points, run where an executor puts them, handing back one curve each.

The trial loop (:func:`hplists.trials.loop.run`) knows a task only through the
:class:`Task` protocol: how much work it is, how to run it (in this process or
in a worker), and the curve of each of its trials from what running it gave.
:class:`TrainTask` trains points of one study with the engine;
:func:`hplists.tune` runs the user's ``train(point)`` as a task of its own.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol, cast

from hplists._check import check_int
from hplists.curves import Curve
from hplists.exceptions import InvalidParameterError

__all__ = ["Task", "Tick", "TrainTask", "chunked", "for_worker", "resolve_rule", "run_task",
           "train_task"]

Tick = Callable[[int], None]


class Task(Protocol):
    """Trials of one study trained together, somewhere.

    Executors call :func:`run_task` on the task (on :meth:`in_worker`'s copy
    when it runs in a worker process); the loop records :meth:`curves` of what
    that returned, one curve per trial, in the order of the trials' keys.
    """

    study: str

    @property
    def work(self) -> int:
        """Units of progress of the whole task (steps for :class:`TrainTask`)."""

    def run(self, tick: Tick | None = None) -> Any:
        """Trains the task where it runs; what it returns goes back to the loop."""

    def in_worker(self) -> Task:
        """The task as a worker process runs it (it must pickle)."""

    def curves(self, output: Any) -> list[Curve]:
        """The curve of each trial, from what :meth:`run` returned."""


def run_task(task: Task, tick: Tick | None = None) -> Any:
    """Runs ``task``: what every executor calls. Module-level (picklable), for pools and Ray."""
    return task.run(tick)


def resolve_rule(ref: str | None) -> Any:
    """The update rule registered as ``ref`` (:mod:`hplists.optim.rules`), or ``"module:function"``.

    ``None`` is the default NAdamW. Rules travel between processes and
    machines by name, so that any worker that can import hplists can train
    with them.

    Example:
        >>> resolve_rule("prodigy").__name__, resolve_rule("hplists.optim.metz:rule").__name__
        ('prodigy', 'rule')
        >>> resolve_rule("hplists.optim.metz")
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: update_rule must be a registered rule name or 'package.module:function', got 'hplists.optim.metz'
    """
    if ref is None or (callable(ref) and not isinstance(ref, str)):
        return ref  # a rule itself (it must pickle for worker processes)
    if isinstance(ref, str) and ":" not in ref and "." not in ref:
        from hplists.optim.rules import RULES

        if ref not in RULES:
            raise InvalidParameterError(f"update_rule must be a registered rule name ({', '.join(RULES)}) "
                             f"or 'package.module:function', got {ref!r}")
        return RULES[ref]
    if not isinstance(ref, str) or ref.count(":") != 1:
        raise InvalidParameterError(f"update_rule must be a registered rule name or "
                         f"'package.module:function', got {ref!r}")
    module, name = ref.split(":")
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        raise InvalidParameterError(f"update_rule {ref!r} cannot be imported: {e}") from None
    if not callable(fn):
        raise InvalidParameterError(f"update_rule {ref!r} is not callable")
    return fn


@dataclasses.dataclass(frozen=True)
class TrainTask:
    """Points of one study trained together: same workload, seed, budget and update rule.

    Attributes:
        study: the study the trials belong to.
        workload: the workload (a :class:`~hplists.workloads.contract.JaxWorkload`
            instance; it travels to workers by pickling, so its class must be
            importable there).
        seed: the training seed.
        points: the points, in order.
        indices: each point's index in its study (``point_index`` in the store).
        step_budget: steps per trial (default: the workload's).
        update_rule: a registered rule name (``"prodigy"``), ``"package.module:function"``,
            a module-level rule function, or ``None`` for NAdamW.
        batching: the engine's batching for this task (default: the workload's).
    """

    study: str
    workload: Any
    seed: int
    points: tuple[Any, ...]
    indices: tuple[int, ...]
    step_budget: int | None = None
    update_rule: Any = None
    batching: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "points", tuple(self.points))
        object.__setattr__(self, "indices", tuple(int(i) for i in self.indices))
        if len(self.points) != len(self.indices):
            raise InvalidParameterError(f"task of study {self.study!r}: {len(self.points)} points but "
                             f"{len(self.indices)} indices")
        check_int("seed", self.seed, low=0)

    @property
    def budget(self) -> int:
        """Steps of one trial."""
        return int(self.workload.step_budget if self.step_budget is None else self.step_budget)

    @property
    def work(self) -> int:
        """Steps of all the task's trials (the unit of progress; ``int(h T)`` at horizon ``h``)."""
        from hplists.workloads.engine import trial_steps

        return sum(trial_steps(p, self.budget) for p in self.points)

    def subset(self, keep: Sequence[int]) -> TrainTask:
        """The same task with only the points at positions ``keep``."""
        return dataclasses.replace(self, points=tuple(self.points[i] for i in keep),
                                   indices=tuple(self.indices[i] for i in keep))

    def run(self, tick: Tick | None = None) -> list[Curve]:
        """Trains the points with the engine (:func:`train_task`)."""
        return train_task(self, tick)

    def in_worker(self) -> TrainTask:
        """:func:`for_worker`: a batching that trains inside one worker process."""
        return for_worker(self)

    def curves(self, output: Any) -> list[Curve]:
        """The engine's curves, one per point."""
        return list(output)


def chunked(task: TrainTask, size: int) -> list[TrainTask]:
    """``task`` split into tasks of at most ``size`` points (claimed and trained one by one).

    Example:
        >>> from hplists.workloads.registry import get_workload
        >>> t = TrainTask("s", get_workload("ctr_dlrm"), 0, (1, 2, 3), (0, 1, 2))
        >>> [c.indices for c in chunked(t, 2)]
        [(0, 1), (2,)]
    """
    size = check_int("chunk size", size, low=1)
    n = len(task.points)
    return [task.subset(range(lo, min(lo + size, n))) for lo in range(0, n, size)]


def for_worker(task: TrainTask) -> TrainTask:
    """``task`` with a batching that trains inside one worker process.

    A worker must not start worker processes of its own: ``"processes"``
    batching becomes ``"sequential"`` (``"processes/vmap"`` becomes
    ``"vmap"``), which is what each of the engine's own workers runs.

    Example:
        >>> from hplists.workloads.registry import get_workload
        >>> for_worker(TrainTask("s", get_workload("ctr_dlrm"), 0, (), ())).batching
        'sequential'
    """
    # a str, the task's or its workload's (cast: mypy types this `or` as Optional)
    batching = cast(str, task.batching or getattr(task.workload, "batching", "vmap"))
    if batching.startswith("processes"):
        batching = batching.partition("/")[2] or "sequential"
    return dataclasses.replace(task, batching=batching)


def train_task(task: TrainTask, progress: Tick | None = None) -> list[Curve]:
    """Trains every point of ``task`` with the engine; what :meth:`TrainTask.run` runs.

    Module-level (picklable), so process pools and Ray can run it.
    """
    from hplists.workloads import engine

    done = 0

    def report(stage: str, d: int, total: int) -> None:
        nonlocal done
        if progress is not None and d > done:
            progress(d - done)
        done = max(done, d)

    return engine.train(task.workload, list(task.points), task.seed,
                        step_budget=task.step_budget, update_rule=resolve_rule(task.update_rule),
                        batching=task.batching, progress=report)
