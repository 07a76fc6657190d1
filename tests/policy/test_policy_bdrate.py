"""BD-rate and BD-VMAF: worked examples computed independently of ladderforge's code.

Where the expected figures come from:

1. Analytic: the test curve needs 0.9x the baseline's rate at every quality, so log10 of the
   ratio is log10(0.9) everywhere and BD-rate is exactly -10%.
2. Hand-integrated: with two points a PCHIP is a straight line, and the mean of a straight line
   over an interval is its value at the interval's middle. Baseline (1000, 80)-(4000, 95), test
   (500, 78)-(2000, 96); overlap VMAF 80-95, middle 87.5. Baseline there: 1000 * 4**0.5 =
   2000 kbps. Test there: 500 * 4**(9.5 / 18) = 500 * 2**(19/18) kbps. BD-rate =
   500 * 2**(19/18) / 2000 - 1 = 2**(-17/18) - 1 = -48.037%.
3. Published implementation: the ``bjontegaard`` package 1.3.0 (PyPI, FAU Erlangen; BSD-3),
   ``bd_rate(..., method='pchip')`` and ``bd_psnr(..., method='pchip')`` on the curves
   ``CURVE_A``/``CURVE_B`` below, run once by hand and recorded here (it is not a test
   dependency: it pulls in matplotlib). Its cubic-polynomial method (the original VCEG-M33
   one) gives -32.179% on the same curves, 0.42 points away: the method matters.
4. Textbook: :func:`_moler_pchip_mean` below, a from-scratch PCHIP (Fritsch-Butland derivatives
   with the shape-preserving three-point end rule, as in Moler, *Numerical Computing with
   MATLAB*, ch. 3, ``pchiptx``), integrated exactly with 2-point Gauss-Legendre per segment.
   It uses no scipy, so it checks ladderforge's use of scipy too.
"""

from __future__ import annotations

import itertools
import math

import pytest

from ladderforge.policy import (
    BDRateError,
    bd_quality,
    bd_quality_result,
    bd_rate,
    bd_rate_result,
)
from ladderforge.types import RDPoint

# Two concave curves (each its own upper convex hull), shaped like a fixed ladder and a
# per-title one.
CURVE_A = [(600.0, 72.1), (1200.0, 81.4), (2400.0, 88.9), (4500.0, 93.6), (5800.0, 95.0)]
CURVE_B = [(450.0, 73.0), (900.0, 82.6), (1700.0, 89.5), (3200.0, 94.2), (5000.0, 96.3)]
BJONTEGAARD_1_3_0_PCHIP_BD_RATE = -32.59875011115266
BJONTEGAARD_1_3_0_PCHIP_BD_PSNR = 3.87800550272255
TOLERANCE_PP = 0.1  # the project's "Done when": within 0.1 percentage points


def _moler_pchip_slopes(x: list[float], y: list[float]) -> list[float]:
    h = [b - a for a, b in itertools.pairwise(x)]
    delta = [(y[k + 1] - y[k]) / h[k] for k in range(len(h))]
    n = len(x)
    if n == 2:
        return [delta[0], delta[0]]
    d = [0.0] * n
    for k in range(1, n - 1):
        if delta[k - 1] * delta[k] > 0:
            w1, w2 = 2 * h[k] + h[k - 1], h[k] + 2 * h[k - 1]
            d[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k])

    def end(h0: float, h1: float, del0: float, del1: float) -> float:
        value = ((2 * h0 + h1) * del0 - h0 * del1) / (h0 + h1)
        if math.copysign(1, value) != math.copysign(1, del0):
            return 0.0
        if math.copysign(1, del0) != math.copysign(1, del1) and abs(value) > abs(3 * del0):
            return 3 * del0
        return value

    d[0] = end(h[0], h[1], delta[0], delta[1])
    d[-1] = end(h[-1], h[-2], delta[-1], delta[-2])
    return d


def _moler_pchip_mean(x: list[float], y: list[float], low: float, high: float) -> float:
    """Mean over [low, high] of the PCHIP through (x, y), integrated exactly."""
    d = _moler_pchip_slopes(x, y)

    def value(k: int, s: float) -> float:  # cubic Hermite on segment k at abscissa s
        hk = x[k + 1] - x[k]
        t = (s - x[k]) / hk
        h00, h10 = 2 * t**3 - 3 * t**2 + 1, t**3 - 2 * t**2 + t
        h01, h11 = -2 * t**3 + 3 * t**2, t**3 - t**2
        return h00 * y[k] + h10 * hk * d[k] + h01 * y[k + 1] + h11 * hk * d[k + 1]

    total = 0.0
    for k in range(len(x) - 1):
        a, b = max(low, x[k]), min(high, x[k + 1])
        if b <= a:
            continue
        mid, half = (a + b) / 2, (b - a) / 2
        g = half / math.sqrt(3)  # 2-point Gauss-Legendre: exact for cubics
        total += half * (value(k, mid - g) + value(k, mid + g))
    return total / (high - low)


def _reference_bd_rate(base: list[tuple[float, float]], test: list[tuple[float, float]]) -> float:
    low = max(base[0][1], test[0][1])
    high = min(base[-1][1], test[-1][1])

    def mean(curve: list[tuple[float, float]]) -> float:
        qs = [q for _, q in curve]
        return _moler_pchip_mean(qs, [math.log10(r) for r, _ in curve], low, high)

    return (10 ** (mean(test) - mean(base)) - 1) * 100


