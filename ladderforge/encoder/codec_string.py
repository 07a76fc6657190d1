"""RFC 6381 codec strings (HLS ``CODECS=``, DASH ``codecs=``) read from a stream's own headers.

Profile, tier, level and constraint flags come from the parameter sets the encoder wrote, not
from a table of sizes and rates: the container's sample-entry record (``hvcC``, ``avcC``,
``av1C``) when there is one, else the first packets' in-band SPS (HEVC, H.264) or sequence
header OBU (AV1), as in MPEG-TS, raw Annex-B or IVF files. Formats:

- HEVC (ISO/IEC 14496-15 Annex E): ``hvc1.[A|B|C]<profile_idc>.<compatibility flags in reverse
  bit order, hex>.<L|H><level_idc>[.<constraint byte, hex>]...`` with trailing zero constraint
  bytes left out: ``hvc1.1.6.L63.90``, ``hvc1.2.4.L120.90``;
- H.264: ``avc1.PPCCLL`` (profile_idc, constraint flags, level_idc, uppercase hex): ``avc1.64001F``;
- AV1 (AV1 ISO-BMFF binding): ``av01.<profile>.<level idx, 2 digits><M|H>.<bit depth, 2 digits>``,
  then ``.<mono>.<subsampling x><y><chroma position>.<primaries>.<transfer>.<matrix>.<range>``
  only when one of these differs from its default ``0.110.01.01.01.0`` (colour values the stream
  leaves unspecified, 2, count as default): ``av01.0.04M.10``, ``av01.0.08M.10.0.110.09.16.09.0``.

The four-character code is the file's own sample entry (``hvc1``/``hev1``, ``avc1``/``avc3``);
files without one (MPEG-TS, Matroska, raw) get ``hvc1``/``avc1`` unless told otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from ladderforge.encoder.av1_header import (
    Av1SequenceInfo,
    _with_colour,
    av1_from_av1c,
    av1_from_obus,
)
from ladderforge.encoder.verify import read_errors
from ladderforge.errors import InvalidMediaError, LadderforgeError, UnsupportedMediaError
from ladderforge.media.probe import check_input_file

if TYPE_CHECKING:
    import av.container
    import av.video.stream

__all__ = [
    "Av1SequenceInfo",
    "AvcProfileLevel",
    "HevcProfileTierLevel",
    "av1_from_av1c",
    "av1_from_obus",
    "avc_from_avcc",
    "avc_from_sps",
    "codecs_from_stream",
    "hevc_from_hvcc",
    "hevc_from_nal",
    "split_nal_units",
    "unescape_rbsp",
]

_HEVC_VPS, _HEVC_SPS, _AVC_SPS, _OBU_SEQUENCE_HEADER = 32, 33, 7, 1
_T = TypeVar("_T")
_MAX_PACKETS = 32


@dataclass(frozen=True)
class HevcProfileTierLevel:
    """The general_* fields of an HEVC profile_tier_level() (ISO/IEC 23008-2, 7.3.3)."""

    profile_space: int
    """general_profile_space, 0-3 (written as nothing, A, B, C)."""
    tier_flag: int
    """general_tier_flag: 0 Main tier (``L``), 1 High tier (``H``)."""
    profile_idc: int
    """general_profile_idc: 1 Main, 2 Main 10, 3 Main Still Picture, 4 range extensions..."""
    compatibility_flags: int
    """general_profile_compatibility_flag[0..31] as read: flag j is bit 31 - j of this number."""
    constraint_flags: bytes
    """The 6 bytes from general_progressive_source_flag to the last constraint/reserved bit."""
    level_idc: int
    """general_level_idc: 30 times the level (63 = 2.1, 93 = 3.1, 120 = 4, 153 = 5.1)."""

    def codecs(self, sample_entry: str = "hvc1") -> str:
        """The RFC 6381 string, e.g. ``hvc1.2.4.L120.90``."""
        space = ("", "A", "B", "C")[self.profile_space]
        compat = int(f"{self.compatibility_flags:032b}"[::-1], 2)
        tier = "H" if self.tier_flag else "L"
        parts = [
            sample_entry,
            f"{space}{self.profile_idc}",
            f"{compat:X}",
            f"{tier}{self.level_idc}",
        ]
        return ".".join(parts + [f"{b:X}" for b in self.constraint_flags.rstrip(b"\x00")])


@dataclass(frozen=True)
class AvcProfileLevel:
    """The first three bytes of an H.264 SPS (ITU-T H.264, 7.3.2.1.1)."""

    profile_idc: int
    """66 Baseline, 77 Main, 100 High (0x64), 110 High 10, 244 High 4:4:4 Predictive..."""
    constraint_flags: int
    """constraint_set0_flag..constraint_set5_flag and 2 reserved bits, as one byte."""
    level_idc: int
    """10 times the level (30 = 3.0 = 0x1E, 40 = 4.0 = 0x28)."""

    def codecs(self, sample_entry: str = "avc1") -> str:
        """The RFC 6381 string, e.g. ``avc1.64001F``."""
        return (
            f"{sample_entry}.{self.profile_idc:02X}{self.constraint_flags:02X}{self.level_idc:02X}"
        )


def unescape_rbsp(data: bytes) -> bytes:
    """A NAL unit's bytes without emulation-prevention bytes (``00 00 03`` -> ``00 00``)."""
    return data.replace(b"\x00\x00\x03", b"\x00\x00")


