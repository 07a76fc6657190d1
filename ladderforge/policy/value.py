"""Cost as a decision: the ladder that maximises ``view-weighted quality - lambda x cost``.

For a title with ``V`` expected view-hours, a ladder (chain of rungs) scores

    J = V x Q - lambda x (F + V x E)

- ``Q``: the VMAF a view-hour gets: each class of the cost model's bandwidth mix plays the
  highest rung whose bitrate fits its bandwidth (the lowest rung when none fits);
- ``F``: encode + storage of every rung, spent once whatever the views;
- ``E``: delivery per view-hour at the marginal egress price (the tier above the platform's other
  traffic; the ladder JSON's totals then use the exact tiered price);
- ``lambda``: how many VMAF-hours one USD is worth.

``F`` does not grow with the views while ``V x Q`` and ``V x E`` do: a title watched a million
hours affords more rungs (and, when the points of several presets are given, slower presets),
one watched ten hours fewer. ``lambda`` trades quality against egress at any audience: a larger
one lowers the rungs' bitrates. With a budget (USD per title) instead of lambda, the smallest
lambda whose ladder fits the budget is found by bisection.

The search is exact: a dynamic programme over (last rung, rung count), because a rung's viewers
are fixed by its own bitrate and the next rung's. Candidates are the upper convex hull of each
preset's points at or below the source's height, from the preset's floor point (the cheapest
reaching ``floor_vmaf``) to its top point (the cheapest reaching ``top_vmaf``), and, unless
resolution dips are allowed, the same span of its hull without dips (a taller height that wins
only at the lowest bitrates would leave its floor no allowed step up); the first rung is a floor
point; neighbours keep the hard spacing rules of :func:`~ladderforge.policy.ladder_from_hull`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby

from ladderforge.errors import UsageError
from ladderforge.policy.cost import CostModel, RungSpend, encode_usd
from ladderforge.policy.hull import upper_convex_hull
from ladderforge.policy.ladder import RungSpacing, rising_hull, rung_from_point
from ladderforge.types import CostChoice, CostDecision, RDPoint, Rung

__all__ = ["ValueInputs", "ladder_by_value"]


@dataclass(frozen=True)
class ValueInputs:
    """What the objective needs besides the points: the title's length and the encoder's kind."""

    duration_s: float
    """The title's duration (storage)."""
    frames: int
    """Its frames (GPU encode time)."""
    device: str = "cpu"
    """``cpu`` or ``gpu``: how an encode is priced."""


@dataclass(frozen=True)
class _Chain:
    idx: tuple[int, ...]
    q: float
    e: float
    f: float

    def score(self, views: float, lam: float) -> float:
        return views * self.q - lam * (self.f + views * self.e)


class _Problem:
    """The candidates and the per-rung figures the dynamic programme reads."""

    def __init__(self, points: list[RDPoint], model: CostModel, inputs: ValueInputs) -> None:
        self.points = points
        self.kbps = [p.bitrate_kbps for p in points]
        price = model.marginal_egress_gb_usd()
        self.egress = [k * 3600 / 8 / 1e6 * price for k in self.kbps]
        self.fixed = [
            encode_usd(RungSpend(inputs.device, p.bitrate_kbps, p.cost_cpu_s, inputs.frames), model)
            + p.bitrate_kbps * inputs.duration_s / 8 / 1e6
            * model.storage_gb_month_usd * model.storage_months
            for p in points
        ]  # fmt: skip
        self.mix = list(model.bandwidth_mix)

    def share(self, low: float, high: float) -> float:
        """Share of view-hours with bandwidth in [low, high)."""
        return sum(w for bw, w in self.mix if low <= bw < high)

    def chain(self, idx: Sequence[int]) -> _Chain:
        q = e = f = 0.0
        for pos, i in enumerate(idx):
            low = -math.inf if pos == 0 else self.kbps[i]
            high = self.kbps[idx[pos + 1]] if pos + 1 < len(idx) else math.inf
            w = self.share(low, high)
            q += w * self.points[i].quality
            e += w * self.egress[i]
            f += self.fixed[i]
        return _Chain(tuple(idx), q, e, f)


