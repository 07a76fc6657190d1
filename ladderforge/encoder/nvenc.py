"""NVIDIA NVENC backends (HEVC, H.264, AV1) from NVIDIA's documented ffmpeg options.

Sources: NVIDIA's "Using FFmpeg with NVIDIA GPU Hardware Acceleration" guide and the NVENC
Video Encoder API preset migration guide: presets ``p1`` (fastest) to ``p7`` (best quality);
tunes ``hq``, ``uhq`` (HEVC/AV1, Ada and newer), ``ll``, ``ull``, ``lossless``; rate control
``constqp`` (``-qp``) or ``vbr`` with a constant-quality target (``-cq``, with ``-b:v 0``) or a
target bitrate; ``-multipass qres|fullres`` for two-pass; ``-spatial-aq``/``-temporal-aq``;
``-rc-lookahead``; ``-b_ref_mode middle``; ``-forced-idr 1`` for keyframes that are IDR.

These encoders cannot run on machines without an NVIDIA GPU that has NVENC units (the H100/H200
data-centre GPUs have none). ffmpeg lists them anyway, so availability is decided by a trial
encode (:func:`ladderforge.media.detect_capabilities`), and :func:`ladderforge.encoder.encode`
raises :class:`~ladderforge.errors.EncoderUnavailableError` with the trial's reason.
"""

from __future__ import annotations

from pathlib import Path

from ladderforge.encoder.base import BaseEncoder, register_encoder, vbv_args
from ladderforge.errors import UsageError
from ladderforge.types import EncodeSettings

__all__ = ["NVENC_PRESETS", "NVENC_TUNES", "NvencEncoder"]

NVENC_PRESETS = tuple(f"p{i}" for i in range(1, 8))
NVENC_TUNES = ("hq", "uhq", "ll", "ull", "lossless")
# Private options passed through from EncodeSettings.params, with the values NVIDIA documents.
_ALLOWED_PARAMS = {
    "spatial-aq": ("0", "1"),
    "temporal-aq": ("0", "1"),
    "aq-strength": tuple(str(i) for i in range(1, 16)),
    "rc-lookahead": None,  # frames, any non-negative integer
    "b_ref_mode": ("disabled", "each", "middle"),
    "bf": None,
    "multipass": ("disabled", "qres", "fullres"),
    "lookahead_level": None,
}


class NvencEncoder(BaseEncoder):
    """One NVENC encoder (``hevc_nvenc``, ``h264_nvenc`` or ``av1_nvenc``)."""

    rate_controls = ("cq", "qp", "bitrate")
    two_pass = True
    presets = NVENC_PRESETS
    # NVIDIA's preset guide recommends p4-p7 for high-quality offline (VOD) transcoding; p5
    # is its middle ground between quality and throughput.
    default_preset = "p5"
    quality_rate_control = "cq"
    device = "gpu"
    unavailable_hint = (
        "NVENC needs an NVIDIA GPU with NVENC units and its driver (libcuda); "
        "data-centre GPUs such as H100/H200 have none."
    )

    def __init__(self, name: str, ffmpeg_encoder: str, codec_family: str) -> None:
        self.name = name
        self.ffmpeg_encoder = ffmpeg_encoder
        self.codec_family = codec_family

    def validate(self, settings: EncodeSettings) -> None:
        super().validate(settings)
        if settings.tune is not None and settings.tune not in NVENC_TUNES:
            raise UsageError(
                f"The 'tune' parameter of {self.name} must be one of {', '.join(NVENC_TUNES)}. "
                f"Got {settings.tune!r} instead."
            )
        if settings.tune == "uhq" and self.codec_family == "h264":
            raise UsageError("NVENC tune 'uhq' exists for HEVC and AV1 only.")
        if settings.rate_control == "cq" and not 0 <= (settings.q or 0) <= 51:
            raise UsageError(f"NVENC CQ must be in 0..51. Got {settings.q!r} instead.")
        for key, value in settings.params:
            if key not in _ALLOWED_PARAMS:
                raise UsageError(
                    f"Unknown NVENC parameter {key!r}; known: {', '.join(sorted(_ALLOWED_PARAMS))}."
                )
            allowed = _ALLOWED_PARAMS[key]
            if allowed is not None and value not in allowed:
                raise UsageError(f"NVENC parameter {key} must be one of {allowed}. Got {value!r}.")

    def rate_control_args(
        self, settings: EncodeSettings, *, pass_no: int, passlog: Path
    ) -> list[str]:
        if settings.rate_control == "qp":
            return ["-rc", "constqp", "-qp", f"{int(settings.q or 0)}"]
        if settings.rate_control == "cq":
            return ["-rc", "vbr", "-cq", f"{settings.q:g}", "-b:v", "0", *vbv_args(settings)]
        args = ["-rc", "vbr", "-b:v", f"{settings.bitrate_kbps:g}k", *vbv_args(settings)]
        if settings.passes == 2 and "multipass" not in dict(settings.params):
            args += ["-multipass", "fullres"]
        return args

    def ffmpeg_pix_fmt(self, settings: EncodeSettings) -> str:
        # NVENC takes 10-bit 4:2:0 as P010, not planar yuv420p10le.
        return "p010le" if settings.pix_fmt == "yuv420p10le" else "yuv420p"

    def keyframe_args(self, settings: EncodeSettings) -> list[str]:
        args = super().keyframe_args(settings)
        if not settings.fixed_gop:
            return args
        # chunks are joined by stream copy: every IDR carries its own parameter sets
        return [*args, "-no-scenecut", "1", "-bsf:v", "dump_extra=freq=keyframe"]

    def extra_args(self, settings: EncodeSettings) -> list[str]:
        args: list[str] = []
        for key, value in settings.params:
            args += [f"-{key}", value]
        if settings.pix_fmt == "yuv420p10le" and self.codec_family == "hevc":
            args += ["-profile:v", "main10"]
        return args


for _name, _ff, _family in (
    ("nvenc_hevc", "hevc_nvenc", "hevc"),
    ("nvenc_h264", "h264_nvenc", "h264"),
    ("nvenc_av1", "av1_nvenc", "av1"),
):
    register_encoder(NvencEncoder(_name, _ff, _family))
