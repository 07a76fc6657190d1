"""ladderforge: smart transcoding, per-title and per-scene encoding ladders proved with real VMAF.

The one-call API is :func:`ladderforge.plan_title` (:mod:`ladderforge.jobs`), configured by
:class:`ladderforge.LadderConfig`; value types live in :mod:`ladderforge.types`, errors in
:mod:`ladderforge.errors`. Importing ladderforge does no work: no subprocess, no model loading,
no logging configuration (the engine loads on first use of those names).
"""

from typing import Any

from ladderforge.errors import LadderforgeError
from ladderforge.types import (
    EncodeResult,
    EncodeSettings,
    Ladder,
    QualityResult,
    RDPoint,
    Rung,
    SourceInfo,
)

__version__ = "0.1.0"

__all__ = [
    "EncodeResult",
    "EncodeSettings",
    "Ladder",
    "LadderConfig",
    "LadderforgeError",
    "QualityResult",
    "RDPoint",
    "Rung",
    "SourceInfo",
    "TitlePlan",
    "__version__",
    "plan_title",
]


def __getattr__(name: str) -> Any:
    if name in ("LadderConfig", "TitlePlan", "plan_title"):
        import ladderforge.jobs

        return getattr(ladderforge.jobs, name)
    raise AttributeError(f"module 'ladderforge' has no attribute {name!r}")
