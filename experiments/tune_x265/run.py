"""Tuned x265 vs default x265 at the same preset, on titles the studies never saw; and the Pareto
front of bits vs encode CPU time against x265's own presets.

1. Studies (``ladderforge.jobs.tune``): one per content class over the training titles
   (``../shared/corpus/train/``, INDEX.tsv), at ``--preset``; writes ``tuned.json``.
2. Evaluation on the held-out titles (``../shared/corpus/INDEX.tsv``: no title of it is in
   train/, so the split is by title): each title's representative segment (the scene of median
   complexity, ``--segment-s`` long, scaled to at most ``--max-height``) is encoded at the
   evaluation CRFs with (a) the preset's defaults, (b) the tuned set of the title's class, and
   (c) the defaults of every preset in ``--presets``; all measured with VMAF, VMAF NEG and PSNR-Y.
3. Per title: BD-rate of tuned vs default on VMAF, VMAF NEG and PSNR-Y (METRICS.md; the mean
   single-point rate delta where the curves overlap by < 1 point, marked), and the encode-time
   ratio (CPU seconds, all CRFs). Pareto: each configuration's median BD-rate (VMAF) and median
   CPU ratio against ``--preset``'s defaults; the plot shows them and the front.

A run is named by its preset and frozen knobs (``veryfast``, ``veryfast-no-aq-mode``): KEY
below. Everything is stored under results/KEY/ (optuna's SQLite study, the results store): a
killed run resumes. Writes results/KEY/results.json, RESULTS.md's section KEY (with the command
line) and its plot, plots/KEY_pareto.png (committed with it). ``--report-only`` writes the
section and the plot again from results/KEY/results.json, without encoding; ``--ship`` puts
results/KEY's tuned sets into the package's file (``ladder --tuned shipped``) in place of those of
the same codec and preset, keeping the others.

Usage: python experiments/tune_x265/run.py [--preset veryfast] [--trials 30] [--sampler tpe]
       [--max-titles-per-class N] [--freeze KNOB,...] [--train-limit N] [--heldout-limit N]
       [--presets ultrafast,...,slow] [--workers 1] [--report-only | --ship]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ladderforge.analysis import analyze
from ladderforge.demo_media import SHARED_CORPUS
from ladderforge.jobs.sweep import SweepConfig, measure_settings
from ladderforge.jobs.tune import TuneConfig, tune
from ladderforge.jobs.tune_segments import cut_segments
from ladderforge.media import ffmpeg_version, probe
from ladderforge.policy.tuning import (
    CurvePoint,
    GuardMargins,
    TunedSet,
    TunedSets,
    bits_delta_pct,
    classify,
)
from ladderforge.store import atomic_write_json
from ladderforge.types import EncodeSettings, SourceInfo

HERE = Path(__file__).resolve().parent
X265_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow")
METRICS = ("vmaf", "vmaf_neg", "psnr_y")
TARGETS = {"vmaf": -5.0, "vmaf_neg": -3.0, "psnr_y": -2.0, "time_ratio": 1.2}
"""The issue's targets: BD-rate at most these (percent) at most 1.2x the encode time."""


def _index(folder: Path) -> list[Path]:
    with (folder / "INDEX.tsv").open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    paths = [folder / r["file"] for r in rows if (folder / r["file"]).is_file()]
    return sorted(paths, key=lambda p: p.stat().st_size)  # smallest first for --*-limit


def _segment(src: Path, work: Path, args: argparse.Namespace) -> tuple[SourceInfo, dict[str, Any]]:
    info = probe(src)
    profile = analyze(info.path)
    cls = classify(profile.title)
    (((start, end), seg),) = cut_segments(
        info, profile, work, n_segments=1, segment_s=args.segment_s, max_height=args.max_height
    )
    meta = {"title": info.title, "class": cls.name, "class_reason": cls.reason,
            "segment": [start, end], "segment_size": f"{seg.width}x{seg.height}"}  # fmt: skip
    return seg, meta


