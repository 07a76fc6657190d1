"""The orchestration tier: the jobs that compose the stages and the policy.

- :mod:`~ladderforge.jobs.title`: :func:`plan_title`, the main job for one title;
- :mod:`~ladderforge.jobs.modes`: where RD points come from (predict, probe, exhaustive);
- :mod:`~ladderforge.jobs.rungs`: encoding, measuring and packaging the chosen rungs;
- :mod:`~ladderforge.jobs.sweep`: the exhaustive grid (``ladderforge sweep``);
- :mod:`~ladderforge.jobs.batch`: many titles, manifest checking, the summary;
- :mod:`~ladderforge.jobs.executor`: where the batch's title tasks run (the executor interface
  and the local executor; the dask one is :mod:`ladderforge.run.cluster`);
- :mod:`~ladderforge.jobs.verify`: checking a produced output folder;
- :mod:`~ladderforge.jobs.tune`: encoder-knob tuning studies per content class.

Importing this package loads nothing heavy; the names below load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "LadderConfig",
    "TitlePlan",
    "TuneConfig",
    "plan_title",
    "run_batch",
    "sweep",
    "tune",
    "verify_output",
]

_WHERE = {
    "LadderConfig": "config",
    "TitlePlan": "title",
    "plan_title": "title",
    "run_batch": "batch",
    "sweep": "sweep",
    "verify_output": "verify",
    "TuneConfig": "tune",
    "tune": "tune",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"ladderforge.jobs.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'ladderforge.jobs' has no attribute {name!r}")
