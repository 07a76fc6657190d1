"""The defaults of the main job and the sweep, as plain values: the one source of truth.

Kept free of heavy imports so that the CLI can show them in its help without loading the
engine.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

__all__ = ["DEFAULT_HEIGHTS", "DEFAULT_SWEEP_CRFS", "TUNE_DEFAULTS", "LadderRules", "TuneDefaults"]

DEFAULT_HEIGHTS = (1080, 720, 540, 432, 360, 270)
"""Candidate heights of every grid (capped at the source's)."""
DEFAULT_SWEEP_CRFS = (18.0, 22.0, 26.0, 30.0, 34.0, 38.0, 42.0)
"""CRFs of the exhaustive sweep (``ladderforge sweep`` and ``ladder --mode exhaustive``)."""


@dataclass(frozen=True)
class LadderRules:
    """How rungs are picked from an RD hull (see :func:`ladderforge.policy.ladder_from_hull`)."""

    top_vmaf: float = 95.0
    """VMAF of the top rung: no rung is chosen above it."""
    floor_vmaf: float = 40.0
    """VMAF of the bottom rung."""
    min_step_vmaf: float = 3.0
    """Least VMAF between neighbouring rungs: half a JND (a JND is about 6 VMAF). Near the top,
    where VMAF saturates, a whole JND left a gap over 2.2x in bitrate in 35 of 49 corpus probe
    ladders (over 3x in 18, up to 11x); a rung beyond the fewest is added only to narrow a gap
    over ``max_rate_ratio``."""
    min_rate_ratio: float = 1.5
    """Least bitrate ratio between neighbouring rungs."""
    max_rate_ratio: float = 2.0
    """Most bitrate ratio between neighbouring rungs (a note when it cannot hold)."""
    max_rungs: int = 6
    """Most rungs."""
    allow_resolution_dips: bool = False
    """Let a rung's resolution fall as its bitrate rises (off: never)."""

    def options(self) -> dict[str, Any]:
        """The keywords of :func:`~ladderforge.policy.ladder_from_hull`."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class TuneDefaults:
    """The defaults of ``ladderforge tune`` (:class:`ladderforge.jobs.tune.TuneConfig`)."""

    trials: int = 30
    crfs: tuple[float, ...] = (24.0, 30.0, 36.0)
    segment_s: float = 2.0
    max_height: int = 540
    max_cpu_ratio: float = 1.2
    prune_rate_delta_pct: float = 15.0
    prune_cpu_ratio: float = 3.0


TUNE_DEFAULTS = TuneDefaults()
