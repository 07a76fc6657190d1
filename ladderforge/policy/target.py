"""Closed-loop quality targeting: which CRF to try next, and which attempt to ship.

A rung (or a whole clip) has a declared target VMAF. The model's prediction is the first guess;
each attempt is encoded and measured as shipped; :func:`next_q` proposes the next CRF from what
was measured. Given the model's predicted curve (VMAF over CRF at the rung's height), the first
correction shifts the curve onto the measured point and reads the CRF where it crosses the
target (the model's shape, curvature included); with two measured points the curve is corrected
by offset and scale through them (the tightest bracketing pair when there is one; inside a
bracket the curve may bend the step only a little away from the straight line between the two
measured points, else the line is taken: a saturated or biased model's shape misleads). Beyond
its ends the curve is continued along its end segments' slopes (the model's slope there), since
corrections at a bottom rung's low VMAF often leave the candidate grid. Without a curve (or a
flat one) it steps along ``slope`` and then the secant through two measured attempts (regula
falsi inside a bracket). :func:`pick` ships the cheapest
attempt within tolerance, else the one closest to the target. Pure functions of the recorded
attempts: tested on recorded CRF -> VMAF tables.

Enhanced ladders (``ladder --enhanced``): an attempt's ``vmaf`` is its delivered VMAF (after the
enhancement stage where the stage is on) and ``plain_vmaf`` its VMAF without the stage. The
delivered VMAF jumps down where the guard switches the stage off, so :func:`stage_bounded` keeps
the next CRF short of a CRF where the stage was measured off, and :func:`pick_enhanced` ships
only an attempt on target with the stage on, or whose plain VMAF is itself on target (never a
rung worse for every player than the plain ladder's); where there is none the caller steers on
:func:`as_plain` attempts, as without the stage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from ladderforge.errors import UsageError
from ladderforge.policy.curve import MAX_STEP, MIN_SLOPE, ModelCurve, quantise
from ladderforge.types import RungAttempt

__all__ = [
    "DEFAULT_SLOPE",
    "as_plain",
    "next_q",
    "pick",
    "pick_enhanced",
    "stage_bounded",
    "within",
]

DEFAULT_SLOPE = -1.0
"""VMAF per CRF step when nothing better is known (x265 around VMAF 85-95 on the corpus)."""
_BEND = 0.25
"""Inside a bracket, how far (a share of the way to either end) the model's curve may move the
next CRF from the straight line through the two measured points. Chosen on the recorded curves
of tests/policy/recorded_curves.py with models off by -8..+8 VMAF, stretched +-25 % and clipped
at 100, as probe mode's calibration clips them (315 searches, ``experiments/closed_loop_search``):
13 misses trusting the curve anywhere in the bracket, 20 on the line alone, 4 with 0.25. On the
held-out models and measured sweeps of ``experiments/model_ladders`` (364 probe-mode rungs) it
is neutral: 97.8 % of rungs within +-1 VMAF with 0.25, 98.4 % trusting the curve, 97.5 % on the
line, 1.54 encodes per rung in all three."""


def within(vmaf: float, target: float, tolerance: float) -> bool:
    """Whether ``vmaf`` lies in ``[target - tolerance, target + tolerance]``."""
    return abs(vmaf - target) <= tolerance + 1e-9


def _secant_pair(attempts: Sequence[RungAttempt], target: float) -> tuple[RungAttempt, ...]:
    """Two attempts to draw the secant through: a bracketing pair if there is one (the
    tightest), else the two most recent with different q."""
    above = [a for a in attempts if a.vmaf > target]
    below = [a for a in attempts if a.vmaf < target]
    if above and below:
        return (min(above, key=lambda a: a.vmaf), max(below, key=lambda a: a.vmaf))
    distinct = {a.q: a for a in attempts}
    return tuple(list(distinct.values())[-2:])


def _on_curve(
    curve: Sequence[tuple[float, float]], pair: Sequence[RungAttempt], target: float
) -> float | None:
    """The CRF where the model curve (continued beyond its ends, :class:`ModelCurve`), corrected
    through the measured ``pair`` (one point: offset; two: offset and scale), reaches
    ``target``; None where the curve is flat."""
    model = ModelCurve(curve)
    f = model.vmaf
    scale = 1.0
    if len(pair) == 2 and abs(f(pair[1].q) - f(pair[0].q)) > 1e-6:
        scale = (pair[1].vmaf - pair[0].vmaf) / (f(pair[1].q) - f(pair[0].q))
        if not 0.3 <= scale <= 3.0:
            scale = 1.0  # a wild scale is noise: keep the model's shape, fix the offset only
    base = pair[-1]
    want = f(base.q) + (target - base.vmaf) / scale  # model VMAF that maps onto the target
    return model.crf(want)


def _trusted_in_bracket(q: float, pair: Sequence[RungAttempt], target: float) -> float | None:
    """Inside a bracket, the corrected curve's ``q`` where it lies within ``_BEND`` of the way
    from the straight line's crossing (regula falsi) to either end; None (the straight line)
    where the model bends further: its shape there is not the clip's (a saturated or biased
    model), and the line between two measured points is the safer guess."""
    a, b = sorted(pair, key=lambda p: p.q)
    if (a.vmaf - target) * (b.vmaf - target) >= 0 or a.vmaf == b.vmaf:
        return q
    line = a.q + (target - a.vmaf) * (b.q - a.q) / (b.vmaf - a.vmaf)
    low, high = line - _BEND * (line - a.q), line + _BEND * (b.q - line)
    return q if low <= q <= high else None


def next_q(
    attempts: Sequence[RungAttempt],
    target: float,
    *,
    slope: float = DEFAULT_SLOPE,
    curve: Sequence[tuple[float, float]] = (),
    q_min: float,
    q_max: float,
    fractional: bool = True,
) -> float | None:
    """The next CRF/CQ to try, or None when no new attempt can help (the proposal was tried
    already, or a bound of the encoder's range stops the search). ``curve``: the model's
    (CRF, VMAF) predictions at this height, when known; ``slope``: VMAF per CRF step, used
    without a curve."""
    if not attempts:
        raise UsageError("The 'attempts' parameter of next_q must not be empty.")
    if not math.isfinite(target):
        raise UsageError(f"The 'target' parameter of next_q must be finite. Got {target!r}.")
    last = attempts[-1]
    pair = _secant_pair(attempts, target)
    on_curve = _on_curve(curve, pair if len(pair) == 2 else (last,), target) if curve else None
    if on_curve is not None and len(pair) == 2:
        on_curve = _trusted_in_bracket(on_curve, pair, target)
    if on_curve is not None:
        return _finish(on_curve, attempts, pair, target, q_min, q_max, fractional)
    s = slope
    if len(pair) == 2 and pair[0].q != pair[1].q:
        measured = (pair[1].vmaf - pair[0].vmaf) / (pair[1].q - pair[0].q)
        if measured < MIN_SLOPE:
            s = measured
    s = min(s, MIN_SLOPE)
    base = pair[-1] if len(pair) == 2 else last
    return _finish(
        base.q + (target - base.vmaf) / s, attempts, pair, target, q_min, q_max, fractional
    )


def _finish(
    q: float,
    attempts: Sequence[RungAttempt],
    pair: Sequence[RungAttempt],
    target: float,
    q_min: float,
    q_max: float,
    fractional: bool,
) -> float | None:
    """Bounded step, kept inside a bracket and the encoder's range, quantised, not repeated."""
    last = attempts[-1]
    step = 0.1 if fractional else 1.0
    q = min(max(q, last.q - MAX_STEP), last.q + MAX_STEP)
    if len(pair) == 2 and (pair[0].vmaf - target) * (pair[1].vmaf - target) < 0:
        a, b = sorted(pair, key=lambda p: p.q)
        if not a.q + step <= q <= b.q - step:  # at the bracket's edge: regula falsi instead
            q = a.q + (target - a.vmaf) * (b.q - a.q) / (b.vmaf - a.vmaf)
        q = min(max(q, a.q), b.q)
    q = quantise(min(max(q, q_min), q_max), fractional)
    tried = {quantise(a.q, fractional): a for a in attempts}
    if q in tried:  # rounding landed on a tried q: one unit further, towards the target
        q = quantise(q + (step if tried[q].vmaf > target else -step), fractional)
        if q in tried or not q_min <= q <= q_max:
            return None
    return q


def pick(
    attempts: Sequence[RungAttempt],
    target: float,
    tolerance: float,
    *,
    floor: float | None = None,
) -> RungAttempt:
    """The attempt to ship: the cheapest within tolerance, else the closest to the target
    (with ``floor``: the closest of those at or above it, where there is one: a top rung
    promises ``top_vmaf`` as a floor)."""
    if not attempts:
        raise UsageError("The 'attempts' parameter of pick must not be empty.")
    good = [a for a in attempts if within(a.vmaf, target, tolerance)]
    if good:
        return min(good, key=lambda a: a.kbps)
    above = [a for a in attempts if floor is not None and a.vmaf >= floor]
    return min(above or attempts, key=lambda a: abs(a.vmaf - target))


def pick_enhanced(
    attempts: Sequence[RungAttempt], target: float, tolerance: float
) -> RungAttempt | None:
    """Enhanced ladders: the cheapest attempt within tolerance with the stage on (delivered
    VMAF), or whose plain VMAF is within tolerance itself; None when there is none (then steer
    on :func:`as_plain` attempts and :func:`pick` among them). An attempt where the guard
    switched the stage off is never shipped below the target on the strength of being closest."""
    if not attempts:
        raise UsageError("The 'attempts' parameter of pick_enhanced must not be empty.")
    good = [
        a
        for a in attempts
        if (a.stage_on and within(a.vmaf, target, tolerance))
        or (a.plain_vmaf is not None and within(a.plain_vmaf, target, tolerance))
    ]
    return min(good, key=lambda a: a.kbps) if good else None


def as_plain(attempts: Sequence[RungAttempt]) -> list[RungAttempt]:
    """The attempts as a player without the stage sees them (``vmaf`` = ``plain_vmaf``), to
    steer and pick on as without ``--enhanced``."""
    return [replace(a, vmaf=a.plain_vmaf) if a.plain_vmaf is not None else a for a in attempts]


def stage_bounded(
    q: float, attempts: Sequence[RungAttempt], *, fractional: bool = True
) -> float | None:
    """Enhanced ladders: the proposed ``q`` kept strictly between the CRFs where the stage was
    measured off nearest to those where it was on (the delivered VMAF is not one curve across
    such a CRF), quantised; None when no untried CRF is left there. Unchanged while no attempt
    has the stage on."""
    on = [a.q for a in attempts if a.stage_on]
    if not on:
        return q
    off = [a.q for a in attempts if not a.stage_on]
    step = 0.1 if fractional else 1.0
    above = [x for x in off if x > max(on)]
    below = [x for x in off if x < min(on)]
    if above:
        q = min(q, min(above) - step)
    if below:
        q = max(q, max(below) + step)
    q = quantise(q, fractional)
    tried = {quantise(a.q, fractional) for a in attempts}
    if q in tried or (above and q >= min(above)) or (below and q <= max(below)):
        return None
    return q
