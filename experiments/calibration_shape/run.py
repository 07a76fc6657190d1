"""How well a probe calibration's shape in CRF fits a title's curve (no encode).

Probe mode corrected the model's predicted VMAF per height by a line in CRF fitted to probes at
CRF 24 and 34, held at its end values beyond them (``policy.calibrate`` before 935fe81). On the
whole-clip evaluation the first encodes of the middle and bottom rungs miss by more than the top rung's
(``experiments/evaluate_ladders/RESULTS.md``, 2026-12-04). This replays the correction on the
measured dataset, where a segment's probes are points of its own curve (so what is left is the
correction's shape, not the sampling): for every title (its model held out) and height, the
model's VMAF at every CRF of the grid, corrected from the measured points at the probe CRFs,
against the measured VMAF, by CRF band; for

- ``line 25/34``: the product's correction (offset and slope, slope limited to 1.5 VMAF per
  CRF step, held beyond the probes), at the grid's CRFs nearest 24 and 34;
- ``shift held 25/34``: the product's own correction since 935fe81
  (``fit_calibration(...).apply``): the error at each probe turned into the CRF shift that puts
  the model's curve on the measured VMAF, a line in CRF between the two shifts held beyond
  them, the curve read at the shifted CRFs;
- ``shift 25/34``: the same line of shifts continued beyond the probes (the product's
  ``_crossing`` and ``_read``);
- ``shift 25/34/43``: the product's correction with three probes (three shifts, interpolated
  between them and held beyond: the product's at the shortest probed height,
  ``bottom_probe_crfs``);
- ``piecewise 22/31/40``: three probes, the error interpolated between them and held beyond;
- ``piecewise 25/34/43``: the same, the third probe below the others.

Usage: python experiments/calibration_shape/run.py [--codec x265 --preset medium]
Prints a table and writes results/<codec>_<preset>.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "experiments" / "evaluate_ladders"))

from run import DATA, model_for  # noqa: E402  (the evaluation's held-out models, cached)

from ladderforge.policy.calibrate import (  # noqa: E402
    ProbeResult,
    _crossing,
    _read,
    fit_calibration,
)
from ladderforge.policy.models import MODEL_VERSION, RDModel, fingerprint, load_model  # noqa: E402

BANDS = {
    "top (CRF 16-22)": (16, 22),
    "middle (CRF 25-37)": (25, 37),
    "bottom (CRF 40-46)": (40, 46),
}
SLOPE_LIMIT = 1.5


def line(probes: dict[float, float], crfs: np.ndarray) -> np.ndarray:
    """The product's correction: a line through the probe errors, held beyond them."""
    qs = np.array(sorted(probes))
    es = np.array([probes[q] for q in qs])
    slope = float(np.polyfit(qs - qs.mean(), es, 1)[0]) if len(qs) > 1 else 0.0
    slope = max(-SLOPE_LIMIT, min(SLOPE_LIMIT, slope))
    offset = float(np.mean(es - slope * (qs - qs.mean())))
    return offset + slope * (np.clip(crfs, qs.min(), qs.max()) - qs.mean())


def piecewise(probes: dict[float, float], crfs: np.ndarray) -> np.ndarray:
    """The probe errors interpolated between the probe CRFs, held beyond them."""
    qs = sorted(probes)
    return np.interp(crfs, qs, [probes[q] for q in qs])


def continued(probes: dict[float, float], crfs: np.ndarray, curve: np.ndarray) -> np.ndarray:
    """The product's move along the curve (``Calibration.apply``), but with the line of CRF
    shifts through the two probes continued beyond them instead of held; the error added as it
    is where a shift is undefined. Returns a VMAF error, as the other schemes do."""
    qs = np.array(sorted(probes))
    falling = np.minimum.accumulate(curve)
    crossed = [_crossing(crfs, falling, float(np.interp(q, crfs, falling)) + probes[q]) for q in qs]
    if any(c is None for c in crossed):
        return line(probes, crfs)
    shifts = np.array([c - q for c, q in zip(crossed, qs, strict=True)])  # type: ignore[operator]
    slope = float(np.polyfit(qs, shifts, 1)[0])
    moved = crfs + shifts.mean() + slope * (crfs - qs.mean())
    return np.clip(_read(crfs, falling, moved), 0.0, 100.0) - curve


