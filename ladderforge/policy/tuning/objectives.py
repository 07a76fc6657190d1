"""What a tuning trial is judged on: bits at equal quality and encode CPU time, against the
preset's default parameters on the same segments and CRFs.

A trial encodes every study segment at every CRF of a small grid (:class:`CurvePoint` each). Its
two objectives (both minimised):

- **bits at equal quality**: the BD-rate on VMAF of the trial's curve against the default
  curve of the same segment (:func:`ladderforge.policy.bd_rate`, METRICS.md), averaged over the
  segments. Where the two curves overlap over less than 1 VMAF (easy content near VMAF 100, or a
  setting that moves the curve far), the segment's figure is the mean of its single-point rate
  deltas instead (:func:`rate_delta_pct`), and the method is recorded;
- **encode CPU time**: the trial's CPU seconds over the default's, summed over every encode.

Pruning (:func:`first_point_verdict`): after the first CRF point of every segment, a trial that
already needs far more bits for its quality than the default curve, or far more CPU time, is
stopped before its other CRFs are encoded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ladderforge.errors import UsageError
from ladderforge.policy.bdrate import BDRateError, bd_rate

__all__ = [
    "CurvePoint",
    "Objectives",
    "PruneVerdict",
    "bits_delta_pct",
    "first_point_verdict",
    "rate_delta_pct",
    "study_objectives",
]

QUALITY_METRICS = ("vmaf", "vmaf_neg", "psnr_y")
"""The metrics a curve point carries and the guard judges."""


@dataclass(frozen=True)
class CurvePoint:
    """One segment encoded at one CRF, measured."""

    crf: float
    """The CRF (CQ for NVENC)."""
    kbps: float
    """Bitrate of the encode."""
    vmaf: float
    """Mean VMAF (vmaf_v0.6.1)."""
    vmaf_neg: float
    """Mean VMAF NEG (vmaf_v0.6.1neg)."""
    psnr_y: float
    """Mean luma PSNR, dB (libvmaf's psnr feature)."""
    cpu_s: float
    """CPU seconds of the encode."""

    def quality(self, metric: str) -> float:
        """The point's value of one of :data:`QUALITY_METRICS`."""
        if metric not in QUALITY_METRICS:
            raise UsageError(f"metric must be one of {QUALITY_METRICS}. Got {metric!r} instead.")
        return float(getattr(self, metric))

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CurvePoint:
        return cls(
            **{k: float(data[k]) for k in ("crf", "kbps", "vmaf", "vmaf_neg", "psnr_y", "cpu_s")}
        )


Curve = Sequence[CurvePoint]
"""One segment's points, any order."""


@dataclass(frozen=True)
class Objectives:
    """The two objectives of a trial and how the first was computed."""

    bits_pct: float
    """Bits at equal VMAF against the default, percent (negative = fewer bits)."""
    cpu_ratio: float
    """Encode CPU seconds over the default's."""
    methods: tuple[str, ...]
    """Per segment: ``bd-rate`` or ``point-mean`` (curves overlapping by < 1 VMAF)."""


@dataclass(frozen=True)
class PruneVerdict:
    """Whether a trial is hopeless after its first CRF point."""

    prune: bool
    rate_delta_pct: float
    """Mean over segments of the first point's bits against the default curve at its quality."""
    cpu_ratio: float
    """CPU seconds of the first points over the default's at the same CRF."""
    reason: str


def rate_delta_pct(baseline: Curve, point: CurvePoint, metric: str = "vmaf") -> float:
    """How many more bits (percent; negative = fewer) ``point`` spends than the ``baseline``
    curve needs for the same quality: log-rate linear in quality between the baseline's points,
    extended along its end segments beyond them."""
    pts = sorted((p.quality(metric), math.log(p.kbps)) for p in baseline if p.kbps > 0)
    qualities = [q for q, _ in pts]
    if len(pts) < 2 or qualities[-1] - qualities[0] <= 0:
        raise UsageError("rate_delta_pct needs a baseline of >= 2 points of different quality.")
    q = point.quality(metric)
    i = 1
    while i < len(pts) - 1 and q > pts[i][0]:
        i += 1
    (q0, r0), (q1, r1) = pts[i - 1], pts[i]
    log_rate = r0 if q1 == q0 else r0 + (r1 - r0) * (q - q0) / (q1 - q0)
    return (point.kbps / math.exp(log_rate) - 1.0) * 100.0


def bits_delta_pct(baseline: Curve, test: Curve, metric: str = "vmaf") -> tuple[float, str]:
    """(bits of ``test`` against ``baseline`` at equal ``metric``, percent; the method): the
    BD-rate when the curves overlap by >= 1 (VMAF point or dB), else the mean single-point rate
    delta of the test's points."""
    try:
        return bd_rate(_pairs(baseline, metric), _pairs(test, metric)), "bd-rate"
    except BDRateError:
        deltas = [rate_delta_pct(baseline, p, metric) for p in test]
        return sum(deltas) / len(deltas), "point-mean"


def _pairs(curve: Curve, metric: str) -> list[tuple[float, float]]:
    return [(p.kbps, p.quality(metric)) for p in curve]


def _check_same_shape(baselines: Sequence[Curve], tests: Sequence[Curve]) -> None:
    if not baselines or len(baselines) != len(tests) or any(not t for t in tests):
        raise UsageError(
            "Tuning objectives need one non-empty test curve per baseline segment. Got "
            f"{len(baselines)} baseline and {len(tests)} test curves instead."
        )


def study_objectives(baselines: Sequence[Curve], tests: Sequence[Curve]) -> Objectives:
    """The trial's objectives over its segments (``tests[i]`` against ``baselines[i]``)."""
    _check_same_shape(baselines, tests)
    deltas, methods = [], []
    for base, test in zip(baselines, tests, strict=True):
        delta, method = bits_delta_pct(base, test)
        deltas.append(delta)
        methods.append(method)
    return Objectives(
        bits_pct=sum(deltas) / len(deltas),
        cpu_ratio=_cpu_ratio(baselines, tests),
        methods=tuple(methods),
    )


def _cpu_ratio(baselines: Sequence[Curve], tests: Sequence[Curve]) -> float:
    """Test CPU over baseline CPU at the CRFs the test has (all of them once finished)."""
    test_s = base_s = 0.0
    for base, test in zip(baselines, tests, strict=True):
        by_crf = {p.crf: p for p in base}
        for p in test:
            if p.crf not in by_crf:
                raise UsageError(f"The test curve has CRF {p.crf:g}, the baseline does not.")
            test_s += p.cpu_s
            base_s += by_crf[p.crf].cpu_s
    return test_s / base_s if base_s > 0 else math.inf


def first_point_verdict(
    baselines: Sequence[Curve],
    first_points: Sequence[CurvePoint],
    *,
    max_rate_delta_pct: float = 15.0,
    max_cpu_ratio: float = 3.0,
) -> PruneVerdict:
    """Prune a trial whose first CRF point (one per segment) already spends more than
    ``max_rate_delta_pct`` percent more bits than the default at its VMAF (mean over the
    segments), or more than ``max_cpu_ratio`` times the default's CPU time."""
    _check_same_shape(baselines, [[p] for p in first_points])
    delta = sum(rate_delta_pct(b, p) for b, p in zip(baselines, first_points, strict=True)) / len(
        first_points
    )
    cpu = _cpu_ratio(baselines, [[p] for p in first_points])
    if delta > max_rate_delta_pct:
        reason = f"first point needs {delta:+.1f} % bits at equal VMAF (> {max_rate_delta_pct:g})"
        return PruneVerdict(True, delta, cpu, reason)
    if cpu > max_cpu_ratio:
        reason = f"first point took {cpu:.2f}x the default's CPU time (> {max_cpu_ratio:g})"
        return PruneVerdict(True, delta, cpu, reason)
    return PruneVerdict(False, delta, cpu, "")
