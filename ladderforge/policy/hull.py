"""Rate-quality hulls: the Pareto front and the upper convex hull of RD points.

The hull is taken on (bitrate_kbps, quality) with a **linear** kbps axis, across every resolution
at once (METRICS.md): it is the set of encodes worth shipping, because any point under it is beaten
by switching between two points on it. Every function here accepts either
:class:`~ladderforge.types.RDPoint` objects or plain ``(kbps, quality)`` tuples and returns
the same kind it was given, sorted by rate.

Ties: of points with the same rate the best quality is kept; of exact duplicates (same rate and
quality) the one with the lowest ``cost_cpu_s`` and then the lowest height, then the first given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

from ladderforge.errors import UsageError
from ladderforge.types import RDPoint

__all__ = [
    "RateQuality",
    "pareto_front",
    "rate_quality",
    "upper_convex_hull",
]

RateQuality = tuple[float, float]
"""A (bitrate_kbps, quality) pair."""

P = TypeVar("P", RDPoint, tuple[float, float])


def rate_quality(point: RDPoint | tuple[float, float]) -> RateQuality:
    """The (bitrate_kbps, quality) of an RD point or of a ``(kbps, quality)`` tuple."""
    if isinstance(point, RDPoint):
        return float(point.bitrate_kbps), float(point.quality)
    rate, quality = point
    return float(rate), float(quality)


def _tiebreak(point: RDPoint | tuple[float, float]) -> tuple[float, int]:
    if isinstance(point, RDPoint):
        return float(point.cost_cpu_s), point.height
    return 0.0, 0


def _checked_pairs(points: Sequence[P], where: str) -> list[RateQuality]:
    """Validate the points and return their (kbps, quality) pairs, in input order."""
    if len(points) == 0:
        raise UsageError(
            f"The 'points' parameter of {where} must be a non-empty sequence of RD points. "
            "Got an empty sequence instead."
        )
    pairs = [rate_quality(p) for p in points]
    for index, (rate, quality) in enumerate(pairs):
        if not (math.isfinite(rate) and rate > 0 and math.isfinite(quality)):
            raise UsageError(
                f"The 'points' parameter of {where} must hold finite qualities and bitrates "
                f"> 0 kbps. Got ({rate!r} kbps, quality {quality!r}) at index {index} instead."
            )
    return pairs


def _pareto_indices(points: Sequence[P], pairs: list[RateQuality]) -> list[int]:
    """Indices of the non-dominated points, by increasing rate (and strictly rising quality)."""
    order = sorted(
        range(len(pairs)),
        key=lambda i: (pairs[i][0], -pairs[i][1], *_tiebreak(points[i]), i),
    )
    front: list[int] = []
    best = -math.inf
    for i in order:
        if pairs[i][1] > best:
            front.append(i)
            best = pairs[i][1]
    return front


def _below_or_on(a: RateQuality, b: RateQuality, c: RateQuality) -> bool:
    """Whether b lies on or under the chord from a to c (a, b, c by increasing rate)."""
    cross = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    return cross >= 0.0


def pareto_front(points: Sequence[P]) -> list[P]:
    """The points that no other point beats on both rate and quality, sorted by rate.

    Along the result rate and quality both rise strictly. Raises
    :class:`~ladderforge.errors.UsageError` on an empty input, a rate <= 0 or a non-finite value.
    """
    pairs = _checked_pairs(points, "pareto_front")
    return [points[i] for i in _pareto_indices(points, pairs)]


def upper_convex_hull(points: Sequence[P]) -> list[P]:
    """The upper convex (concave) hull of (bitrate_kbps, quality), sorted by rate.

    Only the hull's vertices are kept: points on a chord between two others are dropped, and so is
    every point whose quality does not rise with rate (the hull starts at the cheapest point and
    ends at the best one). Along the result quality rises strictly and the slope
    d(quality)/d(kbps) falls strictly. One point gives itself back.

    Raises :class:`~ladderforge.errors.UsageError` on an empty input, a rate <= 0 or a
    non-finite value.
    """
    pairs = _checked_pairs(points, "upper_convex_hull")
    hull: list[int] = []
    for i in _pareto_indices(points, pairs):
        while len(hull) >= 2 and _below_or_on(pairs[hull[-2]], pairs[hull[-1]], pairs[i]):
            hull.pop()
        hull.append(i)
    return [points[i] for i in hull]
