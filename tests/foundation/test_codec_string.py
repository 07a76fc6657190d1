"""CODECS strings read from real encodes' own parameter sets (hvcC / avcC / av1C, or in-band).

Each encode is small (testsrc2, 8 frames) and made once per module; every string is checked
against an independent reading of the same stream: FFmpeg's own parsers, as PyAV exposes them
(``codec_context.profile`` / ``level`` / ``pix_fmt``).
"""

from __future__ import annotations

import functools
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ladderforge.encoder import encode
from ladderforge.encoder.codec_string import (
    Av1SequenceInfo,
    AvcProfileLevel,
    HevcProfileTierLevel,
    av1_from_av1c,
    av1_from_obus,
    codecs_from_stream,
    hevc_from_hvcc,
    hevc_from_nal,
    split_nal_units,
    unescape_rbsp,
)
from ladderforge.errors import InvalidMediaError, MediaNotFoundError, UnsupportedMediaError
from ladderforge.media import ffmpeg_path
from ladderforge.types import EncodeSettings

FRAMES = 8
Encoded = Callable[[str], Path]
"""Returns the path of a named encode from ``_ENCODES``, made on first use."""


def _ffmpeg(*args: str) -> None:
    cmd = [ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y", *args]
    subprocess.run(cmd, check=True, timeout=120, capture_output=True)


def _stream(path: Path) -> tuple[str, int, str, bytes]:
    """(profile name, level, pixel format, extradata) as FFmpeg's parsers see them."""
    import av

    with av.open(str(path)) as container:
        ctx = container.streams.video[0].codec_context
        return str(ctx.profile), ctx.level, str(ctx.pix_fmt), bytes(ctx.extradata or b"")


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a testsrc2 source (640x360, 25 fps, FFV1) to encode from."""
    folder = tmp_path_factory.mktemp("codec_string")
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-frames:v", str(FRAMES),
        "-c:v", "ffv1", str(folder / "source.mkv"),
    )  # fmt: skip
    return folder


_ENCODES: dict[str, EncodeSettings] = {
    "x265_360p": EncodeSettings(codec="x265", width=640, height=360, q=30, preset="ultrafast"),
    "x265_1080p": EncodeSettings(codec="x265", width=1920, height=1080, q=30, preset="ultrafast"),
    "x265_10bit": EncodeSettings(
        codec="x265", width=640, height=360, q=30, preset="ultrafast", pix_fmt="yuv420p10le"
    ),
    "x264_360p": EncodeSettings(codec="x264", width=640, height=360, q=30, preset="veryfast"),
    "x264_1080p": EncodeSettings(codec="x264", width=1920, height=1080, q=30, preset="veryfast"),
    "svtav1_720p": EncodeSettings(codec="svtav1", width=1280, height=720, q=40, preset="12"),
    "svtav1_10bit": EncodeSettings(
        codec="svtav1", width=640, height=360, q=40, preset="12", pix_fmt="yuv420p10le"
    ),
}


@pytest.fixture(scope="module")
def encoded(media: Path) -> Encoded:
    """Encode one of ``_ENCODES`` to mp4 through ladderforge's own backend, once per module."""

    @functools.cache
    def run(name: str) -> Path:
        return encode(media / "source.mkv", _ENCODES[name], media / f"{name}.mp4").output_path

    return run


# -- HEVC -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("x265_360p", "hev1.1.6.L63.90"),  # level 2.1; the table guessed L90
        ("x265_1080p", "hev1.1.6.L120.90"),  # level 4
        ("x265_10bit", "hev1.2.4.L63.90"),  # Main 10
    ],
)
def test_x265_string_follows_the_sps(encoded: Encoded, name: str, expected: str) -> None:
    path = encoded(name)
    got = codecs_from_stream(path)
    assert got == expected
    profile, level, pix_fmt, _ = _stream(path)
    fields = re.fullmatch(r"hev1\.(\d+)\.([0-9A-F]+)\.L(\d+)\.90", got)
    assert fields is not None
    assert int(fields.group(3)) == level
    assert (int(fields.group(1)), profile) in {(1, "Main"), (2, "Main 10")}
    assert (fields.group(1) == "2") == pix_fmt.startswith("yuv420p10")


