"""Workloads: the contract, the built-in JAX library and its training engine."""

from hplists.workloads.contract import Dataset, JaxWorkload, Metric, Workload, eval_schedule

__all__ = ["Dataset", "JaxWorkload", "Metric", "Workload", "eval_schedule"]
