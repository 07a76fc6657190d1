"""One rung's chunks: the single CRF everywhere, or a per-scene allocation, and the rule that
falls back to the single CRF when the allocation would cost more."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ladderforge.errors import UsageError
from ladderforge.policy.per_scene.allocation import SceneOption, allocate

__all__ = ["RungChunks", "rung_chunks"]


@dataclass(frozen=True)
class RungChunks:
    """The option chosen for each chunk of one rung, and the single-CRF option beside it."""

    chosen: tuple[SceneOption, ...]
    """What each chunk is encoded at."""
    single: tuple[SceneOption, ...]
    """Each chunk at the rung's single CRF: what per-scene allocation is judged by."""
    notes: tuple[str, ...]
    """Why a per-scene constraint does not hold, one line each."""


def rung_chunks(
    options: Sequence[Sequence[SceneOption]],
    frames: Sequence[int],
    rung_q: float,
    *,
    per_scene: bool,
    floor_vmaf: float | None = None,
    max_neighbour_ratio: float | None = None,
) -> RungChunks:
    """The chunks of a rung at its single CRF ``rung_q``, or, with ``per_scene``, allocated to
    hold the single CRF's frame-weighted mean VMAF for the fewest bits.

    The fallback rule: without a floor or a neighbour cap the single CRF is always feasible,
    so when the discrete ascent ends dearer than it (it can overshoot by one hull step) the
    single CRF is kept. ``options[i]`` must contain an option at ``rung_q``.
    """
    try:
        single = tuple(next(o for o in opts if o.q == rung_q) for opts in options)
    except StopIteration:
        raise UsageError.parameter(
            "rung_chunks", "options", f"an option at q={rung_q:g} per chunk", "none"
        ) from None
    if not per_scene:
        return RungChunks(single, single, ())
    target = sum(o.vmaf * n for o, n in zip(single, frames, strict=True)) / sum(frames)
    alloc = allocate(
        options,
        frames,
        target_vmaf=target,
        floor_vmaf=floor_vmaf,
        max_neighbour_ratio=max_neighbour_ratio,
    )
    chosen = alloc.choices
    plain = floor_vmaf is None and max_neighbour_ratio is None
    if plain and _mean_kbps(chosen, frames) > _mean_kbps(single, frames):
        chosen = single
    return RungChunks(chosen, single, alloc.notes)


def _mean_kbps(options: Sequence[SceneOption], frames: Sequence[int]) -> float:
    return sum(o.kbps * n for o, n in zip(options, frames, strict=True)) / sum(frames)
