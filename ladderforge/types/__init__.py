"""Core value types shared by every layer: frozen, typed, serializable to JSON.

``to_dict``/``from_dict`` give plain JSON-ready dicts (fractions as "num/den" strings) so that
results can be stored, cached and exchanged without pickles.
"""

from ladderforge.types.cost import CostChoice, CostDecision, LadderCost
from ladderforge.types.enhance import LadderEnhance, RungEnhance, StageFigures
from ladderforge.types.ladder import (
    LADDER_SCHEMA_VERSION,
    AudioFiles,
    ChunkRecord,
    Ladder,
    Provenance,
    Rung,
    RungAttempt,
    RungCosts,
    RungFiles,
    TuningRef,
)
from ladderforge.types.media import (
    MIN_SIDE_PX,
    CodecFacts,
    EncodeResult,
    EncodeSettings,
    RateControl,
    SourceInfo,
    candidate_sizes,
    even_size,
    output_pix_fmt,
)
from ladderforge.types.quality import PooledScores, QualityResult, RDPoint

__all__ = [
    "LADDER_SCHEMA_VERSION",
    "MIN_SIDE_PX",
    "AudioFiles",
    "ChunkRecord",
    "CodecFacts",
    "CostChoice",
    "CostDecision",
    "EncodeResult",
    "EncodeSettings",
    "Ladder",
    "LadderCost",
    "LadderEnhance",
    "PooledScores",
    "Provenance",
    "QualityResult",
    "RDPoint",
    "RateControl",
    "Rung",
    "RungAttempt",
    "RungCosts",
    "RungEnhance",
    "RungFiles",
    "SourceInfo",
    "StageFigures",
    "TuningRef",
    "candidate_sizes",
    "even_size",
    "output_pix_fmt",
]
