"""Running a model on frames: padding, tiling, batching, and streaming a whole video.

:func:`enhance_luma` enhances a stack of luma planes of any size: each side is padded (edge
replicated, by a halo wider than the network's receptive field, then to a multiple of the
preset's block) and cropped back afterwards; frames larger than
``tile`` pixels a side are cut into overlapping tiles (a halo wider than the network's receptive
field, so tiled output equals untiled output) that are run in batches.

:func:`apply` streams a rendition through PyAV: decode, bicubic upscale to the display grid, the
network on luma (chroma passes through, upscaled), write (lossless FFV1 by default).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ladderforge.enhance._deps import require_torch
from ladderforge.enhance.frames import Planes, VideoWriter, iter_planes, video_grid
from ladderforge.enhance.model import EnhanceModel
from ladderforge.errors import UsageError

__all__ = ["INFER_VERSION", "ApplyResult", "apply", "benchmark", "enhance_luma", "pick_device"]

INFER_VERSION = 1
"""Version of what :func:`apply` writes for a given model and rendition (upscale, tiling,
rounding, the factor plane): stored results of the stage are keyed on it, so bump it whenever a
change here changes a single output pixel."""

DEFAULT_TILE = 512
DEFAULT_BATCH = 4


def pick_device(device: str | None = None) -> str:
    """``device`` if given, else ``cuda`` when a GPU is usable, else ``cpu``."""
    if device:
        return device
    torch = require_torch()
    return "cuda" if torch.cuda.is_available() else "cpu"


def _halo(model: EnhanceModel) -> int:
    """Pixels each side a tile needs beyond its core: the receptive field, rounded to blocks."""
    block = model.preset.block
    radius = model.preset.layers * block + block  # 3x3 convs on blocks, plus the block itself
    return math.ceil(radius / block) * block


def prepare(model: EnhanceModel, device: str) -> None:
    """Move the network to ``device`` in eval mode, channels-last (about 1.8x faster on CPU)."""
    torch = require_torch()
    model.network.to(device=device, memory_format=torch.channels_last).eval()


def _run(model: EnhanceModel, batch: np.ndarray, device: str, factor: float) -> np.ndarray:
    torch = require_torch()
    with torch.inference_mode():
        x = torch.from_numpy(batch).to(device=device, dtype=torch.float32).div_(255.0)
        x = x.unsqueeze(1)
        if model.preset.factor_input:
            x = torch.cat([x, torch.full_like(x, math.log2(factor))], dim=1)
        x = x.contiguous(memory_format=torch.channels_last)
        y = model.network(x).squeeze(1)
        out = y.mul_(255.0).round_().clamp_(0, 255).to(torch.uint8).cpu().numpy()
    return np.asarray(out)


def enhance_luma(
    model: EnhanceModel,
    luma: np.ndarray,
    *,
    tile: int = DEFAULT_TILE,
    batch: int = DEFAULT_BATCH,
    device: str = "cpu",
    factor: float = 1.0,
) -> np.ndarray:
    """Enhance uint8 luma planes (H x W, or N x H x W); same shape out. ``factor``: how much
    the rendition was upscaled to this grid (display height over rung height); only a model
    whose preset has ``factor_input`` reads it."""
    if tile < 16 or batch < 1 or not factor > 0:
        raise UsageError(
            f"The 'tile' parameter of enhance_luma must be >= 16, 'batch' >= 1 and 'factor' "
            f"> 0. Got tile={tile}, batch={batch}, factor={factor} instead."
        )
    single = luma.ndim == 2
    frames = luma[None] if single else luma
    n, h, w = frames.shape
    block = model.preset.block
    tile = max(block, tile // block * block)
    if h <= tile and w <= tile:
        halo = _halo(model)  # the same edge padding as tiles get, so both paths agree
        ph, pw = -h % block, -w % block
        padded = np.pad(frames, ((0, 0), (halo, halo + ph), (halo, halo + pw)), mode="edge")
        out = np.concatenate(
            [_run(model, padded[i : i + batch], device, factor) for i in range(0, n, batch)]
        )
        result = out[:, halo : halo + h, halo : halo + w]
    else:
        result = _tiled(model, frames, tile=tile, batch=batch, device=device, factor=factor)
    return result[0] if single else result


def _tiled(
    model: EnhanceModel, frames: np.ndarray, *, tile: int, batch: int, device: str, factor: float
) -> np.ndarray:
    n, h, w = frames.shape
    halo = _halo(model)
    rows, cols = math.ceil(h / tile), math.ceil(w / tile)
    padded = np.pad(
        frames,
        ((0, 0), (halo, rows * tile - h + halo), (halo, cols * tile - w + halo)),
        mode="edge",
    )
    span = tile + 2 * halo
    origins = [(f, r * tile, c * tile) for f in range(n) for r in range(rows) for c in range(cols)]
    out = np.empty((n, rows * tile, cols * tile), dtype=np.uint8)
    for start in range(0, len(origins), batch):
        chunk = origins[start : start + batch]
        stack = np.stack([padded[f, y : y + span, x : x + span] for f, y, x in chunk])
        done = _run(model, stack, device, factor)
        for (f, y, x), piece in zip(chunk, done, strict=True):
            out[f, y : y + tile, x : x + tile] = piece[halo : halo + tile, halo : halo + tile]
    return out[:, :h, :w]


@dataclass(frozen=True)
class ApplyResult:
    """What :func:`apply` did."""

    output_path: Path
    """The enhanced video."""
    frames: int
    """Frames written."""
    width: int
    """Output width (the display grid)."""
    height: int
    """Output height."""
    wall_s: float
    """Wall-clock seconds, decode and encode included."""
    model_s: float
    """Seconds spent in the network (padding, tiling and transfers included)."""
    device: str
    """Where the network ran."""

    @property
    def fps(self) -> float:
        """End-to-end frames per second (decode, upscale, network, encode)."""
        return self.frames / self.wall_s if self.wall_s > 0 else math.inf

    @property
    def model_fps(self) -> float:
        """Frames per second of the network alone."""
        return self.frames / self.model_s if self.model_s > 0 else math.inf


def apply(
    model: EnhanceModel | None,
    dist: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    width: int | None = None,
    height: int | None = None,
    codec: str = "ffv1",
    codec_options: dict[str, str] | None = None,
    tile: int = DEFAULT_TILE,
    batch: int = DEFAULT_BATCH,
    device: str | None = None,
    max_frames: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ApplyResult:
    """Enhance the rendition ``dist`` onto a ``width`` x ``height`` display grid (default: its
    own) and write ``output``. ``model=None`` writes the plain bicubic upscale (the baseline).
    A model with the factor input is given ``height`` over the rendition's height.

    ``on_progress`` gets the number of frames written so far.
    """
    dev = pick_device(device) if model is not None else "cpu"
    if model is not None:
        prepare(model, dev)
    grid = video_grid(dist)
    w, h = width or grid.width, height or grid.height
    start = time.perf_counter()
    model_s = 0.0
    pending: list[Planes] = []
    with VideoWriter(
        output, width=w, height=h, frame_rate=grid.frame_rate, codec=codec, options=codec_options
    ) as writer:

        def flush() -> None:
            nonlocal model_s
            if model is not None and pending:
                t0 = time.perf_counter()
                luma = enhance_luma(
                    model, np.stack([p[0] for p in pending]), tile=tile, batch=batch, device=dev,
                    factor=h / grid.height,
                )  # fmt: skip
                model_s += time.perf_counter() - t0
                pending[:] = [(y, u, v) for y, (_, u, v) in zip(luma, pending, strict=True)]
            for planes in pending:
                writer.write(planes)
            pending.clear()
            if on_progress is not None:
                on_progress(writer.frames)

        for planes in iter_planes(dist, width=w, height=h, max_frames=max_frames):
            pending.append(planes)
            if len(pending) >= batch:
                flush()
        flush()
        frames = writer.frames
    return ApplyResult(Path(output), frames, w, h, time.perf_counter() - start, model_s, dev)


def benchmark(
    model: EnhanceModel,
    *,
    width: int = 960,
    height: int = 540,
    frames: int = 24,
    batch: int = 1,
    device: str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Frames per second of the network alone on random ``width`` x ``height`` luma (after two
    warm-up batches), with the threads torch used."""
    torch = require_torch()
    dev = pick_device(device)
    prepare(model, dev)
    data = np.random.default_rng(seed).integers(16, 236, (batch, height, width), dtype=np.uint8)
    tile = max(width, height)
    for _ in range(2):
        enhance_luma(model, data, tile=tile, batch=batch, device=dev)
    if dev.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    done = 0
    while done < frames:
        enhance_luma(model, data, tile=tile, batch=batch, device=dev)
        done += batch
    if dev.startswith("cuda"):
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    return {
        "preset": model.preset.name,
        "width": width,
        "height": height,
        "batch": batch,
        "device": dev,
        "threads": torch.get_num_threads(),
        "frames": done,
        "seconds": elapsed,
        "fps": done / elapsed,
    }
