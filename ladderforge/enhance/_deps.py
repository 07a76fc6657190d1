"""The optional PyTorch dependency: imported lazily, with an error that says how to install it."""

from __future__ import annotations

import importlib
from types import ModuleType

from ladderforge.errors import LadderforgeError

__all__ = ["INSTALL_HINT", "EnhanceUnavailableError", "require", "require_torch"]

INSTALL_HINT = "pip install 'ladderforge[enhance]'"


class EnhanceUnavailableError(LadderforgeError, ImportError):  # type: ignore[misc]
    """The enhancement stage needs PyTorch (or, for ONNX, the onnx package), which is missing."""


def require(module: str, *, purpose: str = "the enhancement stage") -> ModuleType:
    """Import ``module`` or raise :class:`EnhanceUnavailableError` naming the install command."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        hint = INSTALL_HINT if module.split(".")[0] == "torch" else f"pip install {module}"
        raise EnhanceUnavailableError(
            f"{purpose} needs the '{module.split('.')[0]}' package, which cannot be imported "
            f"({exc}). Install it with: {hint}"
        ) from exc


def require_torch() -> ModuleType:
    """The ``torch`` module, or :class:`EnhanceUnavailableError` naming the ``enhance`` extra."""
    return require("torch")
