"""``--config ladder.toml``: every ladder and cost setting in one file, by the library's names.

Top-level keys are :class:`~ladderforge.jobs.config.LadderConfig` fields (``mode``, ``codec``,
``heights``, ``top_vmaf``, ``tolerance``...), the ``[cost]`` table holds
:class:`~ladderforge.policy.cost.CostModel` fields. Unknown keys are an error naming the file,
the key and the known names, so a typo never passes silently.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from ladderforge.errors import MediaNotFoundError, UsageError
from ladderforge.jobs.config import LadderConfig
from ladderforge.policy.cost import CostModel

__all__ = ["read_settings"]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_PATHS = {"model_path", "work_dir", "tuned"}
_TUPLES = {"heights", "crfs", "sweep_crfs", "probe_crfs", "bottom_probe_crfs"}


def read_settings(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The file's settings as keyword arguments of :class:`LadderConfig` (``cost`` made a
    :class:`CostModel`), checked: unknown names and unreadable files are errors."""
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text())
    except OSError as exc:
        raise MediaNotFoundError(f"{file}: cannot read ({exc.strerror})", path=file) from exc
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{file}: not valid TOML ({exc})", path=file) from exc
    known = {f.name for f in fields(LadderConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise UsageError(
            f"{file}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
            path=file,
        )
    values = dict(data)
    if "cost" in values:
        cost = values["cost"]
        cost_known = {f.name for f in fields(CostModel)}
        if not isinstance(cost, dict) or set(cost) - cost_known:
            bad = sorted(set(cost) - cost_known) if isinstance(cost, dict) else ["(not a table)"]
            raise UsageError(
                f"{file}: unknown [cost] setting(s) {', '.join(bad)}; known: "
                f"{', '.join(sorted(cost_known))}",
                path=file,
            )
        if "view_share" in cost:
            cost["view_share"] = tuple(cost["view_share"])
        for name in ("egress_tiers", "bandwidth_mix"):  # pairs; an open tier's bound is inf
            if name in cost:
                cost[name] = tuple((math.inf if a is None else a, b) for a, b in cost[name])
        values["cost"] = CostModel(**cost)
    for name in _PATHS & set(values):
        values[name] = Path(values[name])
    for name in _TUPLES & set(values):
        values[name] = tuple(values[name])
    return values
