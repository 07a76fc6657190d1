"""The enhancement stage inside the ladder (``ladder --enhanced MODEL``).

Every encode of a rung (each closed-loop attempt included) is measured as shipped, as without
the stage; then the stage is applied to the decoded rendition on the source's grid
(:func:`ladderforge.enhance.infer.apply`, the bicubic upscale VMAF uses, then the model) and the
result is measured against the source with the same metrics: VMAF, VMAF NEG and PSNR-Y, both
real measurements. The stage is on for the rung (:func:`stage_enabled`) where the guard of
:mod:`ladderforge.jobs.enhance` accepts it (VMAF NEG and PSNR-Y not lowered) and it raises VMAF;
the rung's *delivered* VMAF is then the enhanced one, else the plain one.

The decision: the closed loop (:mod:`ladderforge.jobs.rungs`) steers every rung onto its declared
VMAF as *delivered*. A rung the stage lifts lands above its target at the first guess, so the loop
moves it to a higher CRF (fewer bits) until the delivered quality is back on the target; a rung
where the guard refuses the stage is steered on its plain quality, as without ``--enhanced``. The
loop runs in every mode when the stage is on (exhaustive mode too: its first guess is the swept
point, its correction curve the swept points at the rung's size). The rungs themselves (sizes,
declared VMAFs) are chosen as without the stage; only their CRFs change.

What players get: ``master.m3u8`` lists every rung as usual, so a player without the stage gets
a valid ladder whose quality is the rungs' ``measured`` (plain) figures; the ladder JSON's
``enhance`` fields say which model to run and on which rungs (HLS has no attribute for it).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ladderforge.errors import UnsupportedMediaError, UsageError
from ladderforge.jobs.enhance import EVAL_METRICS, GUARD_METRICS, guard_allows
from ladderforge.store import atomic_write_json
from ladderforge.types import QualityResult, Rung, SourceInfo
from ladderforge.types.enhance import LadderEnhance, RungEnhance, StageFigures
from ladderforge.vmaf_tools import measure

if TYPE_CHECKING:
    from ladderforge.enhance.model import EnhanceModel
    from ladderforge.jobs.config import LadderConfig

__all__ = [
    "SHIPPED",
    "LadderEnhancer",
    "check_enhanced",
    "figures_of",
    "ladder_enhance",
    "resolve_model_path",
    "stage_enabled",
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
    """Mean VMAF, VMAF NEG and PSNR-Y of a measurement of :data:`EVAL_METRICS`."""
    return StageFigures(quality.vmaf, quality.get("vmaf_neg"), quality.get("psnr_y"))


def stage_enabled(
    plain: StageFigures,
    enhanced: StageFigures,
    *,
    metrics: tuple[str, ...] = GUARD_METRICS,
    margin: float = 0.0,
) -> bool:
    """Whether players run the stage on a rung: the guard accepts it (none of ``metrics``
    lowered by more than ``margin``; VMAF NEG always watched) and it raises VMAF, the
    figure the ladder is steered on. A gain in VMAF alone (sharpening) is refused."""
    before, after = plain.to_dict(), enhanced.to_dict()
    return guard_allows(before, after, margin=margin, metrics=metrics) and (
        enhanced.vmaf > plain.vmaf
    )


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
        timeout_s: float,
    ) -> RungEnhance:  # fmt: skip
        """The rendition ``rendition`` (measured ``plain`` against ``info``) with the stage
        applied on the source's grid and measured the same way. The result is stored in
        ``work`` under ``key`` and the model's fingerprint, so a rerun does not redo it."""
        if info.bit_depth > 8:
            raise UnsupportedMediaError(
                f"{info.path}: a {info.bit_depth}-bit source; the enhancement stage runs on "
                "8-bit video only (drop --enhanced)",
                path=info.path,
            )
        stored = work / "measured" / f"{key}.enhanced-{self.model.fingerprint()}.json"
        before = figures_of(plain)
        after = self._stored(stored)
        if after is None:
            from ladderforge.enhance.infer import apply

            out = work / "enhanced" / f"{key}.mkv"
            apply(self.model, rendition, out, width=info.width, height=info.height,
                  device=self.device)  # fmt: skip
            after = figures_of(measure(info, out, metrics=EVAL_METRICS, timeout_s=timeout_s))
            out.unlink()
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
    model = enhancer.model
    return LadderEnhance(
        model=model.path.name if model.path else "",
        fingerprint=model.fingerprint(),
        preset=model.preset.name,
        macs_per_pixel=model.preset.macs_per_pixel,
        model_bytes=model.size_bytes,
        guard_metrics=tuple(dict.fromkeys(("vmaf_neg", *enhancer.guard_metrics))),
        enabled_rungs=sum(1 for r in rungs if r.enhance is not None and r.enhance.enabled),
    )
