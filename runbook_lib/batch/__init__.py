"""Batch runs: the notebooks for every application, headless, in parallel, with one report."""

from .runner import BatchError, plan_batch, run_batch

__all__ = ["BatchError", "plan_batch", "run_batch"]
