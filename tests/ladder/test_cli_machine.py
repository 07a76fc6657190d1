"""The ladder command as a machine interface: --json, --dry-run, --config, -q, tab-separated
tables when piped, sources checked before any work, and CLI defaults equal to the library's."""

from __future__ import annotations

import dataclasses
import itertools
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ladderforge._cli.main import app
from ladderforge.jobs.config import LadderConfig


def _invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["ladder", *args])


def test_json_names_every_file_written(bikes_mp4: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _invoke(
        str(bikes_mp4), "-o", str(out), "--mode", "predict", "--encode", "--heights", "136",
        "--max-rungs", "2", "--open-loop", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    (title,) = summary["titles"]
    on_disk = sorted(str(p.relative_to(out)) for p in (out / "bikes").rglob("*") if p.is_file())
    assert title["files"] == on_disk and title["rungs"]
    assert Path(title["ladder_json"]).is_file() and Path(title["manifests"]["dash"]).is_file()


def test_dry_run_encodes_nothing(
    bikes_mp4: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []

    def counting(*args: object, **kwargs: object) -> None:
        calls.append(args)
        raise AssertionError("ffmpeg ran during a dry run")

    for name, module in list(sys.modules.items()):
        if name.startswith("ladderforge") and hasattr(module, "run_ffmpeg"):
            monkeypatch.setattr(module, "run_ffmpeg", counting)
    out = tmp_path / "out"
    for mode in ("probe", "exhaustive"):
        result = _invoke(str(bikes_mp4), "-o", str(out), "--mode", mode, "--encode", "--dry-run")
        assert result.exit_code == 0, result.output
        header, row = result.stdout.splitlines()[:2]  # piped: tab-separated
        assert header.split("\t")[:3] == ["title", "mode", "frames"]
        assert row.split("\t")[:3] == ["bikes", mode, "250"]
    assert calls == [] and not out.exists()


def test_config_file_and_flags(bikes_mp4: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "ladder.toml"
    cfg.write_text(
        'mode = "exhaustive"\nmax_rungs = 2\nheights = [136]\n[cost]\negress_gb_usd = 0.085\n'
    )
    result = _invoke(str(bikes_mp4), "-o", str(tmp_path / "o"), "--config", str(cfg), "--dry-run")
    assert "\texhaustive\t" in result.stdout
    # a flag given on the command line wins over the file
    result = _invoke(
        str(bikes_mp4), "-o", str(tmp_path / "o"), "--config", str(cfg), "--mode", "predict",
        "--dry-run", "--json",
    )  # fmt: skip
    assert json.loads(result.stdout)["dry_run"][0]["mode"] == "predict"
    cfg.write_text("top_vmaff = 93\n")
    result = _invoke(str(bikes_mp4), "-o", str(tmp_path / "o"), "--config", str(cfg))
    assert result.exit_code != 0 and "unknown setting(s) top_vmaff" in result.output
    assert "Traceback" not in result.output


def test_missing_sources_are_refused_before_any_work(bikes_mp4: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _invoke(str(bikes_mp4), str(tmp_path / "nope.mp4"), "-o", str(out))
    assert result.exit_code == 1 and "nope.mp4: no such file" in result.output
    assert not out.exists()


def test_quiet_prints_nothing_on_success(bikes_mp4: Path, tmp_path: Path) -> None:
    result = _invoke(str(bikes_mp4), "-o", str(tmp_path / "o"), "--mode", "predict", "-q")
    assert result.exit_code == 0 and result.stdout == ""


def test_cli_defaults_are_the_library_defaults() -> None:
    command = next(c for c in app.registered_commands if c.name == "ladder")
    import inspect

    params = inspect.signature(command.callback).parameters  # type: ignore[arg-type]
    library = {f.name: f.default for f in dataclasses.fields(LadderConfig)}
    renamed = {"model": "model_path"}
    checked = 0
    for name, param in params.items():
        field = renamed.get(name, name)
        default = getattr(param.default, "default", param.default)
        if field not in library or library[field] is dataclasses.MISSING:
            continue
        expected = library[field]
        if field == "heights":
            expected = ",".join(str(h) for h in expected)
        assert default == expected, f"--{name}: CLI default {default!r}, library {expected!r}"
        checked += 1
    assert checked >= 20


def test_rung_spacing_flags(bikes_mp4: Path, tmp_path: Path) -> None:
    # bikes at 272p (predict mode): a whole JND between rungs leaves its top gap 2.17x wide; the
    # default half JND (3 VMAF) moves the two rungs under the top and keeps every gap <= 2x
    gaps = {}
    for step in ("3", "6"):
        out = tmp_path / step
        result = _invoke(
            str(bikes_mp4), "-o", str(out), "--mode", "predict", "-q", "--min-step-vmaf", step
        )
        assert result.exit_code == 0, result.output
        rungs = json.loads((out / "bikes" / "bikes.ladder.json").read_text())["rungs"]
        pred = [(r["predicted"]["kbps"], r["predicted"]["vmaf"]) for r in rungs]
        assert all(b[1] - a[1] >= float(step) for a, b in itertools.pairwise(pred))
        gaps[step] = max(b[0] / a[0] for a, b in itertools.pairwise(pred))
    assert gaps["3"] <= 2.0 < gaps["6"]
    result = _invoke(str(bikes_mp4), "-o", str(tmp_path / "r"), "--max-rate-ratio", "0.5")
    assert result.exit_code != 0 and "max_rate_ratio" in result.output
    assert "Traceback" not in result.output
