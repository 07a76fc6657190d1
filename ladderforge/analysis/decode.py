"""The one decode pass of analysis: PyAV, threaded, planes read in place, corrupt packets survived.

Pictures are never converted to RGB or gray by swscale (that halves throughput): the Y plane is
read through its line size as a numpy view, 10-bit planes are brought to 8 bits with one
OpenCV call, and only unusual pixel formats go through ``reformat``. A packet that does not
decode is counted and skipped; a stream that ends in the middle is analysed up to there.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from ladderforge.errors import InvalidMediaError
from ladderforge.media.probe import complete_packets, display_rotation, open_av, stalled

__all__ = ["DecodeStats", "DecodedFrame", "decode_frames", "open_video"]

logger = logging.getLogger(__name__)

U8 = npt.NDArray[Any]
"""An 8-bit plane (OpenCV's stubs type images loosely)."""

_PLANAR_8 = {
    "yuv420p",
    "yuvj420p",
    "yuv422p",
    "yuvj422p",
    "yuv444p",
    "yuvj444p",
    "yuv440p",
    "yuvj440p",
    "yuv411p",
    "yuv410p",
}
_PLANAR_HIGH = {
    "yuv420p10le": 10,
    "yuv422p10le": 10,
    "yuv444p10le": 10,
    "yuv420p12le": 12,
    "yuv422p12le": 12,
    "yuv444p12le": 12,
    "yuv420p9le": 9,
    "yuv444p9le": 9,
}
_GRAY = {"gray": 8, "gray10le": 10, "gray12le": 12}
_SEMI = {"nv12": 8, "p010le": 16}
_UNTIMED_FORMATS = {"h264", "hevc", "vvc", "m4v", "mpegvideo", "cavsvideo", "avs2", "avs3"}
"""Raw elementary-stream demuxers: no timestamps, so fast mode cannot skip frames there."""


@dataclass
class DecodeStats:
    """What happened during the decode pass (filled in as it goes)."""

    frames_decoded: int = 0
    """Frames the decoder returned."""
    frames_corrupt: int = 0
    """Frames returned with the decoder's corrupt flag (error-concealed), analysed anyway."""
    decode_errors: int = 0
    """Packets the decoder rejected."""
    truncated: bool = False
    """Demuxing stopped with an error before the end of the file, or its last packet was cut
    short (a truncated file; that packet is not decoded)."""
    motion_vectors: bool = False
    """At least one frame carried decoder motion vectors."""


@dataclass
class DecodedFrame:
    """One decoded picture, as 8-bit planes that are only valid until the next frame."""

    index: int
    """Source frame index in display order."""
    pts_s: float
    """Presentation time in seconds."""
    key: bool
    """Keyframe flag."""
    pict_type: str
    """``I``, ``P``, ``B`` or ``?``."""
    luma: U8
    """Full-resolution Y plane (a view into the frame's buffer when 8-bit), upright: turned by
    the display rotation."""
    cb: U8 | None
    """Cb plane at chroma resolution (None for gray sources)."""
    cr: U8 | None
    """Cr plane at chroma resolution."""
    motion_vectors: npt.NDArray[np.void] | None
    """PyAV's AVMotionVector records when the decoder exported them."""


def open_video(path: Path) -> Any:
    """Open a container with PyAV, as an InvalidMediaError naming the file when it cannot."""
    import av

    try:
        return open_av(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise InvalidMediaError(f"{path}: not a readable media file ({exc})", path=path) from exc


def _view(plane: Any, dtype: type[np.generic]) -> npt.NDArray[Any]:
    item = np.dtype(dtype).itemsize
    buf = np.frombuffer(plane, dtype)
    stride = plane.line_size // item
    return buf[: plane.height * stride].reshape(plane.height, stride)[:, : plane.width]


def _to8(plane: npt.NDArray[Any], depth: int) -> U8:
    return cv2.convertScaleAbs(plane, alpha=1.0 / (1 << (depth - 8)))


def frame_planes(frame: Any) -> tuple[U8, U8 | None, U8 | None]:
    """The Y, Cb, Cr planes of a frame in 8 bits (Cb/Cr None for gray)."""
    name = frame.format.name
    planes = frame.planes
    if name in _PLANAR_8:
        return _view(planes[0], np.uint8), _view(planes[1], np.uint8), _view(planes[2], np.uint8)
    if name in _PLANAR_HIGH:
        d = _PLANAR_HIGH[name]
        y, cb, cr = (_to8(_view(p, np.uint16), d) for p in planes[:3])
        return y, cb, cr
    if name in _GRAY:
        d = _GRAY[name]
        y = _view(planes[0], np.uint8) if d == 8 else _to8(_view(planes[0], np.uint16), d)
        return y, None, None
    if name in _SEMI:
        d = _SEMI[name]
        dt = np.uint8 if d == 8 else np.uint16
        y = _view(planes[0], dt)
        uv = _view(planes[1], dt).reshape(planes[1].height, -1, 2)
        cb, cr = np.ascontiguousarray(uv[..., 0]), np.ascontiguousarray(uv[..., 1])
        if d != 8:
            y, cb, cr = _to8(y, d), _to8(cb, d), _to8(cr, d)
        return y, cb, cr
    high = any(tag in name for tag in ("10", "12", "16"))
    converted = frame.reformat(format="yuv420p10le" if high else "yuv420p")
    return frame_planes(converted)


def upright(
    planes: tuple[U8, U8 | None, U8 | None], rotation_deg: int
) -> tuple[U8, U8 | None, U8 | None]:
    """The planes turned by the display rotation (counter-clockwise), as ffmpeg turns the
    pictures it decodes: analysis sees the same upright picture as cuts, encodes and VMAF."""
    turns = rotation_deg // 90 % 4
    if not turns:
        return planes
    y, cb, cr = (None if p is None else np.ascontiguousarray(np.rot90(p, turns)) for p in planes)
    assert y is not None
    return y, cb, cr


_PICT_TYPES = {1: "I", 2: "P", 3: "B", 4: "S", 5: "SI", 6: "SP", 7: "BI"}


def _pict_type(frame: Any) -> str:
    value = frame.pict_type  # an int (AVPictureType) in PyAV 14+, an enum in older releases
    name = getattr(value, "name", None)
    return name if isinstance(name, str) else _PICT_TYPES.get(int(value), "?")


def _motion_vectors(frame: Any) -> npt.NDArray[np.void] | None:
    """The frame's AVMotionVector records, or None.

    Not through ``frame.side_data``: PyAV caches that container on the frame and the container
    points back at the frame, a reference cycle that only a full garbage collection frees, so
    decoded pictures (megabytes each) pile up in memory. A container of our own points one way.
    """
    try:
        from av.sidedata.sidedata import SideDataContainer
    except ImportError:  # pragma: no cover - other PyAV layouts
        side = frame.side_data.get("MOTION_VECTORS")
    else:
        side = SideDataContainer(frame).get("MOTION_VECTORS")  # type: ignore[call-arg]
    return None if side is None else side.to_ndarray()


def decode_frames(
    container: Any,
    *,
    stats: DecodeStats,
    fast: bool = False,
    threads: int = 0,
    motion_vectors: bool = True,
    frame_rate: Fraction = Fraction(25),
) -> Iterator[DecodedFrame]:
    """Decode the first video stream of an open container, frame by frame, in display order.

    ``fast`` makes the decoder skip the loop filter and, in containers with timestamps,
    non-reference frames (frame indices then come from timestamps). ``threads`` is the
    decoder's thread count (0: automatic).
    """
    import av

    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    stream.codec_context.thread_count = threads
    options: dict[str, str] = {}
    untimed = container.format.name in _UNTIMED_FORMATS
    if fast:
        options["skip_loop_filter"] = "all"
        if not untimed:  # frame indices come from timestamps, which raw streams lack
            stream.codec_context.skip_frame = "NONREF"
    elif motion_vectors:
        options["flags2"] = "+export_mvs"
    if options:
        stream.codec_context.options = options
    fps = float(frame_rate) or 25.0
    t0: float | None = None
    logged_formats: set[str] = set()
    try:

        def cut_short() -> None:
            stats.truncated = True

        for packet in complete_packets(container.demux(stream), on_truncated=cut_short):
            try:
                frames = stream.decode(packet)
            except av.error.FFmpegError as exc:
                stats.decode_errors += 1
                logger.debug("packet at %s does not decode: %s", packet.pts, exc)
                continue
            for frame in frames:
                index = stats.frames_decoded
                stats.frames_decoded += 1
                if frame.is_corrupt:
                    stats.frames_corrupt += 1
                t = frame.time
                pts_s = float(t) if t is not None else index / fps
                if t0 is None:
                    t0 = pts_s
                if fast and not untimed:
                    index = max(index, round((pts_s - t0) * fps))
                name = frame.format.name
                if name not in logged_formats and name not in _PLANAR_8:
                    logged_formats.add(name)
                    logger.debug("pixel format %s read through the conversion path", name)
                mvs = _motion_vectors(frame) if motion_vectors and not fast else None
                if mvs is not None:
                    stats.motion_vectors = True
                y, cb, cr = upright(frame_planes(frame), display_rotation(frame.rotation))
                yield DecodedFrame(
                    index, pts_s, bool(frame.key_frame), _pict_type(frame), y, cb, cr, mvs
                )
    except av.error.ExitError as exc:  # PyAV's read timeout: not a short file
        raise stalled(Path(container.name)) from exc
    except av.error.FFmpegError as exc:
        stats.truncated = True
        logger.warning("demuxing stopped early: %s", exc)
