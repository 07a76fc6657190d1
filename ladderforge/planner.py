"""The main job for one title: choose its ladder (predict | probe | exhaustive), then optionally
encode and validate the rungs.

- ``predict``: the learned models predict the RD surface from the title's content features; no
  encode is spent on the decision.
- ``probe``: a few short segments spanning the title's complexity are encoded at two CRFs and two
  heights and measured; the predicted surface is corrected per height (offset and slope).
- ``exhaustive``: every (height, CRF) of a coarser grid is encoded and measured (the ground truth).

Every encode and measurement goes through the results store, so a rerun resumes.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ladderforge.analysis import ContentProfile, analyze
from ladderforge.analysis.profile import aggregate_exprs
from ladderforge.encoder.hls import rung_name, write_master
from ladderforge.errors import UsageError
from ladderforge.media import probe
from ladderforge.media.segments import extract_segment
from ladderforge.pipeline import SweepConfig, encoded_path, measure_settings, sweep
from ladderforge.policy import ladder_from_hull, upper_convex_hull
from ladderforge.policy.calibrate import (
    Calibration,
    ProbeResult,
    fit_calibration,
    plan_probe_segments,
)
from ladderforge.policy.cost import CostModel, ladder_costs
from ladderforge.policy.models import RDModel, default_model, load_model
from ladderforge.policy.surface import DEFAULT_CRFS, predict_surface, surface_points
from ladderforge.store import atomic_write_json
from ladderforge.types import EncodeSettings, Ladder, Rung, SourceInfo, even_size

__all__ = ["MODES", "LadderConfig", "TitlePlan", "plan_title"]

log = logging.getLogger(__name__)
MODES = ("predict", "probe", "exhaustive")
StageCallback = Callable[[str, str], None]
"""Called with (title, stage description) as a title moves through its stages."""


@dataclass(frozen=True)
class LadderConfig:
    """How ladders are chosen, encoded and validated (CLI flags map 1:1 onto these)."""

    mode: str = "probe"
    """``predict``, ``probe`` or ``exhaustive``."""
    codec: str = "x265"
    preset: str = "veryfast"
    heights: tuple[int, ...] = (1080, 720, 540, 432, 360, 270)
    """Candidate heights, capped at the source's."""
    crfs: tuple[float, ...] = DEFAULT_CRFS
    """CRFs of the predicted surface."""
    sweep_crfs: tuple[float, ...] = (18, 22, 26, 30, 34, 38, 42)
    """CRFs of the exhaustive mode."""
    top_vmaf: float = 95.0
    floor_vmaf: float = 40.0
    min_step_vmaf: float = 6.0
    min_rate_ratio: float = 1.5
    max_rate_ratio: float = 2.0
    max_rungs: int = 6
    probe_segments: int = 3
    probe_segment_s: float = 2.0
    probe_crfs: tuple[float, ...] = (24, 34)
    encode: bool = False
    """Encode every rung of the chosen ladder (full title)."""
    validate: bool = False
    """Encode and measure every rung (implies encode)."""
    model_path: Path | None = None
    """A model file; None: the shipped default."""
    cost: CostModel = field(default_factory=CostModel)
    workers: int = 1

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UsageError(
                f"The 'mode' parameter must be one of {', '.join(MODES)}. "
                f"Got {self.mode!r} instead."
            )

    def ladder_options(self) -> dict[str, Any]:
        return {
            "top_vmaf": self.top_vmaf,
            "floor_vmaf": self.floor_vmaf,
            "min_step_vmaf": self.min_step_vmaf,
            "min_rate_ratio": self.min_rate_ratio,
            "max_rate_ratio": self.max_rate_ratio,
            "max_rungs": self.max_rungs,
        }


@dataclass
class TitlePlan:
    """What planning one title produced and spent."""

    ladder: Ladder
    decision_cpu_s: float = 0.0
    """CPU seconds of the encodes spent to decide (probes or sweep)."""
    analysis_s: float = 0.0
    probes: list[ProbeResult] = field(default_factory=list)
    surface: pl.DataFrame | None = None


def _model(config: LadderConfig) -> RDModel:
    return load_model(config.model_path) if config.model_path else default_model()


