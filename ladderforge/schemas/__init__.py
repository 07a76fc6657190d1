"""JSON Schemas of what ladderforge writes (shipped as package data).

``ladder-3.schema.json``: the ladder JSON, schema ``ladderforge.ladder/3`` (what this version
writes: version 2 plus the optional enhancement fields); ``ladder-2.schema.json``: version 2,
to check files written before.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from ladderforge.errors import UsageError

__all__ = ["SCHEMA_VERSIONS", "ladder_schema"]

SCHEMA_VERSIONS = (2, 3)
"""Ladder JSON versions with a shipped JSON Schema (version 1 had none); the last is the one
this version of ladderforge writes."""


def ladder_schema(version: int = SCHEMA_VERSIONS[-1]) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the ladder JSON, of ``version`` (default: the one
    this version of ladderforge writes)."""
    if version not in SCHEMA_VERSIONS:
        raise UsageError(
            f"The 'version' parameter of ladder_schema must be one of "
            f"{', '.join(map(str, SCHEMA_VERSIONS))}. Got {version!r} instead."
        )
    text = (resources.files("ladderforge.schemas") / f"ladder-{version}.schema.json").read_text()
    return dict(json.loads(text))
