"""The result of building a list from a matrix of step fractions."""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["ConstructedList", "check_list_size"]


@dataclasses.dataclass(frozen=True)
class ConstructedList:
    """Points chosen from a ``[P, N]`` matrix of step fractions, in priority order.

    Attributes:
        indices: row indices of the chosen points, in priority order.
        costs: ``C_tau`` of each prefix ``indices[:k]``, ``k = 1..K``.
        trained: number of workloads each prefix trains (reaches the target on).
        fractions: best step fraction per workload of the whole list ``[N]``.
        tau: the penalty factor used.
        method: ``"greedy"`` or ``"exhaustive"``.
    """

    indices: tuple[int, ...]
    costs: tuple[float, ...]
    trained: tuple[int, ...]
    fractions: np.ndarray
    tau: float
    method: str

    @property
    def cost(self) -> float:
        """``C_tau`` of the whole list."""
        return self.costs[-1]

    def __len__(self) -> int:
        return len(self.indices)


def check_list_size(k: object, num_points: int) -> int:
    """``k`` as an int in ``[1, num_points]``, or a ValueError that says why not.

    Example:
        >>> check_list_size(3, num_points=2)
        Traceback (most recent call last):
        ...
        ValueError: k must be an integer in [1, 2] (the number of candidate points P), got 3
    """
    ok = isinstance(k, (int, np.integer)) and not isinstance(k, bool)
    if not ok or not 1 <= int(k) <= num_points:
        raise ValueError(
            f"k must be an integer in [1, {num_points}] (the number of candidate points P), "
            f"got {k!r}"
        )
    return int(k)
