"""A FIFO, a device or a symlink loop where a file is expected is refused at once, never read
(a read would block forever or never end); ``--timeout`` bounds every ffmpeg run of measure
and sweep."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest

from ladderforge.errors import MediaNotFoundError, ModelError
from ladderforge.media import probe
from ladderforge.policy.models import load_model

QUICK_S = 20.0
"""Generous for a refusal that takes milliseconds: the machine may be busy."""


def _flat(done: subprocess.CompletedProcess[str]) -> str:
    return " ".join((done.stdout + done.stderr).split())


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    """A named pipe nobody writes to: opening it for reading blocks."""
    path = tmp_path / "pipe.mp4"
    os.mkfifo(path)
    return path


def _returns_quickly(func, fifo: Path) -> BaseException | None:
    """Run ``func`` in a thread; fail the test (after unblocking the thread) if it blocks."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            func()
            outcome.append(None)
        except BaseException as exc:  # handed back to the test
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(QUICK_S)
    if thread.is_alive():
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # lets the blocked reader go
        os.close(fd)
        thread.join(QUICK_S)
        pytest.fail(f"blocked on the FIFO {fifo} for {QUICK_S:g} s instead of refusing it")
    return outcome[0]


def test_probe_refuses_a_fifo(fifo: Path) -> None:
    exc = _returns_quickly(lambda: probe(fifo), fifo)
    assert isinstance(exc, MediaNotFoundError)
    assert str(exc) == f"{fifo}: is a named pipe (FIFO), not a regular file"


def test_probe_refuses_a_device() -> None:
    with pytest.raises(MediaNotFoundError, match="/dev/zero: is a character device"):
        probe("/dev/zero")


def test_load_model_refuses_a_fifo(fifo: Path) -> None:
    exc = _returns_quickly(lambda: load_model(fifo), fifo)
    assert isinstance(exc, ModelError), exc
    assert f"{fifo}: is a named pipe (FIFO)" in str(exc) and "\n" not in str(exc)


def test_load_model_refuses_a_device_and_a_folder(tmp_path: Path) -> None:
    # /dev/null, not /dev/zero: without the check, reading /dev/zero fills the memory
    with pytest.raises(ModelError, match="/dev/null: is a character device"):
        load_model("/dev/null")
    with pytest.raises(ModelError, match="is a directory"):
        load_model(tmp_path)


def test_cli_ladder_model_fifo_returns_at_once(
    run_cli, fifo: Path, lavfi_clip: Path, tmp_path: Path
) -> None:
    try:
        done = run_cli(
            "ladder", str(lavfi_clip), "-o", str(tmp_path / "out"), "--mode", "predict",
            "--model", str(fifo), timeout=120,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("ladder --model FIFO blocked instead of refusing the FIFO")
    assert done.returncode != 0
    assert "Traceback" not in done.stdout + done.stderr
    assert f"{fifo.name}: is a named pipe (FIFO), not a regular file" in _flat(done)


def test_cli_measure_timeout(run_cli, lavfi_clip: Path) -> None:
    done = run_cli("measure", str(lavfi_clip), str(lavfi_clip), "--timeout", "0.001")
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert "timed out after 0.001 s" in _flat(done)


@pytest.mark.parametrize("command", ["measure", "sweep"])
def test_cli_timeout_must_be_positive(
    run_cli, lavfi_clip: Path, tmp_path: Path, command: str
) -> None:
    args = [str(lavfi_clip), str(lavfi_clip)] if command == "measure" else [str(lavfi_clip)]
    if command == "sweep":
        args += ["-o", str(tmp_path / "out")]
    done = run_cli(command, *args, "--timeout", "0")
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert f"The 'timeout_s' parameter of {command} must be a number of seconds > 0" in _flat(done)
    assert not (tmp_path / "out").exists()


def test_cli_sweep_timeout_reaches_the_encodes(run_cli, lavfi_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = run_cli(
        "sweep", str(lavfi_clip), "-o", str(out), "--heights", "120", "--crf", "30",
        "--timeout", "0.001",
    )  # fmt: skip
    assert done.returncode != 0
    assert "Traceback" not in done.stdout + done.stderr
    assert "timed out after 0.001 s" in _flat(done)


def test_probe_names_a_symlink_loop(tmp_path: Path) -> None:
    loop = tmp_path / "loop.mp4"
    loop.symlink_to(loop)
    with pytest.raises(MediaNotFoundError, match="loop.mp4: is a symlink loop"):
        probe(loop)
