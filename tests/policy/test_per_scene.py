"""Per-scene CRF allocation on hand-made and seeded random CRF tables, checked by brute force."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pytest

from ladderforge.errors import UsageError
from ladderforge.policy.hull import upper_convex_hull
from ladderforge.policy.per_scene import Allocation, SceneOption, allocate, allocation_curve

CRFS = (18, 22, 26, 30, 34, 38)
SEEDS = range(8)
TOL = 1e-6  # kbps and VMAF are sums of a few products: rounding error only


def _table(seed: int, scenes: int = 4) -> tuple[list[list[SceneOption]], list[int]]:
    """Random concave-ish CRF tables: VMAF saturates with kbps, plus noise that breaks the hull."""
    rng = np.random.RandomState(seed)
    options = []
    for _ in range(scenes):
        base_kbps = rng.uniform(300, 4000)  # at CRF 26
        ceiling = rng.uniform(93, 99)
        depth = rng.uniform(20, 60)
        scene = []
        for q in CRFS:
            kbps = base_kbps * 2 ** ((26 - q) / 6) * rng.uniform(0.9, 1.1)
            vmaf = ceiling - depth * math.exp(-kbps / base_kbps) + rng.uniform(-1.5, 1.5)
            low = vmaf - rng.uniform(2, 12)
            scene.append(SceneOption(q=q, kbps=kbps, vmaf=vmaf, vmaf_low=low))
        rng.shuffle(scene)  # any order is allowed
        options.append(scene)
    frames = [int(n) for n in rng.randint(24, 400, size=scenes)]
    return options, frames


def _mean(values: Sequence[float], frames: Sequence[int]) -> float:
    return float(np.dot(values, frames) / np.sum(frames))


def _brute_force(
    options: list[list[SceneOption]], frames: list[int], target: float
) -> tuple[float, tuple[SceneOption, ...] | None]:
    """Least mean kbps of a combination whose mean VMAF reaches target, and the combination."""
    best = (math.inf, None)
    for combo in itertools.product(*options):
        if _mean([o.vmaf for o in combo], frames) >= target - 1e-9:
            kbps = _mean([o.kbps for o in combo], frames)
            if kbps < best[0]:
                best = (kbps, combo)
    return best


def _largest_step(options: list[list[SceneOption]], frames: list[int]) -> float:
    """The largest rise in mean kbps of one step along any scene's hull."""
    total = sum(frames)
    steps = [0.0]
    for scene, n in zip(options, frames, strict=True):
        hull = upper_convex_hull([(o.kbps, o.vmaf) for o in scene])
        steps += [(b[0] - a[0]) * n / total for a, b in itertools.pairwise(hull)]
    return max(steps)


def _constant(options: list[list[SceneOption]], frames: list[int], q: float) -> tuple[float, float]:
    """(mean kbps, mean VMAF) of every scene at the same CRF."""
    picks = [next(o for o in scene if o.q == q) for scene in options]
    return _mean([o.kbps for o in picks], frames), _mean([o.vmaf for o in picks], frames)


def _reachable_targets(options: list[list[SceneOption]], frames: list[int]) -> np.ndarray:
    low = _mean([min(o.vmaf for o in s) for s in options], frames)
    high = _mean([max(o.vmaf for o in s) for s in options], frames)
    return np.linspace(low, high, 13)


def _check_totals(result: Allocation, frames: list[int]) -> None:
    assert result.kbps == pytest.approx(_mean([o.kbps for o in result.choices], frames))
    assert result.vmaf == pytest.approx(_mean([o.vmaf for o in result.choices], frames))
    assert result.worst_vmaf == min(o.vmaf for o in result.choices)


@pytest.mark.parametrize("seed", SEEDS)
def test_allocate_is_within_one_step_of_brute_force(seed: int) -> None:
    options, frames = _table(seed)
    step = _largest_step(options, frames)
    for target in _reachable_targets(options, frames):
        result = allocate(options, frames, target_vmaf=float(target))
        optimum, _ = _brute_force(options, frames, target)
        assert result.met and not result.notes
        assert result.vmaf >= target - TOL
        assert optimum - TOL <= result.kbps <= optimum + step + TOL
        _check_totals(result, frames)