def _measured(seg: SourceInfo, preset: str, params: tuple[tuple[str, str], ...], crfs: list[float],
              work: Path, workers: int, metrics: tuple[str, ...]) -> dict[float, Any]:  # fmt: skip
    """The segment encoded (at its own size) and measured at ``crfs``: CRF -> sweep point."""
    settings = [
        EncodeSettings(
            codec="x265",
            width=seg.width // 2 * 2,
            height=seg.height // 2 * 2,
            q=crf,
            preset=preset,
            params=params,
        )
        for crf in crfs
    ]
    report = measure_settings(
        seg,
        settings,
        work / "encodes",
        config=SweepConfig(preset=preset, metrics=metrics),
        workers=workers,
    )
    if report.failures:
        raise RuntimeError(f"{seg.path}: {report.failures}")
    return {float(p.settings.q or 0): p for p in report.points}


def _curve(seg: SourceInfo, preset: str, params: tuple[tuple[str, str], ...], crfs: list[float],
           work: Path, workers: int) -> list[CurvePoint]:  # fmt: skip
    by_q = _measured(seg, preset, params, crfs, work, workers, ("vmaf", "vmaf_neg", "psnr"))
    return [
        CurvePoint(
            q,
            by_q[q].encode.bitrate_kbps,
            by_q[q].quality.get("vmaf"),
            by_q[q].quality.get("vmaf_neg"),
            by_q[q].quality.get("psnr_y"),
            by_q[q].encode.cpu_s,
        )
        for q in crfs
    ]


