"""HDR sources (issue 17, item 3): PQ and HLG are kept (10-bit, colour tags, mastering
metadata) with x265 and SVT-AV1, signalled in HLS (VIDEO-RANGE) and DASH (CICP properties),
with a note that VMAF is not calibrated on HDR; other backends refuse them in one line."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ladderforge.encoder.verify import check_picture
from ladderforge.errors import UnsupportedMediaError
from ladderforge.jobs.config import LadderConfig
from ladderforge.jobs.title import plan_title
from ladderforge.jobs.verify import verify_output
from ladderforge.media import ffmpeg_path, probe

MakeClip = Callable[..., Path]
MASTERING = "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)"


def _hdr_clip(path: Path, transfer: str, *, pix_fmt: str = "yuv420p10le") -> Path:
    params = "log-level=error"
    if transfer == "smpte2084":
        params += f":hdr10=1:master-display={MASTERING}:max-cll=1000,400"
    subprocess.run(
        [ffmpeg_path(), "-loglevel", "error", "-y", "-f", "lavfi",
         "-i", "testsrc2=size=320x240:rate=25", "-frames:v", "25",
         "-vf", f"setparams=color_primaries=bt2020:color_trc={transfer}:colorspace=bt2020nc"
         f":range=tv,format={pix_fmt}",
         "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", params, str(path)],
        check=True, timeout=120, capture_output=True,
    )  # fmt: skip
    return path


@pytest.mark.parametrize(
    ("transfer", "video_range", "dash_line"),
    [
        ("smpte2084", "PQ", '<EssentialProperty schemeIdUri="urn:mpeg:mpegB:cicp:'
         'TransferCharacteristics" value="16" />'),
        ("arib-std-b67", "HLG", '<SupplementalProperty schemeIdUri="urn:mpeg:mpegB:cicp:'
         'TransferCharacteristics" value="18" />'),
    ],
)  # fmt: skip
def test_an_hdr_title_stays_hdr_and_says_so(
    tmp_path: Path, transfer: str, video_range: str, dash_line: str
) -> None:
    # was: encoded to 8-bit HEVC Main, no VIDEO-RANGE, no warning
    src = _hdr_clip(tmp_path / "hdr.mp4", transfer)
    assert probe(src).video_range == video_range
    config = LadderConfig(mode="predict", encode=True, heights=(240, 120), max_rungs=2)
    plan = plan_title(src, tmp_path / "out", config=config)
    assert any("VMAF is not calibrated on HDR" in n for n in plan.ladder.notes)
    master = (tmp_path / "out" / "hdr" / "master.m3u8").read_text()
    assert master.count(f"VIDEO-RANGE={video_range}") == len(plan.ladder.rungs) == 2
    assert ".2.4.L" in master  # HEVC Main 10
    assert dash_line in (tmp_path / "out" / "hdr" / "manifest.mpd").read_text()
    checks = verify_output(tmp_path / "out")
    assert [c for c in checks if not c.ok] == []
    assert sum(c.what == "picture" for c in checks) == 2


def test_sdr_masters_name_no_range(make_clip: MakeClip, tmp_path: Path) -> None:
    src = make_clip(tmp_path / "sdr.mp4", extra=["-preset", "ultrafast"])
    plan_title(src, tmp_path / "out", config=LadderConfig(mode="predict", heights=(120,)))
    assert "VIDEO-RANGE" not in (tmp_path / "out" / "sdr" / "master.plan.m3u8").read_text()


def test_a_backend_that_would_lose_hdr_refuses_it(tmp_path: Path) -> None:
    src = _hdr_clip(tmp_path / "hdr.mp4", "smpte2084")
    config = LadderConfig(mode="exhaustive", codec="x264", heights=(120,))
    with pytest.raises(UnsupportedMediaError, match=r"HDR \(PQ\).*use --codec x265 or svtav1"):
        plan_title(src, tmp_path / "out", config=config)
    assert not (tmp_path / "out" / ".work" / "hdr").exists()  # refused before any work


def test_eight_bit_hdr_is_refused(tmp_path: Path) -> None:
    src = _hdr_clip(tmp_path / "hdr8.mp4", "smpte2084", pix_fmt="yuv420p")
    with pytest.raises(UnsupportedMediaError, match="HDR needs 10 bits"):
        plan_title(src, tmp_path / "out", config=LadderConfig(mode="predict", heights=(120,)))


def test_verify_catches_a_rendition_that_lost_hdr(make_clip: MakeClip, tmp_path: Path) -> None:
    sdr = make_clip(tmp_path / "sdr.mp4", extra=["-preset", "ultrafast"])
    problems = check_picture(sdr, width=320, height=240, source_size=(320, 240), video_range="PQ")
    assert any("HDR lost" in p for p in problems)
    assert any("HDR needs 10 bits" in p for p in problems)
    assert any("mastering-display" in p for p in problems)
