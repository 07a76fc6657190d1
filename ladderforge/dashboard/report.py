"""The A/B cost report: one self-contained HTML file (plotly.js inside, gzipped; no network).

The page embeds each title's ladders and the cost assumptions, and recomputes every figure in
the browser (``report.js``) so that editing a price or the views updates totals, tables and
charts. The same tables are computed here (:func:`comparison_tables`) for the CSV/parquet
export and for the check the page shows: its totals at the file's assumptions equal these.
"""

from __future__ import annotations

import base64
import gzip
import html
import json
import math
import os
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

from ladderforge.dashboard.data import (
    StrategyTitle,
    break_even,
    load_strategy,
    pair_titles,
    title_row,
)
from ladderforge.errors import UsageError
from ladderforge.policy.cost import CostModel, viewing_shares
from ladderforge.policy.cost_file import CostFile, load_cost_file
from ladderforge.store import atomic_write_bytes

__all__ = ["Comparison", "build_report", "compare_folders", "comparison_tables", "write_report"]

_ROW_FIELDS = (
    "view_hours", "encode_usd", "storage_usd", "egress_usd", "total_usd", "storage_gb",
    "egress_gb", "view_weighted_kbps", "view_weighted_vmaf", "view_weighted_vmaf_neg",
    "view_weighted_plain_vmaf", "enhanced_rungs",
)  # fmt: skip


@dataclass(frozen=True)
class Comparison:
    """Two strategies' titles, paired, and the cost assumptions they are priced with."""

    name_a: str
    name_b: str
    titles: list[str]
    a: dict[str, StrategyTitle]
    b: dict[str, StrategyTitle]
    cost: CostFile
    notes: list[str]


def compare_folders(
    folder_a: str | os.PathLike[str],
    folder_b: str | os.PathLike[str],
    *,
    cost_path: str | os.PathLike[str] | None = None,
    name_a: str | None = None,
    name_b: str | None = None,
) -> Comparison:
    """Read two output folders and the cost file (None: the shipped one)."""
    a, b = load_strategy(folder_a), load_strategy(folder_b)
    titles, notes = pair_titles(a, b)
    for t in titles:  # one audience per title: B's recorded view-hours, else A's
        va, vb = a[t].view_hours, b[t].view_hours
        if va is not None and vb is not None and va != vb:
            notes.append(f"{t}: A was priced for {va:g} view-hours, B for {vb:g}; both use {vb:g}")
        views = vb if vb is not None else va
        a[t], b[t] = replace(a[t], view_hours=views), replace(b[t], view_hours=views)
    return Comparison(
        name_a or Path(folder_a).name,
        name_b or Path(folder_b).name,
        titles,
        a,
        b,
        load_cost_file(cost_path),
        notes,
    )


