"""The hybrid learned-residual enhancement stage (PyTorch, the ``enhance`` extra).

A small residual CNN takes a decoded rendition, upscaled to the display grid with the bicubic
scaler that the plain ladder is measured with, and predicts the luma residual to the source.

- :mod:`~ladderforge.enhance.presets`: named sizes (``tiny``, ``small``, and ``tiny-f``,
  ``small-f`` that take the upscale factor as an input) with MACs and FLOPs per pixel.
- :mod:`~ladderforge.enhance.model`: the network and its versioned model files.
- :mod:`~ladderforge.enhance.data`: (decoded, source) pairs made with the encoder, patches.
- :mod:`~ladderforge.enhance.training`: seeded training, per-title fine-tunes.
- :mod:`~ladderforge.enhance.infer`: padding, tiling, batching, streaming through PyAV, fps.
- :mod:`~ladderforge.enhance.export`: ONNX and TorchScript.

Judging the stage (before/after per rung, the no-harm guard, BD-rates, a ladder chosen with
enhancement on) composes it with VMAF and the policy: that is a job,
:mod:`ladderforge.jobs.enhance`; the stage inside ``ladder --enhanced`` is
:mod:`ladderforge.jobs.enhanced`.

Importing this package does not import PyTorch; the functions that need it raise
:class:`EnhanceUnavailableError` (an ``ImportError``) naming ``pip install 'ladderforge[enhance]'``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ladderforge.enhance._deps import INSTALL_HINT, EnhanceUnavailableError
from ladderforge.enhance.presets import DEFAULT_PRESET, PRESETS, Preset, get_preset

if TYPE_CHECKING:
    from ladderforge.enhance.data import Pair, PatchSet, make_pairs, sample_patches
    from ladderforge.enhance.export import (
        export_onnx,
        export_torchscript,
        load_onnx,
        load_torchscript,
    )
    from ladderforge.enhance.infer import ApplyResult, apply, benchmark, enhance_luma
    from ladderforge.enhance.model import EnhanceModel, default_model_path, load_model
    from ladderforge.enhance.training import TrainConfig, train

__all__ = [
    "DEFAULT_PRESET",
    "INSTALL_HINT",
    "PRESETS",
    "ApplyResult",
    "EnhanceModel",
    "EnhanceUnavailableError",
    "Pair",
    "PatchSet",
    "Preset",
    "TrainConfig",
    "apply",
    "benchmark",
    "default_model_path",
    "enhance_luma",
    "export_onnx",
    "export_torchscript",
    "get_preset",
    "load_model",
    "load_onnx",
    "load_torchscript",
    "make_pairs",
    "sample_patches",
    "train",
]

_LAZY = {
    "ladderforge.enhance.data": ("Pair", "PatchSet", "make_pairs", "sample_patches"),
    "ladderforge.enhance.export": (
        "export_onnx",
        "export_torchscript",
        "load_onnx",
        "load_torchscript",
    ),
    "ladderforge.enhance.infer": ("ApplyResult", "apply", "benchmark", "enhance_luma"),
    "ladderforge.enhance.model": ("EnhanceModel", "default_model_path", "load_model"),
    "ladderforge.enhance.training": ("TrainConfig", "train"),
}
_WHERE = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'ladderforge.enhance' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
