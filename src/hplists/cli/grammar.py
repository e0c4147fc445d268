"""The shared grammar of the ``hplists`` commands.

* A trial store is always ``--store PATH``; a command that took it as a positional
  argument still does, for one release, with a warning (:func:`stores`).
* Errors of the command line print as one line (:class:`Parser`), and an unknown
  choice suggests the closest one (:func:`did_you_mean`).
* A deprecated form warns once, on one line of standard error, naming the new
  form (:func:`deprecated`), and then does what the new form does.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

from hplists.exceptions import InvalidParameterError

__all__ = ["Parser", "deprecated", "did_you_mean", "one_store", "stores"]

_INVALID_CHOICE = re.compile(r"invalid choice: '(?P<got>[^']*)' \(choose from (?P<choices>.*)\)")


def did_you_mean(name: object, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or ``""``.

    Example:
        >>> did_you_mean("worklaods", ["workloads", "lists"])
        " (did you mean 'workloads'?)"
        >>> did_you_mean("zzz", ["workloads"])
        ''
    """
    close = difflib.get_close_matches(str(name), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (``hplists CMD: error: ...``, exit 2),
    with the closest choice suggested for an invalid one."""

    def error(self, message: str) -> NoReturn:
        found = _INVALID_CHOICE.search(message)
        if found:
            choices = re.findall(r"'([^']*)'", found["choices"])
            message = (f"{message[:found.start()]}invalid choice: {found['got']!r}"
                       f"{did_you_mean(found['got'], choices)}; choose from {found['choices']}")
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def deprecated(command: str, what: str, new: str) -> None:
    """One line on standard error: ``hplists COMMAND: warning: WHAT is deprecated; use NEW``."""
    print(f"hplists {command}: warning: {what} is deprecated; use {new}", file=sys.stderr)


def stores(args: argparse.Namespace, command: str, *, positional: str = "positional_store",
           default: Sequence[str] = ()) -> list[str]:
    """The stores a command reads: ``--store`` (repeatable), else the deprecated positional
    stores (with a warning), else ``default``."""
    given = getattr(args, "store", None)
    flagged = [given] if isinstance(given, str) else list(given or [])
    old = getattr(args, positional, None)
    old = [old] if isinstance(old, str) else list(old or [])
    if old:
        deprecated(command, "the positional store", "--store PATH")
    return flagged + old or list(default)


def one_store(args: argparse.Namespace, command: str, *,
              positional: str = "positional_store") -> str:
    """The one store of a command: ``--store PATH`` or the deprecated positional store."""
    found = stores(args, command, positional=positional)
    if not found:
        raise InvalidParameterError("the trial store is required: --store PATH")
    if len(found) > 1:
        raise InvalidParameterError(f"--store takes one trial store here; got {found}")
    return found[0]


def hidden(**kwargs: Any) -> dict[str, Any]:
    """Keyword arguments of an argument kept for compatibility: not in ``--help``."""
    return {**kwargs, "help": argparse.SUPPRESS}


def store_missing(location: Any) -> bool:
    """Whether the store at ``location`` (a path or a URL, any backend) does not exist yet."""
    from hplists.store import store_exists

    return not store_exists(str(location))


def require_store(location: Any) -> None:
    """An error naming the store when ``location`` holds none (any backend)."""
    if store_missing(location):
        raise InvalidParameterError(f"trial store {str(location)!r} does not exist")


def prepare_store(location: Any) -> None:
    """Creates the folder of a store file (a server's URL needs none)."""
    text = str(location)
    if "://" in text and not text.startswith("sqlite:"):
        return
    from pathlib import Path

    path = text.removeprefix("sqlite:///") if text.startswith("sqlite:///") else text
    Path(path).parent.mkdir(parents=True, exist_ok=True)
