"""Probing a source with PyAV: what it is, checked before any work is spent on it.

The frame count comes from counting the video stream's packets (no decoding), not from the
container's claim; the first frame is decoded to prove the stream decodes at all. Every problem
becomes an :class:`~ladderforge.errors.InvalidMediaError` (or a subclass) naming the file.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from ladderforge.errors import (
    InvalidMediaError,
    MediaNotFoundError,
    UnsupportedMediaError,
    UsageError,
)
from ladderforge.media.conform import constant_rate, is_vfr
from ladderforge.types import MIN_SIDE_PX, SourceInfo

if TYPE_CHECKING:
    import av.container
    import av.packet
    import av.video.frame
    import av.video.stream

__all__ = [
    "MIN_SIDE_PX",
    "SUPPORTED_BIT_DEPTHS",
    "TRANSFER",
    "as_path",
    "check_input_file",
    "complete_packets",
    "content_hash",
    "display_rotation",
    "not_regular_file",
    "open_av",
    "probe",
    "stalled",
]

log = logging.getLogger(__name__)
SUPPORTED_BIT_DEPTHS = (8, 10)
_UNSUPPORTED_PREFIXES = ("pal8", "bayer", "monow", "monob", "xyz")

# ffmpeg's enum values (libavutil/pixfmt.h) -> names, for the values seen in practice.
_PRIMARIES = {
    1: "bt709",
    4: "bt470m",
    5: "bt470bg",
    6: "smpte170m",
    7: "smpte240m",
    9: "bt2020",
    11: "smpte431",
    12: "smpte432",
}
TRANSFER = {
    1: "bt709",
    4: "gamma22",
    5: "gamma28",
    6: "smpte170m",
    8: "linear",
    13: "iec61966-2-1",
    14: "bt2020-10",
    15: "bt2020-12",
    16: "smpte2084",
    18: "arib-std-b67",
}
_MATRIX = {
    0: "gbr",
    1: "bt709",
    5: "bt470bg",
    6: "smpte170m",
    7: "smpte240m",
    9: "bt2020nc",
    10: "bt2020c",
}
_RANGE = {1: "tv", 2: "pc"}


_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def as_path(value: object, *, parameter: str, function: str) -> Path:
    """``value`` as a :class:`Path` when it is a ``str`` or ``os.PathLike`` naming something,
    else a UsageError naming the parameter (rather than a TypeError from deep inside)."""
    if isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        if isinstance(path, str) and path and "\0" not in path:
            return Path(path)
    raise UsageError(
        f"The {parameter!r} parameter of {function} must be a file path (str or "
        f"os.PathLike). Got {value!r} ({type(value).__name__}) instead."
    )


def not_regular_file(path: Path) -> str | None:
    """Why ``path`` is not a regular file (missing, a directory, a FIFO, a device, a socket),
    or None when it is one. Only ``stat`` is called: nothing is opened, so a FIFO or a device
    is refused at once instead of blocking the reader."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symlink loop (it never reaches a file)"
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISDIR(mode):
        return "is a directory"
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _KINDS if test(mode)), "a special file")
    return f"is {kind}, not a regular file"


def check_input_file(path: str | os.PathLike[str]) -> Path:
    """The path as a :class:`Path` if it is a non-empty regular file, else a clear error."""
    p = as_path(path, parameter="path", function="check_input_file")
    problem = not_regular_file(p)
    if problem == "is a directory":
        raise MediaNotFoundError(f"{p}: is a directory, not a video file", path=p)
    if problem is not None:
        raise MediaNotFoundError(f"{p}: {problem}", path=p)
    if p.stat().st_size == 0:
        raise InvalidMediaError(f"{p}: the file is empty (0 bytes)", path=p)
    if not os.access(p, os.R_OK):
        raise MediaNotFoundError(f"{p}: not readable (permission denied)", path=p)
    return p


