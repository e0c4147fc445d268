"""``hplists study [run|plan|lists|export-list]``: the study of paper 001, resumable.

* ``run`` (the default): the stages of :mod:`hplists.study.workflow` (all, or
  ``--stage``), trials into ``--store``; kill it and run it again at will.
* ``plan``: the trials each stage needs, how many are finished, time left.
* ``lists``: the final list and the leave-one-out lists, from the store.
* ``export-list``: the final list as the shipped list ``nadamw-hplists-cpu``.
* ``lrfree``: paper 002's learning-rate-free benchmark (:mod:`hplists.study.lrfree`)
  into ``stores/lrfree.db``; ``--plan`` prints its trials and time left instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hplists.exceptions import InvalidParameterError

if TYPE_CHECKING:
    from hplists.store.base import TrialStore

DEFAULT_STORE = "stores/study.db"
ACTIONS = ("run", "plan", "lists", "export-list", "lrfree")


def register(sub: argparse._SubParsersAction) -> None:
    from hplists.study.workflow import EXPORT_NAME, STAGES

    p = sub.add_parser(
        "study", help="the 200-point study, lists, reruns, variants and baselines (resumable)",
        description="Paper 001's study on the built-in workloads: 200 nadamw-broad points on the "
        "base workloads (study broad200, shared with the targets' calibration), the final and "
        "leave-one-out 5-point lists (tau 2), 5-seed reruns of every list point, the final list "
        "on the variants, and the baselines (learning-rate sweeps, random search, GP Bayesian "
        "optimization, Metz et al., the published lists). Every trial goes to --store; killing "
        "and rerunning the command loses nothing and trains nothing twice.")
    p.add_argument("action", nargs="?", default="run", choices=ACTIONS,
                   help="run (default), plan, lists, export-list, or lrfree (paper 002's "
                   "learning-rate-free benchmark)")
    p.add_argument("--store", default=None,
                   help=f"the trial store (default: {DEFAULT_STORE}, for lrfree "
                   "stores/lrfree.db; created by run)")
    p.add_argument("--plan", action="store_true",
                   help="lrfree: print the trials and the estimated time left, train nothing")
    p.add_argument("--report", metavar="DIR",
                   help="lrfree: write the report (Markdown, HTML, CSV) from the store into DIR, "
                   "train nothing")
    p.add_argument("--export-lists", metavar="DIR",
                   help="lrfree: write each learning-rate-free method's calibrated default and "
                   "its k-point list as named list files into DIR, train nothing")
    p.add_argument("--readme", metavar="FILE",
                   help="lrfree --report: also regenerate the learning-rate-free part of the "
                   "README's Results in FILE")
    p.add_argument("--workloads", metavar="A,B,...",
                   help="base workloads (default: every registered base workload)")
    p.add_argument("--variants", metavar="A,B,...|none",
                   help="variants for the final list (default: the registered variants of the "
                   "base workloads)")
    p.add_argument("--points", type=int, default=200,
                   help="broad sample size, for lrfree points per search (default 200)")
    p.add_argument("--seeds", type=int, default=5,
                   help="rerun seeds 1..S for reruns, variants and baselines (default 5)")
    p.add_argument("--k", type=int, default=5, help="list length (default 5)")
    p.add_argument("--tau", type=float, default=2.0, help="penalty factor tau (default 2)")
    p.add_argument("--stage", default="all", metavar="|".join(("all", *STAGES)),
                   help="stages to run, comma-separated (default: all, in order; lrfree: "
                   "defaults, calibration, candidates)")
    p.add_argument("--baselines", metavar="STUDY,...",
                   help="only these baseline studies (e.g. baseline/metz,baseline/bo-gp-10)")
    p.add_argument("--bo-budgets", default="5,10", metavar="N,...",
                   help="trial budgets of the Bayesian-optimization baselines (default 5,10)")
    p.add_argument("--specs", metavar="FILE",
                   help="workload specs with targets (.json/.toml; see hplists build); default: "
                   "the package's targets file")
    p.add_argument("--errors", default="raise", choices=("raise", "inf"),
                   help="broad trials that ended in error when building lists: stop (default) "
                   "or count them as misses")
    add_executor_args(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="plan/lists: print JSON")
    p.add_argument("-o", "--output", metavar="FILE",
                   help=f"export-list: the file (default: stores/lists/{EXPORT_NAME}.json)")
    p.add_argument("--into-package", action="store_true",
                   help="export-list: write into the package's lists/data (maintainers "
                   "shipping the list)")
    p.add_argument("--name", default=EXPORT_NAME, help=f"export-list: list name ({EXPORT_NAME})")
    p.add_argument("--force", action="store_true",
                   help="export-list: replace a list file with other points")
    p.set_defaults(func=_main)


def _split(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    items = tuple(t.strip() for t in text.split(",") if t.strip())
    if not items:
        raise InvalidParameterError(f"expected a comma-separated list, got {text!r}")
    return items


def _config(args: argparse.Namespace) -> Any:
    from hplists.study.workflow import StudyConfig

    variants = _split(args.variants)
    if variants == ("none",):
        variants = ()
    return StudyConfig(workloads=_split(args.workloads), variants=variants, points=args.points,
                       seeds=args.seeds, k=args.k, tau=args.tau,
                       baselines=_split(args.baselines), errors=args.errors,
                       bo_budgets=tuple(_int(x, "--bo-budgets") for x in
                                        _split(args.bo_budgets) or ()))


def _int(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidParameterError(f"{name} must be comma-separated integers, got {text!r}") from None


def _stages(text: str) -> list[str]:
    from hplists._check import check_choice
    from hplists.study.workflow import STAGES

    items = _split(text) or ()
    if "all" in items:
        return list(STAGES)
    return [check_choice("stage", s, STAGES) for s in items]


def add_executor_args(p: argparse.ArgumentParser) -> None:
    """``--executor``, ``--workers``, ``--ray-address``: where trials train (see :func:`_executor`)."""
    p.add_argument("--executor", default="local", choices=("local", "processes", "ray"),
                   help="where trials train: this process with the engine's batching (default), "
                   "a pool of single-threaded worker processes, or a Ray cluster")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes for --executor processes (default: cores, at most 2)")
    p.add_argument("--ray-address", default=None,
                   help="Ray cluster address for --executor ray (default: start a local one)")


def _executor(args: argparse.Namespace) -> Any:
    if args.workers is not None and args.executor != "processes":
        raise InvalidParameterError(f"--workers goes with --executor processes; --executor "
                                    f"{args.executor} would ignore it")
    if args.executor == "processes":
        from hplists.study.runner import PoolExecutor

        return PoolExecutor(args.workers)
    if args.executor == "ray":
        from hplists.study.ray_runner import RayExecutor

        return RayExecutor(address=args.ray_address)
    return None


def _workflow(args: argparse.Namespace, *, create: bool, executor: Any = None) -> Any:
    from hplists.scoring.specs import load_specs
    from hplists.store import open_store
    from hplists.study.workflow import StudyWorkflow

    config = _config(args)
    if not create and not Path(args.store).is_file():
        raise InvalidParameterError(f"trial store {args.store!r} does not exist")
    if create:
        Path(args.store).parent.mkdir(parents=True, exist_ok=True)
    specs = load_specs(args.specs) if args.specs else None
    store = open_store(args.store, create=create)
    return StudyWorkflow(store, config, specs=specs, executor=executor,
                         progress=not args.no_progress)


def _main(args: argparse.Namespace) -> int:
    if args.action == "lrfree":
        return _lrfree(args)
    if args.plan:
        raise InvalidParameterError("--plan goes with `hplists study lrfree`; for paper 001's study use "
                         "`hplists study plan`")
    if args.store is None:
        args.store = DEFAULT_STORE
    return {"run": _run, "plan": _plan, "lists": _lists, "export-list": _export}[args.action](args)


def _lrfree(args: argparse.Namespace) -> int:
    from rich.table import Table

    from hplists._check import check_choice
    from hplists.cli.terminal import console
    from hplists.scoring.specs import load_specs
    from hplists.store import open_store
    from hplists.study.lrfree import DEFAULT_STORE as LRFREE_STORE
    from hplists.study.lrfree import STAGES, LrFreeConfig, LrFreeStudy

    path = Path(args.store or LRFREE_STORE)
    items = _split(args.stage) or ()
    stages = list(STAGES) if "all" in items else [check_choice("stage", s, STAGES)
                                                  for s in items]
    config = LrFreeConfig(workloads=_split(args.workloads), points=args.points,
                          seeds=args.seeds, k=args.k, tau=args.tau)
    specs = load_specs(args.specs) if args.specs else None
    timing = [open_store(DEFAULT_STORE, create=False)] if Path(DEFAULT_STORE).is_file() else []
    if args.export_lists:
        if not path.is_file():
            raise InvalidParameterError(f"trial store {str(path)!r} does not exist")
        study = LrFreeStudy(open_store(path, create=False), config, specs=specs)
        written = study.export_lists(args.export_lists, overwrite=args.force)
        for w in written:
            print(w)
        if not written:
            print("no learning-rate-free method has a scored representative that reaches a "
                  "target yet (the candidates stage writes them)", file=sys.stderr)
        return 0
    if args.report:
        import time

        from hplists.report import lrfree as lrfree_report

        if not path.is_file():
            raise InvalidParameterError(f"trial store {str(path)!r} does not exist")
        t0 = time.perf_counter()
        study = LrFreeStudy(open_store(path, create=False), config, specs=specs)
        command = f"hplists study lrfree --store {path} --report {args.report}" + (
            f" --points {args.points}" if args.points != 200 else "") + (
            f" --readme {args.readme}" if args.readme else "")
        written = lrfree_report.write(lrfree_report.LrFreeResults(study), args.report,
                                      command=command, readme=args.readme)
        print(f"wrote {len(written)} files to {args.report} in "
              f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
        return 0
    if args.plan:
        if path.is_file():
            store = open_store(path, create=False)
        else:  # nothing recorded yet: plan against an empty store
            import tempfile

            store = open_store(Path(tempfile.mkdtemp()) / "empty.db")
        study = LrFreeStudy(store, config, specs=specs, timing_stores=timing)
        plans = study.plan(stages)
        if args.json:
            print(json.dumps([dataclasses.asdict(p) for p in plans], indent=2))
            return 0
        table = Table(title=f"hplists study lrfree --plan ({path})")
        for col in ("stage", "trials", "done", "left", "steps left", "est. time left"):
            table.add_column(col, justify="left" if col == "stage" else "right")
        for p in plans:
            bound = "" if p.exact else "<= "
            table.add_row(p.stage, f"{bound}{p.trials}", str(p.done),
                          f"{bound}{p.trials - p.done}", f"{p.steps_left:,}",
                          _hours(p.seconds_left))
        total = [p.seconds_left for p in plans]
        console().print(table)
        print(f"total: {_hours(None if None in total else sum(t or 0.0 for t in total))}; "
              "time from the mean recorded seconds per step of each workload (this store "
              "and stores/study.db) times the recorded runs' wall-clock overhead, a trial at "
              "horizon h costing int(h M) steps (M = 3 T, AlgoPerf's self-tuning budget)")
        return 0
    executor = _executor(args)
    path.parent.mkdir(parents=True, exist_ok=True)
    store = open_store(path, create=True)
    study = LrFreeStudy(store, config, specs=specs, executor=executor,
                        progress=not args.no_progress, timing_stores=timing)
    return _run_reporting(study, stages, executor, store)


def _run_reporting(study: Any, stages: list[str], executor: Any, store: TrialStore,
                   on_lists: Any = None) -> int:
    """Runs the stages, printing each stage's counts; closes the executor and the store."""
    failed = 0

    def report(result: Any) -> None:
        nonlocal failed
        failed += result.failed
        if result.stage == "lists" and on_lists is not None:
            on_lists()
            return
        print(f"{result.stage}: trained {result.trained} (diverged {result.diverged}, failed "
              f"{result.failed}), already done {result.already_done}; studies "
              f"{', '.join(result.studies)}", file=sys.stderr)

    try:
        study.run(stages, callback=report)
    finally:
        if executor is not None:
            executor.close()
        store.close()
    if failed:
        print(f"hplists study: {failed} trial(s) failed (their errors are in the store); run "
              "the command again to retry them", file=sys.stderr)
        return 1
    return 0


