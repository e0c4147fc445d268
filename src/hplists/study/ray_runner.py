"""Distributed training with Ray: each task of a study is a Ray task, the driver writes the store.

Studies with real workloads outgrow one machine. :class:`RayExecutor` is an
:class:`~hplists.study.runner.Executor`: the driver (``hplists study
--executor ray``, or :func:`hplists.study.runner.run` with this executor)
claims trials in the store just before a task is submitted, Ray runs
:func:`hplists.study.runner.train_task` on some node (``ray.remote``, one CPU
per task by default, XLA single-threaded), and the curves come back to the
driver, which records them. Workers never touch the store, so any store the
driver can open works (a local SQLite file included), and the claim/finish
protocol keeps its guarantees: a killed driver leaves only its in-flight
trials ``running``, which the next driver hands out again.

Ray is an optional dependency: ``pip install "hplists[ray]"``. Workers need
hplists (and the workloads' and update rules' modules) importable; pass
``runtime_env`` (e.g. ``{"pip": [...]}`` or ``{"working_dir": ...}``) for a
cluster that lacks them.

Example (needs Ray)::

    from hplists.store import open_store
    from hplists.study.ray_runner import RayExecutor
    from hplists.study.workflow import StudyWorkflow

    with open_store("stores/study.db") as store:
        executor = RayExecutor(address="auto")      # an existing cluster
        StudyWorkflow(store, executor=executor, progress=True).run()
        executor.close()
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hplists._check import check_int, check_real
from hplists.curves import Curve
from hplists.study.runner import Tick, TrainTask, for_worker, train_task
from hplists.workloads.engine import WORKER_XLA_FLAGS

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
    """Runs each :class:`~hplists.study.runner.TrainTask` as a Ray task.

    Args:
        address: the cluster to join (``"auto"``, ``"ray://host:10001"``);
            ``None`` starts a local Ray instance unless one is running.
        num_cpus: CPUs each task reserves (default 1: XLA runs single-threaded).
        slots: tasks in flight at once (default: the cluster's CPUs divided by
            ``num_cpus``, read when the executor starts).
        runtime_env: Ray runtime environment of the tasks; ``XLA_FLAGS`` that
            make XLA:CPU single-threaded are added to its ``env_vars``.
        init_kwargs: extra arguments of ``ray.init`` (when this executor starts Ray).

    The executor shuts Ray down on :meth:`close` only if it started it.
    """

    def __init__(self, address: str | None = None, *, num_cpus: float = 1.0,
                 slots: int | None = None, runtime_env: Mapping[str, Any] | None = None,
                 init_kwargs: Mapping[str, Any] | None = None) -> None:
        ray = _import_ray()
        self._ray = ray
        num_cpus = check_real("num_cpus", num_cpus, 0.0, low_open=True)
        self._started = False
        if not ray.is_initialized():
            ray.init(address=address, **dict(init_kwargs or {}))
            self._started = True
        env = dict(runtime_env or {})
        env_vars = dict(env.get("env_vars", {}))
        env_vars["XLA_FLAGS"] = f"{env_vars.get('XLA_FLAGS', '')} {WORKER_XLA_FLAGS}".strip()
        env["env_vars"] = env_vars
        self._remote = ray.remote(train_task).options(num_cpus=num_cpus, runtime_env=env)
        if slots is None:
            cpus = float(ray.cluster_resources().get("CPU", 1.0))
            slots = max(1, int(cpus // num_cpus))
        self.slots = check_int("slots", slots, low=1)

    def submit(self, task: TrainTask, tick: Tick) -> Any:
        return self._remote.remote(for_worker(task))

    def wait(self, handles: Sequence[Any], timeout: float | None = None
             ) -> list[tuple[Any, list[Curve] | BaseException]]:
        ray = self._ray
        ready, rest = ray.wait(list(handles), num_returns=1, timeout=timeout)
        if ready and rest:  # collect every other task that is done too
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
            ready += more
        out: list[tuple[Any, list[Curve] | BaseException]] = []
        for ref in ready:
            try:
                out.append((ref, ray.get(ref)))
            except Exception as e:  # the task raised, or its worker died
                out.append((ref, e))
        return out

    def close(self) -> None:
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
            self._started = False
