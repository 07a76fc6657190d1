"""Probe encodes: a few short real encodes that correct the model's predicted surface.

Which segments to probe and how to correct a prediction is policy
(:mod:`ladderforge.policy.calibrate`); cutting, encoding and measuring them is done here.
"""

from __future__ import annotations

from ladderforge.errors import UsageError
from ladderforge.jobs.config import LadderConfig
from ladderforge.jobs.context import TitleJob
from ladderforge.jobs.sweep import SweepConfig, measure_settings
from ladderforge.media import probe
from ladderforge.media.segments import extract_segment
from ladderforge.policy.calibrate import (
    Calibration,
    ProbeResult,
    fit_calibration,
    plan_weighted_segments,
    probe_segment_s,
)
from ladderforge.policy.replan import probe_height_choice
from ladderforge.policy.surface import predict_points
from ladderforge.types import EncodeSettings, candidate_sizes

__all__ = [
    "probe_crfs",
    "probe_heights",
    "probe_length_s",
    "probe_settings",
    "probes_whole",
    "run_probes",
]


def probe_heights(job: TitleJob) -> list[int]:
    """The tallest and the shortest candidate height (one when there is one); with
    ``probe_heights`` = 3 also the one nearest their middle in log2 height."""
    sizes = candidate_sizes(job.info.width, job.info.height, job.config.heights)
    return probe_height_choice([h for _, h in sizes], job.config.probe_heights)


def probe_crfs(config: LadderConfig, height: int, heights: list[int]) -> list[float]:
    """The CRFs a probe segment is encoded at at ``height`` of the probed ``heights``:
    ``probe_crfs``, and at the shortest also ``bottom_probe_crfs``."""
    crfs = list(config.probe_crfs)
    if height == min(heights):
        crfs += [q for q in config.bottom_probe_crfs if q not in crfs]
    return crfs


def probe_settings(job: TitleJob, heights: list[int]) -> list[EncodeSettings]:
    """Every probe encode of one segment (:func:`probe_crfs` at each of ``heights``)."""
    return [job.settings(h, q) for h in heights for q in probe_crfs(job.config, h, heights)]


def probes_whole(config: LadderConfig, duration_s: float) -> bool:
    """Whether a title this long is probed whole (``whole_probe_s``)."""
    return config.whole_probe_s is not None and duration_s <= config.whole_probe_s


def probe_length_s(config: LadderConfig, duration_s: float, segments: int) -> float:
    """Each of ``segments`` probe segments' length in a title this long
    (:func:`ladderforge.policy.calibrate.probe_segment_s`)."""
    return probe_segment_s(
        config.probe_segment_s, duration_s=duration_s, segments=segments, share=config.probe_share
    )


def run_probes(job: TitleJob) -> Calibration:
    """Encode and measure the probe segments at the probe CRFs and heights; fit the
    calibration, each segment weighing the share of the title it stands for. Records the
    probes and their CPU seconds on ``job``."""
    config = job.config
    scenes = job.scenes()
    duration_s = job.info.frame_count / job.fps
    job.probed_whole = probes_whole(config, duration_s)
    segments = (
        [(0, job.info.frame_count, 1.0)]
        if job.probed_whole
        else plan_weighted_segments(
            scenes,
            frame_rate=job.fps,
            n_segments=config.probe_segments,
            segment_s=probe_length_s(config, duration_s, min(config.probe_segments, len(scenes))),
        )
    )
    heights = probe_heights(job)
    for start, end, weight in segments:
        out = job.work / "segments" / f"{start:06d}-{end:06d}.mkv"  # reused by a rerun
        seg = probe(extract_segment(job.info, start, end, out, timeout_s=config.timeout_s))
        report = measure_settings(
            seg,
            probe_settings(job, heights),
            job.work / "probes",
            config=SweepConfig(codec=config.codec, metrics=("vmaf",), timeout_s=config.timeout_s),
            workers=config.workers,
            title=seg.title,
        )
        if report.failures:
            raise UsageError(
                f"{job.info.path}: probe encodes failed: {'; '.join(report.failures.values())}"
            )
        predicted_vmaf, predicted_kbps = predict_points(
            job.model,
            job.segment_features(start, end),
            [
                (p.settings.width, p.settings.height, float(p.settings.q or 0))
                for p in report.points
            ],
            source_height=job.info.height,
            fps=job.fps,
        )
        for p, pv, pk in zip(report.points, predicted_vmaf, predicted_kbps, strict=True):
            job.probes.append(
                ProbeResult(
                    p.settings.height,
                    float(p.settings.q or 0),
                    float(pv),
                    p.quality.vmaf,
                    float(pk),
                    p.encode.bitrate_kbps,
                    weight,
                )
            )
            job.decision_cpu_s += p.encode.cpu_s
    return fit_calibration(job.probes, along_curve=config.probe_along_curve)
