"""Running one encode: arguments, passes, atomic output, verification, timing.

``encode`` builds the ffmpeg command from a backend (:mod:`ladderforge.encoder.base`), writes to
a temporary name beside the output and renames it only after the output was verified (frame
count equal to the source's). CPU seconds are the ffmpeg children's own (``os.wait4``).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from ladderforge.encoder.base import BACKENDS, get_encoder
from ladderforge.errors import (
    EncodeError,
    EncoderUnavailableError,
    FFmpegError,
    LadderforgeError,
    OutputError,
    UsageError,
)
from ladderforge.media.capabilities import Capabilities, detect_capabilities
from ladderforge.media.ffmpeg import (
    DEFAULT_TIMEOUT_S,
    ProgressCallback,
    check_timeout,
    run_ffmpeg,
)
from ladderforge.media.probe import as_path, check_input_file, probe
from ladderforge.store.files import atomic_path
from ladderforge.types import EncodeResult, EncodeSettings, SourceInfo

__all__ = ["build_command", "capabilities", "check_available", "encode"]

log = logging.getLogger(__name__)
_OUTPUT_ERRORS = (
    "No space left on device",
    "Read-only file system",
    "Permission denied",
    "Disk quota exceeded",
)


def capabilities(*, refresh: bool = False) -> Capabilities:
    """What this machine's ffmpeg can do, trying every registered backend (cached)."""
    return detect_capabilities(
        encoders={name: b.ffmpeg_encoder for name, b in BACKENDS.items()}, refresh=refresh
    )


def check_available(codec: str) -> None:
    """Raise EncoderUnavailableError when the backend cannot run on this machine."""
    backend = get_encoder(codec)
    caps = capabilities()
    if not caps.encoders.get(codec, False):
        reason = caps.encoder_errors.get(codec) or "its one-frame trial encode failed"
        hint = f" {backend.unavailable_hint}" if backend.unavailable_hint else ""
        raise EncoderUnavailableError(
            f"encoder {codec} ({backend.ffmpeg_encoder}) is not available with {caps.ffmpeg}: "
            f"{reason}.{hint} Run 'ladderforge doctor' to see what is.",
            log_tail=reason,
        )


def _filters(settings: EncodeSettings, source: SourceInfo, pix_fmt: str) -> str:
    """Scale (on the upright picture: ffmpeg applies the display rotation first), square
    pixels, pixel format. ``setsar=1``: scale would otherwise mark the pixels as slightly
    non-square to make up for the rounding to even sizes (68x120 from 180x320: SAR 135:136)."""
    chain = []
    if (settings.width, settings.height) != (source.width, source.height):
        chain.append(f"scale={settings.width}:{settings.height}:flags={settings.scaler}")
    chain.append("setsar=1")
    chain.append(f"format={pix_fmt}")
    return ",".join(chain)


def build_command(
    source: SourceInfo,
    settings: EncodeSettings,
    output: Path | str,
    *,
    pass_no: int,
    passlog: Path,
) -> list[str]:
    """ffmpeg arguments (without the binary) for one pass of one encode."""
    backend = get_encoder(settings.codec)
    args = [
        "-y",
        "-loglevel",
        "error",
        "-i",
        str(source.path),
        "-map",
        "0:v:0",
        "-an",
        "-sn",
        "-dn",
        "-fps_mode",
        "passthrough",
        "-vf",
        _filters(settings, source, backend.ffmpeg_pix_fmt(settings)),
    ]
    if settings.keyframes:
        expr = "+".join(f"eq(n,{k})" for k in settings.keyframes)
        args += ["-force_key_frames", f"expr:{expr}"]
    args += backend.video_args(settings, pass_no=pass_no, passlog=passlog)
    if pass_no == 1:
        return [*args, "-f", "null", "-"]
    return [*args, str(output)]


def _check_output_folder(output: Path) -> None:
    folder = output.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"{folder}: cannot create the output folder ({exc.strerror})", path=folder
        ) from exc
    if not folder.is_dir():
        raise OutputError(f"{folder}: is not a folder", path=folder)
    if not os.access(folder, os.W_OK):
        raise OutputError(f"{folder}: the output folder is not writable (read-only?)", path=folder)


