"""The audio rendition: probing (a corrupt stream is an error, never a silent drop), one AAC-LC
stereo rendition segmented on the video's chunk boundaries, in sync, written atomically, and
the checks ``ladderforge verify`` runs on it. Clips are made with lavfi under ``tmp_path``."""

from __future__ import annotations

import io
import random
import shutil
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from ladderforge.encoder.audio import (
    AAC_FRAME_SAMPLES,
    check_audio,
    cut_frames,
    output_sample_rate,
    package_audio,
    probe_audio,
)
from ladderforge.errors import EncodeError, FFmpegError, InvalidMediaError, UsageError
from ladderforge.media import ffmpeg_path

BOUNDARIES = (0.0, 0.64, 1.2)
"""Chunk starts of a 2 s, 25 fps title (frames 0, 16, 30)."""
DURATION_S = 2.0
VIDEO = "testsrc2=size=160x90:rate=25:duration=2"


def _clip(path: Path, audio: str | None, *, audio_offset_s: float = 0.0) -> Path:
    """A 2 s H.264 clip, with the lavfi ``audio`` source as AAC (none when None)."""
    cmd = [ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", VIDEO]
    if audio is not None:
        cmd += ["-itsoffset", str(audio_offset_s), "-f", "lavfi", "-i", audio]
    cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(path)]
    subprocess.run(cmd, check=True, timeout=120, capture_output=True)
    return path


@pytest.fixture(scope="module")
def mono_44k_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s testsrc2 160x90 with a 440 Hz mono sine at 44.1 kHz, 2 s."""
    folder = tmp_path_factory.mktemp("mono")
    return _clip(folder / "mono.mp4", "sine=frequency=440:sample_rate=44100:duration=2")


@pytest.fixture(scope="module")
def surround_48k_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s testsrc2 with 5.1 audio at 48 kHz lasting 2.5 s (longer than the video)."""
    folder = tmp_path_factory.mktemp("surround")
    pan = "pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0"
    return _clip(
        folder / "surround.mp4", f"sine=frequency=440:sample_rate=48000:duration=2.5,{pan}"
    )


@pytest.fixture(scope="module")
def late_onset_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s testsrc2 whose mono 44.1 kHz audio starts 0.3 s after the video, lasts 1.5 s, and is
    silent for its first 0.5 s: the tone starts at 0.8 s on the video's clock."""
    folder = tmp_path_factory.mktemp("late")
    tone = "aevalsrc=if(gte(t\\,0.5)\\,sin(2*PI*440*t)\\,0):s=44100:d=1.5"
    return _clip(folder / "late.mp4", tone, audio_offset_s=0.3)


@pytest.fixture
def corrupt_audio_mp4(mono_44k_mp4: Path, tmp_path: Path) -> Path:
    """The mono clip with every audio packet's bytes overwritten by (seeded) random bytes."""
    out = tmp_path / "corrupt audio.mp4"
    shutil.copy(mono_44k_mp4, out)
    with av.open(str(mono_44k_mp4)) as container:
        spans = [(p.pos, p.size) for p in container.demux(audio=0) if p.size]
    rng = random.Random(7)
    with out.open("r+b") as fh:
        for pos, size in spans:
            fh.seek(pos)
            fh.write(rng.randbytes(size))
    return out


def _decode(folder: Path) -> tuple[np.ndarray, av.audio.codeccontext.AudioCodecContext]:
    """init + segments concatenated, decoded as one stream: (samples, codec context)."""
    init = folder / "init.mp4"
    segments = sorted(folder.glob("seg_*"))
    data = (init.read_bytes() if init.exists() else b"") + b"".join(
        s.read_bytes() for s in segments
    )
    fmt = "mp4" if init.exists() else "mpegts"
    with av.open(io.BytesIO(data), format=fmt) as container:
        stream = container.streams.audio[0]
        frames = [f.to_ndarray() for f in container.decode(stream)]
        return np.concatenate(frames, axis=1), stream.codec_context


