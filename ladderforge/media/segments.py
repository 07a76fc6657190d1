"""Cutting frame ranges out of a source, decoded once, into lossless FFV1 files.

Probe segments, chunk sources, dataset samples and enhancement references are all cuts of a
source; since every source is already lossy, a cut is the decoded source itself (FFV1 is
lossless). :func:`cut_ffv1` is the one cutter:

- any number of frame ranges in one decoding pass (``split``, then ``trim`` by frame number:
  frame-exact, unlike the segment muxer, which cuts on time), at most
  :data:`MAX_OUTPUTS_PER_PASS` outputs per pass;
- the source's bit depth kept (8-bit -> ``yuv420p``, 10-bit -> ``yuv420p10le``; always 4:2:0,
  what every encoder here takes) and its colour range kept (full range stays full), unless
  the caller asks for another;
- an optional crop, then an optional scale down to at most ``max_height`` lines (even size,
  aspect kept, :func:`~ladderforge.types.even_size`); a picture that needs no scaling is kept
  as it is, odd sides included, so that no pixel is resampled;
- every output written under a temporary name, its frame count checked, then renamed; on any
  failure (ffmpeg error, timeout, short output, Ctrl-C) no partial file is left behind.

:func:`extract_segment` is the one-range form.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ladderforge.errors import FFmpegError, LadderforgeError, UsageError
from ladderforge.media.ffmpeg import DEFAULT_TIMEOUT_S, run_ffmpeg
from ladderforge.media.probe import probe
from ladderforge.store.files import atomic_paths
from ladderforge.types import SourceInfo, even_size

__all__ = ["MAX_OUTPUTS_PER_PASS", "Crop", "Cut", "cut_ffv1", "display_size", "extract_segment"]

MAX_OUTPUTS_PER_PASS = 48
"""Outputs written per decoding pass by :func:`cut_ffv1` (bounds ffmpeg's open outputs)."""
_PIX_FMTS = {8: "yuv420p", 10: "yuv420p10le"}
_RANGES = ("tv", "pc")


@dataclass(frozen=True)
class Crop:
    """A rectangle of the (displayed) source picture that a cut keeps, before any scaling."""

    width: int
    """Width in pixels."""
    height: int
    """Height in pixels."""
    x: int = 0
    """Left edge in pixels."""
    y: int = 0
    """Top edge in pixels."""


@dataclass(frozen=True)
class Cut:
    """Frames ``[start, end)`` of a source, to be written to ``output``."""

    start: int
    """First frame (0-based)."""
    end: int
    """Frame after the last one."""
    output: Path
    """The FFV1 file to write (``.mkv``); one already there is kept, not cut again."""

    @property
    def frames(self) -> int:
        return self.end - self.start


def cut_ffv1(
    source: str | os.PathLike[str] | SourceInfo,
    cuts: Sequence[Cut],
    *,
    max_height: int | None = None,
    scaler: str = "lanczos",
    crop: Crop | None = None,
    bit_depth: int | None = None,
    color_range: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> list[Path]:
    """Write each of ``cuts`` as lossless FFV1, decoding ``source`` once per
    :data:`MAX_OUTPUTS_PER_PASS` outputs; returns the outputs in the order of ``cuts``.

    Outputs already there are kept (resume). ``bit_depth`` (8 or 10) and ``color_range``
    (``"tv"`` or ``"pc"``) default to the source's; ``crop`` is applied before the scale to at
    most ``max_height`` lines with ``scaler``; ``timeout_s`` bounds each decoding pass.

    Raises:
        UsageError: a range outside the source's frames, two cuts to one output, a bad crop,
            bit depth or range.
        FFmpegError: ffmpeg failed or timed out, or an output came out short (a truncated
            source); no partial file is left.
        OutputError: an output folder cannot be written.
    """
    info = source if isinstance(source, SourceInfo) else probe(source, hash_content=False)
    _check_cuts(info, cuts)
    depth = info.bit_depth if bit_depth is None else bit_depth
    if depth not in _PIX_FMTS or color_range not in (None, *_RANGES):
        raise UsageError(
            "The 'bit_depth' parameter of cut_ffv1 must be 8, 10 or None (the source's: "
            f"{info.bit_depth}) and 'color_range' 'tv', 'pc' or None. Got bit_depth="
            f"{bit_depth!r}, color_range={color_range!r} instead."
        )
    chain = _picture_chain(info, crop=crop, max_height=max_height, scaler=scaler)
    chain.append(f"format={_PIX_FMTS[depth]}")
    out_range = color_range or (info.color_range if info.color_range in _RANGES else None)
    todo = [c for c in cuts if not Path(c.output).exists()]
    for first in range(0, len(todo), MAX_OUTPUTS_PER_PASS):
        batch = todo[first : first + MAX_OUTPUTS_PER_PASS]
        _cut_pass(info, batch, ",".join(chain), out_range=out_range, timeout_s=timeout_s)
    return [Path(c.output) for c in cuts]


def extract_segment(
    source: str | os.PathLike[str] | SourceInfo,
    start: int,
    end: int,
    output: str | os.PathLike[str],
    *,
    max_height: int | None = None,
    scaler: str = "lanczos",
    timeout_s: float = 600.0,
) -> Path:
    """Frames ``[start, end)`` of ``source`` as lossless FFV1 in ``output`` (.mkv) at the
    source's bit depth and colour range, scaled down to at most ``max_height`` lines (even
    size, aspect kept) when taller. Reuses ``output`` when it already exists."""
    cut = Cut(start, end, Path(output))
    return cut_ffv1(source, [cut], max_height=max_height, scaler=scaler, timeout_s=timeout_s)[0]


def display_size(info: SourceInfo) -> tuple[int, int]:
    """(width, height) of the picture a cut works on: the upright picture that
    :class:`SourceInfo` describes (ffmpeg rotates on decoding, so crops and scales see it)."""
    return info.width, info.height


def _check_cuts(info: SourceInfo, cuts: Sequence[Cut]) -> None:
    for c in cuts:
        if not 0 <= c.start < c.end <= info.frame_count:
            raise UsageError(
                f"{info.path}: frames [{c.start}, {c.end}) are not inside its "
                f"{info.frame_count} frames"
            )
    outputs = [Path(c.output).resolve() for c in cuts]
    if len(set(outputs)) != len(outputs):
        raise UsageError(f"{info.path}: two cuts are to be written to the same file")


def _picture_chain(
    info: SourceInfo, *, crop: Crop | None, max_height: int | None, scaler: str
) -> list[str]:
    """The crop and scale filters (after ffmpeg's autorotation, so on the displayed picture)."""
    width, height = display_size(info)
    chain: list[str] = []
    if crop is not None:
        inside = crop.x + crop.width <= width and crop.y + crop.height <= height
        if min(crop.width, crop.height) < 2 or min(crop.x, crop.y) < 0 or not inside:
            raise UsageError(
                f"{info.path}: the crop {crop.width}x{crop.height}+{crop.x}+{crop.y} is not "
                f"inside its {width}x{height} picture"
            )
        chain.append(f"crop={crop.width}:{crop.height}:{crop.x}:{crop.y}")
        width, height = crop.width, crop.height
    if max_height is not None and max_height < height:
        w, h = even_size(width, height, max_height)
        chain.append(f"scale={w}:{h}:flags={scaler}")
    return chain


def _cut_pass(
    info: SourceInfo, batch: Sequence[Cut], chain: str, *, out_range: str | None, timeout_s: float
) -> None:
    """One decoding pass writing every cut of ``batch``; all renamed into place, or none."""
    split = len(batch) > 1
    pads = [f"[s{i}]" for i in range(len(batch))] if split else ["[0:v:0]"]
    graph = [f"[0:v:0]split={len(batch)}{''.join(pads)}"] if split else []
    with atomic_paths([c.output for c in batch]) as partials:
        outputs: list[str] = []
        for i, (cut, tmp, pad) in enumerate(zip(batch, partials, pads, strict=True)):
            graph.append(
                f"{pad}trim=start_frame={cut.start}:end_frame={cut.end},"
                f"setpts=PTS-STARTPTS,{chain}[o{i}]"
            )
            outputs += ["-map", f"[o{i}]", "-fps_mode", "passthrough", "-c:v", "ffv1"]
            # the range is an output option: it steers format negotiation, so a full-range
            # source is not squeezed into limited range on the way to the encoder
            outputs += ["-color_range", out_range] if out_range else []
            outputs.append(str(tmp))
        what = f"{len(batch)} cuts" if split else f"frames {batch[0].start}-{batch[0].end}"
        run_ffmpeg(
            ["-y", "-loglevel", "error", "-i", str(info.path), "-filter_complex", ";".join(graph),
             *outputs],
            timeout_s=timeout_s,
            error_path=info.path,
            error_message=f"cutting {what} to FFV1 failed",
        )  # fmt: skip
        for cut, tmp in zip(batch, partials, strict=True):
            _check_frames(info, cut, tmp)


def _check_frames(info: SourceInfo, cut: Cut, tmp: Path) -> None:
    """A cut with fewer frames than asked is an error, never a silently short file."""
    try:
        frames = probe(tmp, hash_content=False).frame_count
    except LadderforgeError as exc:
        raise FFmpegError(
            f"{info.path}: the cut of frames [{cut.start}, {cut.end}) is unreadable ({exc})",
            path=info.path,
        ) from exc
    if frames != cut.frames:
        raise FFmpegError(
            f"{info.path}: the cut of frames [{cut.start}, {cut.end}) has {frames} frames, not "
            f"{cut.frames}: the source decodes fewer frames than it has packets (truncated or "
            "corrupt?); re-mux or re-encode it first",
            path=info.path,
        )
