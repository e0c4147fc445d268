"""The result of building a list from a matrix of step fractions."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import overload

import numpy as np

from hplists.exceptions import InvalidParameterError
from hplists.lists._sequence import check_index, prefix_length

__all__ = ["ConstructedList", "check_list_size"]


@dataclasses.dataclass(frozen=True, eq=False)
class ConstructedList(Sequence[int]):
    """Points chosen from a ``[P, N]`` matrix of step fractions, in priority order.

    A ``ConstructedList`` is a sequence of its points, which are row indices
    of the matrix it was built from (``.indices``): ``len``, iteration,
    indexing (negative too), ``in``, ``reversed``, ``.index`` and ``.count``
    work as on ``.indices``. ``built[rows]`` maps them to the candidates'
    hyperparameters: ``[candidates[i] for i in built]``.

    A prefix slice (``built[:k]``, ``1 <= k``) is the ``ConstructedList`` of
    the first ``k`` points, with their costs, trained counts and fractions
    (for a greedy list, exactly what :func:`~hplists.lists.greedy.greedy_list`
    with ``k`` gives; a prefix of an exhaustive set is not the best set of
    ``k``); see :meth:`prefix`. It needs ``prefix_fractions``, which the builders of this
    package always keep. Any other slice (not starting at the first point, a
    step other than 1, empty), or a prefix of a list without
    ``prefix_fractions``, is the plain tuple of those row indices: its cost
    cannot be known without the matrix. Equality compares the same fields as
    before ``prefix_fractions`` existed.

    Attributes:
        indices: row indices of the chosen points, in priority order.
        costs: ``C_tau`` of each prefix ``indices[:k]``, ``k = 1..K``.
        trained: number of workloads each prefix trains (reaches the target on).
        fractions: best step fraction per workload of the whole list ``[N]``.
        tau: the penalty factor used.
        method: ``"greedy"`` or ``"exhaustive"``.
        prefix_fractions: best step fraction per workload of each prefix
            ``[K, N]`` (row ``k - 1`` for ``indices[:k]``; the last row is
            ``fractions``), or ``None`` when not kept.

    Example:
        >>> from hplists.lists.greedy import greedy_list
        >>> F = np.array([[0.5, np.inf, np.inf],
        ...               [0.9, 0.6, np.inf],
        ...               [np.inf, np.inf, 0.4]])
        >>> built = greedy_list(F, k=3, tau=2.0)
        >>> list(built), len(built), built[0], built[-1], 2 in built
        ([1, 2, 0], 3, 1, 0, True)
        >>> head = built[:2]
        >>> head.indices, [round(c, 4) for c in head.costs], head.fractions.tolist()
        ((1, 2), [1.026, 0.6], [0.9, 0.6, 0.4])
        >>> built[1:], built[::-1]
        ((2, 0), (0, 2, 1))
    """

    indices: tuple[int, ...]
    costs: tuple[float, ...]
    trained: tuple[int, ...]
    fractions: np.ndarray
    tau: float
    method: str
    prefix_fractions: np.ndarray | None = dataclasses.field(
        default=None, repr=False, compare=False)

    @property
    def cost(self) -> float:
        """``C_tau`` of the whole list."""
        return self.costs[-1]

    def __eq__(self, other: object) -> bool:
        # Written out: the generated one compares the fractions array with ``==`` and
        # raises "truth value of an array is ambiguous" for two or more workloads.
        if not isinstance(other, ConstructedList):
            return NotImplemented
        return (self.indices == other.indices and self.costs == other.costs
                and self.trained == other.trained and self.tau == other.tau
                and self.method == other.method
                and np.array_equal(self.fractions, other.fractions))

    __hash__ = None  # type: ignore[assignment]  # equal by value, and mutable arrays inside

    def __len__(self) -> int:
        return len(self.indices)

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> ConstructedList | tuple[int, ...]: ...

    def __getitem__(self, index: int | slice) -> int | ConstructedList | tuple[int, ...]:
        """The row index at ``index``; for a slice see the class docstring."""
        if isinstance(index, slice):
            k = prefix_length(index, len(self.indices))
            if k is None or self.prefix_fractions is None:
                return self.indices[index]
            return self.prefix(k)
        return self.indices[check_index(index, len(self.indices), "ConstructedList")]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __reversed__(self) -> Iterator[int]:
        return reversed(self.indices)

    def __contains__(self, row: object) -> bool:
        return row in self.indices

    def prefix(self, k: int) -> ConstructedList:
        """The list of the first ``k`` points, with the costs and fractions of that prefix.

        Raises ValueError when ``k`` is not in ``[1, len(self)]`` or the list
        keeps no ``prefix_fractions`` to give the prefix's fractions.

        Example:
            >>> from hplists.lists.greedy import greedy_list
            >>> built = greedy_list(np.array([[0.5, np.inf], [0.9, 0.6]]), k=2, tau=2.0)
            >>> one = built.prefix(1)
            >>> one.indices, round(one.cost, 4), one.trained, one.fractions.tolist()
            ((1,), 0.7348, (2,), [0.9, 0.6])
        """
        k = check_list_size(k, len(self.indices), what="the list's length")
        if self.prefix_fractions is None:
            raise InvalidParameterError("this ConstructedList keeps no prefix_fractions, so the fractions of "
                             "a prefix are unknown; rebuild it from its matrix with k points")
        return dataclasses.replace(
            self,
            indices=self.indices[:k],
            costs=self.costs[:k],
            trained=self.trained[:k],
            fractions=self.prefix_fractions[k - 1].copy(),
            prefix_fractions=self.prefix_fractions[:k].copy(),
        )


def check_list_size(
    k: object, num_points: int, what: str = "the number of candidate points P"
) -> int:
    """``k`` as an int in ``[1, num_points]``, or a ValueError that says why not.

    Example:
        >>> check_list_size(3, num_points=2)
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: k must be an integer in [1, 2] (the number of candidate points P), got 3
    """
    if (not (isinstance(k, (int, np.integer)) and not isinstance(k, bool))
            or not 1 <= int(k) <= num_points):
        raise InvalidParameterError(
            f"k must be an integer in [1, {num_points}] ({what}), "
            f"got {k!r}"
        )
    return int(k)
