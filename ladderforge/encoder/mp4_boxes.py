"""Just enough of an ISO BMFF (fragmented MP4) reader to time a DASH SegmentTimeline.

:func:`read_track` reads an init segment's track timescale (``moov/trak/mdia/mdhd``) and default
sample duration (``moov/mvex/trex``); :func:`read_fragment` reads one media segment's ``moof``
(``traf/tfhd``, ``tfdt``, ``trun``) to find its earliest presentation time and sample durations,
seeking past ``styp``/``sidx`` and never reading the ``mdat``. :mod:`~ladderforge.encoder.dash`
uses them to write exact timelines and :mod:`~ladderforge.encoder.dash_check` to check them
against the media. No other box is understood; anything malformed raises
:class:`~ladderforge.errors.InvalidMediaError` naming the file.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from ladderforge.errors import InvalidMediaError

__all__ = ["Fragment", "Track", "read_fragment", "read_track"]


class Track(NamedTuple):
    """What the init segment says about its (first) track."""

    timescale: int
    """Ticks per second of the track (``mdhd``)."""
    default_sample_duration: int
    """``trex`` default sample duration in ticks; 0 when the init has no ``trex``."""


class Fragment(NamedTuple):
    """What a media segment's ``moof`` says about its samples."""

    earliest: int
    """Earliest presentation time (decode time + composition offset) in track ticks."""
    duration: int
    """Sum of the sample durations in track ticks."""
    durations: tuple[int, ...]
    """Each sample's duration in track ticks, in decode order."""


def _boxes(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = len(data) - pos
        if size < header or pos + size > len(data):
            raise ValueError(f"truncated {kind.decode('latin-1')!r} box")
        yield kind, data[pos + header : pos + size]
        pos += size


def _child(data: bytes, *path: bytes) -> bytes | None:
    for kind in path:
        found = next((body for k, body in _boxes(data) if k == kind), None)
        if found is None:
            return None
        data = found
    return data


def read_track(init: Path) -> Track:
    """The timescale and default sample duration of ``init`` (an fMP4 init segment); raises
    :class:`InvalidMediaError` naming the file when it is not one."""
    try:
        moov = _child(init.read_bytes(), b"moov")
        mdhd = _child(moov or b"", b"trak", b"mdia", b"mdhd")
        if mdhd is None:
            raise ValueError("no moov/trak/mdia/mdhd box")
        (timescale,) = struct.unpack_from(">I", mdhd, 20 if mdhd[0] == 1 else 12)
        trex = _child(moov or b"", b"mvex", b"trex")
        default = struct.unpack_from(">I", trex, 12)[0] if trex else 0
    except (OSError, ValueError, struct.error) as exc:
        raise InvalidMediaError(f"{init}: not an fMP4 init segment ({exc})", path=init) from exc
    return Track(timescale, default)


def _read_moof(segment: Path) -> bytes:
    with segment.open("rb") as fh:  # seek past styp/sidx; never read the mdat
        while len(head := fh.read(8)) == 8:
            size, kind = struct.unpack(">I4s", head)
            header = 8
            if size == 1:
                (size,) = struct.unpack(">Q", fh.read(8))
                header = 16
            if kind == b"moof":
                return fh.read(size - header)
            if size < header:
                break
            fh.seek(size - header, os.SEEK_CUR)
    raise ValueError("no moof box")


def read_fragment(segment: Path, track: Track) -> Fragment:
    """The earliest presentation time and sample durations of ``segment`` (one fMP4 media
    segment of ``track``), read from its first ``moof`` without reading the ``mdat``; raises
    :class:`InvalidMediaError` naming the file when it is not one."""
    try:
        traf = _child(_read_moof(segment), b"traf") or b""
        tfhd, tfdt = _child(traf, b"tfhd"), _child(traf, b"tfdt")
        if tfhd is None or tfdt is None:
            raise ValueError("no traf/tfhd or traf/tfdt box")
        (base,) = struct.unpack_from(">Q" if tfdt[0] == 1 else ">I", tfdt, 4)
        flags, pos, default = int.from_bytes(tfhd[1:4], "big"), 8, track.default_sample_duration
        pos += 8 if flags & 0x1 else 0
        pos += 4 if flags & 0x2 else 0
        if flags & 0x8:
            (default,) = struct.unpack_from(">I", tfhd, pos)
        dts, earliest, durations = base, None, []
        for trun in (body for kind, body in _boxes(traf) if kind == b"trun"):
            version, flags = trun[0], int.from_bytes(trun[1:4], "big")
            (count,) = struct.unpack_from(">I", trun, 4)
            pos = 8 + (4 if flags & 0x1 else 0) + (4 if flags & 0x4 else 0)
            for _ in range(count):
                duration, offset = default, 0
                if flags & 0x100:
                    (duration,) = struct.unpack_from(">I", trun, pos)
                    pos += 4
                pos += (4 if flags & 0x200 else 0) + (4 if flags & 0x400 else 0)
                if flags & 0x800:
                    (offset,) = struct.unpack_from(">i" if version else ">I", trun, pos)
                    pos += 4
                earliest = dts + offset if earliest is None else min(earliest, dts + offset)
                durations.append(duration)
                dts += duration
        if earliest is None:
            raise ValueError("no samples")
    except (OSError, ValueError, struct.error) as exc:
        raise InvalidMediaError(
            f"{segment}: not an fMP4 media segment ({exc})", path=segment
        ) from exc
    return Fragment(earliest, dts - base, tuple(durations))
