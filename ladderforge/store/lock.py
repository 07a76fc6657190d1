"""One run at a time per output folder: an OS lock on ``<folder>/.ladderforge.lock``.

:func:`folder_lock` holds an exclusive ``flock`` on that file for the length of a ``with``
block. The kernel releases it when the file is closed, so also when the process dies (killed,
crashed, out of memory): a dead run never leaves its folder locked, and there is nothing to
clean up by hand. The file itself stays (removing it would let two runs lock two different
files of the same name); the holder writes its pid into it, for the message of a run that
finds the folder busy.

Two runs on one folder would write the same results store, chunks and deliverables at once;
the batch (:func:`ladderforge.jobs.batch.run_batch`) and the sweep
(:func:`ladderforge.jobs.sweep.sweep`) take this lock, so library callers are kept apart too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from ladderforge.errors import BusyError, OutputError
from ladderforge.store.files import ensure_writable_dir

if sys.platform != "win32":
    import fcntl

__all__ = ["LOCK_NAME", "folder_lock"]

log = logging.getLogger(__name__)

LOCK_NAME = ".ladderforge.lock"
"""The lock file's name in the folder it guards."""


@contextlib.contextmanager
def folder_lock(
    folder: str | os.PathLike[str],
    *,
    wait: bool = False,
    on_wait: Callable[[int | None], None] | None = None,
) -> Iterator[Path]:
    """Hold ``folder``'s run lock for the block (the folder is created if needed); yields the
    lock file's path.

    When another run holds it -- another process, or another ``folder_lock`` on the same folder
    in this process (the lock is not re-entrant) -- raises :class:`BusyError` at once, naming
    the folder and the holder's pid; with ``wait``, blocks until it is released instead,
    calling ``on_wait(holder_pid)`` once before it blocks (the pid is None when unknown).
    On a file system without ``flock`` the block runs unlocked, with a warning.
    """
    root = ensure_writable_dir(Path(folder))
    path = root / LOCK_NAME
    if sys.platform == "win32":  # no flock: runs are not kept apart
        yield path
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise OutputError(f"{path}: cannot open the run lock ({exc.strerror})", path=path) from exc
    try:
        if _acquire(fd, root, wait=wait, on_wait=on_wait):
            with contextlib.suppress(OSError):  # the pid is only for messages
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock


def _acquire(
    fd: int, root: Path, *, wait: bool, on_wait: Callable[[int | None], None] | None
) -> bool:
    """Take the lock on ``fd``: True when held, False when the file system cannot lock."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        pass
    except OSError as exc:  # ENOLCK, EOPNOTSUPP: some network file systems
        log.warning("%s: cannot lock the folder (%s); not guarded against a second run", root, exc)
        return False
    holder = _read_pid(fd)
    if not wait:
        who = "another ladderforge run" + (f" (pid {holder})" if holder else "")
        raise BusyError(
            f"{root}: {who} holds this output folder; wait for it to end, pass --wait "
            "(wait=True) to queue behind it, or choose another output folder",
            path=root,
        )
    if on_wait is not None:
        on_wait(holder)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return True


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip())
    except (OSError, ValueError):
        return None
