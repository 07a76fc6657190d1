"""optuna's side of a tuning study: the storage, the sampler, and resuming a killed study.

Kept apart from :mod:`ladderforge.jobs.tune` so that optuna is imported only when a study runs.
The storage is SQLite in the work folder; one process at a time uses it (the output folder's run
lock), so a trial still marked RUNNING when a study opens was left by a killed run.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

__all__ = ["finished_count", "open_study", "population_size", "resume_stale", "trial_counts"]

log = logging.getLogger(__name__)

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def population_size(trials: int) -> int:
    """NSGA-II's generation size for a study of ``trials`` trials: optuna's default (50) would
    leave a 30-trial study in its random first generation; a quarter of the trials (4 to 50)
    gives a few generations of selection and crossover."""
    return max(4, min(50, trials // 4))


def open_study(
    db: Path, name: str, *, sampler: str, seed: int, trials: int
) -> tuple[optuna.Study, optuna.storages.RDBStorage]:
    """Create or load the study ``name`` (two objectives, both minimised) in SQLite ``db``."""
    db.parent.mkdir(parents=True, exist_ok=True)
    storage = optuna.storages.RDBStorage(f"sqlite:///{db}")
    chosen: optuna.samplers.BaseSampler = (
        optuna.samplers.NSGAIISampler(seed=seed, population_size=population_size(trials))
        if sampler == "nsga2"
        else optuna.samplers.TPESampler(seed=seed, multivariate=True)
    )
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        directions=["minimize", "minimize"],
        sampler=chosen,
        load_if_exists=True,
    )
    return study, storage


def resume_stale(study: optuna.Study, storage: optuna.storages.RDBStorage) -> int:
    """Mark every RUNNING trial (left by a killed run) FAIL and enqueue its parameters again, so
    the same point is tried; returns how many there were."""
    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for trial in stale:
        # FrozenTrial keeps the storage id only in _trial_id; optuna's own fail_stale_trials
        # does the same with heartbeats, which a killed short study never misses in time.
        storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
        if trial.params:
            study.enqueue_trial(trial.params, skip_if_exists=False)
        log.info("study %s: trial %d was cut short; retrying its parameters", study.study_name,
                 trial.number)  # fmt: skip
    return len(stale)


def finished_count(study: optuna.Study) -> int:
    """Trials that finished (complete or pruned)."""
    return len(study.get_trials(deepcopy=False, states=_FINISHED))


def trial_counts(study: optuna.Study) -> dict[str, Any]:
    """Trials per state, by name."""
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts
