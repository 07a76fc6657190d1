"""The modes of the main job: where a title's RD points and chunk curves come from.

Each mode is one small class with two steps that :func:`ladderforge.jobs.title.plan_title`
calls in order:

1. :meth:`Mode.rd_points`: the (settings, kbps, VMAF, cost) candidates the ladder is chosen
   from;
2. :meth:`Mode.chunk_options`: for a chosen rung, each chunk's options (CRF, kbps, VMAF), from
   which :func:`ladderforge.policy.per_scene.rung_chunks` picks the chunks' CRFs.

- ``predict``: the learned model predicts the RD surface from the content features; no encode
  is spent on the decision.
- ``probe``: a few short segments spanning the title's complexity are encoded at two CRFs and
  two heights (three with ``probe_heights``), the shortest also at ``bottom_probe_crfs``, and
  measured; the predicted surface is corrected per height, each segment weighing the share of
  the title it stands for (:mod:`ladderforge.policy.calibrate`).
- ``exhaustive``: every (height, CRF) of a coarser grid is encoded and measured (the ground
  truth); per-scene chunk curves are measured too (every chunk at every sweep CRF).

:meth:`Mode.check` refuses a configuration the mode cannot serve, before any work.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import polars as pl

from ladderforge.encoder import Chunk, check_available, encode_chunked
from ladderforge.encoder.verify import range_bitrates_kbps
from ladderforge.errors import UsageError
from ladderforge.jobs.config import LadderConfig, models_available
from ladderforge.jobs.context import TitleJob
from ladderforge.jobs.probes import probe_crfs, probe_length_s, probes_whole, run_probes
from ladderforge.jobs.sweep import SweepConfig, sweep
from ladderforge.policy.calibrate import Calibration, ProbeResult, fit_calibration
from ladderforge.policy.per_scene import SceneOption
from ladderforge.policy.replan import probe_height_choice
from ladderforge.policy.surface import predict_scenes, surface_points
from ladderforge.types import (
    CodecFacts,
    EncodeSettings,
    QualityResult,
    RDPoint,
    Rung,
    output_pix_fmt,
)
from ladderforge.vmaf_tools import measure, range_scores

__all__ = [
    "MODES",
    "ExhaustiveMode",
    "Mode",
    "PredictMode",
    "ProbeMode",
    "chunk_scores",
    "make_mode",
]


class Mode(ABC):
    """One way to find a title's RD points. A new instance serves one title."""

    name: ClassVar[str]
    deciding: ClassVar[str]
    """The stage shown while :meth:`rd_points` runs."""
    closed_loop: ClassVar[bool] = True
    """Whether encoded rungs are corrected until they land on their declared VMAF."""
    anchors_per_scene: ClassVar[bool] = True
    """Per-scene: allocate on chunk curves anchored on the rung's first pass (predicted curves
    need it); False: allocate up front on the mode's own chunk curves (measured ones)."""

    @classmethod
    def check(cls, config: LadderConfig, facts: CodecFacts) -> None:
        """Raise UsageError (one line) when this mode cannot serve ``config``."""
        if config.encodes:
            check_available(config.codec)

    @abstractmethod
    def rd_points(self, job: TitleJob) -> list[RDPoint]:
        """The candidates the ladder is chosen from."""

    @classmethod
    def planned_encodes(
        cls, config: LadderConfig, sizes: list[tuple[int, int]], frames: int, fps: float
    ) -> list[tuple[int, int, int]]:
        """(width, height, frames) of every encode :meth:`rd_points` would run (dry run)."""
        return []

    @abstractmethod
    def chunk_options(self, job: TitleJob, rung: Rung) -> list[list[SceneOption]]:
        """Each chunk's options at the rung's size; each includes the rung's own q."""

    def rung_curve(self, job: TitleJob, rung: Rung) -> list[tuple[float, float]]:
        """(CRF, VMAF) of the title at the rung's size, as this mode knows it (for the closed
        loop's first correction); empty when unknown."""
        return []

    def rung_points(self, job: TitleJob, rung: Rung) -> list[tuple[float, float, float]]:
        """(CRF, VMAF, kbps) the mode predicts at the rung's size (to aim the top rung between
        them); empty where it predicts nothing between its points."""
        return []


