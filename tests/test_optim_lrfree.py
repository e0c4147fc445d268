"""The learning-rate-free rules (hplists.optim.lrfree) against the optax.contrib references.

Each rule must be the optax method it names, driven by paper 002's relative
schedule, in float64 to rounding; and the traps of the reference
implementations are pinned: D-Adapt/Prodigy's NaN at a zero learning rate,
MoMo's need for the loss, COCOB's indifference to a constant learning rate,
Schedule-Free's evaluation parameters.
"""

from __future__ import annotations

import math
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from optax import contrib

from hplists.optim import lrfree
from hplists.optim.rules import RULES, get_rule
from hplists.optim.schedule import warmup_cosine_factor
from hplists.optim.update_rule import eval_params_of, static_of

T = 40
W = 4
A = np.array([1.0, 3.0, 0.5, 2.0, 0.2, 1.5])
B = np.array([0.3, -1.0, 2.0, 0.0, 1.0, -0.5])


def _loss(x):
    return jnp.sum(A * (x - B) ** 2) + 0.1 * jnp.sum(jnp.sin(3 * x))


def _trajectory(tx, steps: int = T, x0=None):
    """Parameters after each of ``steps`` updates (the loss is passed as ``value``)."""
    tx = optax.with_extra_args_support(tx)
    x = jnp.asarray(np.linspace(-1.0, 1.0, 6) if x0 is None else x0)
    state = tx.init(x)
    out = []
    for _ in range(steps):
        value, g = jax.value_and_grad(_loss)(x)
        u, state = tx.update(g, state, x, value=value)
        x = optax.apply_updates(x, u)
        out.append(np.asarray(x))
    return np.array(out), state


def _sched(t):
    return warmup_cosine_factor(t, W, T, xp=jnp)


def _sched_no_zero(t):  # cosine from 1 at step 0 (no idle step)
    return warmup_cosine_factor(t, 0, T, xp=jnp)


HP = {"warmup_steps": W, "beta1": 0.85, "beta2": 0.99, "weight_decay": 0.01}

REFERENCES = {
    "dog": (lambda: contrib.dog(learning_rate=_sched, init_step=("heuristic", 1e-6),
                                weight_decay=0.01), {"warmup_steps": W, "weight_decay": 0.01}),
    "dowg": (lambda: contrib.dowg(learning_rate=_sched, eps=1e-4, weight_decay=0.01),
             {"warmup_steps": W, "weight_decay": 0.01}),
    "mechanic_adam": (lambda: contrib.mechanize(
        optax.adamw(_sched, b1=0.85, b2=0.99, weight_decay=0.01), weight_decay=1e-2,
        s_init=1e-6, num_betas=6), HP),
    "mechanic": (lambda: contrib.mechanize(
        optax.chain(optax.add_decayed_weights(0.01), optax.sgd(_sched)), weight_decay=1e-2,
        s_init=1e-6, num_betas=6), {"warmup_steps": W, "weight_decay": 0.01}),
    "mechanic_nadam": (lambda: contrib.mechanize(
        optax.nadamw(_sched, b1=0.85, b2=0.99, weight_decay=0.01), weight_decay=1e-2,
        s_init=1e-6), HP),
    "cocob": (lambda: optax.chain(contrib.cocob(alpha=100.0, weight_decay=0.01),
                                  optax.scale_by_schedule(_sched)),
              {"warmup_steps": W, "weight_decay": 0.01}),
    "momo": (lambda: contrib.momo(learning_rate=_sched, beta=0.85, weight_decay=0.01),
             {"warmup_steps": W, "beta1": 0.85, "weight_decay": 0.01}),
    "momo_adam": (lambda: contrib.momo_adam(learning_rate=lambda t: 1e-2 * _sched(t), b1=0.85,
                                            b2=0.99, weight_decay=0.01), HP),
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_rule_is_the_optax_method_with_the_relative_schedule_in_float64(name):
    make, hp = REFERENCES[name]
    with jax.enable_x64(True):
        ours, _ = _trajectory(get_rule(name)(hp, T))
        ref, _ = _trajectory(make())
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-14)
    assert np.all(np.isfinite(ours)) and not np.allclose(ours[-1], ours[0])


