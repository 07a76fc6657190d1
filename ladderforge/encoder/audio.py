"""Audio for a ladder: one AAC-LC stereo rendition, segmented on the video's chunk boundaries.

:func:`probe_audio` describes a source's first audio stream and proves that it decodes (one that
does not is an error, never a silent drop); :func:`package_audio` encodes it once with ffmpeg's
native ``aac`` encoder (stereo; 44.1 kHz when the source is, else 48 kHz) and cuts it into one
HLS segment per video chunk; :func:`check_audio` (in :mod:`~ladderforge.encoder.audio_check`,
re-exported here) is what ``ladderforge verify`` checks.

Timeline: audio time 0 is the first video frame; the audio is shifted by its start relative to
the video's and padded with silence or trimmed to the video's duration. HLS segments carry no
edit list, so the encoder's priming frame (1024 samples) is presented: the input is advanced by
one frame to keep the sound in sync (the source's first 1024 samples give way to the priming).

Alignment: a segment can only start on an AAC frame (1024 samples). The ``hls`` muxer cuts an
audio-only stream on a fixed ``hls_time`` grid (or on every packet), never at chosen times, so
the ``segment`` muxer cuts it (``segment_frames``) at the AAC frame nearest each chunk start: at
most ``512 / sample_rate`` s off (10.7 ms at 48 kHz, 11.6 ms at 44.1 kHz). For fMP4 it writes the
header once to ``init.mp4`` and flushes one fragment per segment (``frag_custom``, as the ``hls``
muxer does): one init, one continuous timeline. The playlist is written with ``m3u8`` from the
frame counts, after checking them against ffmpeg's own list of cuts.
"""

from __future__ import annotations

import csv
import itertools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import m3u8
from m3u8.model import Segment

from ladderforge.encoder.audio_check import AAC_FRAME_SAMPLES, check_audio
from ladderforge.encoder.hls import SEGMENT_TYPES, read_media_playlist
from ladderforge.errors import EncodeError, InvalidMediaError, UsageError
from ladderforge.media.ffmpeg import DEFAULT_TIMEOUT_S, run_ffmpeg
from ladderforge.media.probe import check_input_file, probe
from ladderforge.store import atomic_path

if TYPE_CHECKING:
    import av.audio.stream
    import av.container
    import av.stream

__all__ = [
    "AAC_CODECS",
    "AAC_FRAME_SAMPLES",
    "AudioInfo",
    "AudioPlaylist",
    "check_audio",
    "cut_frames",
    "output_sample_rate",
    "package_audio",
    "probe_audio",
]

AAC_CODECS = "mp4a.40.2"
"""RFC 6381 CODECS of AAC-LC."""
CHANNELS = 2
_PRIMING_SAMPLES = 1024
"""Encoder delay of ffmpeg's native ``aac`` encoder (its ``initial_padding``)."""
_DECODE_CHECK_FRAMES = 4
_SEGMENT_LIST = ".segments.csv"


@dataclass(frozen=True)
class AudioInfo:
    """A source's first audio stream, as :func:`probe_audio` found it."""

    codec: str
    """Decoder name, e.g. ``aac``, ``ac3``, ``pcm_s16le``."""
    channels: int
    """Channel count of the stream."""
    layout: str
    """Channel layout name, e.g. ``mono``, ``5.1``."""
    sample_rate: int
    """Samples per second."""
    duration_s: float | None
    """Duration the container gives for the stream; None when it gives none."""
    start_s: float
    """First timestamp of the stream, in seconds on the container's clock."""
    video_start_s: float | None
    """First timestamp of the first video stream on the same clock; None without video."""

    @property
    def offset_s(self) -> float:
        """How much later than the first video frame the audio starts (negative: earlier)."""
        return self.start_s - (self.video_start_s or 0.0)


@dataclass(frozen=True)
class AudioPlaylist:
    """A packaged audio rendition: its media playlist and what its segments measure."""

    path: Path
    """The media playlist, ``<folder>/index.m3u8``."""
    segments: int
    """Number of segments: one per video chunk."""
    durations_s: tuple[float, ...]
    """EXTINF of each segment."""
    starts_s: tuple[float, ...]
    """Where each segment starts on the audio timeline (a multiple of one AAC frame)."""
    peak_bps: float
    """Highest segment bitrate (BANDWIDTH of an audio-only variant)."""
    average_bps: float
    """All segment bytes (and the init segment) over the duration."""
    channels: int
    """Always 2: the rendition is stereo."""
    sample_rate: int
    """48000, or 44100 when the source is 44.1 kHz."""
    codecs: str = AAC_CODECS
    """RFC 6381 CODECS value (AAC-LC)."""


def output_sample_rate(source_rate: int) -> int:
    """The rendition's sample rate: 44.1 kHz sources keep it, everything else becomes 48 kHz."""
    return 44100 if source_rate == 44100 else 48000


