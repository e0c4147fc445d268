"""The training engine: many hyperparameter points of one JAX workload, as fast as the CPU allows.

``train(workload, points, seed)`` trains every point for the step budget and
returns one :class:`~hplists.curves.Curve` per point. For each point:

* every hyperparameter is its own (traced) value: the update rule is built
  *inside* the compiled program from the point's mapping, so one compiled
  program serves every point. The learning-rate schedule gets
  ``warmup_steps = int(warmup_fraction * T)`` computed on the host
  (:func:`hplists.optim.schedule.warmup_steps`), as AlgoPerf does;
* ``dropout_rate`` and ``label_smoothing`` reach :meth:`JaxWorkload.loss_fn`
  (0 when the point has none, or the workload does not declare the regularizer);
* a ``horizon`` ``h`` in (0, 1] (default 1) trains ``int(h * T)`` steps
  (:func:`trial_steps`) with the update rule's horizon (where its schedule
  ends) at that step, and stops there. Evaluations are those of the full
  budget ``T`` up to that step, plus one at it, so time-to-target is still
  measured against ``T`` (paper 002, Sec. 3.1);
* the update rule gets the training loss (``update(..., value=loss)``) for
  rules that need it (MoMo), and is evaluated at its ``eval_params`` hook's
  parameters where it declares one (Schedule-Free methods); its ``static``
  hyperparameters are Python constants, one compiled program per value
  (:mod:`hplists.optim.update_rule`);
* a point whose training loss or validation metrics become non-finite, or
  whose training loss exceeds ``workload.divergence_factor`` (default 100)
  times its value at step 1, is frozen (its parameters stop changing) and ends
  ``diverged``, with a message naming the step; its curve keeps the
  evaluations before that step. The other points go on.

Randomness depends on the seed only, never on which other points share a batch
or on a point's position in it: initial parameters, the order of training
examples and the dropout keys all derive from ``seed``. Points trained with the
same seed therefore see the same initialization, minibatches and dropout
uniforms (common random numbers: their differences are due to their
hyperparameters alone). Same point, same seed, same batching strategy: same
curve, bit for bit, whatever the other points. (``"sequential"`` and
``"processes"`` run the same single-point program and agree exactly; a
vmapped program rounds differently, so ``"vmap"`` agrees with them to float32
rounding, which training may amplify.)

Batching strategies (``batching=``, default the workload's ``batching``):

* ``"vmap"``: ``workload.vmap_size`` points in one program vectorized with
  :func:`jax.vmap` (a last, partial group is padded with copies of its last
  point); minibatches, dropout uniforms and initial parameters are shared
  across the points, so they are computed once.
* ``"sequential"``: one point at a time; the program is compiled once (the
  hyperparameters are arguments) and reused for every point.
* ``"processes"`` (or ``"processes/vmap"``): points spread over one worker
  process per core (spawned once and kept), each single-threaded and running
  ``"sequential"`` (or ``"vmap"``) on its share.

Which is fastest depends on the workload: XLA:CPU runs small operations on one
thread, so small models gain from one process per core, while large
matrix products use both cores from one process. ``benchmarks/workloads.py``
measures the three per workload and the winner is the workload's default.

The steps between two evaluations run inside one compiled loop
(:func:`jax.lax.fori_loop`), so Python dispatches once per evaluation, not once
per step. Compiled programs are cached per workload, step budget, update rule
and number of points, and compiled ahead of time before the clock starts.

What a curve records at each evaluation step ``s``:

* ``seconds``: wall-clock seconds since the point's run started (after
  compilation; initialization, training, evaluation and scoring included). For
  points trained together in one vmapped program, the batch's wall time divided
  by the number of points (the amortized cost of one trial).
* ``train_loss``: the mean training loss (with the point's dropout and label
  smoothing) over the steps since the previous evaluation.
* the metrics :meth:`JaxWorkload.score` returns for the predictions of the
  parameters after ``s`` updates on the whole validation split.
"""

from __future__ import annotations

# The engine, one concept per module: points, device data and randomness, compiled programs,
# the training loop of a group, worker processes, FLOP counts, and the entry points. The
# helpers the modules share are public in their modules; those that reproduce the engine's
# randomness and default (data, batch order, keys, rule) are re-exported here too.
from hplists.workloads.engine.data import batch_order, device_data, seed_keys
from hplists.workloads.engine.flops import trial_flops
from hplists.workloads.engine.points import hp_arrays, trial_steps
from hplists.workloads.engine.programs import (
    COMPILATION_CACHE_ENV,
    clear_cache,
    default_rule,
    enable_compilation_cache,
)
from hplists.workloads.engine.training import BATCHINGS, iter_train, train
from hplists.workloads.engine.workers import (
    WORKER_XLA_FLAGS,
    init_worker_process,
    shutdown_workers,
    stop_workers,
    terminate_pool,
    worker_count,
    worker_pids,
)

__all__ = [
    "BATCHINGS",
    "COMPILATION_CACHE_ENV",
    "WORKER_XLA_FLAGS",
    "batch_order",
    "clear_cache",
    "default_rule",
    "device_data",
    "enable_compilation_cache",
    "hp_arrays",
    "init_worker_process",
    "iter_train",
    "seed_keys",
    "shutdown_workers",
    "stop_workers",
    "terminate_pool",
    "train",
    "trial_flops",
    "trial_steps",
    "worker_count",
    "worker_pids",
]
