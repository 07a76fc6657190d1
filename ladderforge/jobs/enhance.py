"""Judging the enhancement stage: per-rung quality before and after, the no-harm guard,
BD-rates, and a ladder chosen with enhancement on.

Per rung, "before" is the rendition measured as METRICS.md says (bicubic upscale to the
reference's grid, by ``vmaf_tools.measure``); "after" is the rendition enhanced on the same grid
(:func:`~ladderforge.enhance.infer.apply`) and measured against the same reference. The guard
switches the stage off for a rung where it would lower VMAF NEG (NEG, not plain VMAF, because
plain VMAF can be raised by sharpening that does not restore the source), and by default where
it would lower PSNR-Y too (:data:`GUARD_METRICS`). The stage is on for a rung
(:func:`stage_enabled`) where the guard accepts it and it raises VMAF; elsewhere the rung keeps
its "before" figures and the ladder JSON tells players not to run the model on it. That one rule
serves ``enhance eval`` (:func:`enhanced_ladder`) and ``ladder --enhanced``
(:mod:`ladderforge.jobs.enhanced`), so ``enhance.enabled`` means the same in every ladder JSON.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ladderforge.enhance.infer import apply
from ladderforge.enhance.model import EnhanceModel
from ladderforge.policy import BDRateError, bd_rate, ladder_from_hull
from ladderforge.types import EncodeSettings, Ladder, RDPoint
from ladderforge.types.enhance import LadderEnhance, RungEnhance, StageFigures
from ladderforge.vmaf_tools import measure

__all__ = [
    "EVAL_METRICS",
    "GUARD_METRICS",
    "MIN_OVERLAP",
    "REPORTED",
    "STAGE_METRICS",
    "RungEval",
    "enhanced_ladder",
    "evaluate_rendition",
    "guard_allows",
    "ladder_bd_rates",
    "stage_enabled",
    "stage_off_reason",
    "stage_record",
    "watched_metrics",
]

STAGE_METRICS = ("vmaf", "vmaf_neg", "psnr")
"""What ``ladder --enhanced`` measures before and after each rung (``psnr`` yields ``psnr_y``,
``psnr_cb``, ``psnr_cr``): the figures of :class:`~ladderforge.types.StageFigures`."""
EVAL_METRICS = (*STAGE_METRICS, "ssim")
"""What ``enhance eval`` measures before and after: the stage's figures and SSIM (libvmaf's
float_ssim, reported as ``ssim``)."""
REPORTED = ("vmaf", "vmaf_neg", "psnr_y", "ssim")
"""The figures a :class:`RungEval` records and :func:`ladder_bd_rates` reports. Results stored
before SSIM was added lack ``ssim``; their SSIM BD-rate is None."""
MIN_OVERLAP = {"vmaf": 1.0, "vmaf_neg": 1.0, "psnr_y": 1.0, "ssim": 0.01}
"""Narrowest quality range two curves must share for a BD-rate, per metric: 1 VMAF (METRICS.md),
1 dB of PSNR, and for SSIM (0 to 1) the same hundredth of its scale as 1 VMAF is of VMAF's."""


@dataclass(frozen=True)
class RungEval:
    """One rendition of one title, before and after enhancement."""

    title: str
    """The title's name."""
    settings: EncodeSettings
    """How the rendition was encoded."""
    bitrate_kbps: float
    """Its bitrate."""
    before: dict[str, float]
    """Mean ``vmaf``, ``vmaf_neg``, ``psnr_y``, ``ssim`` of the plain rendition (bicubic
    upscale; ``ssim`` absent from results stored before it was measured)."""
    after: dict[str, float]
    """The same after enhancement."""
    enabled: bool
    """Whether players with the stage run it on this rung (:func:`stage_enabled`: the guard
    accepts it and it raises VMAF)."""
    model_fps: float = 0.0
    """Frames per second of the network on this rung (display grid)."""

    @property
    def effective(self) -> dict[str, float]:
        """What a player gets: ``after`` where the stage is on, ``before`` where it is off."""
        return self.after if self.enabled else self.before

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["settings"] = self.settings.to_dict()
        return data


