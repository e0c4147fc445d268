"""NAdamW for PyTorch: a ``torch.optim.Optimizer`` that reproduces ``optax.nadamw``.

``optax.nadamw`` is ``chain(scale_by_adam(nesterov=True), add_decayed_weights,
scale_by_learning_rate)`` (optax ``_src/alias.py``, ``_src/transform.py``). With
``t = 1, 2, ...`` the number of updates including this one and ``lr_t`` the
learning rate of this update (``t - 1`` in optax's 0-based schedule count)::

    m_t   = b1 m_{t-1} + (1 - b1) g_t
    v_t   = b2 v_{t-1} + (1 - b2) g_t^2
    m_hat = b1 m_t / (1 - b1^(t+1)) + (1 - b1) g_t / (1 - b1^t)
    v_hat = v_t / (1 - b2^t)
    u_t   = m_hat / (sqrt(v_hat + eps_root) + eps) + wd theta_{t-1}
    theta_t = theta_{t-1} - lr_t u_t

Weight decay is added to the update *before* the learning rate multiplies it,
so the decay follows the schedule; ``eps`` sits outside the square root and
``eps_root`` (default 0) inside it. The points of paper 001 (arXiv
2503.03986, footnote 2) are defined for exactly this rule.

Four code paths compute it; all of them keep ``step`` and the two moments as
the only state (with 8-bit state, below, also a scale per block of each):

* ``compiled`` (``compiled=True``, or chosen by ``compiled="auto"``, the
  default, below; contiguous float32/float64 tensors on any device inductor
  serves): the update of one tensor written once in
  torch ops, traced and compiled by inductor into a single pass that reads the
  parameter, gradient and moments and writes the parameter and moments, as
  PyTorch's fused AdamW kernel does. One compiled call updates all of a step's
  tensors of one device and dtype (up to 128 per call), with their shapes
  static; a model compiles once, on its first step (seconds; a C++ compiler on
  CPU, triton on CUDA), and another model compiles its own. The call skips
  dynamo: its signature (device, dtype, shapes) is checked once in Python
  instead of guards on every tensor.

* ``fused`` (CPU and CUDA, float32/float64, ``eps_root == 0``, ``beta1 >=
  0.5``): one pass of PyTorch's fused AdamW kernel plus one ``lerp``. The
  Nesterov numerator ``c1 m_t + c2 g_t`` with ``c1 = b1 / (1 - b1^(t+1))`` and
  ``c2 = (1 - b1) / (1 - b1^t)`` is an exponential moving average of
  ``(m_{t-1}, g_t)`` with coefficient ``b1' = c1 b1 / (c1 + c2)``, so the
  kernel, run with ``beta1 = b1'`` and a rescaled learning rate, applies the
  exact NAdamW step and leaves ``m' = b1' m_{t-1} + (1 - b1') g_t`` in the
  first-moment buffer. ``m_t = lerp(m', g_t, 1 - b1 / b1')`` recovers the
  true moment (``b1 >= 0.5`` bounds the amplification ``b1 / b1'`` of
  rounding by about 2). On CPU both run block by block so that the
  ``lerp`` reads from cache.
* ``foreach``: ``torch._foreach_*`` over all tensors of a (device, dtype)
  bucket, with host-side bias corrections and one temporary per block.
* per tensor: the formulas above in optax's order of operations.

``compiled="auto"`` (the default) takes the compiled path when the optimizer
holds at least :data:`AUTO_COMPILED_MIN_PARAMS` parameters (1M with 32-bit
state) and the device has a compiler for inductor (a working C++ compiler on
CPU, checked once per process; triton on CUDA), and the other paths otherwise
(:func:`auto_compiled`). The compiled step takes 0.77x the uncompiled default's
time at 1M parameters, 0.55x at 10M and 0.59x at 50M (docs/performance.md: 2
threads, a quiet machine); measured for the threshold (1 thread, a
transformer-like mix of 25 tensors, a loaded 2-core machine): 0.81x at 100K
and 0.67x at 300K, and the first step spent 13-20 s compiling, in every new
process (the compiled graph is not cached on disk). From 1M parameters the
gain (a millisecond per step and more) repays that within some thousands of
steps; below, it takes too long.
``fused=True`` or ``foreach=True`` make ``"auto"`` choose their path. If the
compilation fails, ``"auto"`` warns once (per process and device type) and
uses the other paths from then on; ``compiled=True`` raises instead.

8-bit state (``state_bits=8``): Dettmers et al.'s block-wise quantization
(*8-bit Optimizers via Block-wise Quantization*, 2021;
:mod:`hplists.optim.blockwise_quant`). A parameter of at least
:data:`~hplists.optim.blockwise_quant.MIN_8BIT_SIZE` = 4096 elements keeps
``exp_avg`` and ``exp_avg_sq`` as ``uint8`` codes of the signed and unsigned
dynamic maps, with a float32 absmax per block of 2048 elements
(``exp_avg_absmax``, ``exp_avg_sq_absmax``): 2.004 bytes per parameter instead
of 8. Each step dequantizes both moments, applies the update above (the
compiled path's formula, :func:`_nadamw_tensor`) to the float32 (float64 for
float64 parameters) values, computes the parameter update from the new,
unquantized moments, and quantizes them again with each block's new absmax.
Smaller tensors (biases, normalization scales) keep 32-bit moments and take
the paths above. On CPU, float32 and bfloat16 tensors run through one
compiled C++ kernel (:mod:`hplists.optim._torch_nadamw8_cpu`: one pass per
block, one call per group, the small tensors' 32-bit moments in the same
call) when ``compiled`` is True, or ``"auto"`` with a working C++ compiler
(at any size: the kernel compiles once per machine, in seconds, and its
library is cached on disk); other tensors and devices take plain PyTorch
operations, which give the same codes and scales and parameters within
rounding. The step at 10M parameters took 1.27-1.30x PyTorch's fused AdamW's
time (2 threads, ``benchmarks/optimizer_step.py``, a quiet 2-core machine;
docs/8bit.md); the plain path takes about 100x.

Measured agreement of 8-bit state with ``optax.nadamw``
(``tests/test_optim_nadamw8bit.py``, 200 steps, the first 5 points of the
paper's list; error = distance between the final parameters over the distance
``optax.nadamw``'s parameters travelled): 0.07-0.11 on a noisy quadratic of
three tensors (bound 0.2), 0.03-0.26 on an MLP of 76K parameters (bound 0.5).
32-bit NAdamW on the same runs: at most 1e-3 (the MLP's float32 gradients
differ between the frameworks in the last bits). Quantization error compounds:
the 8-bit trajectory is a different one, about as close to 32-bit as
bitsandbytes' ``AdamW8bit`` is to ``torch.optim.AdamW`` (on a like quadratic,
without weight decay or schedule: 0.077 for bitsandbytes, 0.062 for 8-bit
NAdamW against 32-bit NAdamW). The JAX rule
(:mod:`hplists.optim.optax_nadamw8`) computes the same codes: 1e-5 apart on the
quadratic.

Precision: the arithmetic runs in float64 for float64 parameters and in
float32 otherwise. Moments are stored in the parameter's dtype for float32 and
float64 parameters and in float32 for bfloat16/float16 parameters (optax
would keep them in bfloat16; ``state_dtype=torch.bfloat16`` does that);
low-precision parameters are updated in float32 and rounded once per step.

Differences from optax by design: as every ``torch.optim`` optimizer, a
parameter whose ``.grad`` is ``None`` is skipped (its step count does not
advance); optax updates every leaf. Per-parameter weight decay masks are
expressed as parameter groups (:func:`param_groups`).

Measured agreement (``tests/test_optim_torch_nadamw.py``: 7 points, 1000 steps of a
random gradient stream on three tensors, final parameters compared): every
path is within ``1e-10`` times the parameter scale of ``optax.nadamw`` in
float64 and within ``1e-5`` in float32. The float64 reference runs optax
under ``jax_enable_x64`` with its schedule evaluated at a float64 step count:
``optax.warmup_cosine_decay_schedule`` returns float32 for optax's own int32
count even under x64, while this optimizer's float64 learning rate is the
exact one. Measured: at most 9.3e-15 (fused path; 3.6e-16
per tensor) against that reference, and 3.4e-9 against optax with its own
float32 schedule.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import subprocess
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import chain
from typing import Any

import torch
from torch.optim.lr_scheduler import LambdaLR

from hplists._check import check_choice, check_int, check_real
from hplists.exceptions import InvalidParameterError
from hplists.hparams import HParams
from hplists.optim import _torch_nadamw8_cpu as _cpu8
from hplists.optim.blockwise_quant import MIN_8BIT_SIZE, num_blocks
from hplists.optim.schedule import warmup_cosine_factor, warmup_steps
from hplists.optim.torch_blockwise_quant import dequantize_into, quantize_into
from hplists.optim.torch_closure import closure_loss

__all__ = [
    "AUTO_COMPILED_MIN_PARAMS",
    "NAdamW",
    "WarmupCosineFactor",
    "auto_compiled",
    "build",
    "cxx_compiler_works",
    "decay_matrices",
    "param_groups",
]

_LOW_PRECISION = (torch.float16, torch.bfloat16)
Tensors = list[torch.Tensor]  # one bucket's parameters, gradients or moments
# Elements per block on CPU: a block's parameters, gradients, moments (and the
# foreach path's two temporaries) stay in the last-level cache between the
# passes over it. The fused path makes 3 passes, so its blocks are larger:
# fewer parallel regions, each a thread barrier.
_FOREACH_CPU_BLOCK = 1 << 18
_FUSED_CPU_BLOCK = 1 << 19
# The fused path recovers m_t with weight 1 - b1/b1' (about 1 - 1/b1); below
# this beta1 the rounding amplification grows, so the other paths are used.
_FUSED_MIN_BETA1 = 0.5
# compiled="auto": the smallest optimizer (in parameters) that takes the compiled path, by
# state_bits. 32-bit: the inductor kernel compiles for 13-20 s in every process (module
# docstring). 8-bit: the C++ kernel compiles once per machine and is cached on disk, and it
# serves tensors of MIN_8BIT_SIZE elements and more.
AUTO_COMPILED_MIN_PARAMS = {32: 1_000_000, 8: MIN_8BIT_SIZE}
_STATE_BITS = (32, 8)
_8BIT_KEYS = ("exp_avg_absmax", "exp_avg_sq_absmax")


def _fused_devices() -> frozenset[str]:
    if not hasattr(torch, "_fused_adamw_"):
        return frozenset()
    try:
        from torch.optim.optimizer import _get_fused_kernels_supported_devices

        return frozenset(_get_fused_kernels_supported_devices()) & {"cpu", "cuda"}
    except ImportError:  # older torch: CUDA only
        return frozenset({"cuda"})


_FUSED_DEVICES = _fused_devices()


def decay_matrices(name: str, param: torch.Tensor) -> bool:
    """Weight-decay mask that decays tensors with 2 or more dimensions only.

    Biases and normalization scales/offsets (vectors) are not decayed: the
    usual ``mask=lambda p: jax.tree.map(lambda x: x.ndim > 1, p)`` of optax.

    Example:
        >>> decay_matrices("fc.weight", torch.zeros(3, 4)), decay_matrices("fc.bias", torch.zeros(3))
        (True, False)
    """
    del name
    return param.ndim >= 2


ParamsLike = (
    torch.nn.Module
    | Iterable[torch.Tensor]
    | Iterable[tuple[str, torch.Tensor]]
    | Iterable[Mapping[str, Any]]
)
# What NAdamW itself takes: torch.optim.Optimizer's params (no Module; groups are dicts).
OptimizerParams = (
    Iterable[torch.Tensor]
    | Iterable[dict[str, Any]]
    | Iterable[tuple[str, torch.Tensor]]
)


def param_groups(
    params: torch.nn.Module | Iterable[torch.Tensor] | Iterable[tuple[str, torch.Tensor]],
    mask: Callable[[str, torch.Tensor], bool] = decay_matrices,
) -> list[dict[str, Any]]:
    """Splits parameters into a decayed group and a ``weight_decay=0`` group.

    ``mask(name, param)`` returns True for parameters that get weight decay,
    as optax's ``mask`` does. Unnamed tensors are named by their position.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
        >>> groups = param_groups(net)
        >>> [len(g["params"]) for g in groups], groups[1]["weight_decay"]
        ([1, 3], 0.0)
    """
    if not callable(mask):
        raise InvalidParameterError(f"mask must be a callable (name, param) -> bool, got {mask!r}")
    named = _named(params)
    decayed = [p for name, p in named if mask(name, p)]
    others = [p for name, p in named if not mask(name, p)]
    groups: list[dict[str, Any]] = []
    if decayed:
        groups.append({"params": decayed})
    if others:
        groups.append({"params": others, "weight_decay": 0.0})
    if not groups:
        raise InvalidParameterError("params must contain at least one parameter, got none")
    return groups


def _named(params: Any) -> list[tuple[str, torch.Tensor]]:
    if isinstance(params, torch.nn.Module):
        return list(params.named_parameters())
    if isinstance(params, torch.Tensor):
        raise InvalidParameterError("params must be an iterable of tensors or a Module, got a single Tensor")
    items = list(params)
    named = []
    for i, item in enumerate(items):
        if isinstance(item, torch.Tensor):
            named.append((str(i), item))
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], torch.Tensor):
            named.append((str(item[0]), item[1]))
        else:
            raise InvalidParameterError(
                "params must be a Module, tensors, or (name, tensor) pairs when a mask is "
                f"given; item {i} is {type(item).__name__}"
            )
    return named


class NAdamW(torch.optim.Optimizer):
    r"""NAdamW as ``optax.nadamw`` computes it (module docstring: the math, measured agreement).

    Args:
        params: parameters or parameter groups (dicts that may override any
            hyperparameter below, e.g. ``{"params": biases, "weight_decay": 0.0}``;
            :func:`param_groups` builds such a mask).
        lr: learning rate, >= 0. A learning-rate scheduler sets it per step.
        betas: ``(beta1, beta2)``, each in [0, 1).
        eps: added to ``sqrt(v_hat)`` outside the square root, >= 0.
        weight_decay: decoupled weight decay, >= 0, multiplied by the
            learning rate as optax does.
        eps_root: added to ``v_hat`` inside the square root, >= 0.
        state_dtype: dtype of the two moments; ``None`` means the parameter's
            dtype, or float32 for bfloat16/float16 parameters.
        foreach: use ``torch._foreach_*`` ops (``None``: yes, for every tensor
            the fused path does not take); ``False`` loops over tensors.
        fused: use the fused kernel (``None``: wherever it applies; ``True``:
            for every tensor, which must suit it; ``False``: never).
        compiled: ``True`` runs contiguous float32/float64 tensors through one
            kernel compiled by inductor (the fastest path on CPU: one pass over
            memory, like fused AdamW); the first step compiles it, which takes
            seconds. Other tensors take the path ``fused``/``foreach`` choose.
            With ``state_bits=8``, it runs the 8-bit tensors on CPU through the
            compiled C++ kernel. ``"auto"`` (default): compiled where it pays
            and a compiler is found (module docstring, :func:`auto_compiled`);
            ``False``: never.
        state_bits: 32 (default) keeps both moments in floating point; 8 keeps
            those of tensors with at least 4096 elements as 8-bit codes with a
            float32 scale per block of 2048 (Dettmers et al.'s block-wise
            quantization, module docstring).

    State per parameter: ``step`` (a Python int), ``exp_avg`` and
    ``exp_avg_sq``; with 8-bit state also ``exp_avg_absmax`` and
    ``exp_avg_sq_absmax`` (the moments are then ``uint8`` codes). Nothing
    else, so ``state_dict()`` / ``load_state_dict()`` resume bit-identically.
    Loading a state dict saved with the other ``state_bits`` converts it.

    Example:
        >>> w = torch.nn.Parameter(torch.ones(3))
        >>> opt = NAdamW([w], lr=0.1, betas=(0.9, 0.99), weight_decay=0.0)
        >>> w.grad = torch.ones(3)
        >>> opt.step()
        >>> # Nesterov's first step is lr * (b1 (1 - b1) / (1 - b1^2) + 1) = 0.147 lr-units
        >>> [round(x, 6) for x in w.tolist()]
        [0.852632, 0.852632, 0.852632]
        >>> sorted(opt.state[w])
        ['exp_avg', 'exp_avg_sq', 'step']
        >>> big = torch.nn.Parameter(torch.ones(8192))
        >>> opt = NAdamW([big], lr=0.1, state_bits=8)
        >>> big.grad = torch.ones(8192)
        >>> opt.step()
        >>> {k: (v.dtype, v.numel()) for k, v in opt.state[big].items() if k != "step"}
        {'exp_avg': (torch.uint8, 8192), 'exp_avg_sq': (torch.uint8, 8192), 'exp_avg_absmax': (torch.float32, 4), 'exp_avg_sq_absmax': (torch.float32, 4)}
    """

    def __init__(
        self,
        params: OptimizerParams,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        *,
        eps_root: float = 0.0,
        state_dtype: torch.dtype | None = None,
        foreach: bool | None = None,
        fused: bool | None = None,
        compiled: bool | str = "auto",
        state_bits: int = 32,
    ) -> None:
        self._auto: dict[tuple[str, int], bool] = {}
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            eps_root=eps_root,
            state_dtype=state_dtype,
            foreach=foreach,
            fused=fused,
            compiled=compiled,
            state_bits=state_bits,
        )
        _validate_group(defaults)
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Adds a group after validating its hyperparameters and parameters."""
        merged = {**self.defaults, **param_group}
        _validate_group(merged)
        params = param_group["params"]
        for p in [params] if isinstance(params, torch.Tensor) else list(params):
            if isinstance(p, torch.Tensor) and not p.is_floating_point():
                raise InvalidParameterError(
                    f"params must be real floating-point tensors, got dtype {p.dtype}"
                )
        super().add_param_group(param_group)
        self._auto = {}  # the parameter count changed
        group = self.param_groups[-1]
        group["betas"] = (float(group["betas"][0]), float(group["betas"][1]))
        if group["compiled"] != "auto":
            group["compiled"] = bool(group["compiled"])
        group["state_bits"] = int(group["state_bits"])

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("eps_root", 0.0)
            group.setdefault("state_dtype", None)
            group.setdefault("foreach", None)
            group.setdefault("fused", None)
            group.setdefault("compiled", False)
            group.setdefault("state_bits", 32)
        self._auto = {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Loads a state dict, keeping the moments in their state dtype (bit-exact resume).

        ``torch.optim.Optimizer`` would cast every floating state tensor to
        its parameter's dtype, which rounds float32 moments of bfloat16
        parameters; this restores them from the saved values. 8-bit codes stay
        ``uint8`` and their scales float32. The hyperparameters come from the
        state dict, as in ``torch.optim``, but each group keeps this
        optimizer's ``state_bits`` and ``compiled``: a state saved with the
        other ``state_bits`` is converted (quantized, or dequantized to float).
        """
        saved_state = state_dict["state"]
        saved_ids = list(chain.from_iterable(g["params"] for g in state_dict["param_groups"]))
        kept = [{k: g[k] for k in ("state_bits", "compiled")} for g in self.param_groups]
        super().load_state_dict(state_dict)
        for group, own in zip(self.param_groups, kept, strict=True):
            group.update(own)
        self._auto = {}
        params = list(chain.from_iterable(g["params"] for g in self.param_groups))
        group_of = {id(p): g for g in self.param_groups for p in g["params"]}
        for old_id, p in zip(saved_ids, params, strict=True):
            if old_id not in saved_state:
                continue
            saved, state = saved_state[old_id], self.state[p]
            group = group_of[id(p)]
            dtype = _state_dtype(group, p)
            for key in ("exp_avg", "exp_avg_sq", *_8BIT_KEYS):
                if key not in saved:
                    continue
                x = saved[key]
                to = x.dtype if x.dtype == torch.uint8 or key in _8BIT_KEYS else dtype
                state[key] = x.to(device=p.device, dtype=to, copy=True).contiguous()
            if "step" in saved:
                state["step"] = int(saved["step"])
            if "exp_avg" in state:
                _convert_state(state, p, dtype, _uses_8bit(group, p))

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Performs one update; ``closure`` re-evaluates the model and returns the loss."""
        loss = closure_loss(closure)
        for group in self.param_groups:
            self._update_group(group)
        return loss

    def _use_compiled(self, group: Mapping[str, Any], device_type: str, bits: int) -> bool:
        """Whether this group's tensors with ``bits``-bit state on ``device_type`` take a
        compiled path."""
        choice = group["compiled"]
        if choice != "auto":
            return bool(choice)
        if group["fused"] or group["foreach"] or (device_type, bits) in _AUTO_FAILED:
            return False
        key = (device_type, bits)
        if key not in self._auto:
            n = sum(p.numel() for g in self.param_groups for p in g["params"]
                    if (8 if _uses_8bit(g, p) else 32) == bits)
            # The compiler is looked for only when the tensors are many enough.
            self._auto[key] = (auto_compiled(n, compiler=True, state_bits=bits)
                               and _compiler_found(device_type, bits))
        return self._auto[key]

    def _update_group(self, group: dict[str, Any]) -> None:
        hp = _Hyper.of(group)
        fused_group = group["fused"] is not False and hp.fused_ok
        buckets: dict[tuple[str, torch.device, torch.dtype, int], list[tuple]] = {}
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            if g.is_sparse:
                raise RuntimeError("NAdamW does not support sparse gradients")
            state = self.state[p]
            if not state:
                state["step"] = 0
                _init_moments(state, p, _state_dtype(group, p), _uses_8bit(group, p))
            m, v = state["exp_avg"], state["exp_avg_sq"]
            if m.dtype == torch.uint8:
                compiled = self._use_compiled(group, p.device.type, 8)
                path = "compiled8" if compiled and _cpu8.takes(p, g, state) else "plain8"
            elif (group.get("state_bits") == 8 and self._use_compiled(group, p.device.type, 8)
                  and _cpu8.takes(p, g, state)):
                path = "compiled8"  # a small tensor's 32-bit moments, in the same call
            elif self._use_compiled(group, p.device.type, 32) and _compilable(p, g, m, v):
                path = "compiled"
            else:
                path = _plain_path(group, fused_group, p, g, m, v)
            state["step"] += 1
            key = (path, p.device, p.dtype, state["step"])
            buckets.setdefault(key, []).append((p, g, m, v))
        for (path, device, _, t), items in buckets.items():
            P, G, M, V = (list(x) for x in zip(*items, strict=True))
            if path == "compiled":
                try:
                    _compiled(P, G, M, V, t, hp)
                except _CompileFailed as e:
                    if group["compiled"] != "auto":
                        raise
                    _auto_fallback(device.type, 32, e)
                    _run_uncompiled(group, fused_group, items, t, hp)
            elif path in ("compiled8", "plain8"):
                S = [self.state[p] for p in P]
                if path == "compiled8":
                    try:
                        kernel = _cpu8.load(P[0].dtype)
                    except Exception as e:  # no working compiler, or an inductor without it
                        if group["compiled"] != "auto":
                            raise RuntimeError(
                                "compiled=True: the 8-bit NAdamW kernel could not be built on "
                                f"cpu ({type(e).__name__}: {e}); use compiled=False") from e
                        _auto_fallback("cpu", 8, e)
                    else:
                        _compiled8(kernel, P, G, S, t, hp)
                        continue
                    # The small tensors' 32-bit moments take their own paths.
                    _run_uncompiled(group, fused_group,
                                    [x for x in items if x[2].dtype != torch.uint8], t, hp)
                    eight = [i for i, x in enumerate(items) if x[2].dtype == torch.uint8]
                    P, G, S = [P[i] for i in eight], [G[i] for i in eight], [S[i] for i in eight]
                if P:
                    _plain8(P, G, S, t, hp)
            else:
                _run(path, P, G, M, V, t, hp)


def _run(path: str, P: Tensors, G: Tensors, M: Tensors, V: Tensors, t: int, hp: _Hyper) -> None:
    """One bucket through one of the uncompiled 32-bit paths."""
    if path == "fused":
        _fused(P, G, M, V, t, hp)
    elif path == "foreach":
        _foreach(P, G, M, V, t, hp)
    else:
        for p, g, m, v in zip(P, G, M, V, strict=True):
            _single(p, g, m, v, t, hp)


def _run_uncompiled(group: Mapping[str, Any], fused_group: bool, items: Sequence[tuple],
                    t: int, hp: _Hyper) -> None:
    """Tensors with 32-bit moments, each through the uncompiled path it would take."""
    for p, g, m, v in items:
        _run(_plain_path(group, fused_group, p, g, m, v), [p], [g], [m], [v], t, hp)


def _plain_path(group: Mapping[str, Any], fused_group: bool, p: torch.Tensor, g: torch.Tensor,
                m: torch.Tensor, v: torch.Tensor) -> str:
    """The uncompiled path of one tensor with 32-bit state: fused, foreach or single."""
    if fused_group and _fusable(p, g, m, v):
        return "fused"
    if group["fused"]:
        raise InvalidParameterError(
            "fused=True needs float32/float64 contiguous parameters, gradients and "
            f"moments of one dtype on {sorted(_FUSED_DEVICES)}; got a {p.dtype} "
            f"parameter on {p.device.type}"
        )
    return "single" if group["foreach"] is False else "foreach"


def _uses_8bit(group: Mapping[str, Any], p: torch.Tensor) -> bool:
    """Whether ``p``'s moments are 8-bit: ``state_bits=8`` and at least MIN_8BIT_SIZE
    elements."""
    return group.get("state_bits", 32) == 8 and p.numel() >= MIN_8BIT_SIZE


def _init_moments(state: dict[str, Any], p: torch.Tensor, dtype: torch.dtype,
                  eight: bool) -> None:
    """Zero moments: floating, or 8-bit codes of 0 with zero scales."""
    if eight:
        blocks = num_blocks(p.numel())
        # 127 is the signed map's 0, 0 the unsigned one's (any code times a 0 scale is 0).
        state["exp_avg"] = torch.full(p.shape, 127, dtype=torch.uint8, device=p.device)
        state["exp_avg_sq"] = torch.zeros(p.shape, dtype=torch.uint8, device=p.device)
        state["exp_avg_absmax"] = torch.zeros(blocks, dtype=torch.float32, device=p.device)
        state["exp_avg_sq_absmax"] = torch.zeros(blocks, dtype=torch.float32, device=p.device)
    else:
        state["exp_avg"] = torch.zeros_like(p, dtype=dtype, memory_format=torch.preserve_format)
        state["exp_avg_sq"] = torch.zeros_like(p, dtype=dtype, memory_format=torch.preserve_format)


def _convert_state(state: dict[str, Any], p: torch.Tensor, dtype: torch.dtype,
                   eight: bool) -> None:
    """Brings loaded moments to the optimizer's ``state_bits``: quantizes or dequantizes."""
    is_eight = state["exp_avg"].dtype == torch.uint8
    if eight and not is_eight:
        m, v = state["exp_avg"], state["exp_avg_sq"]
        _init_moments(state, p, dtype, True)
        quantize_into(m, state["exp_avg"], state["exp_avg_absmax"], True)
        quantize_into(v, state["exp_avg_sq"], state["exp_avg_sq_absmax"], False)
    elif is_eight and not eight:
        for key, signed in (("exp_avg", True), ("exp_avg_sq", False)):
            out = torch.empty(p.shape, dtype=dtype, device=p.device)
            state[key] = dequantize_into(state[key], state.pop(key + "_absmax"), out, signed)


def _validate_group(group: Mapping[str, Any]) -> None:
    check_real("lr", group["lr"], low=0.0)
    betas = group["betas"]
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise InvalidParameterError(f"betas must be a pair (beta1, beta2) with each in [0, 1), got {betas!r}")
    check_real("beta1", betas[0], 0.0, 1.0, high_open=True)
    check_real("beta2", betas[1], 0.0, 1.0, high_open=True)
    check_real("eps", group["eps"], low=0.0)
    check_real("eps_root", group["eps_root"], low=0.0)
    check_real("weight_decay", group["weight_decay"], low=0.0)
    dtype = group["state_dtype"]
    if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise InvalidParameterError(
            f"state_dtype must be None or a floating torch.dtype, got {dtype!r}"
        )
    for flag in ("foreach", "fused"):
        if group[flag] not in (None, True, False):
            raise InvalidParameterError(f"{flag} must be one of None, True, False; got {group[flag]!r}")
    if group["fused"] and group["foreach"]:
        raise InvalidParameterError("fused and foreach cannot both be True; choose one")
    check_choice("compiled", group["compiled"], ("auto", True, False))
    if group["compiled"] != "auto" and group["compiled"] and group["fused"]:
        raise InvalidParameterError("compiled and fused cannot both be True; choose one")
    bits = group["state_bits"]
    if isinstance(bits, bool) or bits not in _STATE_BITS:
        raise InvalidParameterError(f"state_bits must be one of 32, 8; got {bits!r}")
    if bits == 8 and group["fused"]:
        raise InvalidParameterError(
            "fused=True keeps 32-bit moments; it cannot be combined with state_bits=8")
    if group["fused"]:
        if float(group["eps_root"]) != 0.0:
            raise InvalidParameterError(f"fused=True needs eps_root == 0, got {group['eps_root']!r}")
        if float(betas[0]) < _FUSED_MIN_BETA1:
            raise InvalidParameterError(
                f"fused=True needs beta1 in [{_FUSED_MIN_BETA1}, 1), got {betas[0]!r}"
            )
        if not _FUSED_DEVICES:
            raise InvalidParameterError("fused=True needs torch._fused_adamw_, absent from this torch")


def _state_dtype(group: Mapping[str, Any], p: torch.Tensor) -> torch.dtype:
    if group.get("state_dtype") is not None:
        return group["state_dtype"]
    return torch.float32 if p.dtype in _LOW_PRECISION else p.dtype


def _fusable(p: torch.Tensor, g: torch.Tensor, m: torch.Tensor, v: torch.Tensor) -> bool:
    return (
        p.device.type in _FUSED_DEVICES
        and p.dtype in (torch.float32, torch.float64)
        and g.dtype == m.dtype == v.dtype == p.dtype
        and all(x.is_contiguous() for x in (p, g, m, v))
    )


def _compilable(p: torch.Tensor, g: torch.Tensor, m: torch.Tensor, v: torch.Tensor) -> bool:
    return (
        p.numel() > 0
        and p.dtype in (torch.float32, torch.float64)
        and g.dtype == m.dtype == v.dtype == p.dtype
        and all(x.is_contiguous() for x in (p, g, m, v))
    )


class _Hyper:
    """One group's hyperparameters as Python floats, read once per step."""

    __slots__ = ("b1", "b2", "eps", "eps_root", "fused_ok", "lr", "wd")
    b1: float
    b2: float
    eps: float
    eps_root: float
    fused_ok: bool
    lr: float
    wd: float

    @classmethod
    def of(cls, group: Mapping[str, Any]) -> _Hyper:
        h = cls()
        h.lr = float(group["lr"])
        h.b1, h.b2 = (float(b) for b in group["betas"])
        h.eps = float(group["eps"])
        h.eps_root = float(group["eps_root"])
        h.wd = float(group["weight_decay"])
        h.fused_ok = bool(_FUSED_DEVICES) and h.eps_root == 0.0 and h.b1 >= _FUSED_MIN_BETA1
        return h

    def nesterov(self, t: int) -> tuple[float, float]:
        """``(c1, c2)`` with ``m_hat = c1 m_t + c2 g_t`` at step ``t``."""
        return (
            self.b1 / (1.0 - self.b1 ** (t + 1)),
            (1.0 - self.b1) / (1.0 - self.b1**t),
        )


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _single(
    p: torch.Tensor, g: torch.Tensor, m: torch.Tensor, v: torch.Tensor, t: int, hp: _Hyper
) -> None:
    """One tensor, in optax's order of operations."""
    dtype = _compute_dtype(p.dtype)
    g = g.to(dtype)
    m_c, v_c, p_c = m.to(dtype), v.to(dtype), p.to(dtype)  # no copy when already ``dtype``
    c1, c2 = hp.nesterov(t)
    m_c.mul_(hp.b1).add_(g, alpha=1.0 - hp.b1)
    v_c.mul_(hp.b2).addcmul_(g, g, value=1.0 - hp.b2)
    denom = (v_c / (1.0 - hp.b2**t)).add_(hp.eps_root).sqrt_().add_(hp.eps)
    u = (m_c * c1).add_(g, alpha=c2).div_(denom)
    if hp.wd != 0.0:
        u.add_(p_c, alpha=hp.wd)
    p_c.add_(u, alpha=-hp.lr)
    for dst, src in ((m, m_c), (v, v_c), (p, p_c)):
        if dst is not src:
            dst.copy_(src)


def _blocks(
    lists: Sequence[list[torch.Tensor]], block: int
) -> Iterator[tuple[list[torch.Tensor], ...]]:
    """Cuts parallel lists of same-shaped tensors into blocks of about ``block`` elements.

    Large contiguous tensors become flat views; small ones are batched. A
    tensor whose entries are not all contiguous is kept whole.
    """
    current: tuple[list[torch.Tensor], ...] = tuple([] for _ in lists)
    size = 0
    for tensors in zip(*lists, strict=True):
        n = tensors[0].numel()
        if n > block and all(x.is_contiguous() for x in tensors):
            pieces: Iterable[tuple[torch.Tensor, ...]] = zip(
                *(x.view(-1).split(block) for x in tensors), strict=True
            )
        else:
            pieces = (tensors,)
        for piece in pieces:
            for out, x in zip(current, piece, strict=True):
                out.append(x)
            size += piece[0].numel()
            if size >= block:
                yield current
                current = tuple([] for _ in lists)
                size = 0
    if size:
        yield current


def _by_block(device: torch.device, block: int, *lists: list[torch.Tensor]) -> Iterable[tuple]:
    # GPUs apply a foreach op to every tensor in one launch; CPUs gain from cache reuse.
    if device.type == "cpu":
        return _blocks(lists, block)
    return (lists,)


def _foreach(P: Tensors, G: Tensors, M: Tensors, V: Tensors, t: int, hp: _Hyper) -> None:
    """All tensors of one (device, dtype, step) bucket with ``torch._foreach_*`` ops."""
    dtype = _compute_dtype(P[0].dtype)
    Pc = [p.to(dtype) for p in P] if P[0].dtype != dtype else P
    Gc = [g.to(dtype) for g in G]
    Mc = [m.to(dtype) for m in M] if M[0].dtype != dtype else M
    Vc = [v.to(dtype) for v in V] if V[0].dtype != dtype else V
    c1, c2 = hp.nesterov(t)
    k = c1 + c2
    bc2 = 1.0 - hp.b2**t
    for p, g, m, v in _by_block(P[0].device, _FOREACH_CPU_BLOCK, Pc, Gc, Mc, Vc):
        torch._foreach_lerp_(m, g, 1.0 - hp.b1)
        torch._foreach_mul_(v, hp.b2)
        torch._foreach_addcmul_(v, g, g, value=1.0 - hp.b2)
        if hp.eps_root == 0.0:
            # d = sqrt(v) + eps s = s (sqrt(v_hat) + eps) with s = sqrt(bc2): saves a pass.
            d = torch._foreach_sqrt(v)
            torch._foreach_add_(d, hp.eps * math.sqrt(bc2))
            s = math.sqrt(bc2)
        else:
            d = torch._foreach_mul(v, 1.0 / bc2)
            torch._foreach_add_(d, hp.eps_root)
            torch._foreach_sqrt_(d)
            torch._foreach_add_(d, hp.eps)
            s = 1.0
        # m_hat = c1 m + c2 g = k lerp(m, g, c2 / k) with k = c1 + c2: one pass.
        num = torch._foreach_lerp(m, g, c2 / k)
        if hp.wd != 0.0 and hp.lr != 0.0:
            # u = s k (num + wd / (s k) p d) / d = m_hat / denom + wd p, so that p is
            # rounded once per step, as in optax, rather than once per term.
            torch._foreach_addcmul_(num, p, d, value=hp.wd / (s * k))
        torch._foreach_addcdiv_(p, num, d, value=-hp.lr * s * k)
    for dst, src in ((P, Pc), (M, Mc), (V, Vc)):
        if dst is not src:
            torch._foreach_copy_(dst, src)


def _fused(P: Tensors, G: Tensors, M: Tensors, V: Tensors, t: int, hp: _Hyper) -> None:
    """PyTorch's fused AdamW kernel run as NAdamW (module docstring), then the moment fix-up."""
    c1, c2 = hp.nesterov(t)
    k = c1 + c2
    b1_kernel = c1 * hp.b1 / k
    # The kernel divides by its own bias correction 1 - b1_kernel^t; undo it.
    lr_kernel = hp.lr * k * (1.0 - b1_kernel**t)
    fixup = 1.0 - hp.b1 / b1_kernel
    device = P[0].device
    step = torch.tensor(float(t), dtype=torch.float32, device=device)
    for p, g, m, v in _by_block(device, _FUSED_CPU_BLOCK, P, G, M, V):
        if hp.wd != 0.0 and hp.lr != 0.0:
            # Decay outside the kernel: it would multiply by a float32 (1 - lr wd).
            torch._foreach_add_(p, p, alpha=-hp.lr * hp.wd)
        torch._fused_adamw_(
            p, g, m, v, [], [step] * len(p),
            lr=lr_kernel, beta1=b1_kernel, beta2=hp.b2, weight_decay=0.0, eps=hp.eps,
            amsgrad=False, maximize=False,
        )  # fmt: skip
        torch._foreach_lerp_(m, g, fixup)


def _nadamw_tensor(
    p: torch.Tensor, g: torch.Tensor, m: torch.Tensor, v: torch.Tensor, c: torch.Tensor
) -> None:
    """One tensor's update in place; ``c`` = (1-b1, b2, 1-b2, c1, c2, 1/(1-b2^t), eps_root,
    eps, lr, wd, b1), a tensor so that a new step's values reuse the compiled kernel.

    ``c`` is float64 where the device has it, also for float32 tensors: its 0-d entries
    are rounded to the tensors' dtype (type promotion), and in the C++ inductor writes
    for CPU a ``double`` cannot alias the ``float`` outputs, so the compiler keeps the
    scalars in registers instead of reloading them after every store (about 12% of
    the kernel's time at 1 thread).
    """
    # optax's b1 m + (1-b1) g; a lerp compiles to a blend of two formulas (6% slower).
    m.mul_(c[10]).add_(g * c[0])
    v.mul_(c[1]).add_(g * g * c[2])
    u = (c[3] * m + c[4] * g) / ((v * c[5] + c[6]).sqrt() + c[7]) + c[9] * p
    p.sub_(c[8] * u)


def _nadamw_tensors(P: Tensors, G: Tensors, M: Tensors, V: Tensors, c: torch.Tensor) -> None:
    """:func:`_nadamw_tensor` on each tensor of one call: compiled, one pass per tensor."""
    for p, g, m, v in zip(P, G, M, V, strict=True):
        _nadamw_tensor(p, g, m, v, c)


# Tensors per compiled call: one call per bucket for most models, bounded so that one
# graph's generated code stays of a size the compiler handles in about a minute.
_CALL_MAX_TENSORS = 128
# (device, dtype, shapes) -> its compiled function.
_Signature = tuple[torch.device, torch.dtype, tuple[torch.Size, ...]]
_KERNELS: dict[_Signature, Callable[..., None]] = {}


def _kernel(signature: _Signature) -> Callable[..., None]:
    """The function inductor compiled for one call's tensors, with static sizes.

    The graph is traced (``make_fx``) and compiled by inductor directly, without
    dynamo: the signature is the whole of what the generated code assumes (device,
    dtype, shapes of contiguous tensors, checked by the caller), so dynamo's guards on
    every tensor would check it again each step, about a fifth of the step at 1M
    parameters. The trace runs with autocast off: the update's arithmetic is the
    tensors' own dtype whatever the caller's autocast state. Static sizes let
    inductor emit one fixed-length loop per tensor (12% faster at 1M parameters than
    symbolic sizes).
    """
    kernel = _KERNELS.get(signature)
    if kernel is None:
        from torch.fx.experimental.proxy_tensor import make_fx

        device, dtype, shapes = signature
        n = len(shapes)

        def flat(*args: torch.Tensor) -> None:
            _nadamw_tensors(list(args[:n]), list(args[n:2 * n]), list(args[2 * n:3 * n]),
                            list(args[3 * n:4 * n]), args[4 * n])

        example: list[Any] = [torch.zeros(s, dtype=dtype, device=device)
                              for _ in range(4) for s in shapes]
        example.append(torch.zeros(11, dtype=_scalar_dtype(device), device=device))
        off = (torch.autocast(device.type, enabled=False)
               if torch.amp.is_autocast_available(device.type) else contextlib.nullcontext())
        with off:
            graph = make_fx(flat)(*example)
            kernel = _KERNELS[signature] = torch._inductor.compile(graph, example)
    return kernel


def _scalar_dtype(device: torch.device) -> torch.dtype:
    # MPS has no float64; elsewhere float64 (see _nadamw_tensor).
    return torch.float32 if device.type == "mps" else torch.float64


def _constants(hp: _Hyper, t: int, device: torch.device) -> torch.Tensor:
    """``c`` of :func:`_nadamw_tensor` for step ``t``."""
    c1, c2 = hp.nesterov(t)
    return torch.tensor(
        [1.0 - hp.b1, hp.b2, 1.0 - hp.b2, c1, c2, 1.0 / (1.0 - hp.b2**t), hp.eps_root, hp.eps,
         hp.lr, hp.wd, hp.b1], dtype=_scalar_dtype(device), device=device)  # fmt: skip


class _CompileFailed(RuntimeError):
    """Inductor could not build a kernel (``compiled="auto"`` then uses the other paths)."""


def _compiled(P: Tensors, G: Tensors, M: Tensors, V: Tensors, t: int, hp: _Hyper) -> None:
    """One bucket through the kernels compiled from :func:`_nadamw_tensors`.

    Every kernel of the bucket is built before any runs, so a failed compilation
    leaves the tensors untouched.
    """
    device = P[0].device
    c = _constants(hp, t, device)
    # The tensors themselves, not flat views of them: building 4 views per tensor each
    # step cost about a quarter of fused AdamW's step at 1M parameters. They are
    # contiguous (_compilable), so their shapes fix their layout.
    calls = []
    for i in range(0, len(P), _CALL_MAX_TENSORS):
        j = i + _CALL_MAX_TENSORS
        signature = (device, P[0].dtype, tuple(p.shape for p in P[i:j]))
        try:
            calls.append((_kernel(signature), i, j))
        except Exception as e:  # compilation needs a C++ compiler (CPU) or triton (CUDA)
            raise _CompileFailed(
                f"compiled=True: inductor could not build the NAdamW kernel on "
                f"{device.type} ({type(e).__name__}: {e}); use compiled=False"
            ) from e
    for kernel, i, j in calls:
        kernel(*P[i:j], *G[i:j], *M[i:j], *V[i:j], c)


def _compiled8(kernel: Callable[..., None], P: Tensors, G: Tensors,
               S: list[dict[str, Any]], t: int, hp: _Hyper) -> None:
    """A group's CPU tensors with 8-bit state, and its small ones with 32-bit moments,
    through the C++ kernel, all of them in one call."""
    _cpu8.run(kernel, P, G, S, _constants(hp, t, torch.device("cpu")))


def _plain8(P: Tensors, G: Tensors, S: list[dict[str, Any]], t: int, hp: _Hyper) -> None:
    """8-bit tensors in PyTorch operations: dequantize, :func:`_nadamw_tensor`, quantize."""
    c = _constants(hp, t, P[0].device)
    for p, g, state in zip(P, G, S, strict=True):
        dtype = _compute_dtype(p.dtype)
        m, v = (dequantize_into(state[k], state[k + "_absmax"],
                                torch.empty(p.shape, dtype=dtype, device=p.device), signed)
                for k, signed in (("exp_avg", True), ("exp_avg_sq", False)))
        p_c = p if p.dtype == dtype else p.to(dtype)
        _nadamw_tensor(p_c, g.to(dtype), m, v, c)
        if p_c is not p:
            p.copy_(p_c)
        quantize_into(m, state["exp_avg"], state["exp_avg_absmax"], True)
        quantize_into(v, state["exp_avg_sq"], state["exp_avg_sq_absmax"], False)


# compiled="auto" after a failed compilation: (device type, state bits) -> the error. The
# other paths serve those tensors from then on, in every optimizer of the process.
_AUTO_FAILED: dict[tuple[str, int], str] = {}
_AUTO_LOCK = threading.Lock()


def _auto_fallback(device_type: str, bits: int, error: BaseException) -> None:
    """Records a failed compilation under ``compiled="auto"`` and warns, once per kind."""
    with _AUTO_LOCK:
        if (device_type, bits) in _AUTO_FAILED:
            return
        _AUTO_FAILED[(device_type, bits)] = f"{type(error).__name__}: {error}"
    what = "the 8-bit C++ kernel" if bits == 8 else "inductor's kernel"
    warnings.warn(
        f"NAdamW(compiled='auto'): {what} could not be compiled on {device_type} "
        f"({type(error).__name__}: {str(error)[:300]}); these tensors take the uncompiled "
        "path from now on (same results, slower). Pass compiled=False to skip the attempt.",
        RuntimeWarning, stacklevel=4)


def auto_compiled(num_params: int, *, compiler: bool, state_bits: int = 32) -> bool:
    """The choice of ``compiled="auto"``: compile when a compiler works and the tensors are many.

    ``num_params`` counts the elements of the tensors with ``state_bits``-bit
    state; the threshold is :data:`AUTO_COMPILED_MIN_PARAMS` (1M for 32-bit
    state, from the measurement in the module docstring; 4096, every 8-bit
    tensor, for 8-bit state). ``compiler``: whether the device has the
    compiler (:func:`cxx_compiler_works` on CPU).

    Example:
        >>> auto_compiled(5_000_000, compiler=True), auto_compiled(200_000, compiler=True)
        (True, False)
        >>> auto_compiled(5_000_000, compiler=False), auto_compiled(8192, compiler=True, state_bits=8)
        (False, True)
    """
    check_int("num_params", num_params, low=0)
    check_choice("state_bits", state_bits, _STATE_BITS)
    return bool(compiler) and num_params >= AUTO_COMPILED_MIN_PARAMS[state_bits]


@functools.cache
def cxx_compiler_works() -> bool:
    """Whether the C++ compiler inductor uses on CPU is found and compiles a tiny file.

    Checked once per process (about 0.1 s); ``compiled="auto"`` needs it on CPU.

    Example:
        >>> isinstance(cxx_compiler_works(), bool)
        True
    """
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        cxx = get_cpp_compiler()
    except Exception:  # no compiler found, or an inductor without this function
        return False
    try:
        done = subprocess.run(
            [cxx, "-x", "c++", "-c", "-o", os.devnull, "-"], input=b"int f() { return 0; }\n",
            capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _compiler_found(device_type: str, bits: int) -> bool:
    """Whether the compiled path of ``bits``-bit state can be built for ``device_type``."""
    if device_type == "cpu":
        return cxx_compiler_works()
    if device_type == "cuda" and bits == 32:
        try:
            from torch.utils._triton import has_triton

            return bool(has_triton())
        except ImportError:  # pragma: no cover - older torch
            return False
    return False


class WarmupCosineFactor:
    """``step -> factor`` of the warmup-cosine schedule, for ``torch.optim.lr_scheduler.LambdaLR``.

    A callable object rather than a closure so that ``LambdaLR.state_dict()``
    saves it. The schedule ends at ``total_steps`` with a factor of 0: an
    optimizer step past it trains nothing, so the first one warns (once).

    Example:
        >>> f = WarmupCosineFactor(warmup=2, total_steps=10)
        >>> f(0), f(1), f(2), f(10)
        (0.0, 0.5, 1.0, 0.0)
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as w:
        ...     warnings.simplefilter("always")
        ...     _ = f(11), f(12)
        >>> len(w), "past the end of its schedule" in str(w[0].message)
        (1, True)
    """

    def __init__(self, warmup: int, total_steps: int) -> None:
        self.total_steps = check_int("total_steps", total_steps, low=1)
        self.warmup = check_int("warmup", warmup, low=0, high=self.total_steps)
        self.warned = False

    def __call__(self, step: int) -> float:
        if step > self.total_steps and not self.warned:
            import warnings

            self.warned = True
            warnings.warn(
                f"the optimizer has stepped past the end of its schedule ({self.total_steps} "
                "steps): the learning rate is 0 from there, so these steps train nothing. Stop "
                f"after {self.total_steps} steps (for a point with a horizon h, "
                "hplists.steps_to_run(point, total_steps) = int(h * "
                "total_steps))", stacklevel=2)
        return warmup_cosine_factor(step, self.warmup, self.total_steps)

    def __repr__(self) -> str:
        return f"WarmupCosineFactor(warmup={self.warmup}, total_steps={self.total_steps})"


def build(
    point: HParams,
    params: ParamsLike,
    total_steps: int,
    *,
    mask: Callable[[str, torch.Tensor], bool] | None = None,
    eps_root: float = 0.0,
    state_dtype: torch.dtype | None = None,
    foreach: bool | None = None,
    fused: bool | None = None,
    compiled: bool | str = "auto",
    state_bits: int = 32,
) -> tuple[NAdamW, LambdaLR]:
    """The optimizer and scheduler that train with ``point`` for ``total_steps`` steps.

    Returns ``(optimizer, scheduler)`` for the standard loop
    ``loss.backward(); optimizer.step(); scheduler.step()``: update ``t``
    (0-based) uses ``point.learning_rate * factor(t)``, as optax's schedule
    does at count ``t``, so the learning rate warms up linearly from 0 over
    ``int(warmup_fraction * total_steps)`` steps, decays (cosine) to 0 at
    ``total_steps`` and stays 0 after it.

    ``mask(name, param)`` selects the parameters that get weight decay (True)
    as optax's ``mask`` does, e.g. :func:`decay_matrices`; ``None`` decays
    all (or keeps the given parameter groups as they are). The point's
    ``dropout_rate`` and ``label_smoothing`` belong to the model and the loss.
    The other options are :class:`NAdamW`'s (``state_bits=8``: 8-bit
    block-wise moments; ``compiled``: ``"auto"`` by default).

    Example:
        >>> import hplists
        >>> net = torch.nn.Linear(4, 2)
        >>> point = hplists.get_list("nadamw-paper").points[0]
        >>> opt, sched = build(point, net, total_steps=100, mask=decay_matrices)
        >>> [g["weight_decay"] for g in opt.param_groups]
        [0.020932289532959312, 0.0]
        >>> for _ in range(10):  # warmup_fraction 0.1: 10 warmup steps
        ...     net(torch.randn(8, 4)).square().mean().backward()
        ...     opt.step(); sched.step(); opt.zero_grad()
        >>> opt.param_groups[0]["lr"] == point.learning_rate
        True
    """
    if not isinstance(point, HParams):
        raise InvalidParameterError(f"point must be an HParams, got {type(point).__name__}")
    warm = warmup_steps(point.warmup_fraction, total_steps)
    groups: Any = params
    if mask is not None:
        groups = param_groups(params, mask)  # type: ignore[arg-type]
    elif isinstance(params, torch.nn.Module):
        groups = params.parameters()
    optimizer = NAdamW(
        groups,
        lr=point.learning_rate,
        betas=(point.beta1, point.beta2),
        eps=point.eps,
        weight_decay=point.weight_decay,
        eps_root=eps_root,
        state_dtype=state_dtype,
        foreach=foreach,
        fused=fused,
        compiled=compiled,
        state_bits=state_bits,
    )
    return optimizer, LambdaLR(optimizer, WarmupCosineFactor(warm, total_steps))