def _run(args: argparse.Namespace) -> int:
    stages = _stages(args.stage)
    executor = _executor(args)
    wf = _workflow(args, create=True, executor=executor)
    return _run_reporting(wf, stages, executor, wf.store, on_lists=lambda: _print_lists(wf.lists()))


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    return f"{seconds / 3600:.2f} h"


def _plan(args: argparse.Namespace) -> int:
    from rich.table import Table

    from hplists.cli.terminal import console

    wf = _workflow(args, create=False) if Path(args.store).is_file() else None
    if wf is None:  # nothing recorded yet: plan against an empty in-memory store
        import tempfile

        from hplists.store import open_store
        from hplists.study.workflow import StudyWorkflow

        tmp = tempfile.mkdtemp()
        wf = StudyWorkflow(open_store(Path(tmp) / "empty.db"), _config(args), progress=False)
    plans = wf.plan(_stages(args.stage))
    if args.json:
        print(json.dumps([{"stage": p.stage, "studies": list(p.studies), "trials": p.trials,
                           "done": p.done, "exact": p.exact, "seconds_left": p.seconds_left}
                          for p in plans], indent=2))
        return 0
    table = Table(title=f"hplists study plan ({args.store})")
    for col in ("stage", "studies", "trials", "done", "left", "est. time left"):
        table.add_column(col, justify="left" if col in ("stage", "studies") else "right")
    for p in plans:
        bound = "" if p.exact else "<= "
        table.add_row(p.stage, "\n".join(p.studies), f"{bound}{p.trials}", str(p.done),
                      f"{bound}{p.trials - p.done}", _hours(p.seconds_left))
    console().print(table)
    print("time estimates: mean recorded seconds per step of each workload in the store "
          "times the recorded runs' wall-clock overhead (? = no trial recorded yet)")
    return 0


