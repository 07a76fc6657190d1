"""Reading and checking a DASH MPD: the other half of :mod:`~ladderforge.encoder.dash`.

:func:`read_mpd` parses a single-Period, static MPD with SegmentTemplate/SegmentTimeline
addressing (what :func:`~ladderforge.encoder.dash.write_mpd` writes) into :class:`MpdInfo`, its
templates expanded to file paths; :func:`check_mpd` is what ``ladderforge verify`` checks: every
init and media segment exists and starts (read from its ``moof``) where the timeline says, each
timeline adds up to the title's duration, and the video Representations are aligned so players
can switch between them.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ladderforge.encoder.mp4_boxes import read_fragment, read_track
from ladderforge.errors import InvalidMediaError, LadderforgeError, MediaNotFoundError

__all__ = ["MPD_NS", "MpdInfo", "MpdRepresentation", "check_mpd", "read_mpd"]

MPD_NS = "urn:mpeg:dash:schema:mpd:2011"
_NS = {"d": MPD_NS}
_AUDIO_TOLERANCE_S = 0.05  # AAC priming and the last frame's padding, under ~2 frames of 1024


@dataclass(frozen=True)
class MpdRepresentation:
    """One Representation of an MPD, its SegmentTemplate expanded."""

    id: str
    """``@id``."""
    content_type: str
    """``video``, ``audio`` or another type (AdaptationSet ``@contentType`` or ``@mimeType``)."""
    bandwidth_bps: int
    """``@bandwidth`` in bits/s."""
    codecs: str
    """``@codecs`` (empty when absent)."""
    width: int | None
    """``@width`` in pixels, for video."""
    height: int | None
    """``@height`` in pixels, for video."""
    frame_rate: Fraction | None
    """``@frameRate``, for video."""
    timescale: int
    """SegmentTemplate ``@timescale``: ticks per second of the numbers below."""
    presentation_time_offset: int
    """SegmentTemplate ``@presentationTimeOffset`` in ticks: media time of the period start."""
    init_path: Path
    """The init segment file."""
    segment_paths: tuple[Path, ...]
    """The media segment files, in order."""
    segment_starts_ticks: tuple[int, ...]
    """Each segment's media start time (``S@t``) in ticks."""
    segment_durations_ticks: tuple[int, ...]
    """Each segment's duration (``S@d``) in ticks."""

    @property
    def duration_s(self) -> float:
        """What the SegmentTimeline adds up to, in seconds."""
        return sum(self.segment_durations_ticks) / self.timescale

    def boundaries_s(self) -> tuple[Fraction, ...]:
        """Segment starts and the end, in seconds from the period start (exact)."""
        ends = [self.segment_starts_ticks[-1] + self.segment_durations_ticks[-1]]
        ticks = [*self.segment_starts_ticks, *ends] if self.segment_starts_ticks else []
        return tuple(Fraction(t - self.presentation_time_offset, self.timescale) for t in ticks)


@dataclass(frozen=True)
class MpdInfo:
    """What :func:`read_mpd` found in an MPD."""

    path: Path
    """The MPD file."""
    presentation_type: str
    """``@type``: ``static`` (VOD) or ``dynamic`` (live)."""
    profiles: tuple[str, ...]
    """``@profiles``."""
    duration_s: float | None
    """``@mediaPresentationDuration`` in seconds, when present."""
    representations: tuple[MpdRepresentation, ...]
    """Every Representation of the (single) Period, in document order."""

    @property
    def video(self) -> tuple[MpdRepresentation, ...]:
        """The video Representations."""
        return tuple(r for r in self.representations if r.content_type == "video")


# --- reading ---

_IDENTIFIER = re.compile(r"\$(RepresentationID|Number|Bandwidth|Time)(?:%0(\d+)d)?\$|\$\$")
_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?)?")


