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

import numpy as np

from ladderforge.errors import UsageError
from ladderforge.policy.ladder import RungSpacing, point_from_rung
from ladderforge.types import Rung, RungAttempt

__all__ = [
    "CARRY",
    "DEFAULT_SLOPE",
    "TOP_REACH",
    "aim_top",
    "as_plain",
    "carried_first_q",
    "curve_error",
    "first_q",
    "next_q",
    "pick",
    "pick_enhanced",
    "stage_bounded",
    "within",
]

DEFAULT_SLOPE = -1.0
"""VMAF per CRF step when nothing better is known (x265 around VMAF 85-95 on the corpus)."""
_MIN_SLOPE = -0.05  # flatter than this (or rising) is measurement noise: use the model's slope
_MAX_STEP = 10.0  # never jump further than this many CRF steps in one correction
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


def _quantise(q: float, fractional: bool) -> float:
    return round(q, 1) if fractional else float(round(q))


def _secant_pair(attempts: Sequence[RungAttempt], target: float) -> tuple[RungAttempt, ...]:
    """Two attempts to draw the secant through: a bracketing pair if there is one (the
    tightest), else the two most recent with different q."""
    above = [a for a in attempts if a.vmaf > target]
    below = [a for a in attempts if a.vmaf < target]
    if above and below:
        return (min(above, key=lambda a: a.vmaf), max(below, key=lambda a: a.vmaf))
    distinct = {a.q: a for a in attempts}
    return tuple(list(distinct.values())[-2:])


def _falling(qs: np.ndarray, vs: np.ndarray) -> float | None:
    """The slope of a two-point segment, None when flatter than ``_MIN_SLOPE`` (or the two
    CRFs are one)."""
    if qs[1] <= qs[0]:
        return None
    slope = float((vs[1] - vs[0]) / (qs[1] - qs[0]))
    return slope if slope < _MIN_SLOPE else None


class _Curve:
    """The model's (CRF, VMAF) curve, falling with CRF, continued beyond its ends along the
    slope of its end segments (the model's own slope there: the loop's corrections often
    leave the candidate grid, at the bottom rung's low VMAF most of all)."""

    def __init__(self, curve: Sequence[tuple[float, float]]) -> None:
        pts = sorted(curve)
        self.qs = np.array([p[0] for p in pts], float)
        self.vs = np.minimum.accumulate(np.array([p[1] for p in pts], float))
        # VMAF per CRF step below and above the curve; None where the end is flat (a saturated
        # end, VMAF near 100: continuing it would jump; the secant does better there)
        self.low: float | None = None
        self.high: float | None = None
        if len(pts) >= 2:
            self.low = _falling(self.qs[:2], self.vs[:2])
            self.high = _falling(self.qs[-2:], self.vs[-2:])

    def vmaf(self, q: float) -> float:
        """The curve at ``q`` (its end value beyond a flat end)."""
        qs, vs = self.qs, self.vs
        if q < qs[0] and self.low is not None:
            return float(vs[0] + (q - qs[0]) * self.low)
        if q > qs[-1] and self.high is not None:
            return float(vs[-1] + (q - qs[-1]) * self.high)
        return float(np.interp(q, qs, vs))

    def crf(self, vmaf: float) -> float | None:
        """Where the curve reaches ``vmaf``; None beyond a flat end, or for a flat curve."""
        qs, vs = self.qs, self.vs
        if len(qs) < 2 or np.ptp(vs) == 0:
            return None
        if vmaf > vs[0]:
            return None if self.low is None else float(qs[0] + (vmaf - vs[0]) / self.low)
        if vmaf < vs[-1]:
            return None if self.high is None else float(qs[-1] + (vmaf - vs[-1]) / self.high)
        return float(np.interp(vmaf, vs[::-1], qs[::-1]))  # vs falls with q: over its reverse


