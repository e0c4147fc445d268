"""Moving trials in and out of a store: CSV, JSON and Parquet export; CSV, Parquet and JSON import.

**The long table** (CSV and Parquet). One row per evaluation of a trial; a
trial without evaluations has one row with an empty ``step``. Columns:

========================  =============================================================
``study``                 study name (import: may instead be given as ``study=``)
``workload``              workload name (required)
``workload_version``      optional, default ``"1"``
``seed``                  training seed, optional, default 0
``point_id``              optional on import; if given it must match the point
``point_index``           optional position of the point in the study
``status``                ``complete`` (default), ``diverged``, ``error`` (or ``running``)
``message``               optional reason for ``diverged`` / ``error``
``hp.<name>``             one column per hyperparameter (export always prefixes)
``step``                  evaluated step (integer)
``seconds``               wall-clock seconds at the evaluation (optional, empty = NaN)
``train_loss``            training loss at the evaluation (optional, empty = NaN)
``metric.<name>``         one column per validation metric (export always prefixes)
========================  =============================================================

On import, unprefixed columns are hyperparameters if they are
:class:`~hplists.HParams` fields or AlgoPerf keys (``learning_rate``,
``one_minus_beta1``, ``beta2``, ``warmup_factor``, ...), and validation
metrics otherwise. The rows of one trial share study, workload, seed and
hyperparameter values; its status and message must agree across them. A
point whose columns name ``learning_rate``, ``beta1`` (or
``one_minus_beta1``) and ``beta2`` and nothing outside HParams / AlgoPerf
names is read as an HParams (absent fields take their defaults, e.g.
``eps = 1e-8``), so it gets the same point id as the same point trained here;
any other set of columns is a plain point. Empty cells are NaN; ``inf`` and
``-inf`` are read as such. Only finished trials are imported: ``running``
trials (in-flight rows of a live study's export) are counted and skipped, and
trials already finished in the store are skipped (imports are idempotent).

**JSON** export is ``{"format": "hplists-trials", "version": 1, "trials":
[...]}`` with one object per trial (:meth:`TrialRecord.to_json`): strict JSON
with NaN as ``null`` and infinities as ``"Infinity"`` / ``"-Infinity"``.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from hplists._check import check_choice
from hplists._files import atomic_open
from hplists.curves import Curve, Status
from hplists.exceptions import InvalidParameterError
from hplists.hparams import ALGOPERF_KEYS, HParams
from hplists.store.base import (
    EmptyStoreError,
    TrialRecord,
    TrialStore,
    canonical_point,
    check_status,
    point_id,
    utc_now,
)

__all__ = [
    "EXPORT_FORMATS",
    "ImportResult",
    "export_csv",
    "export_json",
    "export_parquet",
    "export_trials",
    "import_csv",
    "import_json",
    "import_parquet",
    "import_trials",
    "long_rows",
]

EXPORT_FORMATS = ("csv", "json", "parquet")
_TRIAL_COLUMNS = ("study", "workload", "workload_version", "seed", "point_id", "point_index",
                  "status", "message")
_EVAL_COLUMNS = ("step", "seconds", "train_loss")
_RESERVED = set(_TRIAL_COLUMNS) | set(_EVAL_COLUMNS)
_HPARAMS_FIELDS = {f.name for f in dataclasses.fields(HParams)}
_HP_NAMES = _HPARAMS_FIELDS | set(ALGOPERF_KEYS) | {"one_minus_beta2"}


@dataclasses.dataclass(frozen=True)
class ImportResult:
    """What an import did.

    Attributes:
        trials: finished trials read.
        written: trials written (the others were already finished in the store).
        in_flight: ``running`` trials in the input (an export of a live study),
            which carry no result and are not imported.
    """

    trials: int
    written: int
    in_flight: int = 0

    @property
    def skipped(self) -> int:
        """Finished trials not written because the store already had them."""
        return self.trials - self.written


# ----- export --------------------------------------------------------------------------------


def _records(store: TrialStore, study: str | None) -> list[TrialRecord]:
    if isinstance(store, (str, os.PathLike)):
        raise InvalidParameterError("pass an open store (hplists.store.open_store(path)), not a path")
    return store.require_trials(study=study)


@contextlib.contextmanager
def _atomic(path: str | os.PathLike[str], mode: str = "w") -> Iterator[Any]:
    """Writes to a temporary file next to ``path`` and renames it: no half-written exports."""
    path = Path(path)
    if not path.parent.exists():
        raise InvalidParameterError(f"output directory {str(path.parent)!r} does not exist")
    with atomic_open(path, mode) as f:
        yield f


def long_rows(records: Iterable[TrialRecord]) -> tuple[list[str], list[dict[str, Any]]]:
    """The long table of :mod:`hplists.store.io` as (columns, rows of Python values).

    Example:
        >>> rec = TrialRecord("s", "", 0, {"lr": 0.1}, "w", "1", 0, Status.COMPLETE, "",
        ...                   Curve([5], [1.0], [0.3], {"acc": [0.9]}), {})
        >>> cols, rows = long_rows([rec])
        >>> cols[-5:], rows[0]["metric.acc"]
        (['hp.lr', 'step', 'seconds', 'train_loss', 'metric.acc'], 0.9)
    """
    records = list(records)
    hp_names = sorted({k for r in records for k in r.point})
    metric_names = sorted({k for r in records if r.curve is not None for k in r.curve.metrics})
    columns = [*_TRIAL_COLUMNS, *(f"hp.{k}" for k in hp_names), *_EVAL_COLUMNS,
               *(f"metric.{k}" for k in metric_names)]
    rows: list[dict[str, Any]] = []
    for r in records:
        base: dict[str, Any] = {
            "study": r.study, "workload": r.workload, "workload_version": r.workload_version,
            "seed": r.seed, "point_id": r.point_id or point_id(r.point),
            "point_index": r.point_index, "status": r.status.value, "message": r.message,
        }
        base.update({f"hp.{k}": v for k, v in r.point.items()})
        evals = r.curve.rows() if r.curve is not None else []
        if not evals:
            rows.append({**base, "step": None})
        for e in evals:
            row = dict(base)
            row.update({"step": e["step"], "seconds": e["seconds"], "train_loss": e["train_loss"]})
            row.update({f"metric.{k}": e[k] for k in r.curve.metrics})  # type: ignore[union-attr]
            rows.append(row)
    return columns, rows


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        return repr(v)  # shortest round-trip form; inf -> 'inf'
    return str(v)


def export_csv(store: TrialStore, path: str | os.PathLike[str], *, study: str | None = None
               ) -> int:
    """Writes the long table (see the module docstring) as CSV; returns the number of trials.

    An empty store (or study) is an :class:`~hplists.store.EmptyStoreError`.
    """
    records = _records(store, study)
    columns, rows = long_rows(records)
    with _atomic(path) as f:
        w = csv.writer(f)
        w.writerow(columns)
        for row in rows:
            w.writerow([_cell(row.get(c)) for c in columns])
    return len(records)


def export_json(store: TrialStore, path: str | os.PathLike[str], *, study: str | None = None
                ) -> int:
    """Writes every trial (with provenance) as strict JSON; returns the number of trials."""
    records = _records(store, study)
    doc = {"format": "hplists-trials", "version": 1, "exported_at": utc_now(),
           "store": store.location(), "trials": [r.to_json() for r in records]}
    with _atomic(path) as f:
        json.dump(doc, f, allow_nan=False, indent=1)
        f.write("\n")
    return len(records)


def export_parquet(store: TrialStore, path: str | os.PathLike[str], *,
                   study: str | None = None) -> int:
    """Writes the long table as Parquet (needs ``pyarrow``: ``pip install hplists[parquet]``)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise InvalidParameterError(
            "Parquet export needs pyarrow; install it with `pip install hplists[parquet]`"
        ) from None
    records = _records(store, study)
    columns, rows = long_rows(records)
    types = {"study": pa.string(), "workload": pa.string(), "workload_version": pa.string(),
             "seed": pa.int64(), "point_id": pa.string(), "point_index": pa.int64(),
             "status": pa.string(), "message": pa.string(), "step": pa.int64()}
    schema = pa.schema([(c, types.get(c, pa.float64())) for c in columns])
    table = pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows],
                                 schema=schema)
    with _atomic(path, "wb") as f:
        pq.write_table(table, f)
    return len(records)


