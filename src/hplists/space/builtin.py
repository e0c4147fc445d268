"""Named search spaces: the ones shipped in ``hplists/space/data`` and any registered at run time.

Shipped spaces:

* ``nadamw-broad``: Table 1 of paper 001 (the space the paper's lists come from).
* ``lr-free-broad`` / ``lr-free-broad-no-lr``: Table 3 of paper 002, with the
  learning rate (NAdamW baselines) and without it (learning-rate-free methods).
* ``nadamw-algoperf-archived``: AlgoPerf's archived NAdamW baseline space.

Each data file states its source and any assumption in its ``description``.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from hplists.exceptions import InvalidParameterError
from hplists.space.space import SearchSpace

__all__ = ["available_spaces", "get_space", "load_space", "register_space"]

_DATA = "hplists.space.data"
_EXTRA: dict[str, SearchSpace] = {}
_CACHE: dict[str, SearchSpace] = {}


def _builtin_names() -> list[str]:
    files = resources.files(_DATA).iterdir()
    return sorted(f.name[: -len(".json")] for f in files if f.name.endswith(".json"))


def available_spaces() -> list[str]:
    """Names of every space: the shipped ones and any registered in this process.

    Example:
        >>> available_spaces()[:2]
        ['lr-free-broad', 'lr-free-broad-no-lr']
    """
    return sorted(set(_builtin_names()) | set(_EXTRA))


def load_space(path: str | Path) -> SearchSpace:
    """Reads a space from a JSON or TOML file (see :meth:`SearchSpace.from_dict`)."""
    return SearchSpace.from_file(path)


def register_space(space: SearchSpace, *, overwrite: bool = False) -> None:
    """Makes ``space`` available to :func:`get_space` under its name in this process.

    Example:
        >>> from hplists.space.dimensions import Log
        >>> register_space(SearchSpace("lr-only", (Log("learning_rate", 1e-4, 1e-1),),
        ...                            optimizer="sgd"), overwrite=True)
        >>> get_space("lr-only").sample(1, seed=0)[0]["learning_rate"] > 0
        True
    """
    if not isinstance(space, SearchSpace):
        raise InvalidParameterError(f"space must be a SearchSpace, got {type(space).__name__}")
    if not overwrite and space.name in available_spaces():
        raise InvalidParameterError(f"a search space named {space.name!r} exists; pass overwrite=True")
    _EXTRA[space.name] = space


def get_space(name: str) -> SearchSpace:
    """Returns a named space, or reads one from a ``.json`` / ``.toml`` path.

    Example:
        >>> s = get_space("nadamw-broad")
        >>> s.names[:3]
        ('learning_rate', 'one_minus_beta1', 'one_minus_beta2')
        >>> get_space("nadamw-narrow")
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: unknown search space 'nadamw-narrow' (did you mean 'nadamw-broad'?); available spaces are ...
    """
    if not isinstance(name, str):
        raise InvalidParameterError(f"search space name must be a string, got {name!r}")
    if name in _EXTRA:
        return _EXTRA[name]
    if name in _builtin_names():
        if name not in _CACHE:
            text = resources.files(_DATA).joinpath(f"{name}.json").read_text()
            _CACHE[name] = SearchSpace.from_dict(json.loads(text))
        return _CACHE[name]
    if name.lower().endswith((".json", ".toml")):
        return load_space(name)
    import difflib

    close = difflib.get_close_matches(name, available_spaces(), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise InvalidParameterError(
        f"unknown search space {name!r}{hint}; available spaces are {available_spaces()} "
        f"(or give a path to a .json or .toml file)"
    )