@pytest.mark.parametrize("seed", SEEDS)
def test_allocate_equals_brute_force_at_the_ascent_points(seed: int) -> None:
    # a target equal to the mean of an equal-slope point is met with no overshoot: exact optimum
    options, frames = _table(seed)
    for point in allocation_curve(options, frames):
        result = allocate(options, frames, target_vmaf=point.vmaf)
        optimum, _ = _brute_force(options, frames, point.vmaf)
        assert result.kbps == pytest.approx(optimum, abs=TOL)
        assert result.kbps <= point.kbps + TOL


@pytest.mark.parametrize("seed", SEEDS)
def test_constant_crf_is_never_cheaper_at_equal_or_higher_vmaf(seed: int) -> None:
    options, frames = _table(seed)
    curve = allocation_curve(options, frames)
    for q in CRFS:
        kbps, vmaf = _constant(options, frames, q)
        for point in curve:
            if point.vmaf <= vmaf + TOL:
                assert point.kbps <= kbps + TOL, (q, point)
        # and the allocation for the constant-CRF quality costs no more than one step more
        result = allocate(options, frames, target_vmaf=vmaf)
        assert result.kbps <= kbps + _largest_step(options, frames) + TOL


def test_last_step_overshoot_is_trimmed() -> None:
    # B's middle CRF is under its hull: the ascent overshoots to B's top, the trim comes back
    a = [SceneOption(q=30, kbps=100, vmaf=50), SceneOption(q=20, kbps=200, vmaf=90)]
    b = [
        SceneOption(q=30, kbps=100, vmaf=50),
        SceneOption(q=25, kbps=200, vmaf=65),
        SceneOption(q=20, kbps=300, vmaf=90),
    ]
    result = allocate([a, b], [10, 10], target_vmaf=77.5)
    assert [o.q for o in result.choices] == [20, 25]
    assert result.kbps == pytest.approx(200)
    assert result.vmaf == pytest.approx(77.5)
    assert result.slope == pytest.approx(0.2)
    assert result.kbps == pytest.approx(_brute_force([a, b], [10, 10], 77.5)[0])


def test_last_step_is_rechosen_among_all_options() -> None:
    # the steepest hull step (B) overshoots; A's CRF 26, under A's hull, just reaches the target
    a = [
        SceneOption(q=30, kbps=100, vmaf=50),
        SceneOption(q=26, kbps=150, vmaf=56),
        SceneOption(q=20, kbps=300, vmaf=90),
    ]
    b = [SceneOption(q=30, kbps=100, vmaf=50), SceneOption(q=20, kbps=200, vmaf=75)]
    result = allocate([a, b], [10, 10], target_vmaf=53)
    assert [o.q for o in result.choices] == [26, 30]
    assert result.kbps == pytest.approx(125)
    assert result.kbps == pytest.approx(_brute_force([a, b], [10, 10], 53)[0])


def test_frame_counts_weight_the_mean() -> None:
    # the same two scenes; the long one must carry the quality
    cheap = [SceneOption(q=30, kbps=100, vmaf=60), SceneOption(q=20, kbps=300, vmaf=90)]
    result = allocate([cheap, cheap], [90, 10], target_vmaf=85)
    assert [o.q for o in result.choices] == [20, 30]
    assert result.vmaf == pytest.approx(87)
    assert result.kbps == pytest.approx(280)


@pytest.mark.parametrize("seed", SEEDS[:4])
def test_without_a_target_each_scene_gets_its_cheapest_allowed_option(seed: int) -> None:
    options, frames = _table(seed)
    result = allocate(options, frames)
    assert result.choices == tuple(min(s, key=lambda o: o.kbps) for s in options)
    assert result.met and math.isnan(result.slope)
    floor = 80.0
    floored = allocate(options, frames, floor_vmaf=floor)
    for scene, choice in zip(options, floored.choices, strict=True):
        assert choice == min((o for o in scene if o.vmaf >= floor), key=lambda o: o.kbps)


