"""The CPU kernel of NAdamW with 8-bit block-wise state: one pass per block, in C++.

:class:`hplists.optim.torch_nadamw.NAdamW` (``state_bits=8``) runs each large
float32 or bfloat16 tensor on CPU through this kernel. For each block of
:data:`~hplists.optim.blockwise_quant.BLOCK_SIZE` elements it

1. dequantizes the two moments (``m = qs[code] * absmax``, a table look-up),
2. applies the update of :func:`hplists.optim.torch_nadamw._nadamw_tensor` in
   float32, operation for operation (``-ffp-contract=off``: no fused
   multiply-adds), writing the parameter (bfloat16: rounded to nearest even),
3. keeps the new moments in a block-sized buffer on the stack while it takes
   their absolute maxima, then quantizes them with the new absmax
   (:func:`~hplists.optim.blockwise_quant.bucket_table`: one look-up per value;
   the rounding of :func:`~hplists.optim.blockwise_quant.quantize_normalized`).

So it reads and writes each parameter once and each moment's byte once, which
an elementwise graph cannot express: inductor, given the same computation in
torch operations, materialized the float32 moments and made about ten passes
over memory (26x PyTorch's fused AdamW at 10M parameters, 240 s to compile).
The source is compiled and loaded by inductor's own C++ code cache
(``torch._inductor.codecache.CppPythonBindingsCodeCache``): the compiler and
flags inductor uses for its CPU kernels, plus ``-ftree-loop-vectorize`` and
``-fno-math-errno`` so that GCC vectorizes the loops and ``-funroll-loops``
(about 6% faster); the library is cached on
disk by the hash of its source and flags, so it compiles once per machine (a
few seconds) and loads in milliseconds after that. One call takes every tensor of
a step, as PyTorch's multi-tensor kernels do: the blocks of all of them run in
one parallel loop (OpenMP, ``torch.get_num_threads()`` threads), so a model of
many tensors pays one call and keeps every thread busy
(``benchmarks/nadamw8_kernel_parts.py`` times one call against one per tensor).

Results equal the plain PyTorch path (``tests/test_optim_nadamw8bit.py``
compares parameters and codes after several steps).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from hplists.optim.blockwise_quant import (
    _BUCKET_FIRST,
    BLOCK_SIZE,
    BUCKETS,
    bucket_table,
    dynamic_map,
)

__all__ = ["DTYPES", "load", "run", "takes"]

# Parameter dtypes the kernel takes (float32 arithmetic in both).
DTYPES = (torch.float32, torch.bfloat16)

_SOURCE = r"""
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#define BLOCK @BLOCK@
#define BUCKETS @BUCKETS@
#define BUCKET_FIRST @BUCKET_FIRST@

