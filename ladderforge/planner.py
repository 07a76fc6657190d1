"""The main job for one title: choose its ladder (predict | probe | exhaustive), then optionally
encode and validate the rungs.

- ``predict``: the learned models predict the RD surface from the title's content features; no
  encode is spent on the decision.
- ``probe``: a few short segments spanning the title's complexity are encoded at two CRFs and two
  heights and measured; the predicted surface is corrected per height (offset and slope).
- ``exhaustive``: every (height, CRF) of a coarser grid is encoded and measured (the ground truth).

Encoded rungs are chunked (:mod:`ladderforge.encoder.chunks`): the title is cut into chunks at
its scene cuts, every rung is made of the same chunks with an IDR frame at each chunk start, and
HLS segments are the chunks, so a player can switch rungs at every segment. With ``per_scene``
each chunk of a rung gets its own CRF (:mod:`ladderforge.policy.per_scene`): the fewest
predicted bits at the predicted mean VMAF of the rung's single CRF.

Every encode and measurement goes through the results store or the chunk folder, so a rerun
resumes.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from ladderforge.analysis import ContentProfile, analyze
from ladderforge.analysis.profile import aggregate_exprs
from ladderforge.encoder.chunks import Chunk, ChunkedEncode, encode_chunked, plan_chunks
from ladderforge.encoder.hls import (
    SEGMENT_TYPES,
    MediaPlaylist,
    package_hls,
    rung_name,
    write_master,
)
from ladderforge.encoder.verify import packet_sizes
from ladderforge.errors import UsageError
from ladderforge.media import probe
from ladderforge.media.segments import extract_segment
from ladderforge.pipeline import SweepConfig, measure_settings, sweep
from ladderforge.policy import ladder_from_hull, upper_convex_hull
from ladderforge.policy.calibrate import (
    Calibration,
    ProbeResult,
    fit_calibration,
    plan_probe_segments,
)
from ladderforge.policy.cost import CostModel, ladder_costs
from ladderforge.policy.models import RDModel, default_model, load_model
from ladderforge.policy.per_scene import SceneOption, allocate
from ladderforge.policy.surface import (
    DEFAULT_CRFS,
    predict_scenes,
    predict_surface,
    surface_points,
)
from ladderforge.store import atomic_write_json
from ladderforge.types import EncodeSettings, Ladder, Rung, SourceInfo, even_size
from ladderforge.vmaf_tools import measure

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
    per_scene: bool = False
    """Give each chunk of a rung its own CRF (equal-slope allocation over predicted curves)."""
    min_chunk_s: float = 1.0
    """Scenes shorter than this merge into a neighbour."""
    max_chunk_s: float = 6.0
    """Longer scenes are split into equal chunks no longer than this (the HLS segment length)."""
    scene_floor_vmaf: float | None = None
    """Per-scene: no chunk's predicted VMAF below this."""
    max_scene_rate_ratio: float | None = None
    """Per-scene: neighbouring chunks' predicted bitrates differ by at most this factor."""
    segment_type: str = "fmp4"
    """HLS segments: ``fmp4`` (CMAF-style init + .m4s) or ``mpegts``."""
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
        if self.segment_type not in SEGMENT_TYPES:
            raise UsageError(
                f"The 'segment_type' parameter must be one of {', '.join(SEGMENT_TYPES)}. "
                f"Got {self.segment_type!r} instead."
            )
        if self.per_scene and not (self.encode or self.validate):
            raise UsageError("per-scene encoding needs --encode or --validate")

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
    calibration: Calibration | None = None
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
    packaged: dict[str, MediaPlaylist] = {}
    if config.encode or config.validate:
        rungs, packaged, encode_notes = _encode_rungs(
            info, profile, rungs, work, config, calibration, stage
        )
        notes = [*notes, *encode_notes]
    rungs = _with_costs(rungs, info, config)
    plan.ladder = Ladder(title, info, tuple(rungs), mode=config.mode, notes=tuple(notes))
    atomic_write_json(Path(out_dir) / f"{title}.ladder.json", plan.ladder.to_dict())
    write_master(
        plan.ladder, work / "master.m3u8", fps=fps, bit_depth=info.bit_depth, packaged=packaged
    )
    return plan


def title_chunks(info: SourceInfo, profile: ContentProfile, config: LadderConfig) -> list[Chunk]:
    """The chunks every rung of the title is made of: scene cuts, merged and split."""
    return plan_chunks(
        [sc.start_frame for sc in profile.scenes],
        info.frame_count,
        float(info.frame_rate),
        min_chunk_s=config.min_chunk_s,
        max_chunk_s=config.max_chunk_s,
    )


