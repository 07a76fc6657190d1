"""Encoding the chosen rungs: chunk plan, chunked encode, measurement, closed loop, packaging.

Every rung is made of the title's chunks with an IDR frame at each chunk start, so a player can
switch rungs at every HLS segment. Each chunk's CRF comes from
:func:`ladderforge.policy.per_scene.rung_chunks` over the chunk options the mode supplies (the
rung's single CRF everywhere, or a per-scene allocation).

Closed loop (predict and probe modes, unless ``open_loop``): the rung declared a target VMAF
when the ladder was chosen; the rendition is measured whole, as shipped, and while it misses by
more than ``tolerance`` it is encoded again at a CRF corrected from the measured attempts
(:func:`ladderforge.policy.target.next_q`; every chunk shifted by the same amount), at most
``max_encodes`` times; the attempt within tolerance (else the closest) ships. Rungs are looped
from the bottom up; a rung at the height of an earlier one starts from its own CRF moved along
the model's curve by a share of the error that rung's first encode measured
(:data:`ladderforge.policy.first_guess.CARRY`): whole renditions differ from the probes'
samples by much the same amount along one height's curve (not on enhanced ladders, whose loop
steers on delivered VMAF, nor with ``replan_heights``, whose loops run apart). Chunk encodes
and whole-rendition measurements are stored, so a rerun after a crash redoes neither.

The top rung aims at ``top_vmaf`` itself in predict and probe mode (:func:`aim_top_rung`, the
decision in :func:`ladderforge.policy.first_guess.aim_top`): the ladder rules choose it as the
cheapest candidate reaching ``top_vmaf`` on the model's CRF grid, up to a grid step above it;
the loop can land on the fractional CRF between, so the rung declares ``top_vmaf`` plus the
loop's tolerance (the window it accepts starts at ``top_vmaf``: a floor, as exhaustive mode's
measured top rung is) and starts where the model's curve crosses that. Where no candidate
reached ``top_vmaf`` but the best came within ``TOP_REACH`` of it at the source's height, the
rung declares ``top_vmaf`` plus the tolerance too, and the loop looks for it instead of
degrading the rung onto the model's pessimistic best. Where the declared VMAF lies above the
curve's best point the first encode stays at the rung's own CRF.
Cost-chosen ladders (``cost_lambda``/``budget_usd``), open-loop and plan-only ladders keep the
grid's top rung.

After every rung is looped and measured, and before any is packaged, where
:attr:`~ladderforge.jobs.config.LadderConfig.refills` says so, a rung another measured rung
beats is dropped and a gap the measured rungs open wider than ``max_rate_ratio`` gets a rung
of its own (:mod:`ladderforge.jobs.rungs_refill`).

Replanned heights (``replan_heights``, predict and probe modes): every rung's first encode
comes first, the rungs may move to other heights on the surface recalibrated on them, and each
loop runs at the rung's final height (:mod:`ladderforge.jobs.replan`); the per-scene pass and
packaging follow on the final heights.

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

import logging
import shutil
from collections.abc import Sequence
from dataclasses import replace

from ladderforge.encoder.codec_string import codecs_from_stream
from ladderforge.encoder.hls import MediaPlaylist, package_hls
from ladderforge.jobs.context import TitleJob
from ladderforge.jobs.modes import Mode, chunk_scores
from ladderforge.jobs.replan import Looped, replanned_loops
from ladderforge.jobs.rungs_loop import (
    Encoder,
    Shipped,
    closed_loop,
    first_q_measured,
    rung_plan,
)
from ladderforge.jobs.rungs_refill import (
    Encoded,
    count_unshipped,
    drop_dominated,
    refill_gaps,
)
from ladderforge.policy.first_guess import aim_top, carried_first_q, curve_error
from ladderforge.policy.ladder import RungSpacing
from ladderforge.policy.per_scene import (
    RungChunks,
    SceneOption,
    allocate,
    anchor_curves,
    anchor_on_points,
    rung_chunks,
    should_keep_per_scene,
)
from ladderforge.types import (
    ChunkRecord,
    Rung,
    RungAttempt,
    RungFiles,
    candidate_sizes,
)

__all__ = ["aim_top_rung", "encode_rungs"]

log = logging.getLogger(__name__)


def aim_top_rung(job: TitleJob, mode: Mode, rungs: list[Rung]) -> tuple[list[Rung], list[str]]:
    """The rungs with the top one declared at ``top_vmaf`` where the mode predicts its curve
    and loops (predict, probe): :func:`ladderforge.policy.first_guess.aim_top` on the mode's
    curve at the top rung's height; and its notes."""
    if not rungs or not mode.closed_loop:
        return rungs, []
    config, facts, info = job.config, job.facts, job.info
    tallest = candidate_sizes(info.width, info.height, [info.height])[0][1]
    return aim_top(
        rungs,
        mode.rung_points(job, rungs[-1]),
        top_vmaf=config.top_vmaf,
        spacing=RungSpacing.of(config.ladder_options()),
        q_min=facts.q_min,
        q_max=facts.q_max,
        fractional=facts.fractional_q,
        full_height=rungs[-1].settings.height >= tallest,
        margin=config.tolerance,
    )