def encode(
    source: str | os.PathLike[str] | SourceInfo,
    settings: EncodeSettings,
    output: str | os.PathLike[str],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    on_progress: ProgressCallback | None = None,
    check_encoder: bool = True,
) -> EncodeResult:
    """Encode ``source`` with ``settings`` into ``output`` and verify the result.

    ``source`` may be a path or a probed :class:`SourceInfo`. ``on_progress`` gets the frames
    done in the current pass. The output appears under its name only when complete and verified.

    Raises:
        EncoderUnavailableError: the backend cannot run here (checked once per binary, cached).
        UsageError: arguments of the wrong type, an unknown backend, settings the backend
            cannot use.
        EncodeError: ffmpeg failed, timed out, was killed, or the output has the wrong frame count.
        OutputError: the output folder cannot be written (read-only, full).
    """
    _check_arguments(source, settings, output, timeout_s)
    backend = get_encoder(settings.codec)  # the registry's message for an unknown backend
    backend.validate(settings)
    info = source if isinstance(source, SourceInfo) else probe(source, hash_content=False)
    check_input_file(info.path)
    if check_encoder:
        check_available(settings.codec)
    out = Path(output)
    _check_output_folder(out)
    wall_s = cpu_s = 0.0
    with tempfile.TemporaryDirectory(prefix="lf-pass-") as passdir:
        passlog = Path(passdir) / "pass"
        passes = [1, 2] if settings.passes == 2 else [0]
        try:
            with atomic_path(out) as tmp:  # renamed once verified, removed on any failure
                for pass_no in passes:
                    cmd = build_command(info, settings, tmp, pass_no=pass_no, passlog=passlog)
                    run = run_ffmpeg(
                        cmd,
                        timeout_s=timeout_s,
                        on_progress=on_progress,
                        error_path=info.path,
                        error_type=EncodeError,
                        error_message=f"{settings.codec} encode to {out.name} failed",
                    )
                    wall_s += run.wall_s
                    cpu_s += run.cpu_s
                result = _verify(info, settings, tmp, out, wall_s=wall_s, cpu_s=cpu_s)
        except FFmpegError as exc:
            if any(m in exc.log_tail for m in _OUTPUT_ERRORS):
                raise OutputError(
                    f"{out}: cannot write the output ({_first(exc.log_tail)})",
                    path=out,
                    command=exc.command,
                    log_tail=exc.log_tail,
                ) from exc
            raise
    log.debug("encoded %s -> %s: %.0f kbps, %.1f cpu-s", info.path, out, result.bitrate_kbps, cpu_s)
    return result


def _check_arguments(source: object, settings: object, output: object, timeout_s: object) -> None:
    """UsageErrors naming the parameter, before anything is probed or run."""
    if not isinstance(source, SourceInfo):
        as_path(source, parameter="source", function="encode")
    if not isinstance(settings, EncodeSettings):
        raise UsageError(
            "The 'settings' parameter of encode must be an EncodeSettings (e.g. "
            "EncodeSettings(codec='x265', width=1280, height=720, q=28)). "
            f"Got {settings!r} ({type(settings).__name__}) instead."
        )
    as_path(output, parameter="output", function="encode")
    check_timeout(timeout_s, function="encode")


def _first(log_tail: str) -> str:
    for marker in _OUTPUT_ERRORS:
        if marker in log_tail:
            return marker
    return "write failed"


def _verify(
    info: SourceInfo,
    settings: EncodeSettings,
    tmp: Path,
    out: Path,
    *,
    wall_s: float,
    cpu_s: float,
) -> EncodeResult:
    try:
        produced = probe(tmp, hash_content=False)
    except LadderforgeError as exc:
        raise EncodeError(f"{out}: the encoder wrote an unreadable file ({exc})", path=out) from exc
    if produced.frame_count != info.frame_count:
        raise EncodeError(
            f"{out}: the output has {produced.frame_count} frames, the source {info.path} has "
            f"{info.frame_count}; no frame may be lost or duplicated",
            path=out,
        )
    size = tmp.stat().st_size
    duration_s = info.frame_count / float(info.frame_rate)
    return EncodeResult(
        settings=settings,
        output_path=out,
        size_bytes=size,
        bitrate_kbps=size * 8 / duration_s / 1000,
        duration_s=duration_s,
        frames=produced.frame_count,
        wall_s=wall_s,
        cpu_s=cpu_s,
    )
