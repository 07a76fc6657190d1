"""The learned RD models: estimator contract, monotonicity, save/load, the shipped model.

Training rows are real measurements: a sample of the build_dataset output (x265 veryfast
sweeps of scenes of the corpus and demo clips), checked in as tests/data/rd_sample.parquet.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from ladderforge.errors import ModelError, UsageError
from ladderforge.policy.baselines import HGBRDBaseline, LinearRDBaseline
from ladderforge.policy.models import MODEL_VERSION, RDModel, load_model

DATA = Path(__file__).parents[1] / "data" / "rd_sample.parquet"


@pytest.fixture(scope="module")
def rows() -> pl.DataFrame:
    return pl.read_parquet(DATA)


@pytest.fixture(scope="module")
def fitted(rows: pl.DataFrame) -> RDModel:
    return RDModel(n_estimators=150).fit(rows)


def _grid(rows: pl.DataFrame, *, crfs: list[float], heights: list[int]) -> pl.DataFrame:
    base = rows.row(0, named=True)
    grid = [
        {**base, "crf": float(c), "height": h, "width": h * 16 // 9 // 2 * 2}
        for h in heights
        for c in crfs
    ]
    return pl.DataFrame(grid)


def test_contract(rows: pl.DataFrame) -> None:
    model = RDModel(n_estimators=50, num_leaves=7)
    assert model.get_params()["num_leaves"] == 7 and not hasattr(model, "quality_")
    with pytest.raises(UsageError, match="not fitted"):
        model.predict(rows)
    assert model.fit(rows) is model
    assert model.version_ == MODEL_VERSION and len(model.fingerprint_) == 16
    pred = model.predict(rows)
    assert pred.vmaf.shape == pred.bitrate_kbps.shape == (rows.height,)
    assert np.all((pred.vmaf >= 0) & (pred.vmaf <= 100)) and np.all(pred.bitrate_kbps > 0)


def test_missing_columns(fitted: RDModel, rows: pl.DataFrame) -> None:
    with pytest.raises(UsageError, match="lack columns: crf"):
        fitted.predict(rows.drop("crf"))
    with pytest.raises(UsageError, match="target column 'vmaf'"):
        RDModel().fit(rows.drop("vmaf"))


def test_monotone_in_crf_and_height(fitted: RDModel, rows: pl.DataFrame) -> None:
    crfs = [float(c) for c in range(10, 52, 2)]
    pred = fitted.predict(_grid(rows, crfs=crfs, heights=[360]))
    assert np.all(np.diff(pred.vmaf) <= 1e-9), "VMAF must not rise with CRF"
    assert np.all(np.diff(np.log(pred.bitrate_kbps) - 0) <= 1e-9), "kbps must not rise with CRF"
    by_height = fitted.predict(_grid(rows, crfs=[28.0], heights=[144, 240, 360, 480, 720]))
    assert np.all(np.diff(by_height.vmaf) >= -1e-9)


@pytest.mark.parametrize("model", ["fitted", "shipped"])
def test_smooth_and_strictly_monotone_over_the_crf_range(
    model: str, fitted: RDModel, rows: pl.DataFrame
) -> None:
    """No tree steps: every CRF step of 16..46 changes both predictions, and no single step
    carries a large share of the whole drop (a step function would)."""
    from ladderforge.policy.models import default_model

    m = fitted if model == "fitted" else default_model()
    source = int(rows.row(0, named=True)["source_height"])
    for height in sorted({source, source // 2 * 2 // 2, 2 * (source // 3 // 2)}):
        pred = m.predict(_grid(rows, crfs=[float(c) for c in range(16, 47)], heights=[height]))
        dv, dk = np.diff(pred.vmaf), np.diff(np.log(pred.bitrate_kbps))
        below_cap = pred.vmaf[1:] < 100.0  # VMAF's ceiling is the one plateau allowed
        assert np.all(dv[below_cap] < 0) and np.all(dk < 0), (height, pred.vmaf)
        assert dv.min() >= 0.25 * (pred.vmaf[-1] - pred.vmaf[0]), (height, dv)


def test_fits_training_data_reasonably(fitted: RDModel, rows: pl.DataFrame) -> None:
    pred = fitted.predict(rows)
    assert np.mean(np.abs(pred.vmaf - rows["vmaf"].to_numpy())) < 3.0
    mape = np.mean(
        np.abs(pred.bitrate_kbps - rows["bitrate_kbps"].to_numpy())
        / rows["bitrate_kbps"].to_numpy()
    )
    assert mape < 0.25


def test_save_load_round_trip(fitted: RDModel, rows: pl.DataFrame, tmp_path: Path) -> None:
    path = fitted.save(tmp_path / "m.json", metadata={"note": "test"})
    loaded = load_model(path)
    assert loaded.features_ == fitted.features_ and loaded.fingerprint_ == fitted.fingerprint_
    np.testing.assert_allclose(loaded.predict(rows).vmaf, fitted.predict(rows).vmaf)


@pytest.mark.parametrize("kind", ["missing", "garbage", "version", "shape"])
def test_bad_model_files(fitted: RDModel, tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.json"
    if kind == "garbage":
        path.write_text("{not json")
    elif kind == "version":
        data = fitted.to_dict()
        data["version"] = "ladderforge.rdmodel/0"
        path.write_text(json.dumps(data))
    elif kind == "shape":
        data = fitted.to_dict()
        data["features"] = data["features"][:-1]
        path.write_text(json.dumps(data))
    with pytest.raises(ModelError, match=f"{kind}.json") as exc:
        load_model(path)
    assert "retrain" in str(exc.value) or kind == "shape"


def test_shipped_model_loads_offline(rows: pl.DataFrame) -> None:
    model = load_model()
    assert model.version_ == MODEL_VERSION and model.n_samples_ > 500
    pred = model.predict(rows.head(20))
    assert np.all(np.isfinite(pred.vmaf)) and np.all(pred.bitrate_kbps > 0)


@pytest.mark.parametrize("cls", [HGBRDBaseline, LinearRDBaseline])
def test_baselines(cls: type, rows: pl.DataFrame) -> None:
    model = cls().fit(rows)
    pred = model.predict(rows)
    assert np.mean(np.abs(pred.vmaf - rows["vmaf"].to_numpy())) < 10
