"""The equal-slope allocation (see the package docstring for the method)."""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise

from ladderforge.errors import UsageError
from ladderforge.policy.hull import pareto_front, upper_convex_hull

__all__ = ["Allocation", "SceneOption", "allocate", "allocation_curve"]

_EPS = 1e-9
_FLOOR_METRICS = ("vmaf", "vmaf_low")


@dataclass(frozen=True)
class SceneOption:
    """One scene encoded at one CRF."""

    q: float
    """The CRF."""
    kbps: float
    """The scene's mean bitrate at this CRF."""
    vmaf: float
    """The scene's mean VMAF at this CRF."""
    vmaf_low: float | None = None
    """The scene's 1%-low VMAF, when known."""


@dataclass(frozen=True)
class Allocation:
    """One option per scene and what the title gets from them."""

    choices: tuple[SceneOption, ...]
    """The chosen option of each scene, in scene order."""
    kbps: float
    """Frame-weighted mean bitrate of the choices: ``sum(kbps_i * frames_i) / sum(frames)``."""
    vmaf: float
    """Frame-weighted mean VMAF of the choices."""
    worst_vmaf: float
    """The lowest chosen VMAF of any scene."""
    slope: float
    """The last marginal dVMAF/dkbps step taken (the Lagrange multiplier); nan if none."""
    met: bool
    """Whether every constraint asked for holds."""
    notes: tuple[str, ...]
    """Why a constraint does not hold, one line each."""


@dataclass(frozen=True)
class _Scene:
    """A scene's allowed options: its Pareto front and upper concave hull, both by kbps."""

    front: tuple[SceneOption, ...]
    hull: tuple[SceneOption, ...]
    frames: int


def _check_tables(
    options: Sequence[Sequence[SceneOption]], frames: Sequence[int], where: str
) -> None:
    if len(options) == 0:
        raise UsageError.parameter(
            where, "options", "a non-empty sequence (one entry per scene)", options
        )
    if len(frames) != len(options):
        raise UsageError.parameter(
            where, "frames", f"a sequence of {len(options)} frame counts, one per scene", frames
        )
    for index, count in enumerate(frames):
        if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
            raise UsageError.parameter(where, "frames", f"positive integers (scene {index})", count)
    for index, scene in enumerate(options):
        if len(scene) == 0:
            raise UsageError.parameter(
                where, "options", f"at least one option per scene (scene {index})", scene
            )
        for option in scene:
            low_ok = option.vmaf_low is None or math.isfinite(option.vmaf_low)
            if not (
                math.isfinite(option.kbps) and option.kbps > 0
                and math.isfinite(option.vmaf) and low_ok
            ):  # fmt: skip
                raise UsageError.parameter(
                    where,
                    "options",
                    f"finite VMAFs and bitrates > 0 kbps (scene {index})",
                    option,
                )


def _check_keywords(
    floor_vmaf: float | None, floor_metric: str, ratio: float | None, where: str
) -> None:
    if floor_vmaf is not None and not math.isfinite(floor_vmaf):
        raise UsageError.parameter(where, "floor_vmaf", "a finite number or None", floor_vmaf)
    if floor_metric not in _FLOOR_METRICS:
        raise UsageError.parameter(where, "floor_metric", "'vmaf' or 'vmaf_low'", floor_metric)
    if ratio is not None and not (math.isfinite(ratio) and ratio >= 1):
        raise UsageError.parameter(where, "max_neighbour_ratio", "a number >= 1 or None", ratio)


def _allowed(
    index: int, scene: Sequence[SceneOption], floor: float | None, metric: str, where: str
) -> tuple[list[SceneOption], str | None]:
    """The scene's options at the floor; its best option alone, with a note, if none is."""
    if floor is None:
        return list(scene), None
    levels: list[float] = []
    for option in scene:
        level = getattr(option, metric)
        if level is None:
            raise UsageError.parameter(
                where, "options", f"options with a vmaf_low (scene {index})", option
            )
        levels.append(level)
    allowed = [o for o, level in zip(scene, levels, strict=True) if level >= floor]
    if allowed:
        return allowed, None
    best = max(range(len(scene)), key=lambda i: (levels[i], scene[i].vmaf, -scene[i].kbps))
    label = "floor" if metric == "vmaf" else f"{metric} floor"
    note = (
        f"scene {index}: no CRF reaches the {label} {floor:g}; "
        f"its best CRF {scene[best].q:g} gives {levels[best]:.1f}"
    )
    return [scene[best]], note