# --- probe_audio ---------------------------------------------------------------------------------


def test_probe_audio_describes_the_stream(mono_44k_mp4: Path, surround_48k_mp4: Path) -> None:
    mono = probe_audio(mono_44k_mp4)
    assert mono is not None
    assert (mono.codec, mono.channels, mono.layout, mono.sample_rate) == ("aac", 1, "mono", 44100)
    assert mono.duration_s == pytest.approx(DURATION_S, abs=0.03)
    assert mono.offset_s == pytest.approx(0.0, abs=0.03)
    surround = probe_audio(surround_48k_mp4)
    assert surround is not None
    assert (surround.channels, surround.layout, surround.sample_rate) == (6, "5.1", 48000)


def test_probe_audio_is_none_without_audio(lavfi_clip: Path) -> None:
    assert probe_audio(lavfi_clip) is None


def test_undecodable_audio_is_an_error_naming_the_file(corrupt_audio_mp4: Path) -> None:
    with pytest.raises(InvalidMediaError, match="cannot be decoded") as info:
        probe_audio(corrupt_audio_mp4)
    assert str(corrupt_audio_mp4) in str(info.value) and "--no-audio" in str(info.value)
    assert info.value.path == corrupt_audio_mp4
    with pytest.raises(InvalidMediaError, match="cannot be decoded"):  # never packaged silently
        package_audio(corrupt_audio_mp4, corrupt_audio_mp4.parent / "audio", boundaries_s=[0.0])


# --- boundaries ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "expected"), [(48000, [0, 30, 56]), (44100, [0, 28, 52])], ids=["48k", "44k1"]
)
def test_cut_frames_nearest_aac_frame(rate: int, expected: list[int]) -> None:
    assert cut_frames(BOUNDARIES, sample_rate=rate, duration_s=DURATION_S) == expected


@pytest.mark.parametrize("rate", [44100, 48000])
def test_cut_frames_worst_offset_is_half_a_frame(rate: int) -> None:
    boundaries = [0.0, *np.arange(0.3, 59.9, 0.0371)]  # 1607 starts at every phase of a frame
    frames = cut_frames(boundaries, sample_rate=rate, duration_s=60.0)
    offsets = np.abs(np.array(frames) * AAC_FRAME_SAMPLES / rate - np.array(boundaries))
    assert offsets.max() <= AAC_FRAME_SAMPLES / 2 / rate + 1e-9
    assert offsets.max() > 0.95 * AAC_FRAME_SAMPLES / 2 / rate  # the bound is reached


@pytest.mark.parametrize(
    "boundaries",
    [[], [0.5, 1.0], [0.0, 1.0, 0.8], [0.0, 0.01], [0.0, 2.5]],
    ids=["empty", "not-from-0", "decreasing", "within-a-frame", "past-the-end"],
)
def test_cut_frames_rejects_bad_boundaries(boundaries: list[float]) -> None:
    with pytest.raises(UsageError, match="'boundaries_s' parameter"):
        cut_frames(boundaries, sample_rate=48000, duration_s=DURATION_S)


def test_output_sample_rate() -> None:
    assert [output_sample_rate(r) for r in (44100, 48000, 22050, 96000)] == [
        44100,
        48000,
        48000,
        48000,
    ]


