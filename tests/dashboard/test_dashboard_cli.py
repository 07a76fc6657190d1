"""``ladderforge dashboard`` without a browser: the report is one offline file, the exported
tables hold every paired title, the figures match hand computations, bad input is one line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from ladderforge._cli.main import app
from ladderforge.dashboard.data import RungFigures, StrategyTitle, break_even, title_row
from ladderforge.policy.cost import CostModel


def test_report_and_tables(synthetic_small: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = synthetic_small
    out, tables = tmp_path / "report.html", tmp_path / "tables"
    result = CliRunner().invoke(
        app, ["dashboard", str(a), str(b), "-o", str(out), "--tables", str(tables)]
    )
    assert result.exit_code == 0, result.output
    assert "12 titles compared" in result.output
    page = out.read_text()
    # offline: no script or stylesheet is fetched from anywhere
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=", page)
    assert "cdn." not in page.lower()
    titles = pl.read_csv(tables / "titles.csv")
    assert titles.height == 12 and (tables / "rungs.parquet").is_file()
    rungs = pl.read_parquet(tables / "rungs.parquet")
    assert set(rungs["strategy"]) == {"A", "B"}
    shares = rungs.group_by("strategy", "title").agg(pl.col("view_share").sum())
    assert all(abs(s - 1) < 1e-9 for s in shares["view_share"])


def test_one_line_errors(synthetic_small: tuple[Path, Path], tmp_path: Path) -> None:
    a, _ = synthetic_small
    runner = CliRunner()
    result = runner.invoke(app, ["dashboard", str(a), str(tmp_path / "nope"), "-o", "r.html"])
    assert result.exit_code == 1 and "no such folder" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["dashboard", str(a), str(empty), "-o", "r.html"])
    assert result.exit_code == 1 and "no <title>/<title>.ladder.json" in result.output
    other = tmp_path / "other" / "x"
    other.mkdir(parents=True)
    (other / "x.ladder.json").write_text("{not json")
    result = runner.invoke(app, ["dashboard", str(a), str(other.parent), "-o", "r.html"])
    assert result.exit_code == 1 and "not a readable ladder JSON" in result.output
    assert "Traceback" not in result.output


def test_title_row_by_hand() -> None:
    model = CostModel(
        cpu_hour_usd=3.6, storage_gb_month_usd=1.0, storage_months=1, egress_gb_usd=0.1,
        bandwidth_mix=((1000.0, 0.5), (9000.0, 0.5)), managed_usd_per_minute=0.5,
    )  # fmt: skip
    rungs = (
        RungFigures(640, 360, 1000.0, 70.0, 68.0, 100.0, True),
        RungFigures(1920, 1080, 8000.0, 95.0, 93.0, 1000.0, True),
    )
    a = StrategyTitle("t", 60.0, 1440, "cpu", 10.0, rungs)
    row = title_row(a, model)
    assert row.encode_usd == pytest.approx(1100 / 3600 * 3.6)
    assert row.storage_usd == pytest.approx(9000 * 60 / 8 / 1e6)
    assert row.egress_gb == pytest.approx((1000 + 8000) * 0.5 * 3600 * 10 / 8 / 1e6)
    assert row.egress_usd == pytest.approx(row.egress_gb * 0.1)
    assert row.view_weighted_vmaf == pytest.approx(82.5)
    assert row.view_weighted_vmaf_neg == pytest.approx(80.5)
    assert row.managed_usd == pytest.approx(2 * 0.5)
    # B: one rung more to encode and store, 2000 kbps less for the top half of the viewers
    b_rungs = (*rungs[:1], RungFigures(1920, 1080, 6000.0, 94.0, 92.0, 1500.0, True))
    b = title_row(StrategyTitle("t", 60.0, 1440, "cpu", 10.0, b_rungs), model)
    extra = (b.encode_usd + b.storage_usd) - (row.encode_usd + row.storage_usd)
    saved = 0.5 * 2000 * 3600 / 8 / 1e6 * 0.1
    assert break_even(row, b) == pytest.approx(extra / saved)


def test_one_audience_per_title(synthetic_small: tuple[Path, Path]) -> None:
    from ladderforge.dashboard import compare_folders

    a, b = synthetic_small
    path = a / "title0000" / "title0000.ladder.json"
    data = json.loads(path.read_text())
    data["cost"]["view_hours"] = 5.0
    path.write_text(json.dumps(data))
    cmp = compare_folders(a, b)
    assert cmp.a["title0000"].view_hours == cmp.b["title0000"].view_hours != 5.0
    assert any(n.startswith("title0000: A was priced for 5 view-hours") for n in cmp.notes)
