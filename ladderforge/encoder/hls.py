"""HLS master playlists for a ladder, written with the ``m3u8`` library (no string formatting).

Each rung becomes an ``EXT-X-STREAM-INF`` variant with BANDWIDTH, AVERAGE-BANDWIDTH,
RESOLUTION, FRAME-RATE and CODECS. AVERAGE-BANDWIDTH is the rung's measured (else predicted)
mean bitrate; BANDWIDTH, the peak the HLS spec asks for, is estimated as 1.5x the mean for
quality-based (CRF/CQ) encodes until segments are measured (packaging measures it exactly).
"""

from __future__ import annotations

import math
from pathlib import Path

import m3u8

from ladderforge.encoder.base import get_encoder
from ladderforge.store import atomic_write_bytes
from ladderforge.types import Ladder, Rung

__all__ = ["PEAK_TO_MEAN", "codecs_string", "master_playlist", "rung_name", "write_master"]

PEAK_TO_MEAN = 1.5
"""BANDWIDTH / AVERAGE-BANDWIDTH assumed for unsegmented CRF encodes."""


def codecs_string(codec: str, width: int, height: int, fps: float, bit_depth: int = 8) -> str:
    """RFC 6381 CODECS value for a rung (profile from bit depth, level from size and rate)."""
    family = get_encoder(codec).codec_family
    samples = width * height
    rate = samples * fps
    if family == "hevc":
        levels = (
            (552960, 16588800, 90),
            (983040, 33177600, 93),
            (2228224, 66846720, 120),
            (2228224, 133693440, 123),
            (8912896, 267386880, 150),
            (8912896, 534773760, 153),
        )
        level = next((lv for s, r, lv in levels if samples <= s and rate <= r), 156)
        profile = 2 if bit_depth > 8 else 1
        return f"hvc1.{profile}.{4 if profile == 2 else 6}.L{level}.90"
    if family == "h264":
        avc_levels = (
            (414720, 10368000, 0x1E),
            (921600, 27648000, 0x1F),
            (2097152, 62914560, 0x28),
            (2228224, 133693440, 0x2A),
            (8912896, 267386880, 0x33),
        )
        level = next((lv for s, r, lv in avc_levels if samples <= s and rate <= r), 0x34)
        return f"avc1.6400{level:02X}"
    seq_level = 8 if samples <= 2228224 else 12
    return f"av01.0.{seq_level:02d}M.{10 if bit_depth > 8 else 8:02d}"


def rung_name(rung: Rung) -> str:
    """Folder name of a rung's rendition: ``<height>p_<kbps>k``."""
    kbps = rung.measured_bitrate_kbps or rung.bitrate_kbps
    return f"{rung.settings.height}p_{round(kbps)}k"


def master_playlist(ladder: Ladder, *, fps: float, bit_depth: int = 8) -> str:
    """The master playlist text; variant URIs are ``<rung_name>/index.m3u8``."""
    master = m3u8.M3U8()
    master.is_variant = True
    for rung in sorted(ladder.rungs, key=lambda r: r.bitrate_kbps):
        s = rung.settings
        mean_bps = (rung.measured_bitrate_kbps or rung.bitrate_kbps) * 1000
        master.add_playlist(
            m3u8.Playlist(
                uri=f"{rung_name(rung)}/index.m3u8",
                stream_info={
                    "bandwidth": math.ceil(mean_bps * PEAK_TO_MEAN),
                    "average_bandwidth": math.ceil(mean_bps),
                    "resolution": f"{s.width}x{s.height}",
                    "frame_rate": round(fps, 3),
                    "codecs": codecs_string(s.codec, s.width, s.height, fps, bit_depth),
                },
                media=[],
                base_uri=None,
            )
        )
    return str(master.dumps())


def write_master(ladder: Ladder, path: str | Path, *, fps: float, bit_depth: int = 8) -> Path:
    """Write the master playlist atomically."""
    return atomic_write_bytes(path, master_playlist(ladder, fps=fps, bit_depth=bit_depth).encode())
