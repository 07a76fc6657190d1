"""Held-out evaluation of the main job: predict- and probe-mode ladders against Apple's fixed
ladder and the exhaustive hull, validated by real encodes.

For each title T (the 96-frame references and ground-truth sweeps of experiments/fixed_vs_hull):
1. an RD model is trained on the dataset without T (no scene of T seen in training);
2. ``plan_title`` chooses T's ladder in predict mode and in probe mode, and validates every rung
   (full encode + VMAF);
3. against Apple's ladder (fixed_vs_hull/results/apple/T.json): BD-rate and capped saving of the
   validated ladders, of the exhaustive hull and of the exhaustive ladder (METRICS.md);
4. model errors over every (height, CRF) point of T's exhaustive sweep (VMAF MAE, kbps MAPE),
   before (predict) and after (probe) calibration; the share of validated rungs within +-1 VMAF
   of their predicted VMAF; decision encode-seconds against the exhaustive sweep's.

Writes results/evaluation.json and REPORT.md (+ results/*.png when matplotlib is installed).
Usage: python experiments/evaluate_ladders/run.py [--only TITLE ...] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import polars as pl

from ladderforge.errors import LadderforgeError
from ladderforge.jobs import LadderConfig, plan_title
from ladderforge.policy import (
    BDRateError,
    bd_rate,
    capped_saving,
    upper_convex_hull,
)
from ladderforge.policy.models import RDModel
from ladderforge.store import ResultsStore, atomic_write_json

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FVH = ROOT / "experiments" / "fixed_vs_hull" / "results"
DATASET = ROOT / "experiments" / "build_dataset" / "results" / "dataset.parquet"


def sweep_points(title: str) -> pl.DataFrame:
    """T's exhaustive sweep from the fixed_vs_hull store: width, height, crf, kbps, vmaf, cpu."""
    with ResultsStore(FVH / "sweep" / "results.sqlite") as store:
        found = store.measured(title)
    rows = [
        {
            "width": e.settings.width,
            "height": e.settings.height,
            "crf": e.settings.q,
            "bitrate_kbps": e.bitrate_kbps,
            "vmaf": q.vmaf,
            "cpu_s": e.cpu_s,
        }
        for _, e, q in found
    ]
    return pl.DataFrame(rows)


def bd_and_saving(base: list[tuple[float, float]], test: list[tuple[float, float]]) -> dict:
    try:
        bd: float | None = round(bd_rate(base, test), 2)
    except BDRateError:
        bd = None
    saving = capped_saving(base, test)
    return {
        "bd_rate_pct": bd,
        "capped_saving_pct": None if saving.saving is None else round(saving.saving * 100, 2),
    }


def surface_errors(surface: pl.DataFrame, truth: pl.DataFrame) -> dict[str, float]:
    joined = truth.join(
        surface.select(
            "height", "crf", pl.col("bitrate_kbps").alias("p_kbps"), pl.col("vmaf").alias("p_vmaf")
        ),
        on=["height", "crf"],
    )
    return {
        "vmaf_mae": float((joined["p_vmaf"] - joined["vmaf"]).abs().mean()),
        "kbps_mape": float(
            ((joined["p_kbps"] - joined["bitrate_kbps"]).abs() / joined["bitrate_kbps"]).mean()
            * 100
        ),
        "points": joined.height,
    }


