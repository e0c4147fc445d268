r"""MoMo and MoMo-Adam for PyTorch, as ``optax.contrib.momo`` and ``momo_adam`` compute them.

MoMo (Schaipp, Ohana, Eickenberg, Defazio and Gower, "MoMo: Momentum Models
for Adaptive Learning Rates", ICML 2024, arXiv:2305.07583) takes a momentum
step whose size is the smaller of the learning rate and a Polyak-type step
built from the loss, its running average and a lower bound of the loss
(here 0, as in optax's default and paper 002's rules). Both optimizers
transcribe optax 0.2.8 (``optax/contrib/_momo.py``) without the adaptive lower
bound. With ``x`` all parameters as one vector, ``g`` their gradient, ``f``
the batch loss, ``lr`` the learning rate of this step and ``wd`` the weight
decay, step ``k = 1, 2, ...`` of MoMo-Adam is::

    f_bar = b1 f_bar + (1 - b1) f              # f_bar, gamma, m, v start at 0
    m     = b1 m + (1 - b1) g
    v     = b2 v + (1 - b2) g^2
    D     = eps + sqrt(v / (1 - b2^k))
    gamma = b1 gamma + (1 - b1) <g, x>
    t     = max((1 + lr wd) (f_bar - gamma) + <m, x>, 0) / <m, m / D>   (0 if <m, m / D> <= eps)
    tau   = min(lr / (1 - b1^k), t)
    x     = x - lr wd / (1 + lr wd) x - tau m / D

and of MoMo, with its momentum ``beta`` (``b = 0`` at the first step, so that
the averages start at the first values, ``beta`` after)::

    f_bar = b f_bar + (1 - b) f;  m = b m + (1 - b) g;  gamma = b gamma + (1 - b) <g, x>
    t     = max((1 + lr wd) (f_bar - gamma) + <m, x>, 0) / ||m||^2   (0 if ||m||^2 <= eps)
    tau   = min(lr, t)
    x     = x - lr wd / (1 + lr wd) x - tau m

(``eps`` in the test of the denominator is the machine epsilon of the
parameters' dtype.) The weight decay is optax's: ``x / (1 + lr wd)`` before
the step, not after it as the ``momo-opt`` package divides
(``docs/lrfree-torch.md``). ``lr`` is the group's learning rate: in paper
002's rules the cap times the relative schedule ``s_t``, which a
``LambdaLR`` on a base learning rate of the cap gives.

Both need the batch loss: ``optimizer.step(loss=loss)`` (the loss of the
gradients in ``.grad``), or ``optimizer.step(closure)`` with a closure that
computes the loss and the gradients, as in ``torch.optim``. The sums run over
the parameters of the (single) parameter group that have a gradient: as in
``torch.optim``, a parameter without one (frozen, or unused by the loss) is
left alone, neither decayed nor counted, which is optax's rule on the tree of
the others. A step in which no parameter has a gradient changes nothing. The
scalars (``f_bar``, ``gamma``, the inner products) are Python floats
(float64), kept in the parameter group, so ``state_dict()`` saves them.

Measured agreement: ``tests/test_torch_lrfree.py``,
``test_trajectory_matches_optax_rule``, cases ``momo-*`` and ``momo_adam-*``
(``hplists.torch_lrfree.build`` against the rules under ``jax.enable_x64``,
float64, 30 steps, three parameter tensors, the loss passed to both): asserted
to 1e-10 of the parameter scale.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

from hplists._check import check_real
from hplists.exceptions import InvalidParameterError
from hplists.optim.torch_closure import closure_loss

__all__ = ["MoMo", "MoMoAdam"]


class _MoMoBase(torch.optim.Optimizer):
    """What MoMo and MoMo-Adam share: one parameter group, the loss, the update of ``x``."""

    _name = "MoMo"
    #: Where ``step()`` takes the loss when given neither a loss nor a closure: set by a
    #: framework whose loop calls ``optimizer.step()`` without arguments
    #: (``hplists.integrations.transformers`` sets it to the Trainer's step loss).
    loss_source: Callable[[], Any] | None = None

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Adds the (only) group after checking its hyperparameters."""
        if self.param_groups:
            raise InvalidParameterError(
                f"{self._name} takes one parameter group: its step size is computed from "
                "inner products over all parameters together")
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        check_real("lr", group["lr"], 0.0)
        check_real("weight_decay", group["weight_decay"], 0.0)
        group.setdefault("step", 0)
        group.setdefault("loss_average", 0.0)
        group.setdefault("gamma", 0.0)

    def _loss(self, closure: Callable[[], Any] | None, loss: Any) -> tuple[Any, float]:
        if closure is not None and loss is not None:
            raise InvalidParameterError(f"{self._name}.step takes the loss or a closure, not both")
        value = closure_loss(closure) if closure is not None else loss
        if value is None and self.loss_source is not None:
            value = self.loss_source()
        if value is None:
            raise InvalidParameterError(
                f"{self._name} needs the batch loss: optimizer.step(loss=loss), with the loss "
                "whose gradients are in .grad, or optimizer.step(closure)")
        number = float(value)
        if not math.isfinite(number):
            raise InvalidParameterError(f"{self._name}: the loss must be finite, got {number}")
        return value, number

    def _begin(self, closure: Callable[[], Any] | None, loss: Any
               ) -> tuple[Any, float, dict[str, Any], list[torch.Tensor], list[torch.Tensor]]:
        """The loss to return and its value, the group, its parameters and their gradients."""
        returned, f = self._loss(closure, loss)
        group = self.param_groups[0]
        params = [p for p in group["params"] if p.grad is not None]
        return returned, f, group, params, self._gradients(params)

    def _step_size(self, group: dict[str, Any], params: list[torch.Tensor], norm: float,
                   iprod: float, cap: float) -> tuple[float, float]:
        """``tau = min(cap, t)`` (the Polyak-type ``t`` of the module docstring, 0 when the
        denominator ``norm`` vanishes) and the weight-decay factor ``-lr wd / (1 + lr wd)``."""
        lr, wd = group["lr"], group["weight_decay"]
        t = max((1 + lr * wd) * (group["loss_average"] - group["gamma"]) + iprod, 0.0)
        t = 0.0 if norm <= self._tiny(params) else t / norm
        return min(cap, t), -(lr * wd) / (1 + lr * wd)

    @staticmethod
    def _dot(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
        return float(sum(torch.dot(x.reshape(-1), y.reshape(-1)) for x, y in zip(a, b,
                                                                                  strict=True)))

    @staticmethod
    def _gradients(params: list[torch.Tensor]) -> list[torch.Tensor]:
        grads = [p.grad for p in params if p.grad is not None]
        if any(g.is_sparse for g in grads):
            raise RuntimeError("MoMo does not support sparse gradients")
        return grads

    @staticmethod
    def _tiny(params: list[torch.Tensor]) -> float:
        """optax's ``jnp.finfo(float).eps``: of the parameters' dtype (float64 under x64)."""
        return min(torch.finfo(p.dtype).eps for p in params)


class MoMo(_MoMoBase):
    """MoMo: momentum SGD with a Polyak-type step size capped at ``lr`` (module docstring).

    Args:
        params: the tensors to train (one group).
        lr: the cap of the step size (optax's default 1).
        beta: the momentum, in ``[0, 1)`` (0.9).
        weight_decay: ``wd >= 0``, applied as ``x / (1 + lr wd)``.

    Example:
        >>> import torch
        >>> w = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> opt = MoMo([w])
        >>> loss = (w ** 2).sum(); loss.backward(); _ = opt.step(loss=loss)
        >>> w.tolist()  # the Polyak step (14 - 28 + 28) / 56 = 0.25 times g: half the way to 0
        [0.5, 1.0, 1.5]
        >>> opt.step()
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: MoMo needs the batch loss: optimizer.step(loss=loss), with the loss whose gradients are in .grad, or optimizer.step(closure)
    """

    def __init__(self, params: Iterable[Any], lr: float = 1.0, beta: float = 0.9,
                 weight_decay: float = 0.0) -> None:
        check_real("beta", beta, 0.0, 1.0, high_open=True)
        super().__init__(params, dict(lr=lr, beta=beta, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None, *, loss: Any = None) -> Any:
        """One MoMo step with the batch ``loss`` (or ``closure()``'s); returns the loss."""
        returned, f, group, params, grads = self._begin(closure, loss)
        if not params:
            return returned
        b = 0.0 if group["step"] == 0 else group["beta"]
        group["loss_average"] = b * group["loss_average"] + (1 - b) * f
        momenta = []
        for p, g in zip(params, grads, strict=True):
            state = self.state[p]
            if "exp_avg" not in state:
                state["exp_avg"] = torch.zeros_like(p)
            m = state["exp_avg"]
            m.mul_(b).add_(g, alpha=1 - b)
            momenta.append(m)
        group["gamma"] = b * group["gamma"] + (1 - b) * self._dot(grads, params)
        tau, decay = self._step_size(group, params, self._dot(momenta, momenta),
                                     self._dot(momenta, params), group["lr"])
        for p, m in zip(params, momenta, strict=True):
            p.mul_(1 + decay).add_(m, alpha=-tau)  # x + (x decay - tau m)
        group["step"] += 1
        return returned


class MoMoAdam(_MoMoBase):
    """MoMo-Adam: Adam's direction with a Polyak-type step size capped at ``lr / (1 - b1^k)``
    (module docstring).

    Args:
        params: the tensors to train (one group).
        lr: the cap of the step size (optax's default 1e-2).
        betas: ``(b1, b2)``, each in ``[0, 1)``.
        eps: added to Adam's ``sqrt(v_hat)``, ``>= 0``.
        weight_decay: ``wd >= 0``, applied as ``x / (1 + lr wd)``.

    Example:
        >>> import torch
        >>> w = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> opt = MoMoAdam([w])
        >>> loss = (w ** 2).sum(); loss.backward(); _ = opt.step(loss=loss)
        >>> [round(v, 6) for v in w.tolist()]  # the cap lr / (1 - b1) = 0.1 times m / D = 0.1
        [0.99, 1.99, 2.99]
    """

    _name = "MoMoAdam"

    def __init__(self, params: Iterable[Any], lr: float = 1e-2,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise InvalidParameterError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        for name, b in zip(("beta1", "beta2"), betas, strict=True):
            check_real(name, b, 0.0, 1.0, high_open=True)
        check_real("eps", eps, 0.0)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None, *, loss: Any = None) -> Any:
        """One MoMo-Adam step with the batch ``loss`` (or ``closure()``'s); returns the loss."""
        returned, f, group, params, grads = self._begin(closure, loss)
        if not params:
            return returned
        (b1, b2), eps = group["betas"], group["eps"]
        k = group["step"] + 1
        group["loss_average"] = b1 * group["loss_average"] + (1 - b1) * f
        bc2 = 1 - b2**k
        momenta, directions = [], []  # m and m / D, D = sqrt(v / (1 - b2^k)) + eps
        for p, g in zip(params, grads, strict=True):
            state = self.state[p]
            if "exp_avg" not in state:
                state["exp_avg"] = torch.zeros_like(p)
                state["exp_avg_sq"] = torch.zeros_like(p)
            m, v = state["exp_avg"], state["exp_avg_sq"]
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            d = (v / bc2).sqrt_().add_(eps)
            momenta.append(m)
            directions.append(torch.div(m, d, out=d))
        norm = self._dot(momenta, directions)
        group["gamma"] = b1 * group["gamma"] + (1 - b1) * self._dot(grads, params)
        tau, decay = self._step_size(group, params, norm, self._dot(momenta, params),
                                     group["lr"] / (1 - b1**k))
        for p, q in zip(params, directions, strict=True):
            p.mul_(1 + decay).add_(q, alpha=-tau)  # x + (x decay - tau m / D)
        group["step"] = k
        return returned
