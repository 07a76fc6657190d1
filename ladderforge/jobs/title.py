"""The main job for one title: :func:`plan_title` reads as the steps every mode goes through.

1. open the title: probe the source and analyse its content (:class:`TitleJob`);
2. the mode supplies the RD points (:mod:`ladderforge.jobs.modes`: predicted, probe-corrected
   or swept);
3. policy chooses the rungs from their convex hull;
4. optionally, every rung is encoded in scene-aligned chunks, measured whole and packaged as
   HLS (:mod:`ladderforge.jobs.rungs`; the mode supplies the chunk options and, in closed loop,
   the curve that corrects a rung that missed its declared VMAF);
5. the cost model prices the rungs; the ladder JSON and the master playlist are written.

Every encode and measurement goes through the results store or the chunk folder, so a rerun
resumes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ladderforge.encoder.hls import MediaPlaylist, write_master
from ladderforge.jobs.config import LadderConfig
from ladderforge.jobs.context import StageCallback, TitleJob
from ladderforge.jobs.modes import make_mode
from ladderforge.jobs.rungs import encode_rungs, with_costs
from ladderforge.policy import ladder_from_hull, upper_convex_hull
from ladderforge.policy.calibrate import ProbeResult
from ladderforge.store import atomic_write_json
from ladderforge.types import Ladder

__all__ = ["TitlePlan", "plan_title"]


@dataclass
class TitlePlan:
    """What planning one title produced and spent."""

    ladder: Ladder
    decision_cpu_s: float = 0.0
    """CPU seconds of the encodes spent to decide (probes, sweep, chunk curves)."""
    analysis_s: float = 0.0
    probes: list[ProbeResult] = field(default_factory=list)
    surface: pl.DataFrame | None = None
    loop_cpu_s: float = 0.0
    """CPU seconds of closed-loop encodes that did not ship (decision overhead too)."""


def plan_title(
    source: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    config: LadderConfig | None = None,
    title: str | None = None,
    on_stage: StageCallback | None = None,
) -> TitlePlan:
    """Choose (and optionally encode and validate) the ladder of one title.

    Writes ``out_dir/<title>.ladder.json`` and ``out_dir/<title>/master.m3u8`` (with the
    renditions and HLS media playlists beside it when encoding). ``title`` names the outputs
    (default: the file name without extension). Raises a :class:`LadderforgeError` subclass
    naming the file and the problem.
    """
    config = config or LadderConfig()
    job = TitleJob.open(source, out_dir, config=config, title=title, on_stage=on_stage)
    mode = make_mode(config.mode)
    job.stage(mode.deciding)
    points = mode.rd_points(job)
    rungs, notes = ladder_from_hull(
        upper_convex_hull(points), source_height=job.info.height, **config.ladder_options()
    )
    packaged: dict[str, MediaPlaylist] = {}
    if config.encodes:
        rungs, packaged, encode_notes = encode_rungs(job, mode, rungs)
        notes = [*notes, *encode_notes]
    ladder = Ladder(
        job.title, job.info, tuple(with_costs(job, rungs)), mode=mode.name, notes=tuple(notes)
    )
    atomic_write_json(Path(out_dir) / f"{job.title}.ladder.json", ladder.to_dict())
    write_master(
        ladder,
        job.work / "master.m3u8",
        fps=job.fps,
        bit_depth=job.info.bit_depth,
        packaged=packaged,
    )
    return TitlePlan(
        ladder, job.decision_cpu_s, job.analysis_s, job.probes, job.surface, job.loop_cpu_s
    )
