"""The closed loop's CRF search replayed on recorded curves: how many searches miss.

The recorded CRF -> VMAF tables of ``tests/policy/recorded_curves.py`` (x265 veryfast, 2.5 s
segments of the three demo clips, 16-46 step 3, interpolated between) stand for the encoder;
a wrong model is the measured curve offset by -8..+8 VMAF, stretched -25..+25 % in CRF around
CRF 30 and clipped at 100 (a saturated model). Each search starts where the model reaches the
target (``first_q``), corrects with ``next_q`` until within +-0.75 or 3 encodes, and ships
``pick``'s choice. Variants of the in-bracket step (``_BEND``: how far the model's curve may move
the next CRF from the straight line through the bracket, as a share of the way to either end;
beyond it, the straight line): 0 is regula falsi alone, 1 trusts the curve anywhere.

Usage: python experiments/closed_loop_search/run.py   (prints a table, writes results.json)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import ladderforge.policy.target as target_mod
from ladderforge.policy.first_guess import first_q
from ladderforge.policy.target import pick, within
from tests.policy.recorded_curves import RECORDED, encoder, loop, model_curve

HERE = Path(__file__).resolve().parent

BIASES = (-8.0, -5.0, 0.0, 5.0, 8.0)
STRETCHES = (-0.25, 0.0, 0.25)
TARGETS = (95.0, 93.0, 88.0, 80.0, 70.0, 60.0, 45.0)
BENDS = (0.0, 0.1, 0.25, 0.35, 0.5, 1.0)


def searches() -> tuple[int, int, float]:
    """(searches, misses, encodes per search) over every title x bias x stretch x target."""
    cases = misses = encodes = 0
    for title, table in RECORDED.items():
        run = encoder(table)
        for bias in BIASES:
            for stretch in STRETCHES:
                curve = model_curve(title, bias, stretch, clip=True)
                for target in TARGETS:
                    attempts = loop(run, curve, target, first_q(curve, target, q_min=0, q_max=51))
                    cases += 1
                    encodes += len(attempts)
                    misses += not within(pick(attempts, target, 0.75).vmaf, target, 0.75)
    return cases, misses, encodes / cases


def main() -> int:
    shipped = target_mod._BEND
    rows = []
    try:
        for bend in BENDS:
            target_mod._BEND = bend
            cases, misses, per = searches()
            rows.append(
                {"bend": bend, "searches": cases, "misses": misses, "encodes": round(per, 3)}
            )
    finally:
        target_mod._BEND = shipped
    print(f"{'bend':>6} {'searches':>9} {'misses':>7} {'encodes/search':>15}")
    for r in rows:
        mark = "  (shipped)" if r["bend"] == shipped else ""
        print(f"{r['bend']:>6} {r['searches']:>9} {r['misses']:>7} {r['encodes']:>15}{mark}")
    (HERE / "results.json").write_text(
        json.dumps({"shipped_bend": shipped, "rows": rows}, indent=1)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
