"""The output folder's run lock and the clean-up of partial files a killed run left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ladderforge.errors import BusyError
from ladderforge.store import atomic_write_bytes, folder_lock, remove_stale_partials
from ladderforge.store.files import partial_owner, partial_path
from ladderforge.store.lock import LOCK_NAME


def dead_pid() -> int:
    """The pid of a process that has finished (and been reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    return int(done.stdout)


@pytest.mark.parametrize(
    ("name", "pid"),
    [
        (".clip.partial-123-deadbeef.mp4", 123),
        (".clip.partial-123.mp4", 123),  # the older names, without the random part
        (".720p.partial-45-0a1b2c3d", 45),  # a folder
        (".master.partial-7-0a1b2c3d.old", 7),  # a folder moved aside by atomic_path
        (".summary.parquet.partial-9-x_y1z2ab.tmp", 9),  # atomic_write_bytes
        ("clip.partial-123-deadbeef.mp4", None),  # not hidden: not one of ours
        (".clip.partial-abc.mp4", None),
        (".clip.mp4", None),
        ("clip.mp4", None),
    ],
)
def test_partial_owner(name: str, pid: int | None) -> None:
    assert partial_owner(name) == pid


def test_a_partial_of_another_host_is_never_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a folder shared by several machines a pid means nothing off its own host: the
    partial file of a dead pid here is removed, the same pid written elsewhere is not."""
    pid = dead_pid()
    here = tmp_path / partial_path(tmp_path / "clip.mp4").name.replace(str(os.getpid()), str(pid))
    here.write_bytes(b"x")
    monkeypatch.setattr("socket.gethostname", lambda: "another-worker")
    there = partial_path(tmp_path / "clip.mp4")
    there = there.with_name(there.name.replace(str(os.getpid()), str(pid)))
    there.write_bytes(b"x")
    monkeypatch.undo()
    assert partial_owner(here.name) == pid and partial_owner(there.name) is None
    assert remove_stale_partials(tmp_path) == 1
    assert not here.exists() and there.exists()


def test_every_temporary_name_carries_the_pid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert partial_owner(partial_path(tmp_path / "clip.mp4").name) == os.getpid()
    seen: list[str] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        seen.append(Path(src).name)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    atomic_write_bytes(tmp_path / "summary.parquet", b"x")
    assert [partial_owner(n) for n in seen] == [os.getpid()]


def test_only_the_partials_of_dead_processes_are_removed(tmp_path: Path) -> None:
    dead, live = dead_pid(), os.getpid()
    sub = tmp_path / "chunks" / "720"
    sub.mkdir(parents=True)
    stale = [
        tmp_path / f".bikes.partial-{dead}-deadbeef.mp4",
        sub / f".0003.partial-{dead}.mp4",
        tmp_path / f".bikes.ladder.json.partial-{dead}-abc_12xy.tmp",
    ]
    stale_folder = tmp_path / f".272p.partial-{dead}-0a1b2c3d"
    kept = [
        tmp_path / f".bikes.partial-{live}-deadbeef.mp4",
        sub / "0003.mp4",
        tmp_path / ".hidden",
        tmp_path / "clip.partial-1-00000000.mp4",
    ]
    live_folder = tmp_path / f".136p.partial-{live}-0a1b2c3d"
    for path in [*stale, *kept]:
        path.write_bytes(b"x")
    for folder in (stale_folder, live_folder):
        (folder / "seg").mkdir(parents=True)
        (folder / "seg" / "0.m4s").write_bytes(b"x")
    inside_live = live_folder / f".0.partial-{dead}-00000000.m4s"  # its writer's business
    inside_live.write_bytes(b"x")

    assert remove_stale_partials(tmp_path) == len(stale) + 1
    assert not any(p.exists() for p in [*stale, stale_folder])
    assert all(p.exists() for p in [*kept, inside_live, live_folder / "seg" / "0.m4s"])
    assert remove_stale_partials(tmp_path) == 0
    assert remove_stale_partials(tmp_path / "missing") == 0


def test_a_second_holder_is_refused_at_once(tmp_path: Path) -> None:
    with folder_lock(tmp_path / "out") as lock:
        assert lock == tmp_path / "out" / LOCK_NAME
        with pytest.raises(BusyError) as exc, folder_lock(tmp_path / "out"):
            pass
    message = str(exc.value)
    assert message.startswith(f"{tmp_path / 'out'}: another ladderforge run (pid {os.getpid()})")
    assert "--wait" in message and isinstance(exc.value, RuntimeError)
    with folder_lock(tmp_path / "out"):  # released at the end of the block
        pass


def test_wait_blocks_until_the_holder_releases(tmp_path: Path) -> None:
    waited: list[int | None] = []
    acquired = threading.Event()

    def second() -> None:
        with folder_lock(tmp_path, wait=True, on_wait=waited.append):
            acquired.set()

    with folder_lock(tmp_path):
        thread = threading.Thread(target=second, daemon=True)
        thread.start()
        assert not acquired.wait(1.0)
        assert waited == [os.getpid()]
    assert acquired.wait(30)
    thread.join(30)


def test_the_kernel_releases_the_lock_of_a_killed_run(tmp_path: Path) -> None:
    code = (
        "import sys, time\n"
        "from ladderforge.store import folder_lock\n"
        "with folder_lock(sys.argv[1]):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(120)\n"
    )
    with subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE,
                          text=True) as proc:  # fmt: skip
        try:
            assert proc.stdout is not None and proc.stdout.readline() == "held\n"
            with pytest.raises(BusyError, match=f"pid {proc.pid}"), folder_lock(tmp_path):
                pass
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(60)
    with folder_lock(tmp_path):
        pass
