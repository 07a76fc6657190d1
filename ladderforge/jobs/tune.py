"""Encoder-knob tuning studies: real encodes and VMAF on short segments, driven by optuna.

:func:`tune` groups the titles by content class (:func:`~ladderforge.policy.tuning.classify` on
their analysis features), cuts each studied title's representative segment(s) (the scene of
median complexity; at most ``max_titles_per_class`` titles a class:
:mod:`ladderforge.jobs.tune_segments`), encodes them with the
preset's default parameters over a small CRF grid, then runs one multi-objective optuna study
per class: every trial samples the backend's knobs (:mod:`ladderforge.policy.tuning.space`),
encodes and measures the segments at every CRF (VMAF, VMAF NEG, PSNR-Y) and is scored on bits
at equal VMAF and encode CPU time against the defaults; a trial whose first CRF point is
hopeless is pruned. The Pareto trials are judged by the honesty guard and the best accepted one
within the CPU budget becomes the class's tuned set (``tuned.json`` in the output folder).

Resume: studies live in optuna's SQLite storage in the work folder and every encode and
measurement in the results store (keyed by segment hash + settings + tool version). A run that
was killed leaves its finished trials in the storage; the next run counts them, marks the
trial that was running when it died as failed, re-enqueues that trial's parameters (its
finished encodes come back from the store) and runs only the trials still missing. One run at a
time per output folder (:func:`~ladderforge.store.folder_lock`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ladderforge import __version__
from ladderforge.encoder import check_available, codec_facts
from ladderforge.errors import LadderforgeError, UsageError
from ladderforge.jobs.sweep import SweepConfig, measure_settings
from ladderforge.jobs.tune_config import TuneConfig
from ladderforge.jobs.tune_segments import StudySegment, segments_by_class
from ladderforge.media import ffmpeg_version
from ladderforge.policy.tuning import (
    Candidate,
    CurvePoint,
    TunedSet,
    TunedSets,
    class_set,
    first_point_verdict,
    judge,
    study_objectives,
    suggest,
)
from ladderforge.store import atomic_write_json, folder_lock
from ladderforge.types import EncodeSettings, output_pix_fmt

__all__ = ["STUDY_DB", "TUNED_FILE", "TuneConfig", "TuneEvent", "TuneReport", "tune"]

log = logging.getLogger(__name__)

TUNED_FILE = "tuned.json"
"""The tuned-sets file :func:`tune` writes in its output folder."""
STUDY_DB = "tune.sqlite3"
"""optuna's storage, in the work folder."""
_METRICS = ("vmaf", "vmaf_neg", "psnr")


@dataclass(frozen=True)
class TuneEvent:
    """Progress, for callbacks: one trial of a class study finished."""

    content_class: str
    trial: int
    state: str
    """``COMPLETE``, ``PRUNED`` or ``FAIL``."""
    done: int
    """Finished trials of the study so far."""
    total: int


@dataclass
class TuneReport:
    """What :func:`tune` did."""

    sets: TunedSets
    path: Path
    """The tuned-sets file written."""
    trials_run: dict[str, int] = field(default_factory=dict)
    """Class -> trials this run executed (not those resumed from the storage)."""
    trials_resumed: dict[str, int] = field(default_factory=dict)
    """Class -> finished trials found in the storage at the start."""
    encodes_run: int = 0
    encodes_reused: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    """Source -> why it was left out."""