def split_nal_units(data: bytes, *, length_size: int | None = None) -> list[bytes]:
    """NAL units (header included) of an Annex-B buffer, or of a buffer whose units have
    ``length_size``-byte big-endian length prefixes (mp4/mkv samples: usually 4)."""
    if length_size is None:
        return [u for u in (p.rstrip(b"\x00") for p in data.split(b"\x00\x00\x01")) if u]
    units, pos = [], 0
    while pos + length_size <= len(data):
        size = int.from_bytes(data[pos : pos + length_size], "big")
        units.append(data[pos + length_size : pos + length_size + size])
        pos += length_size + size
    return [u for u in units if u]


# -- HEVC and H.264 ---------------------------------------------------------------------------


def _hevc_ptl(general: bytes) -> HevcProfileTierLevel:
    if len(general) < 12:
        raise ValueError(f"HEVC profile_tier_level too short ({len(general)} of 12 bytes)")
    space, tier, idc = general[0] >> 6, (general[0] >> 5) & 1, general[0] & 0x1F
    compat = int.from_bytes(general[1:5], "big")
    return HevcProfileTierLevel(space, tier, idc, compat, bytes(general[5:11]), general[11])


def hevc_from_hvcc(record: bytes) -> HevcProfileTierLevel:
    """The general profile fields of an HEVCDecoderConfigurationRecord (its bytes 1..12)."""
    if len(record) < 23 or record[0] != 1:
        raise ValueError("not an hvcC record (configurationVersion 1, at least 23 bytes)")
    return _hevc_ptl(record[1:13])


def hevc_from_nal(nal: bytes) -> HevcProfileTierLevel:
    """The general profile fields of an HEVC VPS or SPS NAL unit (2-byte header included)."""
    kind = (nal[0] >> 1) & 0x3F if nal else -1
    rbsp = unescape_rbsp(nal[2:40])
    if kind == _HEVC_VPS:  # id, base layer flags, max layers and sub-layers, 0xffff: 4 bytes
        return _hevc_ptl(rbsp[4:16])
    if kind == _HEVC_SPS:  # vps id, max sub-layers, temporal id nesting: 1 byte
        return _hevc_ptl(rbsp[1:13])
    raise ValueError(f"HEVC NAL unit of type {kind} is neither a VPS nor an SPS")


def avc_from_avcc(record: bytes) -> AvcProfileLevel:
    """Profile, constraint flags and level of an AVCDecoderConfigurationRecord (bytes 1..3)."""
    if len(record) < 7 or record[0] != 1:
        raise ValueError("not an avcC record (configurationVersion 1, at least 7 bytes)")
    return AvcProfileLevel(record[1], record[2], record[3])


def avc_from_sps(nal: bytes) -> AvcProfileLevel:
    """Profile, constraint flags and level of an H.264 SPS NAL unit (header byte included)."""
    rbsp = unescape_rbsp(nal[1:8])
    if not nal or nal[0] & 0x1F != _AVC_SPS or len(rbsp) < 3:
        raise ValueError("H.264 NAL unit is not a complete SPS")
    return AvcProfileLevel(rbsp[0], rbsp[1], rbsp[2])


