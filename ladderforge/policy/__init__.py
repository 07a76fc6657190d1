"""The decisions: RD hulls, Bjøntegaard deltas, baselines, capped saving and ladder selection.

Everything here is a pure function of recorded or predicted RD points: no subprocess, no media
I/O, no global state. The definitions follow ``METRICS.md``.
"""

from ladderforge.policy.baseline import (
    APPLE_H264_ROWS,
    APPLE_HEVC_ROWS,
    FixedRung,
    apple_h264_ladder,
    apple_hevc_ladder,
    apple_ladder,
    apple_rows,
)
from ladderforge.policy.bdrate import (
    BDQualityResult,
    BDRateError,
    BDRateResult,
    bd_quality,
    bd_quality_result,
    bd_rate,
    bd_rate_result,
)
from ladderforge.policy.hull import RateQuality, pareto_front, rate_quality, upper_convex_hull
from ladderforge.policy.ladder import ladder_from_hull
from ladderforge.policy.saving import CappedSaving, RungMatch, capped_saving, rate_for_quality

__all__ = [
    "APPLE_H264_ROWS",
    "APPLE_HEVC_ROWS",
    "BDQualityResult",
    "BDRateError",
    "BDRateResult",
    "CappedSaving",
    "FixedRung",
    "RateQuality",
    "RungMatch",
    "apple_h264_ladder",
    "apple_hevc_ladder",
    "apple_ladder",
    "apple_rows",
    "bd_quality",
    "bd_quality_result",
    "bd_rate",
    "bd_rate_result",
    "capped_saving",
    "ladder_from_hull",
    "pareto_front",
    "rate_for_quality",
    "rate_quality",
    "upper_convex_hull",
]
