"""The exhaustive sweep: outputs, resume after SIGKILL without redoing encodes, bad titles."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from ladderforge.errors import StoreError
from ladderforge.jobs.sweep import SweepConfig, sweep
from ladderforge.media import probe
from ladderforge.store import ResultsStore, encode_key
from ladderforge.types import candidate_sizes

SMALL = [
    "--heights",
    "144,96",
    "--crf",
    "20:44:4",
    "--preset",
    "ultrafast",
    "--metrics",
    "vmaf,psnr",
]


def _stored_encodes(db: Path) -> dict[str, float]:
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return dict(conn.execute("SELECT key, created_at FROM encodes").fetchall())
    except sqlite3.OperationalError:
        return {}


def _counts(stdout: str) -> tuple[int, int]:
    match = re.search(r"encodes run: (\d+), reused: (\d+)", stdout)
    assert match, stdout
    return int(match[1]), int(match[2])


def test_sweep_killed_then_resumed_redoes_no_encode(carphone_mp4: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "ladderforge", "sweep", str(carphone_mp4), "-o", str(out), *SMALL]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + 240
    while time.time() < deadline and len(_stored_encodes(out / "results.sqlite")) < 4:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    before = _stored_encodes(out / "results.sqlite")
    assert 4 <= len(before) < 14, "the sweep must be killed part-way"

    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert rerun.returncode == 0, rerun.stderr
    run, reused = _counts(rerun.stdout)
    assert run == 14 - len(before) and reused == len(before)
    after = _stored_encodes(out / "results.sqlite")
    assert len(after) == 14
    assert all(after[key] == created for key, created in before.items()), "an encode was redone"

    points = pl.read_parquet(out / "points.parquet")
    assert points.height == 14 and set(points["height"].to_list()) == {144, 96}
    assert {"bitrate_kbps", "vmaf", "psnr_y", "encode_cpu_s", "crf"} <= set(points.columns)
    hull = pl.read_parquet(out / "hull.parquet")
    assert 2 <= hull.height <= 14
    assert hull["bitrate_kbps"].is_sorted() and hull["vmaf"].is_sorted()
    ladder = json.loads((out / "carphone_pristine.ladder.json").read_text())
    assert ladder["schema"] == "ladderforge.ladder/3" and ladder["rungs"]
    assert all(r["settings"]["height"] <= 144 for r in ladder["rungs"])
    assert all(r["measured"]["vmaf"] is not None for r in ladder["rungs"])

    third = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert _counts(third.stdout) == (0, 14)


def test_bad_title_does_not_stop_the_batch(carphone_mp4: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    config = SweepConfig(heights=(96,), crfs=(30, 40), preset="ultrafast", metrics=("vmaf",))
    report = sweep([empty, carphone_mp4], tmp_path / "out", config=config)
    assert "empty.mp4: the file is empty" in report.failures[str(empty)]
    assert len(report.points) == 2 and report.encodes_run == 2


def test_encodes_a_killed_sweep_left_half_written_are_removed(
    carphone_mp4: Path, tmp_path: Path
) -> None:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    dead, live = int(done.stdout), os.getpid()
    folder = tmp_path / "out" / "work" / "encodes" / "ab"
    folder.mkdir(parents=True)
    stale = folder / f".ab12.partial-{dead}-0a1b2c3d.mp4"
    alive = folder / f".ab34.partial-{live}-0a1b2c3d.mp4"
    for path in (stale, alive):
        path.write_bytes(b"half")
    config = SweepConfig(heights=(96,), crfs=(40,), preset="ultrafast", metrics=("vmaf",))
    report = sweep([carphone_mp4], tmp_path / "out", config=config)
    assert len(report.points) == 1 and not report.failures
    assert not stale.exists() and alive.read_bytes() == b"half"


def test_candidate_sizes_never_upscale(bikes_mp4: Path) -> None:
    info = probe(bikes_mp4, hash_content=False)
    assert candidate_sizes(info.width, info.height, (1080, 720, 180)) == [(640, 272), (424, 180)]


def test_store_keys_and_schema(tmp_path: Path) -> None:
    assert encode_key("h", "a", "v1") != encode_key("h", "b", "v1") != encode_key("h", "a", "v2")
    db = tmp_path / "s.sqlite"
    ResultsStore(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value='99' WHERE name='schema'")
    with pytest.raises(StoreError, match="schema 99"):
        ResultsStore(db)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError, match="junk.sqlite"):
        ResultsStore(junk)


@pytest.mark.slow
def test_sweep_bigbuckbunny_four_heights_six_crfs(bbb_mp4: Path, tmp_path: Path, run_cli) -> None:
    out = tmp_path / "bbb"
    done = run_cli(
        "sweep",
        str(bbb_mp4),
        "-o",
        str(out),
        "--heights",
        "720,540,360,240",
        "--crf",
        "22:47:5",
        "--preset",
        "fast",
        "--workers",
        "2",
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr
    points = pl.read_parquet(out / "points.parquet")
    assert points.height == 24
    assert (out / "hull.parquet").exists() and (out / "bigbuckbunny.ladder.json").exists()
