"""Strategy runs on the same titles: ``apple`` (the fixed ladder, :mod:`ladderforge.jobs.fixed`)
and ``ladderforge[:key=value,...]`` (the main job with :class:`LadderConfig` settings), each into
``OUT/<name>/``, every rung encoded and measured, so that the dashboard compares real figures.

A strategy spec: ``NAME[:key=value,key=value...]``. ``apple`` takes no keys but ``name``.
``ladderforge`` takes any :class:`LadderConfig` field (``mode=probe``, ``per_scene=true``,
``cost_lambda=10``, ``heights=720/540/360``) and ``name`` (its folder; default ``ladderforge``,
``ladderforge-2`` for a second one). Every strategy uses the same codec, preset and cost model.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ladderforge.errors import UsageError
from ladderforge.jobs.batch import TitleSource, check_sources, run_batch
from ladderforge.jobs.config import LadderConfig
from ladderforge.jobs.fixed import plan_fixed_title
from ladderforge.policy.cost import CostModel

__all__ = ["Strategy", "parse_strategy", "run_compare"]

_KINDS = ("apple", "ladderforge")
_TUPLES = {"heights", "crfs", "sweep_crfs", "probe_crfs", "bottom_probe_crfs"}


@dataclass(frozen=True)
class Strategy:
    """One strategy of a comparison."""

    kind: str
    """``apple`` or ``ladderforge``."""
    name: str
    """Its output folder under OUT."""
    options: dict[str, Any] = field(default_factory=dict)
    """LadderConfig settings (``ladderforge`` only)."""


def _value(text: str) -> Any:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_strategy(spec: str, *, taken: Sequence[str] = ()) -> Strategy:
    """A strategy from its spec (see the module doc); ``taken``: names already used."""
    kind, _, rest = spec.partition(":")
    if kind not in _KINDS:
        raise UsageError(f"unknown strategy {kind!r} in {spec!r}; known: {', '.join(_KINDS)}")
    options: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, eq, text = item.partition("=")
        if not eq:
            raise UsageError(f"strategy {spec!r}: {item!r} is not key=value")
        options[key.strip()] = text.strip()
    name = str(options.pop("name", kind))
    if name in taken:
        name = f"{kind}-{len(taken) + 1}"
    known = {f.name for f in fields(LadderConfig)} - {"cost", "codec", "preset"}
    if kind == "apple" and options:
        raise UsageError(f"strategy {spec!r}: apple takes no settings but name")
    unknown = sorted(set(options) - known)
    if unknown:
        raise UsageError(
            f"strategy {spec!r}: unknown setting(s) {', '.join(unknown)}; codec, preset and "
            "cost are shared by every strategy (--codec, --preset, --cost)"
        )
    parsed = {
        k: tuple(_value(x) for x in v.split("/")) if k in _TUPLES else _value(v)
        for k, v in options.items()
    }
    return Strategy(kind, name, parsed)


def run_compare(
    sources: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    strategies: Sequence[Strategy],
    *,
    codec: str = "x265",
    preset: str | None = None,
    cost: CostModel | None = None,
    workers: int = 1,
    on_stage: Callable[[str, str], None] | None = None,
) -> dict[str, Path]:
    """Run every strategy on every title; strategy name -> its output folder.

    A ``ladderforge`` strategy validates (encodes and measures) every rung unless its options
    say otherwise; failures of single titles are in that folder's batch summary, as with
    ``ladderforge ladder``."""
    if not strategies:
        raise UsageError("give at least one --strategy (e.g. --strategy apple)")
    titles = [TitleSource(Path(s)) for s in sources]
    check_sources(titles)
    model = cost or CostModel()
    out = Path(out_dir)
    folders: dict[str, Path] = {}
    for strategy in strategies:
        folder = out / strategy.name
        if strategy.kind == "apple":
            for t in titles:
                plan_fixed_title(
                    t.path, folder, codec=codec, preset=preset, cost=model, title=t.title,
                    on_stage=on_stage,
                )  # fmt: skip
        else:
            options = {"validate": True, **strategy.options}
            config = LadderConfig(
                codec=codec, preset=preset, cost=model, workers=workers, **options
            )
            run_batch(titles, folder, config=config, on_stage=on_stage)
        folders[strategy.name] = folder
    return folders