@pytest.mark.parametrize("name,make", [
    ("prodigy", lambda lr: contrib.prodigy(learning_rate=lr, betas=(0.85, 0.99),
                                           weight_decay=0.01)),
    ("dadapt_adamw", lambda lr: contrib.dadapt_adamw(learning_rate=lr, betas=(0.85, 0.99),
                                                     weight_decay=0.01)),
])
def test_d_estimating_rules_equal_optax_when_no_step_is_idle(name, make):
    hp = {**HP, "warmup_steps": 0}
    with jax.enable_x64(True):
        ours, _ = _trajectory(get_rule(name)(hp, T))
        ref, _ = _trajectory(make(_sched_no_zero))
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name,make", [
    ("prodigy", lambda lr: contrib.prodigy(learning_rate=lr)),
    ("dadapt_adamw", lambda lr: contrib.dadapt_adamw(learning_rate=lr)),
])
def test_optax_d_estimate_is_nan_after_a_zero_learning_rate_and_ours_skips_the_step(name, make):
    # The trap: a warmup from 0 makes optax's d = 0 / 0 at step 0, and NaN poisons every step.
    with jax.enable_x64(True):
        _, ref_state = _trajectory(make(_sched), steps=W + 2)
        ours, state = _trajectory(get_rule(name)({"warmup_steps": W}, T), steps=W + 2)
    assert not np.isfinite(float(ref_state.estim_lr))
    assert np.all(np.isfinite(ours)) and math.isfinite(float(state.inner.estim_lr))
    # The idle step changed nothing: the method's own count saw W + 1 active steps.
    np.testing.assert_array_equal(ours[0], np.linspace(-1.0, 1.0, 6))
    assert int(state.inner.count) == W + 1 and int(state.count) == W + 2


def test_skipping_an_idle_step_is_the_same_as_starting_one_step_later():
    """What the PyTorch packages do: the step with lr 0 leaves no trace in the method."""
    sched = lambda t: jnp.where(t == 0, 0.0, _sched_no_zero(t - 1))  # noqa: E731
    with jax.enable_x64(True):
        skipped, _ = _trajectory(lrfree.skip_idle_steps(
            lambda lr: contrib.prodigy(learning_rate=lr), sched), steps=12)
        direct, _ = _trajectory(contrib.prodigy(learning_rate=_sched_no_zero), steps=11)
    np.testing.assert_allclose(skipped[1:], direct, rtol=1e-12, atol=1e-14)


def test_prodigy_safeguard_warmup_is_static_and_changes_the_estimate():
    assert static_of(lrfree.prodigy) == ("safeguard_warmup",)
    with jax.enable_x64(True):
        on, _ = _trajectory(lrfree.prodigy({**HP, "safeguard_warmup": 1}, T))
        off, _ = _trajectory(lrfree.prodigy({**HP, "safeguard_warmup": 0}, T))
        ref, _ = _trajectory(lrfree.skip_idle_steps(
            lambda lr: contrib.prodigy(learning_rate=lr, betas=(0.85, 0.99), weight_decay=0.01,
                                       safeguard_warmup=True), _sched))
    np.testing.assert_allclose(on, ref, rtol=1e-12, atol=1e-14)
    assert not np.allclose(on, off)
    with pytest.raises(ValueError, match="safeguard_warmup must be the constant 0 or 1"):
        lrfree.prodigy({**HP, "safeguard_warmup": jnp.float32(1)}, T)


def test_momo_needs_the_loss_value():
    tx = contrib.momo()
    x = jnp.ones(3)
    with pytest.raises(TypeError):  # optax's momo has value as a required keyword
        tx.update(jnp.ones(3), tx.init(x), x)
    # With it, the first step is the Polyak step x - f / ||g||^2 g: the loss sets its size.
    for f in (1.5, 0.75):
        u, _ = tx.update(x, tx.init(x), x, value=jnp.float32(f))
        np.testing.assert_allclose(np.asarray(x + u), 1.0 - f / 3.0, rtol=1e-6)


def test_cocob_ignores_a_constant_learning_rate_so_the_schedule_scales_its_output():
    with jax.enable_x64(True):
        one, _ = _trajectory(contrib.cocob(learning_rate=1.0))
        seven, _ = _trajectory(contrib.cocob(learning_rate=7.0))
        half, _ = _trajectory(lrfree.cocob({"warmup_steps": 0}, T), steps=1)
        base, _ = _trajectory(contrib.cocob(), steps=1)
    np.testing.assert_allclose(one, seven, rtol=1e-9)  # the trap
    x0 = np.linspace(-1.0, 1.0, 6)
    np.testing.assert_allclose(half[0] - x0, (base[0] - x0) * 1.0, rtol=1e-12)  # s_0 = 1


