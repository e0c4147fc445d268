"""The exhaustive best set of ``K`` points (paper 001, Sec. 2.6 and Appendix D).

Among all ``C(P, K)`` sets of ``K`` candidate points, the one of lowest cost
``C_tau``. It is a lower bound on what any list of ``K`` points can achieve on
the workloads it was built on (the paper finds it generalizes worse than the
greedy list to held-out workloads, Table 13).

The search is exact and fast in practice:

1. **Dominance pruning (exact).** Point ``q`` is dominated by ``p`` when ``p``
   is at least as fast as ``q`` on every workload (after capping at ``tau``) and
   trains every workload ``q`` trains. Replacing ``q`` by ``p`` in any set never
   raises the cost nor lowers the number of trained workloads, so some optimal
   set uses only non-dominated points (duplicates keep their lowest index). In
   particular a point that trains nothing is dominated by any point that trains
   something. On real studies, where most points reach few targets (paper 001,
   Table 4), this leaves a few dozen of 200 points. The points are swept in an
   order where dominators come first, each compared with the non-dominated
   points before it only: time grows with the points times the non-dominated
   ones, not with the square of the points.
2. **Vectorized enumeration with branch and bound.** Sets are enumerated as a
   *head* of ``K - 2`` points ending at point ``h`` plus a *pair* of points
   after ``h``. The per-workload minima of all pairs are tabulated once, so
   every head is scored against all its pairs in one array operation. A head
   is skipped when even the best points after ``h`` cannot bring it within the
   best cost found so far (initially the greedy list's cost). Once a set costs
   the least any set can (each workload's best point) and trains every
   workload some point trains, only sets of smaller indices can still win the
   tie-break, and heads after its own are skipped: on studies where many sets
   tie (targets reached at the same evaluations), most of them. The tied sets
   are kept as arrays, and only those that could still win.

Worst case (no point dominated, no head pruned): ``C(P, K) * N`` elementwise
minima, about 5e8 for ``K = 4``, ``P = 200``, ``N = 8``. Measured on one CPU core
(``benchmarks/method.py``): 0.01 s on a realistic study, 1.5 s when no point
dominates another, against about 10 minutes for one-subset-at-a-time enumeration.
"""

from __future__ import annotations

import itertools

import numpy as np

from hplists._check import check_real
from hplists.lists.constructed import ConstructedList, check_list_size
from hplists.lists.greedy import TIE_TOLERANCE, build, greedy_order
from hplists.scoring.cost import DEFAULT_TAU, check_fractions

__all__ = ["exhaustive_set", "nondominated"]

# Elements per scoring block (heads x pairs x workloads): bounds memory to ~16 MB.
_BLOCK = 2_000_000


def exhaustive_set(fractions: np.ndarray, k: int, tau: float = DEFAULT_TAU) -> ConstructedList:
    """The set of ``k`` points of lowest cost ``C_tau`` (paper 001, Appendix D).

    Args:
        fractions: step fractions ``[P, N]`` (``inf`` = target missed), or a
            :class:`~hplists.scoring.matrix.TrialMatrix`.
        k: set size, ``1 <= k <= P``.
        tau: penalty factor of the cost, ``>= 1`` (paper: 2).

    Returns:
        a :class:`~hplists.lists.constructed.ConstructedList` with
        ``method="exhaustive"``. Its cost is the minimum over all ``C(P, k)``
        sets. A set has no order of its own; the points are listed in the order
        the greedy procedure would pick them from the set, so ``costs`` are the
        prefix costs of that order.

    Tie-breaking (deterministic): among sets of minimal cost (sums of
    log-fractions within ``1e-12``), the set that trains the most workloads,
    then the lexicographically smallest sorted indices among non-dominated
    points. When fewer than ``k`` points are not dominated, they all belong to
    the set and the lowest-index other points fill it up (they cannot lower
    the cost).

    Example:
        >>> F = np.array([[0.5, np.inf, np.inf],
        ...               [0.9, 0.6, np.inf],
        ...               [np.inf, 0.7, 0.4],
        ...               [0.3, np.inf, 0.9]])
        >>> best = exhaustive_set(F, k=2, tau=2.0)
        >>> sorted(best.indices), round(best.cost, 4)
        ([2, 3], 0.438)
    """
    arr = check_fractions(getattr(fractions, "fractions", fractions))
    num_points = arr.shape[0]
    k = check_list_size(k, num_points)
    tau = check_real("tau", tau, low=1.0, high=np.inf, high_open=True)

    keep = nondominated(arr, tau)
    if keep.size <= k:
        chosen = [int(i) for i in keep]
    else:
        with np.errstate(divide="ignore"):
            logs = np.log(np.minimum(arr[keep], tau))
        finite = np.isfinite(arr[keep])
        start = greedy_order(arr[keep], k, tau)
        bound = np.minimum.reduce(logs[start], axis=0).sum()
        chosen = [int(i) for i in keep[_search(logs, finite, k, bound)]]
    others = [i for i in range(num_points) if i not in set(chosen)]
    chosen += others[: k - len(chosen)]
    order = [chosen[i] for i in greedy_order(arr[chosen], k, tau)]
    return build(arr, order, tau, "exhaustive")


