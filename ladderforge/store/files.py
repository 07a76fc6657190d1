"""The work directory and atomic file writes.

Artifacts (encodes) live under content-addressed names (``<root>/encodes/ab/<key>.mp4``);
every file ladderforge writes goes to a temporary name in the same folder and is renamed into
place, so a reader never sees half a file and a killed run leaves no truncated output.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ladderforge.errors import OutputError

__all__ = ["WorkDir", "atomic_write_bytes", "atomic_write_json", "ensure_writable_dir"]


def ensure_writable_dir(folder: str | Path) -> Path:
    """Create ``folder`` if needed; an OutputError naming it when it cannot be written."""
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: exists and is not a folder", path=path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create the folder ({exc.strerror})", path=path) from exc
    if not os.access(path, os.W_OK):
        raise OutputError(f"{path}: the folder is not writable (read-only?)", path=path)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    target = Path(path)
    ensure_writable_dir(target.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(f"{target}: cannot write ({exc.strerror})", path=target) from exc
    return target


def atomic_write_json(path: str | Path, data: Any) -> Path:
    """Write ``data`` as indented JSON, atomically."""
    return atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode())


class WorkDir:
    """Content-addressed artifacts of a batch under ``root``."""

    def __init__(self, root: str | Path) -> None:
        self.root = ensure_writable_dir(root)

    def encode_path(self, key: str, suffix: str = ".mp4") -> Path:
        """Where the encode with this store key lives."""
        folder = self.root / "encodes" / key[:2]
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{key}{suffix}"
