"""Content classes for tuning: which tuned parameter set a title gets, from its analysis features.

Rules, not clustering. The training corpus has about 40 titles; k-means on a handful of features
over so few titles gives clusters that move when one title is added and that nobody can name,
and a tuned set is only worth shipping for a class a person can recognise and check. The rules
follow the axes the knobs act on:

1. ``screen``: screen content, slides, UI, line art and flat animation (``screen_score_mean``
   >= 0.10). AQ, SAO, deblocking and psy settings behave differently on flat areas with sharp
   edges than on camera noise.
2. ``motion``: high temporal activity (P.910 ``ti_mean`` >= 10): B-frames, references, lookahead
   and motion search matter most.
3. ``textured``: detailed or grainy pictures that move little (``texture_e_mean`` >= 14):
   psy-rd, psy-rdoq and AQ strength decide how much texture survives.
4. ``smooth``: everything else (low motion, little texture: talking heads, indoor scenes).

The first rule that holds wins. The thresholds come from the title means of the x265 veryfast
dataset (``experiments/build_dataset/data``): camera footage scores below 0.10 on screen_score
(the marimo screen recordings 0.12-0.17, slides and graphics 0.6-0.8), and ti 10 / texture 14
split the remaining titles into groups of similar size.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ladderforge.errors import UsageError

__all__ = [
    "CLASS_RULES",
    "CONTENT_CLASSES",
    "ClassRule",
    "ContentClass",
    "classify",
    "spread_titles",
]


@dataclass(frozen=True)
class ClassRule:
    """A class is chosen when ``feature >= threshold``."""

    name: str
    """The content class."""
    feature: str
    """A title-level analysis feature (``{feature}_{mean|p90|std}``)."""
    threshold: float
    """The class holds at or above this value."""
    why: str
    """What the class is and why its knobs differ."""


CLASS_RULES: tuple[ClassRule, ...] = (
    ClassRule("screen", "screen_score_mean", 0.10, "screen content, slides, line art"),
    ClassRule("motion", "ti_mean", 10.0, "high temporal activity"),
    ClassRule("textured", "texture_e_mean", 14.0, "detailed or grainy, little motion"),
)
"""Checked in order; the first that holds gives the class."""

FALLBACK_CLASS = "smooth"
CONTENT_CLASSES = (*(r.name for r in CLASS_RULES), FALLBACK_CLASS)
"""Every class, in rule order."""


@dataclass(frozen=True)
class ContentClass:
    """The class of one title (or segment) and why."""

    name: str
    """One of :data:`CONTENT_CLASSES`."""
    reason: str
    """The rule that decided, with the feature values, e.g. ``ti_mean 12.3 >= 10``."""
    spread: float = 0.0
    """The value of the class's own axis (its rule's feature; the fallback class: the last
    rule's), by which :func:`spread_titles` spreads a class's study titles."""


def classify(features: Mapping[str, object]) -> ContentClass:
    """The content class of a title from its pooled analysis features (``ContentProfile.title``
    or a scene's features). A feature a rule needs that is missing or not a finite number is a
    UsageError naming it."""
    checked = []
    last = 0.0
    for rule in CLASS_RULES:
        value = features.get(rule.feature)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise UsageError(
                f"classify needs the analysis feature {rule.feature!r} as a finite number. "
                f"Got {value!r} instead; analyse the title with ladderforge's analysis first."
            )
        if value >= rule.threshold:
            return ContentClass(
                rule.name,
                f"{rule.feature} {value:.3g} >= {rule.threshold:g} ({rule.why})",
                float(value),
            )
        checked.append(f"{rule.feature} {value:.3g} < {rule.threshold:g}")
        last = float(value)
    return ContentClass(FALLBACK_CLASS, "; ".join(checked) + " (low motion, little texture)", last)


def spread_titles(spreads: Sequence[tuple[str, float]], limit: int | None) -> list[str]:
    """At most ``limit`` of a class's titles for its study, given as (key, its
    :attr:`ContentClass.spread`), in their order along the class's axis: evenly spaced, lowest
    and highest included (a limit of 1: the middle one), so that a capped study still sees the
    range of its class. Every title, in that order, when ``limit`` is None or not below their
    number; ties are broken by key so the choice is the same on every run."""
    ordered = [t for t, _ in sorted(spreads, key=lambda item: (item[1], item[0]))]
    if limit is None or limit >= len(ordered):
        return ordered
    if limit < 1:
        raise UsageError(f"spread_titles needs a limit >= 1. Got {limit!r} instead.")
    if limit == 1:
        return [ordered[len(ordered) // 2]]
    step = (len(ordered) - 1) / (limit - 1)
    return [ordered[round(i * step)] for i in range(limit)]
