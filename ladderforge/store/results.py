"""The results store: SQLite (stdlib, WAL), one row per encode and per measurement.

Rows are keyed by a hash of everything that changes the result: the source's content hash, the
encode settings, the tool versions and, for measurements, the metric configuration. Each row is
committed the moment its job ends, so a killed batch resumes without redoing finished work.
The store is safe to share between the threads of one process (one connection, one lock).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ladderforge.errors import OutputError, StoreError
from ladderforge.types import EncodeResult, QualityResult

__all__ = ["SCHEMA_VERSION", "ResultsStore", "encode_key", "measure_key"]

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS encodes (
    key TEXT PRIMARY KEY, source_hash TEXT NOT NULL, title TEXT NOT NULL,
    settings TEXT NOT NULL, tool_version TEXT NOT NULL, result TEXT NOT NULL,
    created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS measurements (
    key TEXT PRIMARY KEY, encode_key TEXT NOT NULL, source_hash TEXT NOT NULL,
    config TEXT NOT NULL, tool_version TEXT NOT NULL, result TEXT NOT NULL,
    created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS encodes_by_source ON encodes(source_hash);
"""


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def encode_key(source_hash: str, settings_key: str, tool_version: str) -> str:
    """Key of an encode: source content + settings + encoder tool version. /2: x265 streams
    carry no options SEI (``info=0``); a /1 encode's size counts its 2.2-2.3 KB."""
    return _digest("encode/2", source_hash, settings_key, tool_version)


def measure_key(encode_key_: str, config: dict[str, Any], tool_version: str) -> str:
    """Key of a measurement: the encode + every metric parameter + tool version."""
    return _digest("measure/1", encode_key_, json.dumps(config, sort_keys=True), tool_version)


class ResultsStore:
    """Encodes and measurements of one batch folder, in ``<path>`` (SQLite).

    Thread-safe within one process. Open with ``ResultsStore(path)``; use as a context manager
    or call :meth:`close`.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
            self._check_schema()
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{self.path}: not a usable results store ({exc})", path=self.path
            ) from exc
        except OSError as exc:
            raise OutputError(
                f"{self.path}: cannot create the results store ({exc.strerror})", path=self.path
            ) from exc
        self._lock = threading.Lock()

    def _check_schema(self) -> None:
        row = self._conn.execute("SELECT value FROM meta WHERE name='schema'").fetchone()
        if row is None:
            with self._conn:
                self._conn.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) != SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: results store of schema {row[0]}, this ladderforge uses "
                f"{SCHEMA_VERSION}; use another output folder",
                path=self.path,
            )

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        try:
            with self._lock, self._conn:
                self._conn.execute(sql, params)
        except sqlite3.OperationalError as exc:
            raise OutputError(
                f"{self.path}: cannot write the results store ({exc})", path=self.path
            ) from exc

    def _read_one(self, sql: str, params: tuple[Any, ...]) -> Any:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    def put_encode(
        self, key: str, *, source_hash: str, title: str, tool_version: str, result: EncodeResult
    ) -> None:
        """Record a finished encode (committed at once)."""
        self._write(
            "INSERT OR REPLACE INTO encodes VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                source_hash,
                title,
                result.settings.key(),
                tool_version,
                json.dumps(result.to_dict()),
                time.time(),
            ),
        )

    def get_encode(self, key: str) -> EncodeResult | None:
        row = self._read_one("SELECT result FROM encodes WHERE key=?", (key,))
        return EncodeResult.from_dict(json.loads(row[0])) if row else None

    def put_measurement(
        self,
        key: str,
        *,
        encode_key: str,
        source_hash: str,
        config: dict[str, Any],
        tool_version: str,
        result: QualityResult,
    ) -> None:
        """Record a finished measurement (committed at once)."""
        self._write(
            "INSERT OR REPLACE INTO measurements VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                encode_key,
                source_hash,
                json.dumps(config, sort_keys=True),
                tool_version,
                json.dumps(result.to_dict()),
                time.time(),
            ),
        )

    def get_measurement(self, key: str) -> QualityResult | None:
        row = self._read_one("SELECT result FROM measurements WHERE key=?", (key,))
        return QualityResult.from_dict(json.loads(row[0])) if row else None

    def count(self, table: str) -> int:
        """Rows in ``encodes`` or ``measurements``."""
        if table not in ("encodes", "measurements"):
            raise ValueError(f"unknown table {table!r}")
        return int(self._read_one(f"SELECT COUNT(*) FROM {table}", ())[0])

    def encodes(self) -> Iterator[tuple[str, str, EncodeResult, float]]:
        """(key, title, result, created_at) of every stored encode."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, title, result, created_at FROM encodes ORDER BY created_at"
            ).fetchall()
        for key, title, result, created in rows:
            yield key, title, EncodeResult.from_dict(json.loads(result)), created

    def measured(self, title: str | None = None) -> list[tuple[str, EncodeResult, QualityResult]]:
        """(title, encode, measurement) of every measured encode (of one title when given)."""
        sql = (
            "SELECT e.title, e.result, m.result FROM encodes e JOIN measurements m "
            "ON m.encode_key = e.key"
        )
        params: tuple[Any, ...] = ()
        if title is not None:
            sql, params = sql + " WHERE e.title = ?", (title,)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY e.created_at", params).fetchall()
        return [
            (t, EncodeResult.from_dict(json.loads(e)), QualityResult.from_dict(json.loads(q)))
            for t, e, q in rows
        ]
