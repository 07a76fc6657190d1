"""The CLI: doctor, probe, measure; bad input ends in one line, exit code != 0, no traceback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest


def _clean_failure(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    for needle in needles:
        assert needle in done.stderr, done.stderr


def test_doctor(run_cli) -> None:
    done = run_cli("doctor")
    assert done.returncode == 0, done.stderr
    assert "x265" in done.stdout and "libvmaf" in done.stdout and "vmaf_neg" in done.stdout


def test_probe_json(run_cli, bikes_mp4: Path) -> None:
    done = run_cli("probe", "--json", str(bikes_mp4))
    assert done.returncode == 0
    assert json.loads(done.stdout)[0]["frame_count"] == 250


def test_measure_json(run_cli, lavfi_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "q.json"
    done = run_cli(
        "measure", str(lavfi_clip), str(lavfi_clip), "--metrics", "vmaf,psnr", "-o", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["pooled"]["vmaf"]["mean"] > 97


@pytest.mark.parametrize("kind", ["missing", "directory", "empty", "junk"])
def test_probe_bad_input(run_cli, tmp_path: Path, kind: str) -> None:
    target = tmp_path / f"{kind}.mp4"
    if kind == "directory":
        target.mkdir()
    elif kind == "empty":
        target.touch()
    elif kind == "junk":
        target.write_bytes(b"\x00garbage" * 50)
    done = run_cli("probe", str(target))
    _clean_failure(done, str(target))


def test_measure_mismatch_is_clean(run_cli, lavfi_clip: Path, tmp_path: Path, make_clip) -> None:
    short = make_clip(tmp_path / "short one.mp4", frames=10)
    _clean_failure(run_cli("measure", str(lavfi_clip), str(short)), "short one.mp4", "10 frames")


def test_leading_dash_name(run_cli, tmp_path: Path, make_clip) -> None:
    clip = make_clip(tmp_path / "x.mp4", frames=3)
    dashed = tmp_path / "-dash.mp4"
    clip.rename(dashed)
    done = run_cli("probe", "--json", "--", str(dashed))
    assert done.returncode == 0, done.stderr


def test_sweep_bad_arguments(run_cli, lavfi_clip: Path, tmp_path: Path) -> None:
    _clean_failure(
        run_cli("sweep", str(lavfi_clip), "-o", str(tmp_path / "o"), "--crf", "a:b"), "--crf"
    )
    _clean_failure(
        run_cli("sweep", str(lavfi_clip), "-o", str(tmp_path / "o"), "--codec", "vp9"),
        "Unknown codec backend 'vp9'",
    )


def test_sweep_output_is_a_file(run_cli, lavfi_clip: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("x")
    _clean_failure(run_cli("sweep", str(lavfi_clip), "-o", str(blocker)), "not a folder")


def test_sweep_nvenc_unavailable(run_cli, lavfi_clip: Path, tmp_path: Path) -> None:
    from ladderforge.encoder import capabilities

    if capabilities().encoders.get("nvenc_hevc"):
        pytest.skip("NVENC works here")
    done = run_cli(
        "sweep",
        str(lavfi_clip),
        "-o",
        str(tmp_path / "o"),
        "--codec",
        "nvenc_hevc",
        "--preset",
        "p4",
    )
    _clean_failure(done, "nvenc_hevc", "not available")
