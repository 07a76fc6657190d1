"""Presets, model files (versioned, checked) and the missing-torch error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from ladderforge.enhance import (  # noqa: E402
    PRESETS,
    EnhanceModel,
    EnhanceUnavailableError,
    default_model_path,
    get_preset,
    load_model,
)
from ladderforge.enhance._deps import require_torch  # noqa: E402
from ladderforge.errors import LadderforgeError, ModelError, UsageError  # noqa: E402


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_counts_match_the_network(name: str) -> None:
    model = EnhanceModel.new(name)
    preset = PRESETS[name]
    assert sum(p.numel() for p in model.network.parameters()) == preset.parameters
    assert preset.flops_per_pixel > 2 * preset.macs_per_pixel
    assert model.size_bytes == 4 * preset.parameters


def test_presets_grow_and_tiny_is_tiny() -> None:
    assert PRESETS["tiny"].flops_per_pixel < PRESETS["small"].flops_per_pixel
    assert PRESETS["tiny"].flops_per_pixel < 5000


def test_unknown_preset_names_the_choices() -> None:
    with pytest.raises(UsageError, match="tiny, small"):
        get_preset("huge")


def test_new_model_is_nearly_identity() -> None:
    x = torch.rand(1, 1, 32, 48)
    with torch.no_grad():
        y = EnhanceModel.new("tiny").network(x)
    assert float((y - x).abs().max()) < 0.05


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    model = EnhanceModel.new("tiny", seed=3)
    model.metadata = {"codec": "x265", "titles": ["a"]}
    path = model.save(tmp_path / "m.pt")
    back = load_model(path)
    assert back.preset == model.preset
    assert back.metadata == model.metadata
    assert back.fingerprint() == model.fingerprint()
    assert back.path == path


def test_wrong_version_is_rejected_with_its_name(tmp_path: Path) -> None:
    path = EnhanceModel.new("tiny").save(tmp_path / "old.pt")
    payload = torch.load(path, weights_only=True)
    payload["version"] = 99
    torch.save(payload, path)
    with pytest.raises(ModelError, match=r"old\.pt: model file version 99") as info:
        load_model(path)
    assert info.value.path == path


def test_wrong_shape_is_rejected_with_its_name(tmp_path: Path) -> None:
    path = EnhanceModel.new("small").save(tmp_path / "shape.pt")
    payload = torch.load(path, weights_only=True)
    payload["preset"] = dict(payload["preset"], name="tiny", channels=32, layers=3)
    torch.save(payload, path)
    with pytest.raises(ModelError, match=r"shape\.pt: the weights do not fit preset 'tiny'"):
        load_model(path)


@pytest.mark.parametrize("content", [b"", b"not a model", b"PK\x03\x04garbage"])
def test_garbage_file_is_rejected(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=r"bad\.pt"):
        load_model(path)


def test_other_torch_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(ModelError, match="not a ladderforge enhancement model"):
        load_model(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such model file"):
        load_model(tmp_path / "nope.pt")


def test_default_model_ships_and_is_under_1mb() -> None:
    path = default_model_path()
    assert path.is_file(), "the shipped tiny model is missing"
    assert path.stat().st_size < 1_000_000
    model = load_model()
    assert model.preset.name == "tiny"
    assert model.metadata["codec"] == "x265"
    assert model.metadata["val_psnr_out_db"] > model.metadata["val_psnr_in_db"]


def test_missing_torch_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(EnhanceUnavailableError, match=r"pip install 'ladderforge\[enhance\]'") as e:
        require_torch()
    assert isinstance(e.value, ImportError)
    assert isinstance(e.value, LadderforgeError)
    with pytest.raises(EnhanceUnavailableError):
        EnhanceModel.new("tiny")


def test_importing_the_package_does_not_import_torch() -> None:
    code = (
        "import sys, ladderforge.enhance as e; from ladderforge.enhance import train, apply; "
        "print('torch' in sys.modules, e.PRESETS['tiny'].flops_per_pixel > 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