def _on_curve(
    curve: Sequence[tuple[float, float]], pair: Sequence[RungAttempt], target: float
) -> float | None:
    """The CRF where the model curve (continued beyond its ends, :class:`_Curve`), corrected
    through the measured ``pair`` (one point: offset; two: offset and scale), reaches
    ``target``; None where the curve is flat."""
    model = _Curve(curve)
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
        if measured < _MIN_SLOPE:
            s = measured
    s = min(s, _MIN_SLOPE)
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
    q = min(max(q, last.q - _MAX_STEP), last.q + _MAX_STEP)
    if len(pair) == 2 and (pair[0].vmaf - target) * (pair[1].vmaf - target) < 0:
        a, b = sorted(pair, key=lambda p: p.q)
        if not a.q + step <= q <= b.q - step:  # at the bracket's edge: regula falsi instead
            q = a.q + (target - a.vmaf) * (b.q - a.q) / (b.vmaf - a.vmaf)
        q = min(max(q, a.q), b.q)
    q = _quantise(min(max(q, q_min), q_max), fractional)
    tried = {_quantise(a.q, fractional): a for a in attempts}
    if q in tried:  # rounding landed on a tried q: one unit further, towards the target
        q = _quantise(q + (step if tried[q].vmaf > target else -step), fractional)
        if q in tried or not q_min <= q <= q_max:
            return None
    return q


def pick(attempts: Sequence[RungAttempt], target: float, tolerance: float) -> RungAttempt:
    """The attempt to ship: the cheapest within tolerance, else the closest to the target."""
    if not attempts:
        raise UsageError("The 'attempts' parameter of pick must not be empty.")
    good = [a for a in attempts if within(a.vmaf, target, tolerance)]
    if good:
        return min(good, key=lambda a: a.kbps)
    return min(attempts, key=lambda a: abs(a.vmaf - target))


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
    q = _quantise(q, fractional)
    tried = {_quantise(a.q, fractional) for a in attempts}
    if q in tried or (above and q >= min(above)) or (below and q <= max(below)):
        return None
    return q


def first_q(
    curve: Sequence[tuple[float, float]],
    target: float,
    *,
    q_min: float,
    q_max: float,
    fractional: bool = True,
    default: float | None = None,
) -> float:
    """The first guess: where the model's (CRF, VMAF) ``curve`` reaches ``target`` (its best or
    worst CRF when the target lies outside it); ``default`` (else the middle of the range)
    without a curve."""
    if curve:
        model = _Curve(curve)
        q = float(np.interp(target, model.vs[::-1], model.qs[::-1]))
    else:
        q = default if default is not None else (q_min + q_max) / 2
    return _quantise(min(max(q, q_min), q_max), fractional)


CARRY = 0.5
"""The share of an earlier rung's first-encode error, at the same height, that a later rung's
first guess corrects (:func:`carried_first_q`). Whole renditions and the probes' short samples
differ by an amount that holds along a height's curve: in the whole-clip evaluation at 9513f91
(49 titles, x265 veryfast, probe mode; ``experiments/evaluate_ladders/carry.py`` on its ladders)
the first-encode errors of two rungs at one height correlate at 0.72 (a rung and the one before
it at another height: 0.54, and carrying those made things worse). Of the 141 rungs with an
earlier rung at their height, 63 landed within the loop's tolerance at the first encode; aiming
at ``target - share * error`` would have landed 73 (share 0.25), 87 (0.5), 87 (0.75), 78 (1.0),
and 84.6 with the share chosen on the other half of a 2-fold split by title (20 splits). The
least-squares slope is 0.48. In the sweep replay (``experiments/model_ladders``, 364 probe-mode
rungs on 2-5 s samples, whose probes are the sample itself) 0.5 is neutral: 1.54 encodes per
rung against 1.55, 97.8 % within +-1 either way (0.25: 1.51; 0.75: 1.59)."""


def curve_error(curve: Sequence[tuple[float, float]], attempt: RungAttempt) -> float | None:
    """The attempt's measured VMAF minus the model's ``curve`` at its CRF (the curve continued
    beyond its ends); None without a curve."""
    if not curve:
        return None
    return attempt.vmaf - _Curve(curve).vmaf(attempt.q)


def carried_first_q(
    curve: Sequence[tuple[float, float]],
    target: float,
    error: float,
    *,
    q_min: float,
    q_max: float,
    fractional: bool = True,
    share: float = CARRY,
) -> float:
    """The first guess of a rung at a height where an earlier rung's first encode measured
    ``error`` (:func:`curve_error`): where the model's curve reaches ``target - share *
    error`` (:func:`first_q`)."""
    if not math.isfinite(error):
        raise UsageError(f"The 'error' parameter of carried_first_q must be finite. Got {error!r}.")
    return first_q(curve, target - share * error, q_min=q_min, q_max=q_max, fractional=fractional)


