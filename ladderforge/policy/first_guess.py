"""Where each rung's closed loop starts: the model's CRF for the target (:func:`first_q`), the
top rung aimed at ``top_vmaf`` itself (:func:`aim_top`), and a rung at the height of an earlier
one corrected by a share of that rung's measured error (:func:`carried_first_q`). Pure
functions of the model's curve and the recorded measurements; the loop's later steps are in
:mod:`ladderforge.policy.target`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from ladderforge.errors import UsageError
from ladderforge.policy.curve import MAX_STEP, ModelCurve, quantise
from ladderforge.policy.ladder import RungSpacing, point_from_rung
from ladderforge.policy.target import next_q
from ladderforge.types import Rung, RungAttempt

__all__ = [
    "CARRY",
    "TOP_REACH",
    "aim_top",
    "carried_first_q",
    "curve_error",
    "first_q",
    "first_q_from_points",
]


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
        model = ModelCurve(curve)
        q = float(np.interp(target, model.vs[::-1], model.qs[::-1]))
    else:
        q = default if default is not None else (q_min + q_max) / 2
    return quantise(min(max(q, q_min), q_max), fractional)


def first_q_from_points(
    points: Sequence[RungAttempt],
    target: float,
    *,
    curve: Sequence[tuple[float, float]],
    q_min: float,
    q_max: float,
    fractional: bool = True,
    tolerance: float = 0.0,
) -> float | None:
    """The first CRF of a rung at a height where whole renditions of the title were measured
    already (probes of the whole title, rungs at that height): the CRF of the point nearest
    ``target`` where it lies within ``tolerance`` of it, else the closed loop's next step
    (:func:`ladderforge.policy.target.next_q`) as if they were the rung's own attempts, the
    one nearest ``target`` taken last; None without points (or where no step is left)."""
    if not points:
        return None
    ordered = sorted(points, key=lambda a: abs(a.vmaf - target), reverse=True)
    if abs(ordered[-1].vmaf - target) <= tolerance:
        return ordered[-1].q
    return next_q(ordered, target, curve=curve, q_min=q_min, q_max=q_max, fractional=fractional)


CARRY = 0.5
"""The share of an earlier rung's first-encode error, at the same height, that a later rung's
first guess corrects (:func:`carried_first_q`). Whole renditions and the probes' short samples
differ by an amount that holds along a height's curve: in the whole-clip evaluation at 9513f91
(49 titles, x265 veryfast, probe mode; ``experiments/evaluate_ladders/carry.py`` on its ladders)
the first-encode errors of two rungs at one height correlate at 0.72 (a rung and the one before
it at another height: 0.54, and carrying those made things worse). Of the 141 rungs with an
earlier rung at their height, 63 landed within the loop's tolerance at the first encode; aiming
at ``target - share * error`` would have landed 73 (share 0.25), 87 (0.5), 87 (0.75), 78 (1.0),
and 84.6 with the share chosen on the other half of a 2-fold split by title (20 splits). Without
the 6 top rungs declared above the model's best (first encoded by code that 08d02f0 changed):
63 of 135, and 85 at 0.5. The least-squares slope is 0.48. In the sweep replay
(``experiments/model_ladders``, 364 probe-mode rungs on 2-5 s samples, whose probes are the
sample itself) 0.5 is neutral: 1.54 encodes per rung against 1.55, 97.8 % within +-1 either way
(0.25: 1.51; 0.75: 1.59)."""


def curve_error(curve: Sequence[tuple[float, float]], attempt: RungAttempt) -> float | None:
    """The attempt's measured VMAF minus the model's ``curve`` at its CRF (the curve continued
    beyond its ends); None without a curve."""
    if not curve:
        return None
    return attempt.vmaf - ModelCurve(curve).vmaf(attempt.q)


def carried_first_q(
    curve: Sequence[tuple[float, float]],
    q: float,
    error: float,
    *,
    q_min: float,
    q_max: float,
    fractional: bool = True,
    share: float = CARRY,
) -> float:
    """The first CRF of a rung whose own is ``q``, at a height where an earlier rung's first
    encode measured ``error`` VMAF from the model's ``curve`` (:func:`curve_error`): ``q``
    moved along the curve (continued beyond its ends) to where the model predicts ``share *
    error`` less than at ``q``, so that the measured VMAF lands where the model put ``q``'s.
    Anchored on ``q``, not on the rung's target: a top rung declared above the model's best
    (:func:`aim_top`) starts at its own CRF, which no point of the curve reaches. ``q`` itself
    beyond a flat end, at most :data:`~ladderforge.policy.curve.MAX_STEP` away, quantised."""
    if not math.isfinite(error):
        raise UsageError(f"The 'error' parameter of carried_first_q must be finite. Got {error!r}.")
    if not curve or share * error == 0:
        return q
    model = ModelCurve(curve)
    moved = model.crf(model.vmaf(q) - share * error)
    if moved is None:
        return q
    moved = min(max(moved, q - MAX_STEP), q + MAX_STEP)
    return quantise(min(max(moved, q_min), q_max), fractional)


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
    margin: float = 0.0,
) -> tuple[list[Rung], list[str]]:
    """The rungs of a closed-loop ladder with the top one declared at ``top_vmaf + margin``,
    and notes. With ``margin`` = the loop's tolerance, the window the loop accepts lies at or
    above ``top_vmaf``: the top rung promises ``top_vmaf`` as a floor, as the ladder rules
    read it when they choose the top among measured points (exhaustive mode), and as
    crf-search tools read a minimum VMAF.

    ``curve``: the model's (CRF, VMAF, kbps) at the top rung's height. The ladder rules choose
    the top rung as the cheapest candidate reaching ``top_vmaf`` on the model's CRF grid, or
    the best candidate when none does; the loop can land between the grid's CRFs, so:

    - at or above ``top_vmaf``: the rung moves to the CRF where the curve reaches the declared
      VMAF (encoders that take fractional CRFs only: an integer encoder's grid is its own);
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
    model = ModelCurve([(q, v) for q, v, _ in curve])
    here = float(top.settings.q or 0)
    goal = top_vmaf + margin
    notes: list[str] = []
    beyond = goal > float(model.vs[0])  # above the curve's best point: continued, so unsure
    if top.vmaf >= top_vmaf and (fractional or top.vmaf < goal):
        reach = model.crf(goal)
        if reach is None:  # beyond a flat best end: declared there, first encode at the grid's
            reach = here
        q = min(max(reach, q_min), q_max)
        # an integer encoder moves to the whole CRF at or below the crossing (at least goal)
        q = quantise(q, True) if fractional else float(math.floor(q))
        if q <= here and goal <= top.vmaf:  # the curve's crossing is the grid's CRF
            return rungs, []
        if margin:
            notes.append(
                f"top rung declared at VMAF {goal:g}, top_vmaf {top_vmaf:g} plus the loop's "
                f"tolerance: the window its loop accepts starts at {top_vmaf:g}"
            )
    elif (
        top.vmaf < top_vmaf and full_height and len(rungs) > 1 and top_vmaf - top.vmaf <= TOP_REACH
    ):
        reach = model.crf(goal)  # the curve continued along its flattening end
        if reach is None:
            return rungs, []
        q = min(quantise(min(max(reach, q_min), q_max), fractional), here)
        beyond = True
        notes.append(
            f"top rung declared at VMAF {goal:g}: the model's best, VMAF {top.vmaf:.2f} at "
            f"CRF {here:g}, is within {TOP_REACH:g} of {top_vmaf:g}; its kbps is the curve's, "
            f"continued, at CRF {max(q, here - MAX_STEP):g}"
        )
    else:
        return rungs, []
    pts = sorted(curve)
    # the kbps of a CRF beyond the curve is continued at most MAX_STEP past the rung's own
    log_kbps = _line(
        max(q, here - MAX_STEP), np.array([p[0] for p in pts]), np.log([p[2] for p in pts])
    )
    # beyond the curve's best point the first encode stays at the rung's own CRF, where the
    # model flattens (and most often underestimates): a continued flat end overshoots by
    # several CRF steps
    start = here if beyond else q
    moved = replace(
        top, settings=top.settings.with_(q=start), bitrate_kbps=math.exp(log_kbps), vmaf=goal
    )
    if len(rungs) > 1 and not spacing.allowed(point_from_rung(rungs[-2]), point_from_rung(moved)):
        return rungs, []
    return [*rungs[:-1], moved], notes
