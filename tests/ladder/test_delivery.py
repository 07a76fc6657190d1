"""What ships: OUT/<title>/ holds only deliverables (HLS + DASH over the same fMP4 segments,
audio, the ladder JSON), players decode every variant and the audio, and verify catches a
moved audio boundary."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import m3u8
import pytest

from ladderforge.jobs.config import LadderConfig
from ladderforge.jobs.title import plan_title
from ladderforge.jobs.verify import verify_output
from ladderforge.media import ffmpeg_path

SHIPPED_SUFFIXES = {".m3u8", ".mpd", ".json", ".mp4", ".m4s", ".ts"}


@pytest.fixture(scope="module")
def bikes_with_audio(bikes_mp4: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bikes.mp4 (250 frames, 5 cuts) with a 440 Hz mono tone as its audio track."""
    out = tmp_path_factory.mktemp("src") / "bikes_audio.mp4"
    subprocess.run(
        [ffmpeg_path(), "-loglevel", "error", "-i", str(bikes_mp4), "-f", "lavfi", "-i",
         "sine=frequency=440:sample_rate=44100", "-map", "0:v", "-map", "1:a", "-c:v", "copy",
         "-c:a", "aac", "-t", "10", str(out)],
        check=True, timeout=120,
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def delivered(bikes_with_audio: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out")
    config = LadderConfig(
        mode="predict", encode=True, heights=(272, 136), max_rungs=2, open_loop=True, workers=2
    )
    plan_title(bikes_with_audio, out, config=config)
    return out


def _decode_errors(path: Path) -> str:
    done = subprocess.run(
        [ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-i", str(path), "-map", "0",
         "-f", "null", "-"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return done.stderr if done.returncode else done.stderr.strip()


def test_the_title_folder_holds_only_what_ships(delivered: Path) -> None:
    title = delivered / "bikes_audio"
    names = {p.name for p in title.iterdir()}
    assert {"master.m3u8", "manifest.mpd", "bikes_audio.ladder.json", "audio"} <= names
    files = [p for p in title.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} <= SHIPPED_SUFFIXES, sorted({p.suffix for p in files})
    assert not (delivered / ".work").exists(), "work files are removed after success"
    media = [p for p in files if p.suffix in (".m4s", ".mp4")]
    total = sum(p.stat().st_size for p in files)
    assert total <= 1.05 * sum(p.stat().st_size for p in media)  # no file stored twice
    ladder = json.loads((title / "bikes_audio.ladder.json").read_text())
    assert ladder["manifests"] == {"hls": "master.m3u8", "dash": "manifest.mpd"}
    for rung in ladder["rungs"]:
        assert (title / rung["files"]["playlist"]).is_file()
        assert (title / rung["files"]["init"]).is_file()
        assert rung["files"]["codecs"].startswith(("hvc1.", "hev1."))
    assert ladder["audio"]["codecs"] == "mp4a.40.2" and ladder["audio"]["channels"] == 2
    assert ladder["provenance"]["ladderforge"] and ladder["provenance"]["config"]["mode"]


def test_hls_and_dash_play_every_variant_and_the_audio(delivered: Path) -> None:
    title = delivered / "bikes_audio"
    master = m3u8.load(str(title / "master.m3u8"))
    assert [m.type for m in master.media] == ["AUDIO"]
    for variant in master.playlists:
        assert variant.stream_info.audio == "audio"
        assert variant.stream_info.codecs.endswith(",mp4a.40.2")
    for manifest in (title / "master.m3u8", title / "manifest.mpd"):
        assert not _decode_errors(manifest), manifest
    # the audio alone, through its own playlist: all of it, stereo AAC
    import av

    playlist = title / "audio" / "index.m3u8"
    assert not _decode_errors(playlist)
    with av.open(str(playlist)) as container:
        stream = container.streams.audio[0]
        samples = sum(f.samples for f in container.decode(stream))
        assert stream.codec_context.name == "aac" and stream.codec_context.channels == 2
        assert samples / stream.codec_context.sample_rate == pytest.approx(10.0, abs=0.03)


def test_verify_passes_then_catches_a_moved_audio_boundary(delivered: Path, tmp_path: Path) -> None:
    checks = verify_output(delivered)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert {"dash", "audio", "schema"} <= {c.what for c in checks}
    out = tmp_path / "out"
    shutil.copytree(delivered, out)
    playlist = out / "bikes_audio" / "audio" / "index.m3u8"
    media = m3u8.load(str(playlist))
    first, second = media.segments[0], media.segments[1]
    first.duration, second.duration = first.duration + 0.4, second.duration - 0.4
    playlist.write_text(media.dumps())
    bad = {c.what for c in verify_output(out, vmaf=False) if not c.ok}
    assert "audio" in bad


def test_no_audio_is_said(bikes_with_audio: Path, tmp_path: Path) -> None:
    config = LadderConfig(
        mode="predict", encode=True, heights=(136,), max_rungs=1, open_loop=True, audio=False
    )
    plan = plan_title(bikes_with_audio, tmp_path, config=config)
    assert plan.ladder.audio is None
    assert any("--no-audio" in n for n in plan.ladder.notes)
    assert not (tmp_path / "bikes_audio" / "audio").exists()


def test_a_plan_writes_no_master_of_missing_variants(bikes_mp4: Path, tmp_path: Path) -> None:
    plan_title(bikes_mp4, tmp_path, config=LadderConfig(mode="predict"))
    names = {p.name for p in (tmp_path / "bikes").iterdir()}
    assert names == {"bikes.ladder.json", "master.plan.m3u8"}


def test_a_ten_bit_title_ships_main10_and_verifies(make_clip, tmp_path: Path) -> None:
    src = make_clip(
        tmp_path / "ten.mkv", size="320x180", frames=50, pix_fmt="yuv420p10le", codec="ffv1"
    )
    config = LadderConfig(mode="predict", encode=True, heights=(180,), max_rungs=2, open_loop=True)
    plan = plan_title(src, tmp_path / "out", config=config)
    for rung in plan.ladder.rungs:
        assert rung.files is not None and rung.files.codecs.split(".")[1] == "2"  # Main 10
        assert rung.settings.pix_fmt == "yuv420p10le"
    checks = verify_output(tmp_path / "out", vmaf=False)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
