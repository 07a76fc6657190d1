"""Chunk curves anchored on the first pass: the model's shape, the measured level.

After a rung's first encode every chunk has one measured point (its kbps and VMAF at the rung's
CRF). Each chunk's predicted curve is moved onto that point: VMAF by the difference (the model's
error for this chunk at this CRF), bitrate by the ratio (rate errors are multiplicative). The
slope stays the model's; the level, which is where per-chunk predictions miss most, is
measured. The anchored curves then go to the same equal-slope allocation as measured curves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from ladderforge.errors import UsageError
from ladderforge.policy.per_scene.allocation import SceneOption

__all__ = ["anchor_curves", "anchor_on_points", "should_keep_per_scene"]


def anchor_curves(
    predicted: Sequence[Sequence[SceneOption]],
    measured: Sequence[SceneOption],
    q: float,
) -> list[list[SceneOption]]:
    """Each chunk's predicted options shifted onto its measured point at ``q`` (every
    ``predicted[i]`` must hold an option at ``q``); the option at ``q`` becomes the measured
    point itself, VMAF is capped at 100 and the bitrate stays positive."""
    if len(predicted) != len(measured):
        raise UsageError.parameter(
            "anchor_curves", "measured", f"{len(predicted)} chunk points", measured
        )
    out = []
    for options, point in zip(predicted, measured, strict=True):
        at_q = next((o for o in options if o.q == q), None)
        if at_q is None or at_q.kbps <= 0:
            raise UsageError.parameter(
                "anchor_curves", "predicted", f"an option at q={q:g} per chunk", options
            )
        dv, rk = point.vmaf - at_q.vmaf, point.kbps / at_q.kbps
        out.append(
            [
                replace(point, q=q)
                if o.q == q
                else replace(o, vmaf=min(100.0, o.vmaf + dv), kbps=max(1e-6, o.kbps * rk))
                for o in options
            ]
        )
    return out


def anchor_on_points(
    options: Sequence[SceneOption], points: Sequence[SceneOption]
) -> list[SceneOption]:
    """One chunk's predicted ``options`` moved onto its measured ``points`` (at least one).

    The model's errors at the measured CRFs (VMAF as a difference, bitrate as a log ratio) are
    interpolated linearly in CRF between the measured CRFs and held flat beyond them; each
    option gets the error at its CRF. The measured points are options themselves (in place of
    a prediction at the same CRF); the prediction at a measured CRF off the options' grid is
    interpolated from its neighbours. VMAF is capped at 100 and the bitrate stays positive.
    Returned in ascending CRF."""
    if not points:
        raise UsageError.parameter("anchor_on_points", "points", "at least one point", points)
    grid = sorted(options, key=lambda o: o.q)
    if not grid or any(o.kbps <= 0 for o in grid):
        raise UsageError.parameter(
            "anchor_on_points", "options", "options with positive bitrates", options
        )
    qs = [o.q for o in grid]
    log_k = [math.log(o.kbps) for o in grid]
    by_q = {p.q: p for p in points}
    mq = sorted(by_q)
    dv = [by_q[q].vmaf - float(np.interp(q, qs, [o.vmaf for o in grid])) for q in mq]
    dk = [math.log(by_q[q].kbps) - float(np.interp(q, qs, log_k)) for q in mq]
    out = list(by_q.values())
    for o in grid:
        if o.q in by_q:
            continue
        v = o.vmaf + float(np.interp(o.q, mq, dv))
        k = o.kbps * math.exp(float(np.interp(o.q, mq, dk)))
        out.append(replace(o, vmaf=min(100.0, v), kbps=max(1e-6, k)))
    return sorted(out, key=lambda o: o.q)


def should_keep_per_scene(
    single_kbps: float,
    single_vmaf: float,
    per_scene_kbps: float,
    per_scene_vmaf: float,
    *,
    vmaf_margin: float = 0.25,
) -> bool:
    """The safeguard, on measured figures of the whole rendition: the per-scene encode ships
    only when it is no dearer than the single-CRF encode and at most ``vmaf_margin`` lower."""
    return per_scene_kbps <= single_kbps and per_scene_vmaf >= single_vmaf - vmaf_margin
