"""The product's ladder decisions replayed on one sample's measured sweep (no new encode).

A sample's sweep holds every candidate height x CRF measured; any "encode" the product would
run is read off the measured curve of its height (linear in CRF for VMAF, in log kbps and in
log CPU seconds, as :meth:`Curve.at_crf`). On that, one *variant* of the height choice runs
the product's steps:

1. the model's surface, in probe mode corrected by ``fit_calibration`` on probe encodes (the
   sample's own points at the probe heights and the grid CRFs nearest the probe CRFs; two
   heights as the product, or three with the middle one in log2 height);
2. the ladder from the surface's hull (``ladder_from_hull``, the default rules);
3. each rung through the closed loop as ``ladderforge.jobs.rungs._closed_loop`` runs it: first
   encode at the rung's CRF, then ``next_q`` on the attempts with the surface's (CRF, VMAF)
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
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from ladderforge.encoder import get_encoder
from ladderforge.jobs.config import LadderConfig
from ladderforge.jobs.defaults import DEFAULT_SWEEP_CRFS
from ladderforge.policy import ladder_from_hull, upper_convex_hull
from ladderforge.policy.calibrate import Calibration, ProbeResult, fit_calibration
from ladderforge.policy.models import CONTENT_FEATURES, RDModel
from ladderforge.policy.surface import predict_points, predict_surface, surface_points
from ladderforge.policy.target import first_q, next_q, pick, within
from ladderforge.types import EncodeSettings, RDPoint, Rung, RungAttempt

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
)


@dataclass(frozen=True)
class Curve:
    """One height's measured points of a sample, CRF rising."""

    crf: np.ndarray
    vmaf: np.ndarray
    log_kbps: np.ndarray
    log_cpu_s: np.ndarray

    def at_crf(self, crf: float) -> tuple[float, float]:
        """(VMAF, kbps) at a CRF, linear between grid points (clamped at the ends)."""
        return (
            float(np.interp(crf, self.crf, self.vmaf)),
            float(math.exp(np.interp(crf, self.crf, self.log_kbps))),
        )

    def cpu_s_at(self, crf: float) -> float:
        """Encode CPU seconds at a CRF, log-linear between grid points."""
        return float(math.exp(np.interp(crf, self.crf, self.log_cpu_s)))

    def crf_for(self, target: float) -> tuple[float, bool]:
        """The CRF whose VMAF is ``target`` (False where the grid cannot reach it)."""
        v = np.minimum.accumulate(self.vmaf)  # falling with CRF (a measured wobble flattened)
        if target > v[0]:
            return float(self.crf[0]), False
        if target < v[-1]:
            return float(self.crf[-1]), True
        return float(np.interp(-target, -v, self.crf)), True


@dataclass(frozen=True)
class Sample:
    """One sample's measured sweep and what the model needs to predict it."""

    rows: pl.DataFrame
    curves: dict[int, Curve]
    widths: dict[int, int]
    features: dict[str, float]
    source_width: int
    source_height: int
    fps: float
    frames: int
    codec: str
    preset: str

    @classmethod
    def of(cls, rows: pl.DataFrame) -> Sample:
        rows = rows.sort("height", "crf")
        curves, widths = {}, {}
        for (h,), part in rows.group_by(["height"], maintain_order=True):
            curves[int(h)] = Curve(
                part["crf"].to_numpy().astype(float),
                part["vmaf"].to_numpy().astype(float),
                np.log(part["bitrate_kbps"].to_numpy().astype(float)),
                np.log(part["encode_cpu_s"].to_numpy().astype(float)),
            )
            widths[int(h)] = int(part["width"][0])
        first = rows.row(0, named=True)
        return cls(
            rows,
            curves,
            widths,
            {f: float(first[f]) for f in CONTENT_FEATURES},
            int(first["source_width"]),
            int(first["source_height"]),
            float(first["source_fps"]),
            int(first["frames"]),
            str(first["codec"]),
            str(first["preset"]),
        )

    @property
    def heights(self) -> list[int]:
        """Tallest first."""
        return sorted(self.curves, reverse=True)

    @property
    def sweep_cpu_s(self) -> float:
        """CPU seconds of the recorded sweep (every height x every grid CRF)."""
        return float(self.rows["encode_cpu_s"].sum())

    @property
    def product_sweep_cpu_s(self) -> float:
        """CPU seconds of exhaustive mode's own sweep (every height x DEFAULT_SWEEP_CRFS),
        log-linear in CRF between the recorded points."""
        return sum(c.cpu_s_at(q) for c in self.curves.values() for q in DEFAULT_SWEEP_CRFS)

    def measured_points(self) -> list[RDPoint]:
        return [
            RDPoint(
                EncodeSettings(
                    codec=self.codec,
                    width=int(r["width"]),
                    height=int(r["height"]),
                    q=float(r["crf"]),
                    preset=self.preset,
                ),
                float(r["bitrate_kbps"]),
                float(r["vmaf"]),
            )
            for r in self.rows.iter_rows(named=True)
        ]


@dataclass(frozen=True)
class Encode:
    """One encode read off a measured curve."""

    height: int
    q: float
    vmaf: float
    kbps: float
    cpu_s: float

    @property
    def attempt(self) -> RungAttempt:
        return RungAttempt(self.q, self.vmaf, self.kbps, self.cpu_s)


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


