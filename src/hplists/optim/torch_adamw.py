"""AdamW in PyTorch as :mod:`hplists.optim.adamw` (``optax.adamw`` and the warmup-cosine schedule).

The learning-rate-free study's AdamW baselines (paper 002's AdamW searches)
and AlgoPerf's target-setting AdamW train with ``optax.adamw`` driven by
:func:`hplists.optim.schedule.warmup_cosine_factor`. ``torch.optim.AdamW``
computes the same update, with the learning rate ``lr_t`` of a ``LambdaLR``
over :class:`hplists.optim.torch_nadamw.WarmupCosineFactor`::

    optax:  theta_t = theta_{t-1} - lr_t (m_hat / (sqrt(v_hat) + eps) + wd theta_{t-1})
    torch:  theta'  = theta_{t-1} (1 - lr_t wd)
            theta_t = theta' - (lr_t / (1 - b1^t)) m_t / (sqrt(v_t) / sqrt(1 - b2^t) + eps)

with ``m_hat = m_t / (1 - b1^t)`` and ``v_hat = v_t / (1 - b2^t)``: the same
numbers, rounded in another order (float64 trajectories agree to 1e-15,
``tests/test_optim_torch_adamw.py``). Every parameter is decayed, as the rule
does without a mask.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch.optim.lr_scheduler import LambdaLR

from hplists._check import check_int
from hplists.optim import adamw
from hplists.optim._traced import require, warmup
from hplists.optim.torch_nadamw import WarmupCosineFactor

__all__ = ["build"]


def build(point: Mapping[str, Any], params: Any, total_steps: int
          ) -> tuple[torch.optim.AdamW, LambdaLR]:
    """``(optimizer, scheduler)`` of an AdamW point for ``total_steps`` steps.

    Args:
        point: ``learning_rate``, ``beta1``, ``beta2``, ``weight_decay``,
            ``warmup_fraction`` (or ``warmup_steps``) and optional ``eps``
            (default 1e-8): the keys :func:`hplists.optim.adamw.rule` reads.
        params: a ``torch.nn.Module``, tensors or parameter groups.
        total_steps: where the schedule reaches 0 (call ``optimizer.step()``
            then ``scheduler.step()`` each step).

    Example:
        >>> import torch
        >>> point = {"learning_rate": 1e-2, "beta1": 0.9, "beta2": 0.99,
        ...          "weight_decay": 0.1, "warmup_fraction": 0.1}
        >>> opt, sched = build(point, torch.nn.Linear(3, 1), total_steps=100)
        >>> opt.param_groups[0]["lr"]  # warmup from 0
        0.0
        >>> build({"learning_rate": 1e-2}, torch.nn.Linear(3, 1), 100)
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: update rule 'adamw' needs hyperparameter(s) ['beta1', 'beta2', 'weight_decay', 'warmup_fraction (or warmup_steps)']; the point has ['learning_rate']
    """
    require(point, "adamw", adamw.HYPERPARAMETERS)
    total_steps = check_int("total_steps", total_steps, low=1)
    if isinstance(params, torch.nn.Module):
        params = params.parameters()
    optimizer = torch.optim.AdamW(
        params, lr=float(point["learning_rate"]),
        betas=(float(point["beta1"]), float(point["beta2"])),
        eps=float(point.get("eps", 1e-8)), weight_decay=float(point["weight_decay"]))
    return optimizer, LambdaLR(optimizer, WarmupCosineFactor(warmup(point, total_steps),
                                                             total_steps))
