"""Where a rung is added between two measured rungs, and at which height (pure policy)."""

from __future__ import annotations

import pytest

from ladderforge.policy.ladder import RungSpacing
from ladderforge.policy.refill import anchored_curve, cheapest_height, dominated, widest_gap

SPACING = RungSpacing(min_step_vmaf=3.0, min_rate_ratio=1.5, max_rate_ratio=2.0)


def test_the_widest_gap_with_room_gets_the_mean_vmaf() -> None:
    # measured 2026-12-03: screen_360p_slideshow's two rungs, 4.3x apart
    gap = widest_gap([(15.9, 57.8), (68.8, 95.5)], SPACING)
    assert gap is not None and gap.low == 0
    assert gap.ratio == pytest.approx(68.8 / 15.9)
    assert gap.target_vmaf == pytest.approx((57.8 + 95.5) / 2)
    rungs = [(100.0, 40.0), (190.0, 60.0), (700.0, 80.0), (2000.0, 95.0)]
    assert widest_gap(rungs, SPACING).low == 1  # type: ignore[union-attr]  # 3.7x before 2.9x
    assert widest_gap(rungs, SPACING, skip=frozenset({1})).low == 2  # type: ignore[union-attr]


def test_no_gap_without_room_for_a_rung() -> None:
    assert widest_gap([(100.0, 60.0), (200.0, 80.0)], SPACING) is None  # 2x: within the rule
    assert widest_gap([(100.0, 60.0), (220.0, 80.0)], SPACING) is None  # < 1.5**2
    assert widest_gap([(100.0, 80.0), (400.0, 85.0)], SPACING) is None  # < 2 x 3 VMAF
    assert widest_gap([(100.0, 60.0)], SPACING) is None


def test_the_cheapest_height_that_reaches_the_target() -> None:
    curves = {
        270: [(30.0, 70.0, 100.0), (26.0, 80.0, 180.0)],
        360: [(34.0, 72.0, 110.0), (30.0, 82.0, 170.0)],
        480: [(38.0, 50.0, 60.0), (34.0, 60.0, 100.0)],  # never reaches 76
    }
    height, crf, kbps = cheapest_height(curves, 76.0)  # type: ignore[misc]
    assert height == 360 and crf == pytest.approx(32.4)
    assert kbps == pytest.approx(110.0 * (170.0 / 110.0) ** 0.4)
    assert cheapest_height(curves, 99.0) is None


def test_a_rung_another_beats_is_dominated() -> None:
    # measured 2026-12-04 (x265 medium, talkinghead_512p_man_greenscreen): a 270p rung at
    # 183 kbps / 87.96 above a 512p one at 174 kbps / 91.15
    rungs = [(17.3, 50.7), (59.9, 82.9), (174.4, 91.15), (182.7, 87.96), (696.2, 95.13)]
    assert dominated(rungs) == [3]
    assert dominated([(100.0, 80.0), (100.0, 80.0)]) == []  # equal: neither beats the other
    assert dominated([(100.0, 80.0), (100.0, 81.0)]) == [0]
    assert dominated([(100.0, 80.0), (200.0, 90.0)]) == []


def test_a_curve_moved_onto_a_measured_rung() -> None:
    curve = [(20.0, 90.0, 400.0), (30.0, 80.0, 150.0)]
    moved = anchored_curve(curve, (25.0, 82.0, 2 * (400.0 * 150.0) ** 0.5))
    # at CRF 25 the curve said 85 and sqrt(400 x 150) = 245 kbps: 3 VMAF lower, twice the kbps
    assert [c for p in moved for c in p] == pytest.approx([20.0, 87.0, 800.0, 30.0, 77.0, 300.0])
