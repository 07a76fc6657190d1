"""What a ladder costs: encoding compute, storage and delivery, in one documented place.

The default prices of :class:`CostModel` are the sourced, dated figures of the shipped
``cost.toml`` (``ladderforge/policy/cost.toml``, read by :mod:`ladderforge.policy.cost_file`;
a test keeps the two equal). Each one names its source there.

Delivery is priced by volume tier (CDN list prices fall as the monthly volume grows): a title's
monthly egress is priced at the tiers *above* the platform's other traffic
(``platform_egress_tb_month``), i.e. at its marginal price. Sizes are decimal GB (1e9 bytes) and
the tier bounds are taken as decimal TB; CDN bills in binary units, a difference under 7.4 % that
is not modelled.

Viewing is shared between rungs by a bandwidth mix: each class of viewers (its bandwidth in kbps
and its share of the view-hours) plays the highest rung whose bitrate fits its bandwidth, the
lowest rung when none fits (:func:`viewing_shares`). An explicit ``view_share`` per rung
overrides the mix.

Encode speed per backend and preset (:data:`ENCODE_SPEED`) is in megapixels encoded per
CPU-second, measured on this project's 2-core build machines with imageio-ffmpeg's FFmpeg 9 on
720p content (FACTS.md: x265 ultrafast ~53, veryfast ~27, medium ~17 wall fps; x264 ultrafast
~176, veryfast ~72, medium ~28; SVT-AV1 preset 8 ~38, 10 ~103, 12 ~113; wall fps x 0.92 MPx /
2 cores). NVENC runs on dedicated hardware: no NVENC machine was available to measure one and
NVIDIA's throughput table could not be read here, so ``nvenc_fps`` has no default; pass it
(frames per second per GPU, from NVIDIA's Video Codec SDK performance tables for your GPU and
preset) to cost NVENC encodes in GPU-hours.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ladderforge.errors import UsageError
from ladderforge.types import CodecFacts

__all__ = [
    "CLOUDFRONT_TIERS",
    "DEFAULT_BANDWIDTH_MIX",
    "ENCODE_SPEED",
    "CostModel",
    "RungCost",
    "RungSpend",
    "break_even_view_hours",
    "egress_usd",
    "encode_cpu_s",
    "encode_usd",
    "ladder_costs",
    "tiered_usd",
    "viewing_shares",
]

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

_TB = 1000.0
CLOUDFRONT_TIERS: tuple[tuple[float, float], ...] = (
    (10 * _TB, 0.085),
    (50 * _TB, 0.080),
    (150 * _TB, 0.060),
    (500 * _TB, 0.040),
    (1024 * _TB, 0.030),
    (5120 * _TB, 0.025),
    (math.inf, 0.020),
)
"""(upper bound of the tier in GB per month, USD per GB): CloudFront's list prices for the
United States, Mexico and Canada (sources in cost.toml)."""

DEFAULT_BANDWIDTH_MIX: tuple[tuple[float, float], ...] = (
    (1500.0, 0.10),
    (3000.0, 0.15),
    (6000.0, 0.25),
    (12000.0, 0.25),
    (25000.0, 0.25),
)
"""(viewer bandwidth in kbps, share of view-hours): an illustration, not a measurement (no
public source was found; cost.toml says so)."""


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


def tiered_usd(volume_gb: float, tiers: Sequence[tuple[float, float]]) -> float:
    """Price of ``volume_gb`` GB in one month under volume tiers ((upper bound GB, USD/GB)...)."""
    total, lower = 0.0, 0.0
    for upper, price in tiers:
        if volume_gb <= lower:
            break
        total += (min(volume_gb, upper) - lower) * price
        lower = upper
    return total


@dataclass(frozen=True)
class CostModel:
    """Prices and audience of a title (defaults: the shipped cost.toml, sources named there)."""

    cpu_hour_usd: float = 0.0408
    """Price of one vCPU-hour."""
    gpu_hour_usd: float = 1.006
    """Price of one GPU-hour (for NVENC encodes)."""
    storage_gb_month_usd: float = 0.023
    """Object storage per GB-month."""
    egress_tiers: tuple[tuple[float, float], ...] = CLOUDFRONT_TIERS
    """CDN delivery by monthly volume: (upper bound of the tier in GB, USD per GB), rising
    bounds, the last one infinite."""
    egress_gb_usd: float | None = None
    """A flat CDN price per GB; when set it replaces ``egress_tiers``."""
    platform_egress_tb_month: float = 0.0
    """The platform's other monthly traffic (TB): a title's egress is priced at the tiers above
    it (its marginal price). 0: the title alone, from the first tier."""
    storage_months: float = 12.0
    """How long the renditions are stored (and over how many months the views spread)."""
    expected_view_hours: float = 1000.0
    """Total hours the title is expected to be watched (an assumption, not a measurement)."""
    view_share: tuple[float, ...] = ()
    """Share of viewing per rung, lowest first; empty: from ``bandwidth_mix``."""
    bandwidth_mix: tuple[tuple[float, float], ...] = DEFAULT_BANDWIDTH_MIX
    """Viewer classes: (bandwidth kbps, share of view-hours); each plays the highest rung that
    fits its bandwidth (the lowest rung when none fits)."""
    nvenc_fps: float | None = None
    """NVENC throughput (frames per second per GPU) to cost NVENC encodes; None: not costed."""
    managed_usd_per_minute: float | None = 0.1125
    """A managed service's price per output minute of one HD HEVC rendition (a reference line
    in reports, never used in a decision)."""

    def __post_init__(self) -> None:
        names = (
            "cpu_hour_usd", "gpu_hour_usd", "storage_gb_month_usd", "storage_months",
            "platform_egress_tb_month",
        )  # fmt: skip
        for name in names:
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise UsageError(
                    f"The '{name}' parameter of CostModel must be a number >= 0. "
                    f"Got {value!r} instead."
                )
        views = self.expected_view_hours
        if not (isinstance(views, (int, float)) and math.isfinite(views) and views >= 0):
            raise UsageError(
                "The 'expected_view_hours' parameter of CostModel must be a number >= 0. "
                f"Got {views!r} instead."
            )
        bounds = [b for b, _ in self.egress_tiers]
        if not self.egress_tiers or bounds != sorted(bounds) or not math.isinf(bounds[-1]):
            raise UsageError(
                "The 'egress_tiers' parameter of CostModel must be (upper GB, USD/GB) pairs with "
                f"rising bounds, the last one infinite. Got {self.egress_tiers!r} instead."
            )
        if self.nvenc_fps is not None and not self.nvenc_fps > 0:
            raise UsageError(
                "The 'nvenc_fps' parameter of CostModel must be a number > 0 or None. "
                f"Got {self.nvenc_fps!r} instead."
            )
        if self.bandwidth_mix and abs(sum(s for _, s in self.bandwidth_mix) - 1) > 1e-6:
            raise UsageError(
                "The 'bandwidth_mix' parameter of CostModel must have shares summing to 1. "
                f"Got {self.bandwidth_mix!r} instead."
            )

    def shares(self, rung_kbps: Sequence[float]) -> list[float]:
        """Share of viewing per rung (lowest first): ``view_share`` or the bandwidth mix."""
        n_rungs = len(rung_kbps)
        if self.view_share:
            if len(self.view_share) != n_rungs or abs(sum(self.view_share) - 1) > 1e-6:
                raise UsageError(
                    f"The 'view_share' of CostModel must have {n_rungs} values summing to 1. "
                    f"Got {self.view_share!r} instead."
                )
            return list(self.view_share)
        return viewing_shares(rung_kbps, self.bandwidth_mix)

    @property
    def egress_prices(self) -> tuple[tuple[float, float], ...]:
        """The tiers in force (a flat price is one infinite tier)."""
        if self.egress_gb_usd is not None:
            return ((math.inf, self.egress_gb_usd),)
        return self.egress_tiers

    def marginal_egress_gb_usd(self) -> float:
        """The price of the next GB above the platform's other traffic."""
        base = self.platform_egress_tb_month * _TB
        return next(p for upper, p in self.egress_prices if base < upper)