def export_trials(store: TrialStore, path: str | os.PathLike[str], fmt: str = "csv", *,
                  study: str | None = None) -> int:
    """Exports in format ``fmt`` (``csv``, ``json`` or ``parquet``); returns the number of trials."""
    fmt = check_choice("format", fmt, EXPORT_FORMATS)
    return {"csv": export_csv, "json": export_json, "parquet": export_parquet}[fmt](
        store, path, study=study)


# ----- import --------------------------------------------------------------------------------


def _num(v: Any, where: str, column: str) -> float:
    if v is None:
        return math.nan
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        try:
            return float(v)
        except OverflowError:  # an integer too large for a float
            raise InvalidParameterError(f"{where}, column {column!r}: {v!r} is too large for a "
                                        "float") from None
    if not isinstance(v, str):  # e.g. a numpy number, or a list from a hostile file
        try:
            return float(v)
        except (OverflowError, TypeError, ValueError):
            raise InvalidParameterError(f"{where}, column {column!r}: not a number: "
                                        f"{v!r}") from None
    s = v.strip()
    if s == "":
        return math.nan
    try:
        return float(s)
    except ValueError:
        raise InvalidParameterError(f"{where}, column {column!r}: not a number: {v!r}") from None


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v.strip() == "") or (
        isinstance(v, float) and math.isnan(v))


