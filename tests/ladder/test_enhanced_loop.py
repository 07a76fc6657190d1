"""The closed loop of ``ladder --enhanced`` (``jobs.rungs``) on recorded figures with a faked
encoder and stage (no encode): a guard flip between two CRFs never ships a rung below what the
plain ladder ships; the plain loop takes over and its attempt ships."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from ladderforge.jobs import rungs
from ladderforge.policy.target import within
from ladderforge.types import EncodeSettings, Rung, RungEnhance, StageFigures

# bikes 272p, x265 veryfast: (crf, vmaf, kbps), measured (tests/policy/test_target.py)
BIKES = [
    (16, 98.31, 719.5), (19, 97.5, 512.7), (22, 95.96, 370.9), (25, 93.81, 272.0),
    (28, 89.73, 203.1), (31, 83.91, 152.0), (34, 75.93, 116.0), (37, 65.5, 89.3),
    (40, 53.01, 68.6), (43, 40.41, 53.9), (46, 25.94, 42.7),
]  # fmt: skip
TARGET = 80.0


class FakeEncoder:
    """Encodes at a CRF offset from the recorded table; the stage adds ``gain`` (VMAF, NEG
    and PSNR-Y) below CRF ``off_from``, and lowers PSNR-Y from there (the guard's refusal)."""

    def __init__(self, base: float, gain: float, off_from: float) -> None:
        self.base, self.gain, self.off_from = base, gain, off_from
        self.crfs: list[float] = []

    def at(self, delta: float) -> Any:
        q = self.base + delta
        self.crfs.append(q)
        qs, vs = [r[0] for r in BIKES], [r[1] for r in BIKES]
        vmaf = float(np.interp(q, qs, vs))
        kbps = float(np.exp(np.interp(q, qs, np.log([r[2] for r in BIKES]))))
        on = q < self.off_from
        plain = StageFigures(vmaf, vmaf - 2, 30.0)
        after = StageFigures(vmaf + self.gain, vmaf - 2 + self.gain, 30.5 if on else 29.0)
        return rungs._Shipped(
            settings=(),
            encoded=SimpleNamespace(bitrate_kbps=kbps, cpu_s=1.0),  # type: ignore[arg-type]
            quality=SimpleNamespace(vmaf=vmaf),  # type: ignore[arg-type]
            q=q,
            enhance=RungEnhance(on, plain, after),
        )


def _loop(encoder: FakeEncoder, max_encodes: int) -> tuple[Any, list[Any], list[str], Any]:
    job = SimpleNamespace(
        config=SimpleNamespace(max_encodes=max_encodes, tolerance=0.75),
        facts=SimpleNamespace(q_min=0.0, q_max=51.0, fractional_q=True),
        enhancer=object(),
        loop_cpu_s=0.0,
    )
    curve = [(float(q), v) for q, v, _ in BIKES]
    mode = SimpleNamespace(rung_curve=lambda job, rung: curve)
    rung = Rung(EncodeSettings(codec="x265", width=640, height=272, q=encoder.base), 150.0, TARGET)
    shipped, attempts, notes = rungs._closed_loop(job, mode, rung, encoder)  # type: ignore[arg-type]
    return shipped, attempts, notes, job


def test_a_guard_flip_never_ships_a_rung_worse_for_every_player() -> None:
    """Delivered loop: CRF 31 (stage on, delivered 86.9), then CRF ~33.6 where the guard
    switched the stage off (77.0 for every player): before, the closest of the two shipped
    that one. Now neither may ship, and the loop on plain VMAF lands on the plain target."""
    encoder = FakeEncoder(base=31.0, gain=3.0, off_from=33.0)
    shipped, attempts, notes, job = _loop(encoder, max_encodes=2)
    first, flipped = attempts[0], attempts[1]
    assert first.stage_on and not flipped.stage_on and flipped.q > 33
    assert flipped.vmaf < TARGET - 0.75  # what used to ship
    assert shipped.q != flipped.q
    assert within(shipped.quality.vmaf, TARGET, 0.75)  # the plain ladder's quality, at least
    assert len(attempts) == 3  # two on delivered VMAF, one on plain
    assert any("steered on plain VMAF" in n for n in notes)
    assert job.loop_cpu_s == sum(1.0 for a in attempts if a.q != shipped.q)


def test_a_stage_on_attempt_on_target_ships_above_the_plain_crf() -> None:
    """Where the stage stays on, the loop ships a higher CRF on its delivered VMAF."""
    encoder = FakeEncoder(base=31.0, gain=3.0, off_from=40.0)
    shipped, _, notes, _ = _loop(encoder, max_encodes=3)
    assert shipped.enhance.enabled and within(shipped.enhance.delivered.vmaf, TARGET, 0.75)
    assert shipped.q > 32.7  # the plain ladder's CRF for VMAF 80 is ~32.5
    assert not notes


def test_the_delivered_loop_stays_short_of_a_crf_where_the_stage_was_off() -> None:
    """A stage worth +6 below CRF 34.5: CRF 31 (on, 89.9), 34.6 (off, 73.8), then a CRF short
    of 34.6; with nothing on target, the plain loop takes over (no saving, no loss)."""
    encoder = FakeEncoder(base=31.0, gain=6.0, off_from=34.5)
    shipped, attempts, notes, _ = _loop(encoder, max_encodes=3)
    assert [a.stage_on for a in attempts[:3]] == [True, False, True]
    assert attempts[2].q < attempts[1].q
    assert within(shipped.quality.vmaf, TARGET, 0.75) and shipped.enhance.enabled
    assert any("steered on plain VMAF" in n for n in notes)
