"""Writing a sweep's results: points and hull as parquet, a ladder JSON per title.

Tables go through polars; every file is written to a temporary name and renamed.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from ladderforge.jobs.config import LadderRules
from ladderforge.jobs.modes import ExhaustiveMode
from ladderforge.jobs.sweep import SweepPoint
from ladderforge.policy import ladder_from_hull, upper_convex_hull
from ladderforge.store import atomic_write_bytes, atomic_write_json
from ladderforge.types import Ladder, RDPoint, Rung, RungCosts

__all__ = ["points_frame", "write_sweep_outputs"]


def points_frame(points: Sequence[SweepPoint]) -> pl.DataFrame:
    """One row per measured point: title, settings, kbps, cost and pooled quality figures."""
    rows = []
    for p in points:
        row: dict[str, Any] = {
            "title": p.title,
            "source": str(p.source.path),
            "source_hash": p.source.content_hash,
            "source_width": p.source.width,
            "source_height": p.source.height,
            "codec": p.settings.codec,
            "preset": p.settings.preset,
            "width": p.settings.width,
            "height": p.settings.height,
            "rate_control": p.settings.rate_control,
            "crf": p.settings.q,
            "bitrate_kbps": p.encode.bitrate_kbps,
            "size_bytes": p.encode.size_bytes,
            "frames": p.encode.frames,
            "encode_cpu_s": p.encode.cpu_s,
            "encode_wall_s": p.encode.wall_s,
            "scaler": p.quality.scaler,
            "n_subsample": p.quality.n_subsample,
            "tool_version": p.quality.tool_version,
        }
        for name, pooled in p.quality.pooled.items():
            row[name] = pooled.mean
            if name.startswith("vmaf"):
                row[f"{name}_hmean"] = pooled.harmonic_mean
                row[f"{name}_low1"] = pooled.low_1pct
                row[f"{name}_min"] = pooled.min
        rows.append(row)
    frame = pl.DataFrame(rows)
    return (
        frame.sort(["title", "height", "crf"], descending=[False, True, False]) if rows else frame
    )


def _parquet_bytes(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf)
    return buf.getvalue()


def _hull_rows(title: str, hull: Sequence[RDPoint]) -> list[dict[str, Any]]:
    return [
        {
            "title": title,
            "width": p.settings.width,
            "height": p.settings.height,
            "crf": p.settings.q,
            "bitrate_kbps": p.bitrate_kbps,
            "vmaf": p.quality,
            "encode_cpu_s": p.cost_cpu_s,
        }
        for p in hull
    ]


def write_sweep_outputs(
    points: Sequence[SweepPoint],
    out_dir: str | Path,
    *,
    rules: LadderRules | None = None,
) -> dict[str, Ladder]:
    """Write ``points.parquet``, ``hull.parquet`` and ``<title>.ladder.json`` under ``out_dir``;
    each title's ladder is chosen from its hull with ``rules`` (the defaults of
    ``ladder --mode exhaustive`` when None).

    Returns the ladder of each title.
    """
    out = Path(out_dir)
    options = (rules or LadderRules()).options()
    atomic_write_bytes(out / "points.parquet", _parquet_bytes(points_frame(points)))
    hull_rows: list[dict[str, Any]] = []
    ladders: dict[str, Ladder] = {}
    for title in dict.fromkeys(p.title for p in points):
        mine = [p for p in points if p.title == title]
        rd_points = [p.rd_point() for p in mine]
        hull_rows += _hull_rows(title, upper_convex_hull(rd_points))
        source = mine[0].source
        rungs, notes = ladder_from_hull(rd_points, source_height=source.height, **options)
        by_settings = {p.settings: p for p in mine}
        measured = tuple(_with_measured(r, by_settings.get(r.settings)) for r in rungs)
        ladders[title] = Ladder(
            title=title, source=source, rungs=measured, mode=ExhaustiveMode.name, notes=tuple(notes)
        )
        atomic_write_json(out / f"{title}.ladder.json", ladders[title].to_dict())
    atomic_write_bytes(out / "hull.parquet", _parquet_bytes(pl.DataFrame(hull_rows)))
    return ladders


def _with_measured(rung: Rung, point: SweepPoint | None) -> Rung:
    if point is None:
        return rung
    return Rung(
        settings=rung.settings,
        bitrate_kbps=rung.bitrate_kbps,
        vmaf=rung.vmaf,
        measured_bitrate_kbps=point.encode.bitrate_kbps,
        measured_vmaf=point.quality.vmaf,
        cost=RungCosts(encode_cpu_s=point.encode.cpu_s),
    )
