"""Closed-loop rungs on titles the shipped model never saw: does every rung land on the VMAF it
declared, and at how many encodes?

For each title: ``plan_title`` in probe mode with ``encode`` (the closed loop, default tolerance
0.75, at most 3 encodes per rung), full clip length. Every rung records its attempts; the first
attempt is exactly what the open loop (``--open-loop``) ships, so one run gives both. Per rung:
declared target, first-attempt VMAF (open loop), shipped VMAF (closed loop), encodes; per title:
probe CPU seconds, extra closed-loop CPU seconds, shipped encode CPU seconds, analysis seconds.

Writes results/closed_loop.json and prints a table; RESULTS.md holds the measured figures.
Usage: python experiments/closed_loop/run.py [--titles NAME ...] [--workers 2] [--preset veryfast]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

from ladderforge.demo_media import SHARED_CORPUS
from ladderforge.jobs import LadderConfig, plan_title
from ladderforge.store import atomic_write_json

HERE = Path(__file__).resolve().parent
# unseen by the shipped model (trained on the demo clips and ../shared/corpus, not corpus/train)
DEFAULT_TITLES = (
    "dark_480p_stage_musician",
    "indoor_480p_man_dog_doorway",
    "sports_480p_paragliding_launch",
    "nature_360p_aquarium_tank_crowd",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--titles", nargs="*", default=list(DEFAULT_TITLES))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--tolerance", type=float, default=0.75)
    args = parser.parse_args()
    out = HERE / "results"
    rows: list[dict[str, Any]] = []
    for name in args.titles:
        src = next((SHARED_CORPUS / "train").glob(f"{name}.*"), None)
        if src is None:
            print(f"{name}: not in {SHARED_CORPUS / 'train'}", file=sys.stderr)
            continue
        config = LadderConfig(
            mode="probe",
            encode=True,
            preset=args.preset,
            tolerance=args.tolerance,
            workers=args.workers,
        )
        plan = plan_title(src, out / "ladders", config=config)
        shipped_cpu = sum(r.cost.encode_cpu_s_measured or 0 for r in plan.ladder.rungs)
        for r in plan.ladder.rungs:
            first = r.attempts[0] if r.attempts else None
            rows.append(
                {
                    "title": name,
                    "rung": f"{r.settings.width}x{r.settings.height}",
                    "target": r.target_vmaf,
                    "open_loop_vmaf": first.vmaf if first else None,
                    "closed_loop_vmaf": r.measured_vmaf,
                    "encodes": len(r.attempts),
                    "q_first": first.q if first else None,
                    "q_shipped": r.settings.q,
                    "kbps": r.measured_bitrate_kbps,
                }
            )
            print(
                f"{name:34s} {rows[-1]['rung']:>9s} target {r.target_vmaf:6.2f} open "
                f"{rows[-1]['open_loop_vmaf']:6.2f} closed {r.measured_vmaf:6.2f} "
                f"encodes {len(r.attempts)}",
                flush=True,
            )
        rows.append(
            {
                "title": name,
                "summary": True,
                "probe_cpu_s": plan.decision_cpu_s,
                "loop_extra_cpu_s": plan.loop_cpu_s,
                "shipped_encode_cpu_s": shipped_cpu,
                "analysis_s": plan.analysis_s,
            }
        )
    rungs = [r for r in rows if not r.get("summary")]
    if not rungs:
        return 1

    def share(key: str, tol: float) -> float:
        return sum(abs(r[key] - r["target"]) <= tol for r in rungs) / len(rungs)

    summary = {
        "titles": len({r["title"] for r in rungs}),
        "rungs": len(rungs),
        "open_loop_within_1": share("open_loop_vmaf", 1.0),
        "closed_loop_within_1": share("closed_loop_vmaf", 1.0),
        "closed_loop_within_tolerance": share("closed_loop_vmaf", args.tolerance),
        "encodes_per_rung": statistics.mean(r["encodes"] for r in rungs),
        "open_loop_median_abs_error": statistics.median(
            abs(r["open_loop_vmaf"] - r["target"]) for r in rungs
        ),
    }
    atomic_write_json(out / "closed_loop.json", {"rows": rows, "summary": summary})
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
