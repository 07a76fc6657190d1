"""``ladderforge enhance train | apply | eval`` on real renditions."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("torch")

from ladderforge.enhance import Pair
from ladderforge.media import probe

RunCli = Callable[..., subprocess.CompletedProcess[str]]


def test_apply_prints_fps(run_cli: RunCli, half_rendition: Pair, tmp_path: Path) -> None:
    out = tmp_path / "e.mkv"
    done = run_cli("enhance", "apply", str(half_rendition.dist), str(out), "--width", "176",
                   "--height", "144", "--device", "cpu")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "fps network" in done.stdout
    assert probe(out, hash_content=False).frame_count == 12


@pytest.mark.slow
def test_eval_reports_before_after_and_guard(
    run_cli: RunCli, carphone_pairs: list[Pair], tmp_path: Path
) -> None:
    ref = carphone_pairs[0].ref
    dists = [str(p.dist) for p in carphone_pairs if p.settings.width == 88]
    out = tmp_path / "eval.json"
    done = run_cli("enhance", "eval", str(ref), *dists, "--workdir", str(tmp_path / "w"),
                   "-o", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    assert len(data["rungs"]) == 2
    for r in data["rungs"]:
        assert set(r["before"]) == set(r["after"]) == {"vmaf", "vmaf_neg", "psnr_y", "ssim"}
        b, a = r["before"], r["after"]
        assert r["enabled"] == (a["vmaf_neg"] >= b["vmaf_neg"] and a["psnr_y"] >= b["psnr_y"])
    assert "BD-rate vmaf_neg" in done.stdout and "BD-rate ssim" in done.stdout


@pytest.mark.slow
def test_train_writes_a_loadable_model(run_cli: RunCli, carphone_mp4: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.pt"
    done = run_cli("enhance", "train", str(carphone_mp4), "-o", str(out), "--workdir",
                   str(tmp_path / "w"), "--steps", "5", "--frames", "6", "--scales", "0.5",
                   "--crfs", "36", "--x265-preset", "ultrafast", "--device", "cpu")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "validation PSNR-Y" in done.stdout
    from ladderforge.enhance import load_model

    assert load_model(out).metadata["config"]["steps"] == 5


def test_bad_model_file_is_a_clean_error(
    run_cli: RunCli, half_rendition: Pair, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"nope")
    done = run_cli("enhance", "apply", str(half_rendition.dist), str(tmp_path / "o.mkv"),
                   "--model", str(bad))  # fmt: skip
    assert done.returncode == 1
    assert "bad.pt" in done.stderr and "Traceback" not in done.stderr