def cut_frames(boundaries_s: Sequence[float], *, sample_rate: int, duration_s: float) -> list[int]:
    """The AAC frame nearest each chunk start (``boundaries_s``, the first 0.0), as frame indices
    on the rendition's timeline; a boundary moves by at most ``512 / sample_rate`` s."""
    if not boundaries_s or boundaries_s[0] != 0.0:
        raise UsageError(
            "The 'boundaries_s' parameter of package_audio must start with 0.0 (the chunk start "
            f"times in seconds). Got {list(boundaries_s)[:4]!r} instead."
        )
    frame_s = AAC_FRAME_SAMPLES / sample_rate
    frames = [math.floor(b / frame_s + 0.5) for b in boundaries_s]
    last = math.ceil(duration_s / frame_s)
    pairs = itertools.pairwise(zip(boundaries_s, frames, strict=True))
    for (b0, f0), (b1, f1) in pairs:
        if f1 <= f0 or f1 >= last:
            raise UsageError(
                "The 'boundaries_s' parameter of package_audio must increase by more than one "
                f"AAC frame ({frame_s * 1000:.1f} ms) and stay below the duration "
                f"({duration_s:g} s). Got {b0:g} then {b1:g} instead."
            )
    return frames


def probe_audio(source: str | os.PathLike[str]) -> AudioInfo | None:
    """Describe the first audio stream of ``source``; None when it has none.

    Its first frames are decoded: a stream that exists but does not decode raises
    :class:`~ladderforge.errors.InvalidMediaError` naming the file (never a silent drop).
    """
    import av  # deferred: keeps `import ladderforge` light

    p = check_input_file(source)
    try:
        container = av.open(str(p))
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise InvalidMediaError(f"{p}: not a readable media file ({exc})", path=p) from exc
    with container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        _check_decodes(container, stream, p)
        video = container.streams.video[0] if container.streams.video else None
        cc = stream.codec_context
        return AudioInfo(
            codec=cc.name,
            channels=cc.channels,
            layout=cc.layout.name,
            sample_rate=cc.sample_rate,
            duration_s=(
                float(stream.duration * stream.time_base)
                if stream.duration and stream.time_base
                else (container.duration / 1e6 if container.duration else None)
            ),
            start_s=_start_s(stream),
            video_start_s=_start_s(video) if video is not None else None,
        )


