"""Closed-loop rungs and ``ladderforge target`` on real encodes: a deliberately wrong model's
first guess is corrected until the whole rendition lands on its declared VMAF; a run killed
mid-loop resumes from the attempts it finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import ladderforge.jobs.context as context_mod
from ladderforge.encoder.hls import rung_name
from ladderforge.errors import UsageError
from ladderforge.jobs.config import LadderConfig
from ladderforge.jobs.target import target_encode
from ladderforge.jobs.title import plan_title
from ladderforge.policy.models import Prediction, default_model
from ladderforge.vmaf_tools import measure

BIAS = 8.0


class BiasedModel:
    """The shipped model, predicting ``bias`` VMAF more than it would (so its CRFs are too
    high and its rungs come out below what they declare)."""

    def __init__(self, bias: float) -> None:
        self.base, self.bias = default_model(), bias

    def predict(self, rows: object) -> Prediction:
        p = self.base.predict(rows)  # type: ignore[arg-type]
        return Prediction(np.clip(p.vmaf + self.bias, 0, 100), p.bitrate_kbps)


@pytest.fixture
def biased(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context_mod, "shipped_model", lambda name: BiasedModel(BIAS))


def _config(**kw: object) -> LadderConfig:
    base = {"mode": "predict", "encode": True, "max_rungs": 2, "min_chunk_s": 0.4}
    return LadderConfig(**{**base, **kw})  # type: ignore[arg-type]


STAIRCASE = (
    "a known miss: the noisy half puts the bottom rung (target VMAF 40.6 at 180p) where x265's "
    "curve is a staircase, not a line: 0.1 CRF steps from 47.0 to 48.0 measure 44.2, 43.8, "
    "42.5, 40.5, 41.1, 39.4, 40.3, 38.9, 40.5, 38.5, 39.4 (2026-12-03), so the +-0.75 window "
    "is a few isolated tenths of a CRF and three encodes reach one only by luck (the loop's "
    "third encode lands at 47.5: 39.4)"
)


@pytest.mark.parametrize(
    "clip",
    ["bikes", "lavfi", pytest.param("lavfi-noisy", marks=pytest.mark.xfail(reason=STAIRCASE))],
)
def test_a_wrong_first_guess_converges_in_three_encodes(
    clip: str, biased: None, bikes_mp4: Path, make_clip, tmp_path: Path
) -> None:
    if clip == "bikes":
        src, heights = bikes_mp4, (272, 136)
    else:
        # lavfi: testsrc2's moving pattern; lavfi-noisy: an easy and a harder half (smooth
        # gradients, then light noise); every rung's target reachable at the source's size
        noise = ["-vf", "noise=alls=12:allf=t:enable='gte(n,25)'"] if clip == "lavfi-noisy" else []
        src = make_clip(
            tmp_path / f"{clip}.mp4",
            source="testsrc2",
            size="320x180",
            frames=50,
            extra=[*noise, "-qp", "0"],
        )
        heights = (180,)
    plan = plan_title(src, tmp_path / "out", config=_config(heights=heights))
    rungs = plan.ladder.rungs
    assert rungs
    for r in rungs:
        assert r.target_vmaf == pytest.approx(r.vmaf)
        assert 1 <= len(r.attempts) <= 3
        assert r.measured_vmaf is not None
        assert abs(r.measured_vmaf - r.target_vmaf) <= 0.75, r.attempts
        assert r.settings.q == r.attempts[[a.vmaf for a in r.attempts].index(r.measured_vmaf)].q
    # the model was 8 VMAF off: the first guesses missed and the loop corrected them
    assert any(abs(r.attempts[0].vmaf - r.vmaf) > 2 for r in rungs)
    assert plan.loop_cpu_s > 0
    # an error is carried only to a later rung at the same height
    heights = [r.settings.height for r in rungs]
    later = sum(h in heights[:i] for i, h in enumerate(heights))
    assert sum("an earlier rung at this height" in n for n in plan.ladder.notes) <= later
    # the shipped rendition is what the ladder says (measured again independently)
    data = json.loads((tmp_path / "out" / src.stem / f"{src.stem}.ladder.json").read_text())
    assert data["rungs"][0]["attempts"] and data["rungs"][0]["target_vmaf"] is not None
    top = rungs[-1]
    shipped = tmp_path / "out" / src.stem / rung_name(top) / "index.m3u8"  # as players read it
    assert measure(src, shipped, metrics=("vmaf",)).vmaf == pytest.approx(
        top.measured_vmaf, abs=0.01
    )


def test_a_rung_at_an_earlier_rungs_height_starts_nearer_its_target(
    biased: None, bikes_mp4: Path, tmp_path: Path
) -> None:
    """The model is 8 VMAF optimistic: the bottom rung's first encode measures it, and the
    next rung at the same height corrects half of it before its own first encode."""
    plan = plan_title(bikes_mp4, tmp_path / "out", config=_config(heights=(272,)))
    low, high = plan.ladder.rungs
    assert low.settings.height == high.settings.height == 272
    missed = [r.attempts[0].vmaf - r.vmaf for r in (low, high)]
    assert missed[0] < -4, missed  # the bias shows on the bottom rung's first encode
    # measured 2026-12-03: bottom -8.0; top (declared 95) -5.1 as the model guessed, -1.3
    # carried; top declared 95.75 (top_vmaf + tolerance): -0.64 carried
    assert abs(missed[1]) < 0.4 * abs(missed[0]), missed
    assert any("an earlier rung at this height measured" in n for n in plan.ladder.notes)
    assert all(abs(r.measured_vmaf - r.vmaf) <= 0.75 for r in (low, high))  # type: ignore[operator]
    # the top rung is declared top_vmaf + tolerance: what it ships measures at least top_vmaf
    assert high.target_vmaf == 95.75 and high.measured_vmaf >= 95.0  # type: ignore[operator]


def test_open_loop_keeps_the_first_guess(biased: None, bikes_mp4: Path, tmp_path: Path) -> None:
    plan = plan_title(bikes_mp4, tmp_path, config=_config(heights=(272,), open_loop=True))
    r = plan.ladder.rungs[-1]
    assert r.attempts == () and r.target_vmaf is None
    assert r.measured_vmaf is not None and r.vmaf - r.measured_vmaf > 2  # the bias shows


def test_a_run_killed_mid_loop_reuses_its_finished_attempts(
    bikes_mp4: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = [sys.executable, "-m", "ladderforge", "ladder", str(bikes_mp4), "-o", str(out)]
    args += ["--mode", "predict", "--encode", "--heights", "272", "--max-rungs", "1"]
    args += ["--tolerance", "0.02", "--max-encodes", "3"]  # tight: the loop must go on
    args += ["--keep-work"]
    proc = subprocess.Popen(args, start_new_session=True, stderr=subprocess.DEVNULL)
    measured = out / ".work" / "bikes" / "measured"
    deadline = time.monotonic() + 300
    while not (measured.is_dir() and any(measured.glob("*.json"))):
        assert proc.poll() is None and time.monotonic() < deadline, "no attempt was measured"
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {p: p.stat().st_mtime_ns for p in measured.glob("*.json")}
    chunk_dir = out / ".work" / "bikes" / "chunks"
    # finished encodes only: the killed run's partial files are removed by the next run
    chunks = {
        p: p.stat().st_mtime_ns for p in chunk_dir.rglob("*.mp4") if ".partial-" not in p.name
    }
    assert before and chunks
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    for p, t in before.items():
        assert p.stat().st_mtime_ns == t, f"{p.name} was measured again"
    for p, t in chunks.items():
        assert p.stat().st_mtime_ns == t, f"{p.name} was encoded again"
    assert not [p for p in chunk_dir.rglob("*") if ".partial-" in p.name], "a partial file was left"
    rung = json.loads((out / "bikes" / "bikes.ladder.json").read_text())["rungs"][0]
    assert len(rung["attempts"]) >= len(before)
    assert rung["attempts"][0]["cpu_s"] > 0  # the first attempt's chunks, as first measured


def test_target_hits_the_vmaf_on_bikes(bikes_mp4: Path, tmp_path: Path) -> None:
    out = tmp_path / "bikes_90.mp4"
    result = target_encode(bikes_mp4, out, vmaf=90.0)
    assert result.within_tolerance and abs(result.vmaf - 90.0) <= 0.75
    assert 1 <= result.encodes <= 3 and result.output_path == out
    assert measure(bikes_mp4, out, metrics=("vmaf",)).vmaf == pytest.approx(result.vmaf, abs=0.01)
    assert not list(tmp_path.glob(".*target*")), "the work folder is left behind"


def test_target_cli_with_samples_reports_the_sample_error(
    bikes_mp4: Path, tmp_path: Path, run_cli
) -> None:
    out, report = tmp_path / "b.mp4", tmp_path / "b.json"
    done = run_cli(
        "target", str(bikes_mp4), "--vmaf", "85", "-o", str(out), "--height", "136",
        "--samples", "2", "--json", str(report),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(report.read_text())
    assert data["encodes"] == 1 and data["sample_attempts"]
    assert data["sample_error"] == pytest.approx(data["sample_vmaf"] - data["vmaf"])
    assert "sample error" in done.stdout and out.is_file()
    whole = measure(bikes_mp4, out, metrics=("vmaf",)).vmaf
    assert whole == pytest.approx(data["vmaf"], abs=0.01)


@pytest.mark.parametrize("codec", ["x264", "x265"])
def test_medium_ladders_on_their_own_model(codec: str, bikes_mp4: Path, tmp_path: Path) -> None:
    """x264 medium (the H.264 rungs a ladder keeps for old players) and x265 medium have models
    of their own, trained on their own sweeps: predict mode chooses and loops the rungs on
    them; a preset without a model is refused by name."""
    config = _config(codec=codec, preset="medium", heights=(136,))
    plan = plan_title(bikes_mp4, tmp_path / "out", config=config)
    assert plan.ladder.provenance is not None
    assert plan.ladder.provenance.model == f"{codec}_medium"
    for r in plan.ladder.rungs:
        assert (r.settings.codec, r.settings.preset) == (codec, "medium")
        assert 1 <= len(r.attempts) <= 3 and r.measured_vmaf is not None
        assert abs(r.measured_vmaf - r.vmaf) <= 0.75, r.attempts
    with pytest.raises(UsageError, match=f"no learned model predicts {codec} preset slow"):
        _config(codec=codec, preset="slow")
