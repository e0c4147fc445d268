r"""COCOB-Backprop for PyTorch, as ``optax.contrib.cocob`` computes it.

COntinuous COin Betting (Orabona and Tommasi, "Training Deep Networks without
Learning Rates Through Coin Betting", NeurIPS 2017, arXiv:1705.07795,
Algorithm 2) bets a fraction of its accumulated reward on each coordinate's
gradient sign, and needs no learning rate. :class:`COCOB` computes optax's
``cocob`` (``optax/contrib/_cocob.py``, optax 0.2.8): the weight decay
``wd`` added to the gradient, then ``scale_by_cocob``, per coordinate, with
``x_0`` the parameters at the first step::

    c = g + wd x
    L = max(L, |c|)                 # L starts at eps
    G = G + |c|                     # G, R and C start at 0
    R = max(R - c (x - x_0), 0)
    C = C - c
    u = x_0 + C / (L max(G + L, alpha L)) (L + R) - x
    x = x + lr u

and the update ``u`` scaled by the group's ``lr``: paper 002's relative
schedule ``s_t``, which the rule of :mod:`hplists.optim.lrfree` multiplies
into COCOB's output (``optax.scale_by_schedule`` after ``cocob``), since a
learning rate passed to optax's ``cocob`` multiplies its input, and COCOB is
invariant to that. With ``lr = 1`` this is ``optax.contrib.cocob`` itself.

Measured agreement: ``tests/test_torch_lrfree.py``,
``test_trajectory_matches_optax_rule``, cases ``cocob-*``
(``hplists.torch_lrfree.build`` against the rule under
``jax.enable_x64``, float64, 30 steps, three parameter tensors; no schedule,
a warmup from 0 with weight decay, a horizon, another ``alpha``): asserted to
1e-10 of the parameter scale. Memory: five tensors of state per parameter
(``x_0``, ``C``, ``L``, ``G``, ``R``), as optax's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from hplists._check import check_real
from hplists.optim.torch_closure import closure_loss

__all__ = ["COCOB"]


class COCOB(torch.optim.Optimizer):
    """COCOB-Backprop (module docstring), its update scaled by ``lr``.

    Args:
        params: tensors or parameter groups.
        lr: the factor of the update (paper 002's relative schedule; 1 is COCOB
            itself). Not a learning rate: COCOB has none.
        alpha: the fraction to bet, ``> 0`` (100, the paper's and optax's).
        eps: the initial gradient scale ``L``, ``> 0``.
        weight_decay: added to the gradient times the parameter (coupled, L2).

    Example:
        >>> import torch
        >>> w = torch.tensor([1.0], requires_grad=True)
        >>> opt = COCOB([w])
        >>> w.grad = torch.tensor([0.5]); opt.step()
        >>> # L = 0.5, G = 0.5, R = 0, C = -0.5: u = -0.5 / (0.5 max(1, 50)) 0.5 = -0.01
        >>> round(w.item(), 6)
        0.99
        >>> COCOB([w], alpha=0.0)
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: alpha must be in (0, inf), got 0.0
    """

    def __init__(self, params: Iterable[Any], lr: float = 1.0, alpha: float = 100.0,
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay))

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Adds a group after checking its hyperparameters."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        check_real("lr", group["lr"], 0.0)
        check_real("alpha", group["alpha"], 0.0, low_open=True)
        check_real("eps", group["eps"], 0.0, low_open=True)
        check_real("weight_decay", group["weight_decay"])

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter with a gradient; returns ``closure()``'s loss."""
        loss = closure_loss(closure)
        for group in self.param_groups:
            lr, alpha, eps, wd = group["lr"], group["alpha"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("COCOB does not support sparse gradients")
                state = self.state[p]
                if not state:
                    state["x0"] = p.detach().clone(memory_format=torch.preserve_format)
                    state["cumulative_gradients"] = torch.zeros_like(p)
                    state["scale"] = torch.full_like(p, eps)
                    state["subgradients"] = torch.zeros_like(p)
                    state["reward"] = torch.zeros_like(p)
                x0, cumulative = state["x0"], state["cumulative_gradients"]
                scale, subgradients, reward = state["scale"], state["subgradients"], state["reward"]
                # In place, two temporaries per tensor (a and b), rounded as above.
                c = p.grad if wd == 0.0 else torch.add(p.grad, p, alpha=wd)
                a = c.abs()
                torch.maximum(scale, a, out=scale)
                subgradients.add_(a)
                torch.sub(p, x0, out=a)
                reward.addcmul_(c, a, value=-1.0).clamp_min_(0.0)
                cumulative.sub_(c)
                b = scale * alpha
                torch.maximum(torch.add(subgradients, scale, out=a), b, out=a).mul_(scale)
                torch.div(cumulative, a, out=a)  # the bet
                a.mul_(torch.add(scale, reward, out=b)).add_(x0).sub_(p)  # the update
                p.add_(a, alpha=lr)
        return loss
