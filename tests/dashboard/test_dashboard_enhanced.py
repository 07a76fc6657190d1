"""The A/B dashboard on a ladder made with the enhancement stage: judged on its delivered VMAF,
with the VMAF of players without the stage beside it (recorded figures, no media)."""

from __future__ import annotations

import json
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from ladderforge._cli.main import app
from ladderforge.dashboard.data import load_strategy, title_row
from ladderforge.policy.cost import CostModel
from ladderforge.types import EncodeSettings, Ladder, Rung, SourceInfo
from ladderforge.types.enhance import LadderEnhance, RungEnhance, StageFigures

SOURCE = SourceInfo(
    Path("/synthetic/t.mp4"), 1280, 720, Fraction(24), 2400, 100.0, "yuv420p", 8, "h264", "mp4",
    1, "0" * 64,
)  # fmt: skip


def _rung(height: int, kbps: float, vmaf: float, gain: float | None) -> Rung:
    settings = EncodeSettings(codec="x265", width=height * 16 // 9, height=height, q=30.0)
    rung = Rung(settings, kbps, vmaf, measured_bitrate_kbps=kbps, measured_vmaf=vmaf,
                measured_vmaf_neg=vmaf - 2, measured_psnr_y=35.0)  # fmt: skip
    if gain is None:
        return rung
    plain = StageFigures(vmaf - gain, vmaf - 2 - gain, 35.0)
    enhanced = StageFigures(vmaf, vmaf - 2, 35.2)
    return replace(rung, measured_vmaf=plain.vmaf, measured_vmaf_neg=plain.vmaf_neg,
                   enhance=RungEnhance(True, plain, enhanced))  # fmt: skip


def _write(folder: Path, rungs: list[Rung], enhance: LadderEnhance | None = None) -> None:
    ladder = Ladder("t", SOURCE, tuple(rungs), mode="probe", enhance=enhance)
    (folder / "t").mkdir(parents=True)
    (folder / "t" / "t.ladder.json").write_text(json.dumps(ladder.to_dict()))


@pytest.fixture
def plain_and_enhanced(tmp_path: Path) -> tuple[Path, Path]:
    """A: three plain rungs; B: the same declared VMAFs, two rungs lifted 3 VMAF by the stage
    and shipped for fewer bits."""
    a, b = tmp_path / "plain", tmp_path / "enhanced"
    _write(a, [_rung(360, 400, 70, None), _rung(540, 900, 85, None), _rung(720, 2000, 93, None)])
    stage = LadderEnhance("m.pt", "0123456789abcdef", "tiny", 1152.0, 74048, ("vmaf_neg",), 2)
    _write(b, [_rung(360, 300, 70, 3.0), _rung(540, 700, 85, 3.0), _rung(720, 2000, 93, None)],
           stage)  # fmt: skip
    return a, b


def test_the_enhanced_ladder_is_judged_on_delivered_vmaf(
    plain_and_enhanced: tuple[Path, Path],
) -> None:
    a, b = (load_strategy(p)["t"] for p in plain_and_enhanced)
    assert [r.enhanced for r in b.rungs] == [True, True, False]
    assert [r.vmaf for r in b.rungs] == [r.vmaf for r in a.rungs]  # delivered = declared
    assert [r.plain_vmaf for r in b.rungs] == [67.0, 82.0, 93.0]
    assert all(r.plain_vmaf is None for r in a.rungs)
    ra, rb = title_row(a, CostModel()), title_row(b, CostModel())
    assert rb.view_weighted_kbps < ra.view_weighted_kbps  # the saving
    assert ra.view_weighted_plain_vmaf is None
    assert rb.view_weighted_plain_vmaf is not None
    assert rb.view_weighted_plain_vmaf < rb.view_weighted_vmaf
    assert rb.enhanced_rungs == 2 and ra.enhanced_rungs == 0


def test_report_exports_the_plain_players_vmaf(
    plain_and_enhanced: tuple[Path, Path], tmp_path: Path
) -> None:
    a, b = plain_and_enhanced
    out, tables = tmp_path / "report.html", tmp_path / "tables"
    result = CliRunner().invoke(
        app, ["dashboard", str(a), str(b), "-o", str(out), "--tables", str(tables)]
    )
    assert result.exit_code == 0, result.output
    titles = pl.read_csv(tables / "titles.csv")
    assert titles["b_enhanced_rungs"].to_list() == [2]
    rungs = pl.read_parquet(tables / "rungs.parquet").filter(pl.col("strategy") == "B")
    assert rungs["enhanced"].to_list() == [True, True, False]
    assert "players without the enhancement stage" in out.read_text()
