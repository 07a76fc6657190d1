"""Throwaway comparison of RD-model variants under run.py's leave-one-title-out protocol.

Each variant is a class with ``fit(rows) -> self`` and ``predict(rows) -> Prediction`` like
:class:`ladderforge.policy.models.RDModel`; :func:`run.cross_validate` and :func:`run.errors`
score it (per held-out title: VMAF MAE and kbps MAPE over all its rows; median over titles).
Features come only from content analysis (``CONTENT_FEATURES``) and the encode settings: no
probe encode.

Usage (one CPU job at a time on a loaded machine):
    OMP_NUM_THREADS=1 PYTHONPATH=. nice -n 10 python experiments/train_models/variants.py \
        [--dataset PATH] [--only NAME ...] [--tag TAG]
Writes experiments/train_models/results/variants_<tag>.json (merged with earlier runs of the
same tag) and prints the median figures and the worst titles.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ladderforge.policy.models import (
    CONTENT_FEATURES,
    SETTING_FEATURES,
    Prediction,
    RDModel,
    _pchip,
    _strictly_falling,
    design_matrix,
    kbps_from_log2_bpp,
    log2_bpp,
)
from ladderforge.store import atomic_write_json

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import DATASET, cross_validate  # noqa: E402

_MONOTONE = {"crf": -1, "height_ratio": 1, "log2_bpp": 1}
_SHAPE = ("height_ratio", "log2_pixels", "fps")
_MEANS = tuple(f for f in CONTENT_FEATURES if not f.endswith("_p90"))


def _rate(rows: pl.DataFrame) -> np.ndarray:
    return np.asarray(
        log2_bpp(
            rows["bitrate_kbps"].to_numpy(),
            rows["width"].to_numpy(),
            rows["height"].to_numpy(),
            rows["source_fps"].to_numpy(),
        ),
        float,
    )


def _kbps(rows: pl.DataFrame, rate: np.ndarray) -> np.ndarray:
    return np.asarray(
        kbps_from_log2_bpp(
            rate, rows["width"].to_numpy(), rows["height"].to_numpy(), rows["source_fps"].to_numpy()
        ),
        float,
    )


# VMAF spaces: forward, inverse, least knot drop per CRF in that space
def _logit_fwd(v: np.ndarray) -> np.ndarray:
    p = (np.clip(v, 0.0, 100.0) + 1.0) / 102.0
    return np.log(p / (1.0 - p))


def _logit_inv(t: np.ndarray) -> np.ndarray:
    return 102.0 / (1.0 + np.exp(-t)) - 1.0


def _log_gap_fwd(v: np.ndarray) -> np.ndarray:
    return -np.log(101.0 - np.clip(v, 0.0, 100.0))


def _log_gap_inv(t: np.ndarray) -> np.ndarray:
    return 101.0 - np.exp(-t)


SPACES: dict[str, tuple[Callable[..., Any], Callable[..., Any], float]] = {
    "linear": (lambda v: v, lambda t: t, 0.02),
    "logit": (_logit_fwd, _logit_inv, 0.001),
    "log_gap": (_log_gap_fwd, _log_gap_inv, 0.001),
}


class Baseline(RDModel):
    """The shipped RDModel as it is now in ladderforge (rdmodel/2: log VMAF gap), with one
    LightGBM thread (same trees). Rows named ``baseline_*`` in the results were measured with
    rdmodel/1 (plain VMAF target), which ``gbm_same_params`` reproduces exactly."""

    def _regressor(self, features: list[str]) -> Any:
        return super()._regressor(features).set_params(n_jobs=1)


def _lgb(features: Sequence[str], params: dict[str, Any], monotone: bool = True) -> Any:
    import lightgbm as lgb

    base = {
        "n_estimators": 600,
        "learning_rate": 0.03,
        "num_leaves": 15,
        "min_child_samples": 10,
        "subsample": 0.8,
        "subsample_freq": 1,
        "colsample_bytree": 0.8,
        "random_state": 0,
        "verbose": -1,
        "n_jobs": 1,
    }
    if monotone:
        base |= {
            "monotone_constraints": [_MONOTONE.get(f, 0) for f in features],
            "monotone_constraints_method": "advanced",
        }
    return lgb.LGBMRegressor(**(base | params))


class GBMVariant:
    """RDModel's shape (two monotone LightGBMs, knots at the grid CRFs, PCHIP) with the VMAF
    target in another space, other hyper-parameters or another feature list."""

    def __init__(
        self, *, space: str = "linear", content: Sequence[str] = CONTENT_FEATURES, **params: Any
    ) -> None:
        self.space = space
        self.content = tuple(content)
        self.params = params

    def fit(self, rows: pl.DataFrame) -> GBMVariant:
        fwd = SPACES[self.space][0]
        self.features_ = [*self.content, *SETTING_FEATURES]
        x = design_matrix(rows, self.features_)
        self.quality_ = _lgb(self.features_, self.params).fit(x, fwd(rows["vmaf"].to_numpy()))
        self.rate_ = _lgb(self.features_, self.params).fit(x, _rate(rows))
        self.grid_ = np.asarray(sorted({float(c) for c in rows["crf"].to_list()}))
        return self

    def _knots(self, rows: pl.DataFrame, model: Any) -> np.ndarray:
        out = np.empty((rows.height, len(self.grid_)))
        for k, q in enumerate(self.grid_):
            x = design_matrix(rows.with_columns(pl.lit(float(q)).alias("crf")), self.features_)
            out[:, k] = model.predict(x)
        return out

    def predict(self, rows: pl.DataFrame) -> Prediction:
        _, inv, floor = SPACES[self.space]
        crf = rows["crf"].cast(pl.Float64).to_numpy()
        steps = np.diff(self.grid_)
        kv = _strictly_falling(self._knots(rows, self.quality_), steps * floor)
        kr = _strictly_falling(self._knots(rows, self.rate_), steps * 0.005)
        vmaf = inv(_pchip(self.grid_, kv, crf))
        rate = _pchip(self.grid_, kr, crf)
        return Prediction(vmaf=np.clip(vmaf, 0.0, 100.0), bitrate_kbps=_kbps(rows, rate))


class TwoStage(GBMVariant):
    """Rate as in RDModel; VMAF from (log2 bpp, shape, content), monotone rising in log2 bpp:
    trained on the measured rate, read at the predicted rate knots."""

    def fit(self, rows: pl.DataFrame) -> TwoStage:
        fwd = SPACES[self.space][0]
        self.features_ = [*self.content, *SETTING_FEATURES]
        self.q_features_ = [*self.content, *_SHAPE, "log2_bpp"]
        x = design_matrix(rows, self.features_)
        self.rate_ = _lgb(self.features_, self.params).fit(x, _rate(rows))
        xq = np.column_stack([design_matrix(rows, [*self.content, *_SHAPE]), _rate(rows)])
        self.quality_ = _lgb(self.q_features_, self.params).fit(xq, fwd(rows["vmaf"].to_numpy()))
        self.grid_ = np.asarray(sorted({float(c) for c in rows["crf"].to_list()}))
        return self

    def predict(self, rows: pl.DataFrame) -> Prediction:
        _, inv, floor = SPACES[self.space]
        crf = rows["crf"].cast(pl.Float64).to_numpy()
        steps = np.diff(self.grid_)
        kr = _strictly_falling(self._knots(rows, self.rate_), steps * 0.005)
        base = design_matrix(rows, [*self.content, *_SHAPE])
        kv = np.column_stack(
            [self.quality_.predict(np.column_stack([base, kr[:, k]])) for k in range(kr.shape[1])]
        )
        kv = _strictly_falling(kv, steps * floor)
        vmaf = inv(_pchip(self.grid_, kv, crf))
        rate = _pchip(self.grid_, kr, crf)
        return Prediction(vmaf=np.clip(vmaf, 0.0, 100.0), bitrate_kbps=_kbps(rows, rate))


def _curve_key(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.with_columns(pl.concat_str(["title", "height"], separator="@").alias("_curve"))


class CurveParams:
    """Whole per-height curves: each (segment, height) curve fitted as a quadratic in
    u = (crf - 31) / 15, for log2 bpp and for VMAF in ``space``; the six coefficients regressed
    from (content, shape) by ``regressor`` ("gbm", "ridge" or "knn")."""

    def __init__(
        self,
        *,
        space: str = "logit",
        regressor: str = "gbm",
        degree: int = 2,
        content: Sequence[str] = CONTENT_FEATURES,
        **params: Any,
    ) -> None:
        self.space = space
        self.regressor = regressor
        self.degree = degree
        self.content = tuple(content)
        self.params = params

    def _make(self) -> Any:
        from sklearn.linear_model import RidgeCV
        from sklearn.neighbors import KNeighborsRegressor
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        if self.regressor == "ridge":
            return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 3, 12)))
        if self.regressor == "knn":
            k = self.params.get("k", 7)
            return make_pipeline(StandardScaler(), KNeighborsRegressor(k, weights="distance"))
        params = {"n_estimators": 400, "num_leaves": 7, "min_child_samples": 5} | self.params
        return _lgb(self.features_, params, monotone=False)

    def fit(self, rows: pl.DataFrame) -> CurveParams:
        fwd = SPACES[self.space][0]
        self.features_ = [*self.content, *_SHAPE]
        rows = _curve_key(rows)
        xs, ys = [], []
        for _, curve in rows.group_by("_curve", maintain_order=True):
            if curve.height <= self.degree + 1:
                continue
            u = (curve["crf"].to_numpy() - 31.0) / 15.0
            coef_r = np.polyfit(u, _rate(curve), self.degree)
            coef_v = np.polyfit(u, fwd(curve["vmaf"].to_numpy()), self.degree)
            xs.append(design_matrix(curve.head(1), self.features_)[0])
            ys.append(np.concatenate([coef_r, coef_v]))
        x, y = np.asarray(xs), np.asarray(ys)
        self.models_ = [self._make().fit(x, y[:, j]) for j in range(y.shape[1])]
        return self

    def predict(self, rows: pl.DataFrame) -> Prediction:
        inv = SPACES[self.space][1]
        x = design_matrix(rows, self.features_)
        coef = np.column_stack([m.predict(x) for m in self.models_])
        u = (rows["crf"].to_numpy() - 31.0) / 15.0
        powers = np.column_stack([u ** (self.degree - j) for j in range(self.degree + 1)])
        n = self.degree + 1
        rate = np.sum(coef[:, :n] * powers, axis=1)
        vmaf = inv(np.sum(coef[:, n:] * powers, axis=1))
        return Prediction(vmaf=np.clip(vmaf, 0.0, 100.0), bitrate_kbps=_kbps(rows, rate))


class Blend:
    """Mean of the members' VMAF (in ``space``) and of their log2 rates."""

    def __init__(self, *, members: Sequence[Callable[[], Any]], space: str = "log_gap") -> None:
        self.members = members
        self.space = space

    def fit(self, rows: pl.DataFrame) -> Blend:
        self.models_ = [make().fit(rows) for make in self.members]
        return self

    def predict(self, rows: pl.DataFrame) -> Prediction:
        fwd, inv, _ = SPACES[self.space]
        preds = [m.predict(rows) for m in self.models_]
        vmaf = inv(np.mean([fwd(p.vmaf) for p in preds], axis=0))
        kbps = np.exp(np.mean([np.log(p.bitrate_kbps) for p in preds], axis=0))
        return Prediction(vmaf=np.clip(vmaf, 0.0, 100.0), bitrate_kbps=kbps)


