"""Where the 8-bit NAdamW step's time goes on CPU: the compiled kernel with one part removed.

``hplists.torch.NAdamW(..., state_bits=8)`` steps through one compiled C++ pass
per tensor (``hplists.optim._torch_nadamw8_cpu``). This compiles variants of
that kernel's source with one part replaced by something as cheap as it can be
(the results are wrong; only the time counts) and times each, side by side with
fused AdamW, on one tensor:

* ``kernel``: the kernel as shipped;
* ``no dequantization gathers``: the codes read as numbers, not looked up in the
  256-value maps;
* ``no quantization gathers``: the bucket table of the quantizer not read;
* ``no look-ups at all``: both of the above;
* ``no sqrt and division``: the update's denominator replaced by a product.

Each row: the median step time over ``--rounds`` and its ratio to fused AdamW's
median. Then the same number of parameters split into 8, 200 and 1,000 tensors,
stepped by the shipped kernel in one call (as the optimizer does) and in one
call per tensor, in alternating rounds. Run it on a quiet machine (the load
average is printed).

    .venv/bin/python benchmarks/nadamw8_kernel_parts.py [--size 1e7] [--threads 2] [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from hplists.optim import _torch_nadamw8_cpu as kernel_module
from hplists.torch import NAdamW

PARTS = {
    "no dequantization gathers": [
        ("float m = qs[mcb[i]] * sm;", "float m = (float)mcb[i] * sm;"),
        ("float v = qu[vcb[i]] * sv;", "float v = (float)vcb[i] * sv;")],
    "no quantization gathers": [("int32_t e = table[b];", "int32_t e = b << 17;")],
    "no look-ups at all": [
        ("float m = qs[mcb[i]] * sm;", "float m = (float)mcb[i] * sm;"),
        ("float v = qu[vcb[i]] * sv;", "float v = (float)vcb[i] * sv;"),
        ("int32_t e = table[b];", "int32_t e = b << 17;")],
    "no sqrt and division": [("/ (std::sqrt(v * bc2 + eps_root) + eps)",
                              "* (v * bc2 + eps_root + eps)")],
}


def _compile(source: str):
    from torch._inductor.codecache import CppPythonBindingsCodeCache

    return CppPythonBindingsCodeCache.load_pybinding(
        [a.replace("@PARAM@", "float") for a in kernel_module._ARGTYPES], source,
        needs_vec_isa=True, extra_flags=kernel_module._EXTRA_FLAGS)


def _median_ms(step, rounds: int) -> float:
    step()
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=float, default=1e7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    n = int(args.size)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    p, g = torch.randn(n), torch.randn(n) * 1e-3
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}; {n:,} float32 "
          f"parameters, {args.threads} threads, medians of {args.rounds} steps")

    fused = torch.optim.AdamW([torch.nn.Parameter(p.clone())], lr=1e-3, fused=True)
    fused.param_groups[0]["params"][0].grad = g.clone()
    base = _median_ms(fused.step, args.rounds)

    opt = NAdamW([torch.nn.Parameter(p.clone())], lr=1e-3, state_bits=8)
    param = opt.param_groups[0]["params"][0]
    param.grad = g.clone()
    opt.step()  # creates the 8-bit state
    state = opt.state[param]
    c = torch.tensor([0.1, 0.999, 0.001, 0.9, 0.1, 1.0, 0.0, 1e-8, 1e-3, 0.0, 0.9],
                     dtype=torch.float64)
    source = kernel_module.source(torch.float32)
    variants = {"kernel": source}
    for name, edits in PARTS.items():
        text = source
        for old, new in edits:
            if old not in text:
                raise SystemExit(f"the kernel's source changed: {old!r} not found")
            text = text.replace(old, new)
        variants[name] = text
    print(f"{'variant':<28} {'median ms':>10} {'vs fused AdamW':>15}")
    print(f"{'fused AdamW':<28} {base:>10.2f} {1.0:>15.2f}")
    for name, text in variants.items():
        compiled = _compile(text)
        ms = _median_ms(lambda k=compiled: kernel_module.run(k, [param.data], [g], [state], c),
                        args.rounds)
        print(f"{name:<28} {ms:>10.2f} {ms / base:>15.2f}")

    print(f"\n{'tensors':<18} {'one call ms':>12} {'per tensor ms':>14} {'ratio':>6}")
    kernel = kernel_module.load(torch.float32)
    for count in (8, 200, 1000):
        size = n // count
        params = [torch.nn.Parameter(torch.randn(size)) for _ in range(count)]
        for x in params:
            x.grad = torch.randn(size) * 1e-3
        many = NAdamW(params, lr=1e-3, state_bits=8)
        many.step()
        P, G = [x.data for x in params], [x.grad for x in params]
        S = [many.state[x] for x in params]
        one: list[float] = []
        each: list[float] = []
        for _ in range(args.rounds):
            t = time.perf_counter()
            kernel_module.run(kernel, P, G, S, c)
            one.append(time.perf_counter() - t)
            t = time.perf_counter()
            for x, gx, sx in zip(P, G, S, strict=True):
                kernel_module.run(kernel, [x], [gx], [sx], c)
            each.append(time.perf_counter() - t)
        a, b = statistics.median(one) * 1e3, statistics.median(each) * 1e3
        print(f"{count:>5} x {size:<10,} {a:>12.2f} {b:>14.2f} {b / a:>6.2f}")


if __name__ == "__main__":
    main()
