"""Distributed training with Ray: each task is a Ray task, the driver writes the store.

Studies with real workloads outgrow one machine. :class:`RayExecutor` is an
executor of the trial loop (:mod:`hplists.trials.executors`): the driver
(``hplists study --executor ray``, :func:`hplists.trials.loop.run` with this
executor, or :func:`hplists.tune` with ``executor="ray"``) claims trials in
the store just before a task is submitted, Ray runs the task
(:func:`hplists.trials.tasks.run_task`) on some node (``ray.remote``, one CPU
per task by default, XLA single-threaded), and the output comes back to the
driver, which records it. Workers never touch the store, so any store the
driver can open works (a local SQLite file included), and the claim/finish
protocol keeps its guarantees: a killed driver leaves only its in-flight
trials ``running``, which the next driver hands out again.

Ray is an optional dependency: ``pip install "hplists[ray]"``. Workers need
hplists (and the workloads' and update rules' modules) importable; pass
``runtime_env`` (e.g. ``{"pip": [...]}`` or ``{"working_dir": ...}``) for a
cluster that lacks them.

Example (needs Ray)::

    from hplists.store import open_store
    from hplists.study.workflow import StudyWorkflow
    from hplists.trials.ray import RayExecutor

    with open_store("stores/study.db") as store:
        executor = RayExecutor(address="auto")      # an existing cluster
        StudyWorkflow(store, executor=executor, progress=True).run()
        executor.close()
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hplists._check import check_int, check_real
from hplists.trials.tasks import Task, Tick, run_task

__all__ = ["RayExecutor", "ray_available"]


def ray_available() -> bool:
    """Whether Ray can be imported.

    Example:
        >>> isinstance(ray_available(), bool)
        True
    """
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ImportError('RayExecutor needs Ray: pip install "hplists[ray]"') from None
    return ray


class RayExecutor:
    """Runs each task of the trial loop (:mod:`hplists.trials.tasks`) as a Ray task.

    Args:
        address: the cluster to join (``"auto"``, ``"ray://host:10001"``);
            ``None`` starts a local Ray instance unless one is running.
        num_cpus: CPUs each task reserves (default 1: XLA runs single-threaded).
        num_gpus: GPUs each task reserves (default 0).
        slots: tasks in flight at once (default: the cluster's CPUs divided by
            ``num_cpus``, read when the executor starts).
        runtime_env: Ray runtime environment of the tasks.
        single_threaded_xla: add ``XLA_FLAGS`` that make XLA:CPU
            single-threaded to the runtime environment's ``env_vars`` (what
            the engine's tasks want; :func:`hplists.tune` turns it off, so a
            user's training keeps its framework's defaults).
        init_kwargs: extra arguments of ``ray.init`` (when this executor starts Ray).
        shutdown: shut Ray down on :meth:`close` if this executor started it
            (:func:`hplists.tune` leaves it running for the next tuning).
    """

    def __init__(self, address: str | None = None, *, num_cpus: float = 1.0,
                 num_gpus: float = 0.0, slots: int | None = None,
                 runtime_env: Mapping[str, Any] | None = None,
                 single_threaded_xla: bool = True,
                 init_kwargs: Mapping[str, Any] | None = None, shutdown: bool = True) -> None:
        ray = _import_ray()
        self._ray = ray
        num_cpus = check_real("num_cpus", num_cpus, 0.0)
        num_gpus = check_real("num_gpus", num_gpus, 0.0)
        self._started = False
        self._shutdown = shutdown
        if not ray.is_initialized():
            ray.init(address=address, **dict(init_kwargs or {}))
            self._started = True
        env = dict(runtime_env or {})
        if single_threaded_xla:
            from hplists.workloads.engine import WORKER_XLA_FLAGS

            env_vars = dict(env.get("env_vars", {}))
            env_vars["XLA_FLAGS"] = f"{env_vars.get('XLA_FLAGS', '')} {WORKER_XLA_FLAGS}".strip()
            env["env_vars"] = env_vars
        options: dict[str, Any] = {"num_cpus": num_cpus, "num_gpus": num_gpus}
        if env:
            options["runtime_env"] = env
        self._remote = ray.remote(run_task).options(**options)
        if slots is None:
            cpus = float(ray.cluster_resources().get("CPU", 1.0))
            slots = max(1, int(cpus // max(num_cpus, 1e-9)))
        self.slots = check_int("slots", slots, low=1)
        self._in_flight: set[Any] = set()

    def submit(self, task: Task, tick: Tick) -> Any:
        ref = self._remote.remote(task.in_worker())
        self._in_flight.add(ref)
        return ref

    def wait(self, handles: Sequence[Any], timeout: float | None = None) -> list[tuple[Any, Any]]:
        ray = self._ray
        ready, rest = ray.wait(list(handles), num_returns=1, timeout=timeout)
        if ready and rest:  # collect every other task that is done too
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
            ready += more
        out: list[tuple[Any, Any]] = []
        for ref in ready:
            self._in_flight.discard(ref)
            try:
                out.append((ref, ray.get(ref)))
            except Exception as e:  # the task raised, or its worker died
                out.append((ref, e))
        return out

    def cancel(self, handle: Any) -> None:
        """Stops a task still running (``ray.cancel``)."""
        self._in_flight.discard(handle)
        try:
            self._ray.cancel(handle)
        except Exception:  # already finished, or gone with its worker: nothing to stop
            pass

    def close(self) -> None:
        for ref in list(self._in_flight):
            self.cancel(ref)
        if self._shutdown and self._started and self._ray.is_initialized():
            self._ray.shutdown()
            self._started = False
