"""Train the RD models on the dataset and compare them with the baselines, grouped by title.

Cross-validation leaves one title out at a time (all of a title's scenes on one side), for:
RDModel (LightGBM, monotone), HGBRDBaseline (scikit-learn HistGradientBoosting, monotone) and
LinearRDBaseline (per-height ridge). Prints VMAF MAE and kbps MAPE per held-out title and
overall, writes results/cv.json, then fits RDModel on every row and writes the shipped model
ladderforge/policy/models/x265_veryfast.json.gz (with the CV figures and the dataset provenance).

Usage: python experiments/train_models/run.py [--dataset PATH] [--out PATH] [--only-model]
(default: the committed dataset snapshot experiments/build_dataset/data/x265_veryfast.parquet;
the model is written as ladderforge/policy/models/<codec>_<preset>.json.gz, named from the
dataset's rows). Set OMP_NUM_THREADS=1 on a loaded machine: LightGBM's OpenMP threads spin.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ladderforge.policy.baselines import HGBRDBaseline, LinearRDBaseline
from ladderforge.policy.models import RDModel
from ladderforge.store import atomic_write_json

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATASET = ROOT / "experiments" / "build_dataset" / "data" / "x265_veryfast.parquet"
MODELS = ROOT / "ladderforge" / "policy" / "models"


def errors(rows: pl.DataFrame, pred: Any) -> dict[str, float]:
    vmaf = rows["vmaf"].to_numpy()
    kbps = rows["bitrate_kbps"].to_numpy()
    return {
        "vmaf_mae": float(np.mean(np.abs(pred.vmaf - vmaf))),
        "kbps_mape": float(np.mean(np.abs(pred.bitrate_kbps - kbps) / kbps) * 100),
    }


def cross_validate(data: pl.DataFrame, make: Any) -> dict[str, dict[str, float]]:
    out = {}
    for group in sorted(data["group"].unique().to_list()):
        train, test = data.filter(pl.col("group") != group), data.filter(pl.col("group") == group)
        out[group] = errors(test, make().fit(train).predict(test))
    return out


def _provenance(dataset: Path) -> dict[str, Any]:
    """The dataset's provenance: ``<stem>.provenance.json`` beside a snapshot, or the
    campaign folder's ``provenance.json``."""
    for candidate in (dataset.with_suffix(".provenance.json"), dataset.parent / "provenance.json"):
        if candidate.is_file():
            return dict(json.loads(candidate.read_text()))
    return {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--only-model", action="store_true", help="cross-validate the shipped kind alone"
    )
    args = parser.parse_args()
    data = pl.read_parquet(args.dataset).filter(pl.col("bitrate_kbps") > 0)
    out = args.out or MODELS / f"{data['codec'][0]}_{data['preset'][0]}.json.gz"
    provenance = _provenance(args.dataset)
    candidates: dict[str, Any] = {"lightgbm_monotone": RDModel}
    if not args.only_model:
        candidates |= {"hist_gbm_monotone": HGBRDBaseline, "linear_per_height": LinearRDBaseline}
    results: dict[str, Any] = {}
    for name, make in candidates.items():
        per_title = cross_validate(data, make)
        results[name] = {
            "per_title": per_title,
            "median_vmaf_mae": statistics.median(v["vmaf_mae"] for v in per_title.values()),
            "median_kbps_mape": statistics.median(v["kbps_mape"] for v in per_title.values()),
        }
        print(
            f"{name:20s} median over held-out titles: VMAF MAE "
            f"{results[name]['median_vmaf_mae']:.2f}, kbps MAPE "
            f"{results[name]['median_kbps_mape']:.1f} %",
            flush=True,
        )
        for group, e in per_title.items():
            print(
                f"    {group:40s} VMAF MAE {e['vmaf_mae']:6.2f}  kbps MAPE {e['kbps_mape']:6.1f} %"
            )
    atomic_write_json(HERE / "results" / f"cv_{out.name.split('.')[0]}.json", results)
    model = RDModel().fit(data)
    model.save(
        out,
        metadata={
            "trained_on": provenance,
            "rows": data.height,
            "cv_leave_one_title_out": {
                k: {
                    "median_vmaf_mae": v["median_vmaf_mae"],
                    "median_kbps_mape": v["median_kbps_mape"],
                }
                for k, v in results.items()
            },
        },
    )
    print(f"shipped model: {out} ({out.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
