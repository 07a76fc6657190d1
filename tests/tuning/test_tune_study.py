"""A tiny real tuning study: 1 s lavfi clip at 128x96, 3 trials, 3 CRFs.

It runs in a subprocess (``ladderforge tune``), is killed with SIGKILL once a trial has finished,
and resumes in this process: finished trials are kept as they were and not run again, the trial
cut short is retried with the same parameters, and the set it produces turns into valid x265
arguments. Then ``ladder --tuned`` applies a set and names it in the ladder JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from ladderforge.encoder import build_command, get_encoder
from ladderforge.errors import UsageError
from ladderforge.jobs import LadderConfig, plan_title
from ladderforge.jobs.tune import STUDY_DB, TUNED_FILE, TuneConfig, TuneReport, tune
from ladderforge.jobs.tuned import SHIPPED_TUNED_SETS, read_tuned_sets
from ladderforge.media import probe
from ladderforge.policy.tuning import TunedSet, TunedSets
from ladderforge.store import atomic_write_json
from ladderforge.types import EncodeSettings

CRFS = (22.0, 32.0, 42.0)
TRIALS = 3


@pytest.fixture
def clip(make_clip, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """testsrc2 128x96, 25 frames (1 s), near-lossless H.264."""
    extra = ["-preset", "ultrafast", "-qp", "10"]
    return make_clip(tmp_path / "clip.mp4", size="128x96", extra=extra)


def _finished(db: Path) -> int:
    """COMPLETE or PRUNED trials in optuna's SQLite storage (0 while it is being created)."""
    if not db.exists():
        return 0
    with contextlib.closing(sqlite3.connect(db, timeout=1)) as conn:
        try:
            row = conn.execute(
                "SELECT COUNT(*) FROM trials WHERE state IN ('COMPLETE', 'PRUNED')"
            ).fetchone()
        except sqlite3.Error:
            return 0
    return int(row[0])


def _start_study(clip: Path, out: Path, log: Path) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "ladderforge", "tune", str(clip), "-o", str(out),
            "--trials", str(TRIALS), "--crf", ",".join(f"{c:g}" for c in CRFS),
            "--segment-s", "1", "--max-height", "0", "--prune-rate-delta-pct", "1000"]  # fmt: skip
    with log.open("wb") as err:  # the child keeps its own copy of the descriptor
        # its own session: the kill reaches its ffmpeg children too
        return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)