class PredictMode(Mode):
    """The learned model's surface, as is."""

    name = "predict"
    deciding = "predicting"
    calibration: Calibration | None = None

    @classmethod
    def check(cls, config: LadderConfig, facts: CodecFacts) -> None:
        super().check(config, facts)
        preset = config.resolved_preset
        if config.model_path is None and facts.model_for(preset) is None:
            raise UsageError(
                f"no learned model predicts {facts.name} preset {preset}; models ship for: "
                f"{', '.join(models_available())}. Use --mode exhaustive, another "
                "--codec/--preset, or --model FILE."
            )

    def rd_points(self, job: TitleJob) -> list[RDPoint]:
        job.surface = job.predicted_surface(job.config.heights, job.config.crfs, self.calibration)
        points = surface_points(
            job.surface,
            codec=job.facts,
            preset=job.config.resolved_preset,
            pix_fmt=output_pix_fmt(job.info.bit_depth),
        )
        return [replace(p, settings=job.tuned(p.settings)) for p in points]

    def recalibrate(self, job: TitleJob, measured: Sequence[ProbeResult]) -> None:
        """Fit the calibration again on the title's probes and ``measured`` (rung encodes as
        calibration points) and predict the surface again (``job.surface``) on it."""
        self.calibration = fit_calibration(
            [*job.probes, *measured], along_curve=job.config.probe_along_curve
        )
        PredictMode.rd_points(self, job)  # the surface only: no new probe

    def rung_curve(self, job: TitleJob, rung: Rung) -> list[tuple[float, float]]:
        return [(q, vmaf) for q, vmaf, _ in self.rung_points(job, rung)]

    def rung_points(self, job: TitleJob, rung: Rung) -> list[tuple[float, float, float]]:
        if job.surface is None:
            return []
        at = job.surface.filter(pl.col("height") == rung.settings.height).sort("crf")
        return [
            (float(r["crf"]), float(r["vmaf"]), float(r["bitrate_kbps"]))
            for r in at.iter_rows(named=True)
        ]

    def chunk_options(self, job: TitleJob, rung: Rung) -> list[list[SceneOption]]:
        """Each chunk's predicted curve at the rung's height (the title's calibration too)."""
        settings = rung.settings
        curves = predict_scenes(
            job.model,
            [job.segment_features(c.start, c.end) for c in job.chunks],
            source_width=job.info.width,
            source_height=job.info.height,
            fps=job.fps,
            heights=[settings.height],
            crfs=sorted({*job.config.crfs, float(settings.q or 0)}),
            calibration=self.calibration,
        ).filter(pl.col("height") == settings.height)
        return [
            [
                SceneOption(float(r["crf"]), float(r["bitrate_kbps"]), float(r["vmaf"]))
                for r in curves.filter(pl.col("scene") == i).iter_rows(named=True)
            ]
            for i in range(len(job.chunks))
        ]


class ProbeMode(PredictMode):
    """The model's surface corrected by a few short real encodes."""

    name = "probe"
    deciding = "probing"

    @classmethod
    def check(cls, config: LadderConfig, facts: CodecFacts) -> None:
        super().check(config, facts)
        check_available(config.codec)

    def rd_points(self, job: TitleJob) -> list[RDPoint]:
        self.calibration = run_probes(job)
        return super().rd_points(job)

    @classmethod
    def planned_encodes(
        cls, config: LadderConfig, sizes: list[tuple[int, int]], frames: int, fps: float
    ) -> list[tuple[int, int, int]]:
        duration_s, segments = frames / fps, config.probe_segments
        seg = min(frames, round(probe_length_s(config, duration_s, segments) * fps))
        if probes_whole(config, duration_s):
            seg, segments = frames, 1
        chosen = probe_height_choice([h for _, h in sizes], config.probe_heights)
        heights = [size for size in sizes if size[1] in chosen]
        return [
            (w, h, seg)
            for w, h in heights
            for _ in range(segments * len(probe_crfs(config, h, chosen)))
        ]


