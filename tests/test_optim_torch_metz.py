"""Metz et al.'s rule in PyTorch (hplists.optim.torch_metz) computes the JAX rule's numbers."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import hplists  # noqa: E402
from helpers.quadratic import noisy_quadratic  # noqa: E402
from hplists.exceptions import InvalidParameterError  # noqa: E402
from hplists.lists import get_list  # noqa: E402
from hplists.optim import metz, torch_metz  # noqa: E402

POINTS = list(get_list("metz-nadamw"))
STEPS = 300


def _gradients(seed: int, shape: tuple[int, ...]):
    return noisy_quadratic(seed, shape, STEPS)


def _jax_run(point, theta0, grad, dtype):
    tx = metz.build(point, STEPS)
    theta = jnp.asarray(theta0, dtype)
    state = tx.init(theta)
    out = []
    for s in range(STEPS):
        g = jnp.asarray(grad(s, np.asarray(theta, np.float64)), dtype)
        u, state = tx.update(g, state, theta)
        theta = theta + u
        out.append(np.asarray(theta, np.float64))
    return np.array(out)


def _torch_run(point, theta0, grad, dtype):
    theta = torch.tensor(theta0, dtype=dtype, requires_grad=True)
    opt, sched = hplists.torch.build(point, [theta], STEPS)
    out = []
    for s in range(STEPS):
        theta.grad = torch.tensor(grad(s, theta.detach().double().numpy()), dtype=dtype)
        opt.step()
        sched.step()
        out.append(theta.detach().double().numpy().copy())
    return np.array(out)


@pytest.mark.parametrize("index", range(len(POINTS)))
def test_float64_trajectory_is_the_jax_rules(index):
    """Every parameter after every one of 300 steps, float64 in both (the JAX rule under
    x64): at most 1e-12 apart, scaled by the distance travelled."""
    point = POINTS[index]
    theta0 = np.random.default_rng(index).normal(size=(7,))
    grad = _gradients(index, theta0.shape)
    with jax.enable_x64(True):
        want = _jax_run(point, theta0, grad, jnp.float64)
    got = _torch_run(point, theta0, grad, torch.float64)
    scale = max(np.abs(want - theta0).max(), 1e-3)
    assert np.abs(got - want).max() <= 1e-12 * scale


@pytest.mark.parametrize("index", range(len(POINTS)))
def test_float32_trajectory_is_as_close_to_the_float64_one_as_the_jax_rules(index):
    """In float32, PyTorch is no farther from the float64 trajectory than the JAX rule in
    float32 is (twice, plus 1e-6 of the distance travelled, for rounding). The JAX rule
    rounds beta2 to float32 before 1 - beta2, as opt_list's JAX ports do; PyTorch's
    Python scalars keep it: with the fifth point's beta2 = 0.99998 the JAX rule is 3e-4
    off, PyTorch 6e-7."""
    point = POINTS[index]
    theta0 = np.random.default_rng(index).normal(size=(7,))
    grad = _gradients(index, theta0.shape)
    with jax.enable_x64(True):
        exact = _jax_run(point, theta0, grad, jnp.float64)
    jax32 = _jax_run(point, theta0.astype(np.float32), grad, jnp.float32)
    torch32 = _torch_run(point, theta0.astype(np.float32), grad, torch.float32)
    scale = max(np.abs(exact - theta0).max(), 1e-3)
    jax_error = np.abs(jax32 - exact).max() / scale
    torch_error = np.abs(torch32 - exact).max() / scale
    assert torch_error <= 2 * jax_error + 1e-6
    assert torch_error <= 1e-4


def test_the_scheduler_sets_the_published_schedule_at_every_step():
    """lr(s) is metz.schedule's float64 value at each step, through the end and past it,
    for a point with a warmup that lasts through its constant phase (max(w, c) T)."""
    point = POINTS[1]
    assert 0 < point["warmup_fraction"] < point["constant_fraction"]
    w = torch.zeros(2, requires_grad=True)
    opt, sched = hplists.torch.build(point, [w], 50)
    for s in range(60):
        want = metz.schedule(s, 50, point["learning_rate"], point["min_learning_rate_mult"],
                             point["constant_fraction"], point["warmup_fraction"])
        assert opt.param_groups[0]["lr"] == want, s
        w.grad = torch.ones(2)
        opt.step()
        sched.step()


def test_bfloat16_parameters_update_in_float32_and_keep_bfloat16_moments():
    point = {**POINTS[0], "learning_rate": 0.1}  # a step of about 0.1: bfloat16 sees it
    w = torch.ones(4, dtype=torch.bfloat16, requires_grad=True)
    opt, _ = hplists.torch.build(point, [w], 10, method="metz")
    w.grad = torch.full((4,), 0.5, dtype=torch.bfloat16)
    opt.step()
    state = opt.state[w]
    assert w.dtype == state["exp_avg"].dtype == state["exp_avg_sq"].dtype == torch.bfloat16
    assert torch.all(w < 1)


def test_bad_input_names_the_field():
    w = torch.zeros(1, requires_grad=True)
    with pytest.raises(InvalidParameterError, match="missing key"):
        torch_metz.build({"learning_rate": 0.1}, [w], 10)
    with pytest.raises(InvalidParameterError, match="total_steps"):
        torch_metz.build(POINTS[0], [w], 0)
    with pytest.raises(InvalidParameterError, match="options \\['fused'\\]"):
        hplists.torch.build(POINTS[0], [w], 10, fused=True)
    with pytest.raises(InvalidParameterError, match="eps"):
        torch_metz.MetzNAdamW([w], eps=-1.0)
    with pytest.raises(InvalidParameterError, match="nesterov"):
        torch_metz.MetzNAdamW([w], nesterov=0.5)  # type: ignore[arg-type]


def test_state_dict_round_trip_continues_the_same_run():
    """Saving and loading both optimizer and scheduler mid-run gives the uninterrupted run."""
    point = POINTS[1]
    grad = _gradients(3, (5,))
    theta0 = np.linspace(-1, 1, 5)

    def run(split):
        theta = torch.tensor(theta0, requires_grad=True)
        opt, sched = hplists.torch.build(point, [theta], 40)
        for s in range(40):
            if s == split:
                saved = opt.state_dict(), sched.state_dict()
                theta = torch.tensor(theta.detach().numpy().copy(), requires_grad=True)
                opt, sched = hplists.torch.build(point, [theta], 40)
                opt.load_state_dict(saved[0])
                sched.load_state_dict(saved[1])
            theta.grad = torch.tensor(grad(s, theta.detach().numpy()))
            opt.step()
            sched.step()
        return theta.detach().numpy()

    assert np.array_equal(run(split=17), run(split=-1))
