"""Choosing an executor (``--scheduler`` / ``--cluster``): the local one by default, one clear line
for a bad choice or an unreachable scheduler, and the local executor's contract."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable

import pytest

from ladderforge.errors import ClusterError, UsageError
from ladderforge.jobs.executor import LocalExecutor, TaskEnv
from ladderforge.run import make_executor


def test_no_option_gives_the_local_executor() -> None:
    with make_executor() as ex:
        assert isinstance(ex, LocalExecutor) and ex.dashboard_link is None


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"scheduler": "tcp://127.0.0.1:8786", "cluster": "local"}, "not both"),
        ({"cluster": "kubernetes"}, "must be one of local"),
        ({"cluster": "local", "workers": 0}, "'workers' parameter must be >= 1"),
    ],
)
def test_bad_choices_are_refused_before_anything_starts(options: dict, words: str) -> None:
    with pytest.raises(UsageError, match=words):
        make_executor(**options)


def test_an_unreachable_scheduler_is_one_clear_error() -> None:
    pytest.importorskip("distributed")
    from ladderforge.run.cluster import DaskExecutor

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ClusterError, match=f"tcp://127.0.0.1:{port}: cannot reach"):
        DaskExecutor(scheduler=f"tcp://127.0.0.1:{port}", connect_timeout_s=1)


def test_the_cli_refuses_an_unknown_cluster_in_one_line(
    run_cli: Callable[..., subprocess.CompletedProcess[str]], lavfi_clip: object, tmp_path: object
) -> None:
    done = run_cli("ladder", str(lavfi_clip), "-o", f"{tmp_path}/out", "--cluster", "k8s")
    assert done.returncode != 0
    assert "must be one of local" in done.stderr and "Traceback" not in done.stderr


def test_the_local_executor_runs_every_item_in_order_with_its_stages() -> None:
    stages: list[tuple[str, str]] = []

    def task(x: int, env: TaskEnv) -> int:
        assert env.runner is None  # chunk encodes stay in the title's threads
        if env.on_stage:
            env.on_stage(f"t{x}", "working")
        return x * x

    out = list(
        LocalExecutor().run(task, [("a", 2), ("b", 3)], on_stage=lambda t, s: stages.append((t, s)))
    )
    assert out == [("a", 4), ("b", 9)]
    assert stages == [("t2", "working"), ("t3", "working")]


def _unfinished_titles() -> int:
    """Title tasks the scheduler holds that have not finished (run inside a task)."""
    from distributed import get_client

    def count(dask_scheduler: object) -> int:
        tasks = dask_scheduler.tasks.values()  # type: ignore[attr-defined]
        return sum(str(t.key).startswith("title-") and t.state != "memory" for t in tasks)

    return int(get_client().run_on_scheduler(count))


def _square_counting(x: int, env: TaskEnv) -> tuple[int, int]:
    return x * x, _unfinished_titles()


@pytest.mark.parametrize("cap", [1, None])
def test_titles_are_submitted_in_waves(cap: int | None) -> None:
    pytest.importorskip("distributed")
    from ladderforge.run.cluster import DaskExecutor

    with DaskExecutor(local_workers=1, max_in_flight=cap) as ex:
        out = dict(ex.run(_square_counting, [(f"t{i}", i) for i in range(5)]))
    assert {k: v[0] for k, v in out.items()} == {f"t{i}": i * i for i in range(5)}
    most = max(v[1] for v in out.values())
    assert most == 1 if cap == 1 else most == 2  # the default: 2 x 1 worker
