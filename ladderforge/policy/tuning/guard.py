"""The honesty guard: a tuned parameter set is accepted only if it gains on VMAF **and** does not
lose on VMAF NEG and PSNR-Y beyond a stated margin.

Why: psy-rd, psy-rdoq, weak deblocking and AQ can raise VMAF by adding or keeping high-frequency
energy that VMAF rewards and the eye or a plain fidelity metric may not (VMAF NEG is Netflix's
model with that "enhancement gain" taken out). A set whose gain shows on VMAF alone is not a
gain. Each metric's figure is the BD-rate of the tuned curve against the default curve on that
metric (bits at equal VMAF, equal VMAF NEG, equal PSNR-Y), averaged over the segments, with the
same fallback as the study's objective
(:func:`~ladderforge.policy.tuning.objectives.bits_delta_pct`).

Margins (:class:`GuardMargins`, stated and recorded with every verdict): the VMAF BD-rate must be
at most -1 % (a gain smaller than that is within the run-to-run noise of short segments), and
the VMAF NEG and PSNR-Y BD-rates at most +1 % (a loss of up to 1 % bits at equal NEG or PSNR is
tolerated; more is a loss).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from ladderforge.errors import UsageError
from ladderforge.policy.tuning.objectives import CurvePoint, bits_delta_pct

__all__ = ["GuardMargins", "GuardVerdict", "judge"]


@dataclass(frozen=True)
class GuardMargins:
    """The stated margins of the guard, in percent of bits at equal quality."""

    min_vmaf_gain_pct: float = 1.0
    """The VMAF BD-rate must be <= minus this."""
    max_vmaf_neg_loss_pct: float = 1.0
    """The VMAF NEG BD-rate must be <= this."""
    max_psnr_y_loss_pct: float = 1.0
    """The PSNR-Y BD-rate must be <= this."""

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not value >= 0:
                raise UsageError(
                    f"The {name!r} parameter of GuardMargins must be >= 0. Got {value!r}."
                )

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class GuardVerdict:
    """The guard's judgement of a tuned set against the defaults."""

    accepted: bool
    bd_rate_vmaf_pct: float
    """Bits at equal VMAF, percent (negative = fewer)."""
    bd_rate_vmaf_neg_pct: float
    """Bits at equal VMAF NEG."""
    bd_rate_psnr_y_pct: float
    """Bits at equal PSNR-Y."""
    reasons: tuple[str, ...]
    """Why it was rejected (empty when accepted)."""
    margins: GuardMargins

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["reasons"] = list(self.reasons)
        return data


def _mean_delta(baselines: Sequence[Sequence[CurvePoint]], tests: Sequence[Sequence[CurvePoint]],
                metric: str) -> float:  # fmt: skip
    deltas = [bits_delta_pct(b, t, metric)[0] for b, t in zip(baselines, tests, strict=True)]
    return sum(deltas) / len(deltas)


def judge(
    baselines: Sequence[Sequence[CurvePoint]],
    tests: Sequence[Sequence[CurvePoint]],
    *,
    margins: GuardMargins | None = None,
) -> GuardVerdict:
    """Accept or reject the tuned curves ``tests`` (one per segment) against the default curves
    ``baselines`` of the same segments and CRFs."""
    margins = margins or GuardMargins()
    if not baselines or len(baselines) != len(tests):
        raise UsageError(
            "judge needs one tuned curve per default curve. Got "
            f"{len(baselines)} default and {len(tests)} tuned curves instead."
        )
    vmaf = _mean_delta(baselines, tests, "vmaf")
    neg = _mean_delta(baselines, tests, "vmaf_neg")
    psnr = _mean_delta(baselines, tests, "psnr_y")
    reasons = []
    if vmaf > -margins.min_vmaf_gain_pct:
        reasons.append(
            f"VMAF BD-rate {vmaf:+.2f} % is not a gain of {margins.min_vmaf_gain_pct:g} %"
        )
    if neg > margins.max_vmaf_neg_loss_pct:
        reasons.append(
            f"VMAF NEG BD-rate {neg:+.2f} % loses more than {margins.max_vmaf_neg_loss_pct:g} %"
        )
    if psnr > margins.max_psnr_y_loss_pct:
        reasons.append(
            f"PSNR-Y BD-rate {psnr:+.2f} % loses more than {margins.max_psnr_y_loss_pct:g} %"
        )
    return GuardVerdict(not reasons, vmaf, neg, psnr, tuple(reasons), margins)
