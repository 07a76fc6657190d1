"""The segments a tuning study encodes: each source analysed and classed, at most
``max_titles_per_class`` titles of a class chosen along its axis, their representative segments
cut (the scenes spanning complexity, :func:`~ladderforge.policy.calibrate.plan_probe_segments`).

Kept apart from :mod:`ladderforge.jobs.tune`, which runs the studies on them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ladderforge.analysis import analyze
from ladderforge.errors import LadderforgeError
from ladderforge.jobs.tune_config import TuneConfig
from ladderforge.media import probe
from ladderforge.media.segments import extract_segment
from ladderforge.policy.calibrate import plan_probe_segments
from ladderforge.policy.tuning import ContentClass, CurvePoint, classify, spread_titles
from ladderforge.types import SourceInfo

__all__ = ["StudySegment", "cut_segments", "segments_by_class"]


@dataclass
class StudySegment:
    """One segment a study encodes."""

    title: str
    """``title@start frame``."""
    info: SourceInfo
    """The cut segment (FFV1), probed with its content hash."""
    baseline: list[CurvePoint] = field(default_factory=list)
    """The preset's default curve on it (filled by the study)."""


@dataclass
class _Title:
    info: SourceInfo
    profile: Any
    cls: ContentClass


def segments_by_class(
    sources: Sequence[str | os.PathLike[str]],
    work: Path,
    config: TuneConfig,
    failures: dict[str, str],
    stage: Callable[[str], None],
) -> tuple[dict[str, list[StudySegment]], list[dict[str, Any]]]:
    """Class -> its studied segments, and a description of every source read (for the
    provenance). A source that cannot be read or cut goes into ``failures`` (path -> why); a
    chosen title that cannot be cut gives its place to the next one of its class. A file given
    twice (same content hash) counts once."""
    titles: dict[str, _Title] = {}
    for src in sources:
        try:
            info = probe(src)
            if info.content_hash in titles:
                continue
            stage(f"{info.title}: analysing")
            profile = analyze(info.path)
            titles[info.content_hash] = _Title(info, profile, classify(profile.title))
        except LadderforgeError as exc:
            failures[str(src)] = exc.message
    groups: dict[str, list[StudySegment]] = {}
    studied: dict[str, list[tuple[int, int]]] = {}
    for name in sorted({t.cls.name for t in titles.values()}):
        members = [(h, t.cls.spread) for h, t in titles.items() if t.cls.name == name]
        chosen = spread_titles(members, config.max_titles_per_class)
        # a chosen title that cannot be cut is replaced by the next in the class's order
        order = chosen + [h for h in spread_titles(members, None) if h not in chosen]
        done = 0
        for key in order:
            if done == len(chosen):
                break
            try:
                ranges, cut = _cut(titles[key], work, config)
            except LadderforgeError as exc:
                failures[str(titles[key].info.path)] = exc.message
                continue
            groups.setdefault(name, []).extend(cut)
            studied[key] = ranges
            done += 1
    described = [
        _describe(t, studied.get(h, []), studied=h in studied)
        for h, t in titles.items()
        if h in studied or str(t.info.path) not in failures
    ]
    return groups, described


def cut_segments(
    info: SourceInfo,
    profile: Any,
    work: Path,
    *,
    n_segments: int,
    segment_s: float,
    max_height: int | None,
) -> list[tuple[tuple[int, int], SourceInfo]]:
    """A title's representative segments (``n_segments`` scenes spanning its complexity, each
    ``segment_s`` long, scaled to at most ``max_height``), cut losslessly into ``work/segments``
    and probed: ((start, end) frames, the segment) each."""
    scenes = [(s.start_frame, s.end_frame, dict(s.features)) for s in profile.scenes] or [
        (0, info.frame_count, {})
    ]
    ranges = plan_probe_segments(
        scenes, frame_rate=float(info.frame_rate), n_segments=n_segments, segment_s=segment_s
    )
    cut = []
    for start, end in ranges:
        path = work / "segments" / f"{info.content_hash[:16]}_{start:06d}_{end:06d}.mkv"
        cut.append(
            ((start, end), probe(extract_segment(info, start, end, path, max_height=max_height)))
        )
    return cut


def _cut(
    title: _Title, work: Path, config: TuneConfig
) -> tuple[list[tuple[int, int]], list[StudySegment]]:
    """A title's segments, all or none."""
    cut = cut_segments(
        title.info,
        title.profile,
        work,
        n_segments=config.segments_per_title,
        segment_s=config.segment_s,
        max_height=config.max_height,
    )
    segments = [StudySegment(f"{title.info.title}@{start}", seg) for (start, _), seg in cut]
    return [r for r, _ in cut], segments


def _describe(title: _Title, ranges: list[tuple[int, int]], *, studied: bool) -> dict[str, Any]:
    return {
        "title": title.info.title,
        "path": str(title.info.path),
        "content_hash": title.info.content_hash,
        "content_class": title.cls.name,
        "class_reason": title.cls.reason,
        "spread": title.cls.spread,
        "studied": studied,
        "segments": [list(r) for r in ranges],
    }
