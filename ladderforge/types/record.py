"""The base of the frozen records whose fields are plain JSON values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import Any, TypeVar, cast

R = TypeVar("R", bound="PlainRecord")


class PlainRecord:
    """A frozen dataclass of plain values, to and from JSON.

    ``to_dict`` gives every field; ``from_dict`` reads the fields the class knows, so a file
    written by a newer version (with more keys) still loads.
    """

    def to_dict(self) -> dict[str, Any]:
        return asdict(cast(Any, self))

    @classmethod
    def from_dict(cls: type[R], data: Mapping[str, Any]) -> R:
        return cls(**{f.name: data[f.name] for f in fields(cast(Any, cls)) if f.name in data})
