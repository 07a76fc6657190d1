"""Results store (SQLite, WAL) and work directory with atomic writes."""

from ladderforge.store.files import (
    WorkDir,
    atomic_path,
    atomic_paths,
    atomic_write_bytes,
    atomic_write_json,
    ensure_writable_dir,
)
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
    "measure_key",
]