GUARD_METRICS = ("vmaf_neg", "psnr_y")
"""What the guard protects by default: VMAF NEG (the issue's rule) and PSNR-Y (a generic model
trained mostly on upscaled rungs sharpens native rungs: NEG up a little, PSNR down)."""


def watched_metrics(metrics: Sequence[str]) -> tuple[str, ...]:
    """What the guard watches given ``metrics``: VMAF NEG always, first, then the others once
    each, in order."""
    return tuple(dict.fromkeys(("vmaf_neg", *metrics)))


def guard_allows(
    before: Mapping[str, float],
    after: Mapping[str, float],
    *,
    margin: float = 0.0,
    metrics: Sequence[str] = GUARD_METRICS,
) -> bool:
    """True when enhancement lowers none of ``metrics`` (by more than ``margin``); VMAF NEG is
    always one of them."""
    watched = watched_metrics(metrics)
    return all(after[m] >= before[m] - margin for m in watched if m in before and m in after)


def stage_enabled(
    plain: StageFigures,
    enhanced: StageFigures,
    *,
    metrics: Sequence[str] = GUARD_METRICS,
    margin: float = 0.0,
) -> bool:
    """Whether players run the stage on a rung: the guard accepts it (none of ``metrics``
    lowered by more than ``margin``; VMAF NEG always watched) and it raises VMAF, the figure
    ladders are chosen and steered on. A gain in VMAF alone (sharpening) is refused."""
    return stage_off_reason(plain, enhanced, metrics=metrics, margin=margin) is None


def stage_off_reason(
    plain: StageFigures,
    enhanced: StageFigures,
    *,
    metrics: Sequence[str] = GUARD_METRICS,
    margin: float = 0.0,
) -> str | None:
    """Why the stage is off on a rung (``"guard: psnr_y lowered"``, ``"no VMAF gain"``), or
    None where it is on (see :func:`stage_enabled`)."""
    before, after = plain.to_dict(), enhanced.to_dict()
    watched = [m for m in watched_metrics(metrics) if m in before and m in after]
    lowered = [m for m in watched if after[m] < before[m] - margin]
    if lowered:
        return f"guard: {', '.join(lowered)} lowered"
    if not enhanced.vmaf > plain.vmaf:
        return "no VMAF gain"
    return None


def stage_record(
    model: EnhanceModel,
    *,
    enabled_rungs: int,
    guard_metrics: Sequence[str] = GUARD_METRICS,
    model_kbps: float = 0.0,
) -> LadderEnhance:
    """The ladder JSON's ``enhance`` record: which model players with the stage run, its cost,
    what the guard watched, and on how many rungs it is on."""
    return LadderEnhance(
        model=model.path.name if model.path else "",
        fingerprint=model.fingerprint(),
        preset=model.preset.name,
        macs_per_pixel=model.preset.macs_per_pixel,
        model_bytes=model.size_bytes,
        guard_metrics=watched_metrics(guard_metrics),
        enabled_rungs=enabled_rungs,
        model_kbps=model_kbps,
    )


