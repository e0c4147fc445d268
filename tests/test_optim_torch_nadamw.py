"""hplists.torch.NAdamW reproduces optax.nadamw; its scheduler, masks, state and input checks.

The optax trajectories are computed in subprocesses (one with ``jax_enable_x64``
for float64, one in JAX's default float32 mode) so that the x64 switch never
leaks into other tests.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import hplists
from hplists.hparams import HParams
from hplists.optim.schedule import warmup_cosine, warmup_steps
from hplists.torch import NAdamW, WarmupCosineFactor, build, decay_matrices, param_groups

# One worker computes the optax reference once for the whole module.
pytestmark = pytest.mark.xdist_group("torch_nadamw_optax_reference")

STEPS = 1000
SHAPES = {"w": (24, 16), "b": (16,), "s": (5,)}
PATHS = {
    "per-tensor": dict(fused=False, foreach=False),
    "foreach": dict(fused=False, foreach=True),
    "fused": dict(fused=True),
    "compiled": dict(compiled=True),
}
_paper = hplists.get_list("nadamw-paper").points
_baseline = hplists.get_list("nadamw-algoperf-baseline").points
# name -> (point, decay only matrices?, eps_root)
CASES = {
    "paper-1": (_paper[0], False, 0.0),
    "paper-2": (_paper[1], False, 0.0),
    "paper-3": (_paper[2], False, 0.0),
    "paper-4-masked": (_paper[3], True, 0.0),
    "paper-5-masked": (_paper[4], True, 0.0),
    "baseline-4": (_baseline[3], False, 0.0),  # beta2 = 0.63
    "no-warmup-eps-root": (_paper[1].replace(warmup_fraction=0.0), True, 1e-6),
}

_REFERENCE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import jax
    x64 = sys.argv[3] == "float64"
    if x64:
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp, optax
    import hplists.optax
    from hplists import HParams

    data = np.load(sys.argv[1])
    cases = json.loads(open(sys.argv[2]).read())
    dtype = jnp.float64 if x64 else jnp.float32
    init = {k: jnp.asarray(data["init_" + k], dtype) for k in cases["shapes"]}
    grads = {k: jnp.asarray(data["grads_" + k], dtype) for k in cases["shapes"]}
    decay_matrices = lambda p: jax.tree.map(lambda x: x.ndim > 1, p)
    out = {}
    for name, case in cases["cases"].items():
        point = HParams.from_dict(case["point"])
        warm = int(point.warmup_fraction * case["steps"])
        sched = optax.warmup_cosine_decay_schedule(
            0.0, point.learning_rate, warm, case["steps"], 0.0)
        # optax evaluates its schedule in float32 for an int32 count even under
        # x64; a float64 count gives the float64 value of the same schedule.
        lr = (lambda c, s=sched: s(c.astype(jnp.float64))) if x64 else sched
        mask = decay_matrices if case["masked"] else None
        txs = {
            "optax": optax.nadamw(lr, b1=point.beta1, b2=point.beta2, eps=point.eps,
                                  eps_root=case["eps_root"],
                                  weight_decay=point.weight_decay, mask=mask),
            "hplists.optax": hplists.optax.build(point, case["steps"], mask=mask,
                                                 eps_root=case["eps_root"]),
        }
        for label, tx in txs.items():
            def body(carry, g, tx=tx):
                params, state = carry
                updates, state = tx.update(g, state, params)
                return (optax.apply_updates(params, updates), state), None
            (params, _), _ = jax.lax.scan(body, (init, tx.init(init)), grads)
            for k, v in params.items():
                assert v.dtype == dtype, (v.dtype, dtype)
                out[f"{name}/{label}/{k}"] = np.asarray(v)
    np.savez(sys.argv[4], **out)
    """
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors: one intra-op thread is faster and immune to load from other processes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _stream(seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Unit-scale initial parameters and a random gradient stream with varying scale."""
    rng = np.random.default_rng(seed)
    init = {k: rng.uniform(-1.0, 1.0, size=s) for k, s in SHAPES.items()}
    scales = np.exp(rng.normal(0.0, 1.0, size=STEPS))
    grads = {
        k: rng.normal(size=(STEPS, *s)) * scales.reshape(-1, *([1] * len(s)))
        for k, s in SHAPES.items()
    }
    return init, grads


@pytest.fixture(scope="module")
def optax_reference(tmp_path_factory):
    """``{dtype: {f"{case}/{optax|hplists.optax}/{leaf}": final parameters}}`` after 1000 steps."""
    tmp = tmp_path_factory.mktemp("optax_reference")
    init, grads = _stream()
    np.savez(
        tmp / "stream.npz",
        **{f"init_{k}": v for k, v in init.items()},
        **{f"grads_{k}": v for k, v in grads.items()},
    )
    spec = {
        "shapes": list(SHAPES),
        "cases": {
            name: {"point": p.to_dict(), "masked": masked, "eps_root": eps_root, "steps": STEPS}
            for name, (p, masked, eps_root) in CASES.items()
        },
    }
    (tmp / "cases.json").write_text(json.dumps(spec))
    (tmp / "reference.py").write_text(_REFERENCE_SCRIPT)
    procs = {
        dtype: subprocess.Popen(
            [sys.executable, str(tmp / "reference.py"), str(tmp / "stream.npz"),
             str(tmp / "cases.json"), dtype, str(tmp / f"{dtype}.npz")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for dtype in ("float64", "float32")
    }
    out = {}
    for dtype, proc in procs.items():
        log, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, log
        out[dtype] = dict(np.load(tmp / f"{dtype}.npz"))
    return out


def _run_torch(case: str, dtype: torch.dtype, path: dict) -> dict[str, np.ndarray]:
    point, masked, eps_root = CASES[case]
    init, grads = _stream()
    named = [(k, torch.nn.Parameter(torch.tensor(v, dtype=dtype))) for k, v in init.items()]
    opt, sched = build(
        point, named, STEPS, mask=decay_matrices if masked else None, eps_root=eps_root, **path
    )
    params = dict(named)
    for t in range(STEPS):
        for k, p in params.items():
            p.grad = torch.tensor(grads[k][t], dtype=dtype)
        opt.step()
        sched.step()
    return {k: p.detach().numpy() for k, p in params.items()}


def _fusable(case: str) -> bool:
    point, _, eps_root = CASES[case]
    return eps_root == 0.0 and point.beta1 >= 0.5


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("case", list(CASES))
def test_float64_matches_optax_nadamw_over_1000_steps(optax_reference, case, path):
    """float64: max |theta_torch - theta_optax| <= 1e-10 x parameter scale, every path."""
    if path == "fused" and not _fusable(case):
        pytest.skip("the fused path needs eps_root == 0 and beta1 >= 0.5")
    ours = _run_torch(case, torch.float64, PATHS[path])
    ref = optax_reference["float64"]
    scale = max(np.abs(ref[f"{case}/optax/{k}"]).max() for k in SHAPES)
    err = max(np.abs(ours[k] - ref[f"{case}/optax/{k}"]).max() for k in SHAPES)
    assert err <= 1e-10 * scale, f"{case} {path}: max |diff| {err:.3e}, scale {scale:.3g}"
    # Parameters moved: the comparison is not between two untouched copies.
    assert max(np.abs(ours[k] - _stream()[0][k]).max() for k in SHAPES) > 1e-3


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("case", list(CASES))
def test_float32_matches_optax_nadamw_over_1000_steps(optax_reference, case, path):
    """float32: max |theta_torch - theta_optax| <= 1e-5 (unit-scale parameters), every path."""
    if path == "fused" and not _fusable(case):
        pytest.skip("the fused path needs eps_root == 0 and beta1 >= 0.5")
    ours = _run_torch(case, torch.float32, PATHS[path])
    ref = optax_reference["float32"]
    err = max(np.abs(ours[k] - ref[f"{case}/optax/{k}"]).max() for k in SHAPES)
    assert err <= 1e-5, f"{case} {path}: max |diff| {err:.3e}"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_hplists_optax_build_is_optax_nadamw_with_the_schedule(optax_reference, dtype):
    """The JAX facade trains identically to optax.nadamw + warmup_cosine_decay_schedule."""
    ref = optax_reference[dtype]
    tol = 1e-12 if dtype == "float64" else 1e-5
    for case in CASES:
        for k in SHAPES:
            ours, theirs = ref[f"{case}/hplists.optax/{k}"], ref[f"{case}/optax/{k}"]
            assert np.abs(ours - theirs).max() <= tol, (case, k)


def test_masked_parameters_get_no_weight_decay():
    """With a zero gradient only decayed parameters move, by exactly lr * wd * theta per step."""
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    opt = NAdamW(param_groups(net), lr=0.1, weight_decay=0.5, foreach=False, fused=False)
    for p in net.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for name, p in net.named_parameters():
        expected = before[name] * (1 - 0.1 * 0.5) if p.ndim >= 2 else before[name]
        torch.testing.assert_close(p.detach(), expected, rtol=0, atol=1e-7)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.5, 0.0]


def test_scheduler_gives_optax_count_t_learning_rate_at_torch_step_t():
    """Update t (0-based) runs with lr(t): optax's schedule count of that update."""
    point = _paper[0]
    for total in (50, 7):
        opt, sched = build(point, [torch.nn.Parameter(torch.zeros(2))], total)
        expected = warmup_cosine(point.learning_rate, point.warmup_fraction, total)
        for t in range(total + 10):
            assert opt.param_groups[0]["lr"] == pytest.approx(expected(t), rel=1e-15, abs=1e-18)
            opt.step()
            sched.step()


def test_first_update_uses_the_schedule_at_zero():
    """With warmup the first update has lr 0 (no movement); without it, the full lr."""
    w = torch.nn.Parameter(torch.ones(3))
    opt, _ = build(_paper[0], [w], 100)
    w.grad = torch.ones(3)
    opt.step()
    assert torch.equal(w.detach(), torch.ones(3))
    opt, _ = build(_paper[0].replace(warmup_fraction=0.0), [w], 100)
    assert opt.param_groups[0]["lr"] == _paper[0].learning_rate


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("path", list(PATHS))
def test_state_dict_round_trip_resumes_bit_identically(path, dtype):
    """Saving after 7 steps and resuming in fresh objects gives the same bits as not stopping."""
    if path == "fused" and dtype == torch.bfloat16:
        pytest.skip("fused takes float32/float64 parameters")
    gen = torch.Generator().manual_seed(1)
    init = [torch.randn(6, 5, generator=gen).to(dtype), torch.randn(5, generator=gen).to(dtype)]
    grads = [[torch.randn(x.shape, generator=gen).to(dtype) for x in init] for _ in range(12)]
    point = _paper[2]

    def run(params, opt, sched, steps):
        for gs in steps:
            for p, g in zip(params, gs, strict=True):
                p.grad = g.clone()
            opt.step()
            sched.step()

    params = [torch.nn.Parameter(x.clone()) for x in init]
    opt, sched = build(point, params, 20, **PATHS[path])
    run(params, opt, sched, grads[:7])
    buffer = io.BytesIO()
    torch.save(
        {"params": [p.detach().clone() for p in params], "opt": opt.state_dict(),
         "sched": sched.state_dict()},
        buffer,
    )  # fmt: skip
    run(params, opt, sched, grads[7:])

    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    resumed = [torch.nn.Parameter(x) for x in saved["params"]]
    opt2, sched2 = build(point, resumed, 20, **PATHS[path])
    opt2.load_state_dict(saved["opt"])
    sched2.load_state_dict(saved["sched"])
    run(resumed, opt2, sched2, grads[7:])

    for a, b in zip(params, resumed, strict=True):
        assert a.dtype == b.dtype == dtype
        assert torch.equal(a, b)
        sa, sb = opt.state[a], opt2.state[b]
        assert sa["step"] == sb["step"] == 12
        for key in ("exp_avg", "exp_avg_sq"):
            assert sa[key].dtype == sb[key].dtype
            assert torch.equal(sa[key], sb[key])
    assert opt.param_groups[0]["lr"] == opt2.param_groups[0]["lr"]


def test_state_is_step_and_two_moments_only():
    """No optimizer state beyond the step count and the two moments (8 bytes/param in float32)."""
    net = torch.nn.Linear(10, 10)
    opt = NAdamW(net.parameters())
    net(torch.randn(2, 10)).sum().backward()
    opt.step()
    for p in net.parameters():
        assert set(opt.state[p]) == {"step", "exp_avg", "exp_avg_sq"}
        assert opt.state[p]["exp_avg"].dtype == torch.float32
    n = sum(p.numel() for p in net.parameters())
    nbytes = sum(
        v.numel() * v.element_size() for s in opt.state.values() for v in s.values()
        if isinstance(v, torch.Tensor)
    )  # fmt: skip
    assert nbytes == 8 * n


@pytest.mark.parametrize("path", ["per-tensor", "foreach"])
def test_bfloat16_parameters_train_with_float32_state(path):
    """bfloat16 parameters stay bfloat16, moments are float32, and the result tracks float32."""
    gen = torch.Generator().manual_seed(2)
    init = torch.randn(64, 8, generator=gen)
    grads = [torch.randn(64, 8, generator=gen) for _ in range(100)]
    point = _paper[0].replace(warmup_fraction=0.0)
    results = {}
    for dtype in (torch.float32, torch.bfloat16):
        p = torch.nn.Parameter(init.to(dtype, copy=True))
        opt, sched = build(point, [p], 100, **PATHS[path])
        for g in grads:
            p.grad = g.to(dtype)
            opt.step()
            sched.step()
        assert p.dtype == dtype
        assert opt.state[p]["exp_avg"].dtype == torch.float32
        results[dtype] = p.detach().float()
    assert not torch.equal(results[torch.float32], init)
    diff = (results[torch.bfloat16] - results[torch.float32]).abs().max().item()
    assert diff < 0.05 * init.abs().max().item()  # bfloat16 rounding, not a different rule


def test_bfloat16_state_dtype_option_and_default_path():
    """state_dtype=bfloat16 stores bfloat16 moments (optax's default); the default path runs."""
    p = torch.nn.Parameter(torch.randn(5, 3, dtype=torch.bfloat16))
    opt = NAdamW([p], lr=1e-2, state_dtype=torch.bfloat16)
    p.grad = torch.randn(5, 3).to(torch.bfloat16)
    opt.step()
    assert opt.state[p]["exp_avg"].dtype == torch.bfloat16
    assert torch.isfinite(p.float()).all()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_paths_agree_on_blocked_non_contiguous_and_mixed_tensors(dtype):
    """Tensors split into CPU blocks, batched small tensors and strided views match per-tensor.

    The automatic choice sends the non-contiguous tensor to foreach, the rest to fused.
    """
    gen = torch.Generator().manual_seed(3)
    shapes = [(800, 700), (3,), (1,), (257, 129), (40,)]  # > both CPU block sizes
    init = [torch.randn(s, generator=gen, dtype=dtype) for s in shapes]
    init.append(torch.randn(9, 4, generator=gen, dtype=dtype).t())  # non-contiguous
    grads = [[torch.randn(x.shape, generator=gen, dtype=dtype) for x in init] for _ in range(4)]
    finals = {}
    paths = {**PATHS, "fused": dict(fused=None)}  # auto: fused where it applies
    for path, kw in paths.items():
        params = [torch.nn.Parameter(x.clone()) for x in init]
        opt = NAdamW(params, lr=1e-2, betas=(0.9, 0.99), weight_decay=0.1, **kw)
        for gs in grads:
            for p, g in zip(params, gs, strict=True):
                p.grad = g.clone()
            opt.step()
        finals[path] = params
    tol = 1e-13 if dtype == torch.float64 else 1e-6  # float32: a few ulps of N(0, 1) values
    for path in ("foreach", "fused", "compiled"):
        for a, b in zip(finals[path], finals["per-tensor"], strict=True):
            torch.testing.assert_close(a, b, rtol=tol, atol=tol)


def test_compiled_path_runs_eligible_tensors_through_one_kernel(monkeypatch):
    """compiled=True sends float32/float64 contiguous tensors of any size to the kernel, the
    rest elsewhere."""
    from hplists.optim import torch_nadamw

    seen: list[int] = []
    real = torch_nadamw._compiled
    monkeypatch.setattr(torch_nadamw, "_compiled",
                        lambda P, *a: (seen.extend(p.numel() for p in P), real(P, *a)))
    big, small = torch.nn.Parameter(torch.randn(4, 5)), torch.nn.Parameter(torch.randn(3))
    strided = torch.nn.Parameter(torch.randn(5, 4).t())
    half = torch.nn.Parameter(torch.randn(4, 5).to(torch.bfloat16))
    opt = NAdamW([big, small, strided, half], lr=1e-2, weight_decay=0.1, compiled=True)
    for p in opt.param_groups[0]["params"]:
        p.grad = torch.randn_like(p)
    before = [p.detach().clone() for p in opt.param_groups[0]["params"]]
    opt.step()
    assert seen == [20, 3]  # `strided` is not contiguous, `half` is bfloat16
    assert all(not torch.equal(a, b) for a, b in zip(before, opt.param_groups[0]["params"], strict=True))


@pytest.fixture
def kernels(monkeypatch):
    """The compiled path's kernel cache, empty at the start of the test."""
    from hplists.optim import torch_nadamw

    cache: dict = {}
    monkeypatch.setattr(torch_nadamw, "_KERNELS", cache)
    return cache


def test_compiled_path_compiles_one_kernel_per_model_and_reuses_it(kernels):
    """A model's tensors of many sizes are one call, compiled once; two models alternating
    steps each keep their own kernel, and a third of the first one's shapes reuses it."""
    gen = torch.Generator().manual_seed(2)
    models = [[torch.nn.Parameter(torch.randn(n, generator=gen)) for n in sizes]
              for sizes in ((40, 41, 57, 300, 301, 1000) * 2, (7, 5000), (40, 41, 57, 300, 301,
                                                                          1000) * 2)]
    opts = [NAdamW(ps, lr=1e-2, weight_decay=0.1, compiled=True) for ps in models]
    counts = []
    for _ in range(3):
        for params, opt in zip(models, opts, strict=True):
            for p in params:
                p.grad = torch.randn(p.shape, generator=gen)
            opt.step()
        counts.append(len(kernels))
    assert counts == [2, 2, 2]


def test_compiled_path_splits_large_buckets_into_calls_with_the_same_result(monkeypatch,
                                                                               kernels):
    """A bucket of more than _CALL_MAX_TENSORS tensors runs as several calls (one kernel
    each), with the per-tensor path's result."""
    from hplists.optim import torch_nadamw

    monkeypatch.setattr(torch_nadamw, "_CALL_MAX_TENSORS", 4)
    gen = torch.Generator().manual_seed(3)
    sizes = (37, 64, 100, 129, 500, 1000, 1001, 2048, 5000)
    init = [torch.randn(n, generator=gen) for n in sizes]
    grads = [[torch.randn(n, generator=gen) for n in sizes] for _ in range(3)]
    results = []
    for compiled in (True, False):
        params = [torch.nn.Parameter(x.clone()) for x in init]
        opt = NAdamW(params, lr=1e-2, weight_decay=0.1, compiled=compiled, fused=False)
        for step in grads:
            for p, g in zip(params, step, strict=True):
                p.grad = g.clone()
            opt.step()
        results.append(params)
    assert len(kernels) == 3  # 4 + 4 + 1 tensors
    for got, want in zip(*results, strict=True):
        torch.testing.assert_close(got.detach(), want.detach(), rtol=1e-6, atol=1e-7)


def test_compiled_path_keeps_float32_and_float64_apart():
    """Each dtype runs its own graph (a float64 tensor through the float32 kernel would be
    garbage)."""
    n = 4096
    gen = torch.Generator().manual_seed(0)
    init = [torch.randn(n, generator=gen, dtype=dt) for dt in (torch.float32, torch.float64)]
    grads = [[torch.randn(n, generator=gen, dtype=x.dtype) for x in init] for _ in range(4)]
    results = []
    for compiled in (True, False):
        params = [torch.nn.Parameter(x.clone()) for x in init]
        opt = NAdamW(params, lr=1e-2, weight_decay=0.1, compiled=compiled)
        for step in grads:
            for p, g in zip(params, step, strict=True):
                p.grad = g.clone()
            opt.step()
        results.append([p.detach() for p in params])
    for got, want in zip(*results, strict=True):
        assert got.dtype == want.dtype
        torch.testing.assert_close(got, want, rtol=1e-6 if got.dtype == torch.float32 else 1e-12,
                                   atol=1e-7 if got.dtype == torch.float32 else 1e-14)


def test_compiled_path_steps_inside_autocast(kernels):
    """A step under autocast runs the same kernel, in the tensors' own dtype: the result is
    the default path's."""
    p = torch.nn.Parameter(torch.randn(5000, generator=torch.Generator().manual_seed(1)))
    q = torch.nn.Parameter(p.detach().clone())
    compiled, default = NAdamW([p], lr=1e-2, compiled=True), NAdamW([q], lr=1e-2)
    for i in range(3):
        p.grad, q.grad = torch.ones(5000), torch.ones(5000)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=i != 1):
            compiled.step()
        default.step()
    assert len(kernels) == 1 and p.dtype == torch.float32
    torch.testing.assert_close(p.detach(), q.detach(), rtol=1e-6, atol=1e-7)


