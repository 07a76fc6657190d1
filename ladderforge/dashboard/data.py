"""The A/B dashboard's data: two output folders of ladder JSONs, paired by title, priced by one
cost model, as the tables the report shows and exports.

Each title's figures use what was measured where it was (bitrate and VMAF of the encoded
rendition; the encode's CPU seconds), the prediction otherwise. A ladder made with the
enhancement stage (``ladder --enhanced``) is judged on the VMAF its players with the stage see
(the delivered VMAF of the rungs it enhances), with the VMAF players without it see beside: the
stage's saving shows as B's bits and egress against A's at the same delivered quality.

The title's view-hours are the ones its ladder JSON was priced with (``cost.view_hours``; B's
when the two differ, so both strategies are priced for one audience), else the cost model's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ladderforge.errors import MediaNotFoundError, UsageError
from ladderforge.policy.cost import CostModel, RungSpend, break_even_view_hours, ladder_costs
from ladderforge.types import Ladder

__all__ = [
    "RungFigures",
    "StrategyTitle",
    "TitleRow",
    "break_even",
    "load_strategy",
    "pair_titles",
    "title_row",
]


@dataclass(frozen=True)
class RungFigures:
    """One rung as the dashboard uses it."""

    width: int
    height: int
    kbps: float
    """Measured bitrate, else predicted."""
    vmaf: float
    """Measured VMAF, else predicted."""
    vmaf_neg: float | None
    """Measured VMAF NEG (None when not measured)."""
    encode_cpu_s: float
    """Measured encode CPU seconds, else predicted (0 when unknown)."""
    measured: bool
    """Whether bitrate and VMAF were measured."""
    plain_vmaf: float | None = None
    """Ladders with the enhancement stage: the VMAF without it (``vmaf`` is the delivered one);
    None for ladders without the stage."""
    enhanced: bool = False
    """Whether players with the stage run it on this rung."""


@dataclass(frozen=True)
class StrategyTitle:
    """One title of one strategy."""

    title: str
    duration_s: float
    frames: int
    device: str
    """``cpu`` or ``gpu``: how the encodes are priced."""
    view_hours: float | None
    """View-hours the ladder was priced with (None: the cost model's)."""
    rungs: tuple[RungFigures, ...]

    def to_json(self) -> dict[str, Any]:
        """Compact form for the page: rungs as [w, h, kbps, vmaf, neg, cpu_s, measured,
        plain_vmaf, enhanced]."""
        return {
            "title": self.title,
            "duration_s": self.duration_s,
            "frames": self.frames,
            "device": self.device,
            "view_hours": self.view_hours,
            "rungs": [
                [r.width, r.height, round(r.kbps, 3), round(r.vmaf, 3),
                 None if r.vmaf_neg is None else round(r.vmaf_neg, 3),
                 round(r.encode_cpu_s, 3), int(r.measured),
                 None if r.plain_vmaf is None else round(r.plain_vmaf, 3), int(r.enhanced)]
                for r in self.rungs
            ],
        }  # fmt: skip


def _figures(ladder: Ladder) -> StrategyTitle:
    if ladder.source is None:
        raise UsageError(f"{ladder.title}: the ladder JSON has no source; it cannot be priced.")
    rungs = []
    for r in ladder.rungs:
        measured = r.measured_bitrate_kbps is not None and r.measured_vmaf is not None
        cpu = r.cost.encode_cpu_s_measured
        stage = r.enhance
        vmaf: float = r.measured_vmaf if measured else r.vmaf  # type: ignore[assignment]
        plain = vmaf if ladder.enhance is not None else None  # a rung the stage leaves alone
        rungs.append(
            RungFigures(
                r.settings.width,
                r.settings.height,
                r.measured_bitrate_kbps if measured else r.bitrate_kbps,  # type: ignore[arg-type]
                stage.delivered.vmaf if stage else vmaf,
                stage.delivered.vmaf_neg if stage else r.measured_vmaf_neg,
                cpu if cpu is not None else (r.cost.encode_cpu_s or 0.0),
                measured,
                plain_vmaf=stage.plain.vmaf if stage else plain,
                enhanced=bool(stage and stage.enabled),
            )
        )
    device = "gpu" if ladder.rungs and ladder.rungs[0].settings.codec.startswith("nvenc") else "cpu"
    return StrategyTitle(
        ladder.title,
        ladder.source.duration_s,
        ladder.source.frame_count,
        device,
        ladder.cost.view_hours if ladder.cost else None,
        tuple(sorted(rungs, key=lambda f: f.kbps)),
    )


def load_strategy(folder: str | os.PathLike[str]) -> dict[str, StrategyTitle]:
    """Title -> figures of every ``<title>/<title>.ladder.json`` under an output folder."""
    root = Path(folder)
    if not root.is_dir():
        raise MediaNotFoundError(
            f"{root}: no such folder (an output folder of 'ladderforge ladder')", path=root
        )
    files = sorted(root.glob("*/*.ladder.json"))
    if not files:
        raise UsageError(f"{root}: no <title>/<title>.ladder.json in it; is it an output folder?")
    out: dict[str, StrategyTitle] = {}
    for path in files:
        ladder = Ladder.read(path)  # UsageError naming the file
        if ladder.rungs:
            out[ladder.title] = _figures(ladder)
    return out


def pair_titles(
    a: dict[str, StrategyTitle], b: dict[str, StrategyTitle]
) -> tuple[list[str], list[str]]:
    """Titles in both (sorted), and a note per title found in only one."""
    both = sorted(set(a) & set(b))
    notes = [f"{t}: only in A, left out" for t in sorted(set(a) - set(b))]
    notes += [f"{t}: only in B, left out" for t in sorted(set(b) - set(a))]
    if not both:
        raise UsageError("the two folders have no title in common; nothing to compare")
    return both, notes


@dataclass(frozen=True)
class TitleRow:
    """One strategy's figures for one title under a cost model (USD unless said)."""

    view_hours: float
    encode_usd: float
    storage_usd: float
    egress_usd: float
    total_usd: float
    storage_gb: float
    egress_gb: float
    view_weighted_kbps: float
    view_weighted_vmaf: float
    view_weighted_vmaf_neg: float | None
    view_weighted_plain_vmaf: float | None
    """Ladders with the enhancement stage: the view-weighted VMAF of players without it."""
    enhanced_rungs: int
    """Rungs that players with the stage enhance."""
    egress_usd_per_view_hour: float
    """At the marginal egress price (break-even views)."""
    managed_usd: float | None
    """A managed service's price for the same number of rendition-minutes (reference)."""

    @property
    def fixed_usd(self) -> float:
        return self.encode_usd + self.storage_usd


def _weighted(shares: list[float], values: list[float | None]) -> float | None:
    """Share-weighted sum; None when a value is missing."""
    total = 0.0
    for share, value in zip(shares, values, strict=True):
        if value is None:
            return None
        total += share * value
    return total


def title_row(title: StrategyTitle, model: CostModel) -> TitleRow:
    """The strategy's costs and view-weighted figures for the title."""
    views = title.view_hours if title.view_hours is not None else model.expected_view_hours
    priced = replace(model, expected_view_hours=views)
    spend = [RungSpend(title.device, r.kbps, r.encode_cpu_s, title.frames) for r in title.rungs]
    costs = ladder_costs(spend, duration_s=title.duration_s, model=priced)
    shares = [c.view_share for c in costs]
    negs = [r.vmaf_neg for r in title.rungs]
    price = model.marginal_egress_gb_usd()
    minutes = title.duration_s / 60 * len(title.rungs)
    return TitleRow(
        view_hours=views,
        encode_usd=sum(c.encode_usd for c in costs),
        storage_usd=sum(c.storage_usd for c in costs),
        egress_usd=sum(c.delivery_usd for c in costs),
        total_usd=sum(c.total_usd for c in costs),
        storage_gb=sum(c.size_gb for c in costs),
        egress_gb=sum(c.delivered_gb for c in costs),
        view_weighted_kbps=sum(s * r.kbps for s, r in zip(shares, title.rungs, strict=True)),
        view_weighted_vmaf=sum(s * r.vmaf for s, r in zip(shares, title.rungs, strict=True)),
        view_weighted_vmaf_neg=_weighted(shares, negs),
        view_weighted_plain_vmaf=_weighted(shares, [r.plain_vmaf for r in title.rungs]),
        enhanced_rungs=sum(r.enhanced for r in title.rungs),
        egress_usd_per_view_hour=sum(
            s * r.kbps * 3600 / 8 / 1e6 * price for s, r in zip(shares, title.rungs, strict=True)
        ),
        managed_usd=None if model.managed_usd_per_minute is None
        else minutes * model.managed_usd_per_minute,
    )  # fmt: skip


def break_even(a: TitleRow, b: TitleRow) -> float | None:
    """View-hours at which B's extra encode and storage is repaid by the egress it saves."""
    return break_even_view_hours(
        extra_fixed_usd=b.fixed_usd - a.fixed_usd,
        egress_saved_usd_per_view_hour=a.egress_usd_per_view_hour - b.egress_usd_per_view_hour,
    )
