"""Full-reference quality of a distorted video against its reference: VMAF, PSNR, SSIM, XPSNR,
and banding (CAMBI).

One ffmpeg run decodes both videos once and feeds libvmaf (every requested VMAF model plus its
``psnr``, ``float_ssim`` and ``cambi`` features) and, when asked, ffmpeg's ``xpsnr`` filter.

``cambi`` is Netflix's contrast-aware banding index (libvmaf's CAMBI feature, on the distorted
video at the reference's grid): 0 is no banding, about 5 and above is visible; lower is better,
unlike every other metric here. It sees what VMAF and PSNR barely see: banding in flat and dark
gradients, where adaptive quantisation spends its bits.

Why our own thin wrapper rather than ffmpeg-quality-metrics (FQM): FQM has no XPSNR, runs the
metrics as separate filters and cannot ask libvmaf for several models in one pass, pairs frames
by timestamp (we pair by frame index, after checking both frame counts, so a dropped frame is an
error rather than a silent shift), and needs ffprobe beside the binary, which imageio-ffmpeg does
not ship. FQM stays in the test suite as an independent cross-check of our VMAF figures.

Conventions (METRICS.md): the distorted video is scaled to the reference's grid with a named
scaler (bicubic by default, as Netflix does) and the scaler is recorded; both sides are brought
to limited-range 4:2:0 at the reference's bit depth.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from ladderforge.errors import FrameCountMismatchError, MeasureError, UsageError
from ladderforge.media.capabilities import VMAF_MODELS
from ladderforge.media.ffmpeg import (
    DEFAULT_TIMEOUT_S,
    ProgressCallback,
    check_timeout,
    ffmpeg_version,
    run_ffmpeg,
)
from ladderforge.media.probe import as_path, probe
from ladderforge.types import PooledScores, QualityResult, SourceInfo

__all__ = ["DEFAULT_METRICS", "KNOWN_METRICS", "measure", "pool", "sampled_frames"]

DEFAULT_METRICS = ("vmaf", "psnr", "ssim", "xpsnr")
KNOWN_METRICS = (*VMAF_MODELS, "psnr", "ssim", "xpsnr", "cambi")
SCALERS = ("bicubic", "bilinear", "lanczos", "spline", "neighbor", "area", "gauss")
XPSNR_CAP_DB = 100.0
"""XPSNR of identical frames is infinite; it is reported as this value."""


def pool(values: Sequence[float]) -> PooledScores:
    """Pool per-frame scores: mean, harmonic mean (of x+1, minus 1), 1%-low, 5th pct, min."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        raise UsageError("Cannot pool an empty list of scores.")
    worst = np.sort(arr)[: max(1, math.ceil(arr.size * 0.01))]
    return PooledScores(
        mean=float(arr.mean()),
        harmonic_mean=float(arr.size / np.sum(1.0 / (arr + 1.0)) - 1.0),
        low_1pct=float(worst.mean()),
        p5=float(np.percentile(arr, 5)),
        min=float(arr.min()),
    )


def _check_metrics(metrics: Sequence[str]) -> list[str]:
    unknown = [m for m in metrics if m not in KNOWN_METRICS]
    if unknown or not metrics:
        raise UsageError(
            f"The 'metrics' parameter of measure must name some of {', '.join(KNOWN_METRICS)}. "
            f"Got {list(metrics)!r} instead."
        )
    return list(dict.fromkeys(metrics))


def _stride(n: int) -> int:
    return next((s for s in range(2, n) if math.gcd(s, n) == 1), 1)


def _pattern(n_subsample: int) -> tuple[int, set[int], set[int]]:
    """Period, scored positions and fed positions (modulo the period) of the sampling."""
    period = n_subsample * n_subsample
    step = _stride(n_subsample)
    scored = {b * n_subsample + (b * step) % n_subsample for b in range(n_subsample)}
    fed = {(k + d) % period for k in scored for d in (-1, 0, 1)}
    return period, scored, fed


