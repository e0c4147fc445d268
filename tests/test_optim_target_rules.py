"""Update rules of the target-setting procedure: AdamW, SGD+Nesterov, heavy-ball, and their spaces.

Each rule is checked against the optax composition AlgoPerf's target-setting
submissions build (jax_adamw.py, jax_nesterov.py, jax_momentum.py), step by
step, and under ``jax.vmap`` with per-point traced hyperparameters, which is
how the training engine calls it.
"""

from __future__ import annotations

import pickle

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from hplists.optim import adamw, sgd
from hplists.optim.rules import RULES, TARGET_SETTING_RULES, available_rules, get_rule
from hplists.optim.sgd import warmup_linear_decay_factor
from hplists.space import get_space

T = 40


def _trajectory(tx: optax.GradientTransformation, steps: int = T + 5) -> np.ndarray:
    """Updates of ``tx`` on a fixed quadratic, one row per step (past the horizon too)."""
    params = jnp.array([1.0, -2.0, 0.5])
    state = tx.init(params)
    out = []
    for t in range(steps):
        grads = params * jnp.array([1.0, 3.0, 0.1]) + 0.01 * t  # a changing gradient
        updates, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        out.append(np.asarray(updates))
    return np.stack(out)


def _algoperf_sgd_schedule(lr: float, warm: int, total: int, decay_factor: float,
                           end: float) -> optax.Schedule:
    """The schedule of AlgoPerf's jax_nesterov.py / jax_momentum.py, from its definition."""
    return optax.join_schedules(
        [optax.linear_schedule(0.0, lr, warm),
         optax.polynomial_schedule(lr, lr * end, 1, int((total - warm) * decay_factor))],
        [warm],
    )


SGD_POINT = {"learning_rate": 0.05, "momentum": 0.9, "weight_decay": 1e-3,
             "warmup_fraction": 0.1, "decay_steps_factor": 0.9, "end_factor": 0.01}
ADAM_POINT = {"learning_rate": 3e-3, "beta1": 0.85, "beta2": 0.99, "eps": 1e-8,
              "weight_decay": 0.1, "warmup_fraction": 0.1}


def test_registry_names_the_four_algoperf_target_setting_algorithms_first():
    assert available_rules()[:4] == ["nadamw", "adamw", "nesterov", "heavy_ball"]
    assert list(TARGET_SETTING_RULES) == available_rules()[:4]
    assert get_rule("adamw") is adamw.rule
    assert get_rule("heavy_ball") is sgd.heavy_ball


def test_unknown_rule_name_lists_the_allowed_names():
    with pytest.raises(ValueError,
                       match=r"'nadamw', 'adamw', 'nesterov', 'heavy_ball', .*; got 'lamb'"):
        get_rule("lamb")


@pytest.mark.parametrize("name", list(RULES))
def test_rules_pickle_for_the_engines_worker_processes(name):
    assert pickle.loads(pickle.dumps(get_rule(name))) is get_rule(name)


@pytest.mark.parametrize("name,point,missing", [
    ("adamw", {k: v for k, v in ADAM_POINT.items() if k != "beta2"}, "beta2"),
    ("nesterov", {k: v for k, v in SGD_POINT.items() if k != "momentum"}, "momentum"),
    ("heavy_ball", {"learning_rate": 0.1, "momentum": 0.9}, "warmup_fraction"),
])
def test_a_missing_hyperparameter_names_the_rule_and_the_key(name, point, missing):
    with pytest.raises(ValueError, match=f"update rule '{name}' needs .*{missing}"):
        get_rule(name)(point, T)


def test_adamw_is_optax_adamw_with_the_warmup_cosine_schedule():
    warm = int(ADAM_POINT["warmup_fraction"] * T)
    ref = optax.adamw(optax.warmup_cosine_decay_schedule(0.0, ADAM_POINT["learning_rate"], warm,
                                                         T, 0.0),
                      b1=0.85, b2=0.99, eps=1e-8, weight_decay=0.1)
    np.testing.assert_allclose(_trajectory(adamw.rule(ADAM_POINT, T)), _trajectory(ref),
                               rtol=2e-5, atol=1e-8)  # float32: formulas differ in order


