"""atomic_path / atomic_paths: a target is the old content or the whole new one, never a part."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ladderforge.errors import OutputError
from ladderforge.store.files import atomic_path, atomic_paths


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_renamed_onto_the_target_on_success(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "clip.mkv"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and not target.exists()
        assert tmp.name.startswith(f".clip.partial-{os.getpid()}-") and tmp.suffix == ".mkv"
        tmp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole"
    assert _listing(target.parent) == ["clip.mkv"]


def test_suffix_can_be_chosen_and_names_do_not_collide(tmp_path: Path) -> None:
    target = tmp_path / "model.pt"
    with atomic_path(target, suffix=".tmp") as one, atomic_path(target, suffix=".tmp") as two:
        assert one.suffix == two.suffix == ".tmp" and one != two
        one.write_bytes(b"1")
        two.write_bytes(b"2")
    assert target.read_bytes() == b"1"  # the outer block ends last
    assert _listing(tmp_path) == ["model.pt"]


def test_removed_on_exception_and_the_old_file_kept(tmp_path: Path) -> None:
    target = tmp_path / "clip.mkv"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert _listing(tmp_path) == ["clip.mkv"]


def test_removed_on_keyboard_interrupt(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), atomic_path(tmp_path / "x.mp4") as tmp:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert _listing(tmp_path) == []


def test_nothing_written_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="nothing was written"), atomic_path(tmp_path / "x"):
        pass
    assert _listing(tmp_path) == []


def test_a_folder_is_swapped_in_whole(tmp_path: Path) -> None:
    target = tmp_path / "hls"
    target.mkdir()
    (target / "stale.m4s").write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "seg_00000.m4s").write_bytes(b"half")
        raise RuntimeError
    assert _listing(target) == ["stale.m4s"] and _listing(tmp_path) == ["hls"]
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "index.m3u8").write_text("#EXTM3U\n")
    assert _listing(target) == ["index.m3u8"] and _listing(tmp_path) == ["hls"]


def test_an_unwritable_folder_is_an_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(OutputError, match="not a folder"), atomic_path(blocker / "x.mkv"):
        pass


def test_several_files_all_or_none(tmp_path: Path) -> None:
    targets = [tmp_path / "a.mkv", tmp_path / "b.mkv"]
    with pytest.raises(ValueError), atomic_paths(targets) as tmps:
        for tmp in tmps:
            tmp.write_bytes(b"half")
        raise ValueError
    assert _listing(tmp_path) == []
    with atomic_paths(targets) as tmps:
        assert [t.suffix for t in tmps] == [".mkv", ".mkv"]
        for tmp, data in zip(tmps, (b"a", b"b"), strict=True):
            tmp.write_bytes(data)
    assert [t.read_bytes() for t in targets] == [b"a", b"b"]
    assert _listing(tmp_path) == ["a.mkv", "b.mkv"]
