"""One title on its way through the main job: what every step reads and what it spent.

:class:`TitleJob` is made once per title (probe + content analysis) and handed to the mode and
the rung steps; it owns the title's name, work folder, chunks and model, so that no step
rebuilds them.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from ladderforge.analysis import ContentProfile, analyze
from ladderforge.analysis.profile import aggregate_exprs
from ladderforge.encoder.chunks import Chunk, ChunkRunner, plan_chunks
from ladderforge.errors import UnsupportedMediaError
from ladderforge.jobs.config import LadderConfig
from ladderforge.media import probe
from ladderforge.media.conform import conform_cfr
from ladderforge.policy.calibrate import Calibration, ProbeResult
from ladderforge.policy.models import RDModel, load_model, shipped_model
from ladderforge.policy.surface import predict_surface
from ladderforge.types import (
    CodecFacts,
    EncodeSettings,
    SourceInfo,
    TuningRef,
    even_size,
    output_pix_fmt,
)

if TYPE_CHECKING:
    from ladderforge.jobs.enhanced import LadderEnhancer

__all__ = ["StageCallback", "TitleJob"]

StageCallback = Callable[[str, str], None]
"""Called with (title, stage description) as a title moves through its stages."""


@dataclass
class TitleJob:
    """A title being planned: its source, analysis, configuration and spending so far."""

    info: SourceInfo
    profile: ContentProfile
    config: LadderConfig
    title: str
    """The title's name: names its outputs (the manifest's title column, else the file stem)."""
    out_dir: Path
    stage: Callable[[str], None]
    """Reports a stage of this title."""
    analysis_s: float = 0.0
    decision_cpu_s: float = 0.0
    """CPU seconds of the encodes spent to decide (probes, sweep, chunk curves)."""
    loop_cpu_s: float = 0.0
    """CPU seconds of closed-loop encodes that did not ship (beyond one encode per rung)."""
    probes: list[ProbeResult] = field(default_factory=list)
    probed_whole: bool = False
    """Probe mode: the probes are whole renditions of the title (``whole_probe_s``)."""
    surface: pl.DataFrame | None = None
    """The predicted RD surface (predict and probe modes)."""
    runner: ChunkRunner | None = None
    """Where the rungs' chunk encodes run (None: ``config.workers`` threads of this process)."""
    notes: list[str] = field(default_factory=list)
    """What the ladder's notes must say about the source itself (truncated, HDR, VFR...)."""
    source: SourceInfo | None = None
    """The source file as the ladder records it: its own path, audio and identity, with the
    timeline the job worked on (``info``'s rate, frames and duration). ``info`` is the file
    the stages read: the source itself, or its constant-rate mezzanine."""

    @property
    def record(self) -> SourceInfo:
        """``source``, or ``info`` when the job made no mezzanine."""
        return self.source or self.info

    @classmethod
    def open(
        cls,
        source: str | os.PathLike[str],
        out_dir: str | os.PathLike[str],
        *,
        config: LadderConfig,
        title: str | None = None,
        on_stage: StageCallback | None = None,
        runner: ChunkRunner | None = None,
    ) -> TitleJob:
        """Probe the source, conform it to a constant rate when it needs it (VFR, or
        ``config.fps``), and analyse it: the start of every mode."""
        original = probe(source)
        check_hdr(original, config.facts)
        if config.enhanced is not None:  # refused before any analysis or encode
            from ladderforge.jobs.enhanced import check_enhanced_source

            check_enhanced_source(original)
        name = title or original.title
        stage: Callable[[str], None] = (
            (lambda s: on_stage(name, s)) if on_stage else (lambda s: None)
        )
        work = (config.work_dir or Path(out_dir) / ".work") / name
        info, notes = _conformed(original, config, work, stage)
        stage("analysing")
        t0 = time.perf_counter()
        profile = analyze(info.path)
        lost = int(profile.title.get("frames_lost") or 0)
        if lost and info is original:  # damaged: work on what ffmpeg decodes, re-timed
            info, notes = _conformed(original, config, work, stage, lost=lost)
            profile = analyze(info.path)
        job = cls(info, profile, config, name, Path(out_dir), stage, runner=runner)
        job.analysis_s = time.perf_counter() - t0
        job.source = replace(
            original,
            path=Path(os.path.abspath(original.path)),  # verify may run from another folder
            frame_rate=info.frame_rate,
            frame_count=info.frame_count,
            duration_s=info.duration_s,
        )
        job.notes += [*notes, *source_notes(original, info, profile)]
        return job

    @property
    def work(self) -> Path:
        """The title's work folder: probe segments, sweeps, chunk encodes, stores (removed
        after success unless ``keep_work``)."""
        return (self.config.work_dir or self.out_dir / ".work") / self.title

    @property
    def deliver(self) -> Path:
        """The title's folder under the output folder: only what ships."""
        return self.out_dir / self.title

    @property
    def model_used(self) -> RDModel | None:
        """The model, when a step of this title used it."""
        return self.__dict__.get("model")

    @property
    def fps(self) -> float:
        return float(self.info.frame_rate)

    @property
    def facts(self) -> CodecFacts:
        return self.config.facts

    def predicted_surface(
        self,
        heights: Sequence[int],
        crfs: Sequence[float],
        calibration: Calibration | None = None,
    ) -> pl.DataFrame:
        """The model's whole-title surface at ``heights`` x ``crfs`` (frame-weighted over the
        scenes), corrected by ``calibration`` when given."""
        return predict_surface(
            self.model,
            [(end - start, feats) for start, end, feats in self.scenes()],
            source_width=self.info.width,
            source_height=self.info.height,
            fps=self.fps,
            frames=self.info.frame_count,
            heights=heights,
            crfs=crfs,
            calibration=calibration,
            codec=self.facts,
            preset=self.config.resolved_preset,
        )

    @functools.cached_property
    def model(self) -> RDModel:
        """The learned RD model for the codec and preset (or the file the config names)."""
        if self.config.model_path is not None:
            return load_model(self.config.model_path)
        name = self.facts.model_for(self.config.resolved_preset)
        if name is None:  # the config refuses this before any work; a library caller may not
            raise RuntimeError(f"no model for {self.config.codec} {self.config.resolved_preset}")
        return shipped_model(name)

    @functools.cached_property
    def enhancer(self) -> LadderEnhancer | None:
        """The enhancement stage the rungs are judged with (``config.enhanced``), else None."""
        if self.config.enhanced is None:
            return None
        from ladderforge.jobs.enhanced import LadderEnhancer

        return LadderEnhancer.load(self.config.enhanced)

    @functools.cached_property
    def chunks(self) -> list[Chunk]:
        """The chunks every rung of the title is made of: scene cuts, merged and split."""
        return plan_chunks(
            [sc.start_frame for sc in self.profile.scenes],
            self.info.frame_count,
            self.fps,
            min_chunk_s=self.config.min_chunk_s,
            max_chunk_s=self.config.max_chunk_s,
        )

    @functools.cached_property
    def tuning(self) -> TuningRef | None:
        """The tuned set of the title's content class (``config.tuned``), None without one."""
        if self.config.tuned is None:
            return None
        from ladderforge.jobs.tuned import tuning_for

        return tuning_for(
            self.config.tuned,
            codec=self.config.codec,
            preset=self.config.resolved_preset,
            features=self.profile.title,
        )

    def tuned(self, settings: EncodeSettings) -> EncodeSettings:
        """``settings`` with the title's tuned parameters (unchanged without a tuned set)."""
        if self.tuning is None:
            return settings
        return settings.with_(params=self.tuning.params, tune=self.tuning.tune)

    def settings(self, height: int, q: float) -> EncodeSettings:
        """The codec's constant-quality settings at ``height`` (source aspect kept), with the
        title's tuned parameters when there are."""
        w, h = even_size(self.info.width, self.info.height, height)
        return self.tuned(
            EncodeSettings(
                codec=self.config.codec,
                width=w,
                height=h,
                rate_control=self.facts.quality_rate_control,
                q=float(q),
                preset=self.config.resolved_preset,
                pix_fmt=output_pix_fmt(self.info.bit_depth),
            )
        )

    def scenes(self) -> list[tuple[int, int, dict[str, float]]]:
        """(start, end, pooled features) of each scene; the whole title when it has none."""
        return [(s.start_frame, s.end_frame, dict(s.features)) for s in self.profile.scenes] or [
            (0, self.info.frame_count, _numeric(self.profile.title))
        ]

    def segment_features(self, start: int, end: int) -> dict[str, Any]:
        """The analysis features pooled over frames ``[start, end)``, as a scene pools them."""
        frames = self.profile.frames.filter(pl.col("frame").is_between(start, end - 1))
        return frames.select(aggregate_exprs()).row(0, named=True)


