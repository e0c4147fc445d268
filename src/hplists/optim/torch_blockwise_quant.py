"""Block-wise 8-bit quantization with dynamic maps, for PyTorch tensors.

The PyTorch counterpart of :mod:`hplists.optim.blockwise_quant`, which holds the
maps, the block size and the description of the method (Dettmers et al. 2021):
the same maps, thresholds and rounding (nearest value, ties away from zero), so
both give the same codes for the same float32 input.

A tensor ``x`` of ``n`` elements is stored as ``codes`` (``uint8``, ``x``'s
shape) and ``absmax`` (float32, ``ceil(n / block_size)`` values): 1 byte per
element plus 4 bytes per block, ``1 + 4/2048 = 1.002`` bytes per element with
the default block size. The functions run on any device.
"""

from __future__ import annotations

from typing import Any

import torch

from hplists._check import check_int
from hplists.optim import blockwise_quant
from hplists.optim.blockwise_quant import BLOCK_SIZE, dynamic_map, num_blocks

__all__ = ["dequantize_blockwise", "quantize_blockwise", "quantize_normalized"]

# (signed, device) -> the map as a tensor
_MAPS: dict[tuple[bool, str], torch.Tensor] = {}


def _map(signed: bool, device: torch.device) -> torch.Tensor:
    key = (bool(signed), str(device))
    t = _MAPS.get(key)
    if t is None:
        t = _MAPS[key] = torch.from_numpy(dynamic_map(signed)).to(device)
    return t


def quantize_normalized(a: torch.Tensor, signed: bool) -> torch.Tensor:
    """Codes (``uint8``) of float32 values ``a`` in ``[-1, 1]``: the nearest value of the
    map, ties away from zero, and at least code 1 for a positive unsigned value
    (:func:`hplists.optim.blockwise_quant.quantize_normalized`).

    Example:
        >>> a = torch.tensor([0.0, 1e-9, 0.5, -0.5, 1.0, -1.0])
        >>> quantize_normalized(a, signed=True).tolist()
        [127, 127, 219, 35, 255, 0]
    """
    return blockwise_quant.quantize_normalized(a.float(), signed, xp=torch)


def _pieces(flat: torch.Tensor, block_size: int) -> list[torch.Tensor]:
    """``flat`` as ``(blocks, block_size)`` for its whole blocks and ``(1, rest)`` for the rest."""
    n = flat.shape[0]
    full = n // block_size * block_size
    out = []
    if full:
        out.append(flat[:full].view(-1, block_size))
    if n > full:
        out.append(flat[full:].view(1, -1))
    return out


def quantize_into(x: torch.Tensor, codes: torch.Tensor, absmax: torch.Tensor, signed: bool,
                  block_size: int = BLOCK_SIZE) -> None:
    """Writes the block-wise quantization of ``x`` (cast to float32) into ``codes`` and
    ``absmax``, which are contiguous. Each block's absmax is its scale."""
    start = 0
    for xs, cs in zip(_pieces(x.reshape(-1), block_size), _pieces(codes.view(-1), block_size),
                      strict=True):
        xf = xs.float()
        amax = xf.abs().amax(dim=1)
        inverse = 1.0 / torch.where(amax > 0, amax, 1.0)
        cs.copy_(quantize_normalized(xf * inverse[:, None], signed))
        absmax[start:start + xs.shape[0]].copy_(amax)
        start += xs.shape[0]


def dequantize_into(codes: torch.Tensor, absmax: torch.Tensor, out: torch.Tensor, signed: bool,
                    block_size: int = BLOCK_SIZE) -> torch.Tensor:
    """Writes ``q[codes] * absmax`` (computed in float32) into ``out`` (contiguous, any
    floating dtype) and returns it."""
    q = _map(signed, codes.device)
    start = 0
    for cs, os in zip(_pieces(codes.reshape(-1), block_size), _pieces(out.view(-1), block_size),
                      strict=True):
        rows = cs.shape[0]
        os.copy_(q[cs.long()] * absmax[start:start + rows, None])
        start += rows
    return out


def quantize_blockwise(x: torch.Tensor, signed: bool, block_size: int = BLOCK_SIZE
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(codes, absmax)``: ``uint8`` codes of ``x``'s shape and the float32 absmax per block.

    Example:
        >>> x = torch.tensor([0.3, -1.2, 0.0, 4.0, 2.0])
        >>> codes, absmax = quantize_blockwise(x, signed=True, block_size=2)
        >>> absmax.tolist(), codes.dtype
        ([1.2000000476837158, 4.0, 2.0], torch.uint8)
        >>> [f"{v:.4f}" for v in dequantize_blockwise(codes, absmax, True, block_size=2)]
        ['0.2972', '-1.1916', '0.0000', '4.0000', '2.0000']
    """
    check_int("block_size", block_size, low=1)
    codes = torch.empty(x.shape, dtype=torch.uint8, device=x.device)
    absmax = torch.empty(num_blocks(x.numel(), block_size), dtype=torch.float32,
                         device=x.device)
    quantize_into(x.detach(), codes, absmax, signed, block_size)
    return codes, absmax


def dequantize_blockwise(codes: torch.Tensor, absmax: torch.Tensor, signed: bool,
                         block_size: int = BLOCK_SIZE, dtype: Any = torch.float32
                         ) -> torch.Tensor:
    """``q[codes] * absmax`` of each element's block (float32 products), as ``dtype``.

    Example:
        >>> dequantize_blockwise(torch.tensor([255, 0], dtype=torch.uint8), torch.tensor([2.0]),
        ...                      signed=False).tolist()
        [2.0, 0.0]
    """
    check_int("block_size", block_size, low=1)
    out = torch.empty(codes.shape, dtype=dtype, device=codes.device)
    return dequantize_into(codes, absmax, out, signed, block_size)
