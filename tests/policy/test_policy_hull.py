"""Pareto front and upper convex hull on hand-made points and recorded RD tables."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import pytest

from ladderforge.errors import UsageError
from ladderforge.policy import pareto_front, upper_convex_hull
from ladderforge.types import RDPoint


def _slopes(pairs: list[tuple[float, float]]) -> list[float]:
    return [(q1 - q0) / (r1 - r0) for (r0, q0), (r1, q1) in itertools.pairwise(pairs)]


def _pairs(points: list[RDPoint]) -> list[tuple[float, float]]:
    return [(p.bitrate_kbps, p.quality) for p in points]


@pytest.mark.parametrize("fixture", ["talking_head_points", "sports_grain_points"])
def test_hull_is_monotone_and_concave(fixture: str, request: pytest.FixtureRequest) -> None:
    points: list[RDPoint] = request.getfixturevalue(fixture)
    hull = _pairs(upper_convex_hull(points))
    rates = [r for r, _ in hull]
    qualities = [q for _, q in hull]
    assert rates == sorted(rates) and len(set(rates)) == len(rates)
    assert all(b > a for a, b in itertools.pairwise(qualities))
    slopes = _slopes(hull)
    assert all(b < a for a, b in itertools.pairwise(slopes))
    # every point lies on or under the hull (the hull is an upper envelope)
    for p in points:
        if p.bitrate_kbps <= rates[-1]:
            j = max(i for i, r in enumerate(rates) if r <= p.bitrate_kbps)
            if j == len(rates) - 1:
                assert p.quality <= qualities[-1] + 1e-9
                continue
            t = (p.bitrate_kbps - rates[j]) / (rates[j + 1] - rates[j])
            assert p.quality <= qualities[j] + t * (qualities[j + 1] - qualities[j]) + 1e-9
        else:
            assert p.quality <= qualities[-1]
    # ends: the cheapest point and the best point
    assert hull[0][0] == min(p.bitrate_kbps for p in points)
    assert hull[-1][1] == max(p.quality for p in points)


def test_hull_switches_resolution_as_rate_rises(talking_head_points: list[RDPoint]) -> None:
    hull = upper_convex_hull(talking_head_points)
    heights = [p.height for p in hull]
    assert heights == sorted(heights)
    assert set(heights) == {360, 540, 720, 1080}
    # recorded table: 360p below ~170 kbps, 1080p from ~3 Mbps (CRF 22) up
    assert [(p.height, p.settings.q) for p in hull] == [
        (360, 38), (360, 34), (360, 30), (540, 30), (540, 26),
        (720, 26), (720, 22), (1080, 22), (1080, 18),
    ]  # fmt: skip


def test_hull_drops_dominated_and_collinear_points() -> None:
    points = [
        (1000.0, 80.0),
        (2000.0, 85.0),  # on the chord from (1000, 80) to (3000, 90): not a vertex
        (3000.0, 90.0),
        (2500.0, 84.0),  # under the hull
        (4000.0, 89.0),  # more bits, less quality: dominated
        (500.0, 60.0),
    ]
    assert upper_convex_hull(points) == [(500.0, 60.0), (1000.0, 80.0), (3000.0, 90.0)]
    assert pareto_front(points) == [(500.0, 60.0), (1000.0, 80.0), (2000.0, 85.0), (3000.0, 90.0)]


def test_hull_removes_concavity_violations() -> None:
    # (2000, 82) is Pareto-optimal but under the chord (1000, 80)-(3000, 90)
    points = [(1000.0, 80.0), (2000.0, 82.0), (3000.0, 90.0)]
    assert pareto_front(points) == points
    assert upper_convex_hull(points) == [(1000.0, 80.0), (3000.0, 90.0)]


def test_duplicates_keep_best_quality_then_cheapest_encode(
    make_point: Callable[..., RDPoint],
) -> None:
    fast = make_point(720, 1000.0, 85.0, cpu_s=10.0)
    slow = make_point(720, 1000.0, 85.0, cpu_s=30.0)
    worse = make_point(540, 1000.0, 84.0)
    small_twin = make_point(540, 1000.0, 85.0, cpu_s=10.0)
    hull = upper_convex_hull([slow, worse, small_twin, fast])
    assert hull == [small_twin]  # same cost: the smaller picture wins
    assert pareto_front([slow, fast, worse]) == [fast]


@pytest.mark.parametrize("func", [upper_convex_hull, pareto_front])
def test_single_point_is_its_own_hull(
    func: Callable[[list[RDPoint]], list[RDPoint]], make_point: Callable[..., RDPoint]
) -> None:
    p = make_point(1080, 4000.0, 93.0)
    assert func([p]) == [p]
    assert func([p, p]) == [p]


@pytest.mark.parametrize("func", [upper_convex_hull, pareto_front])
def test_empty_input_is_refused(func: Callable[[list[RDPoint]], list[RDPoint]]) -> None:
    with pytest.raises(UsageError, match="must be a non-empty sequence"):
        func([])


@pytest.mark.parametrize(
    "bad", [(0.0, 80.0), (-5.0, 80.0), (math.nan, 80.0), (1000.0, math.inf), (1000.0, math.nan)]
)
def test_invalid_points_are_refused(bad: tuple[float, float]) -> None:
    with pytest.raises(UsageError, match="at index 1"):
        upper_convex_hull([(500.0, 70.0), bad])