def _kill_after_first_trial(proc: subprocess.Popen[bytes], db: Path, log: Path) -> None:
    deadline = time.monotonic() + 300
    while _finished(db) < 1:
        if proc.poll() is not None:
            pytest.fail(f"the study ended before the kill: {log.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            pytest.fail("no trial finished within 300 s")
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def test_tiny_study_is_stored_resumes_after_a_kill_and_gives_valid_x265_params(
    clip: Path, tmp_path: Path
) -> None:
    out = tmp_path / "tuned"
    db = out / ".work" / STUDY_DB
    log = tmp_path / "tune.log"
    _kill_after_first_trial(_start_study(clip, out, log), db, log)
    assert not (out / TUNED_FILE).exists()

    storage = f"sqlite:///{db}"
    name = optuna.get_all_study_names(storage)
    assert len(name) == 1  # one class, one study: x265.veryfast.<class>
    before = optuna.load_study(study_name=name[0], storage=storage).get_trials(deepcopy=True)
    done_before = [t for t in before if t.state.is_finished() and t.state.name != "FAIL"]
    running = [t for t in before if t.state.name == "RUNNING"]
    assert 1 <= len(done_before) < TRIALS

    config = TuneConfig(trials=TRIALS, crfs=CRFS, segment_s=1.0, max_height=None,
                        prune_rate_delta_pct=1000)  # fmt: skip
    report = tune([clip], out, config=config)
    cls = next(iter(report.trials_run))
    assert report.trials_resumed[cls] == len(done_before)
    assert report.trials_run[cls] == TRIALS - len(done_before)

    after = optuna.load_study(study_name=name[0], storage=storage).get_trials(deepcopy=True)
    by_number = {t.number: t for t in after}
    for t in done_before:  # untouched: same state, values and completion time
        again = by_number[t.number]
        assert (again.state, again.values, again.datetime_complete) == (
            t.state,
            t.values,
            t.datetime_complete,
        )
    finished = [t for t in after if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == TRIALS
    for t in running:  # cut short: failed, and its parameters tried again by a new trial
        assert by_number[t.number].state.name == "FAIL"
        # the kill may land while the trial's parameters are being suggested: those it had
        # (none, some or all) are the ones a later trial must take again
        assert any(
            u.number > t.number and all(u.params.get(k) == v for k, v in t.params.items())
            for u in finished
        )

    # the default curve (3 encodes) and the finished trials' encodes came from the store
    assert report.encodes_reused >= len(CRFS)

    sets = TunedSets.from_dict(json.loads((out / TUNED_FILE).read_text()))
    assert [s.content_class for s in sets.sets] == [cls]
    assert sets.provenance["sources"][0]["content_hash"] == probe(clip).content_hash
    backend = get_encoder("x265")
    source = probe(clip)
    for trial in finished:
        params = tuple((k, v) for k, v in trial.user_attrs["params"])
        assert params  # every trial samples the unconditional knobs
        settings = EncodeSettings(codec="x265", width=128, height=96, q=28, preset="veryfast",
                                  params=params)  # fmt: skip
        backend.validate(settings)
        cmd = build_command(source, settings, tmp_path / "x.mp4", pass_no=0, passlog=tmp_path)
        x265_params = cmd[cmd.index("-x265-params") + 1].split(":")
        assert all(f"{k}={v}" in x265_params for k, v in params)
    chosen = sets.sets[0]
    if chosen.accepted:
        backend.validate(EncodeSettings(codec="x265", width=128, height=96, q=28,
                                        preset="veryfast", params=chosen.params))  # fmt: skip
    else:
        assert chosen.params == () and "defaults are kept" in chosen.note


def test_a_second_run_of_a_finished_study_runs_nothing(clip: Path, tmp_path: Path) -> None:
    # no pruning at all: CPU seconds of tiny encodes on a loaded machine can pass the CPU rule
    config = TuneConfig(trials=1, crfs=(22.0, 42.0), segment_s=1.0, max_height=None,
                        prune_rate_delta_pct=1000, prune_cpu_ratio=1000)  # fmt: skip
    first = tune([clip], tmp_path / "t", config=config)
    assert sum(first.trials_run.values()) == 1 and first.encodes_run == 4
    second = tune([clip], tmp_path / "t", config=config)
    assert sum(second.trials_run.values()) == 0 and second.encodes_run == 0
    assert second.sets.sets == first.sets.sets


def _tuned_file(path: Path, cls: str, params: tuple[tuple[str, str], ...]) -> Path:
    sets = TunedSets(
        (
            TunedSet(
                "x265",
                "veryfast",
                cls,
                params,
                accepted=True,
                trial=0,
                bd_rate_vmaf_pct=-3.0,
                bd_rate_vmaf_neg_pct=-2.0,
                bd_rate_psnr_y_pct=-1.5,
                cpu_ratio=1.1,
            ),
        ),
        {"note": "written by the test"},
    )
    atomic_write_json(path, sets.to_dict())
    return path


PARAMS = (("aq-mode", "3"), ("psy-rd", "1.5"), ("deblock", "-1,-1"))


@pytest.mark.parametrize("mode", ["predict", "exhaustive"])
def test_ladder_applies_the_classes_set_and_names_it(clip: Path, tmp_path: Path, mode: str) -> None:
    # testsrc2 is screen-like (flat colours, sharp edges): class "screen"
    tuned = _tuned_file(tmp_path / "tuned.json", "screen", PARAMS)
    config = LadderConfig(mode=mode, tuned=tuned, heights=(96,), sweep_crfs=(24.0, 36.0),
                          audio=False)  # fmt: skip
    plan = plan_title(clip, tmp_path / "out", config=config)
    assert plan.ladder.tuning is not None
    assert plan.ladder.tuning.set == "x265/veryfast/screen"
    assert all(r.settings.params == PARAMS for r in plan.ladder.rungs)
    data = json.loads((tmp_path / "out" / "clip" / "clip.ladder.json").read_text())
    assert data["tuning"]["params"] == [list(p) for p in PARAMS]
    assert data["tuning"]["content_class"] == "screen"
    assert any("tuned set x265/veryfast/screen applied" in n for n in data["notes"])


def test_ladder_tuned_shipped_applies_the_packaged_set(run_cli, clip: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("ladder", str(clip), "-o", str(tmp_path / "o"), "--mode", "predict",
                     "--tuned", "shipped")  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "o" / "clip" / "clip.ladder.json").read_text())
    shipped = read_tuned_sets(SHIPPED_TUNED_SETS).choose("x265", "veryfast", "screen")
    assert shipped is not None and data["tuning"]["set"] == "x265/veryfast/screen"
    assert data["tuning"]["params"] == [list(p) for p in shipped.params]
    assert data["tuning"]["file"] == str(SHIPPED_TUNED_SETS)


def test_ladder_without_a_set_for_the_class_keeps_the_defaults(clip: Path, tmp_path: Path) -> None:
    tuned = _tuned_file(tmp_path / "tuned.json", "motion", PARAMS)
    plan = plan_title(clip, tmp_path / "out", config=LadderConfig(mode="predict", tuned=tuned))
    assert plan.ladder.tuning is not None and plan.ladder.tuning.set is None
    assert all(r.settings.params == () for r in plan.ladder.rungs)
    assert any("no tuned set applied" in n for n in plan.ladder.notes)


def test_ladder_cli_refuses_a_bad_tuned_file(run_cli, clip: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "bad.json").write_text('{"schema": "something/1"}')
    for value, message in [
        (str(tmp_path / "missing.json"), "cannot read"),
        (str(tmp_path / "bad.json"), "not a tuned-sets file"),
    ]:
        result = run_cli("ladder", str(clip), "-o", str(tmp_path / "o"), "--tuned", value)
        assert result.returncode == 1, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr


def test_hopeless_trials_are_pruned_after_their_first_crf(clip: Path, tmp_path: Path) -> None:
    # a threshold no trial can meet: every trial stops after its first CRF point
    config = TuneConfig(trials=2, crfs=(22.0, 32.0, 42.0), segment_s=1.0, max_height=None,
                        prune_rate_delta_pct=-1000)  # fmt: skip
    report = tune([clip], tmp_path / "t", config=config)
    assert report.encodes_run == 3 + 2  # the default curve, then one point per trial
    (tuned,) = report.sets.sets
    assert not tuned.accepted and tuned.params == ()
    (cls,) = report.sets.provenance["classes"].values()
    assert cls["trials"] == {"PRUNED": 2} and cls["pareto"] == []


def test_unreadable_sources_are_left_out_and_none_left_is_an_error(
    clip: Path, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video")
    config = TuneConfig(trials=1, crfs=(22.0, 42.0), segment_s=1.0, max_height=None,
                        prune_rate_delta_pct=-1000)  # fmt: skip
    report = tune([junk, clip], tmp_path / "t", config=config)
    assert list(report.failures) == [str(junk)]
    assert [s["title"] for s in report.sets.provenance["sources"]] == ["clip"]
    with pytest.raises(UsageError, match="tune: no source could be read"):
        tune([junk], tmp_path / "t2", config=config)


def test_a_capped_class_studies_only_its_chosen_titles(
    make_clip, clip: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # three lavfi clips of one class; a cap of one studies the middle one along its axis
    other = make_clip(
        tmp_path / "other.mp4", size="128x96", extra=["-preset", "ultrafast", "-qp", "30"]
    )
    third = make_clip(
        tmp_path / "third.mp4", size="128x96", extra=["-preset", "ultrafast", "-qp", "45"]
    )
    config = TuneConfig(trials=1, crfs=(22.0, 42.0), segment_s=1.0, max_height=None,
                        prune_rate_delta_pct=-1000, max_titles_per_class=1)  # fmt: skip
    # the same file twice counts once (and is not studied twice)
    report = tune([clip, other, third, clip], tmp_path / "t", config=config)
    sources = report.sets.provenance["sources"]
    assert len({s["content_class"] for s in sources}) == 1
    assert len(sources) == 3 and len({s["spread"] for s in sources}) == 3
    (studied,) = [s for s in sources if s["studied"]]
    assert studied["spread"] == sorted(s["spread"] for s in sources)[1]
    assert report.encodes_run == 2 + 1  # one segment's default curve, then one pruned trial
    (tuned,) = report.sets.sets
    assert tuned.titles == (studied["title"],)
    with pytest.raises(UsageError, match="'max_titles_per_class'"):
        TuneConfig(max_titles_per_class=0)


def test_a_frozen_knob_is_never_tried_and_gets_its_own_study(clip: Path, tmp_path: Path) -> None:
    base = dict(trials=2, crfs=(22.0, 42.0), segment_s=1.0, max_height=None,
                prune_rate_delta_pct=-1000)  # fmt: skip
    frozen = tune([clip], tmp_path / "t", config=TuneConfig(**base, freeze=("aq-mode",)))
    free = tune([clip], tmp_path / "t", config=TuneConfig(**base))
    storage = f"sqlite:///{tmp_path / 't' / '.work' / STUDY_DB}"
    assert len(optuna.get_all_study_names(storage)) == 2  # never mixed with the free one's
    assert frozen.sets.provenance["config"]["freeze"] == ["aq-mode"]

    def tried(report: TuneReport) -> set[str]:
        (name,) = report.sets.provenance["studies"].values()
        study = optuna.load_study(study_name=name, storage=storage)
        return {k for t in study.trials for k, _ in t.user_attrs["params"]}

    assert "aq-mode" in tried(free)  # every free trial samples it
    assert tried(frozen) and tried(frozen).isdisjoint({"aq-mode", "aq-strength"})
    assert free.encodes_reused >= 2  # the default curve came from the store
    with pytest.raises(UsageError, match="Cannot freeze unknown knob"):
        TuneConfig(freeze=("aq_mode",))
    with pytest.raises(UsageError, match="sequence of knob names"):
        TuneConfig(freeze="aq-mode")  # type: ignore[arg-type]


def test_tune_cli_refuses_bad_options_in_one_line(run_cli, clip: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for args, message in [
        (["--sampler", "grid"], "must be 'nsga2' or 'tpe'"),
        (["--crf", "30"], "needs >= 2 distinct CRFs"),
        (["--codec", "x264"], "No tuning search space for the 'x264' backend"),
        (["--preset", "fastest"], "must be one of ultrafast"),
    ]:
        result = run_cli("tune", str(clip), "-o", str(tmp_path / "o"), *args)
        assert result.returncode == 1, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr
