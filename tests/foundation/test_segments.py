"""The one FFV1 cutter: frame-exact cuts that keep bit depth and colour range, crop and scale,
several cuts per decoding pass, and no partial file left by any failure."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from ladderforge.errors import FFmpegError, UsageError
from ladderforge.media import ffmpeg_path, probe
from ladderforge.media.segments import Crop, Cut, cut_ffv1, extract_segment


def _planes(path: Path) -> list[np.ndarray]:
    """Every frame as stored (no conversion: range and depth as coded)."""
    with av.open(str(path)) as container:
        return [f.to_ndarray() for f in container.decode(video=0)]


def _partials(folder: Path) -> list[Path]:
    return list(folder.glob(".*partial*"))


@pytest.fixture
def ten_bit_clip(tmp_path: Path, make_clip: Callable[..., Path]) -> Path:
    """testsrc2 320x240, 20 frames, 10-bit 4:2:0 HEVC in mkv (limited range)."""
    return make_clip(
        tmp_path / "ten.mkv",
        frames=20,
        pix_fmt="yuv420p10le",
        codec="libx265",
        extra=["-x265-params", "log-level=error"],
    )


@pytest.fixture
def full_range_clip(tmp_path: Path, make_clip: Callable[..., Path]) -> Path:
    """testsrc2 320x240, 10 frames, full-range 8-bit H.264 (lossless) in mp4."""
    return make_clip(tmp_path / "full.mp4", frames=10, pix_fmt="yuvj420p", extra=["-qp", "0"])


def test_a_ten_bit_source_is_cut_at_ten_bits(ten_bit_clip: Path, tmp_path: Path) -> None:
    out = extract_segment(ten_bit_clip, 5, 12, tmp_path / "seg" / "ten.mkv")
    info = probe(out)
    assert (info.pix_fmt, info.bit_depth, info.frame_count) == ("yuv420p10le", 10, 7)
    assert (info.width, info.height, info.codec) == (320, 240, "ffv1")
    source = _planes(ten_bit_clip)[5:12]
    assert all(np.array_equal(a, b) for a, b in zip(source, _planes(out), strict=True))
    assert _partials(out.parent) == []


def test_full_range_is_kept(full_range_clip: Path, tmp_path: Path) -> None:
    assert probe(full_range_clip).color_range == "pc"
    out = extract_segment(full_range_clip, 2, 6, tmp_path / "full.mkv")
    assert probe(out).color_range == "pc"
    source = _planes(full_range_clip)[2:6]
    assert all(np.array_equal(a, b) for a, b in zip(source, _planes(out), strict=True))


def test_several_cuts_in_one_pass_with_crop_and_scale(lavfi_clip: Path, tmp_path: Path) -> None:
    cuts = [Cut(0, 10, tmp_path / "a.mkv"), Cut(10, 25, tmp_path / "b.mkv")]
    paths = cut_ffv1(lavfi_clip, cuts, crop=Crop(200, 150, x=10, y=20), max_height=100)
    infos = [probe(p) for p in paths]
    assert [i.frame_count for i in infos] == [10, 15]
    # 200x150 scaled to 100 lines: 133.3 wide -> even 134
    assert {(i.width, i.height, i.bit_depth) for i in infos} == {(134, 100, 8)}
    assert _partials(tmp_path) == []


def test_no_scaling_needed_keeps_odd_sides(odd_clip: Path, tmp_path: Path) -> None:
    # a lossless cut does not resample: the 321x241 picture stays as it is (4:2:0 now)
    out = extract_segment(odd_clip, 0, 5, tmp_path / "cut.mkv", max_height=480)
    info = probe(out)
    assert (info.width, info.height, info.pix_fmt) == (321, 241, "yuv420p")
    smaller = probe(extract_segment(odd_clip, 0, 5, tmp_path / "small.mkv", max_height=120))
    assert (smaller.width, smaller.height) == (160, 120)


def test_a_rotated_source_is_scaled_upright(lavfi_clip: Path, tmp_path: Path) -> None:
    import subprocess

    rotated = tmp_path / "rotated.mp4"
    subprocess.run(
        [ffmpeg_path(), "-loglevel", "error", "-display_rotation:v", "90", "-i", str(lavfi_clip),
         "-c", "copy", str(rotated)],
        check=True,
        timeout=60,
    )  # fmt: skip
    assert probe(rotated).rotation_deg % 180 == 90
    info = probe(extract_segment(rotated, 0, 5, tmp_path / "upright.mkv", max_height=160))
    assert (info.width, info.height) == (120, 160)  # 240x320 displayed, not squeezed


def test_an_existing_output_is_reused(lavfi_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "seg.mkv"
    out.write_bytes(b"kept")
    assert extract_segment(lavfi_clip, 0, 5, out) == out and out.read_bytes() == b"kept"


def test_bad_requests_are_usage_errors(lavfi_clip: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"frames \[20, 30\) are not inside its 25 frames"):
        extract_segment(lavfi_clip, 20, 30, tmp_path / "past.mkv")
    with pytest.raises(UsageError, match="same file"):
        cut_ffv1(lavfi_clip, [Cut(0, 5, tmp_path / "x.mkv"), Cut(5, 9, tmp_path / "x.mkv")])
    with pytest.raises(UsageError, match="crop 400x100"):
        cut_ffv1(lavfi_clip, [Cut(0, 5, tmp_path / "x.mkv")], crop=Crop(400, 100))
    with pytest.raises(UsageError, match="'bit_depth'"):
        cut_ffv1(lavfi_clip, [Cut(0, 5, tmp_path / "x.mkv")], bit_depth=12)
    assert list(tmp_path.glob("*.mkv")) == [] and _partials(tmp_path) == []


def test_a_short_cut_is_an_error_and_leaves_nothing(lavfi_clip: Path, tmp_path: Path) -> None:
    # a source that claims more frames than it decodes (as a truncated one would)
    claims_more = dataclasses.replace(probe(lavfi_clip), frame_count=40)
    cuts = [Cut(0, 10, tmp_path / "a.mkv"), Cut(10, 40, tmp_path / "b.mkv")]
    with pytest.raises(FFmpegError, match=r"frames \[10, 40\) has 15 frames, not 30"):
        cut_ffv1(claims_more, cuts)
    assert list(tmp_path.iterdir()) == [lavfi_clip]  # not even the good cut of the same pass


def test_ffmpeg_killed_mid_cut_leaves_nothing(
    bbb_mp4: Path, tmp_path: Path, kill_ffmpeg_once_writing: Callable[[Path], None]
) -> None:
    folder = tmp_path / "cuts"
    kill_ffmpeg_once_writing(folder)
    with pytest.raises(FFmpegError, match="killed by signal 9"):
        cut_ffv1(bbb_mp4, [Cut(0, 60, folder / "a.mkv"), Cut(60, 132, folder / "b.mkv")])
    assert list(folder.iterdir()) == []


def test_a_timeout_leaves_nothing(bbb_mp4: Path, tmp_path: Path) -> None:
    with pytest.raises(FFmpegError, match="timed out"):
        extract_segment(bbb_mp4, 0, 132, tmp_path / "slow.mkv", timeout_s=0.05)
    assert list(tmp_path.iterdir()) == []