P = functools.partial
VARIANTS: dict[str, Callable[[], Any]] = {
    "rdmodel": Baseline,
    "baseline_rdmodel": P(GBMVariant),
    "gbm_same_params": P(GBMVariant),
    "gbm_l7_mcs30_n300": P(GBMVariant, num_leaves=7, min_child_samples=30, n_estimators=300),
    "gbm_l4_mcs60_n400": P(GBMVariant, num_leaves=4, min_child_samples=60, n_estimators=400),
    "gbm_l15_mcs40": P(GBMVariant, min_child_samples=40),
    "gbm_means_only": P(GBMVariant, content=_MEANS),
    "gbm_logit": P(GBMVariant, space="logit"),
    "gbm_log_gap": P(GBMVariant, space="log_gap"),
    "two_stage_linear": P(TwoStage),
    "two_stage_logit": P(TwoStage, space="logit"),
    "curves_gbm_logit": P(CurveParams),
    "curves_gbm_linear": P(CurveParams, space="linear"),
    "curves_ridge_logit": P(CurveParams, regressor="ridge"),
    "curves_knn_logit": P(CurveParams, regressor="knn"),
    "gbm_log_gap_means": P(GBMVariant, space="log_gap", content=_MEANS),
    "gbm_log_gap_means_seed1": P(GBMVariant, space="log_gap", content=_MEANS, random_state=1),
    "gbm_log_gap_means_seed2": P(GBMVariant, space="log_gap", content=_MEANS, random_state=2),
    "baseline_seed1": P(GBMVariant, random_state=1),
    "baseline_seed2": P(GBMVariant, random_state=2),
    "rdmodel_seed1": P(Baseline, random_state=1),
    "rdmodel_seed2": P(Baseline, random_state=2),
    "gbm_log_gap_seed1": P(GBMVariant, space="log_gap", random_state=1),
    "gbm_log_gap_seed2": P(GBMVariant, space="log_gap", random_state=2),
    "gbm_log_gap_means_l31_mcs5": P(
        GBMVariant, space="log_gap", content=_MEANS, num_leaves=31, min_child_samples=5
    ),
    "curves_gbm_log_gap": P(CurveParams, space="log_gap"),
    "curves_gbm_log_gap_means": P(CurveParams, space="log_gap", content=_MEANS),
    "rdmodel_seeds3": P(Blend, members=[P(Baseline, random_state=k) for k in range(3)]),
    "rdmodel_seeds5": P(Blend, members=[P(Baseline, random_state=k) for k in range(5)]),
    "blend_gbm_curves_means": P(
        Blend,
        members=[
            P(GBMVariant, space="log_gap", content=_MEANS),
            P(CurveParams, space="log_gap", content=_MEANS),
        ],
    ),
}