def _scenes(profile: ContentProfile) -> list[tuple[int, int, dict[str, float]]]:
    return [(s.start_frame, s.end_frame, dict(s.features)) for s in profile.scenes] or [
        (0, profile.source.frame_count, _numeric(profile.title))
    ]


def _numeric(values: Mapping[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in values.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def _segment_features(profile: ContentProfile, start: int, end: int) -> dict[str, Any]:
    frames = profile.frames.filter(pl.col("frame").is_between(start, end - 1))
    return frames.select(aggregate_exprs()).row(0, named=True)


def _run_probes(
    info: SourceInfo,
    profile: ContentProfile,
    config: LadderConfig,
    work: Path,
    model: RDModel,
    heights: list[int],
) -> tuple[Calibration, list[ProbeResult], float]:
    fps = float(info.frame_rate)
    segments = plan_probe_segments(
        _scenes(profile),
        frame_rate=fps,
        n_segments=config.probe_segments,
        segment_s=config.probe_segment_s,
    )
    probes: list[ProbeResult] = []
    cpu_s = 0.0
    for start, end in segments:
        seg = probe(extract_segment(info, start, end, work / "segments" / f"{start:06d}.mkv"))
        settings = [_settings(config, info, h, crf) for h in heights for crf in config.probe_crfs]
        report = measure_settings(
            seg,
            settings,
            work / "probes",
            config=SweepConfig(codec=config.codec, metrics=("vmaf",)),
            workers=config.workers,
            title=seg.title,
        )
        if report.failures:
            raise UsageError(
                f"{info.path}: probe encodes failed: {'; '.join(report.failures.values())}"
            )
        feats = _segment_features(profile, start, end)
        rows = pl.DataFrame(
            [
                {
                    **feats,
                    "width": p.settings.width,
                    "height": p.settings.height,
                    "crf": p.settings.q,
                    "source_height": info.height,
                    "source_fps": fps,
                }
                for p in report.points
            ]
        )
        pred = model.predict(rows)
        for p, pv, pk in zip(report.points, pred.vmaf, pred.bitrate_kbps, strict=True):
            probes.append(
                ProbeResult(
                    p.settings.height,
                    float(p.settings.q or 0),
                    float(pv),
                    p.quality.vmaf,
                    float(pk),
                    float(p.encode["bitrate_kbps"]),
                )
            )
            cpu_s += float(p.encode["cpu_s"])
    return fit_calibration(probes), probes, cpu_s


def _settings(config: LadderConfig, info: SourceInfo, height: int, crf: float) -> EncodeSettings:
    w, h = even_size(info.width, info.height, height)
    rc = "cq" if config.codec.startswith("nvenc") else "crf"
    return EncodeSettings(
        codec=config.codec,
        width=w,
        height=h,
        rate_control=rc,  # type: ignore[arg-type]
        q=float(crf),
        preset=config.preset,
    )


def _probe_heights(info: SourceInfo, heights: tuple[int, ...]) -> list[int]:
    near = 0.9 * info.height  # as in the predicted grid: heights near the source's collapse onto it
    capped = sorted({(info.height if h >= near else h) // 2 * 2 for h in heights}, reverse=True)
    return [capped[0], capped[-1]] if len(capped) > 1 else capped


def plan_title(
    source: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    config: LadderConfig | None = None,
    on_stage: StageCallback | None = None,
) -> TitlePlan:
    """Choose (and optionally encode and validate) the ladder of one title under ``out_dir``."""
    config = config or LadderConfig()
    info = probe(source)
    title = info.title
    work = Path(out_dir) / title
    stage = (lambda s: on_stage(title, s)) if on_stage else (lambda s: None)
    stage("analysing")
    t0 = time.perf_counter()
    profile = analyze(info.path)
    analysis_s = time.perf_counter() - t0
    plan = TitlePlan(ladder=Ladder(title, info, ()), analysis_s=analysis_s)
    fps = float(info.frame_rate)
    if config.mode == "exhaustive":
        stage("exhaustive sweep")
        report = sweep(
            [info.path],
            work / "sweep",
            config=SweepConfig(
                codec=config.codec,
                heights=config.heights,
                crfs=config.sweep_crfs,
                preset=config.preset,
                metrics=("vmaf",),
            ),
            workers=config.workers,
        )
        if report.failures:
            raise UsageError(f"{info.path}: sweep failed: {'; '.join(report.failures.values())}")
        points = [p.rd_point() for p in report.points]
        plan.decision_cpu_s = sum(p.cost_cpu_s for p in points)
    else:
        model = _model(config)
        calibration = None
        if config.mode == "probe":
            stage("probing")
            calibration, plan.probes, plan.decision_cpu_s = _run_probes(
                info, profile, config, work, model, _probe_heights(info, config.heights)
            )
        scenes = [(end - start, feats) for start, end, feats in _scenes(profile)]
        plan.surface = predict_surface(
            model,
            scenes,
            source_width=info.width,
            source_height=info.height,
            fps=fps,
            frames=info.frame_count,
            heights=config.heights,
            crfs=config.crfs,
            calibration=calibration,
            codec=config.codec,
            preset=config.preset,
        )
        points = surface_points(plan.surface, codec=config.codec, preset=config.preset)
    rungs, notes = ladder_from_hull(
        upper_convex_hull(points), source_height=info.height, **config.ladder_options()
    )
    if config.encode or config.validate:
        stage("encoding rungs")
        rungs = _encode_rungs(info, rungs, work, config)
    rungs = _with_costs(rungs, info, config)
    plan.ladder = Ladder(title, info, tuple(rungs), mode=config.mode, notes=tuple(notes))
    atomic_write_json(Path(out_dir) / f"{title}.ladder.json", plan.ladder.to_dict())
    write_master(plan.ladder, work / "master.m3u8", fps=fps, bit_depth=info.bit_depth)
    return plan


def _encode_rungs(
    info: SourceInfo, rungs: list[Rung], work: Path, config: LadderConfig
) -> list[Rung]:
    metrics = ("vmaf", "vmaf_neg") if config.validate else ("vmaf",)
    report = measure_settings(
        info,
        [r.settings for r in rungs],
        work / "renditions",
        config=SweepConfig(codec=config.codec, metrics=metrics, keep_encodes=True),
        workers=config.workers,
    )
    if report.failures:
        raise UsageError(f"{info.path}: rung encodes failed: {'; '.join(report.failures.values())}")
    by_settings = {p.settings: p for p in report.points}
    out = []
    for r in rungs:
        p = by_settings[r.settings]
        out.append(
            Rung(
                r.settings,
                r.bitrate_kbps,
                r.vmaf,
                measured_bitrate_kbps=float(p.encode["bitrate_kbps"]),
                measured_vmaf=p.quality.vmaf,
                cost={**r.cost, "encode_cpu_s_measured": float(p.encode["cpu_s"])},
            )
        )
        _publish(
            encoded_path(work / "renditions", info, r.settings), work / f"{rung_name(out[-1])}.mp4"
        )
    return out


def _publish(stored: Path, visible: Path) -> None:
    """Give a stored rendition its readable name (a hard link; a copy across file systems)."""
    if visible.exists():
        visible.unlink()
    try:
        os.link(stored, visible)
    except OSError:
        shutil.copyfile(stored, visible)
    log.debug("rendition %s", visible)


def _with_costs(rungs: list[Rung], info: SourceInfo, config: LadderConfig) -> list[Rung]:
    if not rungs:
        return rungs
    spec = [
        (
            r.settings.codec,
            r.measured_bitrate_kbps or r.bitrate_kbps,
            r.cost.get("encode_cpu_s_measured", r.cost.get("encode_cpu_s", 0.0)),
            info.frame_count,
        )
        for r in rungs
    ]
    costs = ladder_costs(spec, duration_s=info.duration_s, model=config.cost)
    return [
        Rung(
            r.settings,
            r.bitrate_kbps,
            r.vmaf,
            r.measured_bitrate_kbps,
            r.measured_vmaf,
            dict(r.cost)
            | {
                "encode_usd": c.encode_usd,
                "storage_usd": c.storage_usd,
                "delivery_usd": c.delivery_usd,
                "total_usd": c.total_usd,
            },
        )
        for r, c in zip(rungs, costs, strict=True)
    ]
