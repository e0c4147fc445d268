"""hplists: pre-computed, ordered hyperparameter lists for NAdamW and learning-rate-free methods.

With a budget of ``k`` trials, train with the first ``k`` points of a list and
keep the best (arXiv 2503.03986)::

    >>> import hplists
    >>> [p.learning_rate for p in hplists.get_list("nadamw-paper", k=2).points]
    [0.007188680089024849, 0.0011719210768906827]

:func:`tune` does exactly that with the user's ``train(point) -> metric``;
:func:`evaluate` scores a list's first ``k`` points on a built-in or registered
workload over seeds (imported on first use: it needs JAX).

Framework entry points are submodules imported on first use, so
``import hplists`` needs neither PyTorch nor JAX: ``hplists.torch`` (NAdamW as
a ``torch.optim.Optimizer``) and ``hplists.optax`` (``optax.nadamw`` with the
schedule).
"""

from __future__ import annotations

import importlib
from typing import Any

from hplists._version import __version__
from hplists.curves import Curve, Status
from hplists.hparams import HParams
from hplists.lists import NamedList, TuneResult, available_lists, get_list, load_list, tune
from hplists.lists.exhaustive import exhaustive_set
from hplists.lists.greedy import greedy_list
from hplists.lists.loo import leave_one_out
from hplists.method_point import MethodPoint, steps_to_run
from hplists.scoring.cost import cost
from hplists.scoring.profiles import benchmark_score, performance_profiles
from hplists.scoring.tuning_curve import tuning_curve

__all__ = [
    "Curve",
    "HParams",
    "MethodPoint",
    "NamedList",
    "Status",
    "TuneResult",
    "__version__",
    "available_lists",
    "benchmark_score",
    "cost",
    "evaluate",
    "exhaustive_set",
    "get_list",
    "greedy_list",
    "leave_one_out",
    "load_list",
    "performance_profiles",
    "steps_to_run",
    "tune",
    "tuning_curve",
]

_LAZY_SUBMODULES = ("torch", "optax")
_LAZY_FUNCTIONS = {"evaluate": "hplists.study.evaluate"}  # need JAX: imported on first use


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"hplists.{name}")
    if name in _LAZY_FUNCTIONS:
        return getattr(importlib.import_module(_LAZY_FUNCTIONS[name]), name)
    raise AttributeError(f"module 'hplists' has no attribute {name!r}")
