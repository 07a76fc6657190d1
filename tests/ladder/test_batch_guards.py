"""A batch on real media: one run at a time per output folder, partial files of a killed run
removed on the next, and the failure lines, summary and source checks of a batch that fails."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from ladderforge._cli.main import app
from ladderforge.errors import BusyError, UsageError
from ladderforge.jobs.batch import TitleSource, check_sources, read_manifest, run_batch
from ladderforge.jobs.config import LadderConfig
from ladderforge.jobs.sweep import SweepConfig, sweep
from ladderforge.store import folder_lock

PREDICT = LadderConfig(mode="predict")


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    return int(done.stdout)


def _blocked_on_a_lock(pid: int) -> bool:
    """True when process ``pid`` waits for a file lock (``->`` lines of /proc/locks)."""
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()  # 1: -> FLOCK ADVISORY WRITE <pid> <device:inode> 0 EOF
        if len(fields) > 5 and fields[1] == "->" and fields[5] == str(pid):
            return True
    return False


def test_a_second_run_on_the_folder_fails_at_once(
    bikes_mp4: Path, carphone_mp4: Path, tmp_path: Path, run_cli
) -> None:
    out = tmp_path / "out"
    with folder_lock(out):
        done = run_cli("ladder", str(bikes_mp4), "-o", str(out), "--mode", "predict")
        with pytest.raises(BusyError, match="another ladderforge run"):
            run_batch([bikes_mp4], out, config=PREDICT)
        with pytest.raises(BusyError, match="holds this output folder"):
            sweep([carphone_mp4], out, config=SweepConfig(heights=(144,), crfs=(30,)))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    flat = " ".join(done.stderr.split())  # rich wraps long lines
    assert f"error: {out}: another ladderforge run (pid {os.getpid()}) holds" in flat
    assert sorted(p.name for p in out.iterdir()) == [".ladderforge.lock"]  # nothing done


def test_wait_queues_behind_the_run_that_holds_the_folder(bikes_mp4: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "ladderforge", "ladder", str(bikes_mp4), "-o", str(out),
           "--mode", "predict", "--wait"]  # fmt: skip
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            with folder_lock(out):
                proc_started = time.monotonic()
                while not _blocked_on_a_lock(proc.pid) and proc.poll() is None:
                    assert time.monotonic() < proc_started + 120, "it never reached the lock"
                    time.sleep(0.05)
                time.sleep(0.5)
                assert proc.poll() is None and not (out / "bikes").exists()
            stdout, stderr = proc.communicate(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, stderr
    assert (out / "bikes" / "bikes.ladder.json").is_file() and "bikes" in stdout


def test_partials_of_a_killed_run_are_removed_and_live_ones_kept(
    bikes_mp4: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    dead, live = _dead_pid(), os.getpid()
    work, deliver = out / ".work" / "bikes", out / "bikes"
    (work / "chunks" / "272").mkdir(parents=True)
    deliver.mkdir(parents=True)
    stale = [
        work / "chunks" / "272" / f".0001.partial-{dead}-0a1b2c3d.mp4",
        deliver / f".master.partial-{dead}-0a1b2c3d.m3u8",
        deliver / f".bikes.ladder.json.partial-{dead}-ab_c12x.tmp",
    ]
    stale_folder = deliver / f".272p.partial-{dead}-0a1b2c3d"
    alive = [
        work / "chunks" / "272" / f".0002.partial-{live}-0a1b2c3d.mp4",
        deliver / f".master.partial-{live}-0a1b2c3d.m3u8",
    ]
    for path in [*stale, *alive]:
        path.write_bytes(b"half")
    stale_folder.mkdir()
    (stale_folder / "seg0.m4s").write_bytes(b"half")

    config = LadderConfig(mode="predict", keep_work=True)
    report = run_batch([bikes_mp4], out, config=config)
    assert list(report.plans) == ["bikes"] and not report.failures
    assert not any(p.exists() for p in [*stale, stale_folder])
    assert all(p.read_bytes() == b"half" for p in alive)


def test_every_title_failing(tmp_path: Path, run_cli) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 1000)
    out = tmp_path / "out"
    done = run_cli("ladder", str(bad), "-o", str(out), "--mode", "predict")
    assert done.returncode == 3 and "Traceback" not in done.stderr
    flat = "".join(done.stderr.split())  # rich folds long lines
    assert f"failed:{bad}:" in flat and flat.count(str(bad)) == 1, done.stderr
    summary = pl.read_parquet(out / "summary.parquet")
    assert summary.height == 0 and summary.columns[:3] == ["title", "mode", "rung"]
    assert summary.schema["measured_vmaf"] == pl.Float64 and len(summary.columns) == 13


def test_a_symlink_loop_is_called_one(tmp_path: Path, bikes_mp4: Path) -> None:
    loop = tmp_path / "loop.mp4"
    loop.symlink_to(loop)
    (tmp_path / "a.mp4").symlink_to(tmp_path / "b.mp4")
    (tmp_path / "b.mp4").symlink_to(tmp_path / "a.mp4")
    for path in (loop, tmp_path / "a.mp4"):
        with pytest.raises(UsageError, match="symlink loop"):
            check_sources([TitleSource(path), TitleSource(bikes_mp4)])
    manifest = tmp_path / "titles.csv"
    manifest.write_text("path\nloop.mp4\n")
    with pytest.raises(UsageError, match="line 2: .*loop.mp4 is a symlink loop"):
        read_manifest(manifest)
    result = CliRunner().invoke(app, ["ladder", str(loop), "-o", str(tmp_path / "out")])
    flat = " ".join(result.output.split())
    assert result.exit_code == 1 and "is a symlink loop" in flat and "no such file" not in flat
