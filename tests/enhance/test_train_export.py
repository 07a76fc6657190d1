"""Training a few steps on real media (seeded, reproducible), fine-tuning, export and reload."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ladderforge.enhance import (  # noqa: E402
    EnhanceModel,
    Pair,
    PatchSet,
    TrainConfig,
    export_onnx,
    export_torchscript,
    load_model,
    load_torchscript,
    sample_patches,
    train,
)
from ladderforge.enhance.training import augment  # noqa: E402
from ladderforge.errors import UsageError  # noqa: E402


@pytest.fixture(scope="module")
def patches(carphone_pairs: list[Pair]) -> PatchSet:
    return sample_patches(carphone_pairs, patch=32, per_frame=6, every=3, seed=0)


def test_pairs_are_real_x265_renditions(carphone_pairs: list[Pair]) -> None:
    sizes = {(p.settings.width, p.settings.height) for p in carphone_pairs}
    assert sizes == {(176, 144), (88, 72)}
    assert all(p.dist.is_file() and p.bitrate_kbps > 0 for p in carphone_pairs)
    low = [p.bitrate_kbps for p in carphone_pairs if p.settings.q == 38]
    high = [p.bitrate_kbps for p in carphone_pairs if p.settings.q == 30]
    assert max(low) < max(high)


def test_patches_are_co_located(patches: PatchSet) -> None:
    assert patches.dist.shape == patches.ref.shape and patches.dist.shape[1:] == (32, 32)
    assert patches.titles == ("carphone_pristine",)
    # co-located: the rendition is close to its reference, far from a shuffled one
    err = np.abs(patches.dist.astype(int) - patches.ref).mean()
    shuffled = np.abs(patches.dist.astype(int) - np.roll(patches.ref, 1, axis=0)).mean()
    assert err < shuffled / 2


def test_augment_applies_the_same_transform_to_both() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (16, 8, 8), dtype=np.uint8)
    d, r = augment(a, a.copy(), np.random.default_rng(1))
    assert np.array_equal(d, r) and not np.array_equal(d, a)


def test_training_a_few_steps_learns_and_is_reproducible(patches: PatchSet) -> None:
    config = TrainConfig(steps=20, batch_size=8, lr=2e-3, seed=7, val_fraction=0.2)
    seen: list[int] = []
    one = train(patches, config=config, device="cpu", on_progress=lambda s, n, loss: seen.append(s))
    two = train(patches, config=config, device="cpu")
    assert one.fingerprint() == two.fingerprint()
    assert seen[-1] == 20
    meta = one.metadata
    assert meta["config"]["seed"] == 7 and meta["titles"] == ["carphone_pristine"]
    assert np.isfinite(meta["val_psnr_out_db"]) and meta["val_patches"] > 0
    other = train(patches, config=TrainConfig(steps=5, batch_size=8, seed=8), device="cpu")
    assert other.fingerprint() != one.fingerprint()


def test_head_only_fine_tune_changes_only_the_last_layer(patches: PatchSet) -> None:
    base = EnhanceModel.new("tiny", seed=0)
    tuned = train(patches, config=TrainConfig(steps=10, batch_size=8, trainable="head"), init=base)
    before, after = base.network.state_dict(), tuned.network.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("body.4.") for k in changed)
    assert tuned.metadata["base_model"] == base.fingerprint()


def test_bad_config_is_refused() -> None:
    with pytest.raises(UsageError, match="'steps'"):
        TrainConfig(steps=0)
    with pytest.raises(UsageError, match="'loss'"):
        TrainConfig(loss="l3")  # type: ignore[arg-type]


def test_torchscript_export_and_reload(tmp_path: Path) -> None:
    model = load_model()
    path = export_torchscript(model, tmp_path / "tiny.ts")
    scripted = load_torchscript(path)
    x = torch.rand(1, 1, 72, 88)
    with torch.no_grad():
        assert torch.allclose(scripted(x), model.network(x), atol=1e-5)


def test_onnx_export_and_reload(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from ladderforge.enhance import load_onnx

    model = load_model()
    path = export_onnx(model, tmp_path / "tiny.onnx")
    runner = load_onnx(path)
    x = np.random.default_rng(0).random((2, 1, 144, 176), dtype=np.float32)
    with torch.no_grad():
        want = model.network(torch.from_numpy(x)).numpy()
    assert np.abs(runner(x) - want).max() < 1e-4
