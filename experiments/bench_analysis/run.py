"""Benchmark of content analysis: decode-only vs analyze vs fast mode, side by side, peak RSS.

Each measurement runs in a fresh Python process (so its peak RSS is its own); the three modes
of a clip are interleaved and repeated, and the best run of each is kept (on a shared machine
the best run is the least disturbed). Ratios are taken within one clip and one round.

    .venv/bin/python experiments/bench_analysis/run.py            # 720p, 1080p, 2160p
    .venv/bin/python experiments/bench_analysis/run.py --long     # + 10-minute 1080p RSS run

Writes ``experiments/bench_analysis/results/bench-<time>.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parents[2] / "shared" / "corpus"
FAST_FEATURES = (
    "si",
    "ti",
    "texture_e",
    "texture_h",
    "luma_mean",
    "colorfulness",
    "edge_density",
    "noise_sigma",
    "motion",
    "motion_flow",
)


def _child(mode: str, path: str) -> dict[str, Any]:
    """One measurement in this (fresh) process; imports are not timed (steady-state speed)."""
    import av

    from ladderforge.analysis import analyze

    start_wall, start_cpu = time.perf_counter(), time.process_time()
    title: dict[str, Any] = {}
    if mode == "decode":
        with av.open(path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"  # the same threading as analyze()
            stream.codec_context.thread_count = 0
            frames = sum(1 for _ in container.decode(stream))
    else:
        profile = analyze(path, fast=(mode == "fast"), cache_dir=False)
        frames = int(profile.title["frames_expected"])  # type: ignore[arg-type]
        title = {k: v for k, v in profile.title.items() if isinstance(v, int | float | str)}
        title["frames_analysed"] = profile.frames.height
    wall = time.perf_counter() - start_wall
    cpu = time.process_time() - start_cpu
    return {
        "mode": mode,
        "frames": frames,
        "wall_s": wall,
        "cpu_s": cpu,
        "fps": frames / wall,
        "cpu_ms_per_frame": cpu / frames * 1e3,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "title": title,
    }


def _measure(mode: str, path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["load_avg_1m"] = os.getloadavg()[0]
    return result


def _ffmpeg(args: list[str]) -> None:
    from ladderforge.media import run_ffmpeg

    run_ffmpeg(["-y", "-loglevel", "error", *args])


def make_clips(work: Path, *, long: bool) -> dict[str, tuple[Path, str]]:
    """The clips: name -> (path, how it was made)."""
    clips: dict[str, tuple[Path, str]] = {
        "720p foliage (H.264)": (
            CORPUS / "foliage_720p_cereus_flower.264",
            "corpus, real, raw H.264, 300 frames",
        ),
        "720p bbb (VP8)": (
            CORPUS / "animation_720p_bbb_intro_cuts.webm",
            "corpus, real, VP8 webm, 720 frames",
        ),
    }
    hd = work / "foliage_1080p.mp4"
    if not hd.exists():
        _ffmpeg(
            [
                "-i",
                str(CORPUS / "foliage_720p_cereus_flower.264"),
                "-vf",
                "scale=1920:1080:flags=bicubic",
                "-c:v",
                "libx264",
                "-preset",
                "fast",
                "-crf",
                "20",
                "-pix_fmt",
                "yuv420p",
                str(hd),
            ]
        )
    clips["1080p foliage (H.264)"] = (
        hd,
        "corpus 720p clip upscaled (bicubic), x264 fast crf 20, 300 frames",
    )
    uhd = work / "testsrc2_2160p.mp4"
    if not uhd.exists():
        _ffmpeg(
            [
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=3840x2160:rate=25",
                "-frames:v",
                "120",
                "-vf",
                "noise=alls=6:allf=t",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-crf",
                "23",
                "-pix_fmt",
                "yuv420p",
                str(uhd),
            ]
        )
    clips["2160p testsrc2 (H.264)"] = (
        uhd,
        "synthetic lavfi testsrc2 + temporal noise, x264 veryfast crf 23, 120 frames",
    )
    if long:
        ten = work / "foliage_1080p_10min.mp4"
        if not ten.exists():
            listing = work / "concat.txt"
            listing.write_text("".join(f"file '{hd}'\n" for _ in range(50)))
            _ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(ten)])
        clips["1080p 10 min (RSS)"] = (
            ten,
            "the 1080p clip 50 times (stream copy), 15,000 frames, 600 s",
        )
    return clips


def _deltas(full: dict[str, Any], fast: dict[str, Any]) -> dict[str, float]:
    out = {}
    for name in FAST_FEATURES:
        a, b = full.get(f"{name}_mean"), fast.get(f"{name}_mean")
        if isinstance(a, float) and isinstance(b, float) and abs(a) > 1e-9:
            out[name] = round((b - a) / a * 100.0, 1)
    return out


def bench(clips: dict[str, tuple[Path, str]], repeats: int) -> list[dict[str, Any]]:
    rows = []
    for name, (path, how) in clips.items():
        long_run = "RSS" in name
        modes = ("analyze",) if long_run else ("decode", "analyze", "fast")
        runs: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
        for _ in range(1 if long_run else repeats):
            for mode in modes:
                runs[mode].append(_measure(mode, path))
                print(
                    f"  {name} {mode}: {runs[mode][-1]['fps']:.1f} fps "
                    f"(load {runs[mode][-1]['load_avg_1m']:.1f})",
                    file=sys.stderr,
                )
        best = {m: max(r, key=lambda x: x["fps"]) for m, r in runs.items()}
        row: dict[str, Any] = {
            "clip": name,
            "path": str(path),
            "made": how,
            "runs": runs,
            "best": {m: {k: v for k, v in b.items() if k != "title"} for m, b in best.items()},
        }
        if not long_run:
            row["ratio_wall"] = best["analyze"]["fps"] / best["decode"]["fps"]
            row["ratio_cpu"] = (
                best["decode"]["cpu_ms_per_frame"] / best["analyze"]["cpu_ms_per_frame"]
            )
            row["fast_vs_full_pct"] = _deltas(best["analyze"]["title"], best["fast"]["title"])
            row["fast_frames_analysed"] = best["fast"]["title"].get("frames_analysed")
        rows.append(row)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| clip | decode-only fps | analyze fps | ratio (wall) | ratio (CPU) | fast fps | "
        "peak RSS analyze (MiB) | load 1m |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        b = r["best"]
        load = max(x["load_avg_1m"] for runs in r["runs"].values() for x in runs)
        if "decode" in b:
            lines.append(
                f"| {r['clip']} | {b['decode']['fps']:.0f} | {b['analyze']['fps']:.0f} | "
                f"{r['ratio_wall']:.2f} | {r['ratio_cpu']:.2f} | {b['fast']['fps']:.0f} | "
                f"{b['analyze']['peak_rss_mib']:.0f} | {load:.1f} |"
            )
        else:
            lines.append(
                f"| {r['clip']} | - | {b['analyze']['fps']:.0f} | - | - | - | "
                f"{b['analyze']['peak_rss_mib']:.0f} | {load:.1f} |"
            )
    lines.append("")
    lines.append("Fast mode vs full analysis, change of the title mean (%):")
    lines.append("")
    names = list(FAST_FEATURES)
    lines.append("| clip | " + " | ".join(names) + " |")
    lines.append("|---|" + "---|" * len(names))
    for r in rows:
        if "fast_vs_full_pct" in r:
            d = r["fast_vs_full_pct"]
            lines.append(
                f"| {r['clip']} | "
                + " | ".join(f"{d.get(n, float('nan')):+.1f}" for n in names)
                + " |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--long", action="store_true", help="add the 10-minute 1080p RSS run")
    parser.add_argument("--repeats", type=int, default=3, help="rounds per clip (default 3)")
    parser.add_argument("--work", type=Path, default=None, help="folder for generated clips")
    parser.add_argument("--only", default="", help="run only clips whose name contains this")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(*args.child)))
        return
    work = args.work or Path(tempfile.gettempdir()) / "ladderforge-bench-analysis"
    work.mkdir(parents=True, exist_ok=True)
    clips = {k: v for k, v in make_clips(work, long=args.long).items() if args.only in k}
    started = time.strftime("%Y%m%d-%H%M%S")
    rows = bench(clips, args.repeats)
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    doc = {
        "started": started,
        "cpus": os.cpu_count(),
        "repeats": args.repeats,
        "python": sys.version.split()[0],
        "rows": rows,
    }
    out = results / f"bench-{started}.json"
    out.write_text(json.dumps(doc, indent=1))
    print(table(rows))
    print(f"\nwritten {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
