"""ladderforge: smart transcoding, per-title and per-scene encoding ladders proved with real VMAF.

The one-call API lives in :mod:`ladderforge.pipeline`; value types in :mod:`ladderforge.types`;
errors in :mod:`ladderforge.errors`. Importing ladderforge does no work: no subprocess, no model
loading, no logging configuration.
"""

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
    "LadderforgeError",
    "QualityResult",
    "RDPoint",
    "Rung",
    "SourceInfo",
    "__version__",
]
