"""Issue 17, item 9 (the rest): ``--timeout`` bounds every ffmpeg run of ``ladder``, a FIFO given
as ``--manifest`` is refused at once, and PyAV gives up on a source that stops answering (an
error naming it, never a short frame count)."""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import av
import pytest

from ladderforge.errors import InvalidMediaError, UsageError
from ladderforge.jobs.config import LadderConfig
from ladderforge.media import probe

# the module (``ladderforge.media.probe`` the attribute is the function)
probe_module = importlib.import_module("ladderforge.media.probe")


def _flat(done: subprocess.CompletedProcess[str]) -> str:
    return " ".join((done.stdout + done.stderr).split())


def test_ladder_timeout_reaches_the_job(run_cli: Any, lavfi_clip: Path, tmp_path: Path) -> None:
    done = run_cli(
        "ladder", str(lavfi_clip), "-o", str(tmp_path / "out"), "--mode", "predict",
        "--heights", "120", "--encode", "--timeout", "0.001", "--no-audio",
    )  # fmt: skip
    assert done.returncode == 3  # the title failed, reported at the end
    assert "Traceback" not in done.stdout + done.stderr
    assert "timed out after 0.001 s" in _flat(done)


@pytest.mark.parametrize("bad", [0, -1, float("nan")])
def test_ladder_timeout_must_be_positive(bad: float) -> None:
    with pytest.raises(UsageError, match="'timeout_s' parameter of LadderConfig"):
        LadderConfig(timeout_s=bad)


def test_a_fifo_manifest_is_refused_at_once(run_cli: Any, tmp_path: Path) -> None:
    fifo = tmp_path / "titles.csv"
    os.mkfifo(fifo)
    try:
        done = run_cli("ladder", "--manifest", str(fifo), "-o", str(tmp_path / "out"), timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("ladder --manifest FIFO blocked instead of refusing it")
    assert done.returncode != 0
    assert "Traceback" not in done.stdout + done.stderr
    assert "titles.csv: cannot read the manifest (is a named pipe (FIFO), not a regular file" in (
        _flat(done)
    )


def test_pyav_gives_up_on_a_stalled_source() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def accept_and_stall() -> None:
        conn, _ = server.accept()
        conn.recv(4096)
        time.sleep(20)  # answers nothing
        conn.close()

    threading.Thread(target=accept_and_stall, daemon=True).start()
    start = time.monotonic()
    with pytest.raises(av.error.ExitError):
        probe_module.open_av(f"http://127.0.0.1:{port}/clip.mp4", timeout_s=(1.0, 1.0))
    assert time.monotonic() - start < 10
    server.close()


def test_a_read_that_stalls_is_an_error_not_a_short_count(
    lavfi_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = probe_module.open_av

    class Stalling:
        """A container whose demuxing gives up after 5 packets, as PyAV does on a timeout."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def __enter__(self) -> Stalling:
            return self

        def __exit__(self, *exc: object) -> None:
            self.inner.close()

        def demux(self, *args: Any) -> Any:
            for i, packet in enumerate(self.inner.demux(*args)):
                if i == 5:
                    raise av.error.ExitError(-1414092869, "Immediate exit requested")
                yield packet

    calls = {"n": 0}

    def second_open_stalls(url: str, **kwargs: Any) -> Any:
        calls["n"] += 1  # probe opens twice: the first frame, then the packet count
        container = real_open(url, **kwargs)
        return Stalling(container) if calls["n"] == 2 else container

    monkeypatch.setattr(probe_module, "open_av", second_open_stalls)
    with pytest.raises(InvalidMediaError, match="reading it stalled"):
        probe(lavfi_clip)
