"""Per-frame kernels on synthetic pictures: SI, TI, letterbox, noise, colour, screen content."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ladderforge.analysis.features import (
    FrameFeatures,
    active_area,
    colorfulness,
    downscale,
    grid_size,
    motion_from_vectors,
    noise_sigma,
)
from ladderforge.analysis.schema import DEFAULT_ANALYSIS_PIXELS

RNG = np.random.default_rng(7)


def _natural(h: int = 360, w: int = 640) -> np.ndarray:
    """Smooth random texture, like camera footage."""
    base = cv2.resize(
        RNG.random((h // 8, w // 8), dtype=np.float32), (w, h), interpolation=cv2.INTER_CUBIC
    )
    return np.clip(40 + base * 170 + RNG.normal(0, 2, (h, w)), 0, 255).astype(np.uint8)


def _slide(h: int = 360, w: int = 640) -> np.ndarray:
    """A flat slide with black text: screen content."""
    img = np.full((h, w), 235, np.uint8)
    for row in range(6):
        cv2.putText(
            img,
            "Quarterly results 2026: +12%",
            (20, 50 + row * 50),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.9,
            16,
            2,
            cv2.LINE_8,
        )
    return img


def _features(w: int = 640, h: int = 360) -> FrameFeatures:
    return FrameFeatures(width=w, height=h, max_pixels=DEFAULT_ANALYSIS_PIXELS, black=16.0)


def test_si_of_flat_frame_is_below_si_of_detailed_frame() -> None:
    flat = np.full((360, 640), 128, np.uint8)
    assert _features().compute(flat, None, None)["si"] < 1e-6
    assert _features().compute(_natural(), None, None)["si"] > 5.0


def test_ti_of_repeated_frame_is_zero_and_flags_still() -> None:
    ff, frame = _features(), _natural()
    first = ff.compute(frame, None, None)
    again = ff.compute(frame.copy(), None, None)
    assert first["ti"] == 0.0 and not first["still"]
    assert again["ti"] == pytest.approx(0.0, abs=1e-6)
    assert again["texture_h"] == pytest.approx(0.0, abs=1e-6)
    assert again["still"]
    moved = ff.compute(np.roll(frame, 9, axis=1), None, None)
    assert moved["ti"] > 1.0 and not moved["still"]
    assert moved["motion_flow"] > 2.0  # 9 px shift at source resolution


@pytest.mark.parametrize(
    ("top", "bottom", "left", "right"),
    [(0, 0, 0, 0), (45, 45, 0, 0), (0, 0, 77, 80), (13, 28, 5, 3), (1, 0, 0, 1)],
)
def test_active_area_is_found_to_the_pixel(top: int, bottom: int, left: int, right: int) -> None:
    h, w = 720, 1280
    luma = np.full((h, w), 16, np.uint8)
    luma[top : h - bottom, left : w - right] = _natural(h - top - bottom, w - left - right)
    grid = downscale(luma, grid_size(w, h, DEFAULT_ANALYSIS_PIXELS))
    area = active_area(luma, 16.0, grid)
    assert area is not None
    assert (area.x, area.y, area.w, area.h) == (left, top, w - left - right, h - top - bottom)


def test_active_area_of_black_frame_is_unknown() -> None:
    assert active_area(np.full((90, 160), 16, np.uint8), 16.0) is None


def test_noise_estimate_tracks_added_noise() -> None:
    clean = np.full((360, 640), 120, np.float32)
    for sigma in (2.0, 5.0, 10.0):
        noisy = np.clip(clean + RNG.normal(0, sigma, clean.shape), 0, 255).astype(np.uint8)
        assert noise_sigma(noisy) == pytest.approx(sigma, rel=0.2)
    assert noise_sigma(clean.astype(np.uint8)) == 0.0


def test_colorfulness_is_zero_for_grey_and_grows_with_chroma() -> None:
    grey = np.full((72, 128), 128, np.uint8)
    assert colorfulness(grey, grey) == 0.0
    cb = RNG.integers(60, 200, (72, 128), dtype=np.uint8)
    assert colorfulness(cb, 255 - cb) > 30.0


def test_screen_score_separates_slides_from_camera_footage() -> None:
    assert _features().compute(_slide(), None, None)["screen_score"] > 0.5
    assert _features().compute(_natural(), None, None)["screen_score"] < 0.05


def test_motion_from_vectors_weights_by_block_area() -> None:
    dtype = np.dtype(
        {
            "names": [
                "source",
                "w",
                "h",
                "src_x",
                "src_y",
                "dst_x",
                "dst_y",
                "flags",
                "motion_x",
                "motion_y",
                "motion_scale",
            ],
            "formats": ["<i4", "u1", "u1", "<i2", "<i2", "<i2", "<i2", "<u8", "<i4", "<i4", "<u2"],
            "offsets": [0, 4, 5, 6, 8, 10, 12, 16, 24, 28, 32],
            "itemsize": 40,
        }
    )
    mvs = np.zeros(2, dtype)
    mvs["w"], mvs["h"], mvs["motion_scale"] = (16, 8), (16, 8), 4
    mvs["motion_x"], mvs["motion_y"] = (12, 0), (16, 8)  # lengths 5 px and 2 px
    assert motion_from_vectors(mvs) == pytest.approx((5 * 256 + 2 * 64) / 320)
    assert motion_from_vectors(mvs[:0]) is None


@pytest.mark.parametrize(
    ("size", "grid"),
    [
        ((1920, 1080), (480, 270)),
        ((1280, 720), (480, 270)),
        ((3840, 2160), (480, 270)),
        ((320, 240), (320, 240)),
        ((1200, 1200), (360, 360)),
    ],
)
def test_grid_holds_at_most_the_pixel_budget(size: tuple[int, int], grid: tuple[int, int]) -> None:
    assert grid_size(*size, DEFAULT_ANALYSIS_PIXELS) == grid
    img = np.zeros(size[::-1], np.uint8)
    assert downscale(img, grid).shape == grid[::-1]
