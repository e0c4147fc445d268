"""The compiled programs of a workload, rule and horizon: built once, cached, persisted."""

from __future__ import annotations

import collections
import dataclasses
import math
import os
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from hplists._check import check_real
from hplists.optim.update_rule import UpdateRule, eval_params_of
from hplists.workloads.contract import JaxWorkload
from hplists.workloads.engine.data import DATA_CACHE, DeviceData, workload_key


class TrainState(NamedTuple):
    """What the compiled programs carry from step to step: parameters, optimizer state and
    the divergence bookkeeping (batched along a first axis in a vmapped program)."""

    params: Any
    opt_state: Any
    ok: Any  # bool: not diverged
    diverged_at: Any  # int32: the step whose loss diverged (0: none)
    bad_loss: Any  # float32: that step's loss
    first_loss: Any  # float32: the loss at step 1, before any update


@dataclasses.dataclass
class CompiledPrograms:
    """The compiled programs of one group: ``init``, ``chunk`` (the steps between two
    evaluations) and ``predict`` (over the validation split), as :func:`compiled_programs`
    builds them."""

    init: Any
    chunk: Any
    predict: Any
    with_state: bool  # predict takes the optimizer state (the rule's eval_params hook)

    def evaluate(self, state: TrainState, valid: Any) -> Any:
        """Predictions on ``valid`` at the evaluated parameters (the rule's eval_params)."""
        if self.with_state:
            return self.predict(state.params, valid, state.opt_state)
        return self.predict(state.params, valid)


# The compiled programs of the last few groups, by workload, budget, rule, hyperparameter
# names, group size and batch order shape (least recently used first).
PROGRAM_CACHE: collections.OrderedDict[tuple, CompiledPrograms] = collections.OrderedDict()
_PROGRAM_SLOTS = 16

# Where compiled programs persist across processes and runs (set to "off" to disable).
COMPILATION_CACHE_ENV = "HPLISTS_COMPILATION_CACHE"
_CACHE_STATE: dict[str, Any] = {"done": False, "path": None}


def enable_compilation_cache(path: str | os.PathLike[str] | None = None) -> str | None:
    """Turns on JAX's persistent compilation cache for the engine's programs; returns its folder.

    A trial of a new (workload, update rule, horizon) spends most of its time
    compiling (about 30 s against 4 s for image_resnet), and every worker
    process and every resumed run compiled again. With the cache, a program
    compiled once is loaded from disk by any later process: the same compiled
    code, so curves are unchanged. Called by the engine before its first
    compilation; the folder is ``path``, else ``$HPLISTS_COMPILATION_CACHE``,
    else ``$XDG_CACHE_HOME/hplists/jax`` (``~/.cache/hplists/jax``). Setting
    ``HPLISTS_COMPILATION_CACHE=off`` keeps JAX's configuration untouched. JAX's
    setting is process-wide, so other JAX code in the process uses the cache too;
    a cache folder the user configured already is kept.

    Example:
        >>> import os
        >>> folder = enable_compilation_cache()
        >>> folder is None or os.path.isdir(folder)
        True
    """
    import jax

    if _CACHE_STATE["done"] and path is None:
        return _CACHE_STATE["path"]
    _CACHE_STATE["done"] = True
    env = os.environ.get(COMPILATION_CACHE_ENV, "")
    if path is None and env.lower() in ("off", "0", "false", "no"):
        return None
    # jax's flags are dynamic attributes of its Config, which its stubs do not declare
    configured = jax.config.jax_compilation_cache_dir  # type: ignore[attr-defined]
    if path is None and configured:
        _CACHE_STATE["path"] = str(configured)
        return _CACHE_STATE["path"]
    if path is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = env or os.path.join(base, "hplists", "jax")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:  # an unwritable home: compile as before
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    _CACHE_STATE["path"] = str(path)
    return _CACHE_STATE["path"]


def default_rule() -> UpdateRule:
    """The update rule points train with when none is given: :func:`hplists.optax.rule`
    (NAdamW with warmup and cosine decay)."""
    from hplists.optim.optax_nadamw import rule

    return rule