def chunk_scores(
    rendition: Path, chunks: Sequence[Chunk], vmaf_per_frame: Sequence[float], fps: float
) -> list[SceneOption]:
    """Each chunk of a chunked rendition as measured: bitrate from its packets (no container
    overhead), mean and 1%-low VMAF from its frames. ``q`` is left at 0."""
    sizes = packet_sizes(rendition)
    out = []
    for c in chunks:
        v = sorted(vmaf_per_frame[c.start : c.end])
        if not v:
            raise UsageError(f"{rendition}: no VMAF scores for frames {c.start}-{c.end - 1}")
        worst = v[: max(1, math.ceil(0.01 * len(v)))]
        out.append(
            SceneOption(
                0.0,
                8 * sum(sizes[c.start : c.end]) * fps / c.frames / 1000,
                sum(v) / len(v),
                sum(worst) / len(worst),
            )
        )
    return out


def _predicted_options(
    model: RDModel,
    info: SourceInfo,
    profile: ContentProfile,
    chunks: list[Chunk],
    settings: EncodeSettings,
    config: LadderConfig,
    calibration: Calibration | None,
) -> list[list[SceneOption]]:
    """Each chunk's predicted curve at the rung's height."""
    curves = predict_scenes(
        model,
        [_segment_features(profile, c.start, c.end) for c in chunks],
        source_width=info.width,
        source_height=info.height,
        fps=float(info.frame_rate),
        heights=[settings.height],
        crfs=sorted({*config.crfs, float(settings.q or 0)}),
        calibration=calibration,
    ).filter(pl.col("height") == settings.height)
    return [
        [
            SceneOption(float(r["crf"]), float(r["bitrate_kbps"]), float(r["vmaf"]))
            for r in curves.filter(pl.col("scene") == i).iter_rows(named=True)
        ]
        for i in range(len(chunks))
    ]


@dataclass
class _ChunkTables:
    """Measured chunk curves per rung height (exhaustive per-scene), built once per height."""

    info: SourceInfo
    chunks: list[Chunk]
    work: Path
    config: LadderConfig
    stage: Callable[[str], None]
    tables: dict[tuple[int, int], list[list[SceneOption]]] = field(default_factory=dict)

    def options(self, settings: EncodeSettings) -> list[list[SceneOption]]:
        key = (settings.width, settings.height)
        if key not in self.tables:
            fps = float(self.info.frame_rate)
            table: list[list[SceneOption]] = [[] for _ in self.chunks]
            for crf in sorted({*self.config.sweep_crfs, float(settings.q or 0)}):
                self.stage(f"{settings.height}p chunk curves: CRF {crf:g}")
                enc = encode_chunked(
                    self.info,
                    self.chunks,
                    settings.with_(q=float(crf)),
                    self.work / "renditions" / f"curve_{settings.height}p_{crf:g}.mp4",
                    work=self.work / "chunks",
                    workers=self.config.workers,
                )
                quality = measure(self.info, enc.output_path, metrics=("vmaf",))
                scores = chunk_scores(enc.output_path, self.chunks, quality.per_frame["vmaf"], fps)
                for row, sc in zip(table, scores, strict=True):
                    row.append(replace(sc, q=float(crf)))
                enc.output_path.unlink()
            self.tables[key] = table
        return self.tables[key]


def _chunk_plan(
    rung: Rung,
    chunks: list[Chunk],
    options: list[list[SceneOption]],
    config: LadderConfig,
) -> tuple[list[EncodeSettings], list[dict[str, float]], list[str]]:
    """Per-chunk settings of one rung (the rung's CRF everywhere, or per-scene CRFs chosen on
    the chunk curves ``options``) and the per-chunk figures they rest on."""
    s = rung.settings
    frames = [c.frames for c in chunks]
    at_rung = [next(o for o in opts if o.q == float(s.q or 0)) for opts in options]
    notes: list[str] = []
    if config.per_scene:
        # the rung's single CRF, chunk by chunk, sets the quality to hold
        target = sum(o.vmaf * n for o, n in zip(at_rung, frames, strict=True)) / sum(frames)
        alloc = allocate(
            options,
            frames,
            target_vmaf=target,
            floor_vmaf=config.scene_floor_vmaf,
            max_neighbour_ratio=config.max_scene_rate_ratio,
        )
        chosen = list(alloc.choices)
        notes += [f"{s.width}x{s.height} CRF {s.q:g} rung: {n}" for n in alloc.notes]
        plain = config.scene_floor_vmaf is None and config.max_scene_rate_ratio is None
        if plain and _mean_kbps(chosen, frames) > _mean_kbps(at_rung, frames):
            chosen = at_rung  # the discrete ascent can overshoot; the single CRF is feasible
    else:
        chosen = at_rung
    settings = [s.with_(q=o.q) for o in chosen]
    records = [
        {
            "start": c.start,
            "end": c.end,
            "q": o.q,
            "predicted_kbps": o.kbps,
            "predicted_vmaf": o.vmaf,
            # the same chunk at the rung's single CRF: what per-scene allocation is judged by
            "single_q_kbps": one.kbps,
            "single_q_vmaf": one.vmaf,
        }
        for c, o, one in zip(chunks, chosen, at_rung, strict=True)
    ]
    return settings, records, notes


