"""Capped saving: the share of a baseline ladder's bits a test curve saves (METRICS.md).

For each baseline rung i with quality q_i and rate r_i, the test curve B is asked for the rate it
needs to give ``min(q_i, cap)`` on its upper convex hull; the saving is
``1 - sum(B's rates) / sum(r_i)`` over the rungs B can reach. Capping at VMAF 95 counts the bits a
fixed ladder spends on quality nobody sees, which BD-rate (limited to the overlapping range)
leaves out.

Decisions (binding for every report that uses this module):

- **Between hull points** the rate is interpolated linearly in log10(kbps) against quality, i.e.
  geometrically: ``r = r_j * (r_{j+1} / r_j) ** t`` with ``t = (q - q_j) / (q_{j+1} - q_j)``.
  RD curves are close to straight in (log rate, VMAF), so this tracks what an encode at the
  target would cost. It asks for slightly less than the hull's straight chord in kbps
  (geometric <= arithmetic mean): under 0.5% less for neighbours 1.2x apart, up to ~6% less
  half-way between neighbours 2x apart. Dense hulls make the choice immaterial.
- **A target below B's worst point** is matched at B's *lowest* hull rate (status
  ``"below_hull"``): B reaches the quality there, and assuming no lower rate keeps the saving
  conservative (B is not credited with bits it was never measured to save).
- **A target above B's best point** is not matched (status ``"above_hull"``): the rung is left
  out of both sums and listed, so a test curve that cannot reach the baseline's quality is never
  credited with a saving for it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

from ladderforge.errors import UsageError
from ladderforge.policy.hull import RateQuality, rate_quality, upper_convex_hull
from ladderforge.types import RDPoint

__all__ = ["CappedSaving", "RungMatch", "capped_saving", "rate_for_quality"]

PointLike = RDPoint | tuple[float, float]
MatchStatus = Literal["on_hull", "below_hull", "above_hull"]


@dataclass(frozen=True)
class RungMatch:
    """How one baseline rung was matched on the test curve."""

    index: int
    """Position of the rung in the baseline sequence as given."""
    baseline_kbps: float
    """The baseline rung's rate r_i."""
    baseline_vmaf: float
    """The baseline rung's quality q_i."""
    target_vmaf: float
    """min(q_i, cap): the quality asked of the test curve."""
    test_kbps: float | None
    """The rate the test curve needs for the target; None when it cannot reach it."""
    status: MatchStatus
    """``on_hull``: interpolated on B's hull; ``below_hull``: target under B's worst point,
    matched at B's lowest rate; ``above_hull``: target over B's best point, not matched."""

    @property
    def matched(self) -> bool:
        """Whether the rung counts in the saving."""
        return self.test_kbps is not None


@dataclass(frozen=True)
class CappedSaving:
    """The capped saving of a test curve against a baseline ladder."""

    saving: float | None
    """1 - sum(test kbps) / sum(baseline kbps) over the matched rungs (0.25 = a quarter of the
    bits saved; negative = the test needs more); None when no rung was matched."""
    cap_vmaf: float
    """The quality cap applied to the baseline rungs."""
    rungs: tuple[RungMatch, ...]
    """Every baseline rung, in the order given, with how it was matched."""
    baseline_kbps_total: float
    """Sum of the matched baseline rungs' rates."""
    test_kbps_total: float
    """Sum of the test curve's rates for the matched rungs."""

    @property
    def saving_pct(self) -> float | None:
        """The saving in percent."""
        return None if self.saving is None else self.saving * 100.0

    @property
    def matched(self) -> tuple[RungMatch, ...]:
        """The rungs counted in the saving."""
        return tuple(r for r in self.rungs if r.matched)

    @property
    def unmatched(self) -> tuple[RungMatch, ...]:
        """The rungs the test curve cannot reach (left out of both sums)."""
        return tuple(r for r in self.rungs if not r.matched)


def rate_for_quality(
    hull: Sequence[RateQuality], quality: float
) -> tuple[float | None, MatchStatus]:
    """The rate a hull (sorted by rate, quality rising) needs for ``quality``, and how it was found.

    Log-linear interpolation between hull points; see the module doc for the ends.
    """
    if quality > hull[-1][1]:
        return None, "above_hull"
    if quality <= hull[0][1]:
        return hull[0][0], ("on_hull" if quality == hull[0][1] else "below_hull")
    for (r0, q0), (r1, q1) in pairwise(hull):
        if quality <= q1:
            t = (quality - q0) / (q1 - q0)
            return 10.0 ** (math.log10(r0) + t * (math.log10(r1) - math.log10(r0))), "on_hull"
    raise AssertionError("unreachable: quality is within the hull's range")  # pragma: no cover


def _check_baseline(baseline: Sequence[PointLike]) -> list[RateQuality]:
    pairs = [rate_quality(p) for p in baseline]
    if not pairs:
        raise UsageError(
            "The 'baseline' parameter of capped_saving must hold at least one rung. "
            "Got an empty sequence instead."
        )
    for index, (rate, quality) in enumerate(pairs):
        if not (math.isfinite(rate) and rate > 0 and math.isfinite(quality)):
            raise UsageError(
                "The 'baseline' parameter of capped_saving must hold finite qualities and "
                f"bitrates > 0 kbps. Got ({rate!r} kbps, quality {quality!r}) at index {index} "
                "instead."
            )
    return pairs


def capped_saving(
    baseline: Sequence[PointLike],
    test_points: Sequence[PointLike],
    *,
    cap: float = 95.0,
) -> CappedSaving:
    """Capped saving of the curve through ``test_points`` against the ``baseline`` rungs.

    Args:
        baseline: the baseline ladder's rungs as measured, ``(kbps, vmaf)`` or RDPoints.
        test_points: the test strategy's points (any set: its upper convex hull is taken).
        cap: the quality above which baseline quality is not paid for (VMAF 95).

    Raises:
        UsageError: empty inputs, rates <= 0, non-finite values, or a cap that is not > 0.
    """
    if not (math.isfinite(cap) and cap > 0):
        raise UsageError(
            f"The 'cap' parameter of capped_saving must be a number > 0. Got {cap!r} instead."
        )
    rungs_in = _check_baseline(baseline)
    if not test_points:
        raise UsageError(
            "The 'test_points' parameter of capped_saving must hold at least one RD point. "
            "Got an empty sequence instead."
        )
    hull = upper_convex_hull([rate_quality(p) for p in test_points])
    matches = []
    for index, (rate, quality) in enumerate(rungs_in):
        target = min(quality, cap)
        test_kbps, status = rate_for_quality(hull, target)
        matches.append(RungMatch(index, rate, quality, target, test_kbps, status))
    base_total = sum(m.baseline_kbps for m in matches if m.test_kbps is not None)
    test_total = sum(m.test_kbps for m in matches if m.test_kbps is not None)
    return CappedSaving(
        saving=(1.0 - test_total / base_total) if base_total > 0 else None,
        cap_vmaf=cap,
        rungs=tuple(matches),
        baseline_kbps_total=base_total,
        test_kbps_total=test_total,
    )
