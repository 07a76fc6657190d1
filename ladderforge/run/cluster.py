"""The dask.distributed executor: the titles, and each title's chunk encodes, as cluster tasks.

Granularity: one task per title (probe, analysis, RD points, plan, joins, measurements,
packaging run inside it, on one worker) and one task per chunk encode, submitted by the title
task from its worker (``worker_client``: the title task gives its thread back while it waits),
so the chunks of one title spread over every worker and titles overlap. Chunk tasks have a
higher priority than title tasks: started titles finish before new ones begin.

Idempotence: a chunk task's key names its output file; the task looks the finished file up
before encoding (:func:`ladderforge.encoder.chunks.encode_chunk_task`), so a task run again
after its worker died, or by a rerun after the coordinator died, encodes only what is missing.
Files are written under temporary names and renamed. Lost workers are dask's business (their
tasks are rescheduled, up to ``distributed.scheduler.allowed-failures`` times); a task that
raises is retried ``retries`` times. Artifacts live in the output folder (and work folder),
which must be a path every worker sees (a shared file system).

Reach: a task travels to the workers pickled, its function and its arguments' classes by
reference to their modules (only ``__main__``, lambdas and local functions travel by value), so
every worker must be able to import them. A worker that cannot unpickle a task fails without a
word and dask leaves the task waiting forever; :meth:`run` therefore sends every connected
worker the task and one argument of each type first, through ``client.run``, and refuses with
the workers and the error named. A worker that cannot be reached at that moment is logged and
left to dask; workers that join later are not asked (none connected: a warning says so).

Progress: title tasks post their stages as dask events (topic ``ladderforge-stage``); the
coordinator subscribes and calls the batch's ``on_stage``.
"""

from __future__ import annotations

import importlib
import logging
import pickle
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

from ladderforge.errors import ClusterError, EncodeError
from ladderforge.jobs.context import StageCallback
from ladderforge.jobs.executor import Executor, TaskEnv, TaskLost

__all__ = ["STAGE_TOPIC", "DaskChunkRunner", "DaskExecutor"]

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'ladderforge[distributed]'"
STAGE_TOPIC = "ladderforge-stage"
"""The dask event topic title tasks post their stages on."""
CHUNK_PRIORITY = 10
"""Chunk tasks before title tasks (dask runs higher priorities first)."""

_A = TypeVar("_A")
_R = TypeVar("_R")
_T = TypeVar("_T")


def _distributed() -> ModuleType:
    try:
        return importlib.import_module("distributed")
    except ImportError as exc:
        raise ClusterError(
            f"running on a dask cluster needs the 'distributed' package ({exc}). "
            f"Install it with: {INSTALL_HINT}"
        ) from exc


class DaskExecutor(Executor):
    """Title tasks on a dask.distributed cluster: a running one (``scheduler``) or a
    LocalCluster of ``local_workers`` processes on 127.0.0.1 started for this executor.

    ``retries``: times a title task that raised runs again. ``max_in_flight``: most title tasks
    submitted and not finished at once; the others wait in this process, so 100,000 titles are
    not 100,000 queued tasks (None: twice the workers connected when :meth:`run` starts, at
    least 2)."""

    name = "dask"

    def __init__(
        self,
        *,
        scheduler: str | None = None,
        local_workers: int = 2,
        retries: int = 1,
        connect_timeout_s: float = 10.0,
        max_in_flight: int | None = None,
    ) -> None:
        distributed = _distributed()
        self.retries = retries
        self.max_in_flight = max_in_flight
        self._cluster: Any = None
        try:
            if scheduler is None:
                self._cluster = distributed.LocalCluster(
                    n_workers=local_workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address="127.0.0.1:0",
                )
                self.client: Any = distributed.Client(self._cluster)
            else:
                self.client = distributed.Client(scheduler, timeout=f"{connect_timeout_s}s")
        except (OSError, TimeoutError, ValueError) as exc:
            self.close()
            where = scheduler or "a LocalCluster on 127.0.0.1"
            raise ClusterError(
                f"{where}: cannot reach or start the dask scheduler ({exc}); start one with "
                "'dask scheduler' and workers with 'dask worker tcp://HOST:8786', or use "
                "--cluster local"
            ) from exc

    @property
    def dashboard_link(self) -> str | None:
        try:
            services = self.client.scheduler_info().get("services", {})
        except (OSError, TimeoutError):
            return None
        return str(self.client.dashboard_link) if "dashboard" in services else None

    @property
    def n_workers(self) -> int:
        """Workers connected now."""
        return len(self.client.scheduler_info().get("workers", {}))

    def run(
        self,
        task: Callable[[_A, TaskEnv], _R],
        items: Sequence[tuple[str, _A]],
        *,
        on_stage: StageCallback | None = None,
    ) -> Iterator[tuple[str, _R | TaskLost]]:
        distributed = _distributed()
        client = self.client
        _check_reach(client, task, [arg for _, arg in items])
        if on_stage is not None:
            client.subscribe_topic(STAGE_TOPIC, lambda event: on_stage(*event[1]))
        pending: dict[Any, str] = {}
        waiting = list(reversed(items))
        running = distributed.as_completed()

        def submit_next() -> None:
            name, arg = waiting.pop()
            key = f"title-{_slug(name)}-{uuid.uuid4().hex[:8]}"
            fut = client.submit(_on_worker, task, arg, key=key, retries=self.retries)
            pending[fut] = name
            running.add(fut)

        try:
            for _ in range(min(len(waiting), self.max_in_flight or max(2, 2 * self.n_workers))):
                submit_next()
            for fut in running:
                name = pending.pop(fut)
                if waiting:
                    submit_next()
                yield name, _result(distributed, fut, name)
                fut.release()
        finally:
            if pending:  # the caller stopped early (an exception): nothing left running for it
                client.cancel(list(pending))
            if on_stage is not None:
                client.unsubscribe_topic(STAGE_TOPIC)

    def close(self) -> None:
        client, self.client = getattr(self, "client", None), None
        if client is not None:
            client.close()
        cluster, self._cluster = self._cluster, None
        if cluster is not None:
            cluster.close()


