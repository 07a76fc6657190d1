"""Training the residual network on patches: seeded, reproducible, CPU or GPU.

:func:`train` fits a model (a new one of a preset, or a copy of ``init`` for a per-title
fine-tune) on a :class:`~ladderforge.enhance.data.PatchSet` with Adam and a cosine learning-rate
decay. Each step draws a batch and a random dihedral transform per patch (flips and transposes:
the eight orientations) from one generator seeded with ``seed``; the same inputs, seed and device
give the same weights. A held-out share of the patches measures the luma PSNR before and after,
recorded in the model's metadata.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from ladderforge.enhance._deps import require_torch
from ladderforge.enhance.data import PatchSet
from ladderforge.enhance.infer import pick_device
from ladderforge.enhance.model import EnhanceModel
from ladderforge.enhance.presets import DEFAULT_PRESET
from ladderforge.errors import UsageError

__all__ = ["TrainConfig", "augment", "train"]

TrainProgress = Callable[[int, int, float], None]
"""Called as (step done, steps, running loss)."""


@dataclass(frozen=True)
class TrainConfig:
    """How to train (every field changes the result, so all are recorded in the model file)."""

    preset: str = DEFAULT_PRESET
    """Network size (ignored when fine-tuning: the base model's preset is kept)."""
    steps: int = 2000
    """Optimizer steps."""
    batch_size: int = 32
    """Patches per step."""
    lr: float = 1e-3
    """Peak learning rate (cosine-decayed to 1% of it)."""
    loss: Literal["l1", "l2"] = "l2"
    """Per-pixel loss on the luma residual."""
    seed: int = 0
    """Seeds the initial weights, the batches and the augmentation."""
    val_fraction: float = 0.1
    """Share of patches held back to measure the PSNR gain."""
    trainable: Literal["all", "head"] = "all"
    """``head``: only the last convolution learns (small per-title fine-tunes)."""

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or not self.lr > 0:
            raise UsageError(
                "The 'steps' and 'batch_size' parameters of TrainConfig must be >= 1 and 'lr' > 0. "
                f"Got steps={self.steps}, batch_size={self.batch_size}, lr={self.lr} instead."
            )
        if not 0 <= self.val_fraction < 1:
            raise UsageError(
                f"The 'val_fraction' parameter of TrainConfig must be in [0, 1). "
                f"Got {self.val_fraction} instead."
            )
        if self.loss not in ("l1", "l2") or self.trainable not in ("all", "head"):
            raise UsageError(
                "The 'loss' parameter of TrainConfig must be 'l1' or 'l2' and 'trainable' 'all' "
                f"or 'head'. Got {self.loss!r}, {self.trainable!r} instead."
            )


def augment(
    dist: np.ndarray, ref: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The same random dihedral transform (of eight) applied to each co-located pair."""
    codes: list[int] = rng.integers(0, 8, size=len(dist)).tolist()
    out_d, out_r = dist.copy(), ref.copy()
    for i, code in enumerate(codes):
        d, r = dist[i], ref[i]
        if code & 1:
            d, r = d[:, ::-1], r[:, ::-1]
        if code & 2:
            d, r = d[::-1], r[::-1]
        if code & 4:
            d, r = d.T, r.T
        out_d[i], out_r[i] = d, r
    return out_d, out_r


def _psnr(mse: float) -> float:
    return 10 * math.log10(1.0 / mse) if mse > 0 else math.inf


def _val_psnr(model: EnhanceModel, dist: Any, ref: Any) -> tuple[float, float]:
    torch = require_torch()
    with torch.inference_mode():
        before = sum(float(((d[:, :1] - r) ** 2).mean()) for d, r in zip(dist, ref, strict=True))
        after = sum(
            float(((model.network(d) - r) ** 2).mean()) for d, r in zip(dist, ref, strict=True)
        )
    return _psnr(before / len(dist)), _psnr(after / len(dist))


def train(
    patches: PatchSet,
    *,
    config: TrainConfig | None = None,
    init: EnhanceModel | None = None,
    device: str | None = None,
    metadata: dict[str, Any] | None = None,
    on_progress: TrainProgress | None = None,
) -> EnhanceModel:
    """Train a model on ``patches`` (fine-tune a copy of ``init`` when given) and return it, in
    eval mode on the CPU, with its metadata (config, titles, validation PSNR, time)."""
    torch = require_torch()
    cfg = config or TrainConfig()
    dev = pick_device(device)
    rng = np.random.default_rng(cfg.seed)
    order = rng.permutation(len(patches))
    n_val = int(len(patches) * cfg.val_fraction)
    val_idx, train_idx = order[:n_val], order[n_val:]
    if train_idx.size == 0:
        raise UsageError("train needs at least one training patch after the validation split.")
    if init is not None:
        model = EnhanceModel(copy.deepcopy(init.network), init.preset, dict(init.metadata))
        torch.manual_seed(cfg.seed)
    else:
        model = EnhanceModel.new(cfg.preset, seed=cfg.seed)
    net = model.network.to(dev).train()
    params = list(net.body[-1].parameters()) if cfg.trainable == "head" else list(net.parameters())
    for p in net.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    optim = torch.optim.Adam(params, lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(optim, cfg.steps, eta_min=cfg.lr / 100)
    loss_fn = torch.nn.functional.l1_loss if cfg.loss == "l1" else torch.nn.functional.mse_loss

    def tensor(a: np.ndarray) -> Any:
        return (
            torch.from_numpy(np.ascontiguousarray(a)).to(dev, torch.float32).div_(255).unsqueeze(1)
        )

    factors = patches.factors if patches.factors is not None else np.ones(len(patches), "f4")

    def inputs(idx: np.ndarray, dist: np.ndarray) -> Any:
        """The network's input: luma, and the log2 factor plane for a factor-input preset."""
        x = tensor(dist)
        if not model.preset.factor_input:
            return x
        plane = torch.from_numpy(np.log2(factors[idx]).astype("f4")).to(dev).view(-1, 1, 1, 1)
        return torch.cat([x, plane.expand_as(x)], dim=1)

    val = [
        (
            inputs(val_idx[i : i + 256], patches.dist[val_idx[i : i + 256]]),
            tensor(patches.ref[val_idx[i : i + 256]]),
        )
        for i in range(0, n_val, 256)
    ]
    before = _val_psnr(model, [d for d, _ in val], [r for _, r in val]) if val else (0.0, 0.0)
    start, running = time.perf_counter(), 0.0
    for step in range(cfg.steps):
        pick = train_idx[rng.integers(0, train_idx.size, cfg.batch_size)]
        d, r = augment(patches.dist[pick], patches.ref[pick], rng)
        loss = loss_fn(net(inputs(pick, d)), tensor(r))
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        sched.step()
        value = float(loss.detach())
        running = value if step == 0 else 0.98 * running + 0.02 * value
        if on_progress is not None and (step % 20 == 0 or step == cfg.steps - 1):
            on_progress(step + 1, cfg.steps, running)
    net.eval()
    after = _val_psnr(model, [d for d, _ in val], [r for _, r in val]) if val else (0.0, 0.0)
    for p in net.parameters():
        p.requires_grad_(False)
    model.network = net.cpu()
    model.metadata = {
        **({"base_model": init.fingerprint(), "base_metadata": init.metadata} if init else {}),
        **(metadata or {}),
        "config": asdict(cfg),
        "titles": list(patches.titles),
        "patches": len(patches),
        "factors": sorted({round(float(f), 3) for f in factors}),
        "val_patches": int(n_val),
        "val_psnr_in_db": round(before[0], 4),
        "val_psnr_out_db": round(after[1], 4),
        "train_s": round(time.perf_counter() - start, 2),
        "device": dev,
    }
    return model
