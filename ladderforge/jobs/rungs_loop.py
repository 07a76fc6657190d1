"""One rung's encodes: the chunked encode at a CRF, its stored measurement, the closed loop.

Split from :mod:`ladderforge.jobs.rungs` so that :mod:`ladderforge.jobs.replan` can loop rungs
at another height before they are packaged. See :mod:`ladderforge.jobs.rungs` for the loop.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from ladderforge.encoder.chunks import ChunkedEncode, encode_chunked
from ladderforge.jobs.context import TitleJob
from ladderforge.jobs.modes import Mode
from ladderforge.policy.first_guess import first_q_from_points
from ladderforge.policy.per_scene import RungChunks, rung_chunks
from ladderforge.policy.target import (
    as_plain,
    next_q,
    pick,
    pick_enhanced,
    stage_bounded,
    within,
)
from ladderforge.store import atomic_write_json
from ladderforge.types import EncodeSettings, QualityResult, Rung, RungAttempt, RungEnhance
from ladderforge.vmaf_tools import measure

__all__ = ["Encoder", "Shipped", "closed_loop", "first_q_measured", "rung_plan"]

log = logging.getLogger(__name__)


def rung_plan(job: TitleJob, mode: Mode, rung: Rung, *, per_scene: bool = False) -> RungChunks:
    """The rung's chunks at its own CRF (the predicted chunk options recorded beside), or with
    ``per_scene`` allocated over them at the rung's VMAF."""
    return rung_chunks(
        mode.chunk_options(job, rung),
        [c.frames for c in job.chunks],
        float(rung.settings.q or 0),
        per_scene=per_scene,
        floor_vmaf=job.config.scene_floor_vmaf,
        max_neighbour_ratio=job.config.max_scene_rate_ratio,
    )


@dataclass(frozen=True)
class Shipped:
    """One encode of a rung: its chunk settings, the joined rendition and its measurement."""

    settings: tuple[EncodeSettings, ...]
    encoded: ChunkedEncode
    quality: QualityResult
    q: float
    """The rung's CRF for this encode (each chunk shifted by the same amount)."""
    enhance: RungEnhance | None = None
    """Enhanced ladders: the encode with and without the stage."""

    @property
    def attempt(self) -> RungAttempt:
        """The encode as the closed loop sees it: its delivered VMAF (after the stage where it
        is on), with the plain VMAF beside it on enhanced ladders."""
        e = self.enhance
        return RungAttempt(
            self.q,
            e.delivered.vmaf if e else self.quality.vmaf,
            self.encoded.bitrate_kbps,
            self.encoded.cpu_s,
            plain_vmaf=self.quality.vmaf if e else None,
        )


@dataclass(frozen=True)
class Encoder:
    """Encodes one rung at a CRF offset: chunks (resumable), join, whole measurement (stored)."""

    job: TitleJob
    rung: Rung
    plan: RungChunks
    what: str
    index: int

    def at(self, delta: float) -> Shipped:
        facts = self.job.facts
        settings = tuple(
            self.rung.settings.with_(q=min(max(o.q + delta, facts.q_min), facts.q_max))
            for o in self.plan.chosen
        )
        q = float(self.rung.settings.q or 0) + delta

        def progress(done: int, total: int) -> None:
            self.job.stage(f"{self.what}: CRF {q:g}: chunk {done}/{total}")

        encoded = encode_chunked(
            self.job.info,
            self.job.chunks,
            list(settings),
            self.job.work / "renditions" / f"rung{self.index}_{self.rung.settings.height}p.mp4",
            work=self.job.work / "chunks",
            workers=self.job.config.workers,
            on_chunk=progress,
            runner=self.job.runner,
            timeout_s=self.job.config.timeout_s,
        )
        self.job.stage(f"{self.what}: CRF {q:g}: measuring")
        quality = _measure_stored(self.job, settings, encoded)
        enhance = None
        if self.job.enhancer is not None:

            def enhancing(done: int, total: int) -> None:
                step = f"enhancing frame {done}/{total}" if done < total else "measuring it"
                self.job.stage(f"{self.what}: CRF {q:g}: {step}")

            self.job.stage(f"{self.what}: CRF {q:g}: enhancing and measuring")
            enhance = self.job.enhancer.evaluate(
                self.job.info, encoded.output_path, quality, work=self.job.work,
                key=_measure_key(self.job, settings), timeout_s=self.job.config.timeout_s,
                on_progress=enhancing,
            )  # fmt: skip
        return Shipped(settings, encoded, quality, q, enhance)


def _metrics(job: TitleJob) -> tuple[str, ...]:
    full = job.config.validate or job.config.enhanced is not None  # the guard needs them all
    return ("vmaf", "vmaf_neg", "psnr") if full else ("vmaf",)


def _measure_key(job: TitleJob, settings: Sequence[EncodeSettings]) -> str:
    """Names a rendition's measurement: its source, chunks, chunk settings and metrics."""
    ident = [job.info.content_hash, [c.start for c in job.chunks], [s.key() for s in settings]]
    return hashlib.sha256(json.dumps([*ident, *_metrics(job)]).encode()).hexdigest()[:24]


