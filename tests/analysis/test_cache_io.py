"""The parquet form of profiles and the analysis cache."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from ladderforge.analysis import ContentProfile, analyze, read_profiles, write_profiles
from ladderforge.analysis.cache import default_cache_dir
from ladderforge.errors import UsageError


def _same_title(a: ContentProfile, b: ContentProfile) -> None:
    assert a.title.keys() == b.title.keys()
    for k, v in a.title.items():
        w = b.title[k]
        assert (isinstance(v, float) and math.isnan(v) and math.isnan(w)) or v == w, k  # type: ignore[arg-type]


def test_parquet_round_trip(bikes_mp4: Path, testsrc_mp4: Path, tmp_path: Path) -> None:
    bikes = analyze(bikes_mp4, cache_dir=False)
    back = ContentProfile.from_parquet(bikes.to_parquet(tmp_path / "bikes.parquet"))
    assert_frame_equal(back.frames, bikes.frames)
    assert back.scenes == bikes.scenes and back.params == bikes.params
    assert back.source == bikes.source and back.version == bikes.version
    _same_title(back, bikes)
    testsrc = analyze(testsrc_mp4, cache_dir=False)
    both = read_profiles(write_profiles([bikes, testsrc], tmp_path / "both.parquet"))
    assert [p.source.title for p in both] == ["bikes", "testsrc"]
    assert_frame_equal(both[1].frames, testsrc.frames)
    with pytest.raises(UsageError, match="2 profiles"):
        ContentProfile.from_parquet(tmp_path / "both.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"PAR1 nonsense")
    with pytest.raises(UsageError, match="not a ladderforge features file"):
        read_profiles(tmp_path / "junk.parquet")


def test_second_analysis_reads_the_cache(testsrc_mp4: Path, tmp_path: Path) -> None:
    first = analyze(testsrc_mp4, cache_dir=tmp_path)
    files = list(tmp_path.glob("*.parquet"))
    assert not first.from_cache and len(files) == 1
    calls: list[tuple[int, int]] = []
    second = analyze(testsrc_mp4, cache_dir=tmp_path, on_progress=lambda d, n: calls.append((d, n)))
    assert second.from_cache and calls == [(20, 20)]
    assert_frame_equal(second.frames, first.frames)
    assert second.source.path == testsrc_mp4
    analyze(testsrc_mp4, cache_dir=tmp_path, stride=2)  # other parameters: another entry
    assert len(list(tmp_path.glob("*.parquet"))) == 2
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary file left behind


def test_damaged_cache_file_is_ignored_and_rewritten(testsrc_mp4: Path, tmp_path: Path) -> None:
    analyze(testsrc_mp4, cache_dir=tmp_path)
    (entry,) = tmp_path.glob("*.parquet")
    entry.write_bytes(entry.read_bytes()[:100])
    again = analyze(testsrc_mp4, cache_dir=tmp_path)
    assert not again.from_cache
    assert analyze(testsrc_mp4, cache_dir=tmp_path).from_cache


def test_cache_can_be_off_and_defaults_under_the_cache_dir(testsrc_mp4: Path) -> None:
    folder = default_cache_dir()
    before = set(folder.glob("*")) if folder.exists() else set()
    analyze(testsrc_mp4, cache_dir=False)
    after = set(folder.glob("*")) if folder.exists() else set()
    assert after == before
    assert analyze(testsrc_mp4).from_cache is False
    assert analyze(testsrc_mp4).from_cache is True
    assert folder.name == "analysis" and any(folder.glob("*.parquet"))