def point_functions(workload: JaxWorkload, total_steps: int, rule: UpdateRule,
                    early_exit: bool = False) -> tuple:
    """Pure single-point functions ``(init, step, chunk, predict)``: initial state, one step,
    the steps between two evaluations, predictions over the validation split.

    With ``early_exit`` the chunk stops at a diverged step (a while loop); under
    ``vmap`` a fixed-length loop is cheaper, as a batched while loop would
    select between old and new states at every step.
    """
    import jax
    import jax.numpy as jnp
    import optax

    factor = getattr(workload, "divergence_factor", None)
    factor = math.inf if factor is None else check_real("divergence_factor", factor, low=1.0)

    def init(hp: Mapping[str, Any], init_key: Any) -> TrainState:
        params = workload.init(init_key)
        opt_state = rule(hp, total_steps).init(params)
        nan = jnp.array(jnp.nan, jnp.float32)
        return TrainState(params, opt_state, jnp.array(True), jnp.array(0, jnp.int32), nan, nan)

    def step(i: Any, carry: tuple, hp: Mapping[str, Any], train: Any, order: Any,
             dropout_key: Any) -> tuple:
        state, loss_sum = carry
        tx = optax.with_extra_args_support(rule(hp, total_steps))
        idx = order[i]
        batch = jax.tree.map(lambda a: jnp.take(a, idx, axis=0), train)
        rng = jax.random.fold_in(dropout_key, i)
        loss, grads = jax.value_and_grad(workload.loss_fn)(
            state.params, batch, rng, hp["dropout_rate"], hp["label_smoothing"]
        )
        updates, opt_state = tx.update(grads, state.opt_state, state.params, value=loss)
        params = optax.apply_updates(state.params, updates)
        loss = loss.astype(jnp.float32)
        first = jnp.where(i == 0, loss, state.first_loss)
        limit = jnp.where(first > 0, factor * first, jnp.inf)
        good = jnp.isfinite(loss) & (loss <= limit)
        ok = state.ok & good
        now = state.ok & ~good

        def keep(new: Any, old: Any) -> Any:
            return jnp.where(ok, new, old)

        new = TrainState(
            jax.tree.map(keep, params, state.params),
            jax.tree.map(keep, opt_state, state.opt_state),
            ok,
            jnp.where(now, i + 1, state.diverged_at).astype(jnp.int32),
            jnp.where(now, loss, state.bad_loss),
            first,
        )
        return new, loss_sum + jnp.where(ok, loss, 0.0)

    def chunk(state: TrainState, hp: Mapping[str, Any], train: Any, order: Any, dropout_key: Any,
              start: Any, stop: Any) -> tuple[TrainState, Any]:
        """Steps ``start+1 .. stop``; returns the state and the mean loss over them."""
        zero = jnp.zeros((), jnp.float32)
        if early_exit:
            _, state, loss_sum = jax.lax.while_loop(
                lambda c: (c[0] < stop) & c[1].ok,
                lambda c: (c[0] + 1, *step(c[0], c[1:], hp, train, order, dropout_key)),
                (start, state, zero),
            )
        else:
            state, loss_sum = jax.lax.fori_loop(
                start, stop, lambda i, c: step(i, c, hp, train, order, dropout_key),
                (state, zero))
        return state, loss_sum / jnp.maximum(stop - start, 1).astype(jnp.float32)

    evaluated = eval_params_of(rule)

    def predict(params: Any, valid: Any, opt_state: Any = None) -> Any:
        if evaluated is not None:
            params = evaluated(opt_state, params)
        return jax.lax.map(lambda b: workload.predict(params, b), valid)

    return init, step, chunk, predict


def compiled_programs(workload: JaxWorkload, total_steps: int, rule: UpdateRule,
                      hp: Mapping[str, np.ndarray], data: DeviceData, order: np.ndarray,
                      keys: tuple, vmapped: bool) -> CompiledPrograms:
    """The programs that train ``hp``'s points on ``workload``: compiled ahead of time once,
    then taken from :data:`PROGRAM_CACHE`.

    ``vmapped``: one program for all the points of ``hp`` (:func:`jax.vmap`), else a
    single-point program (``hp``'s arrays hold one point, passed as scalars).
    """
    import jax

    n = len(next(iter(hp.values())))
    cache_key = (workload_key(workload), total_steps, rule, tuple(sorted(hp)),
                 n if vmapped else None, order.shape)
    if cache_key in PROGRAM_CACHE:
        PROGRAM_CACHE.move_to_end(cache_key)
        return PROGRAM_CACHE[cache_key]
    enable_compilation_cache()
    init, _, chunk, predict = point_functions(workload, total_steps, rule, early_exit=not vmapped)
    with_state = eval_params_of(rule) is not None
    if vmapped:
        init = jax.vmap(init, in_axes=(0, None))
        chunk = jax.vmap(chunk, in_axes=(0, 0, None, None, None, None, None))
        predict = jax.vmap(predict, in_axes=(0, None, 0) if with_state else (0, None))
        hp_spec = {k: jax.ShapeDtypeStruct(v.shape, v.dtype) for k, v in hp.items()}
    else:
        hp_spec = {k: jax.ShapeDtypeStruct((), v.dtype) for k, v in hp.items()}
    init_key, dropout_key = keys
    i32 = jax.ShapeDtypeStruct((), np.int32)
    state_spec = jax.eval_shape(init, hp_spec, init_key)
    progs = CompiledPrograms(
        init=jax.jit(init).lower(hp_spec, init_key).compile(),
        chunk=jax.jit(chunk, donate_argnums=0)
        .lower(state_spec, hp_spec, data.train, order, dropout_key, i32, i32)
        .compile(),
        predict=(jax.jit(predict).lower(state_spec.params, data.valid, state_spec.opt_state)
                 if with_state else jax.jit(predict).lower(state_spec.params, data.valid)
                 ).compile(),
        with_state=with_state,
    )
    PROGRAM_CACHE[cache_key] = progs
    while len(PROGRAM_CACHE) > _PROGRAM_SLOTS:
        PROGRAM_CACHE.popitem(last=False)
    return progs


def clear_cache() -> None:
    """Forgets cached datasets and compiled programs (e.g. after editing a workload)."""
    DATA_CACHE.clear()
    PROGRAM_CACHE.clear()
