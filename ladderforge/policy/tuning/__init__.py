"""Encoder-knob tuning, the decisions: search spaces per backend, content classes, the study's
objectives and pruning rule, the honesty guard, and the tuned-set file.

Pure: no subprocess, no media I/O, no stage imported. The study itself (real encodes and
measurements) runs in :mod:`ladderforge.jobs.tune`.
"""

from ladderforge.policy.tuning.classes import (
    CLASS_RULES,
    CONTENT_CLASSES,
    ClassRule,
    ContentClass,
    classify,
    spread_titles,
)
from ladderforge.policy.tuning.guard import GuardMargins, GuardVerdict, judge
from ladderforge.policy.tuning.objectives import (
    CurvePoint,
    Objectives,
    PruneVerdict,
    bits_delta_pct,
    first_point_verdict,
    rate_delta_pct,
    study_objectives,
)
from ladderforge.policy.tuning.sets import (
    TUNED_SCHEMA,
    Candidate,
    TunedSet,
    TunedSets,
    class_set,
    pick_set,
)
from ladderforge.policy.tuning.space import (
    NVENC_SPACE,
    X265_SPACE,
    Knob,
    SearchSpace,
    space_for,
    suggest,
)

__all__ = [
    "CLASS_RULES",
    "CONTENT_CLASSES",
    "NVENC_SPACE",
    "TUNED_SCHEMA",
    "X265_SPACE",
    "Candidate",
    "ClassRule",
    "ContentClass",
    "CurvePoint",
    "GuardMargins",
    "GuardVerdict",
    "Knob",
    "Objectives",
    "PruneVerdict",
    "SearchSpace",
    "TunedSet",
    "TunedSets",
    "bits_delta_pct",
    "class_set",
    "classify",
    "first_point_verdict",
    "judge",
    "pick_set",
    "rate_delta_pct",
    "space_for",
    "spread_titles",
    "study_objectives",
    "suggest",
]
