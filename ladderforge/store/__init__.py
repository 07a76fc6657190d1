"""Results store (SQLite, WAL), work directory with atomic writes, the output folder's run lock."""

from ladderforge.store.files import (
    WorkDir,
    atomic_path,
    atomic_paths,
    atomic_write_bytes,
    atomic_write_json,
    ensure_writable_dir,
    remove_stale_partials,
)
from ladderforge.store.lock import folder_lock
from ladderforge.store.results import ResultsStore, encode_key, measure_key

__all__ = [
    "ResultsStore",
    "WorkDir",
    "atomic_path",
    "atomic_paths",
    "atomic_write_bytes",
    "atomic_write_json",
    "encode_key",
    "ensure_writable_dir",
    "folder_lock",
    "measure_key",
    "remove_stale_partials",
]
