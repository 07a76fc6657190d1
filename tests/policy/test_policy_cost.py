"""The cost model against hand-computed cases: volume tiers, viewing shares, break-even views,
and the shipped cost.toml (its defaults are CostModel's, each price has a source and a date)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from ladderforge.errors import LadderforgeError, UsageError
from ladderforge.policy.cost import (
    CostModel,
    RungSpend,
    break_even_view_hours,
    egress_usd,
    ladder_costs,
    tiered_usd,
    viewing_shares,
)
from ladderforge.policy.cost_file import load_cost_file

TIERS = ((10.0, 1.0), (50.0, 0.5), (math.inf, 0.1))


@pytest.mark.parametrize(
    ("volume_gb", "expected"),
    [(0, 0), (5, 5), (10, 10), (30, 10 + 20 * 0.5), (100, 10 + 40 * 0.5 + 50 * 0.1)],
)
def test_tiered_price(volume_gb: float, expected: float) -> None:
    assert tiered_usd(volume_gb, TIERS) == pytest.approx(expected)


def test_egress_is_priced_at_the_tiers_above_the_platform_traffic() -> None:
    # base 20 GB/month: 40 GB more cost T(60) - T(20) = (10 + 20 + 1) - (10 + 5) = 16 a month
    model = CostModel(egress_tiers=TIERS, platform_egress_tb_month=0.02, storage_months=1)
    assert egress_usd(40, model) == pytest.approx(16)
    # over two months, 80 GB are 40 GB a month, twice
    model2 = CostModel(egress_tiers=TIERS, platform_egress_tb_month=0.02, storage_months=2)
    assert egress_usd(80, model2) == pytest.approx(32)
    assert model.marginal_egress_gb_usd() == pytest.approx(0.5)


def test_cloudfront_tiers_by_hand() -> None:
    # 20 TB in one month from nothing: 10 TB at 0.085 + 10 TB at 0.080 (decimal TB)
    model = CostModel(storage_months=1)
    assert egress_usd(20_000, model) == pytest.approx(850 + 800)
    # above 5 PB of other traffic, every GB is at the last tier
    assert CostModel(platform_egress_tb_month=6000).marginal_egress_gb_usd() == 0.020
    assert CostModel(egress_gb_usd=0.05).marginal_egress_gb_usd() == 0.05


def test_viewing_shares_follow_the_bandwidth_mix() -> None:
    mix = ((500.0, 0.1), (1500.0, 0.2), (3000.0, 0.3), (10000.0, 0.4))
    # 500 kbps fits no rung (plays the lowest), 3000 fits the 3000 kbps rung exactly
    assert viewing_shares([1000, 3000, 8000], mix) == pytest.approx([0.3, 0.3, 0.4])
    assert viewing_shares([20000], mix) == pytest.approx([1.0])
    assert viewing_shares([], mix) == []


def test_ladder_costs_by_hand() -> None:
    model = CostModel(
        cpu_hour_usd=3.6,
        storage_gb_month_usd=1.0,
        storage_months=1,
        egress_gb_usd=1.0,
        expected_view_hours=2.0,
        bandwidth_mix=((1000.0, 0.5), (9000.0, 0.5)),
    )
    costs = ladder_costs(
        [RungSpend("cpu", 800.0, 100.0, 100), RungSpend("cpu", 8000.0, 1000.0, 100)],
        duration_s=10.0,
        model=model,
    )
    assert [c.view_share for c in costs] == [0.5, 0.5]
    assert costs[0].encode_usd == pytest.approx(100 / 3600 * 3.6)
    assert costs[1].storage_usd == pytest.approx(8000 * 10 / 8 / 1e6)
    assert costs[1].delivered_gb == pytest.approx(8000 * 3600 * 2 * 0.5 / 8 / 1e6)
    assert costs[1].delivery_usd == pytest.approx(3.6)
    # tiered: the title's whole egress is priced once and shared by GB
    tiered = CostModel(
        egress_tiers=((1.0, 1.0), (math.inf, 0.5)), storage_months=1, expected_view_hours=2.0,
        bandwidth_mix=((1000.0, 0.5), (9000.0, 0.5)),
    )  # fmt: skip
    costs = ladder_costs(
        [RungSpend("cpu", 800.0, 0.0, 1), RungSpend("cpu", 8000.0, 0.0, 1)],
        duration_s=1.0,
        model=tiered,
    )
    total_gb = (800 + 8000) * 3600 * 2 * 0.5 / 8 / 1e6  # 3.96 GB
    assert sum(c.delivery_usd for c in costs) == pytest.approx(1.0 + (total_gb - 1) * 0.5)
    assert costs[0].delivery_usd / costs[1].delivery_usd == pytest.approx(0.1)


def test_gpu_encodes_are_costed_by_throughput() -> None:
    model = CostModel(gpu_hour_usd=2.0, nvenc_fps=100.0)
    cost = ladder_costs([RungSpend("gpu", 1000.0, 0.0, 36_000)], duration_s=1, model=model)
    assert cost[0].encode_usd == pytest.approx(36_000 / 100 / 3600 * 2.0)
    free = ladder_costs([RungSpend("gpu", 1000.0, 0.0, 36_000)], duration_s=1, model=CostModel())
    assert free[0].encode_usd == 0.0


def test_break_even_views() -> None:
    assert break_even_view_hours(extra_fixed_usd=10, egress_saved_usd_per_view_hour=0.5) == 20
    assert break_even_view_hours(extra_fixed_usd=10, egress_saved_usd_per_view_hour=-0.1) is None
    assert break_even_view_hours(extra_fixed_usd=-1, egress_saved_usd_per_view_hour=0.2) == 0


def test_bad_cost_models_are_refused() -> None:
    with pytest.raises(UsageError, match="egress_tiers"):
        CostModel(egress_tiers=((10.0, 1.0), (5.0, 0.5)))
    with pytest.raises(UsageError, match="bandwidth_mix"):
        CostModel(bandwidth_mix=((1000.0, 0.5),))
    with pytest.raises(UsageError, match="cpu_hour_usd"):
        CostModel(cpu_hour_usd=-1)
    with pytest.raises(UsageError, match="platform_egress_tb_month"):
        CostModel(platform_egress_tb_month=-5)
    with pytest.raises(UsageError, match="nvenc_fps"):
        CostModel(nvenc_fps=0)
    with pytest.raises(UsageError, match="view_share"):
        CostModel(view_share=(0.5,)).shares([100.0])


def test_shipped_cost_toml_is_the_default_and_sourced() -> None:
    shipped = load_cost_file()
    assert shipped.model == CostModel()
    for name, source in shipped.sources.items():
        assert source.get("source"), f"{name} has no source"
        text = source["source"].lower()
        if not (text.startswith("assumption") or text.startswith("not found")):
            assert source.get("url", "").startswith("https://"), name
            assert source.get("date"), name


def test_user_cost_file(tmp_path: Path) -> None:
    path = tmp_path / "cost.toml"
    path.write_text(
        "cpu_hour_usd = 0.05\n[egress]\ntiers = [{up_to_tb = 1, usd_per_gb = 0.1}, "
        "{usd_per_gb = 0.01}]\n[bandwidth_mix]\nclasses = [{kbps = 5000, share = 1.0}]\n"
    )
    model = load_cost_file(path).model
    assert model.cpu_hour_usd == 0.05 and model.egress_tiers == ((1000.0, 0.1), (math.inf, 0.01))
    assert model.bandwidth_mix == ((5000.0, 1.0),) and model.storage_gb_month_usd == 0.023
    path.write_text("cpu_hour = 0.05\n")
    with pytest.raises(UsageError, match="unknown cost setting.*cpu_hour"):
        load_cost_file(path)
    path.write_text('cpu_hour_usd = "cheap"\n')
    with pytest.raises(UsageError, match="'cpu_hour_usd' must be a finite number"):
        load_cost_file(path)
    with pytest.raises(LadderforgeError, match="cannot read"):
        load_cost_file(tmp_path / "missing.toml")