def _measure_stored(
    job: TitleJob, settings: Sequence[EncodeSettings], encoded: ChunkedEncode
) -> QualityResult:
    """The rendition's measurement, stored under the key of its source and chunk settings."""
    metrics = _metrics(job)
    stored = job.work / "measured" / f"{_measure_key(job, settings)}.json"
    if stored.is_file():
        try:
            return QualityResult.from_dict(json.loads(stored.read_text()))
        except (ValueError, KeyError, TypeError):
            log.warning("%s: unreadable stored measurement, measuring again", stored)
    quality = measure(
        job.info, encoded.output_path, metrics=metrics, timeout_s=job.config.timeout_s
    )
    atomic_write_json(stored, quality.to_dict())
    return quality


def closed_loop(
    job: TitleJob,
    mode: Mode,
    rung: Rung,
    encode: Encoder,
    *,
    first: float = 0.0,
    floor: float | None = None,
) -> tuple[Shipped, list[RungAttempt], list[str]]:
    """Encode until the whole rendition lands within tolerance of the rung's declared VMAF, at
    most ``max_encodes`` times (enhanced ladders: on delivered VMAF, then, where no attempt may
    ship, on plain VMAF), first at ``first`` CRF steps from the rung's own; the extra encodes'
    CPU seconds go to the title's decision. ``floor``: the top rung's ``top_vmaf``; where the
    rung declared at least that and no attempt lands within tolerance, the closest attempt at
    or above it ships (the floor the top rung promises), when there is one."""
    config = job.config
    enhanced = job.enhancer is not None
    tries = [encode.at(first)]
    _steer(job, mode, rung, encode, tries, plain=False, limit=config.max_encodes)
    notes: list[str] = []
    attempts = [t.attempt for t in tries]
    best = pick_enhanced(attempts, rung.vmaf, config.tolerance) if enhanced else None
    figure = "delivered VMAF" if enhanced else "VMAF"
    if enhanced and best is None:  # nothing may ship: the plain ladder's loop
        _steer(job, mode, rung, encode, tries, plain=True, limit=len(tries) + config.max_encodes)
        attempts = [t.attempt for t in tries]
        seen = as_plain(attempts)
        best = attempts[_index(seen, pick(seen, rung.vmaf, config.tolerance))]
        figure = "plain VMAF"
        notes.append(
            f"no encode on target with the stage on: steered on plain VMAF as without "
            f"--enhanced; CRF {best.q:g} ships (delivered VMAF {best.vmaf:.2f})"
        )
    elif best is None:
        promised = floor if floor is not None and rung.vmaf >= floor else None
        best = pick(attempts, rung.vmaf, config.tolerance, floor=promised)
    shipped = tries[_index(attempts, best)]
    if shipped is not tries[-1]:  # the rendition file holds the last: join the shipped again
        shipped = encode.at(shipped.q - float(rung.settings.q or 0))
    job.loop_cpu_s += sum(t.encoded.cpu_s for t in tries if t.q != shipped.q)
    vmaf = best.plain_vmaf if figure == "plain VMAF" and best.plain_vmaf is not None else best.vmaf
    if not within(vmaf, rung.vmaf, config.tolerance):
        notes.append(
            f"{figure} {vmaf:.2f} after {len(tries)} encodes, target {rung.vmaf:.2f} "
            f"+- {config.tolerance:g}"
        )
    return shipped, attempts, notes


def _steer(
    job: TitleJob, mode: Mode, rung: Rung, encode: Encoder, tries: list[Shipped], *,
    plain: bool, limit: int,
) -> None:  # fmt: skip
    """Append encodes to ``tries`` until the last lands within tolerance, ``next_q`` has
    nothing new to try or ``limit`` encodes are done. Steers on the attempts' ``vmaf``
    (delivered on enhanced ladders, kept short of a CRF where the stage was off), or with
    ``plain`` on their plain VMAF."""
    config, facts = job.config, job.facts
    base = float(rung.settings.q or 0)
    curve = mode.rung_curve(job, rung)
    while len(tries) < limit:
        attempts = [t.attempt for t in tries]
        seen = as_plain(attempts) if plain else attempts
        if within(seen[-1].vmaf, rung.vmaf, config.tolerance):
            return
        q = next_q(
            seen,
            rung.vmaf,
            curve=curve,
            q_min=facts.q_min,
            q_max=facts.q_max,
            fractional=facts.fractional_q,
        )
        if q is not None and not plain and job.enhancer is not None:
            q = stage_bounded(q, attempts, fractional=facts.fractional_q)
        if q is None:
            return
        tries.append(encode.at(q - base))


def first_q_measured(
    job: TitleJob,
    curve: Sequence[tuple[float, float]],
    points: Sequence[tuple[float, float, float]],
    target: float,
) -> float | None:
    """A rung's first CRF from (CRF, VMAF, kbps) measured for whole renditions at its height
    (:func:`ladderforge.policy.first_guess.first_q_from_points`, within the loop's tolerance
    and the encoder's range); None without points."""
    facts = job.facts
    return first_q_from_points(
        [RungAttempt(q, vmaf, kbps, 0.0) for q, vmaf, kbps in points],
        target,
        curve=curve,
        q_min=facts.q_min,
        q_max=facts.q_max,
        fractional=facts.fractional_q,
        tolerance=job.config.tolerance,
    )


def _index(attempts: Sequence[RungAttempt], chosen: RungAttempt) -> int:
    return next(i for i, a in enumerate(attempts) if a is chosen)
