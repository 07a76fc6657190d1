"""DASH beside HLS: an MPD over the fMP4 segments that :func:`~ladderforge.encoder.hls.package_hls`
already wrote, so both manifests share one copy of the media.

The MPD is written by hand (ElementTree), not by ffmpeg's ``dash`` muxer: that muxer segments
the media itself, so it would write a second init and a second set of segments per rendition
beside the HLS ones (twice the storage and CDN cache), cut wherever its own options say. The HLS
fMP4 segments already are DASH media segments (``styp`` brands ``msdh``/``msix``, one ``moof``
with a ``tfdt``, each starting at a keyframe): only the manifest is missing.

Profile ``urn:mpeg:dash:profile:isoff-live:2011``: an init segment plus numbered media segments
addressed by a SegmentTemplate, which every DASH player supports. Not ``isoff-on-demand`` (one
indexed file per representation, SegmentBase), and not CMAF (``cmaf:2019``): the init segments
carry no ``cmfc`` brand (ffmpeg writes iso5/iso6/mp41) and the video init has an edit list with an
empty edit, which CMAF tracks may not have, so claiming it would mislead strict players.

Timing is exact. The SegmentTimeline is in the track's own timescale (``mdhd`` of init.mp4), so
its numbers are those of the media. The boundaries between segments are the caller's cumulative
durations rounded once each, to whole samples where the first fragment's samples share one
duration (video frames, AAC frames): per-segment rounding cannot accumulate, and the 6-decimal
EXTINF values of the playlists snap back to the media's exact times. Both ends come from the
media: the first ``t`` and the ``presentationTimeOffset`` are the first segment's earliest
presentation time read from its ``moof`` (B-frames shift it by their composition offset), so the
period starts on the first frame; the end is the last fragment's end (audio trimmed to the video
ends on a short sample, off the grid). :func:`check_mpd` reads every ``moof`` again and compares.

The ``moof`` reader is :mod:`~ladderforge.encoder.mp4_boxes`; reading and checking an MPD
(:func:`read_mpd`, :func:`check_mpd`, :class:`MpdInfo`) live in
:mod:`~ladderforge.encoder.dash_check` and are re-exported here.
"""

from __future__ import annotations

import itertools
import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from urllib.parse import quote

from ladderforge.encoder.dash_check import (
    MPD_NS,
    MpdInfo,
    MpdRepresentation,
    check_mpd,
    read_mpd,
)
from ladderforge.encoder.mp4_boxes import read_fragment, read_track
from ladderforge.errors import MediaNotFoundError, UsageError
from ladderforge.store import atomic_write_bytes

__all__ = [
    "INIT_NAME",
    "MPD_NS",
    "PROFILE",
    "SEGMENT_NAME",
    "DashAudio",
    "DashRepresentation",
    "MpdInfo",
    "MpdRepresentation",
    "check_mpd",
    "read_mpd",
    "timeline_ticks",
    "write_mpd",
]

PROFILE = "urn:mpeg:dash:profile:isoff-live:2011"
INIT_NAME = "init.mp4"
"""Init segment name in a rendition folder (as ``package_hls`` writes it)."""
SEGMENT_NAME = "seg_{:05d}.m4s"
"""Media segment names, numbered from 0 (as ``package_hls`` writes them)."""
_SEGMENT_TEMPLATE = "seg_$Number%05d$.m4s"
_CHANNELS_SCHEME = "urn:mpeg:dash:23003:3:audio_channel_configuration:2011"


