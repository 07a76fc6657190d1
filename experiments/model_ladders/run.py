"""Ladders chosen by a model, judged on recorded exhaustive sweeps (no new encode).

The dataset of ``experiments/build_dataset`` holds, for every sample (a 2-5 s segment of a
title), a measured sweep over every candidate height x CRF. For each title T, leaving T out:

1. an RD model is trained on the other titles' rows;
2. for each sample of T and each *variant* of the height choice (``simulate.VARIANTS``:
   predict mode, probe mode with two or three probe heights, each with or without replan
   rounds), the product's steps are replayed on T's measured curves (``simulate.py``): the
   ladder chosen on the (calibrated) surface, each rung through the product's closed loop
   (``next_q`` / ``within`` / ``pick``, tolerance 0.75, at most 3 encodes), the replans;
3. against the measured hull of the sample (every height, every CRF): each shipped rung's rate
   overhead at equal quality (its kbps / the hull's kbps at its measured VMAF - 1), the
   BD-rate of the shipped ladder against the hull, and the same for the ladder that the
   exhaustive sweep itself picks (``ladder_from_hull`` on measured points: the limit). The
   earlier figure, each rung played at the exact CRF that hits its target on the measured
   curve of its height ("exact"), is kept beside the loop's;
4. the decision's cost: rung encodes per rung, and (probe CPU + the CPU of rung encodes that
   do not ship) / the CPU of the sample's recorded sweep (and of exhaustive mode's 7-CRF
   sweep of it). Probes here are the sample's own points, so for a 2.5 s sample they cover the
   whole "title"; the product probes 3 segments of 2 s, a smaller share of a longer title.

What this measures: how much a model's choice of heights and targets costs against the hull,
with the loop as the product runs it. What it does not: full clip length, pooling over scenes,
encoder variance between a sweep and a rendition (``experiments/closed_loop`` measures those
with real encodes).

Each title's model is cached in results/models/<dataset fingerprint>/<title>.json.gz (the
fitted model saved and loaded back, so a first run and a rerun play the same model); a rerun
loads it instead of refitting when the training rows, their content features and the model's
parameters are the same.

Usage: python experiments/model_ladders/run.py [--dataset PATH] [--only TITLE ...]
       [--variants NAME ...]
Writes results/<dataset stem>.json and prints a table.
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
from heldout import held_out_model  # the script's folder
from simulate import CONFIG, VARIANTS, Outcome, Variant, play
from sweep import Sample

from ladderforge.policy import BDRateError, bd_rate, ladder_from_hull, upper_convex_hull
from ladderforge.policy.models import RDModel, fingerprint
from ladderforge.policy.saving import rate_for_quality
from ladderforge.store import atomic_write_json

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATASET = ROOT / "experiments" / "build_dataset" / "data" / "x265_veryfast.parquet"
MODELS = HERE / "results" / "models"
OVER_HULL_PCT = 5.0
"""A rung this much dearer than the hull at its VMAF counts as a height miss."""


def _bd(hull: Sequence[Any], test: Sequence[tuple[float, float]]) -> float | None:
    if len(test) < 2:
        return None
    try:
        return bd_rate(hull, test)
    except BDRateError:
        return None


def score(sample: Sample, outcome: Outcome, hull: list[Any], limit: list[Any]) -> dict[str, Any]:
    """One variant's outcome on one sample, against the measured hull."""
    hull_pairs = [(p.bitrate_kbps, p.quality) for p in hull]
    rungs = []
    for p in outcome.final:
        s = p.shipped
        curve = sample.curves[s.height]
        exact_crf, reachable = curve.crf_for(p.target)
        exact_vmaf, exact_kbps = curve.at_crf(exact_crf)
        hull_kbps, _ = rate_for_quality(hull_pairs, s.vmaf)
        rungs.append(
            {
                "height": s.height,
                "target": p.target,
                "first_q": p.first_q,
                "round": p.round,
                "attempts": [(e.height, e.q, e.vmaf, e.kbps) for e in p.attempts],
                "q": s.q,
                "vmaf": s.vmaf,
                "kbps": s.kbps,
                "reachable": reachable,
                "exact_vmaf": exact_vmaf,
                "exact_kbps": exact_kbps,
                "hull_kbps": hull_kbps,
                "overhead_pct": None if hull_kbps is None else (s.kbps / hull_kbps - 1) * 100,
            }
        )
    opened = [(p.attempts[0].kbps, p.attempts[0].vmaf) for p in outcome.first]
    heights = [r["height"] for r in sorted(rungs, key=lambda r: r["kbps"])]
    loop_cpu = outcome.encode_cpu_s - outcome.shipped_cpu_s
    extra_cpu = outcome.probe_cpu_s + loop_cpu
    return {
        "rungs": rungs,
        "open_err": [p.attempts[0].vmaf - p.target for p in outcome.first],
        "encodes": outcome.encodes,
        "probe_cpu_s": outcome.probe_cpu_s,
        "extra_cpu_s": extra_cpu,
        "probe_overhead_pct": outcome.probe_cpu_s / sample.sweep_cpu_s * 100,
        "loop_overhead_pct": loop_cpu / sample.sweep_cpu_s * 100,
        "overhead_pct": extra_cpu / sample.sweep_cpu_s * 100,
        "overhead_product_sweep_pct": extra_cpu / sample.product_sweep_cpu_s * 100,
        "resolution_dip": any(b < a for a, b in itertools.pairwise(heights)),
        "bd_closed_vs_hull": _bd(hull, [(r["kbps"], r["vmaf"]) for r in rungs]),
        "bd_exact_vs_hull": _bd(hull, [(r["exact_kbps"], r["exact_vmaf"]) for r in rungs]),
        "bd_open_vs_hull": _bd(hull, opened),
        "bd_limit_vs_hull": _bd(hull, [(r.bitrate_kbps, r.vmaf) for r in limit]),
    }


