"""Where a batch's tasks run: the executor interface and the local executor (the default).

A batch is one task per title (probe, analysis, RD points, plan, encodes, joins, measurements,
packaging); a title task hands its rungs' chunk encodes to the
:class:`~ladderforge.encoder.chunks.ChunkRunner` of the place it runs, so on a cluster the
chunks of one title spread over the workers while other titles run beside it.

- :class:`LocalExecutor` (default): the titles one after another in this process, each title's
  chunk encodes in ``config.workers`` threads (what ``ladder --workers N`` has always done).
- ``ladderforge.run.cluster.DaskExecutor``: the titles as dask.distributed tasks
  (``--scheduler tcp://host:port`` or ``--cluster local``).

Results are not the executor's business: every encode and measurement is a content-addressed
file in the title's work folder, looked up before it is made and written by a rename, so a task
that runs twice (a lost worker, a restarted coordinator) redoes nothing finished.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ladderforge.encoder.chunks import ChunkRunner
from ladderforge.jobs.context import StageCallback

__all__ = ["Executor", "LocalExecutor", "TaskEnv", "TaskLost"]

_A = TypeVar("_A")
_R = TypeVar("_R")


@dataclass(frozen=True)
class TaskEnv:
    """What a task receives from the place it runs."""

    runner: ChunkRunner | None
    """Where the task's chunk encodes run (None: threads of the task's process)."""
    on_stage: StageCallback | None
    """Reports a stage of a title to the coordinator's progress (None: nobody listens)."""


@dataclass(frozen=True)
class TaskLost:
    """A task the executor could not complete (its workers kept dying, the cluster went away)."""

    message: str


class Executor(abc.ABC):
    """Runs a batch's tasks.

    Contract: :meth:`run` calls ``task(arg, env)`` once per ``(name, arg)`` of ``items``
    (again, elsewhere, when a worker running it is lost) and yields ``(name, result)`` as each
    finishes, in any order, exactly once per name; a task the executor gives up on yields a
    :class:`TaskLost` instead of a result. An exception a task raises is raised by :meth:`run`
    (tasks return expected failures as values). ``task`` and ``arg`` must be picklable for an
    executor that runs them in other processes. ``on_stage`` is called in the caller's process
    (possibly from another thread). An executor is a context manager; :meth:`close` releases
    what it started. Not thread-safe: one :meth:`run` at a time.
    """

    name: str = ""
    """Short name for messages and benchmarks (``local``, ``dask``)."""

    @property
    def dashboard_link(self) -> str | None:
        """Where to watch the tasks (a URL), when the executor has such a page."""
        return None

    @abc.abstractmethod
    def run(
        self,
        task: Callable[[_A, TaskEnv], _R],
        items: Sequence[tuple[str, _A]],
        *,
        on_stage: StageCallback | None = None,
    ) -> Iterator[tuple[str, _R | TaskLost]]:
        """Run ``task`` over ``items``; see the class's contract."""

    def close(self) -> None:  # noqa: B027 (optional: an executor may hold nothing)
        """Release what the executor started (idempotent)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalExecutor(Executor):
    """The titles one after another in this process; chunk encodes in the title's threads."""

    name = "local"

    def run(
        self,
        task: Callable[[_A, TaskEnv], _R],
        items: Sequence[tuple[str, _A]],
        *,
        on_stage: StageCallback | None = None,
    ) -> Iterator[tuple[str, _R | TaskLost]]:
        env = TaskEnv(runner=None, on_stage=on_stage)
        for name, arg in items:
            yield name, task(arg, env)