def product(probes: dict[float, float], crfs: np.ndarray, curve: np.ndarray) -> np.ndarray:
    """The product's own correction (``fit_calibration(...).apply``) on these probes."""
    found = [
        ProbeResult(
            1, q, float(np.interp(q, crfs, curve)), float(np.interp(q, crfs, curve)) + e, 1.0, 1.0
        )
        for q, e in probes.items()
    ]
    rate = np.ones(len(crfs))
    return fit_calibration(found).apply(1, crfs, curve, rate)[0] - curve


SCHEMES = {
    "line 25/34": (line, (25.0, 34.0)),
    "shift held 25/34": (product, (25.0, 34.0)),
    "shift 25/34": (continued, (25.0, 34.0)),
    "shift 25/34/43": (product, (25.0, 34.0, 43.0)),
    "piecewise 22/31/40": (piecewise, (22.0, 31.0, 40.0)),
    "piecewise 25/34/43": (piecewise, (25.0, 34.0, 43.0)),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codec", default="x265")
    parser.add_argument("--preset", default="medium")
    args = parser.parse_args()
    data = pl.read_parquet(DATA / f"{args.codec}_{args.preset}.parquet").filter(
        pl.col("bitrate_kbps") > 0
    )
    key = fingerprint(data)
    cache = ROOT / "experiments" / "model_ladders" / "results" / "models" / key
    errors: dict[str, dict[str, list[float]]] = {s: {b: [] for b in BANDS} for s in SCHEMES}
    for title in sorted(data["title"].unique()):
        model = load_model(model_for(title, data, cache))
        mine = data.filter(pl.col("title") == title)
        predicted = model.predict(mine).vmaf
        mine = mine.with_columns(pl.Series("predicted", predicted))
        for _, rows in mine.group_by(["height"]):
            rows = rows.sort("crf")
            crfs = rows["crf"].to_numpy().astype(float)
            err = rows["vmaf"].to_numpy() - rows["predicted"].to_numpy()
            curve = rows["predicted"].to_numpy().astype(float)
            at = dict(zip(crfs.tolist(), err.tolist(), strict=True))
            for name, (fit, probe_crfs) in SCHEMES.items():
                if not all(q in at for q in probe_crfs) or len(crfs) < 3:
                    continue
                probes = {q: at[q] for q in probe_crfs}
                correction = (
                    fit(probes, crfs, curve) if name.startswith("shift") else fit(probes, crfs)
                )
                left = err - correction
                for band, (lo, hi) in BANDS.items():
                    inside = (crfs >= lo) & (crfs <= hi) & ~np.isin(crfs, probe_crfs)
                    errors[name][band] += left[inside].tolist()
    table: dict[str, dict[str, dict[str, float]]] = {}
    print(f"{args.codec} {args.preset}: {data['title'].n_unique()} titles, model {MODEL_VERSION}")
    print(f"{'scheme':22s} " + " ".join(f"{b:>34s}" for b in BANDS))
    for name, bands in errors.items():
        table[name] = {}
        cells = []
        for band, xs in bands.items():
            mae = statistics.mean(abs(x) for x in xs)
            bias = statistics.mean(xs)
            within = sum(abs(x) <= 0.75 for x in xs) / len(xs)
            table[name][band] = {"mae": mae, "bias": bias, "within_0.75": within, "n": len(xs)}
            cells.append(f"MAE {mae:4.2f} bias {bias:+5.2f} in 0.75 {within:4.0%} n {len(xs):4d}")
        print(f"{name:22s} " + " ".join(f"{c:>34s}" for c in cells))
    out = HERE / "results" / f"{args.codec}_{args.preset}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {"dataset": key, "model_params": RDModel().get_params(), "table": table},
            indent=1,
            default=str,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
