"""Where notebook jobs run. The runner only needs ``run(jobs) -> results as they finish``.

The local process pool is the default; a different engine (a cluster queue, a CI
matrix) can take over by providing the same one method.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, Iterable, Iterator, Protocol, TypeVar

J = TypeVar("J")
R = TypeVar("R")


class Executor(Protocol):
    def run(self, fn: Callable[[J], R], jobs: Iterable[J]) -> Iterator[R]:
        """Run ``fn`` on every job; yield results in the order they finish."""


class SerialExecutor:
    def run(self, fn, jobs):
        for job in jobs:
            yield fn(job)


class LocalProcessExecutor:
    """A pool of worker processes on this machine (each notebook also runs its own kernel)."""

    def __init__(self, workers: int):
        self.workers = workers

    def run(self, fn, jobs):
        jobs = list(jobs)
        if self.workers <= 1 or len(jobs) <= 1:
            yield from SerialExecutor().run(fn, jobs)
            return
        with ProcessPoolExecutor(max_workers=self.workers) as pool:
            futures = [pool.submit(fn, job) for job in jobs]
            for future in as_completed(futures):
                yield future.result()
