"""Cutting a frame range out of a source, decoded once into a lossless FFV1 file.

Probes and datasets work on short segments; since every source is already lossy, the segment is
the decoded source itself (FFV1 is lossless), optionally scaled down with a named scaler.
"""

from __future__ import annotations

import os
from pathlib import Path

from ladderforge.errors import UsageError
from ladderforge.media.ffmpeg import run_ffmpeg
from ladderforge.media.probe import probe
from ladderforge.types import SourceInfo, even_size

__all__ = ["extract_segment"]


def extract_segment(
    source: str | os.PathLike[str] | SourceInfo,
    start: int,
    end: int,
    output: str | os.PathLike[str],
    *,
    max_height: int | None = None,
    scaler: str = "lanczos",
    timeout_s: float = 600.0,
) -> Path:
    """Frames ``[start, end)`` of ``source`` as lossless FFV1 in ``output`` (.mkv), at most
    ``max_height`` lines (even size, aspect kept). Reuses ``output`` when it already exists."""
    out = Path(output)
    if out.exists():
        return out
    info = source if isinstance(source, SourceInfo) else probe(source, hash_content=False)
    if not 0 <= start < end <= info.frame_count:
        raise UsageError(
            f"{info.path}: frames [{start}, {end}) are not inside its {info.frame_count} frames"
        )
    width, height = even_size(info.width, info.height, max_height or info.height)
    tmp = out.with_name(f".{out.stem}.partial-{os.getpid()}.mkv")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        run_ffmpeg(
            [
                "-y",
                "-loglevel",
                "error",
                "-i",
                str(info.path),
                "-an",
                "-sn",
                "-dn",
                "-vf",
                f"select='between(n\\,{start}\\,{end - 1})',setpts=N/FRAME_RATE/TB,"
                f"scale={width}:{height}:flags={scaler},format=yuv420p",
                "-fps_mode",
                "passthrough",
                "-c:v",
                "ffv1",
                str(tmp),
            ],
            timeout_s=timeout_s,
            error_path=info.path,
            error_message=f"cutting frames {start}-{end} failed",
        )
        tmp.replace(out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out
