"""What the framework integrations hand :func:`hplists.torch.build` for a list's point.

Every integration takes a point of any list (an :class:`~hplists.HParams` is
NAdamW's, a :class:`~hplists.MethodPoint` knows its rule). Their ``mask``
option is NAdamW's: by default a NAdamW point decays its weight matrices only
(:func:`hplists.torch.decay_matrices`), and a point of another rule decays
every parameter, as its list was measured, so a mask given for it is an error
rather than an option silently dropped.

Example:
    >>> import hplists
    >>> sorted(build_options(hplists.get_list("nadamw-paper")[0], NADAMW_DEFAULT_MASK))
    ['mask']
    >>> build_options(hplists.MethodPoint("dog", {}), NADAMW_DEFAULT_MASK)
    {}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hplists.exceptions import InvalidParameterError
from hplists.hparams import HParams
from hplists.method_point import MethodPoint, method_of

__all__ = ["NADAMW_DEFAULT_MASK", "Mask", "build_options", "check_point"]

Mask = Callable[[str, Any], bool]


class _NAdamWDefaultMask:
    def __repr__(self) -> str:
        return "decay_matrices (NAdamW points)"


#: The integrations' default ``mask``: NAdamW points decay their matrices only.
NADAMW_DEFAULT_MASK: Any = _NAdamWDefaultMask()


def check_point(point: Any, where: str = "point") -> HParams | MethodPoint:
    """``point`` if it is a list's point, else an error that says what is expected.

    Example:
        >>> check_point({"learning_rate": 1e-3})
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: point must be a list's point (an hplists.HParams or a MethodPoint, e.g. hplists.get_list(name)[i]), got dict
    """
    if not isinstance(point, HParams | MethodPoint):
        raise InvalidParameterError(
            f"{where} must be a list's point (an hplists.HParams or a MethodPoint, e.g. "
            f"hplists.get_list(name)[i]), got {type(point).__name__}")
    return point


def build_options(point: HParams | MethodPoint, mask: Mask | None,
                  options: dict[str, Any] | None = None) -> dict[str, Any]:
    """``options`` for :func:`hplists.torch.build`, with the ``mask`` NAdamW points take.

    ``mask`` is :data:`NADAMW_DEFAULT_MASK` (for a NAdamW point:
    :func:`hplists.torch.decay_matrices`), a mask, or ``None`` (decay all).
    For another rule only the default is allowed.

    Example:
        >>> import hplists
        >>> build_options(hplists.MethodPoint("dog", {}), None)
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: mask is NAdamW's option; the point's rule 'dog' decays every parameter, as its list was measured: pass no mask
    """
    out = dict(options or {})
    name = method_of(point)
    if name == "nadamw":
        from hplists.optim.torch_nadamw import decay_matrices

        out["mask"] = decay_matrices if mask is NADAMW_DEFAULT_MASK else mask
    elif mask is not NADAMW_DEFAULT_MASK:
        raise InvalidParameterError(
            f"mask is NAdamW's option; the point's rule {name!r} decays every parameter, as "
            "its list was measured: pass no mask")
    return out