def summarise(per_title: dict[str, dict[str, float]]) -> dict[str, Any]:
    return {
        "median_vmaf_mae": statistics.median(v["vmaf_mae"] for v in per_title.values()),
        "median_kbps_mape": statistics.median(v["kbps_mape"] for v in per_title.values()),
        "per_title": per_title,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--tag", default="snapshot")
    args = parser.parse_args()
    data = pl.read_parquet(args.dataset).filter(pl.col("bitrate_kbps") > 0)
    out = HERE / "results" / f"variants_{args.tag}.json"
    results = json.loads(out.read_text()) if out.is_file() else {}
    for name in args.only or list(VARIANTS):
        start = time.monotonic()
        res = summarise(cross_validate(data, VARIANTS[name]))
        res["seconds"] = round(time.monotonic() - start, 1)
        results[name] = res
        atomic_write_json(out, results)
        worst = sorted(res["per_title"].items(), key=lambda kv: -kv[1]["vmaf_mae"])[:5]
        print(
            f"{name:24s} VMAF MAE {res['median_vmaf_mae']:5.2f}  kbps MAPE "
            f"{res['median_kbps_mape']:5.1f} %  ({res['seconds']:.0f} s)  worst: "
            + ", ".join(f"{g[:28]} {e['vmaf_mae']:.1f}/{e['kbps_mape']:.0f}%" for g, e in worst),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
