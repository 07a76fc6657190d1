"""Scores of parts of a measured video: one pooled figure per frame range (a chunk, a scene).

A measurement scores every frame, or every n-th (``QualityResult.frame_indices``); a range is
pooled over the frames of it that were scored, so chunk figures stay exact per scored frame.
"""

from __future__ import annotations

from collections.abc import Sequence

from ladderforge.errors import UsageError
from ladderforge.types import PooledScores, QualityResult
from ladderforge.vmaf_tools.measure import pool

__all__ = ["range_scores"]


def range_scores(
    quality: QualityResult, ranges: Sequence[tuple[int, int]], *, metric: str = "vmaf"
) -> list[PooledScores]:
    """``metric`` pooled over each frame range ``[start, end)`` of the reference.

    Raises UsageError when a range has no scored frame (name the range, the metric).
    """
    values = quality.per_frame.get(metric)
    if values is None:
        raise UsageError(f"{metric!r} was not measured; measured: {sorted(quality.per_frame)}")
    indices = quality.frame_indices or list(range(len(values)))
    out = []
    for start, end in ranges:
        picked = [v for i, v in zip(indices, values, strict=False) if start <= i < end]
        if not picked:
            raise UsageError(
                f"no {metric} score for frames {start}-{end - 1} (scored every "
                f"{quality.n_subsample} frame(s) of {quality.frames_ref})"
            )
        out.append(pool(picked))
    return out
