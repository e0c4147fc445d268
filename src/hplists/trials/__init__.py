"""The trial loop: trials claimed in a store, trained anywhere, recorded (one loop for all).

Every trial hplists trains goes through :func:`~hplists.trials.loop.run`, the
studies' and :func:`hplists.tune`'s alike, as Optuna runs every study through
one optimize loop over an abstract storage:

* :mod:`hplists.trials.tasks`: what trains (:class:`~hplists.trials.tasks.TrainTask`,
  the engine's points of one study, workload and seed);
* :mod:`hplists.trials.loop`: claim, heartbeat, record; the sources that hand
  tasks out (:class:`~hplists.trials.loop.StaticSource`) and the one loop,
  :func:`~hplists.trials.loop.run`;
* :mod:`hplists.trials.executors`: where tasks train (this process, a pool of
  worker processes, a fresh process per task), and :mod:`hplists.trials.ray`
  (a Ray cluster);
* :mod:`hplists.trials.pending`: resumable runs of a study's points with
  progress over many runs (:func:`~hplists.trials.pending.run_pending`).

The package sits below :mod:`hplists.lists` and :mod:`hplists.study`, which
drive it, and above :mod:`hplists.store` and :mod:`hplists.workloads`, which it
drives; it imports neither lists, study, report nor cli.
"""

from hplists.trials.executors import Executor, FreshProcessExecutor, LocalExecutor, PoolExecutor
from hplists.trials.loop import (
    Source,
    StaticSource,
    claim_trial,
    default_chunk,
    record_copies,
    run,
    train_into_store,
)
from hplists.trials.pending import TrialsRunningElsewhere, finished_trials, run_pending
from hplists.trials.ray import RayExecutor, ray_available
from hplists.trials.tasks import (
    Task,
    Tick,
    TrainTask,
    chunked,
    for_worker,
    resolve_rule,
    run_task,
    train_task,
)

__all__ = [
    "Executor",
    "FreshProcessExecutor",
    "LocalExecutor",
    "PoolExecutor",
    "RayExecutor",
    "Source",
    "StaticSource",
    "Task",
    "Tick",
    "TrainTask",
    "TrialsRunningElsewhere",
    "chunked",
    "claim_trial",
    "default_chunk",
    "finished_trials",
    "for_worker",
    "ray_available",
    "record_copies",
    "resolve_rule",
    "run",
    "run_pending",
    "run_task",
    "train_into_store",
    "train_task",
]
