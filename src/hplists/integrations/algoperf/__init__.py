"""AlgoPerf submissions that run hplists' points with the rule they are defined for.

External tuning: a search space of NAdamW points, one trial each. Self-tuning:
one point of any list (``self_tuning`` in either module,
:func:`~hplists.integrations.algoperf.common.self_tuning_shim`; docs/algoperf.md).

hplists' points are defined for ``optax.nadamw`` with a linear warmup from 0
and a cosine decay to 0 at the horizon (:mod:`hplists.optim.schedule`).
AlgoPerf's own NAdamW baselines differ (``docs/algoperf.md``: their Nesterov
term is bias-corrected by ``1 / (1 - b1^t)`` instead of ``1 / (1 - b1^(t+1))``,
and the PyTorch one starts the warmup at ``1e-10 lr`` and climbs back after the
horizon), so a list exported for AlgoPerf and run by them runs under another
rule. These modules run the rule the points are defined for:

* :mod:`~hplists.integrations.algoperf.pytorch_submission`:
  ``hplists.torch.NAdamW`` (``optax.nadamw`` in PyTorch) and
  ``hplists.torch.WarmupCosineFactor``;
* :mod:`~hplists.integrations.algoperf.jax_submission`:
  ``hplists.optax.build`` (``optax.nadamw`` with the schedule), jitted with
  AlgoPerf's shardings (replicated state, batch split along its first axis).

Each defines AlgoPerf's five submission functions at module level, with the
argument names of ``algoperf/spec.py``: ``init_optimizer_state``,
``update_params``, ``prepare_for_eval``, ``data_selection`` and
``get_batch_size``. :mod:`~hplists.integrations.algoperf.common` reads the
trial's hyperparameters (the keys ``hplists export NAME --format algoperf``
writes) and sets the horizon to ``workload.step_hint``.

What the submissions read from the workload: ``step_hint`` (the horizon),
``model_fn(params=, augmented_and_preprocessed_input_batch=, model_state=,
mode=, rng=, update_batch_norm=, dropout_rate=)`` returning ``(logits,
model_state)``, ``loss_fn(label_batch=, logits_batch=, mask_batch=,
label_smoothing=)`` returning a dict with ``summed`` and ``n_valid_examples``,
and, if present, ``metrics_logger`` (``append_scalar_metrics(dict, step)``,
every 100 steps). From the batch: ``targets`` and, if present, ``weights``.
Nothing else (no ``param_shapes``, ``model_params_types`` or ``loss_type``).

Running one (``docs/algoperf.md``): write :func:`common.shim` into the AlgoPerf
checkout and pass that file as ``--submission_path``::

    python -c "from hplists.integrations.algoperf import shim; print(shim('pytorch'), end='')" \\
        > hplists_nadamw_pytorch.py
    hplists export nadamw-paper --format algoperf -o space.json
    python submission_runner.py --framework=pytorch --workload=mnist \\
        --submission_path=hplists_nadamw_pytorch.py --tuning_search_space=space.json \\
        --experiment_dir=/tmp/exp --experiment_name=hplists

Importing this package needs neither PyTorch, JAX nor algoperf.
"""

from hplists.integrations.algoperf.common import (
    SUBMISSION_KEYS,
    SelfTuning,
    Trial,
    horizon,
    read_hyperparameters,
    read_trial,
    self_tuning_shim,
    shim,
)

__all__ = ["SUBMISSION_KEYS", "SelfTuning", "Trial", "horizon", "read_hyperparameters",
           "read_trial", "self_tuning_shim", "shim"]
