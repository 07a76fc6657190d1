"""Ladders, rungs and what a rung records (chunks, closed-loop attempts, costs)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ladderforge.errors import UsageError
from ladderforge.types.media import EncodeSettings, SourceInfo

LADDER_SCHEMA_VERSION = "ladderforge.ladder/1"


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
class RungAttempt:
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

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RungAttempt:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass(frozen=True)
class Rung:
    """One rung of a ladder."""

    settings: EncodeSettings
    """How to encode the rung."""
    bitrate_kbps: float
    """Expected bitrate (measured in exhaustive mode, predicted otherwise)."""
    vmaf: float
    """Expected VMAF."""
    measured_bitrate_kbps: float | None = None
    """Measured after encoding/validation."""
    measured_vmaf: float | None = None
    """Measured after encoding/validation."""
    cost: RungCosts = field(default_factory=RungCosts)
    """CPU seconds and prices attached by the cost model."""
    chunks: tuple[ChunkRecord, ...] = ()
    """Chunked renditions: one record per chunk (frames, CRF, predicted and measured figures)."""
    target_vmaf: float | None = None
    """Closed loop: the VMAF the rung declared before it was encoded."""
    attempts: tuple[RungAttempt, ...] = ()
    """Closed loop: every encode of the rung, in order; the shipped one is in ``settings``."""

    @property
    def chunk_predicted_kbps(self) -> float | None:
        """The chunks' predicted bitrates averaged over frames (None when not chunked)."""
        frames = sum(c.frames for c in self.chunks)
        if not frames:
            return None
        return sum(c.predicted_kbps * c.frames for c in self.chunks) / frames

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "settings": self.settings.to_dict(),
            "bitrate_kbps": self.bitrate_kbps,
            "vmaf": self.vmaf,
            "measured_bitrate_kbps": self.measured_bitrate_kbps,
            "measured_vmaf": self.measured_vmaf,
            "cost": self.cost.to_dict(),
            "chunks": [c.to_dict() for c in self.chunks],
            "target_vmaf": self.target_vmaf,
            "attempts": [a.to_dict() for a in self.attempts],
        }
        data["resolution"] = f"{self.settings.width}x{self.settings.height}"
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rung:
        return cls(
            settings=EncodeSettings.from_dict(data["settings"]),
            bitrate_kbps=data["bitrate_kbps"],
            vmaf=data["vmaf"],
            measured_bitrate_kbps=data.get("measured_bitrate_kbps"),
            measured_vmaf=data.get("measured_vmaf"),
            cost=RungCosts.from_dict(data.get("cost") or {}),
            chunks=tuple(ChunkRecord.from_dict(c) for c in data.get("chunks", ())),
            target_vmaf=data.get("target_vmaf"),
            attempts=tuple(RungAttempt.from_dict(a) for a in data.get("attempts", ())),
        )


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": LADDER_SCHEMA_VERSION,
            "title": self.title,
            "mode": self.mode,
            "source": self.source.to_dict() if self.source else None,
            "rungs": [r.to_dict() for r in self.rungs],
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Ladder:
        if data.get("schema") != LADDER_SCHEMA_VERSION:
            raise UsageError(
                f"Ladder JSON of schema {data.get('schema')!r} cannot be read; this version of "
                f"ladderforge reads {LADDER_SCHEMA_VERSION!r}."
            )
        return cls(
            title=data["title"],
            source=SourceInfo.from_dict(data["source"]) if data.get("source") else None,
            rungs=tuple(Rung.from_dict(r) for r in data["rungs"]),
            mode=data.get("mode", "exhaustive"),
            notes=tuple(data.get("notes", ())),
        )
