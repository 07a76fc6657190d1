"""What analysis returns: :class:`ContentProfile` (frames, scenes, title) and its parquet form.

A parquet file holds one or more profiles: the per-frame rows of every title (with ``title_index``
and ``title`` columns in front) and, in the file's key-value metadata under
``ladderforge.analysis``, a JSON list with each title's source, parameters, scenes and title
features. :func:`write_profiles` writes to a temporary name and renames.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ladderforge.analysis.schema import (
    AGGREGATES,
    ANALYSIS_VERSION,
    DEFAULT_ANALYSIS_PIXELS,
    FRAME_FEATURES,
    NUMERIC_FEATURES,
)
from ladderforge.errors import OutputError, UsageError
from ladderforge.store.files import atomic_path
from ladderforge.types import SourceInfo

__all__ = [
    "AnalysisParams",
    "ContentProfile",
    "Scene",
    "aggregate_exprs",
    "frame_schema",
    "read_profiles",
    "write_profiles",
]

METADATA_KEY = b"ladderforge.analysis"
TitleValue = float | int | str | bool | None


@dataclass(frozen=True)
class AnalysisParams:
    """Every parameter that changes the features: part of the cache key."""

    stride: int = 1
    """Analyse every n-th decoded frame (scene cuts still see every decoded frame)."""
    fast: bool = False
    """Decoder skips non-reference frames and the loop filter; motion from optical flow."""
    analysis_pixels: int = DEFAULT_ANALYSIS_PIXELS
    """Most pixels of the analysis grid."""
    scene_detector: str = "adaptive"
    """PySceneDetect detector: ``adaptive`` or ``content``."""
    min_scene_s: float = 0.5
    """Shortest scene in seconds."""
    flash_s: float = 0.25
    """Longest flash (the picture returns afterwards) that is not a cut, in seconds."""
    motion_vectors: bool = True
    """Use the decoder's motion vectors where the codec exports them (H.264, MPEG-2/4)."""

    def __post_init__(self) -> None:
        if not isinstance(self.stride, int) or self.stride < 1:
            raise UsageError(
                f"The 'stride' parameter must be an integer >= 1. Got {self.stride!r} instead."
            )
        if self.analysis_pixels < 64 * 64:
            raise UsageError(
                "The 'analysis_pixels' parameter must be >= 4096 (64x64). "
                f"Got {self.analysis_pixels!r} instead."
            )
        for name in ("min_scene_s", "flash_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise UsageError(f"The '{name}' parameter must be a number >= 0. Got {value!r}.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Scene:
    """One scene: the frames between two hard cuts, with its features pooled."""

    index: int
    """0-based position in the title."""
    start_frame: int
    """First source frame of the scene."""
    end_frame: int
    """One past the last source frame."""
    start_s: float
    """Presentation time of the first frame."""
    end_s: float
    """Presentation time where the next scene (or the title) starts/ends."""
    features: Mapping[str, float] = field(default_factory=dict)
    """``{feature}_{mean|p90|std}`` over the scene's analysed frames (NaN when none)."""

    @property
    def frame_count(self) -> int:
        return self.end_frame - self.start_frame

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "features": {k: _json_float(v) for k, v in self.features.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scene:
        values = dict(data)
        values["features"] = {k: _from_json_float(v) for k, v in values["features"].items()}
        return cls(**values)


@dataclass(frozen=True, eq=False)
class ContentProfile:
    """What is in a title: per-frame features, scenes and title-level features."""

    source: SourceInfo
    """The source analysed."""
    frames: pl.DataFrame
    """One row per analysed frame; columns and units in :mod:`ladderforge.analysis.schema`."""
    scenes: tuple[Scene, ...]
    """The scenes in order; they cover the whole title."""
    title: Mapping[str, TitleValue]
    """Title-level features (see ``schema.TITLE_FIELDS``)."""
    params: AnalysisParams
    """The parameters used."""
    version: str = ANALYSIS_VERSION
    """Feature schema version."""
    wall_s: float = 0.0
    """Seconds the analysis took (0 when read from the cache)."""
    from_cache: bool = False
    """Whether the profile was read from the cache."""

    @property
    def cut_frames(self) -> tuple[int, ...]:
        """Source frame indices where a hard cut starts a new scene."""
        return tuple(s.start_frame for s in self.scenes[1:])

    def to_parquet(self, path: str | os.PathLike[str]) -> Path:
        """Write this profile to a parquet file (temporary name, then renamed)."""
        return write_profiles([self], path)

    @classmethod
    def from_parquet(cls, path: str | os.PathLike[str]) -> ContentProfile:
        """Read a single-profile parquet file written by :meth:`to_parquet`."""
        profiles = read_profiles(path)
        if len(profiles) != 1:
            raise UsageError(f"{path}: holds {len(profiles)} profiles; use read_profiles().")
        return profiles[0]

    def meta_dict(self) -> dict[str, Any]:
        """Everything but the frame table, JSON-ready."""
        return {
            "version": self.version,
            "source": self.source.to_dict(),
            "params": self.params.to_dict(),
            "scenes": [s.to_dict() for s in self.scenes],
            "title": {k: _json_float(v) for k, v in self.title.items()},
            "wall_s": self.wall_s,
        }

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any], frames: pl.DataFrame) -> ContentProfile:
        return cls(
            source=SourceInfo.from_dict(meta["source"]),
            frames=frames,
            scenes=tuple(Scene.from_dict(s) for s in meta["scenes"]),
            title={k: _from_json_float(v) for k, v in meta["title"].items()},
            params=AnalysisParams(**meta["params"]),
            version=meta["version"],
            wall_s=float(meta.get("wall_s", 0.0)),
        )


