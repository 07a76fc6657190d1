"""Manifests are checked whole before any work starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from ladderforge.errors import MediaNotFoundError, UsageError
from ladderforge.jobs.batch import TitleSource, read_manifest


def _write(tmp_path: Path, text: str) -> Path:
    manifest = tmp_path / "titles.csv"
    manifest.write_text(text)
    return manifest


def test_good_manifest(tmp_path: Path, lavfi_clip: Path) -> None:
    manifest = _write(tmp_path, f"path,title\n{lavfi_clip},a\n{lavfi_clip.name},b\n")
    assert read_manifest(manifest) == [
        TitleSource(lavfi_clip, "a"),
        TitleSource(tmp_path / lavfi_clip.name, "b"),
    ]


def test_every_problem_is_listed(tmp_path: Path, lavfi_clip: Path) -> None:
    manifest = _write(tmp_path, f"path,title\n{lavfi_clip},a\nmissing.mp4,b\n{lavfi_clip},a\n,c\n")
    with pytest.raises(UsageError) as exc:
        read_manifest(manifest)
    message = str(exc.value)
    assert (
        "titles.csv" in message and "line 3:" in message and "missing.mp4 does not exist" in message
    )
    assert "line 4: duplicate title 'a'" in message and "line 5: empty path" in message


@pytest.mark.parametrize("text", ["file,title\nx.mp4,a\n", "path,title,bitrate\nx.mp4,a,1\n", ""])
def test_bad_columns(tmp_path: Path, text: str) -> None:
    with pytest.raises(UsageError, match="a manifest needs a 'path' column"):
        read_manifest(_write(tmp_path, text))


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(MediaNotFoundError, match="cannot read the manifest"):
        read_manifest(tmp_path / "nope.csv")


def test_empty_manifest(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="lists no title"):
        read_manifest(_write(tmp_path, "path,title\n"))


def test_cli_rejects_bad_manifest_before_work(run_cli, tmp_path: Path) -> None:
    manifest = _write(tmp_path, "path\nmissing.mp4\n")
    done = run_cli("ladder", "--manifest", str(manifest), "-o", str(tmp_path / "out"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "missing.mp4 does not exist" in done.stderr
    assert not (tmp_path / "out").exists()
