"""``hplists study ACTION [STUDY]``: the studies of papers 001 and 002, resumable.

STUDY is ``paper001`` (the default: paper 001's study, :mod:`hplists.study.workflow`,
in ``stores/study.db``), ``lrfree`` (paper 002's learning-rate-free benchmark,
:mod:`hplists.study.lrfree`, in ``stores/lrfree.db``) or ``state8`` (the list
``nadamw-hplists-cpu`` with 32-bit and 8-bit NAdamW state,
:mod:`hplists.study.state_bits`, in ``stores/state8.db``). They take the same
actions and options:

* ``run`` (the default action): the stages (all, or ``--stage``), trials into
  ``--store``; kill it and run it again at will.
* ``plan``: the trials each stage needs, how many are finished, time left.
* ``report -o DIR``: the study's report from its store (paper 001's is what
  ``hplists report`` writes from ``stores/study.db`` and ``stores/targets.db``);
  state8's writes its sections of ``--readme`` (``docs/results.md``) and
  ``--summary`` (the README), and ``-o DIR`` only when given.
* ``lists``: paper 001's final and leave-one-out lists; for lrfree, each
  method's calibrated default.
* ``export-list``: paper 001's final list as the shipped list ``nadamw-hplists-cpu``;
  for lrfree, each method's calibrated default and its list, into ``-o DIR``.

The forms before this grammar still work for one release, with a warning:
``hplists study lrfree [--plan | --report DIR | --export-lists DIR]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import math
import sys
from pathlib import Path
from typing import Any

from hplists.cli.grammar import (
    deprecated,
    did_you_mean,
    hidden,
    prepare_store,
    require_store,
    store_missing,
)
from hplists.cli.terminal import Column, Table, add_format, emit
from hplists.exceptions import InvalidParameterError, interrupt_status

DEFAULT_STORE = "stores/study.db"
#: Paper 001's report reads the targets' store too (`hplists report`, README's Results).
TARGETS_STORE = "stores/targets.db"
ACTIONS = ("run", "plan", "report", "lists", "export-list")
STUDIES = ("paper001", "lrfree", "state8")
# `hplists study lrfree [...]`: the form before ACTION STUDY (deprecated).
OLD_LRFREE = "lrfree"
# Options that not every study reads: flag -> argparse dest. A study reads one when its
# configuration has that field, or its export_lists takes it (--name; --into-package names
# the package's file of that name).
STUDY_OPTIONS = {"--variants": "variants", "--baselines": "baselines",
                 "--bo-budgets": "bo_budgets", "--errors": "errors",
                 "--into-package": "into_package", "--name": "name", "--points": "points",
                 "--tau": "tau", "--steps": "steps", "--partial": "partial"}


_ACTION_HELP = {
    "run": "run or resume the stages (the default action)",
    "plan": "trials per stage, how many are finished, time left",
    "report": "write the report from the store into -o DIR",
    "lists": "paper001: final and leave-one-out lists; lrfree: calibrated defaults; state8: "
             "the points it trains",
    "export-list": "write the lists as list files (lrfree: into -o DIR)",
}
_STUDY_HELP = """\
The studies of the papers on the built-in workloads. Every trial goes to the
store: a killed run, run again, loses nothing and trains nothing twice.

STUDY:
  paper001     paper 001's study (the default; stores/study.db): 200
               nadamw-broad points on the base workloads, the final and
               leave-one-out lists, reruns, variants and baselines
  lrfree       paper 002's learning-rate-free benchmark (stores/lrfree.db)
  state8       nadamw-hplists-cpu (5 points, seeds 1-3) on all 16 workloads
               with 32-bit and 8-bit NAdamW state, and the 8-bit moments'
               quantization error (stores/state8.db)

