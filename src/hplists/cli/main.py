"""The ``hplists`` command.

Each area of the package contributes its subcommands from its own module in
``hplists.cli``: the module defines ``register(subparsers)``, which adds
parsers whose ``func`` attribute takes the parsed arguments and returns an
exit code.

Errors hplists raises on purpose (:class:`~hplists.exceptions.HplistsError`:
bad input, missing or damaged data), errors of the command line and errors
opening a file the user named print as one line and exit with status 2; any
other exception, a plain ``ValueError`` included, is a bug and surfaces with its
traceback. SIGTERM stops a command as Ctrl-C does
(:class:`~hplists.exceptions.Terminated`): a run hands its trials in flight
back and keeps every finished one; the exit status is 128 plus the signal
(130 after Ctrl-C, 143 after SIGTERM), and a second SIGTERM ends the process
at once.

``hplists --help`` lists the commands in two groups: :data:`USER_COMMANDS`, for
using and testing lists, and :data:`MAINTAINER_COMMANDS`, for rerunning the
package's own studies and shipping their results.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import threading
from collections.abc import Iterator, Sequence

from hplists._version import __version__
from hplists.cli.grammar import Parser
from hplists.exceptions import HplistsError, Terminated, interrupt_status

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

DESCRIPTION = "Pre-computed, ordered hyperparameter lists: use, build and test them."
#: The commands for using, building and testing lists, in the order `hplists --help` lists them.
USER_COMMANDS = ("lists", "show", "export", "spaces", "sample", "run", "evaluate", "workloads",
                 "build", "loo", "score", "report", "store")
#: The commands that rerun the package's own studies and ship their results.
MAINTAINER_COMMANDS = ("targets", "study")
#: Former names that still work, with a warning, and are left out of the help.
DEPRECATED_COMMANDS = ("table4",)
MAINTAINER_FLAGS = (
    ("--into-package", "targets set, study export-list: write into the package's own data "
     "files (shipping targets or a list in a release)"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="hplists",
        usage="hplists [-h] [--version] [--import MODULE] COMMAND ...",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="`hplists COMMAND --help` describes a command and its options.",
    )
    parser.add_argument("--version", action="version", version=f"hplists {__version__}")
    parser.add_argument("--import", dest="imports", action="append", default=[],
                        metavar="MODULE",
                        help="import MODULE first, e.g. one that registers your workloads "
                        "(repeatable; also accepted after the command)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", prog="hplists",
                                help=argparse.SUPPRESS)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    parser.description = DESCRIPTION + "\n\n" + _command_groups(sub)
    return parser


def _command_groups(sub: argparse._SubParsersAction) -> str:
    """The commands in two groups, each with its one-line help, for ``hplists --help``."""
    helps = {a.dest: a.help or "" for a in sub._choices_actions}
    other = tuple(c for c in helps if c not in USER_COMMANDS + MAINTAINER_COMMANDS)
    groups = [("commands", USER_COMMANDS + other), ("maintainer commands", MAINTAINER_COMMANDS)]
    width = max(len(c) for c in (*helps, *(f for f, _ in MAINTAINER_FLAGS)))
    lines = []
    for title, names in groups:
        lines += [f"{title}:", *(_entry(c, helps[c], width) for c in names if c in helps), ""]
    lines += ["maintainer flags:", *(_entry(f, h, width) for f, h in MAINTAINER_FLAGS)]
    return "\n".join(lines)


def _entry(name: str, text: str, width: int) -> str:
    import textwrap

    body = textwrap.wrap(text, 78 - width - 4) or [""]
    pad = " " * (width + 4)
    return f"  {name:<{width}}  {body[0]}" + "".join(f"\n{pad}{line}" for line in body[1:])


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


def _normalize(argv: list[str]) -> list[str]:
    """``argv`` with the defaults of commands whose action may be left out filled in
    (``hplists study [OPTIONS]`` is ``hplists study run [OPTIONS]``)."""
    for i, arg in enumerate(argv):
        if not arg.startswith("-"):
            if arg == "study":
                from hplists.cli.study import normalize

                return [*argv[:i + 1], *normalize(argv[i + 1:])]
            return argv
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    modules, rest = _split_imports(list(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(_normalize(rest))
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        if modules:
            from hplists.workloads.registry import import_modules

            import_modules(modules)
        with _sigterm_as_interrupt():
            return int(args.func(args) or 0)
    except KeyboardInterrupt as e:
        print(f"hplists {_command(args)}: interrupted ({signal.Signals(interrupt_status(e) - 128).name})",
              file=sys.stderr)
        return interrupt_status(e)
    except HplistsError as e:  # bad input or data: one clear line, no traceback
        print(f"hplists {_command(args)}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        if e.filename is None:  # not about a file the user named: a bug, keep the traceback
            raise
        print(f"hplists {_command(args)}: error: {_file_error(e)}", file=sys.stderr)
        return 2


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises :class:`~hplists.exceptions.Terminated` in the main thread meanwhile.

    The first one only: the handler puts the default back, so a second SIGTERM
    ends the process even while the first one's clean-up runs.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise Terminated(signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _command(args: argparse.Namespace) -> str:
    """The command and its action, as typed: ``store info``, ``study plan``."""
    action = getattr(args, "store_command", None) or getattr(args, "targets_command", None)
    if args.command == "study":
        action = getattr(args, "action", None)
    return f"{args.command} {action}" if action else args.command


def _file_error(e: OSError) -> str:
    """An OSError about a file as one line that names the file."""
    what = e.strerror or type(e).__name__
    names = repr(str(e.filename))
    if e.filename2 is not None:
        names += f" -> {str(e.filename2)!r}"
    return f"{names}: {what}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
