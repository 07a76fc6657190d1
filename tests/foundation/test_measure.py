"""measure(): agreement with a direct libvmaf run and with ffmpeg-quality-metrics, pooling,
subsampling, frame-count checks."""

from __future__ import annotations

import json
import subprocess
import warnings
from pathlib import Path

import pytest

from ladderforge.encoder import encode
from ladderforge.errors import FrameCountMismatchError, MeasureError, UsageError
from ladderforge.media import ffmpeg_path
from ladderforge.types import EncodeSettings
from ladderforge.vmaf_tools import measure, pool
from ladderforge.vmaf_tools.measure import sampled_frames


@pytest.fixture(scope="module")
def bikes_low(bikes_mp4: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bikes at 320x136, x265 CRF 32: a real lower-rung encode (upscaled for measurement)."""
    out = tmp_path_factory.mktemp("enc") / "bikes_320.mp4"
    settings = EncodeSettings(codec="x265", width=320, height=136, q=32, preset="ultrafast")
    return encode(bikes_mp4, settings, out).output_path


def _direct_libvmaf(ref: Path, dist: Path, log: Path) -> float:
    """The plain ffmpeg command Netflix documents: dist scaled (bicubic) to ref, then libvmaf."""
    graph = (
        f"[0:v]scale=640:272:flags=bicubic[d];"
        f"[d][1:v]libvmaf=log_fmt=json:log_path={log}:n_threads=2"
    )
    subprocess.run(
        [
            ffmpeg_path(),
            "-loglevel",
            "error",
            "-i",
            str(dist),
            "-i",
            str(ref),
            "-lavfi",
            graph,
            "-f",
            "null",
            "-",
        ],
        check=True,
        timeout=300,
    )
    return float(json.loads(log.read_text())["pooled_metrics"]["vmaf"]["mean"])


def test_agrees_with_direct_libvmaf(bikes_mp4: Path, bikes_low: Path, tmp_path: Path) -> None:
    ours = measure(bikes_mp4, bikes_low, metrics=["vmaf"])
    direct = _direct_libvmaf(bikes_mp4, bikes_low, tmp_path / "log.json")
    assert abs(ours.vmaf - direct) <= 0.01
    assert 30 < ours.vmaf < 95
    assert ours.scaler == "bicubic" and (ours.display_width, ours.display_height) == (640, 272)


def test_agrees_with_ffmpeg_quality_metrics(
    bikes_mp4: Path, bikes_low: Path, tmp_path: Path
) -> None:
    fqm = pytest.importorskip("ffmpeg_quality_metrics")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it warns that imageio's ffmpeg has no ffprobe beside it
        runner = fqm.FfmpegQualityMetrics(
            str(bikes_mp4),
            str(bikes_low),
            ffmpeg_path=ffmpeg_path(),
            threads=2,
            tmp_dir=str(tmp_path),
        )
        frames = runner.calculate(["vmaf"])["vmaf"]
    theirs = sum(f["vmaf"] for f in frames) / len(frames)
    assert measure(bikes_mp4, bikes_low, metrics=["vmaf"]).vmaf == pytest.approx(theirs, abs=0.01)


def test_all_metrics(bikes_mp4: Path, bikes_low: Path) -> None:
    result = measure(
        bikes_mp4, bikes_low, metrics=["vmaf", "vmaf_neg", "vmaf_phone", "psnr", "ssim", "xpsnr"]
    )
    names = set(result.pooled)
    assert names == {
        "vmaf",
        "vmaf_neg",
        "vmaf_phone",
        "psnr_y",
        "psnr_cb",
        "psnr_cr",
        "ssim",
        "xpsnr_y",
    }
    assert result.get("vmaf_neg") <= result.vmaf + 1e-6
    assert result.get("vmaf_phone") > result.vmaf
    assert 25 < result.get("psnr_y") < 50 and 0.8 < result.get("ssim") < 1.0
    assert 20 < result.get("xpsnr_y") < 50
    assert len(result.per_frame["vmaf"]) == 250 == len(result.per_frame["xpsnr_y"])
    p = result.pooled["vmaf"]
    assert p.min <= p.low_1pct <= p.p5 <= p.mean and p.harmonic_mean <= p.mean


def test_identical_is_perfect(lavfi_clip: Path) -> None:
    result = measure(lavfi_clip, lavfi_clip, metrics=["vmaf", "psnr", "xpsnr"])
    assert result.vmaf > 97
    assert result.get("xpsnr_y") == 100.0


def test_subsample(bikes_mp4: Path, bikes_low: Path) -> None:
    full = measure(bikes_mp4, bikes_low, metrics=["vmaf", "xpsnr"])
    fifth = measure(bikes_mp4, bikes_low, metrics=["vmaf", "xpsnr"], n_subsample=5)
    scored = sampled_frames(250, 5)[1]
    assert fifth.frame_indices == scored and len(scored) == 50
    assert sorted(k % 5 for k in scored[:5]) == [0, 1, 2, 3, 4], "offsets walk the block"
    # Each scored frame is fed with its neighbours, so it gets exactly its full-run score.
    assert fifth.per_frame["vmaf"] == pytest.approx(
        [full.per_frame["vmaf"][k] for k in scored], abs=1e-4
    )
    assert fifth.per_frame["xpsnr_y"] == [full.per_frame["xpsnr_y"][k] for k in scored]
    assert abs(fifth.vmaf - full.vmaf) <= 0.5


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 10])
def test_sampled_frames(n: int) -> None:
    fed, scored = sampled_frames(103, n)
    assert set(scored) <= set(fed) and fed == sorted(fed)
    assert len(scored) in (103 // n, 103 // n + 1)
    for k in scored:  # neighbours are fed, so the motion feature is exact
        assert all(m in fed for m in (k - 1, k + 1) if 0 <= m < 103)


def test_pool_by_hand() -> None:
    p = pool([10.0, 20.0, 30.0, 40.0])
    assert p.mean == 25.0 and p.min == 10.0 and p.low_1pct == 10.0
    assert p.harmonic_mean == pytest.approx(4 / (1 / 11 + 1 / 21 + 1 / 31 + 1 / 41) - 1)
    assert p.p5 == pytest.approx(11.5)


def test_frame_count_mismatch(lavfi_clip: Path, tmp_path: Path, make_clip) -> None:
    shorter = make_clip(tmp_path / "short.mp4", frames=20)
    with pytest.raises(FrameCountMismatchError, match=r"short\.mp4: has 20 frames .* has 25"):
        measure(lavfi_clip, shorter)
    truncated = measure(lavfi_clip, shorter, metrics=["vmaf"], frame_mismatch="truncate")
    assert len(truncated.per_frame["vmaf"]) == 20


@pytest.mark.parametrize(
    "kw",
    [
        {"metrics": ["vmaf", "bogus"]},
        {"n_subsample": 0},
        {"scaler": "magic"},
        {"frame_mismatch": "ignore"},
    ],
)
def test_bad_parameters(lavfi_clip: Path, kw: dict) -> None:
    with pytest.raises(UsageError):
        measure(lavfi_clip, lavfi_clip, **kw)


def test_measure_error_names_file(lavfi_clip: Path, tmp_path: Path) -> None:
    audio = tmp_path / "a.m4a"
    subprocess.run(
        [ffmpeg_path(), "-loglevel", "error", "-f", "lavfi", "-i", "sine=d=0.3", str(audio)],
        check=True,
        timeout=60,
    )
    with pytest.raises((MeasureError, ValueError), match="a.m4a"):
        measure(lavfi_clip, audio)


def test_cambi_sees_banding_that_a_dithered_gradient_has_not(tmp_path: Path) -> None:
    # a slow dark gradient (64 luma codes over the frame: bands of one code, a few pixels wide),
    # dithered with noise as a camera or a good master has it, and without (what an encoder
    # that smooths the noise away leaves)
    def gradient(path: Path, vf: str) -> Path:
        src = "gradients=size=320x240:rate=25:speed=0:c0=0x202020:c1=0x606060:seed=1"
        cmd = [ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
               "-i", src, "-frames:v", "5", "-vf", f"{vf}format=yuv420p",
               "-c:v", "ffv1", str(path)]  # fmt: skip
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)
        return path

    dithered = gradient(tmp_path / "dithered.mkv", "format=yuv420p,noise=alls=6:allf=t,")
    banded = gradient(tmp_path / "banded.mkv", "")
    smooth = measure(dithered, dithered, metrics=["vmaf", "cambi"])
    bands = measure(dithered, banded, metrics=["cambi"])
    assert len(smooth.per_frame["cambi"]) == len(bands.per_frame["cambi"]) == 5
    assert smooth.get("cambi") < 1 and bands.get("cambi") > 5  # about 5: visible banding
    assert smooth.vmaf > 97
