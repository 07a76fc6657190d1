"""A phone-style source whose display matrix turns it by 90 or 270 degrees (issue 17, item 1):
probe, analysis, cuts, encodes, VMAF and verify all work on the upright picture, and the
renditions come out upright with square pixels."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ladderforge.analysis import analyze
from ladderforge.encoder.verify import check_picture
from ladderforge.jobs.config import LadderConfig
from ladderforge.jobs.title import plan_title
from ladderforge.jobs.verify import verify_output
from ladderforge.media import ffmpeg_path, probe
from ladderforge.vmaf_tools import measure

MakeClip = Callable[..., Path]


def _rotated(make_clip: MakeClip, tmp: Path, degrees: int) -> Path:
    """A 320x180 H.264 clip (25 frames) whose display matrix turns it by ``degrees``."""
    base = make_clip(tmp / "base.mp4", size="320x180", extra=["-preset", "ultrafast"])
    out = tmp / f"rot{degrees % 360}.mp4"
    subprocess.run(
        [ffmpeg_path(), "-loglevel", "error", "-y", "-display_rotation", str(degrees),
         "-i", str(base), "-c", "copy", str(out)],
        check=True, timeout=60, capture_output=True,
    )  # fmt: skip
    return out


def _upright_copy(src: Path, out: Path) -> Path:
    """What ffmpeg decodes from ``src`` (rotation applied), stored losslessly."""
    subprocess.run(
        [ffmpeg_path(), "-loglevel", "error", "-y", "-i", str(src), "-c:v", "ffv1", str(out)],
        check=True, timeout=60, capture_output=True,
    )  # fmt: skip
    return out


@pytest.mark.parametrize(("degrees", "expected"), [(90, 90), (-90, 270), (270, 270), (180, 180)])
def test_probe_gives_the_upright_size(
    make_clip: MakeClip, tmp_path: Path, degrees: int, expected: int
) -> None:
    info = probe(_rotated(make_clip, tmp_path, degrees))
    assert info.rotation_deg == expected
    upright = (320, 180) if expected == 180 else (180, 320)
    assert (info.width, info.height) == upright
    assert info.coded_size == (320, 180)


@pytest.mark.parametrize("degrees", [90, -90])
def test_analysis_sees_the_picture_ffmpeg_decodes(
    make_clip: MakeClip, tmp_path: Path, degrees: int
) -> None:
    from ladderforge.analysis.decode import DecodeStats, decode_frames, open_video

    src = _rotated(make_clip, tmp_path, degrees)
    upright = _upright_copy(src, tmp_path / "upright.mkv")
    with open_video(src) as a, open_video(upright) as b:
        fa = next(decode_frames(a, stats=DecodeStats(), motion_vectors=False))
        fb = next(decode_frames(b, stats=DecodeStats(), motion_vectors=False))
        assert fa.luma.shape == fb.luma.shape == (320, 180)
        assert np.array_equal(fa.luma, fb.luma)
    title = analyze(src, cache_dir=False).title
    assert (title["active_w"], title["active_h"]) == (180, 320)
    assert title["grid_width"] < title["grid_height"]


def test_measure_against_a_rotated_reference(make_clip: MakeClip, tmp_path: Path) -> None:
    # was: "measuring against rotated.mp4 failed (exit code 234)"
    src = _rotated(make_clip, tmp_path, 90)
    dist = _upright_copy(src, tmp_path / "dist.mkv")
    result = measure(src, dist, metrics=["vmaf"])
    assert result.vmaf > 95
    assert (result.display_width, result.display_height) == (180, 320)


@pytest.mark.parametrize("degrees", [90, 270])
def test_a_rotated_title_ships_upright_and_verifies(
    make_clip: MakeClip, tmp_path: Path, degrees: int
) -> None:
    src = _rotated(make_clip, tmp_path, degrees)
    config = LadderConfig(mode="probe", encode=True, heights=(320, 160), max_rungs=2, audio=False)
    plan = plan_title(src, tmp_path / "out", config=config)
    sizes = {(r.settings.width, r.settings.height) for r in plan.ladder.rungs}
    assert sizes and all(h > w for w, h in sizes), sizes  # portrait, as displayed
    checks = verify_output(tmp_path / "out")
    assert [c for c in checks if not c.ok] == []
    assert {c.what for c in checks} >= {"picture", "vmaf", "frames"}


def test_verify_catches_a_squashed_rendition(tmp_path: Path) -> None:
    # what the renditions of a rotated phone video looked like before: landscape, SAR 81:256
    squashed = tmp_path / "squashed.mp4"
    subprocess.run(
        [ffmpeg_path(), "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=480x270",
         "-frames:v", "2", "-vf", "setsar=81/256", "-c:v", "libx264", str(squashed)],
        check=True, timeout=60, capture_output=True,
    )  # fmt: skip
    problems = check_picture(squashed, width=270, height=480, source_size=(180, 320))
    assert any("480x270 where 270x480" in p for p in problems)
    assert any("non-square pixels (SAR " in p for p in problems)  # x264 stores it as 25:79
    assert any("shape" in p for p in problems)