def probes(model: RDModel, sample: Sample, n_heights: int) -> list[ProbeResult]:
    """The probe encodes (the sample's own points at the probe heights and at the grid CRFs
    nearest the probe CRFs)."""
    grid = sorted({float(c) for c in sample.rows["crf"]})
    crfs = sorted({min(grid, key=lambda g: abs(g - c)) for c in CONFIG.probe_crfs})
    encodes = [
        Encode(h, q, *sample.curves[h].at_crf(q), sample.curves[h].cpu_s_at(q))
        for h in probe_heights(sample.heights, n_heights)
        for q in crfs
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
        upper_convex_hull(surface_points(surface, codec=facts, preset=sample.preset)),
        source_height=sample.source_height,
        **CONFIG.ladder_options(),
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
    round_: int = 0,
) -> Played:
    """A rung through the product's loop on the measured curve of its height, first encoded
    at ``first`` (None: where the surface reaches the target, ``first_q``)."""
    curve = sample.curves[height]
    model_curve = _model_curve(surface, height)
    facts = get_encoder(sample.codec).facts
    q_min, q_max = max(facts.q_min, float(curve.crf[0])), min(facts.q_max, float(curve.crf[-1]))
    fractional = facts.fractional_q
    if first is None:
        first = first_q(model_curve, target, q_min=q_min, q_max=q_max, fractional=fractional)

    def encode(q: float) -> Encode:
        return Encode(height, q, *curve.at_crf(q), curve.cpu_s_at(q))

    tries = [encode(first)]
    while len(tries) < MAX_ENCODES and not within(tries[-1].vmaf, target, TOLERANCE):
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
        tries.append(encode(q))
    return Played(height, target, first, tries, _pick(tries, target), round_)


def _play_rung(sample: Sample, surface: pl.DataFrame, rung: Rung) -> Played:
    height, first = rung.settings.height, float(rung.settings.q or 0)
    return closed_loop(sample, surface, height=height, target=rung.vmaf, first=first)


def cheapest_height(surface: pl.DataFrame, target: float) -> int | None:
    """The height whose surface curve reaches ``target`` for the fewest kbps (log kbps linear
    in VMAF between the surface's CRFs); None where no height reaches it."""
    best: tuple[float, int] | None = None
    for (h,), at in surface.sort("crf").group_by(["height"], maintain_order=True):
        vmaf = at["vmaf"].to_numpy()[::-1]  # rising
        if not vmaf[0] <= target <= vmaf[-1]:
            continue
        log_kbps = float(np.interp(target, vmaf, np.log(at["bitrate_kbps"].to_numpy()[::-1])))
        if best is None or log_kbps < best[0]:
            best = (log_kbps, int(h))
    return None if best is None else best[1]


def _pick(encodes: list[Encode], target: float) -> Encode:
    attempts = [e.attempt for e in encodes]
    chosen = pick(attempts, target, TOLERANCE)
    return encodes[next(i for i, a in enumerate(attempts) if a is chosen)]


def _recalibrated(
    model: RDModel, sample: Sample, known: list[ProbeResult], loops: list[Played]
) -> tuple[pl.DataFrame, list[Rung]]:
    """Surface and ladder on the calibration fitted on the probes and every rung encode."""
    encodes = [e for p in loops for e in p.attempts]
    return plan(model, sample, fit_calibration([*known, *_as_probes(model, sample, encodes)]))


def replan(
    model: RDModel,
    sample: Sample,
    *,
    known: list[ProbeResult],
    ladder: list[Played],
    loops: list[Played],
    round_: int,
) -> list[Played]:
    """One replan round, targets kept: each rung of ``ladder`` moves to the cheapest height
    for its target on the recalibrated surface; a rung whose height changed is looped there
    and ``pick`` ships among that loop's attempts and the rung's earlier encode."""
    surface, _ = _recalibrated(model, sample, known, loops)
    out: list[Played] = []
    for old in ladder:
        height = cheapest_height(surface, old.target)
        if height is None or height == old.shipped.height:
            out.append(old)
            continue
        new = closed_loop(sample, surface, height=height, target=old.target, round_=round_)
        out.append(replace(new, shipped=_pick([*new.attempts, old.shipped], old.target)))
    return out


def reladder(
    model: RDModel,
    sample: Sample,
    *,
    known: list[ProbeResult],
    ladder: list[Played],
    loops: list[Played],
    round_: int,
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


def play(model: RDModel, sample: Sample, variant: Variant) -> Outcome:
    """One variant on one sample: probes, ladder, loop, replans."""
    known = probes(model, sample, variant.probe_heights) if variant.probe_heights else []
    surface, rungs = plan(model, sample, fit_calibration(known) if known else None)
    first = [_play_rung(sample, surface, r) for r in rungs]
    ladder, loops = first, list(first)
    again = reladder if variant.whole_ladder else replan
    for round_ in range(1, variant.replans + 1):
        ladder = again(model, sample, known=known, ladder=ladder, loops=loops, round_=round_)
        loops += [p for p in ladder if p.round == round_ and p.attempts]
    return Outcome(
        first,
        ladder,
        sum(sample.curves[p.height].cpu_s_at(p.crf) for p in known),
        sum(len(p.attempts) for p in loops),
        sum(e.cpu_s for p in loops for e in p.attempts),
        sum(p.shipped.cpu_s for p in ladder),
    )