@pytest.mark.parametrize("seed", SEEDS)
def test_floor_is_honoured_and_costs_bits(seed: int) -> None:
    options, frames = _table(seed)
    floor = 85.0
    options = [s for s in options if max(o.vmaf for o in s) >= floor]  # keep it reachable
    frames = frames[: len(options)]
    if not options:
        pytest.skip("no scene reaches the floor with this seed")
    allowed = [[o for o in s if o.vmaf >= floor] for s in options]
    step = _largest_step(allowed, frames)
    for target in _reachable_targets(allowed, frames):
        floored = allocate(options, frames, target_vmaf=float(target), floor_vmaf=floor)
        assert floored.met and floored.worst_vmaf >= floor
        assert floored.vmaf >= target - TOL
        optimum, _ = _brute_force(allowed, frames, target)
        assert optimum - TOL <= floored.kbps <= optimum + step + TOL
        assert floored.kbps >= _brute_force(options, frames, target)[0] - TOL


def test_unreachable_floor_gives_the_best_option_and_a_note() -> None:
    options, frames = _table(3, scenes=3)
    low = [SceneOption(q=q, kbps=100.0 * (40 - q), vmaf=50 + (40 - q)) for q in (36, 28, 22)]
    result = allocate([*options, low], [*frames, 100], floor_vmaf=80)
    assert result.choices[3].q == 22
    assert not result.met
    assert result.notes == ("scene 3: no CRF reaches the floor 80; its best CRF 22 gives 68.0",)
    assert all(o.vmaf >= 80 for o in result.choices[:3])


def test_vmaf_low_floor_uses_the_one_percent_low() -> None:
    scene = [
        SceneOption(q=30, kbps=500, vmaf=88, vmaf_low=70),
        SceneOption(q=26, kbps=800, vmaf=91, vmaf_low=79),
        SceneOption(q=22, kbps=1300, vmaf=94, vmaf_low=86),
    ]
    assert allocate([scene], [10], floor_vmaf=85).choices[0].q == 30
    assert allocate([scene], [10], floor_vmaf=85, floor_metric="vmaf_low").choices[0].q == 22
    short = allocate([scene], [10], floor_vmaf=90, floor_metric="vmaf_low")
    assert short.choices[0].q == 22 and not short.met
    assert short.notes == (
        "scene 0: no CRF reaches the vmaf_low floor 90; its best CRF 22 gives 86.0",
    )
    without = [SceneOption(q=30, kbps=500, vmaf=88)]
    with pytest.raises(UsageError, match=r"vmaf_low \(scene 1\)"):
        allocate([scene, without], [10, 10], floor_vmaf=85, floor_metric="vmaf_low")


@pytest.mark.parametrize("seed", SEEDS[:4])
def test_unreachable_target_takes_the_top_everywhere(seed: int) -> None:
    options, frames = _table(seed)
    result = allocate(options, frames, target_vmaf=99.9)
    assert result.choices == tuple(max(s, key=lambda o: o.vmaf) for s in options)
    assert not result.met
    assert len(result.notes) == 1 and "mean VMAF target 99.9 is out of reach" in result.notes[0]


def _ratios(result: Allocation) -> list[float]:
    return [
        max(a.kbps, b.kbps) / min(a.kbps, b.kbps) for a, b in itertools.pairwise(result.choices)
    ]


@pytest.mark.parametrize("seed", SEEDS)
def test_neighbour_ratio_cap_is_honoured(seed: int) -> None:
    options, frames = _table(seed, scenes=6)
    for target in _reachable_targets(options, frames)[:-1]:
        free = allocate(options, frames, target_vmaf=float(target))
        capped = allocate(options, frames, target_vmaf=float(target), max_neighbour_ratio=2.0)
        if capped.met:
            assert max(_ratios(capped)) <= 2.0 + TOL
        else:
            assert all("apart" in note for note in capped.notes)
        assert capped.vmaf >= target - TOL
        for before, after in zip(free.choices, capped.choices, strict=True):
            assert after.vmaf >= before.vmaf  # the cap only upgrades


