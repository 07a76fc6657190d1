"""Cost as a decision on recorded RD tables: lambda, views and budgets move the chosen ladder in
the expected direction, and the recorded break-even views are where two choices score the same."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ladderforge.encoder import codec_facts
from ladderforge.errors import UsageError
from ladderforge.policy.cost import CostModel, encode_cpu_s
from ladderforge.policy.value import ValueInputs, ladder_by_value
from ladderforge.types import CostDecision, RDPoint, Rung

FRAMES = 7200 * 24  # a two-hour title at 24 fps
INPUTS = ValueInputs(duration_s=7200, frames=FRAMES)


def _with_cpu(points: list[RDPoint], preset: str, vmaf_gain: float = 0.0) -> list[RDPoint]:
    """The points re-labelled as ``preset``, with its measured speed's CPU seconds."""
    facts = codec_facts("x265")
    return [
        replace(
            p,
            settings=p.settings.with_(preset=preset),
            quality=min(100.0, p.quality + vmaf_gain),
            cost_cpu_s=encode_cpu_s(
                facts, preset, width=p.settings.width, height=p.settings.height, frames=FRAMES
            ),
        )
        for p in points
    ]


def _choose(
    points: list[RDPoint],
    views: float,
    *,
    cost_lambda: float | None = None,
    budget_usd: float | None = None,
) -> tuple[list[Rung], CostDecision]:
    rungs, _, decision = ladder_by_value(
        points,
        source_height=1080,
        model=CostModel(expected_view_hours=views),
        inputs=INPUTS,
        cost_lambda=cost_lambda,
        budget_usd=budget_usd,
    )
    return rungs, decision


def test_a_larger_lambda_lowers_the_ladder(talking_head_points: list[RDPoint]) -> None:
    points = _with_cpu(talking_head_points, "medium")
    tops = []
    for lam in (0.0, 3.0, 30.0, 100.0, 1000.0):
        rungs, _ = _choose(points, 1e5, cost_lambda=lam)
        tops.append(rungs[-1].bitrate_kbps)
    assert tops == sorted(tops, reverse=True)
    assert tops[-1] < tops[0]
    assert tops[0] == max(p.bitrate_kbps for p in points if p.quality <= 97.5)  # the top point


def test_more_views_afford_more_rungs(talking_head_points: list[RDPoint]) -> None:
    points = _with_cpu(talking_head_points, "medium")
    counts = [len(_choose(points, views, cost_lambda=10.0)[0]) for views in (1, 10, 1e3, 1e6)]
    assert counts == sorted(counts)
    assert counts[0] < counts[-1]


def test_more_views_afford_slower_presets(talking_head_points: list[RDPoint]) -> None:
    # medium: 2 VMAF better than veryfast at every point, about 1.6x the CPU seconds
    points = _with_cpu(talking_head_points, "veryfast") + _with_cpu(
        talking_head_points, "medium", vmaf_gain=2.0
    )
    few, _ = _choose(points, 0.1, cost_lambda=10.0)
    many, _ = _choose(points, 1e6, cost_lambda=10.0)
    assert {r.settings.preset for r in few} == {"veryfast"}
    assert "medium" in {r.settings.preset for r in many}


def test_break_even_views_are_where_two_choices_tie(talking_head_points: list[RDPoint]) -> None:
    points = _with_cpu(talking_head_points, "medium")
    lam = 10.0
    _, decision = _choose(points, 10.0, cost_lambda=lam)
    chosen = next(c for c in decision.choices if c.chosen)
    crossings = [c for c in decision.choices if c.break_even_view_hours is not None]
    assert crossings
    for other in crossings:
        v = other.break_even_view_hours
        assert v is not None

        def score(c: object, v: float = v) -> float:
            return v * c.view_weighted_vmaf - lam * (c.fixed_usd + v * c.egress_usd_per_view_hour)  # type: ignore[attr-defined]

        assert score(chosen) == pytest.approx(score(other), rel=1e-9, abs=1e-6)
    # the ladder chosen at those views is indeed another one (the crossing is real)
    first = min(crossings, key=lambda c: c.break_even_view_hours or 0)
    assert first.break_even_view_hours is not None
    beyond, _ = _choose(points, first.break_even_view_hours * 1.01, cost_lambda=lam)
    assert [r.bitrate_kbps for r in beyond] != list(chosen.kbps)


def test_a_budget_is_kept_and_tighter_budgets_cost_less(
    talking_head_points: list[RDPoint],
) -> None:
    points = _with_cpu(talking_head_points, "medium")
    views = 1e4
    spent = []
    for budget in (1e6, 2000.0, 500.0):
        _, decision = _choose(points, views, budget_usd=budget)
        chosen = next(c for c in decision.choices if c.chosen)
        cost = chosen.fixed_usd + views * chosen.egress_usd_per_view_hour
        assert cost <= budget * (1 + 1e-9)
        spent.append(cost)
    assert spent == sorted(spent, reverse=True) and spent[-1] < spent[0]


def test_impossible_budget_and_bad_parameters(talking_head_points: list[RDPoint]) -> None:
    points = _with_cpu(talking_head_points, "medium")
    rungs, notes, _ = ladder_by_value(
        points, source_height=1080, model=CostModel(), inputs=INPUTS, budget_usd=0.0001
    )
    assert len(rungs) == 1 and "No ladder fits the budget" in notes[0]
    with pytest.raises(UsageError, match="exactly one"):
        ladder_by_value(points, source_height=1080, model=CostModel(), inputs=INPUTS)
    with pytest.raises(UsageError, match="cost_lambda"):
        ladder_by_value(
            points, source_height=1080, model=CostModel(), inputs=INPUTS, cost_lambda=-1
        )
    with pytest.raises(UsageError, match="view_share"):
        ladder_by_value(
            points, source_height=1080, model=CostModel(view_share=(1.0,)), inputs=INPUTS,
            cost_lambda=1.0,
        )  # fmt: skip
    with pytest.raises(UsageError, match="no taller"):
        ladder_by_value(points, source_height=100, model=CostModel(), inputs=INPUTS, cost_lambda=1)


def test_a_dip_at_the_floor_does_not_leave_the_floor_alone(
    dipping_floor_points: list[RDPoint],
) -> None:
    # the 540p floor had no allowed step up (every 360p point above it is a dip): the ladder
    # was that one rung, VMAF 47, at any lambda; the hull without dips gives the chain a way up
    for lam in (0.0, 1.0):
        rungs, _, _ = ladder_by_value(
            dipping_floor_points,
            source_height=540,
            model=CostModel(expected_view_hours=1000),
            inputs=ValueInputs(duration_s=2.9, frames=70),
            cost_lambda=lam,
        )
        assert len(rungs) >= 2 and rungs[-1].vmaf == pytest.approx(95.3)
        heights = [r.settings.height for r in rungs]
        assert heights == sorted(heights)
