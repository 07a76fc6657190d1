"""Probe planning and calibration: a few short real encodes correct the predicted RD surface.

Which segments to probe and how to correct a prediction is policy (pure functions, tested on
recorded values); running the probe encodes is the pipeline's job.

- :func:`plan_probe_segments` picks short segments from the scene list that span its complexity
  (the easiest, the median and the hardest scene by texture and motion);
  :func:`probe_segment_weights` says how much of the title each stands for
  (:func:`plan_weighted_segments`: both together).
- :func:`fit_calibration` turns probe results (predicted vs measured, per height and CRF) into a
  per-height correction: an offset and a slope in CRF for VMAF and for log2 rate (slope only
  where a height was probed at two CRFs or more). Heights between two probed heights get the
  corrections interpolated in log2(height); beyond them, the nearest probed height's.
- :meth:`Calibration.apply` corrects a height's predicted curve. Its VMAF moves *along* the
  model's curve: the VMAF error at each probed CRF (the two ends of the probed range where a
  height was probed at two CRFs) becomes the shift in CRF that puts the curve on the measured
  VMAF; the shifts are interpolated between those CRFs and held beyond them, and the curve is
  read at the shifted CRFs, so the correction keeps the curve's shape (steep at high CRFs,
  flat near 100). Replayed on the measured datasets (``experiments/calibration_shape``,
  probes at CRF 25/34, each title's model held out), the first guesses within 0.75 VMAF rise
  from 61-63 % to 70-72 % at CRF 16-22 and from 60-61 % to 64-70 % at CRF 25-37 against a
  vertical line; at CRF 40-46 both leave about 2.6 VMAF, and a third probe at CRF 43 about
  1.3-1.6. Where a shift is undefined (a curve given at fewer than two CRFs, a flat curve, a
  shift over :data:`MAX_SHIFT`) the error is added vertically. Rates keep the line in log2.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ladderforge.errors import UsageError

__all__ = [
    "MAX_SHIFT",
    "MIN_PROBE_S",
    "Calibration",
    "HeightCorrection",
    "ProbeResult",
    "fit_calibration",
    "plan_probe_segments",
    "plan_weighted_segments",
    "probe_segment_s",
    "probe_segment_weights",
]

_SLOPE_LIMIT_VMAF = 1.5
"""Largest |VMAF correction per CRF step| accepted from two probe points."""
_SLOPE_LIMIT_RATE = 0.08
"""Largest |log2-rate correction per CRF step| accepted from two probe points."""


MAX_SHIFT = 8.0
"""The largest move along a curve, in CRF, that :meth:`Calibration.apply` makes of a probe's
VMAF error; beyond it (a curve nearly flat where the probe measured) the error is added as it
is."""


def _complexity(features: Mapping[str, float]) -> float:
    texture = float(features.get("texture_e_mean", 0.0) or 0.0)
    motion = float(features.get("ti_mean", 0.0) or 0.0)
    return math.log1p(max(texture, 0.0)) + math.log1p(max(motion, 0.0))


MIN_PROBE_S = 0.5
"""The shortest probe segment :func:`probe_segment_s` cuts (12 frames at 24 fps)."""


def probe_segment_s(
    segment_s: float, *, duration_s: float, segments: int, share: float | None
) -> float:
    """The length of each probe segment: ``segment_s``, or with ``share`` no longer than the
    title's ``duration_s`` x ``share`` spread over its ``segments`` (never below
    :data:`MIN_PROBE_S` unless ``segment_s`` is): on a short title the probes would otherwise
    cover most of it, at every probed height and CRF, and cost as much as the encodes they
    decide."""
    if share is None:
        return segment_s
    if not 0 < share <= 1 or segments < 1:
        raise UsageError(
            "The 'share' parameter of probe_segment_s must be in (0, 1] and 'segments' at "
            f"least 1. Got {share!r} and {segments!r} instead."
        )
    return min(segment_s, max(MIN_PROBE_S, share * duration_s / segments))


def plan_probe_segments(
    scenes: Sequence[tuple[int, int, Mapping[str, float]]],
    *,
    frame_rate: float,
    n_segments: int = 3,
    segment_s: float = 2.0,
) -> list[tuple[int, int]]:
    """(start, end) frame ranges to probe: up to ``n_segments`` scenes spanning complexity.

    ``scenes`` are (start_frame, end_frame, pooled features). Each segment is the middle
    ``segment_s`` seconds of its scene (the whole scene when shorter). Sorted by start frame.
    """
    if not scenes:
        raise UsageError("plan_probe_segments needs at least one scene.")
    if n_segments < 1 or segment_s <= 0 or frame_rate <= 0:
        raise UsageError("n_segments, segment_s and frame_rate must be positive.")
    ranked = sorted(scenes, key=lambda s: _complexity(s[2]))
    picks = [ranked[i] for i in _picked(len(ranked), n_segments)]
    length = max(1, round(segment_s * frame_rate))
    segments = []
    for start, end, _ in picks:
        if end - start <= length:
            segments.append((start, end))
        else:
            mid = (start + end) // 2
            segments.append((mid - length // 2, mid - length // 2 + length))
    return sorted(segments)


def _picked(count: int, n_segments: int) -> list[int]:
    """The ranks (in complexity) of the scenes :func:`plan_probe_segments` probes."""
    if count <= n_segments:
        return list(range(count))
    if n_segments == 1:
        return [count // 2]
    return sorted({round(i * (count - 1) / (n_segments - 1)) for i in range(n_segments)})


def probe_segment_weights(
    scenes: Sequence[tuple[int, int, Mapping[str, float]]], *, n_segments: int = 3
) -> list[float]:
    """What each segment of :func:`plan_probe_segments` (in its order) stands for: every scene
    goes to the probed scene nearest it in complexity rank (halves to two equally near), and a
    segment weighs the frames of its scenes, scaled so that the weights average 1 (the scenes
    must not overlap, as the analysis's never do). A title's VMAF is a mean over its frames:
    the easiest and the hardest scene of a title made mostly of middling ones should not count
    as much as the middle."""
    if not scenes:
        raise UsageError("probe_segment_weights needs at least one scene.")
    if n_segments < 1:
        raise UsageError("n_segments must be positive.")
    ranked = sorted(scenes, key=lambda s: _complexity(s[2]))
    picked = _picked(len(ranked), n_segments)
    frames = dict.fromkeys(picked, 0.0)
    for rank, (start, end, _) in enumerate(ranked):
        gap = min(abs(p - rank) for p in picked)
        nearest = [p for p in picked if abs(p - rank) == gap]  # a tie splits the scene
        for p in nearest:
            frames[p] += max(end - start, 0) / len(nearest)
    total = sum(frames.values())
    if total <= 0:
        return [1.0] * len(picked)
    by_start = sorted(picked, key=lambda p: ranked[p][0])
    return [frames[p] * len(picked) / total for p in by_start]


def plan_weighted_segments(
    scenes: Sequence[tuple[int, int, Mapping[str, float]]],
    *,
    frame_rate: float,
    n_segments: int = 3,
    segment_s: float = 2.0,
) -> list[tuple[int, int, float]]:
    """(start, end, weight) of each segment of :func:`plan_probe_segments`, with its
    :func:`probe_segment_weights`."""
    segments = plan_probe_segments(
        scenes, frame_rate=frame_rate, n_segments=n_segments, segment_s=segment_s
    )
    weights = probe_segment_weights(scenes, n_segments=n_segments)
    return [(a, b, w) for (a, b), w in zip(segments, weights, strict=True)]


@dataclass(frozen=True)
class ProbeResult:
    """One probe: a segment encoded at one height and CRF, predicted and measured."""

    height: int
    crf: float
    predicted_vmaf: float
    measured_vmaf: float
    predicted_kbps: float
    measured_kbps: float
    weight: float = 1.0
    """The share of the title the probe's segment stands for (:func:`probe_segment_weights`)."""


@dataclass(frozen=True)
class HeightCorrection:
    """The errors the probes saw at one height, a line in CRF each: VMAF a_vmaf + b_vmaf d and
    log2 kbps a_rate + b_rate d, with d = crf - crf0 inside the probed range [crf_lo, crf_hi]
    and held at its end value outside it (a slope seen between two probe CRFs is not
    extrapolated). Where the height was probed at three CRFs or more, ``points`` holds the
    VMAF error at each (weighted mean), and the VMAF's error runs through them instead of the
    line. :meth:`Calibration.apply` adds the rate's; the VMAF's it turns into a move along the
    curve where it can."""

    crf0: float
    a_vmaf: float
    b_vmaf: float
    a_rate: float
    b_rate: float
    crf_lo: float = -math.inf
    crf_hi: float = math.inf
    points: tuple[tuple[float, float], ...] = ()

    def vmaf_error(self, crf: np.ndarray) -> np.ndarray:
        """The VMAF error at ``crf``: through ``points`` where there are three or more, else the
        line; held beyond the probed CRFs."""
        if len(self.points) >= 3:
            return np.interp(crf, [q for q, _ in self.points], [e for _, e in self.points])
        return self.a_vmaf + self.b_vmaf * (np.clip(crf, self.crf_lo, self.crf_hi) - self.crf0)

    def rate_error(self, crf: np.ndarray) -> np.ndarray:
        """The log2-rate error at ``crf``, held beyond the probed CRFs."""
        return self.a_rate + self.b_rate * (np.clip(crf, self.crf_lo, self.crf_hi) - self.crf0)

    def anchors(self) -> list[float]:
        """The CRFs where :meth:`Calibration.apply` turns the VMAF error into a shift: every
        probed CRF with ``points``, else the probed range's ends (none where it is unbounded)."""
        if len(self.points) >= 3:
            return [q for q, _ in self.points]
        if not (math.isfinite(self.crf_lo) and math.isfinite(self.crf_hi)):
            return []
        return sorted({self.crf_lo, self.crf_hi})


@dataclass(frozen=True)
class Calibration:
    """Per-height corrections of a predicted RD surface; ``along_curve`` False adds the VMAF
    errors vertically (through the line of two probed CRFs or the points of three or more),
    kept for comparison."""

    by_height: Mapping[int, HeightCorrection]
    along_curve: bool = True

    def apply(
        self, height: int, crf: np.ndarray, vmaf: np.ndarray, kbps: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Corrected (vmaf, kbps) for one height over an array of CRFs.

        Between two probed heights the corrections are interpolated linearly in log2(height)
        (the CRF shifts, each found on this height's curve, or the vertical errors where a
        shift is undefined); outside them the nearest probed height's correction holds.
        """
        crf = np.asarray(crf, float)
        vmaf, kbps = np.asarray(vmaf, float), np.asarray(kbps, float)
        if not self.by_height:
            return vmaf, kbps
        order = np.argsort(crf, kind="stable")
        if np.any(order != np.arange(len(crf))):  # in CRF order, and back
            v, k = self.apply(height, crf[order], vmaf[order], kbps[order])
            back = np.empty_like(order)
            back[order] = np.arange(len(order))
            return v[back], k[back]
        probed = sorted(self.by_height)
        below = [h for h in probed if h <= height]
        above = [h for h in probed if h >= height]
        if below and above and below[-1] != above[0]:
            lo, hi = below[-1], above[0]
            w = (math.log2(height) - math.log2(lo)) / (math.log2(hi) - math.log2(lo))
            shares = [(self.by_height[lo], 1 - w), (self.by_height[hi], w)]
        else:
            shares = [(self.by_height[below[-1] if below else above[0]], 1.0)]
        dr = sum(share * c.rate_error(crf) for c, share in shares)
        shifts = [_shift(crf, vmaf, c) if self.along_curve else None for c, _ in shares]
        known = [s for s in shifts if s is not None]
        if len(known) == len(shifts):
            moved = np.sum([share * s for s, (_, share) in zip(known, shares, strict=True)], axis=0)
            new_vmaf = _read(crf, np.minimum.accumulate(vmaf), crf + moved)
        else:
            new_vmaf = vmaf + sum(share * c.vmaf_error(crf) for c, share in shares)
        return np.clip(new_vmaf, 0.0, 100.0), kbps * np.exp2(dr)


def _crossing(crf: np.ndarray, curve: np.ndarray, vmaf: float) -> float | None:
    """The CRF where a curve that falls with CRF reaches ``vmaf``: linear between its points,
    continued along its end segments beyond them; None where it never does."""
    for i in range(len(crf) - 1):
        top, bottom = curve[i], curve[i + 1]
        first, last = i == 0, i == len(crf) - 2
        if bottom <= vmaf <= top or (first and vmaf > top) or (last and vmaf < bottom):
            if top <= bottom:
                return float(crf[i]) if top == vmaf else None
            return float(crf[i] + (top - vmaf) / (top - bottom) * (crf[i + 1] - crf[i]))
    return None


def _read(crf: np.ndarray, curve: np.ndarray, at: np.ndarray) -> np.ndarray:
    """A curve at CRFs ``at``: linear between its points, along its end segments beyond them."""
    first = (curve[1] - curve[0]) / (crf[1] - crf[0])
    last = (curve[-1] - curve[-2]) / (crf[-1] - crf[-2])
    read = np.interp(at, crf, curve)
    read = np.where(at < crf[0], curve[0] + (at - crf[0]) * first, read)
    return np.where(at > crf[-1], curve[-1] + (at - crf[-1]) * last, read)


def _shift(crf: np.ndarray, curve: np.ndarray, c: HeightCorrection) -> np.ndarray | None:
    """The move along ``curve`` (in CRF, at each of ``crf``) that a height's correction makes:
    at each of its anchors (:meth:`HeightCorrection.anchors`), the CRF shift that puts the
    curve on its VMAF plus the error there; interpolated between the anchors, held beyond.
    The curve is taken as never rising (its running minimum), read along its end segments
    beyond its ends. None where a shift is undefined (fewer than two distinct CRFs, no
    anchors, no crossing, a shift over :data:`MAX_SHIFT`)."""
    anchors = c.anchors()
    if len(crf) < 2 or np.any(np.diff(crf) <= 0) or not anchors:
        return None
    falling = np.minimum.accumulate(curve)
    shifts = []
    for anchor in anchors:
        at = np.array([anchor])
        aimed = float(_read(crf, falling, at)[0] + c.vmaf_error(at)[0])
        crossed = _crossing(crf, falling, aimed)
        if crossed is None or abs(crossed - anchor) > MAX_SHIFT:
            return None
        shifts.append(crossed - anchor)
    return np.interp(crf, anchors, shifts)


def _line(x: np.ndarray, y: np.ndarray, limit: float, w: np.ndarray) -> tuple[float, float, float]:
    """Weighted least squares: (x0, offset at x0, slope limited to ``limit``)."""
    x0 = float(np.average(x, weights=w))
    if len(np.unique(x)) < 2:
        return x0, float(np.average(y, weights=w)), 0.0
    slope = float(np.polyfit(x - x0, y, 1, w=np.sqrt(w))[0])
    slope = max(-limit, min(limit, slope))
    return x0, float(np.average(y - slope * (x - x0), weights=w)), slope


def fit_calibration(probes: Sequence[ProbeResult], *, along_curve: bool = True) -> Calibration:
    """Per-height offset and slope (in CRF) of the prediction errors seen in the probes, each
    probe weighing its :attr:`ProbeResult.weight`."""
    by_height: dict[int, HeightCorrection] = {}
    for height in sorted({p.height for p in probes}):
        mine = [p for p in probes if p.height == height]
        crf = np.array([p.crf for p in mine], float)
        dv = np.array([p.measured_vmaf - p.predicted_vmaf for p in mine])
        dr = np.array([math.log2(p.measured_kbps / p.predicted_kbps) for p in mine])
        w = np.array([p.weight for p in mine])
        if not np.all(np.isfinite(w)) or np.any(w < 0) or any(w[crf == q].sum() <= 0 for q in crf):
            raise UsageError(
                "The 'weight' of the probes given to fit_calibration must be finite, >= 0 and "
                f"not all 0 at one height and CRF. Got {w.tolist()} at {height}p instead."
            )
        crf0, a_v, b_v = _line(crf, dv, _SLOPE_LIMIT_VMAF, w)
        _, a_r, b_r = _line(crf, dr, _SLOPE_LIMIT_RATE, w)
        qs = np.unique(crf)
        points = (
            tuple((float(q), float(np.average(dv[crf == q], weights=w[crf == q]))) for q in qs)
            if len(qs) >= 3
            else ()
        )
        by_height[height] = HeightCorrection(crf0, a_v, b_v, a_r, b_r, crf.min(), crf.max(), points)
    return Calibration(by_height, along_curve)
