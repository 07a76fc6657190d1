"""Ladders chosen by a model, judged on recorded exhaustive sweeps (no new encode).

The dataset of ``experiments/build_dataset`` holds, for every sample (a 2-5 s segment of a
title), a measured sweep over every candidate height x CRF. For each title T, leaving T out:

1. an RD model is trained on the other titles' rows;
2. for each sample of T, the ladder is chosen as ``plan_title`` chooses it in predict mode
   (``predict_surface`` at every integer CRF, the upper hull, ``ladder_from_hull`` with the
   default rules): each rung is a height and a declared (target) VMAF;
3. each rung is then *played* on T's measured curves, by linear interpolation in CRF (VMAF)
   and in log rate:
   - open loop: the rung encoded at its predicted CRF: measured VMAF and kbps there;
   - closed loop: the rung encoded at the CRF that hits its target on the measured curve of
     its height (what the loop converges to; a target above the curve's CRF-16 end is
     "unreachable" and played at CRF 16);
4. against the measured hull of the sample (every height, every CRF): the rate overhead of each
   closed-loop rung at equal quality (its kbps / the hull's kbps at its measured VMAF - 1),
   the BD-rate of the closed-loop ladder against the hull, and the same for the ladder that the
   exhaustive sweep itself picks (``ladder_from_hull`` on measured points: the limit).

What this measures: how much a model's choice of heights and targets costs against the hull,
once the loop has fixed the CRF; and the open-loop error the loop has to fix. What it does not:
full clip length, pooling over scenes, encoder variance between a sweep and a rendition
(``experiments/closed_loop`` measures those with real encodes).

Each title's model is cached in results/models/<dataset fingerprint>/<title>.json.gz (the
fitted model saved and loaded back, so a first run and a rerun play the same model); a rerun
loads it instead of refitting when the training rows, their content features and the model's
parameters are the same.

Usage: python experiments/model_ladders/run.py [--dataset PATH] [--only TITLE ...]
Writes results/<dataset stem>.json and prints a table.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ladderforge.encoder import get_encoder
from ladderforge.errors import ModelError
from ladderforge.jobs.config import LadderConfig
from ladderforge.policy import BDRateError, bd_rate, ladder_from_hull, upper_convex_hull
from ladderforge.policy.calibrate import Calibration, ProbeResult, fit_calibration
from ladderforge.policy.models import CONTENT_FEATURES, RDModel, fingerprint, load_model
from ladderforge.policy.saving import rate_for_quality
from ladderforge.policy.surface import predict_points, predict_surface, surface_points
from ladderforge.store import atomic_write_json
from ladderforge.types import EncodeSettings, RDPoint

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATASET = ROOT / "experiments" / "build_dataset" / "data" / "x265_veryfast.parquet"
MODELS = HERE / "results" / "models"


def _features_sha(rows: pl.DataFrame) -> str:
    """The training rows' content features (``fingerprint`` covers settings and targets only)."""
    cols = ["title", "width", "height", "crf", *CONTENT_FEATURES]
    return hashlib.sha256(rows.select(cols).sort(cols[:4]).write_csv().encode()).hexdigest()[:16]


def _cached(path: Path, train: pl.DataFrame) -> RDModel | None:
    """The model stored at ``path`` when it was fitted on ``train`` with today's parameters."""
    if not path.is_file():
        return None
    try:
        model = load_model(path)
        metadata = json.loads(gzip.decompress(path.read_bytes())).get("metadata", {})
    except (ModelError, OSError, ValueError) as exc:
        print(f"{path}: {exc}; fitting again", flush=True)
        return None
    same = (
        model.fingerprint_ == fingerprint(train)
        and metadata.get("features_sha") == _features_sha(train)
        and model.get_params() == RDModel().get_params()
    )
    return model if same else None


def held_out_model(data: pl.DataFrame, title: str, cache: Path) -> tuple[RDModel, bool]:
    """The RD model trained on every title but ``title``: loaded from ``cache``, else fitted,
    saved there and loaded back. Returns it and whether it was fitted now."""
    train = data.filter(pl.col("group") != title)
    path = cache / f"{title}.json.gz"
    model = _cached(path, train)
    if model is not None:
        return model, False
    fitted = RDModel().fit(train)
    fitted.save(path, metadata={"left_out": title, "features_sha": _features_sha(train)})
    return load_model(path), True


@dataclass(frozen=True)
class Curve:
    """One height's measured points of a sample, CRF rising."""

    crf: np.ndarray
    vmaf: np.ndarray
    log_kbps: np.ndarray

    def at_crf(self, crf: float) -> tuple[float, float]:
        """(VMAF, kbps) at a CRF, linear between grid points (clamped at the ends)."""
        return (
            float(np.interp(crf, self.crf, self.vmaf)),
            float(math.exp(np.interp(crf, self.crf, self.log_kbps))),
        )

    def crf_for(self, target: float) -> tuple[float, bool]:
        """The CRF whose VMAF is ``target`` (False where the grid cannot reach it)."""
        v = np.minimum.accumulate(self.vmaf)  # falling with CRF (a measured wobble flattened)
        if target > v[0]:
            return float(self.crf[0]), False
        if target < v[-1]:
            return float(self.crf[-1]), True
        return float(np.interp(-target, -v, self.crf)), True


