r"""DoWG for PyTorch, as ``optax.contrib.dowg`` computes it.

Distance over Weighted Gradients (Khaled, Mishchenko and Jin, "DoWG Unleashed:
An Efficient Universal Parameter-Free Gradient Descent Method", NeurIPS 2023,
arXiv:2305.16284, Algorithm 1) sets the step size from how far the iterates
have moved from the start, weighted by that distance over the gradients' norms.
:class:`DoWG` computes optax's ``dowg`` (``optax/contrib/_dog.py``, optax
0.2.8): the weight decay ``wd`` added to the gradient, then
``scale_by_dowg``, then the learning rate, with ``x_0`` the parameters at the
first step and norms over all parameters together::

    c   = g + wd x
    r^2 = max(r^2, ||x - x_0||^2)     # r^2 starts at eps (optax's default)
    v   = v + r^2 ||c||^2             # v starts at 0
    x   = x - lr r^2 / (sqrt(v) + eps) c

The learning rate ``lr`` is paper 002's relative schedule ``s_t``, which the
rule of :mod:`hplists.optim.lrfree` passes as optax's ``learning_rate``
(``hplists.torch_lrfree.build`` drives it with a ``LambdaLR``). As in optax,
the state accumulates on a step with ``lr = 0`` (only the update is 0).

The two scalars ``r^2`` and ``v`` live in the parameter group (one group: the
norms are over all parameters), as Python floats (float64), so
``state_dict()`` / ``load_state_dict()`` resume exactly; optax keeps them in
the parameters' dtype, so a float32 run rounds them differently (measured: a
float32 problem of 54 parameters, 200 steps with warmup and weight decay, both
end 3.4e-8 of the distance travelled from the float64 trajectory). Parameters
without a gradient are left alone (optax decays them too).

Measured agreement: ``tests/test_torch_lrfree.py``,
``test_trajectory_matches_optax_rule``, cases ``dowg-*``
(``hplists.torch_lrfree.build`` against the rule under ``jax.enable_x64``,
float64, 30 steps, three parameter tensors; no schedule, a warmup from 0
with weight decay, a horizon with another ``eps``): asserted to 1e-10 of the
parameter scale. Memory: one tensor of state per parameter (``x_0``), as
optax's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

from hplists._check import check_real
from hplists.exceptions import InvalidParameterError
from hplists.optim.torch_closure import closure_loss

__all__ = ["DoWG"]


class DoWG(torch.optim.Optimizer):
    """DoWG (module docstring), its step scaled by ``lr``.

    Args:
        params: the tensors to train (one group).
        lr: the factor of the step (paper 002's relative schedule; 1 is DoWG
            itself), ``>= 0``.
        eps: ``> 0``, in the step's denominator, and the initial squared
            distance unless ``init_estim_sq_dist`` is given (optax's 1e-4).
        weight_decay: added to the gradient times the parameter (coupled, L2).
        init_estim_sq_dist: the initial squared distance ``r^2`` (default ``eps``).

    Example:
        >>> import torch
        >>> w = torch.tensor([3.0, 4.0], dtype=torch.float64, requires_grad=True)
        >>> opt = DoWG([w], eps=1.0)
        >>> w.grad = torch.tensor([0.6, 0.8], dtype=torch.float64); opt.step()
        >>> # r^2 = max(1, 0) = 1, v = 1 * 1 = 1: the step is 1 / (1 + 1) = 0.5 times c
        >>> w.tolist()
        [2.7, 3.6]
        >>> DoWG([w], eps=0.0)
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: eps must be in (0, inf), got 0.0
    """

    def __init__(self, params: Iterable[Any], lr: float = 1.0, eps: float = 1e-4,
                 weight_decay: float = 0.0, init_estim_sq_dist: float | None = None) -> None:
        self._init_sq_dist = init_estim_sq_dist
        super().__init__(params, dict(lr=lr, eps=eps, weight_decay=weight_decay))

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Adds the (only) group after checking its hyperparameters."""
        if self.param_groups:
            raise InvalidParameterError(
                "DoWG takes one parameter group: its step size is computed from norms over "
                "all parameters together")
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        check_real("lr", group["lr"], 0.0)
        check_real("eps", group["eps"], 0.0, low_open=True)
        check_real("weight_decay", group["weight_decay"], 0.0)
        start = group["eps"] if self._init_sq_dist is None else self._init_sq_dist
        group.setdefault("estim_sq_dist", check_real("init_estim_sq_dist", start, 0.0))
        group.setdefault("weighted_sq_norm_grads", 0.0)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter with a gradient; returns ``closure()``'s loss."""
        loss = closure_loss(closure)
        group = self.param_groups[0]
        params = [p for p in group["params"] if p.grad is not None]
        if not params:
            return loss
        if any(p.grad.is_sparse for p in params):
            raise RuntimeError("DoWG does not support sparse gradients")
        wd, eps = group["weight_decay"], group["eps"]
        for p in params:
            if not self.state[p]:
                self.state[p]["x0"] = p.detach().clone(memory_format=torch.preserve_format)
        updates = [p.grad if wd == 0.0 else torch.add(p.grad, p, alpha=wd) for p in params]
        sq_dist = float(sum(torch.dist(p, self.state[p]["x0"]).square() for p in params))
        estim = max(group["estim_sq_dist"], sq_dist)
        weighted = estim * float(sum(torch.linalg.vector_norm(u).square() for u in updates)) \
            + group["weighted_sq_norm_grads"]
        size = group["lr"] * estim / (math.sqrt(weighted) + eps)
        for p, u in zip(params, updates, strict=True):
            p.add_(u, alpha=-size)
        group["estim_sq_dist"], group["weighted_sq_norm_grads"] = estim, weighted
        return loss
