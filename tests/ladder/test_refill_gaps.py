"""Refilling a gap the measured rungs open: a model that squeezes its predicted bitrates
(each the square root of what it would say, scaled) lets the ladder rules choose rungs that
look 2x apart and measure about twice that; the closed loop adds a rung in each gap wider
than ``max_rate_ratio``, looped like the others, until none is left or ``max_rungs`` is
reached."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

import ladderforge.jobs.context as context_mod
from ladderforge.jobs.config import LadderConfig
from ladderforge.jobs.title import plan_title
from ladderforge.policy.models import Prediction, default_model


class SqueezedRates:
    """The shipped model, its bitrates squeezed: sqrt(kbps x 100), so a 4x ratio reads 2x."""

    def __init__(self) -> None:
        self.base = default_model()

    def predict(self, rows: object) -> Prediction:
        p = self.base.predict(rows)  # type: ignore[arg-type]
        return Prediction(p.vmaf, np.sqrt(np.asarray(p.bitrate_kbps) * 100.0))


@pytest.fixture
def squeezed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context_mod, "shipped_model", lambda name: SqueezedRates())


@pytest.fixture
def clip(make_clip, tmp_path: Path) -> Path:
    return make_clip(
        tmp_path / "pattern.mp4", source="testsrc2", size="320x180", frames=40, extra=["-qp", "0"]
    )


def _plan(src: Path, out: Path, **kw: object):
    options = {"mode": "predict", "encode": True, "heights": (180,), "min_chunk_s": 0.4, **kw}
    return plan_title(src, out, config=LadderConfig(**options))  # type: ignore[arg-type]


def _ratios(rungs) -> list[float]:
    kbps = [r.measured_bitrate_kbps for r in rungs]
    return [b / a for a, b in itertools.pairwise(kbps)]


def test_a_gap_the_measured_rates_open_gets_a_rung(
    squeezed: None, clip: Path, tmp_path: Path
) -> None:
    plain = _plan(clip, tmp_path / "plain", refill_gaps=False)  # what --no-refill-gaps ships
    assert max(_ratios(plain.ladder.rungs)) > 2.5  # the squeezed model's gap, as shipped
    assert not any("rung added" in n for n in plain.ladder.notes)

    plan = _plan(clip, tmp_path / "filled")
    rungs = plan.ladder.rungs
    added = [n for n in plan.ladder.notes if "rung added" in n]
    assert added and len(rungs) > len(plain.ladder.rungs)
    assert len(rungs) <= LadderConfig().max_rungs
    kbps = [r.measured_bitrate_kbps for r in rungs]
    vmaf = [r.measured_vmaf for r in rungs]
    assert kbps == sorted(kbps) and vmaf == sorted(vmaf)  # type: ignore[type-var]
    # no gap wider than max_rate_ratio is left where there was room for a rung between
    for (a, b), ratio in zip(itertools.pairwise(rungs), _ratios(rungs), strict=True):
        room = b.measured_vmaf - a.measured_vmaf >= 2 * 3.0 and ratio >= 1.5**2  # type: ignore[operator]
        assert ratio <= 2.0 + 1e-9 or not room, (ratio, a.name, b.name)
    # the rungs chosen up front are the same encodes; each added one looped onto its target,
    # the mean of its neighbours' VMAFs
    before = {r.name for r in plain.ladder.rungs}
    assert before <= {r.name for r in rungs}
    for i, r in enumerate(rungs):
        if r.name in before:
            continue
        assert r.target_vmaf is not None and 1 <= len(r.attempts) <= 3
        assert abs(r.measured_vmaf - r.target_vmaf) <= 0.75, r.attempts  # type: ignore[operator]
        assert vmaf[i - 1] < r.target_vmaf < vmaf[i + 1]  # type: ignore[operator]
    # what ships lists every rung: the master playlist and the ladder JSON
    title = tmp_path / "filled" / clip.stem
    master = (title / "master.m3u8").read_text()
    for r in rungs:
        assert f"{r.name}/" in master
        assert (title / r.name).is_dir()
    data = json.loads((title / f"{clip.stem}.ladder.json").read_text())
    assert [r["name"] for r in data["rungs"]] == [r.name for r in rungs]


class CheapShortHeight:
    """The shipped model with the short height's bitrates cut to a third: the ladder puts its
    upper rungs there, and they measure dearer than the tall height's at more VMAF."""

    def __init__(self, short: int) -> None:
        self.base, self.short = default_model(), short

    def predict(self, rows: object) -> Prediction:
        p = self.base.predict(rows)  # type: ignore[arg-type]
        short = rows["height"].to_numpy() == self.short  # type: ignore[index]
        return Prediction(p.vmaf, np.where(short, p.bitrate_kbps / 3.0, p.bitrate_kbps))


def test_a_rung_another_beats_is_dropped(
    monkeypatch: pytest.MonkeyPatch, clip: Path, tmp_path: Path
) -> None:
    monkeypatch.setattr(context_mod, "shipped_model", lambda name: CheapShortHeight(90))
    plain = _plan(clip, tmp_path / "plain", heights=(180, 90), refill_gaps=False)
    measured = [(r.measured_bitrate_kbps, r.measured_vmaf) for r in plain.ladder.rungs]
    beaten = [
        (r, v)
        for r, v in measured
        if any(r2 <= r and v2 > v for r2, v2 in measured)  # type: ignore[operator]
    ]
    assert beaten, measured  # the biased model's ladder ships a rung another beats

    plan = _plan(clip, tmp_path / "kept", heights=(180, 90))
    rungs = plan.ladder.rungs
    kbps = [r.measured_bitrate_kbps for r in rungs]
    vmaf = [r.measured_vmaf for r in rungs]
    assert kbps == sorted(kbps) and vmaf == sorted(vmaf)  # type: ignore[type-var]
    drops = [n for n in plan.ladder.notes if "rung dropped" in n]
    assert len(drops) >= len(beaten)
    title = tmp_path / "kept" / clip.stem
    master = (title / "master.m3u8").read_text()
    assert all(f"{r.name}/" in master for r in rungs)
    dropped = {n.split(" ")[0] for n in drops}
    assert not any((title / name).exists() or f"{name}/" in master for name in dropped)


def test_the_dry_run_bounds_the_rungs_a_refill_may_add(bikes_mp4: Path) -> None:
    from ladderforge.jobs.batch import TitleSource
    from ladderforge.jobs.dry_run import estimate

    title = [TitleSource(bikes_mp4)]
    on, off = LadderConfig(encode=True), LadderConfig(encode=True, refill_gaps=False)
    assert on.refills and not off.refills
    assert not LadderConfig(encode=True, cost_lambda=1.0).refills  # a cost-chosen ladder's gaps
    assert estimate(title, off)[0].rung_encodes == off.max_rungs * 3
    assert estimate(title, on)[0].rung_encodes == 2 * on.max_rungs * 3


def test_an_added_rung_gets_its_own_vbv_cap(squeezed: None, clip: Path, tmp_path: Path) -> None:
    plan = _plan(clip, tmp_path / "capped", vbv="capped")
    assert any("rung added" in n for n in plan.ladder.notes)
    for r in plan.ladder.rungs:  # each capped on its own declared rate, none on a neighbour's
        assert r.settings.maxrate_kbps == pytest.approx(1.5 * r.bitrate_kbps, abs=0.1)
        assert r.settings.bufsize_kbits == pytest.approx(2 * r.settings.maxrate_kbps, abs=0.1)
