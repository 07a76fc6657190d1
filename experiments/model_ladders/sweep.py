"""A sample's recorded sweep: every candidate height x CRF measured, as curves per height.

Any encode the product would run on the sample is read off the measured curve of its height,
linear in CRF for VMAF, for log kbps and for log CPU seconds (clamped at the grid's ends).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from ladderforge.jobs.defaults import DEFAULT_SWEEP_CRFS
from ladderforge.policy.models import CONTENT_FEATURES
from ladderforge.types import EncodeSettings, RDPoint, RungAttempt


@dataclass(frozen=True)
class Curve:
    """One height's measured points of a sample, CRF rising."""

    crf: np.ndarray
    vmaf: np.ndarray
    log_kbps: np.ndarray
    log_cpu_s: np.ndarray

    def at_crf(self, crf: float) -> tuple[float, float]:
        """(VMAF, kbps) at a CRF, linear between grid points (clamped at the ends)."""
        return (
            float(np.interp(crf, self.crf, self.vmaf)),
            float(math.exp(np.interp(crf, self.crf, self.log_kbps))),
        )

    def cpu_s_at(self, crf: float) -> float:
        """Encode CPU seconds at a CRF, log-linear between grid points."""
        return float(math.exp(np.interp(crf, self.crf, self.log_cpu_s)))

    def crf_for(self, target: float) -> tuple[float, bool]:
        """The CRF whose VMAF is ``target`` (False where the grid cannot reach it)."""
        v = np.minimum.accumulate(self.vmaf)  # falling with CRF (a measured wobble flattened)
        if target > v[0]:
            return float(self.crf[0]), False
        if target < v[-1]:
            return float(self.crf[-1]), True
        return float(np.interp(-target, -v, self.crf)), True


@dataclass(frozen=True)
class Encode:
    """One encode read off a measured curve."""

    height: int
    q: float
    vmaf: float
    kbps: float
    cpu_s: float

    @property
    def attempt(self) -> RungAttempt:
        """The encode as the closed loop sees it."""
        return RungAttempt(self.q, self.vmaf, self.kbps, self.cpu_s)


@dataclass(frozen=True)
class Sample:
    """One sample's measured sweep and what the model needs to predict it."""

    rows: pl.DataFrame
    curves: dict[int, Curve]
    widths: dict[int, int]
    features: dict[str, float]
    source_width: int
    source_height: int
    fps: float
    frames: int
    codec: str
    preset: str

    @classmethod
    def of(cls, rows: pl.DataFrame) -> Sample:
        rows = rows.sort("height", "crf")
        curves, widths = {}, {}
        for (h,), part in rows.group_by(["height"], maintain_order=True):
            curves[int(h)] = Curve(
                part["crf"].to_numpy().astype(float),
                part["vmaf"].to_numpy().astype(float),
                np.log(part["bitrate_kbps"].to_numpy().astype(float)),
                np.log(part["encode_cpu_s"].to_numpy().astype(float)),
            )
            widths[int(h)] = int(part["width"][0])
        first = rows.row(0, named=True)
        return cls(
            rows,
            curves,
            widths,
            {f: float(first[f]) for f in CONTENT_FEATURES},
            int(first["source_width"]),
            int(first["source_height"]),
            float(first["source_fps"]),
            int(first["frames"]),
            str(first["codec"]),
            str(first["preset"]),
        )

    def encode(self, height: int, q: float) -> Encode:
        """The encode at ``height`` and CRF ``q``, read off the measured curve."""
        curve = self.curves[height]
        return Encode(height, q, *curve.at_crf(q), curve.cpu_s_at(q))

    @property
    def heights(self) -> list[int]:
        """Tallest first."""
        return sorted(self.curves, reverse=True)

    @property
    def sweep_cpu_s(self) -> float:
        """CPU seconds of the recorded sweep (every height x every grid CRF)."""
        return float(self.rows["encode_cpu_s"].sum())

    @property
    def product_sweep_cpu_s(self) -> float:
        """CPU seconds of exhaustive mode's own sweep (every height x DEFAULT_SWEEP_CRFS),
        log-linear in CRF between the recorded points."""
        return sum(c.cpu_s_at(q) for c in self.curves.values() for q in DEFAULT_SWEEP_CRFS)

    def measured_points(self) -> list[RDPoint]:
        return [
            RDPoint(
                EncodeSettings(
                    codec=self.codec,
                    width=int(r["width"]),
                    height=int(r["height"]),
                    q=float(r["crf"]),
                    preset=self.preset,
                ),
                float(r["bitrate_kbps"]),
                float(r["vmaf"]),
            )
            for r in self.rows.iter_rows(named=True)
        ]