TOP_REACH = 2.0
"""A top rung the model puts at most this far below ``top_vmaf`` (no candidate reached it)
still declares ``top_vmaf`` at the source's height (:func:`aim_top`): about twice the error of
probe mode's calibrated predictions (~1 VMAF). Further below, 95 is out of the model's sight and
chasing it would leave the ladder's rules (rate ratios, cost) far behind."""


def _line(q: float, qs: np.ndarray, ys: np.ndarray) -> float:
    """``ys`` over ``qs`` at ``q``: linear between the points, along the end segments beyond."""
    if len(qs) >= 2 and q < qs[0] and qs[1] > qs[0]:
        return float(ys[0] + (q - qs[0]) * (ys[1] - ys[0]) / (qs[1] - qs[0]))
    if len(qs) >= 2 and q > qs[-1] and qs[-1] > qs[-2]:
        return float(ys[-1] + (q - qs[-1]) * (ys[-1] - ys[-2]) / (qs[-1] - qs[-2]))
    return float(np.interp(q, qs, ys))


def aim_top(
    rungs: Sequence[Rung],
    curve: Sequence[tuple[float, float, float]],
    *,
    top_vmaf: float,
    spacing: RungSpacing,
    q_min: float,
    q_max: float,
    fractional: bool,
    full_height: bool,
) -> tuple[list[Rung], list[str]]:
    """The rungs of a closed-loop ladder with the top one declared at ``top_vmaf``, and notes.

    ``curve``: the model's (CRF, VMAF, kbps) at the top rung's height. The ladder rules choose
    the top rung as the cheapest candidate reaching ``top_vmaf`` on the model's CRF grid, or
    the best candidate when none does; the loop can land between the grid's CRFs, so:

    - above ``top_vmaf``: the rung moves to the CRF where the curve reaches it (encoders that
      take fractional CRFs only: an integer encoder's grid is its own);
    - below it by at most :data:`TOP_REACH`, at the source's height (``full_height``), in a
      ladder of more than one rung: the rung declares ``top_vmaf`` from its own CRF, so that
      the loop steers up to it rather than down onto the prediction (with a note); its kbps is
      where the curve, continued along its best end's slope, reaches ``top_vmaf`` (a first
      encode there would overshoot: the model flattens at its best end, and most often
      underestimates there).

    Its kbps is the curve's (log-kbps linear in CRF). Unchanged otherwise, or where the
    move would break the spacing rules with the rung below (by prediction)."""
    rungs = list(rungs)
    if not rungs or not curve:
        return rungs, []
    top = rungs[-1]
    model = _Curve([(q, v) for q, v, _ in curve])
    here = float(top.settings.q or 0)
    notes: list[str] = []
    if top.vmaf > top_vmaf and fractional:
        q = model.crf(top_vmaf)
        if q is None:
            return rungs, []
        q = _quantise(min(max(q, q_min), q_max), True)
        if q <= here:
            return rungs, []
    elif (
        top.vmaf < top_vmaf and full_height and len(rungs) > 1 and top_vmaf - top.vmaf <= TOP_REACH
    ):
        reach = model.crf(top_vmaf)  # the curve continued along its flattening end
        if reach is None:
            return rungs, []
        q = min(_quantise(min(max(reach, q_min), q_max), fractional), here)
        notes.append(
            f"top rung declared at VMAF {top_vmaf:g}: the model's best, VMAF {top.vmaf:.2f} at "
            f"CRF {here:g}, is within {TOP_REACH:g} of it; its kbps is the curve's, continued, "
            f"at CRF {q:g}"
        )
    else:
        return rungs, []
    pts = sorted(curve)
    log_kbps = _line(q, np.array([p[0] for p in pts]), np.log([p[2] for p in pts]))
    # below: the first encode stays at the best candidate's CRF, where the model flattens (and
    # most often underestimates): a continued flat end overshoots by several CRF steps
    start = q if top.vmaf > top_vmaf else here
    moved = replace(
        top, settings=top.settings.with_(q=start), bitrate_kbps=math.exp(log_kbps), vmaf=top_vmaf
    )
    if len(rungs) > 1 and not spacing.allowed(point_from_rung(rungs[-2]), point_from_rung(moved)):
        return rungs, []
    return [*rungs[:-1], moved], notes