ACTION:
""" + "".join(f"  {a:<12} {h}\n" for a, h in _ACTION_HELP.items()) + """
`hplists study ACTION --help` lists an action's options.
`hplists study --stage broad` is `hplists study run paper001 --stage broad`."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "study", help="rerun paper 001's study or paper 002's learning-rate-free benchmark, "
        "or the 8-bit state study (resumable): run, plan, report, lists, export-list",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="hplists study ACTION [STUDY] [OPTIONS]",
        description=_STUDY_HELP)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True,
                               prog="hplists study", help=argparse.SUPPRESS)
    for action, text in _ACTION_HELP.items():
        q = actions.add_parser(action, help=text, description=_description(action),
                               usage=f"hplists study {action} [STUDY] [OPTIONS]")
        q.add_argument("study", nargs="?", default="paper001", choices=STUDIES, metavar="STUDY",
                       help="paper001 (default), lrfree or state8")
        _add_options(q, action)
        q.set_defaults(func=_main)
    # The form before `study ACTION STUDY`, for one release: every option it took.
    q = actions.add_parser(OLD_LRFREE)
    _add_options(q, "run")
    q.add_argument("--plan", action="store_true", **hidden())
    q.add_argument("--report", metavar="DIR", **hidden())
    q.add_argument("--export-lists", metavar="DIR", **hidden())
    q.add_argument("--readme", metavar="FILE", **hidden())
    add_format(q)
    q.add_argument("--force", action="store_true", **hidden())
    q.add_argument("--partial", action="store_true", **hidden())
    q.set_defaults(func=_main)


def _description(action: str) -> str:
    text = {
        "run": "Runs (or resumes) the stages of STUDY (all, or --stage), every trial into "
               "--store; finished trials are never trained again.",
        "plan": "Prints, per stage of STUDY, the trials it needs, how many are finished and the "
                "estimated time left; trains nothing.",
        "report": "Writes the report of STUDY into -o DIR and trains nothing. paper001: what "
                  "`hplists report` writes (HTML, Markdown, CSV, figures) from --store "
                  f"(default {DEFAULT_STORE} and {TARGETS_STORE}, the README's Results "
                  "section); lrfree: paper 002's tables from stores/lrfree.db; state8: its "
                  "section of --readme and its table in --summary (-o DIR optional: state8.md "
                  "and the tables as CSV).",
        "lists": "paper001: the final list and the leave-one-out lists from the store. lrfree: "
                 "the calibrated default of each (method, horizon) (its best point by the "
                 "AlgoPerf benchmark score over every rerun candidate), and the one per method "
                 "that export-list writes. state8: the list points it trains.",
        "export-list": "paper001: writes the final list as a list file (default "
                       "stores/lists/nadamw-hplists-cpu.json; --into-package: into the "
                       "package). lrfree: writes each learning-rate-free method's calibrated "
                       "default and its k-point list as list files into -o DIR.",
    }[action]
    return text + " STUDY is paper001 (default), lrfree or state8."


