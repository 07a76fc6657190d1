"""What a tuning study may change: the search space of each encoder backend, as data.

A :class:`Knob` is one encoder option with the range the study samples it from; a
:class:`SearchSpace` is a backend's knobs. :func:`suggest` draws one value per knob from an optuna
trial, :meth:`SearchSpace.params` turns the values into the ``EncodeSettings.params`` pairs (and
tune) the backend takes. Policy never imports a backend: the x265 keys are x265's documented
option names (``x265 --fullhelp``; the test suite checks each against
``ladderforge.encoder.param_keys``), the NVENC ones NVIDIA's documented ffmpeg options (the
backend's ``_ALLOWED_PARAMS``).

The preset is not a knob: a study tunes on top of one preset, so that "medium + tuned" can be
compared with "slow" at the same or lower CPU time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ladderforge.errors import UsageError

__all__ = [
    "NVENC_SPACE",
    "X265_SPACE",
    "Knob",
    "SearchSpace",
    "space_for",
    "suggest",
]

KnobKind = Literal["int", "float", "choice"]
TUNE_KEY = "tune"
"""A knob with this key sets ``EncodeSettings.tune`` instead of a parameter."""


@dataclass(frozen=True)
class Knob:
    """One encoder option the study samples."""

    name: str
    """The name in the study (optuna's parameter name); unique within a space."""
    key: str
    """The encoder option it sets (``aq-mode``), or ``tune``."""
    kind: KnobKind
    """``int`` and ``float`` are sampled in [low, high] by ``step``; ``choice`` from choices."""
    low: float = 0.0
    """Lowest value (int, float)."""
    high: float = 0.0
    """Highest value (int, float)."""
    step: float | None = None
    """Grid step (int: 1 when None; float: continuous when None)."""
    choices: tuple[str, ...] = ()
    """The values of a ``choice`` knob, as the encoder spells them."""
    part: int | None = None
    """For options made of several numbers (x265 ``deblock=tc,beta``): this knob's position."""
    only_if: tuple[str, tuple[str, ...]] | None = None
    """(other knob, its values): the knob is sampled only when the other has one of them."""
    why: str = ""
    """What the option trades (rate, quality, time)."""


@dataclass(frozen=True)
class SearchSpace:
    """The knobs of one backend."""

    codec: str
    """Backend name (``EncodeSettings.codec``)."""
    knobs: tuple[Knob, ...]
    """Sampled in this order (a knob's ``only_if`` names an earlier one)."""

    def __post_init__(self) -> None:
        names = [k.name for k in self.knobs]
        if len(set(names)) != len(names):
            raise UsageError(f"The knobs of the {self.codec} search space must have unique names.")
        for i, knob in enumerate(self.knobs):
            if knob.only_if and knob.only_if[0] not in names[:i]:
                raise UsageError(
                    f"Knob {knob.name!r} depends on {knob.only_if[0]!r}, not before it."
                )

    def params(self, values: Mapping[str, Any]) -> tuple[tuple[tuple[str, str], ...], str | None]:
        """(``EncodeSettings.params``, tune) for the sampled ``values`` (knob name -> value);
        knobs missing from ``values`` (not sampled, or conditional) are left out, so the
        preset's own value holds. Unknown names are a UsageError."""
        known = {k.name: k for k in self.knobs}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise UsageError(
                f"Unknown knob(s) {', '.join(unknown)} for the {self.codec} search space; "
                f"known: {', '.join(known)}."
            )
        tune: str | None = None
        parts: dict[str, dict[int, str]] = {}
        for knob in self.knobs:
            if knob.name not in values:
                continue
            text = _format(knob, values[knob.name])
            if knob.key == TUNE_KEY:
                tune = text
            else:
                parts.setdefault(knob.key, {})[knob.part or 0] = text
        pairs = tuple((key, ",".join(v for _, v in sorted(p.items()))) for key, p in parts.items())
        return pairs, tune

    def without(self, names: Sequence[str]) -> SearchSpace:
        """The space less the knobs ``names`` (study names, e.g. ``deblock-tc``; they keep the
        preset's value), the other parts of the same option (freezing ``deblock-tc`` freezes
        ``deblock-beta``: x265 reads one number as both) and the knobs sampled only under one
        of them. Unknown names, or nothing left to sample, are a UsageError."""
        known = [k.name for k in self.knobs]
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise UsageError(
                f"Cannot freeze unknown knob(s) {', '.join(unknown)} of the {self.codec} search "
                f"space; known: {', '.join(known)}."
            )
        keys = {k.key for k in self.knobs if k.name in names}
        gone = {k.name for k in self.knobs if k.key in keys}
        kept = []
        for knob in self.knobs:
            if knob.name in gone or (knob.only_if and knob.only_if[0] in gone):
                gone.add(knob.name)
            else:
                kept.append(knob)
        if not kept:
            raise UsageError(f"Freezing {', '.join(names)} leaves no {self.codec} knob to tune.")
        return SearchSpace(codec=self.codec, knobs=tuple(kept))


def _format(knob: Knob, value: Any) -> str:
    if knob.kind == "choice":
        text = str(value)
        if text not in knob.choices:
            raise UsageError(
                f"The value of knob {knob.name!r} must be one of {', '.join(knob.choices)}. "
                f"Got {value!r} instead."
            )
        return text
    number = float(value)
    if not knob.low <= number <= knob.high:
        raise UsageError(
            f"The value of knob {knob.name!r} must be in [{knob.low:g}, {knob.high:g}]. "
            f"Got {value!r} instead."
        )
    return str(round(number)) if knob.kind == "int" else f"{round(number, 3):g}"


def suggest(trial: Any, space: SearchSpace) -> dict[str, Any]:
    """Draw one value per knob from an optuna ``trial`` (``suggest_int``/``suggest_float``/
    ``suggest_categorical``); conditional knobs only when their condition holds."""
    values: dict[str, Any] = {}
    for knob in space.knobs:
        if knob.only_if is not None:
            other, allowed = knob.only_if
            if other not in values or str(values[other]) not in allowed:
                continue
        if knob.kind == "choice":
            values[knob.name] = trial.suggest_categorical(knob.name, list(knob.choices))
        elif knob.kind == "int":
            values[knob.name] = trial.suggest_int(
                knob.name, int(knob.low), int(knob.high), step=int(knob.step or 1)
            )
        else:
            values[knob.name] = trial.suggest_float(knob.name, knob.low, knob.high, step=knob.step)
    return values


X265_SPACE = SearchSpace(
    codec="x265",
    knobs=(
        Knob("aq-mode", "aq-mode", "choice", choices=("0", "1", "2", "3", "4"),
             why="adaptive quantisation: 1 variance, 2 auto-variance, 3 + dark-scene bias, "
             "4 + edge; moves bits between flat and textured blocks"),
        Knob("aq-strength", "aq-strength", "float", 0.4, 1.6, 0.1,
             only_if=("aq-mode", ("1", "2", "3", "4")),
             why="how far AQ moves the QP of a block"),
        Knob("psy-rd", "psy-rd", "float", 0.0, 3.0, 0.25,
             why="keeps energy (texture, grain) in mode decisions: raises VMAF and detail, can "
             "lower PSNR"),
        Knob("rdoq-level", "rdoq-level", "choice", choices=("0", "1", "2"),
             why="rate-distortion optimised quantisation; psy-rdoq needs it"),
        Knob("psy-rdoq", "psy-rdoq", "float", 0.0, 5.0, 0.5,
             only_if=("rdoq-level", ("1", "2")),
             why="keeps energy in quantisation: detail and grain for bits"),
        Knob("rd", "rd", "choice", choices=("1", "2", "3", "4", "5"),
             why="depth of rate-distortion analysis: better decisions for CPU time"),
        Knob("bframes", "bframes", "int", 2, 8, why="consecutive B-frames: static content gains"),
        Knob("b-adapt", "b-adapt", "choice", choices=("0", "1", "2"),
             why="how B-frame placement is decided (2: trellis, slow)"),
        Knob("ref", "ref", "int", 1, 5, why="reference frames: motion and repetitive content gain"),
        Knob("rc-lookahead", "rc-lookahead", "int", 10, 60, 5,
             why="frames the rate control and cutree look ahead"),
        Knob("deblock-tc", "deblock", "int", -3, 3, part=0,
             why="deblocking strength (tC offset): lower keeps detail, higher smooths"),
        Knob("deblock-beta", "deblock", "int", -3, 3, part=1,
             why="deblocking threshold (beta offset)"),
        Knob("sao", "sao", "choice", choices=("0", "1"),
             why="sample adaptive offset: removes ringing, also some texture"),
        Knob("tu-intra-depth", "tu-intra-depth", "int", 1, 3, why="transform split depth, intra"),
        Knob("tu-inter-depth", "tu-inter-depth", "int", 1, 3, why="transform split depth, inter"),
        Knob("me", "me", "choice", choices=("dia", "hex", "umh", "star"),
             why="motion search pattern: wider finds motion for CPU time"),
        Knob("subme", "subme", "int", 1, 5, why="sub-pixel motion refinement"),
    ),
)  # fmt: skip
"""x265's rate/quality/time knobs (https://x265.readthedocs.io/en/master/cli.html)."""

NVENC_SPACE = SearchSpace(
    codec="nvenc_hevc",
    knobs=(
        Knob("tune", TUNE_KEY, "choice", choices=("hq", "uhq"),
             why="hq: high quality; uhq: ultra high quality (Ada and newer, HEVC/AV1)"),
        Knob("multipass", "multipass", "choice", choices=("disabled", "qres", "fullres"),
             why="a first pass at quarter or full resolution before the real one"),
        Knob("spatial-aq", "spatial-aq", "choice", choices=("0", "1"),
             why="spatial adaptive quantisation"),
        Knob("aq-strength", "aq-strength", "int", 1, 15, only_if=("spatial-aq", ("1",)),
             why="spatial AQ strength (1 low, 15 aggressive)"),
        Knob("temporal-aq", "temporal-aq", "choice", choices=("0", "1"),
             why="temporal adaptive quantisation"),
        Knob("rc-lookahead", "rc-lookahead", "int", 0, 32, 4, why="frames of lookahead"),
        Knob("bf", "bf", "int", 0, 4, why="B-frames"),
        Knob("b_ref_mode", "b_ref_mode", "choice", choices=("disabled", "each", "middle"),
             why="B-frames as references"),
    ),
)  # fmt: skip
"""NVENC's knobs from NVIDIA's documented ffmpeg options (the NVENC backend's accepted params)."""

_SPACES = {"x265": X265_SPACE, "nvenc_hevc": NVENC_SPACE}


def space_for(codec: str) -> SearchSpace:
    """The search space of ``codec`` (NVENC's H.264 and AV1 encoders share the HEVC one, less
    ``uhq`` for H.264); a UsageError naming the backends that have one."""
    if codec in ("nvenc_h264", "nvenc_av1"):
        knobs = tuple(
            Knob(k.name, k.key, k.kind, choices=("hq",), why=k.why)
            if k.key == TUNE_KEY and codec == "nvenc_h264"
            else k
            for k in NVENC_SPACE.knobs
        )
        return SearchSpace(codec=codec, knobs=knobs)
    try:
        return _SPACES[codec]
    except KeyError:
        raise UsageError(
            f"No tuning search space for the {codec!r} backend; spaces exist for "
            f"{', '.join([*_SPACES, 'nvenc_h264', 'nvenc_av1'])}."
        ) from None
