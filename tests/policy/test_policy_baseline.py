"""Apple's HLS HEVC fixed ladder fitted to sources of several sizes (METRICS.md)."""

from __future__ import annotations

import pytest

from ladderforge.errors import UsageError
from ladderforge.policy import (
    APPLE_H264_ROWS,
    APPLE_HEVC_ROWS,
    FixedRung,
    apple_h264_ladder,
    apple_hevc_ladder,
    apple_ladder,
)

KBPS = [145, 300, 600, 900, 1600, 2400, 3400, 4500, 5800, 8100, 11600, 16800]


def _sizes(rungs: list[FixedRung]) -> list[tuple[int, int]]:
    return [(r.width, r.height) for r in rungs]


def test_table_is_apples_hevc_rows() -> None:
    assert [r.bitrate_kbps for r in APPLE_HEVC_ROWS] == KBPS
    assert all(r.width * 9 == r.height * 16 for r in APPLE_HEVC_ROWS)


H264_KBPS = [145, 365, 730, 1100, 2000, 3000, 4500, 6000, 7800]


def test_h264_rows_and_which_family_gets_which() -> None:
    """The spec's H.264/AVC table for H.264 encoders: at every size it asks for more bits than
    the HEVC rows (the codec is older); HEVC and AV1 get the HEVC rows."""
    assert [r.bitrate_kbps for r in APPLE_H264_ROWS] == H264_KBPS
    assert _sizes(apple_h264_ladder(1920, 1080)) == [
        (416, 234), (640, 360), (768, 432), (768, 432), (960, 540), (1280, 720), (1280, 720),
        (1920, 1080), (1920, 1080),
    ]  # fmt: skip
    assert apple_ladder("h264", 1280, 720) == apple_h264_ladder(1280, 720)
    assert apple_ladder("hevc", 1280, 720) == apple_hevc_ladder(1280, 720)
    assert apple_ladder("av1", 1280, 720) == apple_hevc_ladder(1280, 720)
    # a 270-line source: H.264's 234-line row fits, HEVC's lowest (360) does not
    assert _sizes(apple_h264_ladder(480, 270)) == [(416, 234)]
    assert [r.bitrate_kbps for r in apple_h264_ladder(176, 144)] == [145, 365, 730]
    assert _sizes(apple_h264_ladder(176, 144)) == [(176, 144)] * 3
    with pytest.raises(UsageError, match="apple_h264_ladder"):
        apple_h264_ladder(0, 144)


@pytest.mark.parametrize(
    ("width", "height", "n_rungs", "top"),
    [
        (3840, 2160, 12, (3840, 2160)),
        (2560, 1440, 10, (2560, 1440)),
        (1920, 1080, 9, (1920, 1080)),
        (1280, 720, 7, (1280, 720)),
        (960, 540, 5, (960, 540)),
        (640, 360, 1, (640, 360)),
        (1920, 800, 7, (1728, 720)),  # 2.4:1 scope: up to 720p rows, widths from the aspect
    ],
)
def test_rungs_above_the_source_are_dropped(
    width: int, height: int, n_rungs: int, top: tuple[int, int]
) -> None:
    rungs = apple_hevc_ladder(width, height)
    assert [r.bitrate_kbps for r in rungs] == KBPS[:n_rungs]
    assert _sizes(rungs)[-1] == top
    assert all(r.height <= height for r in rungs)


def test_1080p_source_gets_the_table_rows() -> None:
    rungs = apple_hevc_ladder(1920, 1080)
    assert rungs == list(APPLE_HEVC_ROWS[:9])


def test_720p_source() -> None:
    assert _sizes(apple_hevc_ladder(1280, 720)) == [
        (640, 360), (768, 432), (960, 540), (960, 540), (960, 540), (1280, 720), (1280, 720),
    ]  # fmt: skip


@pytest.mark.parametrize(("width", "height"), [(352, 288), (384, 288), (176, 144), (320, 240)])
def test_source_below_360p_keeps_three_lowest_rungs_at_its_own_size(
    width: int, height: int
) -> None:
    rungs = apple_hevc_ladder(width, height)
    assert rungs == [FixedRung(width, height, kbps) for kbps in (145, 300, 600)]


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (1440, 1080, [(480, 360), (576, 432), (720, 540), (960, 720), (1440, 1080)]),  # 4:3
        (1918, 1078, [(640, 360), (768, 432), (960, 540), (1282, 720)]),  # 1281.04 -> 1282
        (1920, 1088, [(636, 360), (762, 432), (952, 540), (1270, 720), (1906, 1080)]),
        (1080, 1920, [(360, 640), (432, 768), (540, 960), (720, 1280), (1080, 1920)]),  # portrait
        (1000, 1000, [(360, 360), (432, 432), (540, 540), (720, 720)]),  # square
    ],
)
def test_odd_sizes_keep_the_source_aspect_with_even_dimensions(
    width: int, height: int, expected: list[tuple[int, int]]
) -> None:
    sizes = list(dict.fromkeys(_sizes(apple_hevc_ladder(width, height))))
    assert sizes == expected
    assert all(w % 2 == 0 and h % 2 == 0 for w, h in sizes)


def test_odd_source_below_360p_is_rounded_down_to_even() -> None:
    assert _sizes(apple_hevc_ladder(321, 241)) == [(320, 240)] * 3


@pytest.mark.parametrize(("width", "height"), [(0, 1080), (1920, -2), (1920.0, 1080), (True, 2)])
def test_bad_sizes_are_refused(width: object, height: object) -> None:
    with pytest.raises(UsageError, match="must be an integer >= 2"):
        apple_hevc_ladder(width, height)  # type: ignore[arg-type]
