"""Bjøntegaard deltas between two RD curves, exactly as METRICS.md defines them.

**BD-rate** (:func:`bd_rate`): the upper convex hull of each set of (kbps, VMAF) points; for each
hull, log10(kbps) as a PCHIP (piecewise cubic Hermite, shape-preserving: Fritsch-Butland
derivatives as in scipy's :class:`~scipy.interpolate.PchipInterpolator`) function of VMAF; the
mean difference test - baseline over the overlapping VMAF range, integrated exactly; reported as
percent, ``(10 ** mean - 1) * 100``. Negative means the test curve needs fewer bits for the same
quality. It is refused (:class:`BDRateError`) when either hull has fewer than two points or the
overlap is narrower than ``min_overlap_vmaf`` (1 VMAF by default).

**BD-quality** (:func:`bd_quality`, BD-VMAF): the same hulls; quality as a PCHIP function of
log10(kbps); the mean difference test - baseline over the overlapping log-rate range, in quality
points. Positive means the test curve gives better quality at the same rate.

Nothing is extrapolated: each curve is only evaluated inside its own hull's range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.interpolate import PchipInterpolator

from ladderforge.errors import UsageError
from ladderforge.policy.hull import RateQuality, rate_quality, upper_convex_hull
from ladderforge.types import RDPoint

__all__ = [
    "BDQualityResult",
    "BDRateError",
    "BDRateResult",
    "bd_quality",
    "bd_quality_result",
    "bd_rate",
    "bd_rate_result",
]

PointLike = RDPoint | tuple[float, float]


class BDRateError(UsageError):
    """A Bjøntegaard delta cannot be computed: a hull with < 2 points, or too little overlap."""


@dataclass(frozen=True)
class BDRateResult:
    """A BD-rate and what it was computed over."""

    bd_rate_pct: float
    """Mean rate difference, percent; negative = the test curve needs fewer bits."""
    overlap_vmaf_low: float
    """Lower end of the quality range integrated over."""
    overlap_vmaf_high: float
    """Upper end of the quality range integrated over."""
    baseline_hull: tuple[RateQuality, ...]
    """The baseline's hull points (kbps, quality) the curve went through, by rate."""
    test_hull: tuple[RateQuality, ...]
    """The test's hull points (kbps, quality) the curve went through, by rate."""


@dataclass(frozen=True)
class BDQualityResult:
    """A BD-quality (BD-VMAF) and what it was computed over."""

    bd_quality: float
    """Mean quality difference in quality points; positive = the test curve is better."""
    overlap_kbps_low: float
    """Lower end of the rate range integrated over (integration is on log10 of it)."""
    overlap_kbps_high: float
    """Upper end of the rate range integrated over."""
    baseline_hull: tuple[RateQuality, ...]
    """The baseline's hull points (kbps, quality), by rate."""
    test_hull: tuple[RateQuality, ...]
    """The test's hull points (kbps, quality), by rate."""


def _hull_pairs(points: Sequence[PointLike], name: str, where: str) -> tuple[RateQuality, ...]:
    pairs = [rate_quality(p) for p in points]
    if not pairs:
        raise BDRateError(
            f"The '{name}' parameter of {where} must hold RD points. Got an empty sequence instead."
        )
    hull = tuple(upper_convex_hull(pairs))
    if len(hull) < 2:
        raise BDRateError(
            f"The '{name}' parameter of {where} must have at least 2 points on its upper convex "
            f"hull. Got {len(hull)} (from {len(pairs)} points) instead; measure more "
            "rates or qualities."
        )
    return hull


def _mean_over(x: Sequence[float], y: Sequence[float], low: float, high: float) -> float:
    """Mean of the PCHIP through (x, y) over [low, high]."""
    curve = PchipInterpolator(list(x), list(y), extrapolate=False)
    return float(curve.integrate(low, high)) / (high - low)