def sampled_frames(frames: int, n_subsample: int) -> tuple[list[int], list[int]]:
    """Frames fed to libvmaf and, among them, the frames scored, for "every n-th frame".

    One frame is scored in each block of n frames, at an offset that walks through the block
    (0, 2, 4, 1, 3 for n=5) rather than always the block's first frame, so that the sample does
    not lock onto the encoder's GOP pattern (x265's default mini-GOP is 5 frames). VMAF v0.6.1's
    motion feature for frame k needs frames k-1 and k+1, so each scored frame is fed with its two
    neighbours and gets exactly its full-run score; libvmaf computes about 3/n of the frames.
    Measured on the demo clips (experiments/measure_check): within 0.37 VMAF of the full score,
    where libvmaf's own ``n_subsample=5`` was off by up to +6.4.
    """
    if n_subsample == 1:
        every = list(range(frames))
        return every, every
    period, scored, fed = _pattern(n_subsample)
    return (
        [m for m in range(frames) if m % period in fed],
        [k for k in range(frames) if k % period in scored],
    )


def _select_expr(n_subsample: int) -> str:
    period, _, fed = _pattern(n_subsample)
    terms = "+".join(f"eq(mod(n\\,{period})\\,{x})" for x in sorted(fed))
    return f"select='{terms}'"


def _graph(
    ref: SourceInfo,
    metrics: list[str],
    *,
    scaler: str,
    n_subsample: int,
    threads: int,
    vmaf_log: Path,
    xpsnr_log: Path,
    frames: int,
    ref_fps: Fraction | None,
) -> str:
    pix = "yuv420p10le" if ref.bit_depth > 8 else "yuv420p"
    # Pair by frame index: timestamps n/25 s on both sides, whatever the containers said.
    common = f"trim=end_frame={frames},settb=1/25,setpts=N,format={pix}"
    dist_chain = f"[1:v]scale={ref.width}:{ref.height}:flags={scaler}:out_range=tv,{common}"
    conform = f"fps={ref_fps.numerator}/{ref_fps.denominator}," if ref_fps else ""
    ref_chain = f"[0:v]{conform}scale=out_range=tv,{common}"
    models = [m for m in metrics if m in VMAF_MODELS]
    features = [
        f for f, m in (("psnr", "psnr"), ("float_ssim", "ssim"), ("cambi", "cambi")) if m in metrics
    ]
    want_xpsnr = "xpsnr" in metrics
    split = ",split=2[d1][d2]" if want_xpsnr else "[d1]"
    rsplit = ",split=2[r1][r2]" if want_xpsnr else "[r1]"
    graph = [dist_chain + split, ref_chain + rsplit]
    vmaf_in = "[d1][r1]"
    if n_subsample > 1:
        pick = f"{_select_expr(n_subsample)},setpts=N"
        graph += [f"[d1]{pick}[dv]", f"[r1]{pick}[rv]"]
        vmaf_in = "[dv][rv]"
    model_opt = "|".join(f"{VMAF_MODELS[m]}\\:name={m}" for m in models or ["vmaf"])
    vmaf = (
        f"{vmaf_in}libvmaf=model='{model_opt}':n_threads={threads}"
        f":log_fmt=json:log_path='{_escape(vmaf_log)}'"
    )
    if features:
        vmaf += ":feature='" + "|".join(f"name={f}" for f in features) + "'"
    graph.append(vmaf + "[vout]")
    if want_xpsnr:
        # XPSNR weights each frame with its temporal activity, so it sees every frame; the
        # subsampled frames are picked from its log afterwards.
        graph.append(f"[d2][r2]xpsnr=stats_file='{_escape(xpsnr_log)}'[xout]")
    return ";".join(graph)


def _escape(path: Path) -> str:
    return str(path).replace("\\", "\\\\").replace("'", "\\'").replace(":", "\\:")


