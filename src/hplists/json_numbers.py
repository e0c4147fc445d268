"""Non-finite numbers in JSON: the one spelling every file hplists writes uses.

Strict JSON has no NaN or infinity. hplists writes the trial store's
convention everywhere (store records, list provenance, ``--format json``
output, study exports):

* NaN as ``null``;
* ``+inf`` as the string ``"Infinity"`` and ``-inf`` as ``"-Infinity"``.

Readers also accept the older spellings ``"inf"``, ``"+inf"``, ``"-inf"``,
``"NaN"`` and ``"nan"`` that earlier files hold (e.g. the provenance of a
shipped list), so no file has to be rewritten.

Example:
    >>> encode_float(float("inf")), encode_float(float("nan")), encode_float(0.5)
    ('Infinity', None, 0.5)
    >>> decode_float("Infinity"), decode_float("inf"), decode_float(None)
    (inf, inf, nan)
    >>> jsonable({"a": [1.0, float("-inf")], "b": (float("nan"),)})
    {'a': [1.0, '-Infinity'], 'b': [None]}
"""

from __future__ import annotations

import math
from typing import Any

from hplists.exceptions import InvalidParameterError

__all__ = ["NEG_INF", "POS_INF", "decode_float", "encode_float", "jsonable"]

POS_INF = "Infinity"
NEG_INF = "-Infinity"
_POS = (POS_INF, "inf", "+inf")
_NEG = (NEG_INF, "-inf")
_NAN = ("NaN", "nan")


def encode_float(x: float) -> float | str | None:
    """``x`` as strict JSON: NaN -> ``None``, +-inf -> ``"Infinity"`` / ``"-Infinity"``.

    A finite ``x`` is returned as it is (no conversion), so encoding never
    changes a finite number's bits.
    """
    if math.isnan(x):
        return None
    if math.isinf(x):
        return POS_INF if x > 0 else NEG_INF
    return x


def decode_float(x: Any) -> float:
    """The float that :func:`encode_float` (or an older spelling) wrote.

    ``None`` is NaN; ``"Infinity"``, ``"inf"``, ``"+inf"`` are ``inf``;
    ``"-Infinity"``, ``"-inf"`` are ``-inf``; ``"NaN"``, ``"nan"`` are NaN; any
    other string is an :class:`~hplists.exceptions.InvalidParameterError`.

    Example:
        >>> decode_float("-inf"), decode_float(3)
        (-inf, 3.0)
        >>> decode_float("lots")
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: not a number: 'lots'
    """
    if x is None:
        return math.nan
    if isinstance(x, str):
        if x in _POS:
            return math.inf
        if x in _NEG:
            return -math.inf
        if x in _NAN:
            return math.nan
        raise InvalidParameterError(f"not a number: {x!r}")
    return float(x)


def jsonable(x: Any) -> Any:
    """``x`` with every float (also in dicts, lists, tuples, numpy scalars) strict-JSON encoded.

    Dict keys become strings; tuples become lists; anything else is returned
    as it is.
    """
    if isinstance(x, float):
        return encode_float(x)
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if hasattr(x, "item") and callable(x.item) and getattr(x, "ndim", None) == 0:
        return jsonable(x.item())  # a numpy scalar
    return x
