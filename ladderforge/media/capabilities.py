"""What the ffmpeg binary can really do, found by trying, cached per binary.

A listing is no proof: ffmpeg lists the NVENC encoders on machines with no NVIDIA GPU. So each
encoder is opened with a one-frame trial encode, and each VMAF model with a one-frame libvmaf run.
Results are cached in a JSON file keyed by the binary's path, size and modification time.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ladderforge.errors import LadderforgeError
from ladderforge.media.ffmpeg import ffmpeg_path, ffmpeg_version
from ladderforge.store.files import atomic_write_json

__all__ = ["VMAF_MODELS", "Capabilities", "cache_dir", "detect_capabilities"]

# Metric name -> libvmaf model options (the built-in models of libvmaf 3.x), escaped for a
# filtergraph: model keys are separated by a backslash-escaped colon.
VMAF_MODELS = {
    "vmaf": "version=vmaf_v0.6.1",
    "vmaf_neg": "version=vmaf_v0.6.1neg",
    "vmaf_4k": "version=vmaf_4k_v0.6.1",
    "vmaf_phone": "version=vmaf_v0.6.1\\:enable_transform=true",
    "vmaf_v1_3d0h": "version=vmaf_v1.0.16_3d0h",
    "vmaf_v1_5d0h": "version=vmaf_v1.0.16_5d0h",
}
_TRIAL_TIMEOUT_S = 60
CAPABILITIES_VERSION = 2


def cache_dir() -> Path:
    """ladderforge's cache folder (``LADDERFORGE_CACHE_DIR``, else the XDG cache home)."""
    base = os.environ.get("LADDERFORGE_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "ladderforge"


@dataclass(frozen=True)
class Capabilities:
    """What one ffmpeg binary can do on this machine."""

    ffmpeg: str
    """Path of the binary."""
    version: str
    """Its version string."""
    encoders: dict[str, bool]
    """Backend name -> whether a one-frame trial encode succeeded."""
    encoder_errors: dict[str, str] = field(default_factory=dict)
    """Backend name -> ffmpeg's last line for a failed trial (why it is unavailable)."""
    libvmaf: bool = False
    """Whether the libvmaf filter ran."""
    vmaf_models: dict[str, bool] = field(default_factory=dict)
    """Metric name (see VMAF_MODELS) -> whether the model loaded."""
    xpsnr: bool = False
    """Whether the xpsnr filter ran."""

    def to_dict(self) -> dict[str, object]:
        return {"capabilities_version": CAPABILITIES_VERSION, **asdict(self)}


def _run_trial(args: list[str]) -> tuple[bool, str]:
    cmd = [ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "error", *args]
    try:
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=_TRIAL_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return False, f"trial timed out after {_TRIAL_TIMEOUT_S} s"
    # The first line is the cause (e.g. "Cannot load libcuda.so.1"); later ones are consequences.
    first = next((line.strip() for line in out.stderr.splitlines() if line.strip()), "")
    return out.returncode == 0, re.sub(r"^\[[^]]*\] ", "", first)


# 640x360: the VMAF v1 models refuse smaller pictures.
_SRC = ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=0.08"]


def _trial_encoder(ffmpeg_encoder: str) -> tuple[bool, str]:
    return _run_trial([*_SRC, "-frames:v", "1", "-c:v", ffmpeg_encoder, "-f", "null", "-"])


def _trial_filter(graph: str) -> tuple[bool, str]:
    return _run_trial([*_SRC, *_SRC, "-filter_complex", graph, "-frames:v", "1", "-f", "null", "-"])


def _cache_file(binary: str, encoders: Mapping[str, str]) -> Path:
    st = os.stat(binary)
    tried = ",".join(f"{k}={v}" for k, v in sorted(encoders.items()))
    ident = f"{binary}|{st.st_size}|{st.st_mtime_ns}|{tried}"
    return cache_dir() / f"capabilities-{hashlib.sha256(ident.encode()).hexdigest()[:16]}.json"


def detect_capabilities(
    *, encoders: Mapping[str, str], refresh: bool = False, cache: bool = True
) -> Capabilities:
    """Try each encoder (backend name -> ffmpeg encoder name) and every VMAF model once, and
    cache the answer for this binary and this set of encoders.

    The encoder registry lives above this layer: :func:`ladderforge.encoder.capabilities`
    passes every registered backend. ``refresh`` ignores the cache; ``cache=False`` neither
    reads nor writes it.
    """
    binary = ffmpeg_path()
    cache_file = _cache_file(binary, encoders)
    if cache and not refresh and cache_file.is_file():
        try:
            data = json.loads(cache_file.read_text())
            if data.pop("capabilities_version", None) == CAPABILITIES_VERSION:
                return Capabilities(**data)
        except (OSError, ValueError, TypeError):
            pass  # a damaged cache is re-detected
    found: dict[str, bool] = {}
    errors: dict[str, str] = {}
    for name, ffmpeg_encoder in encoders.items():
        ok, why = _trial_encoder(ffmpeg_encoder)
        found[name] = ok
        if not ok:
            errors[name] = why
    libvmaf, _ = _trial_filter("[0:v][1:v]libvmaf")
    models = {
        metric: _trial_filter(f"[0:v][1:v]libvmaf=model='{opts}'")[0] if libvmaf else False
        for metric, opts in VMAF_MODELS.items()
    }
    xpsnr, _ = _trial_filter("[0:v][1:v]xpsnr")
    caps = Capabilities(binary, ffmpeg_version(), found, errors, libvmaf, models, xpsnr)
    if cache:
        try:
            atomic_write_json(cache_file, caps.to_dict())
        except (OSError, LadderforgeError):
            pass  # an unwritable cache only costs a re-detection next time
    return caps
