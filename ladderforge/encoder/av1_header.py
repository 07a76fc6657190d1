"""AV1's sequence header, from an ``av1C`` record or from OBUs: profile, level, tier, bit depth
and colour, for the ``av01`` codec string (:mod:`ladderforge.encoder.codec_string`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Av1SequenceInfo", "av1_from_av1c", "av1_from_obus"]

_OBU_SEQUENCE_HEADER = 1
"""Packets scanned for in-band parameter sets before giving up."""
_AV1_DEFAULT_TAIL = (0, 1, 1, 0, 1, 1, 1, 0)
"""mono, subsampling x, y, chroma sample position, primaries, transfer, matrix, full range."""
_UNSPECIFIED = 2
"""H.273 CP/TC/MC_UNSPECIFIED: what an AV1 stream without a colour description signals."""
_COLOUR_FIELDS = (
    "color_primaries",
    "transfer_characteristics",
    "matrix_coefficients",
    "full_range",
)


class _Bits:
    """MSB-first bit reader; ValueError past the end."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def u(self, n: int) -> int:
        if self.pos + n > 8 * len(self.data):
            raise ValueError("AV1 sequence header ends early")
        value = int.from_bytes(self.data, "big") >> (8 * len(self.data) - self.pos - n)
        self.pos += n
        return value & ((1 << n) - 1)

    def uvlc(self) -> int:
        zeros = 0
        while not self.u(1):
            zeros += 1
            if zeros >= 32:
                return (1 << 32) - 1
        return self.u(zeros) + (1 << zeros) - 1


@dataclass(frozen=True)
class Av1SequenceInfo:
    """What an AV1 codec string says, from av1C or a sequence header OBU (AV1 spec 5.5)."""

    profile: int
    """seq_profile: 0 Main, 1 High, 2 Professional."""
    level_idx: int
    """seq_level_idx[0] (level 2.0 = 0, 2.1 = 1, 3.0 = 4, 3.1 = 5, 4.0 = 8, 5.1 = 13)."""
    tier: int
    """seq_tier[0]: 0 Main (``M``), 1 High (``H``)."""
    bit_depth: int
    """8, 10 or 12."""
    monochrome: bool = False
    """mono_chrome."""
    subsampling_x: int = 1
    """subsampling_x (1 for 4:2:0 and 4:2:2)."""
    subsampling_y: int = 1
    """subsampling_y (1 for 4:2:0)."""
    chroma_sample_position: int = 0
    """0 unknown, 1 vertical, 2 colocated."""
    color_primaries: int = _UNSPECIFIED
    """H.273 colour primaries (2 when the stream has no colour description)."""
    transfer_characteristics: int = _UNSPECIFIED
    """H.273 transfer characteristics (2 when absent)."""
    matrix_coefficients: int = _UNSPECIFIED
    """H.273 matrix coefficients (2 when absent)."""
    full_range: bool = False
    """color_range: True for full range."""

    def codecs(self) -> str:
        """The AV1 codec string; the optional fields only when one differs from its default."""
        tier = "H" if self.tier else "M"
        head = f"av01.{self.profile}.{self.level_idx:02d}{tier}.{self.bit_depth:02d}"
        tail: tuple[int, ...] = (int(self.monochrome), self.subsampling_x, self.subsampling_y)
        tail += (self.chroma_sample_position, self.color_primaries)
        tail += (self.transfer_characteristics, self.matrix_coefficients, int(self.full_range))
        pairs = enumerate(zip(tail, _AV1_DEFAULT_TAIL, strict=True))
        if all(v == d or (4 <= i <= 6 and v == _UNSPECIFIED) for i, (v, d) in pairs):
            return head
        mono, sx, sy, csp, cp, tc, mc, full = tail
        return f"{head}.{mono}.{sx}{sy}{csp}.{cp:02d}.{tc:02d}.{mc:02d}.{full}"


# -- bytes and bits ---------------------------------------------------------------------------


# -- AV1 --------------------------------------------------------------------------------------


