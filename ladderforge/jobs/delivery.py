"""What ships for a title, beside its video rungs: the audio rendition, the DASH manifest, the
HLS master playlist and the ladder JSON, all in ``OUT/<title>/``.

The audio is one AAC-LC stereo rendition segmented on the video's chunk boundaries and
declared as an ``EXT-X-MEDIA`` group that every variant references (and as an AdaptationSet in
the MPD). DASH reuses the HLS fMP4 segments: one MPD over the same files, no second copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ladderforge import __version__
from ladderforge.encoder.audio import AudioPlaylist, package_audio, probe_audio
from ladderforge.encoder.dash import DashAudio, DashRepresentation, write_mpd
from ladderforge.encoder.hls import MediaPlaylist, write_master
from ladderforge.jobs.context import TitleJob
from ladderforge.media import ffmpeg_version
from ladderforge.store import atomic_write_json
from ladderforge.types import AudioFiles, Ladder, LadderCost, LadderEnhance, Provenance, Rung

__all__ = ["Delivery", "check_source_audio", "deliver"]

AUDIO_FOLDER = "audio"
MPD_NAME = "manifest.mpd"


@dataclass(frozen=True)
class Delivery:
    """What :func:`deliver` wrote."""

    ladder: Ladder
    notes: tuple[str, ...]


def check_source_audio(job: TitleJob) -> None:
    """Before any work: audio that will be packaged must decode (an error names the file)."""
    if job.record.has_audio and job.config.audio and job.config.encodes:
        probe_audio(job.record.path)


def deliver(
    job: TitleJob,
    mode_name: str,
    rungs: list[Rung],
    notes: list[str],
    packaged: Mapping[str, MediaPlaylist],
    *,
    cost: LadderCost | None = None,
) -> Ladder:
    """Package the audio and write the manifests and the ladder JSON of one title."""
    enhance = None
    if job.enhancer is not None:  # the enhancement modules only for an enhanced ladder
        from ladderforge.jobs.enhanced import ladder_enhance

        enhance = ladder_enhance(job.enhancer, rungs)
    notes = [*notes, *_tuning_notes(job), *_enhance_notes(enhance, rungs)]
    audio = _audio(job, notes) if packaged else None
    manifests = {"hls": "master.m3u8"} if packaged else {"hls_plan": "master.plan.m3u8"}
    if packaged and job.config.segment_type == "fmp4":
        _write_mpd(job, rungs, packaged, audio)
        manifests["dash"] = MPD_NAME
    elif packaged:
        notes.append("no DASH manifest: DASH needs fMP4 segments (--segment-type fmp4)")
    ladder = Ladder(
        job.title,
        job.record,
        tuple(rungs),
        mode=mode_name,
        notes=tuple(notes),
        provenance=_provenance(job),
        audio=_audio_files(audio) if audio else None,
        manifests=manifests,
        tuning=job.tuning,
        cost=cost,
        enhance=enhance,
    )
    master = job.deliver / (manifests.get("hls") or manifests["hls_plan"])
    write_master(ladder, master, fps=job.fps, bit_depth=job.info.bit_depth, packaged=packaged)
    atomic_write_json(job.deliver / f"{job.title}.ladder.json", ladder.to_dict())
    return ladder


def _tuning_notes(job: TitleJob) -> list[str]:
    tuning = job.tuning
    if tuning is None:
        return []
    if not tuning.params and tuning.tune is None:
        why = (
            "its set was not accepted: guard or CPU budget" if tuning.set
            else "the file has none for it"
        )  # fmt: skip
        return [f"content class {tuning.content_class}: no tuned set applied ({why}); the "
                "preset's defaults were used"]  # fmt: skip
    notes = [f"tuned set {tuning.set} applied to every encode (class {tuning.content_class}: "
             f"{tuning.class_reason})"]  # fmt: skip
    if job.config.mode != "exhaustive":
        notes.append(
            "the predicted figures are the model's for the preset's default parameters; "
            "measured figures are of the tuned encodes"
        )
    return notes


def _enhance_notes(enhance: LadderEnhance | None, rungs: list[Rung]) -> list[str]:
    if enhance is None:
        return []
    gains = [r.enhance.gain_vmaf for r in rungs if r.enhance is not None and r.enhance.enabled]
    return [
        f"enhanced with {enhance.model} ({enhance.fingerprint}): players with the stage run it "
        f"on {enhance.enabled_rungs} of {len(rungs)} rungs (flagged 'enhance.enabled'"
        + (f", VMAF +{min(gains):.2f} to +{max(gains):.2f}" if gains else "")
        + "); master.m3u8 is the plain ladder, valid for every player: its quality is the "
        "rungs' measured figures"
    ]


def _audio(job: TitleJob, notes: list[str]) -> AudioPlaylist | None:
    if not job.record.has_audio:
        return None
    if not job.config.audio:
        notes.append("the source's audio was left out (--no-audio)")
        return None
    job.stage("audio")
    return package_audio(
        job.record.path,
        job.deliver / AUDIO_FOLDER,
        boundaries_s=[c.start / job.fps for c in job.chunks],
        duration_s=job.info.duration_s,
        bitrate_kbps=job.config.audio_bitrate_kbps,
        segment_type=job.config.segment_type,
        timeout_s=job.config.timeout_s,
    )


def _audio_files(audio: AudioPlaylist) -> AudioFiles:
    init = audio.path.parent / "init.mp4"
    return AudioFiles(
        playlist=f"{AUDIO_FOLDER}/{audio.path.name}",
        init=f"{AUDIO_FOLDER}/init.mp4" if init.exists() else None,
        segments=audio.segments,
        codecs=audio.codecs,
        bitrate_kbps=audio.average_bps / 1000,
        channels=audio.channels,
        sample_rate=audio.sample_rate,
        peak_bps=audio.peak_bps,
    )


def _write_mpd(
    job: TitleJob,
    rungs: list[Rung],
    packaged: Mapping[str, MediaPlaylist],
    audio: AudioPlaylist | None,
) -> Path:
    job.stage("DASH manifest")
    representations = [
        DashRepresentation(
            folder=job.deliver / r.name,
            segment_durations_s=packaged[r.name].durations_s,
            peak_bps=packaged[r.name].peak_bps,
            width=r.settings.width,
            height=r.settings.height,
            frame_rate=job.info.frame_rate,
            codecs=r.files.codecs if r.files else "",
        )
        for r in rungs
    ]
    dash_audio = (
        DashAudio(
            folder=audio.path.parent,
            segment_durations_s=audio.durations_s,
            peak_bps=audio.peak_bps,
            codecs=audio.codecs,
            sample_rate_hz=audio.sample_rate,
            channels=audio.channels,
        )
        if audio
        else None
    )
    return write_mpd(
        job.deliver / MPD_NAME,
        representations=representations,
        audio=dash_audio,
        duration_s=job.info.duration_s,
        video_range=job.record.video_range,
    )


def _provenance(job: TitleJob) -> Provenance:
    model = job.model_used
    name = None
    if model is not None:
        name = str(job.config.model_path or job.facts.model_for(job.config.resolved_preset))
    return Provenance(
        ladderforge=__version__,
        ffmpeg=ffmpeg_version(),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        model=name,
        model_fingerprint=getattr(model, "fingerprint_", None),
        config=job.config.to_dict(),
    )