def _mean_kbps(options: Sequence[SceneOption], frames: Sequence[int]) -> float:
    return sum(o.kbps * n for o, n in zip(options, frames, strict=True)) / sum(frames)


def _encode_rungs(
    info: SourceInfo,
    profile: ContentProfile,
    rungs: list[Rung],
    work: Path,
    config: LadderConfig,
    calibration: Calibration | None,
    stage: Callable[[str], None],
) -> tuple[list[Rung], dict[str, MediaPlaylist], list[str]]:
    """Encode every rung chunk by chunk, measure it against the source, package it as HLS.

    Per-scene CRFs are chosen on predicted chunk curves, or, in exhaustive mode, on measured
    ones: every chunk encoded at every sweep CRF at the rung's size (the Dynamic Optimizer);
    the rung's own chunks are then among those encodes and are reused, not encoded again.
    """
    metrics = ("vmaf", "vmaf_neg") if config.validate else ("vmaf",)
    chunks = title_chunks(info, profile, config)
    measured = _ChunkTables(info, chunks, work, config, stage)
    model = _model(config)
    out: list[Rung] = []
    packaged: dict[str, MediaPlaylist] = {}
    notes: list[str] = []
    for i, r in enumerate(rungs, 1):
        what = f"rung {i}/{len(rungs)} {r.settings.height}p"
        if config.per_scene and config.mode == "exhaustive":
            options = measured.options(r.settings)
        else:
            options = _predicted_options(
                model, info, profile, chunks, r.settings, config, calibration
            )
        settings, records, rung_notes = _chunk_plan(r, chunks, options, config)
        notes += rung_notes

        def progress(done: int, total: int, what: str = what) -> None:
            stage(f"{what}: chunk {done}/{total}")

        encoded = encode_chunked(
            info,
            chunks,
            settings,
            work / "renditions" / f"rung{i}_{r.settings.height}p.mp4",
            work=work / "chunks",
            workers=config.workers,
            on_chunk=progress,
        )
        stage(f"{what}: measuring")
        quality = measure(info, encoded.output_path, metrics=metrics)
        scores = chunk_scores(
            encoded.output_path, chunks, quality.per_frame["vmaf"], float(info.frame_rate)
        )
        records = [
            rec | {"kbps": sc.kbps, "vmaf": sc.vmaf}
            for rec, sc in zip(records, scores, strict=True)
        ]
        rung = _measured_rung(r, encoded, quality.vmaf, records)
        out.append(rung)
        name = rung_name(rung)
        _publish(encoded.output_path, work / f"{name}.mp4")
        stage(f"{what}: packaging")
        packaged[name] = package_hls(
            encoded.output_path,
            work / name,
            codec=r.settings.codec,
            segment_type=config.segment_type,
        )
    shutil.rmtree(work / "chunks" / "src", ignore_errors=True)  # lossless chunk sources
    return out, packaged, notes


def _measured_rung(
    r: Rung, encoded: ChunkedEncode, vmaf: float, records: list[dict[str, float]]
) -> Rung:
    frames = sum(rec["end"] - rec["start"] for rec in records)
    predicted_kbps = sum(rec["predicted_kbps"] * (rec["end"] - rec["start"]) for rec in records)
    return Rung(
        r.settings,
        r.bitrate_kbps,
        r.vmaf,
        measured_bitrate_kbps=encoded.bitrate_kbps,
        measured_vmaf=vmaf,
        cost={
            **r.cost,
            "encode_cpu_s_measured": encoded.cpu_s,
            "predicted_chunk_kbps": predicted_kbps / frames,
        },
        chunks=tuple(records),
    )


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
        replace(
            r,
            cost=dict(r.cost)
            | {
                "encode_usd": c.encode_usd,
                "storage_usd": c.storage_usd,
                "delivery_usd": c.delivery_usd,
                "total_usd": c.total_usd,
            },
        )
        for r, c in zip(rungs, costs, strict=True)
    ]
