"""After every rung of a closed-loop ladder is encoded and measured, before any is packaged:
rungs another measured rung beats are dropped, and gaps the measured rungs open are refilled.

The ladder was chosen on predicted bitrates and VMAFs; the encodes can disagree:

- a rung that measures no cheaper than another rung with no less VMAF (a short height whose
  bitrate the model underestimated, above a taller rung) is dropped, as is a second rung
  identical to one kept (:func:`drop_dominated`);
- where two neighbouring rungs measure more than ``max_rate_ratio`` apart in bitrate, with
  room between them, a rung is added at the mean of their VMAFs and looped like the others
  (:func:`refill_gaps`; the gap's policy is :mod:`ladderforge.policy.refill`).

Both run where :attr:`ladderforge.jobs.config.LadderConfig.refills` says so. Their decisions
rest only on stored measurements, so a rerun after a crash makes them again, reusing every
encode. The encodes a dropped or rejected rung made that no shipped rung uses count as
decision CPU (``job.loop_cpu_s``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from ladderforge.jobs.context import TitleJob
from ladderforge.jobs.modes import Mode
from ladderforge.jobs.rungs_loop import Shipped, first_q_measured
from ladderforge.policy.curve import quantise
from ladderforge.policy.first_guess import carried_first_q
from ladderforge.policy.ladder import RungSpacing, cap_rungs
from ladderforge.policy.refill import anchored_curve, cheapest_height, dominated, widest_gap
from ladderforge.types import Rung, RungCosts, candidate_sizes

__all__ = ["Encoded", "LoopRung", "count_unshipped", "drop_dominated", "refill_gaps"]

Encoded = tuple[Rung, Shipped]
"""A measured rung (not yet packaged) and the encode that ships it."""

LoopRung = Callable[[Rung, int, str], tuple[Rung, Shipped, list[str]]]
"""Loops one rung (its first encode at its own CRF): rung, rendition index, progress label ->
the measured rung, its shipped encode, notes."""


def count_unshipped(job: TitleJob, gone: Sequence[Encoded], kept: Sequence[Encoded]) -> None:
    """Count the chunk encodes of the ``gone`` rungs (dropped, or tried in a gap and not added)
    that no ``kept`` rung ships as decision CPU, each once."""
    used = {r.output_path for _, s in kept for r in s.encoded.results}
    spent = {r.output_path: r.cpu_s for _, s in gone for r in s.encoded.results}
    job.loop_cpu_s += sum(cpu for path, cpu in spent.items() if path not in used)


def drop_dominated(encoded: Sequence[Encoded]) -> tuple[list[Encoded], list[Encoded], list[str]]:
    """The rungs (sorted by measured kbps) without those another beats (no more kbps for no
    less VMAF, :func:`ladderforge.policy.refill.dominated`) or identical to one kept, the
    dropped ones, and a note for each (their encodes: :func:`count_unshipped`)."""
    ordered = sorted(encoded, key=lambda e: (e[0].known_kbps, e[0].known_vmaf))
    points = [(r.known_kbps, r.known_vmaf) for r, _ in ordered]
    drop = set(dominated(points))
    drop |= {i for i in range(1, len(points)) if points[i] in points[:i]}  # twice the same
    kept = [e for i, e in enumerate(ordered) if i not in drop]
    notes = []
    for i in sorted(drop):
        r = ordered[i][0]
        here = (r.known_kbps, r.known_vmaf)
        best = next(o for o, _ in kept if o.known_kbps <= here[0] and o.known_vmaf >= here[1])
        if (best.known_kbps, best.known_vmaf) == here:
            notes.append(f"a second {r.name} rung dropped: the same encode as one kept")
            continue
        notes.append(
            f"{r.name} rung dropped: it measured {here[0]:.0f} kbps at VMAF {here[1]:.2f}, and "
            f"the {best.name} rung gives VMAF {best.known_vmaf:.2f} for {best.known_kbps:.0f} kbps"
        )
    return kept, [ordered[i] for i in sorted(drop)], notes


def refill_gaps(
    job: TitleJob,
    mode: Mode,
    encoded: list[Encoded],
    loop: LoopRung,
    *,
    errors: Mapping[int, float],
    dropped: Sequence[Rung] = (),
    next_index: int,
) -> tuple[list[Encoded], list[Encoded], list[str]]:
    """Where neighbouring measured rungs lie more than ``max_rate_ratio`` apart in bitrate,
    add a rung between them at the mean of their VMAFs, the widest gap first, until none is
    left, the ladder has ``max_rungs`` or ``max_rungs`` rungs were looped here.

    Its height is the cheapest by the mode's curves between the neighbours' heights (any with
    ``allow_resolution_dips``), each curve moved onto the measured rung (kept or ``dropped``)
    nearest the target at its height (:func:`~ladderforge.policy.refill.anchored_curve`). Its
    first CRF is the loop's next step from the kept rungs measured at that height, as if they
    were its own attempts; where there are none, the curve's CRF moved by the error an earlier
    rung's first encode measured at that height (``errors``, by height). Then ``loop`` loops
    it like every rung (its rendition numbered from ``next_index`` on), capped by
    ``vbv_ratio`` where ``vbv`` is capped. A rung that measures outside its neighbours'
    bitrates or VMAFs is not added, and its gap is not tried again. Returns the rungs, those
    tried and not added, and notes."""
    config, info = job.config, job.info
    spacing = RungSpacing.of(config.ladder_options())
    encoded = sorted(encoded, key=lambda e: e[0].known_kbps)
    notes: list[str] = []
    rejected: list[Encoded] = []
    tried: set[tuple[str, str]] = set()
    index, loops = next_index, config.max_rungs
    while len(encoded) < config.max_rungs and loops > 0:
        rungs = [r for r, _ in encoded]
        skip = frozenset(
            i for i in range(len(rungs) - 1) if (rungs[i].name, rungs[i + 1].name) in tried
        )
        gap = widest_gap([(r.known_kbps, r.known_vmaf) for r in rungs], spacing, skip=skip)
        if gap is None:
            break
        low, high = rungs[gap.low], rungs[gap.low + 1]
        tried.add((low.name, high.name))
        bare = low.settings.with_(maxrate_kbps=None, bufsize_kbits=None)
        lo_h, hi_h = sorted((low.settings.height, high.settings.height))
        at = {
            h: replace(low, settings=bare.with_(width=w, height=h))
            for w, h in candidate_sizes(info.width, info.height, config.heights)
            if spacing.allow_resolution_dips or lo_h <= h <= hi_h
        }
        curves = {h: mode.rung_points(job, r) for h, r in at.items()}
        choice = cheapest_height(
            {
                h: _anchored(c, [*rungs, *dropped], h, gap.target_vmaf)
                for h, c in curves.items()
                if c
            },
            gap.target_vmaf,
        )
        if choice is None:
            notes.append(
                f"gap of {gap.ratio:.1f}x between the {low.name} and {high.name} rungs left: "
                f"no height's curve reaches VMAF {gap.target_vmaf:.1f}"
            )
            continue
        height, crf, predicted_kbps = choice
        q, how = _first_q(job, mode, at[height], crf, gap.target_vmaf, rungs, errors)
        rung = Rung(
            settings=at[height].settings.with_(q=q),
            bitrate_kbps=predicted_kbps,
            vmaf=gap.target_vmaf,
            cost=RungCosts(),
        )
        if config.vbv == "capped":
            rung = cap_rungs([rung], ratio=config.vbv_ratio, buffer_ratio=config.vbv_buffer_ratio)[
                0
            ]
        index, loops = index + 1, loops - 1
        done, shipped, loop_notes = loop(
            rung, index, f"rung {index} {height}p (gap {gap.ratio:.1f}x)"
        )
        between = (
            low.known_kbps < done.known_kbps < high.known_kbps
            and low.known_vmaf < done.known_vmaf < high.known_vmaf
        )
        if not between:
            notes.append(
                f"gap of {gap.ratio:.1f}x between the {low.name} and {high.name} rungs left: "
                f"the rung tried between measured {done.known_kbps:.0f} kbps at VMAF "
                f"{done.known_vmaf:.2f}, not between them"
            )
            rejected.append((done, shipped))
            continue
        notes += loop_notes
        notes.append(
            f"{done.name} rung added: the {low.name} and {high.name} rungs measured "
            f"{gap.ratio:.1f}x apart in bitrate (more than max_rate_ratio "
            f"{spacing.max_rate_ratio:g}); it aimed at VMAF {gap.target_vmaf:.2f}, first "
            f"encode at CRF {q:g} ({how})"
        )
        encoded = sorted([*encoded, (done, shipped)], key=lambda e: e[0].known_kbps)
    return encoded, rejected, notes


def _anchored(
    curve: list[tuple[float, float, float]], measured: Sequence[Rung], height: int, target: float
) -> list[tuple[float, float, float]]:
    """The mode's curve at ``height`` moved onto the measured rung there nearest ``target``
    (as it is where none was measured)."""
    mine = [r for r in measured if r.settings.height == height and r.measured_vmaf is not None]
    if not mine:
        return curve
    near = min(mine, key=lambda r: abs(r.known_vmaf - target))
    return anchored_curve(curve, (float(near.settings.q or 0), near.known_vmaf, near.known_kbps))


def _first_q(
    job: TitleJob,
    mode: Mode,
    rung: Rung,
    crf: float,
    target: float,
    measured: Sequence[Rung],
    errors: Mapping[int, float],
) -> tuple[float, str]:
    """The first CRF of a rung added in a gap, and how it was found: the loop's next step from
    the ``measured`` rungs at its height (their shipped encodes as if they were its own
    attempts, the nearest the target last), else ``crf`` (the mode's curve) moved by the error
    an earlier rung's first encode measured at its height."""
    facts = job.facts
    curve = mode.rung_curve(job, rung)
    mine = [
        (float(r.settings.q or 0), r.known_vmaf, r.known_kbps)
        for r in measured
        if r.settings.height == rung.settings.height
    ]
    q = first_q_measured(job, curve, mine, target)
    if q is not None:
        return q, "from the measured rungs at its height"
    q = quantise(min(max(crf, facts.q_min), facts.q_max), facts.fractional_q)
    error = errors.get(rung.settings.height)
    if error is None or not curve:
        return q, "the mode's curve"
    moved = carried_first_q(
        curve, q, error, q_min=facts.q_min, q_max=facts.q_max, fractional=facts.fractional_q
    )
    return moved, "the mode's curve, corrected by an earlier rung's error at its height"