def _prepare(
    options: Sequence[Sequence[SceneOption]],
    frames: Sequence[int],
    floor: tuple[float | None, str],
    ratio: float | None,
    where: str,
) -> tuple[list[_Scene], list[str]]:
    """Validate the arguments; each scene's allowed front and hull, and the floor's notes."""
    _check_tables(options, frames, where)
    _check_keywords(floor[0], floor[1], ratio, where)
    scenes: list[_Scene] = []
    notes: list[str] = []
    for index, (scene, count) in enumerate(zip(options, frames, strict=True)):
        allowed, note = _allowed(index, scene, floor[0], floor[1], where)
        if note is not None:
            notes.append(note)
        # keyed by (kbps, vmaf): duplicates collapse to the first given
        by_pair = {(o.kbps, o.vmaf): o for o in reversed(allowed)}
        front = tuple(by_pair[p] for p in pareto_front(list(by_pair)))
        hull = tuple(by_pair[p] for p in upper_convex_hull(list(by_pair)))
        scenes.append(_Scene(front=front, hull=hull, frames=count))
    return scenes, notes


def _slope(low: SceneOption, high: SceneOption) -> float:
    return (high.vmaf - low.vmaf) / (high.kbps - low.kbps)


def _ascent(scenes: Sequence[_Scene]) -> Iterator[tuple[int, SceneOption, float]]:
    """The equal-slope ascent from every hull's bottom to every hull's top.

    Yields (scene index, the scene's next hull point, the step's slope), steepest step first;
    the slopes never rise.
    """
    position = [0] * len(scenes)
    heap = [(-_slope(s.hull[0], s.hull[1]), i) for i, s in enumerate(scenes) if len(s.hull) > 1]
    heapq.heapify(heap)
    while heap:
        negative_slope, i = heapq.heappop(heap)
        hull = scenes[i].hull
        position[i] += 1
        yield i, hull[position[i]], -negative_slope
        if position[i] + 1 < len(hull):
            heapq.heappush(heap, (-_slope(hull[position[i]], hull[position[i] + 1]), i))


def _weighted_vmaf(scenes: Sequence[_Scene], picks: Sequence[SceneOption]) -> float:
    return sum(p.vmaf * s.frames for s, p in zip(scenes, picks, strict=True))


def _trim(scenes: Sequence[_Scene], picks: list[SceneOption], goal: float) -> None:
    """Downgrade scenes, largest bit saving first, while the weighted VMAF stays >= goal."""
    weighted = _weighted_vmaf(scenes, picks)
    while True:
        best: tuple[float, int, SceneOption] | None = None
        for i, scene in enumerate(scenes):
            for option in scene.front:  # by kbps: the first that keeps the goal saves most
                if option.kbps >= picks[i].kbps:
                    break
                if weighted + (option.vmaf - picks[i].vmaf) * scene.frames >= goal:
                    saving = (picks[i].kbps - option.kbps) * scene.frames
                    if best is None or saving > best[0]:
                        best = (saving, i, option)
                    break
        if best is None:
            return
        _, i, option = best
        weighted += (option.vmaf - picks[i].vmaf) * scenes[i].frames
        picks[i] = option


def _bits(scenes: Sequence[_Scene], picks: Sequence[SceneOption]) -> float:
    return sum(p.kbps * s.frames for s, p in zip(scenes, picks, strict=True))


def _finish(
    scenes: Sequence[_Scene],
    picks: list[SceneOption],
    last: tuple[int, SceneOption],
    goal: float,
) -> list[SceneOption]:
    """Re-choose the ascent's last step: the cheapest single upgrade, trimmed, from before it."""
    before = list(picks)
    before[last[0]] = last[1]
    weighted = _weighted_vmaf(scenes, before)
    best = list(picks)
    _trim(scenes, best, goal)
    for i, scene in enumerate(scenes):
        for option in scene.front:
            gain = (option.vmaf - before[i].vmaf) * scene.frames
            if option.kbps > before[i].kbps and weighted + gain >= goal:
                picks = [*before[:i], option, *before[i + 1 :]]
                _trim(scenes, picks, goal)
                if _bits(scenes, picks) < _bits(scenes, best):
                    best = picks
                break
    return best


def _too_far(low: SceneOption, high: SceneOption, ratio: float) -> float:
    """How far apart two bitrates are (the larger over the smaller), or 0 if within ratio."""
    spread = max(low.kbps, high.kbps) / min(low.kbps, high.kbps)
    return spread if spread > ratio * (1 + _EPS) else 0.0


def _cap(scenes: Sequence[_Scene], picks: list[SceneOption], ratio: float | None) -> list[str]:
    """Upgrade the cheaper scene of the worst pair too far apart until none can be; notes."""
    if ratio is None:
        return []
    while True:
        worst = (0.0, -1)
        for i, (a, b) in enumerate(pairwise(picks)):
            cheaper = i if a.kbps < b.kbps else i + 1
            if picks[cheaper].kbps < scenes[cheaper].front[-1].kbps:
                worst = max(worst, (_too_far(a, b, ratio), cheaper))
        if worst[0] == 0.0:
            break
        cheaper = worst[1]
        picks[cheaper] = next(o for o in scenes[cheaper].front if o.kbps > picks[cheaper].kbps)
    return [
        f"scenes {i} and {i + 1}: {a.kbps:.0f} and {b.kbps:.0f} kbps are more than "
        f"{ratio:g}x apart; the cheaper one has no higher-quality CRF allowed"
        for i, (a, b) in enumerate(pairwise(picks))
        if _too_far(a, b, ratio)
    ]


