"""``analyze()``: one decode pass per title -> per-frame features, scene cuts, scenes, title.

The decoding thread reads each frame once (thumbnail, analysis grid, active area, noise, motion
vectors) and lets it go; one worker thread runs the cut detector and the grid features, fed
through a bounded queue. Memory is bounded by the row lists (a few hundred bytes per analysed
frame). Every decoded frame feeds the cut detector through a 192-px thumbnail; every
``stride``-th one gets the full feature set.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import polars as pl

from ladderforge.analysis.cache import default_cache_dir, load_cached, store_cached
from ladderforge.analysis.decode import DecodedFrame, DecodeStats, decode_frames, open_video
from ladderforge.analysis.features import FrameFeatures, Prepared, motion_from_vectors
from ladderforge.analysis.profile import (
    AnalysisParams,
    ContentProfile,
    Scene,
    TitleValue,
    aggregate_exprs,
    frame_schema,
)
from ladderforge.analysis.scenes import CutDetector
from ladderforge.analysis.schema import DEFAULT_ANALYSIS_PIXELS, FAST_STRIDE, FRAME_COLUMNS
from ladderforge.errors import InvalidMediaError, UnsupportedMediaError
from ladderforge.media import probe
from ladderforge.types import MIN_SIDE_PX, SourceInfo

__all__ = ["MAX_SIDE", "MIN_SIDE", "ProgressCallback", "analyze"]

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]
"""Called with (frames decoded so far, frames in the title), from the calling thread."""

MIN_SIDE = MIN_SIDE_PX
"""Smallest picture side analysed: the job's one limit (:data:`ladderforge.types.MIN_SIDE_PX`),
which probing already enforces."""
MAX_SIDE = 16384
"""Largest picture side analysed."""
THUMB_WIDTH = 192
SCREEN_CONTENT_SCORE = 0.15
_PROGRESS_EVERY = 16
_QUEUE_FRAMES = 8


def analyze(
    path: str | os.PathLike[str],
    *,
    stride: int | None = None,
    fast: bool = False,
    analysis_pixels: int = DEFAULT_ANALYSIS_PIXELS,
    scene_detector: str = "adaptive",
    min_scene_s: float = 0.5,
    flash_s: float = 0.25,
    motion_vectors: bool = True,
    threads: int = 0,
    cache_dir: str | os.PathLike[str] | bool | None = None,
    on_progress: ProgressCallback | None = None,
) -> ContentProfile:
    """Describe what is in a video: per-frame features, hard scene cuts, scenes, title features.

    Args:
        path: the video file.
        stride: analyse every n-th decoded frame (cuts still use every decoded frame); default
            1, or 2 in fast mode.
        fast: the decoder skips non-reference frames and the loop filter (see the benchmark
            README for what that changes); motion then comes from optical flow.
        analysis_pixels: most pixels of the analysis grid (default 480x270).
        scene_detector: ``adaptive`` (PySceneDetect's AdaptiveDetector) or ``content``.
        min_scene_s: shortest scene in seconds.
        flash_s: longest flash that is not a cut, in seconds.
        motion_vectors: use decoder motion vectors where the codec exports them.
        threads: decoder threads (0: automatic). Does not change the result.
        cache_dir: cache folder; None: the default (``cache_dir()/analysis``); False: no cache.
        on_progress: called with (frames decoded, frames in the title).

    Raises:
        MediaNotFoundError, InvalidMediaError, UnsupportedMediaError: from probing the file, or
        a picture side under :data:`MIN_SIDE` or over :data:`MAX_SIDE` pixels.
    """
    params = AnalysisParams(
        stride=stride if stride is not None else (FAST_STRIDE if fast else 1),
        fast=fast,
        analysis_pixels=analysis_pixels,
        scene_detector=scene_detector,
        min_scene_s=min_scene_s,
        flash_s=flash_s,
        motion_vectors=motion_vectors,
    )
    source = probe(path)
    _check_size(source)
    folder = _cache_folder(cache_dir)
    if folder is not None:
        cached = load_cached(folder, source, params)
        if cached is not None:
            logger.debug("%s: analysis read from the cache", source.path)
            if on_progress is not None:
                on_progress(source.frame_count, source.frame_count)
            return cached
    profile = _analyze_source(source, params, threads=threads, on_progress=on_progress)
    if folder is not None:
        store_cached(folder, profile)
    return profile


def _cache_folder(cache_dir: str | os.PathLike[str] | bool | None) -> Path | None:
    if cache_dir is False:
        return None
    if cache_dir is None or cache_dir is True:
        return default_cache_dir()
    return Path(cache_dir)


def _check_size(source: SourceInfo) -> None:
    w, h = source.width, source.height
    if min(w, h) < MIN_SIDE or max(w, h) > MAX_SIDE:
        raise UnsupportedMediaError(
            f"{source.path}: a {w}x{h} picture cannot be analysed; ladderforge analyses pictures "
            f"from {MIN_SIDE} to {MAX_SIDE} pixels a side (scale it first, e.g. ffmpeg -vf scale)",
            path=source.path,
        )


class _Pass:
    """State of one decode pass: the feature kernels, the cut detector and the row lists."""

    def __init__(self, source: SourceInfo, params: AnalysisParams) -> None:
        self.source, self.params = source, params
        black = 0.0 if source.color_range == "pc" else 16.0
        self.features = FrameFeatures(
            width=source.width, height=source.height, max_pixels=params.analysis_pixels, black=black
        )
        fps = float(source.frame_rate) or 25.0
        self.cuts = CutDetector(
            detector=params.scene_detector,
            fps=fps,
            min_scene_s=params.min_scene_s,
            flash_s=params.flash_s,
        )
        tw = min(THUMB_WIDTH, source.width)
        self.thumb = (tw, max(2, round(source.height * tw / source.width)))
        self.columns: dict[str, list[Any]] = {c: [] for c in FRAME_COLUMNS}
        self.grey = np.full(self.thumb[::-1], 128, np.uint8)

    def prepare(self, fr: DecodedFrame, analyse: bool) -> _Item:
        """Decoding thread: everything that reads the decoder's frame (which is then freed)."""
        tw, th = self.thumb
        y = cv2.resize(fr.luma, (tw, th), interpolation=cv2.INTER_LINEAR)
        cb: npt.NDArray[Any] | None = None
        cr: npt.NDArray[Any] | None = None
        if fr.cb is not None and fr.cr is not None:
            cb = cv2.resize(fr.cb, (tw, th), interpolation=cv2.INTER_NEAREST)
            cr = cv2.resize(fr.cr, (tw, th), interpolation=cv2.INTER_NEAREST)
        prep = self.features.prepare(fr.luma) if analyse else None
        mv = motion_from_vectors(fr.motion_vectors) if fr.motion_vectors is not None else None
        return _Item(fr.index, fr.pts_s, fr.key, fr.pict_type, y, cb, cr, prep, mv)

    def consume(self, item: _Item) -> None:
        """Worker thread: cut detection and the grid features, in frame order."""
        cb = item.cb if item.cb is not None else self.grey
        cr = item.cr if item.cr is not None else self.grey
        bgr = cv2.cvtColor(cv2.merge([item.y, cb, cr]), cv2.COLOR_YUV2BGR)
        self.cuts.push(item.index, item.pts_s, bgr)
        if item.prep is None:
            return
        frames = self.columns["frame"]
        gap = item.index - frames[-1] if frames else 1
        row = self.features.compute_prepared(item.prep, item.cb, item.cr, gap=gap)
        row.update(
            motion=item.motion,
            frame=item.index,
            pts_s=item.pts_s,
            key=item.key,
            pict_type=item.pict_type,
        )
        for name, values in self.columns.items():
            values.append(row.get(name))


@dataclass
class _Item:
    """One decoded frame, reduced to what the worker needs (owned arrays, no frame buffer)."""

    index: int
    pts_s: float
    key: bool
    pict_type: str
    y: npt.NDArray[Any]
    cb: npt.NDArray[Any] | None
    cr: npt.NDArray[Any] | None
    prep: Prepared | None
    motion: float | None


def _pipeline(
    frames: Iterator[DecodedFrame],
    state: _Pass,
    stats: DecodeStats,
    *,
    stride: int,
    total: int,
    on_progress: ProgressCallback | None,
) -> None:
    """Decode (this thread) and analyse (one worker thread) side by side, in frame order.

    OpenCV and numpy release the GIL, so the worker's features overlap the decoder's own
    threads; the bounded queue keeps memory flat. An exception in either side stops both and
    is raised here.
    """
    todo: queue.Queue[_Item | None] = queue.Queue(maxsize=_QUEUE_FRAMES)
    failure: list[BaseException] = []

    def work() -> None:
        try:
            while (item := todo.get()) is not None:
                state.consume(item)
        except BaseException as exc:  # handed to the decoding thread, which raises it
            failure.append(exc)
            while todo.get() is not None:  # keep draining so that put() never blocks
                pass

    worker = threading.Thread(target=work, name="ladderforge-analysis", daemon=True)
    worker.start()
    try:
        for fr in frames:
            todo.put(state.prepare(fr, analyse=(stats.frames_decoded - 1) % stride == 0))
            if failure:
                break
            if on_progress is not None and stats.frames_decoded % _PROGRESS_EVERY == 0:
                on_progress(min(fr.index + 1, total), total)
    finally:
        todo.put(None)
        worker.join()
    if failure:
        raise failure[0]


def _analyze_source(
    source: SourceInfo,
    params: AnalysisParams,
    *,
    threads: int,
    on_progress: ProgressCallback | None,
) -> ContentProfile:
    start = time.perf_counter()
    state = _Pass(source, params)
    stats = DecodeStats()
    total = source.frame_count
    with open_video(source.path) as container:
        frames = decode_frames(
            container,
            stats=stats,
            fast=params.fast,
            threads=threads,
            motion_vectors=params.motion_vectors,
            frame_rate=source.frame_rate,
        )
        _pipeline(frames, state, stats, stride=params.stride, total=total, on_progress=on_progress)
    if stats.frames_decoded == 0:
        raise InvalidMediaError(
            f"{source.path}: no frame of the video stream decodes", path=source.path
        )
    if on_progress is not None:
        on_progress(total, total)
    cuts = state.cuts.finish()
    columns = state.columns
    if not stats.motion_vectors:
        columns["motion"] = list(columns["motion_flow"])
    df = pl.DataFrame(columns, schema=frame_schema(), strict=False)
    df = _mark_scenes(df, [c for c, _ in cuts])
    scenes = _scenes(df, cuts, source, stats, fast=params.fast)
    title = _title_features(df, scenes, source, params, stats, state)
    wall = time.perf_counter() - start
    logger.debug("%s: %d frames analysed in %.2f s", source.path, df.height, wall)
    return ContentProfile(
        source=source, frames=df, scenes=scenes, title=title, params=params, wall_s=wall
    )


def _mark_scenes(df: pl.DataFrame, cut_frames: list[int]) -> pl.DataFrame:
    """Scene index per row and the cut flag on each scene's first analysed frame."""
    bounds = pl.Series("b", cut_frames, dtype=pl.Int64)
    scene = df["frame"].search_sorted(bounds, side="left")  # row where each scene starts
    idx = np.zeros(df.height, np.int32)
    for row in scene.to_list():
        if row < df.height:
            idx[row:] += 1
    cut = np.zeros(df.height, bool)
    starts = np.flatnonzero(np.diff(idx, prepend=0) > 0)
    cut[starts] = True
    return df.with_columns(pl.Series("scene", idx, pl.Int32), pl.Series("cut", cut))


def _scenes(
    df: pl.DataFrame,
    cuts: list[tuple[int, float]],
    source: SourceInfo,
    stats: DecodeStats,
    *,
    fast: bool,
) -> tuple[Scene, ...]:
    fps = float(source.frame_rate) or 25.0
    last_frame = int(df["frame"].max() or 0)  # type: ignore[arg-type]
    # Fast mode skips frames on purpose: then the stream's own count is the end.
    end_frame = max(last_frame + 1, source.frame_count if fast else stats.frames_decoded)
    first_pts = float(df["pts_s"][0]) if df.height else 0.0
    last_pts = float(df["pts_s"].max() or 0.0)  # type: ignore[arg-type]
    end_s = last_pts + 1.0 / fps
    starts = [(int(df["frame"][0]), first_pts), *cuts]
    pooled = {row["scene"]: row for row in df.group_by("scene").agg(aggregate_exprs()).to_dicts()}
    scenes = []
    for i, (frame, pts) in enumerate(starts):
        nxt_frame, nxt_s = starts[i + 1] if i + 1 < len(starts) else (end_frame, end_s)
        feats = {
            k: (math.nan if v is None else float(v))
            for k, v in pooled.get(i, {}).items()
            if k != "scene"
        }
        scenes.append(
            Scene(
                index=i,
                start_frame=frame,
                end_frame=nxt_frame,
                start_s=pts,
                end_s=nxt_s,
                features=feats,
            )
        )
    return tuple(scenes)


def _median(series: pl.Series) -> int | None:
    value = series.drop_nulls().median()
    return None if value is None else round(float(value))  # type: ignore[arg-type]


def _title_features(
    df: pl.DataFrame,
    scenes: tuple[Scene, ...],
    source: SourceInfo,
    params: AnalysisParams,
    stats: DecodeStats,
    state: _Pass,
) -> dict[str, TitleValue]:
    title: dict[str, TitleValue] = {}
    for k, v in df.select(aggregate_exprs()).row(0, named=True).items():
        title[k] = math.nan if v is None else float(v)
    title["si_max"] = float(df["si"].max() or 0.0)  # type: ignore[arg-type]
    title["ti_max"] = float(df["ti"].max() or 0.0)  # type: ignore[arg-type]
    duration = max(source.duration_s, 1e-9)
    title["scene_count"] = len(scenes)
    title["cuts_per_min"] = (len(scenes) - 1) / duration * 60.0
    lit = df.filter(pl.col("active_w").is_not_null())
    area = {k: _median(lit[k]) for k in ("active_x", "active_y", "active_w", "active_h")}
    if area["active_w"] is None:
        area = {"active_x": 0, "active_y": 0, "active_w": source.width, "active_h": source.height}
    title.update(area)
    title["letterboxed"] = (area["active_w"], area["active_h"]) != (source.width, source.height)
    title["still_share"] = float(df["still"].mean() or 0.0)  # type: ignore[arg-type]
    score = title.get("screen_score_mean")
    title["screen_content"] = isinstance(score, float) and score >= SCREEN_CONTENT_SCORE
    title["motion_source"] = "mv" if stats.motion_vectors else "flow"
    expected = source.frame_count
    lost = stats.decode_errors if params.fast else max(0, expected - stats.frames_decoded)
    title.update(
        frames_expected=expected,
        frames_decoded=stats.frames_decoded,
        frames_analysed=df.height,
        frames_lost=lost,
        frames_corrupt=stats.frames_corrupt,
        truncated=stats.truncated,
        rotation_deg=source.rotation_deg,
        bit_depth=source.bit_depth,
        grid_width=state.features.grid_w,
        grid_height=state.features.grid_h,
    )
    return title
