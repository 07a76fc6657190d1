"""The main job on real clips: predict and probe modes with the shipped model, probe
calibration, outputs, a batch with one bad title."""

from __future__ import annotations

import json
from pathlib import Path

import m3u8
import pytest

from ladderforge.errors import UsageError
from ladderforge.jobs.batch import run_batch
from ladderforge.jobs.config import LadderConfig
from ladderforge.jobs.title import plan_title
from ladderforge.media import probe
from ladderforge.policy.calibrate import fit_calibration


def test_predict_mode_spends_no_encode(bikes_mp4: Path, tmp_path: Path) -> None:
    plan = plan_title(bikes_mp4, tmp_path, config=LadderConfig(mode="predict"))
    assert plan.decision_cpu_s == 0 and plan.probes == []
    rungs = plan.ladder.rungs
    assert rungs and all(r.settings.height <= 272 for r in rungs)
    assert [r.bitrate_kbps for r in rungs] == sorted(r.bitrate_kbps for r in rungs)
    data = json.loads((tmp_path / "bikes" / "bikes.ladder.json").read_text())
    assert data["mode"] == "predict" and len(data["rungs"]) == len(rungs)
    assert all("total_usd" in r["cost"] for r in data["rungs"])
    assert not (tmp_path / "bikes" / "master.m3u8").exists(), "a master of missing variants"
    master = m3u8.load(str(tmp_path / "bikes" / "master.plan.m3u8"))
    assert len(master.playlists) == len(rungs)


def test_probe_mode_calibrates_on_a_real_clip(bikes_mp4: Path, tmp_path: Path) -> None:
    config = LadderConfig(mode="probe", probe_segments=2, probe_segment_s=1.0, heights=(272, 136))
    plan = plan_title(bikes_mp4, tmp_path, config=config)
    # 2 segments x 2 heights x 2 CRFs, and the shortest height at CRF 43 too, each predicted
    # and measured
    assert len(plan.probes) == 10
    assert sorted((p.height, p.crf) for p in plan.probes if p.crf == 43) == [(136, 43)] * 2
    assert {p.height for p in plan.probes} == {272, 136}
    # three CRFs at 136p: the correction runs through the error at each
    calibration = fit_calibration(plan.probes)
    assert [q for q, _ in calibration.by_height[136].points] == [24, 34, 43]
    assert not calibration.by_height[272].points
    assert all(0 < p.measured_vmaf <= 100 and p.measured_kbps > 0 for p in plan.probes)
    assert plan.decision_cpu_s > 0
    predicted = plan_title(
        bikes_mp4, tmp_path / "p", config=LadderConfig(mode="predict", heights=(272, 136))
    ).surface
    assert plan.surface is not None and predicted is not None
    assert not plan.surface["vmaf"].equals(predicted["vmaf"]), "calibration changed nothing"
    again = plan_title(bikes_mp4, tmp_path, config=config)  # probes are stored: reused

    def key(p: object) -> tuple:
        return (p.height, p.crf, p.measured_kbps)  # type: ignore[attr-defined]

    assert sorted(again.probes, key=key) == sorted(plan.probes, key=key)


def test_a_probe_share_probes_less_of_a_short_title(bikes_mp4: Path, tmp_path: Path) -> None:
    """bikes is 10 s at 25 fps: with probe_share 0.1 its two 1 s probe segments (25 frames)
    become 0.5 s each (12 frames)."""
    base = {"mode": "probe", "probe_segments": 2, "probe_segment_s": 1.0, "heights": (136,)}
    full = plan_title(bikes_mp4, tmp_path / "a", config=LadderConfig(**base, keep_work=True))
    part = plan_title(
        bikes_mp4, tmp_path / "b", config=LadderConfig(**base, probe_share=0.1, keep_work=True)
    )
    assert len(part.probes) == len(full.probes) == 6  # 2 segments x 3 CRFs at the one height
    assert 0 < part.decision_cpu_s < full.decision_cpu_s

    def frames(out: Path) -> list[int]:
        return sorted(probe(p).frame_count for p in (out / ".work").rglob("segments/*.mkv"))

    assert frames(tmp_path / "a") == [25, 25] and frames(tmp_path / "b") == [12, 12]
    with pytest.raises(UsageError, match="probe_share"):
        LadderConfig(**base, probe_share=1.5)


def test_batch_with_one_bad_title(bikes_mp4: Path, tmp_path: Path, run_cli) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 1000)
    report = run_batch([bad, bikes_mp4], tmp_path / "out", config=LadderConfig(mode="predict"))
    assert list(report.plans) == ["bikes"]
    assert "broken.mp4" in report.failures[str(bad)]
    assert (tmp_path / "out" / "summary.parquet").exists()
    done = run_cli(
        "ladder", str(bad), str(bikes_mp4), "-o", str(tmp_path / "cli"), "--mode", "predict"
    )
    assert done.returncode == 3 and "Traceback" not in done.stderr
    assert "broken.mp4" in done.stderr and "bikes" in done.stdout


@pytest.mark.slow
def test_probe_mode_validated(bikes_mp4: Path, tmp_path: Path) -> None:
    plan = plan_title(bikes_mp4, tmp_path, config=LadderConfig(mode="probe", validate=True))
    assert all(r.measured_vmaf is not None for r in plan.ladder.rungs)
    assert len(list((tmp_path / "bikes").glob("*p_*k/index.m3u8"))) == len(plan.ladder.rungs)
