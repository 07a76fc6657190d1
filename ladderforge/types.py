"""Core value types shared by every layer: frozen, typed, serializable to JSON.

``to_dict``/``from_dict`` give plain JSON-ready dicts (fractions as "num/den" strings) so that
results can be stored, cached and exchanged without pickles.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from ladderforge.errors import UsageError

__all__ = [
    "LADDER_SCHEMA_VERSION",
    "ChunkRecord",
    "CodecFacts",
    "EncodeResult",
    "EncodeSettings",
    "Ladder",
    "PooledScores",
    "QualityResult",
    "RDPoint",
    "RateControl",
    "Rung",
    "RungAttempt",
    "RungCosts",
    "SourceInfo",
    "candidate_sizes",
    "even_size",
]

RateControl = Literal["crf", "cq", "qp", "bitrate"]


def even_size(source_width: int, source_height: int, height: int) -> tuple[int, int]:
    """(width, height) of a picture scaled to ``height`` (capped at the source's): both even,
    the source's aspect ratio kept."""
    out_h = max(2, min(height, source_height) // 2 * 2)
    return max(2, round(source_width * out_h / source_height / 2) * 2), out_h


def candidate_sizes(
    source_width: int, source_height: int, heights: Sequence[int]
) -> list[tuple[int, int]]:
    """(width, height) of each candidate height, tallest first: the one rule for every grid
    (sweeps, predicted surfaces, probes). Heights are capped at the source's, and heights within
    10 % of it collapse onto it (636x270 next to 640x272 helps nobody); sizes are even and keep
    the source's aspect ratio."""
    if source_width <= 0 or source_height <= 0:
        raise UsageError("candidate sizes need a positive source size.")
    sizes = {
        even_size(source_width, source_height, source_height if h >= 0.9 * source_height else h)
        for h in heights
    }
    return sorted(sizes, key=lambda s: -s[1])


@dataclass(frozen=True)
class CodecFacts:
    """What the rest of ladderforge needs to know about one encoder backend, as plain data.

    The backends own these facts (:attr:`ladderforge.encoder.BaseEncoder.facts`); the policy
    layer receives them as values and never imports a backend."""

    name: str
    """Backend name (``EncodeSettings.codec``)."""
    family: str
    """``hevc``, ``h264`` or ``av1``."""
    quality_rate_control: RateControl
    """The constant-quality rate control the ladder searches over: ``crf`` or ``cq``."""
    device: Literal["cpu", "gpu"]
    """Where the encode runs: software on CPU cores, or a GPU's fixed-function encoder."""
    presets: tuple[str, ...]
    """Valid presets, fastest first."""
    default_preset: str
    """The preset used when none is given."""
    q_min: float
    """Lowest quality value (CRF/CQ) the backend takes."""
    q_max: float
    """Highest quality value."""
    fractional_q: bool
    """Whether a fractional CRF/CQ (e.g. 27.5) is passed through, or rounded to an integer."""
    prediction_models: tuple[tuple[str, str], ...] = ()
    """(preset, shipped model name) pairs: which learned RD model predicts which preset."""

    def model_for(self, preset: str) -> str | None:
        """The shipped model that predicts ``preset``, or None when there is none."""
        return dict(self.prediction_models).get(preset)

    def preset_rank(self, preset: str) -> int:
        """0 for the fastest preset; a UsageError naming the valid presets otherwise."""
        if preset not in self.presets:
            raise UsageError(
                f"The 'preset' parameter of the {self.name} backend must be one of "
                f"{', '.join(self.presets)}. Got {preset!r} instead."
            )
        return self.presets.index(preset)


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


def _optional_floats(obj: Any) -> dict[str, float]:
    """The fields of a record of optional floats that are set (None left out of the JSON)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj) if getattr(obj, f.name) is not None}


@dataclass(frozen=True)
class RungCosts:
    """What a rung costs: CPU seconds and money (USD). Unknown figures are None."""

    encode_cpu_s: float | None = None
    """Predicted CPU seconds of the rung's encode (or measured, for a swept point)."""
    encode_cpu_s_measured: float | None = None
    """CPU seconds the rung's encode really took (all its chunks)."""
    encode_usd: float | None = None
    """Compute price of the encode (CPU- or GPU-hours)."""
    storage_usd: float | None = None
    """Storage of the rendition over the cost model's storage period."""
    delivery_usd: float | None = None
    """CDN egress of the rendition's expected views."""
    total_usd: float | None = None
    """encode + storage + delivery."""

    def to_dict(self) -> dict[str, float]:
        return _optional_floats(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RungCosts:
        # names of this class only: version-1 files also carried predicted_chunk_kbps here
        return cls(**{f.name: data[f.name] for f in fields(cls) if data.get(f.name) is not None})


@dataclass(frozen=True)
class ChunkRecord:
    """One chunk of a chunked rung: its frames, its CRF/CQ and its figures."""

    start: int
    """First frame of the chunk."""
    end: int
    """One past its last frame."""
    q: float
    """The chunk's CRF/CQ (per-scene allocation gives each chunk its own)."""
    predicted_kbps: float
    """Bitrate the chunk curve predicted at ``q`` (measured in exhaustive mode)."""
    predicted_vmaf: float
    """VMAF the chunk curve predicted at ``q``."""
    single_q_kbps: float
    """The same chunk at the rung's single CRF: what per-scene allocation is judged by."""
    single_q_vmaf: float
    """VMAF of the chunk at the rung's single CRF."""
    kbps: float | None = None
    """Measured bitrate of the chunk in the rendition (from its packets, no container)."""
    vmaf: float | None = None
    """Measured mean VMAF of the chunk's frames."""

    @property
    def frames(self) -> int:
        return self.end - self.start

    def to_dict(self) -> dict[str, float]:
        return _optional_floats(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkRecord:
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["start"], values["end"] = int(values["start"]), int(values["end"])
        return cls(**values)


@dataclass(frozen=True)
class RungAttempt:
    """One encode of a closed-loop rung (or clip), measured as shipped."""

    q: float
    """The CRF/CQ of the attempt (per-scene rungs: the rung's CRF, every chunk shifted by the
    same amount)."""
    vmaf: float
    """Mean VMAF of the whole rendition."""
    kbps: float
    """Its bitrate."""
    cpu_s: float = 0.0
    """CPU seconds of the encodes this attempt ran (0 when every chunk was reused)."""

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RungAttempt:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


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
    cost: RungCosts = field(default_factory=RungCosts)
    """CPU seconds and prices attached by the cost model."""
    chunks: tuple[ChunkRecord, ...] = ()
    """Chunked renditions: one record per chunk (frames, CRF, predicted and measured figures)."""
    target_vmaf: float | None = None
    """Closed loop: the VMAF the rung declared before it was encoded."""
    attempts: tuple[RungAttempt, ...] = ()
    """Closed loop: every encode of the rung, in order; the shipped one is in ``settings``."""

    @property
    def chunk_predicted_kbps(self) -> float | None:
        """The chunks' predicted bitrates averaged over frames (None when not chunked)."""
        frames = sum(c.frames for c in self.chunks)
        if not frames:
            return None
        return sum(c.predicted_kbps * c.frames for c in self.chunks) / frames

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "settings": self.settings.to_dict(),
            "bitrate_kbps": self.bitrate_kbps,
            "vmaf": self.vmaf,
            "measured_bitrate_kbps": self.measured_bitrate_kbps,
            "measured_vmaf": self.measured_vmaf,
            "cost": self.cost.to_dict(),
            "chunks": [c.to_dict() for c in self.chunks],
            "target_vmaf": self.target_vmaf,
            "attempts": [a.to_dict() for a in self.attempts],
        }
        data["resolution"] = f"{self.settings.width}x{self.settings.height}"
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rung:
        return cls(
            settings=EncodeSettings.from_dict(data["settings"]),
            bitrate_kbps=data["bitrate_kbps"],
            vmaf=data["vmaf"],
            measured_bitrate_kbps=data.get("measured_bitrate_kbps"),
            measured_vmaf=data.get("measured_vmaf"),
            cost=RungCosts.from_dict(data.get("cost") or {}),
            chunks=tuple(ChunkRecord.from_dict(c) for c in data.get("chunks", ())),
            target_vmaf=data.get("target_vmaf"),
            attempts=tuple(RungAttempt.from_dict(a) for a in data.get("attempts", ())),
        )


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