def measure(
    ref: str | os.PathLike[str] | SourceInfo,
    dist: str | os.PathLike[str] | SourceInfo,
    *,
    metrics: Sequence[str] = DEFAULT_METRICS,
    n_subsample: int = 1,
    scaler: str = "bicubic",
    threads: int | None = None,
    frame_mismatch: str = "error",
    ref_fps: Fraction | None = None,
    ref_decoder_threads: int | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    on_progress: ProgressCallback | None = None,
) -> QualityResult:
    """Measure ``dist`` against ``ref`` (reference first, always).

    Args:
        metrics: any of ``vmaf`` (vmaf_v0.6.1), ``vmaf_neg``, ``vmaf_4k``, ``vmaf_phone``,
            ``vmaf_v1_3d0h``, ``vmaf_v1_5d0h``, ``psnr`` (Y, Cb, Cr), ``ssim`` (libvmaf's
            float_ssim), ``xpsnr`` (ffmpeg's xpsnr filter, luma).
        n_subsample: score every n-th frame (1 = all).
        scaler: swscale algorithm that brings ``dist`` to ``ref``'s grid.
        threads: libvmaf threads (default: all cores).
        frame_mismatch: ``error`` (default) or ``truncate`` (score the common first frames).
        ref_fps: conform the reference to this constant rate first (ffmpeg's ``fps`` filter,
            as a ladder job conforms a source: :mod:`ladderforge.media.conform`); default: the
            distorted's rate when the reference is VFR, else none. A conformed reference is
            paired with the distorted's frames, and libvmaf's count of scored frames checks it.
        ref_decoder_threads: threads of the reference's decoder (default: ffmpeg's); 1 decodes
            a damaged reference the same way every time (frame threads conceal its errors
            differently from run to run), as a ladder job's mezzanine was decoded.
        timeout_s: seconds the ffmpeg run may take before it is killed (> 0).

    Raises:
        UsageError: an unknown metric or scaler, a bad option, a path that is not a path.
        FrameCountMismatchError: the two videos have different frame counts.
        MeasureError: ffmpeg/libvmaf failed, or fewer frames were scored than expected.
    """
    chosen = _check_options(metrics, n_subsample, scaler, frame_mismatch)
    check_timeout(timeout_s, function="measure")
    ref_info = ref if isinstance(ref, SourceInfo) else probe(_path(ref, "ref"), hash_content=False)
    dist_info = (
        dist if isinstance(dist, SourceInfo) else probe(_path(dist, "dist"), hash_content=False)
    )
    if ref_fps is None and ref_info.vfr and not dist_info.vfr:
        ref_fps = dist_info.frame_rate
    if ref_fps is not None:  # the conformed reference's count is known once decoded
        ref_info = replace(ref_info, frame_count=dist_info.frame_count)
    if ref_info.frame_count != dist_info.frame_count and frame_mismatch == "error":
        raise FrameCountMismatchError(
            f"{dist_info.path}: has {dist_info.frame_count} frames but the reference "
            f"{ref_info.path} has {ref_info.frame_count}; pass frame_mismatch='truncate' to "
            "score the common frames",
            path=dist_info.path,
        )
    frames = min(ref_info.frame_count, dist_info.frame_count)
    with tempfile.TemporaryDirectory(prefix="lf-measure-") as tmp:
        vmaf_log, xpsnr_log = Path(tmp) / "vmaf.json", Path(tmp) / "xpsnr.log"
        graph = _graph(
            ref_info,
            chosen,
            scaler=scaler,
            n_subsample=n_subsample,
            threads=threads or os.cpu_count() or 1,
            vmaf_log=vmaf_log,
            xpsnr_log=xpsnr_log,
            frames=frames,
            ref_fps=ref_fps,
        )
        _run(ref_info, dist_info, graph, xpsnr="xpsnr" in chosen, timeout_s=timeout_s,
             on_progress=on_progress, ref_threads=ref_decoder_threads)  # fmt: skip
        fed, scored = sampled_frames(frames, n_subsample)
        per_frame, indices = _read_vmaf_log(vmaf_log, chosen, dist_info.path, fed, scored)
        if "xpsnr" in chosen:
            xpsnr = _read_xpsnr(xpsnr_log, dist_info.path)
            per_frame["xpsnr_y"] = [xpsnr[k] for k in scored if k < len(xpsnr)]
    _check_scored(per_frame, len(sampled_frames(frames, n_subsample)[1]), dist_info.path)
    return QualityResult(
        pooled={name: pool(values) for name, values in per_frame.items()},
        per_frame=per_frame,
        frame_indices=indices,
        models={m: VMAF_MODELS[m].replace("\\:", ":") for m in chosen if m in VMAF_MODELS},
        display_width=ref_info.width,
        display_height=ref_info.height,
        scaler=scaler,
        n_subsample=n_subsample,
        frames_ref=ref_info.frame_count,
        frames_dist=dist_info.frame_count,
        tool_version=ffmpeg_version(),
    )


