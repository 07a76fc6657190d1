"""``ladderforge target``: one encode of a clip that hits a target VMAF (a CRF search).

What ab-av1's crf-search and Av1an's target-quality mode do, on the closed loop of the ladder:
the learned model's curve gives the first CRF (the middle of the backend's range when no model
predicts the codec and preset); each attempt is measured and corrected
(:func:`ladderforge.policy.target.next_q`) until it lands within tolerance, at most
``max_encodes`` times. By default every attempt is the whole clip, so the figure reported is the
file's own. With ``samples`` the search runs on that many short segments chosen by the analysis
(spanning the title's complexity), then the whole clip is encoded once at the CRF found and
measured: the report gives the sample-vs-whole error, the known weakness of sample searches.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ladderforge.encoder import codec_facts, encode
from ladderforge.jobs.config import LadderConfig
from ladderforge.jobs.context import TitleJob
from ladderforge.jobs.modes import ExhaustiveMode, PredictMode
from ladderforge.media import probe
from ladderforge.media.segments import extract_segment
from ladderforge.policy.calibrate import plan_weighted_segments
from ladderforge.policy.first_guess import first_q
from ladderforge.policy.target import next_q, pick, within
from ladderforge.store import ensure_writable_dir
from ladderforge.types import EncodeSettings, RungAttempt, SourceInfo, even_size, output_pix_fmt
from ladderforge.vmaf_tools import measure

__all__ = ["TargetResult", "target_encode"]


@dataclass(frozen=True)
class TargetResult:
    """What a target search found and spent."""

    output_path: Path
    """The encode that ships (the whole clip at ``q``)."""
    target_vmaf: float
    q: float
    """The CRF/CQ of the shipped encode."""
    vmaf: float
    """Mean VMAF of the whole shipped encode."""
    bitrate_kbps: float
    within_tolerance: bool
    """Whether ``vmaf`` lies within the tolerance of the target."""
    encodes: int
    """Whole-clip encodes made (sample encodes are counted in ``sample_attempts``)."""
    attempts: tuple[RungAttempt, ...]
    """Whole-clip attempts, in order."""
    sample_attempts: tuple[RungAttempt, ...] = ()
    """Sample search: each round over every sample (VMAF and kbps frame-weighted)."""
    sample_vmaf: float | None = None
    """Sample search: the samples' VMAF at the shipped q."""
    cpu_s: float = 0.0
    """CPU seconds of every encode made (samples included)."""
    first_guess: str = ""
    """Where the first q came from (the model's name, or the backend's middle)."""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def sample_error(self) -> float | None:
        """Sample VMAF minus whole-clip VMAF at the same q."""
        return None if self.sample_vmaf is None else self.sample_vmaf - self.vmaf

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["output_path"] = str(self.output_path)
        data["sample_error"] = self.sample_error
        return data


def _first_guess(
    info: SourceInfo, config: LadderConfig, height: int, target: float
) -> tuple[float, list[tuple[float, float]], str]:
    """(first q, the model's curve at ``height`` or [], where the guess came from)."""
    facts = config.facts
    preset = config.resolved_preset
    if config.model_path is None and facts.model_for(preset) is None:
        mid = first_q([], target, q_min=facts.q_min, q_max=facts.q_max, fractional=False)
        return mid, [], f"no model for {facts.name} {preset}: the middle of its range"
    job = TitleJob.open(info.path, info.path.parent, config=config)
    mode = PredictMode()
    points = mode.rd_points(job)
    curve = sorted((float(p.settings.q or 0), p.quality) for p in points if p.height == height)
    q = first_q(curve, target, q_min=facts.q_min, q_max=facts.q_max, fractional=facts.fractional_q)
    return q, curve, str(config.model_path or facts.model_for(preset))


