"""analyze() end to end on generated clips: feature sanity, containers, bad and odd inputs."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ladderforge.analysis import FRAME_COLUMNS, FRAME_FEATURES, analyze
from ladderforge.errors import (
    InvalidMediaError,
    MediaNotFoundError,
    UnsupportedMediaError,
    UsageError,
)
from ladderforge.media import run_ffmpeg
from ladderforge.types import MIN_SIDE_PX

MakeClip = Callable[..., Path]

FEATURES = [f.name for f in FRAME_FEATURES if f.pooled]


def test_profile_follows_the_schema(bikes_mp4: Path) -> None:
    profile = analyze(bikes_mp4, cache_dir=False)
    frames = profile.frames
    assert tuple(frames.columns) == FRAME_COLUMNS
    assert frames.height == 250
    for spec in FRAME_FEATURES:
        assert frames.schema[spec.name] == spec.dtype, spec.name
        if spec.dtype in (pl.Float64, pl.Int32, pl.Int64):
            values = frames[spec.name].drop_nulls()
            assert values.min() >= spec.low and values.max() <= spec.high, spec.name  # type: ignore[operator]
    assert frames["frame"].to_list() == list(range(250))
    assert set(frames["pict_type"].unique()) <= {"I", "P", "B"}
    t = profile.title
    assert t["frames_lost"] == 0 and t["motion_source"] == "mv"
    for name in FEATURES:
        assert math.isfinite(float(t[f"{name}_mean"])), name  # type: ignore[arg-type]


def test_si_flat_below_detailed_and_ti_of_still_clip_is_zero(
    clips: Path, make_lavfi: MakeClip
) -> None:
    flat = analyze(make_lavfi(clips / "flat.mp4", "color=c=gray"), cache_dir=False)
    detailed = analyze(make_lavfi(clips / "detail.mp4", "testsrc2"), cache_dir=False)
    still = analyze(make_lavfi(clips / "bars.mp4", "smptehdbars", frames=12), cache_dir=False)
    assert flat.title["si_mean"] < 1.0 < 20.0 < detailed.title["si_mean"]  # type: ignore[operator]
    assert still.title["ti_max"] < 0.2  # type: ignore[operator]
    assert still.title["still_share"] == pytest.approx(11 / 12)  # every frame but the first
    assert detailed.title["ti_mean"] > 1.0  # type: ignore[operator]


@pytest.mark.parametrize(
    ("pad", "area"),
    [
        ("pad=320:240:22:46:black", (22, 46, 256, 144)),
        ("pad=320:144:32:0:black", (32, 0, 256, 144)),
    ],
)
def test_letterbox_and_pillarbox_found_to_the_pixel(
    clips: Path, make_lavfi: MakeClip, pad: str, area: tuple[int, ...]
) -> None:
    clip = make_lavfi(clips / f"pad{area[0]}.mp4", "testsrc2", size="256x144", vf=pad)
    t = analyze(clip, cache_dir=False).title
    assert (t["active_x"], t["active_y"], t["active_w"], t["active_h"]) == area
    assert t["letterboxed"]


def test_same_frames_in_mp4_and_mkv_give_the_same_features(testsrc_mp4: Path, clips: Path) -> None:
    mkv = clips / "testsrc.mkv"
    run_ffmpeg(["-y", "-loglevel", "error", "-i", str(testsrc_mp4), "-c", "copy", str(mkv)])
    a = analyze(testsrc_mp4, cache_dir=False).frames
    b = analyze(mkv, cache_dir=False).frames
    # Same decoded pictures; OpenCV's SIMD reductions may differ in the last float bits.
    assert_frame_equal(a.drop("pts_s"), b.drop("pts_s"), check_exact=False, rel_tol=1e-6)
    assert b["pts_s"].to_list() == pytest.approx(a["pts_s"].to_list(), abs=0.001)


def test_variable_frame_rate_timestamps_are_kept(clips: Path, make_lavfi: MakeClip) -> None:
    vfr = make_lavfi(
        clips / "vfr.mkv",
        "testsrc2",
        frames=12,
        vf="setpts='if(lt(N,5),N,2*N)/(25*TB)'",
        args=("-fps_mode", "passthrough"),
    )
    pts = analyze(vfr, cache_dir=False).frames["pts_s"].to_list()
    expected = [n / 25 if n < 5 else 2 * n / 25 for n in range(12)]
    assert pts == pytest.approx(expected, abs=0.002)


def test_rotation_metadata_is_reported(testsrc_mp4: Path, clips: Path) -> None:
    rotated = clips / "rotated.mp4"
    run_ffmpeg(
        [
            "-y",
            "-loglevel",
            "error",
            "-display_rotation",
            "90",
            "-i",
            str(testsrc_mp4),
            "-c",
            "copy",
            str(rotated),
        ]
    )
    assert analyze(rotated, cache_dir=False).title["rotation_deg"] in (90, -90, 270)


def test_ten_bit_source_matches_eight_bit(clips: Path, make_lavfi: MakeClip) -> None:
    eight = analyze(make_lavfi(clips / "8bit.mp4", "testsrc2"), cache_dir=False).title
    ten = analyze(
        make_lavfi(clips / "10bit.mp4", "testsrc2", args=("-pix_fmt", "yuv420p10le")),
        cache_dir=False,
    ).title
    assert ten["bit_depth"] == 10
    for name, tol in (
        ("si_mean", 0.03),
        ("luma_mean_mean", 0.01),
        ("texture_e_mean", 0.05),
        ("colorfulness_mean", 0.05),
    ):
        assert ten[name] == pytest.approx(eight[name], rel=tol), name


def test_tiny_frames_are_handled_and_too_tiny_ones_refused(
    clips: Path, make_lavfi: MakeClip
) -> None:
    side = MIN_SIDE_PX  # the job's one limit (libvmaf's); analysis takes it too
    small = make_lavfi(clips / f"{side}.mp4", "testsrc2", size=f"{side}x{side}")
    tiny = analyze(small, cache_dir=False)
    assert tiny.frames.height == 10 and tiny.title["grid_width"] == side
    for size in ("16x16", "8x8"):
        with pytest.raises(UnsupportedMediaError, match=f"{size}.*>= {side}"):
            analyze(make_lavfi(clips / f"{size}.mp4", "testsrc2", size=size), cache_dir=False)


def test_8k_frames_are_handled(clips: Path) -> None:
    big = clips / "8k.mkv"
    run_ffmpeg(
        [
            "-y",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=7680x4320:rate=25",
            "-frames:v",
            "2",
            "-c:v",
            "mjpeg",
            "-q:v",
            "20",
            "-pix_fmt",
            "yuvj420p",
            str(big),
        ]
    )
    profile = analyze(big, cache_dir=False)
    assert profile.frames.height == 2
    assert (profile.title["grid_width"], profile.title["grid_height"]) == (480, 270)
    assert profile.title["active_w"] == 7680


def test_corrupt_frames_mid_stream_are_counted_not_fatal(clips: Path, make_lavfi: MakeClip) -> None:
    clean = make_lavfi(
        clips / "clean.mp4",
        "testsrc2",
        frames=75,
        size="160x90",
        args=("-g", "25", "-movflags", "+faststart"),
    )
    data = bytearray(clean.read_bytes())
    rnd = random.Random(0)
    middle = len(data) // 2
    for i in range(middle, middle + 3000):
        data[i] = rnd.randrange(256)
    bad = clips / "corrupt.mp4"
    bad.write_bytes(bytes(data))
    t = analyze(bad, cache_dir=False).title
    assert t["frames_expected"] == 75
    assert t["frames_decoded"] + t["frames_lost"] == 75  # type: ignore[operator]
    assert t["frames_lost"] + t["frames_corrupt"] > 0  # type: ignore[operator]


def test_fast_mode_and_progress(testsrc_mp4: Path) -> None:
    calls: list[tuple[int, int]] = []
    fast = analyze(
        testsrc_mp4, cache_dir=False, fast=True, on_progress=lambda d, n: calls.append((d, n))
    )
    frames = fast.frames["frame"].to_list()
    assert frames == sorted(set(frames)) and 0 < len(frames) <= 20 and frames[-1] < 20
    assert fast.title["motion_source"] == "flow"
    assert calls[-1] == (20, 20)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_bad_input_and_parameters_raise_clear_errors(tmp_path: Path, testsrc_mp4: Path) -> None:
    with pytest.raises(MediaNotFoundError):
        analyze(tmp_path / "missing.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 50)
    with pytest.raises(InvalidMediaError):
        analyze(text)
    with pytest.raises(UsageError, match="stride"):
        analyze(testsrc_mp4, stride=0)
    with pytest.raises(UsageError, match="scene_detector"):
        analyze(testsrc_mp4, scene_detector="histogram", cache_dir=False)


def test_a_failure_in_the_worker_thread_is_raised_not_hung(
    testsrc_mp4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ladderforge.analysis import features

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("kernel failed")

    monkeypatch.setattr(features.FrameFeatures, "compute_prepared", boom)
    with pytest.raises(RuntimeError, match="kernel failed"):
        analyze(testsrc_mp4, cache_dir=False)


def test_fast_mode_on_a_raw_stream_keeps_true_frame_indices(
    clips: Path, make_lavfi: MakeClip
) -> None:
    raw = make_lavfi(clips / "raw.264", "testsrc2", frames=20)
    profile = analyze(raw, cache_dir=False, fast=True)  # no timestamps: no frame is skipped
    assert profile.frames["frame"].to_list() == list(range(0, 20, 2))
    assert profile.title["frames_decoded"] == 20
