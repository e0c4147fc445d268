"""Step time of hplists' NAdamW (32-bit and 8-bit state) against torch.optim's AdamW and NAdam.

Measures ``optimizer.step()`` alone (gradients are fixed tensors set once) for
models of 1M, 10M and 50M float32 parameters on CPU, and on CUDA when present.
The optimizers are timed in rounds, one step each per round in a shuffled
order, so that load from other processes hits them alike. Before each timed
step a read of ``--flush-mb`` MiB (more than the last-level cache) evicts what
the previous step left, so that every step starts from the same cache state:
without it, a step's time depended on which optimizer ran before it (hplists'
compiled path at 10M, 1 thread: 1.12x fused AdamW when timed after fused
AdamW, 1.20x when timed after AdamW foreach). The table gives
each one's median step time and the median over rounds of its time divided by
the fastest AdamW's time in the same round. Targets: hplists NAdamW at most 1.15x the fastest AdamW on CPU at 10M
parameters and more (target: 1.10x at 1M, 1.02x at 10M). The opt-in compiled path (``compiled=True``: one
inductor-generated pass per tensor, one call per step) is the one
that meets it; its first step compiles the kernel (seconds, printed).

Why NAdamW costs more than fused AdamW here: PyTorch has no fused NAdam(W)
kernel. The fused path runs PyTorch's fused AdamW kernel as NAdamW (see
``hplists.optim.torch_nadamw``) plus two cheap passes per cache-sized block:
the exact decoupled decay ``p += (-lr wd) p`` (the kernel's float32
``p * (1 - lr wd)`` would round small decays away) and the ``lerp`` that
restores the true first moment. No single pass of a stock kernel can do both
the Nesterov numerator and the moment update, because the kernel stores the
vector it divides. The foreach path needs 8 elementwise passes per block.
The compiled path reads and writes each tensor once, as fused AdamW does.
The 32-bit optimizers keep 8 bytes of state per float32 parameter (two
moments; the torch ones also keep a step tensor per parameter tensor, hplists a
Python int).

8-bit state, side by side with the 32-bit rows: hplists NAdamW with
``state_bits=8`` (Dettmers et al.'s block-wise quantization, 2048 elements per
block: :mod:`hplists.optim.blockwise_quant`), through its compiled C++ kernel
(the default, ``compiled="auto"``, where a C++ compiler works) and through plain
PyTorch operations (``compiled=False``); and bitsandbytes' ``AdamW8bit`` (256
elements per block) when bitsandbytes is installed (``pip install
"hplists[bitsandbytes]"``) and steps on this device
(otherwise the table says why it is missing). The last two columns: the step
time divided by fused AdamW's in the same round (median over rounds; the goal
for hplists 8-bit is at most 1.3 at 10M parameters on CPU), and the bytes of
state per parameter, summed over the optimizer's state tensors (bitsandbytes
also keeps its two 256-value maps per tensor).

The learning-rate-free optimizers of ``hplists.torch_lrfree.build`` (rows
``lrfree ...``, run with ``--only lrfree``): each paper-002 method as the
study's rule computes it, with its package where one computes the rule and
hplists' own optimizer where none does, built at a point with weight decay
and no warmup (the schedule's factor 1 at every timed step). MoMo-Adam gets a
loss through a closure. Their ratio says what dropping the learning rate costs per step
against AdamW, besides the state (Prodigy and D-Adapt keep more tensors than
Adam's two).

Usage::

    python benchmarks/optimizer_step.py                 # 1M, 10M, 50M; 30 rounds
    python benchmarks/optimizer_step.py --sizes 1e6 --rounds 5 --devices cpu
    python benchmarks/optimizer_step.py --sizes 1e7 --only compiled --threads 1
    python benchmarks/optimizer_step.py --only 8-bit "(default" bitsandbytes  # the 8-bit table
    python benchmarks/optimizer_step.py --only lrfree --sizes 1e7  # learning-rate-free methods
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import warnings
from collections.abc import Callable

import torch

from hplists import torch_lrfree
from hplists.torch import NAdamW

LR, BETAS, WEIGHT_DECAY = 1e-3, (0.95, 0.99), 0.1
# A learning-rate-free point without warmup: its schedule's factor is 1 at step 0, where it
# stays (the benchmark does not step the scheduler), so no step is idle (s_t = 0 would let
# Prodigy and D-Adapt skip their work).
LRFREE_POINT = {"beta1": BETAS[0], "beta2": BETAS[1], "weight_decay": WEIGHT_DECAY,
                "warmup_fraction": 0.0}
# Row name -> (method, the point's keys the method takes).
LRFREE = {
    "lrfree Prodigy (prodigyopt)": ("prodigy", ("beta1", "beta2", "weight_decay")),
    "lrfree D-Adapt AdamW (dadaptation)": ("dadapt_adamw", ("beta1", "beta2", "weight_decay")),
    "lrfree DoG (dog-optimizer)": ("dog", ("weight_decay",)),
    "lrfree DoWG (hplists)": ("dowg", ("weight_decay",)),
    "lrfree Mechanic AdamW (hplists)": ("mechanic_adam", ("beta1", "beta2", "weight_decay")),
    "lrfree COCOB (hplists)": ("cocob", ("weight_decay",)),
    "lrfree MoMo-Adam (hplists)": ("momo_adam", ("beta1", "beta2", "weight_decay")),
    "lrfree Schedule-Free AdamW (hplists)": ("sfadamw", ("beta1", "beta2", "weight_decay")),
}


def _lrfree(name: str) -> Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer]:
    method, keys = LRFREE[name]
    point = {k: LRFREE_POINT[k] for k in (*keys, "warmup_fraction")}
    return lambda ps: torch_lrfree.build(method, point, ps, total_steps=1000)[0]


def _loss() -> torch.Tensor:
    """The closure MoMo's step reads the loss from."""
    return torch.tensor(1.0)


