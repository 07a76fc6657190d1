"""Truncated sources (issue 17, item 5): the frame count used everywhere is the count that
decodes, the duration is the remnant's own, and a file that cannot be read says why."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ladderforge.analysis import analyze
from ladderforge.errors import InvalidMediaError
from ladderforge.jobs.config import LadderConfig
from ladderforge.jobs.title import plan_title
from ladderforge.jobs.verify import verify_output
from ladderforge.media import ffmpeg_path, probe

MakeClip = Callable[..., Path]


def _cut(src: Path, out: Path, share: float) -> Path:
    data = src.read_bytes()
    out.write_bytes(data[: int(len(data) * share)])
    return out


def _ffmpeg_frames(path: Path) -> int:
    done = subprocess.run(
        [ffmpeg_path(), "-hide_banner", "-nostats", "-i", str(path), "-map", "0:v:0",
         "-f", "null", "-"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return int(re.findall(r"frame=\s*(\d+)", done.stderr)[-1])


@pytest.fixture
def moov_front(make_clip: MakeClip, tmp_path: Path) -> Path:
    """testsrc2 320x240, 75 frames (3 s), H.264 with B-frames, index at the front."""
    return make_clip(tmp_path / "front.mp4", frames=75, extra=["-movflags", "+faststart"])


@pytest.mark.parametrize("share", [0.5, 0.9])
def test_probe_counts_the_frames_that_decode(
    moov_front: Path, tmp_path: Path, share: float
) -> None:
    # was: probe counted 36 packets (one cut short) and "3.00 s" from the index
    remnant = _cut(moov_front, tmp_path / "remnant.mp4", share)
    info = probe(remnant)
    assert info.truncated
    assert info.frame_count == _ffmpeg_frames(remnant) < 75
    assert info.duration_s < 3.0 * share + 0.2
    # the span of the frames that decode: a B-frame lost with the tail leaves a hole or two
    assert info.frame_count / 25 <= info.duration_s <= (info.frame_count + 3.5) / 25
    profile = analyze(remnant, cache_dir=False)
    assert profile.title["frames_decoded"] == info.frame_count
    assert profile.title["truncated"] is True


def test_a_whole_file_is_not_called_truncated(moov_front: Path) -> None:
    info = probe(moov_front)
    assert (info.frame_count, info.duration_s, info.truncated) == (75, 3.0, False)
    assert analyze(moov_front, cache_dir=False).title["truncated"] is False


@pytest.mark.parametrize("share", [0.1, 0.5, 0.9])
def test_an_mp4_cut_before_its_index_says_so(
    make_clip: MakeClip, tmp_path: Path, share: float
) -> None:
    whole = make_clip(tmp_path / "end.mp4", frames=75)
    with pytest.raises(InvalidMediaError, match="without its index .* truncated"):
        probe(_cut(whole, tmp_path / "remnant.mp4", share))


def test_a_remnant_of_no_whole_frame_is_refused(moov_front: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidMediaError, match="corrupt or truncated"):
        probe(_cut(moov_front, tmp_path / "remnant.mp4", 0.1))


def test_a_truncated_title_ships_what_decodes_and_says_so(moov_front: Path, tmp_path: Path) -> None:
    # was: "the joined chunks do not match the source ... 38 frames where 39 were expected"
    remnant = _cut(moov_front, tmp_path / "remnant.mp4", 0.5)
    config = LadderConfig(mode="predict", encode=True, heights=(120,), max_rungs=1, audio=False)
    plan = plan_title(remnant, tmp_path / "out", config=config)
    assert any("truncated" in n for n in plan.ladder.notes)
    assert [c for c in verify_output(tmp_path / "out") if not c.ok] == []
