"""``hplists build``, ``hplists loo``, ``hplists score``: lists and scores from a trial store.

Each workload needs a metric, a direction, a target and a step budget: from
``--specs FILE`` (JSON or TOML, see :mod:`hplists.scoring.workload_specs`) for imported
results, else from the workload registry.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hplists.cli.grammar import did_you_mean, require_store
from hplists.cli.terminal import Column, Table, add_format, emit
from hplists.exceptions import InvalidParameterError
from hplists.json_numbers import jsonable
from hplists.metric import minimizes
from hplists.scoring.cost import DEFAULT_TAU


def _common(p: argparse.ArgumentParser, *, study: bool = True) -> None:
    p.add_argument("--store", required=True, metavar="PATH", help="the trial store file")
    if study:
        p.add_argument("--study", help="the study to use (required if the store holds several)")
    p.add_argument("--specs", metavar="FILE",
                   help="workload specs (.json/.toml: metric, mode, target, step_budget per "
                   "workload); default: the workload registry")
    p.add_argument("--workloads", metavar="A,B,...", help="use only these workloads")
    p.add_argument("--errors", default="raise", choices=("raise", "inf"),
                   help="trials that ended in error: stop with an error (default), or count "
                   "them as misses")
    add_format(p, what="the tables")


def _list_args(p: argparse.ArgumentParser, k_default: int | None) -> None:
    p.add_argument("--k", type=int, default=k_default, required=k_default is None,
                   help="list length" + (f" (default {k_default})" if k_default else ""))
    p.add_argument("--tau", type=float, default=DEFAULT_TAU,
                   help=f"penalty factor of the cost C_tau (default {DEFAULT_TAU:g})")
    p.add_argument("--exhaustive", action="store_true",
                   help="the exhaustive best set (paper 001, App. D) instead of the greedy list")
    p.add_argument("--drop-incomplete", action="store_true",
                   help="leave out points without a finished trial on every workload")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build", help="build a hyperparameter list from a study's trials (greedy or exhaustive)",
        description="Builds an ordered list of K points minimizing the cost C_tau (paper 001, "
        "Algorithm 1), or the exhaustive best set, from the trials of one study; prints the "
        "points, the prefix costs and the step fraction on each workload.")
    _common(p)
    _list_args(p, None)
    p.add_argument("-o", "--output", metavar="FILE",
                   help="also write the list as a list file (the format of hplists.load_list)")
    p.add_argument("--name", help="the list's name in --output (default: from the study)")
    p.set_defaults(func=_build)

    p = sub.add_parser(
        "loo", help="leave-one-workload-out cross-validation of list construction",
        description="For each workload, builds a list on the other workloads and scores it on "
        "the held-out one (paper 001, Sec. 3.1): step fraction, best metric, and the number "
        "of random-search trials that would do as well on average.")
    _common(p)
    _list_args(p, 5)
    p.add_argument("--sizes", type=int, metavar="MAX_K",
                   help="also print held-out results for list sizes 1..MAX_K (Figure 2)")
    p.add_argument("--taus", metavar="T1,T2,...",
                   help="also print held-out results for these penalty factors (Table 12)")
    p.set_defaults(func=_loo)

    p = sub.add_parser(
        "score", help="performance profiles and AlgoPerf benchmark scores of studies",
        description="Treats each study as an AlgoPerf submission: its time on a workload is "
        "the median over seeds of its best trial's time to target (the best trial as AlgoPerf "
        "picks it: earliest evaluation that reaches the target). Prints the times, the "
        "performance profiles (tau in [1, 4], 100 points; times over 4x the best count as "
        "missed) and the benchmark scores. By default the base workloads are scored, as "
        "AlgoPerf scores its 8 base workloads; architectural variants are never mixed in, "
        "--variants scores them as a set of their own. Trials of another workload version "
        "than the registered one (whose target is used) are left out with a warning.")
    _common(p, study=False)
    p.add_argument("--studies", metavar="A,B,...", help="the submissions (default: every study "
                   "with trials on the scored workloads)")
    p.add_argument("--variants", action="store_true",
                   help="score the architectural variants (a set of their own) instead of the "
                   "base workloads")
    p.add_argument("--time", default="fraction", choices=("fraction", "seconds"),
                   help="time to target as a fraction of the step budget (default) or seconds")
    p.add_argument("--best-trial", default="algoperf", choices=("algoperf", "min"),
                   help="each seed's best trial: the one reaching the target at the earliest "
                   "evaluation, ties to the first trial, and its time (AlgoPerf's rule, "
                   "default); or the smallest time over trials (min). They agree on step "
                   "fractions when the trials share an evaluation grid")
    p.set_defaults(func=_score)


# ---------------------------------------------------------------------------- loading


def _split(text: str | None) -> list[str] | None:
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise InvalidParameterError(f"expected a comma-separated list, got {text!r}")
    return items


def _version_counts(args: argparse.Namespace) -> dict[tuple[str, str, str], int]:
    """``(study, workload, version) -> trials`` of the store, counted by the database."""
    from hplists.store import EmptyStoreError, open_store

    require_store(args.store)
    store = open_store(args.store, create=False)
    try:
        counts = store.version_counts()
    finally:
        store.close()
    if not counts:
        raise EmptyStoreError(f"trial store {args.store!r} has no trials")
    return counts


def _specs(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    from hplists.scoring.workload_specs import load_specs, resolve_specs

    given = load_specs(args.specs) if args.specs else {}
    return resolve_specs(names, given)


def _matrix(args: argparse.Namespace) -> Any:
    """The study's matrix, scored in the store's own query (no curve is read)."""
    from hplists.scoring.matrix import TrialMatrix
    from hplists.store import EmptyStoreError, open_store

    require_store(args.store)
    store = open_store(args.store, create=False)
    try:
        studies = store.studies()
        if not studies:
            raise EmptyStoreError(f"trial store {args.store!r} has no trials")
        study = args.study
        if study is None:
            if len(studies) > 1:
                raise InvalidParameterError(f"the store holds several studies {studies}; choose "
                                            "one with --study")
            study = studies[0]
        elif study not in studies:
            raise EmptyStoreError(f"trial store {args.store!r} has no trials with study="
                                  f"{study!r}; it holds studies {studies}")
        names = _workloads(args, store.workloads(study))
        return TrialMatrix.from_store(
            store, _specs(args, names), study=study, workloads=names, errors=args.errors,
            missing="drop" if args.drop_incomplete else "raise")
    finally:
        store.close()


def _workloads(args: argparse.Namespace, present: Sequence[str]) -> list[str]:
    """The workloads asked for (default: all), checked against the trials before any lookup."""
    present = sorted(present)
    names = _split(args.workloads) or present
    _known("workload(s)", names, present)
    return names


def _known(what: str, names: Sequence[str], present: Sequence[str]) -> None:
    """Every name is one of ``present``, or an error that suggests the closest."""
    unknown = [n for n in names if n not in present]
    if unknown:
        where = "the trials are on" if what.startswith("workload") else "studies are"
        raise InvalidParameterError(f"unknown {what} {unknown}{did_you_mean(unknown[0], present)}"
                                    f"; {where} {list(present)}")


def _fmt(x: float, digits: int = 4) -> str:
    if x is None:
        return "-"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


def _num(digits: int = 4) -> Any:
    return lambda x: _fmt(x, digits)


# ---------------------------------------------------------------------------- build


def _construct(fractions: np.ndarray, k: int, tau: float, exhaustive: bool) -> Any:
    from hplists.lists.exhaustive import exhaustive_set
    from hplists.lists.greedy import greedy_list

    return (exhaustive_set if exhaustive else greedy_list)(fractions, k, tau)


def _build(args: argparse.Namespace) -> int:
    if args.output:  # refused before the list is computed, not after
        from hplists._files import prepare_output

        if Path(args.output).is_file():
            raise InvalidParameterError(f"--output {str(args.output)!r} exists; not overwriting it")
        prepare_output(args.output, what="--output")
    m = _matrix(args)
    built = _construct(m.fractions, args.k, args.tau, args.exhaustive)
    rows = list(built.indices)
    if args.output:
        _write_list(args, m, built)
    payload = {
        "study": m.study, "method": built.method, "k": len(built), "tau": built.tau,
        "cost": built.cost, "workloads": list(m.names),
        "points": [{"point_id": m.point_ids[r], "hparams": dict(m.points[r]),
                    "prefix_cost": c, "prefix_trained": n,
                    "fractions": dict(zip(m.names, m.fractions[r].tolist(), strict=True))}
                   for r, c, n in zip(rows, built.costs, built.trained, strict=True)],
        "list_fractions": dict(zip(m.names, built.fractions.tolist(), strict=True)),
    }
    what = "exhaustive best set" if args.exhaustive else "greedy list"
    keys = sorted({k for r in rows for k in m.points[r]})
    points = Table(
        [Column("#", key="point", right=True), Column("point id", key="point_id"),
         *(Column(k, right=True, text=_num(6)) for k in keys),
         Column("cost C_tau", key="prefix_cost", right=True, text=lambda c: f"{c:.6f}"),
         Column("trained", key="prefix_trained", right=True,
                text=lambda n: f"{n}/{m.shape[1]}")],
        [[i, m.point_ids[r], *(m.points[r].get(k, math.nan) for k in keys), c, n]
         for i, (r, c, n) in enumerate(zip(rows, built.costs, built.trained, strict=True), 1)],
        title="points, in priority order", name="points")
    fractions = []
    for j, spec in enumerate(m.workloads):
        col = m.fractions[rows, j]
        fastest = None if not np.isfinite(col.min()) else 1 + int(np.argmin(col))
        fractions.append([spec.name, f"{spec.metric} ({spec.mode})", spec.target,
                          float(built.fractions[j]), fastest])
    per_workload = Table(
        [Column("workload"), Column("metric"), Column("target", right=True, text=_num(6)),
         Column("list", key="list_fraction", right=True, text=_num(6)),
         Column("fastest point", key="fastest_point", right=True)],
        fractions,
        title="step fraction t/T on each workload (inf: target missed; fastest point: its "
        "# in the list)", name="workloads")
    after = [f"cost C_{built.tau:g} = {built.cost:.6f}; trains "
             f"{built.trained[-1]} of {m.shape[1]} workloads"]
    if m.running:
        after.append(f"note: {m.running} running trial(s) were left out")
    if args.output:
        after.append(f"wrote {args.output}")
    emit([points, per_workload], args.format, payload=payload,
         before=[f"{what} of {len(built)} points from study {m.study!r} "
                 f"({m.shape[0]} points x {m.shape[1]} workloads), tau = {built.tau:g}"],
         after=after)
    return 0


def _write_list(args: argparse.Namespace, m: Any, built: Any) -> None:
    from hplists.hparams import HParams
    from hplists.lists.registry import NamedList

    points = []
    for r in built.indices:
        try:
            points.append(HParams.from_dict(m.points[r]))
        except ValueError as e:
            raise InvalidParameterError(f"--output writes NAdamW lists; point {m.point_ids[r]} is not an "
                             f"HParams point ({e}); use --format json for other points") from None
    name = args.name or f"{m.study}-{built.method}-k{len(built)}"
    named = NamedList(
        name=name,
        description=f"{built.method} list of {len(built)} points built from study {m.study!r} "
        f"on {len(m.names)} workloads, tau={built.tau:g}",
        points=tuple(points),
        source=f"hplists build --store {args.store}",
        provenance={"study": m.study, "workloads": list(m.names), "tau": built.tau,
                    "method": built.method, "cost": built.cost,
                    "point_ids": [m.point_ids[r] for r in built.indices]},
    )
    out = Path(args.output)
    if out.exists():
        raise InvalidParameterError(f"--output {str(out)!r} exists; not overwriting it")
    out.write_text(json.dumps(jsonable(named.to_dict()), indent=2) + "\n")


# ---------------------------------------------------------------------------- loo


def _taus(text: str) -> list[float]:
    out = []
    for t in _split(text) or []:
        try:
            out.append(float(t))
        except ValueError:
            raise InvalidParameterError(f"--taus must be comma-separated numbers, got {t!r}") from None
    return out


def _loo(args: argparse.Namespace) -> int:
    from hplists._check import check_int
    from hplists.lists.loo import Method, leave_one_out, list_size_curve, tau_sweep
    from hplists.scoring.tuning_curve import equivalent_budget

    if args.sizes is not None:  # 0 is refused, not read as "not given"
        check_int("--sizes", args.sizes, low=1)
    m = _matrix(args)
    method: Method = "exhaustive" if args.exhaustive else "greedy"
    loo = leave_one_out(m, args.k, args.tau, method=method)
    rows = []
    for f in loo.folds:
        spec = m.workloads[f.workload]
        minimize = minimizes(spec.mode)
        assert f.best_metric is not None  # leave_one_out of a TrialMatrix sets it for every fold
        n_metric = equivalent_budget(m.best_metric[:, f.workload], f.best_metric,
                                     minimize=minimize)
        n_time = equivalent_budget(np.minimum(m.fractions[:, f.workload], loo.tau),
                                   min(f.fraction, loo.tau), minimize=True)
        rows.append({
            "workload": spec.name, "list": [m.point_ids[i] for i in f.built.indices],
            "train_cost": f.built.cost, "fraction": f.fraction, "trained": f.trained,
            "best_metric": f.best_metric, "metric": spec.metric, "mode": spec.mode,
            "target": spec.target, "random_search_n_metric": n_metric,
            "random_search_n_time": n_time,
        })
    sizes = (list_size_curve(m, args.sizes, args.tau, method=method)
             if args.sizes is not None else None)
    sweep = tau_sweep(m, _taus(args.taus), args.k, method=method) if args.taus else None
    out: dict[str, Any] = {"study": m.study, "method": method, "k": args.k,
                           "tau": loo.tau, "num_points": m.shape[0], "folds": rows,
                           "num_trained": loo.num_trained, "mean_cost": loo.mean_cost}
    if sizes is not None:
        out["list_sizes"] = {"k": sizes.ks.tolist(), "trained": sizes.trained.tolist(),
                             "mean_cost": sizes.mean_cost.tolist()}
    if sweep is not None:
        out["tau_sweep"] = {"tau": sweep.taus.tolist(), "trained": sweep.trained.tolist(),
                            "mean_cost": sweep.mean_cost.tolist()}
    n_text = lambda n: ">P" if n is None else str(n)  # noqa: E731
    tables = [Table(
        [Column("held out", key="workload"),
         Column("list (point ids)", key="list", text=" ".join),
         Column("cost on others", key="train_cost", right=True, text=lambda c: f"{c:.4f}"),
         Column("held-out t/T", key="fraction", right=True, text=_num()),
         Column("best metric", key="best_metric", right=True, text=_num(6)),
         Column("mode", key="mode"),
         Column("target", right=True, text=_num(6)),
         Column("random search n (metric)", key="random_search_n_metric", right=True,
                text=n_text),
         Column("random search n (t/T)", key="random_search_n_time", right=True,
                text=n_text)],
        [[r["workload"], r["list"], r["train_cost"], r["fraction"], r["best_metric"],
          r["mode"], r["target"], r["random_search_n_metric"], r["random_search_n_time"]]
         for r in rows],
        title="each list is built without the held-out workload",
        caption="random search n: the fewest random-search trials (without replacement, from "
        f"the {m.shape[0]} points) whose expected best is as good as the list (>P: none)",
        name="folds")]
    trained = Column("held-out trained", key="trained", right=True,
                     text=lambda n: f"{n}/{m.shape[1]}")
    cost = Column("mean held-out cost", key="mean_cost", right=True, text=lambda c: f"{c:.4f}")
    if sizes is not None:
        tables.append(Table(
            [Column("k", right=True), trained, cost],
            list(zip(sizes.ks.tolist(), sizes.trained.tolist(), sizes.mean_cost.tolist(),
                     strict=True)),
            title="held-out results against list size (paper 001, Figure 2)",
            name="list_sizes"))
    if sweep is not None:
        tables.append(Table(
            [Column("tau", right=True, text=lambda t: f"{t:g}"), trained, cost],
            list(zip(sweep.taus.tolist(), sweep.trained.tolist(), sweep.mean_cost.tolist(),
                     strict=True)),
            title="held-out results against the penalty factor (paper 001, Table 12)",
            name="tau_sweep"))
    emit(tables, args.format, payload=out,
         before=[f"leave-one-workload-out: {method} lists of {args.k} points, tau = "
                 f"{loo.tau:g}, study {m.study!r} ({m.shape[0]} points x {m.shape[1]} "
                 "workloads)"],
         after=[f"held-out workloads trained: {loo.num_trained} of {m.shape[1]}; mean "
                f"held-out cost min(t/T, tau): {loo.mean_cost:.4f}"])
    return 0


# ---------------------------------------------------------------------------- score


#: AlgoPerf's number of base workloads (``NUM_BASE_WORKLOADS`` of its
#: ``scoring/performance_profile.py``), the denominator of its ``rho``.
ALGOPERF_BASE_WORKLOADS = 8


def _registered(names: Sequence[str]) -> dict[str, Any]:
    """The registered workloads among ``names`` (name -> instance)."""
    from hplists.workloads.registry import get_workload, workload_names

    known = set(workload_names())
    return {n: get_workload(n) for n in names if n in known}


def _score_selection(args: argparse.Namespace, counts: Mapping[tuple[str, str, str], int]
                     ) -> tuple[list[str], str, dict[str, str], list[dict[str, Any]]]:
    """The workloads ``hplists score`` scores, "base" or "variants", the version each must
    have (workload -> version) and the trials that leaves out.

    ``counts`` is ``(study, workload, version) -> trials``. Base workloads and
    variants are never mixed: the default is every base workload of the
    trials (``--variants``: every variant), and a ``--workloads`` list naming
    both is an error. A registered workload's target is for its registered
    version, so trials of other versions are left out (and returned, to be
    named in a warning); for a workload known only from ``--specs``, trials
    of several versions are an error.
    """
    present = sorted({w for _, w, _ in counts})
    registered = _registered(present)
    variants = [w for w in present if w in registered and registered[w].base is not None]
    base = [w for w in present if w not in variants]
    asked = _split(args.workloads)
    if asked:
        _known("workload(s)", asked, present)
        got_base = [w for w in asked if w not in variants]
        got_var = [w for w in asked if w in variants]
        if got_base and got_var:
            raise InvalidParameterError(
                f"--workloads mixes base workloads {got_base} with architectural variants "
                f"{got_var}; AlgoPerf scores base workloads only, so they are never mixed: "
                "score the variants separately (--variants, or --workloads with variants only)")
        if args.variants and got_base:
            raise InvalidParameterError(f"--variants scores architectural variants, but --workloads names "
                             f"base workloads {got_base}; the variants are {variants}")
        names = list(asked)
        kind = "variants" if got_var else "base"
    elif args.variants:
        if not variants:
            raise InvalidParameterError(f"--variants: the trials are on no architectural variant (they "
                             f"are on {present})")
        names, kind = variants, "variants"
    else:
        if not base:
            raise InvalidParameterError(f"the trials are on architectural variants only {variants}; "
                             "score them with --variants")
        names, kind = base, "base"
    given = set()
    if args.specs:
        from hplists.scoring.workload_specs import load_specs

        given = set(load_specs(args.specs))
    expected = {w: str(registered[w].version) for w in names
                if w in registered and w not in given}
    excluded = [{"study": st, "workload": w, "version": v, "trials": n,
                 "target_version": expected[w]}
                for (st, w, v), n in sorted(counts.items())
                if w in expected and v != expected[w]]
    by_workload: dict[str, set[str]] = defaultdict(set)
    for _, w, v in counts:
        if w in names and w not in expected:
            by_workload[w].add(v)
    mixed = {w: sorted(v) for w, v in by_workload.items() if len(v) > 1}
    if mixed:
        raise InvalidParameterError(f"the trials of workload(s) {sorted(mixed)} come from several workload "
                         f"versions {mixed}, and the specs file does not say which version its "
                         "target is for; choose the studies of one version (--studies)")
    return names, kind, expected, excluded


def _score(args: argparse.Namespace) -> int:
    from hplists.scoring.matrix import submission_times_from_store
    from hplists.scoring.profiles import performance_profiles
    from hplists.store import open_store

    studies = _split(args.studies)
    counts = _version_counts(args)  # no trial is read: the store scores them in its own query
    if studies:
        _known("study(ies)", studies, sorted({st for st, _, _ in counts}))
        counts = {k: n for k, n in counts.items() if k[0] in studies}
    all_studies = sorted({st for st, _, _ in counts})
    names, kind, versions, excluded = _score_selection(args, counts)
    if excluded:
        print("warning: left out trials of other workload versions than the one the target is "
              "for: " + "; ".join(
                  f"study {e['study']!r} on {e['workload']} version {e['version']} "
                  f"({e['trials']} trials; the target is for version {e['target_version']})"
                  for e in excluded), file=sys.stderr)
    left = sorted({st for st, w, v in counts if w in names and versions.get(w, v) == v})
    if studies:
        empty = [s for s in studies if s not in left]
        if empty:
            raise InvalidParameterError(f"study(ies) {empty} have no trials to score on {names} (after "
                             "leaving out other workload versions)")
    elif not left:
        raise InvalidParameterError(f"no trials to score on {names} (after leaving out other workload "
                         "versions)")
    store = open_store(args.store, create=False)
    try:
        subs = submission_times_from_store(
            store, _specs(args, names), studies=studies or left, workloads=names,
            versions=versions, time=args.time, errors=args.errors, best_trial=args.best_trial)
    finally:
        store.close()
    prof = performance_profiles(subs.times)
    scores = prof.scores
    order = np.argsort(-scores, kind="stable")
    marks = (1.0, 1.5, 2.0, 3.0, 4.0)
    at = [int(np.argmin(np.abs(prof.taus - x))) for x in marks]
    payload = {
        "time": subs.unit, "best_trial": args.best_trial,
        "workload_set": kind,
        "workloads": list(subs.workloads), "taus": prof.taus.tolist(),
        "excluded": excluded,
        "submissions": [
            {"study": subs.names[i], "score": float(scores[i]),
             "times": dict(zip(subs.workloads, subs.times[i].tolist(), strict=True)),
             "seeds": dict(zip(subs.workloads, subs.seeds[i].tolist(), strict=True)),
             "profile": prof.rho[i].tolist()} for i in order],
    }
    unit = "t/T" if subs.unit == "fraction" else "seconds"
    rule = ("best trial: earliest evaluation to reach the target, as AlgoPerf"
            if args.best_trial == "algoperf" else "fastest trial")
    times = Table(
        [Column("submission", key="study"),
         *(Column(w, right=True, text=_num()) for w in subs.workloads)],
        [[subs.names[i], *subs.times[i].tolist()] for i in order],
        title=f"time to target ({unit}; median over seeds of each study's {rule})",
        name="times")
    profiles = Table(
        [Column("submission", key="study"),
         *(Column(f"tau={x:g}", right=True, text=lambda r: f"{r:.3f}") for x in marks),
         Column("benchmark score", key="score", right=True, text=lambda x: f"{x:.4f}")],
        [[subs.names[i], *(float(prof.rho[i, j]) for j in at), float(scores[i])]
         for i in order],
        title="performance profiles rho(tau): fraction of workloads within tau x the best",
        name="profiles")
    notes = []
    if not studies:
        unscored = sorted(set(all_studies) - set(subs.names))
        if unscored:
            notes.append(f"note: studies without trials on these {len(subs.workloads)} "
                         f"workloads are not scored: {', '.join(unscored)}")
    missing = [(subs.names[i], subs.workloads[j]) for i, j in np.argwhere(subs.seeds == 0)]
    if missing:
        notes.append("note: no finished trials (counted as missed) for "
                     + ", ".join(f"{s} on {w}" for s, w in missing))
    n = len(subs.workloads)
    what = "architectural variants" if kind == "variants" else "base workloads"
    notes.append(f"score: area under rho on tau in [1, 4] (trapezoid, 100 points) / 3, as "
                 f"AlgoPerf computes it, over these {n} {what}; it depends on the set of "
                 "submissions compared")
    if kind == "variants":
        notes.append("note: the variants are scored as a set of their own; AlgoPerf uses "
                     "held-out variants only to void a base workload's time when the variant "
                     "misses its target, and never scores them as columns")
    elif n != ALGOPERF_BASE_WORKLOADS:
        notes.append(f"note: rho divides by the {n} workloads scored here; AlgoPerf always "
                     f"divides by its {ALGOPERF_BASE_WORKLOADS} base workloads")
    emit([times, profiles], args.format, payload=payload, after=notes)
    return 0