def _numeric(values: Mapping[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in values.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def source_notes(original: SourceInfo, info: SourceInfo, profile: ContentProfile) -> list[str]:
    """The ladder notes about the source (``original``) itself: damage found while reading it
    (``info`` and ``profile``: the file the stages read and its analysis)."""
    title = profile.title
    notes = []
    if original.truncated or title.get("truncated"):
        notes.append(
            f"The source is truncated: its last frame was cut short and is left out; the "
            f"ladder covers the {original.frame_count} source frames "
            f"({original.duration_s:.3f} s) that decode."
        )
    if original.video_range != "SDR":
        notes.append(
            f"HDR source ({original.video_range}, {original.color_primaries}): every rendition "
            f"keeps {original.bit_depth}-bit {original.video_range} with the source's colour "
            "tags and mastering-display/content-light metadata. VMAF is not calibrated on HDR: "
            "its figures here are computed on the HDR signal as if it were SDR, so they rank "
            "this title's rungs but are not comparable with SDR VMAF targets."
        )
    if original.interlaced:
        notes.append(
            "The source is interlaced (field-coded): it is encoded as progressive frames, "
            "each holding both fields, without deinterlacing; deinterlace it first (e.g. "
            "ffmpeg -vf bwdif) for a cleaner ladder."
        )
    corrupt = int(title.get("frames_corrupt") or 0)
    if corrupt:
        notes.append(
            f"The source is damaged: {corrupt} of its frames decode with errors (concealed by "
            "the decoder) and are encoded as they decode."
        )
    return notes


HDR_CODECS = ("x265", "svtav1")
"""The backends whose renditions keep an HDR source's 10 bits, colour tags and mastering-display
/ content-light metadata (checked with the imageio-ffmpeg build: ffmpeg passes them from the
decoded frames to libx265 and libsvtav1)."""


def check_hdr(info: SourceInfo, facts: CodecFacts) -> None:
    """An HDR source is refused, in one line, by a backend that would not keep it HDR."""
    if info.video_range == "SDR":
        return
    if info.bit_depth < 10:
        raise UnsupportedMediaError(
            f"{info.path}: an {info.video_range} (HDR) source in {info.bit_depth} bits is not "
            "supported: HDR needs 10 bits",
            path=info.path,
        )
    if facts.name in HDR_CODECS:
        return
    raise UnsupportedMediaError(
        f"{info.path}: an HDR ({info.video_range}) source; the {facts.name} backend would not "
        f"keep it HDR (10-bit, colour tags, mastering metadata): use --codec "
        f"{' or '.join(HDR_CODECS)}, or tone-map it to SDR first",
        path=info.path,
    )


MEZZANINE = "source_cfr.mkv"
"""The constant-rate mezzanine of a conformed title, in its work folder."""


def _conformed(
    original: SourceInfo,
    config: LadderConfig,
    work: Path,
    stage: Callable[[str], None],
    *,
    lost: int = 0,
) -> tuple[SourceInfo, list[str]]:
    """The file the stages read, and the note saying why it is not the source itself: a VFR
    source, one at another rate than ``config.fps``, or one of whose frames ``lost`` do not
    decode (packets and decoded frames would disagree) becomes a lossless constant-rate
    mezzanine of what ffmpeg decodes."""
    fps = config.fps
    rate = fps or original.frame_rate
    if not original.vfr and rate == original.frame_rate and not lost:
        return original, []
    stage(f"conforming to {float(rate):g} fps")
    mezzanine = conform_cfr(
        original.path,
        work / MEZZANINE,
        fps=rate,
        pix_fmt=output_pix_fmt(original.bit_depth),
        color_range=original.color_range if original.color_range in ("tv", "pc") else None,
        decoder_threads=1,  # deterministic: verify decodes the source the same way
        timeout_s=config.timeout_s,
    )
    info = probe(mezzanine)
    if lost:
        why = f"is damaged ({lost} of its {original.frame_count} frames do not decode)"
    elif original.vfr:
        why = "has a variable frame rate"
    else:
        why = f"runs at {float(original.frame_rate):g} fps"
    chosen = "given with --fps" if fps else "its most common frame interval"
    return info, [
        f"The source {why}: it was conformed to a constant {float(rate):g} fps ({chosen}), "
        f"{original.frame_count} source frames -> {info.frame_count} frames; every rendition, "
        "segment and VMAF figure is on that timeline."
    ]
