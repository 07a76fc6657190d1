"""Recorded CRF -> VMAF tables (x265 veryfast, 2.5 s segments of the demo clips, measured by
experiments/build_dataset) and the closed loop's search on them: shared by the target tests and
``experiments/closed_loop_search``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ladderforge.policy.target import next_q, within
from ladderforge.types import RungAttempt

# (crf, vmaf, kbps) at the source height, measured
RECORDED = {
    "bbb_720p": [
        (16, 97.47, 4682.2), (19, 95.84, 3040.0), (22, 93.81, 1972.2), (25, 91.35, 1286.8),
        (28, 88.01, 836.9), (31, 83.15, 549.7), (34, 76.96, 370.4), (37, 68.06, 256.3),
        (40, 57.08, 181.9), (43, 44.57, 128.9), (46, 32.15, 95.2),
    ],
    "bikes_272p": [
        (16, 98.31, 719.5), (19, 97.5, 512.7), (22, 95.96, 370.9), (25, 93.81, 272.0),
        (28, 89.73, 203.1), (31, 83.91, 152.0), (34, 75.93, 116.0), (37, 65.5, 89.3),
        (40, 53.01, 68.6), (43, 40.41, 53.9), (46, 25.94, 42.7),
    ],
    "carphone_144p": [
        (16, 96.78, 240.2), (19, 95.33, 164.7), (22, 93.4, 114.9), (25, 90.13, 80.4),
        (28, 86.11, 59.1), (31, 79.93, 44.4), (34, 72.66, 35.3), (37, 63.76, 30.0),
        (40, 54.14, 25.6), (43, 43.59, 22.8), (46, 30.99, 21.4),
    ],
}  # fmt: skip


def encoder(table: list[tuple[float, float, float]]):  # type: ignore[no-untyped-def]
    """A fake encode: the recorded curve, interpolated in CRF (log-rate for kbps)."""
    q = np.array([r[0] for r in table], float)
    v = np.array([r[1] for r in table], float)
    k = np.log(np.array([r[2] for r in table], float))

    def run(crf: float) -> RungAttempt:
        return RungAttempt(crf, float(np.interp(crf, q, v)), float(np.exp(np.interp(crf, q, k))))

    return run


def model_curve(
    title: str, bias: float, stretch: float, *, clip: bool = False
) -> list[tuple[float, float]]:
    """What a wrong model predicts: the measured curve offset by ``bias`` VMAF and stretched
    in CRF by ``stretch`` around CRF 30 (a wrong slope and a wrong curvature); with ``clip``,
    held in 0..100 (a saturated model)."""
    run = encoder(RECORDED[title])
    grid = np.arange(16.0, 47.0)
    vmaf = [run(30 + (q - 30) * (1 + stretch)).vmaf + bias for q in grid]
    if clip:
        vmaf = [min(max(v, 0.0), 100.0) for v in vmaf]
    return [(float(q), v) for q, v in zip(grid, vmaf, strict=True)]


def loop(
    run: Callable[[float], RungAttempt],
    curve: Sequence[tuple[float, float]],
    target: float,
    first: float,
    tolerance: float = 0.75,
) -> list[RungAttempt]:
    """The closed loop on a fake encode: ``first``, then ``next_q`` on ``curve`` until within
    ``tolerance`` or 3 encodes."""
    attempts = [run(first)]
    while not within(attempts[-1].vmaf, target, tolerance) and len(attempts) < 3:
        q = next_q(attempts, target, curve=curve, q_min=0, q_max=51)
        if q is None:
            break
        attempts.append(run(q))
    return attempts
