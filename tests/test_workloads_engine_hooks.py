"""What the engine gives update rules beyond gradients: the loss, evaluation parameters,
static hyperparameters, and a per-point training horizon (hplists.optim.update_rule)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from optax import contrib

from helpers import workloads as sw
from hplists.optim import lrfree
from hplists.optim.update_rule import hooks
from hplists.trials import TrainTask
from hplists.workloads import engine

BLOBS = sw.TinyBlobs()
LINE = sw.TinyLine()
SF = {"learning_rate": 0.02, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.0,
      "warmup_fraction": 0.1}


def _manual(rule, hp, steps, *, evaluate=None, w=BLOBS):
    """The engine's loop written out for one point: same data order, keys and loss."""
    data = engine.device_data(w)
    order = engine.batch_order(0, data.num_train, steps, w.batch_size)
    init_key, dropout_key = engine.seed_keys(0)
    params = w.init(init_key)
    hp = {**hp, "warmup_steps": int(hp["warmup_fraction"] * steps)}
    tx = optax.with_extra_args_support(rule(hp, steps))
    state = tx.init(params)
    for i in range(steps):
        batch = jax.tree.map(lambda a, i=i: jnp.take(a, order[i], axis=0), data.train)
        loss, g = jax.value_and_grad(w.loss_fn)(params, batch, jax.random.fold_in(dropout_key, i),
                                                0.0, 0.0)
        u, state = tx.update(g, state, params, value=loss)
        params = optax.apply_updates(params, u)
    x = params if evaluate is None else evaluate(state, params)
    return w.score(np.asarray(w.predict(x, data.valid_host)), data.valid_host)[w.metric.name]


def test_schedule_free_is_evaluated_at_its_eval_params_not_the_training_iterate():
    curve = engine.train(LINE, [SF], 0, update_rule=lrfree.sfadamw, batching="sequential")[0]
    at_x = _manual(lrfree.sfadamw, SF, LINE.step_budget,
                   evaluate=contrib.schedule_free_eval_params, w=LINE)
    at_y = _manual(lrfree.sfadamw, SF, LINE.step_budget, w=LINE)
    assert curve.metrics["r2"][-1] == pytest.approx(at_x, rel=1e-5)
    assert abs(at_x - at_y) > 1e-3  # the trap: evaluating y would give another curve


def test_the_loss_reaches_the_rule_as_value():
    seen = []

    def scaled_by_loss(hp, total_steps):
        def update(g, state, params=None, *, value, **extra):
            seen.append(value)
            return jax.tree.map(lambda x: -0.0 * value * x, g), state
        return optax.GradientTransformationExtraArgs(lambda p: optax.EmptyState(), update)

    engine.train(BLOBS, [{"warmup_fraction": 0.0}], 0, step_budget=4,
                 update_rule=scaled_by_loss, batching="sequential")
    assert seen and all(v.shape == () for v in seen)  # traced scalar: the batch loss


def test_momo_trains_through_the_engine_with_the_loss():
    pts = [{"beta1": 0.9, "weight_decay": 0.0, "warmup_fraction": 0.1}]
    curve = engine.train(BLOBS, pts, 0, update_rule=lrfree.momo, batching="sequential")[0]
    expect = _manual(lrfree.momo, pts[0], BLOBS.step_budget)
    assert curve.status.value == "complete"
    assert curve.metrics["error_rate"][-1] == pytest.approx(expect, abs=1e-12)


def test_a_horizon_stops_training_at_int_h_t_and_keeps_the_budgets_evaluations():
    adam = {"learning_rate": 0.02, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.0,
            "warmup_fraction": 0.1}
    short, full = engine.train(BLOBS, [{**adam, "horizon": 0.35}, adam], 0,
                               update_rule=engine.default_rule(), batching="sequential")
    t = BLOBS.step_budget  # 40 steps, 20 evaluations every 2 steps
    assert engine.trial_steps({"horizon": 0.35}, t) == 14
    assert short.steps.tolist() == list(range(2, 15, 2))
    assert full.steps.tolist() == list(range(2, 41, 2))
    # The short trial is its own run with horizon 14, not a prefix of the long one.
    alone = engine.train(BLOBS, [adam], 0, step_budget=14, batching="sequential")[0]
    np.testing.assert_array_equal(short.metrics["error_rate"],
                                  alone.metrics["error_rate"][1::2])  # alone: every step
    assert short.metrics["error_rate"][-1] != full.metrics["error_rate"][6]


def test_a_horizon_off_the_evaluation_grid_adds_an_evaluation_at_its_last_step():
    c = engine.train(BLOBS, [{"warmup_fraction": 0.0, "horizon": 0.33}], 0,
                     update_rule=lrfree.dog, batching="sequential")[0]
    assert c.steps.tolist()[-2:] == [12, 13]  # int(0.33 * 40) = 13


@pytest.mark.parametrize("h", [0.0, -0.5, 1.01, float("nan")])
def test_a_horizon_outside_0_1_is_refused_naming_the_field(h):
    with pytest.raises(ValueError, match="horizon must be in"):
        engine.train(BLOBS, [{"warmup_fraction": 0.0, "horizon": h}], 0, update_rule=lrfree.dog)


def test_the_runner_counts_a_horizon_trial_as_its_steps():
    task = TrainTask("s", BLOBS, 0, ({"horizon": 0.5}, {"horizon": 0.25}, {}), (0, 1, 2))
    assert task.work == 20 + 10 + 40


def test_points_with_different_static_values_train_in_their_own_programs():
    calls = []

    @hooks(static=("flavour",))
    def rule(hp, total_steps):
        calls.append(hp["flavour"])
        assert isinstance(hp["flavour"], float)  # a Python constant, not a tracer
        return optax.sgd(0.1 * hp["flavour"])

    pts = [{"flavour": 1.0}, {"flavour": 0.0}, {"flavour": 1.0}]
    curves = engine.train(BLOBS, pts, 0, step_budget=6, update_rule=rule, batching="vmap")
    alone = engine.train(BLOBS, [{"flavour": 0.0}], 0, step_budget=6, update_rule=rule,
                         batching="vmap")[0]
    assert set(calls) == {0.0, 1.0}
    np.testing.assert_array_equal(curves[1].train_loss, alone.train_loss)
    np.testing.assert_array_equal(curves[0].train_loss, curves[2].train_loss)
    assert not np.array_equal(curves[0].train_loss, curves[1].train_loss)


def test_prodigy_with_and_without_safeguard_in_one_call():
    base = {"beta1": 0.9, "beta2": 0.99, "weight_decay": 0.0, "warmup_fraction": 0.1}
    pts = [{**base, "safeguard_warmup": 1}, {**base, "safeguard_warmup": 0}]
    curves = engine.train(BLOBS, pts, 0, update_rule=lrfree.prodigy, batching="vmap")
    assert all(c.status.value == "complete" for c in curves)
    assert not np.array_equal(curves[0].train_loss, curves[1].train_loss)