def encode_rungs(
    job: TitleJob, mode: Mode, rungs: list[Rung]
) -> tuple[list[Rung], dict[str, MediaPlaylist], list[str]]:
    """Encode every rung chunk by chunk, measure it against the source, package it as HLS.

    Returns the measured rungs, each rung's media playlist by rung name, and notes."""
    notes: list[str] = []
    replans = job.config.replan_heights and job.config.closed_loop
    looped = replanned_loops(job, mode, rungs) if replans else None
    errors: dict[int, float] = {}  # the latest first encode's error from the model, by height
    encoded: list[Encoded] = []
    for i, rung in enumerate(rungs, 1):
        if looped is not None:  # the rung at its final height, its loop done
            rung = looped[i - 1].rung
        what = f"rung {i}/{len(rungs)} {rung.settings.height}p"
        floor = job.config.top_vmaf if i == len(rungs) else None
        done, shipped, rung_notes = _loop_rung(
            job, mode, rung, i, what, errors, looped[i - 1] if looped else None, floor=floor
        )
        notes += rung_notes
        encoded.append((done, shipped))
    if job.config.refills:
        encoded, dropped, drop_notes = drop_dominated(encoded)

        def loop(rung: Rung, index: int, what: str) -> tuple[Rung, Shipped, list[str]]:
            return _loop_rung(job, mode, rung, index, what, errors, None, first=0.0)

        encoded, rejected, refill_notes = refill_gaps(
            job, mode, encoded, loop, errors=errors, dropped=[r for r, _ in dropped],
            next_index=len(rungs),
        )  # fmt: skip
        count_unshipped(job, [*dropped, *rejected], encoded)
        notes += [*drop_notes, *refill_notes]
    out: list[Rung] = []
    packaged: dict[str, MediaPlaylist] = {}
    for done, shipped in encoded:
        if done.name in packaged:  # two loops that ended on the same encode: one rung
            notes.append(f"a second {done.name} rung dropped: the same encode as one kept")
            continue
        job.stage(f"{done.name}: packaging")
        media = package_hls(
            shipped.encoded.output_path,
            job.deliver / done.name,
            codec=done.settings.codec,
            segment_type=job.config.segment_type,
            timeout_s=job.config.timeout_s,
        )
        packaged[done.name] = media
        out.append(replace(done, files=_files(job, done, media, shipped)))
    shutil.rmtree(job.work / "chunks" / "src", ignore_errors=True)  # lossless chunk sources
    return out, packaged, notes


def _loop_rung(
    job: TitleJob,
    mode: Mode,
    rung: Rung,
    i: int,
    what: str,
    errors: dict[int, float],
    looped: Looped | None,
    *,
    first: float | None = None,
    floor: float | None = None,
) -> tuple[Rung, Shipped, list[str]]:
    """One rung encoded (closed loop unless open-loop) and measured, not packaged: the
    measured rung, the encode that ships it, notes. ``i`` numbers its rendition file;
    ``errors`` (first-encode errors by height) is updated with this rung's, and read for its
    carried first CRF when ``first`` (the first encode's CRF offset) is None; ``looped``:
    the rung's loop already run by the height replan; ``floor``: the top rung's
    ``top_vmaf`` (see :func:`~ladderforge.jobs.rungs_loop.closed_loop`)."""
    notes: list[str] = []
    # per-scene in predict/probe mode: a single-CRF first pass, then chunks anchored on it
    anchored = job.config.per_scene and mode.anchors_per_scene
    plan = rung_plan(job, mode, rung, per_scene=job.config.per_scene and not anchored)
    s = rung.settings
    notes += [f"{s.width}x{s.height} CRF {s.q:g} rung: {n}" for n in plan.notes]
    encode = Encoder(job, rung, plan, what, i)
    attempts: list[RungAttempt] = []
    if looped is not None:
        shipped, attempts = looped.shipped, list(looped.attempts)
        notes += [f"{s.width}x{s.height} rung: {n}" for n in looped.notes]
    elif job.config.closed_loop:
        curve = mode.rung_curve(job, rung)
        carry_notes: list[str] = []
        if first is None:
            first, carry_notes = _seeded(job, rung, curve)
        if first is None:
            first, carry_notes = _carried(job, rung, curve, errors.get(s.height))
        shipped, attempts, loop_notes = closed_loop(
            job, mode, rung, encode, first=first, floor=floor
        )
        notes += [f"{s.width}x{s.height} rung: {n}" for n in [*carry_notes, *loop_notes]]
        error = curve_error(curve, attempts[0])
        if error is not None and job.enhancer is None:  # delivered VMAF: not the curve's
            errors[s.height] = error
    else:
        shipped = encode.at(0.0)
    if anchored:
        shipped, plan, pass_notes = _per_scene_pass(job, mode, rung, shipped, what, i)
        notes += [f"{s.width}x{s.height} rung: {n}" for n in pass_notes]
    measured = _measured_rung(job, rung, plan, shipped)
    if attempts:
        measured = replace(measured, target_vmaf=rung.vmaf, attempts=tuple(attempts))
    return measured, shipped, notes