@pytest.mark.parametrize("name,nesterov", [("nesterov", True), ("heavy_ball", False)])
def test_sgd_rules_are_l2_then_optax_sgd_with_algoperfs_linear_decay(name, nesterov):
    warm = int(SGD_POINT["warmup_fraction"] * T)
    ref = optax.chain(
        optax.add_decayed_weights(SGD_POINT["weight_decay"]),
        optax.sgd(_algoperf_sgd_schedule(0.05, warm, T, 0.9, 0.01), momentum=0.9,
                  nesterov=nesterov),
    )
    np.testing.assert_allclose(_trajectory(get_rule(name)(SGD_POINT, T)), _trajectory(ref),
                               rtol=2e-5, atol=1e-8)  # float32: formulas differ in order


def test_nesterov_and_heavy_ball_differ_only_in_the_momentum_form():
    a, b = _trajectory(sgd.nesterov(SGD_POINT, T)), _trajectory(sgd.heavy_ball(SGD_POINT, T))
    np.testing.assert_allclose(a[0], b[0] * 1.9, rtol=1e-6)  # step 0: u = g'(1 + mu) vs g'
    assert not np.allclose(a, b)


@pytest.mark.parametrize("warm,total,factor,end", [
    (4, 40, 0.9, 0.01), (0, 40, 1.0, 0.0), (0, 10, 0.05, 0.001), (5, 12, 0.8, 0.1), (10, 10, 1, 0)])
def test_linear_decay_schedule_matches_optax_at_every_step_in_every_namespace(warm, total, factor,
                                                                             end):
    ref = _algoperf_sgd_schedule(1.0, warm, total, factor, end)
    steps = np.arange(total + 6)
    expect = np.array([float(ref(t)) for t in steps])
    py = [warmup_linear_decay_factor(int(t), warm, total, factor, end) for t in steps]
    npy = warmup_linear_decay_factor(steps, warm, total, factor, end, xp=np)
    jx = jax.jit(lambda s: warmup_linear_decay_factor(s, warm, total, factor, end, xp=jnp))(steps)
    np.testing.assert_allclose(py, expect, atol=1e-7)
    np.testing.assert_allclose(npy, expect, atol=1e-7)
    np.testing.assert_allclose(np.asarray(jx), expect, atol=1e-6)


@pytest.mark.parametrize("name", TARGET_SETTING_RULES)
def test_rules_under_vmap_with_traced_hyperparameters_match_one_point_at_a_time(name):
    space = get_space(f"targets-{name}")
    points = [dict(p.to_dict()) if hasattr(p, "to_dict") else dict(p)
              for p in space.sample(3, seed=4)]
    rule = get_rule(name)
    params = jnp.array([1.0, -2.0, 0.5])
    grads = jnp.array([0.3, -0.1, 2.0])

    def two_steps(hp):
        tx = rule(hp, T)
        state = tx.init(params)
        u1, state = tx.update(grads, state, params)
        u2, _ = tx.update(grads * 0.5, state, params + u1)
        return u1 + u2

    hp = {k: jnp.array([p[k] for p in points], jnp.float32) for k in points[0]}
    hp["warmup_steps"] = jnp.array([int(p["warmup_fraction"] * T) for p in points], jnp.int32)
    batched = jax.jit(jax.vmap(two_steps))(hp)
    for i, p in enumerate(points):
        one = two_steps({**p, "warmup_steps": int(p["warmup_fraction"] * T)})
        np.testing.assert_allclose(np.asarray(batched[i]), np.asarray(one), rtol=2e-5, atol=1e-7)


@pytest.mark.parametrize("name", TARGET_SETTING_RULES)
def test_each_target_space_is_documented_and_feeds_its_rule(name):
    space = get_space(f"targets-{name}")
    assert space.optimizer == name
    assert len(space.description) > 200 and "algorithmic-efficiency" in space.source
    for p in space.sample(8, seed=0):
        hp = p.to_dict() if hasattr(p, "to_dict") else dict(p)
        get_rule(name)(hp, T).init(jnp.zeros(2))  # every key the rule needs is there


def test_nesterov_and_heavy_ball_search_the_same_points_as_do_nadamw_and_adamw():
    assert get_space("targets-nesterov").sample(5) == get_space("targets-heavy_ball").sample(5)
    nad = [p.to_dict() for p in get_space("targets-nadamw").sample(5)]
    adw = get_space("targets-adamw").sample(5)
    assert all(a[k] == n[k] for a, n in zip(adw, nad, strict=True) for k in a)