def _candidates(
    hull: Sequence[RDPoint],
    source_height: int,
    top_vmaf: float,
    floor_vmaf: float,
    allow_resolution_dips: bool,
) -> tuple[list[RDPoint], set[int]]:
    """Each preset's hull span floor..top (and, without ``allow_resolution_dips``, its rising
    hull's span too), merged by bitrate; the indices of the floor points."""
    allowed = sorted(
        (p for p in hull if p.height <= source_height), key=lambda p: p.settings.preset or ""
    )
    if not allowed:
        raise UsageError(
            "The 'hull' parameter of ladder_by_value must hold points no taller than the source "
            f"({source_height} px). Got {len(hull)} points, none of them that short."
        )
    spans: dict[int, RDPoint] = {}  # by point identity: a point on both curves counts once
    floors: set[int] = set()
    for _, group in groupby(allowed, key=lambda p: p.settings.preset or ""):
        points = list(group)
        # where the hull dips, a chain from its floor may have no allowed step up (a taller
        # height wins only at the lowest rates): the rising hull's chains are candidates too
        curves = [upper_convex_hull(points)] + (
            [] if allow_resolution_dips else [rising_hull(points)]
        )
        for curve in curves:
            top = next((i for i, p in enumerate(curve) if p.quality >= top_vmaf), len(curve) - 1)
            bottom = next((i for i, p in enumerate(curve) if p.quality >= floor_vmaf), top)
            spans |= {id(p): p for p in curve[bottom : top + 1]}
            floors.add(id(curve[bottom]))
    ordered = sorted(spans.values(), key=lambda p: (p.bitrate_kbps, -p.quality))
    return ordered, {i for i, p in enumerate(ordered) if id(p) in floors}


def _best_per_count(
    prob: _Problem, starts: set[int], spacing: RungSpacing, max_rungs: int, views: float, lam: float
) -> dict[int, _Chain]:
    """The best chain for each rung count (exact dynamic programme)."""
    n = len(prob.points)
    best: list[dict[int, tuple[float, tuple[int, ...]]]] = [
        {s: (0.0, (s,)) for s in starts}
    ]  # best[k-1][j]: (score of the rungs before j, chain) over chains of k rungs ending at j
    for k in range(1, max_rungs):
        layer: dict[int, tuple[float, tuple[int, ...]]] = {}
        for i, (score, idx) in best[k - 1].items():
            low = -math.inf if k == 1 else prob.kbps[i]
            for j in range(i + 1, n):
                if not spacing.allowed(prob.points[i], prob.points[j]):
                    continue
                w = prob.share(low, prob.kbps[j])
                gain = views * w * (prob.points[i].quality - lam * prob.egress[i])
                total = score + gain - lam * prob.fixed[i]
                if j not in layer or total > layer[j][0]:
                    layer[j] = (total, (*idx, j))
        best.append(layer)
    out: dict[int, _Chain] = {}
    for k, layer in enumerate(best, start=1):
        chains = [prob.chain(idx) for _, idx in layer.values()]
        if chains:
            out[k] = max(chains, key=lambda c: c.score(views, lam))
    return out


def _choose(per_count: dict[int, _Chain], min_rungs: int, views: float, lam: float) -> _Chain:
    eligible = [c for k, c in per_count.items() if k >= min_rungs] or list(per_count.values())
    return max(eligible, key=lambda c: (c.score(views, lam), -len(c.idx)))


def _lambda_for_budget(solve: _Solver, budget_usd: float, views: float) -> tuple[float, list[str]]:
    """The smallest lambda whose ladder costs at most the budget (bisection in log lambda)."""
    cost = lambda lam: solve(lam).f + views * solve(lam).e  # noqa: E731
    if cost(0.0) <= budget_usd:
        return 0.0, []
    high = 1.0
    while cost(high) > budget_usd and high < 1e12:
        high *= 10
    if cost(high) > budget_usd:
        return high, [
            f"No ladder fits the budget of ${budget_usd:g} per title; the cheapest one costs "
            f"${cost(high):.4g}. It was chosen."
        ]
    low = high / 10 if high > 1.0 else 0.0
    for _ in range(40):
        mid = math.sqrt(low * high) if low > 0 else high / 2
        low, high = (low, mid) if cost(mid) <= budget_usd else (mid, high)
    return high, []


