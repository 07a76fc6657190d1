"""The public entry points check their arguments: a wrong type or a misspelt encoder option is a
UsageError naming the parameter, never a TypeError/AttributeError from deep inside, and never an
option that ffmpeg silently drops."""

from __future__ import annotations

from pathlib import Path

import pytest

from ladderforge.encoder import encode, get_encoder
from ladderforge.errors import UsageError
from ladderforge.jobs.config import LadderConfig
from ladderforge.media import probe
from ladderforge.types import EncodeSettings
from ladderforge.vmaf_tools import measure


def _settings(**kw) -> EncodeSettings:
    base = {"codec": "x265", "width": 320, "height": 240, "q": 30.0, "preset": "ultrafast"}
    base.update(kw)
    return EncodeSettings(**base)


@pytest.mark.parametrize("bad", [123, None, b"clip.mp4", "", "a\0b.mp4", ["clip.mp4"]])
def test_probe_names_the_path_parameter(bad: object) -> None:
    with pytest.raises(UsageError, match="The 'path' parameter of probe") as exc:
        probe(bad)  # type: ignore[arg-type]
    assert type(bad).__name__ in str(exc.value)


def test_encode_names_the_settings_parameter(lavfi_clip: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="The 'settings' parameter of encode") as exc:
        encode(lavfi_clip, "x265", tmp_path / "out.mp4")  # type: ignore[arg-type]
    assert "EncodeSettings" in str(exc.value) and "'x265'" in str(exc.value)


@pytest.mark.parametrize(
    ("kw", "parameter"),
    [({"source": 123}, "source"), ({"output": None}, "output"), ({"timeout_s": 0}, "timeout_s")],
)
def test_encode_names_other_parameters(
    lavfi_clip: Path, tmp_path: Path, kw: dict, parameter: str
) -> None:
    args = {"source": lavfi_clip, "settings": _settings(), "output": tmp_path / "o.mp4"} | kw
    with pytest.raises(UsageError, match=f"The '{parameter}' parameter of encode"):
        encode(**args)


def test_measure_names_its_parameters(lavfi_clip: Path) -> None:
    with pytest.raises(UsageError, match="The 'ref' parameter of measure"):
        measure(123, lavfi_clip)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="The 'dist' parameter of measure"):
        measure(lavfi_clip, None)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="The 'timeout_s' parameter of measure"):
        measure(lavfi_clip, lavfi_clip, timeout_s=-1)


@pytest.mark.parametrize(
    ("kw", "parameter"),
    [
        ({"codec": ""}, "codec"),
        ({"codec": 265}, "codec"),
        ({"codec": "x 265"}, "codec"),
        ({"preset": ""}, "preset"),
        ({"preset": 10}, "preset"),
        ({"tune": ""}, "tune"),
        ({"params": "aq-mode=3"}, "params"),
        ({"params": {"aq-mode": "3"}}, "params"),
        ({"params": (("aq-mode",),)}, "params"),
        ({"params": (("aq-mode", 3),)}, "params"),
        ({"params": (("--aq-mode", "3"),)}, "params"),
        ({"params": (("aq-mode=3", ""),)}, "params"),
    ],
)
def test_settings_check_what_types_can_know(kw: dict, parameter: str) -> None:
    with pytest.raises(UsageError, match=f"'{parameter}'"):
        _settings(**kw)


def test_settings_params_lists_become_tuples() -> None:
    s = _settings(params=[["aq-mode", "3"], ("psy-rd", "1.0")])
    assert s.params == (("aq-mode", "3"), ("psy-rd", "1.0"))
    assert EncodeSettings.from_dict(s.to_dict()) == s


def test_unknown_backend_gets_the_registry_message(lavfi_clip: Path, tmp_path: Path) -> None:
    settings = _settings(codec="nope")  # a well-formed name: only the registry knows
    with pytest.raises(UsageError, match="Unknown codec backend 'nope'; known: .*x265"):
        encode(lavfi_clip, settings, tmp_path / "out.mp4")
    with pytest.raises(UsageError, match="Unknown codec backend 'nope'; known: .*x265"):
        LadderConfig(codec="nope")


@pytest.mark.parametrize(
    ("codec", "preset", "params"),
    [
        ("x265", "ultrafast", (("aq-mode", "3"), ("psy-rd", "2.0"), ("no-sao", "1"))),
        ("x265", "ultrafast", (("rd", "4"), ("limit-tu", "4"), ("deblock", "-1,-1"))),
        ("x264", "ultrafast", (("aq-mode", "2"), ("psy-rd", "1.0,0.15"), ("no-mbtree", "1"))),
        ("svtav1", "12", (("tune", "0"), ("enable-overlays", "1"), ("film-grain", "8"))),
    ],
)
def test_documented_params_pass(codec: str, preset: str, params: tuple) -> None:
    get_encoder(codec).validate(_settings(codec=codec, preset=preset, params=params))


@pytest.mark.parametrize(
    ("codec", "preset", "key", "where"),
    [
        ("x265", "ultrafast", "aq_mode", "x265 --fullhelp"),
        ("x265", "ultrafast", "no-such-thing", "x265.readthedocs.io"),
        ("x264", "ultrafast", "psyrd", "x264 --fullhelp"),
        ("svtav1", "12", "no-scd", "Parameters.md"),
    ],
)
def test_unknown_params_are_an_error(codec: str, preset: str, key: str, where: str) -> None:
    settings = _settings(codec=codec, preset=preset, params=((key, "1"),))
    with pytest.raises(UsageError, match=f"'params' key '{key}' is not an option") as exc:
        get_encoder(codec).validate(settings)
    assert where in str(exc.value)


def test_unknown_params_fail_before_ffmpeg_runs(lavfi_clip: Path, tmp_path: Path) -> None:
    settings = _settings(params=(("aq-strenght", "1.0"),))
    with pytest.raises(UsageError, match="aq-strenght"):
        encode(lavfi_clip, settings, tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()


def test_param_values_with_a_colon_are_an_error() -> None:
    settings = _settings(codec="x264", params=(("psy-rd", "1.0:0.15"),))
    with pytest.raises(UsageError, match="contains ':'"):
        get_encoder("x264").validate(settings)
