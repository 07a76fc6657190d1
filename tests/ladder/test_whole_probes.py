"""Where a short title's rungs start their loops. Probe mode on a title no longer than
``whole_probe_s``: the title is probed whole, and its probes (whole renditions) give the first
CRF of every rung at a probed height. And the carried first guess: a rung at the height of an
earlier one starts from its own CRF moved by a share of that rung's first-encode error
(``carry_share``; 0: not moved)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ladderforge.errors import UsageError
from ladderforge.jobs.config import LadderConfig
from ladderforge.jobs.title import plan_title


@pytest.fixture
def short_clip(make_clip, tmp_path: Path) -> Path:
    return make_clip(
        tmp_path / "short.mp4", source="testsrc2", size="320x180", frames=40, extra=["-qp", "0"]
    )


def _config(**kw: object) -> LadderConfig:
    base = {
        "mode": "probe", "encode": True, "heights": (180,), "min_chunk_s": 0.4,
        "probe_segment_s": 0.8, "max_rungs": 3, "bottom_probe_crfs": (),
    }  # fmt: skip
    return LadderConfig(**{**base, **kw})  # type: ignore[arg-type]


def test_a_short_title_is_probed_whole_and_its_probes_seed_the_loop(
    short_clip: Path, tmp_path: Path
) -> None:
    parts = plan_title(short_clip, tmp_path / "parts", config=_config())
    whole = plan_title(short_clip, tmp_path / "whole", config=_config(whole_probe_s=4.0))
    # 40 frames at 25 fps: 0.8 s probe segments without, the whole 1.6 s title with
    assert whole.decision_cpu_s > parts.decision_cpu_s
    probes = {p.crf: p.measured_vmaf for p in whole.probes}
    assert set(probes) == {24.0, 34.0}
    chosen = [r for r in whole.ladder.rungs if not any(r.name in n for n in added(whole))]
    assert chosen
    for r in chosen:  # each rung the ladder chose starts where the probes put it
        note = f"first encode at CRF {r.attempts[0].q:g}, from the whole-title probes"
        assert any(n.endswith(")") and note in n for n in whole.ladder.notes), note
    assert not any("whole-title probes" in n for n in parts.ladder.notes)
    # a rung whose target lies between the two probes' VMAFs starts between two exact points
    # of its own curve: its first encode lands (measured 2026-12-04: 83.52 for 83.88; from
    # 0.8 s probe segments the same rung took three encodes)
    low, high = sorted(probes.values())
    inside = [r for r in whole.ladder.rungs if low < r.target_vmaf < high]  # type: ignore[operator]
    assert inside
    assert all(abs(r.attempts[0].vmaf - r.target_vmaf) <= 0.75 for r in inside)  # type: ignore[operator]


def added(plan) -> list[str]:  # type: ignore[no-untyped-def]
    return [n for n in plan.ladder.notes if "rung added" in n]


def test_the_dry_run_counts_a_whole_title_probe(bikes_mp4: Path) -> None:
    from ladderforge.jobs.batch import TitleSource
    from ladderforge.jobs.dry_run import estimate

    title = [TitleSource(bikes_mp4)]  # 10 s, 250 frames
    segments = LadderConfig(probe_segment_s=2.0)
    whole = LadderConfig(probe_segment_s=2.0, whole_probe_s=12.0)
    assert (
        estimate(title, whole)[0].decision_encodes
        == estimate(title, segments)[0].decision_encodes / 3
    )
    assert (
        estimate(title, whole)[0].est_encode_cpu_s > estimate(title, segments)[0].est_encode_cpu_s
    )


def test_whole_probe_s_must_be_positive() -> None:
    with pytest.raises(UsageError, match="whole_probe_s"):
        LadderConfig(whole_probe_s=0)


CARRIED = "an earlier rung at this height measured"


def test_carry_share_zero_starts_every_rung_at_its_own_crf(
    short_clip: Path, tmp_path: Path
) -> None:
    carried = plan_title(short_clip, tmp_path / "carried", config=_config(refill_gaps=False))
    plain = plan_title(
        short_clip, tmp_path / "plain", config=_config(refill_gaps=False, carry_share=0.0)
    )
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