def test_parameters_without_gradients_are_skipped():
    a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    opt = NAdamW([a, b], lr=0.1, weight_decay=0.1)
    a.grad = torch.ones(2)
    opt.step()
    assert torch.equal(b.detach(), torch.ones(2)) and b not in opt.state
    assert not torch.equal(a.detach(), torch.ones(2)) and opt.state[a]["step"] == 1


def test_closure_is_evaluated_and_its_loss_returned():
    w = torch.nn.Parameter(torch.tensor([1.0]))
    opt = NAdamW([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w**2).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 1.0
    assert w.item() < 1.0


def test_build_returns_standard_torch_objects_and_accepts_modules_and_groups():
    net = torch.nn.Linear(3, 2)
    opt, sched = build(_paper[0], net, 10)
    assert isinstance(opt, torch.optim.Optimizer)
    assert isinstance(sched, torch.optim.lr_scheduler.LRScheduler)
    assert len(opt.param_groups) == 1
    groups = [{"params": [net.weight]}, {"params": [net.bias], "lr": 1.0}]
    opt, sched = build(_paper[0], groups, 10)
    assert [g["initial_lr"] for g in opt.param_groups] == [_paper[0].learning_rate, 1.0]
    assert isinstance(sched.lr_lambdas[0], WarmupCosineFactor)


@pytest.mark.parametrize(
    ("kwargs", "field", "allowed"),
    [
        (dict(lr=-1e-3), "lr", "[0, inf)"),
        (dict(betas=(0.9, 1.0)), "beta2", "[0, 1)"),
        (dict(betas=(1.0, 0.9)), "beta1", "[0, 1)"),
        (dict(betas=(0.9,)), "betas", "pair"),
        (dict(eps=-1.0), "eps", "[0, inf)"),
        (dict(eps_root=-1.0), "eps_root", "[0, inf)"),
        (dict(weight_decay=-0.1), "weight_decay", "[0, inf)"),
        (dict(state_dtype=torch.int32), "state_dtype", "floating"),
        (dict(foreach="yes"), "foreach", "None, True, False"),
        (dict(fused=True, foreach=True), "fused and foreach", "choose one"),
        (dict(fused=True, eps_root=1e-8), "eps_root", "== 0"),
        (dict(fused=True, betas=(0.3, 0.9)), "beta1", "[0.5, 1)"),
        (dict(compiled=None), "compiled", "True, False"),
        (dict(compiled=True, fused=True), "compiled and fused", "choose one"),
    ],
)
def test_bad_optimizer_arguments_name_the_field_and_allowed_values(kwargs, field, allowed):
    with pytest.raises(ValueError) as e:
        NAdamW([torch.nn.Parameter(torch.zeros(1))], **kwargs)
    assert field in str(e.value) and allowed in str(e.value)


def test_bad_parameter_groups_and_tensors_are_rejected():
    with pytest.raises(ValueError, match=r"lr must be in \[0, inf\)"):
        NAdamW([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": -1.0}])
    with pytest.raises(ValueError, match="floating-point"):
        NAdamW([torch.zeros(2, dtype=torch.long)])
    p = torch.nn.Parameter(torch.zeros(2, dtype=torch.bfloat16))
    opt = NAdamW([p], fused=True)
    p.grad = torch.zeros_like(p)
    with pytest.raises(ValueError, match="fused=True needs float32/float64"):
        opt.step()
    with pytest.raises(ValueError, match="mask must be a callable"):
        param_groups(torch.nn.Linear(2, 2), mask=True)


@pytest.mark.parametrize(
    ("make", "field", "allowed"),
    [
        (lambda: build(_paper[0], [torch.nn.Parameter(torch.zeros(1))], 0),
         "total_steps", "[1, inf]"),
        (lambda: build(_paper[0], [torch.nn.Parameter(torch.zeros(1))], -5),
         "total_steps", "[1, inf]"),
        (lambda: build(list(_paper[0].to_dict().values()), [torch.nn.Parameter(torch.zeros(1))],
                       10), "point", "HParams"),
        (lambda: WarmupCosineFactor(11, 10), "warmup", "[0, 10]"),
        (lambda: hplists.optax.build(_paper[0], 0), "total_steps", "[1, inf]"),
    ],
)  # fmt: skip
def test_bad_build_arguments_name_the_field_and_allowed_values(make, field, allowed):
    """Both builders (PyTorch and optax) reject a step budget <= 0."""
    with pytest.raises(ValueError) as e:
        make()
    assert field in str(e.value) and allowed in str(e.value)


def test_build_takes_a_point_as_a_mapping_of_its_fields():
    """A list file's point as a plain dict builds the same optimizer as its HParams."""
    net = torch.nn.Linear(3, 1)
    a, _ = build(_paper[0], net, 100)
    b, _ = build(_paper[0].to_dict(), net, 100)
    assert a.param_groups[0].keys() == b.param_groups[0].keys()
    assert all(a.param_groups[0][k] == b.param_groups[0][k] for k in a.param_groups[0]
               if k != "params")
    with pytest.raises(ValueError, match="learning_rat"):
        build({"learning_rat": 1e-3}, net, 100)


def test_hplists_torch_facade_exports():
    import hplists.torch as facade

    assert facade.NAdamW is NAdamW and facade.build is build
    assert hplists.torch is facade
    assert isinstance(HParams(1e-3, 0.9, 0.999), HParams)
    assert warmup_steps(0.1, STEPS) == 100


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("path", list(PATHS))
def test_cuda_paths_match_the_cpu_per_tensor_path(path):
    """On a GPU every path (the fused kernel included) computes what the CPU reference does."""
    gen = torch.Generator().manual_seed(4)
    init = [torch.randn(s, generator=gen, dtype=torch.float64) for s in [(300, 200), (7,)]]
    grads = [[torch.randn(x.shape, generator=gen, dtype=torch.float64) for x in init]
             for _ in range(20)]  # fmt: skip
    finals = {}
    for device, kw in (("cpu", PATHS["per-tensor"]), ("cuda", PATHS[path])):
        params = [torch.nn.Parameter(x.to(device, copy=True)) for x in init]
        opt, sched = build(_paper[0], params, 20, mask=decay_matrices, **kw)
        for gs in grads:
            for p, g in zip(params, gs, strict=True):
                p.grad = g.to(device)
            opt.step()
            sched.step()
        finals[device] = [p.detach().cpu() for p in params]
    for a, b in zip(finals["cuda"], finals["cpu"], strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_cpu_blocks_cover_every_element_once_and_keep_tensors_aligned():
    """The block iterator splits big tensors, batches small ones, and keeps p/g/m/v in step."""
    from hplists.optim.torch_nadamw import _blocks

    sizes = [10, 3, 25, 7, 1, 40]
    a = [torch.zeros(n) for n in sizes]
    b = [torch.zeros(n) for n in sizes]
    blocks = list(_blocks((a, b), 8))
    for xs, ys in blocks:
        assert [x.shape for x in xs] == [y.shape for y in ys]
        for x in xs:
            x += 1
        for y in ys:
            y += 2
    assert all(bool((x == 1).all()) for x in a) and all(bool((y == 2).all()) for y in b)
    assert all(sum(x.numel() for x in xs) <= 8 + 7 for xs, _ in blocks)
