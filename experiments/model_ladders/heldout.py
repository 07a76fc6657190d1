"""Held-out RD models, cached: the model trained on every title of a dataset but one.

Each title's model is saved in ``<cache>/<title>.json.gz`` (the fitted model saved and loaded
back, so a first run and a rerun play the same model); a rerun loads it instead of refitting
when the training rows, their content features and the model's parameters are the same.
Used by ``experiments/model_ladders`` and ``experiments/evaluate_ladders``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import polars as pl

from ladderforge.errors import ModelError
from ladderforge.policy.models import CONTENT_FEATURES, RDModel, fingerprint, load_model


def _features_sha(rows: pl.DataFrame) -> str:
    """The training rows' content features (``fingerprint`` covers settings and targets only)."""
    cols = ["title", "start", "width", "height", "crf", *CONTENT_FEATURES]
    return hashlib.sha256(rows.select(cols).sort(cols).write_csv().encode()).hexdigest()[:16]


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
