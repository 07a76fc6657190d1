"""Per-scene from the first pass (predict/probe mode): chunk curves anchored on the rung's
single-CRF encode; only chunks whose CRF changes are encoded again; the safeguard ships the
single CRF when the allocation would cost more or look worse."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import ladderforge.jobs.rungs as rungs_mod
from ladderforge.jobs.config import LadderConfig
from ladderforge.jobs.title import plan_title
from ladderforge.jobs.verify import verify_output
from ladderforge.policy.per_scene import (
    SceneOption,
    anchor_curves,
    anchor_on_points,
    should_keep_per_scene,
)


def _config(**kw: object) -> LadderConfig:
    base = {
        "mode": "predict", "heights": (272,), "max_rungs": 2, "encode": True, "per_scene": True,
        "keep_work": True, "workers": 2, "open_loop": True,
    }  # fmt: skip
    return LadderConfig(**{**base, **kw})  # type: ignore[arg-type]


def _chunk_files(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (out / ".work").rglob("chunks/**/*.mp4")}


def test_changed_chunks_are_encoded_again_and_the_others_reused(
    bikes_mp4: Path, tmp_path: Path
) -> None:
    plan = plan_title(bikes_mp4, tmp_path, config=_config())
    rungs = plan.ladder.rungs
    assert rungs and all(len(r.chunks) >= 4 for r in rungs)  # bikes: cuts at 30, 76, 137, 187
    changed_any = False
    for r in rungs:
        first_q = r.settings.q
        qs = [c.q for c in r.chunks]
        changed = [q for q in qs if q != first_q]
        changed_any |= bool(changed)
        for c in r.chunks:  # the first pass as measured is recorded beside the final figures
            assert c.single_q_kbps > 0 and c.kbps is not None and c.kbps > 0
            if c.q == first_q:
                # a chunk that kept its CRF is the first pass's own encode, byte for byte
                assert c.kbps == pytest.approx(c.single_q_kbps, rel=1e-9)
                assert c.vmaf == pytest.approx(c.single_q_vmaf, abs=1e-6)
        if changed:
            # shipped only because it is no dearer than the single CRF and no lower
            def mean(key: str, chunks: tuple = r.chunks) -> float:
                return sum(getattr(c, key) * c.frames for c in chunks) / 250

            assert mean("kbps") <= mean("single_q_kbps") * 1.02
            assert r.measured_vmaf is not None
            assert r.measured_vmaf >= mean("single_q_vmaf") - 0.3
    assert changed_any, "no chunk got a CRF of its own on bikes' five scenes"
    # chunk encodes: one per chunk of the first pass, plus those of the per-scene passes (at
    # most two), shipped or (where the safeguard kept the single CRF) measured and set aside
    extra = [
        re.search(r"\((\d+) chunk encodes beyond the first pass\)", n) for n in plan.ladder.notes
    ]
    expected = sum(len(r.chunks) for r in rungs) + sum(int(m.group(1)) for m in extra if m)
    assert expected <= sum(3 * len(r.chunks) for r in rungs)
    assert len(_chunk_files(tmp_path)) == expected
    checks = verify_output(tmp_path, vmaf=False)  # IDR frames still aligned across rungs
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]


def test_the_safeguard_keeps_the_single_crf(
    bikes_mp4: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rungs_mod, "should_keep_per_scene", lambda *a, **k: False)
    plan = plan_title(bikes_mp4, tmp_path, config=_config(max_rungs=1))
    (rung,) = plan.ladder.rungs
    assert {c.q for c in rung.chunks} == {rung.settings.q}
    assert any("kept the single CRF" in n for n in plan.ladder.notes)
    assert rung.measured_bitrate_kbps == pytest.approx(
        sum(c.single_q_kbps * c.frames for c in rung.chunks) / 250, rel=0.02
    )


def test_anchored_curves_keep_the_model_shape_at_the_measured_level() -> None:
    predicted = [
        [SceneOption(24, 400, 92), SceneOption(28, 250, 88), SceneOption(32, 160, 82)],
        [SceneOption(24, 900, 80), SceneOption(28, 600, 74), SceneOption(32, 400, 66)],
    ]
    measured = [SceneOption(0, 300, 85), SceneOption(0, 660, 77)]
    a, b = anchor_curves(predicted, measured, 28)
    assert [o.vmaf for o in a] == [89, 85, 79] and [o.kbps for o in a] == [480, 300, 192]
    assert b[1] == SceneOption(28, 660, 77) and b[0].kbps == pytest.approx(990)
    with pytest.raises(ValueError):
        anchor_curves(predicted, measured[:1], 28)


def test_two_measured_points_replace_the_model_slope_between_them() -> None:
    predicted = [SceneOption(24, 400, 92), SceneOption(28, 250, 88), SceneOption(32, 160, 82),
                 SceneOption(36, 100, 74)]  # fmt: skip
    one = anchor_on_points(predicted, [SceneOption(28, 300, 85)])
    same = anchor_curves([predicted], [SceneOption(0, 300, 85)], 28)[0]
    assert [(o.q, o.vmaf) for o in one] == [(o.q, o.vmaf) for o in same]
    assert [o.kbps for o in one] == pytest.approx([o.kbps for o in same])
    # errors -3 at CRF 28 and -1 at CRF 32 (kbps x1.2 and x1.25): interpolated between the
    # measured CRFs, held flat beyond them
    two = anchor_on_points(predicted, [SceneOption(28, 300, 85), SceneOption(32, 200, 81)])
    assert [o.q for o in two] == [24, 28, 32, 36]
    assert [o.vmaf for o in two] == [89, 85, 81, 73]
    assert two[0].kbps == pytest.approx(480) and two[3].kbps == pytest.approx(125)
    mid = anchor_on_points(predicted, [SceneOption(28, 300, 85), SceneOption(36, 125, 76)])
    assert mid[2].vmaf == pytest.approx(82 - 0.5)  # half-way between the errors -3 and +2
    # a measured CRF off the grid joins the options; the prediction there is interpolated
    off = anchor_on_points(predicted, [SceneOption(30, 200, 80)])
    assert [o.q for o in off] == [24, 28, 30, 32, 36] and off[2] == SceneOption(30, 200, 80)
    assert off[1].vmaf == pytest.approx(88 - 5)  # predicted 85 at CRF 30, measured 80
    with pytest.raises(ValueError):
        anchor_on_points(predicted, [])


def test_safeguard_rule() -> None:
    assert should_keep_per_scene(300, 90.0, 290, 89.9)
    assert not should_keep_per_scene(300, 90.0, 301, 91.0)  # dearer
    assert not should_keep_per_scene(300, 90.0, 250, 89.5)  # lower by more than the margin


def test_an_easy_and_a_hard_half_get_their_own_crfs(make_clip, tmp_path: Path) -> None:
    src = make_clip(
        tmp_path / "halves.mp4", size="320x180", frames=100,
        extra=["-vf", "noise=alls=30:allf=t:enable='gte(n,50)'", "-qp", "0"],
    )  # fmt: skip
    config = _config(heights=(180,), max_rungs=1, max_chunk_s=2.0, min_chunk_s=1.0)
    plan = plan_title(src, tmp_path / "out", config=config)
    (rung,) = plan.ladder.rungs
    assert [(c.start, c.end) for c in rung.chunks] == [(0, 50), (50, 100)]
    easy, hard = rung.chunks
    if easy.q != hard.q:  # the allocation moved bits between the halves and it paid
        assert easy.q > hard.q  # the smooth half can take the higher CRF
        assert rung.measured_bitrate_kbps is not None
        single = sum(c.single_q_kbps * c.frames for c in rung.chunks) / 100
        assert rung.measured_bitrate_kbps <= single * 1.05
    else:
        assert any("per-scene" in n for n in plan.ladder.notes), plan.ladder.notes
