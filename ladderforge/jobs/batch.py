"""A batch of titles through the main job: manifest checking, per-title isolation, summary.

A manifest is a CSV with a ``path`` column (and optionally ``title``); it is checked whole before
any work starts (missing files, duplicate titles, unknown columns). A title that fails is
recorded with its error and the batch goes on.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ladderforge.errors import LadderforgeError, MediaNotFoundError, UsageError
from ladderforge.jobs.config import LadderConfig
from ladderforge.jobs.context import StageCallback
from ladderforge.jobs.title import TitlePlan, plan_title
from ladderforge.media.probe import check_input_file
from ladderforge.store import atomic_write_bytes, ensure_writable_dir

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
        try:
            check_input_file(t.path)
        except MediaNotFoundError as exc:
            problems.append(exc.message)
        except LadderforgeError:
            pass  # e.g. an empty file: a bad title, reported with the others at the end
    if problems:
        raise UsageError("; ".join(problems))


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
    on_stage: StageCallback | None = None,
    on_title_done: Callable[[str, TitlePlan | None, str | None], None] | None = None,
) -> BatchReport:
    """Plan every title; failures are recorded and the batch goes on. Writes the summary.

    A source given as a path is named after its file; a :class:`TitleSource` (a manifest row)
    names its own outputs."""
    out = ensure_writable_dir(Path(out_dir))
    titles = [s if isinstance(s, TitleSource) else TitleSource(Path(s)) for s in sources]
    check_sources(titles)
    names = [t.title for t in titles]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UsageError(
            f"titles appear twice: {', '.join(duplicates)} (rename or use a "
            "manifest with a title column)"
        )
    report = BatchReport()
    for src in titles:
        name = src.title
        try:
            plan = plan_title(src.path, out, config=config, title=name, on_stage=on_stage)
        except LadderforgeError as exc:
            report.failures[str(src.path)] = exc.message
            if on_title_done:
                on_title_done(name, None, exc.message)
            continue
        report.plans[plan.ladder.title] = plan
        if on_title_done:
            on_title_done(plan.ladder.title, plan, None)
    frame = summary_frame(report)
    buf = io.BytesIO()
    frame.write_parquet(buf)
    atomic_write_bytes(out / "summary.parquet", buf.getvalue())
    return report


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
    return pl.DataFrame(rows, infer_schema_length=None)
