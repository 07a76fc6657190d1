"""Rung heights replanned on the rungs' first encodes (``LadderConfig.replan_heights``).

1. every rung is encoded once at its height and CRF (the closed loop's first encode);
2. those encodes become calibration points beside the probes (the model's raw prediction for
   the whole title vs the measurement) and the surface is recalibrated
   (:meth:`ladderforge.jobs.modes.PredictMode.recalibrate`);
3. each rung keeps its target VMAF and moves to the height whose recalibrated curve reaches it
   for the fewest kbps, between its neighbours' heights
   (:func:`ladderforge.policy.replan.replan_heights`);
4. a rung that stays goes on with its closed loop from its first encode (reused from the chunk
   and measurement stores); a moved rung is looped at its new height (first CRF where the
   recalibrated curve reaches the target). Its old first encode ships instead where ``pick``
   prefers it; the guard (:func:`ladderforge.policy.replan.guard_back`) sends the rung back
   where the old height, anchored on that encode, is cheaper at the moved rung's VMAF: the old
   loop goes on and ``pick`` ships among both loops.

Every attempt records its height. Only then do the per-scene pass and packaging run, on the
final heights (:func:`ladderforge.jobs.rungs.encode_rungs`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from ladderforge.jobs.context import TitleJob
from ladderforge.jobs.modes import Mode, PredictMode
from ladderforge.jobs.rungs_loop import Encoder, Shipped, closed_loop, rung_plan
from ladderforge.policy.calibrate import ProbeResult
from ladderforge.policy.first_guess import first_q
from ladderforge.policy.ladder import cap_rungs
from ladderforge.policy.replan import guard_back, kbps_at, replan_heights, surface_curves
from ladderforge.policy.target import pick
from ladderforge.types import Rung, RungAttempt, candidate_sizes

__all__ = ["Looped", "replanned_loops"]


@dataclass(frozen=True)
class Looped:
    """One rung after its closed loop, at its final height."""

    rung: Rung
    """The rung at the height it ships at (its target kept)."""
    shipped: Shipped
    """The encode that ships (the rendition file holds it)."""
    attempts: tuple[RungAttempt, ...]
    """Every encode made for the rung, at every height, each with its height."""
    notes: tuple[str, ...]


def replanned_loops(job: TitleJob, mode: Mode, rungs: Sequence[Rung]) -> list[Looped]:
    """Each rung's first encode, the replan on them, then each rung's loop at its final
    height (see the module's docstring)."""
    if not isinstance(mode, PredictMode):
        raise TypeError(f"replanning heights needs a predicted surface; mode {mode.name} has none")
    firsts = []
    for i, rung in enumerate(rungs, 1):
        job.stage(f"rung {i}/{len(rungs)} {rung.settings.height}p: first encode")
        firsts.append(_encoder(job, mode, rung, i, len(rungs)).at(0.0))
    mode.recalibrate(job, [_as_probe(job, s) for s in firsts])
    assert job.surface is not None  # recalibrate predicted it
    curves = surface_curves(job.surface)
    heights = replan_heights(curves, [(r.settings.height, r.vmaf) for r in rungs])
    out = []
    for i, (rung, first, height) in enumerate(zip(rungs, firsts, heights, strict=True), 1):
        before = job.loop_cpu_s
        if height == rung.settings.height:
            looped = _stay(job, mode, rung, first, i, len(rungs))
        else:
            looped = _move(job, mode, rung, first, height, curves, i, len(rungs))
        job.loop_cpu_s = before + _unshipped_cpu_s(looped)
        out.append(looped)
    return out


def _encoder(job: TitleJob, mode: Mode, rung: Rung, index: int, count: int) -> Encoder:
    what = f"rung {index}/{count} {rung.settings.height}p"
    return Encoder(job, rung, rung_plan(job, mode, rung), what, index)


def _as_probe(job: TitleJob, shipped: Shipped) -> ProbeResult:
    """A rung encode as a calibration point: the model's raw prediction for the whole title at
    its size and CRF (frame-weighted over scenes, as the surface is) beside the measurement."""
    s = shipped.settings[0]
    row = job.predicted_surface([s.height], [shipped.q]).row(0, named=True)
    a = shipped.attempt
    return ProbeResult(
        s.height, shipped.q, float(row["vmaf"]), a.vmaf, float(row["bitrate_kbps"]), a.kbps
    )


def _at(attempt: RungAttempt, height: int) -> RungAttempt:
    return replace(attempt, height=height)


def _loop(
    job: TitleJob, mode: Mode, rung: Rung, first: Shipped | None, index: int, count: int
) -> tuple[Shipped, list[RungAttempt], list[str]]:
    """The rung's closed loop at its height, going on from ``first`` (its encode is reused from
    the stores; its attempt keeps the first run's CPU seconds)."""
    shipped, attempts, notes = closed_loop(job, mode, rung, _encoder(job, mode, rung, index, count))
    if first is not None:
        attempts[0] = first.attempt
    h = rung.settings.height
    return shipped, [_at(a, h) for a in attempts], notes


def _stay(job: TitleJob, mode: Mode, rung: Rung, first: Shipped, index: int, count: int) -> Looped:
    shipped, attempts, notes = _loop(job, mode, rung, first, index, count)
    return Looped(rung, shipped, tuple(attempts), tuple(notes))


def _move(
    job: TitleJob, mode: Mode, rung: Rung, first: Shipped, height: int,
    curves: dict[int, list[tuple[float, float]]], index: int, count: int,
) -> Looped:  # fmt: skip
    config, facts, old_h = job.config, job.facts, rung.settings.height
    size = next(s for s in candidate_sizes(job.info.width, job.info.height, config.heights)
                if s[1] == height)  # fmt: skip
    stub = replace(rung, settings=rung.settings.with_(width=size[0], height=height))
    q = first_q(
        mode.rung_curve(job, stub), rung.vmaf, q_min=facts.q_min, q_max=facts.q_max,
        fractional=facts.fractional_q,
    )  # fmt: skip
    kbps = kbps_at(curves.get(height, []), rung.vmaf) or rung.bitrate_kbps
    moved = replace(stub, settings=stub.settings.with_(q=q), bitrate_kbps=kbps)
    if config.vbv == "capped":
        moved = cap_rungs([moved], ratio=config.vbv_ratio, buffer_ratio=config.vbv_buffer_ratio)[0]
    new, new_attempts, notes = _loop(job, mode, moved, None, index, count)
    old = _at(first.attempt, old_h)
    said = f"{old_h}p -> {height}p (recalibrated surface, target VMAF {rung.vmaf:.2f})"
    best = pick([new.attempt, old], rung.vmaf, config.tolerance)
    if best is old:  # the old height's first encode ships: join it again
        back = _encoder(job, mode, rung, index, count).at(first.q - float(rung.settings.q or 0))
        note = f"moved {said}, but the first encode at {old_h}p ships ({old.kbps:.0f} kbps)"
        return Looped(rung, back, (old, *new_attempts), (*notes, note))
    a = new.attempt
    if not guard_back(curves.get(old_h, []), (old.kbps, old.vmaf), (a.kbps, a.vmaf)):
        note = f"moved {said}: {a.kbps:.0f} kbps at VMAF {a.vmaf:.2f}"
        return Looped(moved, new, (old, *new_attempts), (*notes, note))
    kept, old_attempts, old_notes = _loop(job, mode, rung, first, index, count)
    both = [*old_attempts, *new_attempts]
    if pick([kept.attempt, a], rung.vmaf, config.tolerance) is a:
        note = f"moved {said}; the guard tried {old_h}p again and {height}p still ships"
        return Looped(moved, new, tuple(both), (*notes, *old_notes, note))
    note = f"moved {said}, back to {old_h}p: the guard found it cheaper at VMAF {a.vmaf:.2f}"
    return Looped(rung, kept, tuple(both), (*notes, *old_notes, note))


def _unshipped_cpu_s(looped: Looped) -> float:
    """CPU seconds of the rung's encodes that do not ship (each attempt once)."""
    s = looped.shipped
    key = (s.settings[0].height, s.q)
    return sum(a.cpu_s for a in looped.attempts if (a.height, a.q) != key)
