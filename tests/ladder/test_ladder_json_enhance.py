"""Reading the ladder JSON's ``enhance`` records: version 3 only (the version-2 shape that
``enhance eval`` wrote before is ignored), a malformed record a one-line UsageError naming the
file, and a version-3 round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ladderforge.errors import UsageError
from ladderforge.types import (
    EncodeSettings,
    Ladder,
    LadderEnhance,
    Rung,
    RungEnhance,
    StageFigures,
)

PLAIN = StageFigures(vmaf=80.0, vmaf_neg=78.0, psnr_y=38.0)
LIFTED = StageFigures(vmaf=83.0, vmaf_neg=80.0, psnr_y=38.4)
STAGE = LadderEnhance(
    model="m.pt", fingerprint="0123456789abcdef", preset="tiny", macs_per_pixel=592.0,
    model_bytes=40000, guard_metrics=("vmaf_neg", "psnr_y"), enabled_rungs=1,
)  # fmt: skip


def _ladder() -> Ladder:
    rung = Rung(
        EncodeSettings(codec="x265", width=640, height=360, q=28), 800.0, 83.0,
        measured_bitrate_kbps=790.0, measured_vmaf=80.0,
        enhance=RungEnhance(enabled=True, plain=PLAIN, enhanced=LIFTED),
    )  # fmt: skip
    return Ladder("t", None, (rung,), enhance=STAGE)


def test_version_3_round_trips() -> None:
    ladder = _ladder()
    data = json.loads(json.dumps(ladder.to_dict()))
    assert data["schema"] == "ladderforge.ladder/3"
    again = Ladder.from_dict(data)
    assert again.enhance == STAGE and again.rungs == ladder.rungs


@pytest.mark.parametrize(
    "old",
    [
        {"enabled": False},
        {
            "enabled": True,
            "model": "x265_tiny.pt",
            "fingerprint": "a1e3a8af5dd1be9f",
            "preset": "tiny",
            "flops_per_pixel": 1200.0,
            "model_bytes": 40000,
            "model_kbps": 0.0,
            "rungs": [True],
        },
    ],
    ids=["off", "on"],
)
def test_the_version_2_enhance_shape_is_ignored(old: dict[str, object], tmp_path: Path) -> None:
    data = _ladder().to_dict()
    data["schema"] = "ladderforge.ladder/2"
    data["enhance"] = old
    path = tmp_path / "t.ladder.json"
    path.write_text(json.dumps(data))
    (tmp_path / ".corrupted-on-purpose").touch()  # an old file: the session's schema check skips it
    ladder = Ladder.read(path)
    assert ladder.enhance is None and ladder.rungs[0].enhance is None
    assert ladder.rungs[0].measured_vmaf == 80.0


@pytest.mark.parametrize("where", ["ladder", "rung"])
def test_a_malformed_enhance_record_names_the_file(where: str, tmp_path: Path) -> None:
    data = _ladder().to_dict()
    if where == "ladder":
        data["enhance"] = {"enabled": False}  # the version-2 shape in a version-3 file
    else:
        data["rungs"][0]["enhance"] = {"enabled": True, "plain": {"vmaf": 80.0}}
    path = tmp_path / "bad.ladder.json"
    path.write_text(json.dumps(data))
    (tmp_path / ".corrupted-on-purpose").touch()  # the session's schema check skips it
    with pytest.raises(UsageError, match=r"bad\.ladder\.json: .*malformed 'enhance' record") as e:
        Ladder.read(path)
    assert "\n" not in str(e.value) and e.value.path == path
    with pytest.raises(UsageError, match="malformed 'enhance' record"):
        Ladder.from_dict(data)


def test_an_unreadable_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "junk.ladder.json"
    path.write_text("{not json")
    with pytest.raises(UsageError, match=r"junk\.ladder\.json: not a readable ladder JSON"):
        Ladder.read(path)
