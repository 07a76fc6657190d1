"""Ladder selection: choosing the rungs of a per-title ladder from its RD hull.

:func:`ladder_from_hull` picks a subset of the upper convex hull's points (one encode each) under
spacing rules a player can switch across. It is a pure function of the points and the keywords,
so it is tested on recorded RD tables.

The algorithm:

1. **Candidates**: the points no taller than ``source_height`` (never upscale); their upper
   convex hull (:func:`~ladderforge.policy.hull.upper_convex_hull`) is taken again, so any set
   of points may be given. Without ``allow_resolution_dips``, where the hull dips (a hull
   point taller than one of higher bitrate), steps 2 to 4 are also run on the hull without
   its dips (:func:`rising_hull`), and that chain is kept when its gaps exceed
   ``max_rate_ratio`` by less (rule 4 (a), counted from each chain's floor candidate, so that
   a ladder collapsed to its top rung pays for the span it leaves unserved) and its floor is
   less than ``min_rate_ratio`` dearer (the ladder keeps its entry point): a taller height
   that wins at the lowest bitrates would otherwise make the bottom rung so tall that no hull
   point between it and the top may be a rung (the shorter heights of the middle are dips).
2. **Top rung**: the cheapest candidate with quality >= ``top_vmaf``; when none reaches it, the
   best candidate, with a warning.
3. **Bottom rung**: the cheapest candidate with quality >= ``floor_vmaf`` (the cheapest of all
   when every candidate is above the floor). When the best candidate is below the floor, or the
   bottom and top are closer than one step, the ladder is the top rung alone, with a warning.
4. **Rungs in between**: among the chains of candidates from bottom to top in which neighbouring
   rungs are at least ``min_step_vmaf`` and a bitrate ratio of ``min_rate_ratio`` apart (hard
   rules), with ``min_rungs`` to ``max_rungs`` rungs, the chain chosen minimises, in order:
   (a) the sum of squared excesses of ln(rate ratio) over ln(``max_rate_ratio``) (soft rule:
   gaps wider than ``max_rate_ratio`` only where the hull or ``max_rungs`` leave no choice);
   (b) the number of rungs (fewer encodes, less storage);
   (c) the sum of squared ln(rate ratio) (gaps as even as possible).
   So a rung beyond the fewest is added only to narrow a gap wider than ``max_rate_ratio``.
   This is an exact dynamic programme over (last rung, rung count), O(max_rungs x n^2) for n
   candidates. When no chain has ``min_rungs`` rungs, the longest feasible one is used, with a
   warning; each gap left wider than ``max_rate_ratio`` is warned about too.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from ladderforge.errors import UsageError
from ladderforge.policy.hull import upper_convex_hull
from ladderforge.types import RDPoint, Rung, RungCosts

__all__ = [
    "RungSpacing",
    "cap_rungs",
    "check_rules",
    "ladder_from_hull",
    "point_from_rung",
    "rising_hull",
]

_EPS = 1e-9

Cost = tuple[float, float]
"""(sum of squared log-ratio excesses, sum of squared log ratios) of a chain."""


@dataclass(frozen=True)
class RungSpacing:
    """The spacing rules between neighbouring rungs (shared with the cost-chosen ladder)."""

    min_step_vmaf: float
    min_rate_ratio: float
    max_rate_ratio: float
    allow_resolution_dips: bool = False

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> RungSpacing:
        """The spacing among a ladder's options (``LadderRules.options()``, extra keys
        ignored)."""
        return cls(
            **{f.name: options[f.name] for f in dataclasses.fields(cls) if f.name in options}
        )

    def allowed(self, low: RDPoint, high: RDPoint) -> bool:
        return (
            high.quality - low.quality >= self.min_step_vmaf - _EPS
            and high.bitrate_kbps >= low.bitrate_kbps * self.min_rate_ratio * (1 - _EPS)
            and (self.allow_resolution_dips or high.height >= low.height)
        )

    def cost(self, low: RDPoint, high: RDPoint) -> Cost:
        log_ratio = math.log(high.bitrate_kbps / low.bitrate_kbps)
        excess = max(0.0, log_ratio - math.log(self.max_rate_ratio))
        return excess * excess, log_ratio * log_ratio


def _validate(
    source_height: int,
    top_vmaf: float,
    floor_vmaf: float,
    spacing: RungSpacing,
    rung_range: tuple[int, int],
    *,
    where: str = "ladder_from_hull",
    rate_cap: bool = True,
) -> None:
    if isinstance(source_height, bool) or not isinstance(source_height, int) or source_height < 2:
        raise UsageError.parameter(where, "source_height", "an integer >= 2", source_height)
    if not math.isfinite(top_vmaf):
        raise UsageError.parameter(where, "top_vmaf", "a finite number", top_vmaf)
    if not (math.isfinite(floor_vmaf) and floor_vmaf < top_vmaf):
        raise UsageError.parameter(
            where, "floor_vmaf", f"a number below top_vmaf={top_vmaf:g}", floor_vmaf
        )
    if not (math.isfinite(spacing.min_step_vmaf) and spacing.min_step_vmaf >= 0):
        raise UsageError.parameter(where, "min_step_vmaf", "a number >= 0", spacing.min_step_vmaf)
    if not (math.isfinite(spacing.min_rate_ratio) and spacing.min_rate_ratio >= 1):
        raise UsageError.parameter(where, "min_rate_ratio", "a number >= 1", spacing.min_rate_ratio)
    if rate_cap and not (math.isfinite(spacing.max_rate_ratio) and spacing.max_rate_ratio > 1):
        raise UsageError.parameter(where, "max_rate_ratio", "a number > 1", spacing.max_rate_ratio)
    if rate_cap and spacing.max_rate_ratio < spacing.min_rate_ratio:
        raise UsageError.parameter(
            where,
            "max_rate_ratio",
            f">= min_rate_ratio={spacing.min_rate_ratio:g}",
            spacing.max_rate_ratio,
        )
    min_rungs, max_rungs = rung_range
    if isinstance(max_rungs, bool) or not isinstance(max_rungs, int) or max_rungs < 1:
        raise UsageError.parameter(where, "max_rungs", "an integer >= 1", max_rungs)
    if isinstance(min_rungs, bool) or not isinstance(min_rungs, int) or min_rungs < 1:
        raise UsageError.parameter(where, "min_rungs", "an integer >= 1", min_rungs)
    if min_rungs > max_rungs:
        raise UsageError.parameter(where, "min_rungs", f"<= max_rungs={max_rungs}", min_rungs)


def check_rules(options: Mapping[str, Any], *, cost_chosen: bool = False) -> None:
    """A ladder's rules (``LadderRules.options()``) checked before any work is done: the
    UsageError :func:`ladder_from_hull` would raise once the points are measured (a
    cost-chosen ladder has no ``max_rate_ratio``: its cost decides the gaps)."""
    rung_range = (int(options.get("min_rungs", 1)), options["max_rungs"])
    spacing = RungSpacing.of(options)
    _validate(
        2, options["top_vmaf"], options["floor_vmaf"], spacing, rung_range,
        where="LadderConfig", rate_cap=not cost_chosen,
    )  # fmt: skip


def _describe(point: RDPoint) -> str:
    return (
        f"{point.settings.width}x{point.settings.height} at {point.bitrate_kbps:.0f} kbps "
        f"(VMAF {point.quality:.2f})"
    )


def _ends(
    candidates: list[RDPoint], top_vmaf: float, floor_vmaf: float
) -> tuple[int, int, list[str]]:
    """Indices of the bottom and top rungs among the hull candidates, and warnings."""
    warnings: list[str] = []
    top = next((i for i, p in enumerate(candidates) if p.quality >= top_vmaf), None)
    if top is None:
        top = len(candidates) - 1
        warnings.append(
            f"No point reaches the top target VMAF {top_vmaf:g}; the top rung is the best "
            f"point, {_describe(candidates[top])}. Add higher resolutions or lower CRFs to "
            "reach it."
        )
    bottom = next((i for i, p in enumerate(candidates) if p.quality >= floor_vmaf), None)
    if bottom is None:
        warnings.append(
            f"No point reaches the floor VMAF {floor_vmaf:g}; the ladder is one rung, "
            f"{_describe(candidates[top])}."
        )
        bottom = top
    return bottom, top, warnings


def _best_chains(
    points: list[RDPoint], spacing: RungSpacing, max_rungs: int
) -> dict[int, tuple[Cost, list[int]]]:
    """For each rung count k, the cheapest chain from points[0] to points[-1] (indices)."""
    n = len(points)
    # layer[j] = (cost, parent) of the best chain of k rungs from 0 ending at j
    layer: list[tuple[Cost, int] | None] = [((0.0, 0.0), -1)] + [None] * (n - 1)
    parents: list[list[tuple[Cost, int] | None]] = [layer]
    for _ in range(2, max_rungs + 1):
        nxt: list[tuple[Cost, int] | None] = [None] * n
        for j in range(1, n):
            for i in range(j):
                prev = layer[i]
                if prev is None or not spacing.allowed(points[i], points[j]):
                    continue
                step = spacing.cost(points[i], points[j])
                cost = (prev[0][0] + step[0], prev[0][1] + step[1])
                current = nxt[j]
                if current is None or cost < current[0]:
                    nxt[j] = (cost, i)
        parents.append(nxt)
        layer = nxt
    chains: dict[int, tuple[Cost, list[int]]] = {}
    for k, row in enumerate(parents, start=1):
        end = row[n - 1]
        if end is None:
            continue
        path, j = [n - 1], n - 1
        for back in range(k - 1, 0, -1):
            entry = parents[back][j]
            assert entry is not None
            j = entry[1]
            path.append(j)
        chains[k] = (end[0], path[::-1])
    return chains


def _choose(
    points: list[RDPoint], spacing: RungSpacing, min_rungs: int, max_rungs: int
) -> tuple[list[int], list[str]]:
    """The chosen chain (indices into points) and its warnings."""
    if max_rungs == 1:
        return [len(points) - 1], []
    if len(points) == 1:
        chains = {1: ((0.0, 0.0), [0])}
    else:
        chains = _best_chains(points, spacing, max_rungs)
    warnings: list[str] = []
    if not chains:
        warnings.append(
            f"The floor rung {_describe(points[0])} and the top rung {_describe(points[-1])} "
            f"are closer than one step (min_step_vmaf={spacing.min_step_vmaf:g}, "
            f"min_rate_ratio={spacing.min_rate_ratio:g}); the ladder is the top rung alone."
        )
        return [len(points) - 1], warnings
    eligible = [k for k in chains if k >= min_rungs]
    if eligible:
        k = min(eligible, key=lambda c: (chains[c][0][0], c, chains[c][0][1]))
    else:
        k = max(chains)
        warnings.append(
            f"Only {k} rung(s) fit between the floor and the top with min_step_vmaf="
            f"{spacing.min_step_vmaf:g} and min_rate_ratio={spacing.min_rate_ratio:g}; "
            f"min_rungs={min_rungs} was asked for. Measure more points or relax the spacing."
        )
    return chains[k][1], warnings


def _gap_warnings(rungs: list[RDPoint], max_rate_ratio: float) -> list[str]:
    warnings = []
    for low, high in pairwise(rungs):
        ratio = high.bitrate_kbps / low.bitrate_kbps
        if ratio > max_rate_ratio * (1 + _EPS):
            warnings.append(
                f"Rungs {_describe(low)} and {_describe(high)} are {ratio:.2f}x apart, more than "
                f"max_rate_ratio={max_rate_ratio:g}: the hull's points, max_rungs or the "
                "min_step_vmaf/min_rate_ratio rules leave no closer choice."
            )
    return warnings


def rung_from_point(point: RDPoint) -> Rung:
    """The rung an RD point stands for (its predicted or swept figures as declared)."""
    cost = RungCosts(encode_cpu_s=point.cost_cpu_s if point.cost_cpu_s > 0 else None)
    return Rung(
        settings=point.settings, bitrate_kbps=point.bitrate_kbps, vmaf=point.quality, cost=cost
    )


def point_from_rung(rung: Rung) -> RDPoint:
    """The RD point a rung declares (the inverse of :func:`rung_from_point`)."""
    return RDPoint(rung.settings, rung.bitrate_kbps, rung.vmaf)


def ladder_from_hull(
    hull: Sequence[RDPoint],
    *,
    source_height: int,
    top_vmaf: float = 95.0,
    floor_vmaf: float = 40.0,
    min_step_vmaf: float = 3.0,
    min_rate_ratio: float = 1.5,
    max_rate_ratio: float = 2.0,
    max_rungs: int = 8,
    min_rungs: int = 1,
    allow_resolution_dips: bool = False,
) -> tuple[list[Rung], list[str]]:
    """Choose a ladder's rungs from RD points (see the module doc for the algorithm).

    Args:
        hull: RD points of the title (its hull or any superset: the hull is taken again;
            all of them, so that a hull that dips can be replaced, see step 1).
        source_height: the source's height; taller points are never chosen.
        top_vmaf: quality of the top rung (the cheapest point that reaches it).
        floor_vmaf: quality of the bottom rung (the cheapest point that reaches it).
        min_step_vmaf: least quality step between neighbours (3 VMAF, half a JND of about 6:
            near the top of a curve one JND can cost several times the bitrate, and rule 4 (a)
            then wants a rung in between).
        min_rate_ratio: least bitrate ratio between neighbours.
        max_rate_ratio: largest bitrate ratio between neighbours, kept where the points allow.
        max_rungs: most rungs.
        min_rungs: fewest rungs wanted; fewer are returned, with a warning, when the hard
            spacing rules do not allow as many.
        allow_resolution_dips: let a rung be shorter than the one below it (players and
            viewers dislike a picture that gets smaller as the bitrate rises; off by default).

    Returns:
        The rungs, lowest bitrate first, and warnings (targets not met, spacing not kept).

    Raises:
        UsageError: a parameter out of range, or no point at or below ``source_height``.
    """
    spacing = RungSpacing(min_step_vmaf, min_rate_ratio, max_rate_ratio, allow_resolution_dips)
    _validate(source_height, top_vmaf, floor_vmaf, spacing, (min_rungs, max_rungs))
    allowed = [p for p in hull if p.height <= source_height]
    if not hull:
        raise UsageError(
            "The 'hull' parameter of ladder_from_hull must hold RD points. "
            "Got an empty sequence instead."
        )
    if not allowed:
        raise UsageError(
            f"The 'hull' parameter of ladder_from_hull must hold points no taller than the "
            f"source ({source_height} px). Got {len(hull)} points, none of them that short."
        )
    ends = (top_vmaf, floor_vmaf)
    floor, rungs, warnings = _chain_on(
        upper_convex_hull(allowed), ends, spacing, (min_rungs, max_rungs)
    )
    if not allow_resolution_dips and max_rungs > 1:  # a dip may have cost rungs: try without
        r_floor, r_rungs, r_warnings = _chain_on(
            rising_hull(allowed), ends, spacing, (min_rungs, max_rungs)
        )
        cheap = r_floor.bitrate_kbps < floor.bitrate_kbps * spacing.min_rate_ratio
        if cheap and _excess(r_floor, r_rungs, spacing) < _excess(floor, rungs, spacing):
            rungs, warnings = r_rungs, r_warnings
    return [rung_from_point(p) for p in rungs], warnings


def _chain_on(
    candidates: list[RDPoint],
    ends: tuple[float, float],
    spacing: RungSpacing,
    rung_range: tuple[int, int],
) -> tuple[RDPoint, list[RDPoint], list[str]]:
    """Steps 2 to 4 on the candidates: the floor candidate (the bottom rung the ladder aimed
    at), the chosen points and the warnings."""
    bottom, top, warnings = _ends(candidates, *ends)
    span = candidates[bottom : top + 1]
    chosen, chain_warnings = _choose(span, spacing, *rung_range)
    rungs = [span[i] for i in chosen]
    return span[0], rungs, warnings + chain_warnings + _gap_warnings(rungs, spacing.max_rate_ratio)


def _excess(floor: RDPoint, rungs: list[RDPoint], spacing: RungSpacing) -> float:
    """The chain's sum of squared log-ratio excesses over ``max_rate_ratio`` (rule 4 (a)), from
    its floor candidate up: a chain that could not start at its floor (the top rung alone, when
    a dip left no allowed step) pays for the span it leaves unserved."""
    chain = rungs if rungs[0] is floor else [floor, *rungs]
    return sum(spacing.cost(low, high)[0] for low, high in pairwise(chain))


def rising_hull(points: Sequence[RDPoint]) -> list[RDPoint]:
    """The upper convex hull of ``points`` without resolution dips: while a hull point is
    taller than a hull point of higher bitrate, the taller one is dropped and the hull taken
    again (the last point, the best, always stays)."""
    kept = list(points)
    while True:
        hull = upper_convex_hull(kept)
        lowest_above = math.inf  # the shortest height among the hull points above each one
        dips = set()
        for p in reversed(hull):
            if p.height > lowest_above:
                dips.add(id(p))
            lowest_above = min(lowest_above, p.height)
        if not dips:
            return hull
        kept = [p for p in kept if id(p) not in dips]


def cap_rungs(rungs: Sequence[Rung], *, ratio: float, buffer_ratio: float = 2.0) -> list[Rung]:
    """Capped CRF: each rung's VBV maximum rate is ``ratio`` x its expected bitrate, its buffer
    ``buffer_ratio`` x that maximum (kbit), so CDNs and players see bounded peaks."""
    if not ratio >= 1.0 or not buffer_ratio > 0:
        raise UsageError(
            "The 'ratio' parameter of cap_rungs must be >= 1 and 'buffer_ratio' > 0. "
            f"Got {ratio!r} and {buffer_ratio!r} instead."
        )
    out = []
    for r in rungs:
        maxrate = round(r.bitrate_kbps * ratio, 1)
        capped = r.settings.with_(
            maxrate_kbps=maxrate, bufsize_kbits=round(maxrate * buffer_ratio, 1)
        )
        out.append(dataclasses.replace(r, settings=capped))
    return out