class ExhaustiveMode(Mode):
    """Every (height, CRF) of the sweep grid encoded and measured."""

    name = "exhaustive"
    deciding = "exhaustive sweep"
    closed_loop = False  # the rungs are measured points already (enhanced ladders loop anyway)
    anchors_per_scene = False  # its chunk curves are measured

    def __init__(self) -> None:
        self._tables: dict[tuple[int, int], list[list[SceneOption]]] = {}
        self._points: list[RDPoint] = []

    @classmethod
    def check(cls, config: LadderConfig, facts: CodecFacts) -> None:
        check_available(config.codec)

    def rd_points(self, job: TitleJob) -> list[RDPoint]:
        config = job.config
        report = sweep(
            [job.info.path],
            job.work / "sweep",
            config=SweepConfig(
                codec=config.codec,
                heights=config.heights,
                crfs=config.sweep_crfs,
                preset=config.resolved_preset,
                metrics=("vmaf",),
                params=job.tuning.params if job.tuning else (),
                tune=job.tuning.tune if job.tuning else None,
                timeout_s=config.timeout_s,
            ),
            workers=config.workers,
        )
        if report.failures:
            raise UsageError(
                f"{job.info.path}: sweep failed: {'; '.join(report.failures.values())}"
            )
        points = [p.rd_point() for p in report.points]
        job.decision_cpu_s += sum(p.cost_cpu_s for p in points)
        self._points = points
        return points

    def rung_curve(self, job: TitleJob, rung: Rung) -> list[tuple[float, float]]:
        """The swept (CRF, VMAF) points at the rung's size: measured, so only an enhanced
        ladder's loop (steering on delivered VMAF) needs them."""
        size = (rung.settings.width, rung.settings.height)
        return sorted(
            (float(p.settings.q or 0), p.quality)
            for p in self._points
            if (p.settings.width, p.settings.height) == size
        )

    @classmethod
    def planned_encodes(
        cls, config: LadderConfig, sizes: list[tuple[int, int]], frames: int, fps: float
    ) -> list[tuple[int, int, int]]:
        return [(w, h, frames) for w, h in sizes for _ in config.sweep_crfs]

    def chunk_options(self, job: TitleJob, rung: Rung) -> list[list[SceneOption]]:
        """Per-scene: measured chunk curves (every chunk at every sweep CRF at the rung's size,
        the Dynamic Optimizer), built once per size. Otherwise the rung's own swept point
        stands for every chunk: no model is needed in this mode."""
        settings = rung.settings
        if not job.config.per_scene:
            single = SceneOption(float(settings.q or 0), rung.bitrate_kbps, rung.vmaf)
            return [[single] for _ in job.chunks]
        key = (settings.width, settings.height)
        if key not in self._tables:
            self._tables[key] = self._measure_curves(job, settings)
        return self._tables[key]

    def _measure_curves(self, job: TitleJob, settings: EncodeSettings) -> list[list[SceneOption]]:
        table: list[list[SceneOption]] = [[] for _ in job.chunks]
        for crf in sorted({*job.config.sweep_crfs, float(settings.q or 0)}):
            job.stage(f"{settings.height}p chunk curves: CRF {crf:g}")
            enc = encode_chunked(
                job.info,
                job.chunks,
                settings.with_(q=float(crf)),
                job.work / "renditions" / f"curve_{settings.height}p_{crf:g}.mp4",
                work=job.work / "chunks",
                workers=job.config.workers,
                timeout_s=job.config.timeout_s,
            )
            quality = measure(
                job.info, enc.output_path, metrics=("vmaf",), timeout_s=job.config.timeout_s
            )
            scores = chunk_scores(enc.output_path, job.chunks, quality, job.fps)
            for row, option in zip(table, scores, strict=True):
                row.append(replace(option, q=float(crf)))
            job.decision_cpu_s += enc.cpu_s
            enc.output_path.unlink()
        return table


def chunk_scores(
    rendition: Path, chunks: Sequence[Chunk], quality: QualityResult, fps: float
) -> list[SceneOption]:
    """Each chunk of a chunked rendition as measured: kbps from its packets (no container),
    mean and 1%-low VMAF from its scored frames. ``q`` is left at 0."""
    ranges = [(c.start, c.end) for c in chunks]
    kbps = range_bitrates_kbps(rendition, ranges, fps)
    scores = range_scores(quality, ranges)
    return [SceneOption(0.0, k, s.mean, s.low_1pct) for k, s in zip(kbps, scores, strict=True)]


MODES: dict[str, type[Mode]] = {m.name: m for m in (PredictMode, ProbeMode, ExhaustiveMode)}
"""Mode name -> class."""


def make_mode(name: str) -> Mode:
    """A fresh mode for one title."""
    return MODES[name]()
