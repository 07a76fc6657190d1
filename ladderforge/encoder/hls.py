"""HLS for a ladder: media playlists and segments cut by ffmpeg's ``hls`` muxer from each
encoded rendition, and the master playlist written with the ``m3u8`` library (no string
formatting, no hand-written segmenting).

:func:`package_hls` stream-copies a rendition into fMP4 (CMAF-style init + ``.m4s``
segments) or MPEG-TS segments. The muxer may cut only at keyframes; with a tiny ``hls_time``
it cuts at every keyframe, and chunked renditions have exactly one keyframe per chunk, so the
segments are the chunks and line up across rungs.

Each rung becomes an ``EXT-X-STREAM-INF`` variant with BANDWIDTH, AVERAGE-BANDWIDTH,
RESOLUTION, FRAME-RATE and CODECS. Once packaged, BANDWIDTH is the peak segment bitrate and
AVERAGE-BANDWIDTH the mean, both measured from the segments as the HLS spec defines them;
before that, AVERAGE-BANDWIDTH is the rung's measured (else predicted) mean bitrate and
BANDWIDTH is estimated as 1.5x the mean.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import m3u8

from ladderforge.encoder.base import get_encoder
from ladderforge.encoder.verify import hevc_tag
from ladderforge.errors import UsageError
from ladderforge.media.ffmpeg import DEFAULT_TIMEOUT_S, run_ffmpeg
from ladderforge.store import atomic_path, atomic_write_bytes
from ladderforge.types import Ladder, Rung

__all__ = [
    "PEAK_TO_MEAN",
    "SEGMENT_TYPES",
    "MediaPlaylist",
    "codecs_string",
    "master_playlist",
    "package_hls",
    "read_media_playlist",
    "rung_name",
    "write_master",
]

SEGMENT_TYPES = ("fmp4", "mpegts")
AUDIO_GROUP = "audio"
"""GROUP-ID of the title's audio rendition in the master playlist."""

PEAK_TO_MEAN = 1.5
"""BANDWIDTH / AVERAGE-BANDWIDTH assumed for unsegmented CRF encodes."""


def codecs_string(codec: str, width: int, height: int, fps: float, bit_depth: int = 8) -> str:
    """RFC 6381 CODECS value for a rung (profile from bit depth, level from size and rate)."""
    family = get_encoder(codec).codec_family
    samples = width * height
    rate = samples * fps
    if family == "hevc":
        levels = (
            (552960, 16588800, 90),
            (983040, 33177600, 93),
            (2228224, 66846720, 120),
            (2228224, 133693440, 123),
            (8912896, 267386880, 150),
            (8912896, 534773760, 153),
        )
        level = next((lv for s, r, lv in levels if samples <= s and rate <= r), 156)
        profile = 2 if bit_depth > 8 else 1
        return f"hvc1.{profile}.{4 if profile == 2 else 6}.L{level}.90"
    if family == "h264":
        avc_levels = (
            (414720, 10368000, 0x1E),
            (921600, 27648000, 0x1F),
            (2097152, 62914560, 0x28),
            (2228224, 133693440, 0x2A),
            (8912896, 267386880, 0x33),
        )
        level = next((lv for s, r, lv in avc_levels if samples <= s and rate <= r), 0x34)
        return f"avc1.6400{level:02X}"
    seq_level = 8 if samples <= 2228224 else 12
    return f"av01.0.{seq_level:02d}M.{10 if bit_depth > 8 else 8:02d}"


def rung_name(rung: Rung) -> str:
    """Folder name of a rung's rendition: ``<height>p_<kbps>k``."""
    return rung.name


@dataclass(frozen=True)
class MediaPlaylist:
    """A packaged rendition: its media playlist and what its segments measure."""

    path: Path
    segments: int
    durations_s: tuple[float, ...]
    """EXTINF of each segment."""
    peak_bps: float
    """Highest segment bitrate (BANDWIDTH in the master playlist)."""
    average_bps: float
    """All segment bytes (and the init segment) over the duration (AVERAGE-BANDWIDTH)."""


def read_media_playlist(path: str | os.PathLike[str]) -> MediaPlaylist:
    """Parse a media playlist and measure its segments (which must exist beside it)."""
    index = Path(path)
    playlist = m3u8.load(str(index))
    folder = index.parent
    sizes = [(folder / seg.uri).stat().st_size for seg in playlist.segments]
    durations = tuple(float(seg.duration) for seg in playlist.segments)
    init = sum((folder / m.uri).stat().st_size for m in playlist.segment_map if m.uri)
    total_s = sum(durations) or 1.0
    rates = [8 * b / d for b, d in zip(sizes, durations, strict=True) if d > 0]
    return MediaPlaylist(
        path=index,
        segments=len(sizes),
        durations_s=durations,
        peak_bps=max(rates, default=0.0),
        average_bps=8 * (sum(sizes) + init) / total_s,
    )


