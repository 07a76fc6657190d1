"""Chunked encoding: a title cut into chunks at its scene cuts, each chunk encoded on its own
(with its own settings, e.g. a CRF per scene), the chunks joined without re-encoding.

- :func:`plan_chunks` turns scene cuts into chunks: scenes shorter than ``min_chunk_s`` merge
  into their shorter neighbour, scenes longer than ``max_chunk_s`` are split into the fewest
  equal parts no longer than it (the duration grid; a title without cuts gets only that grid).
- :func:`split_source` decodes the title once and writes every chunk as a lossless FFV1 file
  with :func:`ladderforge.media.segments.cut_ffv1` (``trim`` by frame number: frame-exact,
  unlike the segment muxer, which cuts on time).
- :func:`encode_chunked` encodes the chunks in parallel, each starting on an IDR frame with no
  other keyframe (``EncodeSettings.fixed_gop``), so every rung made from the same chunks has its
  keyframes in the same places. A finished chunk is kept under a name derived from its settings,
  so a rerun encodes only the chunks that are missing (chunk-level resume). A chunk that fails
  is retried once; a second failure fails the title naming the chunk.
- Where the chunk encodes run is the caller's choice: threads of this process (``workers``), or
  a :class:`ChunkRunner` that spreads them as tasks (e.g. over a dask cluster's workers); each
  task is :func:`encode_chunk_task`, which looks its content-addressed result up first, so a
  task run twice (retried after a lost worker) encodes once.
- The chunks are joined with ffmpeg's concat demuxer (``-c copy``) and the result is checked:
  frame count equal to the source's, timestamps strictly increasing, IDR keyframes exactly on
  the chunk starts. A join that does not match is an error, never a silently short file.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ladderforge.encoder.base import get_encoder
from ladderforge.encoder.run import check_available, encode
from ladderforge.encoder.verify import check_rendition, join_tag
from ladderforge.errors import EncodeError, UsageError
from ladderforge.media.ffmpeg import DEFAULT_TIMEOUT_S, run_ffmpeg
from ladderforge.media.segments import Cut, cut_ffv1
from ladderforge.store import atomic_path, atomic_write_json
from ladderforge.types import EncodeResult, EncodeSettings, SourceInfo

__all__ = [
    "Chunk",
    "ChunkRunner",
    "ChunkedEncode",
    "encode_chunk_task",
    "encode_chunked",
    "join_chunks",
    "plan_chunks",
    "split_source",
]

log = logging.getLogger(__name__)
ChunkCallback = Callable[[int, int], None]
"""Called with (chunks done, chunks in all) as chunks finish."""
_CHUNK_FORMAT = 2
"""Bumped when the backends' chunk arguments change, so older chunk encodes are not reused."""
_T = TypeVar("_T")


class ChunkRunner(Protocol):
    """Runs a title's chunk encodes somewhere else than this process's threads.

    Contract: ``runner(fn, calls, on_done)`` runs ``fn(*args)`` once for each ``(key, args)`` of
    ``calls`` (``key`` names the task, unique per output file, the same on every run), in any
    order and place, calls ``on_done()`` in the calling thread as each one finishes, and returns
    the results in the order of ``calls``. The first task that fails for good raises its
    exception. ``fn`` and ``args`` are picklable; ``fn`` is idempotent (it looks its result up
    before encoding), so running a task again after a lost worker is safe.
    """

    def __call__(
        self,
        fn: Callable[..., _T],
        calls: Sequence[tuple[str, tuple[Any, ...]]],
        on_done: Callable[[], None],
    ) -> list[_T]: ...


@dataclass(frozen=True)
class Chunk:
    """Frames ``[start, end)`` of a title, encoded on their own."""

    start: int
    end: int

    @property
    def frames(self) -> int:
        return self.end - self.start

    @property
    def name(self) -> str:
        return f"{self.start:07d}-{self.end:07d}"


