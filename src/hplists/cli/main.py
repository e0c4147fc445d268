"""The ``hplists`` command.

Each area of the package contributes its subcommands from its own module in
``hplists.cli``: the module defines ``register(subparsers)``, which adds
parsers whose ``func`` attribute takes the parsed arguments and returns an
exit code.

Errors hplists raises on purpose (:class:`~hplists.exceptions.HplistsError`:
bad input, missing or damaged data) and errors opening a file the user named
print as one line and exit with status 2; any other exception, a plain
``ValueError`` included, is a bug and surfaces with its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from hplists._version import __version__
from hplists.exceptions import HplistsError

# Modules that contribute subcommands, in the order `hplists --help` lists them.
COMMAND_MODULES = (
    "hplists.cli.lists",
    "hplists.cli.space",
    "hplists.cli.store",
    "hplists.cli.method",
    "hplists.cli.report",
    "hplists.cli.targets",
    "hplists.cli.study",
    "hplists.cli.workloads",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hplists",
        description="Pre-computed NAdamW hyperparameter lists: use, build and test them.",
    )
    parser.add_argument("--version", action="version", version=f"hplists {__version__}")
    parser.add_argument("--import", dest="imports", action="append", default=[],
                        metavar="MODULE",
                        help="import MODULE first, e.g. one that registers your workloads "
                        "(repeatable; also accepted after the command)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _split_imports(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``--import MODULE`` (or ``--import=MODULE``) anywhere in ``argv``, and the rest.

    Example:
        >>> _split_imports(["run", "--import", "a", "--workload", "w", "--import=b"])
        (['a', 'b'], ['run', '--workload', 'w'])
    """
    modules, rest = [], []
    it = iter(argv)
    for arg in it:
        if arg == "--import":
            modules.append(next(it, ""))
        elif arg.startswith("--import="):
            modules.append(arg.partition("=")[2])
        else:
            rest.append(arg)
    return modules, rest


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    modules, rest = _split_imports(list(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(rest)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        if modules:
            from hplists.workloads.registry import import_modules

            import_modules(modules)
        return int(args.func(args) or 0)
    except HplistsError as e:  # bad input or data: one clear line, no traceback
        print(f"hplists {args.command}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        if e.filename is None:  # not about a file the user named: a bug, keep the traceback
            raise
        print(f"hplists {args.command}: error: {_file_error(e)}", file=sys.stderr)
        return 2


def _file_error(e: OSError) -> str:
    """An OSError about a file as one line that names the file."""
    what = e.strerror or type(e).__name__
    names = repr(str(e.filename))
    if e.filename2 is not None:
        names += f" -> {str(e.filename2)!r}"
    return f"{names}: {what}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
