"""Encoding the chosen rungs: chunk plan, chunked encode, measurement, closed loop, packaging.

Every rung is made of the title's chunks with an IDR frame at each chunk start, so a player can
switch rungs at every HLS segment. Each chunk's CRF comes from
:func:`ladderforge.policy.per_scene.rung_chunks` over the chunk options the mode supplies (the
rung's single CRF everywhere, or a per-scene allocation).

Closed loop (predict and probe modes, unless ``open_loop``): the rung declared a target VMAF
when the ladder was chosen; the rendition is measured whole, as shipped, and while it misses by
more than ``tolerance`` it is encoded again at a CRF corrected from the measured attempts
(:func:`ladderforge.policy.target.next_q`; every chunk shifted by the same amount), at most
``max_encodes`` times; the attempt within tolerance (else the closest) ships. Chunk encodes and
whole-rendition measurements are stored, so a rerun after a crash redoes neither.

Enhanced ladders (``enhanced``): every encode is also measured after the enhancement stage, and
the loop (in every mode: exhaustive gains one) steers on the *delivered* VMAF (after the stage
where it is on), so a rung the stage lifts ships at a higher CRF. It never steps past a CRF
where the stage was measured off (:func:`~ladderforge.policy.target.stage_bounded`) and ships
only an attempt on target with the stage on or on target without it
(:func:`~ladderforge.policy.target.pick_enhanced`); where there is none, a second loop of at
most ``max_encodes`` steers on the plain VMAF, as without the stage, and its pick ships (see
:mod:`ladderforge.jobs.enhanced`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ladderforge.encoder.chunks import ChunkedEncode, encode_chunked
from ladderforge.encoder.codec_string import codecs_from_stream
from ladderforge.encoder.hls import MediaPlaylist, package_hls
from ladderforge.jobs.context import TitleJob
from ladderforge.jobs.modes import Mode, chunk_scores
from ladderforge.policy.per_scene import (
    RungChunks,
    SceneOption,
    allocate,
    anchor_curves,
    anchor_on_points,
    rung_chunks,
    should_keep_per_scene,
)
from ladderforge.policy.target import (
    as_plain,
    next_q,
    pick,
    pick_enhanced,
    stage_bounded,
    within,
)
from ladderforge.store import atomic_write_json
from ladderforge.types import (
    ChunkRecord,
    EncodeSettings,
    QualityResult,
    Rung,
    RungAttempt,
    RungEnhance,
    RungFiles,
)
from ladderforge.vmaf_tools import measure

__all__ = ["encode_rungs"]

log = logging.getLogger(__name__)


def encode_rungs(
    job: TitleJob, mode: Mode, rungs: list[Rung]
) -> tuple[list[Rung], dict[str, MediaPlaylist], list[str]]:
    """Encode every rung chunk by chunk, measure it against the source, package it as HLS.

    Returns the measured rungs, each rung's media playlist by rung name, and notes."""
    out: list[Rung] = []
    packaged: dict[str, MediaPlaylist] = {}
    notes: list[str] = []
    for i, rung in enumerate(rungs, 1):
        what = f"rung {i}/{len(rungs)} {rung.settings.height}p"
        # per-scene in predict/probe mode: a single-CRF first pass, then chunks anchored on it
        anchored = job.config.per_scene and mode.anchors_per_scene
        plan = _plan(job, mode, rung, per_scene=job.config.per_scene and not anchored)
        s = rung.settings
        notes += [f"{s.width}x{s.height} CRF {s.q:g} rung: {n}" for n in plan.notes]
        encode = _Encoder(job, rung, plan, what, i)
        attempts: list[RungAttempt] = []
        if job.config.closed_loop:
            shipped, attempts, loop_notes = _closed_loop(job, mode, rung, encode)
            notes += [f"{s.width}x{s.height} rung: {n}" for n in loop_notes]
        else:
            shipped = encode.at(0.0)
        if anchored:
            shipped, plan, pass_notes = _per_scene_pass(job, mode, rung, shipped, what, i)
            notes += [f"{s.width}x{s.height} rung: {n}" for n in pass_notes]
        measured = _measured_rung(job, rung, plan, shipped)
        if attempts:
            measured = replace(measured, target_vmaf=rung.vmaf, attempts=tuple(attempts))
        job.stage(f"{what}: packaging")
        media = package_hls(
            shipped.encoded.output_path,
            job.deliver / measured.name,
            codec=s.codec,
            segment_type=job.config.segment_type,
            timeout_s=job.config.timeout_s,
        )
        packaged[measured.name] = media
        out.append(replace(measured, files=_files(job, measured, media, shipped)))
    shutil.rmtree(job.work / "chunks" / "src", ignore_errors=True)  # lossless chunk sources
    return out, packaged, notes