def plan_chunks(
    cuts: Sequence[int],
    frame_count: int,
    fps: float,
    *,
    min_chunk_s: float = 1.0,
    max_chunk_s: float | None = 6.0,
) -> list[Chunk]:
    """Chunks covering ``[0, frame_count)`` whose boundaries are scene cuts or grid points.

    ``cuts`` are the first frames of scenes (0 and out-of-range values are ignored). Every rung
    of a title must use the same chunks.
    """
    if frame_count <= 0:
        raise UsageError(f"plan_chunks needs a title with frames. Got frame_count={frame_count}.")
    if not fps > 0 or not min_chunk_s >= 0:
        raise UsageError(
            f"plan_chunks needs fps > 0 and min_chunk_s >= 0. Got {fps}, {min_chunk_s}."
        )
    if max_chunk_s is not None and max_chunk_s < 2 * min_chunk_s:
        raise UsageError(
            "The 'max_chunk_s' parameter must be at least twice 'min_chunk_s' (a long scene is "
            f"split into parts no shorter than the minimum). Got {max_chunk_s} and {min_chunk_s}."
        )
    bounds = [0, *sorted({int(c) for c in cuts if 0 < c < frame_count}), frame_count]
    scenes = [[a, b] for a, b in itertools.pairwise(bounds)]
    min_frames = max(1, math.ceil(min_chunk_s * fps))
    while len(scenes) > 1:
        short = [i for i, (a, b) in enumerate(scenes) if b - a < min_frames]
        if not short:
            break
        i = min(short, key=lambda j: scenes[j][1] - scenes[j][0])
        if i == 0:
            j = 1
        elif i == len(scenes) - 1:
            j = i - 1
        else:  # into the shorter neighbour: keeps chunk lengths even
            left, right = scenes[i - 1], scenes[i + 1]
            j = i - 1 if left[1] - left[0] <= right[1] - right[0] else i + 1
        lo, hi = min(i, j), max(i, j)
        scenes[lo : hi + 1] = [[scenes[lo][0], scenes[hi][1]]]
    chunks: list[Chunk] = []
    max_frames = math.floor(max_chunk_s * fps) if max_chunk_s else None
    for a, b in scenes:
        parts = math.ceil((b - a) / max_frames) if max_frames else 1
        edges = [a + round(k * (b - a) / parts) for k in range(parts + 1)]
        chunks += [Chunk(s, e) for s, e in itertools.pairwise(edges)]
    return chunks


def _check_chunks(chunks: Sequence[Chunk], frame_count: int) -> None:
    if not chunks or chunks[0].start != 0 or chunks[-1].end != frame_count:
        raise UsageError(f"The chunks must cover frames 0 to {frame_count} without gaps.")
    for a, b in itertools.pairwise(chunks):
        if a.end != b.start or a.frames <= 0:
            raise UsageError(f"The chunks must be contiguous and non-empty: {a} then {b}.")


