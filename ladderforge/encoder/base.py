"""The encoder extension point: one small base class and a registry of backends.

A backend turns :class:`~ladderforge.types.EncodeSettings` into ffmpeg's video-encoder arguments
(``-c:v`` onwards) for one pass; everything shared (input, scaling, pixel format, forced
keyframes, output) is built once in :mod:`ladderforge.encoder.run`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Literal

from ladderforge.errors import UsageError
from ladderforge.types import MIN_SIDE_PX, CodecFacts, EncodeSettings, RateControl

__all__ = ["BACKENDS", "BaseEncoder", "codec_facts", "get_encoder", "register_encoder"]


class BaseEncoder(ABC):
    """One codec backend.

    Required: :attr:`name`, :attr:`ffmpeg_encoder`, :attr:`codec_family`,
    :attr:`default_preset`, :meth:`rate_control_args`. Optional: :meth:`keyframe_args`,
    :meth:`validate`, :meth:`extra_args`. Backends are stateless and thread-safe.

    The facts the rest of the package needs about a backend (rate-control name, CPU or GPU,
    presets in speed order, the learned model that predicts it) are class attributes here,
    handed out as plain data by :attr:`facts`: nothing outside ``encoder/`` tests codec names.
    """

    name: str
    """ladderforge's name for the backend (``EncodeSettings.codec``)."""
    ffmpeg_encoder: str
    """ffmpeg's encoder name, e.g. ``libx265``."""
    codec_family: str
    """``hevc``, ``h264`` or ``av1``."""
    rate_controls: tuple[str, ...] = ("crf", "qp", "bitrate")
    """The rate controls this backend accepts."""
    two_pass: bool = False
    """Whether ``passes=2`` is supported."""
    presets: tuple[str, ...] = ()
    """Valid preset names, fastest first (empty: not checked)."""
    default_preset: str
    """The preset used when none is given."""
    quality_rate_control: RateControl = "crf"
    """The constant-quality rate control a ladder searches over (``crf`` or ``cq``)."""
    device: Literal["cpu", "gpu"] = "cpu"
    """Where the encoder runs."""
    q_range: tuple[float, float] = (0.0, 51.0)
    """Lowest and highest CRF/CQ."""
    fractional_q: bool = True
    """Whether a fractional CRF/CQ is passed through (else rounded to an integer)."""
    prediction_models: tuple[tuple[str, str], ...] = ()
    """(preset, shipped model name): the learned RD models that predict this backend."""
    unavailable_hint: str = ""
    """Said after the reason when the backend cannot run on this machine."""

    @property
    def facts(self) -> CodecFacts:
        """This backend's facts as plain data (what policy and the jobs tier may use)."""
        return CodecFacts(
            name=self.name,
            family=self.codec_family,
            quality_rate_control=self.quality_rate_control,
            device=self.device,
            presets=self.presets,
            default_preset=self.default_preset,
            q_min=self.q_range[0],
            q_max=self.q_range[1],
            fractional_q=self.fractional_q,
            prediction_models=self.prediction_models,
        )

    def validate(self, settings: EncodeSettings) -> None:
        """Raise UsageError when the settings make no sense for this backend."""
        if settings.rate_control not in self.rate_controls:
            raise UsageError(
                f"The {self.name} backend does not support rate_control="
                f"{settings.rate_control!r}; use one of {', '.join(self.rate_controls)}."
            )
        if settings.passes == 2 and not self.two_pass:
            raise UsageError(f"The {self.name} backend does not support two-pass encoding.")
        if self.presets and settings.preset not in self.presets:
            raise UsageError(
                f"The 'preset' parameter of the {self.name} backend must be one of "
                f"{', '.join(self.presets)}. Got {settings.preset!r} instead."
            )
        if min(settings.width, settings.height) < MIN_SIDE_PX:
            raise UsageError(
                f"The 'width'/'height' of EncodeSettings must be >= {MIN_SIDE_PX} pixels, the "
                f"smallest picture ladderforge measures. Got {settings.width}x{settings.height}."
            )
        if settings.pix_fmt not in ("yuv420p", "yuv420p10le"):
            raise UsageError(
                f"The 'pix_fmt' parameter must be 'yuv420p' or 'yuv420p10le'. "
                f"Got {settings.pix_fmt!r} instead."
            )

    def video_args(self, settings: EncodeSettings, *, pass_no: int, passlog: Path) -> list[str]:
        """All encoder arguments for one pass (``pass_no`` is 0 for single-pass encodes)."""
        args = ["-c:v", self.ffmpeg_encoder, *self.preset_args(settings)]
        args += self.rate_control_args(settings, pass_no=pass_no, passlog=passlog)
        args += self.keyframe_args(settings)
        args += self.extra_args(settings)
        return args

    def preset_args(self, settings: EncodeSettings) -> list[str]:
        """Preset (and tune) arguments."""
        args = ["-preset", settings.preset]
        if settings.tune:
            args += ["-tune", settings.tune]
        return args

    @abstractmethod
    def rate_control_args(
        self, settings: EncodeSettings, *, pass_no: int, passlog: Path
    ) -> list[str]:
        """Rate-control arguments, including two-pass bookkeeping."""

    def ffmpeg_pix_fmt(self, settings: EncodeSettings) -> str:
        """The pixel format handed to the encoder."""
        return settings.pix_fmt

    def keyframe_args(self, settings: EncodeSettings) -> list[str]:
        """GOP length and the flag that makes forced keyframes IDR / closed-GOP."""
        args: list[str] = []
        if settings.gop:
            args += ["-g", str(settings.gop)]
        if settings.keyframes:
            args += ["-forced-idr", "1"]
        return args

    def extra_args(self, settings: EncodeSettings) -> list[str]:
        """Backend-specific extra parameters (settings.params)."""
        return []


def vbv_args(settings: EncodeSettings) -> list[str]:
    """``-maxrate``/``-bufsize`` from the settings, when a maxrate is set."""
    if settings.maxrate_kbps is None:
        return []
    bufsize = settings.bufsize_kbits or 2 * settings.maxrate_kbps
    return ["-maxrate", f"{settings.maxrate_kbps:g}k", "-bufsize", f"{bufsize:g}k"]


BACKENDS: dict[str, BaseEncoder] = {}
"""Backend name -> instance. Availability on this machine: media.detect_capabilities()."""


def register_encoder(backend: BaseEncoder) -> BaseEncoder:
    """Add a backend to the registry (third-party backends may call this)."""
    BACKENDS[backend.name] = backend
    return backend


def get_encoder(name: str) -> BaseEncoder:
    """The backend called ``name``, or a UsageError listing the known ones."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise UsageError(
            f"Unknown codec backend {name!r}; known: {', '.join(sorted(BACKENDS))}."
        ) from None


def codec_facts(name: str) -> CodecFacts:
    """The facts of the backend called ``name`` (a UsageError listing the known ones)."""
    return get_encoder(name).facts
