"""Probe planning and calibration, the cost model, HLS master playlists: pure pieces of the
main job, tested on recorded values."""

from __future__ import annotations

import math

import m3u8
import numpy as np
import pytest

from ladderforge.encoder import codec_facts
from ladderforge.encoder.hls import codecs_string, master_playlist
from ladderforge.errors import UsageError
from ladderforge.policy.calibrate import (
    MIN_PROBE_S,
    ProbeResult,
    fit_calibration,
    plan_probe_segments,
    probe_segment_s,
    probe_segment_weights,
)
from ladderforge.policy.cost import CostModel, RungSpend, encode_cpu_s, ladder_costs
from ladderforge.types import EncodeSettings, Ladder, Rung

SCENES = [  # (start, end, pooled features) as analysis reports them for bikes.mp4
    (0, 30, {"texture_e_mean": 9.0, "ti_mean": 14.0}),
    (30, 76, {"texture_e_mean": 3.0, "ti_mean": 4.0}),
    (76, 137, {"texture_e_mean": 20.0, "ti_mean": 30.0}),
    (137, 187, {"texture_e_mean": 6.0, "ti_mean": 9.0}),
    (187, 250, {"texture_e_mean": 12.0, "ti_mean": 18.0}),
]


def test_probe_segments_span_complexity() -> None:
    segments = plan_probe_segments(SCENES, frame_rate=25, n_segments=3, segment_s=1.0)
    # easiest (30-76), median (0-30) and hardest (76-137) scene, middle second of each
    assert segments == [(3, 28), (41, 66), (94, 119)]
    assert all(e - s == 25 for s, e in segments)


def test_probe_segments_weigh_the_scenes_they_stand_for() -> None:
    # by complexity: 30-76 (46 frames), 137-187 (50), 0-30 (30), 187-250 (63), 76-137 (61);
    # probed: the 1st, 3rd and 5th; the 2nd and 4th are halved between their neighbours
    weights = probe_segment_weights(SCENES, n_segments=3)
    assert weights == pytest.approx([x * 3 / 250 for x in (30 + 25 + 31.5, 46 + 25, 61 + 31.5)])
    assert probe_segment_weights(SCENES[:2], n_segments=3) == pytest.approx([30 / 38, 46 / 38])
    # a short hard scene in a title of middling ones counts for little
    title = [
        (0, 200, {"ti_mean": 5.0}),
        (200, 210, {"ti_mean": 50.0}),
        (210, 220, {"ti_mean": 1.0}),
    ]
    assert probe_segment_weights(title, n_segments=3) == pytest.approx(
        [200 * 3 / 220, 0.136, 0.136], abs=1e-3
    )
    # in the fit: errors +3 (weight 3) and -1 (weight 1) at each CRF give +2
    probes = [
        ProbeResult(720, crf, 80.0, 80.0 + e, 1e3, 1e3, weight=w)
        for crf in (24, 34)
        for e, w in ((3.0, 3.0), (-1.0, 1.0))
    ]
    assert fit_calibration(probes).by_height[720].a_vmaf == pytest.approx(2.0)
    with pytest.raises(UsageError):
        fit_calibration([ProbeResult(720, 24, 80, 80, 1e3, 1e3, weight=0.0)])


def test_probe_segments_short_scene_and_errors() -> None:
    assert plan_probe_segments([(0, 10, {})], frame_rate=25) == [(0, 10)]
    with pytest.raises(UsageError):
        plan_probe_segments([], frame_rate=25)


def test_a_probe_share_shortens_the_segments_of_a_short_title() -> None:
    assert probe_segment_s(2.0, duration_s=60.0, segments=3, share=None) == 2.0
    assert probe_segment_s(2.0, duration_s=60.0, segments=3, share=0.25) == 2.0  # long: as set
    assert probe_segment_s(2.0, duration_s=12.0, segments=3, share=0.25) == pytest.approx(1.0)
    assert probe_segment_s(2.0, duration_s=2.4, segments=1, share=0.25) == pytest.approx(0.6)
    assert probe_segment_s(2.0, duration_s=1.5, segments=1, share=0.25) == MIN_PROBE_S
    assert probe_segment_s(0.2, duration_s=1.5, segments=1, share=0.25) == 0.2  # never longer
    with pytest.raises(UsageError):
        probe_segment_s(2.0, duration_s=2.4, segments=1, share=0.0)


