"""``ladder --dry-run``: what a batch would encode and about how much CPU it would take, without
running a single encode (sources are probed, nothing is analysed or encoded).

The figures are upper bounds from the configuration alone: the ladder is not chosen yet, so
every rung is counted at the tallest candidate size, ``max_rungs`` rungs (twice that where
the closed loop may refill gaps: :attr:`~ladderforge.jobs.config.LadderConfig.refills`), and
:attr:`~ladderforge.jobs.config.LadderConfig.max_encodes_per_rung` encodes per rung (the closed
loop's, ``--enhanced`` included). Encode CPU seconds come from the cost model's
measured speeds (:func:`ladderforge.policy.cost.encode_cpu_s`); measurement (VMAF) time is not
included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ladderforge.jobs.batch import TitleSource
from ladderforge.jobs.config import LadderConfig
from ladderforge.jobs.modes import MODES
from ladderforge.media import probe
from ladderforge.policy.cost import encode_cpu_s
from ladderforge.types import candidate_sizes

__all__ = ["TitleEstimate", "estimate"]


@dataclass(frozen=True)
class TitleEstimate:
    """What one title would cost."""

    title: str
    mode: str
    frames: int
    """Frames of the title."""
    decision_encodes: int
    """Encodes spent to decide: probe segments (probe) or full-length sweep points
    (exhaustive)."""
    rung_encodes: int
    """Full-length rung encodes at most (each made of chunks)."""
    est_encode_cpu_s: float
    """Upper bound of the encodes' CPU seconds (0 for GPU encoders)."""


def estimate(titles: Sequence[TitleSource], config: LadderConfig) -> list[TitleEstimate]:
    """One estimate per title, in order."""
    facts, preset = config.facts, config.resolved_preset
    out = []
    for t in titles:
        info = probe(t.path, hash_content=False)
        sizes = candidate_sizes(info.width, info.height, config.heights)
        (top_w, top_h) = sizes[0]
        frames = info.frame_count

        def cpu(width: int, height: int, n_frames: int) -> float:
            return encode_cpu_s(facts, preset, width=width, height=height, frames=n_frames)

        planned = MODES[config.mode].planned_encodes(config, sizes, frames, float(info.frame_rate))
        decision = len(planned)
        decision_cpu = sum(cpu(w, h, n) for w, h, n in planned)
        # the closed loop may add as many rungs again in the gaps the measured rungs open
        refill = 2 if config.refills else 1
        rungs = refill * config.max_rungs * config.max_encodes_per_rung if config.encodes else 0
        out.append(
            TitleEstimate(
                title=t.title,
                mode=config.mode,
                frames=frames,
                decision_encodes=decision,
                rung_encodes=rungs,
                est_encode_cpu_s=decision_cpu + rungs * cpu(top_w, top_h, frames),
            )
        )
    return out