def _make_point(hp: dict[str, float], where: str) -> dict[str, float]:
    names = set(hp)
    try:
        if names <= _HPARAMS_FIELDS and {"learning_rate", "beta1", "beta2"} <= names:
            return HParams.from_dict(hp).to_dict()
        if names <= _HP_NAMES and "learning_rate" in names and (
            {"beta1", "one_minus_beta1"} & names) and ({"beta2", "one_minus_beta2"} & names):
            d = dict(hp)
            if "one_minus_beta2" in d:
                d["beta2"] = 1.0 - d.pop("one_minus_beta2")
            if "warmup_factor" not in d and "warmup_fraction" in d:
                d["warmup_factor"] = d.pop("warmup_fraction")
            d.setdefault("weight_decay", 0.0)
            d.setdefault("warmup_factor", 0.0)
            eps = d.pop("eps", 1e-8)
            return HParams.from_algoperf(d, eps=eps).to_dict()
    except ValueError as e:
        raise InvalidParameterError(f"{where}: {e}") from None
    return canonical_point(hp)


def import_trials(store: TrialStore, rows: Iterable[Mapping[str, Any]], *,
                  study: str | None = None, source: str = "") -> ImportResult:
    """Imports long-table rows (dicts of strings or numbers); see the module docstring.

    Example:
        >>> import tempfile, os
        >>> from hplists.store import open_store
        >>> s = open_store(os.path.join(tempfile.mkdtemp(), "i.db"))
        >>> rows = [{"study": "ext", "workload": "w", "seed": "0", "learning_rate": "0.01",
        ...          "beta1": "0.9", "beta2": "0.99", "step": str(k), "error_rate": str(1 / k)}
        ...         for k in (1, 2)]
        >>> import_trials(s, rows)
        ImportResult(trials=1, written=1, in_flight=0)
        >>> s.trials()[0].curve.metric("error_rate").tolist(), s.trials()[0].point["eps"]
        ([1.0, 0.5], 1e-08)
    """
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    columns: list[str] | None = None
    point_cache: dict[tuple[tuple[str, str, Any], ...], tuple[dict[str, float], str, str]] = {}
    hp_cols: list[tuple[str, str]] = []
    metric_cols: list[tuple[str, str]] = []
    for i, row in enumerate(rows, start=2):  # row 1 is a CSV header
        where = f"{source or 'input'}, row {i}"
        if columns is None:
            columns = list(row)
            _check_columns(columns, study, source)
            for col in columns:
                if col is None or col in _RESERVED:
                    continue
                name, kind = _classify(col)
                (hp_cols if kind == "hp" else metric_cols).append((col, name))
        st = row.get("study") if not _blank(row.get("study")) else study
        if _blank(st):
            raise InvalidParameterError(f"{where}: empty study (pass study= to fill it)")
        wl = row.get("workload")
        if _blank(wl):
            raise InvalidParameterError(f"{where}: empty workload")
        seed_v = row.get("seed")
        seed = 0 if _blank(seed_v) else _int(seed_v, where, "seed")
        raw_hp = tuple((col, name, row.get(col)) for col, name in hp_cols
                       if not _blank(row.get(col)))
        cached = point_cache.get(raw_hp)
        if cached is None:
            if not raw_hp:
                raise InvalidParameterError(f"{where}: no hyperparameter values (columns 'hp.<name>' or "
                                 f"HParams / AlgoPerf names)")
            hp = {name: _num(v, where, col) for col, name, v in raw_hp}
            point = _make_point(hp, where)
            cached = point_cache[raw_hp] = (point, point_id(point),
                                            json.dumps(point, sort_keys=True))
        point, pid, point_key = cached
        metrics: dict[str, float] = {}
        for col, name in metric_cols:
            v = row.get(col)
            metrics[name] = math.nan if _blank(v) else _num(v, where, col)
        key = (str(st), str(wl), seed, point_key)
        g = groups.get(key)
        status_v = row.get("status")
        status = Status.COMPLETE if _blank(status_v) else _status(status_v, where)
        message = "" if _blank(row.get("message")) else str(row.get("message"))
        wv = "1" if _blank(row.get("workload_version")) else _version(row.get("workload_version"))
        pi_v = row.get("point_index")
        index = None if _blank(pi_v) else _int(pi_v, where, "point_index")
        pid_v = row.get("point_id")
        if not _blank(pid_v) and str(pid_v) != pid:
            raise InvalidParameterError(f"{where}: point_id {pid_v!r} does not match the hyperparameter "
                             f"columns (their id is {pid!r})")
        if g is None:
            g = groups[key] = {"study": str(st), "workload": str(wl), "seed": seed,
                               "point": point, "status": status, "message": message,
                               "workload_version": wv, "point_index": index, "evals": [],
                               "first_row": i, "seen_metrics": set()}
        else:
            for field, value in (("status", status), ("message", message),
                                 ("workload_version", wv), ("point_index", index)):
                if g[field] != value:
                    raise InvalidParameterError(
                        f"{where}: {field} {value!r} differs from {g[field]!r} in row "
                        f"{g['first_row']} of the same trial (study={st!r}, workload={wl!r}, "
                        f"seed={seed})"
                    )
        step_v = row.get("step")
        if not _blank(step_v):
            step = _int(step_v, where, "step")
            if step < 0:
                raise InvalidParameterError(f"{where}, column 'step': must be >= 0, got {step_v!r}")
            ev = {"step": step,
                  "seconds": _num(row.get("seconds"), where, "seconds"),
                  "train_loss": _num(row.get("train_loss"), where, "train_loss"),
                  **metrics}
            g["evals"].append((i, ev))
            g["seen_metrics"].update(k for k, v in metrics.items() if not math.isnan(v))
    if columns is None:
        raise InvalidParameterError(f"{source or 'input'} has no rows")
    records = []
    in_flight = 0
    for g in groups.values():
        if g["status"] is Status.RUNNING:
            in_flight += 1
            continue
        evals = [ev for _, ev in g["evals"]]
        steps = [ev["step"] for ev in evals]
        if len(set(steps)) != len(steps):
            dup = sorted({s for s in steps if steps.count(s) > 1})
            raise InvalidParameterError(f"{source or 'input'}: trial (study={g['study']!r}, "
                                        f"workload={g['workload']!r}, seed={g['seed']}) has "
                                        f"step(s) {dup} more than once")
        # A metric column left empty for the whole trial was not recorded for it.
        keep = g["seen_metrics"]
        evals = [{k: v for k, v in ev.items() if k in _EVAL_COLUMNS or k in keep} for ev in evals]
        curve: Curve | None
        if evals:
            curve = Curve.from_rows(evals, status=g["status"], message=g["message"])
        elif g["status"] is Status.ERROR:
            curve = None
        else:
            curve = Curve([], [], [], {}, g["status"], g["message"])
        records.append(TrialRecord(
            g["study"], point_id(g["point"]), g["point_index"], g["point"], g["workload"],
            g["workload_version"], g["seed"], g["status"], g["message"], curve,
            {"imported_from": source, "first_row": g["first_row"]} if source else {}))
    return ImportResult(trials=len(records), written=store.put_many(records), in_flight=in_flight)


