"""Does a list survive 8-bit optimizer state? One list trained with 32-bit and 8-bit NAdamW state.

The study (``hplists study run state8``) trains the first ``k`` (5) points of
``nadamw-hplists-cpu`` with seeds ``1..seeds`` (3) on every built-in workload
(the 8 base workloads and their 8 variants) twice, side by side:

* **32-bit**: the list's own update rule, the engine's NAdamW (``optax.nadamw``),
  in study ``run/nadamw-hplists-cpu``;
* **8-bit**: the same points and seeds with rule ``nadamw8``
  (:mod:`hplists.optim.optax_nadamw8`: the moments of every parameter tensor of
  at least 4096 elements stored as block-wise 8-bit codes, Dettmers et al. 2021),
  in study ``run/nadamw-hplists-cpu/nadamw8``.

These are the studies ``hplists evaluate --list nadamw-hplists-cpu [--update-rule
nadamw8]`` records a list's trials in (:func:`hplists.study.evaluate.list_study`),
so the two commands share trials. With ``steps`` every trial trains that many
steps instead of its workload's budget (a quick run; the studies get a
``/T<steps>`` suffix). Every trial goes through the one trial loop
(:func:`hplists.trials.loop.run`): killing the process and running the command
again trains nothing twice.

A second stage, ``quantization``, measures on one workload (``ctr_dlrm``, whose
embedding tables and layers put 98% of its parameters in 8-bit state) how far
the 8-bit state is from the float32 moments it encodes, at every evaluation
step (:func:`measure_quantization`), and writes it as JSON next to the store
(``stores/state8_quantization.json`` for ``stores/state8.db``); a finished file
is kept, a partial one is completed.

Example:
    >>> import os, tempfile
    >>> from hplists.store import open_store
    >>> st = StateBitsStudy(open_store(os.path.join(tempfile.mkdtemp(), "s.db")),
    ...                     StateBitsConfig(workloads=("ctr_dlrm", "image_resnet")))
    >>> [(p.stage, p.trials, p.done) for p in st.plan(["train"])]
    [('train', 60, 0)]
    >>> st.study("8-bit", st.workloads[0])
    'run/nadamw-hplists-cpu/nadamw8'
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from hplists._check import check_int
from hplists._files import atomic_write
from hplists.curves import Status
from hplists.exceptions import InvalidParameterError
from hplists.json_numbers import decode_float, encode_float
from hplists.progress import StageBar, StepProgressFn
from hplists.store.base import TrialStore, point_id
from hplists.study.evaluate import list_study
from hplists.study.staged import StagePlan, StageResult, StageWork, Study
from hplists.trials import Executor, StaticSource, TrainTask

__all__ = ["DEFAULT_STORE", "EIGHT_BIT_SLOWDOWN", "LIST_NAME", "QUANTIZATION_COST",
           "QUANTIZATION_WORKLOAD", "SIDES", "STAGES", "StateBitsConfig", "StateBitsStudy",
           "builtin_workloads", "measure_quantization", "parameter_counts", "quantization_file",
           "read_measurement"]

STAGES = ("quantization", "train")
DEFAULT_STORE = "stores/state8.db"
LIST_NAME = "nadamw-hplists-cpu"
#: The two sides of the study: label -> update rule (``None``: the list's own, 32-bit NAdamW).
SIDES: tuple[tuple[str, str | None], ...] = (("32-bit", None), ("8-bit", "nadamw8"))
#: The workload of the quantization-error measurement: small and fast, 98% of its parameters
#: in 8-bit state.
QUANTIZATION_WORKLOAD = "ctr_dlrm"
#: A step with 8-bit state over one with 32-bit state, for the plan until the store has
#: trials of both on a workload (measured on this machine, one point, sequential, 200
#: steps: ctr_dlrm 2.0, translate_transformer 1.26; 1 without 8-bit tensors).
EIGHT_BIT_SLOWDOWN = 1.5
#: A step of the quantization measurement (an 8-bit update, the float32 moments it encodes,
#: a 32-bit shadow update; one process) over the plan's 32-bit seconds per step of the
#: workload (measured: 17.6 s for ctr_dlrm's 1200 steps against 0.00117 s per step).
QUANTIZATION_COST = 12.0


@dataclasses.dataclass(frozen=True)
class StateBitsConfig:
    """What the study runs. The defaults are the study's.

    Attributes:
        workloads: the workloads (default: the library's built-in workloads, the 8
            base workloads and their 8 variants: :func:`builtin_workloads`).
        seeds: training seeds ``1..seeds`` (3), the same on both sides.
        k: the list's first ``k`` points (5).
        list_name: the list (``nadamw-hplists-cpu``).
        steps: steps of every trial (default: each workload's budget); time to
            target is then a fraction of ``steps``.
        quantization_workload: the workload of the quantization measurement.
        quantization_seed: its training seed (1, the first of the study's).
        quantization_file: where its JSON goes (default: next to the store,
            :func:`quantization_file`).
    """

    workloads: tuple[str, ...] | None = None
    seeds: int = 3
    k: int = 5
    list_name: str = LIST_NAME
    steps: int | None = None
    quantization_workload: str = QUANTIZATION_WORKLOAD
    quantization_seed: int = 1
    quantization_file: str | None = None

    def __post_init__(self) -> None:
        if self.workloads is not None:
            if isinstance(self.workloads, str):
                raise InvalidParameterError(f"workloads must be a sequence of names, got the "
                                            f"string {self.workloads!r}")
            object.__setattr__(self, "workloads", tuple(self.workloads))
            if not self.workloads:
                raise InvalidParameterError("workloads must name at least one workload")
        check_int("seeds", self.seeds, low=1)
        check_int("k", self.k, low=1)
        if self.steps is not None:
            check_int("steps", self.steps, low=1)
        check_int("quantization_seed", self.quantization_seed, low=0)


def quantization_file(store_location: str) -> str:
    """Where the quantization measurement of a study in ``store_location`` goes by default.

    Example:
        >>> quantization_file("stores/state8.db")
        'stores/state8_quantization.json'
    """
    path = Path(store_location)
    if "://" in store_location or not path.suffix:
        raise InvalidParameterError(f"the store {store_location!r} is not a file: give the "
                                    "quantization measurement's file (quantization_file=)")
    return str(path.with_name(f"{path.stem}_quantization.json"))


def builtin_workloads() -> list[str]:
    """The library's built-in workloads, base workloads first, then the variants.

    Example:
        >>> names = builtin_workloads()
        >>> len(names), names[0], names[-1]
        (16, 'ctr_dlrm', 'translate_transformer_post_ln')
    """
    from hplists.workloads.registry import BUILTIN_MODULES, get_workload, workload_names

    return [n for n in workload_names() if type(get_workload(n)).__module__ in BUILTIN_MODULES]


def parameter_counts(workload: Any) -> tuple[int, int] | None:
    """``(parameters, parameters in 8-bit state)`` of a JAX workload; ``None`` for another kind.

    A parameter tensor of at least
    :data:`~hplists.optim.blockwise_quant.MIN_8BIT_SIZE` (4096) elements keeps
    8-bit moments under ``nadamw8``; smaller ones keep 32-bit moments.

    Example:
        >>> from hplists.workloads.registry import get_workload
        >>> parameter_counts(get_workload("graph_gnn"))  # no tensor of 4096 elements
        (17784, 0)
    """
    import jax

    from hplists.optim.blockwise_quant import MIN_8BIT_SIZE
    from hplists.workloads.contract import JaxWorkload

    if not isinstance(workload, JaxWorkload):
        return None
    shapes = jax.eval_shape(workload.init, jax.random.key(0))
    sizes = [int(np.prod(x.shape)) for x in jax.tree.leaves(shapes)]
    return sum(sizes), sum(n for n in sizes if n >= MIN_8BIT_SIZE)


class StateBitsStudy(Study):
    """A list with 32-bit and 8-bit NAdamW state, side by side (the module docstring).

    Args:
        store: the trial store (default on the command line: ``stores/state8.db``).
        config: what to run (:class:`StateBitsConfig`).
        specs: workload name -> :class:`~hplists.scoring.workload_specs.WorkloadSpec`,
            overriding the workloads' targets.
        executor: where trials train (default: this process, the engine's batching).
        progress: ``True`` for a progress bar with ETA per stage, or a function
            called with ``(stage, steps_done, steps_total)``.
        timing_stores: stores whose 32-bit trials give the plan's seconds per step.
    """

    name = "state8"
    stages = STAGES
    default_store = DEFAULT_STORE
    config_class = StateBitsConfig
    timing_store_paths = ("stores/study.db",)  # paper 001's study: 32-bit NAdamW, same workloads
    plan_notes = (f"an 8-bit step costs the 32-bit step times this store's measured ratio on "
                  f"the workload, else {EIGHT_BIT_SLOWDOWN:g} (1 without 8-bit tensors); the "
                  f"quantization stage's steps {QUANTIZATION_COST:g} times a 32-bit step",)
    nothing_to_export = ("study state8 has no list of its own: it trains the first k points of "
                         f"{LIST_NAME} as they are")

    def __init__(self, store: TrialStore, config: StateBitsConfig | None = None, *,
                 specs: Mapping[str, Any] | None = None, executor: Executor | None = None,
                 progress: bool | StepProgressFn | None = None,
                 timing_stores: Sequence[Any] = ()) -> None:
        super().__init__(store, config, specs=specs, executor=executor, progress=progress,
                         timing_stores=timing_stores)
        self.config: StateBitsConfig
        self.progress = progress
        self._chosen: list[Any] | None = None

    # ------------------------------------------------------------------------ what it runs

    @property
    def workloads(self) -> list[Any]:
        """The workloads (instances): base workloads and variants alike."""
        if self._chosen is None:
            from hplists.workloads.registry import get_workload

            names = self.config.workloads or builtin_workloads()
            self._chosen = [get_workload(n) for n in names]
        return self._chosen

    def points(self) -> list[Any]:
        """The list's first ``k`` points, in list order."""
        from hplists.lists.registry import get_list

        named = get_list(self.config.list_name)
        if named.optimizer != "nadamw":
            raise InvalidParameterError(f"list {named.name!r} is for update rule "
                                        f"{named.optimizer!r}; the study compares NAdamW's "
                                        "32-bit and 8-bit state, so it needs a NAdamW list")
        if self.config.k > len(named.points):
            raise InvalidParameterError(f"k must be at most the list's length "
                                        f"{len(named.points)}, got {self.config.k}")
        return list(named.points[:self.config.k])

    @property
    def seeds(self) -> list[int]:
        """The training seeds ``1..seeds``."""
        return list(range(1, self.config.seeds + 1))

    def study(self, side: str, workload: Any) -> str:
        """The study one side's trials on ``workload`` go to (as ``hplists evaluate``'s)."""
        rule = dict(SIDES)[side]
        return list_study(self.config.list_name, rule, self.config.steps, workload.step_budget)

    def step_budget(self, workload: Any) -> int:
        """Steps of each trial on ``workload``: ``steps``, else its budget."""
        return int(self.config.steps or workload.step_budget)

    def specs(self) -> dict[str, Any]:
        """Each workload's spec (metric, target), with :meth:`step_budget` as its budget."""
        from hplists.scoring.workload_specs import resolve_specs

        found = resolve_specs([w.name for w in self.workloads], self.given_specs)
        return {w.name: dataclasses.replace(found[w.name], step_budget=self.step_budget(w))
                for w in self.workloads}

    def tasks(self) -> list[TrainTask]:
        """Every trial, as tasks: per workload and seed, the ``k`` points on each side.

        Workload-major (the engine keeps a workload's data and programs cached), the two
        sides of a seed one after the other, so a partial store holds pairs.
        """
        points = tuple(self.points())
        indices = tuple(range(len(points)))
        return [TrainTask(self.study(side, w), w, seed, points, indices,
                          step_budget=self.config.steps, update_rule=rule)
                for w in self.workloads for seed in self.seeds for side, rule in SIDES]

    def quantization_path(self) -> Path:
        """The quantization measurement's JSON file."""
        return Path(self.config.quantization_file
                    or quantization_file(self.store.location()))

    # ---------------------------------------------------------------------------- stages

    def stage_work(self, stage: str) -> StageWork | None:
        """The ``train`` stage's tasks (``quantization`` trains no trial of the store)."""
        if stage == "train":
            return StageWork(stage, tuple(self.tasks()))
        return None

    def check_ready(self, stages: Sequence[str]) -> None:
        """Every workload needs its target (:meth:`specs`) before anything trains."""
        self.specs()
        self.points()

    def run_stage(self, stage: str) -> StageResult:
        """Runs one stage; resumable at any point."""
        if stage == "quantization":
            return self.run_quantization()
        return super().run_stage(stage)

    def run_quantization(self) -> StageResult:
        """Measures the quantization error (:func:`measure_quantization`) of each of the
        ``k`` points on :attr:`StateBitsConfig.quantization_workload` into
        :meth:`quantization_path`; points already in the file are kept."""
        from hplists.workloads.registry import get_workload

        cfg = self.config
        path = self.quantization_path()
        workload = get_workload(cfg.quantization_workload)
        points = self.points()
        data = self._quantization_header(workload, points)
        runs = self._recorded_runs(path, data)
        todo = [i for i in range(len(points)) if i not in runs]
        bar = StageBar(self.progress)
        tick = bar.start("quantization", len(todo) * self.step_budget(workload))
        trained = diverged = 0
        try:
            for i in todo:
                run = measure_quantization(workload, points[i], cfg.quantization_seed,
                                           step_budget=cfg.steps, progress=tick)
                runs[i] = {"point_index": i, **run}
                trained += 1
                diverged += run["status"] == Status.DIVERGED.value
                _write_measurement(path, {**data, "runs": [runs[j] for j in sorted(runs)]})
        finally:
            bar.stop()
        return StageResult("quantization", trained=trained, diverged=diverged,
                           already_done=len(points) - len(todo), studies=(str(path),))

    def _quantization_header(self, workload: Any, points: Sequence[Any]) -> dict[str, Any]:
        counts = parameter_counts(workload) or (0, 0)
        return {"study": self.name, "workload": workload.name,
                "workload_version": str(workload.version), "metric": workload.metric.name,
                "mode": workload.metric.mode, "list": self.config.list_name,
                "seed": self.config.quantization_seed, "step_budget": self.step_budget(workload),
                "rule": dict(SIDES)["8-bit"], "shadow_rule": "nadamw",
                "parameters": counts[0], "parameters_8bit": counts[1],
                "point_ids": [point_id(p) for p in points]}

    @staticmethod
    def _recorded_runs(path: Path, header: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
        """The runs already in ``path`` (none if it does not exist); an error if it holds
        another measurement."""
        if not path.is_file():
            return {}
        from hplists._files import load_json

        old = load_json(path, "quantization measurement")
        differs = [k for k, v in header.items() if old.get(k) != v]
        if differs:
            raise InvalidParameterError(
                f"{str(path)!r} holds another quantization measurement (its {', '.join(differs)} "
                "differ from the study's); move it away to measure again")
        return {int(r["point_index"]): r for r in old.get("runs", [])}

    # ------------------------------------------------------------------------------ plan

    def seconds_per_step(self) -> dict[str, float]:
        """Wall seconds per 32-bit step of each workload: from the timing stores (32-bit
        NAdamW only), else this store, else ``benchmarks/workloads.py``'s timings."""
        from hplists.study.step_rates import estimated_seconds_per_step

        stores = self.timing_stores or [self.store]
        return estimated_seconds_per_step(stores, self.timed_workloads())

    def slowdown(self, workload: Any) -> float:
        """An 8-bit step over a 32-bit one on ``workload``, for the plan.

        The ratio of the median recorded seconds per step of this store's finished
        trials of the two sides, once both have some; else
        :data:`EIGHT_BIT_SLOWDOWN`, or 1 for a workload without an 8-bit tensor.
        """
        rates = []
        for side, _ in SIDES:
            per_step = [r.curve.seconds[-1] / r.curve.steps[-1]
                        for r in self.store.trials(self.study(side, workload), workload.name,
                                                   status=Status.COMPLETE)
                        if r.curve is not None and len(r.curve.steps)]
            rates.append(float(np.median(per_step)) if per_step else math.nan)
        if all(math.isfinite(x) and x > 0 for x in rates):
            return rates[1] / rates[0]
        counts = parameter_counts(workload)
        return 1.0 if counts is not None and counts[1] == 0 else EIGHT_BIT_SLOWDOWN

    def plan(self, stages: Sequence[str] | None = None) -> list[StagePlan]:
        """Per stage: trials (quantization: measured points), done, steps and time left."""
        chosen = self.check_stages(stages)
        rates = self.seconds_per_step()
        out = []
        for stage in chosen:
            if stage == "train":
                out.append(self._train_plan(rates))
            else:
                out.append(self._quantization_plan(rates))
        return out

    def _train_plan(self, rates: Mapping[str, float]) -> StagePlan:
        trials = done = steps = 0
        seconds: float | None = 0.0
        factors: dict[str, float] = {}
        for task in self.tasks():
            source = StaticSource(self.store, [task])
            trials += len(task.points)
            done += source.skipped
            left = source.remaining_work()
            steps += left
            w = task.workload
            if not left:
                continue
            if w.name not in rates:
                seconds = None
            elif seconds is not None:
                factor = 1.0
                if task.update_rule is not None:
                    if w.name not in factors:
                        factors[w.name] = self.slowdown(w)
                    factor = factors[w.name]
                seconds += left * rates[w.name] * factor
        studies = tuple(sorted({t.study for t in self.tasks()}))
        return StagePlan("train", studies, trials, done, steps, True, seconds)

    def _quantization_plan(self, rates: Mapping[str, float]) -> StagePlan:
        from hplists.workloads.registry import get_workload

        workload = get_workload(self.config.quantization_workload)
        points = self.points()
        path = self.quantization_path()
        runs = self._recorded_runs(path, self._quantization_header(workload, points))
        left = (len(points) - len(runs)) * self.step_budget(workload)
        rate = rates.get(workload.name)
        seconds = None if rate is None and left else left * (rate or 0.0) * QUANTIZATION_COST
        return StagePlan("quantization", (str(path),), len(points), len(runs), left, True,
                         seconds)

    # ------------------------------------------------------------------------- manifest

    def manifest(self) -> dict[str, Any]:
        """What the study runs, as it records it in the store (under ``state8``).

        Studies by key (``<side>:<workload>``), the list, its points' ids, the
        seeds, and each workload's parameters and those in 8-bit state.
        """
        from hplists._version import __version__

        cfg = self.config
        return {"workflow": self.name, "list": cfg.list_name, "k": cfg.k, "seeds": self.seeds,
                "steps": cfg.steps, "sides": {side: rule or "nadamw" for side, rule in SIDES},
                "studies": {f"{side}:{w.name}": self.study(side, w)
                            for w in self.workloads for side, _ in SIDES},
                "point_ids": [point_id(p) for p in self.points()],
                "parameters": {w.name: parameter_counts(w) for w in self.workloads},
                "quantization": {"workload": cfg.quantization_workload,
                                 "seed": cfg.quantization_seed,
                                 "file": self.quantization_path().name},
                "hplists": __version__}

    def export_lists(self, output: str | Path | None = None, *,
                     overwrite: bool = False) -> list[str]:
        """Nothing: the study trains a shipped list as it is (:attr:`nothing_to_export`)."""
        return []


# ------------------------------------------------------------------------ the measurement


class _Carry(NamedTuple):
    """The measurement's state between steps: the 8-bit run and its 32-bit shadow."""

    params: Any
    state: Any
    shadow: Any
    shadow_state: Any
    loss_sum: Any


def _find(state: Any, kind: type) -> Any:
    """The first ``kind`` in an optax state (chain states are tuples of states)."""
    if isinstance(state, kind):
        return state
    if isinstance(state, tuple):
        for s in state:
            found = _find(s, kind)
            if found is not None:
                return found
    return None


def _series_float(x: Any) -> float | str | None:
    return encode_float(float(x))


def measure_quantization(workload: Any, point: Any, seed: int = 1, *,
                         step_budget: int | None = None,
                         progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Quantization error of 8-bit NAdamW state over one training run, and drift from 32-bit.

    Trains ``point`` on ``workload`` (a JAX workload: its initialization,
    batches and dropout keys are the engine's for ``seed``) with the registered
    rule ``nadamw8`` (:func:`hplists.optim.optax_nadamw8.rule`), and beside it a
    *shadow*: the engine's 32-bit NAdamW fed the same gradients (those of the
    8-bit run's parameters), from the same initial parameters. At each
    evaluation step ``s`` of the workload's schedule it records, over the
    tensors whose moments are stored in 8 bits:

    * ``m_error``, ``v_error``: ``||deq(q(m)) - m|| / ||m||``, where ``m`` is the
      float32 first moment step ``s`` computed (``optax.scale_by_adam``, as the
      rule does, from the dequantized moments of step ``s - 1``) and
      ``deq(q(m))`` what the rule stored for it, read back with
      :func:`~hplists.optim.blockwise_quant.dequantize_blockwise`; the same for
      the second moment ``v``;
    * ``codes_matching``: the share of the stored codes that
      :func:`~hplists.optim.blockwise_quant.quantize_blockwise` gives for ``m``
      and ``v`` (1: the rule stored exactly the quantized float32 moments);
    * ``m_drift``, ``v_drift``: the 8-bit run's dequantized moments against the
      shadow's 32-bit moments, ``||deq(m8) - m32|| / ||m32||``: quantization
      error accumulated since the start;
    * ``param_drift``: ``||p8 - p32|| / ||p32 - p0||``, all parameters: how far
      the 8-bit run is from the shadow, relative to how far the shadow travelled;

    and the 8-bit run's mean training loss since the previous evaluation and its
    validation metric. A run whose training loss or metric becomes non-finite
    stops there (``status`` ``"diverged"``).

    Returns a JSON-ready dict: ``point``, ``point_id``, ``status``, ``message``,
    ``seconds`` and one list per series (``steps`` first).

    Example:
        >>> from hplists import HParams
        >>> from hplists.workloads.registry import get_workload
        >>> run = measure_quantization(get_workload("ctr_dlrm"), HParams(3e-3, 0.9, 0.99),
        ...                            step_budget=20)
        >>> run["steps"][-1], run["status"], 0 < run["m_error"][-1] < 0.1
        (20, 'complete', True)
    """
    import jax
    import jax.numpy as jnp
    import optax

    from hplists.hparams import point_dict
    from hplists.optim.blockwise_quant import BLOCK_SIZE, dequantize_blockwise, quantize_blockwise
    from hplists.optim.optax_nadamw8 import Blockwise8, ScaleByNadam8State
    from hplists.trials.tasks import resolve_rule
    from hplists.workloads.contract import JaxWorkload, eval_schedule
    from hplists.workloads.engine import (
        batch_order,
        default_rule,
        device_data,
        enable_compilation_cache,
        hp_arrays,
        seed_keys,
    )
    from hplists.workloads.registry import get_workload

    wl: Any = get_workload(workload) if isinstance(workload, str) else workload
    if not isinstance(wl, JaxWorkload):
        raise InvalidParameterError(f"the measurement trains a JAX workload (JaxWorkload), got "
                                    f"{type(wl).__name__}")
    total = check_int("step_budget", step_budget if step_budget is not None
                      else wl.step_budget, low=1)
    check_int("seed", seed, low=0)
    rule8, rule32 = resolve_rule(dict(SIDES)["8-bit"]), default_rule()
    hp = {k: v[0] for k, v in hp_arrays([point], total, wl.regularizers).items()}
    data = device_data(wl)
    order = jnp.asarray(batch_order(seed, data.num_train, total, wl.batch_size))
    init_key, dropout_key = seed_keys(seed)
    is_q = lambda x: isinstance(x, Blockwise8)  # noqa: E731

    def grads(params: Any, hp: Any, i: Any, train: Any, order: Any) -> Any:
        batch = jax.tree.map(lambda a: jnp.take(a, order[i], axis=0), train)
        rng = jax.random.fold_in(dropout_key, i)
        return jax.value_and_grad(wl.loss_fn)(params, batch, rng, hp["dropout_rate"],
                                              hp["label_smoothing"])

    def init(hp: Any) -> _Carry:
        params = wl.init(init_key)
        return _Carry(params, rule8(hp, total).init(params), params,
                      rule32(hp, total).init(params), jnp.zeros((), jnp.float32))

    def update(c: _Carry, loss: Any, g: Any, hp: Any) -> _Carry:
        u8, s8 = rule8(hp, total).update(g, c.state, c.params)
        u32, s32 = rule32(hp, total).update(g, c.shadow_state, c.shadow)
        return _Carry(optax.apply_updates(c.params, u8), s8, optax.apply_updates(c.shadow, u32),
                      s32, c.loss_sum + loss.astype(jnp.float32))

    def chunk(c: _Carry, hp: Any, train: Any, order: Any, start: Any, stop: Any) -> _Carry:
        def body(i: Any, c: _Carry) -> _Carry:
            loss, g = grads(c.params, hp, i, train, order)
            return update(c, loss, g, hp)

        return jax.lax.fori_loop(start, stop, body, c)

    def norm(xs: Sequence[Any]) -> Any:
        return jnp.sqrt(sum((jnp.sum(jnp.square(x)) for x in xs), jnp.zeros(())))

    def dequantized(x: Any, signed: bool) -> Any:
        return dequantize_blockwise(x.codes, x.absmax, signed, BLOCK_SIZE, xp=jnp)

    def measured(i: Any, c: _Carry, hp: Any, train: Any, order: Any, p0: Any
                 ) -> tuple[_Carry, dict[str, Any]]:
        """Step ``i`` (the last before an evaluation), and what it measures."""
        old = _find(c.state, ScaleByNadam8State)
        inner = optax.scale_by_adam(b1=hp["beta1"], b2=hp["beta2"], eps=hp.get("eps", 1e-8),
                                    eps_root=0.0, nesterov=True)
        full = optax.ScaleByAdamState(
            old.count, *(jax.tree.map(lambda x, s=signed: dequantized(x, s) if is_q(x) else x,
                                      moments, is_leaf=is_q)
                         for moments, signed in ((old.mu, True), (old.nu, False))))
        loss, g = grads(c.params, hp, i, train, order)
        _, encoded = inner.update(g, full)  # the float32 moments this step computes
        c = update(c, loss, g, hp)
        new = _find(c.state, ScaleByNadam8State)
        shadow = _find(c.shadow_state, optax.ScaleByAdamState)
        out = {}
        for name, signed in (("m", True), ("v", False)):
            stored = jax.tree.leaves(new.mu if signed else new.nu, is_leaf=is_q)
            f32 = jax.tree.leaves(encoded.mu if signed else encoded.nu)
            s32 = jax.tree.leaves(shadow.mu if signed else shadow.nu)
            keep = [j for j, x in enumerate(stored) if is_q(x)]
            deq = {j: dequantized(stored[j], signed) for j in keep}
            out[f"{name}_error"] = norm([deq[j] - f32[j] for j in keep]) / norm(
                [f32[j] for j in keep])
            out[f"{name}_drift"] = norm([deq[j] - s32[j] for j in keep]) / norm(
                [s32[j] for j in keep])
            out[f"{name}_codes"] = sum(
                (jnp.sum(quantize_blockwise(f32[j], signed, BLOCK_SIZE, xp=jnp)[0]
                         == stored[j].codes) for j in keep), jnp.zeros((), jnp.int32))
        p8, p32, start = (jax.tree.leaves(x) for x in (c.params, c.shadow, p0))
        out["param_drift"] = norm([a - b for a, b in zip(p8, p32, strict=True)]) / norm(
            [b - a for a, b in zip(start, p32, strict=True)])
        return c, out

    def predict(params: Any, valid: Any) -> Any:
        return jax.lax.map(lambda b: wl.predict(params, b), valid)

    enable_compilation_cache()
    hp_spec = {k: jnp.asarray(v) for k, v in hp.items()}
    init_fn, chunk_fn = jax.jit(init), jax.jit(chunk)
    measured_fn, predict_fn = jax.jit(measured), jax.jit(predict)
    shapes = _find(jax.eval_shape(init, hp_spec).state, ScaleByNadam8State)
    quantized = sum(int(x.codes.size) for x in jax.tree.leaves(shapes.mu, is_leaf=is_q)
                    if is_q(x))
    if quantized == 0:
        raise InvalidParameterError(f"workload {wl.name!r} has no parameter tensor whose state "
                                    "nadamw8 stores in 8 bits (at least 4096 elements)")
    steps = eval_schedule(total, min(wl.num_evals, total))
    names = ("m_error", "v_error", "m_drift", "v_drift", "param_drift")
    series: dict[str, list[Any]] = {k: [] for k in ("steps", *names, "codes_matching",
                                                     "train_loss", wl.metric.name)}
    status, message = Status.COMPLETE, ""
    carry = init_fn(hp_spec)
    p0 = carry.params
    prev = 0
    for s in steps:
        carry = chunk_fn(carry, hp_spec, data.train, order, jnp.int32(prev), jnp.int32(s - 1))
        carry, out = measured_fn(jnp.int32(s - 1), carry, hp_spec, data.train, order, p0)
        loss = float(carry.loss_sum) / (s - prev)
        carry = carry._replace(loss_sum=jnp.zeros((), jnp.float32))
        outputs = jax.tree.map(lambda o: np.asarray(o).reshape((-1, *o.shape[2:]))[
            :data.num_valid], jax.device_get(predict_fn(carry.params, data.valid)))
        metric = float(wl.score(outputs, data.valid_host)[wl.metric.name])
        if progress is not None:
            progress(s - prev)
        prev = s
        if not (math.isfinite(loss) and math.isfinite(metric)):
            status = Status.DIVERGED
            message = f"training loss or {wl.metric.name} became non-finite at step {s}"
            break
        values = {k: float(out[k]) for k in names}
        series["steps"].append(int(s))
        for k in names:
            series[k].append(_series_float(values[k]))
        series["codes_matching"].append(
            (int(out["m_codes"]) + int(out["v_codes"])) / (2 * quantized))
        series["train_loss"].append(_series_float(loss))
        series[wl.metric.name].append(_series_float(metric))
    if progress is not None and prev < total:
        progress(total - prev)
    return {"point_id": point_id(point), "point": point_dict(point), "status": status.value,
            "message": message, **series}


def _write_measurement(path: Path, data: Mapping[str, Any]) -> None:
    """The measurement as JSON, one line per series (readable diffs)."""
    head = {k: v for k, v in data.items() if k != "runs"}
    lines = ["{"] + [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
    lines.append('  "runs": [')
    runs = list(data["runs"])
    for n, run in enumerate(runs):
        items = list(run.items())
        lines.append("    {")
        lines += [f"      {json.dumps(k)}: {json.dumps(v)}" + ("," if j < len(items) - 1 else "")
                  for j, (k, v) in enumerate(items)]
        lines.append("    }" + ("," if n < len(runs) - 1 else ""))
    lines += ["  ]", "}"]
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, "\n".join(lines) + "\n")


def read_measurement(path: str | Path) -> dict[str, Any] | None:
    """The quantization measurement in ``path`` (non-finite numbers decoded); ``None`` if absent.

    Example:
        >>> read_measurement("no/such/file.json") is None
        True
    """
    from hplists._files import load_json

    p = Path(path)
    if not p.is_file():
        return None
    data = load_json(p, "quantization measurement")
    for run in data.get("runs", []):
        for k, v in run.items():
            if isinstance(v, list) and k not in ("steps",):
                run[k] = [decode_float(x) for x in v]
    return dict(data)