def split_source(
    source: SourceInfo,
    chunks: Sequence[Chunk],
    folder: Path,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> list[Path]:
    """Each of ``chunks`` (any of the title's) as lossless FFV1 (``<folder>/<start>-<end>.mkv``)
    at the source's bit depth and range, decoding the source once per batch of chunks
    (:func:`~ladderforge.media.segments.cut_ffv1`); chunks already written are kept (resume)."""
    for c in chunks:
        if not 0 <= c.start < c.end <= source.frame_count:
            raise UsageError(
                f"{source.path}: chunk {c} is not inside its {source.frame_count} frames"
            )
    cuts = [Cut(c.start, c.end, folder / f"{c.name}.mkv") for c in chunks]
    return cut_ffv1(source, cuts, timeout_s=timeout_s)


@dataclass(frozen=True)
class ChunkedEncode:
    """A title encoded chunk by chunk and joined."""

    output_path: Path
    chunks: tuple[Chunk, ...]
    results: tuple[EncodeResult, ...]
    """Each chunk's encode (from this run or, when resumed, from an earlier one)."""
    size_bytes: int
    bitrate_kbps: float
    frames: int
    cpu_s: float
    """CPU seconds of all chunk encodes (including resumed ones, as they were measured)."""
    wall_s: float
    """Elapsed seconds of this call (cutting, encoding in parallel, joining)."""
    encoded_now: int
    """Chunks encoded by this call (the rest were reused)."""


def _chunk_settings(settings: EncodeSettings, chunk: Chunk) -> EncodeSettings:
    return settings.with_(gop=chunk.frames, keyframes=(), fixed_gop=True)


def _source_id(source: SourceInfo) -> str:
    """What identifies the source's pictures: its content hash, else its path, size and mtime
    (a replaced source with the same frame count must not reuse old chunks)."""
    if source.content_hash:
        return source.content_hash[:16]
    st = Path(source.path).stat()
    key = f"{Path(source.path).resolve()}:{st.st_size}:{st.st_mtime_ns}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _chunk_output(work: Path, source_id: str, chunk: Chunk, settings: EncodeSettings) -> Path:
    key = f"{_CHUNK_FORMAT}|{source_id}|{settings.key()}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return work / chunk.name / f"{settings.codec}-{digest}.mp4"


def _finished(out: Path) -> EncodeResult | None:
    """The stored result of a finished chunk encode, if its file is there and whole."""
    sidecar = out.with_suffix(".json")
    if not (out.exists() and sidecar.exists()):
        return None
    try:
        result = EncodeResult.from_dict(json.loads(sidecar.read_text()))
    except (ValueError, KeyError, TypeError):
        return None
    if out.stat().st_size != result.size_bytes:
        return None
    return replace(result, output_path=out)


def _encode_chunk(
    source: Path,
    chunk: Chunk,
    settings: EncodeSettings,
    out: Path,
    *,
    retries: int,
    timeout_s: float,
) -> tuple[EncodeResult, bool]:
    for attempt in range(retries + 1):
        try:
            result = encode(source, settings, out, timeout_s=timeout_s, check_encoder=False)
            break
        except EncodeError as exc:
            if attempt == retries:
                raise EncodeError(
                    f"chunk frames {chunk.start}-{chunk.end - 1} ({settings.codec} "
                    f"{settings.rate_control} {settings.q:g}) failed {attempt + 1} times: {exc}",
                    path=exc.path,
                    command=exc.command,
                    log_tail=exc.log_tail,
                ) from exc
            log.warning("chunk %s failed, retrying: %s", chunk.name, exc)
    atomic_write_json(out.with_suffix(".json"), result.to_dict())
    return result, True


def encode_chunk_task(
    source: Path,
    chunk: Chunk,
    settings: EncodeSettings,
    out: Path,
    retries: int,
    timeout_s: float,
) -> tuple[EncodeResult, bool]:
    """One chunk encode as a task: the finished result at ``out`` when there is one (a task run
    twice encodes once), else the encode; (result, encoded by this call)."""
    prior = _finished(out)
    if prior is not None:
        return prior, False
    return _encode_chunk(source, chunk, settings, out, retries=retries, timeout_s=timeout_s)


def _task_key(out: Path) -> str:
    """A chunk task's name: the same for the same output file on every run and machine."""
    return "chunk-" + hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:20]


def encode_chunked(
    source: SourceInfo,
    chunks: Sequence[Chunk],
    settings: EncodeSettings | Sequence[EncodeSettings],
    output: str | os.PathLike[str],
    *,
    work: Path,
    workers: int = 1,
    retries: int = 1,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    on_chunk: ChunkCallback | None = None,
    runner: ChunkRunner | None = None,
) -> ChunkedEncode:
    """Encode ``source`` chunk by chunk (one settings for all, or one per chunk) and join.

    ``work`` holds the chunk sources and chunk encodes; share it between the rungs of a title
    so the chunk sources are cut once. The missing chunks are encoded in ``workers`` threads,
    or, with a ``runner``, as its tasks (``work`` must then be on a path every worker sees).
    """
    _check_chunks(chunks, source.frame_count)
    per_chunk = [settings] * len(chunks) if isinstance(settings, EncodeSettings) else list(settings)
    if len(per_chunk) != len(chunks):
        raise UsageError(f"{len(chunks)} chunks need {len(chunks)} settings. Got {len(per_chunk)}.")
    sizes = {(s.codec, s.width, s.height, s.pix_fmt) for s in per_chunk}
    if len(sizes) != 1:
        raise UsageError(
            "The chunks of one rendition must share codec, size and pixel format. "
            f"Got {sorted(sizes)}."
        )
    check_available(per_chunk[0].codec)
    t0 = time.monotonic()
    ident = _source_id(source)
    jobs = [(c, _chunk_settings(s, c)) for c, s in zip(chunks, per_chunk, strict=True)]
    outs = [_chunk_output(work, ident, c, s) for c, s in jobs]
    reused = [_finished(out) for out in outs]
    missing = [c for (c, _), r in zip(jobs, reused, strict=True) if r is None]
    sources = dict(
        zip(
            missing,
            split_source(source, missing, work / "src" / ident, timeout_s=timeout_s),
            strict=True,
        )
    )
    done, lock = [0], threading.Lock()

    def run(i: int) -> tuple[EncodeResult, bool]:
        (chunk, s), out, prior = jobs[i], outs[i], reused[i]
        res = (
            (prior, False)
            if prior is not None
            else _encode_chunk(sources[chunk], chunk, s, out, retries=retries, timeout_s=timeout_s)
        )
        with lock:
            done[0] += 1
            if on_chunk:
                on_chunk(done[0], len(jobs))
        return res

    if runner is not None:
        finished = _run_elsewhere(runner, jobs, outs, reused, sources, retries, timeout_s, on_chunk)
    else:
        pool = ThreadPoolExecutor(max_workers=max(1, workers))
        try:
            finished = list(pool.map(run, range(len(jobs))))
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # no new chunk starts after a failure
            raise
        pool.shutdown()
    results = tuple(r for r, _ in finished)
    out = Path(output)
    join_chunks(
        [r.output_path for r in results],
        out,
        codec=per_chunk[0].codec,
        source=source,
        keyframes_at=[c.start for c in chunks],
        timeout_s=timeout_s,
    )
    size = out.stat().st_size
    return ChunkedEncode(
        output_path=out,
        chunks=tuple(chunks),
        results=results,
        size_bytes=size,
        bitrate_kbps=size * 8 / source.duration_s / 1000,
        frames=source.frame_count,
        cpu_s=sum(r.cpu_s for r in results),
        wall_s=time.monotonic() - t0,
        encoded_now=sum(1 for _, now in finished if now),
    )