def comparison_tables(cmp: Comparison) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per-title and per-rung tables (the page's CSV exports, at the file's assumptions)."""
    model = cmp.cost.model
    rows: list[dict[str, Any]] = []
    for t in cmp.titles:
        ra, rb = title_row(cmp.a[t], model), title_row(cmp.b[t], model)
        row: dict[str, Any] = {"title": t}
        for side, figures in (("a", ra), ("b", rb)):
            row |= {f"{side}_{f}": getattr(figures, f) for f in _ROW_FIELDS}
        row["saving"] = 1 - rb.total_usd / ra.total_usd if ra.total_usd > 0 else None
        row["break_even_view_hours"] = break_even(ra, rb)
        rows.append(row)
    rungs: list[dict[str, Any]] = []
    for side, strategy in (("A", cmp.a), ("B", cmp.b)):
        for t in cmp.titles:
            st = strategy[t]
            shares = viewing_shares([r.kbps for r in st.rungs], model.bandwidth_mix)
            for r, share in zip(st.rungs, shares, strict=True):
                rungs.append(
                    {"strategy": side, "title": t, "width": r.width, "height": r.height,
                     "kbps": r.kbps, "vmaf": r.vmaf, "vmaf_neg": r.vmaf_neg,
                     "encode_cpu_s": r.encode_cpu_s, "measured": r.measured, "view_share": share,
                     "plain_vmaf": r.plain_vmaf, "enhanced": r.enhanced}
                )  # fmt: skip
    return pl.DataFrame(rows, infer_schema_length=None), pl.DataFrame(
        rungs, infer_schema_length=None
    )


def _assumptions(model: CostModel) -> dict[str, Any]:
    return {
        "cpu_hour_usd": model.cpu_hour_usd,
        "gpu_hour_usd": model.gpu_hour_usd,
        "nvenc_fps": model.nvenc_fps,
        "storage_gb_month_usd": model.storage_gb_month_usd,
        "storage_months": model.storage_months,
        "platform_egress_tb_month": model.platform_egress_tb_month,
        "egress_tiers": [[None if math.isinf(u) else u, p] for u, p in model.egress_prices],
        "bandwidth_mix": [list(c) for c in model.bandwidth_mix],
        "managed_usd_per_minute": model.managed_usd_per_minute,
        "default_view_hours": model.expected_view_hours,
        "views_multiplier": 1.0,
    }


PLOTLY_JS = "vendor/plotly-basic-4.1.1.min.js"
"""plotly.js's basic bundle (scatter, bar, pie), vendored: see vendor/README.md."""


def _plotly_gz_b64() -> str:
    code = resources.files("ladderforge.dashboard").joinpath(PLOTLY_JS).read_bytes()
    return base64.b64encode(gzip.compress(code, 9, mtime=0)).decode()


def _json_for_script(data: Any) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def build_report(cmp: Comparison) -> str:
    """The report's HTML text."""
    if cmp.cost.model.view_share:
        raise UsageError("the report shares viewing by the bandwidth mix; remove view_share")
    per_title, _ = comparison_tables(cmp)
    data = {
        "names": {"a": cmp.name_a, "b": cmp.name_b},
        "titles": cmp.titles,
        "a": [cmp.a[t].to_json() for t in cmp.titles],
        "b": [cmp.b[t].to_json() for t in cmp.titles],
        "assumptions": _assumptions(cmp.cost.model),
        "sources": cmp.cost.sources,
        "python_totals": {"a": per_title["a_total_usd"].sum(), "b": per_title["b_total_usd"].sum()},
    }
    package = resources.files("ladderforge.dashboard")
    page = package.joinpath("report.html").read_text()
    summary = (
        f"{len(cmp.titles)} titles; cost assumptions from {html.escape(cmp.cost.path)}. "
        "View-weighted figures: each class of the bandwidth mix plays the highest rung that "
        "fits its bandwidth."
    )
    replacements = {
        "__TITLE__": html.escape(f"{cmp.name_a} vs {cmp.name_b}"),
        "__NAME_A__": html.escape(cmp.name_a),
        "__NAME_B__": html.escape(cmp.name_b),
        "__SUMMARY__": summary,
        "__NOTES__": "".join(f"<li>{html.escape(n)}</li>" for n in cmp.notes),
        "__DATA__": _json_for_script(data),
        "__PLOTLY__": _plotly_gz_b64(),
        "__JS__": package.joinpath("report.js").read_text(),
    }
    for key, value in replacements.items():
        page = page.replace(key, value, 1)
    return page


def write_report(
    cmp: Comparison, out: str | os.PathLike[str], *, tables_dir: str | os.PathLike[str] | None
) -> Path:
    """Write the HTML (and, when asked, titles/rungs as CSV and parquet); returns the HTML path."""
    path = Path(out)
    atomic_write_bytes(path, build_report(cmp).encode())
    if tables_dir is not None:
        folder = Path(tables_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for name, table in zip(("titles", "rungs"), comparison_tables(cmp), strict=True):
            table.write_csv(folder / f"{name}.csv")
            table.write_parquet(folder / f"{name}.parquet")
    return path
