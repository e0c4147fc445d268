"""The engine's public entry points: ``train`` and ``iter_train``."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator, Sequence

from hplists._check import check_choice, check_int
from hplists.curves import Curve
from hplists.exceptions import InvalidParameterError
from hplists.hparams import Point
from hplists.optim.update_rule import UpdateRule
from hplists.progress import StageBar, StepProgressFn
from hplists.workloads.contract import JaxWorkload
from hplists.workloads.engine.loop import iter_in_process, partition_points
from hplists.workloads.engine.points import hp_arrays
from hplists.workloads.engine.programs import default_rule
from hplists.workloads.engine.workers import iter_in_workers

BATCHINGS = ("vmap", "sequential", "processes", "processes/vmap", "processes/sequential")



def iter_train(
    workload: JaxWorkload,
    points: Sequence[Point],
    seed: int = 0,
    *,
    step_budget: int | None = None,
    update_rule: UpdateRule | None = None,
    batching: str | None = None,
    progress: StepProgressFn | bool | None = None,
) -> Iterator[tuple[int, Curve]]:
    """Like :func:`train`, but yields ``(index, curve)`` as soon as each point finishes.

    Points finish in batches, not necessarily in order (``"processes"``).
    """
    if not isinstance(workload, JaxWorkload):
        raise InvalidParameterError(
            f"workload must be a JaxWorkload, got {type(workload).__name__}; other workloads "
            "train themselves in their run() method"
        )
    seed = check_int("seed", seed, low=0)
    total = check_int("step_budget", workload.step_budget if step_budget is None else step_budget,
                      low=1)
    batching = check_choice("batching", batching or workload.batching, BATCHINGS)
    points = list(points)
    if not points:
        hp_arrays(points, total, workload.regularizers)  # raises: no points
    groups = partition_points(points, total, update_rule)
    for _, pts, steps, _ in groups:  # validate before starting anything
        hp_arrays(pts, steps, workload.regularizers)
    total_work = sum(len(g[0]) * g[2] for g in groups)
    bar = StageBar(progress)
    tick = bar.start(workload.name, total_work)
    try:
        inner = batching.partition("/")[2] or "sequential"
        if batching.startswith("processes") and multiprocessing.current_process().daemon:
            # A daemonic process (e.g. another pool's worker) may not start workers.
            batching = inner
        for idx, pts, steps, rule in groups:
            budget = None if steps == total else total
            if batching.startswith("processes"):
                it = iter_in_workers(workload, pts, seed, steps, rule, inner, tick, budget)
            else:
                it = iter_in_process(workload, pts, seed, steps, rule or default_rule(),
                                     batching, tick, budget)
            for j, curve in it:
                yield idx[j], curve
    finally:
        bar.stop()


def train(
    workload: JaxWorkload,
    points: Sequence[Point],
    seed: int = 0,
    *,
    step_budget: int | None = None,
    update_rule: UpdateRule | None = None,
    batching: str | None = None,
    progress: StepProgressFn | bool | None = None,
) -> list[Curve]:
    """Trains every point on ``workload`` for ``step_budget`` steps; one curve per point, in order.

    Args:
        workload: a :class:`~hplists.workloads.contract.JaxWorkload`.
        points: :class:`~hplists.hparams.HParams`, or mappings of hyperparameter
            names to numbers for other update rules (all with the same names).
        seed: controls initialization, the order of training examples and
            dropout; the data are fixed by the workload's ``data_seed``.
        step_budget: number of steps T (default: the workload's). Evaluations
            follow ``eval_schedule(T, min(num_evals, T))``.
        update_rule: ``(hp, T) -> optax.GradientTransformation``, called
            inside the compiled program with traced values (default:
            :func:`hplists.optax.rule`, NAdamW with warmup and cosine decay).
            For ``"processes"`` it must be picklable (a module-level function).
        batching: ``"vmap"``, ``"sequential"``, ``"processes"`` or
            ``"processes/vmap"``; default the workload's ``batching``.
        progress: ``True`` for a progress bar with ETA, or a function called
            with ``(workload_name, steps_done, steps_total)`` counting every
            point's steps (:class:`hplists.progress.StageBar`'s convention).

    Example:
        >>> from hplists import HParams
        >>> from hplists.workloads.engine import train
        >>> from hplists.workloads.registry import get_workload
        >>> w = get_workload("ctr_dlrm")
        >>> curves = train(w, [HParams(2e-3, 0.9, 0.99, warmup_fraction=0.05),
        ...                    HParams(1e3, 0.9, 0.99)], seed=0, step_budget=40,
        ...                batching="sequential")
        >>> [c.status.value for c in curves]
        ['complete', 'diverged']
        >>> curves[1].message
        'training loss ... exceeded 100 x its value at step 1 (0.7...) at step 2'
        >>> curves[0].steps[:3].tolist()
        [2, 4, 6]
    """
    out: list[Curve | None] = [None] * len(points)
    for i, curve in iter_train(workload, points, seed, step_budget=step_budget,
                               update_rule=update_rule, batching=batching, progress=progress):
        out[i] = curve
    return out  # type: ignore[return-value]