def _run_elsewhere(
    runner: ChunkRunner,
    jobs: Sequence[tuple[Chunk, EncodeSettings]],
    outs: Sequence[Path],
    reused: Sequence[EncodeResult | None],
    sources: dict[Chunk, Path],
    retries: int,
    timeout_s: float,
    on_chunk: ChunkCallback | None,
) -> list[tuple[EncodeResult, bool]]:
    """The missing chunks as the runner's tasks; the reused ones as they are, in chunk order."""
    todo = [i for i, r in enumerate(reused) if r is None]
    done = [len(jobs) - len(todo)]

    def one_done() -> None:
        done[0] += 1
        if on_chunk:
            on_chunk(done[0], len(jobs))

    calls = [
        (
            _task_key(outs[i]),
            (sources[jobs[i][0]], jobs[i][0], jobs[i][1], outs[i], retries, timeout_s),
        )
        for i in todo
    ]
    ran = dict(zip(todo, runner(encode_chunk_task, calls, one_done), strict=True))
    return [ran[i] if r is None else (r, False) for i, r in enumerate(reused)]


def join_chunks(
    parts: Sequence[Path],
    output: Path,
    *,
    codec: str,
    source: SourceInfo,
    keyframes_at: Sequence[int],
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Path:
    """Concatenate encoded chunks without re-encoding (ffmpeg's concat demuxer) into ``output``
    and check it against ``source``: same frame count, increasing timestamps, IDR keyframes
    exactly at ``keyframes_at``. The output appears only when it passed."""
    output.parent.mkdir(parents=True, exist_ok=True)
    listing = output.with_name(f".{output.stem}.concat-{os.getpid()}.txt")
    # the concat demuxer's list syntax: quote with '...' and escape quotes inside
    listing.write_text(
        "ffconcat version 1.0\n"
        + "".join("file '" + str(p.resolve()).replace("'", "'\\''") + "'\n" for p in parts)
    )
    tag = join_tag(get_encoder(codec).codec_family, parts)
    try:
        with atomic_path(output) as tmp:
            run_ffmpeg(
                [
                    "-y",
                    "-loglevel",
                    "error",
                    "-f",
                    "concat",
                    "-safe",
                    "0",
                    "-i",
                    str(listing),
                    "-map",
                    "0:v:0",
                    "-c",
                    "copy",
                    *tag,
                    "-movflags",
                    "+faststart",
                    str(tmp),
                ],
                timeout_s=timeout_s,
                error_path=output,
                error_type=EncodeError,
                error_message=f"joining {len(parts)} chunks into {output.name} failed",
            )
            problems = check_rendition(
                tmp, frame_count=source.frame_count, keyframes_at=keyframes_at
            )
            if problems:
                raise EncodeError(
                    f"{output}: the joined chunks do not match the source {source.path}: "
                    + "; ".join(problems),
                    path=output,
                )
    finally:
        with contextlib.suppress(OSError):
            listing.unlink()
    return output
