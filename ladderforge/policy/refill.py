"""Refilling a gap that the measured rungs open: where two neighbouring rungs of a closed-loop
ladder measure further apart in bitrate than ``max_rate_ratio`` (the ladder was chosen on
predicted rates, and a prediction off by 2x leaves a 4x gap that a player cannot climb
smoothly), a rung is added between them at the mean of their measured VMAFs and looped like
the others. Pure functions of the measured rungs; the encodes are the pipeline's
(:mod:`ladderforge.jobs.rungs`).

A rung between two measured ones needs room: its VMAF at least ``min_step_vmaf`` from both
(the mean of the two VMAFs, so ``2 x min_step_vmaf`` between them) and room for
``min_rate_ratio`` on both sides (a rate ratio of at least ``min_rate_ratio ** 2``). Its
height lies between its neighbours' heights (unless resolution dips are allowed) and is the
one whose predicted curve reaches the target for the fewest kbps.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ladderforge.policy.ladder import RungSpacing

__all__ = ["Gap", "anchored_curve", "cheapest_height", "dominated", "widest_gap"]


@dataclass(frozen=True)
class Gap:
    """Two neighbouring measured rungs too far apart, and the VMAF a rung between aims at."""

    low: int
    """Index of the lower rung (the gap is between ``low`` and ``low + 1``)."""
    ratio: float
    """Measured bitrate ratio of the upper rung over the lower."""
    target_vmaf: float


def widest_gap(
    measured: Sequence[tuple[float, float]],
    spacing: RungSpacing,
    *,
    skip: frozenset[int] = frozenset(),
) -> Gap | None:
    """The widest gap between neighbouring rungs, given as (kbps, VMAF) sorted by kbps, whose
    measured bitrate ratio exceeds ``spacing.max_rate_ratio`` and that has room for a rung
    (see the module); None when there is none. ``skip``: lower indices not to offer (gaps
    already tried)."""
    best: Gap | None = None
    for i, ((r_lo, v_lo), (r_hi, v_hi)) in enumerate(itertools.pairwise(measured)):
        if i in skip or r_lo <= 0:
            continue
        ratio = r_hi / r_lo
        if ratio <= spacing.max_rate_ratio * (1 + 1e-9):
            continue
        if v_hi - v_lo < 2 * spacing.min_step_vmaf or ratio < spacing.min_rate_ratio**2:
            continue
        if best is None or ratio > best.ratio:
            best = Gap(i, ratio, (v_lo + v_hi) / 2)
    return best


def dominated(measured: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the rungs, given as measured (kbps, VMAF), that another rung beats: no more
    kbps for no less VMAF, better in one (a player switching to such a rung pays more for less;
    the ladder was chosen on predictions that the encodes did not bear out)."""
    return [
        i
        for i, (r, v) in enumerate(measured)
        if any(
            j != i and r2 <= r and v2 >= v and (r2 < r or v2 > v)
            for j, (r2, v2) in enumerate(measured)
        )
    ]


def anchored_curve(
    curve: Sequence[tuple[float, float, float]], anchor: tuple[float, float, float]
) -> list[tuple[float, float, float]]:
    """A predicted (CRF, VMAF, kbps) curve moved onto a measured ``anchor`` (CRF, VMAF, kbps)
    at its height: VMAF shifted and kbps scaled by what the curve misses there (CRF-linear
    between the curve's points, held at its ends)."""
    pts = sorted(curve)
    qs = [p[0] for p in pts]
    q, vmaf, kbps = anchor
    dv = vmaf - float(np.interp(q, qs, [p[1] for p in pts]))
    scale = kbps / math.exp(float(np.interp(q, qs, np.log([p[2] for p in pts]))))
    return [(c, v + dv, k * scale) for c, v, k in pts]


def cheapest_height(
    curves: Mapping[int, Sequence[tuple[float, float, float]]], target_vmaf: float
) -> tuple[int, float, float] | None:
    """(height, CRF, kbps) where a height's predicted (CRF, VMAF, kbps) curve reaches
    ``target_vmaf`` for the fewest kbps (log-kbps and CRF linear in VMAF between the curve's
    points); None where no curve reaches it."""
    best: tuple[int, float, float] | None = None
    for height, curve in sorted(curves.items()):
        pts = sorted(curve, key=lambda p: p[1])  # by VMAF, rising
        vs = np.array([p[1] for p in pts], float)
        if len(pts) < 2 or not vs[0] <= target_vmaf <= vs[-1]:
            continue
        crf = float(np.interp(target_vmaf, vs, [p[0] for p in pts]))
        kbps = math.exp(float(np.interp(target_vmaf, vs, np.log([p[2] for p in pts]))))
        if best is None or kbps < best[2]:
            best = (height, crf, kbps)
    return best
