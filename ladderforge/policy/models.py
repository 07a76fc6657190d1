"""Learned quality and rate models: (content features, settings) -> (VMAF, kbps).

:class:`RDModel` holds two LightGBM regressors, one for VMAF and one for log2 bits per pixel,
with monotone constraints (quality and rate never rise with CRF; both never fall with the output
height). The VMAF regressor learns -ln(101 - VMAF), the log of the gap to a ceiling just above
100, so the top of the scale, where ladders live, is fitted with the same relative care as the
bottom (leave-one-title-out VMAF MAE 3.7 against 4.0 on plain VMAF; see
experiments/train_models/RESULTS.md). It follows scikit-learn's estimator contract (keyword
parameters stored as given, ``fit`` returns ``self``, learned attributes end in ``_``) and saves
to a small JSON file with its version, feature list and a fingerprint of its training data.
:func:`load_model` rejects a missing, corrupt or other-version file with its name and what to do.

The baselines it is compared with live in :mod:`ladderforge.policy.baselines`.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ladderforge.errors import ModelError, UsageError
from ladderforge.media.probe import as_path, not_regular_file

__all__ = [
    "CONTENT_FEATURES",
    "MODEL_VERSION",
    "SETTING_FEATURES",
    "Prediction",
    "RDModel",
    "default_model",
    "design_matrix",
    "kbps_from_log2_bpp",
    "load_model",
    "log2_bpp",
    "shipped_model",
]

MODEL_VERSION = "ladderforge.rdmodel/2"
"""/2: the quality booster predicts the log VMAF gap (/1 predicted VMAF itself)."""
CONTENT_FEATURES: tuple[str, ...] = (
    "si_mean",
    "si_p90",
    "ti_mean",
    "ti_p90",
    "texture_e_mean",
    "texture_e_p90",
    "texture_h_mean",
    "texture_h_p90",
    "luma_mean_mean",
    "luma_std_mean",
    "dark_share_mean",
    "colorfulness_mean",
    "edge_density_mean",
    "noise_sigma_mean",
    "motion_mean",
    "motion_p90",
    "flat_share_mean",
    "screen_score_mean",
    "mad_mean",
)
"""Pooled analysis features (``ladderforge.analysis``) the models read."""
SETTING_FEATURES: tuple[str, ...] = ("crf", "height_ratio", "log2_pixels", "fps")
"""Encode settings: CRF, output height / source height, log2(width x height), frame rate."""
_MONOTONE = {"crf": -1, "height_ratio": 1}
_DEFAULT_FILE = "x265_veryfast.json.gz"
_VMAF_CEILING = 101.0
"""The quality booster's target is -ln(_VMAF_CEILING - VMAF): rising with VMAF, so the monotone
constraints keep their signs, and finite at VMAF 100."""
_MIN_VMAF_DROP_PER_CRF = 0.02
"""Least VMAF a CRF step costs between training CRFs (a flat tree stretch is no real plateau)."""
_MIN_LOG2_RATE_DROP_PER_CRF = 0.005
"""Least log2-rate a CRF step saves (0.35 % of the bits)."""


def _strictly_falling(knots: np.ndarray, min_drop: np.ndarray) -> np.ndarray:
    """Each row made to fall by at least ``min_drop[k]`` from knot k to k+1 (left to right:
    a rise or a flat stretch is pushed down, never a drop raised)."""
    out = knots.copy()
    for k in range(1, out.shape[1]):
        out[:, k] = np.minimum(out[:, k], out[:, k - 1] - min_drop[k - 1])
    return out


def _pchip(grid: np.ndarray, knots: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Row i of ``knots`` (one value per grid CRF) read at ``x[i]``: PCHIP inside the grid (all
    rows in one interpolator, evaluated once per distinct x), the end segments extended
    linearly outside it."""
    from scipy.interpolate import PchipInterpolator

    inside = np.clip(x, grid[0], grid[-1])
    distinct, which = np.unique(inside, return_inverse=True)
    table = PchipInterpolator(grid, knots.T, axis=0)(distinct)  # (distinct x, rows)
    out = table[which, np.arange(len(x))]
    low, high = x < grid[0], x > grid[-1]
    if low.any():
        slope = (knots[:, 1] - knots[:, 0]) / (grid[1] - grid[0])
        out[low] = knots[low, 0] + slope[low] * (x[low] - grid[0])
    if high.any():
        slope = (knots[:, -1] - knots[:, -2]) / (grid[-1] - grid[-2])
        out[high] = knots[high, -1] + slope[high] * (x[high] - grid[-1])
    return np.asarray(out, float)


def _to_gap(vmaf: np.ndarray) -> np.ndarray:
    return np.asarray(-np.log(_VMAF_CEILING - np.clip(vmaf, 0.0, 100.0)), float)


def _from_gap(target: np.ndarray) -> np.ndarray:
    return np.asarray(_VMAF_CEILING - np.exp(-np.asarray(target, float)), float)


def log2_bpp(bitrate_kbps: Any, width: Any, height: Any, fps: Any) -> Any:
    """log2 of bits per pixel per frame (works on numbers, numpy arrays and polars Series)."""
    return np.log2(
        np.asarray(bitrate_kbps)
        * 1000.0
        / (np.asarray(width) * np.asarray(height) * np.asarray(fps))
    )