def _compare(base: list[CurvePoint], test: list[CurvePoint]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for metric in METRICS:
        value, method = bits_delta_pct(base, test, metric)
        row[f"bd_{metric}"] = value
        row[f"method_{metric}"] = method
    row["time_ratio"] = sum(p.cpu_s for p in test) / sum(p.cpu_s for p in base)
    return row


def _frozen(args: argparse.Namespace) -> tuple[str, ...]:
    return tuple(sorted({k.strip() for k in args.freeze.split(",") if k.strip()}))


def _key(args: argparse.Namespace) -> str:
    """The run's name: its results folder, plot and RESULTS.md section (preset, frozen knobs)."""
    return "-".join([args.preset, *(f"no-{k}" for k in _frozen(args))])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--crfs", default="24,30,36", help="study CRF grid")
    parser.add_argument("--eval-crfs", default="22,26,30,34,38", help="evaluation CRF grid")
    parser.add_argument("--segment-s", type=float, default=2.0)
    parser.add_argument("--max-height", type=int, default=540)
    parser.add_argument("--presets", default=",".join(X265_PRESETS))
    parser.add_argument(
        "--max-titles-per-class",
        type=int,
        default=0,
        help="study at most N train titles per class (0: all)",
    )
    parser.add_argument("--freeze", default="", help="knobs left at the preset's value (a,b)")
    parser.add_argument("--train-limit", type=int, default=0, help="first N train titles (0: all)")
    parser.add_argument("--heldout-limit", type=int, default=0, help="first N held-out (0: all)")
    parser.add_argument("--sampler", default="nsga2")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--results-md", default=str(HERE / "RESULTS.md"))
    parser.add_argument(
        "--ship",
        action="store_true",
        help="the run's sets into the package's file (ladder --tuned shipped), in place of its "
        "preset's",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="RESULTS.md and the plot from results/<preset>/results.json",
    )
    return parser


def main() -> int:
    parser = _parser()
    args = parser.parse_args()
    if args.ship:
        return _ship(args)
    if args.report_only:
        results = HERE / "results" / _key(args) / "results.json"
        return _report(json.loads(results.read_text()), args)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = HERE / "results" / _key(args)
    train = _index(SHARED_CORPUS / "train")[: args.train_limit or None]
    heldout = _index(SHARED_CORPUS)[: args.heldout_limit or None]
    if not train or not heldout:
        print(f"no titles under {SHARED_CORPUS}", file=sys.stderr)
        return 1
    config = TuneConfig(
        preset=args.preset,
        trials=args.trials,
        crfs=tuple(float(c) for c in args.crfs.split(",")),
        segment_s=args.segment_s,
        freeze=_frozen(args),
        max_titles_per_class=args.max_titles_per_class or None,
        max_height=args.max_height or None,
        sampler=args.sampler,
        seed=args.seed,
        workers=args.workers,
        margins=GuardMargins(),
    )
    print(f"studies on {len(train)} train titles, {args.trials} trials per class", flush=True)
    report = tune(train, out / "study", config=config,
                  on_stage=lambda s: print(f"  {s}", flush=True))  # fmt: skip
    sets = report.sets
    rows = _evaluate(heldout, sets, args, out)
    summary = _summary(rows, args)
    data = {
        "command": "python " + shlex.join(sys.argv),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "ffmpeg": ffmpeg_version(),
        "load_avg": os.getloadavg(),
        "train_titles": [p.name for p in train],
        "heldout_titles": [p.name for p in heldout],
        "tuned_sets": sets.to_dict()["sets"],
        "study": {"trials_run": report.trials_run, "trials_resumed": report.trials_resumed,
                  "encodes_run": report.encodes_run, "encodes_reused": report.encodes_reused},
        "rows": rows,
        "summary": summary,
    }  # fmt: skip
    atomic_write_json(out / "results.json", data)
    print(f"wrote {out / 'results.json'}")
    return _report(data, args)


def _ship(args: argparse.Namespace) -> int:
    """The run's tuned sets into the package's file, replacing those of its preset and keeping
    the other presets'. Provenance per preset (``provenance.presets``): each source named by its
    file with the licence column of INDEX.tsv, no local path (the clips never ship)."""
    from ladderforge.jobs.tuned import SHIPPED_TUNED_SETS

    data = json.loads((HERE / "results" / _key(args) / "study" / "tuned.json").read_text())
    licences = {}
    for folder in (SHARED_CORPUS, SHARED_CORPUS / "train"):
        with (folder / "INDEX.tsv").open(newline="") as f:
            licences.update({r["file"]: r["license"] for r in csv.DictReader(f, delimiter="\t")})
    prov = data["provenance"]
    for source in prov["sources"]:
        name = Path(source.pop("path")).name
        if not licences.get(name):
            print(f"{name}: no licence in the corpus INDEX.tsv; nothing shipped", file=sys.stderr)
            return 1
        source["file"], source["license"] = name, licences[name]
    prov.pop("storage", None)
    prov["config"]["work_dir"] = None
    prov["experiment"] = (
        f"experiments/tune_x265 ({_key(args)}; RESULTS.md has the held-out figures)"
    )
    shipped = (
        json.loads(SHIPPED_TUNED_SETS.read_text())
        if SHIPPED_TUNED_SETS.is_file()
        else {"schema": data["schema"], "provenance": {"presets": {}}, "sets": []}
    )
    if shipped.get("schema") != data["schema"] or "presets" not in shipped["provenance"]:
        print(f"{SHIPPED_TUNED_SETS}: not a shipped-sets file of schema {data['schema']} with "
              "provenance per preset; move it away to start a new one", file=sys.stderr)  # fmt: skip
        return 1
    TunedSets.from_dict(shipped, where=str(SHIPPED_TUNED_SETS))  # readable before it is changed
    mine = {(s["codec"], s["preset"]) for s in data["sets"]}
    keep = [s for s in shipped["sets"] if (s["codec"], s["preset"]) not in mine]
    shipped["sets"] = keep + data["sets"]
    shipped["provenance"]["presets"][f"x265 {args.preset}"] = prov
    atomic_write_json(SHIPPED_TUNED_SETS, shipped)
    print(f"wrote {SHIPPED_TUNED_SETS} ({args.preset}: {len(data['sets'])} sets)")
    return 0


def _report(data: dict[str, Any], args: argparse.Namespace) -> int:
    """RESULTS.md's section of the preset and its plot, from a run's results."""
    plot = HERE / "plots" / f"{_key(args)}_pareto.png"
    _plot(data["summary"], args.preset, plot)
    _write_section(Path(args.results_md), _key(args), _markdown(data, plot))
    print(f"wrote {plot}, {args.results_md}")
    return 0


def _evaluate(heldout: list[Path], sets: TunedSets, args: argparse.Namespace,
              out: Path) -> list[dict[str, Any]]:  # fmt: skip
    crfs = [float(c) for c in args.eval_crfs.split(",")]
    presets = [p for p in args.presets.split(",") if p]
    rows = []
    for src in heldout:
        seg, meta = _segment(src, out / "eval", args)
        chosen = sets.choose("x265", args.preset, meta["class"])
        params = chosen.params if chosen is not None and chosen.accepted else ()
        base = _curve(seg, args.preset, (), crfs, out / "eval", args.workers)
        tuned = _curve(seg, args.preset, params, crfs, out / "eval", args.workers)
        row = {**meta, "tuned_set": _set_label(chosen), "params": [list(p) for p in params],
               "tuned": _compare(base, tuned), "presets": {}}  # fmt: skip
        for preset in presets:
            curve = (
                base
                if preset == args.preset
                else _curve(seg, preset, (), crfs, out / "eval", args.workers)
            )
            row["presets"][preset] = _compare(base, curve)
        rows.append(row)
        t = row["tuned"]
        print(f"{meta['title'][:40]:40s} {meta['class']:8s} BD VMAF {t['bd_vmaf']:+6.2f} NEG "
              f"{t['bd_vmaf_neg']:+6.2f} PSNR-Y {t['bd_psnr_y']:+6.2f} time x{t['time_ratio']:.2f}",
              flush=True)  # fmt: skip
    return rows


def _set_label(chosen: TunedSet | None) -> str:
    if chosen is None:
        return "none for the class: defaults"
    return chosen.name if chosen.accepted else f"{chosen.name} not accepted: defaults"


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _summary(rows: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    tuned = {
        k: _median([r["tuned"][k] for r in rows])
        for k in ("bd_vmaf", "bd_vmaf_neg", "bd_psnr_y", "time_ratio")
    }
    points = [
        {
            "config": f"{args.preset}+tuned",
            "bd_vmaf": tuned["bd_vmaf"],
            "time_ratio": tuned["time_ratio"],
        }
    ]
    for preset in rows[0]["presets"] if rows else []:
        points.append({"config": preset,
                       "bd_vmaf": _median([r["presets"][preset]["bd_vmaf"] for r in rows]),
                       "time_ratio": _median([r["presets"][preset]["time_ratio"] for r in rows])})  # fmt: skip
    front = sorted(points, key=lambda p: (p["time_ratio"], p["bd_vmaf"]))
    pareto, best = [], float("inf")
    for p in front:
        if p["bd_vmaf"] < best:
            pareto.append(p["config"])
            best = p["bd_vmaf"]
    met = {
        "vmaf": tuned["bd_vmaf"] <= TARGETS["vmaf"],
        "vmaf_neg": tuned["bd_vmaf_neg"] <= TARGETS["vmaf_neg"],
        "psnr_y": tuned["bd_psnr_y"] <= TARGETS["psnr_y"],
        "time_ratio": tuned["time_ratio"] <= TARGETS["time_ratio"],
    }
    return {"tuned_median": tuned, "points": points, "pareto": pareto, "targets_met": met}


def _plot(summary: dict[str, Any], preset: str, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(
            "matplotlib is not installed (pip install 'ladderforge[dev]'): no plot", file=sys.stderr
        )
        return
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    pts = summary["points"]
    for p in pts:
        tuned = p["config"].endswith("+tuned")
        ax.scatter(
            p["time_ratio"], p["bd_vmaf"], color="tab:red" if tuned else "tab:blue", zorder=3
        )
        ax.annotate(p["config"], (p["time_ratio"], p["bd_vmaf"]), textcoords="offset points",
                    xytext=(4, 4), fontsize=8)  # fmt: skip
    front = [
        p for p in sorted(pts, key=lambda p: p["time_ratio"]) if p["config"] in summary["pareto"]
    ]
    ax.plot(
        [p["time_ratio"] for p in front],
        [p["bd_vmaf"] for p in front],
        "k--",
        lw=0.8,
        label="Pareto front",
    )
    ax.set_xscale("log")
    ax.set_xlabel(f"encode CPU time / x265 {preset} default (median over held-out titles)")
    ax.set_ylabel(f"BD-rate VMAF vs x265 {preset} default, % (median)")
    ax.axhline(0, color="grey", lw=0.5)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _markdown(data: dict[str, Any], plot: Path) -> str:
    s = data["summary"]
    args = _parser().parse_args(shlex.split(data["command"])[2:])  # the run's own flags
    studied = {t: ts["content_class"] for ts in data["tuned_sets"] for t in ts["titles"]}
    lines = [
        f"## x265 {args.preset}"
        + (f", {', '.join(_frozen(args))} left at the preset's value" if _frozen(args) else ""),
        "",
        f"Command: `{data['command']}`",
        "",
        *(
            [
                "**Partial run (--train-limit / --heldout-limit / few trials): a check that the "
                "script works end to end, not a result.**",
                "",
            ]
            if args.train_limit or args.heldout_limit or args.trials < 10
            else []
        ),
        f"Created {data['created']}, ffmpeg {data['ffmpeg']}, load average "
        f"{', '.join(f'{x:.1f}' for x in data['load_avg'])} (2 cores shared with other jobs: "
        "CPU-time ratios are noisy; on very short, small segments process start-up weighs on "
        "them too).",
        f"Train titles ({len(data['train_titles'])}): {', '.join(data['train_titles'])}.",
        f"Studied ({len(studied)}"
        + (
            f", at most {args.max_titles_per_class} per class, spread along the class's axis"
            if args.max_titles_per_class
            else ""
        )
        + "): "
        + ", ".join(f"{t} ({c})" for t, c in sorted(studied.items(), key=lambda x: x[1]))
        + ".",
        f"Held-out titles ({len(data['heldout_titles'])}): {', '.join(data['heldout_titles'])}.",
        f"Study: {data['study']}.",
        "",
        "### Tuned sets (in-sample figures, on the study segments)",
        "",
        "| class | accepted | BD VMAF % | BD NEG % | BD PSNR-Y % | CPU x | params / note |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in data["tuned_sets"]:
        params = ":".join(f"{k}={v}" for k, v in t["params"]) or t["note"]
        lines.append(f"| {t['content_class']} | {t['accepted']} | {_f(t['bd_rate_vmaf_pct'])} | "
                     f"{_f(t['bd_rate_vmaf_neg_pct'])} | {_f(t['bd_rate_psnr_y_pct'])} | "
                     f"{_ratio(t['cpu_ratio'])} | {params} |")  # fmt: skip
    lines += [
        "",
        "### Held-out titles: tuned vs default at the same preset",
        "",
        "BD-rate in percent (negative = fewer bits at equal quality); `*` = curves overlap by < 1 "
        "point, mean single-point rate delta instead. Time = encode CPU seconds ratio.",
        "",
        "| title | class | segment | set | BD VMAF | BD VMAF NEG | BD PSNR-Y | time x |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in data["rows"]:
        t = r["tuned"]
        marks = {m: "*" if t[f"method_{m}"] != "bd-rate" else "" for m in METRICS}
        lines.append(f"| {r['title']} | {r['class']} | {r['segment_size']} | {r['tuned_set']} | "
                     f"{t['bd_vmaf']:+.2f}{marks['vmaf']} | {t['bd_vmaf_neg']:+.2f}{marks['vmaf_neg']} | "
                     f"{t['bd_psnr_y']:+.2f}{marks['psnr_y']} | {t['time_ratio']:.2f} |")  # fmt: skip
    m = s["tuned_median"]
    lines += [
        f"| **median** | | | | {m['bd_vmaf']:+.2f} | {m['bd_vmaf_neg']:+.2f} | {m['bd_psnr_y']:+.2f} | "
        f"{m['time_ratio']:.2f} |",
        "",
        "Targets (issue 16: <= -5 % VMAF, <= -3 % NEG, <= -2 % PSNR-Y at <= 1.2x time): "
        + ", ".join(f"{k} {'met' if v else 'not met'}" for k, v in s["targets_met"].items())
        + ".",
        "",
        f"### Bits vs CPU time against x265's presets (medians; reference x265 {args.preset} default)",
        "",
        "| configuration | BD-rate VMAF % | CPU time x | on the Pareto front |",
        "|---|---|---|---|",
    ]
    for p in sorted(s["points"], key=lambda p: p["time_ratio"]):
        lines.append(f"| {p['config']} | {p['bd_vmaf']:+.2f} | {p['time_ratio']:.2f} | "
                     f"{'yes' if p['config'] in s['pareto'] else ''} |")  # fmt: skip
    lines += [
        "",
        *_next_preset(s, args.preset),
        "",
        f"![bits vs CPU time, x265 {args.preset}]({plot.relative_to(HERE)})",
        "",
    ]
    return "\n".join(lines)


TITLE = "# tune_x265: tuned x265 vs default at the same preset, on held-out titles"


def _next_preset(summary: dict[str, Any], preset: str) -> list[str]:
    """The issue's other target: the tuned preset against the next slower preset, at <= 0.7x
    its time for no more bits (medians against the default of ``preset``)."""
    slower = X265_PRESETS[X265_PRESETS.index(preset) + 1 :] if preset in X265_PRESETS else ()
    points = {p["config"]: p for p in summary["points"]}
    nxt = next((p for p in slower if p in points), None)
    if nxt is None:
        return [f"No slower preset than {preset} was measured: no comparison with it."]
    tuned, other = points[f"{preset}+tuned"], points[nxt]
    time = tuned["time_ratio"] / other["time_ratio"]
    met = tuned["bd_vmaf"] <= other["bd_vmaf"] and time <= 0.7
    return [
        f"{preset}+tuned against {nxt} (the next slower preset measured): BD-rate VMAF "
        f"{tuned['bd_vmaf']:+.2f} % vs {other['bd_vmaf']:+.2f} %, at {time:.2f}x its CPU time "
        f"(target: no more bits at <= 0.7x): {'met' if met else 'not met'}."
    ]


def _write_section(path: Path, key: str, section: str) -> None:
    """RESULTS.md holds one section per run name (preset and frozen knobs; in x265's preset
    order); a run replaces its own. The marker keeps its old spelling (``preset:``)."""
    sections: dict[str, str] = {}
    if path.exists():
        for part in path.read_text().split("<!-- preset: ")[1:]:
            name, _, text = part.partition(" -->\n")
            sections[name] = text.strip() + "\n"
    sections[key] = section.strip() + "\n"

    def rank(name: str) -> tuple[int, str]:
        preset = name.split("-")[0]
        return (X265_PRESETS.index(preset) if preset in X265_PRESETS else 99, name)

    order = sorted(sections, key=rank)
    text = TITLE + "\n\n" + "\n".join(f"<!-- preset: {p} -->\n{sections[p]}" for p in order)
    path.write_text(text)


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    raise SystemExit(main())
