"""Executors: where a batch's tasks run (this process, or a dask.distributed cluster).

:func:`make_executor` maps the CLI's ``--scheduler`` / ``--cluster`` onto an
:class:`~ladderforge.jobs.executor.Executor`; the dask one is imported only when asked for.
"""

from __future__ import annotations

from ladderforge.errors import UsageError
from ladderforge.jobs.executor import Executor, LocalExecutor

__all__ = ["CLUSTERS", "Executor", "LocalExecutor", "make_executor"]

CLUSTERS = ("local",)
"""Values of ``cluster``: ``local`` starts a dask LocalCluster on 127.0.0.1."""


def make_executor(
    *, scheduler: str | None = None, cluster: str | None = None, workers: int = 1
) -> Executor:
    """The executor for these options: none given, :class:`LocalExecutor` (the default);
    ``scheduler`` (``tcp://host:port``), a client of that dask scheduler; ``cluster="local"``,
    a dask LocalCluster of ``workers`` worker processes (one thread each) on 127.0.0.1."""
    if scheduler and cluster:
        raise UsageError("give --scheduler or --cluster, not both")
    if cluster is not None and cluster not in CLUSTERS:
        raise UsageError(
            f"The 'cluster' parameter must be one of {', '.join(CLUSTERS)}. Got {cluster!r} "
            "instead (for a running cluster, pass its scheduler: --scheduler tcp://host:port)."
        )
    if scheduler is None and cluster is None:
        return LocalExecutor()
    if workers < 1:
        raise UsageError(f"The 'workers' parameter must be >= 1. Got {workers}.")
    from ladderforge.run.cluster import DaskExecutor

    if scheduler is not None:
        return DaskExecutor(scheduler=scheduler)
    return DaskExecutor(local_workers=workers)
