"""Fuzzing probe and analysis on mutated real files (issue 17, What to build 10): whatever the
bytes, nothing but a :class:`~ladderforge.errors.LadderforgeError` escapes, and nothing hangs.

Seeds are small real encodes (H.264 in MP4 and MPEG-TS, HEVC in MP4, VP9 in WebM, FFV1 in
Matroska); hypothesis mutates them (bit flips, truncation, overwritten, deleted, duplicated and
inserted byte runs). The default run tries a fixed, derandomized set of examples (seconds);
the long run (``-m slow``) keeps drawing fresh random examples for
``LADDERFORGE_FUZZ_SECONDS`` (default 600)::

    LADDERFORGE_FUZZ_SECONDS=600 pytest -m slow -k fuzz_for_a_while \
        tests/foundation/test_fuzz_inputs.py

A failing example is printed by hypothesis with the seed file and the mutations to replay it.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from ladderforge.analysis import analyze
from ladderforge.errors import LadderforgeError, UnsupportedMediaError
from ladderforge.media import probe

hypothesis = pytest.importorskip("hypothesis", reason="pip install hypothesis (the dev extra)")
st = hypothesis.strategies

HANG_S = 120.0
"""Longest one probe + analysis of a few kilobytes may take before it counts as a hang."""
SEEDS = {
    "h264.mp4": ("-c:v", "libx264", "-preset", "ultrafast", "-movflags", "+faststart"),
    "h264.ts": ("-c:v", "libx264", "-preset", "ultrafast"),
    "hevc.mp4": ("-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error"),
    "vp9.webm": ("-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"),
    "ffv1.mkv": ("-c:v", "ffv1"),
}


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    import subprocess

    from ladderforge.media import ffmpeg_path

    folder = tmp_path_factory.mktemp("fuzz_seeds")
    data = {}
    for name, codec in SEEDS.items():
        path = folder / name
        subprocess.run(
            [ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-f", "lavfi",
             "-i", "testsrc2=size=64x48:rate=25", "-frames:v", "8", "-pix_fmt", "yuv420p",
             *codec, str(path)],
            check=True, timeout=120, capture_output=True,
        )  # fmt: skip
        data[name] = path.read_bytes()
    return data


_positions = st.integers(min_value=0, max_value=1 << 20)
_runs = st.binary(min_size=1, max_size=64)
MUTATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("flip"), _positions, st.integers(0, 7)),
        st.tuples(st.just("truncate"), _positions),
        st.tuples(st.just("overwrite"), _positions, _runs),
        st.tuples(st.just("delete"), _positions, st.integers(1, 512)),
        st.tuples(st.just("duplicate"), _positions, st.integers(1, 512)),
        st.tuples(st.just("insert"), _positions, _runs),
    ),
    min_size=1,
    max_size=8,
)


def mutate(data: bytes, mutations: list[tuple]) -> bytes:  # type: ignore[type-arg]
    """Apply ``mutations`` in order (positions wrap around the current length)."""
    buf = bytearray(data)
    for kind, pos, *arg in mutations:
        if not buf:
            break
        at = pos % len(buf)
        if kind == "flip":
            buf[at] ^= 1 << arg[0]
        elif kind == "truncate":
            del buf[at:]
        elif kind == "overwrite":
            buf[at : at + len(arg[0])] = arg[0]
        elif kind == "delete":
            del buf[at : at + arg[0]]
        elif kind == "duplicate":
            buf[at:at] = buf[at : at + arg[0]]
        elif kind == "insert":
            buf[at:at] = arg[0]
    return bytes(buf)


def probe_and_analyse(path: Path) -> None:
    """What the property checks: probe, then (when it probes) analysis; LadderforgeErrors are
    the expected refusals. Run in a thread so that a hang fails the example."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # numeric warnings on garbage are no failure
                probe(path)
                analyze(path, cache_dir=False)
            outcome.append(None)
        except LadderforgeError:
            outcome.append(None)
        except BaseException as exc:  # handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(HANG_S)
    if thread.is_alive():
        raise AssertionError(f"probe/analysis of {path} still running after {HANG_S:g} s")
    if outcome[0] is not None:
        raise outcome[0]


def _property(seeds: dict[str, bytes], folder: Path) -> Callable[..., None]:
    @hypothesis.given(name=st.sampled_from(sorted(seeds)), mutations=MUTATIONS)
    def check(name: str, mutations: list[tuple]) -> None:  # type: ignore[type-arg]
        path = folder / f"mutated{Path(name).suffix}"
        path.write_bytes(mutate(seeds[name], mutations))
        probe_and_analyse(path)

    return check  # type: ignore[no-any-return]


def test_mutate_changes_bytes_as_described() -> None:
    data = bytes(range(10))
    assert mutate(data, [("flip", 12, 0)]) == bytes([0, 1, 3, *range(3, 10)])
    assert mutate(data, [("truncate", 4)]) == bytes(range(4))
    assert mutate(data, [("delete", 1, 2), ("insert", 0, b"\xff")]) == b"\xff" + bytes(
        [0, 3, 4, 5, 6, 7, 8, 9]
    )
    assert mutate(data, [("duplicate", 8, 5)]) == bytes([*range(10)[:8], 8, 9, 8, 9])


def test_fuzz_probe_and_analysis(seeds: dict[str, bytes], tmp_path: Path) -> None:
    settings = hypothesis.settings(
        max_examples=30, deadline=None, derandomize=True, database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )  # fmt: skip
    settings(_property(seeds, tmp_path))()


@pytest.mark.slow
def test_fuzz_for_a_while(seeds: dict[str, bytes], tmp_path: Path) -> None:
    budget_s = float(os.environ.get("LADDERFORGE_FUZZ_SECONDS", "600"))
    settings = hypothesis.settings(
        max_examples=50, deadline=None, derandomize=False, database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )  # fmt: skip
    start, rounds = time.monotonic(), 0
    while time.monotonic() - start < budget_s:
        settings(_property(seeds, tmp_path))()
        rounds += 1
    print(f"fuzzed {rounds * 50} examples in {time.monotonic() - start:.0f} s")


def test_an_unknown_video_codec_is_refused(seeds: dict[str, bytes], tmp_path: Path) -> None:
    # found by the fuzzer: a damaged sample entry leaves PyAV a stream without a codec context
    # (AttributeError: 'NoneType' object has no attribute 'pix_fmt')
    path = tmp_path / "unknown.mp4"
    data = seeds["h264.mp4"]
    assert data.count(b"avc1") >= 1
    path.write_bytes(data.replace(b"avc1", b"zzzz"))
    with pytest.raises(UnsupportedMediaError, match="has no decoder"):
        probe(path)
