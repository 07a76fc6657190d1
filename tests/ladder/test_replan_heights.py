"""``ladder --replan-heights`` end to end on a small lavfi clip: probes at three heights, every
rung's first encode, the replan, the loops at the final heights; the output verifies and every
attempt records the height it was encoded at."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ladderforge.errors import UsageError
from ladderforge.jobs.config import LadderConfig


def test_replan_heights_needs_a_closed_loop_on_a_predicted_surface() -> None:
    with pytest.raises(UsageError, match="--replan-heights"):
        LadderConfig(mode="probe", replan_heights=True)  # nothing encoded
    with pytest.raises(UsageError, match="--replan-heights"):
        LadderConfig(mode="probe", encode=True, open_loop=True, replan_heights=True)
    with pytest.raises(UsageError, match="'probe_heights'"):
        LadderConfig(probe_heights=4)
    assert not LadderConfig().replan_heights and LadderConfig().probe_heights == 2


@pytest.mark.slow
def test_ladder_cli_replan_heights(make_clip, tmp_path: Path, run_cli) -> None:
    src = make_clip(
        tmp_path / "noisy.mp4",
        source="testsrc2",
        size="320x180",
        frames=30,
        extra=["-vf", "noise=alls=10:allf=t", "-qp", "0"],
    )
    out = tmp_path / "out"
    done = run_cli(
        "ladder", str(src), "--output", str(out), "--mode", "probe", "--encode",
        "--replan-heights", "--probe-heights", "3", "--heights", "180,120,90",
        "--max-rungs", "3", "--min-chunk-s", "0.4", "--quiet",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads((out / "noisy" / "noisy.ladder.json").read_text())
    rungs = data["rungs"]
    assert rungs
    heights = [int(r["resolution"].split("x")[1]) for r in rungs]
    kbps = [r["measured"]["kbps"] for r in rungs]
    # no resolution dip: heights never fall as the bitrate rises
    by_rate = [h for _, h in sorted(zip(kbps, heights, strict=True))]
    assert by_rate == sorted(by_rate)
    for r, h in zip(rungs, heights, strict=True):
        assert r["attempts"], r
        assert all(isinstance(a["height"], int) for a in r["attempts"])
        # the shipped encode is one of its attempts, at the rung's height
        assert any(a["height"] == h and a["q"] == r["settings"]["q"] for a in r["attempts"])
    checked = run_cli("verify", str(out), "--no-vmaf")
    assert checked.returncode == 0, checked.stdout + checked.stderr
