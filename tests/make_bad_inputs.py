"""The bad-input corpus of issue 17: unusual and broken sources, each with the outcome it must have.

Run as a script to write the corpus into a folder and print each case with its outcome::

    python tests/make_bad_inputs.py /tmp/corpus

``tests/foundation/test_bad_input_corpus.py`` builds it under ``tmp_path`` and checks every case.
Media are lavfi clips of a few frames at small sizes (seconds to build on two cores).

An outcome is either ``usable`` (probe and analysis succeed; ``ladder --encode`` makes renditions
that ``verify`` passes) or the :class:`~ladderforge.errors.LadderforgeError` subclass that probe
must raise, with a piece of its one-line message.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CASES", "Case", "build"]


@dataclass(frozen=True)
class Case:
    """One source of the corpus and what ladderforge must do with it."""

    name: str
    """File name in the corpus folder (some are hostile on purpose)."""
    outcome: str
    """``usable``, or the error class probe raises (``InvalidMediaError``...)."""
    message: str = ""
    """A piece of the error's message (errors), or of a ladder note (usable cases)."""
    make: Callable[[Path, str], None] | None = None
    """Writes the case at the given path (the ffmpeg binary is the second argument)."""


def _ffmpeg(ffmpeg: str, *args: str) -> None:
    subprocess.run(
        [ffmpeg, "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        timeout=120,
        capture_output=True,
    )


def _lavfi(
    size: str = "320x240",
    *,
    frames: int = 25,
    rate: int = 25,
    pix_fmt: str = "yuv420p",
    codec: tuple[str, ...] = ("-c:v", "libx264", "-preset", "ultrafast"),
    extra: tuple[str, ...] = (),
    source: str = "testsrc2",
) -> Callable[[Path, str], None]:
    def make(path: Path, ffmpeg: str) -> None:
        sep = ":" if "=" in source else "="
        _ffmpeg(ffmpeg, "-f", "lavfi", "-i", f"{source}{sep}size={size}:rate={rate}",
                "-frames:v", str(frames), "-pix_fmt", pix_fmt, *codec, *extra,
                str(path))  # fmt: skip

    return make


def _cut(share: float, *, faststart: bool) -> Callable[[Path, str], None]:
    def make(path: Path, ffmpeg: str) -> None:
        whole = path.with_name(f".whole-{path.name}")
        _lavfi(frames=75, extra=("-movflags", "+faststart") if faststart else ())(whole, ffmpeg)
        data = whole.read_bytes()
        path.write_bytes(data[: int(len(data) * share)])
        whole.unlink()

    return make


def _bit_flips(path: Path, ffmpeg: str) -> None:
    """Every 97th byte of the second half of the media data inverted (a fixed pattern)."""
    whole = path.with_name(f".whole-{path.name}")
    _lavfi(frames=50, extra=("-movflags", "+faststart"))(whole, ffmpeg)
    data = bytearray(whole.read_bytes())
    for i in range(len(data) // 2, len(data), 97):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    whole.unlink()


def _audio_only(path: Path, ffmpeg: str) -> None:
    _ffmpeg(ffmpeg, "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", str(path))


def _text(path: Path, ffmpeg: str) -> None:
    path.write_text("This is not a video.\n" * 50)


def _empty(path: Path, ffmpeg: str) -> None:
    path.write_bytes(b"")


def _rotated(path: Path, ffmpeg: str) -> None:
    base = path.with_name(f".base-{path.name}")
    _lavfi("320x180")(base, ffmpeg)
    _ffmpeg(ffmpeg, "-display_rotation", "90", "-i", str(base), "-c", "copy", str(path))
    base.unlink()


def _vfr(path: Path, ffmpeg: str) -> None:
    _ffmpeg(ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=1",
            "-f", "lavfi", "-i", "testsrc=size=320x240:rate=12:duration=1",
            "-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]", "-fps_mode", "vfr",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            str(path))  # fmt: skip


def _hdr10(path: Path, ffmpeg: str) -> None:
    mastering = "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)"
    _ffmpeg(ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-frames:v", "25",
            "-vf", "setparams=color_primaries=bt2020:color_trc=smpte2084:colorspace=bt2020nc"
            ":range=tv,format=yuv420p10le", "-c:v", "libx265", "-preset", "ultrafast",
            "-x265-params", f"log-level=error:hdr10=1:master-display={mastering}:max-cll=1000,400",
            str(path))  # fmt: skip


def _two_video_streams(path: Path, ffmpeg: str) -> None:
    _ffmpeg(ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
            "-f", "lavfi", "-i", "smptebars=size=160x120:rate=25", "-map", "0:v", "-map", "1:v",
            "-frames:v", "25", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            str(path))  # fmt: skip


def _huge_declared(path: Path, ffmpeg: str) -> None:
    """A Y4M header declaring a 30000x30000 picture, followed by a few bytes of one frame."""
    path.write_bytes(b"YUV4MPEG2 W30000 H30000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(4096))


def _symlink_loop(path: Path, ffmpeg: str) -> None:
    path.symlink_to(path)


def _directory(path: Path, ffmpeg: str) -> None:
    path.mkdir()


def _fifo(path: Path, ffmpeg: str) -> None:
    os.mkfifo(path)


_X265 = ("-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error")
_NO_INDEX = "without its index"

CASES: tuple[Case, ...] = (
    Case("zero_byte.mp4", "InvalidMediaError", "the file is empty (0 bytes)", _empty),
    Case("text.mp4", "InvalidMediaError", "not a readable media file", _text),
    Case("trunc_moov_end_10.mp4", "InvalidMediaError", _NO_INDEX, _cut(0.1, faststart=False)),
    Case("trunc_moov_end_50.mp4", "InvalidMediaError", _NO_INDEX, _cut(0.5, faststart=False)),
    Case("trunc_moov_end_90.mp4", "InvalidMediaError", _NO_INDEX, _cut(0.9, faststart=False)),
    Case("trunc_moov_front_10.mp4", "usable", "The source is truncated", _cut(0.1, faststart=True)),
    Case("trunc_moov_front_50.mp4", "usable", "The source is truncated", _cut(0.5, faststart=True)),
    Case("trunc_moov_front_90.mp4", "usable", "The source is truncated", _cut(0.9, faststart=True)),
    Case("bit_flips.mp4", "usable", "is damaged", _bit_flips),
    Case("audio_only.m4a", "InvalidMediaError", "has no video stream (found: audio)", _audio_only),
    Case("one_by_one.mkv", "UnsupportedMediaError", "the picture is 1x1",
         _lavfi("1x1", frames=5, pix_fmt="yuv444p", codec=("-c:v", "ffv1"), source="color=c=red")),
    Case("tiny16.mp4", "UnsupportedMediaError", "the picture is 16x16", _lavfi("16x16")),
    Case("odd_321x241.mkv", "usable", "",
         _lavfi("321x241", pix_fmt="yuv444p", codec=("-c:v", "ffv1"), source="testsrc")),
    Case("ten_bit.mp4", "usable", "", _lavfi(pix_fmt="yuv420p10le", codec=_X265)),
    Case("yuv444.mp4", "usable", "", _lavfi(pix_fmt="yuv444p")),
    Case("interlaced.mp4", "usable", "The source is interlaced",
         _lavfi(extra=("-flags", "+ildct+ilme", "-x264-params", "interlaced=1"))),
    Case("vfr_30_12.mp4", "usable", "conformed to a constant 30 fps", _vfr),
    Case("rotated90.mp4", "usable", "", _rotated),
    Case("hdr10.mp4", "usable", "VMAF is not calibrated on HDR", _hdr10),
    Case("one_frame.mp4", "usable", "", _lavfi(frames=1)),
    Case("two_video_streams.mkv", "usable", "", _two_video_streams),
    Case("huge_declared.y4m", "InvalidMediaError", "not a readable media file", _huge_declared),
    Case("$(touch pwned).mp4", "usable", "", _lavfi(frames=10)),
    Case("it's \"quoted\".mp4", "usable", "", _lavfi(frames=10)),
    Case("vidéo_ünïcode_日本.mp4", "usable", "", _lavfi(frames=10)),
    Case("-leading-dash.mp4", "usable", "", _lavfi(frames=10)),
    Case("symlink_loop.mp4", "MediaNotFoundError", "is a symlink loop", _symlink_loop),
    Case("directory.mp4", "MediaNotFoundError", "is a directory", _directory),
    Case("fifo.mp4", "MediaNotFoundError", "is a named pipe (FIFO)", _fifo),
)  # fmt: skip
"""Every case of the corpus, with its outcome."""


def build(folder: Path, ffmpeg: str) -> dict[str, Path]:
    """Write every case into ``folder`` (created); name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for case in CASES:
        path = folder / case.name
        if not (path.exists() or path.is_symlink()):
            assert case.make is not None
            case.make(path, ffmpeg)
        paths[case.name] = path
    return paths


if __name__ == "__main__":  # pragma: no cover - a tool for people
    from ladderforge.media import ffmpeg_path

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "bad_inputs")
    for name, path in build(out, ffmpeg_path()).items():
        case = next(c for c in CASES if c.name == name)
        print(f"{case.outcome:22} {path}  {case.message}")
