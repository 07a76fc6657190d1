"""``cost.toml``: the cost assumptions as data, each price beside its source.

The shipped file (``ladderforge/policy/cost.toml``) holds the defaults of
:class:`~ladderforge.policy.cost.CostModel`; a user's file has the same shape and may leave out
anything (the default stands) or give a bare number instead of a table (``cpu_hour_usd = 0.05``).
Unknown names are an error naming the file and the known names, so a typo never passes silently.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

from ladderforge.errors import MediaNotFoundError, UsageError
from ladderforge.policy.cost import CostModel

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["CostFile", "load_cost_file"]

_SCALARS = (
    "cpu_hour_usd",
    "gpu_hour_usd",
    "storage_gb_month_usd",
    "egress_gb_usd",
    "storage_months",
    "expected_view_hours",
    "nvenc_fps",
    "managed_usd_per_minute",
)
_TABLES = {*_SCALARS, "egress", "bandwidth_mix", "view_share"}


@dataclass(frozen=True)
class CostFile:
    """A cost model and where each of its figures comes from."""

    model: CostModel
    """The prices and audience."""
    sources: dict[str, dict[str, str]] = field(default_factory=dict)
    """Field (``cpu_hour_usd``, ``egress``, ``bandwidth_mix``...) -> its source, url, date and
    notes as written in the file (text only)."""
    path: str = "(shipped defaults)"
    """The file read."""


def _text_only(table: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in table.items() if isinstance(v, str)}


def _number(file: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UsageError(f"{file}: '{name}' must be a finite number. Got {value!r} instead.")
    return float(value)


def _egress(file: str, table: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "platform_egress_tb_month" in table:
        out["platform_egress_tb_month"] = _number(
            file, "egress.platform_egress_tb_month", table["platform_egress_tb_month"]
        )
    if "tiers" in table:
        tiers = []
        for i, tier in enumerate(table["tiers"]):
            upper = tier.get("up_to_tb")
            bound = math.inf if upper is None else _number(file, f"tier {i} up_to_tb", upper) * 1e3
            tiers.append((bound, _number(file, f"tier {i} usd_per_gb", tier.get("usd_per_gb"))))
        out["egress_tiers"] = tuple(tiers)
    return out


def _values(file: str, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    unknown = sorted(set(data) - _TABLES)
    if unknown:
        raise UsageError(
            f"{file}: unknown cost setting(s) {', '.join(unknown)}; known: "
            f"{', '.join(sorted(_TABLES))}"
        )
    values: dict[str, Any] = {}
    sources: dict[str, dict[str, str]] = {}
    for name, entry in data.items():
        table = entry if isinstance(entry, dict) else {"value": entry}
        sources[name] = _text_only(table)
        if name == "egress":
            values |= _egress(file, table)
        elif name == "bandwidth_mix":
            classes: list[dict[str, Any]] = table.get("classes") or table.get("value") or []
            values["bandwidth_mix"] = tuple(
                (_number(file, "bandwidth_mix kbps", c.get("kbps")),
                 _number(file, "bandwidth_mix share", c.get("share")))
                for c in classes
            )  # fmt: skip
        elif name == "view_share":
            values["view_share"] = tuple(_number(file, name, v) for v in table["value"])
        elif "value" in table:
            values[name] = _number(file, name, table["value"])
    return values, sources


def load_cost_file(path: str | os.PathLike[str] | None = None) -> CostFile:
    """The cost model of a ``cost.toml`` (None: the shipped defaults), checked."""
    if path is None:
        text = resources.files("ladderforge.policy").joinpath("cost.toml").read_text()
        file = "(shipped cost.toml)"
    else:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise MediaNotFoundError(
                f"{path}: cannot read ({exc.strerror})", path=Path(path)
            ) from exc
        file = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{file}: not valid TOML ({exc})") from exc
    values, sources = _values(file, data)
    known = {f.name for f in fields(CostModel)}
    assert set(values) <= known  # _values only produces CostModel fields
    return CostFile(replace(CostModel(), **values), sources, file)
