"""The smallest picture the job supports (MIN_SIDE_PX): refused at probe time, never a rung.

libvmaf's VMAF v0.6.1 is killed by signal 11 on a 16x16 or 17x17 picture (see
``ladderforge.types.MIN_SIDE_PX`` for the measurements); a source that small must be refused
with one line before any work is spent, and a source at the limit must go through the job.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ladderforge.encoder import encode
from ladderforge.errors import UnsupportedMediaError, UsageError
from ladderforge.media import probe
from ladderforge.media.probe import MIN_SIDE_PX
from ladderforge.types import EncodeSettings, candidate_sizes


def _flat(done: subprocess.CompletedProcess[str]) -> str:
    """stdout + stderr with rich's line wrapping undone."""
    return " ".join((done.stdout + done.stderr).split())


@pytest.fixture
def tiny_clip(tmp_path: Path, make_clip) -> Path:
    """testsrc2 16x16, 10 frames: below the limit."""
    return make_clip(tmp_path / "tiny.mp4", size="16x16", frames=10)


@pytest.fixture
def smallest_clip(tmp_path: Path, make_clip) -> Path:
    """testsrc2 at the limit (MIN_SIDE_PX x MIN_SIDE_PX), 25 frames."""
    side = MIN_SIDE_PX
    return make_clip(tmp_path / "smallest.mp4", size=f"{side}x{side}", frames=25)


def test_the_limit_is_one_constant() -> None:
    import ladderforge.types as types

    assert MIN_SIDE_PX == types.MIN_SIDE_PX == 18


def test_probe_refuses_a_picture_below_the_limit(tiny_clip: Path) -> None:
    with pytest.raises(UnsupportedMediaError) as exc:
        probe(tiny_clip)
    message = str(exc.value)
    assert "tiny.mp4" in message and "16x16" in message and f">= {MIN_SIDE_PX}" in message
    assert "\n" not in message
    assert exc.value.path == tiny_clip


@pytest.mark.parametrize("size", ["16x64", "64x16"])
def test_one_small_side_is_enough_to_refuse(tmp_path: Path, make_clip, size: str) -> None:
    clip = make_clip(tmp_path / f"{size}.mp4", size=size, frames=3)
    with pytest.raises(UnsupportedMediaError, match=size):
        probe(clip)


def test_probe_accepts_the_limit(smallest_clip: Path) -> None:
    info = probe(smallest_clip)
    assert (info.width, info.height) == (MIN_SIDE_PX, MIN_SIDE_PX)


def test_candidate_sizes_never_go_below_the_limit() -> None:
    # 640x360 at 16 lines would be 28x16; a 20x1080 source at 360 lines would be 6 wide
    assert candidate_sizes(640, 360, (360, 144, 16)) == [(640, 360), (256, 144)]
    assert candidate_sizes(20, 1080, (1080, 360)) == [(20, 1080)]
    assert candidate_sizes(MIN_SIDE_PX, MIN_SIDE_PX, (1080, 16)) == [(MIN_SIDE_PX, MIN_SIDE_PX)]
    with pytest.raises(UsageError, match=f">= {MIN_SIDE_PX} pixels"):
        candidate_sizes(640, 360, (16, 10))


def test_encode_refuses_settings_below_the_limit(smallest_clip: Path, tmp_path: Path) -> None:
    settings = EncodeSettings(codec="x264", width=16, height=16, q=30, preset="ultrafast")
    with pytest.raises(UsageError, match=f">= {MIN_SIDE_PX} pixels"):
        encode(smallest_clip, settings, tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()


def test_cli_probe_refuses_in_one_line(run_cli, tiny_clip: Path) -> None:
    done = run_cli("probe", str(tiny_clip), timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert "16x16" in _flat(done) and f">= {MIN_SIDE_PX}" in _flat(done)


def test_cli_ladder_refuses_a_tiny_source(run_cli, tiny_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = run_cli("ladder", str(tiny_clip), "-o", str(out), "--mode", "predict", timeout=300)
    assert done.returncode != 0
    assert "Traceback" not in done.stdout + done.stderr
    flat = _flat(done)
    assert "tiny.mp4" in flat and "16x16" in flat and f">= {MIN_SIDE_PX}" in flat
    assert "signal" not in flat


def test_cli_ladder_predicts_at_the_limit(run_cli, smallest_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = run_cli("ladder", str(smallest_clip), "-o", str(out), "--mode", "predict", timeout=300)
    assert done.returncode == 0, done.stderr
    ladder = json.loads((out / "smallest" / "smallest.ladder.json").read_text())
    sizes = {(r["settings"]["width"], r["settings"]["height"]) for r in ladder["rungs"]}
    assert sizes == {(MIN_SIDE_PX, MIN_SIDE_PX)}