def _result(distributed: ModuleType, fut: Any, name: str) -> Any:
    """The task's result; a :class:`TaskLost` when dask gave up on it."""
    try:
        return fut.result()
    except distributed.KilledWorker as exc:
        return TaskLost(f"{name}: every worker that ran this title died ({exc})")
    except distributed.CancelledError as exc:
        return TaskLost(f"{name}: the cluster cancelled this title ({exc})")


def _check_reach(client: Any, task: Callable[..., Any], args: Sequence[Any]) -> None:
    """Every connected worker unpickles the task and one argument of each type, as dask will
    send them, or :class:`ClusterError` names the workers that cannot and why."""
    import cloudpickle  # dask's own pickler, installed with distributed

    samples = list({type(a): a for a in args}.values())
    blob = cloudpickle.dumps((task, samples))
    what = getattr(task, "__qualname__", type(task).__qualname__)
    answers = client.run(_unpickle_error, blob, on_error="return")
    if not answers:
        log.warning("no dask worker connected yet: %s was not checked on any", what)
    failed = {}
    for worker, answer in answers.items():
        if isinstance(answer, BaseException):  # the worker could not be asked: dask's business
            log.warning("dask worker %s not checked: %s: %s", worker, type(answer).__name__, answer)
        elif answer:
            failed[worker] = answer
    if failed:
        named = "; ".join(f"{w}: {e}" for w, e in sorted(failed.items()))
        raise ClusterError(
            f"{len(failed)} of {len(answers)} dask worker(s) cannot unpickle the task {what!r} "
            f"or its arguments ({named}). Install the package that holds them on every worker, "
            "or put its folder on the workers' PYTHONPATH"
        )


def _unpickle_error(blob: bytes) -> str:
    """On a worker: why ``blob`` does not unpickle (empty when it does)."""
    try:
        pickle.loads(blob)
    except Exception as exc:  # any failure to unpickle is the answer
        return f"{type(exc).__name__}: {exc}"
    return ""


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]+", "_", name)[:60]


def _on_worker(task: Callable[[_A, TaskEnv], _R], arg: _A) -> _R:
    """A title task where it runs: chunks as cluster tasks, stages as cluster events."""
    return task(arg, TaskEnv(runner=DaskChunkRunner(), on_stage=_post_stage))


def _post_stage(title: str, what: str) -> None:
    _distributed().get_worker().log_event(STAGE_TOPIC, [title, what])


@dataclass(frozen=True)
class DaskChunkRunner:
    """A :class:`~ladderforge.encoder.chunks.ChunkRunner` for a task running on a dask worker:
    the chunk encodes as tasks of the same cluster (higher priority than titles)."""

    retries: int = 2
    """Times a chunk task that raised is run again (lost workers are dask's own retries)."""

    def __call__(
        self,
        fn: Callable[..., _T],
        calls: Sequence[tuple[str, tuple[Any, ...]]],
        on_done: Callable[[], None],
    ) -> list[_T]:
        distributed = _distributed()
        with distributed.worker_client() as client:  # gives this task's thread back meanwhile
            futures = [
                client.submit(fn, *args, key=key, retries=self.retries, priority=CHUNK_PRIORITY)
                for key, args in calls
            ]
            try:
                for fut in distributed.as_completed(futures):
                    fut.result()  # the first failure raises here
                    on_done()
                return [f.result() for f in futures]
            except distributed.KilledWorker as exc:
                client.cancel(futures)
                raise EncodeError(
                    f"a chunk encode was lost with every worker that ran it: {exc}"
                ) from exc
            except BaseException:
                client.cancel(futures)
                raise