def _check_columns(columns: list[str], study: str | None, source: str) -> None:
    where = source or "input"
    if "workload" not in columns:
        raise InvalidParameterError(f"{where}: missing required column 'workload' (columns are {columns})")
    if "study" not in columns and not study:
        raise InvalidParameterError(f"{where}: missing column 'study' (or pass a study name to fill it)")
    if "step" not in columns:
        raise InvalidParameterError(f"{where}: missing required column 'step' (columns are {columns})")


def _classify(col: str) -> tuple[str, str]:
    if col.startswith("hp."):
        return col[3:], "hp"
    if col.startswith("metric."):
        return col[7:], "metric"
    return col, "hp" if col in _HP_NAMES else "metric"


def _int(v: Any, where: str, column: str) -> int:
    x = _num(v, where, column)
    if not math.isfinite(x) or x != int(x):
        raise InvalidParameterError(f"{where}, column {column!r}: must be an integer, got {v!r}")
    return int(x)


def _version(v: Any) -> str:
    if isinstance(v, float) and v == int(v):
        v = int(v)
    return str(v).strip()


def _status(v: Any, where: str) -> Status:
    try:
        return check_status(str(v).strip())
    except ValueError as e:
        raise InvalidParameterError(f"{where}, column 'status': {e}") from None


