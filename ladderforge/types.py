"""Core value types shared by every layer: frozen, typed, serializable to JSON.

``to_dict``/``from_dict`` give plain JSON-ready dicts (fractions as "num/den" strings) so that
results can be stored, cached and exchanged without pickles.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from ladderforge.errors import UsageError

__all__ = [
    "LADDER_SCHEMA_VERSION",
    "EncodeResult",
    "EncodeSettings",
    "Ladder",
    "PooledScores",
    "QualityResult",
    "RDPoint",
    "RateControl",
    "Rung",
    "SourceInfo",
    "even_size",
]

RateControl = Literal["crf", "cq", "qp", "bitrate"]


def even_size(source_width: int, source_height: int, height: int) -> tuple[int, int]:
    """(width, height) of a picture scaled to ``height`` (capped at the source's): both even,
    the source's aspect ratio kept."""
    out_h = max(2, min(height, source_height) // 2 * 2)
    return max(2, round(source_width * out_h / source_height / 2) * 2), out_h


LADDER_SCHEMA_VERSION = "ladderforge.ladder/1"


def _to_jsonable(value: Any) -> Any:
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_jsonable(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class SourceInfo:
    """What probing a source file found (see :func:`ladderforge.media.probe`)."""

    path: Path
    """The file probed."""
    width: int
    """Coded picture width in pixels (before rotation)."""
    height: int
    """Coded picture height in pixels (before rotation)."""
    frame_rate: Fraction
    """Average frame rate in frames per second (the stream's guess for raw streams)."""
    frame_count: int
    """Number of video frames, counted from the packets (not the container's claim)."""
    duration_s: float
    """Duration of the video stream in seconds (frame_count / frame_rate when unknown)."""
    pix_fmt: str
    """Decoder pixel format, e.g. ``yuv420p`` or ``yuv420p10le``."""
    bit_depth: int
    """Bits per luma sample."""
    codec: str
    """Video codec name, e.g. ``h264``."""
    container: str
    """Container (demuxer) name, e.g. ``mov,mp4,m4a,3gp,3g2,mj2``."""
    size_bytes: int
    """File size in bytes."""
    content_hash: str
    """sha256 of the file's bytes (hex): the key of every cached or stored result."""
    color_primaries: str = "unknown"
    """Colour primaries as ffmpeg names them."""
    color_transfer: str = "unknown"
    """Transfer characteristic as ffmpeg names it."""
    color_matrix: str = "unknown"
    """Colour matrix (YCbCr coefficients) as ffmpeg names it."""
    color_range: str = "unknown"
    """``tv`` (limited), ``pc`` (full) or ``unknown``."""
    interlaced: bool = False
    """True when the stream signals interlaced (field) coding."""
    rotation_deg: int = 0
    """Display rotation from metadata, degrees counter-clockwise."""
    has_audio: bool = False
    """Whether the file also carries an audio stream."""

    @property
    def title(self) -> str:
        """The file name without its extension: the title's name in reports."""
        return self.path.stem

    def to_dict(self) -> dict[str, Any]:
        return {k: _to_jsonable(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SourceInfo:
        values = dict(data)
        values["path"] = Path(values["path"])
        values["frame_rate"] = Fraction(values["frame_rate"])
        return cls(**values)


@dataclass(frozen=True)
class EncodeSettings:
    """Everything that decides an encode's output; one backend turns it into ffmpeg arguments."""

    codec: str
    """Backend name: ``x265``, ``x264``, ``svtav1``, ``nvenc_hevc``, ``nvenc_h264``,
    ``nvenc_av1``."""
    width: int
    """Output width in pixels (even)."""
    height: int
    """Output height in pixels (even)."""
    rate_control: RateControl = "crf"
    """``crf`` (x26x, SVT-AV1), ``cq`` (NVENC constant quality VBR), ``qp`` or ``bitrate``."""
    q: float | None = None
    """The CRF, CQ or QP value for the quality-based rate controls."""
    bitrate_kbps: float | None = None
    """Target bitrate in kbit/s for ``bitrate`` rate control."""
    passes: int = 1
    """1 or 2; two-pass needs ``bitrate`` rate control (x265 and x264)."""
    maxrate_kbps: float | None = None
    """VBV maximum rate in kbit/s (optional)."""
    bufsize_kbits: float | None = None
    """VBV buffer size in kbit (optional; defaults to 2 x maxrate when maxrate is set)."""
    preset: str = "medium"
    """Encoder preset (x26x names, SVT-AV1 0-13, NVENC p1-p7)."""
    tune: str | None = None
    """Encoder tune (e.g. NVENC ``hq``, ``uhq``, ``ll``), when the backend has one."""
    params: tuple[tuple[str, str], ...] = ()
    """Extra encoder parameters as (key, value) pairs (x265-params, x264-params, svtav1-params,
    or NVENC private options)."""
    gop: int | None = None
    """Maximum keyframe interval in frames (None: the encoder's default)."""
    keyframes: tuple[int, ...] = ()
    """Frame indices forced to be IDR / closed-GOP keyframes."""
    fixed_gop: bool = False
    """True: keyframes only at frame 0, every ``gop`` frames and at ``keyframes``; the encoder's
    own scene-cut keyframes are off, so every rung of a chunked title has its keyframes in the
    same places (adaptive streaming switches rungs only there)."""
    pix_fmt: str = "yuv420p"
    """Output pixel format: ``yuv420p`` (8-bit) or ``yuv420p10le`` (10-bit)."""
    scaler: str = "lanczos"
    """swscale algorithm used when the output size differs from the source."""

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0 or self.width % 2 or self.height % 2:
            raise UsageError(
                f"The 'width'/'height' of EncodeSettings must be positive and even. "
                f"Got {self.width}x{self.height} instead."
            )
        if self.rate_control == "bitrate":
            if self.bitrate_kbps is None or not self.bitrate_kbps > 0:
                raise UsageError(
                    "The 'bitrate_kbps' parameter of EncodeSettings must be > 0 with "
                    f"rate_control='bitrate'. Got {self.bitrate_kbps!r} instead."
                )
        elif self.rate_control in ("crf", "cq", "qp"):
            if self.q is None or not math.isfinite(self.q) or self.q < 0:
                raise UsageError(
                    f"The 'q' parameter of EncodeSettings must be a number >= 0 with "
                    f"rate_control={self.rate_control!r}. Got {self.q!r} instead."
                )
        else:
            raise UsageError(
                "The 'rate_control' parameter of EncodeSettings must be one of 'crf', 'cq', "
                f"'qp', 'bitrate'. Got {self.rate_control!r} instead."
            )
        if self.passes not in (1, 2):
            raise UsageError(
                f"The 'passes' parameter of EncodeSettings must be 1 or 2. Got {self.passes!r}."
            )
        if self.passes == 2 and self.rate_control != "bitrate":
            raise UsageError("Two-pass encoding needs rate_control='bitrate'.")

    def key(self) -> str:
        """A stable string that identifies these settings (for stores and caches)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def with_(self, **changes: Any) -> EncodeSettings:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {k: _to_jsonable(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EncodeSettings:
        values = dict(data)
        values["params"] = tuple(tuple(p) for p in values.get("params", ()))
        values["keyframes"] = tuple(values.get("keyframes", ()))
        return cls(**values)


@dataclass(frozen=True)
class EncodeResult:
    """One finished encode."""

    settings: EncodeSettings
    """What was asked for."""
    output_path: Path
    """The encoded file."""
    size_bytes: int
    """Size of the output file in bytes."""
    bitrate_kbps: float
    """Mean video bitrate: size_bytes * 8 / duration_s / 1000 (container overhead included)."""
    duration_s: float
    """Duration of the output, frames / frame rate."""
    frames: int
    """Frames in the output, counted from its packets and checked against the source."""
    wall_s: float
    """Wall-clock seconds of the encode (all passes)."""
    cpu_s: float
    """CPU seconds (user + system) of the ffmpeg child processes (all passes)."""

    def to_dict(self) -> dict[str, Any]:
        data = {k: _to_jsonable(v) for k, v in asdict(self).items() if k != "settings"}
        data["settings"] = self.settings.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EncodeResult:
        values = dict(data)
        values["settings"] = EncodeSettings.from_dict(values["settings"])
        values["output_path"] = Path(values["output_path"])
        return cls(**values)


@dataclass(frozen=True)
class PooledScores:
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

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class QualityResult:
    """What :func:`ladderforge.vmaf_tools.measure` found for one (ref, dist) pair."""

    pooled: dict[str, PooledScores]
    """Metric name -> pooled scores. Names: ``vmaf`` (the main model), ``vmaf_neg``,
    ``vmaf_4k``, ``vmaf_phone``, ``vmaf_v1`` ..., ``psnr_y``, ``psnr_cb``, ``psnr_cr``,
    ``ssim`` (libvmaf's float_ssim), ``xpsnr_y``."""
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


@dataclass(frozen=True)
class Rung:
    """One rung of a ladder."""

    settings: EncodeSettings
    """How to encode the rung."""
    bitrate_kbps: float
    """Expected bitrate (measured in exhaustive mode, predicted otherwise)."""
    vmaf: float
    """Expected VMAF."""
    measured_bitrate_kbps: float | None = None
    """Measured after encoding/validation."""
    measured_vmaf: float | None = None
    """Measured after encoding/validation."""
    cost: dict[str, float] = field(default_factory=dict)
    """Costs attached by the cost model (e.g. ``encode_cpu_s``)."""
    chunks: tuple[dict[str, float], ...] = ()
    """Chunked renditions: per chunk ``start``, ``end`` (frames), ``q`` (its CRF/CQ; per-scene
    allocation gives each its own) and the predicted and measured ``kbps`` / ``vmaf``."""

    def to_dict(self) -> dict[str, Any]:
        data = {
            f.name: _to_jsonable(getattr(self, f.name))
            for f in fields(self)
            if f.name != "settings"
        }
        data["settings"] = self.settings.to_dict()
        data["resolution"] = f"{self.settings.width}x{self.settings.height}"
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rung:
        values = {k.name: data[k.name] for k in fields(cls) if k.name in data}
        values["settings"] = EncodeSettings.from_dict(data["settings"])
        values["chunks"] = tuple(dict(c) for c in data.get("chunks", ()))
        return cls(**values)


@dataclass(frozen=True)
class Ladder:
    """An encoding ladder for one title, lowest rung first."""

    title: str
    """The title's name."""
    source: SourceInfo | None
    """The source the ladder is for."""
    rungs: tuple[Rung, ...]
    """The rungs, lowest bitrate first."""
    mode: str = "exhaustive"
    """How it was chosen: ``exhaustive``, ``predict``, ``probe``."""
    notes: tuple[str, ...] = ()
    """Warnings and remarks (e.g. a target that could not be met)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": LADDER_SCHEMA_VERSION,
            "title": self.title,
            "mode": self.mode,
            "source": self.source.to_dict() if self.source else None,
            "rungs": [r.to_dict() for r in self.rungs],
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Ladder:
        if data.get("schema") != LADDER_SCHEMA_VERSION:
            raise UsageError(
                f"Ladder JSON of schema {data.get('schema')!r} cannot be read; this version of "
                f"ladderforge reads {LADDER_SCHEMA_VERSION!r}."
            )
        return cls(
            title=data["title"],
            source=SourceInfo.from_dict(data["source"]) if data.get("source") else None,
            rungs=tuple(Rung.from_dict(r) for r in data["rungs"]),
            mode=data.get("mode", "exhaustive"),
            notes=tuple(data.get("notes", ())),
        )
