"""What the ladder's spacing rules cost against Apple's ladder: exhaustive ladders under rule
variants, chosen again from the sweeps an evaluation run left (no new encode).

For each title with Apple's ladder and the dense hull on record (``--hull`` runs), the sweep's
points are read back from the evaluation's sweep store (the script exits after the sweep if
any point had to be encoded: the figures are then not the run's) and ``ladder_from_hull`` chooses the exhaustive ladder under each
variant of ``LadderRules``. Per variant: the median over titles of the capped saving and the
BD-rate against Apple (METRICS.md), the mean rung count, the median widest bitrate gap between
neighbouring rungs and the median of the ladder's summed kbps against the default rules' (a
proxy for storage). The dense hull's capped saving is the mark.

This is the analysis behind ``LadderRules.min_step_vmaf = 3`` (half a JND): with a whole JND
(6 VMAF) between rungs, the step from about VMAF 88 to the top rung at 95 cost over 2.2x in
bitrate on 35 of 49 titles (up to 11x), and capped saving interpolates Apple's upper rungs across that gap.

Usage: python experiments/evaluate_ladders/rules.py [--results DIR] [--codec x265]
           [--preset veryfast]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import warnings
from itertools import pairwise
from pathlib import Path
from typing import Any

from ladderforge.jobs.defaults import DEFAULT_HEIGHTS, DEFAULT_SWEEP_CRFS, LadderRules
from ladderforge.jobs.sweep import SweepConfig, rd_points, sweep
from ladderforge.media import probe
from ladderforge.policy import BDRateError, bd_rate, capped_saving, ladder_from_hull

HERE = Path(__file__).resolve().parent
VARIANTS: dict[str, dict[str, Any]] = {
    "jnd (min_step_vmaf 6)": {"min_step_vmaf": 6.0},
    "min_step_vmaf 4": {"min_step_vmaf": 4.0},
    "default": {},
    "default, max_rungs 8": {"max_rungs": 8},
    "min_step_vmaf 2, max_rungs 8": {"min_step_vmaf": 2.0, "max_rungs": 8},
}
"""Rule variants on top of ``LadderRules()`` (the default is half a JND, 3 VMAF)."""


def _saving(apple: list[tuple[float, float]], pairs: list[tuple[float, float]]) -> float | None:
    saving = capped_saving(apple, pairs).saving_pct
    return None if saving is None else round(saving, 2)


def _bd(apple: list[tuple[float, float]], pairs: list[tuple[float, float]]) -> float | None:
    try:
        return round(bd_rate(apple, pairs), 2)
    except BDRateError:
        return None


def title_figures(done: dict[str, Any], results: Path, codec: str, preset: str) -> dict[str, Any]:
    """Per variant: capped saving, BD-rate vs Apple, rungs, widest gap, summed kbps."""
    ref = results.parent / "refs" / f"{done['title']}.mkv"
    config = SweepConfig(
        codec=codec, preset=preset, heights=DEFAULT_HEIGHTS, crfs=DEFAULT_SWEEP_CRFS,
        metrics=("vmaf",),
    )  # fmt: skip
    report = sweep([ref], results / "sweep", config=config, workers=1)
    if report.encodes_run:
        raise SystemExit(f"{ref.name}: the sweep store lacked {report.encodes_run} points")
    points = rd_points(report.points, ref.stem)
    apple = [(float(r), float(q)) for r, q in done["apple"]["pairs"]]
    height = probe(ref, hash_content=False).height
    out: dict[str, Any] = {"hull": _saving(apple, [(p.bitrate_kbps, p.quality) for p in points])}
    for name, options in VARIANTS.items():
        rules = dataclasses.replace(LadderRules(), **options)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rungs, _ = ladder_from_hull(points, source_height=height, **rules.options())
        pairs = [(r.bitrate_kbps, r.vmaf) for r in rungs]
        out[name] = {
            "saving": _saving(apple, pairs),
            "bd": _bd(apple, pairs),
            "rungs": len(rungs),
            "widest_gap": max((b[0] / a[0] for a, b in pairwise(pairs)), default=1.0),
            "kbps": sum(r for r, _ in pairs),
        }
    return out


def _median(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return round(statistics.median(kept), 2) if kept else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=None)
    parser.add_argument("--codec", default="x265")
    parser.add_argument("--preset", default="veryfast")
    args = parser.parse_args()
    results = args.results or HERE / "results" / f"{args.codec}_{args.preset}"
    per_title: dict[str, Any] = {}
    for path in sorted((results / "titles").glob("*.json")):
        done = json.loads(path.read_text())
        if done.get("apple") and done.get("hull"):
            per_title[done["title"]] = title_figures(done, results, args.codec, args.preset)
            print(f"{done['title']}: {per_title[done['title']]['default']}", flush=True)
    if not per_title:
        raise SystemExit(f"no title with Apple's ladder and the hull under {results}")
    rows = []
    print(f"\n{len(per_title)} titles; dense hull's capped saving vs Apple, median: "
          f"{_median([t['hull'] for t in per_title.values()])} %")  # fmt: skip
    print(f"{'rules':32s} {'saving %':>9s} {'BD %':>7s} {'rungs':>6s} {'widest':>7s} {'kbps':>6s}")
    for name in VARIANTS:
        figures = [t[name] for t in per_title.values()]
        row = {
            "rules": name,
            "median_capped_saving_pct": _median([f["saving"] for f in figures]),
            "median_bd_vs_apple_pct": _median([f["bd"] for f in figures]),
            "mean_rungs": round(statistics.mean(f["rungs"] for f in figures), 2),
            "median_widest_gap": _median([f["widest_gap"] for f in figures]),
            "median_kbps_vs_default": _median(
                [t[name]["kbps"] / t["default"]["kbps"] for t in per_title.values()]
            ),
        }
        rows.append(row)
        print(f"{name:32s} {row['median_capped_saving_pct']!s:>9s} "
              f"{row['median_bd_vs_apple_pct']!s:>7s} {row['mean_rungs']:>6} "
              f"{row['median_widest_gap']!s:>7s} {row['median_kbps_vs_default']!s:>6s}")  # fmt: skip
    out = HERE / "results" / f"rules_{args.codec}_{args.preset}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"summary": rows, "per_title": per_title}, indent=1) + "\n")
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