def import_csv(store: TrialStore, path: str | os.PathLike[str], *, study: str | None = None
               ) -> ImportResult:
    """Imports a long-table CSV (columns: module docstring); idempotent.

    ``study`` fills the study of rows that have none (or a file without a
    ``study`` column).
    """
    path = Path(path)
    if path.is_dir():
        raise InvalidParameterError(f"CSV file {str(path)!r} is a directory, not a file")
    if not path.is_file():
        raise InvalidParameterError(f"no CSV file at {str(path)!r}")
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            try:
                if reader.fieldnames is None:
                    raise InvalidParameterError(f"{str(path)!r} is empty (expected a CSV header)")
                dupes = sorted({c for c in reader.fieldnames if reader.fieldnames.count(c) > 1})
                if dupes:
                    raise InvalidParameterError(f"{str(path)!r}: duplicate column(s) {dupes}")
                return import_trials(store, reader, study=study, source=path.name)
            except csv.Error as e:  # e.g. a field over the csv module's 128 KiB limit
                raise InvalidParameterError(f"CSV file {str(path)!r}, line {reader.line_num}: "
                                            f"{e}") from None
    except UnicodeDecodeError as e:
        raise InvalidParameterError(f"CSV file {str(path)!r} is not UTF-8 text (byte {e.start}: "
                                    f"{e.reason})") from None
    except OSError as e:
        raise InvalidParameterError(f"CSV file {str(path)!r} cannot be read: "
                                    f"{e.strerror or type(e).__name__}") from None


def import_parquet(store: TrialStore, path: str | os.PathLike[str], *,
                   study: str | None = None) -> ImportResult:
    """Imports a long-table Parquet file (as :func:`export_parquet` writes); needs pyarrow."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InvalidParameterError("Parquet import needs pyarrow (`pip install hplists[parquet]`)") from None
    path = Path(path)
    if not path.is_file():
        raise InvalidParameterError(f"no Parquet file at {str(path)!r}")
    return import_trials(store, pq.read_table(path).to_pylist(), study=study, source=path.name)


def import_json(store: TrialStore, path: str | os.PathLike[str]) -> ImportResult:
    """Imports a JSON export (:func:`export_json`); idempotent; provenance is carried over."""
    from hplists._files import load_json

    path = Path(path)
    doc = load_json(path, "JSON trials file")
    if not isinstance(doc, dict) or doc.get("format") != "hplists-trials":
        raise InvalidParameterError(f"{str(path)!r} is not an hplists JSON export "
                         f"(expected format 'hplists-trials')")
    if doc.get("version") != 1 or isinstance(doc.get("version"), bool):
        raise InvalidParameterError(f"{str(path)!r}: unsupported export version {doc.get('version')!r}")
    records = []
    trials = doc.get("trials", [])
    if not isinstance(trials, list):
        raise InvalidParameterError(f"{str(path)!r}: trials must be a list, got "
                                    f"{type(trials).__name__}")
    for i, t in enumerate(trials):
        try:
            records.append(TrialRecord.from_json(t))
        except ValueError as e:  # InvalidParameterError naming the field
            raise InvalidParameterError(f"{str(path)!r}, trial {i}: {e}") from None
    if not records:
        raise EmptyStoreError(f"{str(path)!r} holds no trials")
    finished = [r for r in records if r.status is not Status.RUNNING]
    return ImportResult(trials=len(finished), written=store.put_many(finished),
                        in_flight=len(records) - len(finished))
