"""Replanning rung heights on hand-made (kbps, VMAF) curves: the cheapest height for a target,
no resolution dip between neighbours, the minimum gain, and the guard back to the old height."""

from __future__ import annotations

import math

import polars as pl
import pytest

from ladderforge.errors import UsageError
from ladderforge.policy.replan import (
    guard_back,
    kbps_at,
    probe_height_choice,
    replan_heights,
    surface_curves,
)

# Three heights; log kbps linear in VMAF between points. 1080p is dearest at low VMAF and
# cheapest at high VMAF, 360p the reverse (the usual crossing of height curves).
CURVES = {
    1080: [(1000.0, 70.0), (2000.0, 85.0), (4000.0, 95.0)],
    720: [(600.0, 70.0), (1500.0, 85.0), (5000.0, 95.0)],
    360: [(300.0, 60.0), (500.0, 70.0), (2000.0, 85.0)],
}


def test_kbps_at_interpolates_log_rate_and_refuses_outside() -> None:
    assert kbps_at(CURVES[1080], 85.0) == pytest.approx(2000.0)
    # halfway in VMAF between 1000 and 2000 kbps: the geometric mean
    assert kbps_at(CURVES[1080], 77.5) == pytest.approx(math.sqrt(1000 * 2000))
    assert kbps_at(CURVES[1080], 96.0) is None
    assert kbps_at(CURVES[360], 59.0) is None
    assert kbps_at([], 80.0) is None
    assert kbps_at(list(reversed(CURVES[720])), 70.0) == pytest.approx(600.0)


def test_each_rung_moves_to_its_cheapest_height() -> None:
    # targets 65 (only 360p reaches it), 80 (720p cheapest), 92 (1080p cheapest)
    got = replan_heights(CURVES, [(720, 65.0), (720, 80.0), (720, 92.0)])
    assert got == [360, 720, 1080]


def test_rung_stays_where_it_is_cheapest() -> None:
    assert replan_heights(CURVES, [(360, 70.0), (720, 85.0), (1080, 95.0)]) == [360, 720, 1080]


def test_no_resolution_dip_a_rung_stays_between_its_neighbours() -> None:
    # the middle rung (target 92) is cheapest at 1080p, but the next higher rung sits at 720p
    # (its target 94 only reached at 720p and 1080p, and it is looked at after): the middle
    # rung may not go above 720p.
    curves = {1080: CURVES[1080], 720: CURVES[720], 360: CURVES[360]}
    got = replan_heights(curves, [(360, 70.0), (720, 92.0), (720, 94.0)])
    assert got[1] <= 720
    # the top rung then moves up to 1080p: heights never fall as the target rises
    assert got == sorted(got)
    assert got == [360, 720, 1080]


def test_a_rung_does_not_go_below_the_lower_rung() -> None:
    # crossing curves: at VMAF 80 720p is cheaper, at 84 360p is (a noisy recalibration)
    curves = {
        720: [(800.0, 75.0), (1000.0, 80.0), (1300.0, 85.0)],
        360: [(700.0, 75.0), (1100.0, 80.0), (1200.0, 85.0)],
    }
    assert replan_heights(curves, [(720, 84.0)]) == [360]  # alone, it moves down
    # above a rung that stays at 720p it may not: the picture would shrink as the rate rises
    assert replan_heights(curves, [(720, 80.0), (720, 84.0)]) == [720, 720]


def test_order_of_rungs_is_kept_and_sorting_is_by_target() -> None:
    got = replan_heights(CURVES, [(720, 92.0), (720, 65.0), (720, 80.0)])
    assert got == [1080, 360, 720]


def test_min_gain_keeps_a_rung_for_a_small_saving() -> None:
    # target 85: 720p 1500 kbps, 1080p 2000, 360p 2000 -> a rung at 1080p saves 25 % at 720p
    assert replan_heights(CURVES, [(1080, 85.0)]) == [720]
    assert replan_heights(CURVES, [(1080, 85.0)], min_gain_pct=20.0) == [720]
    assert replan_heights(CURVES, [(1080, 85.0)], min_gain_pct=30.0) == [1080]
    with pytest.raises(UsageError, match="min_gain_pct"):
        replan_heights(CURVES, [(1080, 85.0)], min_gain_pct=-1.0)


def test_rung_stays_where_no_height_reaches_its_target() -> None:
    assert replan_heights(CURVES, [(720, 99.0)]) == [720]
    assert replan_heights({}, [(720, 80.0)]) == [720]


def test_surface_curves_from_a_surface_frame() -> None:
    surface = pl.DataFrame(
        {
            "height": [720, 720, 360],
            "crf": [20.0, 30.0, 20.0],
            "bitrate_kbps": [1500.0, 600.0, 500.0],
            "vmaf": [85.0, 70.0, 70.0],
        }
    )
    assert surface_curves(surface) == {720: [(1500.0, 85.0), (600.0, 70.0)], 360: [(500.0, 70.0)]}


def test_guard_sends_back_when_old_height_is_cheaper_at_the_new_vmaf() -> None:
    old = CURVES[1080]
    # the old height measured 1100 kbps at VMAF 70 (the curve said 1000): moved to VMAF 85 along
    # its curve, 2200 kbps. A moved rung measured at 85 for 2500 kbps goes back; at 2100 it stays.
    assert guard_back(old, (1100.0, 70.0), (2500.0, 85.0))
    assert not guard_back(old, (1100.0, 70.0), (2100.0, 85.0))


def test_guard_stays_where_the_old_curve_reaches_neither_vmaf() -> None:
    assert not guard_back(CURVES[1080], (1100.0, 60.0), (1.0, 85.0))
    assert not guard_back(CURVES[1080], (1100.0, 70.0), (1e9, 99.0))


@pytest.mark.parametrize(
    ("heights", "n", "want"),
    [
        ([1080, 720, 540, 432, 360, 272], 2, [1080, 272]),
        # middle in log2 height between 1080 and 272: ~542
        ([1080, 720, 540, 432, 360, 272], 3, [1080, 540, 272]),
        ([272, 1080, 720], 3, [1080, 720, 272]),
        ([720, 360], 3, [720, 360]),
        ([360], 3, [360]),
    ],
)
def test_probe_height_choice(heights: list[int], n: int, want: list[int]) -> None:
    assert probe_height_choice(heights, n) == want


def test_probe_height_choice_refuses_other_counts() -> None:
    with pytest.raises(UsageError, match="'n' parameter"):
        probe_height_choice([720, 360], 4)