def nondominated(fractions: np.ndarray, tau: float = DEFAULT_TAU) -> np.ndarray:
    """Indices (ascending) of the points no other point dominates.

    ``p`` dominates ``q`` when ``min(f_p, tau) <= min(f_q, tau)`` on every
    workload and ``p`` trains (has a finite fraction on) every workload ``q``
    trains; of identical points only the lowest index is kept.

    Example:
        >>> nondominated(np.array([[0.5, 0.9], [0.6, 0.9], [0.5, 0.9], [np.inf, 0.2]])).tolist()
        [0, 3]
    """
    arr = check_fractions(fractions)
    capped = np.minimum(arr, tau)
    finite = np.isfinite(arr)
    num_points, n = arr.shape
    # In this order (capped fractions, then untrained workloads, lexicographically; then the
    # index) a point's dominators all come before it, and a point before another dominates
    # it exactly when it is at least as good everywhere. So one sweep keeps the points that
    # none of the kept points before them dominates (dominance is transitive): each point is
    # compared with the non-dominated ones only, not with all the others.
    order = np.lexsort((np.arange(num_points), *(~finite).T[::-1], *capped.T[::-1]))
    kept = np.zeros(0, dtype=np.int64)
    size = 512
    for lo in range(0, num_points, size):
        block = order[lo:lo + size]
        alive = ~np.triu(_at_least_as_good(capped[block], finite[block], capped[block],
                                           finite[block]), k=1).any(axis=0)
        rows = max(1, _BLOCK // max(1, block.size * n))
        for f in range(0, kept.size, rows):
            front = kept[f:f + rows]
            alive &= ~_at_least_as_good(capped[front], finite[front], capped[block],
                                        finite[block]).any(axis=0)
        kept = np.concatenate([kept, block[alive]])
    return np.sort(kept)


def _at_least_as_good(capped_p: np.ndarray, finite_p: np.ndarray, capped_q: np.ndarray,
                      finite_q: np.ndarray) -> np.ndarray:
    """``[p, q]``: ``p`` is at least as fast as ``q`` everywhere and trains what ``q`` trains."""
    return (np.all(capped_p[:, None, :] <= capped_q[None, :, :], axis=-1)
            & np.all(finite_p[:, None, :] | ~finite_q[None, :, :], axis=-1))


def _search(logs: np.ndarray, finite: np.ndarray, k: int, bound: float) -> list[int]:
    """Exact minimum of ``sum_i min_{p in S} logs[p, i]`` over sets ``|S| = k``."""
    m, n = logs.shape
    cands = _Candidates(bound)
    none_members = np.zeros((1, 0), dtype=np.int64)
    none_finite = np.zeros((1, n), dtype=bool)
    if k == 1:
        singles = np.arange(m)[:, None]
        cands.add(logs.sum(axis=1)[None, :], none_members, none_finite, singles, finite)
        return cands.best()

    pairs = np.stack(np.triu_indices(m, 1), axis=1)  # all pairs, lexicographic
    pair_logs = np.minimum(logs[pairs[:, 0]], logs[pairs[:, 1]])
    pair_finite = finite[pairs[:, 0]] | finite[pairs[:, 1]]
    if k == 2:
        step = _BLOCK // n
        for lo in range(0, pairs.shape[0], step):
            sl = slice(lo, lo + step)
            cands.add(pair_logs[sl].sum(axis=1)[None, :], none_members, none_finite,
                      pairs[sl], pair_finite[sl])
        return cands.best()

    # pairs whose first point is > h start at offset[h + 1]
    offset = np.concatenate([[0], np.cumsum(np.arange(m - 1, -1, -1))])
    # suffix minima: best log per workload among points > h
    suffix = np.minimum.accumulate(logs[::-1], axis=0)[::-1]
    # No set totals less than `ideal` (each workload's best point), summed as the blocks sum,
    # nor trains more than `most` workloads. Once a set reaches both, it is eligible whatever
    # else is found, so only sets with smaller sorted indices can still win: heads whose
    # indices come after its own are skipped (on studies where many sets tie, most of them).
    ideal = np.zeros(())
    for i in range(n):
        ideal = ideal + logs[:, i].min()
    most = int(finite.any(axis=0).sum())
    settled: np.ndarray | None = None  # the head of that set
    for h in range(k - 3, m - 2):
        heads = np.array([(*s, h) for s in itertools.combinations(range(h), k - 3)],
                         dtype=np.int64)  # [H, k-2], lexicographic
        if settled is not None:
            heads = heads[_not_after(heads, settled)]
            if not heads.size:
                continue
        head_logs = np.minimum.reduce(logs[heads], axis=1)
        head_finite = np.logical_or.reduce(finite[heads], axis=1)
        # branch and bound: even the best points after h cannot beat the bound
        lower = np.minimum(head_logs, suffix[h + 1]).sum(axis=1)
        live = np.flatnonzero(lower <= cands.bound + TIE_TOLERANCE)
        if live.size == 0:
            continue
        tail = slice(offset[h + 1], None)
        tail_logs = pair_logs[tail]
        step = max(1, _BLOCK // max(1, tail_logs.shape[0] * n))
        for lo in range(0, live.size, step):
            rows = live[lo:lo + step]
            tot = np.zeros((rows.size, tail_logs.shape[0]))
            for i in range(n):  # one contiguous 2-D op per workload
                tot += np.minimum(head_logs[rows, i, None], tail_logs[None, :, i])
            cands.add(tot, heads[rows], head_finite[rows], pairs[tail], pair_finite[tail])
        if settled is None and cands.reached(ideal, most):
            settled = np.array(cands.best()[: k - 2], dtype=np.int64)
    return cands.best()


def _not_after(rows: np.ndarray, head: np.ndarray) -> np.ndarray:
    """Which ``rows`` (sorted index tuples) are lexicographically at most ``head``."""
    differ = rows != head
    first = np.argmax(differ, axis=1)
    return ~differ.any(axis=1) | (rows[np.arange(rows.shape[0]), first] < head[first])


class _Candidates:
    """Sets within ``TIE_TOLERANCE`` of the lowest total seen, for exact tie-breaking.

    A candidate ``(a, b)`` of a block is the union of left part ``a`` (a head)
    and right part ``b`` (a pair, or a single point). The pool is kept as
    arrays, and only its candidates that could still be picked: a candidate is
    dropped when another has a total at most as high and a better tie-break key
    (more workloads trained, then smaller sorted indices), since whenever the
    first is within the tolerance of the final lowest total the second is too,
    and wins. On studies where many sets tie (many points reaching targets at
    the same evaluations) the pool stays a few candidates long.
    """

    def __init__(self, bound: float) -> None:
        self.bound = float(bound)  # a set with this total exists (the greedy one)
        self.tot = np.zeros(0)
        self.trained = np.zeros(0, dtype=np.int64)
        self.members: np.ndarray | None = None  # [candidates, set size]

    def add(
        self,
        tot: np.ndarray,
        left: np.ndarray,
        left_finite: np.ndarray,
        right: np.ndarray,
        right_finite: np.ndarray,
    ) -> None:
        low = float(tot.min())
        if low > self.bound + TIE_TOLERANCE:
            return
        self.bound = min(self.bound, low)
        a, b = np.nonzero(tot <= self.bound + TIE_TOLERANCE)
        trained = (left_finite[a] | right_finite[b]).sum(axis=1)
        members = np.concatenate([left[a], right[b]], axis=1).astype(np.int64)
        if self.members is not None:
            keep = self.tot <= self.bound + TIE_TOLERANCE
            tot_new = np.concatenate([self.tot[keep], tot[a, b]])
            trained = np.concatenate([self.trained[keep], trained])
            members = np.concatenate([self.members[keep], members])
        else:
            tot_new = tot[a, b]
        # the tie-break key's rank: more trained first, then the sorted indices
        by_key = np.lexsort((*members.T[::-1], -trained))
        rank = np.empty(by_key.size, dtype=np.int64)
        rank[by_key] = np.arange(by_key.size)
        order = np.lexsort((rank, tot_new))
        ranked = rank[order]
        useful = np.ones(order.size, dtype=bool)
        useful[1:] = ranked[1:] < np.minimum.accumulate(ranked)[:-1]
        kept = order[useful]
        self.tot, self.trained, self.members = tot_new[kept], trained[kept], members[kept]

    def reached(self, total: np.ndarray, trained: int) -> bool:
        """Whether a candidate totals exactly ``total`` and trains ``trained`` workloads."""
        return bool(np.any((self.tot == total) & (self.trained == trained)))

    def best(self) -> list[int]:
        assert self.members is not None and self.tot.size  # the greedy set is enumerated
        eligible = np.flatnonzero(self.tot <= self.tot.min() + TIE_TOLERANCE)
        members, trained = self.members[eligible], self.trained[eligible]
        pick = np.lexsort((*members.T[::-1], -trained))[0]
        return [int(x) for x in members[pick]]
