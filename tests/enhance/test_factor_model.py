"""Models that take the upscale factor as an input (presets ``tiny-f``, ``small-f``): within the
compute budget, trained on real pairs at two factors, saved, reloaded and exported; the shipped
version-1 model still loads unchanged; a file whose weights do not fit its preset is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ladderforge.enhance import (  # noqa: E402
    EnhanceModel,
    Pair,
    TrainConfig,
    apply,
    enhance_luma,
    export_onnx,
    export_torchscript,
    get_preset,
    load_model,
    load_torchscript,
    sample_patches,
    train,
)
from ladderforge.enhance.model import MODEL_VERSION  # noqa: E402
from ladderforge.errors import ModelError  # noqa: E402

SHIPPED_FINGERPRINT = "a1e3a8af5dd1be9f"
"""The shipped x265_tiny.pt's weights (a version-1 file)."""


@pytest.fixture(scope="module")
def factor_model(carphone_pairs: list[Pair]) -> EnhanceModel:
    patches = sample_patches(carphone_pairs, patch=32, per_frame=6, every=3, seed=0)
    config = TrainConfig(preset="tiny-f", steps=12, batch_size=8, lr=2e-3, seed=0)
    return train(patches, config=config, device="cpu")


@pytest.mark.parametrize("name", ["tiny-f", "small-f"])
def test_factor_presets_stay_within_the_budget(name: str) -> None:
    preset = get_preset(name)
    assert preset.factor_input and preset.input_planes == 2
    assert preset.in_channels == preset.block**2 + 1
    assert preset.macs_per_pixel <= 5000
    net = EnhanceModel.new(name).network
    assert sum(p.numel() for p in net.parameters()) == preset.parameters


def test_the_shipped_version_1_model_still_loads() -> None:
    model = load_model()
    assert not model.preset.factor_input and model.preset.input_planes == 1
    assert model.fingerprint() == SHIPPED_FINGERPRINT
    assert torch.load(model.path, weights_only=True)["version"] == 1


def test_a_luma_only_model_is_saved_as_version_1_and_reloads(tmp_path: Path) -> None:
    """Older releases read version 1 only, and a preset without ``factor_input``."""
    model = EnhanceModel.new("tiny")
    path = model.save(tmp_path / "luma.pt")
    payload = torch.load(path, weights_only=True)
    assert payload["version"] == 1 and "factor_input" not in payload["preset"]
    again = load_model(path)
    assert again.preset == model.preset and again.fingerprint() == model.fingerprint()


def test_trained_on_two_factors_and_the_factor_changes_the_output(
    factor_model: EnhanceModel,
) -> None:
    assert factor_model.metadata["factors"] == [1.0, 2.0]  # 176x144 and 88x72 renditions
    x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        native = factor_model.network(torch.cat([x, torch.zeros_like(x)], 1))
        doubled = factor_model.network(torch.cat([x, torch.ones_like(x)], 1))
    assert native.shape == doubled.shape == (1, 1, 32, 32)
    assert not torch.equal(native, doubled)


def test_save_reload_and_export(factor_model: EnhanceModel, tmp_path: Path) -> None:
    path = factor_model.save(tmp_path / "f.pt")
    assert torch.load(path, weights_only=True)["version"] == MODEL_VERSION
    again = load_model(path)
    assert again.preset == factor_model.preset and again.fingerprint() == factor_model.fingerprint()
    assert again.metadata["factors"] == [1.0, 2.0]
    x = torch.rand(2, 2, 40, 48, generator=torch.Generator().manual_seed(1))
    scripted = load_torchscript(export_torchscript(again, tmp_path / "f.ts"))
    with torch.no_grad():
        want = again.network(x)
        assert torch.allclose(scripted(x), want, atol=1e-5)
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from ladderforge.enhance import load_onnx

    runner = load_onnx(export_onnx(again, tmp_path / "f.onnx"))
    assert np.abs(runner(x.numpy()) - want.numpy()).max() < 1e-4


def test_apply_gives_the_rendition_its_factor(
    factor_model: EnhanceModel, half_rendition: Pair, tmp_path: Path
) -> None:
    done = apply(factor_model, half_rendition.dist, tmp_path / "e.mkv", width=176, height=144)
    assert (done.width, done.height) == (176, 144) and done.frames == 12
    luma = np.random.default_rng(0).integers(0, 255, (2, 70, 90), dtype=np.uint8)
    whole = enhance_luma(factor_model, luma, factor=2.0, tile=512)
    tiled = enhance_luma(factor_model, luma, factor=2.0, tile=32)
    assert np.array_equal(whole, tiled)


def test_weights_that_do_not_fit_the_preset_are_refused(tmp_path: Path) -> None:
    luma_only = EnhanceModel.new("tiny").save(tmp_path / "luma.pt")
    payload = torch.load(luma_only, weights_only=True)
    payload["preset"]["factor_input"] = True  # a factor model's preset over luma-only weights
    torch.save(payload, tmp_path / "mixed.pt")
    with pytest.raises(ModelError, match=r"mixed\.pt: the weights do not fit preset"):
        load_model(tmp_path / "mixed.pt")
    payload["version"] = 99
    torch.save(payload, tmp_path / "future.pt")
    with pytest.raises(ModelError, match=r"future\.pt: model file version 99"):
        load_model(tmp_path / "future.pt")