def bd_rate_result(
    baseline: Sequence[PointLike],
    test: Sequence[PointLike],
    *,
    min_overlap_vmaf: float = 1.0,
) -> BDRateResult:
    """BD-rate of ``test`` against ``baseline`` with its overlap range (see the module doc).

    Args:
        baseline: the reference curve's points, ``(kbps, vmaf)`` tuples or RDPoints.
        test: the compared curve's points.
        min_overlap_vmaf: narrowest overlapping quality range accepted.

    Raises:
        BDRateError: a hull with < 2 points, or an overlap narrower than ``min_overlap_vmaf``.
    """
    if not (math.isfinite(min_overlap_vmaf) and min_overlap_vmaf > 0):
        raise UsageError(
            "The 'min_overlap_vmaf' parameter of bd_rate must be a number > 0. "
            f"Got {min_overlap_vmaf!r} instead."
        )
    base = _hull_pairs(baseline, "baseline", "bd_rate")
    other = _hull_pairs(test, "test", "bd_rate")
    low = max(base[0][1], other[0][1])
    high = min(base[-1][1], other[-1][1])
    if high - low < min_overlap_vmaf:
        raise BDRateError(
            f"The curves of bd_rate overlap over {max(high - low, 0.0):.3g} VMAF "
            f"(baseline {base[0][1]:.2f}-{base[-1][1]:.2f}, test {other[0][1]:.2f}-"
            f"{other[-1][1]:.2f}); at least {min_overlap_vmaf:g} is needed. Measure both "
            "curves over a common quality range."
        )
    mean_base = _mean_over([q for _, q in base], [math.log10(r) for r, _ in base], low, high)
    mean_test = _mean_over([q for _, q in other], [math.log10(r) for r, _ in other], low, high)
    return BDRateResult(
        bd_rate_pct=(10.0 ** (mean_test - mean_base) - 1.0) * 100.0,
        overlap_vmaf_low=low,
        overlap_vmaf_high=high,
        baseline_hull=base,
        test_hull=other,
    )


def bd_rate(
    baseline: Sequence[PointLike],
    test: Sequence[PointLike],
    *,
    min_overlap_vmaf: float = 1.0,
) -> float:
    """BD-rate in percent (negative = ``test`` needs fewer bits); see :func:`bd_rate_result`."""
    return bd_rate_result(baseline, test, min_overlap_vmaf=min_overlap_vmaf).bd_rate_pct


def bd_quality_result(
    baseline: Sequence[PointLike],
    test: Sequence[PointLike],
) -> BDQualityResult:
    """BD-quality (BD-VMAF) of ``test`` against ``baseline`` with its overlap range.

    Raises:
        BDRateError: a hull with < 2 points, or rate ranges that do not overlap.
    """
    base = _hull_pairs(baseline, "baseline", "bd_quality")
    other = _hull_pairs(test, "test", "bd_quality")
    low = math.log10(max(base[0][0], other[0][0]))
    high = math.log10(min(base[-1][0], other[-1][0]))
    if not high > low:
        raise BDRateError(
            f"The curves of bd_quality do not overlap in rate (baseline {base[0][0]:.0f}-"
            f"{base[-1][0]:.0f} kbps, test {other[0][0]:.0f}-{other[-1][0]:.0f} kbps). "
            "Measure both curves over a common bitrate range."
        )
    mean_base = _mean_over([math.log10(r) for r, _ in base], [q for _, q in base], low, high)
    mean_test = _mean_over([math.log10(r) for r, _ in other], [q for _, q in other], low, high)
    return BDQualityResult(
        bd_quality=mean_test - mean_base,
        overlap_kbps_low=10.0**low,
        overlap_kbps_high=10.0**high,
        baseline_hull=base,
        test_hull=other,
    )


def bd_quality(baseline: Sequence[PointLike], test: Sequence[PointLike]) -> float:
    """BD-VMAF in quality points (positive = ``test`` is better); see :func:`bd_quality_result`."""
    return bd_quality_result(baseline, test).bd_quality