def _seeded(
    job: TitleJob, rung: Rung, curve: list[tuple[float, float]]
) -> tuple[float | None, list[str]]:
    """Where the probes are whole renditions of the title (``whole_probe_s``) at the rung's
    height: the first encode's CRF offset from the rung's own, found from them
    (:func:`ladderforge.policy.first_guess.first_q_from_points`), and its note; else None
    (and on enhanced ladders, whose loop steers on delivered VMAF, and for a top rung declared
    above the model's best, which :func:`aim_top_rung` starts at its own CRF)."""
    if not job.probed_whole or job.enhancer is not None:  # delivered VMAF: not the probes'
        return None, []
    if curve and rung.vmaf > max(v for _, v in curve):  # aim_top: starts at its own CRF
        return None, []
    points = sorted(
        (p.crf, p.measured_vmaf, p.measured_kbps)
        for p in job.probes
        if p.height == rung.settings.height
    )
    q = first_q_measured(job, curve, points, rung.vmaf)
    if q is None:
        return None, []
    measured = ", ".join(f"CRF {crf:g}: {vmaf:.2f}" for crf, vmaf, _ in points)
    note = f"first encode at CRF {q:g}, from the whole-title probes ({measured})"
    return q - float(rung.settings.q or 0), [note]


def _carried(
    job: TitleJob, rung: Rung, curve: list[tuple[float, float]], error: float | None
) -> tuple[float, list[str]]:
    """The first encode's CRF offset from the rung's own, and its note: where an earlier rung
    at its height measured its first encode ``error`` VMAF from the model's ``curve``, the
    rung's CRF moves along the curve by a share of it
    (:func:`ladderforge.policy.first_guess.carried_first_q`); 0 for the first rung at a
    height (None: enhanced ladders record no error)."""
    if error is None or not curve:
        return 0.0, []
    facts, base = job.facts, float(rung.settings.q or 0)
    q = carried_first_q(
        curve,
        base,
        error,
        q_min=facts.q_min,
        q_max=facts.q_max,
        fractional=facts.fractional_q,
        share=job.config.carry_share,
    )
    if q == base:
        return 0.0, []
    note = (
        f"first encode at CRF {q:g}, not the model's {base:g}: an earlier rung at this height "
        f"measured {error:+.2f} VMAF from the model"
    )
    return q - base, [note]


def _files(job: TitleJob, rung: Rung, media: MediaPlaylist, shipped: Shipped) -> RungFiles:
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


_Shipped = Shipped  # the names this module's tests know
_Encoder = Encoder
_closed_loop = closed_loop


def _per_scene_pass(
    job: TitleJob, mode: Mode, rung: Rung, first: Shipped, what: str, index: int
) -> tuple[Shipped, RungChunks, list[str]]:
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
        encodes.append(Encoder(job, at_q, plan, what, index).at(0.0))
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
        back = Encoder(job, at_q, RungChunks(single, single, ()), what, index).at(0.0)
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
    candidate = Encoder(job, at_q, mixed, what, index).at(0.0)
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
    back = Encoder(job, at_q, RungChunks(single, single, ()), what, index).at(0.0)  # rejoined
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


def _add_points(job: TitleJob, points: list[dict[float, SceneOption]], shipped: Shipped) -> None:
    """Each chunk's measured point in ``shipped``, kept by the chunk's CRF (the first kept)."""
    scores = chunk_scores(shipped.encoded.output_path, job.chunks, shipped.quality, job.fps)
    for mine, st, sc in zip(points, shipped.settings, scores, strict=True):
        mine.setdefault(float(st.q or 0), replace(sc, q=float(st.q or 0)))


def _unshipped_cpu_s(encodes: Sequence[Shipped], shipped: Shipped) -> float:
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


def _measured_rung(job: TitleJob, rung: Rung, plan: RungChunks, shipped: Shipped) -> Rung:
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
