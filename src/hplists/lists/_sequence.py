"""Index checks shared by the list classes, with the messages sequences give."""

from __future__ import annotations

import operator

__all__ = ["check_index", "prefix_length"]


def check_index(index: object, length: int, what: str) -> int:
    """``index`` as a non-negative position in a sequence of ``length`` items.

    Raises TypeError for a non-integer index and IndexError for one out of
    range, as Python's own sequences do, naming ``what`` is indexed.

    Example:
        >>> check_index(-1, 5, "NamedList 'x'")
        4
        >>> check_index(5, 5, "NamedList 'x'")
        Traceback (most recent call last):
        ...
        IndexError: NamedList 'x' index 5 out of range: it has 5 points (valid indices -5 to 4)
        >>> check_index("0", 5, "NamedList 'x'")
        Traceback (most recent call last):
        ...
        TypeError: NamedList 'x' indices must be integers or slices, not str
    """
    try:
        i = operator.index(index)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{what} indices must be integers or slices, "
                        f"not {type(index).__name__}") from None
    if not -length <= i < length:
        valid = f"valid indices -{length} to {length - 1}" if length else "it has no valid index"
        raise IndexError(f"{what} index {i} out of range: it has {length} points ({valid})")
    return i % length


def prefix_length(s: slice, length: int) -> int | None:
    """``k`` when ``s`` selects the first ``k >= 1`` of ``length`` items in order, else None.

    Example:
        >>> prefix_length(slice(None, 3), 5), prefix_length(slice(0, -1, 1), 5)
        (3, 4)
        >>> prefix_length(slice(1, 3), 5), prefix_length(slice(None, None, -1), 5)
        (None, None)
    """
    start, stop, step = s.indices(length)
    if start == 0 and step == 1 and stop >= 1:
        return stop
    return None