def _add_options(q: argparse.ArgumentParser, action: str) -> None:
    from hplists.study.workflow import EXPORT_NAME, STAGES

    if action == "report":
        q.add_argument("--store", action="append", default=None, metavar="PATH",
                       help=f"a trial store (repeatable; paper001 default: {DEFAULT_STORE} and "
                       f"{TARGETS_STORE} if it exists; lrfree default: stores/lrfree.db)")
    else:
        q.add_argument("--store", default=None, metavar="PATH",
                       help=f"the trial store (default: {DEFAULT_STORE}; lrfree: "
                       "stores/lrfree.db; state8: stores/state8.db)"
                       + ("; created if missing" if action == "run" else ""))
    q.add_argument("--workloads", metavar="A,B,...",
                   help="base workloads (default: every registered base workload; state8: "
                   "the 16 built-in workloads, variants too)")
    q.add_argument("--points", type=int, default=None, metavar="N",
                   help="paper001: the broad sample's size; lrfree: points per search "
                   "(default: the last run's on the store, else 200)")
    q.add_argument("--seeds", type=int, default=None, metavar="S",
                   help="rerun seeds 1..S of the reruns, variants and baselines (default: the last "
                   "run's on the store, else 5; "
                   "state8: training seeds 1..S, default 3)")
    q.add_argument("--k", type=int, default=5, help="list length (default 5)")
    q.add_argument("--tau", type=float, default=None,
                   help="penalty factor tau (default: the last run's on the store, else 2; "
                   "not state8)")
    q.add_argument("--steps", type=int, default=None, metavar="N",
                   help="state8: steps of every trial (default: each workload's budget; for a "
                   "quick run, into studies of their own)")
    q.add_argument("--specs", metavar="FILE",
                   help="workload specs with targets (.json/.toml; see hplists build); default: "
                   "the package's targets file")
    q.add_argument("--variants", metavar="A,B,...|none",
                   help="paper001: variants for the final list (default: the registered "
                   "variants of the base workloads)")
    q.add_argument("--baselines", metavar="STUDY,...",
                   help="paper001: only these baseline studies (e.g. "
                   "baseline/metz,baseline/bo-gp-10)")
    q.add_argument("--bo-budgets", default=None, metavar="N,...",
                   help="paper001: trial budgets of the Bayesian-optimization baselines "
                   "(default 5,10)")
    q.add_argument("--errors", default=None, choices=("raise", "inf"),
                   help="paper001: broad trials that ended in error when building lists: stop "
                   "(default, raise) or count them as misses (inf)")
    if action in ("run", "plan"):
        q.add_argument("--stage", default="all", metavar="|".join(("all", *STAGES)),
                       help="stages, comma-separated (default: all, in order; lrfree's are "
                       "defaults, calibration, candidates; state8's quantization, train)")
    if action == "run":
        add_executor_args(q)
    q.add_argument("--no-progress", action="store_true", help="no progress bars")
    if action in ("plan", "lists"):
        add_format(q)
    if action == "report":
        q.add_argument("-o", "--output", metavar="DIR",
                       help="the output directory (created if needed; report files are "
                       "replaced); required but for state8")
        q.add_argument("--readme", metavar="FILE",
                       help="also regenerate the study's part of the Results in this Markdown "
                       "file (docs/results.md)")
        q.add_argument("--summary", metavar="FILE",
                       help="state8: also regenerate its compact table in this Markdown file "
                       "(README.md)")
    if action == "export-list":
        q.add_argument("-o", "--output", metavar="PATH",
                       help=f"paper001: the list file (default: stores/lists/{EXPORT_NAME}.json); "
                       "lrfree: the directory to write the list files into (required)")
        q.add_argument("--into-package", action="store_true",
                       help="paper001: write into the package's lists/data (maintainers "
                       "shipping the list)")
        q.add_argument("--name", default=None,
                       help=f"paper001: the list's name (default {EXPORT_NAME})")
        q.add_argument("--force", action="store_true",
                       help="replace a list file that holds other points")
        q.add_argument("--partial", action="store_true",
                       help="lrfree: write the lists of an unfinished study (they may still "
                       "change; without it, export-list refuses)")


def normalize(argv: list[str]) -> list[str]:
    """The arguments after ``hplists study`` with the action first (``run`` if none is given).

    Example:
        >>> normalize(["--store", "s.db", "plan", "lrfree"])
        ['plan', '--store', 's.db', 'lrfree']
        >>> normalize(["--stage", "lists"])
        ['run', '--stage', 'lists']
        >>> normalize(["--help"])
        ['--help']
        >>> normalize(["lrfree", "--points", "64"]), normalize(["paper001"])
        (['lrfree', '--points', '64'], ['run', 'paper001'])
    """
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            return argv
        if arg == "--":
            break
        if arg.startswith("-"):
            i += 2 if "=" not in arg and arg in _VALUE_OPTIONS else 1
            continue
        if arg == "paper001":  # `hplists study paper001`: run it
            break
        # an action, `lrfree` (the old form of `run lrfree`), or a misspelt action
        return [arg, *argv[:i], *argv[i + 1:]]
    return ["run", *argv]


# Options that take a value (the word after them is never an action).
_VALUE_OPTIONS = frozenset({
    "--store", "--workloads", "--points", "--seeds", "--k", "--tau", "--steps", "--specs",
    "--variants", "--baselines", "--bo-budgets", "--errors", "--stage", "--executor", "--workers",
    "--ray-address", "--format", "-o", "--output", "--name", "--report", "--export-lists",
    "--readme", "--summary"})


