"""Measured speed of the built-in workloads: ``workloads/data/timings.json``.

``benchmarks/workloads.py`` writes the file: per workload, seconds and
CPU-seconds per trial (full step budget, evaluations included, compilation
excluded) under each batching strategy of the engine, and the one chosen.
``hplists workloads`` shows it; study plans use it before a store has
recorded any trial of a workload.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["current_timings", "load_timings", "measured_seconds_per_step", "trial_flops"]


def load_timings() -> dict[str, Any]:
    """The timings file as a dict (``{}`` before the benchmark has written one).

    Example:
        >>> t = load_timings()
        >>> t == {} or "workloads" in t
        True
    """
    path = resources.files("hplists.workloads.data").joinpath("timings.json")
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def current_timings() -> dict[str, dict[str, Any]]:
    """Measured entries of registered workloads at their current ``version``, by name.

    An entry measured for an older version of a workload (or for a workload no
    longer registered) describes another program and is left out.

    Example:
        >>> from hplists.workloads.registry import get_workload
        >>> all(t["version"] == get_workload(n).version for n, t in current_timings().items())
        True
    """
    from hplists.workloads.registry import get_workload

    out = {}
    for name, t in load_timings().get("workloads", {}).items():
        try:
            w = get_workload(name)
        except ValueError:
            continue
        if str(t.get("version", "1")) == str(w.version):
            out[name] = t
    return out


def measured_seconds_per_step() -> dict[str, float]:
    """Wall seconds per training step of each measured, registered workload.

    Seconds per trial of the workload's default batching divided by its step
    budget, for the entries of :func:`current_timings`.

    Example:
        >>> rates = measured_seconds_per_step()
        >>> all(r > 0 for r in rates.values())
        True
    """
    from hplists.workloads.registry import get_workload

    return {name: float(t["seconds_per_trial"]) / get_workload(name).step_budget
            for name, t in current_timings().items() if t.get("seconds_per_trial")}


def trial_flops(workload: Any, step_budget: int | None = None) -> dict[str, float]:
    """FLOPs of one trial as XLA counts them: per training step, per evaluation, in total.

    Counted on the single-point programs (``cost_analysis()`` of the compiled
    step and prediction), so the total is what any batching strategy computes
    per point: ``step * T + eval * num_evals``.
    """
    import jax
    import numpy as np

    from hplists.hparams import HParams
    from hplists.workloads.engine.data import _batch_order, _data, _keys
    from hplists.workloads.engine.points import hp_arrays
    from hplists.workloads.engine.programs import _default_rule, _make_fns
    from hplists.workloads.spec import eval_schedule

    total = workload.step_budget if step_budget is None else step_budget
    rule = _default_rule()
    hp = {k: v[0] for k, v in hp_arrays(
        [HParams(1e-3, 0.9, 0.99, warmup_fraction=0.05)], total, workload.regularizers).items()}
    data = _data(workload)
    order = _batch_order(0, data.num_train, total, workload.batch_size)
    init_key, dropout_key = _keys(0)
    init, step, _, predict = _make_fns(workload, total, rule)
    state = jax.eval_shape(init, hp, init_key)
    one_step = jax.jit(lambda s, h, t, o, k: step(np.int32(0), (s, np.float32(0)), h, t, o, k))
    step_flops = _flops(one_step.lower(state, hp, data.train, order, dropout_key).compile())
    eval_flops = _flops(jax.jit(predict).lower(state.params, data.valid).compile())
    # lax.map's loop body is counted once: scale by the number of eval batches.
    eval_flops *= int(jax.tree.leaves(data.valid)[0].shape[0])
    n_evals = len(eval_schedule(total, min(workload.num_evals, total)))
    return {"step": step_flops, "eval": eval_flops,
            "trial": step_flops * total + eval_flops * n_evals}


def _flops(compiled: Any) -> float:
    cost = compiled.cost_analysis()
    if isinstance(cost, list):
        cost = cost[0] if cost else {}
    return float((cost or {}).get("flops", 0.0))
