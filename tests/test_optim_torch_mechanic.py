"""hplists.optim.torch_mechanic: the wrapper itself (the trajectories of its three bases against
the optax rules, float64, are in tests/test_torch_lrfree.py)."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")

from torch.optim.lr_scheduler import LambdaLR  # noqa: E402

from hplists.exceptions import InvalidParameterError  # noqa: E402
from hplists.optim.torch_mechanic import Mechanic  # noqa: E402


def _param():
    return torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64))


def test_first_step_is_the_base_step_scaled_by_s_init():
    """At the first step Delta = 0, so h = 0, m = eps, v = r = 0 and each of the n scales
    is (s_init / n) eps / eps: x_1 = x_0 + s_init u_0 (optax's m from 0, h clipped to 0)."""
    w = _param()
    opt = Mechanic(torch.optim.SGD([w], lr=0.5), s_init=1e-3)
    (w**2).sum().backward()
    x0 = w.detach().clone()
    opt.step()
    torch.testing.assert_close(w.detach(), x0 - 1e-3 * 0.5 * 2 * x0, rtol=1e-13, atol=0)
    torch.testing.assert_close(opt.m, torch.full((6,), 1e-8, dtype=torch.float64))
    assert float(opt.r.abs().max()) == 0.0 and float(opt.v.abs().max()) == 0.0
    assert opt.count == 1 and torch.equal(opt.state[w]["x0"], x0)


def test_a_scheduler_on_mechanic_sets_the_base_learning_rate():
    a, b = _param(), _param()
    base = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 2.0}], lr=1.0)
    opt = Mechanic(base)
    sched = LambdaLR(opt, lambda step: 0.5 ** step)
    assert opt.param_groups is base.param_groups
    for _ in range(3):
        opt.zero_grad()
        ((a**2).sum() + (b**2).sum()).backward()
        opt.step()
        sched.step()
    assert [g["lr"] for g in base.param_groups] == [0.125, 0.25]


def test_a_parameter_without_a_gradient_moves_with_the_scale_only():
    """optax updates every parameter: one without a gradient (base update 0) keeps its
    direction from x0 and has its displacement rescaled by S_new / (S_old + eps)."""
    a, b = _param(), _param()
    opt = Mechanic(torch.optim.SGD([a, b], lr=0.1), s_init=1e-2)
    for step in range(6):
        opt.zero_grad()
        loss = (a**2).sum() + ((b**2).sum() if step < 3 else 0.0)
        loss.backward()
        if step >= 3:
            assert b.grad is None
            before, s_old = b.detach().clone(), opt.scale
        opt.step()
        if step >= 3:
            x0 = opt.state[b]["x0"]
            torch.testing.assert_close(b.detach() - x0,
                                       (before - x0) * (opt.scale / (s_old + 1e-8)),
                                       rtol=1e-12, atol=1e-16)
    assert not torch.equal(b.detach(), opt.state[b]["x0"])


def test_state_dict_round_trip_and_refusals():
    w = _param()
    opt = Mechanic(torch.optim.AdamW([w], lr=0.1), s_init=1e-2)
    for _ in range(3):
        opt.zero_grad()
        (w**2).sum().backward()
        opt.step()
    saved = copy.deepcopy(opt.state_dict())  # as torch.save would: torch shares the tensors
    assert set(saved) == {"base", "mechanic"} and saved["mechanic"]["count"] == 3
    v = w.detach().clone()
    other = Mechanic(torch.optim.AdamW([w], lr=0.1), s_init=1e-2)
    other.load_state_dict(saved)
    assert other.param_groups is other.base.param_groups  # shared again after the load
    for o in (opt, other):
        with torch.no_grad():
            w.copy_(v)
        o.zero_grad()
        (w**2).sum().backward()
        o.step()
        if o is opt:
            after = w.detach().clone()
    assert torch.equal(w.detach(), after)
    with pytest.raises(InvalidParameterError, match="num_betas must be 3"):
        Mechanic(torch.optim.SGD([w], lr=1.0), num_betas=3).load_state_dict(saved)
    with pytest.raises(InvalidParameterError, match="keys 'base' and 'mechanic'"):
        other.load_state_dict(saved["base"])


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"weight_decay": -0.1}, r"weight_decay must be in \[0, inf\), got -0.1"),
    ({"eps": -1.0}, r"eps must be in \[0, inf\)"),
    ({"s_init": 0.0}, r"s_init must be in \(0, inf\), got 0.0"),
    ({"num_betas": 0}, r"num_betas must be an integer in \[1, inf\], got 0"),
])
def test_bad_hyperparameters_name_the_field(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        Mechanic(torch.optim.SGD([_param()], lr=1.0), **kwargs)


def test_base_must_be_an_optimizer():
    w = _param()
    with pytest.raises(InvalidParameterError, match=r"base must be a torch\.optim\.Optimizer"):
        Mechanic([w])
    with pytest.raises(InvalidParameterError, match="other than Mechanic"):
        Mechanic(Mechanic(torch.optim.SGD([w], lr=1.0)))
    assert repr(Mechanic(torch.optim.SGD([w], lr=1.0))).startswith("Mechanic(SGD (")


def test_added_group_goes_to_the_base_and_a_deepcopy_keeps_everything():
    a, b = _param(), _param()
    opt = Mechanic(torch.optim.SGD([a], lr=0.1), s_init=1e-2)
    for _ in range(2):
        opt.zero_grad()
        (a**2).sum().backward()
        opt.step()
    opt.add_param_group({"params": [b], "lr": 0.2})
    assert len(opt.base.param_groups) == 2 and opt.param_groups[1]["momentum"] == 0
    assert torch.equal(opt.state[b]["x0"], b.detach())
    twin = copy.deepcopy(opt)
    assert twin.count == 2 and torch.equal(twin.s, opt.s)
    assert twin.param_groups is twin.base.param_groups
    opt.zero_grad()
    ((a**2).sum() + (b**2).sum()).backward()
    opt.step()
    assert torch.isfinite(b).all() and not torch.equal(b.detach(), _param().detach())
