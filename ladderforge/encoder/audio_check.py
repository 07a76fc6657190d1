"""Checking a packaged audio rendition: what ``ladderforge verify`` asks of the audio.

:func:`check_audio` reopens what :func:`~ladderforge.encoder.audio.package_audio` wrote (or any
folder laid out the same way: ``index.m3u8``, an optional ``init.mp4``, one segment per video
chunk) and lists what is wrong with it: a playlist that does not parse, missing segment files, a
segment count that is not one per chunk, a segment that starts more than one AAC frame
(:data:`AAC_FRAME_SAMPLES` samples) from its chunk, in its media or in its playlist, or a total
that is more than one AAC frame off the video's duration. It only reads; it never imports the
packaging side, which imports it.
"""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Sequence
from pathlib import Path

import m3u8

__all__ = ["AAC_FRAME_SAMPLES", "check_audio"]

AAC_FRAME_SAMPLES = 1024
"""Samples per AAC-LC frame: segments can start only on multiples of this."""


def check_audio(
    folder: str | os.PathLike[str], *, boundaries_s: Sequence[float], duration_s: float
) -> list[str]:
    """What is wrong with a packaged audio rendition (empty when nothing is): its playlist
    parses, its segments (and init segment) exist, one per boundary, each starting within one
    AAC frame of its boundary (in its media and in the playlist), and they add up to
    ``duration_s`` within one AAC frame."""
    import av

    index = Path(folder) / "index.m3u8"
    try:
        playlist = m3u8.load(str(index))
    except (OSError, ValueError) as exc:
        return [f"{index}: the playlist cannot be read ({exc})"]
    init = next((m.uri for m in playlist.segment_map if m.uri), None)
    files = [index.parent / s.uri for s in playlist.segments]
    missing = [
        f.name for f in [*files, *([index.parent / init] if init else [])] if not f.is_file()
    ]
    if missing or not files:
        return [
            f"{index}: missing segment files {missing[:8]}" if missing else f"{index}: no segments"
        ]
    problems: list[str] = []
    if len(files) != len(boundaries_s):
        problems.append(f"{len(files)} segments where {len(boundaries_s)} chunks were expected")
    header = (index.parent / init).read_bytes() if init else b""
    try:
        starts, end_s, rate = _measure(header, files, "mp4" if init else "mpegts")
    except (av.error.FFmpegError, IndexError, ValueError, OSError) as exc:
        return [*problems, f"{index}: the segments cannot be read ({exc})"]
    frame_s = AAC_FRAME_SAMPLES / rate
    listed = [0.0, *itertools.accumulate(float(s.duration or 0.0) for s in playlist.segments)]
    for i, (start, at, boundary) in enumerate(zip(starts, listed, boundaries_s, strict=False)):
        for what, value in (("", start), (" in the playlist", at)):
            if abs(value - boundary) > frame_s:
                problems.append(
                    f"segment {i} starts{what} at {value:.4f} s, more than one AAC frame "
                    f"({frame_s * 1000:.1f} ms) from its chunk at {boundary:.4f} s"
                )
    for what, value in (("the playlist", listed[-1]), ("the media", end_s)):
        if abs(value - duration_s) > frame_s:
            problems.append(
                f"{what} lasts {value:.4f} s where the video lasts {duration_s:.4f} s "
                f"(more than one AAC frame apart)"
            )
    return problems


def _measure(header: bytes, files: Sequence[Path], fmt: str) -> tuple[list[float], float, int]:
    """First timestamp of each segment (s; relative to the first segment for MPEG-TS, whose
    clock starts at the muxer's offset), where the last one ends, and the sample rate."""
    import av

    starts: list[float] = []
    end_s = 0.0
    rate = 0
    for path in files:
        with av.open(io.BytesIO(header + path.read_bytes()), format=fmt) as container:
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate
            packets = [p for p in container.demux(stream) if p.size and p.pts is not None]
            if not packets or stream.codec_context.name != "aac":
                raise ValueError(f"{path.name} holds no AAC audio")
            tb = packets[0].time_base
            starts.append(float(packets[0].pts * tb))
            end_s = float((packets[-1].pts + (packets[-1].duration or 0)) * tb)
    origin = starts[0] if fmt == "mpegts" else 0.0
    return [s - origin for s in starts], end_s - origin, rate
