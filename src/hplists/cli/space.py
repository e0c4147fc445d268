"""``hplists spaces`` and ``hplists sample``: the search spaces and points drawn from them."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hplists.cli.terminal import FORMATS, Column, Table, add_format, emit, render

# hplists.space.sampling.METHODS, spelled out so that parsing the command line does not
# import scipy (tests/test_space_algoperf_halton.py checks that the two agree).
SAMPLE_METHODS = ("halton", "algoperf-halton", "random")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("spaces", help="the built-in search spaces, or one space's dimensions")
    p.add_argument("space", nargs="?", help="a space name or a .json/.toml file to describe")
    add_format(p, json_flag=False, what="the spaces or the dimensions")
    p.set_defaults(func=_spaces)

    p = sub.add_parser(
        "sample",
        help="draw points from a search space (scrambled Halton, AlgoPerf's Halton or random)",
        description="Draws N points from SPACE (a built-in name or a .json/.toml file). The "
        "same space, seed and method give the same points on any machine. Column index: the "
        "point's 0-based index in the sequence (what a study's store records as point_index).",
    )
    p.add_argument("space", help="a built-in space name (see `hplists spaces`) or a file path")
    p.add_argument("--n", type=int, required=True, help="number of points")
    p.add_argument("--seed", type=int, default=0,
                   help="the sampler's seed (non-negative; default 0); not a training seed")
    p.add_argument("--method", default="halton", choices=SAMPLE_METHODS,
                   help="halton: scipy's scrambled Halton quasi-random (default); "
                   "algoperf-halton: AlgoPerf's halton.py sequence and value mapping, to rerun "
                   "an AlgoPerf search point for point; random: i.i.d. uniform")
    p.add_argument("--format", default="table", choices=FORMATS,
                   help="output format: table (default), csv, json (a list of points) or md")
    p.add_argument("-o", "--output", help="write to this file instead of standard output")
    p.set_defaults(func=_sample)


def _spaces(args: argparse.Namespace) -> int:
    from hplists.space import available_spaces, get_space

    if args.space is None:
        rows = [[name, get_space(name).description.split(". ")[0].rstrip(".")]
                for name in available_spaces()]
        emit(Table(["name", "description"], rows, name="spaces", plain=True), args.format)
        return 0
    space = get_space(args.space)
    table = Table(["name", "scale", Column("values", key="spec", text=_values)],
                  [[d.name, d.to_dict()["scale"], d.to_dict()] for d in space.dimensions],
                  name="dimensions", plain=True)
    head = [f"{space.name} (optimizer: {space.optimizer})"]
    head += [space.description] if space.description else []
    head += [f"source: {space.source}"] if space.source else []
    emit(table, args.format, before=head, payload={
        "name": space.name, "optimizer": space.optimizer, "description": space.description,
        "source": space.source, "dimensions": [d.to_dict() for d in space.dimensions]})
    return 0


def _values(spec: dict[str, Any]) -> str:
    """A dimension's values: ``[low, high]``, ``{v, ...}`` or the fixed value."""
    if spec["scale"] in ("log", "linear"):
        return f"[{spec['low']:g}, {spec['high']:g}]"
    if spec["scale"] == "discrete":
        return "{" + ", ".join(f"{v:g}" for v in spec["values"]) + "}"
    return f"{spec['value']:g}"


def _as_dict(point: Any) -> dict[str, float]:
    return point.to_dict() if hasattr(point, "to_dict") else dict(point)


def _sample(args: argparse.Namespace) -> int:
    from hplists._files import prepare_output
    from hplists.space import get_space

    if args.output:  # checked (and its directory made) before sampling
        prepare_output(args.output)
    space = get_space(args.space)
    points = [_as_dict(p) for p in space.sample(args.n, seed=args.seed, method=args.method)]
    keys = list(points[0])
    table = Table([Column("index", right=True)]
                  + [Column(k, right=True, text=lambda x: f"{x:.6g}") for k in keys],
                  [[i, *(p[k] for k in keys)] for i, p in enumerate(points)],
                  name="points", plain=True)
    if args.format == "json":
        import json

        text = json.dumps(points, indent=1) + "\n"
    else:
        text = render(table, args.format)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0