def _parse_duration(text: str) -> float:
    match = _DURATION.fullmatch(text.strip())
    if not match or text.strip() in ("P", "PT"):
        raise ValueError(f"unsupported xs:duration {text!r}")
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def _file(base: Path, template: str, values: dict[str, int | str]) -> Path:
    def expand(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        value, width = values[match.group(1)], match.group(2)
        return f"{value:0{int(width)}d}" if width and isinstance(value, int) else str(value)

    url = _IDENTIFIER.sub(expand, template)
    if urlsplit(url).scheme or url.startswith("/"):
        raise ValueError(f"{url!r} is not a relative URL")
    return base.joinpath(*unquote(url).split("/"))


def _representation(base: Path, aset: ET.Element, el: ET.Element) -> MpdRepresentation:
    def attr(name: str) -> str | None:
        return el.get(name, aset.get(name))

    rep_id = el.get("id", "")
    template = el.find("d:SegmentTemplate", _NS)
    template = aset.find("d:SegmentTemplate", _NS) if template is None else template
    timeline = template.find("d:SegmentTimeline", _NS) if template is not None else None
    if template is None or timeline is None:
        raise ValueError("has no SegmentTemplate with a SegmentTimeline")
    starts: list[int] = []
    durations: list[int] = []
    t = 0
    for s in timeline.findall("d:S", _NS):
        t, d, r = int(s.get("t", t)), int(s.get("d", "")), int(s.get("r", "0"))
        if r < 0 or d <= 0:
            raise ValueError(f"S@r={r} or S@d={d} is not supported in a static MPD")
        for _ in range(r + 1):
            starts.append(t)
            durations.append(d)
            t += d
    bandwidth, number = int(attr("bandwidth") or 0), int(template.get("startNumber", "1"))
    values: dict[str, int | str] = {"RepresentationID": rep_id, "Bandwidth": bandwidth}
    segments = tuple(
        _file(base, template.get("media", ""), {**values, "Number": number + i, "Time": start})
        for i, start in enumerate(starts)
    )
    kind = aset.get("contentType") or (attr("mimeType") or "").split("/")[0]
    return MpdRepresentation(
        id=rep_id,
        content_type=kind,
        bandwidth_bps=bandwidth,
        codecs=attr("codecs") or "",
        width=int(w) if (w := attr("width")) else None,
        height=int(h) if (h := attr("height")) else None,
        frame_rate=Fraction(f) if (f := attr("frameRate")) else None,
        timescale=int(template.get("timescale", "1")),
        presentation_time_offset=int(template.get("presentationTimeOffset", "0")),
        init_path=_file(base, template.get("initialization", ""), values),
        segment_paths=segments,
        segment_starts_ticks=tuple(starts),
        segment_durations_ticks=tuple(durations),
    )


def read_mpd(path: str | os.PathLike[str]) -> MpdInfo:
    """Parse a single-Period MPD with SegmentTemplate/SegmentTimeline addressing (what
    :func:`write_mpd` writes). Raises :class:`InvalidMediaError` for anything else."""
    mpd = Path(path)
    try:
        root = ET.parse(mpd).getroot()
    except FileNotFoundError as exc:
        raise MediaNotFoundError(f"{mpd}: no such MPD", path=mpd) from exc
    except (OSError, ET.ParseError) as exc:
        raise InvalidMediaError(f"{mpd}: not a readable XML file ({exc})", path=mpd) from exc
    periods = root.findall("d:Period", _NS)
    if root.tag != f"{{{MPD_NS}}}MPD" or len(periods) != 1:
        raise InvalidMediaError(f"{mpd}: not an MPD ({MPD_NS}) with exactly one Period", path=mpd)
    if root.find(".//d:BaseURL", _NS) is not None:
        raise InvalidMediaError(f"{mpd}: BaseURL is not supported (URLs are read as relative)")
    reps = []
    for aset in periods[0].findall("d:AdaptationSet", _NS):
        for el in aset.findall("d:Representation", _NS):
            try:
                reps.append(_representation(mpd.parent, aset, el))
            except (ValueError, ZeroDivisionError) as exc:
                message = f"{mpd}: Representation {el.get('id')!r}: {exc}"
                raise InvalidMediaError(message, path=mpd) from exc
    duration = root.get("mediaPresentationDuration")
    try:
        duration_s = _parse_duration(duration) if duration else None
    except ValueError as exc:
        raise InvalidMediaError(f"{mpd}: {exc}", path=mpd) from exc
    return MpdInfo(
        path=mpd,
        presentation_type=root.get("type", "static"),
        profiles=tuple(p.strip() for p in root.get("profiles", "").split(",") if p.strip()),
        duration_s=duration_s,
        representations=tuple(reps),
    )


# --- checking ---


def _check_files(rep: MpdRepresentation) -> list[str]:
    name = f"Representation {rep.id!r}"
    if not rep.init_path.is_file():
        return [f"{name}: init segment {rep.init_path} is missing; package the rendition again."]
    missing = [p for p in rep.segment_paths if not p.is_file()]
    if missing:
        shown = ", ".join(p.name for p in missing[:3]) + (" ..." if len(missing) > 3 else "")
        return [f"{name}: {len(missing)} media segment(s) missing in {missing[0].parent}: {shown}"]
    try:
        track = read_track(rep.init_path)
        fragments = [read_fragment(segment, track) for segment in rep.segment_paths]
    except InvalidMediaError as exc:
        return [f"{name}: {exc.message}"]
    starts, last = rep.segment_starts_ticks, fragments[-1]
    listed_ticks = (*starts, starts[-1] + rep.segment_durations_ticks[-1])
    media_ticks = (*(f.earliest for f in fragments), last.earliest + last.duration)
    origin = Fraction(rep.presentation_time_offset, rep.timescale)
    for i, (in_media, listed) in enumerate(zip(media_ticks, listed_ticks, strict=True)):
        fragment = fragments[min(i, len(fragments) - 1)]
        half_sample = Fraction(fragment.duration, 2 * len(fragment.durations) * track.timescale)
        media_s = Fraction(in_media, track.timescale) - origin
        listed_s = Fraction(listed, rep.timescale) - origin
        if abs(media_s - listed_s) > half_sample:
            what = "the last segment ends"
            what = f"segment {i} ({rep.segment_paths[i].name}) starts" if i < len(starts) else what
            return [
                f"{name}: {what} at {float(media_s):.6f} s in the media but at "
                f"{float(listed_s):.6f} s in the SegmentTimeline; write the MPD again from the "
                "segments' durations."
            ]
    return []


def _check_alignment(video: Sequence[MpdRepresentation], tolerance_s: float) -> list[str]:
    if not video:
        return ["The MPD has no video Representation."]
    ref = video[0]
    for rep in video[1:]:
        a, b = ref.boundaries_s(), rep.boundaries_s()
        pairs = enumerate(zip(a, b, strict=False))
        bad = next((i for i, (x, y) in pairs if abs(x - y) > tolerance_s), None)
        if bad is not None:
            where = f"segment {bad} starts at {float(a[bad]):.3f} s vs {float(b[bad]):.3f} s"
        elif len(a) != len(b):
            where = f"{len(a) - 1} vs {len(b) - 1} segments"
        else:
            continue
        return [
            f"Representations {ref.id!r} and {rep.id!r} are not aligned ({where}): players "
            "cannot switch between them; encode every rung with the same keyframes."
        ]
    return []


def check_mpd(
    path: str | os.PathLike[str], *, duration_s: float, frame_rate: Fraction | None = None
) -> list[str]:
    """Problems of the MPD at ``path`` (empty when fine): it parses and is static; every init
    and media segment exists and starts where the SegmentTimeline says; each timeline adds up to
    ``duration_s`` within 1.5 frames (0.05 s without ``frame_rate``; audio always gets 0.05 s);
    the video Representations are aligned; every ``@bandwidth`` is > 0."""
    try:
        info = read_mpd(path)
    except LadderforgeError as exc:
        return [exc.message]
    problems = []
    if info.presentation_type != "static":
        problems.append(f"{info.path}: @type is {info.presentation_type!r}, not 'static' (VOD).")
    video_tolerance_s = 1.5 / frame_rate if frame_rate else _AUDIO_TOLERANCE_S
    for rep in info.representations:
        name = f"Representation {rep.id!r}"
        if rep.bandwidth_bps <= 0:
            problems.append(f"{name}: @bandwidth is {rep.bandwidth_bps}; it must be > 0.")
        if not rep.segment_paths:
            problems.append(f"{name}: the SegmentTimeline is empty.")
            continue
        tolerance_s = video_tolerance_s
        if rep.content_type != "video":
            tolerance_s = max(float(video_tolerance_s), _AUDIO_TOLERANCE_S)
        if abs(rep.duration_s - duration_s) > tolerance_s:
            problems.append(
                f"{name}: the SegmentTimeline adds up to {rep.duration_s:.3f} s, not "
                f"{duration_s:.3f} s (more than {float(tolerance_s):.3f} s off)."
            )
        problems += _check_files(rep)
    half_frame_s = 0.5 / frame_rate if frame_rate else 0.02
    return problems + _check_alignment(info.video, float(half_frame_s))
