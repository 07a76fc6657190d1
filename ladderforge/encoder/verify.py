"""Checking encoded files: where the keyframes are and whether they are IDR / closed-GOP.

HEVC ``keyframe`` flags are also set on CRA frames (open GOP), which streaming cannot switch on
cleanly; :func:`keyframes` therefore reads the NAL unit types of each HEVC keyframe packet.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass

from ladderforge.errors import InvalidMediaError

__all__ = [
    "Keyframe",
    "check_picture",
    "check_rendition",
    "hevc_tag",
    "join_tag",
    "keyframes",
    "packet_sizes",
    "range_bitrates_kbps",
]

_HEVC_IDR = {19, 20}  # IDR_W_RADL, IDR_N_LP
_HEVC_IRAP = set(range(16, 24))
_H264_IDR = 5


@dataclass(frozen=True)
class Keyframe:
    """A keyframe packet of an encoded file."""

    index: int
    """Frame index in decode (= presentation, for the closed-GOP streams checked) order."""
    idr: bool
    """True for an IDR (H.264/HEVC) or an AV1 key frame: a clean random-access point."""
    nal_types: tuple[int, ...]
    """NAL unit types found in the packet (H.264/HEVC; empty for other codecs)."""
    time_s: float | None = None
    """Presentation time in seconds (None when the packet has no timestamp)."""


def _nal_types(data: bytes, family: str, *, annex_b: bool) -> tuple[int, ...]:
    """NAL unit types of a length-prefixed (mp4/mkv: avcC/hvcC) or Annex-B packet."""
    types: list[int] = []
    if annex_b:
        parts = [
            p
            for p in data.replace(b"\x00\x00\x01", b"\x00\x00\x00\x01").split(b"\x00\x00\x00\x01")
            if p
        ]
    else:
        parts, pos = [], 0
        while pos + 4 <= len(data):
            size = int.from_bytes(data[pos : pos + 4], "big")
            parts.append(data[pos + 4 : pos + 4 + size])
            pos += 4 + size
    for part in parts:
        if part:
            types.append((part[0] >> 1) & 0x3F if family == "hevc" else part[0] & 0x1F)
    return tuple(types)


def keyframes(path: str | os.PathLike[str]) -> list[Keyframe]:
    """Keyframes of the first video stream, in packet order, with their IDR status.

    Raises InvalidMediaError naming the file when it cannot be read."""
    try:
        return _keyframes(path)
    except read_errors() as exc:
        raise InvalidMediaError(f"{path}: cannot be read ({exc})", path=str(path)) from exc


def read_errors() -> tuple[type[BaseException], ...]:
    import av

    return (av.FFmpegError, OSError, IndexError)


def _keyframes(path: str | os.PathLike[str]) -> list[Keyframe]:
    import av

    found: list[Keyframe] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        name = stream.codec_context.name
        family = "hevc" if name == "hevc" else "h264" if name == "h264" else "other"
        # avcC/hvcC extradata (version byte 1) means 4-byte length prefixes; else Annex-B.
        extradata = stream.codec_context.extradata or b""
        annex_b = extradata[:1] != b"\x01"
        index = 0
        for packet in container.demux(stream):
            if not packet.size:
                continue
            if packet.is_keyframe:
                types = (
                    _nal_types(bytes(packet), family, annex_b=annex_b) if family != "other" else ()
                )
                if family == "hevc":
                    idr = any(t in _HEVC_IDR for t in types)
                elif family == "h264":
                    idr = _H264_IDR in types
                else:
                    idr = True
                time_s = (
                    float(packet.pts * packet.time_base)
                    if packet.pts is not None and packet.time_base
                    else None
                )
                found.append(Keyframe(index, idr, types, time_s))
            index += 1
    return found


def check_rendition(
    path: str | os.PathLike[str],
    *,
    frame_count: int,
    keyframes_at: Sequence[int] | None = None,
) -> list[str]:
    """What is wrong with an encoded rendition (empty when nothing is): its frame count against
    ``frame_count``, its timestamps (strictly increasing, no duplicates), and, given
    ``keyframes_at``, its keyframes (IDR exactly there, and nowhere else)."""
    import av

    problems: list[str] = []
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            packets = [(p.pts, p.dts) for p in container.demux(stream) if p.size]
    except (av.FFmpegError, IndexError, OSError) as exc:
        return [f"{path} cannot be read: {exc}"]
    pts = [p for p, _ in packets]
    dts = [d for _, d in packets]
    if len(pts) != frame_count:
        problems.append(f"{len(pts)} frames where {frame_count} were expected")
    if any(p is None for p in pts):
        problems.append("packets without timestamps")
    else:
        ordered = sorted(pts)
        if len(set(ordered)) != len(ordered):
            problems.append(f"{len(ordered) - len(set(ordered))} duplicated timestamps")
        if any(d is None for d in dts) or any(b <= a for a, b in itertools.pairwise(dts)):
            problems.append("decode timestamps do not strictly increase")
    if keyframes_at is not None:
        found = keyframes(path)
        idr = [k.index for k in found if k.idr]
        other = [k.index for k in found if not k.idr]
        if idr != sorted(keyframes_at):
            missing = sorted(set(keyframes_at) - set(idr))
            extra = sorted(set(idr) - set(keyframes_at))
            problems.append(
                f"IDR keyframes not on the chunk starts (missing at {missing[:8]}, "
                f"extra at {extra[:8]})"
            )
        if other:
            problems.append(f"non-IDR keyframes (open GOP) at {other[:8]}")
    return problems


def check_picture(
    path: str | os.PathLike[str],
    *,
    width: int,
    height: int,
    source_size: tuple[int, int],
    video_range: str = "SDR",
) -> list[str]:
    """What is wrong with a rendition's picture (empty when nothing is): its first frame must be
    ``width`` x ``height``, upright (no display rotation left for the player), with square
    pixels, and the shape of the source's upright ``source_size`` (within the rounding of
    even sizes). For an HDR ``video_range`` (``PQ``, ``HLG``) it must also be 10-bit with that
    transfer characteristic, and PQ must carry mastering-display metadata."""
    import av

    from ladderforge.media.probe import TRANSFER, display_rotation
    from ladderforge.types.media import VIDEO_RANGES

    try:
        with av.open(str(path)) as container:
            sar = container.streams.video[0].sample_aspect_ratio
            frame = next(container.decode(video=0))
    except (av.FFmpegError, IndexError, OSError, StopIteration) as exc:
        return [f"{path}: the first frame cannot be read ({exc})"]
    problems = []
    if (frame.width, frame.height) != (width, height):
        problems.append(f"{frame.width}x{frame.height} where {width}x{height} was expected")
    if sar is not None and sar.numerator and sar != 1:
        problems.append(f"non-square pixels (SAR {sar.numerator}:{sar.denominator})")
    if display_rotation(frame.rotation):
        problems.append(f"a display rotation of {display_rotation(frame.rotation)} degrees")
    if video_range != "SDR":
        transfer = TRANSFER.get(int(frame.color_trc or 2), "unknown")
        if VIDEO_RANGES.get(transfer, "SDR") != video_range:
            problems.append(f"transfer {transfer}, not the source's {video_range} (HDR lost)")
        if "10" not in frame.format.name:
            problems.append(f"{frame.format.name}: HDR needs 10 bits")
        kinds = {str(getattr(sd.type, "name", sd.type)) for sd in frame.side_data}
        if video_range == "PQ" and "MASTERING_DISPLAY_METADATA" not in kinds:
            problems.append("no mastering-display metadata (HDR10 needs it)")
    src_w, src_h = source_size
    # even sizes round each side by up to one pixel
    if abs(frame.width * src_h - frame.height * src_w) > src_h + src_w:
        problems.append(
            f"{frame.width}x{frame.height} does not have the shape of the {src_w}x{src_h} "
            "(upright) source"
        )
    return problems


def packet_sizes(path: str | os.PathLike[str]) -> list[int]:
    """Bytes of each video packet in decode order (closed GOPs: a chunk's frames are a
    contiguous run), for per-chunk bitrates without container overhead."""
    import av

    try:
        with av.open(str(path)) as container:
            return [p.size for p in container.demux(container.streams.video[0]) if p.size]
    except read_errors() as exc:
        raise InvalidMediaError(f"{path}: cannot be read ({exc})", path=str(path)) from exc


def range_bitrates_kbps(
    path: str | os.PathLike[str], ranges: Sequence[tuple[int, int]], fps: float
) -> list[float]:
    """Video bitrate of each frame range ``[start, end)`` of a closed-GOP rendition, from its
    packets (no container overhead): a chunk's own bitrate."""
    sizes = packet_sizes(path)
    return [8 * sum(sizes[a:b]) * fps / max(1, b - a) / 1000 for a, b in ranges]


def _extradata(path: str | os.PathLike[str]) -> bytes:
    import av

    with av.open(str(path)) as container:
        return bytes(container.streams.video[0].codec_context.extradata or b"")


def join_tag(family: str, parts: Sequence[str | os.PathLike[str]]) -> list[str]:
    """The ``-tag:v`` arguments for joining chunk files of one codec family.

    HEVC: ``hvc1`` (what Apple's HLS wants: parameter sets in the sample entry) when every
    chunk carries the same parameter sets, else ``hev1`` (parameter sets in-band, which the
    chunks repeat at every IDR), so a join never declares the wrong headers complete.
    """
    if family != "hevc":
        return []
    same = len({_extradata(p) for p in parts}) <= 1
    return ["-tag:v", "hvc1" if same else "hev1"]


def hevc_tag(path: str | os.PathLike[str]) -> list[str]:
    """``-tag:v`` arguments that keep an HEVC file's sample entry (hvc1/hev1) on stream copy."""
    import av

    with av.open(str(path)) as container:
        ctx = container.streams.video[0].codec_context
        if ctx.name != "hevc":
            return []
        tag = container.streams.video[0].codec_tag
    return ["-tag:v", tag if tag in ("hvc1", "hev1") else "hvc1"]
