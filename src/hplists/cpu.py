"""The CPU a process runs on: its model name and the instruction-set features that set its bits.

XLA:CPU emits kernels for the CPU it runs on (other reduction orders, fused
multiply-adds or not), so a float32 training curve retrained on another CPU
drifts in its last bits (docs/reliability.md, "Across machines"): an AMD EPYC
and an Intel Xeon, both with AVX-512, differ after a few steps on 7 of the 8
base workloads. Every recorded trial carries :func:`cpu_signature` in its
provenance, so a store says which CPU's kernels wrote each curve.

Example:
    >>> sig = cpu_signature()
    >>> sorted(sig) == ["isa", "model"] and set(sig["isa"]) <= set(ISA_FLAGS)
    True
    >>> parse_cpuinfo("model name : X\\nflags : fpu avx2 fma sse4_2\\n")
    {'model': 'X', 'isa': ['avx2', 'fma', 'sse4_2']}
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

__all__ = ["ISA_FLAGS", "cpu_signature", "parse_cpuinfo"]

# The /proc/cpuinfo flags that decide which kernels XLA:CPU may emit, oldest first.
# Necessary, not sufficient, for the same bits: the model name is compared too.
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_bf16", "amx_tile")


def parse_cpuinfo(text: str) -> dict[str, Any]:
    """``{"model": ..., "isa": [...]}`` from the text of Linux's ``/proc/cpuinfo``.

    ``model`` is the first processor's ``model name`` (``""`` when absent);
    ``isa`` the flags of :data:`ISA_FLAGS` it has, sorted.
    """
    model, flags = "", set[str]()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and not model:
            model = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = set(value.split())
    return {"model": model, "isa": sorted(f for f in ISA_FLAGS if f in flags)}


@functools.cache
def _read() -> dict[str, Any]:
    try:
        return parse_cpuinfo(Path("/proc/cpuinfo").read_text())
    except OSError:  # not Linux: nothing known
        return {"model": "", "isa": []}


def cpu_signature() -> dict[str, Any]:
    """This machine's CPU: ``{"model": name, "isa": sorted features of ISA_FLAGS}``.

    Read once per process from ``/proc/cpuinfo``; where that does not exist
    (not Linux), ``model`` is ``""`` and ``isa`` empty. A fresh dict each call.
    """
    sig = _read()
    return {"model": sig["model"], "isa": list(sig["isa"])}
