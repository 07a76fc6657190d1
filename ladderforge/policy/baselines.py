"""Simple baselines the learned RD model is judged against, with the same fit/predict contract.

- :class:`LinearRDBaseline`: per output-height-ratio bucket, ridge regressions of VMAF and of
  log2 bits per pixel on CRF, CRF squared and the standardised content features.
- :class:`HGBRDBaseline`: scikit-learn's HistGradientBoostingRegressor on the same features,
  with the same monotone constraints as :class:`~ladderforge.policy.models.RDModel`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from ladderforge.errors import UsageError
from ladderforge.policy.models import (
    _MONOTONE,
    CONTENT_FEATURES,
    SETTING_FEATURES,
    Prediction,
    design_matrix,
    kbps_from_log2_bpp,
    log2_bpp,
)

__all__ = ["HGBRDBaseline", "LinearRDBaseline"]

_BUCKETS = (0.0, 0.3, 0.45, 0.6, 0.8, 0.95, 10.0)


def _targets(rows: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    rate = log2_bpp(
        rows["bitrate_kbps"].to_numpy(),
        rows["width"].to_numpy(),
        rows["height"].to_numpy(),
        rows["source_fps"].to_numpy(),
    )
    return rows["vmaf"].to_numpy(), np.asarray(rate)


def _to_prediction(rows: pl.DataFrame, vmaf: np.ndarray, rate: np.ndarray) -> Prediction:
    kbps = kbps_from_log2_bpp(
        rate, rows["width"].to_numpy(), rows["height"].to_numpy(), rows["source_fps"].to_numpy()
    )
    return Prediction(vmaf=np.clip(vmaf, 0, 100), bitrate_kbps=np.asarray(kbps, float))


class HGBRDBaseline:
    """Histogram gradient boosting with monotone constraints (scikit-learn)."""

    def __init__(
        self,
        *,
        max_iter: int = 400,
        learning_rate: float = 0.05,
        features: Sequence[str] | None = None,
    ) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.features = features

    def fit(self, rows: pl.DataFrame) -> HGBRDBaseline:
        from sklearn.ensemble import HistGradientBoostingRegressor

        self.features_ = list(self.features or (*CONTENT_FEATURES, *SETTING_FEATURES))
        x = design_matrix(rows, self.features_)
        vmaf, rate = _targets(rows)
        cst = [_MONOTONE.get(f, 0) for f in self.features_]
        self.quality_ = HistGradientBoostingRegressor(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            monotonic_cst=cst,
            random_state=0,
        ).fit(x, vmaf)
        self.rate_ = HistGradientBoostingRegressor(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            monotonic_cst=cst,
            random_state=0,
        ).fit(x, rate)
        return self

    def predict(self, rows: pl.DataFrame) -> Prediction:
        x = design_matrix(rows, self.features_)
        return _to_prediction(rows, self.quality_.predict(x), self.rate_.predict(x))


class LinearRDBaseline:
    """Per height-ratio bucket ridge regressions on CRF, CRF^2 and content features."""

    def __init__(self, *, alpha: float = 1.0, features: Sequence[str] | None = None) -> None:
        self.alpha = alpha
        self.features = features

    def _x(self, rows: pl.DataFrame) -> np.ndarray:
        content = design_matrix(rows, self.content_)
        crf = rows["crf"].to_numpy().astype(float)[:, None]
        return np.hstack([crf, crf**2 / 100.0, (content - self.mean_) / self.scale_])

    def _bucket(self, rows: pl.DataFrame) -> np.ndarray:
        ratio = (rows["height"] / rows["source_height"]).to_numpy()
        return np.digitize(ratio, _BUCKETS[1:-1])

    def fit(self, rows: pl.DataFrame) -> LinearRDBaseline:
        from sklearn.linear_model import Ridge

        self.content_ = list(self.features or CONTENT_FEATURES)
        content = design_matrix(rows, self.content_)
        self.mean_ = np.nanmean(content, axis=0)
        self.scale_ = np.nanstd(content, axis=0) + 1e-9
        x, bucket = np.nan_to_num(self._x(rows)), self._bucket(rows)
        vmaf, rate = _targets(rows)
        self.models_: dict[int, tuple[Any, Any]] = {}
        for b in np.unique(bucket):
            mask = bucket == b
            self.models_[int(b)] = (
                Ridge(alpha=self.alpha).fit(x[mask], vmaf[mask]),
                Ridge(alpha=self.alpha).fit(x[mask], rate[mask]),
            )
        return self

    def predict(self, rows: pl.DataFrame) -> Prediction:
        if not hasattr(self, "models_"):
            raise UsageError("This LinearRDBaseline is not fitted yet.")
        x, bucket = np.nan_to_num(self._x(rows)), self._bucket(rows)
        vmaf, rate = np.zeros(len(rows)), np.zeros(len(rows))
        known = np.array(sorted(self.models_))
        for b in np.unique(bucket):
            mask = bucket == b
            nearest = int(known[np.argmin(np.abs(known - b))])
            q, r = self.models_[nearest]
            vmaf[mask], rate[mask] = q.predict(x[mask]), r.predict(x[mask])
        return _to_prediction(rows, vmaf, rate)