def _files(job: TitleJob, rung: Rung, media: MediaPlaylist, shipped: _Shipped) -> RungFiles:
    folder = media.path.parent
    init = folder / "init.mp4"
    return RungFiles(
        playlist=media.path.relative_to(job.deliver).as_posix(),
        init=init.relative_to(job.deliver).as_posix() if init.exists() else None,
        segments=media.segments,
        codecs=codecs_from_stream(init if init.exists() else shipped.encoded.output_path),
        peak_bps=media.peak_bps,
        average_bps=media.average_bps,
    )


@dataclass(frozen=True)
class _Shipped:
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
class _Encoder:
    """Encodes one rung at a CRF offset: chunks (resumable), join, whole measurement (stored)."""

    job: TitleJob
    rung: Rung
    plan: RungChunks
    what: str
    index: int

    def at(self, delta: float) -> _Shipped:
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
        return _Shipped(settings, encoded, quality, q, enhance)


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


def _closed_loop(
    job: TitleJob, mode: Mode, rung: Rung, encode: _Encoder
) -> tuple[_Shipped, list[RungAttempt], list[str]]:
    """Encode until the whole rendition lands within tolerance of the rung's declared VMAF, at
    most ``max_encodes`` times (enhanced ladders: on delivered VMAF, then, where no attempt may
    ship, on plain VMAF); the extra encodes' CPU seconds go to the title's decision."""
    config = job.config
    enhanced = job.enhancer is not None
    tries = [encode.at(0.0)]
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
        best = pick(attempts, rung.vmaf, config.tolerance)
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
    job: TitleJob, mode: Mode, rung: Rung, encode: _Encoder, tries: list[_Shipped], *,
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


def _index(attempts: Sequence[RungAttempt], chosen: RungAttempt) -> int:
    return next(i for i, a in enumerate(attempts) if a is chosen)


def _plan(job: TitleJob, mode: Mode, rung: Rung, *, per_scene: bool) -> RungChunks:
    return rung_chunks(
        mode.chunk_options(job, rung),
        [c.frames for c in job.chunks],
        float(rung.settings.q or 0),
        per_scene=per_scene,
        floor_vmaf=job.config.scene_floor_vmaf,
        max_neighbour_ratio=job.config.max_scene_rate_ratio,
    )


def _per_scene_pass(
    job: TitleJob, mode: Mode, rung: Rung, first: _Shipped, what: str, index: int
) -> tuple[_Shipped, RungChunks, list[str]]:
    """Per-scene from the first pass (the rung's single-CRF encode):

    1. each chunk's predicted curve is anchored on its measured first-pass point and allocated
       to hold the first pass's mean VMAF for the fewest bits; the chunks whose CRF changed
       are encoded (the second pass; the others are reused as they are);
    2. every chunk is anchored again on all its measured points (a chunk encoded twice gets
       its measured slope), allocated again, and the chunks put at a CRF not encoded yet are
       encoded (the third pass);
    3. the cheapest mix of the measured chunk encodes that holds the first pass's mean VMAF
       is joined (no chunk is encoded for it) and measured whole.

    The mix ships if it is no dearer and no lower than the first pass (the safeguard), else
    the first pass does. Chunks are measured from the whole rendition's frames and packets,
    so a mix's figures are known before it is joined; its whole measurement is what ships."""
    at_q = replace(rung, settings=rung.settings.with_(q=first.q))
    predicted = mode.chunk_options(job, at_q)
    points: list[dict[float, SceneOption]] = [{} for _ in job.chunks]
    _add_points(job, points, first)
    firsts = [p[first.q] for p in points]
    anchored = anchor_curves(predicted, firsts, first.q)  # recorded as the chunks' predictions
    single = tuple(firsts)  # the anchored curves' option at the first pass's CRF is its point
    encodes = [first]
    notes: list[str] = []
    for _ in range(PER_SCENE_PASSES):
        curves = [
            anchor_on_points(p, list(m.values())) for p, m in zip(predicted, points, strict=True)
        ]
        plan = _plan_on(job, curves, first.q)
        notes = list(plan.notes)
        if all(o.q in m for o, m in zip(plan.chosen, points, strict=True)):
            break
        job.stage(f"{what}: per-scene pass {len(encodes) + 1}")
        encodes.append(_Encoder(job, at_q, plan, what, index).at(0.0))
        _add_points(job, points, encodes[-1])
    if len(encodes) == 1:
        return (
            first,
            RungChunks(single, single, ()),
            [*notes, "per-scene: every chunk keeps the rung's CRF"],
        )
    frames = [c.frames for c in job.chunks]
    target = sum(o.vmaf * n for o, n in zip(firsts, frames, strict=True)) / sum(frames)
    mix = allocate([list(m.values()) for m in points], frames, target_vmaf=target).choices
    by_q = [{o.q: o for o in curve} for curve in anchored]
    chosen = tuple(by_q[i].get(o.q, o) for i, o in enumerate(mix))
    mixed = RungChunks(chosen, single, tuple(notes))
    passes = f"{len(encodes) - 1} per-scene pass{'es' if len(encodes) > 2 else ''}"
    encoded = sum(len(m) for m in points) - len(points)
    changed = sum(o.q != first.q for o in mix)
    if not changed:  # the rendition file holds the last pass: join the first pass again
        back = _Encoder(job, at_q, RungChunks(single, single, ()), what, index).at(0.0)
        job.loop_cpu_s += _unshipped_cpu_s(encodes, back)
        return (
            back,
            RungChunks(single, single, ()),
            [
                *notes,
                f"per-scene kept the single CRF {first.q:g}: after {passes} ({encoded} chunk "
                "encodes beyond the first pass) no mix was cheaper at its VMAF",
            ],
        )
    job.stage(f"{what}: per-scene mix")
    candidate = _Encoder(job, at_q, mixed, what, index).at(0.0)
    a, b = first.attempt, candidate.attempt
    if should_keep_per_scene(a.kbps, a.vmaf, b.kbps, b.vmaf):
        job.loop_cpu_s += _unshipped_cpu_s([*encodes, candidate], candidate)
        return (
            candidate,
            mixed,
            [
                *notes,
                f"per-scene: {changed} of {len(mix)} chunks at their own CRF after {passes} "
                f"({encoded} chunk encodes beyond the first pass), {b.kbps:.0f} kbps at "
                f"VMAF {b.vmaf:.2f} against {a.kbps:.0f} kbps at {a.vmaf:.2f} (one CRF)",
            ],
        )
    back = _Encoder(job, at_q, RungChunks(single, single, ()), what, index).at(0.0)  # rejoined
    job.loop_cpu_s += _unshipped_cpu_s([*encodes, candidate], back)
    return (
        back,
        RungChunks(single, single, ()),
        [
            *notes,
            f"per-scene kept the single CRF {first.q:g}: after {passes} ({encoded} chunk "
            f"encodes beyond the first pass) the mix of {changed} of {len(mix)} chunks at "
            f"their own CRF measured {b.kbps:.0f} kbps at VMAF {b.vmaf:.2f} against "
            f"{a.kbps:.0f} kbps at {a.vmaf:.2f}",
        ],
    )


