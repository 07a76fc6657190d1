"""Where each rung's loop starts (policy.first_guess): the carried first guess, the top rung
aimed at top_vmaf; on the recorded curves of tests/policy/recorded_curves.py."""

from __future__ import annotations

import pytest

from ladderforge.errors import UsageError
from ladderforge.policy.first_guess import (
    TOP_REACH,
    aim_top,
    carried_first_q,
    curve_error,
    first_q,
)
from ladderforge.policy.ladder import RungSpacing
from ladderforge.types import EncodeSettings, Rung, RungAttempt
from tests.policy.recorded_curves import RECORDED, encoder, model_curve


def test_curve_error_is_measured_minus_the_curve_continued_beyond_its_ends() -> None:
    curve = [(20.0, 90.0), (30.0, 70.0)]
    assert curve_error(curve, RungAttempt(25.0, 77.0, 100.0)) == pytest.approx(-3.0)
    assert curve_error(curve, RungAttempt(35.0, 62.0, 100.0)) == pytest.approx(2.0)  # 60 there
    assert curve_error([], RungAttempt(25.0, 77.0, 100.0)) is None


@pytest.mark.parametrize("title", sorted(RECORDED))
def test_a_rung_at_an_earlier_rungs_height_corrects_part_of_its_error(title: str) -> None:
    """A model 6 VMAF optimistic everywhere (the error the carry assumes: one offset along a
    height's curve): the bottom rung's first encode measures it; the next rung at that height,
    moved by half of it, lands nearer its target than at the model's own CRF (about half the
    miss); share 0 keeps the model's CRF."""
    run, curve = encoder(RECORDED[title]), model_curve(title, bias=6.0, stretch=0.0)
    bounds = {"q_min": 0.0, "q_max": 51.0}
    error = curve_error(curve, run(first_q(curve, 60.0, **bounds)))
    assert error is not None and -7.0 < error < -5.0
    own = first_q(curve, 85.0, **bounds)
    plain = run(own).vmaf - 85.0
    carried = run(carried_first_q(curve, own, error, **bounds)).vmaf - 85.0
    assert abs(carried) < 0.65 * abs(plain), (plain, carried)
    assert carried_first_q(curve, own, error, share=0.0, **bounds) == own
    with pytest.raises(UsageError, match="error"):
        carried_first_q(curve, own, float("nan"), **bounds)


def test_the_carry_moves_from_the_rungs_own_crf_beyond_the_curves_ends() -> None:
    """Anchored on the rung's CRF, never on its target: a top rung declared above the model's
    best (aim_top) moves up or down with the error's sign instead of jumping to the curve's
    best CRF; beyond the worst CRF the curve is continued; a flat end keeps the CRF."""
    curve = [(16.0, 94.5), (19.0, 93.0), (22.0, 90.0), (46.0, 30.0)]
    bounds = {"q_min": 0.0, "q_max": 51.0}
    assert carried_first_q(curve, 16.0, 2.0, **bounds) == 18.0  # pessimistic model: up
    assert carried_first_q(curve, 16.0, -2.0, **bounds) == 14.0  # along the end's -0.5/CRF
    assert carried_first_q(curve, 46.0, 4.0, **bounds) == pytest.approx(46.8)  # -2.5/CRF beyond
    assert carried_first_q(curve, 46.0, 40.0, **bounds) == 51.0  # held in the encoder's range
    flat = [(16.0, 99.0), (19.0, 99.0), (22.0, 96.0)]
    assert carried_first_q(flat, 16.0, -3.0, **bounds) == 16.0
    assert carried_first_q(curve, 30.0, -100.0, **bounds) == 20.0  # at most MAX_STEP away
    assert carried_first_q([], 30.0, -3.0, **bounds) == 30.0


BBB = [(float(q), v, k) for q, v, k in RECORDED["bbb_720p"]]  # (CRF, VMAF, kbps) at 720p
SPACING = RungSpacing(min_step_vmaf=6.0, min_rate_ratio=1.5, max_rate_ratio=2.0)


