"""Quality measurements and RD points."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ladderforge.types.media import EncodeSettings
from ladderforge.types.record import PlainRecord


@dataclass(frozen=True)
class PooledScores(PlainRecord):
    """One metric pooled over frames."""

    mean: float
    """Arithmetic mean over the scored frames (the headline figure)."""
    harmonic_mean: float
    """Harmonic mean of (score + 1), minus 1, as libvmaf pools (punishes bad frames)."""
    low_1pct: float
    """Mean of the worst 1% of frames (at least one frame)."""
    p5: float
    """5th percentile over frames."""
    min: float
    """The worst frame."""


@dataclass(frozen=True)
class QualityResult:
    """What :func:`ladderforge.vmaf_tools.measure` found for one (ref, dist) pair."""

    pooled: dict[str, PooledScores]
    """Metric name -> pooled scores. Names: ``vmaf`` (the main model), ``vmaf_neg``,
    ``vmaf_4k``, ``vmaf_phone``, ``vmaf_v1`` ..., ``psnr_y``, ``psnr_cb``, ``psnr_cr``,
    ``ssim`` (libvmaf's float_ssim), ``xpsnr_y``, ``cambi`` (banding, lower is better)."""
    per_frame: dict[str, list[float]]
    """Metric name -> score of each scored frame, in frame order."""
    frame_indices: list[int]
    """Indices (in the reference) of the frames that were scored (all, or every n-th)."""
    models: dict[str, str]
    """Metric name -> libvmaf model version, for the VMAF metrics."""
    display_width: int
    """Width of the grid on which the pair was compared (the reference's)."""
    display_height: int
    """Height of the grid on which the pair was compared."""
    scaler: str
    """swscale algorithm used to bring the distorted video to the display grid."""
    n_subsample: int
    """1 = every frame scored; n = every n-th frame."""
    frames_ref: int
    """Frames in the reference."""
    frames_dist: int
    """Frames in the distorted video."""
    tool_version: str = ""
    """ffmpeg (and libvmaf) version string that produced the figures."""

    @property
    def vmaf(self) -> float:
        """Mean VMAF of the main model."""
        return self.pooled["vmaf"].mean

    def get(self, metric: str) -> float:
        """Mean of one metric; KeyError naming the metrics present when absent."""
        try:
            return self.pooled[metric].mean
        except KeyError:
            raise KeyError(
                f"{metric!r} was not measured; measured: {sorted(self.pooled)}"
            ) from None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["pooled"] = {k: v.to_dict() for k, v in self.pooled.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityResult:
        values = dict(data)
        values["pooled"] = {k: PooledScores(**v) for k, v in values["pooled"].items()}
        return cls(**values)


@dataclass(frozen=True)
class RDPoint:
    """One point of a rate-distortion surface: settings, rate, quality, cost."""

    settings: EncodeSettings
    """The encode that the point stands for."""
    bitrate_kbps: float
    """Measured (or predicted) bitrate in kbit/s."""
    quality: float
    """Measured (or predicted) quality, VMAF mean unless said otherwise."""
    cost_cpu_s: float = 0.0
    """CPU seconds spent to encode (or predicted to be spent)."""

    @property
    def height(self) -> int:
        return self.settings.height