def test_bd_rate_analytic_ten_percent_fewer_bits() -> None:
    test = [(r * 0.9, q) for r, q in CURVE_A]
    assert bd_rate(CURVE_A, test) == pytest.approx(-10.0, abs=1e-9)
    assert bd_rate(test, CURVE_A) == pytest.approx((1 / 0.9 - 1) * 100, abs=1e-9)


def test_bd_rate_hand_integrated_two_point_curves() -> None:
    expected = (2 ** (-17 / 18) - 1) * 100  # -48.037 %, see the module docstring
    result = bd_rate_result([(1000.0, 80.0), (4000.0, 95.0)], [(500.0, 78.0), (2000.0, 96.0)])
    assert result.bd_rate_pct == pytest.approx(expected, abs=1e-9)
    assert (result.overlap_vmaf_low, result.overlap_vmaf_high) == (80.0, 95.0)


def test_bd_rate_matches_published_bjontegaard_pchip() -> None:
    got = bd_rate(CURVE_A, CURVE_B)
    assert got == pytest.approx(BJONTEGAARD_1_3_0_PCHIP_BD_RATE, abs=TOLERANCE_PP)
    assert got == pytest.approx(BJONTEGAARD_1_3_0_PCHIP_BD_RATE, abs=1e-6)  # same method


def test_bd_rate_matches_textbook_pchip(
    talking_head_points: list[RDPoint], sports_grain_points: list[RDPoint]
) -> None:
    assert bd_rate(CURVE_A, CURVE_B) == pytest.approx(
        _reference_bd_rate(CURVE_A, CURVE_B), abs=1e-6
    )
    # the recorded tables, hulls taken by hand: the 720p-only curve against the full hull
    hull = bd_rate_result(talking_head_points, [p for p in talking_head_points if p.height == 720])
    expected = _reference_bd_rate(list(hull.baseline_hull), list(hull.test_hull))
    assert hull.bd_rate_pct == pytest.approx(expected, abs=TOLERANCE_PP)
    assert hull.bd_rate_pct > 0  # one resolution alone needs more bits than the hull


def test_bd_rate_takes_the_hull_of_each_set() -> None:
    noisy = [*CURVE_A, (3000.0, 85.0), (7000.0, 94.0)]  # under the hull: ignored
    assert bd_rate(noisy, CURVE_B) == pytest.approx(bd_rate(CURVE_A, CURVE_B), abs=1e-12)


def test_bd_rate_accepts_rd_points(talking_head_points: list[RDPoint]) -> None:
    pairs = [(p.bitrate_kbps, p.quality) for p in talking_head_points]
    assert bd_rate(talking_head_points, CURVE_A) == bd_rate(pairs, CURVE_A)


def test_bd_quality_analytic_and_published() -> None:
    plus_two = [(r, q + 2.0) for r, q in CURVE_A]
    assert bd_quality(CURVE_A, plus_two) == pytest.approx(2.0, abs=1e-9)
    result = bd_quality_result(CURVE_A, CURVE_B)
    assert result.bd_quality == pytest.approx(BJONTEGAARD_1_3_0_PCHIP_BD_PSNR, abs=1e-6)
    assert (result.overlap_kbps_low, result.overlap_kbps_high) == pytest.approx((600.0, 5000.0))


@pytest.mark.parametrize(
    ("base", "test", "match"),
    [
        ([(1000.0, 80.0)], CURVE_B, "at least 2 points"),
        (CURVE_A, [(900.0, 82.6), (900.0, 80.0)], "at least 2 points"),
        ([(1000.0, 90.0), (2000.0, 95.0)], [(500.0, 70.0), (900.0, 90.5)], "overlap over 0.5"),
        ([(1000.0, 90.0), (2000.0, 95.0)], [(500.0, 60.0), (900.0, 70.0)], "overlap over 0 "),
        ([], CURVE_B, "empty"),
    ],
)
def test_bd_rate_refuses(
    base: list[tuple[float, float]], test: list[tuple[float, float]], match: str
) -> None:
    with pytest.raises(BDRateError, match=match):
        bd_rate(base, test)


def test_bd_rate_overlap_of_exactly_one_vmaf_is_accepted() -> None:
    base = [(1000.0, 90.0), (2000.0, 95.0)]
    assert math.isfinite(bd_rate(base, [(500.0, 80.0), (900.0, 91.0)]))
    with pytest.raises(BDRateError, match="at least 2 is needed"):
        bd_rate(base, [(500.0, 80.0), (900.0, 91.0)], min_overlap_vmaf=2.0)


def test_bd_quality_refuses_disjoint_rates() -> None:
    with pytest.raises(BDRateError, match="do not overlap in rate"):
        bd_quality([(100.0, 50.0), (200.0, 60.0)], [(300.0, 70.0), (600.0, 80.0)])


def test_bd_rate_error_is_a_usage_error() -> None:
    with pytest.raises(ValueError, match="'min_overlap_vmaf'"):
        bd_rate(CURVE_A, CURVE_B, min_overlap_vmaf=0.0)