static inline float load(const float* x, int64_t i) { return x[i]; }
static inline void store(float* x, int64_t i, float v) { x[i] = v; }
static inline float load(const uint16_t* x, int64_t i) {  // bfloat16
    uint32_t u = (uint32_t)x[i] << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
static inline void store(uint16_t* x, int64_t i, float f) {  // round to nearest even, as torch
    uint32_t u;
    std::memcpy(&u, &f, 4);
    uint16_t r = (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
    x[i] = (f != f) ? (uint16_t)0x7FC0 : r;
}

// Magnitude index #{thresholds <= mag}: one look-up in bucket_table().
static inline int32_t magnitude_index(float mag, const int32_t* __restrict table) {
    int32_t bits;
    std::memcpy(&bits, &mag, 4);
    int32_t b = (bits >> 16) - BUCKET_FIRST;
    b = b < 0 ? 0 : (b > BUCKETS - 1 ? BUCKETS - 1 : b);
    int32_t e = table[b];
    return (e >> 17) + (int32_t)((bits & 0xFFFF) >= (e & 0x1FFFF));
}

struct Hyper { float omb1, b2, omb2, c1, c2, bc2, eps_root, eps, lr, wd, b1; };

// One block: update, new absmax, new codes.
static inline void step_block(@PARAM@* __restrict pb, const @PARAM@* __restrict gb,
                              uint8_t* __restrict mcb, float* __restrict mab,
                              uint8_t* __restrict vcb, float* __restrict vab, int64_t len,
                              const Hyper& h, const float* __restrict qs,
                              const float* __restrict qu, const int32_t* __restrict ts,
                              const int32_t* __restrict tu) {
    const float omb1 = h.omb1, b2 = h.b2, omb2 = h.omb2, c1 = h.c1, c2 = h.c2, bc2 = h.bc2,
                eps_root = h.eps_root, eps = h.eps, lr = h.lr, wd = h.wd, b1 = h.b1;
    float mbuf[BLOCK], vbuf[BLOCK];
    const float sm = *mab, sv = *vab;
    float am = 0.0f, av = 0.0f;
    int bad = 0;
    #pragma omp simd reduction(max:am, av) reduction(|:bad)
    for (int64_t i = 0; i < len; ++i) {
        const float gi = load(gb, i);
        float m = qs[mcb[i]] * sm;
        float v = qu[vcb[i]] * sv;
        m = m * b1 + gi * omb1;
        v = v * b2 + gi * gi * omb2;
        const float pi = load(pb, i);
        const float u = (c1 * m + c2 * gi) / (std::sqrt(v * bc2 + eps_root) + eps) + wd * pi;
        store(pb, i, pi - lr * u);
        mbuf[i] = m;
        vbuf[i] = v;
        const float fm = std::fabs(m), fv = std::fabs(v);
        am = am > fm ? am : fm;
        av = av > fv ? av : fv;
        bad |= (m != m) | (v != v);
    }
    if (bad) {  // torch's amax propagates NaN
        am = NAN;
        av = NAN;
    }
    *mab = am;
    *vab = av;
    const float inv_m = 1.0f / (am > 0.0f ? am : 1.0f), inv_v = 1.0f / (av > 0.0f ? av : 1.0f);
    #pragma omp simd
    for (int64_t i = 0; i < len; ++i) {
        const float a = mbuf[i] * inv_m;
        const int32_t j = magnitude_index(std::fabs(a), ts);
        mcb[i] = (uint8_t)(a >= 0.0f ? 127 + j : 127 - (j < 127 ? j : 127));
        const float b = vbuf[i] * inv_v;
        const int32_t k = magnitude_index(std::fabs(b), tu);
        vcb[i] = (uint8_t)(k + (int32_t)((k == 0) & (b > 0.0f)));  // never 0 for b > 0
    }
}

// One block of a tensor with 32-bit moments (smaller than MIN_8BIT_SIZE): the same update.
static inline void step_block32(@PARAM@* __restrict pb, const @PARAM@* __restrict gb,
                                float* __restrict mb, float* __restrict vb, int64_t len,
                                const Hyper& h) {
    const float omb1 = h.omb1, b2 = h.b2, omb2 = h.omb2, c1 = h.c1, c2 = h.c2, bc2 = h.bc2,
                eps_root = h.eps_root, eps = h.eps, lr = h.lr, wd = h.wd, b1 = h.b1;
    #pragma omp simd
    for (int64_t i = 0; i < len; ++i) {
        const float gi = load(gb, i);
        const float m = mb[i] * b1 + gi * omb1;
        const float v = vb[i] * b2 + gi * gi * omb2;
        const float pi = load(pb, i);
        const float u = (c1 * m + c2 * gi) / (std::sqrt(v * bc2 + eps_root) + eps) + wd * pi;
        store(pb, i, pi - lr * u);
        mb[i] = m;
        vb[i] = v;
    }
}

// Every block of every tensor in one parallel loop, as a multi-tensor kernel: one call per
// step, the threads balanced over all blocks. ptrs: per tensor the addresses of p, g, the
// m codes, the m absmax, the v codes, the v absmax (32-bit moments: p, g, m, 0, v, 0);
// sizes: per tensor its elements; bits: per tensor 8 or 32, its moments' width.
extern "C" void kernel(const int64_t* __restrict ptrs, const int64_t* __restrict sizes,
                       const int64_t* __restrict bits, const double* __restrict c, const float* __restrict qs,
                       const float* __restrict qu, const int32_t* __restrict ts,
                       const int32_t* __restrict tu, int64_t tensors, int64_t threads) {
    // c: (1-b1, b2, 1-b2, c1, c2, 1/(1-b2^t), eps_root, eps, lr, wd, b1), rounded to float.
    const Hyper h{(float)c[0], (float)c[1], (float)c[2], (float)c[3], (float)c[4], (float)c[5],
                  (float)c[6], (float)c[7], (float)c[8], (float)c[9], (float)c[10]};
    std::vector<int64_t> first(tensors + 1, 0);  // first[t]: the global index of t's block 0
    for (int64_t t = 0; t < tensors; ++t) first[t + 1] = first[t] + (sizes[t] + BLOCK - 1) / BLOCK;
    const int64_t blocks = first[tensors];
    #pragma omp parallel for num_threads(threads) schedule(static) if(threads > 1 && blocks > 1)
    for (int64_t b = 0; b < blocks; ++b) {
        const int64_t t = std::upper_bound(first.begin(), first.end(), b) - first.begin() - 1;
        const int64_t* a = ptrs + 6 * t;
        const int64_t k = b - first[t], start = k * BLOCK;
        const int64_t len = (sizes[t] - start) < BLOCK ? (sizes[t] - start) : BLOCK;
        if (bits[t] == 32) {
            step_block32(reinterpret_cast<@PARAM@*>(a[0]) + start,
                         reinterpret_cast<const @PARAM@*>(a[1]) + start,
                         reinterpret_cast<float*>(a[2]) + start,
                         reinterpret_cast<float*>(a[4]) + start, len, h);
            continue;
        }
        step_block(reinterpret_cast<@PARAM@*>(a[0]) + start,
                   reinterpret_cast<const @PARAM@*>(a[1]) + start,
                   reinterpret_cast<uint8_t*>(a[2]) + start, reinterpret_cast<float*>(a[3]) + k,
                   reinterpret_cast<uint8_t*>(a[4]) + start, reinterpret_cast<float*>(a[5]) + k,
                   len, h, qs, qu, ts, tu);
    }
}
"""
_ARGTYPES = ["const int64_t*", "const int64_t*", "const int64_t*", "const double*", "const float*", "const float*",
             "const int32_t*", "const int32_t*", "int64_t", "int64_t"]
_C_TYPES = {torch.float32: "float", torch.bfloat16: "uint16_t"}
_EXTRA_FLAGS = ("-ftree-loop-vectorize", "-fno-math-errno", "-funroll-loops")

_LOCK = threading.Lock()
_KERNELS: dict[torch.dtype, Callable[..., None]] = {}
_FAILED: dict[torch.dtype, BaseException] = {}
_TABLES: list[torch.Tensor] = []


def source(dtype: torch.dtype) -> str:
    """The C++ source of the kernel for ``dtype`` parameters."""
    return (_SOURCE.replace("@PARAM@", _C_TYPES[dtype]).replace("@BLOCK@", str(BLOCK_SIZE))
            .replace("@BUCKETS@", str(BUCKETS)).replace("@BUCKET_FIRST@", str(_BUCKET_FIRST)))


def load(dtype: torch.dtype) -> Callable[..., None]:
    """The compiled kernel for ``dtype`` parameters; compiles it on first use.

    Raises whatever the compilation raised (also on later calls, without
    compiling again).
    """
    with _LOCK:
        kernel = _KERNELS.get(dtype)
        if kernel is not None:
            return kernel
        if dtype in _FAILED:
            raise _FAILED[dtype]
        try:
            from torch._inductor.codecache import CppPythonBindingsCodeCache

            kernel = CppPythonBindingsCodeCache.load_pybinding(
                [a.replace("@PARAM@", _C_TYPES[dtype]) for a in _ARGTYPES], source(dtype),
                needs_vec_isa=True, extra_flags=_EXTRA_FLAGS)
        except Exception as e:  # no compiler, or an inductor without this interface
            _FAILED[dtype] = e
            raise
        _KERNELS[dtype] = kernel
        return kernel


def _tables() -> list[torch.Tensor]:
    if not _TABLES:
        _TABLES.extend(torch.from_numpy(x) for x in (
            dynamic_map(True), dynamic_map(False), bucket_table(True), bucket_table(False)))
    return _TABLES


def takes(p: torch.Tensor, g: torch.Tensor, state: Mapping[str, Any]) -> bool:
    """Whether the kernel steps ``p``: contiguous CPU ``p`` and ``g`` of one of :data:`DTYPES`,
    with 8-bit moments or contiguous float32 ones."""
    if not (p.device.type == "cpu" and p.dtype in DTYPES and g.dtype == p.dtype
            and p.is_contiguous() and g.is_contiguous()):
        return False
    m, v = state["exp_avg"], state["exp_avg_sq"]
    return m.dtype == torch.uint8 or (m.dtype == v.dtype == torch.float32
                                      and m.is_contiguous() and v.is_contiguous())


def run(kernel: Callable[..., None], P: Sequence[torch.Tensor], G: Sequence[torch.Tensor],
        S: Sequence[Mapping[str, Any]], c: torch.Tensor) -> None:
    """One step of the tensors ``P`` (each one the kernel :func:`takes`, of the kernel's
    dtype), in one call."""
    ptrs, bits = [], []
    for p, g, st in zip(P, G, S, strict=True):
        m, v = st["exp_avg"], st["exp_avg_sq"]
        if m.dtype == torch.uint8:
            ptrs += [p.data_ptr(), g.data_ptr(), m.data_ptr(), st["exp_avg_absmax"].data_ptr(),
                     v.data_ptr(), st["exp_avg_sq_absmax"].data_ptr()]
            bits.append(8)
        else:
            ptrs += [p.data_ptr(), g.data_ptr(), m.data_ptr(), 0, v.data_ptr(), 0]
            bits.append(32)
    kernel(torch.tensor(ptrs, dtype=torch.int64),
           torch.tensor([p.numel() for p in P], dtype=torch.int64),
           torch.tensor(bits, dtype=torch.int64), c, *_tables(), len(P), torch.get_num_threads())
