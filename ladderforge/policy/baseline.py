"""The fixed-ladder baseline: Apple's HLS authoring spec, HEVC rows (METRICS.md), and its
H.264/AVC rows for H.264 encoders (the rungs a ladder keeps for older players).

HEVC rows (16:9, kbps): 640x360 145, 768x432 300, 960x540 600 / 900 / 1600, 1280x720 2400 /
3400, 1920x1080 4500 / 5800, 2560x1440 8100, 3840x2160 11600 / 16800.
H.264 rows (16:9, kbps): 416x234 145, 640x360 365, 768x432 730 / 1100, 960x540 2000, 1280x720
3000 / 4500, 1920x1080 6000 / 7800.

Adapting the rows to a source (:func:`apple_hevc_ladder`, :func:`apple_h264_ladder`):

- Sizes are read by their *short side*: a landscape source's height, a portrait source's width.
  For landscape sources this is exactly "rungs above the source height are dropped"; a portrait
  (phone) 1080x1920 source is treated as 1080p, with the rows transposed.
- Rows whose short side is above the source's are dropped.
- A source whose short side is below the lowest row's (360 for HEVC, 234 for H.264) keeps the
  three lowest rows (HEVC 145, 300, 600 kbps; H.264 145, 365, 730), all at the source's own
  size.
- The long side keeps the source's aspect ratio at the row's short side, rounded to the nearest
  even number (so 16:9 sources get the table's widths exactly, a 4:3 1440x1080 source gets
  480x360, 576x432, 720x540 ...). Odd source dimensions are rounded down to even.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ladderforge.errors import UsageError

__all__ = [
    "APPLE_H264_ROWS",
    "APPLE_HEVC_ROWS",
    "FixedRung",
    "apple_h264_ladder",
    "apple_hevc_ladder",
    "apple_ladder",
    "apple_rows",
]


@dataclass(frozen=True)
class FixedRung:
    """One rung of a fixed ladder: a size and a target bitrate."""

    width: int
    """Picture width in pixels (even)."""
    height: int
    """Picture height in pixels (even)."""
    bitrate_kbps: float
    """Target (two-pass average) bitrate in kbit/s."""


APPLE_HEVC_ROWS: tuple[FixedRung, ...] = (
    FixedRung(640, 360, 145),
    FixedRung(768, 432, 300),
    FixedRung(960, 540, 600),
    FixedRung(960, 540, 900),
    FixedRung(960, 540, 1600),
    FixedRung(1280, 720, 2400),
    FixedRung(1280, 720, 3400),
    FixedRung(1920, 1080, 4500),
    FixedRung(1920, 1080, 5800),
    FixedRung(2560, 1440, 8100),
    FixedRung(3840, 2160, 11600),
    FixedRung(3840, 2160, 16800),
)
"""Apple's HLS authoring spec HEVC rows (16:9), lowest first."""

APPLE_H264_ROWS: tuple[FixedRung, ...] = (
    FixedRung(416, 234, 145),
    FixedRung(640, 360, 365),
    FixedRung(768, 432, 730),
    FixedRung(768, 432, 1100),
    FixedRung(960, 540, 2000),
    FixedRung(1280, 720, 3000),
    FixedRung(1280, 720, 4500),
    FixedRung(1920, 1080, 6000),
    FixedRung(1920, 1080, 7800),
)
"""Apple's HLS authoring spec H.264/AVC rows (16:9), lowest first."""

_SMALL_SOURCE_RUNGS = 3


def _round_even(value: float) -> int:
    """Nearest even integer (halves go up), at least 2."""
    return max(2, 2 * math.floor(value / 2.0 + 0.5))


def apple_hevc_ladder(source_width: int, source_height: int) -> list[FixedRung]:
    """Apple's HEVC fixed ladder fitted to a source, lowest rung first (see the module doc)."""
    return _fitted(APPLE_HEVC_ROWS, source_width, source_height, "apple_hevc_ladder")


def apple_h264_ladder(source_width: int, source_height: int) -> list[FixedRung]:
    """Apple's H.264 fixed ladder fitted to a source, lowest rung first (see the module doc)."""
    return _fitted(APPLE_H264_ROWS, source_width, source_height, "apple_h264_ladder")


def apple_rows(codec_family: str) -> tuple[str, tuple[FixedRung, ...]]:
    """The name and rows of Apple's table for an encoder's family: the H.264 rows for ``h264``,
    the HEVC rows for every other family (AV1 has no row table in the spec: HEVC's is the
    nearer)."""
    return ("H.264", APPLE_H264_ROWS) if codec_family == "h264" else ("HEVC", APPLE_HEVC_ROWS)


def apple_ladder(codec_family: str, source_width: int, source_height: int) -> list[FixedRung]:
    """Apple's fixed ladder for an encoder's family (:func:`apple_rows`) fitted to a source."""
    return _fitted(apple_rows(codec_family)[1], source_width, source_height, "apple_ladder")


def _fitted(
    rows: tuple[FixedRung, ...], source_width: int, source_height: int, function: str
) -> list[FixedRung]:
    for name, value in (("source_width", source_width), ("source_height", source_height)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 2:
            raise UsageError(
                f"The '{name}' parameter of {function} must be an integer >= 2. "
                f"Got {value!r} instead."
            )
    portrait = source_height > source_width
    short, long = (source_width, source_height) if portrait else (source_height, source_width)
    if short < rows[0].height:
        even_w, even_h = source_width - source_width % 2, source_height - source_height % 2
        return [FixedRung(even_w, even_h, row.bitrate_kbps) for row in rows[:_SMALL_SOURCE_RUNGS]]
    rungs = []
    for row in rows:
        if row.height > short:
            break
        row_long = _round_even(row.height * long / short)
        width, height = (row.height, row_long) if portrait else (row_long, row.height)
        rungs.append(FixedRung(width, height, row.bitrate_kbps))
    return rungs
