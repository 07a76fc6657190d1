"""The model's predicted (CRF, VMAF) curve at one height, as the closed loop reads it: falling
with CRF, continued beyond its ends along its end segments' slopes, inverted to the CRF where it
reaches a VMAF. Shared by :mod:`ladderforge.policy.target` (the loop's corrections) and
:mod:`ladderforge.policy.first_guess` (where each rung's loop starts)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["MAX_STEP", "MIN_SLOPE", "ModelCurve", "quantise"]

MIN_SLOPE = -0.05
"""VMAF per CRF step: flatter than this (or rising) is measurement noise or a saturated end."""
MAX_STEP = 10.0
"""The most CRF steps one correction moves."""


def quantise(q: float, fractional: bool) -> float:
    """A CRF as the encoder takes it: to a tenth, or whole."""
    return round(q, 1) if fractional else float(round(q))


def _falling(qs: np.ndarray, vs: np.ndarray) -> float | None:
    """The slope of a two-point segment, None when flatter than ``MIN_SLOPE`` (or the two
    CRFs are one)."""
    if qs[1] <= qs[0]:
        return None
    slope = float((vs[1] - vs[0]) / (qs[1] - qs[0]))
    return slope if slope < MIN_SLOPE else None


class ModelCurve:
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