def evaluate_rendition(
    model: EnhanceModel,
    ref: str | os.PathLike[str],
    dist: str | os.PathLike[str],
    *,
    settings: EncodeSettings,
    bitrate_kbps: float,
    workdir: str | os.PathLike[str],
    title: str = "",
    n_subsample: int = 1,
    device: str | None = None,
    guard_margin: float = 0.0,
    plain: Mapping[str, float] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> RungEval:
    """Measure ``dist`` against ``ref`` before and after enhancement (enhanced file kept in
    ``workdir``) and apply the guard. ``plain``: the rendition's figures (every name of
    :data:`REPORTED`) when already measured with the same ``n_subsample``; they do not depend on
    the model, so judging a second model on the same renditions measures only its output."""
    from ladderforge.enhance.frames import video_grid

    grid = video_grid(ref)
    enhanced = Path(workdir) / f"{Path(dist).stem}.enhanced.mkv"
    done = apply(
        model, dist, enhanced, width=grid.width, height=grid.height, device=device,
        on_progress=on_progress,
    )  # fmt: skip
    if plain is None or any(m not in plain for m in REPORTED):
        measured = measure(ref, dist, metrics=EVAL_METRICS, n_subsample=n_subsample)
        plain = {m: measured.get(m) for m in REPORTED}
    better = measure(ref, enhanced, metrics=EVAL_METRICS, n_subsample=n_subsample)
    before = {m: float(plain[m]) for m in REPORTED}
    after = {m: better.get(m) for m in REPORTED}
    return RungEval(
        title=title or Path(ref).parent.name,
        settings=settings,
        bitrate_kbps=bitrate_kbps,
        before=before,
        after=after,
        enabled=stage_enabled(
            StageFigures.from_dict(before), StageFigures.from_dict(after), margin=guard_margin
        ),
        model_fps=done.model_fps,
    )


def ladder_bd_rates(
    rungs: Sequence[RungEval],
    *,
    model_kbps: float = 0.0,
    metrics: Sequence[str] = REPORTED,
) -> dict[str, float | None]:
    """BD-rate (percent) of the enhanced ladder against the plain one, per metric, over the
    given rungs (one title). The enhanced points carry ``model_kbps`` more (a per-title model's
    size spread over the title's duration). None where the BD-rate cannot be computed, or where
    a rung lacks the metric (results stored before it was measured)."""
    out: dict[str, float | None] = {}
    for metric in metrics:
        if any(metric not in r.before or metric not in r.after for r in rungs):
            out[metric] = None
            continue
        plain = [(r.bitrate_kbps, r.before[metric]) for r in rungs]
        enhanced = [(r.bitrate_kbps + model_kbps, r.effective[metric]) for r in rungs]
        try:
            out[metric] = bd_rate(plain, enhanced, min_overlap_vmaf=MIN_OVERLAP.get(metric, 1.0))
        except BDRateError:
            out[metric] = None
    return out


def enhanced_ladder(
    rungs: Sequence[RungEval],
    *,
    source_height: int,
    model: EnhanceModel | None,
    model_kbps: float = 0.0,
    **ladder_options: Any,
) -> dict[str, Any]:
    """A ladder (JSON-ready) chosen by ``policy.ladder_from_hull`` from the rungs' VMAF, with
    enhancement on (``model`` given: each rung's quality is what the player shows after the
    model, where the guard allows) or off. With enhancement on, it carries the fields of
    ``ladder --enhanced`` (schema ``ladderforge.ladder/3``): ``enhance`` naming the model, and
    per rung ``enhance`` with the figures before and after and whether players run it."""
    by_key: dict[str, RungEval] = {}
    points = []
    for r in rungs:
        quality = (r.effective if model is not None else r.before)["vmaf"]
        kbps = r.bitrate_kbps + (model_kbps if model is not None else 0.0)
        points.append(RDPoint(r.settings, kbps, quality))
        by_key[r.settings.key()] = r
    chosen, warnings = ladder_from_hull(points, source_height=source_height, **ladder_options)
    title = rungs[0].title if rungs else ""
    notes = list(warnings)
    stage = None
    if model is not None:
        notes.append("enhancement on: players must run the model on the rungs flagged")
        chosen = [replace(c, enhance=_rung_enhance(by_key[c.settings.key()])) for c in chosen]
        stage = stage_record(
            model,
            enabled_rungs=sum(by_key[c.settings.key()].enabled for c in chosen),
            model_kbps=model_kbps,
        )
    ladder = Ladder(title, None, tuple(chosen), notes=tuple(notes), enhance=stage)
    return ladder.to_dict()


def _rung_enhance(r: RungEval) -> RungEnhance:
    return RungEnhance(r.enabled, StageFigures.from_dict(r.before), StageFigures.from_dict(r.after))
