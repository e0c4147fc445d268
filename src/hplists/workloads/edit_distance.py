"""Levenshtein distance between sequences and the word error rate.

WER is the number of word substitutions, deletions and insertions that turn
the hypothesis into the reference, summed over a corpus and divided by the
number of reference words (so it can exceed 1). No installed package provides
a plain Levenshtein distance (sacrebleu's TER adds block shifts), so it is
computed here, one dynamic-programming row at a time in NumPy.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

__all__ = ["levenshtein", "word_error_rate"]


def levenshtein(ref: Sequence[Hashable], hyp: Sequence[Hashable]) -> int:
    """Minimum number of substitutions, deletions and insertions turning ``hyp`` into ``ref``.

    Row ``i`` of the table is ``d[i, j] = min(d[i-1, j] + 1, d[i-1, j-1] + [r_i != h_j],
    d[i, j-1] + 1)``; the last (left-to-right) term is resolved for a whole row at
    once as ``j + cummin(t_k - k)``.

    Example:
        >>> levenshtein("kitten", "sitting")
        3
        >>> levenshtein([("a",), ("b",)], [])
        2
    """
    # Map items to ints so comparisons vectorize for any hashable items.
    ids: dict[Hashable, int] = {}
    r = np.array([ids.setdefault(x, len(ids)) for x in ref], dtype=np.int64)
    h = np.array([ids.setdefault(x, len(ids)) for x in hyp], dtype=np.int64)
    if r.size == 0 or h.size == 0:
        return int(max(r.size, h.size))
    cols = np.arange(h.size + 1)
    row = cols.copy()
    for i, x in enumerate(r, start=1):
        t = np.empty_like(row)
        t[0] = i
        t[1:] = np.minimum(row[1:] + 1, row[:-1] + (h != x))
        row = cols + np.minimum.accumulate(t - cols)
    return int(row[-1])


def word_error_rate(
    refs: Sequence[Sequence[Hashable]], hyps: Sequence[Sequence[Hashable]]
) -> float:
    """Corpus WER: total edit distance over total reference words.

    Each reference and hypothesis is a sequence of words (any hashable items).

    Example:
        >>> word_error_rate([["the", "cat", "sat"], ["hi"]], [["the", "cat"], ["ho"]])
        0.5
    """
    if len(refs) != len(hyps):
        raise ValueError(
            f"refs and hyps must have the same length, got {len(refs)} and {len(hyps)}"
        )
    words = sum(len(r) for r in refs)
    if words == 0:
        raise ValueError("refs must contain at least one word")
    return sum(levenshtein(r, h) for r, h in zip(refs, hyps, strict=True)) / words