def _start_s(stream: av.stream.Stream) -> float:
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def _check_decodes(
    container: av.container.InputContainer, stream: av.audio.stream.AudioStream, p: Path
) -> None:
    import av

    decoded = 0
    try:
        for _ in container.decode(stream):
            decoded += 1
            if decoded >= _DECODE_CHECK_FRAMES:
                return
    except (av.error.FFmpegError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        why = f"({reason})"
    else:
        if decoded:
            return  # a short stream: what it has decodes
        why = "(no frame)"
    raise InvalidMediaError(
        f"{p}: the audio stream (#{stream.index}, {stream.codec_context.name}) cannot be decoded "
        f"{why}; the file is corrupt: repair or re-mux it, or pass --no-audio to package the "
        "video without its audio",
        path=p,
    )


def package_audio(
    source: str | os.PathLike[str],
    folder: str | os.PathLike[str],
    *,
    boundaries_s: Sequence[float],
    duration_s: float | None = None,
    bitrate_kbps: int = 128,
    segment_type: str = "fmp4",
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> AudioPlaylist:
    """Encode the first audio stream of ``source`` to AAC-LC stereo and segment it into
    ``folder``/index.m3u8 + ``init.mp4`` + ``seg_%05d.m4s`` (or ``.ts`` for ``mpegts``), one
    segment per chunk start in ``boundaries_s``, each cut at the AAC frame nearest it.

    ``duration_s`` is the video's (frames / frame rate; probed from ``source`` when None): the
    audio is padded or trimmed to it. The folder is replaced only once the new one is complete
    and checked (:func:`check_audio`).
    """
    _check_parameters(segment_type, bitrate_kbps)
    src = Path(source)
    info = probe_audio(src)
    if info is None:
        raise InvalidMediaError(f"{src}: has no audio stream to package", path=src)
    if duration_s is None:
        video = probe(src, hash_content=False)
        duration_s = video.frame_count / float(video.frame_rate)
    rate = output_sample_rate(info.sample_rate)
    frames = cut_frames(boundaries_s, sample_rate=rate, duration_s=duration_s)
    total_samples = round(duration_s * rate)
    starts, durations = _segment_times(frames, total_samples, rate)
    out = Path(folder)
    with atomic_path(out) as tmp:  # a folder: swapped in whole, or removed
        tmp.mkdir()
        run_ffmpeg(
            _ffmpeg_args(
                src,
                tmp,
                video_start_s=info.video_start_s or 0.0,
                rate=rate,
                frames=frames,
                total_samples=total_samples,
                bitrate_kbps=bitrate_kbps,
                segment_type=segment_type,
            ),
            timeout_s=timeout_s,
            error_path=src,
            error_message="audio encoding and segmenting failed",
            error_type=EncodeError,
        )
        _check_cuts(tmp / _SEGMENT_LIST, starts, rate, src)
        (tmp / _SEGMENT_LIST).unlink()
        (tmp / "index.m3u8").write_text(_playlist_text(durations, segment_type))
        if problems := check_audio(tmp, boundaries_s=boundaries_s, duration_s=duration_s):
            raise EncodeError(
                f"{src}: the packaged audio does not check out: {'; '.join(problems)}"
            )
    media = read_media_playlist(out / "index.m3u8")
    return AudioPlaylist(
        path=media.path,
        segments=media.segments,
        durations_s=media.durations_s,
        starts_s=tuple(starts),
        peak_bps=media.peak_bps,
        average_bps=media.average_bps,
        channels=CHANNELS,
        sample_rate=rate,
    )


def _check_parameters(segment_type: str, bitrate_kbps: int) -> None:
    if segment_type not in SEGMENT_TYPES:
        raise UsageError(
            f"The 'segment_type' parameter of package_audio must be one of {SEGMENT_TYPES}. "
            f"Got {segment_type!r} instead."
        )
    if not 16 <= bitrate_kbps <= 512:
        raise UsageError(
            "The 'bitrate_kbps' parameter of package_audio must be in [16, 512]. "
            f"Got {bitrate_kbps!r} instead."
        )


def _ffmpeg_args(
    src: Path,
    tmp: Path,
    *,
    video_start_s: float,
    rate: int,
    frames: Sequence[int],
    total_samples: int,
    bitrate_kbps: int,
    segment_type: str,
) -> list[str]:
    # -copyts: the filter sees the container's clock, so the shift to the first video frame
    # (and one frame ahead, for the encoder's priming) is exact; aresample's first_pts=0 pads
    # a late start with silence and trims an early one, async=1 fills gaps.
    shift_s = video_start_s + _PRIMING_SAMPLES / rate
    encoded = total_samples - _PRIMING_SAMPLES
    graph = (
        f"asetpts=PTS-{shift_s:.9f}/TB,aresample={rate}:async=1:first_pts=0,"
        f"aformat=sample_fmts=fltp:channel_layouts=stereo,"
        f"apad=whole_len={encoded},atrim=end_sample={encoded}"
    )
    args = ["-y", "-loglevel", "error", "-copyts", "-i", str(src), "-map", "0:a:0"]
    args += ["-vn", "-sn", "-dn", "-map_metadata", "-1", "-map_chapters", "-1", "-af", graph]
    args += ["-c:a", "aac", "-profile:a", "aac_low", "-b:a", f"{bitrate_kbps}k"]
    args += ["-f", "segment", "-segment_list", str(tmp / _SEGMENT_LIST)]
    args += ["-segment_list_type", "csv"]
    if len(frames) > 1:  # packet numbers: with the priming packet first, frame k is packet k
        args += ["-segment_frames", ",".join(str(f) for f in frames[1:])]
    else:
        args += ["-segment_time", "1000000000"]
    if segment_type == "fmp4":
        args += ["-segment_format", "mp4", "-segment_header_filename", str(tmp / "init.mp4")]
        args += ["-segment_format_options", "movflags=+frag_custom+dash+delay_moov+skip_trailer"]
        return [*args, str(tmp / "seg_%05d.m4s")]
    return [*args, "-segment_format", "mpegts", str(tmp / "seg_%05d.ts")]


def _segment_times(
    frames: Sequence[int], total_samples: int, rate: int
) -> tuple[list[float], list[float]]:
    """Start and duration (s) of each segment, from the frames it starts on."""
    edges = [f * AAC_FRAME_SAMPLES for f in frames] + [total_samples]
    starts = [e / rate for e in edges[:-1]]
    durations = [(b - a) / rate for a, b in itertools.pairwise(edges)]
    return starts, durations


def _check_cuts(listing: Path, starts: Sequence[float], rate: int, src: Path) -> None:
    """ffmpeg's own list of segments must hold the cuts asked for (a muxer that cut elsewhere
    is an error, not a playlist that lies)."""
    with listing.open(newline="") as fh:
        rows = list(csv.reader(fh))
    found = [float(row[1]) for row in rows if len(row) >= 3]
    half_frame_s = AAC_FRAME_SAMPLES / rate / 2
    if len(found) != len(starts) or any(
        abs(a - b) > half_frame_s for a, b in zip(found, starts, strict=True)
    ):
        raise EncodeError(
            f"{src}: ffmpeg cut the audio at {[round(t, 4) for t in found][:8]} s where "
            f"{[round(t, 4) for t in starts][:8]} s were asked for",
            path=src,
        )


def _playlist_text(durations: Sequence[float], segment_type: str) -> str:
    fmp4 = segment_type == "fmp4"
    ext = "m4s" if fmp4 else "ts"
    playlist = m3u8.M3U8()
    playlist.version = 7 if fmp4 else 3
    playlist.target_duration = max(1, math.ceil(max(durations)))
    playlist.media_sequence = 0
    playlist.playlist_type = "vod"
    playlist.is_independent_segments = True
    playlist.is_endlist = True
    for i, duration in enumerate(durations):
        init = {"uri": "init.mp4"} if fmp4 and i == 0 else None
        playlist.add_segment(
            Segment(uri=f"seg_{i:05d}.{ext}", duration=round(duration, 6), init_section=init)
        )
    return str(playlist.dumps())
