"""Checking a produced ladder folder (``ladderforge ladder ... --encode`` output) end to end.

For every ``<title>/<title>.ladder.json`` in the folder (and ``<title>.ladder.json`` beside the
title folders, as version-1 outputs were written):

- **frames**: each rung's rendition, read through its HLS media playlist
  ``<title>/<rung>/index.m3u8`` as a player reads it, has the source's frame count, with
  strictly increasing, unique timestamps;
- **picture**: each rendition's pictures have the rung's size, square pixels, no display
  rotation left and the shape of the upright source;
- **keyframes**: every rendition is closed-GOP and its IDR frames sit at the same frames in every
  rung (and on the chunk starts recorded in the ladder JSON), so players can switch anywhere a
  segment starts;
- **playlists**: the master playlist parses, names one variant per rung, and each variant's
  media playlist is a finished VOD playlist whose segments (and init segment) exist, are no
  longer than its TARGETDURATION, start on the keyframes, and add up to the title's duration;
  BANDWIDTH is at least each variant's peak segment bitrate;
- **vmaf**: each rendition measured against the source again; it must match the ladder's
  measured VMAF (when the ladder was encoded) within ``vmaf_tolerance``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import m3u8

from ladderforge.encoder.audio import check_audio
from ladderforge.encoder.dash import check_mpd
from ladderforge.encoder.hls import read_media_playlist, rung_name
from ladderforge.encoder.verify import check_picture, check_rendition, keyframes
from ladderforge.errors import LadderforgeError, UsageError
from ladderforge.media import probe
from ladderforge.schemas import SCHEMA_VERSIONS, ladder_schema
from ladderforge.types import Ladder, Rung, SourceInfo
from ladderforge.vmaf_tools import measure

__all__ = ["Check", "verify_output"]


@dataclass(frozen=True)
class Check:
    """One verdict on one part of a produced ladder."""

    title: str
    rung: str
    """The rung name, or ``""`` for the title as a whole."""
    what: str
    """``schema``, ``frames``, ``picture``, ``keyframes``, ``playlist``, ``dash``, ``audio`` or
    ``vmaf``."""
    ok: bool
    detail: str


def _ladders(folder: Path) -> list[tuple[Path, Ladder, dict[str, Any]]]:
    if not folder.is_dir():
        raise UsageError(f"{folder}: is not a folder (give the output folder of 'ladder')")
    found = []
    for path in sorted([*folder.glob("*/*.ladder.json"), *folder.glob("*.ladder.json")]):
        ladder = Ladder.read(path)  # UsageError naming the file
        found.append((path, ladder, json.loads(path.read_text())))
    if not found:
        raise UsageError(f"{folder}: holds no *.ladder.json (run 'ladderforge ladder' first)")
    return found


def verify_output(
    folder: str | os.PathLike[str],
    *,
    vmaf: bool = True,
    vmaf_tolerance: float = 0.5,
    on_stage: Callable[[str], None] | None = None,
) -> list[Check]:
    """All checks of every ladder in ``folder``; a failed check has ``ok=False``."""
    checks: list[Check] = []
    for path, ladder, raw in _ladders(Path(folder)):
        deliver = path.parent if path.parent.name == ladder.title else path.parent / ladder.title
        checks.append(_check_schema(ladder.title, path, raw))
        checks += _verify_title(deliver, ladder, vmaf, vmaf_tolerance, on_stage)
    return checks


def _verify_title(
    work: Path,
    ladder: Ladder,
    vmaf: bool,
    tolerance: float,
    on_stage: Callable[[str], None] | None,
) -> list[Check]:
    """The checks of one title whose deliverables are in ``work``."""
    title, source = ladder.title, ladder.source
    checks: list[Check] = []

    def add(rung: str, what: str, problems: list[str], ok_detail: str) -> None:
        checks.append(Check(title, rung, what, not problems, "; ".join(problems) or ok_detail))

    if source is None:
        return [Check(title, "", "frames", False, "the ladder JSON records no source")]
    if not any(r.measured_bitrate_kbps is not None for r in ladder.rungs):
        return [Check(title, "", "frames", False, "the ladder was not encoded (no --encode)")]
    idr_by_rung: dict[str, list[int]] = {}
    for rung in ladder.rungs:
        name = rung_name(rung)
        path = work / name / "index.m3u8"
        if not path.exists():
            add(name, "frames", [f"{path} is missing"], "")
            continue
        if on_stage:
            on_stage(f"{title} {name}: frames and keyframes")
        add(
            name,
            "frames",
            check_rendition(path, frame_count=source.frame_count),
            f"{source.frame_count} frames, timestamps increasing",
        )
        add(
            name,
            "picture",
            check_picture(
                path,
                width=rung.settings.width,
                height=rung.settings.height,
                source_size=(source.width, source.height),
                video_range=source.video_range,
            ),
            f"{rung.settings.width}x{rung.settings.height}, upright, square pixels",
        )
        try:
            found = keyframes(path)
        except LadderforgeError as exc:
            add(name, "keyframes", [exc.message], "")
            continue
        idr_by_rung[name] = [k.index for k in found if k.idr]
        t0 = next((k.time_s for k in found if k.time_s is not None), 0.0) or 0.0
        idr_times = [k.time_s - t0 for k in found if k.idr and k.time_s is not None]
        problems = [f"non-IDR keyframes at {[k.index for k in found if not k.idr][:8]}"] * any(
            not k.idr for k in found
        )
        starts = [c.start for c in rung.chunks]
        if starts and idr_by_rung[name] != starts:
            problems.append(f"IDR frames {idr_by_rung[name][:8]} are not the chunk starts")
        add(name, "keyframes", problems, f"{len(idr_by_rung[name])} IDR frames")
        checks.append(_check_media_playlist(title, name, work / name, idr_times, source))
        if vmaf:
            if on_stage:
                on_stage(f"{title} {name}: VMAF")
            checks.append(_check_vmaf(title, name, source, path, rung, tolerance))
    distinct = {tuple(v) for v in idr_by_rung.values()}
    add(
        "",
        "keyframes",
        ["IDR frames differ between rungs"] * (len(distinct) > 1),
        f"IDR frames aligned across {len(idr_by_rung)} rungs",
    )
    checks.append(_check_master(title, work / "master.m3u8", ladder))
    checks += _check_dash_and_audio(work, ladder, source)
    return checks


def _check_dash_and_audio(work: Path, ladder: Ladder, source: SourceInfo) -> list[Check]:
    """The DASH manifest (timeline, segments, alignment) and the audio rendition (segments on
    the chunk boundaries, duration), when the ladder declares them."""
    checks = []
    if "dash" in ladder.manifests:
        problems = check_mpd(
            work / ladder.manifests["dash"],
            duration_s=source.duration_s,
            frame_rate=source.frame_rate,
        )
        detail = "; ".join(problems[:5]) or f"{ladder.manifests['dash']}: timeline and segments"
        checks.append(Check(ladder.title, "", "dash", not problems, detail))
    if ladder.audio is not None:
        fps = float(source.frame_rate)
        starts = [c.start for c in ladder.rungs[0].chunks] if ladder.rungs else [0]
        problems = check_audio(
            (work / ladder.audio.playlist).parent,
            boundaries_s=[s / fps for s in starts],
            duration_s=source.duration_s,
        )
        detail = "; ".join(problems[:5]) or f"{ladder.audio.segments} segments on the chunks"
        checks.append(Check(ladder.title, "audio", "audio", not problems, detail))
    elif source.has_audio:
        checks.append(
            Check(ladder.title, "audio", "audio", True, "the source's audio was left out")
        )
    return checks


def _check_schema(title: str, path: Path, raw: dict[str, Any]) -> Check:
    """The ladder JSON against the shipped JSON Schema of its version (version 1 had none)."""
    schema = str(raw.get("schema"))
    version = schema.rpartition("/")[2]
    if not version.isdecimal() or int(version) not in SCHEMA_VERSIONS:
        return Check(title, "", "schema", True, f"{schema}: no JSON Schema to check")
    import jsonschema

    validator = jsonschema.Draft202012Validator(ladder_schema(int(version)))
    problems = [f"{path.name}: {e.json_path}: {e.message}" for e in validator.iter_errors(raw)]
    return Check(title, "", "schema", not problems, "; ".join(problems[:5]) or schema)


def _check_media_playlist(
    title: str, name: str, folder: Path, idr_times: list[float], source: SourceInfo
) -> Check:
    index = folder / "index.m3u8"
    fps = float(source.frame_rate)
    duration = source.duration_s
    try:
        playlist = m3u8.load(str(index))
        media = read_media_playlist(index)
    except (OSError, ValueError) as exc:
        return Check(title, name, "playlist", False, f"{index}: cannot be read ({exc})")
    problems = []
    if not playlist.is_endlist or (playlist.playlist_type or "").lower() != "vod":
        problems.append("not a finished VOD playlist")
    target = playlist.target_duration or 0
    if any(round(d) > target for d in media.durations_s):
        problems.append(f"a segment is longer than TARGETDURATION {target}")
    if abs(sum(media.durations_s) - duration) > 1.5 / fps:
        problems.append(f"segments last {sum(media.durations_s):.3f} s, the title {duration:.3f} s")
    # segment starts against the IDR frames' own timestamps (no frame-rate arithmetic: VFR-safe)
    starts = [sum(media.durations_s[:i]) for i in range(media.segments)]
    off = [t for t in starts if not any(abs(t - k) <= 0.5 / fps for k in idr_times)]
    if off:
        problems.append(f"segments start at {[round(t, 3) for t in off[:8]]} s, not on IDR frames")
    return Check(
        title,
        name,
        "playlist",
        not problems,
        "; ".join(problems) or f"{media.segments} segments, peak {media.peak_bps / 1000:.0f} kbps",
    )


def _check_master(title: str, path: Path, ladder: Ladder) -> Check:
    try:
        master = m3u8.load(str(path))
    except (OSError, ValueError) as exc:
        return Check(title, "", "playlist", False, f"{path}: cannot be read ({exc})")
    problems = []
    if len(master.playlists) != len(ladder.rungs):
        problems.append(f"{len(master.playlists)} variants for {len(ladder.rungs)} rungs")
    for variant in master.playlists:
        media_path = path.parent / variant.uri
        if not media_path.exists():
            problems.append(f"variant {variant.uri} is missing")
            continue
        with contextlib.suppress(OSError, ValueError):  # the media check reports unreadable ones
            peak = read_media_playlist(media_path).peak_bps
            if variant.stream_info.bandwidth < peak - 1:
                problems.append(
                    f"{variant.uri}: BANDWIDTH {variant.stream_info.bandwidth} is below its peak "
                    f"segment bitrate {peak:.0f}"
                )
    return Check(
        title,
        "",
        "playlist",
        not problems,
        "; ".join(problems) or f"master playlist: {len(master.playlists)} variants",
    )


def conformed_rate(source: SourceInfo) -> Fraction | None:
    """The constant rate the ladder's job conformed ``source`` to, or None when it worked on
    the source as it is: the job conformed it when the file is VFR, or has another rate or
    frame count than the ladder records (``--fps``; a damaged source whose frames do not all
    decode). A source that cannot be probed is left to the measurement to report."""
    try:
        now = probe(source.path, hash_content=False)
    except LadderforgeError:
        return None
    conformed = (
        now.vfr or now.frame_rate != source.frame_rate or now.frame_count != source.frame_count
    )
    return source.frame_rate if conformed else None


def _check_vmaf(
    title: str, name: str, source: SourceInfo, path: Path, rung: Rung, tolerance: float
) -> Check:
    expected = rung.measured_vmaf
    try:
        rate = conformed_rate(source)
        got = measure(
            source.path,
            path,
            metrics=["vmaf"],
            ref_fps=rate,
            ref_decoder_threads=1 if rate else None,  # as the job's mezzanine was decoded
        ).vmaf
    except LadderforgeError as exc:
        return Check(title, name, "vmaf", False, f"cannot measure: {exc}")
    if expected is None or math.isnan(expected):
        return Check(title, name, "vmaf", False, f"measured {got:.2f}; the ladder records none")
    ok = abs(got - expected) <= tolerance
    return Check(title, name, "vmaf", ok, f"measured {got:.2f}, ladder says {expected:.2f}")
