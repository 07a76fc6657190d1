"""The main job for one title: :func:`plan_title` reads as the steps every mode goes through.

1. open the title: probe the source and analyse its content (:class:`TitleJob`);
2. the mode supplies the RD points (:mod:`ladderforge.jobs.modes`: predicted, probe-corrected
   or swept);
3. policy chooses the rungs from their convex hull (by value when cost is weighed:
   ``cost_lambda`` or ``budget_usd``);
4. optionally, every rung is encoded in scene-aligned chunks, measured whole and packaged as
   HLS (:mod:`ladderforge.jobs.rungs`; the mode supplies the chunk options and, in closed loop,
   the curve that corrects a rung that missed its declared VMAF);
5. the cost model prices the rungs; the ladder JSON and the master playlist are written.

Every encode and measurement goes through the results store or the chunk folder, so a rerun
resumes; the temporary files a killed run left in the title's folders are removed first.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ladderforge.encoder.chunks import ChunkRunner
from ladderforge.encoder.hls import MediaPlaylist
from ladderforge.jobs.config import LadderConfig
from ladderforge.jobs.context import StageCallback, TitleJob
from ladderforge.jobs.costs import choose_rungs, ladder_cost, with_costs
from ladderforge.jobs.delivery import check_source_audio, deliver
from ladderforge.jobs.modes import make_mode
from ladderforge.jobs.rungs import aim_top_rung, encode_rungs
from ladderforge.policy.calibrate import ProbeResult
from ladderforge.policy.ladder import cap_rungs
from ladderforge.store import remove_stale_partials
from ladderforge.types import Ladder

__all__ = ["TitlePlan", "plan_title"]

log = logging.getLogger(__name__)


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
    deliver_bytes: int = 0
    """Bytes of what ships (``OUT/<title>/``)."""
    work_bytes: int = 0
    """Bytes of the title's work files when it finished (removed unless ``keep_work``)."""


def plan_title(
    source: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    config: LadderConfig | None = None,
    title: str | None = None,
    on_stage: StageCallback | None = None,
    runner: ChunkRunner | None = None,
) -> TitlePlan:
    """Choose (and optionally encode and validate) the ladder of one title.

    ``out_dir/<title>/`` receives what ships: ``<title>.ladder.json`` and, when encoding, the
    HLS media playlists and segments of every rung with ``master.m3u8``; a plan that was not
    encoded gets ``master.plan.m3u8`` instead (its variants do not exist yet). Work files go to
    ``config.work_dir`` (default ``out_dir/.work``), removed after success unless
    ``keep_work``. ``title`` names the outputs (default: the file name without extension).
    ``runner`` spreads the rungs' chunk encodes as tasks (see
    :class:`~ladderforge.encoder.chunks.ChunkRunner`); None: ``config.workers`` threads.
    Partial files a killed run left in those two folders are removed first (never those of a
    live process: see :func:`~ladderforge.store.remove_stale_partials`).
    Raises a :class:`LadderforgeError` subclass naming the file and the problem.
    """
    config = config or LadderConfig()
    job = TitleJob.open(
        source, out_dir, config=config, title=title, on_stage=on_stage, runner=runner
    )
    stale = remove_stale_partials(job.work) + remove_stale_partials(job.deliver)
    if stale:
        log.info("%s: removed %d partial file(s) of a killed run", job.title, stale)
    check_source_audio(job)
    mode = make_mode(config.mode)
    job.stage(mode.deciding)
    points = mode.rd_points(job)
    rungs, notes, decision = choose_rungs(job, points)
    if config.encodes and config.closed_loop and decision is None:
        rungs, aim_notes = aim_top_rung(job, mode, rungs)  # the loop lands between grid CRFs
        notes = [*notes, *aim_notes]
    if config.vbv == "capped":
        rungs = cap_rungs(rungs, ratio=config.vbv_ratio, buffer_ratio=config.vbv_buffer_ratio)
    notes = [*job.notes, *notes]
    packaged: dict[str, MediaPlaylist] = {}
    if config.encodes:
        rungs, packaged, encode_notes = encode_rungs(job, mode, rungs)
        notes = [*notes, *encode_notes]
    rungs = with_costs(job, rungs)
    cost = ladder_cost(job, rungs, decision)
    ladder = deliver(job, mode.name, rungs, notes, packaged, cost=cost)
    work_bytes = _size(job.work)
    if not config.keep_work:
        _remove_work(job)
    return TitlePlan(
        ladder,
        job.decision_cpu_s,
        job.analysis_s,
        job.probes,
        job.surface,
        job.loop_cpu_s,
        deliver_bytes=_size(job.deliver),
        work_bytes=work_bytes,
    )


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0


def _remove_work(job: TitleJob) -> None:
    shutil.rmtree(job.work, ignore_errors=True)
    with contextlib.suppress(OSError):  # the shared work root, once no title uses it
        job.work.parent.rmdir()