PER_SCENE_PASSES = 2
"""Per-scene encode passes after the first (the second and the third, see _per_scene_pass)."""


def _add_points(job: TitleJob, points: list[dict[float, SceneOption]], shipped: _Shipped) -> None:
    """Each chunk's measured point in ``shipped``, kept by the chunk's CRF (the first kept)."""
    scores = chunk_scores(shipped.encoded.output_path, job.chunks, shipped.quality, job.fps)
    for mine, st, sc in zip(points, shipped.settings, scores, strict=True):
        mine.setdefault(float(st.q or 0), replace(sc, q=float(st.q or 0)))


def _unshipped_cpu_s(encodes: Sequence[_Shipped], shipped: _Shipped) -> float:
    """CPU seconds of the chunk encodes made for ``encodes`` that ``shipped`` does not use."""
    made = {r.output_path: r.cpu_s for e in encodes for r in e.encoded.results}
    used = {r.output_path for r in shipped.encoded.results}
    return sum(cpu for path, cpu in made.items() if path not in used)


def _plan_on(job: TitleJob, curves: list[list[SceneOption]], q: float) -> RungChunks:
    return rung_chunks(
        curves,
        [c.frames for c in job.chunks],
        q,
        per_scene=True,
        floor_vmaf=job.config.scene_floor_vmaf,
        max_neighbour_ratio=job.config.max_scene_rate_ratio,
    )


def _measured_rung(job: TitleJob, rung: Rung, plan: RungChunks, shipped: _Shipped) -> Rung:
    encoded, quality = shipped.encoded, shipped.quality
    scores = chunk_scores(encoded.output_path, job.chunks, quality, job.fps)
    records = tuple(
        ChunkRecord(
            start=c.start,
            end=c.end,
            q=float(st.q or 0),
            predicted_kbps=o.kbps,
            predicted_vmaf=o.vmaf,
            single_q_kbps=one.kbps,
            single_q_vmaf=one.vmaf,
            kbps=sc.kbps,
            vmaf=sc.vmaf,
        )
        for c, st, o, one, sc in zip(
            job.chunks, shipped.settings, plan.chosen, plan.single, scores, strict=True
        )
    )
    return replace(
        rung,
        settings=rung.settings.with_(q=shipped.q),
        measured_bitrate_kbps=encoded.bitrate_kbps,
        measured_vmaf=quality.vmaf,
        measured_vmaf_neg=quality.pooled["vmaf_neg"].mean if "vmaf_neg" in quality.pooled else None,
        measured_psnr_y=quality.pooled["psnr_y"].mean if "psnr_y" in quality.pooled else None,
        cost=replace(rung.cost, encode_cpu_s_measured=encoded.cpu_s),
        chunks=records,
        enhance=shipped.enhance,
    )
