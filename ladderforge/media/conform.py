"""Variable frame rate: how a VFR source is told from a CFR one, and conformed to one rate.

ladderforge's policy for VFR sources (issue 17): **conform to a constant rate**. Every stage
pairs frames by index (chunk cuts by frame number, keyframes by frame number, VMAF frame by
frame, HLS/DASH segment durations as frames / rate), so a job works on a constant-rate
timeline. A source whose frames are not evenly spaced is turned, once per title, into a
lossless FFV1 mezzanine at one constant rate (ffmpeg's ``fps`` filter: each output instant
shows the source frame displayed then; frames are repeated where the source is slower and
dropped where it is faster); analysis, cuts, encodes and VMAF all read that mezzanine, and
:func:`~ladderforge.vmaf_tools.measure` conforms a VFR reference the same way. The rate is
chosen from the source (:func:`constant_rate`: its most common frame interval, snapped to a
standard rate) unless the caller gives one (``--fps``).

Keeping the source's timestamps instead was not chosen: the FFV1 cuts restart at zero, the
concat join re-times chunks from their durations, and x265/SVT-AV1 need a rate for rate
control, so the timestamps could not survive every stage unchanged.
"""

from __future__ import annotations

import itertools
import statistics
from fractions import Fraction
from pathlib import Path

from ladderforge.media.ffmpeg import DEFAULT_TIMEOUT_S, run_ffmpeg
from ladderforge.store.files import atomic_path

__all__ = [
    "STANDARD_RATES",
    "VFR_TOLERANCE",
    "conform_cfr",
    "constant_rate",
    "is_vfr",
    "median_interval",
]

STANDARD_RATES = tuple(
    Fraction(r)
    for r in ("12", "15", "24000/1001", "24", "25", "30000/1001", "30", "48", "50",
              "60000/1001", "60", "100", "120000/1001", "120")
)  # fmt: skip
"""Rates a chosen rate snaps to when it is within 1 % of one."""
VFR_TOLERANCE = 0.25
"""A frame interval more than this share away from the median makes a source VFR: well above
timestamp rounding (a millisecond time base at 30 fps: 33 and 34 ms, 3 %), well below a
dropped frame (100 %)."""


def median_interval(times: list[float]) -> float:
    """The median interval between sorted presentation times (0.0 for fewer than 2)."""
    steps = [b - a for a, b in itertools.pairwise(times)]
    return statistics.median(steps) if steps else 0.0


def is_vfr(times: list[float]) -> bool:
    """Whether sorted presentation times are unevenly spaced (see :data:`VFR_TOLERANCE`)."""
    step = median_interval(times)
    if step <= 0:
        return len(times) > 1  # two frames at one instant
    return any(abs((b - a) - step) > VFR_TOLERANCE * step for a, b in itertools.pairwise(times))


def constant_rate(times: list[float]) -> Fraction:
    """The constant rate a VFR source is conformed to: one over its median frame interval (the
    rate most of its frames are at), snapped to a standard rate within 1 %."""
    step = median_interval(times)
    if step <= 0:
        return Fraction(25)
    rate = 1 / step
    near = min(STANDARD_RATES, key=lambda r: abs(float(r) - rate))
    if abs(float(near) - rate) <= 0.01 * rate:
        return near
    return Fraction(rate).limit_denominator(1001)


def conform_cfr(
    source: Path,
    output: Path,
    *,
    fps: Fraction,
    pix_fmt: str,
    color_range: str | None = None,
    decoder_threads: int | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Path:
    """Write the first video stream of ``source`` at the constant rate ``fps`` as lossless FFV1
    (``pix_fmt``, ``color_range`` kept) in ``output``; an ``output`` already there is reused.
    The display rotation is applied (as in every ffmpeg step), so the mezzanine is upright.
    ``decoder_threads=1`` makes a damaged source decode the same way every time: with frame
    threads, the decoder conceals errors differently from run to run."""
    if output.exists():
        return output
    with atomic_path(output) as tmp:
        run_ffmpeg(
            ["-y", "-loglevel", "error",
             *(["-threads", str(decoder_threads)] if decoder_threads else []),
             "-i", str(source), "-map", "0:v:0", "-an", "-sn", "-dn",
             "-vf", f"fps={fps.numerator}/{fps.denominator},format={pix_fmt}",
             "-fps_mode", "passthrough", *(["-color_range", color_range] if color_range else []),
             "-c:v", "ffv1", str(tmp)],
            timeout_s=timeout_s,
            error_path=source,
            error_message=f"conforming to a constant {float(fps):g} fps failed",
        )  # fmt: skip
    return output
