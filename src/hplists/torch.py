"""PyTorch entry point: NAdamW as ``optax.nadamw`` computes it, and its schedule.

Agreement with optax, and how it is measured: :mod:`hplists.optim.torch_nadamw`.

``hplists.torch.build(point, model, total_steps)`` returns ``(optimizer,
scheduler)`` for the usual ``optimizer.step(); scheduler.step()`` loop.
Importing this module needs ``torch``.

Example:
    >>> import torch, hplists
    >>> point = hplists.get_list("nadamw-paper").points[0]
    >>> opt, sched = hplists.torch.build(point, torch.nn.Linear(3, 1), total_steps=1000)
    >>> type(opt).__name__, opt.param_groups[0]["lr"]  # warmup starts at 0
    ('NAdamW', 0.0)
"""

from hplists.optim.torch_nadamw import (
    NAdamW,
    WarmupCosineFactor,
    build,
    decay_matrices,
    param_groups,
)

__all__ = ["NAdamW", "WarmupCosineFactor", "build", "decay_matrices", "param_groups"]