def _fraction(x: float) -> str:
    return f"{x:.3f}" if math.isfinite(x) else "inf"


def _print_lists(lists: Any) -> None:
    from rich.table import Table

    from hplists.cli.terminal import console

    names = list(lists.matrix.names)
    t = Table(title=f"final list (k={lists.loo.k}, tau={lists.loo.tau:g}): cost "
              f"{lists.final.cost:.4f}, trains {lists.final.trained[-1]}/{len(names)}")
    for col in ("#", "sample index", "learning_rate", "beta1", "beta2", "weight_decay",
                "warmup", "dropout", "label_smoothing"):
        t.add_column(col, justify="right")
    for j, (i, p) in enumerate(lists.final_points(), start=1):
        t.add_row(str(j), str(i), f"{p.learning_rate:.3g}", f"{p.beta1:.4g}", f"{p.beta2:.4g}",
                  f"{p.weight_decay:.3g}", f"{p.warmup_fraction:g}", f"{p.dropout_rate:g}",
                  f"{p.label_smoothing:g}")
    con = console()
    con.print(t)
    t = Table(title=f"leave-one-out: {lists.loo.num_trained}/{len(names)} held-out workloads "
              "trained")
    for col in ("held out", "sample indices", "step fraction", "best metric"):
        t.add_column(col, justify="right")
    for f in lists.loo.folds:
        t.add_row(f.name, ", ".join(str(lists.indices[i]) for i in f.built.indices),
                  _fraction(f.fraction), "" if f.best_metric is None else f"{f.best_metric:.5g}")
    con.print(t)


def _lists(args: argparse.Namespace) -> int:
    wf = _workflow(args, create=False)
    try:
        lists = wf.lists()
    finally:
        wf.store.close()
    if args.json:
        print(json.dumps(lists.to_json(), indent=2))
    else:
        _print_lists(lists)
    return 0


def _export(args: argparse.Namespace) -> int:
    from hplists.study.workflow import package_list_path

    if args.into_package and args.output:
        raise InvalidParameterError("--into-package and -o name two files; give one")
    output = package_list_path(args.name) if args.into_package else args.output
    wf = _workflow(args, create=False)
    try:
        named, path = wf.export_list(output, name=args.name, overwrite=args.force)
    finally:
        wf.store.close()
    print(f"wrote {len(named)} points of {named.name!r} to {path}", file=sys.stderr)
    return 0