def codecs_from_stream(path: str | os.PathLike[str], *, sample_entry: str | None = None) -> str:
    """The RFC 6381 codec string of the first video stream of an encoded file, read from its
    own parameter sets (formats: see the module docstring).

    ``sample_entry`` replaces the four-character code the file's sample entry has
    (``hvc1``/``hev1``, ``avc1``/``avc3``) or that a file without one (TS, MKV, raw) gets.

    Raises:
        MediaNotFoundError: no such file, or not a readable regular file.
        InvalidMediaError: not a media file, no video stream, or no parameter sets found.
        UnsupportedMediaError: video in another codec than HEVC, H.264 or AV1.
    """
    import av

    p = check_input_file(path)
    errors: tuple[type[BaseException], ...] = (*read_errors(), ValueError, UnicodeDecodeError)
    try:
        with av.open(str(p)) as container:
            return _codecs_of(container, str(p), sample_entry)
    except LadderforgeError:
        raise
    except errors as exc:
        raise InvalidMediaError(
            f"{p}: cannot read its codec parameters for a CODECS string ({exc})", path=str(p)
        ) from exc


def _codecs_of(container: av.container.InputContainer, path: str, entry: str | None) -> str:
    if not container.streams.video:
        raise InvalidMediaError(f"{path}: has no video stream", path=path)
    stream = container.streams.video[0]
    codec = stream.codec_context.codec.canonical_name
    extradata = bytes(stream.codec_context.extradata or b"")
    tag, record = stream.codec_tag, extradata[:1] == b"\x01"  # hvcC/avcC: configurationVersion 1
    packets = _first_packets(container, stream)
    found: HevcProfileTierLevel | AvcProfileLevel | None
    if codec == "hevc":
        found = hevc_from_hvcc(extradata) if record else _in_band(packets, hevc_from_nal, hevc=True)
        default = tag if tag in ("hvc1", "hev1") else "hvc1"
    elif codec == "h264":
        found = avc_from_avcc(extradata) if record else _in_band(packets, avc_from_sps, hevc=False)
        default = tag if tag in ("avc1", "avc3") else "avc1"
    elif codec == "av1":
        return _av1_of(packets, extradata, path).codecs()
    else:
        raise UnsupportedMediaError(
            f"{path}: no CODECS string for {codec} video (HEVC, H.264 and AV1 are supported)",
            path=path,
        )
    if found is None:
        raise _no_parameters(path, codec)
    return found.codecs(entry or default)


def _no_parameters(path: str, codec: str) -> InvalidMediaError:
    return InvalidMediaError(
        f"{path}: no {codec} parameter sets in the sample entry nor in the first "
        f"{_MAX_PACKETS} packets; the file is truncated or not a complete stream",
        path=path,
    )


def _first_packets(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> Iterator[bytes]:
    """The bytes of the first non-empty packets, demuxed only as far as they are asked for."""
    for count, packet in enumerate(container.demux(stream)):
        if count >= _MAX_PACKETS:
            return
        if packet.size:
            yield bytes(packet)


def _in_band(packets: Iterator[bytes], parse: Callable[[bytes], _T], *, hevc: bool) -> _T | None:
    """``parse`` of the first SPS in Annex-B packets (files without a sample-entry record)."""
    for data in packets:
        for nal in split_nal_units(data):
            if ((nal[0] >> 1) & 0x3F == _HEVC_SPS) if hevc else (nal[0] & 0x1F == _AVC_SPS):
                return parse(nal)
    return None


def _av1_of(packets: Iterator[bytes], extradata: bytes, path: str) -> Av1SequenceInfo:
    """av1C's fixed fields (colour from its configOBUs, else from the stream), else the first
    in-band sequence header."""
    in_band = (h for data in packets if (h := av1_from_obus(data)) is not None)
    if extradata[:1] != b"\x81":
        if (header := next(in_band, None)) is None:
            raise _no_parameters(path, "AV1")
        return header
    info = av1_from_av1c(extradata)
    if av1_from_obus(extradata[4:]) is None and (header := next(in_band, None)) is not None:
        info = _with_colour(info, header)
    return info
