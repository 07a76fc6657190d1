"""How ladders are chosen, encoded and validated: the one source of every default.

CLI flags map 1:1 onto :class:`LadderConfig`'s fields. A configuration is checked whole when it
is made, before any work: the mode exists, the backend has the preset, a mode that predicts has
a model for the codec and preset, an encoder that must run is available on this machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from ladderforge.encoder import BACKENDS, check_available, codec_facts
from ladderforge.encoder.hls import SEGMENT_TYPES
from ladderforge.errors import UsageError
from ladderforge.jobs.defaults import DEFAULT_HEIGHTS, DEFAULT_SWEEP_CRFS, LadderRules
from ladderforge.media.ffmpeg import DEFAULT_TIMEOUT_S, check_timeout
from ladderforge.policy.cost import CostModel
from ladderforge.policy.first_guess import CARRY
from ladderforge.policy.ladder import check_rules
from ladderforge.policy.surface import DEFAULT_CRFS
from ladderforge.types import CodecFacts
from ladderforge.types.media import to_jsonable

__all__ = ["DEFAULT_HEIGHTS", "DEFAULT_SWEEP_CRFS", "LadderConfig", "LadderRules"]

_RULES = LadderRules()


@dataclass(frozen=True)
class LadderConfig:
    """How ladders are chosen, encoded and validated (CLI flags map 1:1 onto these)."""

    mode: str = "probe"
    """``predict``, ``probe`` or ``exhaustive`` (see :mod:`ladderforge.jobs.modes`)."""
    codec: str = "x265"
    """Encoder backend."""
    preset: str | None = None
    """Encoder preset; None: the backend's default (x265 veryfast, x264 medium, SVT-AV1 10,
    NVENC p5). Filled in when the configuration is made."""
    heights: tuple[int, ...] = DEFAULT_HEIGHTS
    """Candidate heights, capped at the source's."""
    crfs: tuple[float, ...] = DEFAULT_CRFS
    """CRFs of the predicted surface."""
    sweep_crfs: tuple[float, ...] = DEFAULT_SWEEP_CRFS
    """CRFs of the exhaustive mode."""
    top_vmaf: float = _RULES.top_vmaf
    floor_vmaf: float = _RULES.floor_vmaf
    min_step_vmaf: float = _RULES.min_step_vmaf
    min_rate_ratio: float = _RULES.min_rate_ratio
    max_rate_ratio: float = _RULES.max_rate_ratio
    max_rungs: int = _RULES.max_rungs
    allow_resolution_dips: bool = _RULES.allow_resolution_dips
    probe_segments: int = 3
    """Probe mode: short segments spanning the title's complexity."""
    probe_segment_s: float = 2.0
    """Probe mode: length of each segment."""
    whole_probe_s: float | None = None
    """Probe mode: a title no longer than this (seconds) is probed whole, as one segment, and
    its probes, whole renditions themselves, give the closed loop's first CRF of the rungs the
    ladder chose at a probed height (:func:`ladderforge.policy.first_guess.first_q_from_points`;
    not a top rung declared above the model's best, not with ``replan_heights`` or
    ``enhanced``; a rung added in a gap starts from the rungs measured); None: never."""
    probe_share: float | None = None
    """Probe mode: the segments together cover at most this share of the title (each cut
    shorter, not below 0.5 s; see :func:`ladderforge.policy.calibrate.probe_segment_s`);
    None: ``probe_segment_s`` each."""
    probe_crfs: tuple[float, ...] = (24, 34)
    """Probe mode: CRFs each segment is encoded at (at the top and bottom height)."""
    probe_along_curve: bool = True
    """Probe mode: the probes' VMAF errors move each height's predicted curve along itself
    (:meth:`ladderforge.policy.calibrate.Calibration.apply`); False adds them vertically (for
    comparison)."""
    bottom_probe_crfs: tuple[float, ...] = (43,)
    """Probe mode: further CRFs each segment is encoded at at the shortest probed height only,
    where the bottom rungs sit: the curve is steepest there, and the correction held beyond
    ``probe_crfs`` misses it by about 2.6 VMAF (``experiments/calibration_shape``); a third
    point cuts that to 1.3-1.6, at the cheapest probe encode of a segment. () for none."""
    probe_heights: int = 2
    """Probe mode: heights probed, 2 (the tallest and the shortest candidate) or 3 (also the
    one nearest their middle in log2 height)."""
    replan_heights: bool = False
    """Closed loop (predict and probe modes): after every rung's first encode, recalibrate the
    surface on those encodes (and the probes) and move each rung, target kept, to the height
    that reaches its target for the fewest kbps, between its neighbours' heights; a moved rung
    goes back where its old height's first encode says the old height is cheaper (see
    :mod:`ladderforge.policy.replan`)."""
    encode: bool = False
    """Encode every rung of the chosen ladder (full title)."""
    validate: bool = False
    """Encode and measure every rung (implies encode)."""
    per_scene: bool = False
    """Give each chunk of a rung its own CRF (equal-slope allocation over chunk curves)."""
    min_chunk_s: float = 1.0
    """Scenes shorter than this merge into a neighbour."""
    max_chunk_s: float = 6.0
    """Longer scenes are split into equal chunks no longer than this (the HLS segment length)."""
    scene_floor_vmaf: float | None = None
    """Per-scene: no chunk's VMAF below this."""
    max_scene_rate_ratio: float | None = None
    """Per-scene: neighbouring chunks' bitrates differ by at most this factor."""
    vbv: str = "off"
    """``off`` (uncapped CRF) or ``capped``: maxrate = ``vbv_ratio`` x the rung's bitrate,
    bufsize = ``vbv_buffer_ratio`` x maxrate, passed to the encoder and recorded."""
    vbv_ratio: float = 1.5
    """Capped CRF: maxrate over the rung's expected bitrate."""
    vbv_buffer_ratio: float = 2.0
    """Capped CRF: VBV buffer (kbit) over maxrate (kbps)."""
    open_loop: bool = False
    """Encode each rung once at its predicted CRF (no correction): today's behaviour before the
    closed loop, kept for comparison."""
    refill_gaps: bool = True
    """Closed loop: where neighbouring rungs measure more than ``max_rate_ratio`` apart in
    bitrate, add a rung between them at the mean of their VMAFs, looped like the others (see
    :mod:`ladderforge.policy.refill`)."""
    tolerance: float = 0.75
    """Closed loop: a rung ships when its whole rendition's VMAF is within this of its target."""
    max_encodes: int = 3
    """Closed loop: most encodes of one rung (the first guess included); with ``enhanced``,
    of each of its two loops (see :attr:`max_encodes_per_rung`)."""
    carry_share: float = CARRY
    """Closed loop: the share of an earlier rung's first-encode error, at the same height, that
    a later rung's first CRF corrects (:func:`ladderforge.policy.first_guess.carried_first_q`);
    0: none."""
    segment_type: str = "fmp4"
    """HLS segments: ``fmp4`` (CMAF-style init + .m4s) or ``mpegts``."""
    model_path: Path | None = None
    """A model file; None: the backend's shipped model for the preset."""
    audio: bool = True
    """Package the source's audio (one AAC-LC stereo rendition) when it has one."""
    audio_bitrate_kbps: int = 128
    """Bitrate of the audio rendition."""
    work_dir: Path | None = None
    """Where work files go (probe segments, chunk encodes, stores); None: ``OUT/.work``."""
    keep_work: bool = False
    """Keep a title's work files after it succeeded (they are removed otherwise)."""
    cost: CostModel = field(default_factory=CostModel)
    """Prices and audience (``--cost cost.toml``; the shipped cost.toml's figures by default)."""
    views: float | None = None
    """Expected view-hours of each title; set: replaces ``cost.expected_view_hours``."""
    cost_lambda: float | None = None
    """Choose the rungs by value: view-weighted VMAF - lambda x cost, lambda in VMAF-hours per
    USD (:func:`ladderforge.policy.value.ladder_by_value`); None: by the spacing rules."""
    budget_usd: float | None = None
    """Choose the rungs by value under this cost per title (USD) instead of a given lambda."""
    workers: int = 1
    tuned: Path | None = None
    """A tuned-sets file (``ladderforge tune``'s ``tuned.json``): every encode of a title uses
    the set of its content class; None: the preset's defaults."""
    timeout_s: float = DEFAULT_TIMEOUT_S
    """Seconds any one ffmpeg run of the job (cut, encode, join, VMAF, packaging) may take
    before it is killed and the title fails (``--timeout``)."""
    fps: Fraction | None = None
    """Conform every title to this constant frame rate (``"30"``, ``"30000/1001"``, 29.97...).
    None: a VFR source is conformed to the rate chosen from it, a CFR source keeps its own (see
    :mod:`ladderforge.media.conform`)."""

    enhanced: Path | str | None = None
    """A model file of the enhancement stage (``"shipped"``: the packaged one; resolved to its
    path when the config is made): every encoded
    rung is measured with and without the stage, the rungs the guard lets it enhance are steered
    onto their declared VMAF as delivered after it (fewer bits), and the ladder JSON flags them
    (see :mod:`ladderforge.jobs.enhanced`). Needs ``encode`` or ``validate``. None: no stage."""

    def __post_init__(self) -> None:
        from ladderforge.jobs.modes import MODES  # the modes read this config: import late

        object.__setattr__(self, "fps", parse_fps(self.fps))
        check_timeout(self.timeout_s, function="LadderConfig")

        if self.mode not in MODES:
            raise UsageError(
                f"The 'mode' parameter must be one of {', '.join(MODES)}. "
                f"Got {self.mode!r} instead."
            )
        if self.segment_type not in SEGMENT_TYPES:
            raise UsageError(
                f"The 'segment_type' parameter must be one of {', '.join(SEGMENT_TYPES)}. "
                f"Got {self.segment_type!r} instead."
            )
        if self.vbv not in ("off", "capped"):
            raise UsageError(f"The 'vbv' parameter must be 'off' or 'capped'. Got {self.vbv!r}.")
        if not self.tolerance > 0:
            raise UsageError(f"The 'tolerance' parameter must be > 0. Got {self.tolerance!r}.")
        if not 0 <= self.carry_share <= 1:
            raise UsageError(
                f"The 'carry_share' parameter must be in [0, 1]. Got {self.carry_share!r}."
            )
        if self.max_encodes < 1:
            raise UsageError(f"The 'max_encodes' parameter must be >= 1. Got {self.max_encodes}.")
        if self.probe_heights not in (2, 3):
            raise UsageError(
                f"The 'probe_heights' parameter must be 2 or 3. Got {self.probe_heights!r} instead."
            )
        if self.whole_probe_s is not None and not self.whole_probe_s > 0:
            raise UsageError(
                f"The 'whole_probe_s' parameter must be > 0. Got {self.whole_probe_s!r} instead."
            )
        if self.probe_share is not None and not 0 < self.probe_share <= 1:
            raise UsageError(
                f"The 'probe_share' parameter must be in (0, 1]. Got {self.probe_share!r} instead."
            )
        if self.replan_heights and (
            self.mode not in ("predict", "probe") or not self.encodes or self.open_loop
        ):
            raise UsageError(
                "--replan-heights needs --mode predict or probe, --encode or --validate, and "
                "the closed loop (no --open-loop)"
            )
        if self.replan_heights and self.enhanced is not None:
            raise UsageError("--replan-heights does not work with --enhanced yet; drop one")
        if self.per_scene and not self.encodes:
            raise UsageError("per-scene encoding needs --encode or --validate")
        check_rules(
            self.ladder_options(),
            cost_chosen=self.cost_lambda is not None or self.budget_usd is not None,
        )
        self._check_cost()
        facts = codec_facts(self.codec)
        if self.preset is None:
            object.__setattr__(self, "preset", facts.default_preset)
        facts.preset_rank(self.resolved_preset)
        for name in ("probe_crfs", "bottom_probe_crfs"):
            outside = [q for q in getattr(self, name) if not facts.q_min <= q <= facts.q_max]
            if outside:
                raise UsageError(
                    f"The '{name}' parameter must lie in {self.codec}'s range "
                    f"{facts.q_min:g}-{facts.q_max:g}. Got {outside} in it."
                )
        if self.tuned is not None:
            from ladderforge.jobs.tuned import check_tuned_file

            check_tuned_file(self.tuned, self.codec, self.resolved_preset)
        MODES[self.mode].check(self, facts)
        if self.enhanced is not None:
            from ladderforge.jobs.enhanced import check_enhanced, resolve_model_path

            object.__setattr__(self, "enhanced", resolve_model_path(self.enhanced))
            check_enhanced(self)

    def _check_cost(self) -> None:
        for name in ("views", "cost_lambda", "budget_usd"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and value >= 0):
                raise UsageError(f"The '{name}' parameter must be a number >= 0. Got {value!r}.")
        if self.cost_lambda is not None and self.budget_usd is not None:
            raise UsageError("give --lambda or --budget, not both")
        if self.views is not None:
            object.__setattr__(self, "cost", replace(self.cost, expected_view_hours=self.views))

    @property
    def resolved_preset(self) -> str:
        """The preset (the backend's default when none was given)."""
        return self.preset or codec_facts(self.codec).default_preset

    @property
    def facts(self) -> CodecFacts:
        """The backend's facts."""
        return codec_facts(self.codec)

    @property
    def encodes(self) -> bool:
        """Whether the rungs are encoded (``encode`` or ``validate``)."""
        return self.encode or self.validate

    @property
    def closed_loop(self) -> bool:
        """Whether encoded rungs go through the closed loop: in the modes that have one
        (predict, probe), and in every mode with ``enhanced`` (exhaustive has no loop without
        it); never with ``open_loop``."""
        from ladderforge.jobs.modes import MODES  # the modes read this config: import late

        return not self.open_loop and (MODES[self.mode].closed_loop or self.enhanced is not None)

    @property
    def refills(self) -> bool:
        """Whether the closed loop drops rungs the measured ones beat and refills the gaps
        the measured rungs open (see :mod:`ladderforge.jobs.rungs`): ``refill_gaps`` on a
        closed-loop ladder chosen by the spacing rules (not by value, whose gaps are chosen),
        not replanned (whose loops run apart) and not enhanced (whose loop steers on delivered
        VMAF)."""
        return (
            self.refill_gaps
            and self.encodes
            and self.closed_loop
            and not self.replan_heights
            and self.enhanced is None
            and self.cost_lambda is None
            and self.budget_usd is None
        )

    @property
    def max_encodes_per_rung(self) -> int:
        """Most full-length encodes of one rung: 1 without the closed loop, ``max_encodes``
        with it, twice that with ``enhanced`` (the loop on delivered VMAF, then, where it found
        no rung to ship, the loop on plain VMAF; see :mod:`ladderforge.jobs.rungs`)."""
        if not self.closed_loop:
            return 1
        return self.max_encodes * (2 if self.enhanced is not None else 1)

    @property
    def rules(self) -> LadderRules:
        return LadderRules(**{f.name: getattr(self, f.name) for f in fields(LadderRules)})

    def ladder_options(self) -> dict[str, Any]:
        return self.rules.options()

    def to_dict(self) -> dict[str, Any]:
        """Every setting, JSON-ready (recorded in the ladder JSON's provenance)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "cost":
                value = {c.name: to_jsonable(getattr(value, c.name)) for c in fields(value)}
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Fraction):
                value = f"{value.numerator}/{value.denominator}"
            out[f.name] = value
        return out


def parse_fps(value: object) -> Fraction | None:
    """A frame rate given as a number or a string (``"30"``, ``"30000/1001"``, ``"29.97"``: a
    decimal NTSC rate means its /1001 form) as a Fraction; a UsageError otherwise."""
    if value is None or isinstance(value, Fraction):
        rate = value
    else:
        try:
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise TypeError
            rate = Fraction(str(value).strip())
        except (TypeError, ValueError, ZeroDivisionError):
            rate = None
        if rate is None or not 1 <= rate <= 240:
            raise UsageError(
                f"The 'fps' parameter must be a frame rate from 1 to 240 (e.g. 30, 30000/1001, "
                f"29.97). Got {value!r} instead."
            )
        ntsc = Fraction(round(rate * Fraction(1001, 1000)) * 1000, 1001)
        if rate.denominator != 1 and abs(rate - ntsc) < Fraction(1, 100):
            rate = ntsc
    if rate is not None and not 1 <= rate <= 240:
        raise UsageError(f"The 'fps' parameter must be from 1 to 240. Got {rate} instead.")
    return rate


def check_can_encode(codec: str) -> None:
    """The encoder must run on this machine (one clear line naming why not)."""
    check_available(codec)


def models_available() -> list[str]:
    """'codec preset' of every backend with a shipped prediction model."""
    return [
        f"{name} {preset}"
        for name, backend in BACKENDS.items()
        for preset, _ in backend.facts.prediction_models
    ]
