"""Metz et al. (2020)'s ``nadamw`` update rule and schedule for PyTorch.

The formulas of :mod:`hplists.optim.metz` (the JAX rule the training engine
runs, checked there against opt_list's ``nadamw_update`` and
``get_cosine_learning_rate_fn``), as a ``torch.optim.Optimizer`` and a learning
rate scheduler, so that the ``metz-nadamw`` list trains PyTorch models too.
Per parameter, at 0-based step ``s`` (``t = s + 1``)::

    g'    = g - l2 * theta
    m     = b1 m + (1 - b1) g'
    v     = b2 v + (1 - b2) g'^2
    lr_t  = lr(s) * sqrt(1 - b2^t) / (1 - b1^t)
    n     = b1 m + (1 - b1) g'   if nesterov   else   m
    theta = theta - lr_t * n / (sqrt(v) + eps) - lr_t * wd * theta

with ``lr(s)`` the warmup, constant and half-cosine schedule of
:func:`hplists.optim.metz.schedule`, which :class:`MetzSchedule` writes into
each parameter group's ``lr``. Each tensor is updated in its own dtype, or in
float32 when that is narrower, and keeps its moments in its own dtype, as the
JAX rule does. Measured against the JAX rule (``tests/test_optim_torch_metz.py``,
the list's 5 points, 300 steps of a noisy quadratic): at most 1e-12 of the
distance travelled apart in float64. In float32 the scalars differ: the JAX
rule computes ``beta1``, ``beta2``, the schedule and ``lr_t`` in float32, as
opt_list's JAX ports do, and PyTorch in float64 (Python numbers), as
opt_list's PyTorch port does, before each product rounds to float32. With the
fifth point's ``beta2 = 0.99998``, ``1 - beta2`` of a float32 ``beta2`` is 3e-4
off, and so is the JAX rule's float32 trajectory from the float64 one;
PyTorch's is 6e-7 off.

Unlike the optax-style rules of :mod:`hplists.optim.torch_nadamw`, the bias
correction multiplies the step size and ``eps`` is added before it ("epsilon
hat"), and the decoupled weight decay is scaled by ``lr_t``
(:mod:`hplists.optim.metz` lists the differences).

Example:
    >>> import torch
    >>> from hplists.lists import get_list
    >>> net = torch.nn.Linear(3, 1)
    >>> opt, sched = build(get_list("metz-nadamw")[0], net, total_steps=100)
    >>> type(opt).__name__, f'{opt.param_groups[0]["lr"]:.4g}'  # no warmup in the first point
    ('MetzNAdamW', '0.001195')
    >>> net(torch.ones(2, 3)).square().mean().backward()
    >>> opt.step(); sched.step()
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler

from hplists._check import check_int, check_real
from hplists.exceptions import InvalidParameterError
from hplists.hparams import point_dict
from hplists.optim import metz
from hplists.optim.torch_closure import closure_loss

__all__ = ["MetzNAdamW", "MetzSchedule", "build"]


class MetzNAdamW(torch.optim.Optimizer):
    """Metz et al.'s ``nadamw`` update (module docstring) at each group's ``lr``, the value
    of the schedule at this step (:class:`MetzSchedule` sets it; without a scheduler
    the learning rate stays constant).

    Args:
        params: tensors or parameter groups.
        lr: the learning rate ``lr(s)`` (a scheduler changes it).
        betas: ``(b1, b2)``, each in ``[0, 1)``.
        eps: added to ``sqrt(v)`` (before the bias correction), ``>= 0``.
        weight_decay: the decoupled decay ``wd``, multiplied by ``lr_t``.
        l2_weight_decay: ``l2``, *subtracted* from the gradient times the parameter,
            as every port of opt_list does (module docstring of :mod:`hplists.optim.metz`).
        nesterov: Nesterov's numerator ``b1 m + (1 - b1) g'`` instead of ``m``.

    Example:
        >>> import torch
        >>> w = torch.tensor([1.0], requires_grad=True)
        >>> opt = MetzNAdamW([w], lr=0.1, betas=(0.5, 0.75), eps=0.1, weight_decay=0.2,
        ...                  l2_weight_decay=0.1, nesterov=True)
        >>> w.grad = torch.tensor([0.5]); opt.step()
        >>> round(w.item(), 6)  # g' = 0.4, m = 0.2, v = 0.04, lr_t = 0.1, n = 0.3
        0.88
        >>> MetzNAdamW([w], betas=(0.9, 1.0))
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: beta2 must be in [0, 1), got 1.0
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        l2_weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      l2_weight_decay=l2_weight_decay, nesterov=nesterov))

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Adds a group after checking its hyperparameters."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        check_real("lr", group["lr"], 0.0)
        betas = group["betas"]
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise InvalidParameterError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        for name, b in zip(("beta1", "beta2"), betas, strict=True):
            check_real(name, b, 0.0, 1.0, high_open=True)
        check_real("eps", group["eps"], 0.0)
        check_real("weight_decay", group["weight_decay"])
        check_real("l2_weight_decay", group["l2_weight_decay"])
        if group["nesterov"] not in (True, False):
            raise InvalidParameterError(f"nesterov must be True or False, got "
                                        f"{group['nesterov']!r}")

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter with a gradient; returns ``closure()``'s loss."""
        loss = closure_loss(closure)
        for group in self.param_groups:
            b1, b2 = group["betas"]
            eps, wd, l2 = group["eps"], group["weight_decay"], group["l2_weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("MetzNAdamW does not support sparse gradients")
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                t = state["step"] = state["step"] + 1
                lr_t = group["lr"] * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
                dtype = torch.promote_types(p.dtype, torch.float32)
                theta = p.to(dtype)
                g = p.grad.to(dtype) - theta * l2
                m = state["exp_avg"].to(dtype) * b1 + g * (1.0 - b1)
                v = state["exp_avg_sq"].to(dtype) * b2 + g.square() * (1.0 - b2)
                n = m * b1 + g * (1.0 - b1) if group["nesterov"] else m
                update = (n * lr_t) / (v.sqrt() + eps) + theta * (lr_t * wd)
                p.copy_(theta - update)
                state["exp_avg"].copy_(m)
                state["exp_avg_sq"].copy_(v)
        return loss


class MetzSchedule(LRScheduler):
    """Each group's ``lr`` at step ``s``: :func:`hplists.optim.metz.schedule` of its
    initial ``lr`` (linear warmup from 0 over ``max(w, c) T`` steps when ``w > 0``,
    constant until ``c T``, then a half cosine to ``m lr`` at ``T``; ``lr(T)``
    after it), computed in float64 from the step, not as a running product.

    Example:
        >>> import torch
        >>> opt = MetzNAdamW([torch.zeros(1, requires_grad=True)], lr=0.1)
        >>> sched = MetzSchedule(opt, total_steps=10, min_learning_rate_mult=0.0,
        ...                      constant_fraction=0.3, warmup_fraction=0.1)
        >>> lrs = []
        >>> for _ in range(11):
        ...     lrs.append(round(opt.param_groups[0]["lr"], 4)); opt.step(); sched.step()
        >>> lrs  # warmup over 3 steps (max(w, c) T), then a half cosine from step 3 to 10
        [0.0, 0.0333, 0.0667, 0.1, 0.095, 0.0812, 0.0611, 0.0389, 0.0188, 0.005, 0.0]
    """

    def __init__(self, optimizer: torch.optim.Optimizer, total_steps: int,
                 min_learning_rate_mult: float, constant_fraction: float,
                 warmup_fraction: float, last_epoch: int = -1) -> None:
        self.total_steps = check_int("total_steps", total_steps, low=1)
        self.min_learning_rate_mult = check_real("min_learning_rate_mult",
                                                 min_learning_rate_mult, 0.0)
        self.constant_fraction = check_real("constant_fraction", constant_fraction, 0.0, 1.0)
        self.warmup_fraction = check_real("warmup_fraction", warmup_fraction, 0.0, 1.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:  # type: ignore[override]
        """The schedule's value at the current step, per group."""
        return [metz.schedule(self.last_epoch, self.total_steps, base, self.min_learning_rate_mult,
                              self.constant_fraction, self.warmup_fraction)
                for base in self.base_lrs]


def build(point: Mapping[str, Any], params: Any, total_steps: int
          ) -> tuple[MetzNAdamW, MetzSchedule]:
    """``(optimizer, scheduler)`` of a Metz et al. point (the keys of
    :data:`hplists.optim.metz.KEYS`) for ``total_steps``: call ``optimizer.step()``
    then ``scheduler.step()`` each step. ``params``: a ``torch.nn.Module``, tensors
    or parameter groups.

    Example:
        >>> import torch
        >>> from hplists.lists import get_list
        >>> opt, sched = build(get_list("metz-nadamw")[1], torch.nn.Linear(3, 1), 1000)
        >>> opt.param_groups[0]["lr"], sched.constant_fraction > sched.warmup_fraction > 0
        (0.0, True)
        >>> # warmup from 0 through the constant phase: max(w, c) T steps, not w T
        >>> for _ in range(162):
        ...     opt.step(); sched.step()
        >>> f'{opt.param_groups[0]["lr"] / get_list("metz-nadamw")[1]["learning_rate"]:.3f}'
        '0.500'
        >>> build({"learning_rate": 0.1}, torch.nn.Linear(3, 1), 1000)
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: Metz et al. point is missing key(s) ['adamw_weight_decay', 'beta1', 'beta2', 'constant_fraction', 'epsilon', 'l2_weight_decay', 'min_learning_rate_mult', 'use_nesterov', 'warmup_fraction']
    """
    hp = metz.check_point(point_dict(point) if not isinstance(point, Mapping) else point)
    total_steps = check_int("total_steps", total_steps, low=1)
    if isinstance(params, torch.nn.Module):
        params = params.parameters()
    optimizer = MetzNAdamW(params, lr=hp["learning_rate"], betas=(hp["beta1"], hp["beta2"]),
                           eps=hp["epsilon"], weight_decay=hp["adamw_weight_decay"],
                           l2_weight_decay=hp["l2_weight_decay"],
                           nesterov=hp["use_nesterov"] > 0.5)
    scheduler = MetzSchedule(optimizer, total_steps, hp["min_learning_rate_mult"],
                             hp["constant_fraction"], hp["warmup_fraction"])
    return optimizer, scheduler
