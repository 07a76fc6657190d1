"""A batch of titles through the main job: manifest checking, per-title isolation, summary.

The titles run as tasks of an executor (:mod:`ladderforge.jobs.executor`: in this process by
default, or on a dask cluster). A manifest is a CSV with a ``path`` column (and optionally
``title``); it is checked whole before any work starts (missing files, duplicate titles,
unknown columns). A title that fails is recorded with its error and the batch goes on. A
batch holds its output folder's run lock (:func:`ladderforge.store.folder_lock`) from start
to end: one run at a time per folder.
"""

from __future__ import annotations

import csv
import errno
import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ladderforge.errors import LadderforgeError, MediaNotFoundError, UsageError
from ladderforge.jobs.config import LadderConfig
from ladderforge.jobs.context import StageCallback
from ladderforge.jobs.executor import Executor, LocalExecutor, TaskEnv, TaskLost
from ladderforge.jobs.title import TitlePlan, plan_title
from ladderforge.media.probe import check_input_file, not_regular_file
from ladderforge.store import atomic_write_bytes, folder_lock

__all__ = [
    "BatchReport",
    "TitleSource",
    "check_sources",
    "read_manifest",
    "run_batch",
    "summary_frame",
]

_MANIFEST_COLUMNS = {"path", "title"}


@dataclass(frozen=True)
class TitleSource:
    """One title of a batch: its source file and the name its outputs get."""

    path: Path
    """The source video."""
    title: str = ""
    """The title's name (``<title>.ladder.json``, ``<title>/``); empty: the file's stem."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if not self.title:
            object.__setattr__(self, "title", self.path.stem)


def read_manifest(path: str | os.PathLike[str]) -> list[TitleSource]:
    """The titles of a manifest CSV (``path`` and optional ``title`` columns), checked whole
    (every problem listed at once)."""
    manifest = Path(path)
    problem = not_regular_file(manifest)
    if problem is not None:  # a FIFO or a device would block the read below
        raise MediaNotFoundError(
            f"{manifest}: cannot read the manifest ({problem}; a manifest is a CSV file)",
            path=manifest,
        )
    try:
        text = manifest.read_text()
    except OSError as exc:
        raise MediaNotFoundError(
            f"{manifest}: cannot read the manifest ({exc.strerror})", path=manifest
        ) from exc
    reader = csv.DictReader(io.StringIO(text))
    columns = set(reader.fieldnames or [])
    if "path" not in columns or columns - _MANIFEST_COLUMNS:
        raise UsageError(
            f"{manifest}: a manifest needs a 'path' column and may have 'title'; "
            f"found columns {sorted(columns)}",
            path=manifest,
        )
    problems: list[str] = []
    found: list[TitleSource] = []
    titles: set[str] = set()
    for line, row in enumerate(reader, start=2):
        src = Path(row["path"] or "")
        if not src.is_absolute():
            src = manifest.parent / src
        title = (row.get("title") or "").strip() or src.stem
        if not row["path"]:
            problems.append(f"line {line}: empty path")
        elif _symlink_loop(src):
            problems.append(f"line {line}: {src} is a symlink loop (it never reaches a file)")
        elif not src.is_file():
            problems.append(f"line {line}: {src} does not exist")
        if title in titles:
            problems.append(f"line {line}: duplicate title {title!r}")
        titles.add(title)
        found.append(TitleSource(src, title))
    if problems:
        raise UsageError(f"{manifest}: " + "; ".join(problems), path=manifest)
    if not found:
        raise UsageError(f"{manifest}: the manifest lists no title", path=manifest)
    return found


def check_sources(titles: Sequence[TitleSource]) -> None:
    """Every source must exist and be readable, checked before any work (all problems at once);
    a file whose content is bad fails its own title later and the batch goes on."""
    problems = []
    for t in titles:
        if _symlink_loop(t.path):
            problems.append(
                f"{t.path}: is a symlink loop (it never reaches a file); point it at the video"
            )
            continue
        try:
            check_input_file(t.path)
        except MediaNotFoundError as exc:
            problems.append(exc.message)
        except LadderforgeError:
            pass  # e.g. an empty file: a bad title, reported with the others at the end
    if problems:
        raise UsageError("; ".join(problems))


def _symlink_loop(path: Path) -> bool:
    """True when ``path`` is a symbolic link that leads back to itself (or into another loop)."""
    if not os.path.islink(path):
        return False
    try:
        path.resolve(strict=True)
    except RuntimeError:  # Python < 3.13: "Symlink loop from ..."
        return True
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


@dataclass
class BatchReport:
    """What a batch did: one plan per finished title, one message per failed title."""

    plans: dict[str, TitlePlan] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


def run_batch(
    sources: Sequence[str | os.PathLike[str] | TitleSource],
    out_dir: str | os.PathLike[str],
    *,
    config: LadderConfig,
    wait: bool = False,
    on_stage: StageCallback | None = None,
    on_title_done: Callable[[str, TitlePlan | None, str | None], None] | None = None,
    executor: Executor | None = None,
) -> BatchReport:
    """Plan every title; failures are recorded and the batch goes on. Writes the summary.

    A source given as a path is named after its file; a :class:`TitleSource` (a manifest row)
    names its own outputs. The sources are checked before the output folder is touched.

    One run at a time per output folder: the batch holds ``out_dir/.ladderforge.lock`` until it
    returns (released by the kernel if the process dies). When another run holds it, raises
    :class:`~ladderforge.errors.BusyError` at once; with ``wait``, waits for that run to end
    (``on_stage(out_dir, "waiting ...")`` says so first).

    ``executor`` runs the title tasks (default :class:`~ladderforge.jobs.executor.LocalExecutor`:
    one after another in this process); the caller closes it. With a cluster, ``out_dir`` (and
    ``config.work_dir``) must be a path every worker sees."""
    titles = [s if isinstance(s, TitleSource) else TitleSource(Path(s)) for s in sources]
    check_sources(titles)
    names = [t.title for t in titles]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UsageError(
            f"titles appear twice: {', '.join(duplicates)} (rename or use a "
            "manifest with a title column)"
        )
    out = Path(out_dir)

    def waiting(holder: int | None) -> None:
        if on_stage:
            by = f" (pid {holder})" if holder else ""
            on_stage(str(out), f"waiting for the run{by} that holds the folder")

    with folder_lock(out, wait=wait, on_wait=waiting):
        report = BatchReport()
        task = _TitleTask(out, config)
        by_name = {t.title: t for t in titles}
        for name, outcome in (executor or LocalExecutor()).run(
            task, [(t.title, t) for t in titles], on_stage=on_stage
        ):
            _record(by_name[name], outcome, report, on_title_done)
        frame = summary_frame(report)
        buf = io.BytesIO()
        frame.write_parquet(buf)
        atomic_write_bytes(out / "summary.parquet", buf.getvalue())
    return report


@dataclass(frozen=True)
class _TitleOutcome:
    """What a title task sends back: its plan, or its error message."""

    plan: TitlePlan | None
    error: str | None


@dataclass(frozen=True)
class _TitleTask:
    """One title of the batch, as a task: picklable, runs wherever the executor puts it."""

    out: Path
    config: LadderConfig

    def __call__(self, src: TitleSource, env: TaskEnv) -> _TitleOutcome:
        try:
            plan = plan_title(
                src.path,
                self.out,
                config=self.config,
                title=src.title,
                on_stage=env.on_stage,
                runner=env.runner,
            )
        except LadderforgeError as exc:
            return _TitleOutcome(None, exc.message)
        return _TitleOutcome(plan, None)


def _record(
    src: TitleSource,
    outcome: _TitleOutcome | TaskLost,
    report: BatchReport,
    done: Callable[[str, TitlePlan | None, str | None], None] | None,
) -> None:
    """One title's plan, or its error, goes into ``report``."""
    error = outcome.message if isinstance(outcome, TaskLost) else outcome.error
    plan = None if isinstance(outcome, TaskLost) else outcome.plan
    if plan is None:
        message = error or "no plan came back"
        report.failures[str(src.path)] = message
        if done:
            done(src.title, None, message)
        return
    report.plans[plan.ladder.title] = plan
    if done:
        done(plan.ladder.title, plan, None)