def kbps_from_log2_bpp(value: Any, width: Any, height: Any, fps: Any) -> Any:
    """Inverse of :func:`log2_bpp`."""
    return (
        np.exp2(np.asarray(value))
        * np.asarray(width)
        * np.asarray(height)
        * np.asarray(fps)
        / 1000.0
    )


def design_matrix(rows: pl.DataFrame, features: Sequence[str]) -> np.ndarray:
    """The model's input matrix from a frame with the content columns and
    ``crf``, ``width``, ``height``, ``source_height``, ``source_fps``."""
    missing = [
        c
        for c in ("crf", "width", "height", "source_height", "source_fps")
        if c not in rows.columns
    ]
    missing += [f for f in features if f not in SETTING_FEATURES and f not in rows.columns]
    if missing:
        raise UsageError(f"The rows given to the RD model lack columns: {', '.join(missing)}.")
    derived = rows.with_columns(
        (pl.col("height") / pl.col("source_height")).alias("height_ratio"),
        (pl.col("width") * pl.col("height")).log(2).alias("log2_pixels"),
        pl.col("source_fps").alias("fps"),
    )
    return derived.select([pl.col(f).cast(pl.Float64) for f in features]).to_numpy()


@dataclass(frozen=True)
class Prediction:
    """Predicted quality and rate for each row."""

    vmaf: np.ndarray
    """VMAF (v0.6.1), clipped to [0, 100]."""
    bitrate_kbps: np.ndarray
    """Bitrate in kbit/s."""


