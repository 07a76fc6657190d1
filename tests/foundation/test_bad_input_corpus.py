"""The bad-input corpus of issue 17 (``tests/make_bad_inputs.py``): every case has its outcome.

Default run: probe and analysis of every case (a usable case is probed and analysed; any other
is refused with its error class and one line). ``-m slow``: every usable case goes through
``ladderforge ladder --encode`` and ``ladderforge verify`` on the command line (hostile names
as arguments, a leading dash after ``--``), with no traceback and no file made by a name.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ladderforge import errors
from ladderforge.analysis import analyze
from ladderforge.media import ffmpeg_path, probe


def _corpus_module() -> ModuleType:
    path = Path(__file__).parents[1] / "make_bad_inputs.py"
    spec = importlib.util.spec_from_file_location("make_bad_inputs", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_bad_inputs"] = module  # dataclasses look the module up
    spec.loader.exec_module(module)
    return module


CORPUS = _corpus_module()
CASES = {c.name: c for c in CORPUS.CASES}
USABLE = [name for name, c in CASES.items() if c.outcome == "usable"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return CORPUS.build(tmp_path_factory.mktemp("bad_inputs"), ffmpeg_path())  # type: ignore[no-any-return]


def test_the_corpus_covers_the_issue() -> None:
    assert len(CASES) == 29
    assert {"fifo.mp4", "symlink_loop.mp4", "-leading-dash.mp4", "$(touch pwned).mp4"} <= set(CASES)


@pytest.mark.parametrize("name", list(CASES))
def test_probe_and_analysis_outcome(corpus: dict[str, Path], name: str) -> None:
    case, path = CASES[name], corpus[name]
    if case.outcome == "usable":
        info = probe(path)
        with warnings.catch_warnings():
            warnings.simplefilter("default")  # numeric warnings on damaged pictures are no failure
            profile = analyze(path, cache_dir=False)
        assert profile.title["frames_decoded"] >= 1
        assert info.frame_count >= 1
        return
    expected = getattr(errors, case.outcome)
    with pytest.raises(expected) as caught:
        probe(path)
    assert type(caught.value) is expected
    message = str(caught.value)
    assert case.message in message and "\n" not in message
    assert message.startswith(str(path))


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ladderforge", *args],
        capture_output=True, text=True, timeout=900, check=False, cwd=cwd,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("name", USABLE)
def test_every_usable_case_ships_and_verifies(
    corpus: dict[str, Path], tmp_path: Path, name: str
) -> None:
    case, path = CASES[name], corpus[name]
    out = tmp_path / "out"
    done = _cli("ladder", "-o", str(out), "--mode", "predict", "--heights", "240,120",
                "--max-rungs", "2", "--encode", "--open-loop", "--json", "--", path.name,
                cwd=path.parent)  # fmt: skip
    assert "Traceback" not in done.stdout + done.stderr
    assert done.returncode == 0, done.stderr[-2000:]
    ladder: dict[str, Any] = json.loads(
        next(out.glob("*/*.ladder.json")).read_text(encoding="utf-8")
    )
    assert case.message in " ".join(ladder["notes"])
    checked = _cli("verify", str(out), cwd=tmp_path)
    assert "Traceback" not in checked.stdout + checked.stderr
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert not (path.parent / "pwned").exists() and not (tmp_path / "pwned").exists()


def test_a_damaged_source_ships_what_decodes(
    corpus: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # was: "the cut of frames [0, 50) has 46 frames, not 50" (4 frames do not decode), and a
    # source given by a relative path could not be found by verify run from elsewhere
    from ladderforge.jobs.config import LadderConfig
    from ladderforge.jobs.title import plan_title
    from ladderforge.jobs.verify import verify_output

    monkeypatch.chdir(corpus["bit_flips.mp4"].parent)
    config = LadderConfig(mode="predict", encode=True, heights=(120,), max_rungs=1)
    plan = plan_title("bit_flips.mp4", tmp_path / "out", config=config)
    assert plan.ladder.source is not None and plan.ladder.source.path.is_absolute()
    assert any("is damaged" in n for n in plan.ladder.notes)
    monkeypatch.chdir(tmp_path)
    assert [c for c in verify_output(tmp_path / "out") if not c.ok] == []


def test_an_interlaced_source_is_said_to_be_kept_interlaced(corpus: dict[str, Path]) -> None:
    from ladderforge.jobs.context import source_notes

    info = probe(corpus["interlaced.mp4"])
    assert info.interlaced
    notes = source_notes(info, info, analyze(info.path, cache_dir=False))
    assert any("interlaced" in n and "without deinterlacing" in n for n in notes)
