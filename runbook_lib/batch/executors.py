"""Where notebook jobs run. The runner talks to every engine through :class:`Executor`.

- ``start()`` connects and checks that jobs can run there; it raises
  :class:`~runbook_lib.errors.RunbookError` with a message naming what is at fault,
  before the run writes anything.
- ``lines(progress)`` is a context manager giving a ``report`` callable that can be
  sent along with a job and called where it runs; each line reaches ``progress`` here,
  in the order one job sent them.
- ``run(fn, jobs)`` yields ``(job, result, error)`` as jobs finish. ``error`` is None
  when ``fn`` returned, else what went wrong outside it (a worker that crashed or was
  lost, a job that could not be sent).
- ``stop()`` asks running jobs to stop (the run's stop file does it on this machine).
- ``close()`` lets go of what ``start()`` took.

``remote`` says whether jobs may run on another machine, which shares no folder with
this one: then each job carries its input files and brings its outputs back
(see :mod:`runbook_lib.batch.remote`).

The local process pool is the default; :mod:`runbook_lib.batch.cluster` is the Dask one.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import AbstractContextManager, contextmanager
from typing import Callable, Iterable, Iterator, Protocol, TypeVar

from .processes import ignore_sigint, lines_from_workers

J = TypeVar("J")
R = TypeVar("R")

EXECUTORS = ("local", "dask")


class Executor(Protocol):
    name: str
    remote: bool

    def start(self) -> None:
        """Connect and check; raise a RunbookError naming the fault before anything runs."""

    def lines(self, progress: Callable[[str], None]) -> AbstractContextManager[Callable[[str], None]]:
        """A ``report`` callable that works where jobs run; its lines reach ``progress``."""

    def run(self, fn: Callable[[J], R], jobs: Iterable[J]) -> Iterator[tuple[J, R | None, str | None]]:
        """Run ``fn`` on every job; yield (job, result, error) in the order they finish."""

    def stop(self) -> None:
        """Ask running jobs to stop (no new notebook starts; running kernels are interrupted)."""

    def close(self) -> None:
        """Release what start() took."""


class SerialExecutor:
    """Every job in this process, one after the other."""

    name = "serial"
    remote = False

    def start(self) -> None:
        pass

    @contextmanager
    def lines(self, progress):
        yield progress

    def run(self, fn, jobs):
        for job in jobs:
            yield job, fn(job), None

    def stop(self) -> None:
        pass   # the run's stop file, in this process's environment, is seen by every engine call

    def close(self) -> None:
        pass


class LocalProcessExecutor(SerialExecutor):
    """A pool of worker processes on this machine (each notebook also runs its own kernel)."""

    name = "local"

    def __init__(self, workers: int, initializer: Callable[[], None] | None = ignore_sigint):
        self.workers = workers
        self.initializer = initializer

    def lines(self, progress):
        # a Manager queue: worker processes put, a thread here prints
        return lines_from_workers(progress)

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
