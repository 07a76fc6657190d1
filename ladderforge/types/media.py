"""Sources, encode settings and encode results; codec facts; picture sizes."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from ladderforge.errors import UsageError

RateControl = Literal["crf", "cq", "qp", "bitrate"]

MIN_SIDE_PX = 18
"""The smallest picture side, in pixels, that the whole job supports: sources with a side below
it are refused at probe time and no rung is made smaller. Measured with the imageio-ffmpeg build
(ffmpeg 9.0.2): libvmaf's VMAF v0.6.1 is killed by signal 11 on any picture with a side of 16 or
17 pixels (16x16, 17x17, 16x64, 64x17...) and scores 18x18 (8- and 10-bit, vmaf, vmaf_neg,
vmaf_4k, vmaf_phone, psnr, ssim, xpsnr); x265 refuses 12x12 and encodes 16x16; x264 and SVT-AV1
(v4.2) encode down to 8x8 and 4x4. The VMAF v1.0.16 models (``vmaf_v1_*``, CAMBI inside) need far
larger pictures and are not part of the job."""

VIDEO_RANGES = {"smpte2084": "PQ", "arib-std-b67": "HLG"}
"""Transfer characteristics (ffmpeg's names) of HDR video -> their HLS ``VIDEO-RANGE``."""

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")
"""A backend name or a parameter key: no spaces, no '=' or ':' (they separate -x265-params)."""


def even_size(source_width: int, source_height: int, height: int) -> tuple[int, int]:
    """(width, height) of a picture scaled to ``height`` (capped at the source's): both even,
    the source's aspect ratio kept."""
    out_h = max(2, min(height, source_height) // 2 * 2)
    return max(2, round(source_width * out_h / source_height / 2) * 2), out_h


def output_pix_fmt(bit_depth: int) -> str:
    """The pixel format a rendition keeps for a source of ``bit_depth`` bits: 10-bit 4:2:0 for
    sources deeper than 8 bits (no silent downgrade), 8-bit 4:2:0 otherwise."""
    return "yuv420p10le" if bit_depth > 8 else "yuv420p"


def candidate_sizes(
    source_width: int, source_height: int, heights: Sequence[int]
) -> list[tuple[int, int]]:
    """(width, height) of each candidate height, tallest first: the one rule for every grid
    (sweeps, predicted surfaces, probes). Heights are capped at the source's, and heights within
    10 % of it collapse onto it (636x270 next to 640x272 helps nobody); sizes are even and keep
    the source's aspect ratio. Sizes with a side under :data:`MIN_SIDE_PX` are dropped; a
    UsageError says so when none is left."""
    if source_width <= 0 or source_height <= 0:
        raise UsageError("candidate sizes need a positive source size.")
    sizes = {
        even_size(source_width, source_height, source_height if h >= 0.9 * source_height else h)
        for h in heights
    }
    kept = [s for s in sizes if min(s) >= MIN_SIDE_PX]
    if not kept:
        raise UsageError(
            f"No candidate height ({', '.join(str(h) for h in heights) or 'none'}) gives a "
            f"picture with both sides >= {MIN_SIDE_PX} pixels from a {source_width}x"
            f"{source_height} source; ladderforge needs at least {MIN_SIDE_PX}x{MIN_SIDE_PX}."
        )
    return sorted(kept, key=lambda s: -s[1])


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


def to_jsonable(value: Any) -> Any:
    """A value as JSON: fractions as "num/den", paths as text, tuples as lists, infinity as
    None (JSON has no infinity: an open cost tier's bound)."""
    if isinstance(value, float) and math.isinf(value):
        return None
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, list):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class SourceInfo:
    """What probing a source file found (see :func:`ladderforge.media.probe`)."""

    path: Path
    """The file probed."""
    width: int
    """Displayed picture width in pixels: the coded width, or the coded height when the display
    rotation is 90 or 270 degrees. Every ffmpeg step (cuts, encodes, VMAF) decodes the source
    turned upright, so sizes, aspect ratios and the VMAF grid are all taken from this."""
    height: int
    """Displayed picture height in pixels (the upright picture, as ``width``)."""
    frame_rate: Fraction
    """Frame rate in frames per second: the stream's average (its guess for raw streams); for
    a ``vfr`` source, the constant rate it is conformed to (the rate of its most common frame
    interval, see :func:`ladderforge.media.conform.constant_rate`)."""
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
    """Display rotation from metadata, degrees counter-clockwise: 0, 90, 180 or 270. ffmpeg
    applies it on decoding (and writes no rotation into what it encodes), and analysis turns its
    decoded planes the same way, so every stage sees the upright picture."""
    has_audio: bool = False
    """Whether the file also carries an audio stream."""
    truncated: bool = False
    """True when the file ends in the middle of a frame (a truncated file): that frame is not
    counted, as ffmpeg does not decode it."""
    vfr: bool = False
    """True when the frames are not evenly spaced in time (variable frame rate: parts at other
    rates, dropped frames, jittered timestamps). ladderforge then works on the source conformed
    to the constant ``frame_rate`` (see :mod:`ladderforge.media.conform`); ``frame_count`` and
    ``duration_s`` are the source's own until a job conforms it."""

    @property
    def title(self) -> str:
        """The file name without its extension: the title's name in reports."""
        return self.path.stem

    @property
    def video_range(self) -> str:
        """``PQ`` (HDR10, SMPTE ST 2084), ``HLG`` (ARIB STD-B67) or ``SDR``, from the transfer
        characteristic: the HLS ``VIDEO-RANGE`` of every rendition made from it."""
        return VIDEO_RANGES.get(self.color_transfer, "SDR")

    @property
    def coded_size(self) -> tuple[int, int]:
        """(width, height) of the picture as stored, before the display rotation."""
        return (self.height, self.width) if self.rotation_deg % 180 else (self.width, self.height)

    def to_dict(self) -> dict[str, Any]:
        return {k: to_jsonable(v) for k, v in asdict(self).items()}

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
        self._check_names()
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

    def _check_names(self) -> None:
        """What types can know of codec, preset, tune and params: strings of the right shape.
        Whether the backend exists and takes them is the backend's check (``encode``)."""
        if not isinstance(self.codec, str) or not _NAME.fullmatch(self.codec):
            raise UsageError(
                "The 'codec' parameter of EncodeSettings must be a backend name such as 'x265' "
                f"(letters, digits, '_', '-'). Got {self.codec!r} instead."
            )
        if not isinstance(self.preset, str) or not self.preset.strip():
            raise UsageError(
                "The 'preset' parameter of EncodeSettings must be a non-empty string such as "
                f"'medium' or '10'. Got {self.preset!r} instead."
            )
        if self.tune is not None and (not isinstance(self.tune, str) or not self.tune.strip()):
            raise UsageError(
                "The 'tune' parameter of EncodeSettings must be None or a non-empty string. "
                f"Got {self.tune!r} instead."
            )
        object.__setattr__(self, "params", _checked_params(self.params))

    def key(self) -> str:
        """A stable string that identifies these settings (for stores and caches)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def with_(self, **changes: Any) -> EncodeSettings:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {k: to_jsonable(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EncodeSettings:
        values = dict(data)
        values["params"] = tuple(tuple(p) for p in values.get("params", ()))
        values["keyframes"] = tuple(values.get("keyframes", ()))
        return cls(**values)


def _checked_params(params: Any) -> tuple[tuple[str, str], ...]:
    """``params`` as a tuple of (key, value) string pairs (lists become tuples), or a UsageError
    naming what is wrong."""
    example = "(('aq-mode', '3'), ('psy-rd', '1.0'))"
    if isinstance(params, (str, bytes, dict)) or not isinstance(params, (tuple, list)):
        raise UsageError(
            "The 'params' parameter of EncodeSettings must be a tuple of (key, value) string "
            f"pairs such as {example}. Got {params!r} instead."
        )
    pairs: list[tuple[str, str]] = []
    for pair in params:
        if (
            not isinstance(pair, (tuple, list))
            or len(pair) != 2
            or not all(isinstance(x, str) for x in pair)
        ):
            raise UsageError(
                "The 'params' parameter of EncodeSettings must hold (key, value) pairs of "
                f"strings such as {example}. Got {pair!r} instead."
            )
        if not _NAME.fullmatch(pair[0]):
            raise UsageError(
                f"The 'params' key {pair[0]!r} of EncodeSettings is not a parameter name: give "
                "it without '--', spaces, '=' or ':' (e.g. 'aq-mode')."
            )
        pairs.append((pair[0], pair[1]))
    return tuple(pairs)


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
        data = {k: to_jsonable(v) for k, v in asdict(self).items() if k != "settings"}
        data["settings"] = self.settings.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EncodeResult:
        values = dict(data)
        values["settings"] = EncodeSettings.from_dict(values["settings"])
        values["output_path"] = Path(values["output_path"])
        return cls(**values)
