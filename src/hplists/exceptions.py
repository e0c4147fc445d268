"""The exceptions hplists raises on purpose, so callers can tell bad input from a bug.

* :class:`HplistsError` is the base of every error hplists raises for a reason
  it can explain (bad input, missing or damaged data). The command line prints
  these as one line; any other exception is a bug and keeps its traceback.
* :class:`InvalidParameterError` is a bad value given by the user or a caller
  (as scikit-learn's ``InvalidParameterError``). It is also a ``ValueError``
  and a ``TypeError``, so ``except ValueError`` written before it existed
  still catches it.
* :class:`DataError` is data that cannot serve the request: a store or file
  that is missing, empty, damaged or inconsistent.
* :class:`WorkloadBuildError` is a workload whose data or model cannot be
  built: no trial of it can train, so a study stops at the first one instead
  of recording the same error for every trial.
* :class:`Terminated` is the ``KeyboardInterrupt`` that the command line
  raises when the process gets SIGTERM (what ``kill``, job schedulers and
  container runtimes send), so that a run stops as after Ctrl-C: its trials
  in flight handed back, every finished one kept.

Example:
    >>> from hplists._check import check_int
    >>> try:
    ...     check_int("k", 0, low=1)
    ... except ValueError as e:
    ...     print(type(e).__name__, isinstance(e, HplistsError))
    InvalidParameterError True
"""

from __future__ import annotations

import signal

__all__ = ["DataError", "HplistsError", "InvalidParameterError", "Terminated",
           "WorkloadBuildError", "interrupt_status"]


class HplistsError(Exception):
    """Base class of the errors hplists raises for a reason it can state."""


class InvalidParameterError(HplistsError, ValueError, TypeError):
    """A parameter, field or file given to hplists has an invalid value or type."""


class DataError(HplistsError, ValueError):
    """Stored or loaded data cannot serve the request (missing, empty, damaged, inconsistent)."""


class WorkloadBuildError(HplistsError, RuntimeError):
    """A workload's data or model could not be built (the message says which, and why)."""


class Terminated(KeyboardInterrupt):
    """The process was asked to stop by signal ``signum`` (SIGTERM): an interrupt, as Ctrl-C.

    Example:
        >>> Terminated().signum == signal.SIGTERM, isinstance(Terminated(), KeyboardInterrupt)
        (True, True)
    """

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = int(signum)


def interrupt_status(e: KeyboardInterrupt) -> int:
    """The exit status of a command that ``e`` stopped: 128 plus its signal, as shells report it.

    Example:
        >>> interrupt_status(KeyboardInterrupt()), interrupt_status(Terminated())
        (130, 143)
    """
    return 128 + int(getattr(e, "signum", signal.SIGINT))