def test_neighbour_ratio_cap_upgrades_the_cheaper_scene() -> None:
    hard = [SceneOption(q=30, kbps=4000, vmaf=80)]
    easy = [SceneOption(q=q, kbps=4000 / 2 ** ((q - 18) / 3), vmaf=100 - q) for q in CRFS]
    result = allocate([hard, easy], [10, 10], max_neighbour_ratio=3.0)
    assert result.met and result.choices[1].q == 22  # 4000 / 2**(4/3) = 1587 kbps: within 3x
    assert allocate([hard, easy], [10, 10]).choices[1].q == 38
    harder = [SceneOption(q=30, kbps=8000, vmaf=80)]
    stuck = allocate([easy, harder], [10, 10], max_neighbour_ratio=1.5)
    assert not stuck.met and stuck.choices[0].q == 18
    assert stuck.notes[-1].startswith("scenes 0 and 1:")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("ratio", [None, 2.5])
def test_allocation_curve_is_monotone_from_cheapest_to_best(seed: int, ratio: float | None) -> None:
    options, frames = _table(seed, scenes=5)
    curve = allocation_curve(options, frames, max_neighbour_ratio=ratio)
    assert len(curve) >= 2
    for low, high in itertools.pairwise(curve):
        assert high.kbps > low.kbps and high.vmaf >= low.vmaf
    if ratio is None:
        assert curve[0].choices == tuple(min(s, key=lambda o: o.kbps) for s in options)
        assert curve[-1].choices == tuple(max(s, key=lambda o: o.vmaf) for s in options)
        slopes = [p.slope for p in curve]
        assert math.isnan(slopes[0])
        assert all(b <= a + 1e-12 for a, b in itertools.pairwise(slopes[1:]))
        assert all(p.met and not p.notes for p in curve)


def test_option_order_does_not_matter() -> None:
    options, frames = _table(5)
    shuffled = [list(reversed(s)) for s in options]
    for target in _reachable_targets(options, frames):
        assert allocate(options, frames, target_vmaf=float(target)) == allocate(
            shuffled, frames, target_vmaf=float(target)
        )


_ONE = [SceneOption(q=28, kbps=1000, vmaf=90)]


@pytest.mark.parametrize(
    ("options", "frames", "keywords", "message"),
    [
        ([], [], {}, r"'options' parameter of allocate must be a non-empty"),
        ([_ONE, _ONE], [10], {}, r"'frames' parameter of allocate must be a sequence of 2"),
        ([_ONE, []], [10, 10], {}, r"at least one option per scene \(scene 1\)"),
        ([_ONE], [0], {}, r"'frames' .* positive integers \(scene 0\). Got 0 instead"),
        ([_ONE], [2.5], {}, r"'frames' .* positive integers"),
        ([[SceneOption(q=28, kbps=0, vmaf=90)]], [1], {}, r"bitrates > 0 kbps \(scene 0\)"),
        ([_ONE], [1], {"floor_metric": "psnr"}, r"'floor_metric' .* Got 'psnr' instead"),
        ([_ONE], [1], {"max_neighbour_ratio": 0.5}, r"'max_neighbour_ratio' .* >= 1"),
        ([_ONE], [1], {"target_vmaf": math.nan}, r"'target_vmaf' .* finite"),
    ],
)
def test_bad_arguments_raise_usage_error(
    options: list[list[SceneOption]], frames: list[int], keywords: dict, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        allocate(options, frames, **keywords)
    if "target_vmaf" not in keywords:
        with pytest.raises(UsageError, match=message.replace("allocate", "allocation_curve")):
            allocation_curve(options, frames, **keywords)
