"""The warmup-cosine schedule equals optax.warmup_cosine_decay_schedule at every step.

optax's values are computed in a subprocess with ``jax_enable_x64`` (float64),
so that the comparison is exact to a few ulps and the switch does not leak into
other tests.
"""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hplists.optim.schedule import warmup_cosine, warmup_cosine_factor, warmup_steps

LR = 0.007188680089024849
# (total_steps T, warmup_fraction), warmup 0 included (also where int(f * T) rounds to 0).
PAIRS = [
    (1, 0.0), (10, 0.0), (1000, 0.0), (10, 0.02), (3, 0.34), (37, 0.3), (50, 0.5),
    (100, 0.1), (1000, 0.05), (999, 0.99), (12345, 0.02),
]  # fmt: skip

_OPTAX_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax
    jax.config.update("jax_enable_x64", True)
    import optax
    lr, pairs = json.loads(sys.argv[1])
    out = []
    for total, fraction in pairs:
        warm = int(fraction * total)
        sched = optax.warmup_cosine_decay_schedule(0.0, lr, warm, total, 0.0)
        out.append([float(sched(t)) for t in range(total + 11)])
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def optax_values() -> dict[tuple[int, float], list[float]]:
    proc = subprocess.run(
        [sys.executable, "-c", _OPTAX_SCRIPT, json.dumps([LR, PAIRS])],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return dict(zip(PAIRS, json.loads(proc.stdout), strict=True))


@pytest.mark.parametrize(("total", "fraction"), PAIRS)
def test_equals_optax_at_every_step_including_zero_and_past_the_end(
    optax_values, total, fraction
):
    """Steps 0..T+10: the same value as optax's float64 schedule (to a few ulps)."""
    ours = warmup_cosine(LR, fraction, total)
    theirs = optax_values[(total, fraction)]
    for t in range(total + 11):
        assert abs(ours(t) - theirs[t]) <= 4e-16 * LR, (t, ours(t), theirs[t])
    assert all(ours(t) == 0.0 for t in range(total, total + 11))  # no periodic climb back


@pytest.mark.parametrize(("total", "fraction"), PAIRS)
def test_array_namespaces_agree_with_the_python_schedule(total, fraction):
    """NumPy (float64) and JAX (float32) arrays of steps give the Python values."""
    sched = warmup_cosine(LR, fraction, total)
    steps = np.arange(total + 11)
    expected = np.array([sched(int(t)) for t in steps])
    np.testing.assert_allclose(sched(steps), expected, rtol=1e-15, atol=1e-18)
    np.testing.assert_allclose(np.asarray(sched(jnp.asarray(steps))), expected,
                               rtol=2e-6, atol=2e-7 * LR)  # float32 cos near pi


def test_traced_warmups_under_vmap_match_one_point_at_a_time():
    """The engine's use: one schedule per point, warmups and steps traced inside jit/vmap."""
    total = 200
    fractions = [0.0, 0.02, 0.05, 0.1, 0.5]
    warms = jnp.asarray([warmup_steps(f, total) for f in fractions])
    steps = jnp.arange(total + 11)
    table = jax.jit(jax.vmap(lambda w: warmup_cosine_factor(steps, w, total, xp=jnp)))(warms)
    for row, f in zip(np.asarray(table), fractions, strict=True):
        expected = [warmup_cosine_factor(int(t), warmup_steps(f, total), total) for t in steps]
        np.testing.assert_allclose(row, expected, rtol=2e-6, atol=1e-7)


def test_shape_warmup_then_cosine_then_zero():
    sched = warmup_cosine(1.0, 0.1, 100)
    assert [sched(t) for t in (0, 5, 10)] == [0.0, 0.5, 1.0]
    assert sched(55) == pytest.approx(0.5, abs=1e-15)
    values = [sched(t) for t in range(10, 101)]
    assert all(a >= b for a, b in itertools.pairwise(values))
    assert sched(100) == 0.0 and sched(10**9) == 0.0


def test_warmup_steps_truncates_like_algoperf():
    """``int(warmup_fraction * total_steps)``: 0.29 * 100 is 28.999... so 28 steps."""
    assert warmup_steps(0.29, 100) == int(0.29 * 100) == 28
    assert warmup_steps(0.05, 1000) == 50
    assert warmup_steps(0.02, 10) == 0
    assert warmup_steps(1.0, 7) == 7


def test_full_warmup_ramps_to_the_end_then_zero():
    """warmup_fraction 1 (optax refuses: no decay phase): a linear ramp, then 0 from T on."""
    sched = warmup_cosine(2.0, 1.0, 4)
    assert [sched(t) for t in range(7)] == [0.0, 0.5, 1.0, 1.5, 0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("call", "field", "allowed"),
    [
        (lambda: warmup_cosine(1e-3, 1.5, 100), "warmup_fraction", "[0, 1]"),
        (lambda: warmup_cosine(1e-3, -0.1, 100), "warmup_fraction", "[0, 1]"),
        (lambda: warmup_cosine(-1e-3, 0.1, 100), "learning_rate", "[0, inf)"),
        (lambda: warmup_cosine(1e-3, 0.1, 0), "total_steps", "[1, inf]"),
        (lambda: warmup_steps(0.1, -3), "total_steps", "[1, inf]"),
        (lambda: warmup_steps(0.1, 10.5), "total_steps", "[1, inf]"),
        (lambda: warmup_cosine(math.nan, 0.1, 10), "learning_rate", "[0, inf)"),
    ],
)
def test_bad_input_names_the_field_and_the_allowed_values(call, field, allowed):
    with pytest.raises(ValueError) as e:
        call()
    assert field in str(e.value) and allowed in str(e.value)
