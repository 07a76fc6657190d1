"""The residual network and its versioned model files.

A model file is a ``torch.save`` of a plain dict (loaded with ``weights_only=True``, so no pickled
code runs)::

    {"format": "ladderforge.enhance", "version": 1 or 2, "preset": {...}, "state_dict": {...},
     "metadata": {...}}

Version 2 added the preset's ``factor_input`` (the upscale factor as an input plane). Only a
model with the factor input is written as version 2; a luma-only model is written as version 1
(no ``factor_input`` key), so older releases still read it. Both versions are read.

``metadata`` records what the weights were trained on (codec, titles, rungs, steps, seed, loss,
validation gains, and for a per-title fine-tune the base model). A file of another format or
version, or whose weights do not fit its preset, is rejected with a :class:`ModelError` that names
the file.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ladderforge.enhance._deps import require_torch
from ladderforge.enhance.presets import DEFAULT_PRESET, Preset, get_preset
from ladderforge.errors import ModelError, OutputError
from ladderforge.store.files import atomic_path

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEFAULT_MODEL_NAME",
    "MODEL_FORMAT",
    "MODEL_VERSION",
    "READABLE_VERSIONS",
    "EnhanceModel",
    "build_network",
    "default_model_path",
    "load_model",
]

MODEL_FORMAT = "ladderforge.enhance"
MODEL_VERSION = 2
READABLE_VERSIONS = (1, MODEL_VERSION)
DEFAULT_MODEL_NAME = "x265_tiny.pt"


def build_network(preset: Preset) -> torch.nn.Module:
    """A freshly initialised residual network of ``preset``: N x P x H x W in (P =
    ``preset.input_planes``: luma in [0, 1], then with ``factor_input`` a plane holding
    log2 of the upscale factor), enhanced luma N x 1 x H x W out; H and W multiples of
    ``preset.block``. The last convolution starts near zero, so a new network is nearly the
    identity."""
    torch = require_torch()
    nn = torch.nn
    functional = torch.nn.functional

    class ResidualNet(nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.block = preset.block
            layers: list[Any] = []
            shapes = preset.conv_shapes()
            for k, (cin, cout) in enumerate(shapes):
                layers.append(nn.Conv2d(cin, cout, 3, padding=1))
                if k < len(shapes) - 1:
                    layers.append(nn.ReLU(inplace=True))
            self.body = nn.Sequential(*layers)
            nn.init.normal_(self.body[-1].weight, std=1e-3)
            nn.init.zeros_(self.body[-1].bias)

        def forward(self, x: Any) -> Any:
            luma = x[:, :1]
            folded = functional.pixel_unshuffle(luma - 0.5, self.block)
            if preset.factor_input:  # the factor plane, one value per folded block
                folded = torch.cat([folded, x[:, 1:2, :: self.block, :: self.block]], dim=1)
            return luma + functional.pixel_shuffle(self.body(folded), self.block)

    return ResidualNet()


@dataclass
class EnhanceModel:
    """A residual network with its preset and what it was trained on."""

    network: Any
    """The ``torch.nn.Module`` (see :func:`build_network`)."""
    preset: Preset
    """Its size preset."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """JSON-ready facts about the weights: codec, titles, steps, seed, loss, gains."""
    path: Path | None = None
    """The file it was loaded from or last saved to."""

    @classmethod
    def new(cls, preset: str | Preset = DEFAULT_PRESET, *, seed: int = 0) -> EnhanceModel:
        """An untrained (identity) model of ``preset``, initialised from ``seed``."""
        torch = require_torch()
        chosen = preset if isinstance(preset, Preset) else get_preset(preset)
        torch.manual_seed(seed)
        return cls(network=build_network(chosen), preset=chosen)

    @property
    def size_bytes(self) -> int:
        """Bytes of the weights as stored (float32): the cost of shipping the model."""
        return 4 * sum(int(p.numel()) for p in self.network.parameters())

    def fingerprint(self) -> str:
        """sha256 of the weights (hex, first 16 digits): names a model in ladders and caches."""
        digest = hashlib.sha256()
        for name, tensor in sorted(self.network.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()[:16]

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model file atomically (temporary name, then rename): version 2 for a
        model with the factor input, version 1 (which older releases read) otherwise."""
        torch = require_torch()
        out = Path(path)
        state = {k: v.detach().cpu().clone() for k, v in self.network.state_dict().items()}
        preset = asdict(self.preset)
        if not self.preset.factor_input:  # version 1: what older releases read
            del preset["factor_input"]
        payload = {
            "format": MODEL_FORMAT,
            "version": MODEL_VERSION if self.preset.factor_input else 1,
            "preset": preset,
            "state_dict": state,
            "metadata": dict(self.metadata),
        }
        try:
            with atomic_path(out) as tmp:
                torch.save(payload, tmp)
        except OutputError:
            raise
        except OSError as exc:
            raise OutputError(f"{out}: cannot write the model file ({exc})", path=out) from exc
        self.path = out
        return out

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, device: str = "cpu") -> EnhanceModel:
        """Read a model file; :class:`ModelError` naming the file if it is not one of ours."""
        torch = require_torch()
        src = Path(path)
        if not src.is_file():
            raise ModelError(f"{src}: no such model file", path=src)
        try:
            payload = torch.load(src, map_location=device, weights_only=True)
        except Exception as exc:  # torch raises many types for a corrupt file
            raise ModelError(
                f"{src}: not a readable model file (torch.load: {type(exc).__name__}); expected "
                "a file written by 'ladderforge enhance train'",
                path=src,
            ) from exc
        if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
            raise ModelError(f"{src}: not a ladderforge enhancement model", path=src)
        if payload.get("version") not in READABLE_VERSIONS:
            raise ModelError(
                f"{src}: model file version {payload.get('version')!r}; this ladderforge reads "
                f"versions {', '.join(map(str, READABLE_VERSIONS))}. Retrain it with "
                "'ladderforge enhance train'.",
                path=src,
            )
        preset = _preset_from(payload.get("preset"), src)
        network = build_network(preset)
        try:
            network.load_state_dict(payload["state_dict"], strict=True)
        except (RuntimeError, KeyError, TypeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(
                f"{src}: the weights do not fit preset {preset.name!r} ({first})", path=src
            ) from exc
        network.to(device).eval()
        return cls(network, preset, dict(payload.get("metadata") or {}), src)


def _preset_from(data: object, src: Path) -> Preset:
    try:
        if not isinstance(data, dict):
            raise TypeError("not a dict")
        preset = Preset(**data)
    except TypeError as exc:
        raise ModelError(f"{src}: the model file has no valid preset ({data!r})", path=src) from exc
    if preset.layers < 2 or preset.block < 1 or preset.channels < 1:
        raise ModelError(f"{src}: the model file has an impossible preset {data!r}", path=src)
    return preset


def default_model_path() -> Path:
    """The tiny x265 model shipped inside the package."""
    return Path(str(resources.files("ladderforge.enhance") / "models" / DEFAULT_MODEL_NAME))


def load_model(path: str | os.PathLike[str] | None = None, *, device: str = "cpu") -> EnhanceModel:
    """Load a model file, or the shipped default when ``path`` is None."""
    src = Path(path) if path is not None else default_model_path()
    if path is None and not src.is_file():
        raise ModelError(
            f"{src}: the default model is not installed; rebuild it with "
            "'python experiments/enhance/run.py train-default'",
            path=src,
        )
    return EnhanceModel.load(src, device=device)
