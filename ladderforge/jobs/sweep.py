"""The exhaustive path (the ground truth): every (height, CRF) candidate of each title encoded
and measured.

:func:`sweep` measures a grid (``ladderforge sweep``, ``ladder --mode exhaustive`` and the
dataset campaigns all go through it, with the defaults of :mod:`ladderforge.jobs.config`);
:func:`measure_settings` measures explicit settings (probes). The hull and the ladder are taken
by the caller (:func:`ladderforge.jobs.outputs.write_sweep_outputs`, or the exhaustive mode).
Each encode and measurement is stored the moment it finishes, so rerunning with the same output
folder resumes without redoing finished work.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ladderforge.encoder import check_available, codec_facts, encode
from ladderforge.errors import LadderforgeError, UsageError
from ladderforge.jobs.config import DEFAULT_HEIGHTS, DEFAULT_SWEEP_CRFS
from ladderforge.media import ffmpeg_version, probe
from ladderforge.media.ffmpeg import DEFAULT_TIMEOUT_S
from ladderforge.store import (
    ResultsStore,
    WorkDir,
    encode_key,
    ensure_writable_dir,
    folder_lock,
    measure_key,
    remove_stale_partials,
)
from ladderforge.types import (
    EncodeResult,
    EncodeSettings,
    QualityResult,
    RDPoint,
    SourceInfo,
    candidate_sizes,
    output_pix_fmt,
)
from ladderforge.vmaf_tools import measure

__all__ = [
    "SweepConfig",
    "SweepEvent",
    "SweepPoint",
    "SweepReport",
    "encoded_path",
    "measure_settings",
    "rd_points",
    "sweep",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepConfig:
    """What an exhaustive sweep encodes and measures (CLI flags map 1:1 onto these)."""

    codec: str = "x265"
    """Backend name."""
    heights: tuple[int, ...] = DEFAULT_HEIGHTS
    """Output heights (:func:`ladderforge.types.candidate_sizes`: capped at the source's)."""
    crfs: tuple[float, ...] = DEFAULT_SWEEP_CRFS
    """CRF values (CQ for NVENC)."""
    preset: str | None = None
    """Encoder preset; None: the backend's default."""
    metrics: tuple[str, ...] = ("vmaf", "vmaf_neg", "psnr", "ssim")
    """Metrics measured for every point (see vmaf_tools.measure)."""
    n_subsample: int = 1
    """Score every n-th frame."""
    scaler: str = "bicubic"
    """Scaler used to bring encodes back to the source grid for measurement."""
    keep_encodes: bool = False
    """Keep the encoded files in the work folder (else deleted once measured)."""
    timeout_s: float = DEFAULT_TIMEOUT_S
    """Timeout of each ffmpeg run."""
    params: tuple[tuple[str, str], ...] = ()
    """Encoder parameters of every encode (a tuned set); empty: the preset's defaults."""
    tune: str | None = None
    """Encoder tune of every encode."""

    def __post_init__(self) -> None:
        facts = codec_facts(self.codec)
        if self.preset is None:
            object.__setattr__(self, "preset", facts.default_preset)
        facts.preset_rank(str(self.preset))
        if not self.heights or any(h < 16 for h in self.heights):
            raise UsageError(f"The 'heights' parameter of sweep must be >= 16. Got {self.heights}.")
        if not self.crfs:
            raise UsageError("The 'crfs' parameter of sweep must not be empty.")

    def measure_config(self) -> dict[str, Any]:
        return {
            "metrics": list(self.metrics),
            "n_subsample": self.n_subsample,
            "scaler": self.scaler,
        }


@dataclass(frozen=True)
class SweepPoint:
    """One measured candidate of one title."""

    title: str
    source: SourceInfo
    settings: EncodeSettings
    encode: EncodeResult
    """The encode (kbps, bytes, cpu and wall seconds, frames)."""
    quality: QualityResult

    def rd_point(self, metric: str = "vmaf") -> RDPoint:
        return RDPoint(
            self.settings, self.encode.bitrate_kbps, self.quality.get(metric), self.encode.cpu_s
        )


@dataclass(frozen=True)
class SweepEvent:
    """Progress of a sweep, for callbacks: one job (encode + measurement) finished."""

    title: str
    done: int
    total: int
    encoded: bool
    """True when this job ran an encode (False when the stored result was reused)."""


@dataclass
class SweepReport:
    """What a sweep did."""

    points: list[SweepPoint] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    """Title (or source path) -> error message, for titles that failed."""
    encodes_run: int = 0
    encodes_reused: int = 0
    measurements_run: int = 0
    measurements_reused: int = 0


@dataclass(frozen=True)
class _Job:
    title: str
    source: SourceInfo
    settings: EncodeSettings
    ekey: str
    mkey: str


class _Runner:
    """Runs jobs for one sweep; owns the counters. Jobs run in worker threads."""

    def __init__(self, config: SweepConfig, store: ResultsStore, work: WorkDir) -> None:
        self.config, self.store, self.work = config, store, work
        self.report = SweepReport()
        self._lock = threading.Lock()

    def _count(self, name: str) -> None:
        with self._lock:
            setattr(self.report, name, getattr(self.report, name) + 1)

    def run_job(self, job: _Job) -> tuple[SweepPoint, bool]:
        stored_q = self.store.get_measurement(job.mkey)
        stored_e = self.store.get_encode(job.ekey)
        if stored_q is not None and stored_e is not None:
            self._count("encodes_reused")
            self._count("measurements_reused")
            return SweepPoint(job.title, job.source, job.settings, stored_e, stored_q), False
        path = self.work.encode_path(job.ekey)
        encoded = False
        if stored_e is None or not path.is_file():
            stored_e = encode(
                job.source, job.settings, path, timeout_s=self.config.timeout_s, check_encoder=False
            )
            self.store.put_encode(
                job.ekey,
                source_hash=job.source.content_hash,
                title=job.title,
                tool_version=ffmpeg_version(),
                result=stored_e,
            )
            self._count("encodes_run")
            encoded = True
        else:
            self._count("encodes_reused")
        quality = measure(
            job.source,
            path,
            metrics=self.config.metrics,
            n_subsample=self.config.n_subsample,
            scaler=self.config.scaler,
            threads=1,
            timeout_s=self.config.timeout_s,
        )
        self.store.put_measurement(
            job.mkey,
            encode_key=job.ekey,
            source_hash=job.source.content_hash,
            config=self.config.measure_config(),
            tool_version=ffmpeg_version(),
            result=quality,
        )
        self._count("measurements_run")
        if not self.config.keep_encodes:
            with contextlib.suppress(OSError):
                path.unlink()
        return SweepPoint(job.title, job.source, job.settings, stored_e, quality), encoded


def _job(title: str, info: SourceInfo, settings: EncodeSettings, config: SweepConfig) -> _Job:
    version = ffmpeg_version()
    ekey = encode_key(info.content_hash, settings.key(), version)
    return _Job(title, info, settings, ekey, measure_key(ekey, config.measure_config(), version))


def _jobs_for(title: str, info: SourceInfo, config: SweepConfig) -> list[_Job]:
    rc = codec_facts(config.codec).quality_rate_control
    return [
        _job(
            title,
            info,
            EncodeSettings(
                codec=config.codec,
                width=width,
                height=height,
                rate_control=rc,
                q=float(crf),
                preset=str(config.preset),
                tune=config.tune,
                params=config.params,
                pix_fmt=output_pix_fmt(info.bit_depth),
            ),
            config,
        )
        for width, height in candidate_sizes(info.width, info.height, config.heights)
        for crf in config.crfs
    ]


def _unique_titles(infos: Sequence[SourceInfo]) -> list[str]:
    seen: dict[str, int] = {}
    titles = []
    for info in infos:
        title = info.title
        if title in seen:
            title = f"{title}-{info.content_hash[:8]}"
        seen[title] = 1
        titles.append(title)
    return titles


def sweep(
    sources: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    config: SweepConfig | None = None,
    workers: int = 1,
    wait: bool = False,
    on_event: Callable[[SweepEvent], None] | None = None,
    on_title_start: Callable[[str, int], None] | None = None,
) -> SweepReport:
    """Encode and measure every candidate of every source; results stored under ``out_dir``.

    A source that cannot be probed, or whose jobs fail, is recorded in ``report.failures`` and
    the others go on. ``on_title_start(title, n_jobs)`` and ``on_event`` report progress.
    The sweep holds ``out_dir``'s run lock (:func:`~ladderforge.store.folder_lock`): another
    run on the folder makes it raise :class:`~ladderforge.errors.BusyError` at once, or with
    ``wait`` wait for that run to end; encodes a killed run left half-written are removed.
    """
    config = config or SweepConfig()
    check_available(config.codec)
    with folder_lock(out_dir, wait=wait) as lock:
        out = lock.parent
        remove_stale_partials(out / "work")
        return _sweep_locked(sources, out, config, workers, on_event, on_title_start)


def _sweep_locked(
    sources: Sequence[str | os.PathLike[str]],
    out: Path,
    config: SweepConfig,
    workers: int,
    on_event: Callable[[SweepEvent], None] | None,
    on_title_start: Callable[[str, int], None] | None,
) -> SweepReport:
    report = SweepReport()
    infos: list[SourceInfo] = []
    for src in sources:
        try:
            infos.append(probe(src))
        except LadderforgeError as exc:
            report.failures[str(src)] = exc.message
    with ResultsStore(out / "results.sqlite") as store:
        runner = _Runner(config, store, WorkDir(out / "work"))
        runner.report = report
        for title, info in zip(_unique_titles(infos), infos, strict=False):
            jobs = _jobs_for(title, info, config)
            if on_title_start:
                on_title_start(title, len(jobs))
            _run_title(runner, title, jobs, workers=workers, on_event=on_event)
    return report


def measure_settings(
    source: SourceInfo,
    settings: Sequence[EncodeSettings],
    out_dir: str | os.PathLike[str],
    *,
    config: SweepConfig | None = None,
    title: str | None = None,
    workers: int = 1,
    on_event: Callable[[SweepEvent], None] | None = None,
) -> SweepReport:
    """Encode and measure explicit settings of one probed source, stored and resumable like a
    sweep (``config`` gives the metrics, scaler, subsampling, timeout and whether to keep the
    encodes; its codec/heights/crfs are not used)."""
    config = config or SweepConfig()
    out = ensure_writable_dir(Path(out_dir))
    for codec in {s.codec for s in settings}:
        check_available(codec)
    name = title or source.title
    with ResultsStore(out / "results.sqlite") as store:
        runner = _Runner(config, store, WorkDir(out / "work"))
        jobs = [_job(name, source, s, config) for s in settings]
        _run_title(runner, name, jobs, workers=workers, on_event=on_event)
    return runner.report


def encoded_path(
    out_dir: str | os.PathLike[str], source: SourceInfo, settings: EncodeSettings
) -> Path:
    """Where :func:`measure_settings` keeps the encode of ``settings`` (with keep_encodes)."""
    key = encode_key(source.content_hash, settings.key(), ffmpeg_version())
    return WorkDir(Path(out_dir) / "work").encode_path(key)


def _run_title(
    runner: _Runner,
    title: str,
    jobs: list[_Job],
    *,
    workers: int,
    on_event: Callable[[SweepEvent], None] | None,
) -> None:
    done = 0
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending: set[Future[tuple[SweepPoint, bool]]] = {
            pool.submit(runner.run_job, j) for j in jobs
        }
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                try:
                    point, encoded = fut.result()
                except LadderforgeError as exc:
                    runner.report.failures.setdefault(title, exc.message)
                    for other in pending:
                        other.cancel()
                    continue
                runner.report.points.append(point)
                done += 1
                if on_event:
                    on_event(SweepEvent(title, done, len(jobs), encoded))
    log.info("title %s: %d of %d points", title, done, len(jobs))


def rd_points(points: Sequence[SweepPoint], title: str, metric: str = "vmaf") -> list[RDPoint]:
    """The RD points of one title."""
    return [p.rd_point(metric) for p in points if p.title == title]
