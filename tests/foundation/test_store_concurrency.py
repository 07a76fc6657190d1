"""Results under concurrent writers (issue 15): the batch's results are one file per
content-addressed key, written by whichever worker made them through a temporary name and a
rename. Many processes writing the same keys at once never leave a torn or partial file, a
reader never sees one, and a chunk encode run twice at once (a retried task racing the
original) leaves one whole result that the next run reuses without encoding."""

from __future__ import annotations

import json
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ladderforge.encoder.chunks import Chunk, encode_chunk_task
from ladderforge.store import atomic_write_json
from ladderforge.types import EncodeSettings

KEYS = 8
ROUNDS = 25
BLOB = 200_000  # bytes per record: large enough that a torn write would be seen


def _writer(folder: str, writer: int) -> int:
    for r in range(ROUNDS):
        for k in range(KEYS):
            atomic_write_json(
                Path(folder) / f"{k:02d}.json", {"w": writer, "r": r, "b": "x" * BLOB}
            )
    return writer


def test_many_writers_of_the_same_keys_never_tear_a_record(tmp_path: Path) -> None:
    seen: list[str] = []
    stop = threading.Event()

    def read() -> None:  # a worker looking results up while others write them
        while not stop.is_set():
            for p in tmp_path.glob("[0-9]*.json"):
                try:
                    record = json.loads(p.read_text())
                except FileNotFoundError:
                    continue
                except ValueError:  # half a JSON document
                    seen.append(f"torn {p.name}")
                    continue
                seen.append("ok" if len(record["b"]) == BLOB else f"torn {p.name}")

    reader = threading.Thread(target=read)
    reader.start()
    ctx = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(4, mp_context=ctx) as pool:
            assert sorted(pool.map(_writer, [str(tmp_path)] * 4, range(4))) == [0, 1, 2, 3]
    finally:
        stop.set()
        reader.join()
    assert seen and set(seen) == {"ok"}
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"{k:02d}.json" for k in range(KEYS)]  # no partial file left
    for p in tmp_path.iterdir():
        record = json.loads(p.read_text())
        assert record["r"] == ROUNDS - 1 and len(record["b"]) == BLOB  # a whole last round


def _encode(source: str, out: str) -> tuple[int, bool]:
    settings = EncodeSettings(
        codec="x264", width=320, height=240, q=30, preset="ultrafast", gop=25, fixed_gop=True
    )
    result, now = encode_chunk_task(Path(source), Chunk(0, 25), settings, Path(out), 0, 120.0)
    return result.size_bytes, now


def test_a_chunk_encode_raced_by_its_retry_leaves_one_whole_result(
    lavfi_clip: Path, tmp_path: Path
) -> None:
    out = tmp_path / "chunks" / "0000000-0000025" / "x264-k.mp4"
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=ctx) as pool:
        runs = list(pool.map(_encode, [str(lavfi_clip)] * 2, [str(out)] * 2))
    sizes = {size for size, _ in runs}
    assert len(sizes) == 1  # both encodes made the same bytes; either rename leaves them whole
    assert out.stat().st_size in sizes
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["size_bytes"] == out.stat().st_size
    assert sorted(p.name for p in out.parent.iterdir()) == ["x264-k.json", "x264-k.mp4"]
    size, now = _encode(str(lavfi_clip), str(out))  # the next run: looked up, not encoded
    assert not now and size == out.stat().st_size
