"""Cost as a decision through the CLI: --views, --lambda, --budget and --cost reach the library,
the ladder JSON records the breakdown and the choices weighed, and bad input is one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ladderforge._cli.main import app


def _ladder(tmp_path: Path, source: Path, name: str, *args: str) -> dict:  # type: ignore[type-arg]
    out = tmp_path / name
    result = CliRunner().invoke(
        app, ["ladder", str(source), "-o", str(out), "--mode", "predict", *args]
    )
    assert result.exit_code == 0, result.output
    return json.loads((out / "bikes" / "bikes.ladder.json").read_text())


def test_lambda_and_views_choose_and_are_recorded(bikes_mp4: Path, tmp_path: Path) -> None:
    cheap = _ladder(tmp_path, bikes_mp4, "a", "--views", "1000000", "--lambda", "1")
    costly = _ladder(tmp_path, bikes_mp4, "b", "--views", "1000000", "--lambda", "1000")
    for data in (cheap, costly):
        cost = data["cost"]
        assert cost["view_hours"] == 1e6
        parts = sum(cost[k] for k in ("encode_usd", "storage_usd", "egress_usd"))
        assert cost["total_usd"] == pytest.approx(parts)
        assert abs(sum(cost["view_share"]) - 1) < 1e-9
        assert len(cost["view_share"]) == len(data["rungs"])
        chosen = [c for c in cost["decision"]["choices"] if c["chosen"]]
        assert len(chosen) == 1
        assert chosen[0]["kbps"] == [r["predicted"]["kbps"] for r in data["rungs"]]
    # cost weighing more: a lower top rung (less egress per view-hour)
    assert costly["rungs"][-1]["predicted"]["kbps"] < cheap["rungs"][-1]["predicted"]["kbps"]
    assert costly["cost"]["egress_usd"] < cheap["cost"]["egress_usd"]
    assert costly["provenance"]["config"]["cost_lambda"] == 1000


def test_json_summary_carries_the_cost(bikes_mp4: Path, tmp_path: Path) -> None:
    out = tmp_path / "j"
    result = CliRunner().invoke(
        app, ["ladder", str(bikes_mp4), "-o", str(out), "--mode", "predict", "--json",
              "--views", "50", "--lambda", "5"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (title,) = json.loads(result.stdout)["titles"]
    on_disk = json.loads((out / "bikes" / "bikes.ladder.json").read_text())
    assert title["cost"] == on_disk["cost"] and title["cost"]["decision"]["view_hours"] == 50


def test_budget_and_cost_file(bikes_mp4: Path, tmp_path: Path) -> None:
    cost_toml = tmp_path / "cost.toml"
    cost_toml.write_text("[egress]\ntiers = [{usd_per_gb = 0.5}]\n")
    data = _ladder(tmp_path, bikes_mp4, "c", "--cost", str(cost_toml), "--budget", "50")
    decision = data["cost"]["decision"]
    assert decision["budget_usd"] == 50 and decision["marginal_egress_gb_usd"] == 0.5
    plain = _ladder(tmp_path, bikes_mp4, "d")
    assert plain["cost"]["decision"] is None and plain["cost"]["view_hours"] == 1000


def test_bad_cost_input_is_one_line(bikes_mp4: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["ladder", str(bikes_mp4), "-o", str(tmp_path / "e"), "--mode", "predict"]
    result = runner.invoke(app, [*base, "--lambda", "1", "--budget", "2"])
    assert result.exit_code == 1 and "not both" in result.output
    result = runner.invoke(app, [*base, "--cost", str(tmp_path / "none.toml")])
    assert result.exit_code == 1 and "cannot read" in result.output
    result = runner.invoke(app, [*base, "--views", "-5"])
    assert result.exit_code == 1 and "'views'" in result.output
    assert "Traceback" not in result.output
