"""The feature schema of analysis: each feature's name, unit, range and recipe, in one place.

Bump :data:`ANALYSIS_VERSION` whenever a recipe, a threshold, the analysis grid or a column
changes: it is part of every cache key, so old cached profiles are then recomputed, and it is
stored in every profile, so a learned model can refuse features of another version.

Conventions:

- *Analysis grid*: the luma plane downscaled so that it holds at most ``analysis_pixels`` pixels
  (default 480x270), aspect kept: exact 2x area halvings (OpenCV ``INTER_AREA``) while the
  picture is at least twice the grid, then one bilinear step of less than 2x (720p: 1.33x;
  1080p and 2160p need none). Smaller sources are analysed at their own size. Features on the
  grid do not depend on the source resolution (16:9 sources all land on 480x270).
- *8-bit code values*: samples of any bit depth are brought to 0-255 first (10-bit / 4).
- *Temporal features* compare an analysed frame with the previous analysed frame; with
  ``stride > 1`` or in fast mode that spans the gap between them (see the benchmark's README for
  how much that changes them).
- *Orientation*: the decoded planes are turned by the display rotation first (as ffmpeg does),
  so features and coordinates (active area) are on the upright picture, in source pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

__all__ = [
    "AGGREGATES",
    "ANALYSIS_VERSION",
    "DEFAULT_ANALYSIS_PIXELS",
    "FAST_STRIDE",
    "FRAME_COLUMNS",
    "FRAME_FEATURES",
    "NUMERIC_FEATURES",
    "TITLE_FIELDS",
    "FeatureSpec",
    "schema_table",
]

ANALYSIS_VERSION = "ladderforge.analysis/2"
"""Version of the feature recipes; part of every cache key and stored in every profile.
/2: rotated sources analysed upright; the cut-short last packet of a truncated file skipped."""

DEFAULT_ANALYSIS_PIXELS = 480 * 270
"""Default pixel budget of the analysis grid: 1080p and 2160p reach it by exact 2x halvings."""
FAST_STRIDE = 2
"""Default stride in fast mode."""

AGGREGATES = ("mean", "p90", "std")
"""How frame features are pooled over a scene or a title: ``{name}_{aggregate}``; ``p90`` is the
90th percentile (linear interpolation), ``std`` the population standard deviation. Missing values
(null/NaN) are left out."""


@dataclass(frozen=True)
class FeatureSpec:
    """One column of the per-frame table."""

    name: str
    """Column name."""
    dtype: type[pl.DataType] | pl.DataType
    """Polars type of the column."""
    unit: str
    """Unit of the values."""
    low: float
    """Lowest possible value."""
    high: float
    """Highest possible value (``inf`` when unbounded)."""
    how: str
    """How the value is computed."""
    pooled: bool = True
    """Whether the feature is aggregated per scene and title (mean, p90, std)."""


_INF = float("inf")

FRAME_FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec(
        "frame",
        pl.Int64,
        "index",
        0,
        _INF,
        "Source frame index in display order (from timestamps in fast mode).",
        False,
    ),
    FeatureSpec(
        "pts_s",
        pl.Float64,
        "s",
        -_INF,
        _INF,
        "Presentation time of the frame (kept as is: variable frame rate survives); "
        "frame / fps for streams without timestamps.",
        False,
    ),
    FeatureSpec("key", pl.Boolean, "flag", 0, 1, "The decoder marked the frame a keyframe.", False),
    FeatureSpec("pict_type", pl.Utf8, "I/P/B/?", 0, 0, "Picture type from the decoder.", False),
    FeatureSpec(
        "si",
        pl.Float64,
        "8-bit code values",
        0,
        1443,
        "ITU-T P.910 spatial information: standard deviation over the grid of the "
        "Sobel gradient magnitude of luma (P.910 takes the max over frames; we pool).",
    ),
    FeatureSpec(
        "ti",
        pl.Float64,
        "8-bit code values",
        0,
        255,
        "ITU-T P.910 temporal information: standard deviation over the grid of the luma "
        "difference to the previous analysed frame (0 on the first frame).",
    ),
    FeatureSpec(
        "mad",
        pl.Float64,
        "8-bit code values",
        0,
        255,
        "Mean absolute luma difference to the previous analysed frame on the grid.",
    ),
    FeatureSpec(
        "texture_e",
        pl.Float64,
        "8-bit code values",
        0,
        _INF,
        "VCA-style texture energy E: 8x8 block DCT (orthonormal) of grid luma; per "
        "block sum of |AC| weighted by exp(|(uv/64)^2 - 1|) (u, v from 1), DC left out; "
        "mean over blocks divided by 64.",
    ),
    FeatureSpec(
        "texture_h",
        pl.Float64,
        "8-bit code values",
        0,
        _INF,
        "VCA-style temporal energy h: mean over blocks of |E_block - E_block(previous "
        "analysed frame)| / 64 (0 on the first frame).",
    ),
    FeatureSpec(
        "luma_mean", pl.Float64, "8-bit code values", 0, 255, "Brightness: mean grid luma."
    ),
    FeatureSpec(
        "luma_std",
        pl.Float64,
        "8-bit code values",
        0,
        128,
        "Contrast: standard deviation of grid luma (RMS contrast).",
    ),
    FeatureSpec(
        "dark_share",
        pl.Float64,
        "fraction",
        0,
        1,
        "Share of grid luma samples <= 40 (8-bit): near-black picture.",
    ),
    FeatureSpec(
        "colorfulness",
        pl.Float64,
        "8-bit code values",
        0,
        235,
        "Hasler-Suesstrunk colourfulness computed on chroma: sqrt(sd(Cb)^2 + sd(Cr)^2) "
        "+ 0.3 * sqrt(mean(Cb-128)^2 + mean(Cr-128)^2), on a 192-px-wide chroma "
        "thumbnail.",
    ),
    FeatureSpec(
        "edge_density",
        pl.Float64,
        "fraction",
        0,
        1,
        "Share of grid pixels whose Sobel magnitude is >= 128 (a step of >= 32 levels).",
    ),
    FeatureSpec(
        "noise_sigma",
        pl.Float64,
        "8-bit code values",
        0,
        _INF,
        "Noise/grain: Immerkaer's estimator (|3x3 Laplacian-difference mask| * "
        "sqrt(pi/2) / 6) on a full-resolution centre crop (<= 256x256), averaged per "
        "16x16 block; the 25th percentile of blocks (flat areas carry the noise). "
        "Compressed sources keep little grain: expect 0-1.",
    ),
    FeatureSpec(
        "motion",
        pl.Float64,
        "source px per frame",
        0,
        _INF,
        "Motion magnitude: mean length of the decoder's motion vectors weighted by "
        "block area (H.264 sources, export_mvs; null on intra frames); other codecs and "
        "fast mode: equal to motion_flow. The title's motion_source says which.",
    ),
    FeatureSpec(
        "motion_flow",
        pl.Float64,
        "source px per frame",
        0,
        _INF,
        "Motion proxy on every source: mean length of DIS optical flow (OpenCV, "
        "ultrafast preset) between 128-px-wide thumbnails of consecutive analysed "
        "frames, scaled to source pixels and divided by their distance in frames.",
    ),
    FeatureSpec(
        "active_x",
        pl.Int32,
        "source px",
        0,
        _INF,
        "Active picture area, left edge: columns at the left whose mean luma is <= "
        "black + 10 are bars. Null when the whole frame is dark.",
        False,
    ),
    FeatureSpec(
        "active_y",
        pl.Int32,
        "source px",
        0,
        _INF,
        "Active picture area, top edge (rows, same rule).",
        False,
    ),
    FeatureSpec("active_w", pl.Int32, "source px", 0, _INF, "Active picture width.", False),
    FeatureSpec("active_h", pl.Int32, "source px", 0, _INF, "Active picture height.", False),
    FeatureSpec(
        "flat_share",
        pl.Float64,
        "fraction",
        0,
        1,
        "Share of 8x8 grid blocks inside the active area with luma variance < 0.25 "
        "(from the DCT, Parseval): perfectly flat areas, typical of screen content.",
    ),
    FeatureSpec(
        "sharp_edge_share",
        pl.Float64,
        "fraction",
        0,
        1,
        "Share of grid pixels inside the active area whose Sobel magnitude is >= 384 "
        "(a step of >= 96 levels within a pixel or two): text and line-art edges.",
    ),
    FeatureSpec(
        "screen_score",
        pl.Float64,
        "score",
        0,
        1,
        "Screen-content indicator: flat_share * min(1, sharp_edge_share / 0.03). "
        "Near 0 for camera footage, high for slides, UI, text and line art.",
    ),
    FeatureSpec(
        "still",
        pl.Boolean,
        "flag",
        0,
        1,
        "Still/repeated frame: mad < 0.5 against the previous analysed frame.",
        False,
    ),
    FeatureSpec("scene", pl.Int32, "index", 0, _INF, "Index of the scene the frame is in.", False),
    FeatureSpec(
        "cut",
        pl.Boolean,
        "flag",
        0,
        1,
        "A scene starts at this frame (a hard cut; frame 0 is not a cut).",
        False,
    ),
)

FRAME_COLUMNS: tuple[str, ...] = tuple(f.name for f in FRAME_FEATURES)
"""Column order of :attr:`ContentProfile.frames`."""

NUMERIC_FEATURES: tuple[str, ...] = tuple(f.name for f in FRAME_FEATURES if f.pooled)
"""The features pooled per scene and per title."""

TITLE_FIELDS: dict[str, str] = {
    "{feature}_{aggregate}": "each pooled frame feature, pooled over the analysed frames",
    "si_max": "P.910's SI: the maximum of per-frame SI",
    "ti_max": "P.910's TI: the maximum of per-frame TI",
    "scene_count": "number of scenes",
    "cuts_per_min": "hard cuts per minute of duration",
    "active_x/active_y/active_w/active_h": "median active area over frames that are not dark",
    "letterboxed": "the active area is smaller than the coded picture",
    "still_share": "share of analysed frames flagged still",
    "screen_content": "screen_score_mean >= 0.15",
    "motion_source": "'mv' (decoder motion vectors) or 'flow' (optical-flow proxy)",
    "frames_expected": "frames in the stream (packets with data)",
    "frames_decoded": "frames the decoder returned",
    "frames_analysed": "frames whose features were computed",
    "frames_lost": "frames that did not decode (corrupt or truncated input)",
    "frames_corrupt": "frames returned but flagged corrupt by the decoder (analysed anyway)",
    "rotation_deg": "display rotation from metadata (features are on the upright picture)",
    "bit_depth": "bits per luma sample of the source",
    "grid_width/grid_height": "size of the analysis grid",
}
"""Title-level fields of :attr:`ContentProfile.title`, described."""


def schema_table() -> pl.DataFrame:
    """The per-frame schema as a table (name, dtype, unit, range, pooled, how): for docs and
    reports."""
    return pl.DataFrame(
        {
            "name": [f.name for f in FRAME_FEATURES],
            "dtype": [str(f.dtype) for f in FRAME_FEATURES],
            "unit": [f.unit for f in FRAME_FEATURES],
            "low": [f.low for f in FRAME_FEATURES],
            "high": [f.high for f in FRAME_FEATURES],
            "pooled": [f.pooled for f in FRAME_FEATURES],
            "how": [f.how for f in FRAME_FEATURES],
        }
    )
