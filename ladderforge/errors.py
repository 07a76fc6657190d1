"""The one exception tree of ladderforge.

Every external failure (a bad file, an ffmpeg error, a missing encoder, an unwritable folder)
becomes a :class:`LadderforgeError` subclass. Each subclass also inherits the matching built-in
(as PyAV does), so ``except FileNotFoundError`` keeps working for callers who expect it.

A message is one line that names the file and the cause and, where it helps, says what to do;
the ffmpeg command and ffmpeg's last lines ride along as attributes and are shown by the CLI
under the message.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "BusyError",
    "ClusterError",
    "EncodeError",
    "EncoderUnavailableError",
    "FFmpegError",
    "FFmpegNotFoundError",
    "FrameCountMismatchError",
    "InvalidMediaError",
    "LadderforgeError",
    "MeasureError",
    "MediaNotFoundError",
    "ModelError",
    "OutputError",
    "StoreError",
    "UnsupportedMediaError",
    "UsageError",
]


class LadderforgeError(Exception):
    """Root of every error ladderforge raises on purpose.

    Attributes:
        path: the file the error is about, when there is one.
        command: the external command that failed (argument list), when there is one.
        log_tail: the last lines the external tool wrote to stderr.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        command: Sequence[str] | None = None,
        log_tail: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = Path(path) if path is not None else None
        self.command = list(command) if command is not None else None
        self.log_tail = log_tail

    def details(self) -> str:
        """The message followed by the command and the tool's last lines (for logs and the CLI)."""
        parts = [self.message]
        if self.command:
            parts.append("command: " + " ".join(_quote(a) for a in self.command))
        if self.log_tail:
            parts.append("last lines:\n" + self.log_tail.rstrip())
        return "\n".join(parts)


def _quote(arg: str) -> str:
    return repr(arg) if (not arg or any(c in arg for c in " '\"\\")) else arg


class UsageError(LadderforgeError, ValueError):
    """A parameter or argument that cannot be used (bad CRF range, unknown codec...)."""

    @classmethod
    def parameter(cls, where: str, name: str, rule: str, value: object) -> UsageError:
        """``The 'name' parameter of where must be rule. Got value instead.``"""
        return cls(f"The '{name}' parameter of {where} must be {rule}. Got {value!r} instead.")


class MediaNotFoundError(LadderforgeError, FileNotFoundError):
    """The input path does not exist or is not a regular file."""


class InvalidMediaError(LadderforgeError, ValueError):
    """The file exists but is not decodable video: empty, truncated, corrupt, audio only."""


class UnsupportedMediaError(InvalidMediaError):
    """Decodable video that ladderforge cannot handle (pixel format, dimensions...)."""


class FFmpegNotFoundError(LadderforgeError, FileNotFoundError):
    """No usable ffmpeg binary."""


class FFmpegError(LadderforgeError, RuntimeError):
    """ffmpeg ran and failed (non-zero exit, killed, timed out)."""


class EncoderUnavailableError(LadderforgeError, RuntimeError):
    """The requested encoder cannot run on this machine (e.g. NVENC without an NVIDIA GPU)."""


class EncodeError(FFmpegError):
    """An encode failed or produced an output that does not check out."""


class MeasureError(FFmpegError):
    """A quality measurement failed."""


class FrameCountMismatchError(MeasureError, ValueError):
    """Reference and distorted videos do not have the same number of frames."""


class OutputError(LadderforgeError, OSError):
    """An output file or folder cannot be written (read-only, full, not a folder)."""


class BusyError(LadderforgeError, RuntimeError):
    """Another run holds the output folder (one run at a time per folder)."""


class StoreError(LadderforgeError, RuntimeError):
    """The results store is unreadable, locked or of another schema."""


class ClusterError(LadderforgeError, ConnectionError):
    """The dask cluster cannot be reached or started, its workers cannot unpickle a task, or
    the ``distributed`` extra is missing."""


class ModelError(LadderforgeError, ValueError):
    """A learned model file is missing, corrupt or of another version."""
