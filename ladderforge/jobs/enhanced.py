"""The enhancement stage inside the ladder (``ladder --enhanced MODEL``).

Every encode of a rung (each closed-loop attempt included) is measured as shipped, as without
the stage; then the stage is applied to the decoded rendition on the source's grid
(:func:`ladderforge.enhance.infer.apply`, the bicubic upscale VMAF uses, then the model) and the
result is measured against the source with the same metrics: VMAF, VMAF NEG and PSNR-Y, both
real measurements. The stage is on for the rung (:func:`ladderforge.jobs.enhance.stage_enabled`,
the rule ``enhance eval`` uses too) where the guard accepts it (VMAF NEG and PSNR-Y not lowered)
and it raises VMAF; the rung's *delivered* VMAF is then the enhanced one, else the plain one.

The decision: with ``--enhanced`` every rung goes through the closed loop
(:mod:`ladderforge.jobs.rungs`), which steers it onto its declared VMAF as *delivered*. A rung the
stage lifts lands above its target at the first guess, so the loop moves it to a higher CRF
(fewer bits) until the delivered quality is back on the target; it never steps past a CRF where
the stage was measured off, and it ships only an attempt with the stage on or whose plain VMAF is
itself on the target, else it steers on the plain VMAF as without the stage
(:func:`ladderforge.policy.target.pick_enhanced`). In predict and probe modes that is the loop
every rung goes through anyway; in exhaustive mode, which has no loop without the flag (its rungs
are measured sweep points), ``--enhanced`` adds one: its first encode is the swept point, its
correction curve the swept points at the rung's size. The rungs themselves (sizes, declared
VMAFs) are chosen as without the stage; only their CRFs change.

What players get: ``master.m3u8`` lists every rung as usual, so a player without the stage gets
a valid ladder whose quality is the rungs' ``measured`` (plain) figures; the ladder JSON's
``enhance`` fields say which model to run and on which rungs (HLS has no attribute for it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ladderforge.errors import UnsupportedMediaError, UsageError
from ladderforge.jobs.enhance import GUARD_METRICS, STAGE_METRICS, stage_enabled, stage_record
from ladderforge.store import atomic_write_json
from ladderforge.types import (
    LadderEnhance,
    QualityResult,
    Rung,
    RungEnhance,
    SourceInfo,
    StageFigures,
)
from ladderforge.vmaf_tools import measure

if TYPE_CHECKING:
    from ladderforge.enhance.model import EnhanceModel
    from ladderforge.jobs.config import LadderConfig

__all__ = [
    "SHIPPED",
    "LadderEnhancer",
    "check_enhanced",
    "check_enhanced_source",
    "figures_of",
    "ladder_enhance",
    "resolve_model_path",
]

log = logging.getLogger(__name__)

SHIPPED = "shipped"
"""``--enhanced shipped``: the model that ships inside the package."""


def resolve_model_path(value: str | Path) -> Path:
    """``shipped`` means the packaged model; anything else is a model file's path."""
    if str(value) == SHIPPED:
        from ladderforge.enhance.model import default_model_path

        return default_model_path()
    return Path(value)


def figures_of(quality: QualityResult) -> StageFigures:
    """Mean VMAF, VMAF NEG and PSNR-Y of a measurement of :data:`STAGE_METRICS`."""
    return StageFigures(quality.vmaf, quality.get("vmaf_neg"), quality.get("psnr_y"))


def check_enhanced(config: LadderConfig) -> None:
    """Refuse, before any work, an ``enhanced`` configuration that cannot run: no encode, a
    per-scene allocation (not steered on delivered quality yet), an unreadable model file."""
    if config.enhanced is None:
        return
    if not config.encodes:
        raise UsageError(
            "--enhanced measures every rung with and without the stage: it needs --encode or "
            "--validate"
        )
    if config.per_scene:
        raise UsageError("--enhanced cannot be combined with --per-scene yet; drop one of them")
    LadderEnhancer.load(config.enhanced)  # ModelError naming the file, or the missing extra


def check_enhanced_source(info: SourceInfo) -> None:
    """Refuse, when the title opens (before any analysis or encode), a source the stage cannot
    run on: more than 8 bits per sample."""
    if info.bit_depth > 8:
        raise UnsupportedMediaError(
            f"{info.path}: a {info.bit_depth}-bit source; the enhancement stage runs on 8-bit "
            "video only (drop --enhanced)",
            path=info.path,
        )


@dataclass
class LadderEnhancer:
    """The model of an enhanced ladder and how one encoded rendition is judged with it."""

    model: EnhanceModel
    """The enhancement model."""
    device: str | None = None
    """Where the network runs (None: a GPU when there is one, else the CPU)."""
    guard_metrics: tuple[str, ...] = GUARD_METRICS
    """What the stage must not lower on a rung."""

    @classmethod
    def load(cls, path: str | Path, *, device: str | None = None) -> LadderEnhancer:
        """The model file at ``path``: ModelError naming it when it is missing or not a model
        the stage can run."""
        from ladderforge.enhance.model import load_model

        return cls(load_model(path), device=device)

    def evaluate(
        self, info: SourceInfo, rendition: Path, plain: QualityResult, *, work: Path, key: str,
        timeout_s: float, on_progress: Callable[[int, int], None] | None = None,
    ) -> RungEnhance:  # fmt: skip
        """The rendition ``rendition`` (measured ``plain`` against ``info``) with the stage
        applied on the source's grid and measured the same way. The result is stored in
        ``work`` under ``key``, the model's fingerprint and :data:`INFER_VERSION`, so a rerun
        does not redo it. The enhanced rendition is a lossless (FFV1) copy of the whole title
        at the source's size in ``work/enhanced``, removed once measured; ``on_progress`` gets
        (frames written, frames of the title) while it is written."""
        from ladderforge.enhance.infer import INFER_VERSION

        check_enhanced_source(info)
        tag = f"{self.model.preset.name}-{self.model.fingerprint()}-v{INFER_VERSION}"
        stored = work / "measured" / f"{key}.enhanced-{tag}.json"
        before = figures_of(plain)
        after = self._stored(stored)
        if after is None:
            from ladderforge.enhance.infer import apply

            out = work / "enhanced" / f"{key}.mkv"
            total = info.frame_count

            def frames(done: int) -> None:
                if on_progress is not None:
                    on_progress(done, total)

            try:
                apply(self.model, rendition, out, width=info.width, height=info.height,
                      device=self.device, on_progress=frames)  # fmt: skip
                quality = measure(info, out, metrics=STAGE_METRICS, timeout_s=timeout_s)
            finally:
                out.unlink(missing_ok=True)
            after = figures_of(quality)
            atomic_write_json(stored, after.to_dict())
        enabled = stage_enabled(before, after, metrics=self.guard_metrics)
        return RungEnhance(enabled=enabled, plain=before, enhanced=after)

    @staticmethod
    def _stored(path: Path) -> StageFigures | None:
        if not path.is_file():
            return None
        try:
            return StageFigures.from_dict(json.loads(path.read_text()))
        except (ValueError, KeyError, TypeError):
            log.warning("%s: unreadable stored measurement, measuring again", path)
            return None


def ladder_enhance(enhancer: LadderEnhancer, rungs: list[Rung]) -> LadderEnhance:
    """What the ladder JSON says about the model its flagged rungs need."""
    return stage_record(
        enhancer.model,
        enabled_rungs=sum(1 for r in rungs if r.enhance is not None and r.enhance.enabled),
        guard_metrics=enhancer.guard_metrics,
    )