def target_encode(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    vmaf: float,
    codec: str = "x265",
    preset: str | None = None,
    height: int | None = None,
    tolerance: float = 0.75,
    max_encodes: int = 3,
    samples: int = 0,
    sample_s: float = 2.0,
    model_path: Path | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> TargetResult:
    """Encode ``source`` into ``output`` at the CRF that gives ``vmaf`` (whole clip, mean
    VMAF v0.6.1 against the source on its grid), at ``height`` (default: the source's)."""
    stage = on_stage or (lambda s: None)
    info = probe(source)
    facts = codec_facts(codec)
    predicts = model_path is not None or facts.model_for(preset or facts.default_preset)
    config = LadderConfig(
        mode=PredictMode.name if predicts else ExhaustiveMode.name,
        codec=codec,
        preset=preset,
        heights=(height or info.height,),
        tolerance=tolerance,
        max_encodes=max_encodes,
        model_path=model_path,
    )
    w, h = even_size(info.width, info.height, height or info.height)
    out = Path(output)
    work = ensure_writable_dir(out.parent / f".{out.stem}.target")
    stage("first guess")
    q0, curve, origin = _first_guess(info, config, h, vmaf)

    def settings(q: float) -> EncodeSettings:
        return EncodeSettings(
            codec=codec, width=w, height=h, rate_control=facts.quality_rate_control, q=q,
            preset=config.resolved_preset, pix_fmt=output_pix_fmt(info.bit_depth),
        )  # fmt: skip

    def search(measure_at: Callable[[float], RungAttempt]) -> list[RungAttempt]:
        return _search(measure_at, q0, vmaf, curve, config)

    whole = _whole_measurer(info, work, settings, stage)
    sample_attempts: list[RungAttempt] = []
    sample_vmaf = None
    if samples:
        sample_attempts = search(_sample_measurer(info, work, samples, sample_s, settings, stage))
        best_sample = pick(sample_attempts, vmaf, tolerance)
        sample_vmaf = best_sample.vmaf
        attempts = [whole(best_sample.q)]
    else:
        attempts = search(whole)
    shipped = pick(attempts, vmaf, tolerance)
    (work / f"q{shipped.q:g}.mp4").replace(out)
    shutil.rmtree(work, ignore_errors=True)
    return TargetResult(
        output_path=out,
        target_vmaf=vmaf,
        q=shipped.q,
        vmaf=shipped.vmaf,
        bitrate_kbps=shipped.kbps,
        within_tolerance=within(shipped.vmaf, vmaf, tolerance),
        encodes=len(attempts),
        attempts=tuple(attempts),
        sample_attempts=tuple(sample_attempts),
        sample_vmaf=sample_vmaf,
        cpu_s=sum(a.cpu_s for a in attempts) + sum(a.cpu_s for a in sample_attempts),
        first_guess=origin,
    )


def _search(
    measure_at: Callable[[float], RungAttempt],
    q0: float,
    vmaf: float,
    curve: list[tuple[float, float]],
    config: LadderConfig,
) -> list[RungAttempt]:
    """The closed loop: attempts from ``q0`` until one lands within tolerance."""
    facts = config.facts
    tries = [measure_at(q0)]
    while len(tries) < config.max_encodes and not within(tries[-1].vmaf, vmaf, config.tolerance):
        q = next_q(
            tries, vmaf, curve=curve, q_min=facts.q_min, q_max=facts.q_max,
            fractional=facts.fractional_q,
        )  # fmt: skip
        if q is None:
            break
        tries.append(measure_at(q))
    return tries


def _whole_measurer(
    info: SourceInfo,
    work: Path,
    settings: Callable[[float], EncodeSettings],
    stage: Callable[[str], None],
) -> Callable[[float], RungAttempt]:
    """Encodes the whole clip at a q (kept in ``work``, reused after an interruption) and
    measures it."""

    def at(q: float) -> RungAttempt:
        stage(f"whole clip at q {q:g}")
        path = work / f"q{q:g}.mp4"
        if path.exists():  # from an interrupted run: it was verified before its rename
            cpu, kbps = 0.0, path.stat().st_size * 8 / info.duration_s / 1000
        else:
            result = encode(info, settings(q), path)
            cpu, kbps = result.cpu_s, result.bitrate_kbps
        return RungAttempt(q, measure(info, path, metrics=("vmaf",)).vmaf, kbps, cpu)

    return at


def _sample_measurer(
    info: SourceInfo,
    work: Path,
    n: int,
    sample_s: float,
    settings: Callable[[float], EncodeSettings],
    stage: Callable[[str], None],
) -> Callable[[float], RungAttempt]:
    """Encodes and measures every sample at a q; VMAF and kbps over them, each sample
    weighing the share of the title it stands for
    (:func:`~ladderforge.policy.calibrate.probe_segment_weights`)."""
    from ladderforge.analysis import analyze

    profile = analyze(info.path)
    scenes = [(s.start_frame, s.end_frame, dict(s.features)) for s in profile.scenes] or [
        (0, info.frame_count, {})
    ]
    ranges = plan_weighted_segments(
        scenes, frame_rate=float(info.frame_rate), n_segments=n, segment_s=sample_s
    )
    weights = [w for _, _, w in ranges]
    refs = [
        probe(extract_segment(info, a, b, work / "samples" / f"{a:06d}.mkv")) for a, b, _ in ranges
    ]

    def at(q: float) -> RungAttempt:
        stage(f"{len(refs)} samples at q {q:g}")
        frames = vmaf_sum = bits = cpu = 0.0
        for ref, weight in zip(refs, weights, strict=True):
            path = work / "samples" / f"{ref.title}_q{q:g}.mp4"
            result = encode(ref, settings(q), path)
            quality = measure(ref, path, metrics=("vmaf",))
            frames += weight
            vmaf_sum += quality.vmaf * weight
            bits += result.bitrate_kbps * weight
            cpu += result.cpu_s
            path.unlink()
        return RungAttempt(q, vmaf_sum / frames, bits / frames, cpu)

    return at
