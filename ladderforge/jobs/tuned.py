"""Applying tuned parameter sets (``ladder --tuned [FILE]``): read the file, pick the title's set.

The file is what ``ladderforge tune`` writes (:class:`~ladderforge.policy.tuning.TunedSets`).
The title's content class comes from its analysis features
(:func:`~ladderforge.policy.tuning.classify`); the set of (codec, preset, class) gives the
parameters every encode of the title uses, probes and sweeps included. A set the honesty guard
did not accept carries no parameters: the title is encoded with the preset's defaults and the
ladder says so.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from ladderforge.errors import MediaNotFoundError, UsageError
from ladderforge.policy.tuning import TunedSets, classify
from ladderforge.types import TuningRef

__all__ = ["SHIPPED_TUNED_SETS", "check_tuned_file", "read_tuned_sets", "tuning_for"]

SHIPPED_TUNED_SETS = Path(__file__).resolve().parents[1] / "policy" / "tuning" / "tuned_sets.json"
"""The sets that ship with the package (``ladder --tuned shipped``): x265 veryfast and medium,
one per content class, from experiments/tune_x265 (its RESULTS.md has the held-out figures;
the file's provenance names the training titles with their licences)."""


def read_tuned_sets(path: str | os.PathLike[str]) -> TunedSets:
    """The tuned-sets file at ``path``; an error naming the file when it is missing or not one."""
    file = Path(path)
    if file == SHIPPED_TUNED_SETS and not file.is_file():
        raise UsageError(
            f"{file}: the shipped tuned sets are missing from this installation (reinstall "
            "ladderforge); or run 'ladderforge tune TITLES... -o DIR' and pass "
            "'--tuned DIR/tuned.json'"
        )
    try:
        data = json.loads(file.read_text())
    except OSError as exc:
        raise MediaNotFoundError(f"{file}: cannot read ({exc.strerror})", path=file) from exc
    except ValueError as exc:
        raise UsageError(f"{file}: not valid JSON ({exc})", path=file) from exc
    return TunedSets.from_dict(data, where=str(file))


def check_tuned_file(path: str | os.PathLike[str], codec: str, preset: str) -> None:
    """Before any work: the file reads and has a set for ``codec`` at ``preset``."""
    sets = read_tuned_sets(path)
    have = sorted({f"{s.codec} {s.preset}" for s in sets.sets})
    if f"{codec} {preset}" not in have:
        raise UsageError(
            f"{path}: has no tuned set for {codec} preset {preset} (it has: "
            f"{', '.join(have) or 'none'}); tune that preset or pick one of these"
        )


def tuning_for(
    path: str | os.PathLike[str], *, codec: str, preset: str, features: Mapping[str, object]
) -> TuningRef:
    """The tuned set a title with these analysis ``features`` gets, as the ladder records it."""
    cls = classify(features)
    chosen = read_tuned_sets(path).choose(codec, preset, cls.name)
    if chosen is None:
        return TuningRef(str(path), cls.name, cls.reason, None, False)
    return TuningRef(
        file=str(path),
        content_class=cls.name,
        class_reason=cls.reason,
        set=chosen.name,
        accepted=chosen.accepted,
        params=chosen.params if chosen.accepted else (),
        tune=chosen.tune if chosen.accepted else None,
        bd_rate_vmaf_pct=chosen.bd_rate_vmaf_pct,
        bd_rate_vmaf_neg_pct=chosen.bd_rate_vmaf_neg_pct,
        bd_rate_psnr_y_pct=chosen.bd_rate_psnr_y_pct,
        cpu_ratio=chosen.cpu_ratio,
    )
