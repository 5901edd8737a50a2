"""Batch runs: the notebooks for every application, headless, in parallel, with one report."""

from .jobs import JobResult
from .runner import BatchError, plan_batch, run_batch

__all__ = ["BatchError", "JobResult", "plan_batch", "run_batch"]