def _stepper(name: str, opt: torch.optim.Optimizer) -> Callable[[], object]:
    """``opt.step``, with the loss for a method whose step needs it (MoMo's)."""
    from hplists.optim import lrfree

    if name in LRFREE and lrfree.get_method(LRFREE[name][0]).needs_loss:
        return lambda: opt.step(_loss)
    return opt.step

OPTIMIZERS: dict[str, Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer]] = {
    "AdamW fused": lambda ps: torch.optim.AdamW(
        ps, lr=LR, betas=BETAS, weight_decay=WEIGHT_DECAY, fused=True
    ),
    "AdamW foreach": lambda ps: torch.optim.AdamW(
        ps, lr=LR, betas=BETAS, weight_decay=WEIGHT_DECAY, foreach=True
    ),
    "NAdam decoupled (default)": lambda ps: torch.optim.NAdam(
        ps, lr=LR, betas=BETAS, weight_decay=WEIGHT_DECAY, decoupled_weight_decay=True
    ),
    "NAdam decoupled foreach": lambda ps: torch.optim.NAdam(
        ps, lr=LR, betas=BETAS, weight_decay=WEIGHT_DECAY, decoupled_weight_decay=True,
        foreach=True,
    ),
    "hplists NAdamW (default)": lambda ps: NAdamW(
        ps, lr=LR, betas=BETAS, weight_decay=WEIGHT_DECAY
    ),
    "hplists NAdamW 8-bit (default)": lambda ps: NAdamW(
        ps, lr=LR, betas=BETAS, weight_decay=WEIGHT_DECAY, state_bits=8
    ),
    "hplists NAdamW 8-bit plain": lambda ps: NAdamW(
        ps, lr=LR, betas=BETAS, weight_decay=WEIGHT_DECAY, state_bits=8, compiled=False
    ),
    "bitsandbytes AdamW8bit": lambda ps: _bitsandbytes_adamw8bit(ps),
    "hplists NAdamW fused": lambda ps: NAdamW(
        ps, lr=LR, betas=BETAS, weight_decay=WEIGHT_DECAY, fused=True
    ),
    "hplists NAdamW compiled": lambda ps: NAdamW(
        ps, lr=LR, betas=BETAS, weight_decay=WEIGHT_DECAY, compiled=True
    ),
    "hplists NAdamW foreach": lambda ps: NAdamW(
        ps, lr=LR, betas=BETAS, weight_decay=WEIGHT_DECAY, fused=False, foreach=True
    ),
    "hplists NAdamW per-tensor": lambda ps: NAdamW(
        ps, lr=LR, betas=BETAS, weight_decay=WEIGHT_DECAY, fused=False, foreach=False
    ),
    **{name: _lrfree(name) for name in LRFREE},
}
ADAMW = ("AdamW fused", "AdamW foreach")


