"""Banding (CAMBI) of the tuned sets on the held-out titles: what the honesty guard's three
metrics do not see.

Three of the four sets of the free study turn adaptive quantisation off (``aq-mode=0``). AQ
moves bits into flat and dark areas, where banding shows; VMAF, VMAF NEG and PSNR-Y reward
spending them evenly instead. This script measures Netflix's banding index CAMBI (libvmaf; 0 is
none, about 5 and above is visible) on each held-out title's evaluation segment, encoded at the
evaluation CRFs with the preset's defaults and with the class's set of each run given, and
compares them at equal VMAF: CAMBI as a function of VMAF (linear between the measured points),
averaged over five VMAF levels spread across the range the two curves share.

Usage: python experiments/tune_x265/banding.py [--runs veryfast,veryfast-no-aq-mode] (runs of one
preset; the preset, CRFs and segments are those of the first run's command)
Reads results/RUN/results.json and results/RUN/study/tuned.json of each run; encodes into
results/banding/ (stored: a rerun reuses them); writes results/banding/results-RUNS.json and
the RESULTS.md section ``banding RUNS``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np
from run import HERE, _measured, _parser, _segment, _write_section  # the script's folder

from ladderforge.demo_media import SHARED_CORPUS
from ladderforge.policy.tuning import TunedSets
from ladderforge.store import atomic_write_json

LEVELS = 5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="veryfast,veryfast-no-aq-mode")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    runs = [r for r in args.runs.split(",") if r]
    results = {r: json.loads((HERE / "results" / r / "results.json").read_text()) for r in runs}
    sets = {
        r: TunedSets.from_dict(
            json.loads((HERE / "results" / r / "study" / "tuned.json").read_text())
        )
        for r in runs
    }
    # each run's own flags (run.py's parser, its defaults included)
    flags = {r: _parser().parse_args(shlex.split(d["command"])[2:]) for r, d in results.items()}
    first = flags[runs[0]]
    preset = first.preset
    if any(f.preset != preset for f in flags.values()):
        print(f"the runs {', '.join(runs)} tuned different presets", file=sys.stderr)
        return 1
    crfs = [float(c) for c in first.eval_crfs.split(",")]
    section = f"banding {','.join(runs)}"  # RESULTS.md's
    out = HERE / "results" / "banding"
    rows = []
    for name in results[runs[0]]["heldout_titles"]:
        seg, meta = _segment(SHARED_CORPUS / name, out, first)
        curves = {"default": _measure(seg, preset, (), crfs, out, args.workers)}
        for r in runs:
            chosen = sets[r].choose("x265", preset, meta["class"])
            params = chosen.params if chosen is not None and chosen.accepted else ()
            curves[r] = _measure(seg, preset, params, crfs, out, args.workers) if params else None
        row = {"title": meta["title"], "class": meta["class"], "curves": curves, "runs": {}}
        for r in runs:
            row["runs"][r] = _compare(curves["default"], curves[r]) if curves[r] else None
        rows.append(row)
        print(f"{meta['title'][:40]:40s} {meta['class']:8s} " + " ".join(
            f"{r}: {_show(row['runs'][r])}" for r in runs), flush=True)  # fmt: skip
    data = {"command": "python " + shlex.join(sys.argv), "runs": runs, "rows": rows}
    path = out / f"results-{'_'.join(runs)}.json"
    atomic_write_json(path, data)
    _write_section(HERE / "RESULTS.md", section, _markdown(data))
    print(f"wrote {path}, {HERE / 'RESULTS.md'}")
    return 0


def _measure(seg: Any, preset: str, params: Any, crfs: list[float], out: Path,
             workers: int) -> list[dict[str, float]]:  # fmt: skip
    by_q = _measured(seg, preset, params, crfs, out, workers, ("vmaf", "cambi"))
    return [
        {"crf": q, "kbps": by_q[q].encode.bitrate_kbps, "vmaf": by_q[q].quality.get("vmaf"),
         "cambi": by_q[q].quality.get("cambi")}
        for q in crfs
    ]  # fmt: skip


def _at(curve: list[dict[str, float]], vmafs: np.ndarray) -> np.ndarray:
    pts = sorted(curve, key=lambda p: p["vmaf"])
    return np.interp(vmafs, [p["vmaf"] for p in pts], [p["cambi"] for p in pts])


def _compare(base: list[dict[str, float]], test: list[dict[str, float]]) -> dict[str, float] | None:
    lo = max(min(p["vmaf"] for p in base), min(p["vmaf"] for p in test))
    hi = min(max(p["vmaf"] for p in base), max(p["vmaf"] for p in test))
    if hi <= lo:
        return None
    levels = np.linspace(lo, hi, LEVELS)
    b, t = _at(base, levels), _at(test, levels)
    return {"vmaf_lo": lo, "vmaf_hi": hi, "cambi_default": float(b.mean()),
            "cambi_tuned": float(t.mean()), "delta": float((t - b).mean())}  # fmt: skip


def _show(c: dict[str, float] | None) -> str:
    return "-" if c is None else f"{c['cambi_default']:.2f} -> {c['cambi_tuned']:.2f}"


def _markdown(data: dict[str, Any]) -> str:
    runs = data["runs"]
    lines = [
        f"## Banding (CAMBI) of the tuned sets, held-out titles: {', '.join(runs)}",
        "",
        f"Command: `{data['command']}` (after the runs it reads)",
        "",
        "CAMBI (libvmaf's banding index: 0 none, about 5 and above visible; lower is better), "
        f"mean over {LEVELS} VMAF levels across the range the default and the tuned curve share "
        "(linear in VMAF between the measured CRF points), default -> tuned. `-`: the class's "
        "set was not accepted (defaults) or the curves share no VMAF range.",
        "",
        "| title | class | " + " | ".join(runs) + " |",
        "|---|---|" + "---|" * len(runs),
    ]
    for row in data["rows"]:
        lines.append(f"| {row['title']} | {row['class']} | "
                     + " | ".join(_show(row["runs"][r]) for r in runs) + " |")  # fmt: skip
    medians = []
    for r in runs:
        deltas = [row["runs"][r]["delta"] for row in data["rows"] if row["runs"][r]]
        medians.append(
            f"{statistics.median(deltas):+.2f} ({len(deltas)} titles)" if deltas else "-"
        )
    lines += ["| **median change** | | " + " | ".join(medians) + " |", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
