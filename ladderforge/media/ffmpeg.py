"""The ffmpeg binary and the one function that runs it.

The binary comes from imageio-ffmpeg (it has libvmaf, libx265, libx264, libsvtav1 and the NVENC
encoders); ``LADDERFORGE_FFMPEG`` points at another build. :func:`run_ffmpeg` runs an argument
list (never a shell) with a timeout, feeds ffmpeg's ``-progress`` output to a callback, keeps
stderr for error messages and measures the child's own CPU seconds with ``os.wait4`` (safe when
several encodes run at once in threads, unlike ``RUSAGE_CHILDREN``).
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ladderforge.errors import FFmpegError, FFmpegNotFoundError, UsageError

__all__ = ["FFmpegRun", "check_timeout", "ffmpeg_path", "ffmpeg_version", "run_ffmpeg", "tail"]

ENV_FFMPEG = "LADDERFORGE_FFMPEG"
DEFAULT_TIMEOUT_S = 3600.0
ProgressCallback = Callable[[int], None]
"""Called with the number of frames ffmpeg has output so far."""


@functools.lru_cache(maxsize=4)
def _resolve(env_value: str | None) -> str:
    if env_value:
        found = shutil.which(env_value) if os.sep not in env_value else env_value
        if not found or not os.access(found, os.X_OK):
            raise FFmpegNotFoundError(
                f"{ENV_FFMPEG}={env_value!r} is not an executable ffmpeg; unset it to use the "
                "one from imageio-ffmpeg.",
                path=env_value,
            )
        return str(found)
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise FFmpegNotFoundError(
            "imageio-ffmpeg is not installed: pip install imageio-ffmpeg, or set "
            f"{ENV_FFMPEG} to an ffmpeg built with libvmaf."
        ) from exc
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def ffmpeg_path() -> str:
    """Path of the ffmpeg binary in use (``LADDERFORGE_FFMPEG`` or imageio-ffmpeg's)."""
    return _resolve(os.environ.get(ENV_FFMPEG) or None)


@functools.lru_cache(maxsize=4)
def _version_of(binary: str) -> str:
    out = subprocess.run(
        [binary, "-hide_banner", "-version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    first = out.stdout.splitlines()[0] if out.stdout else ""
    return first.replace("ffmpeg version ", "").split(" Copyright")[0].strip() or "unknown"


def ffmpeg_version() -> str:
    """ffmpeg's version string (e.g. ``9.0.2-static``)."""
    return _version_of(ffmpeg_path())


def check_timeout(timeout_s: object, *, function: str) -> float:
    """``timeout_s`` as a float when it is a finite number of seconds > 0, else a UsageError
    naming ``function``'s parameter."""
    if (
        isinstance(timeout_s, bool)
        or not isinstance(timeout_s, (int, float))
        or not math.isfinite(timeout_s)
        or timeout_s <= 0
    ):
        raise UsageError(
            f"The 'timeout_s' parameter of {function} must be a number of seconds > 0. "
            f"Got {timeout_s!r} instead."
        )
    return float(timeout_s)


def tail(text: str, lines: int = 12) -> str:
    """The last non-empty lines of a log."""
    kept = [line for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


@dataclass(frozen=True)
class FFmpegRun:
    """A finished ffmpeg process."""

    args: list[str]
    """The full argument list, binary first."""
    returncode: int
    """Exit code; negative for a signal."""
    stderr: str
    """Everything ffmpeg wrote to stderr."""
    wall_s: float
    """Wall-clock seconds."""
    cpu_s: float
    """User + system CPU seconds of the ffmpeg process."""


def run_ffmpeg(
    args: Sequence[str],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    on_progress: ProgressCallback | None = None,
    error_path: str | Path | None = None,
    error_message: str = "ffmpeg failed",
    error_type: type[FFmpegError] = FFmpegError,
    check: bool = True,
) -> FFmpegRun:
    """Run ffmpeg with ``args`` (without the binary) and return what happened.

    ``-progress pipe:1 -nostats`` is added so that ``on_progress`` gets frame counts. With
    ``check`` (the default) a non-zero exit, a kill or a timeout raises ``error_type`` naming
    ``error_path`` and carrying the command and ffmpeg's last lines.
    """
    timeout_s = check_timeout(timeout_s, function="run_ffmpeg")
    cmd = [ffmpeg_path(), "-hide_banner", "-nostdin", "-progress", "pipe:1", "-nostats", *args]
    timed_out = threading.Event()
    with tempfile.TemporaryFile() as err_file:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=err_file, stdin=subprocess.DEVNULL
        )

        def _kill() -> None:
            timed_out.set()
            try:
                proc.send_signal(signal.SIGKILL)
            except ProcessLookupError:  # already gone
                pass

        watchdog = threading.Timer(timeout_s, _kill)
        watchdog.daemon = True
        watchdog.start()
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                if on_progress is not None and raw.startswith(b"frame="):
                    try:
                        on_progress(int(raw[6:].strip() or 0))
                    except ValueError:
                        pass
            proc.stdout.close()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            watchdog.cancel()
        wall_s = time.perf_counter() - start
        err_file.seek(0)
        stderr = err_file.read().decode("utf-8", "replace")
    run = FFmpegRun(
        args=cmd,
        returncode=proc.returncode,
        stderr=stderr,
        wall_s=wall_s,
        cpu_s=usage.ru_utime + usage.ru_stime,
    )
    if check and run.returncode != 0:
        if timed_out.is_set():
            why = f"timed out after {timeout_s:g} s"
        elif run.returncode < 0:
            why = f"killed by signal {-run.returncode}"
        else:
            why = f"exit code {run.returncode}"
        last = tail(stderr, 1)
        message = (
            f"{error_path}: {error_message} ({why})" if error_path else f"{error_message} ({why})"
        )
        if last and not timed_out.is_set():
            message += f": {last}"
        raise error_type(message, path=error_path, command=cmd, log_tail=tail(stderr))
    return run
