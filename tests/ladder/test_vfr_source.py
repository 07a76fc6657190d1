"""Variable frame rate (issue 17, item 2): a VFR source is conformed to one constant rate chosen
from it (or given with ``fps``), and chunks, segments, VMAF pairing and verify all use that
timeline."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pytest

from ladderforge.errors import UsageError
from ladderforge.jobs.config import LadderConfig, parse_fps
from ladderforge.jobs.title import plan_title
from ladderforge.jobs.verify import verify_output
from ladderforge.media import ffmpeg_path, probe
from ladderforge.media.conform import constant_rate, is_vfr
from ladderforge.vmaf_tools import measure

MakeClip = Callable[..., Path]


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        [ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True, timeout=120, capture_output=True,
    )  # fmt: skip


@pytest.fixture
def two_rates(tmp_path: Path) -> Path:
    """1.5 s at 30 fps then 1.5 s at 12 fps (63 frames, 3 s), with a tone as audio."""
    out = tmp_path / "two_rates.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=1.5",
            "-f", "lavfi", "-i", "testsrc=size=320x240:rate=12:duration=1.5",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=3",
            "-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]", "-map", "2:a",
            "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", str(out))  # fmt: skip
    return out


@pytest.fixture
def jittered(tmp_path: Path) -> Path:
    """25 fps whose timestamps wander by up to 12 ms (75 frames, 3 s)."""
    out = tmp_path / "jittered.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-frames:v", "75",
            "-vf", "setpts='N/25/TB+0.012*sin(N)/TB'", "-fps_mode", "passthrough",
            "-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", str(out))  # fmt: skip
    return out


def test_vfr_is_told_from_rounding_and_the_rate_is_the_common_one() -> None:
    cfr_ms = [round(i / 30, 3) for i in range(60)]  # a millisecond time base: 33/34 ms steps
    assert not is_vfr(cfr_ms)
    two = [i / 30 for i in range(45)] + [1.5 + i / 12 for i in range(18)]
    assert is_vfr(two) and constant_rate(two) == 30
    ntsc = [i * 1001 / 30000 for i in range(50)]
    assert not is_vfr(ntsc) and constant_rate(ntsc) == Fraction(30000, 1001)
    dropped = [i / 25 for i in range(50) if i != 20]
    assert is_vfr(dropped) and constant_rate(dropped) == 25


def test_probe_flags_vfr_sources_only(
    two_rates: Path, jittered: Path, make_clip: MakeClip, tmp_path: Path
) -> None:
    info = probe(two_rates)
    assert info.vfr and info.frame_rate == 30 and info.frame_count == 63
    assert abs(info.duration_s - 3.0) < 0.01
    assert probe(jittered).vfr and probe(jittered).frame_rate == 25
    for name in ("cfr.mp4", "cfr.mkv", "cfr.webm", "cfr.ts"):
        codec = "libvpx-vp9" if name.endswith("webm") else "libx264"
        assert not probe(make_clip(tmp_path / name, rate=30, frames=30, codec=codec)).vfr, name


def test_measure_conforms_a_vfr_reference(two_rates: Path, tmp_path: Path) -> None:
    cfr = tmp_path / "cfr.mkv"
    _ffmpeg("-i", str(two_rates), "-map", "0:v", "-vf", "fps=30", "-c:v", "ffv1", str(cfr))
    result = measure(two_rates, cfr, metrics=["vmaf"])
    assert result.frames_dist == 90 and len(result.per_frame["vmaf"]) == 90
    assert result.vmaf > 97


@pytest.mark.parametrize("fixture", ["two_rates", "jittered"])
def test_a_vfr_title_ships_on_one_timeline_and_verifies(
    request: pytest.FixtureRequest, tmp_path: Path, fixture: str
) -> None:
    # was: "playlist FAILED segments last 2.900 s, the title 3.000 s" (two rates) and
    # "the joined chunks do not match the source ...: 8 duplicated timestamps" (jittered)
    src: Path = request.getfixturevalue(fixture)
    config = LadderConfig(mode="predict", encode=True, heights=(240, 120), max_rungs=2)
    plan = plan_title(src, tmp_path / "out", config=config)
    source = plan.ladder.source
    assert source is not None and source.path == src and source.vfr
    assert abs(source.frame_count - 3.0 * float(source.frame_rate)) <= 1  # the last frame's end
    assert any("conformed to a constant" in n for n in plan.ladder.notes)
    failed = [c for c in verify_output(tmp_path / "out") if not c.ok]
    assert failed == []


def test_fps_conforms_a_cfr_title(make_clip: MakeClip, tmp_path: Path) -> None:
    src = make_clip(tmp_path / "at25.mp4", rate=25, frames=50, extra=["-preset", "ultrafast"])
    config = LadderConfig(mode="predict", encode=True, heights=(120,), max_rungs=1, fps="15")
    plan = plan_title(src, tmp_path / "out", config=config)
    assert plan.ladder.source is not None
    assert (plan.ladder.source.frame_rate, plan.ladder.source.frame_count) == (15, 30)
    assert [c for c in verify_output(tmp_path / "out") if not c.ok] == []


def test_fps_values() -> None:
    assert parse_fps("29.97") == Fraction(30000, 1001)
    assert parse_fps("30000/1001") == Fraction(30000, 1001)
    assert parse_fps(24) == 24 and parse_fps(None) is None
    for bad in ("fast", "0", "-5", "1/0", True, 1000):
        with pytest.raises(UsageError, match="'fps' parameter"):
            parse_fps(bad)