def test_calibration_recovers_offset_and_slope() -> None:
    # measured = predicted + 3 - 0.2 (crf - 29) at 720p; rate 10 % high at 360p.
    probes = [
        ProbeResult(720, crf, 80.0, 80.0 + 3 - 0.2 * (crf - 29), 1000.0, 1000.0) for crf in (24, 34)
    ]
    probes += [ProbeResult(360, crf, 60.0, 60.0, 300.0, 330.0) for crf in (24, 34)]
    cal = fit_calibration(probes)
    vmaf, kbps = cal.apply(720, np.array([24.0, 29.0, 34.0]), np.full(3, 80.0), np.full(3, 1e3))
    assert vmaf == pytest.approx([84.0, 83.0, 82.0])
    assert kbps == pytest.approx([1000.0] * 3)
    _, kbps360 = cal.apply(360, np.array([30.0]), np.array([60.0]), np.array([300.0]))
    assert kbps360[0] == pytest.approx(330.0)
    # 540p was not probed: interpolated in log2(height) between 360p (+0) and 720p (+3)
    v540, _ = cal.apply(540, np.array([29.0]), np.array([70.0]), np.array([500.0]))
    w = (math.log2(540) - math.log2(360)) / (math.log2(720) - math.log2(360))
    assert v540[0] == pytest.approx(70.0 + 3.0 * w)
    # above the highest probed height, its correction holds
    v1080, _ = cal.apply(1080, np.array([29.0]), np.array([70.0]), np.array([500.0]))
    assert v1080[0] == pytest.approx(73.0)


def test_calibration_slope_is_not_extrapolated() -> None:
    probes = [ProbeResult(720, crf, 80.0, 80.0 - 0.5 * (crf - 29), 1e3, 1e3) for crf in (24, 34)]
    vmaf, _ = fit_calibration(probes).apply(
        720, np.array([14.0, 24.0, 34.0, 46.0]), np.full(4, 80.0), np.full(4, 1e3)
    )
    assert vmaf == pytest.approx([82.5, 82.5, 77.5, 77.5])


def test_calibration_moves_along_the_curve() -> None:
    # the model's curve bends (flat near the top, steep at high CRFs); the title's measured
    # curve is the same one 2 CRF later, probed at 24 and 34
    crf = np.arange(16.0, 47.0)

    def curve(c: np.ndarray) -> np.ndarray:
        return 100 - 0.05 * (c - 10) ** 2

    def at(q: float) -> float:
        return float(curve(np.array([q]))[0])

    cal = fit_calibration([ProbeResult(720, q, at(q), at(q + 2), 1e3, 1e3) for q in (24, 34)])
    rate = np.full(len(crf), 1e3)
    vmaf, _ = cal.apply(720, crf, curve(crf), rate)
    vertical, _ = fit_calibration(
        [ProbeResult(720, q, at(q), at(q + 2), 1e3, 1e3) for q in (24, 34)], along_curve=False
    ).apply(720, crf, curve(crf), rate)
    assert vertical[crf == 44][0] == pytest.approx(at(44) + at(36) - at(34))  # the error held
    # (past CRF 44 the curve is read beyond its end, along its last segment)
    assert vmaf[:-2] == pytest.approx(curve(crf + 2)[:-2], abs=0.05)  # vertical: 2.0 off at 44
    # three probed CRFs, one of them past the end of a shorter grid; CRFs in any order
    three = fit_calibration([ProbeResult(720, q, at(q), at(q + 2), 1e3, 1e3) for q in (24, 34, 43)])
    short = crf[crf <= 40]
    v3, _ = three.apply(720, short, curve(short), np.full(len(short), 1e3))
    assert v3[short <= 34] == pytest.approx(curve(short + 2)[short <= 34], abs=0.05)
    assert v3 == pytest.approx(curve(short + 2), abs=0.5)  # read past 40 along its last segment
    backwards, _ = three.apply(720, short[::-1], curve(short)[::-1], np.full(len(short), 1e3))
    assert backwards == pytest.approx(v3[::-1])
    # one CRF, or a curve too flat to move along: the error is added as it is
    single, _ = cal.apply(720, np.array([29.0]), np.array([80.0]), np.array([1e3]))
    assert single[0] == pytest.approx(80.0 - 0.05 * ((31 - 10) ** 2 - (29 - 10) ** 2), abs=0.01)
    flat, _ = cal.apply(720, crf, np.full(len(crf), 80.0), rate)
    assert flat[0] == pytest.approx(80.0 - 0.05 * ((26 - 10) ** 2 - (24 - 10) ** 2))


