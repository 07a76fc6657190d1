"""The no-harm guard, BD-rates of the enhanced ladder and the ladder flagged for players."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from ladderforge.enhance import EnhanceModel
from ladderforge.jobs.enhance import (
    RungEval,
    enhanced_ladder,
    guard_allows,
    ladder_bd_rates,
    stage_enabled,
    stage_off_reason,
)
from ladderforge.types import EncodeSettings, Ladder, StageFigures


def rung(height: int, crf: int, kbps: float, vmaf: float, gain: float, neg_gain: float) -> RungEval:
    """A recorded rung: ``gain`` added to VMAF and PSNR, ``neg_gain`` to VMAF NEG."""
    before = {"vmaf": vmaf, "vmaf_neg": vmaf - 2, "psnr_y": 25 + vmaf / 5}
    after = {
        "vmaf": vmaf + gain,
        "vmaf_neg": vmaf - 2 + neg_gain,
        "psnr_y": 25 + vmaf / 5 + gain / 5,
    }
    settings = EncodeSettings(codec="x265", width=height * 16 // 9 // 2 * 2, height=height, q=crf)
    on = stage_enabled(StageFigures.from_dict(before), StageFigures.from_dict(after))
    return RungEval("t", settings, kbps, before, after, on)


def test_guard_turns_the_stage_off_where_neg_drops() -> None:
    assert guard_allows({"vmaf_neg": 80.0}, {"vmaf_neg": 80.0})
    assert not guard_allows({"vmaf_neg": 80.0}, {"vmaf_neg": 79.9})
    assert guard_allows({"vmaf_neg": 80.0}, {"vmaf_neg": 79.9}, margin=0.2)
    assert not guard_allows({"vmaf_neg": 80.0, "psnr_y": 40.0}, {"vmaf_neg": 81.0, "psnr_y": 39.9})
    assert guard_allows({"vmaf_neg": 80, "psnr_y": 40}, {"vmaf_neg": 81, "psnr_y": 39}, metrics=())
    harmful = rung(720, 22, 3000, 95, gain=0.5, neg_gain=-0.3)
    assert not harmful.enabled and harmful.effective == harmful.before


def test_the_stage_is_on_only_where_the_guard_passes_and_vmaf_rises() -> None:
    """One rule for 'enhance eval' and 'ladder --enhanced': a rung whose VMAF does not rise is
    off even where the guard passes, and the reason says which."""
    plain = StageFigures(vmaf=80.0, vmaf_neg=78.0, psnr_y=38.0)
    flat = StageFigures(vmaf=80.0, vmaf_neg=78.5, psnr_y=38.2)
    assert guard_allows(plain.to_dict(), flat.to_dict()) and not stage_enabled(plain, flat)
    assert stage_off_reason(plain, flat) == "no VMAF gain"
    sharp = StageFigures(vmaf=83.0, vmaf_neg=78.5, psnr_y=37.0)
    assert stage_off_reason(plain, sharp) == "guard: psnr_y lowered"
    assert stage_off_reason(plain, sharp, metrics=()) is None
    gain = StageFigures(vmaf=82.0, vmaf_neg=79.0, psnr_y=38.5)
    assert stage_enabled(plain, gain) and stage_off_reason(plain, gain) is None


RECORDED = [
    rung(360, 37, 150, 55, 3.0, 2.5),
    rung(360, 32, 260, 66, 2.5, 2.0),
    rung(540, 32, 450, 75, 2.0, 1.5),
    rung(540, 27, 800, 83, 1.5, 1.0),
    rung(720, 27, 1400, 90, 0.5, 0.2),
    rung(720, 22, 2600, 95, 0.4, -0.3),
]


def with_ssim(r: RungEval) -> RungEval:
    """The rung with SSIM measured too (rising with VMAF)."""
    return RungEval(
        r.title, r.settings, r.bitrate_kbps, {**r.before, "ssim": 0.8 + r.before["vmaf"] / 1000},
        {**r.after, "ssim": 0.8 + r.after["vmaf"] / 1000}, r.enabled,
    )  # fmt: skip


def test_bd_rates_are_negative_when_every_rung_gains() -> None:
    bd = ladder_bd_rates([with_ssim(r) for r in RECORDED])
    assert set(bd) == {"vmaf", "vmaf_neg", "psnr_y", "ssim"}
    assert all(v is not None and v < 0 for v in bd.values())


def test_results_stored_without_ssim_still_give_the_other_bd_rates() -> None:
    bd = ladder_bd_rates(RECORDED)  # rungs recorded before SSIM was measured
    assert bd["ssim"] is None
    assert all(bd[m] is not None and bd[m] < 0 for m in ("vmaf", "vmaf_neg", "psnr_y"))


def test_model_bits_count_against_the_enhanced_ladder() -> None:
    free = ladder_bd_rates(RECORDED)["vmaf_neg"]
    costly = ladder_bd_rates(RECORDED, model_kbps=200.0)["vmaf_neg"]
    assert free is not None and costly is not None and costly > free


def test_no_effective_rung_loses_neg() -> None:
    assert all(r.effective["vmaf_neg"] >= r.before["vmaf_neg"] for r in RECORDED)


def test_enhanced_ladder_is_flagged_for_players() -> None:
    model = EnhanceModel.new("tiny")
    data = enhanced_ladder(RECORDED, source_height=720, model=model, min_step_vmaf=4)
    flags = data["enhance"]
    assert flags["preset"] == "tiny" and flags["fingerprint"] == model.fingerprint()
    assert flags["enabled_rungs"] == sum(r["enhance"]["enabled"] for r in data["rungs"])
    assert any(n.startswith("enhancement on") for n in data["notes"])
    ladder = Ladder.from_dict(data)  # still a valid ladder for readers that ignore the flag
    for r in ladder.rungs:
        match = next(x for x in RECORDED if x.settings == r.settings)
        assert r.enhance is not None and r.enhance.enabled == match.enabled
        assert r.enhance.plain.to_dict() == match.before
        assert r.vmaf == pytest.approx(match.effective["vmaf"])


def test_plain_ladder_says_enhancement_is_off() -> None:
    data = enhanced_ladder(RECORDED, source_height=720, model=None, min_step_vmaf=4)
    assert "enhance" not in data and all("enhance" not in r for r in data["rungs"])
    assert not any(n.startswith("enhancement on") for n in data["notes"])
