"""Training one group of points with divergence handling, and grouping points into programs."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from hplists._check import check_int
from hplists.curves import Curve, Status
from hplists.exceptions import HplistsError, InvalidParameterError, WorkloadBuildError
from hplists.hparams import HParams, Point
from hplists.optim.update_rule import UpdateRule, eval_params_of, static_of
from hplists.progress import phase
from hplists.workloads.contract import JaxWorkload, eval_schedule
from hplists.workloads.engine.data import batch_order, device_data, seed_keys
from hplists.workloads.engine.points import hp_arrays, trial_steps
from hplists.workloads.engine.programs import compiled_programs


def _unpad(outputs: Any, i: int | np.integer | None, n_valid: int) -> Any:
    import jax

    def cut(o: np.ndarray) -> np.ndarray:
        o = o if i is None else o[i]
        return o.reshape((-1, *o.shape[2:]))[:n_valid]

    return jax.tree.map(cut, outputs)


def train_group(workload: JaxWorkload, points: Sequence[Point], seed: int, total_steps: int,
                rule: UpdateRule, vmapped: bool, tick: Callable[[int], None],
                budget: int | None = None) -> list[Curve]:
    """Trains ``points`` together (vmapped) or one point (not vmapped); returns their curves.

    ``total_steps`` is where training (and the rule's schedule) ends; the
    evaluations are those of ``budget`` (default ``total_steps``) up to it,
    plus one at ``total_steps``.

    A vmapped group is padded to ``workload.vmap_size`` points with copies of
    its last point (trained, never scored): XLA's batched kernels round
    differently for different batch sizes, so a fixed size keeps every point's
    numbers independent of how many others it trains with.
    """
    import jax

    n = len(points)
    if vmapped:
        size = check_int("vmap_size", getattr(workload, "vmap_size", 16), low=1)
        if n > size:
            raise InvalidParameterError(f"a vmapped group holds at most vmap_size={size} points, got {n}")
        points = [*points, *[points[-1]] * (size - n)]
    elif n != 1:
        raise InvalidParameterError(f"a sequential group holds one point, got {n}")
    steps = _eval_steps(workload, total_steps, budget)
    hp = hp_arrays(points, total_steps, workload.regularizers)
    with phase("preparing data"):
        data = _build(workload, "data", lambda: device_data(workload))
    order = batch_order(seed, data.num_train, total_steps, workload.batch_size)
    keys = seed_keys(seed)
    with phase("compiling"):
        progs = compiled_programs(workload, total_steps, rule, hp, data, order, keys, vmapped)
    if not vmapped:
        hp = {k: v[0] for k, v in hp.items()}
    order_dev = jax.device_put(order)

    rows: list[list[dict[str, Any]]] = [[] for _ in range(n)]
    status = [Status.COMPLETE] * n
    message = [""] * n
    alive = np.ones(n, bool)
    t0 = time.perf_counter()
    state = _build(workload, "model", lambda: progs.init(hp, keys[0]))
    prev = ticked = 0
    for s in steps:
        state, loss = progs.chunk(state, hp, data.train, order_dev, keys[1],
                                  np.int32(prev), np.int32(s))
        ok, at, bad_loss, first, loss = (np.atleast_1d(a) for a in jax.device_get(
            (state.ok, state.diverged_at, state.bad_loss, state.first_loss, loss)))
        outputs = jax.device_get(progs.evaluate(state, data.valid)) if ok.any() else None
        newly_frozen = False
        for i in np.flatnonzero(alive):
            if not ok[i]:
                status[i] = Status.DIVERGED
                message[i] = _loss_message(int(at[i]), float(bad_loss[i]), float(first[i]),
                                           workload.divergence_factor)
                alive[i] = False
                continue
            metrics = workload.score(_unpad(outputs, i if vmapped else None, data.num_valid),
                                     data.valid_host)
            if not rows[i]:
                _check_metrics(workload, metrics)
            bad = sorted(k for k, v in metrics.items() if not math.isfinite(float(v)))
            if bad or not math.isfinite(float(loss[i])):
                what = f"validation metric(s) {bad}" if bad else "training loss"
                status[i] = Status.DIVERGED
                message[i] = f"{what} became non-finite at step {s}"
                alive[i] = False
                newly_frozen = True
                continue
            row = {"step": s, "seconds": (time.perf_counter() - t0) / n,
                   "train_loss": float(loss[i])}
            row.update({k: float(v) for k, v in metrics.items()})
            rows[i].append(row)
        tick(n * (s - prev))
        ticked += n * (s - prev)
        if not alive.any():
            break
        if newly_frozen:  # stop updating points whose metrics went bad
            frozen = np.concatenate([alive, ok[n:]]) if vmapped else np.asarray(alive[0])
            state = state._replace(ok=jax.device_put(frozen))
        prev = s
    tick(n * total_steps - ticked)  # steps that diverged points no longer need
    curves = []
    metric_names = _metric_names(rows)
    for j in range(n):
        if rows[j]:
            curves.append(Curve.from_rows(rows[j], status[j], message[j]))
        else:
            curves.append(Curve(np.zeros(0, np.int64), [], [],
                                {k: [] for k in metric_names}, status[j], message[j]))
    return curves


def _build(workload: JaxWorkload, what: str, fn: Callable[[], Any]) -> Any:
    """``fn()``; a failure there is the workload's own: a WorkloadBuildError.

    Building the data involves no point, so every failure is the workload's.
    Initializing also builds the update rule from the points, whose bad input
    hplists already names: those errors pass through as they are.
    """
    try:
        return fn()
    except WorkloadBuildError:
        raise
    except Exception as e:
        if isinstance(e, HplistsError) and what != "data":
            raise
        raise WorkloadBuildError(
            f"workload {workload.name!r}: its {what} could not be built "
            f"({type(e).__name__}: {e}); no trial of it can train") from e


def _check_metrics(workload: JaxWorkload, metrics: Any) -> None:
    """``score()`` must return a mapping that holds the workload's metric: else nothing is scored."""
    name = workload.metric.name
    if not isinstance(metrics, Mapping) or name not in metrics:
        got = sorted(map(str, metrics)) if isinstance(metrics, Mapping) else type(metrics).__name__
        raise WorkloadBuildError(
            f"workload {workload.name!r}: score() returned {got}, which lacks its metric "
            f"{name!r} (Workload.metric.name); return {{{name!r}: value, ...}}")


def _eval_steps(workload: JaxWorkload, total_steps: int, budget: int | None) -> tuple[int, ...]:
    budget = total_steps if budget is None else budget
    steps = [s for s in eval_schedule(budget, min(workload.num_evals, budget)) if s <= total_steps]
    if not steps or steps[-1] < total_steps:
        steps.append(total_steps)
    return tuple(steps)


def _loss_message(step: int, loss: float, first: float, factor: float | None) -> str:
    if not math.isfinite(loss):
        return f"training loss became non-finite at step {step}"
    return (f"training loss {loss:.4g} exceeded {factor:g} x its value at step 1 ({first:.4g}) "
            f"at step {step}")


def _metric_names(rows: list[list[dict[str, Any]]]) -> list[str]:
    for r in rows:
        if r:
            return [k for k in r[0] if k not in ("step", "seconds", "train_loss")]
    return []





def iter_in_process(workload: JaxWorkload, points: Sequence[Point], seed: int,
                    total_steps: int, rule: UpdateRule, batching: str,
                    tick: Callable[[int], None], budget: int | None = None
                    ) -> Iterator[tuple[int, Curve]]:
    """Trains one program group's points in this process; yields ``(index, curve)`` in order.

    ``batching`` is ``"vmap"`` (groups of ``workload.vmap_size`` points, see
    :func:`train_group`) or ``"sequential"`` (one point at a time). ``tick(k)``
    counts ``k`` more steps done.
    """
    if batching == "vmap":
        size = check_int("vmap_size", getattr(workload, "vmap_size", 16), low=1)
        for lo in range(0, len(points), size):
            chunk = list(points[lo:lo + size])
            for j, c in enumerate(train_group(workload, chunk, seed, total_steps, rule, True,
                                              tick, budget)):
                yield lo + j, c
    else:
        for i, p in enumerate(points):
            yield i, train_group(workload, [p], seed, total_steps, rule, False, tick, budget)[0]


@dataclasses.dataclass(frozen=True)
class _Bound:
    """An update rule with its static hyperparameters fixed (picklable, hashable)."""

    rule: Any
    static: tuple[tuple[str, Any], ...]

    def __call__(self, hp: Mapping[str, Any], total_steps: int) -> Any:
        return self.rule({**hp, **dict(self.static)}, total_steps)

    @property
    def eval_params(self) -> Any:
        return eval_params_of(self.rule)


def partition_points(points: Sequence[Point], step_budget: int, rule: UpdateRule | None
                     ) -> list[tuple[list[int], list[Point], int, Any]]:
    """Groups points that train in one program: same names, trial length and static values.

    Returns ``(indices, points, steps, rule)`` per group, in order of first
    appearance; a group's points lose their static keys, which its rule binds.
    """
    names = static_of(rule) if rule is not None else ()
    groups: dict[tuple, tuple[list[int], list[Point], int, Any]] = {}
    for i, p in enumerate(points):
        steps = trial_steps(p, step_budget)
        static: tuple[tuple[str, Any], ...] = ()
        if names:
            d = p.to_dict() if isinstance(p, HParams) else dict(p)
            static = tuple((k, d.pop(k)) for k in names if k in d)
            p = d
        names_of = p.to_dict() if isinstance(p, HParams) else p
        key = (steps, static, tuple(sorted(map(str, names_of))) if isinstance(names_of, Mapping)
               else ())
        if key not in groups:
            groups[key] = ([], [], steps, _Bound(rule, static) if static else rule)
        groups[key][0].append(i)
        groups[key][1].append(p)
    return list(groups.values())