def content_hash(path: str | os.PathLike[str], *, chunk_bytes: int = 1 << 20) -> str:
    """sha256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def _bit_depth(pix_fmt: str) -> int:
    for depth in (16, 14, 12, 10, 9):
        if (
            f"p{depth}" in pix_fmt
            or pix_fmt.endswith(f"{depth}le")
            or pix_fmt.endswith(f"{depth}be")
        ):
            return depth
    return 8


def probe(path: str | os.PathLike[str], *, hash_content: bool = True) -> SourceInfo:
    """Describe a video file, or raise a :class:`~ladderforge.errors.LadderforgeError` naming it.

    Raises:
        UsageError: ``path`` is not a str or os.PathLike.
        MediaNotFoundError: missing path, a directory, a FIFO or device, unreadable.
        InvalidMediaError: empty, not a media file, truncated/corrupt, no video stream, no frame.
        UnsupportedMediaError: a pixel format or bit depth ladderforge does not handle, or a
            picture with a side under :data:`~ladderforge.types.MIN_SIDE_PX` pixels.
    """
    import av  # deferred: keeps `import ladderforge` light

    p = check_input_file(as_path(path, parameter="path", function="probe"))
    try:
        container = open_av(str(p))
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        if isinstance(exc, av.error.ExitError):
            raise stalled(p) from exc
        if _mp4_without_index(p):
            raise InvalidMediaError(
                f"{p}: an MP4/MOV file without its index (no 'moov' box before the end of the "
                "file): truncated, or still being written; re-copy it or re-mux it whole",
                path=p,
            ) from exc
        raise InvalidMediaError(
            f"{p}: not a readable media file ({_av_reason(exc)})", path=p
        ) from exc
    with container:
        if not container.streams.video:
            kinds: list[str] = sorted({str(s.type) for s in container.streams}) or ["no streams"]
            raise InvalidMediaError(f"{p}: has no video stream (found: {', '.join(kinds)})", path=p)
        stream = container.streams.video[0]
        cc = stream.codec_context
        if cc is None:  # a codec this build of FFmpeg cannot decode (or a damaged sample entry)
            tag = getattr(stream, "codec_tag", "") or "unknown"
            raise UnsupportedMediaError(
                f"{p}: its video codec ({tag!r}) has no decoder in PyAV's FFmpeg; re-encode it "
                "(e.g. ffmpeg -c:v libx264) or check that the file is not damaged",
                path=p,
            )
        pix_fmt = cc.pix_fmt or (stream.format.name if stream.format else "") or ""
        frame = _first_frame(container, stream, p)
        pix_fmt = frame.format.name or pix_fmt
        _check_pixel_format(pix_fmt, p)
        _check_picture_size(frame.width, frame.height, p)
        rotation = display_rotation(frame.rotation)
        width, height = (
            (frame.height, frame.width) if rotation % 180 else (frame.width, frame.height)
        )
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        frame_rate = Fraction(rate) if rate else Fraction(25)
        frame_count, pts_s, truncated = _count_packets(str(p), p)
        duration_s = (
            pts_s[-1] - pts_s[0] + _last_duration_s(pts_s, frame_rate)
            if pts_s
            else frame_count / float(frame_rate)
        )
        vfr = is_vfr(pts_s)
        if vfr:
            frame_rate = constant_rate(pts_s)
        return SourceInfo(
            path=p,
            width=width,
            height=height,
            frame_rate=frame_rate,
            frame_count=frame_count,
            duration_s=duration_s,
            pix_fmt=pix_fmt,
            bit_depth=_bit_depth(pix_fmt),
            codec=cc.name,
            container=container.format.name,
            size_bytes=p.stat().st_size,
            content_hash=content_hash(p) if hash_content else "",
            color_primaries=_PRIMARIES.get(int(frame.color_primaries or 2), "unknown"),
            color_transfer=TRANSFER.get(int(frame.color_trc or 2), "unknown"),
            color_matrix=_MATRIX.get(int(frame.colorspace or 2), "unknown"),
            color_range=_RANGE.get(int(frame.color_range or 0), "unknown"),
            interlaced=bool(frame.interlaced_frame),
            rotation_deg=rotation,
            has_audio=bool(container.streams.audio),
            truncated=truncated,
            vfr=vfr,
        )


AV_TIMEOUT_S = (60.0, 60.0)
"""PyAV's (open, read) timeouts in seconds: how long opening, then any one read, may wait for
data before PyAV gives up (a stalled network mount); a FIFO or device never gets this far
(:func:`not_regular_file`)."""


def open_av(
    url: str, *, timeout_s: tuple[float, float] = AV_TIMEOUT_S
) -> av.container.InputContainer:
    """``av.open(url)`` with :data:`AV_TIMEOUT_S`; a wait past them raises PyAV's
    ``TimeoutError`` (an ``av.error.FFmpegError``, so callers' error mapping covers it)."""
    import av

    return av.open(url, timeout=timeout_s)


def stalled(p: Path) -> InvalidMediaError:
    """The error for a file PyAV gave up on (:data:`AV_TIMEOUT_S`): never a short count."""
    return InvalidMediaError(
        f"{p}: reading it stalled (no data for {AV_TIMEOUT_S[1]:g} s); is it on a network "
        "mount that stopped answering?",
        path=p,
    )


def display_rotation(value: float | None) -> int:
    """A display matrix's rotation (PyAV's ``frame.rotation``: degrees counter-clockwise, in
    (-180, 180]) as 0, 90, 180 or 270. A rotation that is not a multiple of 90 degrees (not
    written by cameras or phones) counts as 0: such a picture keeps its size either way."""
    degrees = round(float(value or 0.0))
    return degrees % 360 if degrees % 90 == 0 else 0


def _av_reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).split(": '")[0]


def _first_frame(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, p: Path
) -> av.video.frame.VideoFrame:
    import av

    try:
        for frame in container.decode(stream):
            return frame
    except av.error.FFmpegError as exc:
        raise InvalidMediaError(
            f"{p}: the video stream does not decode ({_av_reason(exc)}); the file is corrupt "
            "or truncated",
            path=p,
        ) from exc
    raise InvalidMediaError(f"{p}: the video stream has no decodable frame", path=p)