def _rung(q: float, vmaf: float, kbps: float, height: int = 720) -> Rung:
    settings = EncodeSettings(codec="x265", width=height * 16 // 9, height=height, q=q)
    return Rung(settings=settings, bitrate_kbps=kbps, vmaf=vmaf)


def _aim(rungs: list[Rung], curve: list[tuple[float, float, float]] = BBB, **kw: object):  # type: ignore[no-untyped-def]
    options = {"top_vmaf": 95.0, "spacing": SPACING, "q_min": 0.0, "q_max": 51.0}
    options |= {"fractional": True, "full_height": True} | kw
    return aim_top(rungs, curve, **options)  # type: ignore[arg-type]


def test_the_top_rung_moves_between_the_grid_crfs_to_top_vmaf() -> None:
    low, top = _rung(31.0, 83.15, 549.7), _rung(19.0, 95.84, 3040.0)  # the grid's first >= 95
    rungs, notes = _aim([low, top])
    assert rungs[0] == low and not notes
    moved = rungs[-1]
    # 95 lies between CRF 19 (95.84) and 22 (93.81): 19 + 0.84 / 2.03 x 3 = 20.24
    assert moved.vmaf == 95.0 and moved.settings.q == 20.2
    assert 1972.2 < moved.bitrate_kbps < 3040.0  # log-kbps between the grid's points
    assert _aim([low, top], fractional=False) == ([low, top], [])  # an integer grid is its own
    near = _rung(22.0, 93.81, 1972.2)  # 95 at 20.2 is too close to it (< 6 VMAF, < 1.5x)
    assert _aim([near, top]) == ([near, top], [])


def test_a_margin_puts_the_loops_window_at_or_above_top_vmaf() -> None:
    low, top = _rung(31.0, 83.15, 549.7), _rung(19.0, 95.84, 3040.0)
    rungs, notes = _aim([low, top], margin=0.75)
    # 95.75 lies between CRF 19 (95.84) and 22 (93.81): 19 + 0.09 / 2.03 x 3 = 19.1
    assert rungs[-1].vmaf == 95.75 and rungs[-1].settings.q == 19.1
    assert "window its loop accepts starts at 95" in notes[-1]
    # a grid candidate between top_vmaf and the declared VMAF moves down, to a lower CRF
    shifted = [(q, v - 0.5, k) for q, v, k in BBB]  # CRF 19: 95.34
    rungs, _ = _aim([low, _rung(19.0, 95.34, 3040.0)], shifted, margin=0.75)
    assert rungs[-1].vmaf == 95.75 and rungs[-1].settings.q == 18.2
    assert rungs[-1].bitrate_kbps > 3040.0
    # just below top_vmaf at full height: declared top_vmaf + margin, first encode at its CRF
    below = [(q, v - 4.0, k) for q, v, k in BBB]
    rungs, notes = _aim([low, _rung(16.0, 93.47, 4682.2)], below, margin=0.75)
    assert rungs[-1].vmaf == 95.75 and rungs[-1].settings.q == 16.0 and len(notes) == 1
    # an integer encoder moves to the whole CRF at or below the crossing (18.2 -> 18)
    rungs, _ = _aim([low, _rung(19.0, 95.34, 3040.0)], shifted, margin=0.75, fractional=False)
    assert rungs[-1].vmaf == 95.75 and rungs[-1].settings.q == 18.0
    # a goal beyond a flat best end: declared there, first encode at the rung's own CRF
    flat = [(16.0, 95.3, 4682.2), (19.0, 95.3, 3040.0), (22.0, 93.81, 1972.2)]
    rungs, _ = _aim([low, _rung(16.0, 95.3, 4682.2)], flat, margin=0.75)
    assert rungs[-1].vmaf == 95.75 and rungs[-1].settings.q == 16.0


def test_a_top_rung_just_below_top_vmaf_declares_it_at_full_height() -> None:
    shifted = [(q, v - 4.0, k) for q, v, k in BBB]  # the best point: 93.47 at CRF 16
    low, best = _rung(31.0, 79.15, 549.7), _rung(16.0, 93.47, 4682.2)
    rungs, notes = _aim([low, best], shifted)
    # the first encode at its own CRF; its kbps where the curve, continued along CRF 16-19
    # (-0.54 VMAF per step), reaches 95: CRF 16 - 1.53 / 0.543 = 13.2
    assert rungs[-1].vmaf == 95.0 and rungs[-1].settings.q == 16.0
    assert rungs[-1].bitrate_kbps > best.bitrate_kbps and "CRF 13.2" in notes[0]
    assert _aim([low, best], shifted, full_height=False) == ([low, best], [])
    assert _aim([best], shifted) == ([best], [])  # a one-rung ladder: left alone
    drop = 97.47 - (95.0 - TOP_REACH - 0.5)  # the best point half a VMAF beyond the reach
    far = [(q, v - drop, k) for q, v, k in BBB]
    worst = _rung(16.0, 97.47 - drop, 4682.2)
    assert _aim([low, worst], far) == ([low, worst], [])


def test_a_first_guess_from_measured_points() -> None:
    from ladderforge.policy.first_guess import first_q_from_points

    probes = [RungAttempt(24.0, 93.0, 500.0), RungAttempt(34.0, 85.0, 150.0)]
    curve = [(float(q), 117.0 - q) for q in range(16, 47)]  # 1 VMAF per CRF step
    # between the two: the straight line's CRF (the model's shape agrees with it here)
    assert first_q_from_points(probes, 89.0, curve=curve, q_min=0, q_max=51) == 29.0
    # a point within tolerance of the target is the answer, for an integer encoder too (the
    # loop's next step never repeats a tried CRF: a probe is not one of the rung's attempts)
    for fractional in (True, False):
        q = first_q_from_points(
            probes, 92.8, curve=curve, q_min=0, q_max=63, fractional=fractional, tolerance=0.75
        )
        assert q == 24.0
    assert first_q_from_points([], 90.0, curve=curve, q_min=0, q_max=51) is None