@pytest.mark.parametrize("tag", ["hvc1", "hev1"])
def test_hevc_sample_entry_tag_is_kept(encoded: Encoded, tag: str) -> None:
    source = encoded("x265_360p")
    tagged = source.with_name(f"tagged_{tag}.mp4")
    _ffmpeg("-i", str(source), "-c", "copy", "-tag:v", tag, str(tagged))
    assert codecs_from_stream(tagged) == f"{tag}.1.6.L63.90"
    assert codecs_from_stream(tagged, sample_entry="hvc1") == "hvc1.1.6.L63.90"


def test_hevc_mpegts_falls_back_to_in_band_parameter_sets(encoded: Encoded) -> None:
    mp4 = encoded("x265_360p")
    ts = mp4.with_name("x265_360p.ts")
    _ffmpeg("-i", str(mp4), "-c", "copy", "-f", "mpegts", str(ts))
    assert _stream(ts)[3][:1] != b"\x01"  # no hvcC: empty or Annex-B extradata
    assert codecs_from_stream(ts) == "hvc1.1.6.L63.90"  # no sample entry: hvc1
    assert codecs_from_stream(ts, sample_entry="hev1") == codecs_from_stream(mp4)


def test_hevc_vps_sps_and_hvcc_agree_after_unescaping(encoded: Encoded) -> None:
    mp4 = encoded("x265_360p")
    ts = mp4.with_name("x265_360p_nal.ts")
    _ffmpeg("-i", str(mp4), "-c", "copy", "-f", "mpegts", str(ts))
    nals = {(n[0] >> 1) & 0x3F: n for n in split_nal_units(_stream(ts)[3])}
    vps, sps = hevc_from_nal(nals[32]), hevc_from_nal(nals[33])
    assert b"\x00\x00\x03" in nals[32]  # the PTL needs emulation prevention removed
    assert vps == sps == hevc_from_hvcc(_stream(mp4)[3])
    assert sps.level_idc == 63 and sps.constraint_flags == bytes([0x90, 0, 0, 0, 0, 0])


# -- H.264 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"), [("x264_360p", "avc1.64001E"), ("x264_1080p", "avc1.640028")]
)
def test_x264_string_follows_the_sps(encoded: Encoded, name: str, expected: str) -> None:
    path = encoded(name)
    got = codecs_from_stream(path)
    assert got == expected
    profile, level, _, _ = _stream(path)
    assert profile == "High" and got[5:7] == "64"
    assert int(got[-2:], 16) == level


def test_h264_mpegts_falls_back_to_the_in_band_sps(encoded: Encoded) -> None:
    mp4 = encoded("x264_360p")
    ts = mp4.with_name("x264_360p.ts")
    _ffmpeg("-i", str(mp4), "-c", "copy", "-f", "mpegts", str(ts))
    assert _stream(ts)[3][:1] != b"\x01"
    assert codecs_from_stream(ts) == codecs_from_stream(mp4) == "avc1.64001E"


# -- AV1 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [("svtav1_720p", "av01.0.05M.08"), ("svtav1_10bit", "av01.0.01M.10")],
)
def test_svtav1_string_follows_av1c(encoded: Encoded, name: str, expected: str) -> None:
    path = encoded(name)
    got = codecs_from_stream(path)
    assert got == expected
    profile, level, pix_fmt, extradata = _stream(path)
    assert profile == "Main" and int(got[7:9]) == level  # FFmpeg reports seq_level_idx
    assert got.endswith(".10") == ("10" in pix_fmt)
    assert av1_from_av1c(extradata) == av1_from_obus(extradata[4:])  # av1C = its configOBUs


def test_av1_ivf_falls_back_to_the_sequence_header(encoded: Encoded) -> None:
    mp4 = encoded("svtav1_10bit")
    ivf = mp4.with_name("svtav1_10bit.ivf")
    _ffmpeg("-i", str(mp4), "-c", "copy", str(ivf))
    assert _stream(ivf)[3][:1] != b"\x81"  # no av1C
    assert codecs_from_stream(ivf) == codecs_from_stream(mp4) == "av01.0.01M.10"


# -- errors -----------------------------------------------------------------------------------


