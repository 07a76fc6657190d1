"""``ladderforge analyze``: table, features file, exit codes."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ladderforge._cli.main import app
from ladderforge.analysis import read_profiles


def test_analyze_writes_features_and_summary(
    testsrc_mp4: Path, bikes_mp4: Path, tmp_path: Path
) -> None:
    out = tmp_path / "features.parquet"
    result = CliRunner().invoke(
        app,
        [
            "analyze",
            str(testsrc_mp4),
            str(bikes_mp4),
            "-o",
            str(out),
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "bikes" in result.output and "testsrc" in result.output
    profiles = read_profiles(out)
    assert [p.source.title for p in profiles] == ["testsrc", "bikes"]
    assert profiles[1].cut_frames == (30, 76, 137, 187, 242)
    again = CliRunner().invoke(
        app, ["analyze", str(bikes_mp4), "--cache-dir", str(tmp_path / "cache")]
    )
    assert again.exit_code == 0 and "cached" in again.output


def test_analyze_exit_codes(testsrc_mp4: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.mp4"
    partial = CliRunner().invoke(app, ["analyze", str(testsrc_mp4), str(missing), "--no-cache"])
    assert partial.exit_code == 3
    assert "missing.mp4: no such file" in partial.output
    failed = CliRunner().invoke(app, ["analyze", str(missing), "--no-cache"])
    assert failed.exit_code == 1


def test_analyze_skips_index_files_of_a_folder_glob(testsrc_mp4: Path, tmp_path: Path) -> None:
    index = tmp_path / "INDEX.tsv"
    index.write_text("file\tcategory\n")
    result = CliRunner().invoke(app, ["analyze", str(testsrc_mp4), str(index), "--no-cache"])
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output and "INDEX.tsv" in result.output
    only_index = CliRunner().invoke(app, ["analyze", str(index), "--no-cache"])
    assert only_index.exit_code == 1