def _split(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    items = tuple(t.strip() for t in text.split(",") if t.strip())
    if not items:
        raise InvalidParameterError(f"expected a comma-separated list, got {text!r}")
    return items


def study_class(name: str) -> Any:
    """The :class:`~hplists.study.staged.Study` subclass of ``hplists study ACTION NAME``."""
    from hplists.study.lrfree import LrFreeStudy
    from hplists.study.state_bits import StateBitsStudy
    from hplists.study.workflow import StudyWorkflow

    classes = {c.name: c for c in (StudyWorkflow, LrFreeStudy, StateBitsStudy)}
    if name not in classes:
        raise InvalidParameterError(f"unknown study {name!r}; the studies are "
                                    f"{list(classes)}{did_you_mean(name, list(classes))}")
    return classes[name]


def _reads(cls: Any, dest: str) -> bool:
    """Whether study class ``cls`` reads the option stored in ``dest``."""
    if dest in {f.name for f in dataclasses.fields(cls.config_class)}:
        return True
    takes = inspect.signature(cls.export_lists).parameters
    if dest in ("name", "into_package"):
        return "name" in takes
    return dest == "partial" and "partial" in takes


def _config(args: argparse.Namespace, cls: Any) -> Any:
    """The study's configuration from the options (those its configuration has)."""
    fields = {f.name for f in dataclasses.fields(cls.config_class)}
    options: dict[str, Any] = {"workloads": _split(args.workloads), "k": args.k}
    for name in ("points", "seeds", "tau", "steps"):  # not given: the configuration's default
        value = getattr(args, name, None)
        if name in fields and value is not None:
            options[name] = value
    if "variants" in fields:
        variants = _split(getattr(args, "variants", None))
        options["variants"] = () if variants == ("none",) else variants
    if "baselines" in fields:
        options["baselines"] = _split(args.baselines)
    if "errors" in fields:
        options["errors"] = args.errors or "raise"
    if "bo_budgets" in fields:
        budgets = _split(args.bo_budgets) if args.bo_budgets else None
        if budgets is not None:
            options["bo_budgets"] = tuple(_int(x, "--bo-budgets") for x in budgets)
    return cls.config_class(**options)


def _int(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidParameterError(f"{name} must be comma-separated integers, got "
                                    f"{text!r}") from None


def _stages(text: str, stages: tuple[str, ...]) -> list[str]:
    items = _split(text) or ()
    if "all" in items:
        return list(stages)
    for s in items:
        if s not in stages:
            raise InvalidParameterError(
                f"stage must be one of {', '.join(map(repr, stages))} (or all); got {s!r}"
                f"{did_you_mean(s, stages)}")
    return list(items)


def add_executor_args(p: argparse.ArgumentParser) -> None:
    """``--executor``, ``--workers``, ``--ray-address``: where trials train (:func:`executor_from_args`)."""
    p.add_argument("--executor", default="local", choices=("local", "processes", "ray"),
                   help="where trials train: this process with the engine's batching (default), "
                   "a pool of single-threaded worker processes, or a Ray cluster")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes for --executor processes (default: cores, at most 2)")
    p.add_argument("--ray-address", default=None,
                   help="Ray cluster address for --executor ray (default: start a local one)")


def executor_from_args(args: argparse.Namespace) -> Any:
    """The executor ``--executor``, ``--workers`` and ``--ray-address`` name (``None``: local)."""
    if args.workers is not None and args.executor != "processes":
        raise InvalidParameterError(f"--workers goes with --executor processes; --executor "
                                    f"{args.executor} would ignore it")
    if args.executor == "processes":
        from hplists.trials.executors import PoolExecutor

        return PoolExecutor(args.workers)
    if args.executor == "ray":
        from hplists.trials.ray import RayExecutor

        return RayExecutor(address=args.ray_address)
    return None


# ---------------------------------------------------------------------------- dispatch


def _main(args: argparse.Namespace) -> int:
    if args.action == OLD_LRFREE:
        _from_old_lrfree(args)
    cls = study_class(args.study)
    given = [flag for flag, dest in STUDY_OPTIONS.items()
             if getattr(args, dest, None) not in (None, False) and not _reads(cls, dest)]
    if given:
        readers = [n for n in STUDIES
                   if all(_reads(study_class(n), STUDY_OPTIONS[f]) for f in given)]
        raise InvalidParameterError(f"{', '.join(given)} applies to study "
                                    f"{', '.join(readers) or 'none'} only; study {cls.name} "
                                    "does not read it")
    return _ACTIONS[args.action](args)


def _from_old_lrfree(args: argparse.Namespace) -> None:
    """``hplists study lrfree [--plan|--report DIR|--export-lists DIR]`` as the new form."""
    modes = [f for f, on in (("--plan", args.plan), ("--report", args.report),
                             ("--export-lists", args.export_lists)) if on]
    if len(modes) > 1:
        raise InvalidParameterError(f"{' and '.join(modes)} are different actions; give one "
                                    "(`hplists study plan|report|export-list lrfree`)")
    if args.readme and not args.report:
        raise InvalidParameterError("--readme goes with the report: "
                                    "`hplists study report lrfree -o DIR --readme FILE`")
    if args.plan:
        args.action, old, new = "plan", "study lrfree --plan", "study plan lrfree"
    elif args.report:
        args.action, old, new = "report", "study lrfree --report DIR", \
            "study report lrfree -o DIR"
        args.output = args.report
        args.store = None if args.store is None else [args.store]
    elif args.export_lists:
        args.action, old, new = "export-list", "study lrfree --export-lists DIR", \
            "study export-list lrfree -o DIR"
        args.output = args.export_lists
    else:
        args.action, old, new = "run", "study lrfree", "study run lrfree"
    args.study = "lrfree"
    deprecated("study", f"`hplists {old}`", f"`hplists {new}`")


# ---------------------------------------------------------------------------- any study


def _store_path(args: argparse.Namespace, cls: Any) -> str:
    """The study's one trial store: ``--store`` (given once), else the study's default."""
    store = args.store
    if isinstance(store, list):  # the report action's --store is repeatable
        if len(store) > 1:
            raise InvalidParameterError(f"study {cls.name} reads one trial store; got {store}")
        store = store[0]
    return str(store or cls.default_store)


def _open(args: argparse.Namespace, cls: Any, *, create: bool = False,
          empty_if_missing: bool = False, executor: Any = None, timing: bool = False) -> Any:
    """The study of the options on its store.

    ``create``: a missing store is created; ``empty_if_missing``: planned against an empty
    store (nothing recorded yet); else a missing store is an error. ``timing``: the plan's
    timings also come from the study's :attr:`~hplists.study.staged.Study.timing_store_paths`.
    """
    from hplists.scoring.workload_specs import load_specs
    from hplists.store import open_store

    path = _store_path(args, cls)
    config = _config(args, cls)
    if cls.name == "state8" and config.quantization_file is None and "://" not in path:
        from hplists.study.state_bits import quantization_file

        # next to the store named, also when a missing store is planned against an empty one
        config = dataclasses.replace(config, quantization_file=quantization_file(path))
    specs = load_specs(args.specs) if args.specs else None
    timing_stores = [open_store(p, create=False) for p in cls.timing_store_paths
                     if timing and not store_missing(p)]
    if create:
        prepare_store(path)
        store = open_store(path, create=True)
    elif not store_missing(path):
        store = open_store(path, create=False)
    elif empty_if_missing:  # nothing recorded yet: plan against an empty store
        import tempfile

        store = open_store(Path(tempfile.mkdtemp()) / "empty.db")
    else:
        require_store(path)
    config = _recorded_config(args, cls, config, store, path)
    progress = not getattr(args, "no_progress", True)
    return cls(store, config, specs=specs, executor=executor, progress=progress,
               timing_stores=timing_stores)


def _recorded_config(args: argparse.Namespace, cls: Any, config: Any, store: Any,
                     path: str) -> Any:
    """``config`` with the options not given taken from the store's last run (its manifest)."""
    recorded = {k: v for k, v in cls.recorded_settings(store).items()
                if getattr(args, k, None) is None}
    changed = {k: v for k, v in recorded.items() if getattr(config, k) != v}
    if not changed:
        return config
    config = dataclasses.replace(config, **changed)
    said = ", ".join(f"--{k} {v:g}" if isinstance(v, float) else f"--{k} {v}"
                     for k, v in changed.items())
    print(f"hplists study: {said}, as the last run on {path} recorded (give the option to "
          "change it)", file=sys.stderr)
    return config


def _run(args: argparse.Namespace) -> int:
    cls = study_class(args.study)
    stages = _stages(args.stage, cls.stages)
    executor = executor_from_args(args)
    study = _open(args, cls, create=True, executor=executor, timing=True)
    failed = 0

    def report(result: Any) -> None:
        nonlocal failed
        failed += result.failed
        if result.stage == "lists" and study.name in _LISTS:  # a stage that trains nothing
            _LISTS[study.name](study, "table")
            return
        print(f"{result.stage}: trained {result.trained} (diverged {result.diverged}, failed "
              f"{result.failed}), already done {result.already_done}; studies "
              f"{', '.join(result.studies)}", file=sys.stderr)

    try:
        study.run(stages, callback=report)
    except KeyboardInterrupt as e:
        print(f"hplists study run: interrupted: every finished trial is in {study.store.location()}"
              " and the trials in flight were handed back; run the same command again to "
              "resume", file=sys.stderr)
        return interrupt_status(e)
    finally:
        if executor is not None:
            executor.close()
        study.store.close()
    if failed:
        print(f"hplists study: {failed} trial(s) failed (their errors are in the store); run "
              "the command again to retry them", file=sys.stderr)
        return 1
    return 0


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    return f"{seconds / 3600:.2f} h"


def _studies_text(studies: list[str]) -> str:
    """A stage's studies, one per line; many as the first and last few and their count."""
    if len(studies) <= 8:
        return "\n".join(studies)
    return "\n".join([*studies[:3], f"... ({len(studies) - 6} more)", *studies[-3:]])


def _plan(args: argparse.Namespace) -> int:
    cls = study_class(args.study)
    stages = _stages(args.stage, cls.stages)
    study = _open(args, cls, empty_if_missing=True, timing=True)
    plans = study.plan(stages)
    rows = [[p.stage, list(p.studies), p.trials, p.done, p.left, p.steps_left,
             p.seconds_left, p.exact] for p in plans]
    table = Table([Column("stage"), Column("studies", text=_studies_text),
                   Column("trials", right=True), Column("done", right=True),
                   Column("left", right=True),
                   Column("steps left", key="steps_left", right=True, text=lambda n: f"{n:,}"),
                   Column("est. time left", key="seconds_left", right=True, text=_hours),
                   Column("counts", key="exact", text=lambda x: "exact" if x else "at most")],
                  rows, title=f"hplists study plan {cls.name} ({_store_path(args, cls)})",
                  name="stages")
    payload = [{"stage": p.stage, "studies": list(p.studies), "trials": p.trials,
                "done": p.done, "steps_left": p.steps_left, "exact": p.exact,
                "seconds_left": p.seconds_left} for p in plans]
    total = [p.seconds_left for p in plans]
    timed = ", ".join(["this store", *cls.timing_store_paths])
    emit(table, args.format, payload=payload,
         after=[f"total: {_hours(None if None in total else sum(t or 0.0 for t in total))}; "
                f"time from the median recorded seconds per step of each workload ({timed}) "
                "times the recorded runs' wall-clock overhead (? = no timing yet)"
                + "".join(f"; {note}" for note in cls.plan_notes)])
    return 0


def _report(args: argparse.Namespace) -> int:
    cls = study_class(args.study)
    if cls.name == "state8":
        return _report_state8(args)
    if args.output is None:
        raise InvalidParameterError(f"the report of study {cls.name} is a folder: give -o DIR")
    if cls.name == "paper001":
        return _report_paper001(args)
    if getattr(args, "summary", None):
        raise InvalidParameterError(f"--summary applies to study state8 only; study {cls.name} "
                                    "does not read it")
    import time

    t0 = time.perf_counter()
    path = _store_path(args, cls)
    study = _open(args, cls)
    points = study.config.points
    command = f"hplists study report {cls.name} --store {path} -o {args.output}" + (
        f" --points {points}" if points != cls.config_class().points else "") + (
        f" --readme {args.readme}" if args.readme else "")
    from hplists.report.studies import write_study_report

    written = write_study_report(study, args.output, command=command, readme=args.readme)
    print(f"wrote {len(written)} files to {args.output} in "
          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


def _report_state8(args: argparse.Namespace) -> int:
    """The 8-bit state study's sections of --readme and --summary, and -o DIR if given."""
    import time

    from hplists.report.studies import write_study_report

    cls = study_class("state8")
    t0 = time.perf_counter()
    path = _store_path(args, cls)
    options = [(flag, value) for flag, value in (
        ("--workloads", args.workloads), ("--seeds", args.seeds),
        ("--k", args.k if args.k != 5 else None), ("--steps", args.steps),
        ("--specs", args.specs), ("-o", args.output), ("--readme", args.readme),
        ("--summary", args.summary)) if value is not None]
    command = " ".join(["hplists study report state8 --store", path,
                        *(f"{flag} {value}" for flag, value in options)])
    study = _open(args, cls)
    try:
        written = write_study_report(study, args.output, command=command, readme=args.readme,
                                     summary=args.summary)
    finally:
        study.store.close()
    if not written:
        print("nothing written: give --readme FILE, --summary FILE or -o DIR", file=sys.stderr)
        return 2
    print(f"wrote {', '.join(written) if len(written) <= 3 else f'{len(written)} files'} in "
          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


def _report_paper001(args: argparse.Namespace) -> int:
    """Paper 001's report is `hplists report` on the study's store and the targets' store
    (it reads several stores, with every option of `hplists report`)."""
    from hplists.cli.report import report_command

    unused = [flag for flag, given in (("--workloads", args.workloads),
                                       ("--variants", args.variants),
                                       ("--baselines", args.baselines),
                                       ("--bo-budgets", args.bo_budgets),
                                       ("--errors", args.errors),
                                       ("--points", args.points not in (None, 200)),
                                       ("--seeds", args.seeds not in (None, 5)),
                                       ("--summary", getattr(args, "summary", None))) if given]
    if unused:
        raise InvalidParameterError(f"{', '.join(unused)}: the report of study paper001 reads "
                                    "every trial of its stores; it takes --store, --specs, --k, "
                                    "--tau, -o and --readme")
    stores = args.store or [DEFAULT_STORE] + ([TARGETS_STORE] if not store_missing(TARGETS_STORE)
                                              else [])
    return report_command(argparse.Namespace(
        stores=stores, output=args.output, specs=args.specs, study_name=[], k=args.k,
        tau=2.0 if args.tau is None else args.tau, max_k=10, bands="dkw", svg=False,
        readme=args.readme))


def _export(args: argparse.Namespace) -> int:
    cls = study_class(args.study)
    options: dict[str, Any] = {}
    output = args.output
    if _reads(cls, "name"):
        from hplists.study.workflow import EXPORT_NAME, package_list_path

        options["name"] = args.name or EXPORT_NAME
        if args.into_package and args.output:
            raise InvalidParameterError("--into-package and -o name two files; give one")
        if args.into_package:
            output = package_list_path(options["name"])
    elif not output:
        raise InvalidParameterError(f"export-list {cls.name} writes several list files: give "
                                    "the directory with -o DIR")
    if _reads(cls, "partial"):
        options["partial"] = getattr(args, "partial", False)
    study = _open(args, cls)
    try:
        written = study.export_lists(output, overwrite=args.force, **options)
    finally:
        study.store.close()
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    if not written:
        print(cls.nothing_to_export, file=sys.stderr)
    return 0


def _lists(args: argparse.Namespace) -> int:
    cls = study_class(args.study)
    study = _open(args, cls, empty_if_missing=cls.name == "state8")  # state8: the list's points
    try:
        _LISTS[cls.name](study, args.format)
    finally:
        study.store.close()
    return 0


# ---------------------------------------------------------------------------- lists


def _fraction(x: float) -> str:
    return f"{x:.3f}" if math.isfinite(x) else "inf"


def _print_paper001_lists(study: Any, fmt: str) -> None:
    """Paper 001's final and leave-one-out lists."""
    lists = study.lists()
    names = list(lists.matrix.names)
    final = Table(
        [Column("#", key="point", right=True), Column("sample index", key="sample_index",
                                                      right=True),
         Column("learning_rate", right=True, text=lambda x: f"{x:.3g}"),
         Column("beta1", right=True, text=lambda x: f"{x:.4g}"),
         Column("beta2", right=True, text=lambda x: f"{x:.4g}"),
         Column("weight_decay", right=True, text=lambda x: f"{x:.3g}"),
         Column("warmup", key="warmup_fraction", right=True, text=lambda x: f"{x:g}"),
         Column("dropout", key="dropout_rate", right=True, text=lambda x: f"{x:g}"),
         Column("label_smoothing", right=True, text=lambda x: f"{x:g}")],
        [[j, i, p.learning_rate, p.beta1, p.beta2, p.weight_decay, p.warmup_fraction,
          p.dropout_rate, p.label_smoothing]
         for j, (i, p) in enumerate(lists.final_points(), start=1)],
        title=f"final list (k={lists.loo.k}, tau={lists.loo.tau:g}): cost "
        f"{lists.final.cost:.4f}, trains {lists.final.trained[-1]}/{len(names)}", name="final")
    loo = Table(
        [Column("held out", key="workload"),
         Column("sample indices", key="sample_indices", right=True,
                text=lambda xs: ", ".join(map(str, xs))),
         Column("step fraction", key="fraction", right=True, text=_fraction),
         Column("best metric", key="best_metric", right=True, text=lambda x: f"{x:.5g}")],
        [[f.name, [lists.indices[i] for i in f.built.indices], f.fraction, f.best_metric]
         for f in lists.loo.folds],
        title=f"leave-one-out: {lists.loo.num_trained}/{len(names)} held-out workloads trained",
        name="leave_one_out")
    emit([final, loo], fmt, payload=lists.to_json(),
         after=["sample index: the point's 0-based index in the broad sample (as the store "
                "records it)"] if fmt == "table" else [])


def _print_lrfree_defaults(study: Any, fmt: str) -> None:
    """Each (method, horizon)'s calibrated default, and the one per method export-list writes."""
    ordered, shipped = study.calibrated_defaults()
    chosen = {id(sc) for sc in shipped.values()}
    table = Table(
        [Column("method, horizon", key="group"), Column("method"),
         Column("score", right=True, text=lambda x: f"{x:.4f}"),
         Column("targets", right=True, text=lambda n: f"{n}/{len(study.workloads)}"),
         Column("sample index", key="sample_index", right=True,
                text=lambda i: "AlgoPerf" if i < 0 else str(i)),
         Column("exported", text=lambda x: "yes" if x else ""),
         Column("point", text=lambda p: ", ".join(f"{k}={v:.4g}" for k, v in p.items()))],
        [[sc.group, sc.candidate.search.method, sc.score, sc.targets, sc.candidate.index,
          id(sc) in chosen, dict(sc.candidate.point)] for sc in ordered],
        title=f"calibrated defaults ({study.store.location()}): each (method, horizon)'s best "
        "rerun candidate by the AlgoPerf benchmark score", name="defaults")
    notes = ["exported: the default `hplists study export-list lrfree -o DIR` writes for its "
             "method (AdamW and NAdamW are baselines and are not exported); sample index: "
             "the point's 0-based index in its search's sample"]
    if not ordered:
        notes = ["no rerun candidate is scored yet (the candidates stage reruns them)"]
    emit(table, fmt, after=notes)


def _print_state8_points(study: Any, fmt: str) -> None:
    """The points the 8-bit state study trains, with each state."""
    from hplists.hparams import point_dict
    from hplists.store.base import point_id

    points = study.points()
    names = list(point_dict(points[0]))
    table = Table(
        [Column("#", key="point", right=True), Column("point id", key="point_id"),
         *(Column(n, right=True, text=lambda x: f"{x:.4g}") for n in names)],
        [[i, point_id(p), *point_dict(p).values()] for i, p in enumerate(points, start=1)],
        title=f"state8: the first {len(points)} points of {study.config.list_name}, trained "
        f"with 32-bit and 8-bit state, seeds {', '.join(map(str, study.seeds))}", name="points")
    emit(table, fmt)


# What `hplists study lists STUDY` prints (each study's lists have their own shape).
_LISTS = {"paper001": _print_paper001_lists, "lrfree": _print_lrfree_defaults,
          "state8": _print_state8_points}

_ACTIONS = {"run": _run, "plan": _plan, "report": _report, "lists": _lists,
            "export-list": _export}