def _json_float(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "nan", "inf": JSON has no such numbers
    return value


def _from_json_float(value: Any) -> Any:
    return float(value) if value in ("nan", "inf", "-inf") else value


def frame_schema() -> dict[str, Any]:
    """Polars schema of the per-frame table."""
    return {f.name: f.dtype for f in FRAME_FEATURES}


def aggregate_exprs() -> list[pl.Expr]:
    """Polars expressions pooling every numeric feature: ``{name}_{mean|p90|std}``."""
    exprs: list[pl.Expr] = []
    for name in NUMERIC_FEATURES:
        col = pl.col(name).cast(pl.Float64).fill_nan(None)
        for agg in AGGREGATES:
            if agg == "mean":
                e = col.mean()
            elif agg == "p90":
                e = col.quantile(0.9, "linear")
            else:
                e = col.std(ddof=0)
            exprs.append(e.alias(f"{name}_{agg}"))
    return exprs


def write_profiles(profiles: Sequence[ContentProfile], path: str | os.PathLike[str]) -> Path:
    """Write profiles to one parquet file: frames stacked, metadata as JSON."""
    import pyarrow.parquet as pq

    out = Path(path)
    tables = [
        p.frames.select(
            pl.lit(i, pl.Int32).alias("title_index"),
            pl.lit(p.source.title).alias("title"),
            pl.all(),
        )
        for i, p in enumerate(profiles)
    ]
    frames = pl.concat(tables, how="vertical") if tables else pl.DataFrame()
    table = frames.to_arrow()
    meta = json.dumps({"profiles": [p.meta_dict() for p in profiles]}).encode()
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), METADATA_KEY: meta})
    try:
        with atomic_path(out) as tmp:
            pq.write_table(table, tmp)
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(
            f"{out}: cannot write the features file ({exc.strerror or exc})", path=out
        ) from exc
    return out


def read_profiles(path: str | os.PathLike[str]) -> list[ContentProfile]:
    """Read every profile of a parquet file written by :func:`write_profiles`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = Path(path)
    try:
        table = pq.read_table(p)
        meta = json.loads((table.schema.metadata or {})[METADATA_KEY])
    except (OSError, pa.ArrowException, KeyError, ValueError) as exc:
        raise UsageError(
            f"{p}: not a ladderforge features file ({exc}); analyse the sources again",
            path=p,
        ) from exc
    frames = pl.from_arrow(table)
    assert isinstance(frames, pl.DataFrame)
    profiles = []
    for i, m in enumerate(meta["profiles"]):
        rows = frames.filter(pl.col("title_index") == i).drop("title_index", "title")
        profiles.append(ContentProfile.from_meta(m, rows))
    return profiles