@dataclass(frozen=True)
class DashRepresentation:
    """A packaged video rendition (a ``package_hls`` fMP4 folder) as one DASH Representation."""

    folder: Path
    """Folder with ``init.mp4`` and ``seg_00000.m4s``...; also the Representation id."""
    segment_durations_s: tuple[float, ...]
    """Duration of each segment in order (the media playlist's EXTINF values)."""
    peak_bps: float
    """Peak bitrate in bits/s (``@bandwidth``; the highest segment bitrate)."""
    width: int
    """Picture width in pixels."""
    height: int
    """Picture height in pixels."""
    frame_rate: Fraction
    """Frames per second, written as ``@frameRate`` (``25`` or ``30000/1001``)."""
    codecs: str
    """RFC 6381 codecs string (see :func:`~ladderforge.encoder.hls.codecs_string`)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "folder", Path(self.folder))
        _validate(self, type(self).__name__)
        for name in ("width", "height", "frame_rate"):
            if not getattr(self, name) > 0:
                raise UsageError(
                    f"The '{name}' parameter of DashRepresentation must be > 0. "
                    f"Got {getattr(self, name)!r} instead."
                )


@dataclass(frozen=True)
class DashAudio:
    """A packaged audio rendition (fMP4 folder laid out like ``package_hls``'s)."""

    folder: Path
    """Folder with ``init.mp4`` and ``seg_00000.m4s``...; also the Representation id."""
    segment_durations_s: tuple[float, ...]
    """Duration of each segment in order (the media playlist's EXTINF values)."""
    peak_bps: float
    """Peak bitrate in bits/s (``@bandwidth``)."""
    codecs: str
    """RFC 6381 codecs string, e.g. ``mp4a.40.2`` for AAC-LC."""
    sample_rate_hz: int
    """Audio sampling rate (``@audioSamplingRate``)."""
    channels: int
    """Channel count (AudioChannelConfiguration)."""
    lang: str | None = None
    """BCP 47 language of the AdaptationSet (``@lang``), when known."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "folder", Path(self.folder))
        _validate(self, type(self).__name__)
        for name in ("sample_rate_hz", "channels"):
            if not getattr(self, name) > 0:
                raise UsageError(
                    f"The '{name}' parameter of DashAudio must be > 0. "
                    f"Got {getattr(self, name)!r} instead."
                )


def _validate(rep: DashRepresentation | DashAudio, owner: str) -> None:
    durations = rep.segment_durations_s
    if not durations or not all(math.isfinite(d) and d > 0 for d in durations):
        raise UsageError(
            f"The 'segment_durations_s' parameter of {owner} must be a non-empty tuple of "
            f"positive durations. Got {durations!r} instead."
        )
    if not rep.peak_bps > 0:
        raise UsageError(f"The 'peak_bps' parameter of {owner} must be > 0. Got {rep.peak_bps!r}.")
    if not rep.codecs:
        raise UsageError(f"The 'codecs' parameter of {owner} must not be empty.")


def timeline_ticks(
    durations_s: Sequence[float],
    *,
    timescale: int,
    grid_ticks: int = 1,
    total_ticks: int | None = None,
) -> tuple[int, ...]:
    """Segment durations in ``timescale`` ticks without drift: each boundary between segments
    is the cumulative (exact) sum of ``durations_s`` rounded once to a multiple of ``grid_ticks``
    (one sample's duration when all samples share it; 1 otherwise). The end is ``total_ticks``
    when given (the media's own length: a trimmed last sample is off the grid), else the
    rounded total the same way."""
    ends, total = [], Fraction(0)
    for duration in durations_s:
        total += Fraction(duration)
        ends.append(round(total * timescale / grid_ticks) * grid_ticks)
    if total_ticks is not None and ends:
        ends[-1] = total_ticks
    ticks = tuple(b - a for a, b in itertools.pairwise([0, *ends]))
    if any(t <= 0 for t in ticks):
        raise UsageError(
            f"A segment shorter than one sample ({grid_ticks}/{timescale} s) cannot be timed: "
            f"durations {tuple(durations_s)!r} (total {total_ticks} ticks)."
        )
    return ticks


# --- writing ---


def _xs_duration(seconds: float) -> str:
    return f"PT{seconds:.3f}S"


def _url(folder: Path, base: Path) -> str:
    rel = Path(os.path.relpath(folder.resolve(), base.resolve()))
    return "".join(quote(part, safe="") + "/" for part in rel.parts if part != ".")


def _segment_template(parent: ET.Element, rep: DashRepresentation | DashAudio, base: Path) -> None:
    init = rep.folder / INIT_NAME
    segments = [rep.folder / SEGMENT_NAME.format(i) for i in range(len(rep.segment_durations_s))]
    for needed in (init, *segments):
        if not needed.is_file():
            raise MediaNotFoundError(
                f"{needed} is missing: the MPD reuses the fMP4 segments of package_hls; "
                "package the rendition with segment_type='fmp4' first.",
                path=needed,
            )
    track = read_track(init)
    first, last = read_fragment(segments[0], track), read_fragment(segments[-1], track)
    grid = first.durations[0] if len(set(first.durations)) == 1 else 1
    total = last.earliest + last.duration - first.earliest
    ticks = timeline_ticks(
        rep.segment_durations_s, timescale=track.timescale, grid_ticks=grid, total_ticks=total
    )
    prefix = _url(rep.folder, base)
    template = ET.SubElement(
        parent,
        "SegmentTemplate",
        timescale=str(track.timescale),
        presentationTimeOffset=str(first.earliest),
        initialization=prefix + INIT_NAME,
        media=prefix + _SEGMENT_TEMPLATE,
        startNumber="0",
    )
    timeline = ET.SubElement(template, "SegmentTimeline")
    runs = [(d, len(list(run))) for d, run in itertools.groupby(ticks)]
    for i, (duration, count) in enumerate(runs):
        s = ET.SubElement(timeline, "S", {"t": str(first.earliest)} if i == 0 else {})
        s.set("d", str(duration))
        if count > 1:
            s.set("r", str(count - 1))


_CICP = "urn:mpeg:mpegB:cicp:"
_TRANSFER_CODES = {"PQ": "16", "HLG": "18"}


def _hdr_properties(video: ET.Element, video_range: str) -> None:
    """The CICP descriptors of an HDR AdaptationSet (nothing for SDR)."""
    if video_range == "SDR":
        return
    if video_range not in _TRANSFER_CODES:
        raise UsageError(f"video_range must be SDR, PQ or HLG. Got {video_range!r} instead.")
    transfer = ("TransferCharacteristics", _TRANSFER_CODES[video_range])
    essential = [transfer] if video_range == "PQ" else []
    supplemental = [("ColourPrimaries", "9"), ("MatrixCoefficients", "9")]
    supplemental += [transfer] if video_range == "HLG" else []
    # the MPD schema's order: every EssentialProperty before the SupplementalProperty elements
    for kind, pairs in (("EssentialProperty", essential), ("SupplementalProperty", supplemental)):
        for scheme, value in pairs:
            ET.SubElement(video, kind, schemeIdUri=_CICP + scheme, value=value)


def write_mpd(
    path: str | os.PathLike[str],
    *,
    representations: Sequence[DashRepresentation],
    audio: DashAudio | None = None,
    duration_s: float,
    min_buffer_s: float = 2.0,
    video_range: str = "SDR",
) -> Path:
    """Write a static (VOD) MPD at ``path`` over the renditions' existing fMP4 segments (URLs
    relative to the MPD); one video AdaptationSet, plus one audio AdaptationSet with ``audio``.
    ``video_range`` ``PQ`` or ``HLG`` signals HDR as DASH-IF IOP does (CICP properties of the
    video AdaptationSet: BT.2020 primaries and matrix, and the transfer: PQ as an
    EssentialProperty, which a player that cannot show it must skip; HLG, displayable as SDR,
    as a SupplementalProperty).
    Raises :class:`MediaNotFoundError` when an init or media segment is missing."""
    if not representations:
        raise UsageError("The 'representations' parameter of write_mpd must not be empty.")
    if not (duration_s > 0 and min_buffer_s > 0):
        raise UsageError(
            "The 'duration_s' and 'min_buffer_s' parameters of write_mpd must be > 0. "
            f"Got {duration_s!r} and {min_buffer_s!r} instead."
        )
    ids = [r.folder.name for r in representations] + ([audio.folder.name] if audio else [])
    if len(set(ids)) != len(ids) or any(not i or i.split() != [i] for i in ids):
        raise UsageError(f"Representation ids (folder names) must be unique words. Got {ids!r}.")
    target = Path(path)
    # Unqualified tags + an xmlns attribute: ElementTree's default_namespace option rejects
    # unqualified attributes, and register_namespace would change global state.
    root = ET.Element("MPD", xmlns=MPD_NS, profiles=PROFILE, type="static")
    root.set("mediaPresentationDuration", _xs_duration(duration_s))
    root.set("minBufferTime", _xs_duration(min_buffer_s))
    period = ET.SubElement(root, "Period", id="0", start="PT0S")
    video = ET.SubElement(period, "AdaptationSet", id="0", contentType="video")
    video.attrib.update(mimeType="video/mp4", segmentAlignment="true", startWithSAP="1")
    video.set("maxWidth", str(max(r.width for r in representations)))
    video.set("maxHeight", str(max(r.height for r in representations)))
    _hdr_properties(video, video_range)
    for rep in sorted(representations, key=lambda r: r.peak_bps):
        rate = rep.frame_rate
        el = ET.SubElement(video, "Representation", id=rep.folder.name, codecs=rep.codecs)
        el.attrib.update(bandwidth=str(math.ceil(rep.peak_bps)), width=str(rep.width))
        el.attrib.update(height=str(rep.height), frameRate=str(rate))
        _segment_template(el, rep, target.parent)
    if audio is not None:
        sound = ET.SubElement(period, "AdaptationSet", id="1", contentType="audio")
        sound.attrib.update(mimeType="audio/mp4", segmentAlignment="true", startWithSAP="1")
        if audio.lang:
            sound.set("lang", audio.lang)
        el = ET.SubElement(sound, "Representation", id=audio.folder.name, codecs=audio.codecs)
        el.attrib.update(bandwidth=str(math.ceil(audio.peak_bps)))
        el.set("audioSamplingRate", str(audio.sample_rate_hz))
        channels = ET.SubElement(el, "AudioChannelConfiguration", value=str(audio.channels))
        channels.set("schemeIdUri", _CHANNELS_SCHEME)
        _segment_template(el, audio, target.parent)
    ET.indent(root)
    data = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return atomic_write_bytes(target, data + b"\n")
