"""Ladders, rungs and what a rung records (chunks, closed-loop attempts, costs)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from ladderforge.errors import UsageError
from ladderforge.types.cost import LadderCost
from ladderforge.types.enhance import LadderEnhance, RungEnhance
from ladderforge.types.media import EncodeSettings, SourceInfo, to_jsonable
from ladderforge.types.record import PlainRecord

LADDER_SCHEMA_VERSION = "ladderforge.ladder/3"
"""Version 3 = version 2 plus the optional enhancement fields (``enhance`` on the ladder and
its rungs, ``plain_vmaf`` on closed-loop attempts): a version-2 reader's files still load."""
READABLE_SCHEMAS = ("ladderforge.ladder/1", "ladderforge.ladder/2", LADDER_SCHEMA_VERSION)

E = TypeVar("E")


def _optional_floats(obj: Any) -> dict[str, float]:
    """The fields of a record of optional floats that are set (None left out of the JSON)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj) if getattr(obj, f.name) is not None}


@dataclass(frozen=True)
class RungCosts:
    """What a rung costs: CPU seconds and money (USD). Unknown figures are None."""

    encode_cpu_s: float | None = None
    """Predicted CPU seconds of the rung's encode (or measured, for a swept point)."""
    encode_cpu_s_measured: float | None = None
    """CPU seconds the rung's encode really took (all its chunks)."""
    encode_usd: float | None = None
    """Compute price of the encode (CPU- or GPU-hours)."""
    storage_usd: float | None = None
    """Storage of the rendition over the cost model's storage period."""
    delivery_usd: float | None = None
    """CDN egress of the rendition's expected views."""
    total_usd: float | None = None
    """encode + storage + delivery."""

    def to_dict(self) -> dict[str, float]:
        return _optional_floats(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RungCosts:
        # names of this class only: version-1 files also carried predicted_chunk_kbps here
        return cls(**{f.name: data[f.name] for f in fields(cls) if data.get(f.name) is not None})


@dataclass(frozen=True)
class ChunkRecord:
    """One chunk of a chunked rung: its frames, its CRF/CQ and its figures."""

    start: int
    """First frame of the chunk."""
    end: int
    """One past its last frame."""
    q: float
    """The chunk's CRF/CQ (per-scene allocation gives each chunk its own)."""
    predicted_kbps: float
    """Bitrate the chunk curve predicted at ``q`` (measured in exhaustive mode)."""
    predicted_vmaf: float
    """VMAF the chunk curve predicted at ``q``."""
    single_q_kbps: float
    """The same chunk at the rung's single CRF: what per-scene allocation is judged by."""
    single_q_vmaf: float
    """VMAF of the chunk at the rung's single CRF."""
    kbps: float | None = None
    """Measured bitrate of the chunk in the rendition (from its packets, no container)."""
    vmaf: float | None = None
    """Measured mean VMAF of the chunk's frames."""

    @property
    def frames(self) -> int:
        return self.end - self.start

    def to_dict(self) -> dict[str, float]:
        return _optional_floats(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkRecord:
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["start"], values["end"] = int(values["start"]), int(values["end"])
        return cls(**values)


@dataclass(frozen=True)
class RungAttempt(PlainRecord):
    """One encode of a closed-loop rung (or clip), measured as shipped."""

    q: float
    """The CRF/CQ of the attempt (per-scene rungs: the rung's CRF, every chunk shifted by the
    same amount)."""
    vmaf: float
    """Mean VMAF of the whole rendition."""
    kbps: float
    """Its bitrate."""
    cpu_s: float = 0.0
    """CPU seconds of the encodes this attempt ran (0 when every chunk was reused)."""
    plain_vmaf: float | None = None
    """Enhanced ladders: the VMAF without the stage (``vmaf`` is then the delivered VMAF, the
    one the loop steers on); None otherwise, and left out of the JSON."""
    height: int | None = None
    """The height encoded, where it may differ from the rung's (``--replan-heights``: a rung's
    attempts at the height it left or moved to); None otherwise, and left out of the JSON."""

    @property
    def stage_on(self) -> bool:
        """Enhanced ladders: whether players with the stage run it on this encode. The stage is
        on only where it raises VMAF, so it is on exactly where ``vmaf`` (delivered) is above
        ``plain_vmaf``; False on plain ladders."""
        return self.plain_vmaf is not None and self.vmaf > self.plain_vmaf

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        if self.plain_vmaf is None:
            del data["plain_vmaf"]
        if self.height is None:
            del data["height"]
        return data


@dataclass(frozen=True)
class RungFiles(PlainRecord):
    """Where a packaged rung lies, relative to its title's folder."""

    playlist: str
    """The HLS media playlist, e.g. ``272p_180k/index.m3u8``."""
    init: str | None
    """The fMP4 init segment (None for MPEG-TS segments)."""
    segments: int
    """Number of media segments."""
    codecs: str
    """RFC 6381 CODECS of the stream, read from its parameter sets."""
    peak_bps: float
    """Highest segment bitrate (HLS BANDWIDTH, DASH bandwidth)."""
    average_bps: float
    """Mean bitrate of the segments (HLS AVERAGE-BANDWIDTH)."""


@dataclass(frozen=True)
class Rung:
    """One rung of a ladder."""

    settings: EncodeSettings
    """How to encode the rung (after a closed loop: the CRF that shipped)."""
    bitrate_kbps: float
    """Predicted bitrate (the sweep's measured point in exhaustive mode)."""
    vmaf: float
    """Predicted VMAF (the sweep's in exhaustive mode): what the rung declared."""
    measured_bitrate_kbps: float | None = None
    """Measured bitrate of the encoded rendition."""
    measured_vmaf: float | None = None
    """Measured mean VMAF of the whole encoded rendition."""
    cost: RungCosts = field(default_factory=RungCosts)
    """CPU seconds and prices attached by the cost model."""
    chunks: tuple[ChunkRecord, ...] = ()
    """Chunked renditions: one record per chunk (frames, CRF, predicted and measured figures)."""
    target_vmaf: float | None = None
    """Closed loop: the VMAF the rung declared before it was encoded."""
    attempts: tuple[RungAttempt, ...] = ()
    """Closed loop: every encode of the rung, in order; the shipped one is in ``settings``."""
    measured_vmaf_neg: float | None = None
    """Measured VMAF NEG (``--validate``)."""
    measured_psnr_y: float | None = None
    """Measured luma PSNR, dB (``--validate``)."""
    files: RungFiles | None = None
    """The packaged rendition's files (None until packaged)."""
    enhance: RungEnhance | None = None
    """``ladder --enhanced``: the rung measured with and without the enhancement stage, and
    whether players with the stage run it here. ``measured`` stays the plain rendition's
    figures (what every player gets); None without ``--enhanced`` (left out of the JSON)."""

    @property
    def name(self) -> str:
        """The rung's folder name: ``<height>p_<kbps>k`` (measured kbps once encoded)."""
        kbps = self.measured_bitrate_kbps or self.bitrate_kbps
        return f"{self.settings.height}p_{round(kbps)}k"

    @property
    def known_kbps(self) -> float:
        """The measured kbps once encoded, else the declared."""
        measured = self.measured_bitrate_kbps
        return measured if measured is not None else self.bitrate_kbps

    @property
    def known_vmaf(self) -> float:
        """The measured VMAF once encoded, else the declared."""
        return self.measured_vmaf if self.measured_vmaf is not None else self.vmaf

    @property
    def chunk_predicted_kbps(self) -> float | None:
        """The chunks' predicted bitrates averaged over frames (None when not chunked)."""
        frames = sum(c.frames for c in self.chunks)
        if not frames:
            return None
        return sum(c.predicted_kbps * c.frames for c in self.chunks) / frames

    def to_dict(self) -> dict[str, Any]:
        measured = {
            "kbps": self.measured_bitrate_kbps,
            "vmaf": self.measured_vmaf,
            "vmaf_neg": self.measured_vmaf_neg,
            "psnr_y": self.measured_psnr_y,
        }
        return {
            "name": self.name,
            "resolution": f"{self.settings.width}x{self.settings.height}",
            "settings": self.settings.to_dict(),
            "predicted": {"kbps": self.bitrate_kbps, "vmaf": self.vmaf},
            "measured": {k: v for k, v in measured.items() if v is not None} or None,
            "target_vmaf": self.target_vmaf,
            "attempts": [a.to_dict() for a in self.attempts],
            "cost": self.cost.to_dict(),
            "files": self.files.to_dict() if self.files else None,
            "chunks": [c.to_dict() for c in self.chunks],
        } | ({"enhance": self.enhance.to_dict()} if self.enhance else {})

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, version: int = 3) -> Rung:
        """A rung of schema ``version``: 2 and 3, or 1 (flat predicted/measured keys). Its
        ``enhance`` record is read from version 3 only."""
        if "predicted" in data:
            measured = data.get("measured") or {}
            figures = {
                "bitrate_kbps": data["predicted"]["kbps"],
                "vmaf": data["predicted"]["vmaf"],
                "measured_bitrate_kbps": measured.get("kbps"),
                "measured_vmaf": measured.get("vmaf"),
                "measured_vmaf_neg": measured.get("vmaf_neg"),
                "measured_psnr_y": measured.get("psnr_y"),
            }
        else:  # version 1
            figures = {
                "bitrate_kbps": data["bitrate_kbps"],
                "vmaf": data["vmaf"],
                "measured_bitrate_kbps": data.get("measured_bitrate_kbps"),
                "measured_vmaf": data.get("measured_vmaf"),
            }
        return cls(
            settings=EncodeSettings.from_dict(data["settings"]),
            cost=RungCosts.from_dict(data.get("cost") or {}),
            chunks=tuple(ChunkRecord.from_dict(c) for c in data.get("chunks", ())),
            target_vmaf=data.get("target_vmaf"),
            attempts=tuple(RungAttempt.from_dict(a) for a in data.get("attempts", ())),
            files=RungFiles.from_dict(data["files"]) if data.get("files") else None,
            enhance=_enhance(RungEnhance.from_dict, data) if version >= 3 else None,
            **figures,
        )


@dataclass(frozen=True)
class Provenance(PlainRecord):
    """What made a ladder: tool, model, configuration, time."""

    ladderforge: str
    """ladderforge's version."""
    ffmpeg: str
    """The ffmpeg (and libvmaf) version string."""
    created: str
    """When the ladder was written (ISO 8601, UTC)."""
    model: str | None = None
    """The learned model that predicted the surface (shipped name or file), if any."""
    model_fingerprint: str | None = None
    """Fingerprint of the model's training data."""
    config: dict[str, Any] = field(default_factory=dict)
    """Every setting of the run (the library's configuration, as JSON)."""

    def to_dict(self) -> dict[str, Any]:
        return {k: to_jsonable(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class TuningRef:
    """The tuned parameter set a ladder's encodes used (``ladder --tuned``)."""

    file: str
    """The tuned-sets file (``ladderforge tune``'s ``tuned.json``)."""
    content_class: str
    """The title's content class."""
    class_reason: str
    """The rule that decided the class, with the feature values."""
    set: str | None
    """The set's name, ``codec/preset/class``; None when the file has no set for the class."""
    accepted: bool
    """Whether the set passed the honesty guard (False: the preset's defaults were used)."""
    params: tuple[tuple[str, str], ...] = ()
    """The encoder parameters applied to every encode of the title."""
    tune: str | None = None
    """The encoder tune applied (NVENC), if any."""
    bd_rate_vmaf_pct: float | None = None
    """The set's figures on its study segments (in-sample): bits at equal VMAF, percent."""
    bd_rate_vmaf_neg_pct: float | None = None
    bd_rate_psnr_y_pct: float | None = None
    cpu_ratio: float | None = None
    """Encode CPU time over the defaults' on the study segments."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["params"] = [list(p) for p in self.params]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TuningRef:
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["params"] = tuple((str(k), str(v)) for k, v in values.get("params", ()))
        return cls(**values)


@dataclass(frozen=True)
class Ladder:
    """An encoding ladder for one title, lowest rung first."""

    title: str
    """The title's name."""
    source: SourceInfo | None
    """The source the ladder is for."""
    rungs: tuple[Rung, ...]
    """The rungs, lowest bitrate first."""
    mode: str = "exhaustive"
    """How it was chosen: ``exhaustive``, ``predict``, ``probe``."""
    notes: tuple[str, ...] = ()
    """Warnings and remarks (e.g. a target that could not be met)."""
    provenance: Provenance | None = None
    """What made the ladder."""
    audio: AudioFiles | None = None
    """The packaged audio rendition, when the title has one."""
    manifests: dict[str, str] = field(default_factory=dict)
    """Manifest kind (``hls``, ``dash``, ``hls_plan``) -> path relative to the title folder."""
    tuning: TuningRef | None = None
    """The tuned parameter set applied (``ladder --tuned``); None: the preset's defaults. Written
    to the JSON only when set."""
    cost: LadderCost | None = None
    """The title's costs under the cost model, and the decision when cost chose the ladder."""
    enhance: LadderEnhance | None = None
    """``ladder --enhanced``: the model players with the stage run on the rungs flagged
    ``enhance.enabled``. Written to the JSON only when set; the HLS master is the same either
    way (HLS has no attribute for it), so every player gets a valid ladder."""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "schema": LADDER_SCHEMA_VERSION,
            "title": self.title,
            "mode": self.mode,
            "provenance": self.provenance.to_dict() if self.provenance else None,
            "source": self.source.to_dict() if self.source else None,
            "manifests": dict(self.manifests),
            "audio": self.audio.to_dict() if self.audio else None,
            "rungs": [r.to_dict() for r in self.rungs],
            "notes": list(self.notes),
            "cost": self.cost.to_dict() if self.cost else None,
        }
        if self.tuning is not None:
            data["tuning"] = self.tuning.to_dict()
        if self.enhance is not None:
            data["enhance"] = self.enhance.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Ladder:
        """Reads schema versions 1, 2 and 3. The ``enhance`` records are read from version 3
        only (a version-2 file written by ``enhance eval`` had another shape: it is ignored);
        a malformed one is a :class:`UsageError`."""
        if data.get("schema") not in READABLE_SCHEMAS:
            raise UsageError(
                f"Ladder JSON of schema {data.get('schema')!r} cannot be read; this version of "
                f"ladderforge reads {', '.join(READABLE_SCHEMAS)}."
            )
        version = int(str(data["schema"]).rpartition("/")[2])
        return cls(
            title=data["title"],
            source=SourceInfo.from_dict(data["source"]) if data.get("source") else None,
            rungs=tuple(Rung.from_dict(r, version=version) for r in data["rungs"]),
            mode=data.get("mode", "exhaustive"),
            notes=tuple(data.get("notes", ())),
            provenance=Provenance.from_dict(data["provenance"]) if data.get("provenance") else None,
            audio=AudioFiles.from_dict(data["audio"]) if data.get("audio") else None,
            manifests=dict(data.get("manifests") or {}),
            tuning=TuningRef.from_dict(data["tuning"]) if data.get("tuning") else None,
            cost=LadderCost.from_dict(data["cost"]) if data.get("cost") else None,
            enhance=_enhance(LadderEnhance.from_dict, data) if version >= 3 else None,
        )

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Ladder:
        """The ladder JSON file at ``path``; :class:`UsageError` naming the file when it cannot
        be read, is not JSON or is not a ladder this version reads."""
        src = Path(path)
        try:
            return cls.from_dict(json.loads(src.read_text()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            detail = exc.args[0] if isinstance(exc, UsageError) else f"{type(exc).__name__}: {exc}"
            raise UsageError(f"{src}: not a readable ladder JSON ({detail})", path=src) from exc


def _enhance(parse: Callable[[dict[str, Any]], E], data: dict[str, Any]) -> E | None:
    """The ``enhance`` record of a version-3 ladder or rung (None when absent)."""
    raw = data.get("enhance")
    if raw is None:
        return None
    try:
        return parse(raw)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UsageError(
            f"malformed 'enhance' record ({type(exc).__name__}: {exc}); expected the shape "
            "'ladder --enhanced' writes (schema ladderforge.ladder/3)"
        ) from exc


@dataclass(frozen=True)
class AudioFiles(PlainRecord):
    """The packaged audio rendition of a title, relative to its folder."""

    playlist: str
    """The HLS media playlist of the audio, e.g. ``audio/index.m3u8``."""
    init: str | None
    """Its fMP4 init segment."""
    segments: int
    codecs: str
    """RFC 6381 CODECS, e.g. ``mp4a.40.2``."""
    bitrate_kbps: float
    channels: int
    sample_rate: int
    peak_bps: float
