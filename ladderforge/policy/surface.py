"""The predicted RD surface of a title: (height, CRF) -> (kbps, VMAF, encode cost), as RD points.

The model predicts every candidate of a grid from the title's pooled content features; an
optional :class:`~ladderforge.policy.calibrate.Calibration` corrects it per height; each height's
curve is then made monotone in CRF (quality and rate never rise with CRF) so that the convex
hull and the ladder see a well-formed surface.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from ladderforge.errors import UsageError
from ladderforge.policy.calibrate import Calibration
from ladderforge.policy.cost import encode_cpu_s
from ladderforge.policy.models import CONTENT_FEATURES, RDModel
from ladderforge.types import CodecFacts, EncodeSettings, RDPoint, candidate_sizes

__all__ = [
    "DEFAULT_CRFS",
    "candidate_grid",
    "predict_points",
    "predict_scenes",
    "predict_surface",
    "surface_points",
]

DEFAULT_CRFS = tuple(float(c) for c in range(16, 47))


def candidate_grid(
    *,
    source_width: int,
    source_height: int,
    heights: Sequence[int],
    crfs: Sequence[float] = DEFAULT_CRFS,
) -> list[tuple[int, int, float]]:
    """(width, height, crf) candidates on the sizes of :func:`ladderforge.types.candidate_sizes`."""
    sizes = candidate_sizes(source_width, source_height, heights)
    return [(w, h, float(c)) for w, h in sizes for c in crfs]


def _grid_frame(grid: list[tuple[int, int, float]], source_height: int, fps: float) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "width": [w for w, _, _ in grid],
            "height": [h for _, h, _ in grid],
            "crf": [c for _, _, c in grid],
            "source_height": source_height,
            "source_fps": fps,
        }
    )


def predict_points(
    model: RDModel,
    features: Mapping[str, float],
    settings: Sequence[tuple[int, int, float]],
    *,
    source_height: int,
    fps: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The model's raw (VMAF, kbps) for explicit (width, height, crf) candidates of one scene
    or segment with pooled ``features`` (no calibration, no monotone repair)."""
    return _predict_one(
        model, _grid_frame(list(settings), source_height, fps), features, zero_is_missing=False
    )


def _predict_one(
    model: RDModel,
    base: pl.DataFrame,
    features: Mapping[str, float],
    *,
    zero_is_missing: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    def value(f: str) -> float:
        v = features.get(f)
        if v is None or (zero_is_missing and not v):
            return np.nan
        return float(v)

    content = {f: value(f) for f in CONTENT_FEATURES}
    pred = model.predict(base.with_columns(**{k: pl.lit(v) for k, v in content.items()}))
    return np.asarray(pred.vmaf, float), np.asarray(pred.bitrate_kbps, float)


def _per_height(
    base: pl.DataFrame, vmaf: np.ndarray, kbps: np.ndarray, calibration: Calibration | None
) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated (when given) and monotone in CRF, height by height."""
    vmaf, kbps = vmaf.copy(), kbps.copy()
    heights_col = base["height"].to_numpy()
    crf_col = base["crf"].to_numpy()
    for h in np.unique(heights_col):
        mask = heights_col == h
        order = np.argsort(crf_col[mask])
        v, k = vmaf[mask][order], kbps[mask][order]
        if calibration is not None:
            v, k = calibration.apply(int(h), crf_col[mask][order], v, k)
        # monotone in CRF: a higher CRF never gives more quality or more bits
        v, k = np.minimum.accumulate(v), np.minimum.accumulate(k)
        idx = np.flatnonzero(mask)[order]
        vmaf[idx], kbps[idx] = v, k
    return vmaf, kbps


def predict_surface(
    model: RDModel,
    scenes: Sequence[tuple[int, Mapping[str, float]]],
    *,
    source_width: int,
    source_height: int,
    fps: float,
    frames: int,
    heights: Sequence[int],
    crfs: Sequence[float] = DEFAULT_CRFS,
    calibration: Calibration | None = None,
    codec: CodecFacts,
    preset: str,
) -> pl.DataFrame:
    """One row per candidate: width, height, crf, bitrate_kbps, vmaf, encode_cpu_s (predicted).

    ``scenes`` are (frame count, pooled features) of the title's scenes: the model was trained
    on single scenes, so each scene is predicted on its own and the title's figures are the
    frame-weighted means (mean VMAF over frames; bits add up, so kbps averages by duration).
    Pooling features over a whole title would mix the cuts' temporal spikes into them.
    """
    if not scenes:
        raise UsageError("predict_surface needs at least one scene.")
    grid = candidate_grid(
        source_width=source_width, source_height=source_height, heights=heights, crfs=crfs
    )
    base = _grid_frame(grid, source_height, fps)
    total = float(sum(n for n, _ in scenes))
    vmaf, kbps = np.zeros(len(grid)), np.zeros(len(grid))
    for n, features in scenes:
        v, k = _predict_one(model, base, features)
        vmaf += v * (n / total)
        kbps += k * (n / total)
    vmaf, kbps = _per_height(base, vmaf, kbps, calibration)
    cost = [encode_cpu_s(codec, preset, width=w, height=h, frames=frames) for w, h, _ in grid]
    return base.select("width", "height", "crf").with_columns(
        pl.Series("bitrate_kbps", kbps), pl.Series("vmaf", vmaf), pl.Series("encode_cpu_s", cost)
    )


def predict_scenes(
    model: RDModel,
    scenes: Sequence[Mapping[str, float]],
    *,
    source_width: int,
    source_height: int,
    fps: float,
    heights: Sequence[int],
    crfs: Sequence[float] = DEFAULT_CRFS,
    calibration: Calibration | None = None,
) -> pl.DataFrame:
    """Each scene's (or chunk's) own predicted curves, for per-scene allocation: one row per
    (scene, candidate) with columns scene, width, height, crf, bitrate_kbps, vmaf; the title's
    calibration (when given) corrects every scene, and each curve is monotone in CRF."""
    grid = candidate_grid(
        source_width=source_width, source_height=source_height, heights=heights, crfs=crfs
    )
    base = _grid_frame(grid, source_height, fps)
    parts = []
    for i, features in enumerate(scenes):
        v, k = _per_height(base, *_predict_one(model, base, features), calibration)
        parts.append(
            base.select("width", "height", "crf").with_columns(
                pl.lit(i).alias("scene"), pl.Series("bitrate_kbps", k), pl.Series("vmaf", v)
            )
        )
    if not parts:
        raise UsageError("predict_scenes needs at least one scene.")
    return pl.concat(parts).select("scene", "width", "height", "crf", "bitrate_kbps", "vmaf")


def surface_points(
    surface: pl.DataFrame, *, codec: CodecFacts, preset: str, pix_fmt: str = "yuv420p"
) -> list[RDPoint]:
    """The surface as RD points with the settings each point stands for."""
    return [
        RDPoint(
            EncodeSettings(
                codec=codec.name,
                width=int(r["width"]),
                height=int(r["height"]),
                rate_control=codec.quality_rate_control,
                q=float(r["crf"]),
                preset=preset,
                pix_fmt=pix_fmt,
            ),
            float(r["bitrate_kbps"]),
            float(r["vmaf"]),
            float(r["encode_cpu_s"]),
        )
        for r in surface.iter_rows(named=True)
    ]
