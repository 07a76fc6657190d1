"""Cost in the main job: choosing the rungs (by the spacing rules, or by value when the
configuration gives ``cost_lambda`` or ``budget_usd``) and pricing the ladder that ships."""

from __future__ import annotations

from dataclasses import replace

from ladderforge.jobs.context import TitleJob
from ladderforge.policy import ladder_from_hull
from ladderforge.policy.cost import CostModel, RungSpend, ladder_costs
from ladderforge.policy.value import ValueInputs, ladder_by_value
from ladderforge.types import CostDecision, LadderCost, RDPoint, Rung, SourceInfo

__all__ = ["choose_rungs", "ladder_cost", "price_ladder", "priced_rungs", "with_costs"]


def choose_rungs(
    job: TitleJob, points: list[RDPoint]
) -> tuple[list[Rung], list[str], CostDecision | None]:
    """The rungs, notes and (when cost chose them) the decision, from the mode's RD points."""
    config = job.config
    if config.cost_lambda is None and config.budget_usd is None:
        rungs, notes = ladder_from_hull(
            points, source_height=job.info.height, **config.ladder_options()
        )
        return rungs, notes, None
    inputs = ValueInputs(
        duration_s=job.info.duration_s, frames=job.info.frame_count, device=job.facts.device
    )
    return ladder_by_value(
        points,
        source_height=job.info.height,
        model=config.cost,
        inputs=inputs,
        cost_lambda=config.cost_lambda,
        budget_usd=config.budget_usd,
        **config.ladder_options(),
    )


def _spend(rungs: list[Rung], device: str, frames: int) -> list[RungSpend]:
    return [
        RungSpend(device, r.measured_bitrate_kbps or r.bitrate_kbps, _encode_cpu_s(r), frames)
        for r in rungs
    ]


def with_costs(job: TitleJob, rungs: list[Rung]) -> list[Rung]:
    """The rungs with their prices (encode, storage, delivery) from the config's cost model."""
    return priced_rungs(rungs, info=job.info, device=job.facts.device, model=job.config.cost)


def priced_rungs(
    rungs: list[Rung], *, info: SourceInfo, device: str, model: CostModel
) -> list[Rung]:
    """The rungs with their prices (encode, storage, delivery) under ``model``."""
    if not rungs:
        return rungs
    spend = _spend(rungs, device, info.frame_count)
    costs = ladder_costs(spend, duration_s=info.duration_s, model=model)
    return [
        replace(
            r,
            cost=replace(
                r.cost,
                encode_usd=c.encode_usd,
                storage_usd=c.storage_usd,
                delivery_usd=c.delivery_usd,
                total_usd=c.total_usd,
            ),
        )
        for r, c in zip(rungs, costs, strict=True)
    ]


def ladder_cost(job: TitleJob, rungs: list[Rung], decision: CostDecision | None) -> LadderCost:
    """The whole ladder's costs under the job's cost model (see :func:`price_ladder`)."""
    return price_ladder(
        rungs, info=job.info, device=job.facts.device, model=job.config.cost, decision=decision
    )


def price_ladder(
    rungs: list[Rung],
    *,
    info: SourceInfo,
    device: str,
    model: CostModel,
    decision: CostDecision | None = None,
) -> LadderCost:
    """The whole ladder's costs (tiered egress) and view-weighted VMAF (measured where known)."""
    costs = ladder_costs(
        _spend(rungs, device, info.frame_count), duration_s=info.duration_s, model=model
    )
    shares = tuple(c.view_share for c in costs)
    vmaf = [r.known_vmaf for r in rungs]
    return LadderCost(
        view_hours=model.expected_view_hours,
        encode_usd=sum(c.encode_usd for c in costs),
        storage_usd=sum(c.storage_usd for c in costs),
        egress_usd=sum(c.delivery_usd for c in costs),
        total_usd=sum(c.total_usd for c in costs),
        egress_gb=sum(c.delivered_gb for c in costs),
        view_share=shares,
        view_weighted_vmaf=sum(s * q for s, q in zip(shares, vmaf, strict=True)) if rungs else None,
        decision=decision,
    )


def _encode_cpu_s(rung: Rung) -> float:
    """Measured encode CPU seconds when the rung was encoded, else the prediction."""
    if rung.cost.encode_cpu_s_measured is not None:
        return rung.cost.encode_cpu_s_measured
    return rung.cost.encode_cpu_s or 0.0
