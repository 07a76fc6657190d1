"""``ladderforge compare``: Apple's fixed ladder and ours on the same title with real encodes and
VMAF, each into OUT/<name>/, and the A/B report of the two; strategy specs checked up front."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ladderforge._cli.main import app
from ladderforge.errors import UsageError
from ladderforge.jobs.compare import parse_strategy


def test_parse_strategy() -> None:
    ours = parse_strategy("ladderforge:mode=probe,per_scene=true,heights=720/360,cost_lambda=2.5")
    assert ours.kind == "ladderforge" and ours.name == "ladderforge"
    assert ours.options == {
        "mode": "probe", "per_scene": True, "heights": (720, 360), "cost_lambda": 2.5
    }  # fmt: skip
    assert parse_strategy("ladderforge:mode=exhaustive", taken=["ladderforge"]).name == (
        "ladderforge-2"
    )
    assert parse_strategy("apple:name=fixed").name == "fixed"
    for bad, message in (
        ("netflix", "unknown strategy"),
        ("apple:preset=slow", "apple takes no settings"),
        ("ladderforge:preset=slow", "shared by every strategy"),
        ("ladderforge:mode", "not key=value"),
    ):
        with pytest.raises(UsageError, match=message):
            parse_strategy(bad)


def test_apple_and_ours_on_one_title(carphone_mp4: Path, tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    result = CliRunner().invoke(
        app,
        [
            "compare", str(carphone_mp4), "-o", str(out), "--strategy", "apple",
            "--strategy", "ladderforge:mode=predict,max_rungs=2,open_loop=true",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    apple = json.loads(
        (out / "apple" / "carphone_pristine" / "carphone_pristine.ladder.json").read_text()
    )
    ours = json.loads(
        (out / "ladderforge" / "carphone_pristine" / "carphone_pristine.ladder.json").read_text()
    )
    assert apple["mode"] == "fixed"
    # a source below 360 lines keeps Apple's three lowest rows, at its own size
    assert [r["settings"]["bitrate_kbps"] for r in apple["rungs"]] == [145, 300, 600]
    assert all(r["resolution"] == "176x144" for r in apple["rungs"])
    for data in (apple, ours):
        assert all(r["measured"]["vmaf"] > 0 and "vmaf" in r["measured"] for r in data["rungs"])
        assert data["cost"]["total_usd"] > 0
    assert all(r["measured"]["vmaf_neg"] > 0 for r in apple["rungs"])
    assert (out / "apple" / "carphone_pristine" / "144p_145k.mp4").is_file()
    report = out / "report.html"
    assert report.is_file() and "dashboard: " in result.output


def test_apple_at_x264_is_apples_h264_ladder(carphone_mp4: Path, tmp_path: Path) -> None:
    """x264 is compared with Apple's H.264 rows, not the HEVC rows at H.264."""
    out = tmp_path / "cmp"
    result = CliRunner().invoke(
        app,
        ["compare", str(carphone_mp4), "-o", str(out), "--strategy", "apple", "--codec", "x264"],
    )
    assert result.exit_code == 0, result.output
    apple = json.loads(
        (out / "apple" / "carphone_pristine" / "carphone_pristine.ladder.json").read_text()
    )
    assert [r["settings"]["bitrate_kbps"] for r in apple["rungs"]] == [145, 365, 730]
    assert {r["settings"]["codec"] for r in apple["rungs"]} == {"x264"}
    assert any("Apple HLS H.264 rows" in n for n in apple["notes"])
    assert all(r["measured"]["vmaf"] > 0 for r in apple["rungs"])