class RDModel:
    """Predicts VMAF and bitrate of an encode from content features and settings."""

    def __init__(
        self,
        *,
        n_estimators: int = 600,
        learning_rate: float = 0.03,
        num_leaves: int = 15,
        min_child_samples: int = 10,
        features: Sequence[str] | None = None,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.features = features
        self.random_state = random_state

    def _features(self) -> list[str]:
        return list(self.features or (*CONTENT_FEATURES, *SETTING_FEATURES))

    def _regressor(self, features: list[str]) -> Any:
        import lightgbm as lgb

        return lgb.LGBMRegressor(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            monotone_constraints=[_MONOTONE.get(f, 0) for f in features],
            monotone_constraints_method="advanced",
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            random_state=self.random_state,
            verbose=-1,
            n_jobs=1,  # a second thread only spins on a loaded machine (fits 10-25x slower)
        )

    def fit(self, rows: pl.DataFrame) -> RDModel:
        """Fit on sweep rows: content columns, settings columns, ``vmaf`` and ``bitrate_kbps``."""
        for name in ("vmaf", "bitrate_kbps"):
            if name not in rows.columns:
                raise UsageError(f"The rows given to RDModel.fit lack the target column {name!r}.")
        features = self._features()
        x = design_matrix(rows, features)
        rate = log2_bpp(
            rows["bitrate_kbps"].to_numpy(),
            rows["width"].to_numpy(),
            rows["height"].to_numpy(),
            rows["source_fps"].to_numpy(),
        )
        quality = _to_gap(rows["vmaf"].to_numpy())
        self.quality_ = self._regressor(features).fit(x, quality).booster_
        self.rate_ = self._regressor(features).fit(x, rate).booster_
        self.features_ = features
        self.version_ = MODEL_VERSION
        self.fingerprint_ = fingerprint(rows)
        self.n_samples_ = rows.height
        self.crf_grid_ = sorted({float(c) for c in rows["crf"].to_list()})
        self.groups_ = sorted(rows["group"].unique().to_list()) if "group" in rows.columns else []
        return self

    def predict(self, rows: pl.DataFrame) -> Prediction:
        """Predicted VMAF and kbps for each row (same columns as for fit, targets not needed)."""
        if not hasattr(self, "quality_"):
            raise UsageError("This RDModel is not fitted yet: call fit() or load_model().")
        vmaf, rate = self._interpolated(rows)
        kbps = kbps_from_log2_bpp(
            rate, rows["width"].to_numpy(), rows["height"].to_numpy(), rows["source_fps"].to_numpy()
        )
        return Prediction(vmaf=np.clip(vmaf, 0.0, 100.0), bitrate_kbps=np.asarray(kbps, float))

    def _interpolated(self, rows: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Trees are step functions of CRF with steps between the training CRFs. Each row is
        predicted at every training CRF (the knots; VMAF read back from the log gap), the knots
        are made strictly decreasing
        (quality and rate fall with every CRF step, by at least a small floor), and a monotone
        cubic (PCHIP) through them gives the value at the row's CRF: smooth, strictly
        monotone, and moving with every CRF step; outside the grid the end segments go on
        linearly."""
        design_matrix(rows.head(0), self.features_)  # names any missing column first
        grid = np.asarray(self.crf_grid_, float)
        crf = rows["crf"].cast(pl.Float64).to_numpy()
        if len(grid) < 2:
            x = design_matrix(rows, self.features_)
            return _from_gap(self.quality_.predict(x)), self.rate_.predict(x)
        knots_v = np.empty((rows.height, len(grid)))
        knots_r = np.empty((rows.height, len(grid)))
        for k, q in enumerate(grid):
            x = design_matrix(rows.with_columns(pl.lit(float(q)).alias("crf")), self.features_)
            knots_v[:, k] = _from_gap(self.quality_.predict(x))
            knots_r[:, k] = self.rate_.predict(x)
        steps = np.diff(grid)
        knots_v = _strictly_falling(knots_v, steps * _MIN_VMAF_DROP_PER_CRF)
        knots_r = _strictly_falling(knots_r, steps * _MIN_LOG2_RATE_DROP_PER_CRF)
        return _pchip(grid, knots_v, crf), _pchip(grid, knots_r, crf)

    def to_dict(self, *, metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return {
            "version": self.version_,
            "features": self.features_,
            "fingerprint": self.fingerprint_,
            "n_samples": self.n_samples_,
            "groups": self.groups_,
            "params": self.get_params(),
            "crf_grid": self.crf_grid_,
            "metadata": dict(metadata or {}),
            "quality_model": self.quality_.model_to_string(),
            "rate_model": self.rate_.model_to_string(),
        }

    def save(self, path: str | Path, *, metadata: Mapping[str, Any] | None = None) -> Path:
        """Write the model as JSON (gzip-compressed when the name ends in ``.gz``)."""
        from ladderforge.store import atomic_write_bytes

        data = json.dumps(self.to_dict(metadata=metadata)).encode()
        if str(path).endswith(".gz"):
            data = gzip.compress(data, mtime=0)
        return atomic_write_bytes(path, data)

    def get_params(self) -> dict[str, Any]:
        return {
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "features": list(self.features) if self.features else None,
            "random_state": self.random_state,
        }


def fingerprint(rows: pl.DataFrame) -> str:
    """sha256 (first 16 hex digits) of the training rows' identity and targets."""
    cols = [c for c in ("title", "width", "height", "crf", "vmaf", "bitrate_kbps") if c in rows]
    digest = hashlib.sha256(rows.select(cols).sort(cols).write_csv().encode())
    return digest.hexdigest()[:16]


def load_model(path: str | Path | None = None, *, name: str | None = None) -> RDModel:
    """Load a saved model file, or the shipped model called ``name`` (e.g. ``x265_veryfast``;
    the default when neither is given)."""
    import lightgbm as lgb

    if path is None:
        file = f"{name}.json.gz" if name else _DEFAULT_FILE
        ref = resources.files("ladderforge.policy") / "models" / file
        if not ref.is_file():
            raise ModelError(f"no shipped model {name!r} in this ladderforge")
        where, text = f"the shipped model {file}", _read(ref)
    else:
        file_path = as_path(path, parameter="path", function="load_model")
        problem = not_regular_file(file_path)
        if problem is not None:  # a FIFO or a device would block the read below
            raise ModelError(
                f"{file_path}: {problem}; a model is a file saved by RDModel.save (retrain "
                "one with experiments/train_models/run.py), or none for the shipped model",
                path=file_path,
            )
        where, text = str(file_path), _read(file_path)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ModelError(
            f"{where}: not a ladderforge model file (invalid JSON: {exc}); "
            "retrain it with experiments/train_models/run.py",
            path=path,
        ) from exc
    if not isinstance(data, dict) or data.get("version") != MODEL_VERSION:
        got = data.get("version") if isinstance(data, dict) else None
        raise ModelError(
            f"{where}: model version {got!r}, this ladderforge reads "
            f"{MODEL_VERSION!r}; retrain it with experiments/train_models/run.py",
            path=path,
        )
    model = RDModel(**data["params"])
    try:
        model.quality_ = lgb.Booster(model_str=data["quality_model"])
        model.rate_ = lgb.Booster(model_str=data["rate_model"])
    except (KeyError, lgb.basic.LightGBMError) as exc:
        raise ModelError(f"{where}: corrupt model file ({exc})", path=path) from exc
    model.features_ = list(data["features"])
    if model.quality_.num_feature() != len(model.features_):
        raise ModelError(
            f"{where}: the model expects {model.quality_.num_feature()} features "
            f"but lists {len(model.features_)}",
            path=path,
        )
    model.version_, model.fingerprint_ = data["version"], data["fingerprint"]
    model.n_samples_, model.groups_ = data.get("n_samples", 0), data.get("groups", [])
    model.crf_grid_ = [float(c) for c in data.get("crf_grid", [])]
    return model


def _read(ref: Any) -> str:
    try:
        raw = ref.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        return str(raw.decode())
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise ModelError(
            f"{ref}: cannot read the model file ({exc}); retrain it with "
            "experiments/train_models/run.py or reinstall ladderforge",
            path=str(ref),
        ) from exc


@functools.lru_cache(maxsize=1)
def default_model() -> RDModel:
    """The shipped model, loaded once (lazily, never at import time)."""
    return load_model()


@functools.lru_cache(maxsize=8)
def shipped_model(name: str) -> RDModel:
    """A shipped model by name, loaded once (lazily)."""
    return load_model(name=name)
