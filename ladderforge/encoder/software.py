"""Software backends: x265 (HEVC), x264 (H.264) and SVT-AV1 through ffmpeg's wrappers."""

from __future__ import annotations

from pathlib import Path

from ladderforge.encoder.base import BaseEncoder, register_encoder, vbv_args
from ladderforge.encoder.param_keys import (
    SVTAV1_PARAMS,
    X264_PARAMS,
    X265_PARAMS,
    unknown_param,
)
from ladderforge.errors import UsageError
from ladderforge.types import EncodeSettings

__all__ = ["SvtAv1Encoder", "X264Encoder", "X265Encoder"]

X26X_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
)


def _kv(params: list[tuple[str, str]]) -> str:
    return ":".join(f"{k}={v}" for k, v in params)


def _check_params(
    backend: BaseEncoder,
    settings: EncodeSettings,
    *,
    known: frozenset[str],
    option: str,
    doc: str,
    negatable: bool,
) -> None:
    """A UsageError for a key ``option`` does not take (ffmpeg would only warn and drop it) or
    a value with ':' (it separates the entries of ``option``)."""
    for key, value in settings.params:
        if unknown_param(key, known, negatable=negatable):
            raise UsageError(
                f"The 'params' key {key!r} is not an option of the {backend.name} backend "
                f"({option}); see {doc} for the options it takes, named without '--' "
                "(e.g. ('aq-mode', '3'))."
            )
        if ":" in value:
            raise UsageError(
                f"The 'params' value {value!r} of {key!r} contains ':', which separates the "
                f"entries of {option}; write ',' instead (e.g. ('deblock', '-1,-1'))."
            )


class _X26xEncoder(BaseEncoder):
    """What x265 and x264 share: presets, CRF 0..51, -crf / -qp / -b:v rate control."""

    rate_controls = ("crf", "qp", "bitrate")
    two_pass = True
    presets = X26X_PRESETS

    params_option: str
    """ffmpeg's option that carries ``settings.params``."""
    params_keys: frozenset[str]
    """The keys that option takes (:mod:`ladderforge.encoder.param_keys`)."""
    params_doc: str
    """Where the keys are documented."""

    def validate(self, settings: EncodeSettings) -> None:
        super().validate(settings)
        if settings.rate_control == "crf" and not 0 <= (settings.q or 0) <= 51:
            raise UsageError(f"{self.name} CRF must be in 0..51. Got {settings.q!r} instead.")
        _check_params(
            self,
            settings,
            known=self.params_keys,
            option=self.params_option,
            doc=self.params_doc,
            negatable=True,
        )

    def rate_control_args(
        self, settings: EncodeSettings, *, pass_no: int, passlog: Path
    ) -> list[str]:
        if settings.rate_control == "crf":  # with maxrate: capped CRF
            return ["-crf", f"{settings.q:g}", *vbv_args(settings)]
        if settings.rate_control == "qp":
            return ["-qp", f"{int(settings.q or 0)}"]
        return ["-b:v", f"{settings.bitrate_kbps:g}k", *vbv_args(settings)]


class X265Encoder(_X26xEncoder):
    """libx265. Forced keyframes are IDR with ``open-gop=0`` (else x265 emits CRA frames);
    two-pass bookkeeping goes through ``-x265-params pass=N:stats=...``."""

    name = "x265"
    ffmpeg_encoder = "libx265"
    codec_family = "hevc"
    default_preset = "veryfast"
    prediction_models = (("veryfast", "x265_veryfast"), ("medium", "x265_medium"))
    params_option = "-x265-params"
    params_keys = X265_PARAMS
    params_doc = "'x265 --fullhelp' or https://x265.readthedocs.io/en/master/cli.html"

    def _x265_params(self, settings: EncodeSettings, *, pass_no: int, passlog: Path) -> list[str]:
        # no options SEI: x265 writes its whole command line (2.2-2.3 KB) into every stream,
        # bits no viewer uses that would make a sweep's rates disagree with the chunked rungs'
        params: list[tuple[str, str]] = [("log-level", "error"), ("info", "0")]
        if settings.keyframes or settings.gop or settings.fixed_gop:
            params.append(("open-gop", "0"))
        if settings.gop:
            params += [("keyint", str(settings.gop)), ("min-keyint", "1")]
        if settings.fixed_gop:
            # parameter sets in-band at every IDR: chunks joined by concatenation always decode;
            # with no options SEI (it holds the CRF) chunks of one rendition share their headers
            # and the join can be tagged hvc1, as Apple's HLS wants
            params += [("scenecut", "0"), ("repeat-headers", "1")]
        if pass_no:
            params += [("pass", str(pass_no)), ("stats", str(passlog) + ".log")]
        params += list(settings.params)
        return ["-x265-params", _kv(params)]

    def video_args(self, settings: EncodeSettings, *, pass_no: int, passlog: Path) -> list[str]:
        args = super().video_args(settings, pass_no=pass_no, passlog=passlog)
        return args + self._x265_params(settings, pass_no=pass_no, passlog=passlog)