def _obus(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(obu_type, payload) of each OBU of a low-overhead bitstream buffer."""
    pos = 0
    while pos < len(data):
        header = data[pos]
        pos += 1 + ((header >> 2) & 1)  # obu_extension_flag: one more header byte
        size = len(data) - pos
        if header & 0x02:  # obu_has_size_field: leb128
            size = shift = 0
            while pos < len(data) and shift < 56:
                size |= (data[pos] & 0x7F) << shift
                pos, shift = pos + 1, shift + 7
                if not data[pos - 1] & 0x80:
                    break
        yield (header >> 3) & 0x0F, data[pos : pos + size]
        pos += size


def av1_from_obus(data: bytes) -> Av1SequenceInfo | None:
    """The first sequence header OBU of a buffer of OBUs, or None when it has none."""
    for kind, payload in _obus(data):
        if kind == _OBU_SEQUENCE_HEADER:
            return _sequence_header(_Bits(payload))
    return None


def _sequence_header(r: _Bits) -> Av1SequenceInfo:
    profile = r.u(3)
    r.u(1)  # still_picture
    reduced = bool(r.u(1))  # reduced_still_picture_header
    level, tier = (r.u(5), 0) if reduced else _operating_points(r)
    width_bits, height_bits = r.u(4) + 1, r.u(4) + 1
    r.u(width_bits + height_bits)  # max_frame_width/height_minus_1
    if not reduced and r.u(1):  # frame_id_numbers_present_flag
        r.u(7)
    r.u(3)  # use_128x128_superblock, enable_filter_intra, enable_intra_edge_filter
    if not reduced:
        r.u(4)  # enable_interintra_compound, masked_compound, warped_motion, dual_filter
        order_hint = bool(r.u(1))
        if order_hint:
            r.u(2)  # enable_jnt_comp, enable_ref_frame_mvs
        force_sct = 2 if r.u(1) else r.u(1)  # seq_choose_screen_content_tools: 2 = SELECT
        if force_sct > 0 and not r.u(1):  # seq_choose_integer_mv
            r.u(1)  # seq_force_integer_mv
        if order_hint:
            r.u(3)  # order_hint_bits_minus_1
    r.u(3)  # enable_superres, enable_cdef, enable_restoration
    return _color_config(r, profile=profile, level=level, tier=tier)


def _operating_points(r: _Bits) -> tuple[int, int]:
    """Skip timing and decoder model info; (seq_level_idx[0], seq_tier[0])."""
    decoder_model, delay_bits = False, 0
    if r.u(1):  # timing_info_present_flag
        r.u(64)  # num_units_in_display_tick, time_scale
        if r.u(1):  # equal_picture_interval
            r.uvlc()
        if r.u(1):  # decoder_model_info_present_flag
            decoder_model, delay_bits = True, r.u(5) + 1
            r.u(32 + 5 + 5)
    initial_delay = r.u(1)
    points: list[tuple[int, int]] = []
    for _ in range(r.u(5) + 1):
        r.u(12)  # operating_point_idc
        level = r.u(5)
        points.append((level, r.u(1) if level > 7 else 0))
        if decoder_model and r.u(1):  # operating_parameters_info
            r.u(2 * delay_bits + 1)
        if initial_delay and r.u(1):
            r.u(4)  # initial_display_delay_minus_1
    return points[0]


def _color_config(r: _Bits, *, profile: int, level: int, tier: int) -> Av1SequenceInfo:
    high = r.u(1)
    depth = (12 if r.u(1) else 10) if profile == 2 and high else (10 if high else 8)
    mono = bool(r.u(1)) if profile != 1 else False
    cp = tc = mc = _UNSPECIFIED
    if r.u(1):  # color_description_present_flag
        cp, tc, mc = r.u(8), r.u(8), r.u(8)
    sx, sy, csp = 1, 1, 0
    if mono:
        full = bool(r.u(1))
    elif (cp, tc, mc) == (1, 13, 0):  # BT.709 primaries, sRGB, identity: 4:4:4, full range
        full, sx, sy = True, 0, 0
    else:
        full = bool(r.u(1))
        if profile == 1:
            sx, sy = 0, 0
        elif profile == 2 and depth == 12:
            sx = r.u(1)
            sy = r.u(1) if sx else 0
        elif profile == 2:
            sy = 0
        if sx and sy:
            csp = r.u(2)
    return Av1SequenceInfo(profile, level, tier, depth, mono, sx, sy, csp, cp, tc, mc, full)


def av1_from_av1c(record: bytes) -> Av1SequenceInfo:
    """An AV1CodecConfigurationRecord: profile, level, tier, depth and chroma from its fixed
    bytes 1..2; colour from the sequence header of its configOBUs when it carries one."""
    if len(record) < 4 or record[0] != 0x81:
        raise ValueError("not an av1C record (marker 1, version 1)")
    flags = record[2]  # tier, high_bitdepth, twelve_bit, mono, ss x, ss y, position (2 bits)
    info = Av1SequenceInfo(
        profile=record[1] >> 5,
        level_idx=record[1] & 0x1F,
        tier=flags >> 7,
        bit_depth=12 if flags & 0x20 else 10 if flags & 0x40 else 8,
        monochrome=bool(flags & 0x10),
        subsampling_x=(flags >> 3) & 1,
        subsampling_y=(flags >> 2) & 1,
        chroma_sample_position=flags & 3,
    )
    header = av1_from_obus(record[4:])
    return _with_colour(info, header) if header else info


def _with_colour(info: Av1SequenceInfo, header: Av1SequenceInfo) -> Av1SequenceInfo:
    return dataclasses.replace(info, **{f: getattr(header, f) for f in _COLOUR_FIELDS})


# -- files ------------------------------------------------------------------------------------
