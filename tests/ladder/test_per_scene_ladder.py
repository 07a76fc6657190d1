"""The per-scene ladder on a real multi-scene clip: chunked rungs with a CRF per chunk, HLS
packaging, and ``ladderforge verify`` catching what a broken output folder gets wrong."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import m3u8
import pytest

from ladderforge.encoder.hls import package_hls, read_media_playlist
from ladderforge.errors import UsageError
from ladderforge.jobs.config import LadderConfig
from ladderforge.jobs.title import plan_title
from ladderforge.jobs.verify import verify_output

CONFIG = LadderConfig(
    mode="predict", heights=(272, 136), max_rungs=2, encode=True, per_scene=True, workers=2
)


@pytest.fixture(scope="module")
def per_scene_out(bikes_mp4: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("per_scene")
    plan_title(bikes_mp4, out, config=CONFIG)
    return out


def _fresh(per_scene_out: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "out"
    shutil.copytree(per_scene_out, copy)
    return copy


def test_per_scene_rungs_are_chunked_with_their_own_crfs(per_scene_out: Path) -> None:
    data = json.loads((per_scene_out / "bikes" / "bikes.ladder.json").read_text())
    assert len(data["rungs"]) == 2
    starts = None
    for rung in data["rungs"]:
        chunks = rung["chunks"]
        assert len(chunks) >= 4, "bikes has 5 scenes of >= 1 s"
        assert chunks[0]["start"] == 0 and chunks[-1]["end"] == 250
        assert all(a["end"] == b["start"] for a, b in itertools.pairwise(chunks))
        assert all(c["kbps"] > 0 and 0 < c["vmaf"] <= 100 for c in chunks)
        starts = starts or [c["start"] for c in chunks]
        assert [c["start"] for c in chunks] == starts, "every rung has the same chunks"
    assert any(len({c["q"] for c in r["chunks"]}) > 1 for r in data["rungs"]), (
        "the allocation gave no chunk a CRF of its own"
    )
    master = m3u8.load(str(per_scene_out / "bikes" / "master.m3u8"))
    assert len(master.playlists) == 2
    for variant in master.playlists:
        media = read_media_playlist(per_scene_out / "bikes" / variant.uri)
        assert media.segments == len(starts)
        assert variant.stream_info.bandwidth == pytest.approx(media.peak_bps, abs=1)


def test_verify_passes_a_good_output(per_scene_out: Path) -> None:
    checks = verify_output(per_scene_out)
    assert checks and all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert {c.what for c in checks} == {
        "schema",
        "frames",
        "keyframes",
        "playlist",
        "dash",
        "picture",
        "vmaf",
    }


def test_verify_catches_a_missing_segment(per_scene_out: Path, tmp_path: Path) -> None:
    out = _fresh(per_scene_out, tmp_path)
    next((out / "bikes").glob("*/seg_00002.m4s")).unlink()
    bad = {c.what: c for c in verify_output(out, vmaf=False) if not c.ok}
    # the rendition is read through its playlist, as a player reads it: frames are short too
    assert {"playlist", "frames"} <= set(bad) and "seg_00002" in bad["playlist"].detail


def test_verify_catches_misaligned_keyframes(
    per_scene_out: Path, tmp_path: Path, bikes_mp4: Path
) -> None:
    out = _fresh(per_scene_out, tmp_path)
    ladder = json.loads((out / "bikes" / "bikes.ladder.json").read_text())
    low = out / "bikes" / ladder["rungs"][0]["name"]
    assert (low / "index.m3u8").exists()
    # the same frames, encoded as one piece: x265 places its own keyframes
    from ladderforge.encoder import encode
    from ladderforge.types import EncodeSettings

    s = EncodeSettings(codec="x265", width=320, height=136, q=35, preset="ultrafast", gop=40)
    encode(bikes_mp4, s, tmp_path / "one_piece.mp4")
    package_hls(tmp_path / "one_piece.mp4", low, codec="x265")
    bad = {(c.rung, c.what) for c in verify_output(out, vmaf=False) if not c.ok}
    assert ("", "keyframes") in bad and (low.name, "keyframes") in bad


def test_verify_catches_a_vmaf_that_does_not_match(per_scene_out: Path, tmp_path: Path) -> None:
    out = _fresh(per_scene_out, tmp_path)
    path = out / "bikes" / "bikes.ladder.json"
    ladder = json.loads(path.read_text())
    ladder["rungs"][1]["measured"]["vmaf"] += 3.0
    path.write_text(json.dumps(ladder))
    bad = [c for c in verify_output(out) if not c.ok]
    assert [c.what for c in bad] == ["vmaf"]


def test_verify_catches_a_schema_violation(per_scene_out: Path, tmp_path: Path) -> None:
    out = _fresh(per_scene_out, tmp_path)
    path = out / "bikes" / "bikes.ladder.json"
    ladder = json.loads(path.read_text())
    ladder["rungs"][0]["predicted"]["kbps"] = "fast"  # a string where a number belongs
    ladder["rungs"][0]["cost"]["predicted_chunk_kbps"] = 1.0  # not a cost
    path.write_text(json.dumps(ladder))
    (path.parent / ".corrupted-on-purpose").touch()  # the session's schema check skips it
    bad = [c for c in verify_output(out, vmaf=False) if not c.ok]
    assert [c.what for c in bad] == ["schema"]
    assert "predicted.kbps" in bad[0].detail and "predicted_chunk_kbps" in bad[0].detail


def test_verify_cli(per_scene_out: Path, tmp_path: Path, run_cli) -> None:
    good = run_cli("verify", str(per_scene_out), "--no-vmaf")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "checks passed" in good.stdout
    out = _fresh(per_scene_out, tmp_path)
    (out / "bikes" / "master.m3u8").unlink()
    bad = run_cli("verify", str(out), "--no-vmaf")
    assert bad.returncode == 1 and "FAILED" in bad.stdout
    empty = run_cli("verify", str(tmp_path / "nothing"))
    assert empty.returncode != 0 and "Traceback" not in empty.stderr
    assert "is not a folder" in empty.stderr


def test_mpegts_segments(per_scene_out: Path, tmp_path: Path) -> None:
    rendition = next((per_scene_out / "bikes").glob("*/index.m3u8"))  # repackaged from HLS
    media = package_hls(rendition, tmp_path / "ts", codec="x265", segment_type="mpegts")
    assert media.segments >= 4 and list((tmp_path / "ts").glob("*.ts"))
    assert sum(media.durations_s) == pytest.approx(10.0, abs=0.05)


def test_per_scene_needs_encoding() -> None:
    with pytest.raises(UsageError, match="per-scene"):
        LadderConfig(per_scene=True)
    with pytest.raises(UsageError, match="segment_type"):
        LadderConfig(segment_type="dash")


@pytest.mark.slow  # 2 min: every chunk at every sweep CRF (the default run stays under CI's limit)
def test_exhaustive_per_scene_allocates_on_measured_chunk_curves(
    bikes_mp4: Path, tmp_path: Path
) -> None:
    """The Dynamic Optimizer proper: every chunk measured at every CRF at the rung's size; the
    rung holds the mean VMAF of its single CRF for no more bits, and its chunks are reused."""
    config = LadderConfig(
        mode="exhaustive",
        heights=(272,),
        sweep_crfs=(24, 28, 32, 36, 40),
        max_rungs=2,
        encode=True,
        per_scene=True,
        workers=2,
        keep_work=True,
    )
    plan = plan_title(bikes_mp4, tmp_path, config=config)
    assert plan.ladder.rungs
    curves = {p.name for p in (tmp_path / ".work" / "bikes" / "chunks").rglob("*.mp4")}
    for rung in plan.ladder.rungs:
        assert {c.q for c in rung.chunks} <= {24.0, 28.0, 32.0, 36.0, 40.0}
        # measured chunk tables: what the allocation expected is what the rendition measures
        for c in rung.chunks:
            assert c.predicted_kbps == pytest.approx(c.kbps, rel=1e-6)
            assert c.predicted_vmaf == pytest.approx(c.vmaf, abs=0.05)
        n = [c.frames for c in rung.chunks]

        def mean(key: str, chunks: tuple = rung.chunks, n: list = n) -> float:
            return sum(getattr(c, key) * k for c, k in zip(chunks, n, strict=True)) / sum(n)

        assert mean("vmaf") >= mean("single_q_vmaf") - 1e-9
        assert mean("kbps") <= mean("single_q_kbps") + 1e-9
    # every chunk encode of the renditions is one of the curve encodes (nothing encoded twice)
    assert len(curves) == 5 * len(plan.ladder.rungs[0].chunks)


def test_verify_catches_segments_off_the_keyframes(per_scene_out: Path, tmp_path: Path) -> None:
    out = _fresh(per_scene_out, tmp_path)
    index = next((out / "bikes").glob("*/index.m3u8"))
    playlist = m3u8.load(str(index))
    first, second = playlist.segments[0], playlist.segments[1]
    first.duration, second.duration = first.duration + 0.4, second.duration - 0.4
    index.write_text(playlist.dumps())
    bad = [c for c in verify_output(out, vmaf=False) if not c.ok]
    # the segment starts are off; the shortened segment also peaks above the master's BANDWIDTH
    assert bad and {c.what for c in bad} == {"playlist"}
    assert any("not on IDR frames" in c.detail for c in bad)
