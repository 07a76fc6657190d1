"""The carried first guess in the ladder: a rung at the height of an earlier one starts from its
own CRF moved by a share of that rung's first-encode error (``carry_share``; 0: not moved)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ladderforge.jobs.config import LadderConfig
from ladderforge.jobs.title import plan_title

CARRIED = "an earlier rung at this height measured"


@pytest.fixture
def short_clip(make_clip, tmp_path: Path) -> Path:
    return make_clip(
        tmp_path / "short.mp4", source="testsrc2", size="320x180", frames=40, extra=["-qp", "0"]
    )


def _config(**kw: object) -> LadderConfig:
    base = {
        "mode": "probe", "encode": True, "heights": (180,), "min_chunk_s": 0.4,
        "probe_segment_s": 0.8, "max_rungs": 3, "refill_gaps": False,
    }  # fmt: skip
    return LadderConfig(**{**base, **kw})  # type: ignore[arg-type]


def test_carry_share_zero_starts_every_rung_at_its_own_crf(
    short_clip: Path, tmp_path: Path
) -> None:
    carried = plan_title(short_clip, tmp_path / "carried", config=_config())
    plain = plan_title(short_clip, tmp_path / "plain", config=_config(carry_share=0.0))
    assert [r.target_vmaf for r in carried.ladder.rungs] == [
        r.target_vmaf for r in plain.ladder.rungs
    ]
    assert any(CARRIED in n for n in carried.ladder.notes), carried.ladder.notes
    assert not any(CARRIED in n for n in plain.ladder.notes)
    # a rung the carry moved started elsewhere without it
    moved = [n for n in carried.ladder.notes if CARRIED in n]
    firsts = {r.attempts[0].q for r in plain.ladder.rungs}
    for note in moved:
        q = float(note.split("first encode at CRF ")[1].split(",")[0])
        assert q not in firsts, (note, firsts)