def test_sfadamw_is_optax_schedule_free_adamw_with_a_traced_warmup():
    # lr 2^-4 and W = 4: optax's schedule rounds to float32 for its int32 count even under
    # x64, so the comparison uses values float32 holds exactly (ours stays float64).
    hp = {"learning_rate": 0.0625, "beta1": 0.9, "beta2": 0.995, "weight_decay": 0.01,
          "warmup_steps": W, "weight_lr_power": 2.0}
    ref_tx = contrib.schedule_free_adamw(0.0625, warmup_steps=W, b1=0.9, b2=0.995,
                                         weight_decay=0.01)
    with jax.enable_x64(True):
        ours, state = _trajectory(lrfree.sfadamw(hp, T))
        ref, ref_state = _trajectory(ref_tx)
        traced = jax.jit(lambda w: _trajectory_jit(lrfree.sfadamw({**hp, "warmup_steps": w}, T)))
        # Traced W, compiled: the same trajectory.
        np.testing.assert_allclose(np.asarray(traced(jnp.int32(W))), ours[-1], rtol=1e-12)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-14)
    eval_fn = eval_params_of(lrfree.sfadamw)
    x = jnp.asarray(ours[-1])
    np.testing.assert_allclose(np.asarray(eval_fn(state, x)),
                               np.asarray(contrib.schedule_free_eval_params(ref_state, x)),
                               rtol=1e-12)
    assert not np.allclose(np.asarray(eval_fn(state, x)), ours[-1])  # y is not x


def _submission_step_torch(torch, x, z, v, state, grad_at, hp):
    """One step of the AlgoPerf v0.5 self-tuning Schedule-Free AdamW, as its PyTorch
    ``AdamWScheduleFree.step`` computes it (x held between steps, bfloat16 second moment)."""
    b1, b2, eps = hp["beta1"], hp["beta2"], 1e-8
    k, warm = state["k"], hp["warmup_steps"]
    y = x.lerp(z, 1 - b1)
    grad = grad_at(y)
    sched = (k + 1) / warm if k < warm else 1.0
    lr = max(hp["learning_rate"] * sched, eps)
    state["lr_max"] = lr_max = max(lr, state["lr_max"])
    weight = ((k + 1) ** hp["r"]) * (lr_max ** hp["weight_lr_power"])
    state["weight_sum"] += weight
    ckp1 = weight / state["weight_sum"]
    step_size = lr * math.sqrt(1 - b2 ** (k + 1))
    v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
    denom = v.sqrt().add_(eps)
    z.addcdiv_(grad, denom, value=-step_size)
    z.sub_(x, alpha=step_size * hp["weight_decay"])
    x.lerp_(z, ckp1)
    state["k"] = k + 1


def test_sfadamw_algoperf_is_the_submissions_pytorch_step():
    """The rule optax lacks: r = 0.75 in the averaging weights, the same learning rate in the
    step and the weight, decay at x times sqrt(1 - beta2^t), bfloat16 second moment.

    Both are fed the same gradients (the PyTorch run's): a bfloat16 state turns any 1-ulp
    difference of a gradient into a different rounding, so only then do the states agree:
    the second moment bit for bit, the iterates to float32 rounding.
    """
    torch = pytest.importorskip("torch")
    hp = {"learning_rate": 0.05, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.08,
          "warmup_steps": W, "weight_lr_power": 2.0, "r": 0.75}
    x0 = np.linspace(-1.0, 1.0, 6).astype(np.float32)
    a, b = torch.tensor(A, dtype=torch.float32), torch.tensor(B, dtype=torch.float32)
    grads: list = []

    def grad_at(y):
        grads.append(2 * a * (y - b))
        return grads[-1]

    x, z = torch.tensor(x0), torch.tensor(x0)
    v = torch.zeros(6, dtype=torch.bfloat16)
    state = {"k": 0, "lr_max": 0.0, "weight_sum": 0.0}
    tx = lrfree.sfadamw_algoperf(hp, T)
    y = jnp.asarray(x0)
    st = tx.init(y)
    for _ in range(T):
        _submission_step_torch(torch, x, z, v, state, grad_at, hp)
        u, st = tx.update(jnp.asarray(grads[-1].numpy()), st, y)
        y = optax.apply_updates(y, u)
        assert np.array_equal(np.asarray(st.v.astype(jnp.float32)), v.float().numpy())
        np.testing.assert_allclose(np.asarray(st.z), z.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(eval_params_of(lrfree.sfadamw_algoperf)(st, y)),
                                   x.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(y), x.lerp(z, 1 - hp["beta1"]).numpy(),
                                   rtol=1e-5, atol=1e-6)
    assert float(st.weight_sum) == pytest.approx(state["weight_sum"], rel=1e-6)


