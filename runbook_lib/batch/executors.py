"""Where notebook jobs run. The runner only needs ``run(fn, jobs)``, yielding ``(job, result, error)`` as jobs finish.

``error`` is None when ``fn`` returned, else what went wrong outside it (a worker
that crashed, a job that could not be sent). The local process pool is the
default; another engine can take over by providing the same one method.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, Iterable, Iterator, Protocol, TypeVar

J = TypeVar("J")
R = TypeVar("R")


class Executor(Protocol):
    def run(self, fn: Callable[[J], R], jobs: Iterable[J]) -> Iterator[tuple[J, R | None, str | None]]:
        """Run ``fn`` on every job; yield (job, result, error) in the order they finish."""


class SerialExecutor:
    def run(self, fn, jobs):
        for job in jobs:
            yield job, fn(job), None


class LocalProcessExecutor:
    """A pool of worker processes on this machine (each notebook also runs its own kernel)."""

    def __init__(self, workers: int, initializer: Callable[[], None] | None = None):
        self.workers = workers
        self.initializer = initializer

    def run(self, fn, jobs):
        jobs = list(jobs)
        if self.workers <= 1 or len(jobs) <= 1:
            yield from SerialExecutor().run(fn, jobs)
            return
        with ProcessPoolExecutor(max_workers=self.workers, initializer=self.initializer) as pool:
            futures = {pool.submit(fn, job): job for job in jobs}
            for future in as_completed(futures):
                try:
                    yield futures[future], future.result(), None
                except Exception as exc:  # BrokenProcessPool and friends: report it for this job, go on
                    yield futures[future], None, f"{type(exc).__name__}: {exc}"
