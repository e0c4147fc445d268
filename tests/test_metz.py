"""The Metz et al. (2020) update rule, schedule and list: formulas checked by hand."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hplists.curves import Status
from hplists.lists import get_list
from hplists.optim import metz
from hplists.workloads import engine
from hplists.workloads.spec import Dataset, JaxWorkload, Metric

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
    assert named.optimizer == "metz-nadamw" and len(named) == 5
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


class Line(JaxWorkload):
    """1-D least squares: the Metz rule trains it through the engine under vmap."""

    name = "test_metz_line"
    metric = Metric("mse", "min")
    step_budget = 40
    batch_size = 8
    num_evals = 20

    def make_data(self) -> Dataset:
        rng = np.random.default_rng(0)
        x = rng.normal(size=(64, 1)).astype(np.float32)
        y = (3.0 * x[:, 0]).astype(np.float32)
        return Dataset({"x": x[:48], "y": y[:48]}, {"x": x[48:], "y": y[48:]})

    def init(self, rng):
        return jnp.zeros(1)

    def loss_fn(self, params, batch, rng, dropout_rate, label_smoothing):
        return jnp.mean((batch["x"] @ params - batch["y"]) ** 2)

    def predict(self, params, batch):
        return batch["x"] @ params

    def score(self, outputs, valid):
        return {"mse": float(np.mean((outputs - valid["y"]) ** 2))}


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
