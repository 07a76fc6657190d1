"""Frames in and out through PyAV: 8-bit 4:2:0 planes as numpy arrays, on a chosen grid.

Decoded frames are brought to the display grid with swscale's bicubic scaler, the scaler with
which ``vmaf_tools.measure`` brings a rendition to its reference's grid (METRICS.md): the network
learns the residual left after exactly the upscale the plain ladder is judged with.
Odd sizes are fine here (planes are cut out of their padded line size).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import numpy as np

from ladderforge.errors import InvalidMediaError, MediaNotFoundError, OutputError
from ladderforge.store.files import atomic_path

__all__ = ["Planes", "VideoWriter", "iter_planes", "video_grid"]

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]
"""Y (H x W), U and V ((H+1)//2 x (W+1)//2), uint8."""


def _plane(plane: Any) -> np.ndarray:
    raw = np.frombuffer(memoryview(plane), dtype=np.uint8)
    return raw.reshape(plane.height, plane.line_size)[:, : plane.width]


@dataclass(frozen=True)
class VideoGrid:
    """Size, rate and length of a video as PyAV sees it."""

    width: int
    """Picture width in pixels."""
    height: int
    """Picture height in pixels."""
    frame_rate: Fraction
    """Frames per second (25 when the stream does not say)."""
    frames: int
    """Frame count the container claims (0 when unknown)."""


def video_grid(path: str | os.PathLike[str]) -> VideoGrid:
    """Width, height, rate and claimed frame count of the first video stream."""
    with _open(Path(path)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        return VideoGrid(stream.width, stream.height, Fraction(rate), int(stream.frames or 0))


@contextlib.contextmanager
def _open(path: Path) -> Iterator[Any]:
    if not path.is_file():
        raise MediaNotFoundError(f"{path}: no such file", path=path)
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise InvalidMediaError(f"{path}: cannot be opened as video ({exc})", path=path) from exc
    try:
        if not container.streams.video:
            raise InvalidMediaError(f"{path}: has no video stream", path=path)
        yield container
    finally:
        container.close()


def iter_planes(
    path: str | os.PathLike[str],
    *,
    width: int | None = None,
    height: int | None = None,
    max_frames: int | None = None,
    every: int = 1,
) -> Iterator[Planes]:
    """Decode ``path`` and yield (Y, U, V) planes on a ``width`` x ``height`` grid (default:
    the video's own), bicubic-scaled, 8-bit 4:2:0, limited range as coded.

    ``every``: yield every n-th frame only; ``max_frames``: stop after this many decoded frames.
    """
    src = Path(path)
    with _open(src) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        w = width or stream.width
        h = height or stream.height
        try:
            for index, frame in enumerate(container.decode(stream)):
                if max_frames is not None and index >= max_frames:
                    break
                if index % every:
                    continue
                out = frame.reformat(width=w, height=h, format="yuv420p", interpolation="BICUBIC")
                yield _plane(out.planes[0]), _plane(out.planes[1]), _plane(out.planes[2])
        except av.error.FFmpegError as exc:
            raise InvalidMediaError(f"{src}: decoding failed ({exc})", path=src) from exc


class VideoWriter:
    """Write (Y, U, V) planes to a video file through PyAV; lossless FFV1 by default.

    Use as a context manager; the file is written under a temporary name and renamed on a clean
    exit only.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        width: int,
        height: int,
        frame_rate: Fraction,
        codec: str = "ffv1",
        options: dict[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.width, self.height = width, height
        self._files = contextlib.ExitStack()
        self._frame_rate = frame_rate
        self._codec, self._options = codec, dict(options or {})
        self._container: Any = None
        self._stream: Any = None
        self.frames = 0

    def __enter__(self) -> VideoWriter:
        tmp = self._files.enter_context(atomic_path(self.path))
        try:
            self._container = av.open(str(tmp), "w")
            self._stream = self._container.add_stream(self._codec, rate=self._frame_rate)
        except (OSError, av.error.FFmpegError) as exc:
            if self._container is not None:
                self._container.close()
            self._files.__exit__(type(exc), exc, exc.__traceback__)  # removes the partial file
            raise OutputError(f"{self.path}: cannot be written ({exc})", path=self.path) from exc
        self._stream.width, self._stream.height = self.width, self.height
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = self._options
        return self

    def write(self, planes: Planes) -> None:
        """Append one frame."""
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        for plane, data in zip(frame.planes, planes, strict=True):
            buf = np.zeros((plane.height, plane.line_size), dtype=np.uint8)
            buf[:, : plane.width] = data
            plane.update(buf.tobytes())
        frame.pts = self.frames
        frame.time_base = 1 / self._frame_rate
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            try:
                if exc_type is None:
                    for packet in self._stream.encode():
                        self._container.mux(packet)
            finally:
                self._container.close()
        except BaseException as error:
            self._files.__exit__(type(error), error, error.__traceback__)  # removes the file
            raise
        self._files.__exit__(exc_type, exc, tb)  # renamed into place on a clean exit, else removed
