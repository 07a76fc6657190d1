"""Content analysis: what is in each frame, scene and title, from one decode pass.

``analyze(path)`` decodes a title once with PyAV (threaded, planes read in place), computes
per-frame features on a small analysis grid (P.910 SI/TI, VCA-style DCT texture energy E and
its change h, brightness, contrast, dark share, colourfulness, edge density, noise, motion,
active picture area, screen-content and still-frame indicators), finds hard scene cuts with
PySceneDetect's detectors from the same frames, pools features per scene and title, and caches
the :class:`ContentProfile` as parquet keyed by content hash + analysis version + parameters.

The feature schema (names, units, ranges, recipes) lives in :mod:`ladderforge.analysis.schema`.
"""

from ladderforge.analysis.cache import default_cache_dir
from ladderforge.analysis.engine import MAX_SIDE, MIN_SIDE, ProgressCallback, analyze
from ladderforge.analysis.profile import (
    AnalysisParams,
    ContentProfile,
    Scene,
    read_profiles,
    write_profiles,
)
from ladderforge.analysis.schema import (
    AGGREGATES,
    ANALYSIS_VERSION,
    FRAME_COLUMNS,
    FRAME_FEATURES,
    NUMERIC_FEATURES,
    TITLE_FIELDS,
    FeatureSpec,
    schema_table,
)

__all__ = [
    "AGGREGATES",
    "ANALYSIS_VERSION",
    "FRAME_COLUMNS",
    "FRAME_FEATURES",
    "MAX_SIDE",
    "MIN_SIDE",
    "NUMERIC_FEATURES",
    "TITLE_FIELDS",
    "AnalysisParams",
    "ContentProfile",
    "FeatureSpec",
    "ProgressCallback",
    "Scene",
    "analyze",
    "default_cache_dir",
    "read_profiles",
    "schema_table",
    "write_profiles",
]
