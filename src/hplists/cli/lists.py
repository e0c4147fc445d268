"""``hplists lists``, ``hplists show``, ``hplists export``."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lists", help="names and one-line descriptions of the shipped lists")
    p.set_defaults(func=_lists)


def _lists(args: argparse.Namespace) -> int:
    from hplists.lists import available_lists, get_list

    for name in available_lists():
        print(f"{name}\t{get_list(name).description}")
    return 0
