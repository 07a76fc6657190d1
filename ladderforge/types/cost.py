"""What a ladder costs as a whole, and the choices a cost-aware decision weighed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["CostChoice", "CostDecision", "LadderCost"]


@dataclass(frozen=True)
class CostChoice:
    """One ladder the objective ``view-weighted VMAF - lambda x cost`` weighed."""

    rungs: int
    """Number of rungs."""
    kbps: tuple[float, ...]
    """The rungs' bitrates, lowest first."""
    presets: tuple[str, ...]
    """The rungs' encoder presets."""
    view_weighted_vmaf: float
    """Mean VMAF a view-hour gets (each viewer class on the rung its bandwidth allows)."""
    fixed_usd: float
    """Encode + storage: spent once, whatever the views."""
    egress_usd_per_view_hour: float
    """Delivery per view-hour at the marginal egress price."""
    objective: float
    """view_hours x view_weighted_vmaf - lambda x (fixed + view_hours x egress), VMAF-hours."""
    chosen: bool
    """Whether this is the ladder that shipped."""
    break_even_view_hours: float | None
    """Views at which this choice and the chosen one score the same (None: they never cross
    for a positive number of views; None for the chosen one)."""

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["kbps"], out["presets"] = list(self.kbps), list(self.presets)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CostChoice:
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["kbps"], values["presets"] = tuple(values["kbps"]), tuple(values["presets"])
        return cls(**values)


@dataclass(frozen=True)
class CostDecision:
    """How cost chose the ladder: the weight, the budget, the audience and the choices."""

    cost_lambda: float
    """VMAF-hours one USD is worth (found by bisection when a budget was given)."""
    budget_usd: float | None
    """The budget per title, when the ladder was chosen under one."""
    view_hours: float
    """The title's expected view-hours."""
    marginal_egress_gb_usd: float
    """The egress price per GB the decision used (the tier above the platform's traffic)."""
    choices: tuple[CostChoice, ...]
    """The best ladder for each number of rungs, the chosen one marked."""

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["choices"] = [c.to_dict() for c in self.choices]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CostDecision:
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["choices"] = tuple(CostChoice.from_dict(c) for c in data.get("choices", ()))
        return cls(**values)


@dataclass(frozen=True)
class LadderCost:
    """The title's costs under the cost model (USD), and the decision when cost made it."""

    view_hours: float
    """Expected view-hours of the title."""
    encode_usd: float
    storage_usd: float
    egress_usd: float
    """Delivery at the tiered egress prices."""
    total_usd: float
    egress_gb: float
    """GB delivered over the view-hours."""
    view_share: tuple[float, ...]
    """Share of view-hours per rung, lowest first."""
    view_weighted_vmaf: float | None
    """Mean VMAF a view-hour gets (measured VMAF where the rung was measured)."""
    decision: CostDecision | None = None
    """Set when ``--lambda`` or ``--budget`` chose the ladder."""

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["view_share"] = list(self.view_share)
        out["decision"] = self.decision.to_dict() if self.decision else None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LadderCost:
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["view_share"] = tuple(values.get("view_share", ()))
        values["decision"] = (
            CostDecision.from_dict(data["decision"]) if data.get("decision") else None
        )
        return cls(**values)
