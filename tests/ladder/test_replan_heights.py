"""``ladder --replan-heights`` end to end on a small lavfi clip: probes at three heights, every
rung's first encode, the replan, the loops at the final heights; the output verifies and every
attempt records the height it was encoded at."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import polars as pl
import pytest

import ladderforge.jobs.replan as replan_mod
from ladderforge.errors import UsageError
from ladderforge.jobs.config import LadderConfig
from ladderforge.jobs.modes import PredictMode
from ladderforge.policy.target import pick, within
from ladderforge.types import EncodeSettings, Rung, RungAttempt


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


# The orchestration (jobs.replan) on faked encodes: a recalibrated surface where 360p reaches
# VMAF 80 cheaper than 720p, and the measured figures of each scenario.
SURFACE = pl.DataFrame(
    {
        "height": [720, 720, 360, 360],
        "crf": [20.0, 30.0, 20.0, 30.0],
        "bitrate_kbps": [2000.0, 500.0, 1200.0, 400.0],
        "vmaf": [90.0, 75.0, 88.0, 70.0],
    }
)


class FakeMode(PredictMode):
    def recalibrate(self, job: Any, measured: Any) -> None:
        job.surface = SURFACE


def _run(monkeypatch: pytest.MonkeyPatch, measured: dict[tuple[int, int], tuple[float, float]]):
    """Play one rung (720p, CRF 25, target 80); ``measured``: (height, n-th encode at that
    height) -> (VMAF, kbps). The fake loop encodes at most twice per height."""

    class FakeEncoder:
        def __init__(self, job: Any, rung: Rung, plan: Any, what: str, index: int) -> None:
            self.rung = rung

        def at(self, delta: float) -> Any:
            h, q = self.rung.settings.height, float(self.rung.settings.q or 0) + delta
            seen = counts.setdefault(h, [])
            if q not in seen:
                seen.append(q)
            vmaf, kbps = measured[(h, seen.index(q))]
            return SimpleNamespace(
                settings=(self.rung.settings.with_(q=q),), q=q,
                attempt=RungAttempt(q, vmaf, kbps, 1.0),
            )  # fmt: skip

    def fake_loop(job: Any, mode: Any, rung: Rung, encoder: Any) -> Any:
        tries = [encoder.at(0.0)]
        if not within(tries[-1].attempt.vmaf, rung.vmaf, 0.75):
            tries.append(encoder.at(-3.0))
        attempts = [t.attempt for t in tries]
        best = pick(attempts, rung.vmaf, 0.75)
        return tries[attempts.index(best)], attempts, []

    counts: dict[int, list[float]] = {}
    monkeypatch.setattr(replan_mod, "Encoder", FakeEncoder)
    monkeypatch.setattr(replan_mod, "closed_loop", fake_loop)
    monkeypatch.setattr(replan_mod, "rung_plan", lambda *a: None)
    monkeypatch.setattr(replan_mod, "_as_probe", lambda *a: None)
    job = SimpleNamespace(
        config=LadderConfig(mode="predict", encode=True, replan_heights=True, heights=(720, 360)),
        info=SimpleNamespace(width=1280, height=720),
        facts=SimpleNamespace(q_min=0.0, q_max=51.0, fractional_q=True),
        stage=lambda what: None,
        loop_cpu_s=0.0,
        surface=None,
    )
    rung = Rung(EncodeSettings(codec="x265", width=1280, height=720, q=25.0), 1000.0, 80.0)
    (looped,) = replan_mod.replanned_loops(job, FakeMode(), [rung])  # type: ignore[arg-type]
    return looped, job


def test_a_moved_rung_ships_at_its_new_height(monkeypatch: pytest.MonkeyPatch) -> None:
    # 720p first encode on target at 1000 kbps; 360p on target at 700 kbps
    looped, job = _run(monkeypatch, {(720, 0): (80.2, 1000.0), (360, 0): (80.1, 700.0)})
    assert looped.rung.settings.height == 360 and looped.rung.settings.width == 640
    assert looped.rung.vmaf == 80.0  # the target is kept
    assert [a.height for a in looped.attempts] == [720, 360]
    assert looped.shipped.attempt.kbps == 700.0
    assert job.loop_cpu_s == 1.0  # the 720p encode does not ship
    assert any("moved 720p -> 360p" in n for n in looped.notes)


def test_the_old_first_encode_ships_where_it_is_cheaper(monkeypatch: pytest.MonkeyPatch) -> None:
    looped, _ = _run(monkeypatch, {(720, 0): (80.2, 600.0), (360, 0): (80.1, 700.0)})
    assert looped.rung.settings.height == 720
    assert looped.shipped.attempt.kbps == 600.0
    assert [a.height for a in looped.attempts] == [720, 360]


def test_the_guard_sends_a_moved_rung_back(monkeypatch: pytest.MonkeyPatch) -> None:
    # 720p's first encode missed (75, 500 kbps): along the 720p curve it would be ~794 kbps at
    # 80, cheaper than 360p's 1500 kbps on target; 720p's loop goes on and lands at 800 kbps.
    measured = {(720, 0): (75.0, 500.0), (720, 1): (80.3, 800.0), (360, 0): (80.0, 1500.0)}
    looped, job = _run(monkeypatch, measured)
    assert looped.rung.settings.height == 720
    assert looped.shipped.attempt.kbps == 800.0
    assert [a.height for a in looped.attempts] == [720, 720, 360]
    assert job.loop_cpu_s == 2.0
    assert any("back to 720p" in n for n in looped.notes)


def test_dry_run_counts_the_third_probe_height() -> None:
    from ladderforge.jobs.modes import ProbeMode

    sizes = [(1920, 1080), (1280, 720), (960, 540), (640, 360), (480, 270)]
    two = ProbeMode.planned_encodes(LadderConfig(), sizes, frames=250, fps=25.0)
    three = ProbeMode.planned_encodes(LadderConfig(probe_heights=3), sizes, frames=250, fps=25.0)
    assert {h for _, h, _ in two} == {1080, 270}
    assert {h for _, h, _ in three} == {1080, 540, 270}  # 540 = sqrt(1080 x 270)
    # 3 segments: 2 CRFs at 1080p (and 540p), 3 at 270p (the bottom probe CRF)
    assert [sum(h == x for _, h, _ in three) for x in (1080, 540, 270)] == [6, 6, 9]
    assert len(three) - len(two) == 6