_SUMMARY_SCHEMA: dict[str, type[pl.DataType]] = {
    "title": pl.String,
    "mode": pl.String,
    "rung": pl.Int64,
    "width": pl.Int64,
    "height": pl.Int64,
    "crf": pl.Float64,
    "predicted_kbps": pl.Float64,
    "predicted_vmaf": pl.Float64,
    "measured_kbps": pl.Float64,
    "measured_vmaf": pl.Float64,
    "total_usd": pl.Float64,
    "decision_cpu_s": pl.Float64,
    "analysis_s": pl.Float64,
}
"""The columns of ``summary.parquet``: the same whether every title, some or none succeeded."""


def summary_frame(report: BatchReport) -> pl.DataFrame:
    """One row per rung of every planned title."""
    rows = []
    for title, plan in report.plans.items():
        for i, r in enumerate(plan.ladder.rungs):
            rows.append(
                {
                    "title": title,
                    "mode": plan.ladder.mode,
                    "rung": i + 1,
                    "width": r.settings.width,
                    "height": r.settings.height,
                    "crf": r.settings.q,
                    "predicted_kbps": r.bitrate_kbps,
                    "predicted_vmaf": r.vmaf,
                    "measured_kbps": r.measured_bitrate_kbps,
                    "measured_vmaf": r.measured_vmaf,
                    "total_usd": r.cost.total_usd,
                    "decision_cpu_s": plan.decision_cpu_s,
                    "analysis_s": plan.analysis_s,
                }
            )
    return pl.DataFrame(rows, schema=_SUMMARY_SCHEMA)
