"""make_reference: the enhancement stage's reference is an 8-bit limited-range, even-sized FFV1
cut of the source, made by the one cutter, and a failed cut leaves no partial file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ladderforge.enhance.data import make_reference
from ladderforge.errors import FFmpegError
from ladderforge.media import probe


def test_reference_is_even_eight_bit_limited_range(
    tmp_path: Path, make_clip: Callable[..., Path]
) -> None:
    source = make_clip(
        tmp_path / "odd_full_ten.mkv",
        size="321x241",
        frames=8,
        pix_fmt="yuv420p10le",
        codec="ffv1",
        extra=["-color_range", "pc"],
    )
    assert (probe(source).bit_depth, probe(source).color_range) == (10, "pc")
    ref = probe(make_reference(source, tmp_path / "ref" / "ref.mkv", max_frames=5))
    assert (ref.width, ref.height, ref.frame_count) == (320, 240, 5)
    assert (ref.pix_fmt, ref.color_range) == ("yuv420p", "tv")
    # max_frames past the end: the whole source
    whole = probe(make_reference(source, tmp_path / "whole.mkv", max_frames=100))
    assert whole.frame_count == 8
    assert list((tmp_path / "ref").glob(".*partial*")) == []


def test_failed_reference_leaves_no_partial_file(
    bbb_mp4: Path, tmp_path: Path, kill_ffmpeg_once_writing: Callable[[Path], None]
) -> None:
    folder = tmp_path / "bbb"
    kill_ffmpeg_once_writing(folder)
    with pytest.raises(FFmpegError, match="killed by signal 9"):
        make_reference(bbb_mp4, folder / "ref.mkv", max_frames=132)
    assert list(folder.iterdir()) == []
