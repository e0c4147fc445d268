"""What a trial computes: its FLOPs, as XLA counts them on the engine's compiled programs."""

from __future__ import annotations

from typing import Any

from hplists.hparams import HParams
from hplists.workloads.contract import JaxWorkload, eval_schedule
from hplists.workloads.engine.data import batch_order, device_data, seed_keys
from hplists.workloads.engine.points import hp_arrays
from hplists.workloads.engine.programs import default_rule, point_functions

__all__ = ["trial_flops"]


def trial_flops(workload: JaxWorkload, step_budget: int | None = None) -> dict[str, float]:
    """FLOPs of one trial as XLA counts them: per training step, per evaluation, in total.

    Counted on the single-point programs (``cost_analysis()`` of the compiled
    step and prediction), so the total is what any batching strategy computes
    per point: ``step * T + eval * num_evals``.
    """
    import jax
    import numpy as np

    total = workload.step_budget if step_budget is None else step_budget
    rule = default_rule()
    hp = {k: v[0] for k, v in hp_arrays(
        [HParams(1e-3, 0.9, 0.99, warmup_fraction=0.05)], total, workload.regularizers).items()}
    data = device_data(workload)
    order = batch_order(0, data.num_train, total, workload.batch_size)
    init_key, dropout_key = seed_keys(0)
    init, step, _, predict = point_functions(workload, total, rule)
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