def tune(
    sources: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    config: TuneConfig | None = None,
    wait: bool = False,
    on_event: Callable[[TuneEvent], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> TuneReport:
    """Run (or resume) one tuning study per content class of ``sources``; write
    ``out_dir/tuned.json`` (a :class:`~ladderforge.policy.tuning.TunedSets`) and return the
    report. A source that cannot be read is recorded in ``report.failures``; when none is left
    a UsageError says so."""
    config = config or TuneConfig()
    check_available(config.codec)
    stage = on_stage or (lambda s: None)
    with folder_lock(out_dir, wait=wait) as lock:
        out = lock.parent
        work = config.work_dir or out / ".work"
        report = TuneReport(sets=TunedSets(()), path=out / TUNED_FILE)
        groups, described = segments_by_class(sources, work, config, report.failures, stage)
        if not groups:
            raise UsageError(
                "tune: no source could be read: " + "; ".join(report.failures.values())
            )
        sets = []
        classes: dict[str, Any] = {}
        for name in sorted(groups):
            stage(f"{name}: default curves")
            segments = groups[name]
            for seg in segments:
                seg.baseline = _curve(seg, (), None, config.crfs, work, config, report)
            stage(f"{name}: study")
            tuned, summary = _study(name, segments, work, config, report, on_event)
            sets.append(tuned)
            classes[name] = summary
        report.sets = TunedSets(tuple(sets), _provenance(config, described, classes, work))
        atomic_write_json(report.path, report.sets.to_dict())
    return report


def _settings(
    seg: StudySegment,
    config: TuneConfig,
    crf: float,
    params: tuple[tuple[str, str], ...],
    tune_: str | None,
) -> EncodeSettings:
    facts = codec_facts(config.codec)
    return EncodeSettings(
        codec=config.codec,
        width=seg.info.width // 2 * 2,
        height=seg.info.height // 2 * 2,
        rate_control=facts.quality_rate_control,
        q=float(crf),
        preset=str(config.preset),
        tune=tune_,
        params=params,
        pix_fmt=output_pix_fmt(seg.info.bit_depth),
    )


def _curve(
    seg: StudySegment,
    params: tuple[tuple[str, str], ...],
    tune_: str | None,
    crfs: Sequence[float],
    work: Path,
    config: TuneConfig,
    report: TuneReport,
) -> list[CurvePoint]:
    """The segment encoded and measured at ``crfs`` (stored: a rerun reuses every point)."""
    result = measure_settings(
        seg.info,
        [_settings(seg, config, crf, params, tune_) for crf in crfs],
        work / "encodes",
        config=SweepConfig(
            codec=config.codec,
            preset=config.preset,
            metrics=_METRICS,
            n_subsample=config.n_subsample,
            timeout_s=config.timeout_s,
        ),
        title=seg.title,
        workers=config.workers,
    )
    if result.failures:
        raise UsageError(f"{seg.title}: encodes failed: {'; '.join(result.failures.values())}")
    report.encodes_run += result.encodes_run
    report.encodes_reused += result.encodes_reused
    by_crf = {float(p.settings.q or 0): p for p in result.points}
    return [
        CurvePoint(
            crf=float(crf),
            kbps=by_crf[float(crf)].encode.bitrate_kbps,
            vmaf=by_crf[float(crf)].quality.get("vmaf"),
            vmaf_neg=by_crf[float(crf)].quality.get("vmaf_neg"),
            psnr_y=by_crf[float(crf)].quality.get("psnr_y"),
            cpu_s=by_crf[float(crf)].encode.cpu_s,
        )
        for crf in crfs
    ]


def _study(
    name: str,
    segments: list[StudySegment],
    work: Path,
    config: TuneConfig,
    report: TuneReport,
    on_event: Callable[[TuneEvent], None] | None,
) -> tuple[TunedSet, dict[str, Any]]:
    import optuna  # deferred: keeps `import ladderforge.jobs` light

    from ladderforge.jobs.tune_study import finished_count, open_study, resume_stale

    space = config.space()
    study_name = f"{config.codec}.{config.preset}.{name}.{_fingerprint(config, segments)}"
    study, storage = open_study(
        work / STUDY_DB,
        study_name,
        sampler=config.sampler,
        # one seed per study: the classes' first random samples differ
        seed=(config.seed + zlib.crc32(study_name.encode())) % 2**32,
        trials=config.trials,
    )
    resume_stale(study, storage)
    done_before = finished_count(study)
    report.trials_resumed[name] = done_before
    baselines = [s.baseline for s in segments]

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        params, tune_ = space.params(suggest(trial, space))
        trial.set_user_attr("params", [list(p) for p in params])
        trial.set_user_attr("tune", tune_)
        first = [
            _curve(s, params, tune_, config.crfs[:1], work, config, report)[0] for s in segments
        ]
        verdict = first_point_verdict(
            baselines,
            first,
            max_rate_delta_pct=config.prune_rate_delta_pct,
            max_cpu_ratio=config.prune_cpu_ratio,
        )
        if verdict.prune:
            trial.set_user_attr("pruned", verdict.reason)
            raise optuna.TrialPruned(verdict.reason)
        curves = [_curve(s, params, tune_, config.crfs, work, config, report) for s in segments]
        trial.set_user_attr("curves", [[p.to_dict() for p in c] for c in curves])
        result = study_objectives(baselines, curves)
        trial.set_user_attr("methods", list(result.methods))
        return result.bits_pct, result.cpu_ratio

    def after(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if on_event:
            on_event(TuneEvent(name, trial.number, trial.state.name, finished_count(study),
                               config.trials))  # fmt: skip

    todo = max(0, config.trials - done_before)
    report.trials_run[name] = todo
    if todo:
        study.optimize(objective, n_trials=todo, catch=(LadderforgeError,), callbacks=[after])
    return _choose(name, study, segments, config)


def _fingerprint(config: TuneConfig, segments: list[StudySegment]) -> str:
    """What a trial's objectives depend on: the segments (content hashes) and how they are
    encoded and measured. A run with another grid or other titles gets its own study instead of
    mixing its trials with incomparable ones."""
    key = {
        "segments": sorted(s.info.content_hash for s in segments),
        "crfs": list(config.crfs),
        "n_subsample": config.n_subsample,
        "tool": ffmpeg_version(),
    }
    if config.freeze:  # only then: studies without frozen knobs keep the names they had
        key["freeze"] = list(config.freeze)
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]


def _choose(
    name: str, study: Any, segments: list[StudySegment], config: TuneConfig
) -> tuple[TunedSet, dict[str, Any]]:
    """The class's set from the Pareto trials; a summary of the study for the provenance."""
    from ladderforge.jobs.tune_study import trial_counts

    baselines = [s.baseline for s in segments]
    candidates = []
    for trial in study.best_trials:
        curves = [[CurvePoint.from_dict(p) for p in c] for c in trial.user_attrs["curves"]]
        candidates.append(
            Candidate(
                trial=trial.number,
                params=tuple((k, v) for k, v in trial.user_attrs["params"]),
                tune=trial.user_attrs.get("tune"),
                bits_pct=trial.values[0],
                cpu_ratio=trial.values[1],
                verdict=judge(baselines, curves, margins=config.margins),
            )
        )
    titles = tuple(dict.fromkeys(s.title.rsplit("@", 1)[0] for s in segments))
    summary = {
        "study": study.study_name,
        "trials": trial_counts(study),
        "pareto": [
            {"trial": c.trial, "params": [list(p) for p in c.params], "tune": c.tune,
             "bits_pct": c.bits_pct, "cpu_ratio": c.cpu_ratio, "guard": c.verdict.to_dict()}
            for c in candidates
        ],
    }  # fmt: skip
    tuned = class_set(
        candidates,
        codec=config.codec,
        preset=str(config.preset),
        content_class=name,
        titles=titles,
        max_cpu_ratio=config.max_cpu_ratio,
    )
    return tuned, summary


def _provenance(
    config: TuneConfig, described: list[dict[str, Any]], classes: dict[str, Any], work: Path
) -> dict[str, Any]:
    return {
        "ladderforge": __version__,
        "ffmpeg": ffmpeg_version(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": config.to_dict(),
        "storage": str(work / STUDY_DB),
        "studies": {name: c["study"] for name, c in classes.items()},
        "sources": described,
        "classes": classes,
    }
