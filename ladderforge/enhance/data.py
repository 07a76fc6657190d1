"""Training data: (decoded, source) pairs made with the encoder, and patches cut from them.

:func:`make_pairs` prepares each source as a lossless, trimmed reference (the source as decoded,
limited-range 8-bit 4:2:0, FFV1) and encodes it at each (scale, CRF) with
:func:`ladderforge.encoder.encode`. :func:`sample_patches` decodes each pair once, brings the
rendition to the reference's grid with the bicubic upscale, and cuts random co-located luma
patches. Everything random is drawn from one seeded generator.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ladderforge.enhance.frames import iter_planes, video_grid
from ladderforge.errors import UsageError
from ladderforge.media import probe
from ladderforge.media.segments import Crop, Cut, cut_ffv1, display_size
from ladderforge.types import EncodeSettings

__all__ = ["Pair", "PatchSet", "make_pairs", "make_reference", "rung_size", "sample_patches"]


@dataclass(frozen=True)
class Pair:
    """One rendition of one title and the reference it should be restored to."""

    title: str
    """The title's name."""
    ref: Path
    """The reference (trimmed, lossless) at the display grid."""
    dist: Path
    """The encoded rendition."""
    settings: EncodeSettings
    """How the rendition was encoded."""
    bitrate_kbps: float
    """Its measured bitrate."""


@dataclass(frozen=True)
class PatchSet:
    """Co-located luma patches, uint8, N x P x P."""

    dist: np.ndarray
    """Patches of the upscaled rendition (network input)."""
    ref: np.ndarray
    """Patches of the reference (target)."""
    titles: tuple[str, ...]
    """Titles the patches came from."""
    factors: np.ndarray | None = None
    """Upscale factor of each patch's rendition (reference height over rendition height),
    float32 N; what a model with the factor input is given. None: all 1."""

    def __len__(self) -> int:
        return int(self.dist.shape[0])


def make_reference(
    source: str | os.PathLike[str], output: str | os.PathLike[str], *, max_frames: int
) -> Path:
    """The source as decoded, first ``max_frames`` frames, limited range 8-bit 4:2:0, lossless
    FFV1 (odd sides cropped to even so that every rung can be encoded from it). Reuses
    ``output`` when it already exists; leaves no partial file when the cut fails."""
    out = Path(output)
    if out.is_file():
        return out
    info = probe(source, hash_content=False)
    width, height = display_size(info)
    even = Crop(width // 2 * 2, height // 2 * 2)
    # 8-bit limited range on purpose, not the source's depth and range: this stage reads and
    # writes 8-bit 4:2:0 planes "limited range as coded" (frames.py: iter_planes, and
    # VideoWriter writes untagged yuv420p, which readers take as limited), and the renditions of
    # a pair are encoded from this reference, so they inherit its range. A full-range or 10-bit
    # reference would let the network learn on, and write, pictures that are then read with
    # another range or depth than the one they were made in.
    cut = Cut(0, min(max_frames, info.frame_count), out)
    crop = None if even == Crop(width, height) else even
    return cut_ffv1(info, [cut], crop=crop, bit_depth=8, color_range="tv")[0]


def rung_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """The even size of a rung at ``scale`` of the source's sides."""
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def make_pairs(
    sources: Sequence[str | os.PathLike[str]],
    *,
    workdir: str | os.PathLike[str],
    scales: Sequence[float] = (1.0, 0.75, 0.5),
    crfs: Sequence[float] = (24, 30, 36),
    codec: str = "x265",
    preset: str = "fast",
    max_frames: int = 60,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[Pair]:
    """Encode every source at every (scale, CRF) and return the pairs; finished files are kept
    in ``workdir`` and reused. ``on_progress(done, total)`` after each encode."""
    from ladderforge.encoder import encode

    if not sources or not scales or not crfs:
        raise UsageError("make_pairs needs at least one source, one scale and one CRF.")
    work = Path(workdir)
    total = len(sources) * len(scales) * len(crfs)
    pairs: list[Pair] = []
    for source in sources:
        title = Path(source).stem
        ref = make_reference(source, work / title / "ref.mkv", max_frames=max_frames)
        info = probe(ref, hash_content=False)
        for scale in scales:
            w, h = rung_size(info.width, info.height, scale)
            for crf in crfs:
                settings = EncodeSettings(codec=codec, width=w, height=h, q=crf, preset=preset)
                out = work / title / f"{codec}_{w}x{h}_crf{crf:g}.mp4"
                result = None if out.is_file() else encode(info, settings, out)
                kbps = result.bitrate_kbps if result else _kbps(out, info.duration_s)
                pairs.append(Pair(title, ref, out, settings, kbps))
                if on_progress is not None:
                    on_progress(len(pairs), total)
    return pairs


def _kbps(path: Path, duration_s: float) -> float:
    return path.stat().st_size * 8 / duration_s / 1000


def sample_patches(
    pairs: Sequence[Pair],
    *,
    patch: int = 64,
    per_frame: int = 8,
    every: int = 4,
    seed: int = 0,
    max_frames: int | None = None,
) -> PatchSet:
    """Random co-located luma patches from every ``every``-th frame of each pair.

    Flat patches (luma standard deviation < 2 in the reference) are skipped: they teach nothing.
    """
    if patch < 8 or per_frame < 1 or every < 1:
        raise UsageError(
            "The 'patch' parameter of sample_patches must be >= 8, 'per_frame' and 'every' >= 1. "
            f"Got patch={patch}, per_frame={per_frame}, every={every} instead."
        )
    rng = np.random.default_rng(seed)
    dist_out: list[np.ndarray] = []
    ref_out: list[np.ndarray] = []
    factors: list[float] = []
    for pair in pairs:
        grid = video_grid(pair.ref)
        factor = grid.height / pair.settings.height
        refs = iter_planes(pair.ref, every=every, max_frames=max_frames)
        dists = iter_planes(
            pair.dist, width=grid.width, height=grid.height, every=every, max_frames=max_frames
        )
        for (ry, _, _), (dy, _, _) in zip(refs, dists, strict=False):
            h, w = ry.shape
            if h < patch or w < patch:
                continue
            taken = 0
            for _ in range(per_frame * 2):
                if taken == per_frame:
                    break
                y, x = int(rng.integers(0, h - patch + 1)), int(rng.integers(0, w - patch + 1))
                r = ry[y : y + patch, x : x + patch]
                if r.std() < 2.0:
                    continue
                ref_out.append(r.copy())
                dist_out.append(dy[y : y + patch, x : x + patch].copy())
                factors.append(factor)
                taken += 1
    if not ref_out:
        raise UsageError(f"No patch of {patch}x{patch} could be cut from the pairs given.")
    titles = tuple(dict.fromkeys(p.title for p in pairs))
    return PatchSet(
        np.stack(dist_out), np.stack(ref_out), titles, np.asarray(factors, dtype=np.float32)
    )
