"""What a ladder records about the enhancement stage (``ladder --enhanced``).

A rung records its quality measured twice, both against the source on its grid: ``plain``, the
rendition as every player shows it (bicubic upscale), and ``enhanced``, after the model. The
guard decides whether players that have the stage run it on that rung (``enabled``); the
ladder records which model, so a player can check it holds the same weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ladderforge.types.record import PlainRecord

__all__ = ["LadderEnhance", "RungEnhance", "StageFigures"]


@dataclass(frozen=True)
class StageFigures(PlainRecord):
    """Mean quality of one rendition as a player shows it, against the source."""

    vmaf: float
    """VMAF v0.6.1."""
    vmaf_neg: float
    """VMAF NEG (no gain for enhancement that does not restore the source)."""
    psnr_y: float
    """Luma PSNR, dB."""


@dataclass(frozen=True)
class RungEnhance:
    """One rung with and without the enhancement stage (both measured)."""

    enabled: bool
    """Whether players with the stage run it on this rung: the guard kept it on (it lowers
    neither VMAF NEG nor PSNR-Y) and it raises VMAF."""
    plain: StageFigures
    """The rendition without the stage: what a player without it shows."""
    enhanced: StageFigures
    """The rendition after the stage, on the source's grid."""

    @property
    def delivered(self) -> StageFigures:
        """What a player with the stage shows: ``enhanced`` where enabled, else ``plain``."""
        return self.enhanced if self.enabled else self.plain

    @property
    def gain_vmaf(self) -> float:
        """VMAF the stage adds on this rung (0 where it is off)."""
        return self.delivered.vmaf - self.plain.vmaf

    def to_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "plain": self.plain.to_dict(),
            "enhanced": self.enhanced.to_dict(),
            "delivered_vmaf": self.delivered.vmaf,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RungEnhance:
        return cls(
            enabled=bool(data["enabled"]),
            plain=StageFigures.from_dict(data["plain"]),
            enhanced=StageFigures.from_dict(data["enhanced"]),
        )


@dataclass(frozen=True)
class LadderEnhance(PlainRecord):
    """The model a ladder was enhanced with, and how the stage was judged."""

    model: str
    """The model file's name (``x265_tiny.pt`` for the shipped one)."""
    fingerprint: str
    """sha256 of the weights (first 16 hex digits): a player checks it holds the same model."""
    preset: str
    """The network's size preset."""
    macs_per_pixel: float
    """Multiply-accumulates per output pixel: the player's compute."""
    model_bytes: int
    """Size of the weights (float32)."""
    guard_metrics: tuple[str, ...]
    """The metrics the stage must not lower on a rung for it to be enabled there."""
    enabled_rungs: int
    """How many rungs players with the stage enhance."""
    model_kbps: float = 0.0
    """Bits of the model spread over the title's duration, charged to the enhanced ladder.
    ``ladder --enhanced`` supports only models the players already hold (the shipped one, or a
    model distributed with the player), so it writes 0: a per-title fine-tune shipped with the
    title is not charged there. :func:`ladderforge.jobs.enhance.enhanced_ladder` takes it as a
    parameter."""

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["guard_metrics"] = list(self.guard_metrics)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LadderEnhance:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        return cls(**{**values, "guard_metrics": tuple(data["guard_metrics"])})
