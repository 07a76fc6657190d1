"""probe() on real and broken media: every bad input is a LadderforgeError naming the file."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from ladderforge.errors import (
    InvalidMediaError,
    LadderforgeError,
    MediaNotFoundError,
    UnsupportedMediaError,
)
from ladderforge.media import ffmpeg_path, probe


def test_probe_real_clip(bikes_mp4: Path) -> None:
    info = probe(bikes_mp4)
    assert (info.width, info.height) == (640, 272)
    assert info.frame_count == 250
    assert info.frame_rate == Fraction(25)
    assert info.pix_fmt == "yuv420p" and info.bit_depth == 8
    assert len(info.content_hash) == 64
    assert info.title == "bikes"


def test_probe_ten_bit(tmp_path: Path, make_clip) -> None:
    clip = make_clip(
        tmp_path / "ten.mkv",
        pix_fmt="yuv420p10le",
        codec="libx265",
        extra=["-x265-params", "log-level=error"],
        frames=5,
    )
    info = probe(clip)
    assert info.bit_depth == 10 and info.frame_count == 5


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaNotFoundError, match="no such file") as exc:
        probe(tmp_path / "nope.mp4")
    assert "nope.mp4" in str(exc.value)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(MediaNotFoundError, match="is a directory"):
        probe(tmp_path)


def test_zero_byte(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(InvalidMediaError, match=r"empty\.mp4: the file is empty"):
        probe(empty)


def test_not_media(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video at all" * 100)
    with pytest.raises(InvalidMediaError, match="junk.mp4"):
        probe(junk)


def test_truncated_mp4(tmp_path: Path, bikes_mp4: Path) -> None:
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(bikes_mp4.read_bytes()[:30_000])
    with pytest.raises(InvalidMediaError, match="cut.mp4"):
        probe(cut)


def test_corrupt_stream(tmp_path: Path, bikes_mp4: Path) -> None:
    """Garbage over the whole video payload: the stream does not decode."""
    data = bytearray(bikes_mp4.read_bytes())
    mdat = data.find(b"mdat")
    data[mdat + 8 :] = bytes(len(data) - mdat - 8)
    broken = tmp_path / "zeros.mp4"
    broken.write_bytes(bytes(data))
    with pytest.raises(InvalidMediaError, match="zeros.mp4"):
        probe(broken)


def test_audio_only(tmp_path: Path) -> None:
    audio = tmp_path / "tone.m4a"
    subprocess.run(
        [
            ffmpeg_path(),
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=0.5",
            "-c:a",
            "aac",
            str(audio),
        ],
        check=True,
        timeout=60,
    )
    with pytest.raises(InvalidMediaError, match=r"tone\.m4a: has no video stream \(found: audio\)"):
        probe(audio)


def test_unsupported_pixel_format(tmp_path: Path, make_clip) -> None:
    clip = make_clip(tmp_path / "twelve.mkv", pix_fmt="yuv420p12le", codec="ffv1", frames=3)
    with pytest.raises(UnsupportedMediaError, match=r"twelve\.mkv: pixel format yuv420p12le"):
        probe(clip)


def test_odd_dimensions_are_probed(tmp_path: Path, odd_clip: Path) -> None:
    clip = odd_clip
    info = probe(clip)
    assert (info.width, info.height) == (321, 241)


@pytest.mark.parametrize("name", ["with space.mp4", "quote'and\"dq.mp4", "-leading-dash.mp4"])
def test_awkward_names(tmp_path: Path, make_clip, name: str) -> None:
    clip = make_clip(tmp_path / "plain.mp4", frames=3)
    awkward = tmp_path / name
    clip.rename(awkward)
    assert probe(awkward).frame_count == 3


def test_errors_are_ladderforge_errors() -> None:
    assert issubclass(MediaNotFoundError, FileNotFoundError)
    assert issubclass(InvalidMediaError, ValueError)
    assert issubclass(UnsupportedMediaError, LadderforgeError)
