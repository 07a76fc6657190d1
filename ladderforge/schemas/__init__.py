"""JSON Schemas of what ladderforge writes (shipped as package data).

``ladder-2.schema.json``: the ladder JSON, schema ``ladderforge.ladder/2``.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["ladder_schema"]


def ladder_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the ladder JSON, version 2."""
    text = (resources.files("ladderforge.schemas") / "ladder-2.schema.json").read_text()
    return dict(json.loads(text))