def _run(
    ref: SourceInfo,
    dist: SourceInfo,
    graph: str,
    *,
    xpsnr: bool,
    timeout_s: float,
    on_progress: ProgressCallback | None,
    ref_threads: int | None = None,
) -> None:
    outputs = ["-map", "[vout]", "-f", "null", "-"]
    threads = ["-threads", str(ref_threads)] if ref_threads else []
    if xpsnr:
        outputs += ["-map", "[xout]", "-f", "null", "-"]
    run_ffmpeg(
        ["-loglevel", "error", *threads, "-i", str(ref.path), "-i", str(dist.path),
         "-filter_complex", graph, *outputs],
        timeout_s=timeout_s,
        on_progress=on_progress,
        error_path=dist.path,
        error_type=MeasureError,
        error_message=f"measuring against {ref.path} failed",
    )  # fmt: skip


def _path(value: object, parameter: str) -> Path:
    return as_path(value, parameter=parameter, function="measure")


def _check_options(
    metrics: Sequence[str], n_subsample: int, scaler: str, frame_mismatch: str
) -> list[str]:
    """The metrics to measure; UsageError naming a bad option."""
    if n_subsample < 1:
        raise UsageError(f"The 'n_subsample' parameter of measure must be >= 1. Got {n_subsample}.")
    if scaler not in SCALERS:
        raise UsageError(
            f"The 'scaler' parameter of measure must be one of {SCALERS}. Got {scaler!r} instead."
        )
    if frame_mismatch not in ("error", "truncate"):
        raise UsageError("The 'frame_mismatch' parameter must be 'error' or 'truncate'.")
    return _check_metrics(metrics)


def _check_scored(per_frame: dict[str, list[float]], expected: int, dist: Path) -> None:
    for name, values in per_frame.items():
        if len(values) != expected:
            raise MeasureError(
                f"{dist}: {name} scored {len(values)} frames, expected {expected}", path=dist
            )


def _read_vmaf_log(
    log_path: Path, metrics: list[str], dist: Path, fed: list[int], scored: list[int]
) -> tuple[dict[str, list[float]], list[int]]:
    try:
        frames = json.loads(log_path.read_text())["frames"]
    except (OSError, ValueError, KeyError) as exc:
        raise MeasureError(f"{dist}: libvmaf wrote no readable log ({exc})", path=dist) from exc
    wanted: dict[str, str] = {m: m for m in metrics if m in VMAF_MODELS}
    if "psnr" in metrics:
        wanted.update({"psnr_y": "psnr_y", "psnr_cb": "psnr_cb", "psnr_cr": "psnr_cr"})
    if "ssim" in metrics:
        wanted["ssim"] = "float_ssim"
    if "cambi" in metrics:
        wanted["cambi"] = "cambi"
    if len(frames) != len(fed):
        raise MeasureError(
            f"{dist}: libvmaf scored {len(frames)} frames, expected {len(fed)}: one of the two "
            "files decodes fewer frames than it has packets (truncated or corrupt?)",
            path=dist,
        )
    keep = set(scored)
    per_frame: dict[str, list[float]] = {name: [] for name in wanted}
    for source_index, frame in zip(fed, frames, strict=True):
        if source_index in keep:
            for name, key in wanted.items():
                per_frame[name].append(float(frame["metrics"][key]))
    return per_frame, scored


def _read_xpsnr(log_path: Path, dist: Path) -> list[float]:
    values: list[float] = []
    try:
        lines = log_path.read_text().splitlines()
    except OSError as exc:
        raise MeasureError(f"{dist}: the xpsnr filter wrote no log ({exc})", path=dist) from exc
    for line in lines:
        if "XPSNR y:" not in line:
            continue
        token = line.split("XPSNR y:")[1].split()[0]
        value = float(token) if token not in ("inf", "nan") else XPSNR_CAP_DB
        values.append(min(value, XPSNR_CAP_DB))
    return values