class _Solver:
    def __init__(
        self,
        prob: _Problem,
        starts: set[int],
        spacing: RungSpacing,
        rungs: tuple[int, int],
        views: float,
    ) -> None:
        self.args = (prob, starts, spacing, rungs[1], views)
        self.min_rungs = rungs[0]
        self.cache: dict[float, dict[int, _Chain]] = {}

    def per_count(self, lam: float) -> dict[int, _Chain]:
        if lam not in self.cache:
            prob, starts, spacing, max_rungs, views = self.args
            self.cache[lam] = _best_per_count(prob, starts, spacing, max_rungs, views, lam)
        return self.cache[lam]

    def __call__(self, lam: float) -> _Chain:
        return _choose(self.per_count(lam), self.min_rungs, self.args[4], lam)


def _check(cost_lambda: float | None, budget_usd: float | None, views: float) -> None:
    if (cost_lambda is None) == (budget_usd is None):
        raise UsageError("ladder_by_value needs exactly one of 'cost_lambda' and 'budget_usd'.")
    for name, value in (("cost_lambda", cost_lambda), ("budget_usd", budget_usd)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise UsageError(
                f"The '{name}' parameter of ladder_by_value must be a number >= 0. "
                f"Got {value!r} instead."
            )
    if not (math.isfinite(views) and views >= 0):
        raise UsageError(f"The view-hours must be a number >= 0. Got {views!r} instead.")


def _record(
    prob: _Problem, solver: _Solver, chosen: _Chain, lam: float, views: float
) -> tuple[CostChoice, ...]:
    out = []
    for k, chain in sorted(solver.per_count(lam).items()):
        is_chosen = chain.idx == chosen.idx
        den = (chosen.q - chain.q) - lam * (chosen.e - chain.e)
        crossing = lam * (chosen.f - chain.f) / den if den != 0 else None
        out.append(
            CostChoice(
                rungs=k,
                kbps=tuple(prob.kbps[i] for i in chain.idx),
                presets=tuple(prob.points[i].settings.preset or "" for i in chain.idx),
                view_weighted_vmaf=chain.q,
                fixed_usd=chain.f,
                egress_usd_per_view_hour=chain.e,
                objective=chain.score(views, lam),
                chosen=is_chosen,
                break_even_view_hours=(
                    crossing if not is_chosen and crossing is not None and crossing > 0 else None
                ),
            )
        )
    return tuple(out)


def ladder_by_value(
    hull: Sequence[RDPoint],
    *,
    source_height: int,
    model: CostModel,
    inputs: ValueInputs,
    cost_lambda: float | None = None,
    budget_usd: float | None = None,
    top_vmaf: float = 95.0,
    floor_vmaf: float = 40.0,
    min_step_vmaf: float = 3.0,
    min_rate_ratio: float = 1.5,
    max_rate_ratio: float = 2.0,
    max_rungs: int = 8,
    min_rungs: int = 1,
    allow_resolution_dips: bool = False,
) -> tuple[list[Rung], list[str], CostDecision]:
    """Choose the rungs that maximise ``V x Q - lambda x (F + V x E)`` (see the module doc).

    ``model.expected_view_hours`` is ``V``; give ``cost_lambda`` or ``budget_usd`` (USD per
    title), not both. ``max_rate_ratio`` is accepted for symmetry with ladder_from_hull and not
    used: the objective decides the gaps. Returns the rungs (lowest first), notes, and the
    decision (every rung count's best ladder, with the views at which it would win).
    """
    del max_rate_ratio
    views = model.expected_view_hours
    _check(cost_lambda, budget_usd, views)
    if model.view_share:
        raise UsageError(
            "A cost-chosen ladder needs the cost model's bandwidth mix: 'view_share' fixes the "
            "number of rungs. Remove view_share from the cost settings."
        )
    points, starts = _candidates(hull, source_height, top_vmaf, floor_vmaf, allow_resolution_dips)
    prob = _Problem(points, model, inputs)
    spacing = RungSpacing(min_step_vmaf, min_rate_ratio, math.inf, allow_resolution_dips)
    solver = _Solver(prob, starts, spacing, (min_rungs, max_rungs), views)
    notes: list[str] = []
    if budget_usd is not None:
        lam, notes = _lambda_for_budget(solver, budget_usd, views)
    else:
        lam = float(cost_lambda)  # type: ignore[arg-type]  # _check: one of the two is set
    chosen = solver(lam)
    decision = CostDecision(
        cost_lambda=lam,
        budget_usd=budget_usd,
        view_hours=views,
        marginal_egress_gb_usd=model.marginal_egress_gb_usd(),
        choices=_record(prob, solver, chosen, lam, views),
    )
    return [rung_from_point(points[i]) for i in chosen.idx], notes, decision