def curves(rows: pl.DataFrame) -> dict[int, Curve]:
    out = {}
    for (h,), part in rows.sort("crf").group_by(["height"], maintain_order=True):
        out[int(h)] = Curve(
            part["crf"].to_numpy().astype(float),
            part["vmaf"].to_numpy().astype(float),
            np.log(part["bitrate_kbps"].to_numpy().astype(float)),
        )
    return out


def measured_points(rows: pl.DataFrame, codec: str, preset: str) -> list[RDPoint]:
    return [
        RDPoint(
            EncodeSettings(
                codec=codec,
                width=int(r["width"]),
                height=int(r["height"]),
                q=float(r["crf"]),
                preset=preset,
            ),
            float(r["bitrate_kbps"]),
            float(r["vmaf"]),
        )
        for r in rows.iter_rows(named=True)
    ]


def _bd(hull: Sequence[RDPoint], test: Sequence[Any]) -> float | None:
    try:
        return bd_rate(hull, test)
    except BDRateError:
        return None


def probe_calibration(
    model: RDModel, rows: pl.DataFrame, features: dict[str, float]
) -> Calibration:
    """Probe mode's calibration from the sample's own measured points at the probe settings:
    the tallest and the shortest height at the grid CRFs nearest the probe CRFs."""
    heights = sorted({int(h) for h in rows["height"]})
    grid = sorted({float(c) for c in rows["crf"]})
    crfs = sorted({min(grid, key=lambda g: abs(g - c)) for c in LadderConfig().probe_crfs})
    probes = rows.filter(
        pl.col("height").is_in([heights[0], heights[-1]]) & pl.col("crf").is_in(crfs)
    )
    first = rows.row(0, named=True)
    vmaf, kbps = predict_points(
        model,
        features,
        [
            (int(r["width"]), int(r["height"]), float(r["crf"]))
            for r in probes.iter_rows(named=True)
        ],
        source_height=int(first["source_height"]),
        fps=float(first["source_fps"]),
    )
    return fit_calibration(
        [
            ProbeResult(
                int(r["height"]),
                float(r["crf"]),
                float(v),
                float(r["vmaf"]),
                float(k),
                float(r["bitrate_kbps"]),
            )
            for r, v, k in zip(probes.iter_rows(named=True), vmaf, kbps, strict=True)
        ]
    )


def play_sample(
    model: RDModel, rows: pl.DataFrame, codec: str, preset: str, *, probe: bool
) -> dict[str, Any]:
    """One sample: the model's ladder (predict mode, or probe mode's calibrated surface) played
    open and closed loop on the measured curves."""
    first = rows.row(0, named=True)
    features = {f: float(first[f]) for f in CONTENT_FEATURES}
    heights = sorted({int(h) for h in rows["height"]}, reverse=True)
    facts = get_encoder(codec).facts
    surface = predict_surface(
        model,
        [(int(first["frames"]), features)],
        source_width=int(first["source_width"]),
        source_height=int(first["source_height"]),
        fps=float(first["source_fps"]),
        frames=int(first["frames"]),
        heights=heights,
        codec=facts,
        preset=preset,
        calibration=probe_calibration(model, rows, features) if probe else None,
    )
    options = LadderConfig().ladder_options()
    source_height = int(first["source_height"])
    rungs, _ = ladder_from_hull(
        upper_convex_hull(surface_points(surface, codec=facts, preset=preset)),
        source_height=source_height,
        **options,
    )
    measured = measured_points(rows, codec, preset)
    hull = upper_convex_hull(measured)
    hull_pairs = [(p.bitrate_kbps, p.quality) for p in hull]
    limit, _ = ladder_from_hull(hull, source_height=source_height, **options)
    by_height = curves(rows)
    played = []
    for rung in rungs:
        curve = by_height[rung.settings.height]
        open_vmaf, open_kbps = curve.at_crf(float(rung.settings.q or 0))
        crf, reachable = curve.crf_for(rung.vmaf)
        closed_vmaf, closed_kbps = curve.at_crf(crf)
        hull_kbps, _ = rate_for_quality(hull_pairs, closed_vmaf)
        played.append(
            {
                "height": rung.settings.height,
                "target": rung.vmaf,
                "predicted_crf": rung.settings.q,
                "predicted_kbps": rung.bitrate_kbps,
                "open_vmaf": open_vmaf,
                "open_kbps": open_kbps,
                "closed_crf": crf,
                "reachable": reachable,
                "closed_vmaf": closed_vmaf,
                "closed_kbps": closed_kbps,
                "hull_kbps": hull_kbps,
                "overhead_pct": None if hull_kbps is None else (closed_kbps / hull_kbps - 1) * 100,
            }
        )
    closed = [(r["closed_kbps"], r["closed_vmaf"]) for r in played]
    opened = [(r["open_kbps"], r["open_vmaf"]) for r in played]
    return {
        "rungs": played,
        "limit_rungs": [(r.bitrate_kbps, r.vmaf, r.settings.height) for r in limit],
        "bd_closed_vs_hull": _bd(hull, closed) if len(closed) > 1 else None,
        "bd_open_vs_hull": _bd(hull, opened) if len(opened) > 1 else None,
        "bd_limit_vs_hull": (
            _bd(hull, [(r.bitrate_kbps, r.vmaf) for r in limit]) if len(limit) > 1 else None
        ),
    }