def viewing_shares(rung_kbps: Sequence[float], mix: Sequence[tuple[float, float]]) -> list[float]:
    """Share of view-hours per rung (rungs lowest first) under a bandwidth mix."""
    shares = [0.0] * len(rung_kbps)
    if not shares:
        return shares
    for bandwidth, share in mix:
        fitting = [i for i, kbps in enumerate(rung_kbps) if kbps <= bandwidth]
        shares[max(fitting) if fitting else 0] += share
    return shares


def egress_usd(delivered_gb: float, model: CostModel) -> float:
    """Price of delivering ``delivered_gb`` over the storage period, at the marginal tiers."""
    months = max(model.storage_months, 1e-9)
    base = model.platform_egress_tb_month * _TB
    tiers = model.egress_prices
    per_month = tiered_usd(base + delivered_gb / months, tiers) - tiered_usd(base, tiers)
    return per_month * months


def break_even_view_hours(
    *, extra_fixed_usd: float, egress_saved_usd_per_view_hour: float
) -> float | None:
    """View-hours at which a one-off extra spend (encode, storage) is repaid by egress saved.

    0 when nothing extra is spent and egress is saved (or equal); None when the egress saved is
    not positive and something extra is spent (never repaid).
    """
    if extra_fixed_usd <= 0:
        return 0.0 if egress_saved_usd_per_view_hour >= 0 else None
    if egress_saved_usd_per_view_hour <= 0:
        return None
    return extra_fixed_usd / egress_saved_usd_per_view_hour


@dataclass(frozen=True)
class RungCost:
    """Costs of one rung in USD, and the quantities they come from."""

    encode_usd: float
    storage_usd: float
    delivery_usd: float
    size_gb: float
    delivered_gb: float
    view_share: float = 0.0
    """The rung's share of the title's view-hours."""

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


def encode_usd(spend: RungSpend, model: CostModel) -> float:
    """Compute price of one rung's encode (CPU-hours, or GPU-hours from ``nvenc_fps``)."""
    if spend.device == "gpu":
        gpu_h = spend.frames / model.nvenc_fps / 3600 if model.nvenc_fps else 0.0
        return gpu_h * model.gpu_hour_usd
    return spend.encode_cpu_s / 3600 * model.cpu_hour_usd


def ladder_costs(
    rungs: Sequence[RungSpend],
    *,
    duration_s: float,
    model: CostModel,
) -> list[RungCost]:
    """Costs of rungs, lowest first. Delivery is priced for the title's whole egress at its
    marginal tiers and shared between rungs by the GB each delivers."""
    shares = model.shares([r.bitrate_kbps for r in rungs])
    delivered = [
        r.bitrate_kbps * 3600 * model.expected_view_hours * s / 8 / 1e6
        for r, s in zip(rungs, shares, strict=True)
    ]
    total_gb = sum(delivered)
    total_egress = egress_usd(total_gb, model)
    costs = []
    for rung, share, gb in zip(rungs, shares, delivered, strict=True):
        size_gb = rung.bitrate_kbps * duration_s / 8 / 1e6
        costs.append(
            RungCost(
                encode_usd(rung, model),
                size_gb * model.storage_gb_month_usd * model.storage_months,
                total_egress * gb / total_gb if total_gb > 0 else 0.0,
                size_gb,
                gb,
                share,
            )
        )
    return costs
