"""Chunked encoding on real multi-scene media: chunk planning, frame-exact chunk sources,
IDR keyframes aligned across rungs, chunk-level resume, retries, joins that must match."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import av
import numpy as np
import pytest

import ladderforge.encoder.chunks as chunks_mod
from ladderforge.analysis import analyze
from ladderforge.encoder import (
    Chunk,
    check_rendition,
    encode_chunked,
    get_encoder,
    keyframes,
    plan_chunks,
)
from ladderforge.encoder.chunks import join_chunks, split_source
from ladderforge.encoder.verify import hevc_tag
from ladderforge.errors import EncodeError, UsageError
from ladderforge.media import probe
from ladderforge.types import EncodeSettings


def _covers(chunks: list[Chunk], frames: int) -> bool:
    return (
        chunks[0].start == 0
        and chunks[-1].end == frames
        and all(a.end == b.start for a, b in itertools.pairwise(chunks))
    )


def test_plan_chunks_merges_short_scenes_into_the_shorter_neighbour() -> None:
    # scenes of 30, 46, 61, 50, 55, 8 frames at 25 fps; min 1 s = 25 frames
    chunks = plan_chunks([30, 76, 137, 187, 242], 250, 25.0, min_chunk_s=1.0, max_chunk_s=6.0)
    assert [c.start for c in chunks] == [0, 30, 76, 137, 187]
    assert _covers(chunks, 250)
    # a 10-frame scene between a 40- and a 100-frame scene joins the 40-frame one
    chunks = plan_chunks([40, 50], 150, 25.0, min_chunk_s=1.0, max_chunk_s=None)
    assert [(c.start, c.end) for c in chunks] == [(0, 50), (50, 150)]


def test_plan_chunks_without_cuts_uses_the_duration_grid() -> None:
    chunks = plan_chunks([], 1000, 25.0, min_chunk_s=1.0, max_chunk_s=6.0)
    assert _covers(chunks, 1000)
    assert all(c.frames <= 150 for c in chunks) and len(chunks) == 7
    assert max(c.frames for c in chunks) - min(c.frames for c in chunks) <= 1
    # a long scene after a cut is split the same way; the cut stays a boundary
    chunks = plan_chunks([100], 500, 25.0, max_chunk_s=6.0)
    assert 100 in [c.start for c in chunks] and all(c.frames <= 150 for c in chunks)


def test_plan_chunks_rejects_nonsense() -> None:
    with pytest.raises(UsageError, match="frame_count"):
        plan_chunks([], 0, 25.0)
    with pytest.raises(UsageError, match="max_chunk_s"):
        plan_chunks([], 100, 25.0, min_chunk_s=2.0, max_chunk_s=3.0)
    assert plan_chunks([5], 10, 25.0) == [Chunk(0, 10)]  # one short title: one chunk


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="yuv420p") for f in c.decode(video=0)]


def test_chunk_sources_are_frame_exact(bikes_mp4: Path, tmp_path: Path) -> None:
    info = probe(bikes_mp4)
    chunks = [Chunk(0, 30), Chunk(30, 76), Chunk(76, 250)]
    paths = split_source(info, chunks, tmp_path)
    source = _frames(bikes_mp4)
    got = [f for p in paths for f in _frames(p)]
    assert len(got) == len(source) == 250
    for i, (a, b) in enumerate(zip(source, got, strict=True)):
        assert np.array_equal(a, b), f"frame {i} differs"


@pytest.fixture(scope="module")
def bikes_chunks(bikes_mp4: Path) -> list[Chunk]:
    info = probe(bikes_mp4)
    cuts = [s.start_frame for s in analyze(bikes_mp4).scenes]
    assert len(cuts) >= 4, "bikes.mp4 is a multi-scene clip"
    return plan_chunks(cuts, info.frame_count, float(info.frame_rate), min_chunk_s=1.0)


def test_rungs_share_idr_keyframes_and_no_frame_is_lost(
    bikes_mp4: Path, bikes_chunks: list[Chunk], tmp_path: Path
) -> None:
    info = probe(bikes_mp4)
    starts = [c.start for c in bikes_chunks]
    assert len(starts) >= 4
    rungs = []
    for height, base in ((272, 28), (136, 34)):
        w = 640 if height == 272 else 320
        settings = [
            EncodeSettings(codec="x265", width=w, height=height, q=base + i % 3, preset="ultrafast")
            for i in range(len(bikes_chunks))
        ]
        rungs.append(
            encode_chunked(
                info,
                bikes_chunks,
                settings,
                tmp_path / f"{height}.mp4",
                work=tmp_path / "w",
                workers=2,
            )
        )
    for r in rungs:
        assert r.frames == 250 and probe(r.output_path).frame_count == 250
        assert check_rendition(r.output_path, frame_count=250, keyframes_at=starts) == []
        found = keyframes(r.output_path)
        assert [k.index for k in found] == starts and all(k.idr for k in found)
        with av.open(str(r.output_path)) as c:
            pts = [p.pts for p in c.demux(video=0) if p.size]
        steps = np.diff(sorted(pts))
        assert len(set(steps.tolist())) == 1, "timestamps are evenly spaced"
        assert len(r.results) == len(bikes_chunks)
    # per-chunk CRFs took effect: chunk bitrates are not all from one CRF
    qs = {res.settings.q for res in rungs[0].results}
    assert len(qs) == 3
    # the chunks share their parameter sets, so the join is tagged hvc1 (Apple's HLS)
    assert all(hevc_tag(r.output_path) == ["-tag:v", "hvc1"] for r in rungs)


def test_chunk_level_resume(bikes_mp4: Path, tmp_path: Path) -> None:
    info = probe(bikes_mp4)
    chunks = [Chunk(0, 30), Chunk(30, 76), Chunk(76, 250)]
    s = EncodeSettings(codec="x264", width=320, height=136, q=30, preset="ultrafast")
    first = encode_chunked(info, chunks, s, tmp_path / "a.mp4", work=tmp_path / "w")
    assert first.encoded_now == 3
    # a killed run: one chunk never finished, the join never happened
    (first.results[1].output_path).unlink()
    (tmp_path / "a.mp4").unlink()
    again = encode_chunked(info, chunks, s, tmp_path / "a.mp4", work=tmp_path / "w")
    assert again.encoded_now == 1
    assert again.size_bytes == first.size_bytes
    assert check_rendition(again.output_path, frame_count=250, keyframes_at=[0, 30, 76]) == []


def test_resume_survives_a_moved_folder_but_not_a_replaced_source(
    bikes_mp4: Path, tmp_path: Path, make_clip
) -> None:
    src = tmp_path / "title.mp4"
    shutil.copyfile(bikes_mp4, src)
    chunks = [Chunk(0, 100), Chunk(100, 250)]
    s = EncodeSettings(codec="x264", width=320, height=136, q=30, preset="ultrafast")
    first = encode_chunked(probe(src), chunks, s, tmp_path / "a.mp4", work=tmp_path / "w")
    assert first.encoded_now == 2
    shutil.move(tmp_path / "w", tmp_path / "moved")
    again = encode_chunked(probe(src), chunks, s, tmp_path / "b.mp4", work=tmp_path / "moved")
    assert again.encoded_now == 0 and again.size_bytes == first.size_bytes
    # the same name and frame count, other pictures: nothing may be reused
    make_clip(src, size="640x272", frames=250)
    other = encode_chunked(probe(src), chunks, s, tmp_path / "c.mp4", work=tmp_path / "moved")
    assert other.encoded_now == 2 and other.size_bytes != first.size_bytes


def test_a_failing_chunk_is_retried_once_then_named(
    bikes_mp4: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = probe(bikes_mp4)
    chunks = [Chunk(0, 100), Chunk(100, 250)]
    s = EncodeSettings(codec="x264", width=320, height=136, q=30, preset="ultrafast")
    real, calls = chunks_mod.encode, []

    def flaky(src, settings, out, **kw):  # type: ignore[no-untyped-def]
        calls.append(Path(src).name)
        if Path(src).name.startswith("0000100") and calls.count(Path(src).name) == 1:
            raise EncodeError("x264 encode failed: simulated crash")
        return real(src, settings, out, **kw)

    monkeypatch.setattr(chunks_mod, "encode", flaky)
    done = encode_chunked(info, chunks, s, tmp_path / "ok.mp4", work=tmp_path / "w")
    assert done.frames == 250 and calls.count("0000100-0000250.mkv") == 2

    def broken(src, settings, out, **kw):  # type: ignore[no-untyped-def]
        raise EncodeError("x264 encode failed: simulated crash")

    monkeypatch.setattr(chunks_mod, "encode", broken)
    with pytest.raises(EncodeError, match=r"chunk frames 0-99 .* failed 2 times"):
        encode_chunked(info, chunks, s.with_(q=31), tmp_path / "bad.mp4", work=tmp_path / "w")
    assert not (tmp_path / "bad.mp4").exists()


def test_a_join_short_of_frames_is_an_error(bikes_mp4: Path, tmp_path: Path) -> None:
    info = probe(bikes_mp4)
    chunks = [Chunk(0, 100), Chunk(100, 250)]
    s = EncodeSettings(codec="x264", width=320, height=136, q=30, preset="ultrafast")
    done = encode_chunked(info, chunks, s, tmp_path / "ok.mp4", work=tmp_path / "w")
    with pytest.raises(EncodeError, match="100 frames where 250 were expected"):
        join_chunks(
            [done.results[0].output_path],
            tmp_path / "short.mp4",
            codec="x264",
            source=info,
            keyframes_at=[0, 100],
        )
    assert not (tmp_path / "short.mp4").exists()
    assert not list(tmp_path.glob(".short*"))


@pytest.mark.parametrize(
    ("codec", "expected"),
    [
        ("x265", "scenecut=0"),
        ("x264", "-sc_threshold"),
        ("svtav1", "scd=0"),
        ("nvenc_hevc", "-no-scenecut"),
    ],
)
def test_fixed_gop_turns_scene_cut_keyframes_off(codec: str, expected: str, tmp_path: Path) -> None:
    rc = "cq" if codec.startswith("nvenc") else "crf"
    preset = {"svtav1": "10", "nvenc_hevc": "p4"}.get(codec, "fast")
    s = EncodeSettings(codec=codec, width=320, height=240, rate_control=rc, q=30, preset=preset)
    backend = get_encoder(codec)
    plain = backend.video_args(s, pass_no=0, passlog=tmp_path / "p")
    fixed = backend.video_args(s.with_(fixed_gop=True, gop=50), pass_no=0, passlog=tmp_path / "p")
    assert not any(expected in a for a in plain)
    assert any(expected in a for a in fixed)


def test_chunk_sources_keep_ten_bit_depth(tmp_path: Path, make_clip) -> None:
    clip = make_clip(
        tmp_path / "ten.mkv",
        frames=20,
        pix_fmt="yuv420p10le",
        codec="libx265",
        extra=["-x265-params", "log-level=error"],
    )
    info = probe(clip)
    assert info.bit_depth == 10
    paths = split_source(info, [Chunk(0, 8), Chunk(8, 20)], tmp_path / "src")
    assert [probe(p).bit_depth for p in paths] == [10, 10]
    assert [probe(p).frame_count for p in paths] == [8, 12]
