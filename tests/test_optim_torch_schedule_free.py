"""hplists.optim.torch_schedule_free: the optimizers themselves (the trajectories against the
optax rules, float64, are in tests/test_torch_lrfree.py)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hplists.exceptions import InvalidParameterError  # noqa: E402
from hplists.optim.torch_schedule_free import (  # noqa: E402
    ScheduleFreeAdamW,
    ScheduleFreeAdamWAlgoPerf,
    warmup_lr,
)

_RNG = np.random.default_rng(5)
X0 = [_RNG.normal(size=(3, 4)), _RNG.normal(size=(5,))]
A = [np.abs(_RNG.normal(size=x.shape)) + 0.2 for x in X0]


def _loss_torch(params):
    return sum(0.5 * (torch.as_tensor(a, dtype=p.dtype) * p**2).sum() + 0.1 * torch.sin(3 * p).sum()
               for p, a in zip(params, A, strict=True))


def test_warmup_lr_is_optax_warmup_constant_schedule():
    optax = pytest.importorskip("optax")
    sched = optax.warmup_constant_schedule(0.0, 0.5, 8)
    for k in range(12):
        assert warmup_lr(k, 0.5, 8) == pytest.approx(float(sched(k)), rel=1e-7)
    assert warmup_lr(0, 0.5, 0) == 0.5  # no warmup: the constant from step 0


def test_float32_agrees_with_the_optax_rule_to_float32_rounding():
    """float32 on both sides (optax without x64): the scalars are float64 here, float32 there.
    Measured 5e-7 of the parameter scale after 40 steps."""
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    import jax.numpy as jnp

    from hplists.optim.lrfree import sfadamw

    hp = {"learning_rate": 0.05, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.1,
          "warmup_steps": 5}
    params = [torch.tensor(x, dtype=torch.float32, requires_grad=True) for x in X0]
    opt = ScheduleFreeAdamW(params, lr=0.05, betas=(0.9, 0.99), weight_decay=0.1,
                            warmup_steps=5)
    tx = sfadamw(hp, 40)
    xs = [jnp.asarray(x, dtype=jnp.float32) for x in X0]
    state = tx.init(xs)

    def loss(ps):
        return sum(0.5 * jnp.sum(a * p**2) + 0.1 * jnp.sum(jnp.sin(3 * p))
                   for p, a in zip(ps, A, strict=True))

    worst = 0.0
    for _ in range(40):
        opt.zero_grad()
        _loss_torch(params).backward()
        opt.step()
        updates, state = tx.update(jax.grad(loss)(xs), state, xs)
        xs = optax.apply_updates(xs, updates)
        for p, x in zip(params, xs, strict=True):
            assert p.dtype == torch.float32 and opt.state[p]["z"].dtype == torch.float32
            worst = max(worst, float(np.max(np.abs(p.detach().numpy() - np.asarray(x)))))
    assert worst <= 1e-5


def test_eval_and_train_switch_between_x_and_y():
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64))
    opt = ScheduleFreeAdamW([w], lr=0.1, betas=(0.8, 0.999))
    for _ in range(5):
        opt.zero_grad()
        (w**2).sum().backward()
        opt.step()
    y = w.detach().clone()
    z = opt.state[w]["z"].clone()
    opt.eval()
    opt.eval()  # a second call is a no-op
    torch.testing.assert_close(w.detach(), (y - 0.2 * z) / 0.8, rtol=0, atol=1e-15)
    opt.train()
    opt.train()
    torch.testing.assert_close(w.detach(), y, rtol=0, atol=1e-15)  # a few ulps at most


def test_parameter_without_a_gradient_is_skipped_and_groups_count_their_own_steps():
    a = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    b = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    opt = ScheduleFreeAdamW([{"params": [a]}, {"params": [b], "lr": 0.0}], lr=0.1)
    (a**2).sum().backward()
    opt.step()
    opt.step()
    assert torch.equal(b, torch.ones(2, dtype=torch.float64)) and not opt.state[b]
    assert not torch.equal(a, torch.ones(2, dtype=torch.float64))
    assert [g["step"] for g in opt.param_groups] == [2, 2]


def test_closure_returns_the_loss():
    w = torch.nn.Parameter(torch.ones(2))
    opt = ScheduleFreeAdamW([w])

    def closure():
        opt.zero_grad()
        loss = (w**2).sum()
        loss.backward()
        return loss

    assert float(opt.step(closure).detach()) == 2.0


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"lr": -1.0}, r"lr must be in \[0, inf\), got -1.0"),
    ({"betas": (0.0, 0.999)}, r"beta1 must be in \(0, 1\], got 0.0"),
    ({"betas": (0.9, 1.0)}, r"beta2 must be in \[0, 1\), got 1.0"),
    ({"betas": 0.9}, r"betas must be a pair \(beta1, beta2\), got 0.9"),
    ({"eps": -1e-8}, r"eps must be in \[0, inf\)"),
    ({"weight_decay": float("nan")}, r"weight_decay must be in \[0, inf\), got nan"),
    ({"warmup_steps": 2.5}, r"warmup_steps must be an integer in \[0, inf\], got 2.5"),
    ({"weight_lr_power": -2.0}, r"weight_lr_power must be in \[0, inf\)"),
])
def test_bad_hyperparameters_name_the_field(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        ScheduleFreeAdamW([torch.zeros(2, requires_grad=True)], **kwargs)


def test_bad_params_and_group_values_are_refused():
    with pytest.raises(InvalidParameterError, match="got a single Tensor"):
        ScheduleFreeAdamW(torch.zeros(2))
    with pytest.raises(InvalidParameterError, match=r"floating-point tensors, got dtype torch.int64"):
        ScheduleFreeAdamW([torch.zeros(2, dtype=torch.int64)])
    with pytest.raises(InvalidParameterError, match=r"r must be in \[0, inf\), got -1"):
        ScheduleFreeAdamWAlgoPerf([torch.zeros(2, requires_grad=True)], r=-1)
    opt = ScheduleFreeAdamW([torch.zeros(2, requires_grad=True)])
    with pytest.raises(InvalidParameterError, match=r"warmup_steps must be an integer"):
        opt.add_param_group({"params": [torch.zeros(3, requires_grad=True)], "warmup_steps": -3})


def test_algoperf_eval_is_x_exactly_and_its_state_round_trips():
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = ScheduleFreeAdamWAlgoPerf([w], lr=0.05, betas=(0.9, 0.99), warmup_steps=3, r=0.75,
                                    weight_decay=0.1)
    for _ in range(4):
        opt.zero_grad()
        (w**2).sum().backward()
        opt.step()
    saved = opt.state_dict()
    assert saved["state"][0]["exp_avg_sq"].dtype == torch.bfloat16
    assert isinstance(saved["param_groups"][0]["weight_sum"], float)
    opt.eval()
    assert torch.equal(w.detach(), opt.state[w]["x"])
    opt.train()
    other = ScheduleFreeAdamWAlgoPerf([w], lr=0.05, betas=(0.9, 0.99), warmup_steps=3, r=0.75,
                                      weight_decay=0.1)
    other.load_state_dict(saved)
    assert other.state[w]["exp_avg_sq"].dtype == torch.bfloat16  # kept (torch casts floats)
    assert other.param_groups[0]["step"] == 4
