"""Codec backends and running encodes.

``encode(source, settings, output)`` runs one verified encode; ``BACKENDS`` lists the backends
(x265, x264, svtav1, nvenc_hevc, nvenc_h264, nvenc_av1); which of them run on this machine is
``capabilities().encoders``; ``codec_facts(name)`` gives a backend's facts as plain data.
"""

from ladderforge.encoder import nvenc, software  # noqa: F401  (register the backends)
from ladderforge.encoder.base import (
    BACKENDS,
    BaseEncoder,
    codec_facts,
    get_encoder,
    register_encoder,
)
from ladderforge.encoder.chunks import Chunk, ChunkedEncode, encode_chunked, plan_chunks
from ladderforge.encoder.codec_string import codecs_from_stream
from ladderforge.encoder.run import build_command, capabilities, check_available, encode
from ladderforge.encoder.verify import Keyframe, check_rendition, keyframes

__all__ = [
    "BACKENDS",
    "BaseEncoder",
    "Chunk",
    "ChunkedEncode",
    "Keyframe",
    "build_command",
    "capabilities",
    "check_available",
    "check_rendition",
    "codec_facts",
    "codecs_from_stream",
    "encode",
    "encode_chunked",
    "get_encoder",
    "keyframes",
    "plan_chunks",
    "register_encoder",
]
