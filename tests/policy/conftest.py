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


@pytest.fixture
def dipping_floor_points() -> list[RDPoint]:
    """fastmotion_540p_rollercoaster, probe mode's calibrated surface (2026-12-03), x265
    veryfast: 540p wins only at CRF 45-46, the floor (VMAF 40); 360p everywhere above it. The
    hull's points and the 360p points under it that the hull without dips needs."""
    table = [
        (270, 46, 33.2, 21.72), (360, 46, 44.9, 38.29), (540, 46, 57.6, 47.11),
        (540, 45, 64.5, 49.84), (360, 45, 49.7, 41.0), (360, 44, 55.2, 43.97),
        (360, 43, 61.5, 47.18), (360, 42, 68.6, 50.73), (360, 41, 76.8, 54.56),
        (360, 40, 86.5, 58.48), (360, 39, 99.0, 62.4), (360, 35, 156.2, 79.17),
        (360, 34, 171.4, 83.06), (360, 33, 189.1, 86.05), (360, 32, 210.1, 88.68),
        (360, 31, 233.7, 90.86), (360, 30, 259.9, 92.53), (360, 29, 289.6, 93.92),
        (360, 28, 324.2, 95.3), (360, 27, 365.6, 96.79), (360, 26, 414.5, 98.27),
        (360, 25, 471.4, 99.64), (360, 24, 541.4, 100.0),
    ]  # fmt: skip
    return [_make_point(h, kbps, vmaf, crf=q) for h, q, kbps, vmaf in table]
