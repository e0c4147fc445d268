"""The Metz et al. (2020) update rule, schedule and list: formulas checked by hand."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers.workloads import TinyLeastSquares
from hplists.curves import Status
from hplists.lists import get_list
from hplists.optim import metz
from hplists.workloads import engine

HAND = {
    "learning_rate": 0.1, "beta1": 0.5, "beta2": 0.75, "epsilon": 0.1, "use_nesterov": 1.0,
    "adamw_weight_decay": 0.2, "l2_weight_decay": 0.1, "warmup_fraction": 0.0,
    "min_learning_rate_mult": 0.0, "constant_fraction": 0.5,
}


def _run(point, grads, theta0=1.0, total_steps=4):
    tx = metz.build(point, total_steps)
    theta = jnp.array([theta0], jnp.float32)
    state = tx.init(theta)
    out = []
    for g in grads:
        u, state = tx.update(jnp.array([g], jnp.float32), state, theta)
        theta = theta + u
        out.append(float(theta[0]))
    return out


def test_two_steps_match_the_formula_computed_by_hand():
    """Nesterov, decoupled decay on lr_t, L2 subtracted from the gradient, eps outside sqrt(v)."""
    # T = 4, constant_fraction 0.5, no warmup: lr(0) = lr(1) = 0.1.
    # Step 0 (t = 1), theta = 1, g = 0.5:
    #   g' = 0.5 - 0.1 * 1 = 0.4;  m = 0.5 * 0.4 = 0.2;  v = 0.25 * 0.16 = 0.04
    #   lr_t = 0.1 * sqrt(1 - 0.75) / (1 - 0.5) = 0.1
    #   n = 0.5 * 0.2 + 0.5 * 0.4 = 0.3
    #   step = 0.1 * 0.3 / (sqrt(0.04) + 0.1) + 0.1 * 0.2 * 1 = 0.1 + 0.02 = 0.12 -> theta = 0.88
    # Step 1 (t = 2), g = -1:
    #   g' = -1 - 0.1 * 0.88 = -1.088;  m = 0.1 - 0.544 = -0.444
    #   v = 0.75 * 0.04 + 0.25 * 1.088^2 = 0.325936
    #   lr_t = 0.1 * sqrt(1 - 0.75^2) / (1 - 0.5^2)
    #   n = 0.5 * (-0.444) + 0.5 * (-1.088) = -0.766
    lr_t = 0.1 * math.sqrt(1 - 0.75**2) / (1 - 0.5**2)
    step1 = lr_t * -0.766 / (math.sqrt(0.325936) + 0.1) + lr_t * 0.2 * 0.88
    theta = _run(HAND, [0.5, -1.0])
    assert theta[0] == pytest.approx(0.88, abs=1e-6)
    assert theta[1] == pytest.approx(0.88 - step1, abs=1e-6)
    assert theta[1] == pytest.approx(0.965170, abs=1e-5)


def test_without_nesterov_the_numerator_is_the_first_moment():
    """use_nesterov = 0: step = lr_t * m / (sqrt(v) + eps) + lr_t * wd * theta."""
    point = {**HAND, "use_nesterov": 0.0}
    # Step 0: m = 0.2 -> step = 0.1 * 0.2 / 0.3 + 0.02
    assert _run(point, [0.5])[0] == pytest.approx(1 - (0.1 * 0.2 / 0.3 + 0.02), abs=1e-6)


def test_l2_is_subtracted_from_the_gradient_as_published():
    """With l2 = 0.1 and theta = 1 a zero gradient still moves theta (sign of the original)."""
    point = {**HAND, "use_nesterov": 0.0, "adamw_weight_decay": 0.0}
    # g' = -0.1; m = -0.05; v = 0.0025; step = 0.1 * -0.05 / (0.05 + 0.1) -> theta grows
    assert _run(point, [0.0])[0] == pytest.approx(1 + 0.1 * 0.05 / 0.15, abs=1e-6)


def test_update_needs_params():
    tx = metz.build(HAND, 4)
    with pytest.raises(ValueError, match="needs the parameters"):
        tx.update(jnp.ones(1), tx.init(jnp.ones(1)))


@pytest.mark.parametrize(("step", "expected"), [
    (0, 0.0),          # warmup from 0 ...
    (15, 0.05),        # ... over max(w, c) T = 0.3 * 100 = 30 steps, not w T = 10
    (30, 0.1),         # then the half cosine starts at c T = 30
    (65, 0.1 * 0.9 * 0.5 + 0.01),  # halfway: (lr - m lr) / 2 + m lr
    (100, 0.01),       # min_learning_rate_mult * lr at T
    (250, 0.01),       # and after T
])
def test_schedule_warmup_lasts_through_the_constant_phase(step, expected):
    """W = T max(warmup_fraction, constant_fraction), as get_cosine_learning_rate_fn defines it."""
    got = metz.schedule(step, 100, 0.1, 0.1, 0.3, 0.1)
    assert got == pytest.approx(expected, abs=1e-9)
    traced = metz.schedule(jnp.int32(step), 100, 0.1, 0.1, 0.3, 0.1, xp=jnp)
    assert float(traced) == pytest.approx(expected, rel=1e-5, abs=1e-8)


def test_schedule_without_warmup_is_constant_then_cosine():
    values = [metz.schedule(s, 10, 1.0, 0.0, 0.5, 0.0) for s in range(11)]
    assert values[:6] == [1.0] * 6
    assert values[10] == pytest.approx(0.0, abs=1e-12)
    assert values[7] == pytest.approx(0.5 * (1 + math.cos(math.pi * 2 / 5)))
    assert metz.schedule(5, 10, 1.0, 0.0, 1.0, 0.0) == 1.0  # c = 1: the limit, not 0/0


def test_schedule_is_vectorized_over_per_point_values():
    lr = np.array([0.1, 0.2], np.float32)
    wf = np.array([0.0, 0.2], np.float32)
    got = np.asarray(metz.schedule(5, 50, lr, 0.0, np.array([0.5, 0.1]), wf, xp=jnp))
    want = [metz.schedule(5, 50, 0.1, 0.0, 0.5, 0.0), metz.schedule(5, 50, 0.2, 0.0, 0.1, 0.2)]
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_shipped_list_is_the_first_five_published_entries():
    """Values and order of opt_list's nadamw list (names seed251, 611, 799, 209, 739)."""
    named = get_list("metz-nadamw")
    assert named.optimizer == "metz" and len(named) == 5
    assert named.provenance["names"] == [
        "nadamw_grid_seed251", "nadamw_grid_seed611", "nadamw_grid_seed799",
        "nadamw_grid_seed209", "nadamw_grid_seed739"]
    first, second = named.points[0], named.points[1]
    assert first["learning_rate"] == 0.0011948335721160095
    assert first["constant_fraction"] == 0.747304046223346
    assert second["epsilon"] == 107.85861559302559 and second["use_nesterov"] == 1.0
    assert [p["learning_rate"] for p in named.points] == [
        0.0011948335721160095, 0.4060109803507517, 0.0002118527403995637,
        0.007531482507067026, 0.05569700266024712]
    for p in named.points:
        assert metz.check_point(p) == dict(p)
        assert p["l2_weight_decay"] == 0.0


