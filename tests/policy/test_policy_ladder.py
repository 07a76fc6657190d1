"""Ladder selection on recorded RD tables and on hand-made hulls."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from ladderforge.errors import UsageError
from ladderforge.policy import ladder_from_hull, upper_convex_hull
from ladderforge.types import EncodeSettings, Ladder, RDPoint, Rung, RungCosts

MakePoint = Callable[..., RDPoint]


def _check_spacing(rungs: list[Rung], *, min_step: float = 3.0, min_ratio: float = 1.5) -> None:
    for low, high in itertools.pairwise(rungs):
        assert high.vmaf - low.vmaf >= min_step - 1e-9
        assert high.bitrate_kbps / low.bitrate_kbps >= min_ratio - 1e-9


@pytest.mark.parametrize("fixture", ["talking_head_points", "sports_grain_points"])
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"source_height": 720},
        {"source_height": 540},
        {"max_rungs": 3},
        {"max_rungs": 5, "min_step_vmaf": 8.0},
        {"min_rate_ratio": 1.3, "max_rate_ratio": 1.6},
        {"top_vmaf": 85.0, "floor_vmaf": 50.0},
    ],
)
def test_ladder_keeps_the_rules_on_recorded_tables(
    fixture: str, kwargs: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    points: list[RDPoint] = request.getfixturevalue(fixture)
    config: dict[str, Any] = {"source_height": 1080, **kwargs}
    rungs, _ = ladder_from_hull(points, **config)
    assert 1 <= len(rungs) <= config.get("max_rungs", 8)
    assert [r.bitrate_kbps for r in rungs] == sorted(r.bitrate_kbps for r in rungs)
    assert all(r.settings.height <= config["source_height"] for r in rungs)
    _check_spacing(
        rungs,
        min_step=config.get("min_step_vmaf", 3.0),
        min_ratio=config.get("min_rate_ratio", 1.5),
    )
    # every rung is a point of the hull of the allowed points
    allowed = [p for p in points if p.height <= config["source_height"]]
    hull = upper_convex_hull(allowed)
    assert all(
        (r.bitrate_kbps, r.vmaf) in {(p.bitrate_kbps, p.quality) for p in hull} for r in rungs
    )
    # ends: bottom = cheapest hull point at the floor, top = cheapest at the target (or the best)
    top_vmaf, floor_vmaf = config.get("top_vmaf", 95.0), config.get("floor_vmaf", 40.0)
    top = next((p for p in hull if p.quality >= top_vmaf), hull[-1])
    bottom = next(p for p in hull if p.quality >= floor_vmaf)
    assert (rungs[-1].bitrate_kbps, rungs[-1].vmaf) == (top.bitrate_kbps, top.quality)
    assert (rungs[0].bitrate_kbps, rungs[0].vmaf) == (bottom.bitrate_kbps, bottom.quality)


def test_recorded_easy_title(talking_head_points: list[RDPoint]) -> None:
    rungs, warnings = ladder_from_hull(talking_head_points, source_height=1080)
    assert [(r.settings.height, r.settings.q) for r in rungs] == [
        (360, 38), (360, 34), (360, 30), (540, 30), (720, 26), (720, 22), (1080, 22), (1080, 18),
    ]  # fmt: skip
    assert rungs[-1].vmaf >= 95.0
    # max_rungs (8) leaves one gap wider than 2x: 540p CRF 30 to 720p CRF 26 (2.69x)
    assert len(warnings) == 1 and "2.69x apart, more than max_rate_ratio=2" in warnings[0]


def _widest_gap(rungs: list[Rung]) -> float:
    return max(b.bitrate_kbps / a.bitrate_kbps for a, b in itertools.pairwise(rungs))


def test_half_a_jnd_closes_the_bitrate_gaps_at_the_top(talking_head_points: list[RDPoint]) -> None:
    # near the top VMAF saturates: one JND (6 VMAF) between the last two rungs cost 3.41x
    # (recorded 1080p title) and 5.61x (talking head 512p) in bitrate
    for points, height, jnd_gap, gap in (
        (talking_head_points, 1080, 3.41, 2.69),
        (_dipping_talking_head(), 512, 5.61, 3.85),
    ):
        jnd, _ = ladder_from_hull(points, source_height=height, min_step_vmaf=6.0)
        rungs, _ = ladder_from_hull(points, source_height=height)
        assert _widest_gap(jnd) == pytest.approx(jnd_gap, abs=0.01)
        assert _widest_gap(rungs) == pytest.approx(gap, abs=0.01)
        assert rungs[-1].vmaf == jnd[-1].vmaf and rungs[0].vmaf == jnd[0].vmaf
        _check_spacing(rungs)


def test_target_not_met_warns_and_tops_at_the_best_point(
    sports_grain_points: list[RDPoint],
) -> None:
    rungs, warnings = ladder_from_hull(sports_grain_points, source_height=1080)
    assert rungs[-1].settings.height == 1080 and rungs[-1].vmaf == pytest.approx(85.87)
    assert any("No point reaches the top target VMAF 95" in w for w in warnings)
    ratios = [b.bitrate_kbps / a.bitrate_kbps for a, b in itertools.pairwise(rungs)]
    assert all(1.5 <= r <= 2.0 for r in ratios)


def test_never_above_the_source(talking_head_points: list[RDPoint]) -> None:
    rungs, warnings = ladder_from_hull(talking_head_points, source_height=720)
    assert max(r.settings.height for r in rungs) == 720
    assert rungs[-1].vmaf == pytest.approx(91.79)  # 720p CRF 18, the best at or under 720p
    assert "No point reaches the top target" in warnings[0]


def test_no_point_at_or_under_the_source_is_refused(talking_head_points: list[RDPoint]) -> None:
    with pytest.raises(UsageError, match="no taller than the source"):
        ladder_from_hull(talking_head_points, source_height=288)


def _log_curve(make_point: MakePoint, n: int = 21) -> list[RDPoint]:
    """Concave hull: rates 100 * 1.25**k kbps, VMAF 30 + 10 log2(rate / 100)."""
    return [
        make_point(720, 100.0 * 1.25**k, 30.0 + 10.0 * math.log2(1.25**k), crf=40 - k)
        for k in range(n)
    ]


def _positions(rungs: list[Rung]) -> list[int]:
    return [round(math.log(r.bitrate_kbps / 100.0, 1.25)) for r in rungs]


def test_fewest_rungs_that_keep_every_gap_within_max_ratio(make_point: MakePoint) -> None:
    # top: cheapest >= 80 is k=16 (VMAF 82.2); gaps of 2 or 3 steps (1.56x / 1.95x) are allowed,
    # so 16 steps need 6 gaps: 7 rungs
    rungs, warnings = ladder_from_hull(
        _log_curve(make_point), source_height=1080, top_vmaf=80.0, floor_vmaf=30.0
    )
    assert warnings == []
    steps = [b - a for a, b in itertools.pairwise(_positions(rungs))]
    assert _positions(rungs)[0] == 0 and _positions(rungs)[-1] == 16
    assert sorted(steps) == [2, 2, 3, 3, 3, 3]


def test_max_rungs_spreads_the_excess_evenly(make_point: MakePoint) -> None:
    rungs, warnings = ladder_from_hull(
        _log_curve(make_point), source_height=1080, top_vmaf=80.0, floor_vmaf=30.0, max_rungs=4
    )
    assert len(rungs) == 4
    steps = [b - a for a, b in itertools.pairwise(_positions(rungs))]
    assert sorted(steps) == [5, 5, 6]
    assert len(warnings) == 3 and all("max_rate_ratio=2" in w for w in warnings)


def test_one_rung_ladders(make_point: MakePoint) -> None:
    points = _log_curve(make_point)
    rungs, warnings = ladder_from_hull(points, source_height=1080, top_vmaf=80.0, max_rungs=1)
    assert [_positions(rungs)] == [[16]] and warnings == []
    # floor above every point
    low = [make_point(360, 300.0, 30.0), make_point(360, 600.0, 35.0)]
    rungs, warnings = ladder_from_hull(low, source_height=1080)
    assert [r.vmaf for r in rungs] == [35.0]
    assert any("No point reaches the floor VMAF 40" in w for w in warnings)
    # floor and top closer than one step
    close = [make_point(720, 1000.0, 94.0), make_point(1080, 2000.0, 96.0)]
    rungs, warnings = ladder_from_hull(close, source_height=1080, floor_vmaf=90.0)
    assert [r.vmaf for r in rungs] == [96.0]
    assert any("closer than one step" in w for w in warnings)


def test_min_rungs_is_met_when_the_rules_allow(make_point: MakePoint) -> None:
    points = _log_curve(make_point)
    kwargs: dict[str, Any] = {"source_height": 1080, "top_vmaf": 80.0, "floor_vmaf": 30.0}
    rungs, warnings = ladder_from_hull(points, min_rungs=8, **kwargs)
    assert len(rungs) == 8 and warnings == []
    _check_spacing(rungs)
    # 16 steps of 3.2 VMAF: at most 9 rungs 6 VMAF apart
    rungs, warnings = ladder_from_hull(points, min_rungs=10, max_rungs=10, **kwargs)
    assert len(rungs) == 9
    assert any("Only 9 rung(s) fit" in w and "min_rungs=10" in w for w in warnings)


def test_rung_carries_the_point(make_point: MakePoint) -> None:
    points = [make_point(540, 500.0, 70.0, cpu_s=12.5), make_point(1080, 3000.0, 95.5, crf=20)]
    rungs, _ = ladder_from_hull(points, source_height=1080)
    assert [r.settings for r in rungs] == [p.settings for p in points]
    assert rungs[0].cost == RungCosts(encode_cpu_s=12.5) and rungs[1].cost == RungCosts()
    assert rungs[0].measured_vmaf is None


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"source_height": 0}, "source_height"),
        ({"source_height": 1080.0}, "source_height"),
        ({"top_vmaf": math.nan}, "top_vmaf"),
        ({"floor_vmaf": 96.0}, "floor_vmaf"),
        ({"min_step_vmaf": -1.0}, "min_step_vmaf"),
        ({"min_rate_ratio": 0.9}, "min_rate_ratio"),
        ({"max_rate_ratio": 1.0}, "max_rate_ratio"),
        ({"min_rate_ratio": 2.5}, "max_rate_ratio"),
        ({"max_rungs": 0}, "max_rungs"),
        ({"min_rungs": 0}, "min_rungs"),
        ({"min_rungs": 9}, "min_rungs"),
    ],
)
def test_bad_parameters_are_refused(
    kwargs: dict[str, Any], name: str, make_point: MakePoint
) -> None:
    config: dict[str, Any] = {"source_height": 1080, **kwargs}
    with pytest.raises(UsageError, match=f"The '{name}' parameter of ladder_from_hull must be"):
        ladder_from_hull([make_point(720, 1000.0, 90.0)], **config)


def test_empty_input_is_refused() -> None:
    with pytest.raises(UsageError, match="empty"):
        ladder_from_hull([], source_height=1080)


def test_chosen_ladder_round_trips_through_ladder_json(
    sports_grain_points: list[RDPoint],
) -> None:
    rungs, warnings = ladder_from_hull(sports_grain_points, source_height=1080)
    ladder = Ladder(title="sports_grain", source=None, rungs=tuple(rungs), notes=tuple(warnings))
    text = json.dumps(ladder.to_dict())
    assert Ladder.from_dict(json.loads(text)) == ladder


def test_resolution_never_falls_as_the_bitrate_rises_unless_allowed() -> None:
    def point(height: int, kbps: float, vmaf: float) -> RDPoint:
        width = height * 16 // 9 // 2 * 2
        return RDPoint(EncodeSettings(codec="x265", width=width, height=height, q=30), kbps, vmaf)

    # blackswan-like: the hull goes 480p -> 360p -> 480p as the bitrate rises
    hull = [point(480, 100, 50), point(360, 200, 62), point(480, 400, 75), point(480, 800, 86)]
    kept, _ = ladder_from_hull(hull, source_height=480, top_vmaf=85, floor_vmaf=45, max_rungs=4)
    heights = [r.settings.height for r in kept]
    assert heights == sorted(heights) and 360 not in heights[1:]
    assert kept[0].bitrate_kbps == 100  # without the dip the bottom would be 2x dearer: kept
    dips, _ = ladder_from_hull(
        hull, source_height=480, top_vmaf=85, floor_vmaf=45, max_rungs=4,
        allow_resolution_dips=True,
    )  # fmt: skip
    assert [r.settings.height for r in dips] == [480, 360, 480, 480]


def _dipping_talking_head() -> list[RDPoint]:
    """Talking head 512p, probe mode with 3 probe heights (the calibrated surface at 8 CRFs):
    432p wins below ~33 kbps, 360p from there to ~120 kbps, then 512p."""
    table = {
        270: [(198.5, 88.2), (87.2, 84.2), (54.5, 78.8), (40.3, 71.5), (32.2, 60.8),
              (26.2, 45.6), (23.7, 33.9), (21.8, 22.0)],
        360: [(296.0, 92.0), (120.2, 88.6), (72.9, 84.5), (50.8, 78.6), (38.4, 69.3),
              (30.4, 60.6), (26.8, 49.4), (23.8, 36.5)],
        432: [(439.2, 93.2), (174.9, 90.3), (97.2, 86.8), (61.8, 80.5), (42.9, 71.4),
              (31.1, 62.7), (26.8, 50.8), (23.4, 38.0)],
        512: [(673.8, 94.7), (266.3, 92.4), (140.9, 89.5), (79.4, 84.5), (51.8, 77.4),
              (38.3, 69.0), (32.9, 59.0), (28.4, 47.3)],
    }  # fmt: skip
    crfs = (16, 22, 26, 30, 34, 38, 41, 44)
    return [
        RDPoint(EncodeSettings(codec="x265", width=h, height=h, q=q), kbps, vmaf)
        for h, rows in table.items()
        for q, (kbps, vmaf) in zip(crfs, rows, strict=True)
    ]


def test_a_taller_height_winning_at_the_lowest_bitrates_does_not_empty_the_ladder() -> None:
    # a 432p bottom rung left only 432p and 512p points above it (no dips), so the 360p middle
    # was lost: 3 rungs, 3.6x and 6.9x apart (2 rungs, 25x apart, on the whole surface)
    rungs, _ = ladder_from_hull(_dipping_talking_head(), source_height=512, max_rungs=6)
    heights = [r.settings.height for r in rungs]
    assert heights == sorted(heights)
    assert heights == [270, 270, 360, 432, 512]
    _check_spacing(rungs)


def test_a_dip_at_the_floor_does_not_collapse_the_ladder_to_its_top_rung(
    dipping_floor_points: list[RDPoint],
) -> None:
    # every step from the 540p floor to a 360p point is a dip, so the hull's ladder was the top
    # rung alone (excess 0: no gap), which beat every rising chain with a gap over 2x
    points = dipping_floor_points
    rungs, warnings = ladder_from_hull(points, source_height=540, max_rungs=6)
    assert len(rungs) >= 3, warnings
    assert rungs[0].vmaf >= 40 and rungs[0].bitrate_kbps < 58 * 1.5  # the entry point stays
    assert rungs[-1].vmaf == pytest.approx(95.3)
    heights = [r.settings.height for r in rungs]
    assert heights == sorted(heights)
    _check_spacing(rungs)


def test_the_ladder_command_chooses_among_all_points_not_their_hull() -> None:
    # the hull alone cannot be replaced where it dips: choose_rungs passes every point
    from ladderforge.jobs.config import LadderConfig
    from ladderforge.jobs.costs import choose_rungs

    job: Any = SimpleNamespace(config=LadderConfig(max_rungs=6), info=SimpleNamespace(height=512))
    rungs, _, _ = choose_rungs(job, _dipping_talking_head())
    assert [r.settings.height for r in rungs] == [270, 270, 360, 432, 512]
