"""How far a rung's first encode could be corrected by an earlier rung's miss (no new encode).

Reads the probe ladders an evaluation run left (results/<codec>_<preset>/probe/*/*.ladder.json:
each rung's declared target and every closed-loop attempt). For each rung, its first encode's
error is its measured VMAF minus the target it was aimed at. For the rungs with an earlier rung
(the loop goes from the bottom up) at the same height, and separately at another height:

- the correlation of the two errors;
- how many first encodes would have landed within the loop's tolerance (0.75) had the rung
  aimed at ``target - share * error_of_the_earlier_rung`` (its error then taken as
  ``error - share * earlier_error``: the model's curve is locally a line), for several shares;
- the share chosen on half the titles and counted on the other half (2-fold by title, 20
  random splits), so the chosen share is not judged on the rungs it was chosen on.

This is the analysis behind ``ladderforge.policy.first_guess.CARRY``. It reads ladders run without
the carry (product code before 6a263c3); on ladders run with it, the first encodes already
carry and the figures mean something else. A top rung declared above the model's best
(``aim_top``'s note) got its first CRF from code that 08d02f0 changed; the figures are also
given without those rungs.

Usage: python experiments/evaluate_ladders/carry.py [--results DIR] [--tolerance 0.75]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)


REACH_NOTE = "top rung declared at VMAF"  # aim_top: declared above the model's best


def pairs(ladders: list[Path], same_height: bool, *, skip_reach: bool = False) -> np.ndarray:
    """(error, earlier error) of every rung with an earlier rung at its height (or, without
    ``same_height``, the rung just before it at another height); with ``skip_reach``, leaving
    out a top rung declared above the model's best (its first CRF came from ``aim_top``)."""
    out = []
    for path in ladders:
        ladder = json.loads(path.read_text())
        reach = any(n.startswith(REACH_NOTE) for n in ladder.get("notes", []))
        by_height: dict[int, float] = {}
        previous: float | None = None
        rungs = ladder["rungs"]
        for i, rung in enumerate(rungs):
            if not rung.get("attempts") or rung.get("target_vmaf") is None:
                continue
            if skip_reach and reach and i == len(rungs) - 1:
                continue
            height = rung["settings"]["height"]
            error = rung["attempts"][0]["vmaf"] - rung["target_vmaf"]
            if same_height and height in by_height:
                out.append((error, by_height[height]))
            elif not same_height and height not in by_height and previous is not None:
                out.append((error, previous))
            by_height[height], previous = error, error
    return np.array(out).reshape(-1, 2)


def hits(rows: np.ndarray, share: float, tolerance: float) -> int:
    return int(np.sum(np.abs(rows[:, 0] - share * rows[:, 1]) <= tolerance))


def cross_validated(ladders: list[Path], tolerance: float, splits: int = 20) -> float:
    """Mean hits over ``splits`` random 2-fold splits by title, the share chosen on the other
    fold."""
    rng = np.random.default_rng(0)
    total = 0
    for _ in range(splits):
        order = rng.permutation(len(ladders))
        half = len(order) // 2
        folds = [[ladders[i] for i in order[:half]], [ladders[i] for i in order[half:]]]
        for train, test in (folds, folds[::-1]):
            chosen = max(SHARES, key=lambda s: hits(pairs(train, True), s, tolerance))
            total += hits(pairs(test, True), chosen, tolerance)
    return total / splits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=HERE / "results" / "x265_veryfast")
    parser.add_argument("--tolerance", type=float, default=0.75)
    args = parser.parse_args()
    ladders = sorted((args.results / "probe").glob("*/*.ladder.json"))
    if not ladders:
        print(f"{args.results / 'probe'}: no ladder JSON", file=sys.stderr)
        return 2
    print(f"{len(ladders)} titles, tolerance {args.tolerance:g}")
    print(
        "| earlier rung | rungs | correlation | "
        + " | ".join(f"share {s:g}" for s in SHARES)
        + " |"
    )
    print("|---" * (3 + len(SHARES)) + "|")
    for same, name in ((True, "same height"), (False, "other height")):
        rows = pairs(ladders, same)
        corr = float(np.corrcoef(rows[:, 0], rows[:, 1])[0, 1]) if len(rows) > 2 else float("nan")
        cells = " | ".join(str(hits(rows, s, args.tolerance)) for s in SHARES)
        print(f"| {name} | {len(rows)} | {corr:.2f} | {cells} |")
    kept = pairs(ladders, True, skip_reach=True)
    cells = ", ".join(f"{s:g}: {hits(kept, s, args.tolerance)}" for s in SHARES)
    corr = float(np.corrcoef(kept[:, 0], kept[:, 1])[0, 1])
    print(
        f"same height, without top rungs declared above the model's best: {len(kept)} rungs, "
        f"correlation {corr:.2f}, hits by share {cells}"
    )
    same = pairs(ladders, True)
    slope = float(np.polyfit(same[:, 1], same[:, 0], 1)[0])
    print(f"least-squares slope (same height): {slope:.2f}")
    print(
        f"2-fold by title, share chosen on the other fold: {cross_validated(ladders, args.tolerance):.1f} hits"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