def test_bad_points_name_the_field():
    with pytest.raises(ValueError, match="beta2 must be in"):
        metz.check_point({**HAND, "beta2": 1.0})
    with pytest.raises(ValueError, match="unknown key"):
        metz.check_point({**HAND, "eps": 1e-8})
    with pytest.raises(ValueError, match="use_nesterov"):
        metz.check_point({**HAND, "use_nesterov": 0.5})


class Line(TinyLeastSquares):
    """1-D least squares: the Metz rule trains it through the engine under vmap."""

    name = "test_metz_line"
    coefs = (3.0,)
    data_seed = 0


def test_engine_trains_the_list_with_the_rule_and_vmap_matches_one_point():
    """Traced per-point hyperparameters (use_nesterov included) give the single-point result."""
    points = list(get_list("metz-nadamw").points)
    curves = engine.train(Line(), points, seed=0, update_rule=metz.rule, batching="vmap")
    assert all(c.status in (Status.COMPLETE, Status.DIVERGED) for c in curves)
    assert curves[0].metric("mse")[-1] < curves[0].metric("mse")[0]
    alone = engine.train(Line(), [points[1]], seed=0, update_rule=metz.rule,
                         batching="sequential")[0]
    np.testing.assert_allclose(alone.metric("mse"), curves[1].metric("mse"), rtol=1e-4)


def test_rule_under_vmap_equals_separate_builds():
    hp = {k: jnp.array([HAND[k], {**HAND, "use_nesterov": 0.0}[k]]) for k in metz.KEYS}

    def one(h, g):
        tx = metz.rule(h, 4)
        p = jnp.ones(2)
        return tx.update(g, tx.init(p), p)[0]

    got = jax.vmap(one)(hp, jnp.ones((2, 2)))
    for i, point in enumerate([HAND, {**HAND, "use_nesterov": 0.0}]):
        tx = metz.build(point, 4)
        want = tx.update(jnp.ones(2), tx.init(jnp.ones(2)), jnp.ones(2))[0]
        np.testing.assert_allclose(got[i], want, rtol=1e-6)


