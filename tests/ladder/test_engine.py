"""The engine's contract: every codec x mode works or refuses in one clear line before any work,
codec facts come from the backends, manifest titles name the outputs, and the bugs found while
restructuring the engine stay fixed."""

from __future__ import annotations

import json
import subprocess
from importlib import resources
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ladderforge._cli.main import app
from ladderforge.encoder import BACKENDS, capabilities, check_available, codec_facts, keyframes
from ladderforge.encoder.base import register_encoder
from ladderforge.encoder.software import X264Encoder
from ladderforge.errors import InvalidMediaError, UsageError
from ladderforge.jobs.batch import TitleSource, read_manifest, run_batch
from ladderforge.jobs.config import LadderConfig
from ladderforge.jobs.title import plan_title
from ladderforge.media import ffmpeg_path
from ladderforge.policy.cost import encode_cpu_s
from ladderforge.policy.models import load_model

MODES = ("predict", "probe", "exhaustive")


@pytest.fixture(scope="module")
def one_second_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clip") / "one.mp4"
    subprocess.run(
        [ffmpeg_path(), "-loglevel", "error", "-f", "lavfi", "-i",
         "testsrc2=size=192x108:rate=25", "-frames:v", "25", "-pix_fmt", "yuv420p",
         "-c:v", "libx264", str(out)],
        check=True, timeout=60,
    )  # fmt: skip
    return out


def _expected(codec: str, mode: str) -> str:
    """'ok' or the words the one-line refusal must contain."""
    facts = codec_facts(codec)
    if mode != "exhaustive" and facts.model_for(facts.default_preset) is None:
        return "no learned model"
    if mode != "predict" and not capabilities().encoders.get(codec):
        return "not available"
    return "ok"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("codec", sorted(BACKENDS))
