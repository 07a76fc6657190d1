"""Exporting a model for players and services: ONNX and TorchScript, and loading them back.

Both exports take luma N x 1 x H x W in [0, 1] (H and W multiples of the preset's block, which
:func:`~ladderforge.enhance.infer.enhance_luma` takes care of) with dynamic N, H and W, and
return the enhanced luma of the same shape. A model with the factor input (presets ``*-f``)
takes N x 2 x H x W: luma, then a plane filled with log2 of the upscale factor (display height
over rung height); its output is still N x 1 x H x W. The export is checked against the
PyTorch model on a random input before it is kept.

ONNX uses PyTorch's TorchScript-based exporter (``dynamo=False``), which needs only the ``onnx``
package; running an ONNX file here needs ``onnxruntime``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ladderforge.enhance._deps import require, require_torch
from ladderforge.enhance.model import EnhanceModel
from ladderforge.errors import ModelError, OutputError
from ladderforge.store.files import atomic_path

__all__ = ["export_onnx", "export_torchscript", "load_onnx", "load_torchscript"]

_TOLERANCE = 1e-4
"""Largest difference (in [0, 1] luma) allowed between an export and the PyTorch model."""


def _sample(model: EnhanceModel) -> Any:
    torch = require_torch()
    gen = torch.Generator().manual_seed(0)
    side = model.preset.block * 8
    planes = model.preset.input_planes
    return torch.rand(2, planes, side, side + model.preset.block, generator=gen)


def export_torchscript(model: EnhanceModel, path: str | os.PathLike[str]) -> Path:
    """Write a TorchScript file (``torch.jit.load`` reads it with no ladderforge code)."""
    torch = require_torch()
    out = Path(path)
    net = model.network.cpu().eval()
    sample = _sample(model)
    try:
        with atomic_path(out) as tmp:
            with warnings.catch_warnings(), torch.no_grad():
                # torch.jit is deprecated in favour of torch.export, but TorchScript files are
                # what C++/mobile players load today; the trace is checked against the model.
                warnings.simplefilter("ignore", DeprecationWarning)
                scripted = torch.jit.trace(net, sample, check_trace=False)
                torch.jit.save(scripted, str(tmp))
            _check(model, load_torchscript(tmp), tmp)
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"{out}: cannot write the TorchScript file ({exc})", path=out) from exc
    return out


def load_torchscript(path: str | os.PathLike[str]) -> Any:
    """A TorchScript module from ``path`` (callable like the network)."""
    torch = require_torch()
    src = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(src), map_location="cpu").eval()
    except (RuntimeError, ValueError, OSError) as exc:
        raise ModelError(f"{src}: not a readable TorchScript file ({exc})", path=src) from exc


def export_onnx(model: EnhanceModel, path: str | os.PathLike[str], *, opset: int = 17) -> Path:
    """Write an ONNX file with input ``luma`` and output ``enhanced`` (dynamic N, H, W)."""
    torch = require_torch()
    require("onnx", purpose="ONNX export")
    out = Path(path)
    net = model.network.cpu().eval()
    axes = {0: "batch", 2: "height", 3: "width"}
    try:
        with atomic_path(out) as tmp:
            with warnings.catch_warnings():
                # The TorchScript-based exporter warns that it is deprecated; it is kept on
                # purpose (no onnxscript needed, dynamic sizes without constraints).
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    net,
                    (_sample(model),),
                    str(tmp),
                    dynamo=False,
                    input_names=["luma"],
                    output_names=["enhanced"],
                    dynamic_axes={"luma": axes, "enhanced": axes},
                    opset_version=opset,
                )
            onnx = require("onnx", purpose="ONNX export")
            onnx.checker.check_model(str(tmp))
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"{out}: cannot write the ONNX file ({exc})", path=out) from exc
    return out


class _OnnxRunner:
    def __init__(self, session: Any) -> None:
        self.session = session

    def __call__(self, luma: np.ndarray) -> np.ndarray:
        result = self.session.run(["enhanced"], {"luma": np.asarray(luma, dtype=np.float32)})
        return np.asarray(result[0])


def load_onnx(path: str | os.PathLike[str]) -> _OnnxRunner:
    """An ONNX Runtime session for ``path``, callable on float32 N x 1 x H x W numpy arrays."""
    ort = require("onnxruntime", purpose="running an ONNX model")
    src = Path(path)
    try:
        session = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        raise ModelError(f"{src}: not a readable ONNX model ({exc})", path=src) from exc
    return _OnnxRunner(session)


def _check(model: EnhanceModel, exported: Any, where: Path) -> None:
    torch = require_torch()
    sample = _sample(model)
    with torch.no_grad():
        want = model.network(sample)
        got = exported(sample)
    diff = float((want - got).abs().max())
    if diff > _TOLERANCE:
        raise ModelError(f"{where}: the export differs from the model by {diff:.2e}", path=where)
