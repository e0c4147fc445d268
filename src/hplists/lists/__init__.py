"""Ordered hyperparameter lists: the shipped ones, and how to build new ones."""

from hplists.lists.registry import (
    NamedList,
    available_lists,
    get_list,
    load_list,
    register_list,
)
from hplists.lists.tune import TunedTrial, TuneResult, tune

__all__ = [
    "NamedList",
    "TuneResult",
    "TunedTrial",
    "available_lists",
    "get_list",
    "load_list",
    "register_list",
    "tune",
]
