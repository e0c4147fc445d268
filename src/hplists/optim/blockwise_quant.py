"""Block-wise 8-bit quantization with dynamic maps (Dettmers et al. 2021), for NumPy and JAX.

*8-bit Optimizers via Block-wise Quantization* (Dettmers, Lewis, Shleifer,
Zettlemoyer, ICLR 2022, arXiv 2110.02861) stores an optimizer state tensor
``x`` as one byte per element plus one float32 per block:

* **Block-wise normalization.** ``x`` (flattened) is cut into blocks of
  :data:`BLOCK_SIZE` = 2048 consecutive elements (the paper's block size; the
  last block holds the remainder). Each block ``b`` keeps its absolute maximum
  ``N_b = max_{i in b} |x_i|`` as a float32, and its elements are normalized to
  ``a_i = x_i (1 / N_b)`` in ``[-1, 1]`` (float32; a product with the reciprocal,
  cheaper than a division, can exceed 1 by an ulp, which rounds to the end
  code). An outlier then costs precision only in its own block.
* **Dynamic quantization.** ``a_i`` is stored as the index ``c_i`` (a
  ``uint8``) of the nearest of 256 values ``q_0 < ... < q_255`` of a fixed
  *dynamic map* (:func:`dynamic_map`), and restored as ``x_i ~ q[c_i] N_b``.
  The map is the paper's dynamic tree quantization: a value is a power of ten
  times a linear fraction, ``10^-e * f`` with ``e = 0..6`` and ``f`` in
  ``[0.1, 1]``. The fewer bits the exponent takes, the more the fraction gets,
  so magnitudes near 1 are resolved finely (128 or 64 steps in ``[0.1, 1]``)
  and magnitudes down to about ``1e-7`` are still represented, coarsely.

The two maps (bitsandbytes' ``create_dynamic_map(signed)``, of which
:func:`dynamic_map` is an independent implementation): for exponent level
``i = 0..6`` (scale ``s_i = 10^(i-6)``) the level holds ``n_i`` fractions, the
midpoints of ``n_i`` equal bins of ``[0.1, 1]``::

    q = s_i * (0.1 + 0.9 (k + 1/2) / n_i),    k = 0 .. n_i - 1

* ``signed=True`` (the first moment ``m``): ``n_i = 2^i``, each value with both
  signs (2 x 127), plus 0 and 1. The sign takes a bit, so -1 is not in the map:
  its most negative value is ``-(1 - 0.45/64) = -0.99297``.
* ``signed=False`` (the second moment ``v >= 0``): the sign bit is spent on
  the fraction, ``n_i = 2^(i+1)`` (254 values), plus 0 and 1.

Values are computed in float64 and rounded once to float32 (bitsandbytes
computes the fractions in float32; the maps differ by at most 6e-8).

Rounding is to the nearest map value, ties away from zero, with one exception
for the unsigned map: a positive value is never stored as 0 but at least as
its smallest positive value ``3.25e-7`` (see below). With ``M_0 = 0 < M_1 <
...`` the map's non-negative values and ``T_j = (M_j + M_{j+1}) / 2`` their
midpoints (float32, :func:`thresholds`), ``a`` gets the magnitude index ``j =
#{j : T_j <= |a|}``: the code itself for the unsigned map (``max(j, 1)`` for
``a > 0``), and code ``127 + j`` (``a >= 0``) or ``127 - min(j, 127)`` (``a <
0``) for the signed map, whose values are symmetric about its code 127 (the
value 0) but for the 1 at the top. :func:`quantize_normalized` (NumPy and JAX) and
the compiled CPU kernel of :mod:`hplists.optim.torch_nadamw` find ``j`` with one
table look-up (:func:`bucket_table`) instead of a binary search over the
thresholds, and tests check that the look-up gives ``searchsorted``'s index for
every float32 of a fine grid of ``[0, 1]``, for each threshold and for its two
neighbours. (Under XLA:CPU the look-up takes about 1.1 ms per million values on
one core, ``jnp.searchsorted``'s binary search 14-33 ms: ``benchmarks/nadamw8_jax.py``.
Eager PyTorch is the other way round: ``torch.searchsorted`` serves it.)

Errors (normalized by the block's absmax; tested in
``tests/test_optim_nadamw8bit.py``): a value in ``[0.1, 1]`` is restored within
half a bin, ``0.45/128 = 0.0035`` (unsigned) or ``0.45/64 = 0.0070`` (signed);
in ``[10^(i-7), 10^(i-6)]`` within ``0.45 10^(i-6)/n_i``. Relative to the value
itself that is at most ``4.5/n_i``: 3.5% (unsigned) and 7% (signed) within a
factor 10 of the absmax, 7% and 14% within a factor 100, and twice as much
for each further factor 10. A signed value below ``2.75e-7`` becomes 0, a
positive unsigned one below ``3.25e-7`` becomes ``3.25e-7``.

Why the unsigned map never rounds a positive value to 0 (the paper rounds to
the nearest value, 0 included): an Adam-type update divides the first moment
by ``sqrt(v) + eps``. When a gradient component stays near 0 (a dead ReLU
unit, a rare token), ``v`` decays by ``b2`` per step and ``m`` by ``b1``; with
``b2 < b1`` (paper 001's lists have ``b2`` down to 0.63) ``v`` falls below
``1.6e-7`` of its block's absmax while ``m`` is still represented, so the
nearest rounding stores ``v = 0`` and the update becomes ``m / eps``, up to
``1e4`` times its normal size. Measured on the MLP of the tests (200 steps, the
paper list's fourth point, ``b2 = 0.89``): the parameters ended 0.9 to 3.4 times
the distance they travelled away from 32-bit NAdamW's (run to run: the
blow-ups make it chaotic); with the floor, 0.30. A positive value below the
floor is overestimated instead, which makes its update smaller than the
32-bit one, never larger.

Only NumPy is imported here; the functions take ``xp`` (``numpy`` or
``jax.numpy``) for their array operations, so one implementation serves the
host and traced JAX code (:mod:`hplists.optim.optax_nadamw8`);
:func:`quantize_normalized` also takes ``torch``, for the PyTorch optimizer's
tensors (:mod:`hplists.optim.torch_blockwise_quant`).
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

import numpy as np

from hplists._check import check_int

__all__ = [
    "BLOCK_SIZE",
    "BUCKETS",
    "LEVELS",
    "MIN_8BIT_SIZE",
    "absmax_blockwise",
    "bucket_table",
    "dequantize_blockwise",
    "dynamic_map",
    "num_blocks",
    "quantize_blockwise",
    "quantize_normalized",
    "thresholds",
]

# Elements per block: the paper's block size (bitsandbytes' optimizers now use 256).
BLOCK_SIZE = 2048
# Tensors with fewer elements keep 32-bit state (the paper's and bitsandbytes' 4096).
MIN_8BIT_SIZE = 4096
# Exponent levels of the dynamic maps: scales 10^-6 .. 10^0.
LEVELS = 7


def _level_sizes(signed: bool) -> list[int]:
    """Fractions per exponent level ``i = 0..6``: ``2^i`` signed, ``2^(i+1)`` unsigned."""
    return [2 ** (i + (0 if signed else 1)) for i in range(LEVELS)]


@functools.cache
def _map64(signed: bool) -> tuple[float, ...]:
    values = [0.0, 1.0]
    for i, n in enumerate(_level_sizes(signed)):
        scale = 10.0 ** (i - (LEVELS - 1))
        level = [scale * (0.1 + 0.9 * (k + 0.5) / n) for k in range(n)]
        values += level
        if signed:
            values += [-x for x in level]
    assert len(values) == 256
    return tuple(sorted(values))


def dynamic_map(signed: bool) -> np.ndarray:
    """The 256 float32 values of the dynamic map, ascending (module docstring: how they're built).

    Example:
        >>> q = dynamic_map(signed=False)
        >>> q.dtype, q.shape, [f"{x:.5g}" for x in q[[0, 1, 2, 3, 254, 255]]]
        (dtype('float32'), (256,), ['0', '3.25e-07', '7.75e-07', '2.125e-06', '0.99648', '1'])
        >>> s = dynamic_map(signed=True)  # -1 is not in it
        >>> [f"{x:.5g}" for x in s[[0, 126, 127, 128, 255]]]
        ['-0.99297', '-5.5e-07', '0', '5.5e-07', '1']
    """
    return np.asarray(_map64(bool(signed)), dtype=np.float32)


def _magnitudes64(signed: bool) -> tuple[float, ...]:
    """The map's values >= 0, ascending: 129 (signed) or 256 (unsigned)."""
    return tuple(x for x in _map64(signed) if x >= 0.0)


@functools.cache
def _thresholds32(signed: bool) -> np.ndarray:
    m = _magnitudes64(signed)
    return np.asarray([(a + b) / 2 for a, b in itertools.pairwise(m)], np.float32)


def thresholds(signed: bool) -> np.ndarray:
    """The float32 rounding thresholds ``T_j = (M_j + M_{j+1}) / 2`` between the map's
    non-negative values ``M`` (128 signed, 255 unsigned), ascending.

    A magnitude ``|a|`` gets the index ``#{j : T_j <= |a|}`` (module docstring).

    Example:
        >>> thresholds(signed=False).shape, thresholds(signed=True).shape
        ((255,), (128,))
        >>> f"{thresholds(signed=False)[0]:.4g}"  # between 0 and 3.25e-07
        '1.625e-07'
    """
    return _thresholds32(bool(signed)).copy()


# Buckets of bucket_table(): the top 16 bits of a float32 in [2^-24, 1].
_BUCKET_FIRST = (127 - 24) << 7
BUCKETS = 24 * 128 + 1


@functools.cache
def _bucket_table(signed: bool) -> np.ndarray:
    t = _thresholds32(signed)
    lo = ((np.arange(BUCKETS, dtype=np.uint32) + _BUCKET_FIRST) << 16).view(np.float32)
    hi = np.append(lo[1:], np.float32(np.inf))
    below = np.searchsorted(t, lo, side="right")  # thresholds <= the bucket's smallest value
    inside = np.searchsorted(t, hi, side="left") - below  # thresholds strictly inside it
    if inside.max() > 1:  # pragma: no cover - a property of the two maps
        raise AssertionError("a bucket holds two thresholds: bucket_table() cannot serve this map")
    t_next = t[np.minimum(below, len(t) - 1)].view(np.uint32).astype(np.int64)
    low16 = np.where(inside == 1, t_next & 0xFFFF, 0x10000)
    return ((below.astype(np.int64) << 17) | low16).astype(np.int32)


def bucket_table(signed: bool) -> np.ndarray:
    """An int32 table that gives a magnitude's index with one look-up (for compiled kernels).

    A float32 ``x`` in ``[2^-24, 1]`` with bits ``u`` falls in bucket ``b = (u >>
    16) - 103 * 128`` (its exponent and top 7 mantissa bits; smaller ``x`` go to
    bucket 0, larger ones and NaN to the last). No bucket has more than one
    threshold strictly inside it (checked when the table is built), so with ``e
    = table[b]`` the index is ``(e >> 17) + ((u & 0xFFFF) >= (e & 0x1FFFF))``:
    ``e >> 17`` counts the thresholds up to the bucket's smallest value, and
    ``e & 0x1FFFF`` holds the low 16 bits of the one inside it (``0x10000``,
    never reached, if none).

    Example:
        >>> table = bucket_table(signed=False)
        >>> table.shape, table.dtype
        ((3073,), dtype('int32'))
        >>> u = int(np.float32(0.5).view(np.uint32))
        >>> e = int(table[(u >> 16) - 103 * 128])
        >>> (e >> 17) + int((u & 0xFFFF) >= (e & 0x1FFFF)), int(quantize_normalized(0.5, False))
        (183, 183)
    """
    return _bucket_table(bool(signed)).copy()


def quantize_normalized(a: Any, signed: bool, xp: Any = np) -> Any:
    """Codes (``uint8``) of normalized values ``a`` in ``[-1, 1]`` (``[0, 1]`` unsigned): the
    nearest value of :func:`dynamic_map`, ties away from zero; unsigned, a positive value
    gets at least code 1 (module docstring).

    Values outside the range get the end codes; NaN gets a valid code (255
    unsigned, 0 signed). The comparisons are in float32. ``xp`` is ``numpy``,
    ``jax.numpy`` (traced code included) or ``torch`` (any device): one rule
    for the three.

    Example:
        >>> a = np.array([0.0, 1e-9, 0.5, -0.5, 1.0, -1.0], np.float32)
        >>> codes = quantize_normalized(a, signed=True)
        >>> codes.tolist()
        [127, 127, 219, 35, 255, 0]
        >>> [f"{x:.4f}" for x in dynamic_map(True)[codes]]
        ['0.0000', '0.0000', '0.5008', '-0.5008', '1.0000', '-0.9930']
    """
    a = xp.asarray(a, dtype=xp.float32)
    j = _magnitude_index(xp.abs(a), bool(signed), xp)
    if signed:
        j = xp.where(a >= 0, 127 + j, 127 - xp.clip(j, None, 127))
    else:
        j = xp.where(a > 0, xp.clip(j, 1, None), j)
    return j.to(xp.uint8) if _is_torch(xp) else j.astype(xp.uint8)


def _is_torch(xp: Any) -> bool:
    return getattr(xp, "__name__", "") == "torch"


def _float_bits(a: Any, xp: Any) -> Any:
    """The bits of float32 ``a`` as int32 (NumPy's view, JAX's bitcast)."""
    if xp is np:
        return np.asarray(a, np.float32).view(np.int32)
    import jax

    return jax.lax.bitcast_convert_type(a, xp.int32)


# (signed, device) -> thresholds() as a PyTorch tensor on that device
_TORCH_THRESHOLDS: dict[tuple[bool, str], Any] = {}


def _magnitude_index(m: Any, signed: bool, xp: Any) -> Any:
    """``#{j : T_j <= m}`` of float32 magnitudes ``m``, ``searchsorted(thresholds(signed), m,
    side="right")`` (NaN counts every threshold): one look-up in :func:`bucket_table` from
    ``m``'s bits; in PyTorch, ``torch.searchsorted``, as fast on CPU as eager PyTorch runs
    the look-up's eight elementwise passes (1.4x faster at 10^7 values, one thread)."""
    if _is_torch(xp):
        key = (signed, str(m.device))
        t = _TORCH_THRESHOLDS.get(key)
        if t is None:
            t = _TORCH_THRESHOLDS[key] = xp.from_numpy(_thresholds32(signed).copy()).to(m.device)
        return xp.searchsorted(t, m, right=True)
    u = _float_bits(m, xp)
    e = xp.asarray(_bucket_table(signed))[xp.clip((u >> 16) - _BUCKET_FIRST, 0, BUCKETS - 1)]
    return (e >> 17) + xp.where((u & 0xFFFF) >= (e & 0x1FFFF), 1, 0)


def num_blocks(n: int, block_size: int = BLOCK_SIZE) -> int:
    """Blocks of a tensor of ``n`` elements: ``ceil(n / block_size)``.

    Example:
        >>> num_blocks(4096), num_blocks(4097), num_blocks(0)
        (2, 3, 0)
    """
    return -(-n // block_size)


def absmax_blockwise(x: Any, block_size: int = BLOCK_SIZE, xp: Any = np) -> Any:
    """``max |x|`` over each block of ``block_size`` consecutive elements of ``x`` (flattened).

    Example:
        >>> absmax_blockwise(np.array([1.0, -3.0, 2.0, 0.5, -0.25]), block_size=2).tolist()
        [3.0, 2.0, 0.25]
    """
    flat = xp.abs(xp.reshape(x, (-1,)))
    n = flat.shape[0]
    full = n // block_size * block_size
    parts = []
    if full:
        parts.append(xp.max(xp.reshape(flat[:full], (-1, block_size)), axis=1))
    if n > full:
        parts.append(xp.max(flat[full:], keepdims=True))
    if not parts:
        return xp.zeros((0,), flat.dtype)
    return parts[0] if len(parts) == 1 else xp.concatenate(parts)


def _per_element(blockwise: Any, n: int, block_size: int, xp: Any) -> Any:
    """Each block's value repeated over its elements (``n`` of them)."""
    return xp.repeat(blockwise, block_size)[:n]


def quantize_blockwise(
    x: Any, signed: bool, block_size: int = BLOCK_SIZE, xp: Any = np
) -> tuple[Any, Any]:
    """``(codes, absmax)``: ``uint8`` codes of ``x``'s shape and the float32 absmax per block.

    Example:
        >>> x = np.array([0.3, -1.2, 0.0, 4.0, 2.0], np.float32)
        >>> codes, absmax = quantize_blockwise(x, signed=True, block_size=2)
        >>> absmax.tolist(), codes.dtype
        ([1.2000000476837158, 4.0, 2.0], dtype('uint8'))
        >>> [f"{x:.4f}" for x in dequantize_blockwise(codes, absmax, signed=True, block_size=2)]
        ['0.2972', '-1.1916', '0.0000', '4.0000', '2.0000']
    """
    check_int("block_size", block_size, low=1)
    x = xp.asarray(x, dtype=xp.float32)
    absmax = absmax_blockwise(x, block_size, xp)
    n = int(np.prod(x.shape))
    inverse = xp.float32(1) / xp.where(absmax > 0, absmax, xp.float32(1))
    a = xp.reshape(x, (-1,)) * _per_element(inverse, n, block_size, xp)
    codes = quantize_normalized(a, signed, xp)
    return xp.reshape(codes, x.shape), absmax


def dequantize_blockwise(
    codes: Any, absmax: Any, signed: bool, block_size: int = BLOCK_SIZE, xp: Any = np
) -> Any:
    """``q[codes] * absmax`` of each element's block, float32, of ``codes``' shape.

    Example:
        >>> codes = np.array([255, 0, 1], np.uint8)
        >>> [f"{x:.4g}" for x in dequantize_blockwise(codes, np.array([2.0], np.float32),
        ...                                          signed=False)]
        ['2', '0', '6.5e-07']
    """
    q = xp.asarray(dynamic_map(bool(signed)))
    n = int(np.prod(codes.shape))
    values = q[xp.reshape(codes, (-1,)).astype(xp.int32)]
    values = values * _per_element(xp.asarray(absmax, dtype=xp.float32), n, block_size, xp)
    return xp.reshape(values, codes.shape)
