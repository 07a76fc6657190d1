"""The work directory and atomic file writes.

Artifacts (encodes) live under content-addressed names (``<root>/encodes/ab/<key>.mp4``);
every file ladderforge writes goes to a temporary name in the same folder and is renamed into
place, so a reader never sees half a file and a killed run leaves no truncated output. Small
records go through :func:`atomic_write_bytes`/:func:`atomic_write_json`; a file written by a
tool (ffmpeg, PyAV, torch, pyarrow) or a whole folder through :func:`atomic_path` (or
:func:`atomic_paths` for several written together), the one place that builds such names.

Every temporary name carries the pid of the process writing it and a tag of its host
(``.<stem>.partial-<pid>-h<host>-...``), so :func:`remove_stale_partials` can clear what a killed
run left without touching the files a live process is still writing, on this machine or on
another one writing to the same shared folder (a pid is only checked on its own host).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ladderforge.errors import OutputError

__all__ = [
    "WorkDir",
    "atomic_path",
    "atomic_paths",
    "atomic_write_bytes",
    "atomic_write_json",
    "ensure_writable_dir",
    "partial_owner",
    "partial_path",
    "remove_stale_partials",
]


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
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.{_writer()}-", suffix=".tmp", dir=target.parent
    )
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


def _host_tag() -> str:
    """8 hex digits naming this machine (its host name hashed)."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _writer() -> str:
    return f"partial-{os.getpid()}-h{_host_tag()}"


def partial_path(target: str | os.PathLike[str], *, suffix: str | None = None) -> Path:
    """A fresh temporary name beside ``target``:
    ``.<stem>.partial-<pid>-h<host>-<random><suffix>``.

    ``suffix`` defaults to the target's, so a tool that picks the format from the extension
    (ffmpeg, PyAV) writes the right one; the pid and random part keep processes and threads apart.
    """
    out = Path(target)
    ext = out.suffix if suffix is None else suffix
    return out.with_name(f".{out.stem}.{_writer()}-{secrets.token_hex(4)}{ext}")


_PARTIAL = re.compile(r"\..+\.partial-(\d+)(?:-h([0-9a-f]{8}))?(?:[-.]|$)")
"""A temporary name of :func:`partial_path` or :func:`atomic_write_bytes` (also the older
``.<stem>.partial-<pid>[-<random>]<ext>`` without a host): group 1 is the writer's pid, group 2
its host tag."""


def partial_owner(name: str) -> int | None:
    """The pid of the process that made the temporary name ``name`` (a file name, no folder)
    when that process ran on this machine; None when it is not such a name, or when another
    host wrote it (its pid means nothing here)."""
    match = _PARTIAL.match(name)
    if not match or match.group(2) not in (None, _host_tag()):
        return None
    return int(match.group(1))


def _alive(pid: int) -> bool:
    """False only when no process ``pid`` exists (in doubt: alive, so nothing is removed)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # PermissionError: someone else's live process
        return True
    return True


def remove_stale_partials(folder: str | os.PathLike[str]) -> int:
    """Remove, anywhere under ``folder``, the temporary files and folders (see
    :func:`partial_path`) whose writer is dead: a run that was killed before it could rename or
    remove them. The writer is the pid in the name; a partial of a live process (this one
    included) is never touched, nor anything inside it. Returns how many were removed (0 when
    ``folder`` does not exist)."""
    removed = 0
    for root, dirs, files in os.walk(folder):
        for name in [*dirs, *files]:
            pid = partial_owner(name)
            if pid is None:
                continue
            if name in dirs:
                dirs.remove(name)  # never walk into a partial folder, live or stale
            if pid > 0 and not _alive(pid):
                _discard(Path(root) / name)
                removed += 1
    return removed


def _discard(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def _install(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` onto ``target``; a folder replaces a folder (the old one moved aside first,
    put back if the new one cannot take its place, removed after)."""
    try:
        if not (tmp.is_dir() and target.is_dir()):
            os.replace(tmp, target)
            return
        old = partial_path(target, suffix=".old")
        os.replace(target, old)
        try:
            os.replace(tmp, target)
        except OSError:
            os.replace(old, target)
            raise
        shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if not tmp.exists():
            reason = f"nothing was written to the temporary {tmp.name}"
        raise OutputError(
            f"{target}: cannot move the finished file into place ({reason})", path=target
        ) from exc


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], *, suffix: str | None = None) -> Iterator[Path]:
    """Write ``target`` atomically: yields a temporary path beside it (see :func:`partial_path`)
    for the block to write (a file, or a folder it creates), renamed onto ``target`` when the
    block ends normally and removed when it raises (any exception, including a timeout or
    Ctrl-C), so ``target`` is either the old content or the whole new one, never a part.

    The target's folder is created if needed (:class:`OutputError` if it cannot be written; also
    when the rename fails). No fsync: readers never see a part, but after a power cut the file
    may be empty; :func:`atomic_write_bytes` syncs, for small records.

    Example::

        with atomic_path(out) as tmp:
            run_ffmpeg([..., str(tmp)])
    """
    out = Path(target)
    ensure_writable_dir(out.parent)
    tmp = partial_path(out, suffix=suffix)
    try:
        yield tmp
        _install(tmp, out)
    finally:
        _discard(tmp)  # after a failure; after a rename there is nothing left to remove


@contextlib.contextmanager
def atomic_paths(
    targets: Sequence[str | os.PathLike[str]], *, suffix: str | None = None
) -> Iterator[list[Path]]:
    """:func:`atomic_path` for several files written together (one ffmpeg run with several
    outputs): yields their temporary paths in order; all are renamed when the block ends
    normally, all removed when it raises."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(atomic_path(t, suffix=suffix)) for t in targets]


class WorkDir:
    """Content-addressed artifacts of a batch under ``root``."""

    def __init__(self, root: str | Path) -> None:
        self.root = ensure_writable_dir(root)

    def encode_path(self, key: str, suffix: str = ".mp4") -> Path:
        """Where the encode with this store key lives."""
        folder = self.root / "encodes" / key[:2]
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{key}{suffix}"