def _bitsandbytes_adamw8bit(params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
    import bitsandbytes as bnb  # not a dependency: the row is skipped without it

    return bnb.optim.AdamW8bit(params, lr=LR, betas=BETAS, weight_decay=WEIGHT_DECAY)


def unavailable(name: str, device: str) -> str | None:
    """Why optimizer ``name`` cannot step on ``device`` here (None: it can)."""
    if name in LRFREE:
        package = torch_lrfree.PACKAGES[LRFREE[name][0]]
        module = {"prodigyopt": "prodigyopt", "dadaptation": "dadaptation",
                  "dog-optimizer": "dog"}.get(package)
        if module is not None:
            try:
                __import__(module)
            except ImportError:
                return f"{package} is not installed (pip install \"hplists[lrfree-torch]\")"
        return None
    if name != "bitsandbytes AdamW8bit":
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p = torch.nn.Parameter(torch.ones(8192, device=device))
            p.grad = torch.ones_like(p)
            _bitsandbytes_adamw8bit([p]).step()
    except Exception as e:  # not installed, or no kernel for this device
        return f"{type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}"
    return None


def shapes(n: int, layers: int = 8, width: int = 1024) -> list[tuple[int, ...]]:
    """A transformer-like mix: per layer one large matrix and two vectors, ``n`` in total."""
    per_layer = n // layers
    out: list[tuple[int, ...]] = []
    for _ in range(layers):
        out += [(width,), (width,), ((per_layer - 2 * width) // width, width)]
    used = sum(torch.Size(s).numel() for s in out)
    if n > used:
        out.append((n - used,))
    return out


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def state_bytes_per_param(opt: torch.optim.Optimizer, n: int) -> float:
    states = [opt.state, *([opt.base.state] if hasattr(opt, "base") else [])]  # Mechanic's
    tensors = [v for state in states for st in state.values() for v in st.values()]
    # Tensors some keep in their groups (DoG: its x_0 per parameter), the parameters aside.
    for group in opt.param_groups:
        for key, v in group.items():
            if key != "params":
                tensors += v if isinstance(v, list) else [v]
    return sum(v.numel() * v.element_size() for v in tensors
               if isinstance(v, torch.Tensor)) / n


def bench(n: int, device: str, rounds: int, warmup: int, names: list[str], flush_mb: int = 64
          ) -> list[tuple[str, float, float, float, float]]:
    gen = torch.Generator().manual_seed(0)
    tensors = [torch.randn(s, generator=gen) for s in shapes(n)]
    grads = [torch.randn(s, generator=gen).to(device) for s in shapes(n)]
    opts = {}
    for name in names:
        make = OPTIMIZERS[name]
        params = [torch.nn.Parameter(t.to(device, copy=True)) for t in tensors]
        for p, g in zip(params, grads, strict=True):
            p.grad = g
        opts[name] = make(params)
    times: dict[str, list[float]] = {name: [] for name in opts}
    steps: dict[str, Callable[[], object]] = {}
    for name, opt in opts.items():
        start = time.perf_counter()
        steps[name] = _stepper(name, opt)
        steps[name]()  # the compiled path compiles its kernel here (once per process)
        first = time.perf_counter() - start
        if first > 1.0:
            print(f"  {name}: first step {first:.1f} s")
        for _ in range(warmup):
            steps[name]()
    order = list(opts)
    rng = random.Random(0)
    scratch = torch.ones(flush_mb << 18, device=device) if flush_mb else None
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            opt = opts[name]
            if scratch is not None:
                scratch.sum()  # read-only: evicts the last step's dirty lines, writes none
            sync(device)
            start = time.perf_counter()
            steps[name]()
            sync(device)
            times[name].append(time.perf_counter() - start)
    fastest = min(ADAMW, key=lambda k: statistics.median(times[k]))
    rows = []
    for name, opt in opts.items():
        ratios = [a / b for a, b in zip(times[name], times[fastest], strict=True)]
        fused = [a / b for a, b in zip(times[name], times["AdamW fused"], strict=True)]
        rows.append(
            (
                name,
                statistics.median(times[name]) * 1e3,
                statistics.median(ratios),
                statistics.median(fused),
                state_bytes_per_param(opt, n),
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1e6, 1e7, 5e7])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu, and cuda if present")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--flush-mb", type=int, default=64,
                        help="MiB read before each timed step so that every optimizer starts "
                             "from a clean cache (0: off)")
    parser.add_argument("--only", nargs="+", default=None, metavar="TEXT",
                        help="time only the optimizers whose name contains one of these (the "
                             "AdamW references always run)")
    args = parser.parse_args()
    names = [k for k in OPTIMIZERS if k in ADAMW or args.only is None
             or any(t in k for t in args.only)]
    if args.only and len(names) == len(ADAMW):
        parser.error(f"--only: no optimizer matches {args.only}; choose from {list(OPTIMIZERS)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, rounds={args.rounds}")
    for device in devices:
        missing = {k: why for k in names if (why := unavailable(k, device))}
        for name, why in missing.items():
            print(f"{device}: skipping {name}: {why}")
        run = [k for k in names if k not in missing]
        for size in args.sizes:
            n = int(size)
            rows = bench(n, device, args.rounds, args.warmup, run, args.flush_mb)
            print(f"\n{device}, {n / 1e6:g}M float32 parameters (ratio: median over rounds of "
                  "time / fastest AdamW's time in the same round; vs fused: / AdamW fused's)")
            print(f"{'optimizer':38s} {'median ms':>10s} {'ratio':>7s} {'vs fused':>9s} "
                  f"{'state B/param':>14s}")
            for name, ms, ratio, fused, bpp in rows:
                print(f"{name:38s} {ms:10.2f} {ratio:7.2f} {fused:9.2f} {bpp:14.3f}")


if __name__ == "__main__":
    main()