def test_sfadamw_algoperf_differs_from_optax_schedule_free_where_the_submission_does():
    hp = {"learning_rate": 0.05, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.0,
          "warmup_steps": W, "weight_lr_power": 2.0}
    ref = contrib.schedule_free_adamw(0.05, warmup_steps=W, b1=0.9, b2=0.99, weight_decay=0.0)
    ref_traj, _ = _trajectory(ref)
    r0, _ = _trajectory(lrfree.sfadamw_algoperf({**hp, "r": 0.0}, T))
    r75, _ = _trajectory(lrfree.sfadamw_algoperf({**hp, "r": 0.75}, T))
    assert not np.allclose(ref_traj[1], ref_traj[0])  # optax: the first step leaves z alone
    assert not np.allclose(r75[-1], r0[-1], rtol=1e-3)  # r matters


def _trajectory_jit(tx, steps: int = T):
    x = jnp.asarray(np.linspace(-1.0, 1.0, 6))
    state = tx.init(x)

    def body(_, c):
        x, state = c
        g = jax.grad(_loss)(x)
        u, state = tx.update(g, state, x)
        return optax.apply_updates(x, u), state

    return jax.lax.fori_loop(0, steps, body, (x, state))[0]


def test_relative_schedule_off_is_a_constant_one_and_traced_switches_between_both():
    off = lrfree.relative_schedule({"relative_schedule": 0.0, "warmup_steps": W}, T)
    assert [float(off(t)) for t in (0, 5, T)] == [1.0, 1.0, 1.0]
    traced = jax.vmap(lambda on: lrfree.relative_schedule(
        {"relative_schedule": on, "warmup_steps": W}, T)(jnp.int32(2)))(jnp.array([0.0, 1.0]))
    np.testing.assert_allclose(np.asarray(traced), [1.0, 2 / W])


@pytest.mark.parametrize("name", sorted(lrfree.METHODS))
def test_every_method_is_registered_pickles_and_runs_its_literature_defaults(name):
    rule = get_rule(name)
    assert RULES[name] is rule and pickle.loads(pickle.dumps(rule)) is rule
    hp = dict(lrfree.METHODS[name].defaults)
    hp.pop("dropout_rate"), hp.pop("label_smoothing")
    traj, _ = _trajectory(rule(hp, T), steps=5)
    assert np.all(np.isfinite(traj))


@pytest.mark.parametrize("name", sorted(lrfree.METHODS))
def test_a_hyperparameter_the_method_does_not_take_is_refused_with_the_allowed_names(name):
    with pytest.raises(ValueError, match=rf"update rule '{name}' does not take hyperparameter"
                                         r"\(s\) \['momentum'\]; it takes \["):
        get_rule(name)({"momentum": 0.9}, T)


def test_schedule_free_takes_no_horizon():
    with pytest.raises(ValueError, match=r"'sfadamw' does not take .*\['horizon'\]"):
        lrfree.sfadamw({"learning_rate": 1e-3, "horizon": 0.5}, T)


def test_unknown_method_names_the_allowed_ones():
    with pytest.raises(ValueError, match=r"method must be one of 'dog', 'dowg', .*got 'adam'"):
        lrfree.get_method("adam")


@pytest.mark.parametrize("name", sorted(lrfree.METHODS))
def test_documented_state_size_is_the_floats_per_parameter_the_rule_keeps(name):
    n = 10_000
    hp = dict(lrfree.METHODS[name].defaults)
    hp.pop("dropout_rate"), hp.pop("label_smoothing")
    state = jax.eval_shape(get_rule(name)(hp, T).init, jax.ShapeDtypeStruct((n,), jnp.float32))
    floats = sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(state))
    documented = int(lrfree.METHODS[name].state.split()[0])
    assert floats // n == documented, (floats, documented)


def test_the_docs_table_is_the_one_the_code_generates():
    from pathlib import Path

    doc = (Path(__file__).parents[1] / "docs" / "lrfree.md").read_text()
    table = doc.split("<!-- methods-table:start -->\n")[1].split("<!-- methods-table:end -->")[0]
    assert table == lrfree.methods_markdown()
