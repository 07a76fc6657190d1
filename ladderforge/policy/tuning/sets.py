"""Tuned parameter sets: which trial of a study becomes a class's set, and the data file that
ships them with their provenance.

:func:`pick_set` chooses, among a study's Pareto-optimal trials (bits vs CPU time), the one with
the fewest bits at equal VMAF that the honesty guard accepts within the CPU budget; when none
qualifies, the class keeps the preset's defaults and the file says why. :class:`TunedSets` is
the file (``ladderforge.tuned/1``, JSON): one :class:`TunedSet` per (codec, preset, class).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ladderforge.errors import UsageError
from ladderforge.policy.tuning.guard import GuardVerdict

__all__ = ["TUNED_SCHEMA", "Candidate", "TunedSet", "TunedSets", "class_set", "pick_set"]

TUNED_SCHEMA = "ladderforge.tuned/1"


@dataclass(frozen=True)
class Candidate:
    """One finished trial offered to :func:`pick_set`."""

    trial: int
    """optuna's trial number."""
    params: tuple[tuple[str, str], ...]
    tune: str | None
    bits_pct: float
    """The study objective: bits at equal VMAF against the defaults, percent."""
    cpu_ratio: float
    """The study objective: CPU seconds over the defaults'."""
    verdict: GuardVerdict


def pick_set(candidates: Sequence[Candidate], *, max_cpu_ratio: float = 1.2) -> Candidate | None:
    """The accepted candidate with the fewest bits among those within ``max_cpu_ratio`` of the
    default's CPU time (ties: the cheaper one); None when none qualifies."""
    ok = [c for c in candidates if c.verdict.accepted and c.cpu_ratio <= max_cpu_ratio]
    return min(ok, key=lambda c: (c.bits_pct, c.cpu_ratio)) if ok else None


@dataclass(frozen=True)
class TunedSet:
    """The tuned parameters of one (codec, preset, content class), with what they were judged on."""

    codec: str
    preset: str
    content_class: str
    params: tuple[tuple[str, str], ...]
    """``EncodeSettings.params`` to apply (empty: the preset's defaults)."""
    tune: str | None = None
    """``EncodeSettings.tune`` to apply (NVENC), None: unchanged."""
    accepted: bool = False
    """Whether a trial passed the guard and the CPU budget (False: the defaults are kept)."""
    trial: int | None = None
    """The study trial the set comes from."""
    bd_rate_vmaf_pct: float | None = None
    bd_rate_vmaf_neg_pct: float | None = None
    bd_rate_psnr_y_pct: float | None = None
    cpu_ratio: float | None = None
    """Encode CPU seconds over the defaults' on the study segments."""
    titles: tuple[str, ...] = ()
    """The titles whose segments the study ran on."""
    note: str = ""
    """Why the defaults were kept, or anything else a reader needs."""

    @property
    def name(self) -> str:
        """``codec/preset/class``: how a ladder names the set it used."""
        return f"{self.codec}/{self.preset}/{self.content_class}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "codec": self.codec,
            "preset": self.preset,
            "content_class": self.content_class,
            "params": [list(p) for p in self.params],
            "tune": self.tune,
            "accepted": self.accepted,
            "trial": self.trial,
            "bd_rate_vmaf_pct": self.bd_rate_vmaf_pct,
            "bd_rate_vmaf_neg_pct": self.bd_rate_vmaf_neg_pct,
            "bd_rate_psnr_y_pct": self.bd_rate_psnr_y_pct,
            "cpu_ratio": self.cpu_ratio,
            "titles": list(self.titles),
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TunedSet:
        values = dict(data)
        values["params"] = tuple((str(k), str(v)) for k, v in values.get("params", ()))
        values["titles"] = tuple(values.get("titles", ()))
        return cls(**values)


@dataclass(frozen=True)
class TunedSets:
    """The content of a tuned-sets file."""

    sets: tuple[TunedSet, ...]
    provenance: dict[str, Any] = field(default_factory=dict)
    """What made the sets: tool versions, sources and hashes, segments, CRFs, trials, sampler,
    margins, date."""

    def choose(self, codec: str, preset: str, content_class: str) -> TunedSet | None:
        """The set for (codec, preset, class), None when the file has none."""
        for s in self.sets:
            if (s.codec, s.preset, s.content_class) == (codec, preset, content_class):
                return s
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": TUNED_SCHEMA,
            "provenance": self.provenance,
            "sets": [s.to_dict() for s in self.sets],
        }

    @classmethod
    def from_dict(cls, data: Any, *, where: str = "tuned sets") -> TunedSets:
        if not isinstance(data, dict) or data.get("schema") != TUNED_SCHEMA:
            got = data.get("schema") if isinstance(data, dict) else type(data).__name__
            raise UsageError(
                f"{where}: not a tuned-sets file (schema {TUNED_SCHEMA!r} expected, got "
                f"{got!r}); write one with 'ladderforge tune'."
            )
        try:
            sets = tuple(TunedSet.from_dict(s) for s in data["sets"])
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"{where}: a tuned set is malformed ({exc})") from exc
        return cls(sets=sets, provenance=dict(data.get("provenance") or {}))


def class_set(
    candidates: Sequence[Candidate],
    *,
    codec: str,
    preset: str,
    content_class: str,
    titles: Sequence[str] = (),
    max_cpu_ratio: float = 1.2,
) -> TunedSet:
    """The set of one class from its study's Pareto ``candidates`` (:func:`pick_set`); when
    none qualifies, an empty set (the preset's defaults) whose note says why."""
    chosen = pick_set(candidates, max_cpu_ratio=max_cpu_ratio)
    if chosen is None:
        accepted = [c for c in candidates if c.verdict.accepted]
        why = (
            f"{len(accepted)} accepted by the guard, none within {max_cpu_ratio:g}x the "
            f"default's CPU time (cheapest {min(c.cpu_ratio for c in accepted):.2f}x)"
            if accepted
            else "none accepted by the guard"
        )
        note = f"{len(candidates)} Pareto trial(s), {why}: the preset's defaults are kept"
        return TunedSet(codec, preset, content_class, (), titles=tuple(titles), note=note)
    v = chosen.verdict
    return TunedSet(
        codec=codec,
        preset=preset,
        content_class=content_class,
        params=chosen.params,
        tune=chosen.tune,
        accepted=True,
        trial=chosen.trial,
        bd_rate_vmaf_pct=v.bd_rate_vmaf_pct,
        bd_rate_vmaf_neg_pct=v.bd_rate_vmaf_neg_pct,
        bd_rate_psnr_y_pct=v.bd_rate_psnr_y_pct,
        cpu_ratio=chosen.cpu_ratio,
        titles=tuple(titles),
        note="in-sample figures (the study's own segments); evaluate on held-out titles",
    )