def _median(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.median(kept) if kept else None


def summarise(title: str, samples: list[dict[str, Any]]) -> dict[str, Any]:
    """A title's figures: medians over its samples."""
    keys = (
        *("bd_closed_vs_hull", "bd_exact_vs_hull", "bd_open_vs_hull", "bd_limit_vs_hull"),
        *("probe_overhead_pct", "loop_overhead_pct", "overhead_pct", "overhead_product_sweep_pct"),
    )
    return {
        "title": title,
        "samples": len(samples),
        **{k: _median([s[k] for s in samples]) for k in keys},
        "detail": samples,
    }


def medians(per_title: list[dict[str, Any]]) -> dict[str, float | None]:
    """Figures over every rung (shares, encodes per rung) and medians over titles."""
    samples = [s for t in per_title for s in t["detail"]]
    rungs = [r for s in samples for r in s["rungs"]]
    errors = [e for s in samples for e in s["open_err"]]
    over = [r["overhead_pct"] for r in rungs if r["overhead_pct"] is not None]
    return {
        "titles": len(per_title),
        "rungs": len(rungs),
        "median_bd_closed_vs_hull": _median([t["bd_closed_vs_hull"] for t in per_title]),
        "median_bd_exact_vs_hull": _median([t["bd_exact_vs_hull"] for t in per_title]),
        "median_bd_open_vs_hull": _median([t["bd_open_vs_hull"] for t in per_title]),
        "median_bd_limit_vs_hull": _median([t["bd_limit_vs_hull"] for t in per_title]),
        "over_hull_share": sum(o > OVER_HULL_PCT for o in over) / len(rungs),
        "median_rung_overhead_pct": _median(over),
        "mean_rung_overhead_pct": statistics.mean(over),
        "encodes_per_rung": sum(s["encodes"] for s in samples) / len(rungs),
        "within_1_share": sum(abs(r["vmaf"] - r["target"]) <= 1 for r in rungs) / len(rungs),
        "first_ladder_open_within_1": sum(abs(e) <= 1 for e in errors) / len(errors),
        "unreachable": sum(not r["reachable"] for r in rungs),
        "resolution_dips": sum(s["resolution_dip"] for s in samples),
        "median_probe_overhead_pct": _median([t["probe_overhead_pct"] for t in per_title]),
        "median_loop_overhead_pct": _median([t["loop_overhead_pct"] for t in per_title]),
        "median_overhead_pct": _median([t["overhead_pct"] for t in per_title]),
        "max_overhead_pct": max(t["overhead_pct"] for t in per_title),
        "median_overhead_product_sweep_pct": _median(
            [t["overhead_product_sweep_pct"] for t in per_title]
        ),
    }


COLUMNS = (
    ("median_bd_closed_vs_hull", "BD vs hull", "+.2f"),
    ("median_bd_exact_vs_hull", "BD vs hull, exact CRF", "+.2f"),
    ("over_hull_share", "rungs > 5 % over hull", ".1%"),
    ("mean_rung_overhead_pct", "mean rung overhead %", ".2f"),
    ("encodes_per_rung", "encodes / rung", ".2f"),
    ("within_1_share", "within ±1 VMAF", ".1%"),
    ("median_probe_overhead_pct", "probe CPU %", ".1f"),
    ("median_loop_overhead_pct", "extra encode CPU %", ".1f"),
    ("median_overhead_pct", "overhead %", ".1f"),
    ("max_overhead_pct", "worst overhead %", ".1f"),
    ("median_overhead_product_sweep_pct", "overhead % of 7-CRF sweep", ".1f"),
    ("rungs", "rungs", "d"),
    ("resolution_dips", "dips", "d"),
)
"""The table's columns: key of :func:`medians`, heading, format."""


def table(summary: dict[str, dict[str, float | None]]) -> str:
    """The medians as a markdown table, one row per variant."""
    lines = [
        "| variant | " + " | ".join(head for _, head, _ in COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 1) + "|",
    ]
    for name, figures in summary.items():
        cells = [_fmt(figures[key], spec) for key, _, spec in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    limit = _median([f["median_bd_limit_vs_hull"] for f in summary.values()])
    lines.append(f"\nexhaustive ladder BD vs hull (median over titles): {_fmt(limit, '+.2f')}")
    return "\n".join(lines)


def _fmt(v: float | None, spec: str) -> str:
    return "n/a" if v is None else format(v, spec)


def run_title(
    model: RDModel, rows: pl.DataFrame, variants: Sequence[Variant]
) -> dict[str, list[dict[str, Any]]]:
    """Every variant on every sample of one title: the scored samples by variant name."""
    out: dict[str, list[dict[str, Any]]] = {v.name: [] for v in variants}
    for _, part in rows.group_by(["start"], maintain_order=True):
        sample = Sample.of(part)
        hull = upper_convex_hull(sample.measured_points())
        limit, _ = ladder_from_hull(  # every point, as the product passes them (dip rule)
            sample.measured_points(), source_height=sample.source_height, **CONFIG.ladder_options()
        )
        for v in variants:
            out[v.name].append(score(sample, play(model, sample, v), hull, limit))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--only", nargs="*", default=None, help="titles (group names)")
    parser.add_argument("--variants", nargs="*", default=None, choices=[v.name for v in VARIANTS])
    args = parser.parse_args()
    data = pl.read_parquet(args.dataset).filter(pl.col("bitrate_kbps") > 0)
    variants = [v for v in VARIANTS if args.variants is None or v.name in args.variants]
    started = time.monotonic()
    per_variant: dict[str, list[dict[str, Any]]] = {v.name: [] for v in variants}
    cache = MODELS / fingerprint(data)
    for title in args.only or sorted(set(data["group"].to_list())):
        model, fitted = held_out_model(data, title, cache)
        played = run_title(model, data.filter(pl.col("group") == title), variants)
        cells = []
        for name, samples in played.items():
            row = summarise(title, samples)
            per_variant[name].append(row)
            cells.append(f"{name} {_fmt(row['bd_closed_vs_hull'], '+.2f')}")
        model_note = "fitted" if fitted else "cached"
        print(f"{title:44s} ({model_note}) BD vs hull: " + "  ".join(cells), flush=True)
    summary = {name: medians(rows) for name, rows in per_variant.items()}
    print(table(summary))
    print(f"{time.monotonic() - started:.0f} s")
    atomic_write_json(
        HERE / "results" / f"{args.dataset.stem}.json",
        {
            "dataset": str(args.dataset),
            "rows": data.height,
            "models": str(cache),
            "summary": summary,
            "variants": per_variant,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
