"""``hplists spaces`` and ``hplists sample``: the search spaces and points drawn from them."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from typing import Any

# hplists.space.sampling.METHODS, spelled out so that parsing the command line does not
# import scipy (tests/test_space_algoperf_halton.py checks that the two agree).
SAMPLE_METHODS = ("halton", "algoperf-halton", "random")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("spaces", help="the built-in search spaces, or one space's dimensions")
    p.add_argument("space", nargs="?", help="a space name or a .json/.toml file to describe")
    p.set_defaults(func=_spaces)

    p = sub.add_parser(
        "sample",
        help="draw points from a search space (scrambled Halton, AlgoPerf's Halton or random)",
        description="Draws N points from SPACE (a built-in name or a .json/.toml file). The "
        "same space, seed and method give the same points on any machine.",
    )
    p.add_argument("space", help="a built-in space name (see `hplists spaces`) or a file path")
    p.add_argument("--n", type=int, required=True, help="number of points")
    p.add_argument("--seed", type=int, default=0, help="non-negative seed (default 0)")
    p.add_argument("--method", default="halton", choices=SAMPLE_METHODS,
                   help="halton: scipy's scrambled Halton quasi-random (default); "
                   "algoperf-halton: AlgoPerf's halton.py sequence and value mapping, to rerun "
                   "an AlgoPerf search point for point; random: i.i.d. uniform")
    p.add_argument("--format", default="table", choices=("table", "json", "csv"),
                   help="output format (default table)")
    p.add_argument("-o", "--output", help="write to this file instead of standard output")
    p.set_defaults(func=_sample)


def _spaces(args: argparse.Namespace) -> int:
    from hplists.space import available_spaces, get_space

    if args.space is None:
        names = available_spaces()
        width = max(len(n) for n in names)
        for name in names:
            first = get_space(name).description.split(". ")[0].rstrip(".")
            print(f"{name:<{width}}  {first}")
        return 0
    space = get_space(args.space)
    print(f"{space.name} (optimizer: {space.optimizer})")
    if space.description:
        print(space.description)
    if space.source:
        print(f"source: {space.source}")
    width = max(len(n) for n in space.names)
    for d in space.dimensions:
        spec = d.to_dict()
        if spec["scale"] in ("log", "linear"):
            what = f"[{spec['low']:g}, {spec['high']:g}]"
        elif spec["scale"] == "discrete":
            what = "{" + ", ".join(f"{v:g}" for v in spec["values"]) + "}"
        else:
            what = f"{spec['value']:g}"
        print(f"  {d.name:<{width}}  {spec['scale']:<8}  {what}")
    return 0


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
    if args.format == "json":
        text = json.dumps(points, indent=1) + "\n"
    elif args.format == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["index", *keys])
        for i, p in enumerate(points):
            w.writerow([i, *(repr(p[k]) for k in keys)])
        text = buf.getvalue()
    else:
        cells = [["index", *keys]] + [[str(i), *(f"{p[k]:.6g}" for k in keys)]
                                       for i, p in enumerate(points)]
        widths = [max(len(row[j]) for row in cells) for j in range(len(cells[0]))]
        text = "".join("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + "\n"
                       for row in cells)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0