def test_every_codec_and_mode_works_or_refuses_in_one_line(
    codec: str, mode: str, one_second_clip: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = ["ladder", str(one_second_clip), "-o", str(out), "--mode", mode, "--codec", codec]
    result = CliRunner().invoke(app, [*args, "--heights", "108,54"])
    expected = _expected(codec, mode)
    text = result.output
    assert ("Traceback" not in text and result.exception is None) or isinstance(
        result.exception, SystemExit
    ), text
    if expected == "ok":
        assert result.exit_code == 0, text
        ladder = json.loads((out / "one" / "one.ladder.json").read_text())
        assert ladder["mode"] == mode and ladder["rungs"]
        assert {r["settings"]["codec"] for r in ladder["rungs"]} == {codec}
        assert {r["settings"]["preset"] for r in ladder["rungs"]} == {
            codec_facts(codec).default_preset
        }
    else:
        assert result.exit_code != 0
        lines = [line for line in text.splitlines() if line.strip()]
        assert len(lines) <= 2 and expected in " ".join(lines), text
        assert not out.exists() or not list(out.rglob("*.ladder.json")), "work was done"


def test_a_preset_the_backend_lacks_is_refused_before_any_work() -> None:
    with pytest.raises(UsageError, match="'preset' parameter of the svtav1 backend"):
        LadderConfig(codec="svtav1", preset="veryfast", mode="exhaustive")
    # the old traceback: min() of an empty sequence in the cost model
    with pytest.raises(UsageError, match="svtav1"):
        encode_cpu_s(codec_facts("svtav1"), "veryfast", width=64, height=64, frames=1)
    assert encode_cpu_s(codec_facts("svtav1"), "9", width=64, height=64, frames=1) > 0


def test_nvenc_defaults_to_a_preset_nvenc_accepts(one_second_clip: Path, tmp_path: Path) -> None:
    model = resources.files("ladderforge.policy") / "models" / "x265_veryfast.json.gz"
    config = LadderConfig(codec="nvenc_hevc", mode="predict", model_path=Path(str(model)))
    assert config.preset == "p5"
    plan = plan_title(one_second_clip, tmp_path, config=config)
    settings = [r.settings for r in plan.ladder.rungs]
    assert settings and all(s.preset == "p5" and s.rate_control == "cq" for s in settings)
    for s in settings:
        BACKENDS["nvenc_hevc"].validate(s)  # the backend itself accepts what the ladder wrote


def test_codec_facts_come_from_the_backends() -> None:
    assert codec_facts("x265").quality_rate_control == "crf"
    assert codec_facts("nvenc_av1").quality_rate_control == "cq"
    assert codec_facts("nvenc_h264").device == "gpu" and codec_facts("x264").device == "cpu"
    assert codec_facts("svtav1").presets[0] == "13"  # fastest first
    assert codec_facts("x265").presets.index("veryfast") < codec_facts("x265").presets.index("slow")
    assert codec_facts("x265").model_for("veryfast") == "x265_veryfast"
    assert codec_facts("x265").model_for("medium") == "x265_medium"
    assert codec_facts("x265").model_for("slow") is None
    assert codec_facts("x264").model_for("medium") == "x264_medium"
    assert codec_facts("x264").model_for("slow") is None  # named, never silently replaced


def test_every_named_model_ships_and_loads() -> None:
    """A backend that names a model for a preset ships it: a missing or broken file fails here,
    not in a user's first predict-mode ladder."""
    named = [
        (backend.name, preset, model)
        for backend in BACKENDS.values()
        for preset, model in backend.facts.prediction_models
    ]
    assert ("x265", "medium", "x265_medium") in named
    for codec, preset, model in named:
        loaded = load_model(name=model)
        assert loaded.fingerprint_, (codec, preset, model)


def test_a_registered_backend_is_detected_by_capabilities() -> None:
    class Alias(X264Encoder):
        name = "x264_alias_for_test"

    register_encoder(Alias())
    try:
        assert capabilities().encoders.get("x264_alias_for_test") is True
        check_available("x264_alias_for_test")
    finally:
        del BACKENDS["x264_alias_for_test"]


def test_manifest_titles_name_the_outputs(bikes_mp4: Path, tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "clip.mp4").symlink_to(bikes_mp4)
    manifest = tmp_path / "titles.csv"
    manifest.write_text("path,title\na/clip.mp4,swan\nb/clip.mp4,asl\n")
    titles = read_manifest(manifest)
    assert [t.title for t in titles] == ["swan", "asl"]
    report = run_batch(titles, tmp_path / "out", config=LadderConfig(mode="predict"))
    assert sorted(report.plans) == ["asl", "swan"] and not report.failures
    for name in ("swan", "asl"):
        data = json.loads((tmp_path / "out" / name / f"{name}.ladder.json").read_text())
        assert data["title"] == name
        assert (tmp_path / "out" / name / "master.plan.m3u8").is_file()
    with pytest.raises(UsageError, match="titles appear twice"):
        run_batch(
            [TitleSource(tmp_path / "a" / "clip.mp4"), TitleSource(tmp_path / "b" / "clip.mp4")],
            tmp_path / "dup",
            config=LadderConfig(mode="predict"),
        )


def test_unreadable_rendition_is_a_ladderforge_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video" * 100)
    with pytest.raises(InvalidMediaError, match="junk.mp4"):
        keyframes(junk)


@pytest.mark.parametrize("codec", ["x265", "x264", "svtav1"])
def test_capped_crf_reaches_the_encoder_and_the_ladder(
    codec: str, one_second_clip: Path, tmp_path: Path
) -> None:
    from ladderforge.encoder import build_command, encode
    from ladderforge.media import probe
    from ladderforge.types import EncodeSettings

    s = EncodeSettings(
        codec=codec, width=192, height=108, q=30, preset=codec_facts(codec).default_preset,
        maxrate_kbps=300, bufsize_kbits=600,
    )  # fmt: skip
    args = build_command(probe(one_second_clip), s, tmp_path / "o.mp4", pass_no=0, passlog=tmp_path)
    assert args[args.index("-maxrate") + 1] == "300k" and args[args.index("-bufsize") + 1] == "600k"
    assert encode(one_second_clip, s, tmp_path / "o.mp4").frames == 25


def test_capped_ladder_records_its_vbv(bikes_mp4: Path, tmp_path: Path) -> None:
    config = LadderConfig(
        mode="predict", encode=True, heights=(136,), max_rungs=2, open_loop=True, vbv="capped",
        vbv_ratio=1.2,
    )  # fmt: skip
    plan = plan_title(bikes_mp4, tmp_path, config=config)
    for r in plan.ladder.rungs:
        assert r.settings.maxrate_kbps == pytest.approx(1.2 * r.bitrate_kbps, abs=0.1)
        assert r.settings.bufsize_kbits == pytest.approx(2 * r.settings.maxrate_kbps, abs=0.1)
    data = json.loads((tmp_path / "bikes" / "bikes.ladder.json").read_text())
    assert data["rungs"][0]["settings"]["maxrate_kbps"] is not None
    with pytest.raises(UsageError, match="'vbv'"):
        LadderConfig(vbv="sometimes")