# ---------------------------------------------------------------------------- float64


def _reference_lr(s, total, lr, mult, c, w):
    """get_cosine_learning_rate_fn of opt_list's jax_common.py, written in float64 numpy."""
    s = np.minimum(np.float64(s), np.float64(total))
    cs = np.float64(total) * c
    x = np.maximum(s, cs)
    low = mult * lr
    decay = (lr - low) * (np.cos((x - cs) * np.pi / (total - cs)) / 2.0 + 0.5) + low
    if w:
        warmup_steps = np.float64(total) * max(w, c)
        if warmup_steps > s:
            return (s / warmup_steps) * lr
    return decay


def _reference_trajectory(point, a, b, noise, theta0, total, *, beta_dtype=np.float64):
    """nadamw_update of opt_list's jax_common.py in float64 numpy, on g = A theta - b + noise.

    ``beta_dtype=np.float32`` rounds beta1 and beta2 to float32 first (what
    hplists did before it computed in the parameters' dtype).
    """
    b1 = np.float64(beta_dtype(point["beta1"]))
    b2 = np.float64(beta_dtype(point["beta2"]))
    theta = theta0.copy()
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    out = []
    for s in range(total):
        g = a @ theta - b + noise[s]
        lr = _reference_lr(s, total, point["learning_rate"], point["min_learning_rate_mult"],
                           point["constant_fraction"], point["warmup_fraction"])
        g = g - theta * point["l2_weight_decay"]
        m = b1 * m + (1.0 - b1) * g
        v = b2 * v + (1.0 - b2) * np.square(g)
        t = s + 1.0
        lr_t = lr * np.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        num = b1 * m + (1.0 - b1) * g if point["use_nesterov"] else m
        step = lr_t * num / (np.sqrt(v) + point["epsilon"])
        step = step + lr_t * point["adamw_weight_decay"] * theta
        theta = theta - step
        out.append(theta)
    return np.stack(out)


def _problem(n=6, total=300):
    rng = np.random.default_rng(20200225)
    q = rng.normal(size=(n, n))
    a = q @ q.T / n + 0.1 * np.eye(n)
    return a, rng.normal(size=n), 0.3 * rng.normal(size=(total, n)), rng.normal(size=n)


def _hplists_trajectory(point, a, b, noise, theta0, total):
    tx = metz.build(point, total)
    theta = {"x": jnp.asarray(theta0, jnp.float64)}

    def body(carry, e):
        theta, state = carry
        g = {"x": jnp.asarray(a) @ theta["x"] - jnp.asarray(b) + e}
        u, state = tx.update(g, state, theta)
        theta = {"x": theta["x"] + u["x"]}
        return (theta, state), theta["x"]

    _, traj = jax.jit(lambda t, s: jax.lax.scan(body, (t, s), jnp.asarray(noise)))(
        theta, tx.init(theta))
    return np.asarray(traj)


def test_float64_parameters_follow_the_published_formulas_to_1e_12():
    """With x64, all of the update (betas, t, schedule, lr_t) is float64: the first 5 entries
    stay within 1e-12 of opt_list's nadamw_update and cosine schedule written in float64 numpy
    over 300 steps; rounding beta1 and beta2 to float32 (the old behaviour) would be caught."""
    total = 300
    a, b, noise, theta0 = _problem(total=total)
    with jax.enable_x64(True):
        for i, point in enumerate(get_list("metz-nadamw").points):
            got = _hplists_trajectory(point, a, b, noise, theta0, total)
            want = _reference_trajectory(point, a, b, noise, theta0, total)
            assert got.dtype == np.float64
            err = float(np.max(np.abs(got - want)))
            assert err <= 1e-12, f"entry {i + 1}: max |theta - reference| = {err:.3g}"
            if i == 4:  # beta2 = 0.999980948972404: 1 - beta2 is off by 0.12% in float32
                rounded = _reference_trajectory(point, a, b, noise, theta0, total,
                                                beta_dtype=np.float32)
                assert np.max(np.abs(rounded - want)) > 1e-9


def test_float32_parameters_keep_float32_arithmetic():
    """float32 parameters: updates, moments and the schedule stay float32, also under x64."""
    with jax.enable_x64(True):
        tx = metz.build(get_list("metz-nadamw").points[4], 10)
        p = jnp.ones(3, jnp.float32)
        u, state = tx.update(jnp.ones(3, jnp.float32), tx.init(p), p)
    assert u.dtype == jnp.float32 and state.mu.dtype == jnp.float32
    assert state.nu.dtype == jnp.float32
