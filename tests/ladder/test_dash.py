"""DASH over the HLS fMP4 segments: an MPD written beside real ``package_hls`` output, played by
ffmpeg's dash demuxer, with exact SegmentTimelines, and ``check_mpd`` catching broken folders."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import pytest

from ladderforge.encoder.dash import (
    MPD_NS,
    DashAudio,
    DashRepresentation,
    check_mpd,
    read_mpd,
    timeline_ticks,
    write_mpd,
)
from ladderforge.encoder.hls import package_hls, read_media_playlist
from ladderforge.errors import MediaNotFoundError, UsageError
from ladderforge.media import ffmpeg_path

FPS = Fraction(25)
FRAMES = 50
DURATION_S = FRAMES / FPS


class Deliver(NamedTuple):
    folder: Path
    """The delivery folder: one sub-folder per rendition, the MPD goes at its top."""
    video: tuple[DashRepresentation, ...]
    audio: DashAudio
    renditions: tuple[Path, ...]
    """The encoded MP4 of each video representation, in the same order."""


def _ffmpeg(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [ffmpeg_path(), "-hide_banner", "-nostdin", "-v", "error", "-y", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def _encode(path: Path, size: str, *, gop: int = 25) -> Path:
    """testsrc2, 50 frames at 25 fps, x264 (with B-frames) and a keyframe every ``gop`` frames."""
    src = f"testsrc2=size={size}:rate={FPS}"
    keys = ["-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0"]
    done = _ffmpeg("-f", "lavfi", "-i", src, "-frames:v", str(FRAMES), "-pix_fmt", "yuv420p",
                   "-c:v", "libx264", "-preset", "veryfast", *keys, str(path))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return path


def _video(rendition: Path, folder: Path, width: int, height: int) -> DashRepresentation:
    media = package_hls(rendition, folder, codec="x264")
    return DashRepresentation(
        folder=folder,
        segment_durations_s=media.durations_s,
        peak_bps=media.peak_bps,
        width=width,
        height=height,
        frame_rate=FPS,
        codecs="avc1.64000D",
    )


def _aac(folder: Path) -> DashAudio:
    """A 2 s sine in AAC, cut by the same hls muxer into the same fMP4 layout."""
    folder.mkdir()
    sine = f"sine=frequency=440:sample_rate=48000:duration={DURATION_S}"
    done = _ffmpeg("-f", "lavfi", "-i", sine,
                   "-c:a", "aac", "-b:a", "64k", "-f", "hls", "-hls_time", "1",
                   "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
                   "-hls_fmp4_init_filename", "init.mp4",
                   "-hls_segment_filename", str(folder / "seg_%05d.m4s"),
                   str(folder / "index.m3u8"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    media = read_media_playlist(folder / "index.m3u8")
    return DashAudio(
        folder=folder,
        segment_durations_s=media.durations_s,
        peak_bps=media.peak_bps,
        codecs="mp4a.40.2",
        sample_rate_hz=48000,
        channels=1,
        lang="en",
    )


@pytest.fixture(scope="module")
def deliver(tmp_path_factory: pytest.TempPathFactory) -> Deliver:
    """Two x264 rungs (320x180, 160x90) and an AAC track packaged as fMP4 HLS, no MPD yet."""
    root = tmp_path_factory.mktemp("dash")
    out = root / "deliver"
    renditions = (_encode(root / "180p.mp4", "320x180"), _encode(root / "90p.mp4", "160x90"))
    video = (
        _video(renditions[0], out / "180p_240k", 320, 180),
        _video(renditions[1], out / "90p_120k", 160, 90),
    )
    return Deliver(out, video, _aac(out / "audio_64k"), renditions)


def _copy(deliver: Deliver, tmp_path: Path) -> Deliver:
    """The delivery folder copied under ``tmp_path``, to break without touching the fixture."""
    folder = tmp_path / "deliver"
    shutil.copytree(deliver.folder, folder)
    moved = tuple(dataclasses.replace(r, folder=folder / r.folder.name) for r in deliver.video)
    audio = dataclasses.replace(deliver.audio, folder=folder / deliver.audio.folder.name)
    return Deliver(folder, moved, audio, deliver.renditions)


def _write(deliver: Deliver, name: str = "manifest.mpd") -> Path:
    return write_mpd(
        deliver.folder / name,
        representations=deliver.video,
        audio=deliver.audio,
        duration_s=float(DURATION_S),
    )


def _framemd5(*args: str) -> dict[int, list[str]]:
    """Decode every stream and return the frame hashes per output stream index."""
    done = _ffmpeg(*args, "-f", "framemd5", "-")
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    hashes: dict[int, list[str]] = {}
    for line in done.stdout.splitlines():
        if line and not line.startswith("#"):
            fields = [f.strip() for f in line.split(",")]
            hashes.setdefault(int(fields[0]), []).append(fields[-1])
    return hashes


# --- pure: the timeline conversion ---


@pytest.mark.parametrize(
    ("durations_s", "timescale", "grid_ticks", "total", "values"),
    [
        # 29.97 fps, 60-frame segments as EXTINF writes them (6 decimals): 60060 ticks each
        ([2.002] * 10_000, 30000, 1001, 10_000 * 60060, {60060}),
        # AAC 1024-sample frames: the EXTINF 1.002667 sum drifts 1.67 ms from the media over
        # 5000 segments; the sample grid snaps every boundary back to the exact 48128 ticks
        ([1.002667] * 5_000, 48000, 1024, 5_000 * 48128, {48128}),
        # no grid: 40.4 ticks each, so 40 or 41; rounding each segment alone loses 400 ticks
        ([0.0404] * 1_000, 1000, 1, 40_400, {40, 41}),
    ],
)
def test_timeline_ticks_do_not_drift(
    durations_s: list[float], timescale: int, grid_ticks: int, total: int, values: set[int]
) -> None:
    ticks = timeline_ticks(durations_s, timescale=timescale, grid_ticks=grid_ticks)
    assert len(ticks) == len(durations_s)
    assert sum(ticks) == total
    assert set(ticks) == values
    naive = sum(round(d * timescale) for d in durations_s)
    assert grid_ticks > 1 or naive != total  # the case per-segment rounding gets wrong


def test_timeline_ticks_end_on_the_media_end() -> None:
    """AAC at 44.1 kHz trimmed to a 2 s video: 43 frames, then 43 frames and 136 samples."""
    durations_s = (0.998458, 1.001542)  # the EXTINFs package_audio writes for that
    snapped = timeline_ticks(durations_s, timescale=44100, grid_ticks=1024)
    assert snapped == (44032, 44032)  # the grid alone would cut the short last sample
    ticks = timeline_ticks(durations_s, timescale=44100, grid_ticks=1024, total_ticks=88200)
    assert ticks == (44032, 44168)


def test_timeline_ticks_refuses_a_segment_under_one_sample() -> None:
    with pytest.raises(UsageError, match="shorter than one sample"):
        timeline_ticks([1.0, 0.001, 1.0], timescale=12800, grid_ticks=512)


# --- real media ---


def test_mpd_is_played_by_ffmpeg(deliver: Deliver) -> None:
    demuxers = _ffmpeg("-demuxers").stdout
    if not any(line.split()[1:2] == ["dash"] for line in demuxers.splitlines() if " D" in line):
        pytest.skip("this ffmpeg has no dash demuxer (test_segments_decode_alone still runs)")
    mpd = _write(deliver)
    assert check_mpd(mpd, duration_s=float(DURATION_S), frame_rate=FPS) == []
    streams = _framemd5("-i", str(mpd), "-map", "0")
    info = read_mpd(mpd)
    assert [r.id for r in info.representations] == ["90p_120k", "180p_240k", "audio_64k"]
    assert [len(streams[i]) for i in (0, 1)] == [FRAMES, FRAMES]
    assert len(streams[2]) > 0  # audio decodes too
    # the frames are the renditions' own (lowest bandwidth first in the MPD)
    assert streams[0] == _framemd5("-i", str(deliver.renditions[1]), "-map", "0:v")[0]
    assert streams[1] == _framemd5("-i", str(deliver.renditions[0]), "-map", "0:v")[0]


def test_segments_decode_alone(deliver: Deliver, tmp_path: Path) -> None:
    """The media the MPD points at, init + segments joined, decodes to every frame."""
    for rep in read_mpd(_write(_copy(deliver, tmp_path))).video:
        joined = tmp_path / f"{rep.id}.mp4"
        joined.write_bytes(b"".join(p.read_bytes() for p in (rep.init_path, *rep.segment_paths)))
        assert len(_framemd5("-i", str(joined), "-map", "0:v")[0]) == FRAMES


def test_timeline_is_exact(deliver: Deliver) -> None:
    info = read_mpd(_write(deliver))
    assert info.presentation_type == "static"
    assert info.profiles == ("urn:mpeg:dash:profile:isoff-live:2011",)
    video, audio = info.video, info.representations[-1]
    for rep, playlist in zip(video, (deliver.video[1], deliver.video[0]), strict=True):
        assert rep.id == playlist.folder.name
        assert (rep.width, rep.height, rep.frame_rate) == (playlist.width, playlist.height, FPS)
        # the sum is the playlist's to the timescale unit, in whole frames, from time 0
        exact = sum(map(Fraction, playlist.segment_durations_s), Fraction(0)) * rep.timescale
        assert abs(sum(rep.segment_durations_ticks) - exact) <= 1
        assert all(d * FPS % rep.timescale == 0 for d in rep.segment_durations_ticks)
        assert rep.boundaries_s() == (0, 1, 2)
    for rep in info.representations:  # contiguous, and the period starts at the first sample
        starts, durations = rep.segment_starts_ticks, rep.segment_durations_ticks
        assert list(starts[1:]) == [t + d for t, d in zip(starts[:-1], durations[:-1], strict=True)]
        assert starts[0] == rep.presentation_time_offset
    # audio: whole AAC frames between segments, and the end is the media's: 2 s of sine plus the
    # encoder's 1024 samples of priming. The playlist's last EXTINF (0.021333 s, 1024 samples)
    # overstates the trimmed last frame, so the sum is the media's, not the playlist's.
    assert audio.id == "audio_64k" and audio.timescale == 48000
    assert audio.segment_durations_ticks[:-1] == (48128, 48128)
    assert sum(audio.segment_durations_ticks) == 2 * 48000 + 1024


def test_check_mpd_catches_a_removed_segment(deliver: Deliver, tmp_path: Path) -> None:
    broken = _copy(deliver, tmp_path)
    mpd = _write(broken)
    (broken.video[1].folder / "seg_00001.m4s").unlink()
    problems = check_mpd(mpd, duration_s=float(DURATION_S), frame_rate=FPS)
    assert len(problems) == 1
    assert "90p_120k" in problems[0] and "seg_00001.m4s" in problems[0]
    (broken.audio.folder / "init.mp4").unlink()
    assert any("init segment" in p for p in check_mpd(mpd, duration_s=float(DURATION_S)))


def test_check_mpd_catches_a_timeline_that_does_not_add_up(deliver: Deliver) -> None:
    mpd = _write(deliver, "timeline.mpd")
    problems = check_mpd(mpd, duration_s=2.5, frame_rate=FPS)
    assert len(problems) == 3 and all("adds up to" in p for p in problems)
    assert check_mpd(mpd, duration_s=2.04, frame_rate=FPS) == []  # within 1.5 frames
    assert len(check_mpd(mpd, duration_s=2.04 + 0.03, frame_rate=FPS)) == 2  # video: 1.5 frames
    # an MPD written from wrong durations: the second segment is not where it says
    wrong = dataclasses.replace(deliver.video[0], segment_durations_s=(0.8, 0.8))
    mpd = write_mpd(deliver.folder / "wrong.mpd", representations=[wrong], duration_s=2.0)
    problems = check_mpd(mpd, duration_s=2.0, frame_rate=FPS)
    assert problems == [
        "Representation '180p_240k': segment 1 (seg_00001.m4s) starts at 1.000000 s in the "
        "media but at 0.800000 s in the SegmentTimeline; write the MPD again from the segments' "
        "durations."
    ]


def test_check_mpd_catches_misaligned_representations(deliver: Deliver, tmp_path: Path) -> None:
    other = _video(_encode(tmp_path / "gop20.mp4", "320x180", gop=20), tmp_path / "gop20", 320, 180)
    assert other.segment_durations_s == pytest.approx((0.8, 0.8, 0.4))
    mpd = write_mpd(
        tmp_path / "misaligned.mpd",
        representations=[deliver.video[1], other],
        duration_s=float(DURATION_S),
    )
    problems = check_mpd(mpd, duration_s=float(DURATION_S), frame_rate=FPS)
    assert len(problems) == 1
    assert "not aligned (segment 1 starts at 1.000 s vs 0.800 s)" in problems[0]


_AUDIO_TIMELINE = ".//d:AdaptationSet[@contentType='audio']//d:SegmentTimeline"


def _edit(mpd: Path, path: str, attribute: str, value: str) -> None:
    tree = ET.parse(mpd)
    element = tree.getroot() if path == "." else tree.getroot().find(path, {"d": MPD_NS})
    assert element is not None
    element.set(attribute, value)
    tree.write(mpd)


@pytest.mark.parametrize(
    ("path", "attribute", "value", "problem"),
    [
        (".", "type", "dynamic", "not 'static'"),
        (".//d:Representation", "bandwidth", "0", "@bandwidth is 0"),
        (".//d:SegmentTemplate", "media", "x/seg_$Number%05d$.m4s", "2 media segment(s) missing"),
        (
            f"{_AUDIO_TIMELINE}/d:S[2]",
            "d",
            "2048",
            "the last segment ends at 2.021333 s in the media",
        ),
    ],
)
def test_check_mpd_catches_edits(
    deliver: Deliver, tmp_path: Path, path: str, attribute: str, value: str, problem: str
) -> None:
    mpd = _write(_copy(deliver, tmp_path))
    _edit(mpd, path, attribute, value)
    problems = check_mpd(mpd, duration_s=float(DURATION_S), frame_rate=FPS)
    assert len(problems) == 1 and problem in problems[0]


def test_check_mpd_reports_unreadable_files(tmp_path: Path) -> None:
    assert "no such MPD" in check_mpd(tmp_path / "none.mpd", duration_s=2.0)[0]
    (tmp_path / "bad.mpd").write_text("<MPD")
    assert "not a readable XML file" in check_mpd(tmp_path / "bad.mpd", duration_s=2.0)[0]
    (tmp_path / "other.mpd").write_text("<MPD><Period/></MPD>")  # no namespace
    assert "not an MPD" in check_mpd(tmp_path / "other.mpd", duration_s=2.0)[0]


def test_write_mpd_needs_the_fmp4_segments(deliver: Deliver, tmp_path: Path) -> None:
    empty = dataclasses.replace(deliver.video[0], folder=tmp_path / "ts_rung")
    with pytest.raises(MediaNotFoundError, match="segment_type='fmp4'"):
        write_mpd(tmp_path / "m.mpd", representations=[empty], duration_s=2.0)
    assert not (tmp_path / "m.mpd").exists()
    with pytest.raises(UsageError, match="'peak_bps' parameter of DashRepresentation"):
        dataclasses.replace(deliver.video[0], peak_bps=0)
    with pytest.raises(UsageError, match="unique"):
        write_mpd(tmp_path / "m.mpd", representations=[deliver.video[0]] * 2, duration_s=2.0)
