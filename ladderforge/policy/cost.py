"""What a ladder costs: encoding compute, storage and delivery, in one documented place.

Prices are defaults to be overridden (CLI flags map 1:1 to :class:`CostModel` fields); they are
round public list prices of late 2025, not measurements: a general-purpose cloud vCPU-hour, an
entry data-centre GPU-hour, object storage per GB-month, CDN egress per GB.

Encode speed per backend and preset (:data:`ENCODE_SPEED`) is in megapixels encoded per
CPU-second, measured on this project's 2-core build machines with imageio-ffmpeg's FFmpeg 9 on
720p content (FACTS.md: x265 ultrafast ~53, veryfast ~27, medium ~17 wall fps; x264 ultrafast
~176, veryfast ~72, medium ~28; SVT-AV1 preset 8 ~38, 10 ~103, 12 ~113; wall fps x 0.92 MPx /
2 cores). NVENC runs on dedicated hardware: it has no entry here because no NVENC machine was
available to measure one; pass ``nvenc_fps`` (frames per second per GPU, e.g. from NVIDIA's
Video Codec SDK performance tables for your GPU and preset) to cost it in GPU-hours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ladderforge.errors import UsageError
from ladderforge.types import CodecFacts

__all__ = ["ENCODE_SPEED", "CostModel", "RungCost", "RungSpend", "encode_cpu_s", "ladder_costs"]

_MPX_720P = 1280 * 720 / 1e6
ENCODE_SPEED: dict[tuple[str, str], float] = {
    ("x265", "ultrafast"): 53 * _MPX_720P / 2,
    ("x265", "veryfast"): 27 * _MPX_720P / 2,
    ("x265", "medium"): 17 * _MPX_720P / 2,
    ("x264", "ultrafast"): 176 * _MPX_720P / 2,
    ("x264", "veryfast"): 72 * _MPX_720P / 2,
    ("x264", "medium"): 28 * _MPX_720P / 2,
    ("svtav1", "8"): 38 * _MPX_720P / 2,
    ("svtav1", "10"): 103 * _MPX_720P / 2,
    ("svtav1", "12"): 113 * _MPX_720P / 2,
}
"""(backend, preset) -> megapixels per CPU-second (measured, see the module doc)."""


def _speed(facts: CodecFacts, preset: str) -> float:
    """Measured speed of the preset, else of the nearest measured preset of the backend."""
    if (facts.name, preset) in ENCODE_SPEED:
        return ENCODE_SPEED[(facts.name, preset)]
    rank = facts.preset_rank(preset)  # a clear error for a preset the backend does not have
    known = {p: v for (c, p), v in ENCODE_SPEED.items() if c == facts.name and p in facts.presets}
    if not known:
        raise UsageError(
            f"No measured encode speed for {facts.name}; measured: "
            f"{', '.join(sorted({c for c, _ in ENCODE_SPEED}))}."
        )
    return known[min(known, key=lambda p: abs(facts.presets.index(p) - rank))]


def encode_cpu_s(facts: CodecFacts, preset: str, *, width: int, height: int, frames: int) -> float:
    """Predicted CPU seconds to encode ``frames`` frames at ``width`` x ``height``.

    GPU backends return 0 CPU seconds (the work is on the GPU; see :class:`CostModel`).
    """
    if facts.device == "gpu":
        return 0.0
    return frames * width * height / 1e6 / _speed(facts, preset)


@dataclass(frozen=True)
class CostModel:
    """Prices and audience of a title (defaults: round list prices, see the module doc)."""

    cpu_hour_usd: float = 0.04
    """Price of one vCPU-hour."""
    gpu_hour_usd: float = 0.70
    """Price of one GPU-hour (for NVENC encodes)."""
    storage_gb_month_usd: float = 0.023
    """Object storage per GB-month."""
    egress_gb_usd: float = 0.02
    """CDN delivery per GB."""
    storage_months: float = 12.0
    """How long the renditions are stored."""
    expected_view_hours: float = 1000.0
    """Total hours the title is expected to be watched."""
    view_share: tuple[float, ...] = ()
    """Share of viewing per rung, lowest first; empty: the top rung gets half, the rest share
    the other half equally (a typical broadband audience)."""
    nvenc_fps: float | None = None
    """NVENC throughput (frames per second per GPU) to cost NVENC encodes; None: not costed."""

    def shares(self, n_rungs: int) -> list[float]:
        if self.view_share:
            if len(self.view_share) != n_rungs or abs(sum(self.view_share) - 1) > 1e-6:
                raise UsageError(
                    f"The 'view_share' of CostModel must have {n_rungs} values summing to 1. "
                    f"Got {self.view_share!r} instead."
                )
            return list(self.view_share)
        if n_rungs == 1:
            return [1.0]
        return [0.5 / (n_rungs - 1)] * (n_rungs - 1) + [0.5]


@dataclass(frozen=True)
class RungCost:
    """Costs of one rung in USD, and the quantities they come from."""

    encode_usd: float
    storage_usd: float
    delivery_usd: float
    size_gb: float
    delivered_gb: float

    @property
    def total_usd(self) -> float:
        return self.encode_usd + self.storage_usd + self.delivery_usd


@dataclass(frozen=True)
class RungSpend:
    """What one rung consumes, the input of :func:`ladder_costs`."""

    device: str
    """``cpu`` or ``gpu`` (:attr:`ladderforge.types.CodecFacts.device`)."""
    bitrate_kbps: float
    """The rendition's bitrate."""
    encode_cpu_s: float
    """CPU seconds of its encode (CPU backends)."""
    frames: int
    """Frames encoded (GPU backends are costed by throughput)."""


def ladder_costs(
    rungs: Sequence[RungSpend],
    *,
    duration_s: float,
    model: CostModel,
) -> list[RungCost]:
    """Costs of rungs, lowest first."""
    costs = []
    for rung, share in zip(rungs, model.shares(len(rungs)), strict=True):
        kbps, cpu_s, frames = rung.bitrate_kbps, rung.encode_cpu_s, rung.frames
        size_gb = kbps * duration_s / 8 / 1e6
        if rung.device == "gpu":
            gpu_h = frames / model.nvenc_fps / 3600 if model.nvenc_fps else 0.0
            encode = gpu_h * model.gpu_hour_usd
        else:
            encode = cpu_s / 3600 * model.cpu_hour_usd
        delivered = kbps * 3600 * model.expected_view_hours * share / 8 / 1e6
        costs.append(
            RungCost(
                encode,
                size_gb * model.storage_gb_month_usd * model.storage_months,
                delivered * model.egress_gb_usd,
                size_gb,
                delivered,
            )
        )
    return costs
