"""Per-scene CRF allocation: the Dynamic Optimizer of shot-based encoding.

A title cut into scenes (chunks) is encoded at a few CRFs per scene; each gives a recorded
:class:`SceneOption` (CRF, mean bitrate, mean VMAF). :func:`allocate` picks one option per scene
so that the whole title spends the fewest bits for the quality asked, as in Netflix's
"Dynamic optimizer — a perceptual video encoding optimization framework" (2018).

The method is Lagrangian, "equal slope": at the optimum every scene sits where one more kbps buys
the same VMAF (the slope dVMAF/dkbps is the Lagrange multiplier). Only the points on each scene's
**upper concave hull** of VMAF over kbps can be such optima: a point under the hull is beaten by
mixing its two hull neighbours, and along the hull the slope falls, so upgrading the scene with
the steepest next step, one step at a time, visits the optimal allocation of each quality level
it passes through. The weights cancel: a step of scene i raises the frame-weighted mean VMAF by
``dv * n_i / N`` for ``dk * n_i / N`` more mean kbps, a ratio of ``dv / dk``.

The constraints:

* ``target_vmaf``: the frame-weighted mean VMAF must reach it. The ascent stops at the first step
  that reaches it. That last step may overshoot, so it is re-chosen: from the state before it,
  every single upgrade (to any allowed option, hull or not) that reaches the target is tried,
  then trimmed by downgrading scenes greedily (largest saving first) to cheaper options that keep
  the mean on target; the cheapest wins. The result spends at most the optimum plus the cost of
  one hull step (the state before the last step is optimal for its own, lower, mean).
* ``floor_vmaf``: every scene's ``floor_metric`` (its mean VMAF, or its 1%-low VMAF) must reach
  it; the options under it are not allowed. A scene with no option at the floor keeps only its
  best one and the allocation is marked unmet.
* ``max_neighbour_ratio``: neighbouring scenes' bitrates may differ by at most this ratio (a rate
  controller and a player buffer dislike jumps); the cheaper one of a pair too far apart is
  upgraded until the pair fits. Quality only rises, so the other constraints keep holding.

Scenes are numbered from 0 in notes, as in ``options``. Everything is a pure function of the
recorded tables.
"""

from ladderforge.policy.per_scene.allocation import (
    Allocation,
    SceneOption,
    allocate,
    allocation_curve,
)
from ladderforge.policy.per_scene.anchor import (
    anchor_curves,
    anchor_on_points,
    should_keep_per_scene,
)
from ladderforge.policy.per_scene.rung import RungChunks, rung_chunks

__all__ = [
    "Allocation",
    "RungChunks",
    "SceneOption",
    "allocate",
    "allocation_curve",
    "anchor_curves",
    "anchor_on_points",
    "rung_chunks",
    "should_keep_per_scene",
]
