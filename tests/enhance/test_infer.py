"""Inference: odd sizes padded and cropped back, tiling equal to whole frames, streaming apply."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from ladderforge.enhance import EnhanceModel, Pair, apply, benchmark, enhance_luma
from ladderforge.enhance.frames import iter_planes, video_grid
from ladderforge.errors import UsageError
from ladderforge.media import probe


@pytest.fixture(scope="module")
def trained_like() -> EnhanceModel:
    """A tiny model with random (non-identity) weights, so that every pixel is changed."""
    import torch

    model = EnhanceModel.new("tiny", seed=1)
    with torch.no_grad():
        model.network.body[-1].weight.normal_(0, 0.02)
    return model


@pytest.mark.parametrize("shape", [(37, 53), (2, 33, 65), (1, 144, 176), (7, 5)])
def test_odd_sizes_are_padded_and_cropped_back(trained_like: EnhanceModel, shape: tuple) -> None:
    luma = np.random.default_rng(0).integers(16, 236, shape, dtype=np.uint8)
    out = enhance_luma(trained_like, luma)
    assert out.shape == luma.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - luma).mean() > 0.1


def test_tiles_match_the_whole_frame(trained_like: EnhanceModel) -> None:
    luma = np.random.default_rng(1).integers(16, 236, (2, 150, 237), dtype=np.uint8)
    whole = enhance_luma(trained_like, luma, tile=512)
    tiled = enhance_luma(trained_like, luma, tile=64, batch=3)
    diff = np.abs(whole.astype(int) - tiled)
    assert diff.max() <= 1  # float sums in another order may round the other way
    assert (diff > 0).mean() < 0.001


def test_bad_tile_is_refused(trained_like: EnhanceModel) -> None:
    with pytest.raises(UsageError, match="'tile'"):
        enhance_luma(trained_like, np.zeros((8, 8), np.uint8), tile=4)


def test_apply_on_a_real_rendition(half_rendition: Pair, tmp_path: Path) -> None:
    """The shipped model on an 88x72 x265 rendition, upscaled to 176x144: closer to the source
    than the plain bicubic upscale, every frame written, chroma passed through."""
    out = tmp_path / "enhanced.mkv"
    seen: list[int] = []
    result = apply(
        _default(), half_rendition.dist, out, width=176, height=144, batch=5,
        on_progress=seen.append,
    )  # fmt: skip
    plain = apply(None, half_rendition.dist, tmp_path / "plain.mkv", width=176, height=144)
    info = probe(out, hash_content=False)
    assert (info.width, info.height, info.frame_count) == (176, 144, 12)
    assert result.frames == 12 and seen[-1] == 12 and result.model_fps > 0
    ref = list(iter_planes(half_rendition.ref))
    enh, base = list(iter_planes(out)), list(iter_planes(tmp_path / "plain.mkv"))
    assert plain.model_s == 0.0
    mse_enh = np.mean(
        [((e[0].astype(float) - r[0]) ** 2).mean() for e, r in zip(enh, ref, strict=True)]
    )
    mse_base = np.mean(
        [((b[0].astype(float) - r[0]) ** 2).mean() for b, r in zip(base, ref, strict=True)]
    )
    assert mse_enh < mse_base
    assert all(
        np.array_equal(e[1], b[1]) for e, b in zip(enh, base, strict=True)
    )  # chroma untouched


def _default() -> EnhanceModel:
    from ladderforge.enhance import load_model

    return load_model()


def test_video_grid_of_an_odd_sized_output(trained_like: EnhanceModel, half_rendition: Pair,
                                           tmp_path: Path) -> None:  # fmt: skip
    out = apply(trained_like, half_rendition.dist, tmp_path / "odd.mkv", width=91, height=75)
    grid = video_grid(out.output_path)
    assert (grid.width, grid.height) == (91, 75)
    assert next(p[0].shape for p in iter_planes(out.output_path)) == (75, 91)


def test_benchmark_reports_fps(trained_like: EnhanceModel) -> None:
    r = benchmark(trained_like, width=96, height=64, frames=4, batch=2, device="cpu")
    assert r["fps"] > 0 and r["frames"] == 4 and r["device"] == "cpu"