def _median(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.median(kept) if kept else None


def summarise(title: str, samples: list[dict[str, Any]]) -> dict[str, Any]:
    rungs = [r for s in samples for r in s["rungs"]]
    open_err = [r["open_vmaf"] - r["target"] for r in rungs]
    return {
        "title": title,
        "samples": len(samples),
        "rungs": len(rungs),
        "open_within_1": sum(abs(e) <= 1 for e in open_err) / len(rungs),
        "open_mae": statistics.mean(abs(e) for e in open_err),
        "unreachable": sum(not r["reachable"] for r in rungs),
        "overhead_pct": _median([r["overhead_pct"] for r in rungs]),
        "bd_closed_vs_hull": _median([s["bd_closed_vs_hull"] for s in samples]),
        "bd_open_vs_hull": _median([s["bd_open_vs_hull"] for s in samples]),
        "bd_limit_vs_hull": _median([s["bd_limit_vs_hull"] for s in samples]),
    }


def _fmt(v: float | None, spec: str) -> str:
    return "n/a" if v is None else format(v, spec)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--only", nargs="*", default=None, help="titles (group names)")
    args = parser.parse_args()
    data = pl.read_parquet(args.dataset).filter(pl.col("bitrate_kbps") > 0)
    codec, preset = data["codec"][0], data["preset"][0]
    titles = sorted(set(data["group"].to_list()))
    started = time.monotonic()
    per_mode: dict[str, list[dict[str, Any]]] = {"predict": [], "probe": []}
    cache = MODELS / fingerprint(data)
    for title in args.only or titles:
        model, fitted = held_out_model(data, title, cache)
        print(f"{title}: model {'fitted' if fitted else 'loaded'}", flush=True)
        mine = data.filter(pl.col("group") == title)
        for mode, per_title in per_mode.items():
            samples = [
                play_sample(model, part, codec, preset, probe=mode == "probe")
                for _, part in mine.group_by(["start"], maintain_order=True)
            ]
            row = summarise(title, samples)
            row["detail"] = samples
            per_title.append(row)
            print(
                f"{mode:7s} {title:44s} rungs {row['rungs']:2d}  "
                f"open ±1 {row['open_within_1']:4.0%}  open MAE {row['open_mae']:5.2f}  "
                f"overhead {_fmt(row['overhead_pct'], '5.1f')} %  "
                f"BD closed {_fmt(row['bd_closed_vs_hull'], '6.2f')}  "
                f"limit {_fmt(row['bd_limit_vs_hull'], '6.2f')}",
                flush=True,
            )
    summary = {mode: medians(per_title) for mode, per_title in per_mode.items()}
    for mode, figures in summary.items():
        print(f"{mode} medians:", {k: round(v, 3) for k, v in figures.items() if v is not None})
    print(f"{time.monotonic() - started:.0f} s")
    atomic_write_json(
        HERE / "results" / f"{args.dataset.stem}.json",
        {"dataset": str(args.dataset), "rows": data.height, "summary": summary, "modes": per_mode},
    )
    return 0


def medians(per_title: list[dict[str, Any]]) -> dict[str, float | None]:
    """Figures over every rung and medians over titles."""
    all_rungs = [r for t in per_title for s in t["detail"] for r in s["rungs"]]
    return {
        "titles": len(per_title),
        "rungs": len(all_rungs),
        "open_within_1": sum(abs(r["open_vmaf"] - r["target"]) <= 1 for r in all_rungs)
        / len(all_rungs),
        "median_title_open_mae": _median([t["open_mae"] for t in per_title]),
        "median_rung_overhead_pct": _median([r["overhead_pct"] for r in all_rungs]),
        "mean_rung_overhead_pct": statistics.mean(
            r["overhead_pct"] for r in all_rungs if r["overhead_pct"] is not None
        ),
        "unreachable": sum(not r["reachable"] for r in all_rungs),
        "median_bd_closed_vs_hull": _median([t["bd_closed_vs_hull"] for t in per_title]),
        "median_bd_open_vs_hull": _median([t["bd_open_vs_hull"] for t in per_title]),
        "median_bd_limit_vs_hull": _median([t["bd_limit_vs_hull"] for t in per_title]),
    }


if __name__ == "__main__":
    sys.exit(main())