def _summary(
    scenes: Sequence[_Scene], picks: Sequence[SceneOption], slope: float, notes: Sequence[str]
) -> Allocation:
    total = sum(s.frames for s in scenes)
    bits = _bits(scenes, picks)
    return Allocation(
        choices=tuple(picks),
        kbps=bits / total,
        vmaf=_weighted_vmaf(scenes, picks) / total,
        worst_vmaf=min(p.vmaf for p in picks),
        slope=slope,
        met=not notes,
        notes=tuple(notes),
    )


def allocate(
    options: Sequence[Sequence[SceneOption]],
    frames: Sequence[int],
    *,
    target_vmaf: float | None = None,
    floor_vmaf: float | None = None,
    floor_metric: str = "vmaf",
    max_neighbour_ratio: float | None = None,
) -> Allocation:
    """The cheapest option per scene whose frame-weighted mean VMAF reaches ``target_vmaf``.

    ``options[i]`` are scene i's candidate CRFs, in any order; ``frames[i]`` its frame count.
    Without a target every scene gets its cheapest allowed option. See the module docstring for
    the method and the constraints. When a constraint cannot hold, the allocation comes back
    with ``met=False`` and a note per failure: an unreachable target gives every scene its best
    allowed option.

    Raises :class:`~ladderforge.errors.UsageError` on empty or mismatched tables, frame counts
    <= 0, a bad keyword, or a ``vmaf_low`` floor over options without ``vmaf_low``.
    """
    if target_vmaf is not None and not math.isfinite(target_vmaf):
        raise UsageError.parameter(
            "allocate", "target_vmaf", "a finite number or None", target_vmaf
        )
    floor = (floor_vmaf, floor_metric)
    scenes, notes = _prepare(options, frames, floor, max_neighbour_ratio, "allocate")
    picks = [s.hull[0] for s in scenes]
    slope = math.nan
    if target_vmaf is not None:
        goal = (target_vmaf - _EPS) * sum(frames)
        weighted = _weighted_vmaf(scenes, picks)
        steps = _ascent(scenes)
        last: tuple[int, SceneOption] | None = None  # the last step: its scene, where from
        while weighted < goal and (step := next(steps, None)) is not None:
            i, option, slope = step
            last = (i, picks[i])
            weighted += (option.vmaf - picks[i].vmaf) * scenes[i].frames
            picks[i] = option
        if weighted >= goal:
            picks = picks if last is None else _finish(scenes, picks, last, goal)
        else:
            notes.append(
                f"the mean VMAF target {target_vmaf:g} is out of reach: the best allowed CRF "
                f"of every scene gives {weighted / sum(frames):.2f}"
            )
    notes += _cap(scenes, picks, max_neighbour_ratio)
    return _summary(scenes, picks, slope, notes)


def allocation_curve(
    options: Sequence[Sequence[SceneOption]],
    frames: Sequence[int],
    *,
    floor_vmaf: float | None = None,
    floor_metric: str = "vmaf",
    max_neighbour_ratio: float | None = None,
) -> list[Allocation]:
    """The RD curve of per-scene allocation: every step of the equal-slope ascent.

    From every scene's cheapest allowed option to every scene's best, one
    :class:`Allocation` per step (``slope`` is the step's; nan for the first), each with the
    neighbour cap applied. Along the curve ``kbps`` rises strictly and ``vmaf`` never falls:
    a step that the cap makes no dearer, or worse than the one before, is left out. Feed the
    ``(kbps, vmaf)`` pairs to the BD-rate functions to compare with a per-title ladder.

    ``met`` is False only where the floor or the neighbour cap cannot hold (with notes).
    Raises :class:`~ladderforge.errors.UsageError` as :func:`allocate` does.
    """
    floor = (floor_vmaf, floor_metric)
    scenes, notes = _prepare(options, frames, floor, max_neighbour_ratio, "allocation_curve")
    picks = [s.hull[0] for s in scenes]
    steps = [(list(picks), math.nan)]
    for i, option, slope in _ascent(scenes):
        picks[i] = option
        steps.append((list(picks), slope))
    curve: list[Allocation] = []
    for step_picks, slope in steps:
        cap_notes = _cap(scenes, step_picks, max_neighbour_ratio)
        point = _summary(scenes, step_picks, slope, notes + cap_notes)
        if not curve or (point.kbps > curve[-1].kbps and point.vmaf >= curve[-1].vmaf):
            curve.append(point)
    return curve
