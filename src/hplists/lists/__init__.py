"""Ordered hyperparameter lists: the shipped ones, and how to build new ones."""

from hplists.lists.registry import (
    NamedList,
    available_lists,
    get_list,
    load_list,
    register_list,
)

__all__ = ["NamedList", "available_lists", "get_list", "load_list", "register_list"]