class X264Encoder(_X26xEncoder):
    """libx264. Forced keyframes are IDR with ``-forced-idr 1``; two-pass with ``-pass``."""

    name = "x264"
    ffmpeg_encoder = "libx264"
    codec_family = "h264"
    default_preset = "medium"
    prediction_models = (("medium", "x264_medium"),)
    params_option = "-x264-params"
    params_keys = X264_PARAMS
    params_doc = "'x264 --fullhelp'"

    def rate_control_args(
        self, settings: EncodeSettings, *, pass_no: int, passlog: Path
    ) -> list[str]:
        args = super().rate_control_args(settings, pass_no=pass_no, passlog=passlog)
        if pass_no and settings.rate_control == "bitrate":
            args += ["-pass", str(pass_no), "-passlogfile", str(passlog)]
        return args

    def keyframe_args(self, settings: EncodeSettings) -> list[str]:
        args = super().keyframe_args(settings)
        return [*args, "-sc_threshold", "0"] if settings.fixed_gop else args

    def extra_args(self, settings: EncodeSettings) -> list[str]:
        params = list(settings.params)
        if settings.fixed_gop:
            params.append(("repeat-headers", "1"))
        return ["-x264-params", _kv(params)] if params else []


class SvtAv1Encoder(BaseEncoder):
    """libsvtav1. Presets are 0 (slowest) to 13 (fastest); CRF 1..63."""

    name = "svtav1"
    ffmpeg_encoder = "libsvtav1"
    codec_family = "av1"
    rate_controls = ("crf", "qp", "bitrate")
    two_pass = False
    presets = tuple(str(p) for p in range(13, -1, -1))  # fastest (13) first
    default_preset = "10"
    q_range = (1.0, 63.0)
    fractional_q = False

    def validate(self, settings: EncodeSettings) -> None:
        super().validate(settings)
        if settings.rate_control == "crf" and not 1 <= (settings.q or 0) <= 63:
            raise UsageError(f"SVT-AV1 CRF must be in 1..63. Got {settings.q!r} instead.")
        _check_params(
            self,
            settings,
            known=SVTAV1_PARAMS,
            option="-svtav1-params",
            doc="'SvtAv1EncApp --help' or SVT-AV1's Docs/Parameters.md",
            negatable=False,
        )

    def preset_args(self, settings: EncodeSettings) -> list[str]:
        return ["-preset", settings.preset]

    def rate_control_args(
        self, settings: EncodeSettings, *, pass_no: int, passlog: Path
    ) -> list[str]:
        if settings.rate_control == "crf":  # with maxrate: SVT-AV1's capped CRF (max_bit_rate)
            return ["-crf", f"{int(settings.q or 0)}", *vbv_args(settings)]
        if settings.rate_control == "qp":
            return ["-qp", f"{int(settings.q or 0)}"]
        return ["-b:v", f"{settings.bitrate_kbps:g}k", *vbv_args(settings)]

    def keyframe_args(self, settings: EncodeSettings) -> list[str]:
        return ["-g", str(settings.gop)] if settings.gop else []

    def extra_args(self, settings: EncodeSettings) -> list[str]:
        params = list(settings.params)
        if settings.fixed_gop:
            params.append(("scd", "0"))  # no scene-change keyframes
        return ["-svtav1-params", _kv(params)] if params else []


for _backend in (X265Encoder(), X264Encoder(), SvtAv1Encoder()):
    register_encoder(_backend)
