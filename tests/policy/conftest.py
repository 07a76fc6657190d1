"""Fixtures for the policy tests: recorded RD tables as RDPoints (see data/rd_tables.json)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ladderforge.types import EncodeSettings, RDPoint

DATA = Path(__file__).parent / "data"


def _make_point(
    height: int, kbps: float, vmaf: float, *, crf: float = 28.0, cpu_s: float = 0.0
) -> RDPoint:
    """An x265 CRF RD point of a 16:9 picture of the given height."""
    width = height * 16 // 9 + (height * 16 // 9) % 2
    settings = EncodeSettings(codec="x265", width=width, height=height, q=crf)
    return RDPoint(settings=settings, bitrate_kbps=kbps, quality=vmaf, cost_cpu_s=cpu_s)


@pytest.fixture
def make_point() -> Callable[..., RDPoint]:
    """Factory: ``make_point(height, kbps, vmaf, *, crf=28, cpu_s=0)`` -> an x265 CRF RDPoint."""
    return _make_point


def _load(title: str) -> list[RDPoint]:
    table: dict[str, Any] = json.loads((DATA / "rd_tables.json").read_text())[title]
    return [
        RDPoint(
            settings=EncodeSettings(
                codec=table["codec"],
                width=row["width"],
                height=row["height"],
                q=row["crf"],
                preset=table["preset"],
            ),
            bitrate_kbps=row["bitrate_kbps"],
            quality=row["vmaf"],
        )
        for row in table["points"]
    ]


@pytest.fixture
def talking_head_points() -> list[RDPoint]:
    """Easy 1080p title: 4 heights x 6 CRFs, VMAF 45-97, reaches 95 at 1080p."""
    return _load("talking_head")


@pytest.fixture
def sports_grain_points() -> list[RDPoint]:
    """Hard 1080p title: 4 heights x 6 CRFs, VMAF 27-86, never reaches 95."""
    return _load("sports_grain")
