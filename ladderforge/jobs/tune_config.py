"""How a tuning study runs (:class:`TuneConfig`): kept apart from :mod:`ladderforge.jobs.tune`
so that reading or checking a configuration loads neither optuna nor the stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ladderforge.encoder import codec_facts
from ladderforge.errors import UsageError
from ladderforge.jobs.defaults import TUNE_DEFAULTS
from ladderforge.media.ffmpeg import DEFAULT_TIMEOUT_S
from ladderforge.policy.tuning import GuardMargins, SearchSpace, space_for

__all__ = ["TuneConfig"]


@dataclass(frozen=True)
class TuneConfig:
    """How the studies run (CLI flags map 1:1 onto these)."""

    codec: str = "x265"
    """Backend whose knobs are tuned."""
    preset: str | None = None
    """The preset tuned on top of; None: the backend's default."""
    trials: int = TUNE_DEFAULTS.trials
    """Finished trials (complete or pruned) per class study."""
    crfs: tuple[float, ...] = TUNE_DEFAULTS.crfs
    """The CRF grid every trial is encoded at (first CRF first: pruning looks at it)."""
    segment_s: float = TUNE_DEFAULTS.segment_s
    """Length of each representative segment."""
    segments_per_title: int = 1
    """Segments per title, spanning its scenes' complexity (1: the median scene)."""
    max_titles_per_class: int | None = None
    """Each class's study encodes at most this many of its titles, spread along the class's
    axis (:func:`~ladderforge.policy.tuning.spread_titles`): a trial encodes every studied
    segment, so the study's cost grows with it. None: every title."""
    freeze: tuple[str, ...] = ()
    """Knobs (study names) the study leaves at the preset's value; the knobs sampled only under
    one (``aq-strength`` under ``aq-mode``) and the other parts of its option go too
    (:meth:`~ladderforge.policy.tuning.SearchSpace.without`). E.g. ``aq-mode``, where a platform
    keeps adaptive quantisation for what the three metrics do not see."""
    max_height: int | None = TUNE_DEFAULTS.max_height
    """Segments are scaled down to at most this height (speed); None: the source's."""
    n_subsample: int = 1
    """Score every n-th frame."""
    sampler: str = "nsga2"
    """``nsga2`` (NSGA-II, generations of a quarter of ``trials``, 4 to 50) or ``tpe``
    (multivariate multi-objective TPE, 10 random start-up trials)."""
    seed: int = 0
    """Sampler seed."""
    max_cpu_ratio: float = TUNE_DEFAULTS.max_cpu_ratio
    """A tuned set may take at most this times the default's encode CPU time."""
    prune_rate_delta_pct: float = TUNE_DEFAULTS.prune_rate_delta_pct
    """Prune a trial whose first CRF point needs more than this % extra bits at equal VMAF."""
    prune_cpu_ratio: float = TUNE_DEFAULTS.prune_cpu_ratio
    """Prune a trial whose first CRF point takes more than this times the default's CPU time."""
    margins: GuardMargins = field(default_factory=GuardMargins)
    """The honesty guard's stated margins."""
    work_dir: Path | None = None
    """Work folder (segments, encodes' store, optuna storage); None: ``OUT/.work``."""
    workers: int = 1
    """Parallel encodes within a trial."""
    timeout_s: float = DEFAULT_TIMEOUT_S
    """Timeout of each ffmpeg run."""

    def __post_init__(self) -> None:
        facts = codec_facts(self.codec)
        if self.preset is None:
            object.__setattr__(self, "preset", facts.default_preset)
        facts.preset_rank(str(self.preset))
        object.__setattr__(self, "crfs", tuple(float(c) for c in self.crfs))
        if isinstance(self.freeze, str):
            raise UsageError(
                f"The 'freeze' parameter must be a sequence of knob names. Got {self.freeze!r}."
            )
        object.__setattr__(self, "freeze", tuple(sorted(set(self.freeze))))
        self.space()  # a UsageError when the backend has no search space or a name is unknown
        if self.sampler not in ("nsga2", "tpe"):
            raise UsageError(
                f"The 'sampler' parameter must be 'nsga2' or 'tpe'. Got {self.sampler!r}."
            )
        if (
            self.trials < 1
            or self.segments_per_title < 1
            or self.workers < 1
            or (self.max_titles_per_class is not None and self.max_titles_per_class < 1)
        ):
            raise UsageError(
                "The 'trials', 'segments_per_title', 'max_titles_per_class' and 'workers' "
                "parameters must be >= 1."
            )
        if len(self.crfs) < 2 or len(set(self.crfs)) != len(self.crfs):
            raise UsageError(f"The 'crfs' parameter needs >= 2 distinct CRFs. Got {self.crfs!r}.")
        if not self.segment_s > 0 or not self.max_cpu_ratio > 0:
            raise UsageError("The 'segment_s' and 'max_cpu_ratio' parameters must be > 0.")

    def space(self) -> SearchSpace:
        """The backend's search space less the frozen knobs."""
        return space_for(self.codec).without(self.freeze)

    def to_dict(self) -> dict[str, Any]:
        """Every setting, JSON-ready (recorded in the tuned file's provenance)."""
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["crfs"] = list(self.crfs)
        data["freeze"] = list(self.freeze)
        data["margins"] = self.margins.to_dict()
        data["work_dir"] = str(self.work_dir) if self.work_dir else None
        return data