def test_calibration_slope_is_bounded() -> None:
    probes = [ProbeResult(720, 24, 80, 60, 1e3, 1e3), ProbeResult(720, 25, 80, 100, 1e3, 1e3)]
    assert abs(fit_calibration(probes).by_height[720].b_vmaf) <= 1.5


def test_encode_cost_and_ladder_costs() -> None:
    cpu = encode_cpu_s(codec_facts("x265"), "veryfast", width=1280, height=720, frames=270)
    assert cpu == pytest.approx(270 / 27 * 2)  # 27 fps wall on 2 cores at 720p
    assert encode_cpu_s(codec_facts("x265"), "faster", width=1280, height=720, frames=27) > 0
    assert encode_cpu_s(codec_facts("nvenc_hevc"), "p4", width=1920, height=1080, frames=100) == 0.0
    model = CostModel(
        cpu_hour_usd=3.6,
        storage_gb_month_usd=1.0,
        storage_months=1,
        egress_gb_usd=1.0,
        expected_view_hours=1.0,
        view_share=(0.25, 0.75),
    )
    costs = ladder_costs(
        [RungSpend("cpu", 800.0, 100.0, 100), RungSpend("cpu", 8000.0, 1000.0, 100)],
        duration_s=10.0,
        model=model,
    )
    assert costs[0].encode_usd == pytest.approx(0.1)
    assert costs[0].size_gb == pytest.approx(800 * 10 / 8 / 1e6)
    assert costs[1].delivered_gb == pytest.approx(8000 * 3600 * 0.75 / 8 / 1e6)
    assert costs[1].total_usd == pytest.approx(1.0 + 0.01 + 2.7)
    with pytest.raises(UsageError):
        ladder_costs(
            [RungSpend("cpu", 1.0, 1.0, 1)], duration_s=1, model=CostModel(view_share=(0.5,))
        )


@pytest.mark.parametrize(
    ("codec", "size", "expected"),
    [
        ("x265", (1920, 1080), "hvc1.1.6.L120.90"),
        ("x265", (1280, 720), "hvc1.1.6.L93.90"),
        ("x264", (1920, 1080), "avc1.640028"),
        ("svtav1", (1280, 720), "av01.0.08M.08"),
    ],
)
def test_codecs_string(codec: str, size: tuple[int, int], expected: str) -> None:
    assert codecs_string(codec, *size, fps=25) == expected


def test_master_playlist_round_trips() -> None:
    rungs = tuple(
        Rung(EncodeSettings(codec="x265", width=w, height=h, q=26, preset="fast"), kbps, vmaf)
        for w, h, kbps, vmaf in (
            (640, 360, 400.0, 70.0),
            (1280, 720, 1500.0, 85.0),
            (1920, 1080, 4000.0, 94.0),
        )
    )
    text = master_playlist(Ladder("t", None, rungs), fps=25)
    parsed = m3u8.loads(text)
    assert parsed.is_variant and len(parsed.playlists) == 3
    first = parsed.playlists[0].stream_info
    assert first.average_bandwidth == 400000 and first.bandwidth == math.ceil(400000 * 1.5)
    assert first.resolution == (640, 360)
    assert parsed.playlists[2].uri == "1080p_4000k/index.m3u8"
