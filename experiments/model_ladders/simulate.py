"""The product's ladder decisions replayed on one sample's measured sweep (no new encode).

Any "encode" the product would run is read off the sample's measured curve of its height
(:mod:`sweep`). On that, one *variant* of the height choice runs the product's steps:

1. the model's surface, in probe mode corrected by ``fit_calibration`` on probe encodes (the
   sample's own points at the probe heights and the grid CRFs nearest the probe CRFs; two
   heights as the product, or three with the middle one in log2 height);
2. the ladder from the surface's hull (``ladder_from_hull``, the default rules);
3. each rung through the closed loop as ``ladderforge.jobs.rungs._closed_loop`` runs it (the
   top rung declared at ``top_vmaf`` first, ``policy.first_guess.aim_top``): first encode at the
   rung's CRF, then ``next_q`` on the attempts with the surface's (CRF, VMAF)
   curve at the rung's height, fractional CRF, until an attempt is ``within`` the tolerance
   (0.75) or 3 encodes; ``pick`` chooses the one to ship. The loop's CRF range is the grid's
   (16-46): beyond it there is no measured point;
4. replan (``replans`` rounds): every rung encode so far becomes a ``ProbeResult`` (raw
   prediction vs measured, at its height and CRF) and the calibration is fitted again on the
   probes and those. :func:`replan` keeps the ladder's targets and moves each rung to the
   height whose recalibrated curve reaches its target for the fewest kbps; a rung whose height
   changed is looped there (first encode where the recalibrated curve reaches the target,
   ``first_q``), and ``pick`` ships among that loop's attempts and the rung's earlier encode,
   both steered to the same target: the cheapest within tolerance, else the closest.
   :func:`reladder` chooses the whole ladder again instead (targets and rung count may
   change); a new rung at the height of the earlier rung with the nearest target keeps it.

Cheaper replans (fields of :class:`Variant`): move a rung only for a predicted gain
(``min_gain_pct``), fewer encodes at the new height (``replan_encodes``), replan after each
rung's first encode so that the loop runs at the final height only (``early``), and, with it,
go back to the old height where its measured encode, moved along the surface's curve, is
cheaper than the moved rung as measured (``guard``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import polars as pl
from sweep import Encode, Sample  # the script's folder

from ladderforge.encoder import get_encoder
from ladderforge.jobs.config import LadderConfig
from ladderforge.policy import ladder_from_hull
from ladderforge.policy.calibrate import Calibration, ProbeResult, fit_calibration
from ladderforge.policy.first_guess import aim_top, carried_first_q, curve_error, first_q
from ladderforge.policy.ladder import RungSpacing
from ladderforge.policy.models import RDModel
from ladderforge.policy.surface import predict_points, predict_surface, surface_points
from ladderforge.policy.target import next_q, pick, within
from ladderforge.types import Rung

CONFIG = LadderConfig()
TOLERANCE = CONFIG.tolerance
MAX_ENCODES = CONFIG.max_encodes


@dataclass(frozen=True)
class Variant:
    """One way to choose the heights."""

    name: str
    probe_heights: int
    """Heights probed: 0 (predict mode), 2 (the product's probe mode) or 3."""
    replans: int = 0
    """Rounds of recalibration on the rung encodes and new heights (:func:`replan`)."""
    whole_ladder: bool = False
    """Replan by choosing the whole ladder again (:func:`reladder`), targets included."""
    min_gain_pct: float = 0.0
    """Replan: move a rung only where the recalibrated surface puts another height at least
    this much cheaper at its target."""
    replan_encodes: int = MAX_ENCODES
    """Replan: most encodes of a moved rung's loop."""
    early: bool = False
    """Replan after each rung's first encode (the loop runs at the final height only; a rung
    that stays goes on from its first encode)."""
    guard: bool = False
    """Replan: a moved rung goes back where its old height looks cheaper (see :func:`_move`)."""
    probe_crfs: tuple[float, ...] = ()
    """Probe CRFs (the grid's nearest; empty: the product's ``probe_crfs``)."""
    probe_crfs_short: tuple[float, ...] = ()
    """Probe CRFs at the shortest probed height (empty: ``probe_crfs``)."""
    recalibrate: bool = False
    """Rungs in order, each one's first CRF (and the loop's curve) from the calibration fitted
    again on the probes and every earlier rung's encodes; heights and targets kept."""
    carry: float = 0.0
    """Rungs in order; a rung at the height of an earlier rung starts at its own CRF moved
    along the model's curve by ``carry`` times that rung's first-encode error (measured VMAF
    minus the curve's there; the latest such rung; :func:`_carrying`). Not with
    ``recalibrate`` (which wins)."""


def _named(crfs: tuple[float, ...]) -> str:
    return ",".join(f"{c:g}" for c in crfs)


VARIANTS = (
    Variant("predict", 0),
    Variant("predict+replan", 0, 1),
    Variant("predict+replan2", 0, 2),
    Variant("probe", 2),
    Variant("probe3", 3),
    Variant("probe+replan", 2, 1),
    Variant("probe3+replan", 3, 1),
    Variant("probe3+replan2", 3, 2),
    Variant("probe3+reladder", 3, 1, whole_ladder=True),
    Variant("probe3+replan:1enc", 3, 1, replan_encodes=1),
    Variant("probe3+replan:5%", 3, 1, min_gain_pct=5.0),
    Variant("probe3+replan:5%,1enc", 3, 1, min_gain_pct=5.0, replan_encodes=1),
    Variant("probe+replan:5%,1enc", 2, 1, min_gain_pct=5.0, replan_encodes=1),
    Variant("predict+replan:5%,1enc", 0, 1, min_gain_pct=5.0, replan_encodes=1),
    Variant("predict+early", 0, 1, early=True),
    Variant("probe+early", 2, 1, early=True),
    Variant("probe3+early", 3, 1, early=True),
    Variant("probe3+early2", 3, 2, early=True),
    Variant("probe+early+guard", 2, 1, early=True, guard=True),
    Variant("probe3+early+guard", 3, 1, early=True, guard=True),
    Variant("predict+recal", 0, recalibrate=True),
    Variant("probe+recal", 2, recalibrate=True),
    Variant("probe+carry.25", 2, carry=0.25),
    Variant("probe+carry.5", 2, carry=0.5),
    Variant("probe+carry.75", 2, carry=0.75),
    Variant("probe+carry1", 2, carry=1.0),
    Variant("predict+carry.5", 0, carry=0.5),
    Variant("probe3+carry.5", 3, carry=0.5),
    *(
        Variant(
            f"probe+carry.5@{_named(tall)}" + (f"/{_named(short)}" if short else ""),
            2,
            carry=0.5,
            probe_crfs=tall,
            probe_crfs_short=short,
        )
        for tall, short in (
            ((19, 31), ()),
            ((22, 34), ()),
            ((19, 34), ()),
            ((22, 37), ()),
            ((16, 28), ()),
            ((19, 28), (31, 40)),
            ((19, 31), (25, 37)),
            ((22, 31), (19, 28)),
        )
    ),
)


@dataclass(frozen=True)
class Played:
    """One rung of a ladder as the loop left it."""

    height: int
    target: float
    first_q: float
    attempts: list[Encode]
    """The encodes its loop ran (empty for a rung kept from an earlier round)."""
    shipped: Encode
    """The encode that ships for this target (after a replan, possibly an earlier rung's,
    at another height)."""
    round: int = 0
    """The replan round whose loop made it (0: the first ladder)."""
    elsewhere: tuple[Encode, ...] = ()
    """Encodes this round spent at another height for the same target (a move that went
    back)."""


def probe_heights(heights: list[int], n: int) -> list[int]:
    """The tallest and the shortest height; with ``n`` = 3 also the one nearest their middle
    in log2 height."""
    if n == 0:
        return []
    chosen = {heights[0], heights[-1]}
    inner = heights[1:-1]
    if n >= 3 and inner:
        mid = (math.log2(heights[0]) + math.log2(heights[-1])) / 2
        chosen.add(min(inner, key=lambda h: abs(math.log2(h) - mid)))
    return sorted(chosen, reverse=True)


def _as_probes(model: RDModel, sample: Sample, encodes: list[Encode]) -> list[ProbeResult]:
    """Measured encodes as calibration points: the model's raw prediction beside each."""
    vmaf, kbps = predict_points(
        model,
        sample.features,
        [(sample.widths[e.height], e.height, e.q) for e in encodes],
        source_height=sample.source_height,
        fps=sample.fps,
    )
    return [
        ProbeResult(e.height, e.q, float(v), e.vmaf, float(k), e.kbps)
        for e, v, k in zip(encodes, vmaf, kbps, strict=True)
    ]


def probes(
    model: RDModel,
    sample: Sample,
    n_heights: int,
    crfs: Sequence[float] = (),
    short_crfs: Sequence[float] = (),
) -> list[ProbeResult]:
    """The probe encodes (the sample's own points at the probe heights and at the grid CRFs
    nearest the probe CRFs: ``crfs``, the product's by default; ``short_crfs`` at the
    shortest probed height)."""
    grid = sorted({float(c) for c in sample.rows["crf"]})

    def on_grid(wanted: Sequence[float]) -> list[float]:
        return sorted({min(grid, key=lambda g: abs(g - c)) for c in wanted})

    tall = on_grid(crfs or CONFIG.probe_crfs)
    short = on_grid(short_crfs) if short_crfs else tall
    heights = probe_heights(sample.heights, n_heights)
    encodes = [
        sample.encode(h, q)
        for h in heights
        for q in (short if h == heights[-1] and len(heights) > 1 else tall)
    ]
    return _as_probes(model, sample, encodes)


def plan(
    model: RDModel, sample: Sample, calibration: Calibration | None
) -> tuple[pl.DataFrame, list[Rung]]:
    """The surface and the ladder chosen on it, as ``plan_title`` chooses it."""
    facts = get_encoder(sample.codec).facts
    surface = predict_surface(
        model,
        [(sample.frames, sample.features)],
        source_width=sample.source_width,
        source_height=sample.source_height,
        fps=sample.fps,
        frames=sample.frames,
        heights=sample.heights,
        codec=facts,
        preset=sample.preset,
        calibration=calibration,
    )
    rungs, _ = ladder_from_hull(
        surface_points(surface, codec=facts, preset=sample.preset),  # all, as choose_rungs
        source_height=sample.source_height,
        **CONFIG.ladder_options(),
    )
    if rungs:  # the top rung declared at top_vmaf, as aim_top_rung does before the loop
        at = surface.filter(pl.col("height") == rungs[-1].settings.height).sort("crf")
        rungs, _ = aim_top(
            rungs,
            [
                (float(r["crf"]), float(r["vmaf"]), float(r["bitrate_kbps"]))
                for r in at.iter_rows(named=True)
            ],
            top_vmaf=CONFIG.top_vmaf,
            spacing=RungSpacing.of(CONFIG.ladder_options()),
            q_min=facts.q_min,
            q_max=facts.q_max,
            fractional=facts.fractional_q,
            full_height=rungs[-1].settings.height >= sample.heights[0],
            margin=CONFIG.tolerance,
        )
    return surface, rungs


def _model_curve(surface: pl.DataFrame, height: int) -> list[tuple[float, float]]:
    """The surface's (CRF, VMAF) at one height (``PredictMode.rung_curve``)."""
    at = surface.filter(pl.col("height") == height).sort("crf")
    return [(float(r["crf"]), float(r["vmaf"])) for r in at.iter_rows(named=True)]


def closed_loop(
    sample: Sample,
    surface: pl.DataFrame,
    *,
    height: int,
    target: float,
    first: float | None = None,
    prior: tuple[Encode, ...] = (),
    max_encodes: int = MAX_ENCODES,
    round_: int = 0,
) -> Played:
    """A rung through the product's loop on the measured curve of its height, first encoded
    at ``first`` (None: where the surface reaches the target, ``first_q``), or going on from
    the ``prior`` encodes at this height (counted in ``max_encodes``)."""
    curve = sample.curves[height]
    model_curve = _model_curve(surface, height)
    facts = get_encoder(sample.codec).facts
    q_min, q_max = max(facts.q_min, float(curve.crf[0])), min(facts.q_max, float(curve.crf[-1]))
    fractional = facts.fractional_q
    if first is None:
        first = first_q(model_curve, target, q_min=q_min, q_max=q_max, fractional=fractional)

    tries = list(prior) or [sample.encode(height, first)]
    while len(tries) < max_encodes and not within(tries[-1].vmaf, target, TOLERANCE):
        q = next_q(
            [t.attempt for t in tries],
            target,
            curve=model_curve,
            q_min=q_min,
            q_max=q_max,
            fractional=fractional,
        )
        if q is None:
            break
        tries.append(sample.encode(height, q))
    return Played(height, target, tries[0].q, tries, _pick(tries, target), round_)


def _play_rung(
    sample: Sample, surface: pl.DataFrame, rung: Rung, max_encodes: int = MAX_ENCODES
) -> Played:
    height, first = rung.settings.height, float(rung.settings.q or 0)
    return closed_loop(
        sample, surface, height=height, target=rung.vmaf, first=first, max_encodes=max_encodes
    )


def kbps_by_height(surface: pl.DataFrame, target: float) -> dict[int, float]:
    """Each height's kbps at ``target`` on the surface (log kbps linear in VMAF between the
    surface's CRFs), for the heights whose curve reaches it."""
    out = {}
    for (h,), at in surface.sort("crf").group_by(["height"], maintain_order=True):
        vmaf = at["vmaf"].to_numpy()[::-1]  # rising
        if vmaf[0] <= target <= vmaf[-1]:
            log_kbps = np.interp(target, vmaf, np.log(at["bitrate_kbps"].to_numpy()[::-1]))
            out[int(h)] = math.exp(float(log_kbps))
    return out


def new_height(surface: pl.DataFrame, target: float, height: int, min_gain_pct: float) -> int:
    """The height a rung at ``height`` moves to: the one whose surface curve reaches ``target``
    for the fewest kbps, when that is at least ``min_gain_pct`` cheaper than ``height`` there
    (or ``height`` does not reach it); else ``height``."""
    kbps = kbps_by_height(surface, target)
    if not kbps:
        return height
    best = min(kbps, key=kbps.__getitem__)
    if height in kbps and kbps[best] > kbps[height] * (1 - min_gain_pct / 100):
        return height
    return best


def _pick(encodes: list[Encode], target: float) -> Encode:
    attempts = [e.attempt for e in encodes]
    chosen = pick(attempts, target, TOLERANCE)
    return encodes[next(i for i, a in enumerate(attempts) if a is chosen)]


def _recalibrated(
    model: RDModel, sample: Sample, known: list[ProbeResult], loops: list[Played]
) -> tuple[pl.DataFrame, list[Rung]]:
    """Surface and ladder on the calibration fitted on the probes and every rung encode."""
    encodes = _encodes(loops)
    return plan(model, sample, fit_calibration([*known, *_as_probes(model, sample, encodes)]))


def replan(
    model: RDModel,
    sample: Sample,
    *,
    known: list[ProbeResult],
    ladder: list[Played],
    loops: list[Played],
    round_: int,
    variant: Variant,
) -> list[Played]:
    """One replan round, targets kept: each rung of ``ladder`` moves to the cheapest height
    for its target on the recalibrated surface (:func:`new_height`); a rung whose height
    changed is looped there (at most ``variant.replan_encodes`` encodes) and ``pick`` ships
    among that loop's attempts and the rung's earlier encode."""
    surface, _ = _recalibrated(model, sample, known, loops)
    out: list[Played] = []
    for old in ladder:
        height = new_height(surface, old.target, old.shipped.height, variant.min_gain_pct)
        if height != old.shipped.height:
            out.append(_move(sample, surface, old, height, round_, variant))
        elif variant.early and height == old.height:
            out.append(_go_on(sample, surface, old, round_))
        else:
            out.append(old)
    return out


def _go_on(sample: Sample, surface: pl.DataFrame, old: Played, round_: int) -> Played:
    """The loop of ``old`` going on at its height from its encodes."""
    return closed_loop(
        sample,
        surface,
        height=old.height,
        target=old.target,
        prior=tuple(old.attempts),
        round_=round_,
    )


def _move(
    sample: Sample,
    surface: pl.DataFrame,
    old: Played,
    height: int,
    round_: int,
    variant: Variant,
) -> Played:
    """``old``'s target looped at ``height``; ``pick`` ships among that loop's attempts and
    ``old``'s encode. With ``variant.guard``, where ``old``'s height, anchored on its measured
    encode, is cheaper at the new rung's VMAF than the new rung, the rung goes back: ``old``'s
    loop goes on and ``pick`` ships among both loops' attempts."""
    target = old.target
    new = closed_loop(
        sample,
        surface,
        height=height,
        target=target,
        max_encodes=variant.replan_encodes,
        round_=round_,
    )
    shipped = _pick([*new.attempts, old.shipped], target)
    if not variant.guard or shipped is old.shipped or old.shipped.height != old.height:
        return replace(new, shipped=shipped)
    anchor = min(old.attempts, key=lambda e: abs(e.vmaf - shipped.vmaf))
    estimate = _anchored_kbps(surface, anchor, shipped.vmaf)
    if estimate is None or estimate >= shipped.kbps:
        return replace(new, shipped=shipped)
    back = _go_on(sample, surface, old, round_)
    both = [*back.attempts, *new.attempts]
    return replace(back, shipped=_pick(both, target), elsewhere=tuple(new.attempts))


def _anchored_kbps(surface: pl.DataFrame, anchor: Encode, vmaf: float) -> float | None:
    """kbps at ``vmaf`` at the anchor's height: the measured ``anchor`` moved along the
    surface's curve of that height (None where the curve does not reach either VMAF)."""
    at_anchor = kbps_by_height(surface, anchor.vmaf).get(anchor.height)
    at_vmaf = kbps_by_height(surface, vmaf).get(anchor.height)
    if at_anchor is None or at_vmaf is None:
        return None
    return anchor.kbps * at_vmaf / at_anchor


def reladder(
    model: RDModel,
    sample: Sample,
    *,
    known: list[ProbeResult],
    ladder: list[Played],
    loops: list[Played],
    round_: int,
    variant: Variant,
) -> list[Played]:
    """One replan round, ladder chosen again: a new rung at the height of the earlier rung
    with the nearest target keeps that rung as it is; any other is looped at its height and
    ``pick`` ships among that loop's attempts and that nearest earlier rung."""
    surface, rungs = _recalibrated(model, sample, known, loops)
    out: list[Played] = []
    for rung in rungs:
        height, target = rung.settings.height, rung.vmaf
        nearest = min(ladder, key=lambda p: abs(p.target - target))
        if nearest.shipped.height == height:
            out.append(nearest)
            continue
        new = _play_rung(sample, surface, rung)
        new = replace(new, round=round_, shipped=_pick([*new.attempts, nearest.shipped], target))
        out.append(new)
    unique = {id(p.shipped): p for p in out}  # two new rungs may ship the same encode
    return sorted(unique.values(), key=lambda p: p.shipped.kbps)


@dataclass
class Outcome:
    """A variant played on one sample."""

    first: list[Played]
    """The first ladder after its loop (before any replan)."""
    final: list[Played]
    """The ladder that ships, one rung per distinct shipped encode."""
    probe_cpu_s: float
    encodes: int
    """Rung encodes of every loop, every round (probes not counted)."""
    encode_cpu_s: float
    """CPU seconds of those encodes."""
    shipped_cpu_s: float
    """CPU seconds of the encodes that ship (one per rung)."""


def _encodes(loops: list[Played]) -> list[Encode]:
    """Every distinct encode of the loops (a loop that goes on shares its first encode)."""
    return list({id(e): e for p in loops for e in (*p.attempts, *p.elsewhere)}.values())


def _recalibrating(
    model: RDModel,
    sample: Sample,
    known: list[ProbeResult],
    surface: pl.DataFrame,
    rungs: list[Rung],
) -> list[Played]:
    """The rungs looped in order, each on the surface recalibrated on the probes and every
    earlier rung's encodes (its first CRF where that surface reaches its target)."""
    played: list[Played] = []
    for rung in rungs:
        if played:
            surface, _ = _recalibrated(model, sample, known, played)
            played.append(
                closed_loop(sample, surface, height=rung.settings.height, target=rung.vmaf)
            )
        else:
            played.append(_play_rung(sample, surface, rung))
    return played


def _carrying(
    sample: Sample, surface: pl.DataFrame, rungs: list[Rung], share: float
) -> list[Played]:
    """The rungs looped in order; one at the height of an earlier rung first encoded at its own
    CRF moved along the model's curve by ``share`` of that rung's first-encode error, as
    ``jobs.rungs`` does (``carried_first_q``, ``curve_error``)."""
    played: list[Played] = []
    error: dict[int, float] = {}
    facts = get_encoder(sample.codec).facts
    for rung in rungs:
        height, own = rung.settings.height, float(rung.settings.q or 0)
        model_curve = _model_curve(surface, height)
        first = own
        if height in error:
            curve = sample.curves[height]
            first = carried_first_q(
                model_curve,
                own,
                error[height],
                q_min=max(facts.q_min, float(curve.crf[0])),
                q_max=min(facts.q_max, float(curve.crf[-1])),
                fractional=facts.fractional_q,
                share=share,
            )
        p = closed_loop(sample, surface, height=height, target=rung.vmaf, first=first)
        measured = curve_error(model_curve, p.attempts[0].attempt)
        if measured is not None:
            error[height] = measured
        played.append(p)
    return played


def play(model: RDModel, sample: Sample, variant: Variant) -> Outcome:
    """One variant on one sample: probes, ladder, loop, replans."""
    known = (
        probes(model, sample, variant.probe_heights, variant.probe_crfs, variant.probe_crfs_short)
        if variant.probe_heights
        else []
    )
    surface, rungs = plan(model, sample, fit_calibration(known) if known else None)
    first_loop = 1 if variant.early else MAX_ENCODES
    if variant.recalibrate:
        first = _recalibrating(model, sample, known, surface, rungs)
    elif variant.carry:
        first = _carrying(sample, surface, rungs, variant.carry)
    else:
        first = [_play_rung(sample, surface, r, max_encodes=first_loop) for r in rungs]
    ladder, loops = first, list(first)
    again = reladder if variant.whole_ladder else replan
    for round_ in range(1, variant.replans + 1):
        ladder = again(
            model, sample, known=known, ladder=ladder, loops=loops, round_=round_, variant=variant
        )
        loops += [p for p in ladder if p.round == round_ and p.attempts]
    encodes = _encodes(loops)
    return Outcome(
        first,
        ladder,
        sum(sample.curves[p.height].cpu_s_at(p.crf) for p in known),
        len(encodes),
        sum(e.cpu_s for e in encodes),
        sum(p.shipped.cpu_s for p in ladder),
    )