# --- package_audio -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clip", "segment_type", "rate"),
    [
        ("mono_44k_mp4", "fmp4", 44100),
        ("surround_48k_mp4", "fmp4", 48000),
        ("mono_44k_mp4", "mpegts", 44100),
        ("surround_48k_mp4", "mpegts", 48000),
    ],
)
def test_package_audio_aligned_stereo_aac(
    clip: str, segment_type: str, rate: int, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    source: Path = request.getfixturevalue(clip)
    folder = tmp_path / "audio"
    result = package_audio(source, folder, boundaries_s=BOUNDARIES, segment_type=segment_type)
    ext = "m4s" if segment_type == "fmp4" else "ts"
    expected = {"index.m3u8", *(f"seg_{i:05d}.{ext}" for i in range(3))}
    assert {p.name for p in folder.iterdir()} == expected | (
        {"init.mp4"} if segment_type == "fmp4" else set()
    )
    assert [p.name for p in tmp_path.iterdir()] == ["audio"]  # no partial left beside it
    assert (result.segments, result.channels, result.sample_rate) == (3, 2, rate)
    assert result.codecs == "mp4a.40.2" and result.path == folder / "index.m3u8"
    frame_s = AAC_FRAME_SAMPLES / rate
    offsets = [abs(s - b) for s, b in zip(result.starts_s, BOUNDARIES, strict=True)]
    assert max(offsets) <= frame_s / 2 + 1e-9  # measured: 10.2 ms at 44.1 kHz, 5.3 ms at 48 kHz
    assert sum(result.durations_s) == pytest.approx(DURATION_S, abs=1e-5)
    assert 0 < result.average_bps < 200_000 and result.peak_bps >= 0.9 * result.average_bps
    assert check_audio(folder, boundaries_s=BOUNDARIES, duration_s=DURATION_S) == []
    # ffmpeg reads it through the playlist, as a player does, without a single error
    run = subprocess.run(
        [ffmpeg_path(), "-v", "error", "-i", str(folder / "index.m3u8"), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0 and run.stderr == ""
    samples, codec = _decode(folder)
    assert (codec.name, codec.profile, codec.channels, codec.sample_rate) == ("aac", "LC", 2, rate)
    # every frame decodes: the whole duration, plus at most the last frame's unused tail
    assert DURATION_S * rate <= samples.shape[1] < DURATION_S * rate + AAC_FRAME_SAMPLES
    # the source's 440 Hz tone, in both channels, from start to end
    for channel in samples:
        body = channel[int(0.05 * rate) : int(1.95 * rate)]
        spectrum = np.abs(np.fft.rfft(body))
        assert np.argmax(spectrum) * rate / len(body) == pytest.approx(440, abs=1)
        assert min(np.abs(part).max() for part in np.array_split(body, 19)) > 0.05


def test_package_audio_in_sync_with_the_video_and_padded(
    late_onset_mp4: Path, tmp_path: Path
) -> None:
    info = probe_audio(late_onset_mp4)
    assert info is not None and info.offset_s == pytest.approx(0.3, abs=0.03)
    folder = tmp_path / "audio"
    package_audio(late_onset_mp4, folder, boundaries_s=BOUNDARIES)
    samples, _ = _decode(folder)
    onset_s = np.argmax(np.abs(samples[0]) > 0.05) / 44100
    assert onset_s == pytest.approx(0.8, abs=0.002)  # 0.3 s late + 0.5 s of silence
    assert np.abs(samples[:, : int(0.79 * 44100)]).max() < 0.01
    assert np.abs(samples[:, int(1.85 * 44100) :]).max() < 1e-3  # padded after 1.8 s
    assert check_audio(folder, boundaries_s=BOUNDARIES, duration_s=DURATION_S) == []


def test_package_audio_one_chunk(mono_44k_mp4: Path, tmp_path: Path) -> None:
    result = package_audio(mono_44k_mp4, tmp_path / "a", boundaries_s=[0.0], duration_s=1.5)
    assert result.segments == 1 and result.durations_s == pytest.approx((1.5,), abs=1e-5)
    assert check_audio(tmp_path / "a", boundaries_s=[0.0], duration_s=1.5) == []


def test_package_audio_rejects_bad_parameters(
    mono_44k_mp4: Path, lavfi_clip: Path, tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match="'segment_type' parameter"):
        package_audio(mono_44k_mp4, tmp_path / "a", boundaries_s=[0.0], segment_type="webm")
    with pytest.raises(UsageError, match="'bitrate_kbps' parameter"):
        package_audio(mono_44k_mp4, tmp_path / "a", boundaries_s=[0.0], bitrate_kbps=4)
    with pytest.raises(InvalidMediaError, match="no audio stream"):
        package_audio(lavfi_clip, tmp_path / "a", boundaries_s=[0.0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["testsrc.mp4"]  # nothing written


def _fake_ffmpeg(tmp_path: Path, ending: str) -> Path:
    """An ffmpeg that runs the real one to the end (every file written), then ``ending``."""
    script = tmp_path / "ffmpeg-then-fail"
    script.write_text(f'#!/bin/sh\n"{ffmpeg_path()}" "$@"\n{ending}\n')
    script.chmod(0o755)
    return script


@pytest.mark.parametrize("how", ["killed", "failed", "timed-out"])
@pytest.mark.parametrize("existing", [False, True], ids=["new", "replacing"])
def test_failed_ffmpeg_leaves_no_folder(
    how: str, existing: bool, mono_44k_mp4: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out_root = tmp_path / "out"
    folder = out_root / "audio"
    if existing:
        folder.mkdir(parents=True)
        (folder / "index.m3u8").write_text("old")
    timeout_s = 3600.0
    if how == "timed-out":
        timeout_s = 0.001
    else:
        ending = "kill -9 $$" if how == "killed" else "exit 1"
        monkeypatch.setenv("LADDERFORGE_FFMPEG", str(_fake_ffmpeg(tmp_path, ending)))
    with pytest.raises(FFmpegError) as info:
        package_audio(mono_44k_mp4, folder, boundaries_s=BOUNDARIES, timeout_s=timeout_s)
    assert isinstance(info.value, EncodeError) and str(mono_44k_mp4) in str(info.value)
    if existing:
        assert [p.name for p in out_root.iterdir()] == ["audio"]
        assert [p.name for p in folder.iterdir()] == ["index.m3u8"]
        assert (folder / "index.m3u8").read_text() == "old"
    else:
        assert list(out_root.iterdir()) == []


# --- check_audio ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def packaged_48k(surround_48k_mp4: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("packaged") / "audio"
    package_audio(surround_48k_mp4, folder, boundaries_s=BOUNDARIES)
    return folder


def test_check_audio_reports_misaligned_and_short(packaged_48k: Path) -> None:
    assert check_audio(packaged_48k, boundaries_s=BOUNDARIES, duration_s=DURATION_S) == []
    moved = check_audio(packaged_48k, boundaries_s=[0.0, 0.7, 1.2], duration_s=DURATION_S)
    assert [m.split(", ")[0] for m in moved] == [
        "segment 1 starts at 0.6400 s",  # in its media
        "segment 1 starts in the playlist at 0.6400 s",  # by the EXTINF before it
    ]
    longer = check_audio(packaged_48k, boundaries_s=BOUNDARIES, duration_s=2.5)
    assert len(longer) == 2 and all("the video lasts 2.5000 s" in p for p in longer)
    fewer = check_audio(packaged_48k, boundaries_s=[0.0, 0.64], duration_s=DURATION_S)
    assert fewer == ["3 segments where 2 chunks were expected"]


def test_check_audio_reports_missing_files(packaged_48k: Path, tmp_path: Path) -> None:
    copy = tmp_path / "audio"
    shutil.copytree(packaged_48k, copy)
    (copy / "seg_00001.m4s").unlink()
    assert check_audio(copy, boundaries_s=BOUNDARIES, duration_s=DURATION_S) == [
        f"{copy / 'index.m3u8'}: missing segment files ['seg_00001.m4s']"
    ]
    (copy / "index.m3u8").unlink()
    (problem,) = check_audio(copy, boundaries_s=BOUNDARIES, duration_s=DURATION_S)
    assert "the playlist cannot be read" in problem