def package_hls(
    rendition: str | os.PathLike[str],
    folder: str | os.PathLike[str],
    *,
    codec: str,
    segment_type: str = "fmp4",
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> MediaPlaylist:
    """Segment ``rendition`` (stream copy) into ``folder``/index.m3u8 + segments, cutting at
    every keyframe. The folder is replaced only once the new one is complete."""
    if segment_type not in SEGMENT_TYPES:
        raise UsageError(
            f"The 'segment_type' parameter must be one of {SEGMENT_TYPES}. Got {segment_type!r}."
        )
    out = Path(folder)
    ext = "m4s" if segment_type == "fmp4" else "ts"
    tag = hevc_tag(rendition) if get_encoder(codec).codec_family == "hevc" else []
    args = ["-y", "-loglevel", "error", "-i", str(rendition), "-map", "0:v:0", "-c", "copy", *tag]
    args += ["-f", "hls", "-hls_time", "0.001", "-hls_playlist_type", "vod"]
    args += ["-hls_flags", "independent_segments", "-hls_segment_type", segment_type]
    if segment_type == "fmp4":
        args += ["-hls_fmp4_init_filename", "init.mp4"]
    with atomic_path(out) as tmp:  # a folder: swapped in whole, or removed
        tmp.mkdir()
        args += ["-hls_segment_filename", str(tmp / f"seg_%05d.{ext}"), str(tmp / "index.m3u8")]
        run_ffmpeg(
            args,
            timeout_s=timeout_s,
            error_path=Path(rendition),
            error_message=f"HLS packaging of {Path(rendition).name} failed",
        )
    return read_media_playlist(out / "index.m3u8")


def master_playlist(
    ladder: Ladder,
    *,
    fps: float,
    bit_depth: int = 8,
    packaged: Mapping[str, MediaPlaylist] | None = None,
) -> str:
    """The master playlist text; variant URIs are ``<rung_name>/index.m3u8``. ``packaged``
    (rung name -> media playlist) gives measured BANDWIDTH / AVERAGE-BANDWIDTH."""
    master = m3u8.M3U8()
    master.is_variant = True
    audio = ladder.audio
    groups: list[m3u8.Media] = []
    if audio is not None:  # one audio group that every variant references
        groups.append(
            m3u8.Media(
                uri=audio.playlist,
                type="AUDIO",
                group_id=AUDIO_GROUP,
                name="audio",
                default="YES",
                autoselect="YES",
                channels=str(audio.channels),
            )
        )
        master.add_media(groups[0])
    source = ladder.source
    # HDR renditions say so (HLS 4.4.6.2: VIDEO-RANGE); SDR, the default, is left implicit
    hdr = source is not None and source.video_range != "SDR"
    video_range = {"video_range": source.video_range} if hdr and source else {}
    for rung in sorted(ladder.rungs, key=lambda r: r.bitrate_kbps):
        s = rung.settings
        mean_bps = (rung.measured_bitrate_kbps or rung.bitrate_kbps) * 1000
        peak_bps = mean_bps * PEAK_TO_MEAN
        media = (packaged or {}).get(rung_name(rung))
        if media is not None:
            mean_bps, peak_bps = media.average_bps, max(media.peak_bps, media.average_bps)
        # read from the stream's parameter sets once packaged, else from the table
        codecs = (
            rung.files.codecs
            if rung.files
            else codecs_string(s.codec, s.width, s.height, fps, bit_depth)
        )
        info: dict[str, object] = {}
        if audio is not None:  # BANDWIDTH counts every rendition the variant plays
            peak_bps += audio.peak_bps
            mean_bps += audio.bitrate_kbps * 1000
            codecs = f"{codecs},{audio.codecs}"
            info["audio"] = AUDIO_GROUP
        master.add_playlist(
            m3u8.Playlist(
                uri=f"{rung_name(rung)}/index.m3u8",
                stream_info={
                    "bandwidth": math.ceil(peak_bps),
                    "average_bandwidth": math.ceil(mean_bps),
                    "resolution": f"{s.width}x{s.height}",
                    "frame_rate": round(fps, 3),
                    "codecs": codecs,
                    **video_range,
                    **info,
                },
                media=groups,
                base_uri=None,
            )
        )
    return str(master.dumps())


def write_master(
    ladder: Ladder,
    path: str | Path,
    *,
    fps: float,
    bit_depth: int = 8,
    packaged: Mapping[str, MediaPlaylist] | None = None,
) -> Path:
    """Write the master playlist atomically."""
    text = master_playlist(ladder, fps=fps, bit_depth=bit_depth, packaged=packaged)
    return atomic_write_bytes(path, text.encode())
