"""Levenshtein distance between sequences and the word error rate.

WER is the number of word substitutions, deletions and insertions that turn
the hypothesis into the reference, summed over a corpus and divided by the
number of reference words (so it can exceed 1). No installed package provides
a plain Levenshtein distance (sacrebleu's TER adds block shifts), so it is
computed here: one dynamic-programming row at a time, for a whole corpus of
pairs at once in NumPy.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from hplists.exceptions import InvalidParameterError

__all__ = ["levenshtein", "levenshtein_batch", "word_error_rate"]


def levenshtein_batch(
    refs: Sequence[Sequence[Hashable]], hyps: Sequence[Sequence[Hashable]]
) -> np.ndarray:
    """Edit distances of many (reference, hypothesis) pairs, as an int array.

    Row ``i`` of each pair's table is ``d[i, j] = min(d[i-1, j] + 1,
    d[i-1, j-1] + [r_i != h_j], d[i, j-1] + 1)``; the last (left-to-right) term
    is resolved for a whole row at once as ``j + cummin_k(t_k - k)``. Pairs are
    padded to a common size: padding on the right of a hypothesis never
    changes the columns to its left, and each pair's answer is read at
    ``d[len(ref), len(hyp)]``.

    Example:
        >>> levenshtein_batch(["kitten", "ab", ""], ["sitting", "ab", "xyz"]).tolist()
        [3, 0, 3]
    """
    if len(refs) != len(hyps):
        raise InvalidParameterError(
            f"refs and hyps must have the same length, got {len(refs)} and {len(hyps)}"
        )
    n = len(refs)
    ids: dict[Hashable, int] = {}
    la = np.array([len(r) for r in refs], dtype=np.int64)
    lb = np.array([len(h) for h in hyps], dtype=np.int64)
    ma, mb = int(la.max(initial=0)), int(lb.max(initial=0))
    r = np.full((n, ma), -1, dtype=np.int64)
    h = np.full((n, mb), -2, dtype=np.int64)  # padding never matches
    for k, (ref, hyp) in enumerate(zip(refs, hyps, strict=True)):
        r[k, : la[k]] = [ids.setdefault(x, len(ids)) for x in ref]
        h[k, : lb[k]] = [ids.setdefault(x, len(ids)) for x in hyp]
    rows = np.arange(n)
    cols = np.arange(mb + 1)
    row = np.broadcast_to(cols, (n, mb + 1)).copy()
    out = row[rows, lb].copy()  # empty references: all insertions
    for i in range(1, ma + 1):
        t = np.empty_like(row)
        t[:, 0] = i
        t[:, 1:] = np.minimum(row[:, 1:] + 1, row[:, :-1] + (h != r[:, i - 1 : i]))
        row = cols + np.minimum.accumulate(t - cols, axis=1)
        done = la == i
        out[done] = row[rows[done], lb[done]]
    return out


def levenshtein(ref: Sequence[Hashable], hyp: Sequence[Hashable]) -> int:
    """Minimum number of substitutions, deletions and insertions turning ``hyp`` into ``ref``.

    Example:
        >>> levenshtein("kitten", "sitting")
        3
        >>> levenshtein([("a",), ("b",)], [])
        2
    """
    return int(levenshtein_batch([ref], [hyp])[0])


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
        raise InvalidParameterError(
            f"refs and hyps must have the same length, got {len(refs)} and {len(hyps)}"
        )
    words = sum(len(r) for r in refs)
    if words == 0:
        raise InvalidParameterError("refs must contain at least one word")
    return int(levenshtein_batch(refs, hyps).sum()) / words