def evaluate(title: str, data: pl.DataFrame, out: Path, workers: int) -> dict[str, Any]:
    ref = FVH / "refs" / f"{title}.mkv"
    apple = json.loads((FVH / "apple" / f"{title}.json").read_text())
    base = [(p["kbps"], p["vmaf"]) for p in apple]
    truth = sweep_points(title)
    model_file = out / "models" / f"without_{title}.json"
    if not model_file.exists():
        RDModel().fit(data.filter(pl.col("group") != title)).save(model_file)
    row: dict[str, Any] = {"title": title, "sweep_cpu_s": float(truth["cpu_s"].sum())}
    hull = upper_convex_hull([(r["bitrate_kbps"], r["vmaf"]) for r in truth.iter_rows(named=True)])
    row["exhaustive_hull"] = bd_and_saving(base, hull)
    for mode in ("predict", "probe"):
        config = LadderConfig(
            mode=mode,
            validate=True,
            model_path=model_file,
            workers=workers,
            crfs=tuple(float(c) for c in range(16, 47)),
        )
        plan = plan_title(ref, out / mode, config=config)
        rungs = plan.ladder.rungs
        measured = [(r.measured_bitrate_kbps, r.measured_vmaf) for r in rungs]
        within = [abs((r.measured_vmaf or 0) - r.vmaf) <= 1.0 for r in rungs]
        row[mode] = {
            **bd_and_saving(base, measured),  # type: ignore[arg-type]
            "rungs": [
                {
                    "size": f"{r.settings.width}x{r.settings.height}",
                    "crf": r.settings.q,
                    "pred_kbps": r.bitrate_kbps,
                    "pred_vmaf": r.vmaf,
                    "meas_kbps": r.measured_bitrate_kbps,
                    "meas_vmaf": r.measured_vmaf,
                }
                for r in rungs
            ],
            "within_1_vmaf": sum(within),
            "rungs_validated": len(within),
            "decision_cpu_s": plan.decision_cpu_s,
            "decision_share_of_sweep": plan.decision_cpu_s / row["sweep_cpu_s"],
            "surface_errors": surface_errors(plan.surface, truth)
            if plan.surface is not None
            else None,
            "notes": list(plan.ladder.notes),
        }
    return row


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def med(path: tuple[str, ...]) -> float | None:
        values = []
        for r in rows:
            v: Any = r
            for key in path:
                v = v.get(key) if isinstance(v, dict) else None
            if v is not None:
                values.append(float(v))
        return round(statistics.median(values), 3) if values else None

    out: dict[str, Any] = {}
    for mode in ("exhaustive_hull", "predict", "probe"):
        out[mode] = {
            "median_bd_rate_pct": med((mode, "bd_rate_pct")),
            "median_capped_saving_pct": med((mode, "capped_saving_pct")),
        }
    for mode in ("predict", "probe"):
        out[mode] |= {
            "median_vmaf_mae": med((mode, "surface_errors", "vmaf_mae")),
            "median_kbps_mape": med((mode, "surface_errors", "kbps_mape")),
            "within_1_vmaf_share": sum(r[mode]["within_1_vmaf"] for r in rows)
            / max(1, sum(r[mode]["rungs_validated"] for r in rows)),
            "decision_share_of_sweep": med((mode, "decision_share_of_sweep")),
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    data = pl.read_parquet(DATASET).filter(pl.col("bitrate_kbps") > 0)
    titles = sorted(p.stem for p in (FVH / "apple").glob("*.json"))
    out = HERE / "results"
    rows = []
    for title in titles:
        if args.only and title not in args.only:
            continue
        try:
            rows.append(evaluate(title, data, out, args.workers))
        except (LadderforgeError, OSError) as exc:
            print(f"{title}: skipped: {exc}", file=sys.stderr)
            continue
        r = rows[-1]
        print(
            f"{title:36s} hull BD {r['exhaustive_hull']['bd_rate_pct']!s:>7}  "
            f"predict BD {r['predict']['bd_rate_pct']!s:>7} MAE "
            f"{r['predict']['surface_errors']['vmaf_mae']:.2f}  probe BD "
            f"{r['probe']['bd_rate_pct']!s:>7} MAE {r['probe']['surface_errors']['vmaf_mae']:.2f}"
            f" ({100 * r['probe']['decision_share_of_sweep']:.1f}% of sweep cpu)",
            flush=True,
        )
    summary = summarise(rows)
    atomic_write_json(out / "evaluation.json", {"titles": rows, "summary": summary})
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
