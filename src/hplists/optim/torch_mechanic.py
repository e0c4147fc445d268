r"""Mechanic for PyTorch: a wrapper around a base optimizer, as ``optax.contrib.mechanize``.

:class:`Mechanic` learns the scale of a base optimizer's updates (Cutkosky,
Defazio and Mehta, "Mechanic: A Learning Rate Tuner", 2023,
arXiv:2306.00144). It computes the algorithm of ``optax.contrib.mechanize``
(``optax/contrib/_mechanic.py``, optax 0.2.8), including what optax added to
the paper: the inner product ``h`` clipped to ``[-m, m]`` with ``m`` starting
at 0. (The ``mechanic-pytorch`` package does neither, and differs in two more
places: ``docs/lrfree-torch.md``.)

The math. ``x_0`` the parameters at the first step, ``x_k`` the parameters
now, ``g_k`` their gradient, ``u_k`` the base optimizer's update (what its
``step()`` adds to ``x_k``), ``S = sum_j s_j`` over ``n = num_betas`` scales,
``beta_j = 1 - 0.1^j``, ``lambda`` Mechanic's weight decay::

    Delta = (x_0 - x_k) / (S + eps)                     # the previous direction
    g'    = g_k + lambda S ||g_k|| / (||x_k|| + eps) x_k # norms over all parameters
    h     = <g', Delta>
    m_j   = max(beta_j m_j, |h| + eps)                   # m starts at 0
    v_j   = beta_j^2 v_j + h^2
    r_j   = beta_j r_j + clip(h, -m_j^old, m_j^old) s_j  # 0 at the first step
    s_j   = ((s_init / n) m_j + max(r_j, 0)) / (sqrt(v_j) + eps)
    x_{k+1} = x_0 - (sum_j s_j) (Delta - u_k)

``s`` starts at ``s_init``; ``r``, ``v`` and ``m`` at 0. Weight decay of the
base optimizer (and its learning-rate schedule) stays in ``u_k``; Mechanic's
own ``lambda`` only enters ``h``.

The base optimizer runs on the same parameters: :class:`Mechanic` shares its
``param_groups``, so a learning-rate scheduler attached to either sets the
base learning rate (paper 002's relative schedule is a ``LambdaLR`` on a base
learning rate of 1, as the optax rules pass ``learning_rate = s_t``). The
three bases of :mod:`hplists.optim.lrfree` and what computes each here:

* ``mechanic``: ``optax.chain(add_decayed_weights(wd), sgd(s_t))`` is
  ``torch.optim.SGD(lr=1, weight_decay=wd)`` (L2 added to the gradient,
  then ``-lr`` times it);
* ``mechanic_adam``: ``optax.adamw(s_t, b1, b2, eps, wd)`` is
  ``torch.optim.AdamW(lr=1, betas, eps, weight_decay=wd)`` (the same
  update, ``-lr (m_hat / (sqrt(v_hat) + eps) + wd x)``; torch decays first,
  ``x (1 - lr wd)``, which only rounds differently);
* ``mechanic_nadam``: ``optax.nadamw(...)`` is
  :class:`hplists.optim.torch_nadamw.NAdamW`.

Measured agreement (``tests/test_torch_lrfree.py``,
``test_trajectory_matches_optax_rule``, cases ``mechanic-*``,
``mechanic_adam-*``, ``mechanic_nadam-*``: ``hplists.torch_lrfree.build``
against the rules under ``jax.enable_x64``, float64, 30 steps, three
parameter tensors, each framework differentiating the same loss at its own
iterate; no schedule, a warmup from 0 with base weight decay 0.1, ``s_init``
1e-3 and Mechanic's decay 0.05, a horizon of half the steps): the parameters
after every step differ by at most 3.5e-15 over SGD, 9.8e-15 over AdamW and
3.6e-15 over NAdamW (3.2e-15 of the parameter scale at most; asserted to
1e-10). The tolerance separates optax's algorithm from its neighbours:
without the clipping of ``h`` the same cases differ by 0.87 of the parameter
scale, with ``mechanic-pytorch``'s ``m`` (from 1e-6, no ``+ eps``) by 0.044.
``state_dict()`` / ``load_state_dict()`` resume bit for bit
(``test_state_dict_round_trip_resumes_bit_for_bit``).

Memory: ``x_0`` per parameter (as optax) and, during ``step()``, two tensors
per parameter (``x_k`` and ``x_0 - x_k``, to read ``u_k`` off the base step).

Parameters whose ``.grad`` is ``None`` count as a zero gradient in
Mechanic's sums and still move with ``S`` (optax updates every parameter);
the base optimizer skips them, as ``torch.optim`` optimizers do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from hplists._check import check_int, check_real
from hplists.exceptions import InvalidParameterError
from hplists.optim.torch_closure import closure_loss

__all__ = ["Mechanic"]


def _lowest_dtype(params: list[torch.Tensor]) -> torch.dtype:
    """The parameters' floating dtype with the fewest bits (optax's ``tree.dtype(p, 'lowest')``)."""
    return min((p.dtype for p in params), key=lambda d: torch.finfo(d).bits)


class Mechanic(torch.optim.Optimizer):
    r"""Mechanic around ``base``, as ``optax.contrib.mechanize(base)`` computes it.

    The math and the measured agreement: the module docstring.

    Args:
        base: the base optimizer, built on the parameters to train (any
            ``torch.optim.Optimizer``; its learning rate is the schedule's
            peak, 1 in paper 002's rules). :class:`Mechanic` steps it and
            shares its ``param_groups``.
        weight_decay: Mechanic's own decay ``lambda`` >= 0 (optax's 1e-2),
            which enters only the inner product ``h``; the base optimizer's
            weight decay is separate.
        eps: >= 0, optax's 1e-8.
        s_init: the initial scale, > 0 (optax's 1e-6).
        num_betas: ``n`` >= 1 scales with ``beta_j = 1 - 0.1^j`` (optax's 6).

    State: the base optimizer's, ``x0`` per parameter, and ``count``, ``r``,
    ``m``, ``v``, ``s`` (``num_betas`` values each, in the parameters'
    lowest-precision dtype, as optax). :meth:`state_dict` holds both, so a
    round trip resumes exactly.

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
        >>> opt = Mechanic(torch.optim.SGD([w], lr=0.1))
        >>> for _ in range(50):
        ...     opt.zero_grad(); (w ** 2).sum().backward(); opt.step()
        >>> [round(v, 4) for v in w.tolist()], f"{opt.scale:.3g}"  # S grew from 1e-6
        ([0.0004, -0.0008], '0.116')
        >>> opt.param_groups is opt.base.param_groups
        True
        >>> Mechanic(torch.optim.SGD([w], lr=1.0), s_init=0.0)
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: s_init must be in (0, inf), got 0.0
    """

    def __init__(
        self,
        base: torch.optim.Optimizer,
        *,
        weight_decay: float = 1e-2,
        eps: float = 1e-8,
        s_init: float = 1e-6,
        num_betas: int = 6,
    ) -> None:
        if not isinstance(base, torch.optim.Optimizer) or isinstance(base, Mechanic):
            raise InvalidParameterError(
                f"base must be a torch.optim.Optimizer other than Mechanic, got "
                f"{type(base).__name__}")
        self.mechanic_weight_decay = check_real("weight_decay", weight_decay, 0.0)
        self.eps = check_real("eps", eps, 0.0)
        self.s_init = check_real("s_init", s_init, 0.0, low_open=True)
        self.num_betas = check_int("num_betas", num_betas, low=1)
        params = [p for group in base.param_groups for p in group["params"]]
        for p in params:
            if not p.is_floating_point():
                raise InvalidParameterError(
                    f"params must be real floating-point tensors, got dtype {p.dtype}")
        super().__init__(params, {})
        self.base = base
        self.param_groups = base.param_groups  # shared: a scheduler sets the base's lr
        dtype, device = _lowest_dtype(params), params[0].device
        self.count = 0
        self.r = torch.zeros(self.num_betas, dtype=dtype, device=device)
        self.m = torch.zeros_like(self.r)
        self.v = torch.zeros_like(self.r)
        self.s = torch.full_like(self.r, self.s_init)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Adds a group to the base optimizer (with its defaults); Mechanic starts it at ``x0 =``
        its current value, so its first step is the base step times the current scale."""
        if "base" not in self.__dict__:  # torch.optim.Optimizer.__init__ building its groups
            super().add_param_group(param_group)
            return
        self.base.add_param_group(param_group)
        for p in self.base.param_groups[-1]["params"]:
            if not p.is_floating_point():
                raise InvalidParameterError(
                    f"params must be real floating-point tensors, got dtype {p.dtype}")
            if self.count > 0:
                self.state[p]["x0"] = p.detach().clone(memory_format=torch.preserve_format)

    def __getstate__(self) -> dict[str, Any]:  # pickle / deepcopy keep the base and the state
        return self.__dict__.copy()

    @property
    def scale(self) -> float:
        """``S = sum_j s_j``, the learned scale of the base optimizer's updates."""
        return float(self.s.sum())

    def _params(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict[str, Any]:
        """The base optimizer's state dict and Mechanic's state (``x0`` in parameter order)."""
        return {
            "base": self.base.state_dict(),
            "mechanic": {
                "weight_decay": self.mechanic_weight_decay, "eps": self.eps,
                "s_init": self.s_init, "num_betas": self.num_betas, "count": self.count,
                "r": self.r.clone(), "m": self.m.clone(), "v": self.v.clone(),
                "s": self.s.clone(),
                "x0": [self.state[p]["x0"].clone() if "x0" in self.state[p] else None
                       for p in self._params()],
            },
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Loads what :meth:`state_dict` saved (the same parameters, ``num_betas`` and base)."""
        if not isinstance(state_dict, dict) or set(state_dict) != {"base", "mechanic"}:
            raise InvalidParameterError("state_dict must be a Mechanic.state_dict() (keys 'base' "
                                        "and 'mechanic')")
        saved = state_dict["mechanic"]
        if int(saved["num_betas"]) != self.num_betas:
            raise InvalidParameterError(f"num_betas must be {self.num_betas} (this optimizer's), "
                                        f"got a state dict with {saved['num_betas']}")
        params = self._params()
        if len(saved["x0"]) != len(params):
            raise InvalidParameterError(f"state_dict holds {len(saved['x0'])} parameters, this "
                                        f"optimizer {len(params)}")
        self.base.load_state_dict(state_dict["base"])
        self.param_groups = self.base.param_groups  # torch replaced the list: share it again
        self.mechanic_weight_decay = float(saved["weight_decay"])
        self.eps, self.s_init = float(saved["eps"]), float(saved["s_init"])
        self.count = int(saved["count"])
        for name in ("r", "m", "v", "s"):
            setattr(self, name, saved[name].to(dtype=self.r.dtype, device=self.r.device,
                                               copy=True))
        for p, x0 in zip(params, saved["x0"], strict=True):
            if x0 is None:
                self.state[p].pop("x0", None)
            else:
                self.state[p]["x0"] = x0.to(dtype=p.dtype, device=p.device, copy=True)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update: the base optimizer's step, rescaled (``closure`` returns the loss)."""
        loss = closure_loss(closure)
        params = self._params()
        dtype, eps = self.r.dtype, self.eps
        for p in params:
            if p.grad is not None and p.grad.is_sparse:
                raise RuntimeError("Mechanic does not support sparse gradients")
        if self.count == 0:  # optax takes x0 at the first update, not at init
            for p in params:
                self.state[p]["x0"] = p.detach().clone(memory_format=torch.preserve_format)
        grads = [p.grad for p in params]

        def total(parts: list[torch.Tensor]) -> torch.Tensor:
            out = torch.zeros((), dtype=dtype, device=self.r.device)
            for part in parts:
                out = out + part.to(dtype=dtype, device=self.r.device)
            return out

        s_sum = self.s.sum()
        diffs = [self.state[p]["x0"] - p for p in params]  # x0 - x_k
        grad_norm = torch.sqrt(total([torch.linalg.vector_norm(g).square()
                                      for g in grads if g is not None]))
        param_norm = torch.sqrt(total([torch.linalg.vector_norm(p).square() for p in params]))
        coef = self.mechanic_weight_decay * s_sum * grad_norm / (param_norm + eps)
        denom = s_sum + eps
        # h = <g + coef x_k, diff / denom>, as two dot products per tensor (no temporaries).
        h_grad = total([torch.dot(g.reshape(-1), d.reshape(-1))
                        for g, d in zip(grads, diffs, strict=True) if g is not None])
        h_decay = total([torch.dot(p.reshape(-1), d.reshape(-1))
                         for p, d in zip(params, diffs, strict=True)])
        h = (h_grad + coef * h_decay) / denom
        before = [p.detach().clone(memory_format=torch.preserve_format) for p in params]
        self.base.step()

        betas = torch.tensor([1.0 - 0.1**j for j in range(1, self.num_betas + 1)],
                             dtype=dtype, device=self.r.device)
        clipped_h = torch.maximum(torch.minimum(h, self.m), -self.m)  # lax.clamp(-m, h, m)
        m = torch.maximum(betas * self.m, torch.abs(h) + eps)
        v = betas**2 * self.v + h**2
        r = betas * self.r + clipped_h * self.s
        wealth = (self.s_init / self.num_betas) * m + torch.clamp(r, min=0.0)
        s = wealth / (torch.sqrt(v) + eps)
        # x_{k+1} = x0 - S delta, delta = (x0 - x_k) / denom - (p - x_k), p the base's result:
        # in place, rounded as optax rounds it.
        new_sum = float(s.sum())
        for p, d, x_k in zip(params, diffs, before, strict=True):
            p.sub_(x_k).sub_(d.div_(denom.to(p.dtype)))  # -delta
            torch.add(self.state[p]["x0"], p, alpha=new_sum, out=p)
        self.m, self.v, self.r, self.s = m, v, r, s
        self.count += 1
        return loss

    def __repr__(self) -> str:
        return (f"Mechanic({self.base!r}, weight_decay={self.mechanic_weight_decay}, "
                f"eps={self.eps}, s_init={self.s_init}, num_betas={self.num_betas})")
