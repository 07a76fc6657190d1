"""The optuna side of a study on its own (no encodes): storage, samplers, stale trials."""

from __future__ import annotations

from pathlib import Path

import pytest
from optuna.trial import TrialState

from ladderforge.jobs.tune_study import (
    finished_count,
    open_study,
    population_size,
    resume_stale,
    trial_counts,
)
from ladderforge.policy.tuning import X265_SPACE, suggest


@pytest.mark.parametrize("sampler", ["nsga2", "tpe"])
def test_a_study_is_stored_and_reopened(tmp_path: Path, sampler: str) -> None:
    db = tmp_path / "w" / "tune.sqlite3"
    study, _ = open_study(db, "x265.veryfast.screen.abc", sampler=sampler, seed=1, trials=8)
    study.optimize(lambda t: (float(len(suggest(t, X265_SPACE))), 1.0), n_trials=3)
    again, _ = open_study(db, "x265.veryfast.screen.abc", sampler=sampler, seed=1, trials=8)
    assert finished_count(again) == 3
    assert trial_counts(again) == {"COMPLETE": 3}


def test_a_trial_left_running_is_failed_and_its_parameters_retried(tmp_path: Path) -> None:
    db = tmp_path / "tune.sqlite3"
    study, storage = open_study(db, "s", sampler="nsga2", seed=0, trials=8)
    cut_short = study.ask()  # a trial a killed process left RUNNING
    suggest(cut_short, X265_SPACE)
    params = dict(cut_short.params)
    study, storage = open_study(db, "s", sampler="nsga2", seed=0, trials=8)
    assert resume_stale(study, storage) == 1
    states = {t.number: t.state for t in study.get_trials()}
    assert states[cut_short.number] == TrialState.FAIL
    retried = study.ask()  # the enqueued trial comes first
    assert suggest(retried, X265_SPACE) and retried.params == params
    assert resume_stale(study, storage) == 1  # the retried one, were this run killed too


def test_population_size_gives_a_few_generations() -> None:
    assert [population_size(n) for n in (2, 16, 30, 100, 1000)] == [4, 4, 7, 25, 50]
