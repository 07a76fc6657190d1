"""Capped saving on hand-computed cases (METRICS.md, "Comparing two ladders", item 2)."""

from __future__ import annotations

import math

import pytest

from ladderforge.errors import UsageError
from ladderforge.policy import apple_hevc_ladder, capped_saving, rate_for_quality
from ladderforge.types import RDPoint

# The test curve B: three hull points.
B = [(1000.0, 80.0), (2000.0, 90.0), (4000.0, 96.0)]


@pytest.mark.parametrize(
    ("quality", "kbps", "status"),
    [
        (80.0, 1000.0, "on_hull"),  # a hull point
        (90.0, 2000.0, "on_hull"),
        (96.0, 4000.0, "on_hull"),
        (85.0, math.sqrt(1000.0 * 2000.0), "on_hull"),  # half-way: geometric mean
        (95.0, 2000.0 * 2 ** (5 / 6), "on_hull"),  # 5/6 of the way from 90 to 96
        (60.0, 1000.0, "below_hull"),  # under B's worst: B's lowest rate
        (96.5, None, "above_hull"),  # over B's best: not matched
    ],
)
def test_rate_for_quality_is_log_linear(quality: float, kbps: float | None, status: str) -> None:
    got, got_status = rate_for_quality(B, quality)
    assert got_status == status
    assert got == (None if kbps is None else pytest.approx(kbps, rel=1e-12))


def test_baseline_at_vmaf_99_is_capped_to_95() -> None:
    # r = 6000 kbps at VMAF 99 -> B asked for 95: 2000 * 2**(5/6) = 3563.59 kbps
    result = capped_saving([(6000.0, 99.0)], B)
    (rung,) = result.rungs
    assert rung.target_vmaf == 95.0 and rung.status == "on_hull"
    assert result.saving == pytest.approx(1 - 2000.0 * 2 ** (5 / 6) / 6000.0, abs=1e-12)  # 0.4061
    assert result.saving_pct == pytest.approx(40.61, abs=0.01)


def test_hand_computed_three_rungs() -> None:
    baseline = [(300.0, 60.0), (1500.0, 85.0), (6000.0, 99.0)]
    # B's rates: 1000 (below its worst: its lowest), sqrt(1000*2000), 2000 * 2**(5/6)
    b_rates = [1000.0, math.sqrt(2e6), 2000.0 * 2 ** (5 / 6)]  # sum 5977.81
    result = capped_saving(baseline, B)
    assert [r.status for r in result.rungs] == ["below_hull", "on_hull", "on_hull"]
    assert [r.test_kbps for r in result.rungs] == pytest.approx(b_rates)
    assert result.baseline_kbps_total == 7800.0
    assert result.saving == pytest.approx(1 - sum(b_rates) / 7800.0, abs=1e-12)  # 0.2336
    assert result.unmatched == ()


def test_rungs_above_the_test_curve_are_left_out() -> None:
    baseline = [(1500.0, 85.0), (3000.0, 93.0)]
    low_b = [(1000.0, 80.0), (2000.0, 90.0)]  # best 90 < 93: the top rung is not reached
    result = capped_saving(baseline, low_b)
    assert [r.index for r in result.matched] == [0]
    assert [r.index for r in result.unmatched] == [1]
    assert result.unmatched[0].status == "above_hull" and result.unmatched[0].test_kbps is None
    assert result.baseline_kbps_total == 1500.0
    assert result.saving == pytest.approx(1 - math.sqrt(2e6) / 1500.0)  # 0.0572


def test_a_cap_that_the_test_curve_reaches_matches_a_rung_above_its_best() -> None:
    # VMAF 99 is above B's best (96), but it is capped to 95 first, so it is matched
    result = capped_saving([(8000.0, 99.0)], B, cap=95.0)
    assert result.matched and result.unmatched == ()
    # with a cap of 97 it is not
    assert capped_saving([(8000.0, 99.0)], B, cap=97.0).saving is None


def test_worse_test_curve_gives_a_negative_saving() -> None:
    result = capped_saving([(1000.0, 80.0), (2000.0, 90.0)], [(r * 1.25, q) for r, q in B])
    assert result.saving == pytest.approx(-0.25)


def test_only_the_test_curves_hull_is_used() -> None:
    noisy = [*B, (3000.0, 91.0), (1500.0, 81.0)]  # both under B's hull
    assert capped_saving([(1500.0, 85.0)], noisy) == capped_saving([(1500.0, 85.0)], B)


def test_apple_ladder_against_a_recorded_title(talking_head_points: list[RDPoint]) -> None:
    # Baseline qualities as if measured; only the rates come from the Apple ladder here.
    rungs = apple_hevc_ladder(1920, 1080)
    qualities = [62, 71, 80, 85, 91, 95, 97, 98, 99]
    baseline = [(r.bitrate_kbps, q) for r, q in zip(rungs, qualities, strict=True)]
    result = capped_saving(baseline, talking_head_points)
    assert all(r.matched for r in result.rungs)
    assert [r.target_vmaf for r in result.rungs][-4:] == [95, 95, 95, 95]
    assert 0.0 < result.saving_pct < 100.0  # type: ignore[operator]


@pytest.mark.parametrize(
    ("baseline", "test", "kwargs", "match"),
    [
        ([], B, {}, "'baseline'"),
        ([(1000.0, 80.0)], [], {}, "'test_points'"),
        ([(0.0, 80.0)], B, {}, "at index 0"),
        ([(1000.0, math.nan)], B, {}, "at index 0"),
        ([(1000.0, 80.0)], B, {"cap": 0.0}, "'cap'"),
        ([(1000.0, 80.0)], B, {"cap": math.inf}, "'cap'"),
    ],
)
def test_capped_saving_refuses(
    baseline: list[tuple[float, float]],
    test: list[tuple[float, float]],
    kwargs: dict[str, float],
    match: str,
) -> None:
    with pytest.raises(UsageError, match=match):
        capped_saving(baseline, test, **kwargs)