def test_junk_file_raises_invalid_media_naming_it(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video\n" * 100)
    with pytest.raises(InvalidMediaError, match="junk.mp4") as info:
        codecs_from_stream(junk)
    assert info.value.path == junk


def test_audio_only_and_missing_files(tmp_path: Path) -> None:
    audio = tmp_path / "tone.m4a"
    _ffmpeg("-f", "lavfi", "-i", "sine=duration=0.2", "-c:a", "aac", str(audio))
    with pytest.raises(InvalidMediaError, match="tone.m4a: has no video stream"):
        codecs_from_stream(audio)
    with pytest.raises(MediaNotFoundError, match="absent.mp4"):
        codecs_from_stream(tmp_path / "absent.mp4")


def test_other_codec_is_unsupported(tmp_path: Path) -> None:
    clip = tmp_path / "mpeg4.mp4"
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-frames:v", "2",
        "-c:v", "mpeg4", str(clip),
    )  # fmt: skip
    with pytest.raises(UnsupportedMediaError, match=r"mpeg4\.mp4: no CODECS string for mpeg4"):
        codecs_from_stream(clip)


def test_truncated_hvcc_is_invalid() -> None:
    with pytest.raises(ValueError, match="hvcC"):
        hevc_from_hvcc(b"\x01\x01\x60")


# -- formats on constructed values ------------------------------------------------------------


_B0 = bytes([0xB0, 0, 0, 0, 0, 0])


@pytest.mark.parametrize(
    ("ptl", "expected"),
    [
        (HevcProfileTierLevel(0, 0, 2, 0x20000000, _B0, 123), "hvc1.2.4.L123.B0"),  # Apple's
        (HevcProfileTierLevel(0, 0, 1, 0x60000000, _B0, 93), "hvc1.1.6.L93.B0"),
        (
            HevcProfileTierLevel(1, 1, 4, 0x08000000, b"\x9e\x08" + bytes(4), 153),
            "hvc1.A4.10.H153.9E.8",
        ),
        (HevcProfileTierLevel(0, 0, 1, 0x60000000, bytes(6), 90), "hvc1.1.6.L90"),
        (HevcProfileTierLevel(3, 0, 1, 0, b"\x00\x00\x01" + bytes(3), 30), "hvc1.C1.0.L30.0.0.1"),
    ],
)
def test_hevc_format(ptl: HevcProfileTierLevel, expected: str) -> None:
    assert ptl.codecs() == expected


def test_avc_format() -> None:
    assert AvcProfileLevel(0x64, 0x00, 0x1F).codecs() == "avc1.64001F"
    assert AvcProfileLevel(0x42, 0xC0, 0x1E).codecs("avc3") == "avc3.42C01E"


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (Av1SequenceInfo(0, 4, 0, 8), "av01.0.04M.08"),  # unspecified colour: the short form
        (Av1SequenceInfo(0, 4, 0, 8, color_primaries=1, transfer_characteristics=1,
                         matrix_coefficients=1), "av01.0.04M.08"),
        (Av1SequenceInfo(0, 13, 1, 10), "av01.0.13H.10"),
        (Av1SequenceInfo(0, 8, 0, 10, color_primaries=9, transfer_characteristics=16,
                         matrix_coefficients=9), "av01.0.08M.10.0.110.09.16.09.0"),
        (Av1SequenceInfo(0, 4, 0, 8, monochrome=True, full_range=True),
         "av01.0.04M.08.1.110.02.02.02.1"),
        (Av1SequenceInfo(1, 5, 0, 8, subsampling_x=0, subsampling_y=0),
         "av01.1.05M.08.0.000.02.02.02.0"),
    ],
)  # fmt: skip
def test_av1_format(info: Av1SequenceInfo, expected: str) -> None:
    assert info.codecs() == expected


def test_nal_splitting_and_unescaping() -> None:
    annex_b = b"\x00\x00\x00\x01\x40\x01\xaa\x00\x00\x01\x42\x01\xbb\x00"
    assert split_nal_units(annex_b) == [b"\x40\x01\xaa", b"\x42\x01\xbb"]
    prefixed = b"\x00\x00\x00\x03\x40\x01\xaa\x00\x00\x00\x02\x42\x01"
    assert split_nal_units(prefixed, length_size=4) == [b"\x40\x01\xaa", b"\x42\x01"]
    assert unescape_rbsp(b"\x01\x00\x00\x03\x00\x00\x03\x01") == b"\x01\x00\x00\x00\x00\x01"
    assert unescape_rbsp(b"\x00\x00\x03\x03") == b"\x00\x00\x03"  # only the first 03 is EPB