def _check_pixel_format(pix_fmt: str, p: Path) -> None:
    depth = _bit_depth(pix_fmt)
    if pix_fmt.startswith(_UNSUPPORTED_PREFIXES) or depth not in SUPPORTED_BIT_DEPTHS:
        raise UnsupportedMediaError(
            f"{p}: pixel format {pix_fmt} ({depth}-bit) is not supported; ladderforge handles "
            "8- and 10-bit YUV/RGB sources: convert it first (e.g. ffmpeg -pix_fmt yuv420p10le)",
            path=p,
        )


def _check_picture_size(width: int, height: int, p: Path) -> None:
    if min(width, height) < MIN_SIDE_PX:
        raise UnsupportedMediaError(
            f"{p}: the picture is {width}x{height}; ladderforge needs both sides >= "
            f"{MIN_SIDE_PX} pixels (libvmaf's VMAF crashes on smaller pictures): scale it up "
            f"first (e.g. ffmpeg -vf scale={max(width, MIN_SIDE_PX)}:{max(height, MIN_SIDE_PX)})",
            path=p,
        )


def _count_packets(path: str, p: Path) -> tuple[int, list[float], bool]:
    """(frames, presentation times in seconds, sorted, truncated) of the video stream, from its
    packets without decoding them (times empty when the packets carry none: raw streams).

    One packet with data is one frame for every codec ladderforge reads; the last packet of a
    truncated file is not counted (see :func:`complete_packets`), so the count is what ffmpeg
    decodes. The times give the duration and tell VFR from CFR: the container's duration is
    not used, since a truncated file with its index at the front claims the whole title's."""
    import av

    count = 0
    times: list[float] = []
    cut_short: list[bool] = []
    try:
        with open_av(path) as container:
            stream = container.streams.video[0]
            base = stream.time_base
            packets = complete_packets(
                container.demux(stream), on_truncated=lambda: cut_short.append(True)
            )
            for packet in packets:
                if not packet.size:
                    continue
                count += 1
                if packet.pts is not None and base:
                    times.append(float(packet.pts * base))
    except av.error.ExitError as exc:
        raise stalled(p) from exc
    except av.error.FFmpegError:
        cut_short.append(True)  # a truncated tail: the packets before it are what decodes
    if count == 0:
        raise InvalidMediaError(f"{p}: the video stream has no frames", path=p)
    return count, sorted(times) if len(times) == count else [], bool(cut_short)


def _last_duration_s(times: list[float], frame_rate: Fraction) -> float:
    """How long the last frame lasts: as long as the interval before it (VFR-safe), else one
    frame at ``frame_rate``."""
    return times[-1] - times[-2] if len(times) > 1 else 1 / float(frame_rate)


def complete_packets(
    packets: Iterable[av.packet.Packet], *, on_truncated: Callable[[], None] | None = None
) -> Iterator[av.packet.Packet]:
    """``packets`` without a last packet with data that the demuxer flagged corrupt: the end of
    a truncated file cuts it short, and decoders reject it (ffmpeg and PyAV alike; PyAV's
    frame-threaded decoder then also loses the frames it held). A corrupt packet followed by
    others (an MPEG-TS continuity error) is kept: it decodes, with errors concealed.
    ``on_truncated`` is called when such a last packet was dropped."""
    held = None
    for packet in packets:
        if packet.size:
            if held is not None:  # more data followed: not the end of a truncated file
                yield held
                held = None
            if packet.is_corrupt:
                held = packet
                continue
        elif held is not None:  # the flush packet right after a corrupt one: drop that one
            _dropped(held, on_truncated)
            held = None
        yield packet
    if held is not None:
        _dropped(held, on_truncated)


def _dropped(packet: av.packet.Packet, on_truncated: Callable[[], None] | None) -> None:
    log.debug("dropped the truncated last packet (pts %s)", packet.pts)
    if on_truncated is not None:
        on_truncated()


def _mp4_without_index(p: Path) -> bool:
    """True for a file that starts like an MP4/MOV (an ``ftyp`` box) but whose top-level boxes
    hold no ``moov`` (the index) before the file ends: an MP4 cut short with its index at the
    end. Only the box headers are read."""
    size = p.stat().st_size
    pos = 0
    seen: list[bytes] = []
    try:
        with open(p, "rb") as fh:
            while pos + 8 <= size and len(seen) < 1000:
                fh.seek(pos)
                head = fh.read(16)
                box, kind = int.from_bytes(head[:4], "big"), head[4:8]
                if box == 1 and len(head) == 16:
                    box = int.from_bytes(head[8:16], "big")
                elif box == 0:
                    box = size - pos
                if box < 8:
                    break
                seen.append(kind)
                pos += box
    except OSError:
        return False
    return bool(seen) and seen[0] == b"ftyp" and b"moov" not in seen
