"""``hplists lists``, ``hplists show``, ``hplists export``.

``export --format algoperf`` writes a ``tuning_search_space.json`` for
AlgoPerf's external-tuning ruleset: a JSON list of points, each with the same
keys, which ``algoperf/halton.py:generate_search`` turns into one trial per
point (in order) and which the NAdamW baselines read as
``hyperparameters.learning_rate``, ``1 - hyperparameters.one_minus_beta1``, ...
The submissions of :mod:`hplists.integrations.algoperf` read the same file and
train each point with the rule it is defined for (``docs/algoperf.md``); the
export says so on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hplists._check import check_choice
from hplists.cli.terminal import Column, Table, add_format, emit
from hplists.exceptions import InvalidParameterError
from hplists.hparams import HParams

# The key order of AlgoPerf's own baseline search space file.
ALGOPERF_ORDER = (
    "dropout_rate",
    "label_smoothing",
    "learning_rate",
    "one_minus_beta1",
    "beta2",
    "weight_decay",
    "warmup_factor",
)
# AlgoPerf's NAdamW baselines fix eps; a point with another eps cannot be exported.
ALGOPERF_EPS = 1e-8
FORMATS = ("algoperf", "json")
# On stderr after an algoperf export: AlgoPerf's own NAdamW baselines run another rule.
SUBMISSION_HINT = (
    "to train these points as defined (optax.nadamw, warmup from 0, cosine to 0 at "
    "step_hint), pass submission_runner.py --submission_path=FILE, FILE holding "
    "`from hplists.integrations.algoperf.pytorch_submission import *` (or jax_submission); "
    "see docs/algoperf.md"
)
NADAMW_COLUMNS = (
    "learning_rate",
    "warmup_fraction",
    "beta1",
    "beta2",
    "weight_decay",
    "dropout_rate",
    "label_smoothing",
    "eps",
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lists", help="names and one-line descriptions of the shipped lists")
    add_format(p, json_flag=False, what="the lists")
    p.set_defaults(func=_lists)

    p = sub.add_parser("show", help="a list's points as a table, in priority order",
                       description="Prints a list's points in priority order, numbered from 1 "
                       "(#), every digit as published.")
    p.add_argument("name", help="list name (see `hplists lists`) or the path of a list file")
    p.add_argument("--k", type=int, default=None, help="show only the first K points")
    add_format(p, json_flag=False, what="the points")
    p.set_defaults(func=_show)

    p = sub.add_parser(
        "export",
        help="write a list as AlgoPerf's tuning_search_space.json or as hplists JSON",
    )
    p.add_argument("name", help="list name (see `hplists lists`) or the path of a list file")
    p.add_argument("--format", required=True, help="algoperf or json")
    p.add_argument("--k", type=int, default=None, help="export only the first K points")
    p.add_argument("-o", "--output", default=None, help="file to write (default: stdout)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.set_defaults(func=_export)


def _lists(args: argparse.Namespace) -> int:
    from hplists.lists import available_lists, get_list

    rows = [[name, get_list(name).description] for name in available_lists()]
    emit(Table(["name", "description"], rows, name="lists", plain=True), args.format)
    return 0


def _show(args: argparse.Namespace) -> int:
    from hplists.lists import get_list

    named = get_list(args.name, k=args.k)
    rows = [_as_dict(p) for p in named.points]
    keys = list(rows[0]) if named.optimizer != "nadamw" else list(NADAMW_COLUMNS)
    keys += [k for row in rows for k in row if k not in keys]
    # repr: every digit, as the points are published; no column is ever cut.
    columns = [Column("#", key="point", right=True, options={"no_wrap": True})]
    columns += [Column(k, right=True, text=repr, options={"no_wrap": True}) for k in keys]
    table = Table(columns, [[i, *(row.get(k) for k in keys)] for i, row in enumerate(rows, 1)],
                  title=f"{named.name} ({len(named)} points, update rule {named.optimizer!r})",
                  caption=named.source or None, name="points")
    emit(table, args.format, after=[named.description] if named.description else [])
    return 0


def _as_dict(point: Any) -> dict[str, Any]:
    return point.to_dict() if isinstance(point, HParams) else dict(point)


def algoperf_search_space(points: Any) -> list[dict[str, float]]:
    """The points as AlgoPerf's external-tuning search space (a list of discrete points).

    Example:
        >>> from hplists import get_list
        >>> algoperf_search_space(get_list("nadamw-paper", k=1).points)[0]["one_minus_beta1"]
        0.0478920202561063
    """
    out = []
    for i, point in enumerate(points):
        if not isinstance(point, HParams):
            raise InvalidParameterError(
                f"point {i}: the algoperf format takes NAdamW points (HParams), "
                f"got {type(point).__name__}"
            )
        if point.eps != ALGOPERF_EPS:
            raise InvalidParameterError(
                f"point {i}: eps must be {ALGOPERF_EPS:g} for the algoperf format (AlgoPerf's "
                f"NAdamW baseline fixes it and has no eps key), got {point.eps!r}"
            )
        values = point.to_algoperf()
        out.append({key: values[key] for key in ALGOPERF_ORDER})
    return out


def _export(args: argparse.Namespace) -> int:
    from hplists._files import prepare_output
    from hplists.lists import get_list

    fmt = check_choice("format", args.format, FORMATS)
    if args.output is not None:  # before any work: a directory or an existing file is refused
        prepare_output(args.output, force=args.force)
    named = get_list(args.name, k=args.k)
    if fmt == "algoperf":
        if named.optimizer != "nadamw":
            raise InvalidParameterError(
                f"format 'algoperf' needs a list for optimizer 'nadamw' (AlgoPerf's NAdamW "
                f"baseline reads it); {named.name!r} is for {named.optimizer!r}"
            )
        payload: Any = algoperf_search_space(named.points)
    else:
        payload = named.to_dict()
    text = json.dumps(payload, indent=2) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        path = Path(args.output)
        path.write_text(text)
        print(f"wrote {len(named)} points of {named.name!r} to {path}", file=sys.stderr)
    if fmt == "algoperf":
        print(SUBMISSION_HINT, file=sys.stderr)
    return 0
