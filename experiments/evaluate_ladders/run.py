"""Held-out evaluation of the shipped ladder path on whole clips, with real encodes.

For each title of the experiment corpus (the demo clips, ``../shared/corpus`` and
``../shared/corpus/train``), cheapest first (frames x pixels):

1. the reference: the whole clip decoded once into lossless FFV1, at most 1080 lines, even size
   (every source is already lossy; the ladder, Apple's ladder and the sweep all start from it);
2. the model: trained on the committed dataset snapshot (``experiments/build_dataset/data/
   <codec>_<preset>.parquet``) without any sample of the title (cached by
   ``experiments/model_ladders/heldout.py``); a title the snapshot lacks gets the model of
   every row, which never saw it either;
3. each *variant* of the product (``VARIANTS``): ``plan_title`` on the reference, encoding
   (the closed loop, tolerance 0.75, at most 3 encodes per rung), with that model. Per rung:
   declared target, first-attempt VMAF (what ``--open-loop`` ships, except for the top rung,
   which the closed loop declares at ``top_vmaf`` and starts between the grid's CRFs), shipped
   VMAF (the whole rendition, pooled as the ladder reports it), kbps, encodes;
4. Apple's HLS HEVC ladder, two-pass at each row's bitrate, same encoder and preset
   (``ladderforge.jobs.fixed``);
5. with ``--hull``: the exhaustive sweep of the reference (exhaustive mode's heights x CRFs),
   its upper convex hull (every hull point, as dense as the sweep) and the ladder that
   ``--mode exhaustive`` chooses from it (``ladder_from_hull`` on the sweep's points, the
   default rules: the measured encodes it would ship).

Per title and variant: BD-rate and capped saving against Apple (METRICS.md), BD-rate against
the hull and against the exhaustive ladder, the share of rungs within +-1 VMAF of their
declared target, encodes per rung, and the decision CPU seconds (probe encodes + closed-loop
encodes that did not ship) with their share of the sweep's encode CPU seconds; the analysis's
wall seconds beside them.

Baselines travel: Apple's measured rungs and the sweep's points of every title are also written
to the committed ``baselines/<codec>_<preset>.json`` (keyed by :func:`baseline_key`: the
source's content, Apple's rows for it, the ffmpeg build, the sweep's settings), and a run on another machine starts from them
instead of encoding them again; ``--fresh-baselines`` measures them anyway. Each is written as
soon as it is measured, so a session that ends mid-campaign keeps them; ``--variants`` with no
name measures the baselines alone. A title's decision share then divides this machine's
decision CPU by a sweep's CPU measured on the machine that committed it: compare shares from
one machine only where that matters.

Resumable: a title's finished figures are kept in
``results/<codec>_<preset>/titles/<title>.json`` (per variant), keyed by the snapshot's
fingerprint, the model's version and parameters and the last commit that changed the product
(``ladderforge/``): any of them new starts the title again. Apple's ladder JSON, the sweep store
and the references are reused. Shipped media are removed once measured (the ladder JSONs
stay).

Usage: python experiments/evaluate_ladders/run.py [--codec x265] [--preset veryfast]
           [--variants probe probe3+replan] [--hull] [--no-apple] [--titles NAME ...]
           [--max-titles N]
           [--workers 2]
       python experiments/evaluate_ladders/run.py --report   (medians and tables of what is done)
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "model_ladders"))
from heldout import held_out_model

from ladderforge.demo_media import SHARED_CORPUS, experiment_clips
from ladderforge.encoder import codec_facts
from ladderforge.errors import LadderforgeError
from ladderforge.jobs import LadderConfig, plan_title
from ladderforge.jobs.defaults import DEFAULT_HEIGHTS, DEFAULT_SWEEP_CRFS, LadderRules
from ladderforge.jobs.fixed import plan_fixed_title
from ladderforge.jobs.sweep import SweepConfig, rd_points, sweep
from ladderforge.media import ffmpeg_version, probe
from ladderforge.media.segments import extract_segment
from ladderforge.policy import (
    BDRateError,
    apple_ladder,
    bd_rate,
    capped_saving,
    ladder_from_hull,
    upper_convex_hull,
)
from ladderforge.policy.models import MODEL_VERSION, RDModel, fingerprint, load_model
from ladderforge.store import atomic_write_json
from ladderforge.types import EncodeSettings, Ladder, RDPoint

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = ROOT / "experiments" / "build_dataset" / "data"
RESULTS = HERE / "results"
WITHIN = 1.0
"""A rung hits its target when its whole rendition measures within this of it (the issue's
+-1 VMAF; the loop's own tolerance is 0.75)."""
BASELINE_FILES = HERE / "baselines"
BASELINES = ("hull", "exhaustive")
"""The score entries that are no variant of the product: the dense hull, exhaustive mode's ladder."""


@dataclass(frozen=True)
class Variant:
    """A product configuration under test: LadderConfig fields on top of probe mode's."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)


VARIANTS = (
    Variant("probe"),
    Variant("probe3+replan", {"probe_heights": 3, "replan_heights": True}),
    Variant("probe-share.25", {"probe_share": 0.25}),
    Variant("probe-whole4", {"whole_probe_s": 4.0}),
    Variant("probe-seg7", {"probe_segments": 7}),
    Variant("probe-nocarry", {"carry_share": 0.0}),
    Variant("probe-2crf", {"bottom_probe_crfs": ()}),
    Variant("probe-vertical", {"probe_along_curve": False}),
)
"""``probe``: the product's default (probe mode, closed loop). ``probe3+replan``: three probe
heights and the rungs moved to their cheapest height after their first encode.
``probe-share.25``: the probe segments cover at most a quarter of the title (``probe_share``).
``probe-whole4``: a title of at most 4 s is probed whole, and its probes give the first CRF of
the rungs at the probed heights (``whole_probe_s``). ``probe-seg7``: seven probe segments
spanning the title's complexity instead of three (a title with fewer scenes probes each).
``probe-nocarry``: no rung's first CRF moved by an earlier rung's error at its height
(``carry_share`` 0). ``probe-2crf``: no third probe CRF at the shortest height
(``bottom_probe_crfs`` empty, the probes before 370797d). ``probe-vertical``: the probes'
errors added to the curves vertically (``probe_along_curve`` False: the line of the
correction before 935fe81, through three points at the shortest height, segments weighted)."""


def titles() -> list[Path]:
    """Every clip of the experiment corpus, once."""
    clips = experiment_clips()
    train = SHARED_CORPUS / "train"
    if train.is_dir():
        names = {p.stem for p in clips}
        clips += [p for p in experiment_clips(train) if p.stem not in names]
    return clips


def reference(src: Path, out_dir: Path) -> Path:
    """The whole clip decoded once, lossless (FFV1), at most 1080 lines, even size."""
    path = out_dir / f"{src.stem}.mkv"
    if path.is_file():
        return path
    info = probe(src, hash_content=False)
    return extract_segment(info, 0, info.frame_count, path, max_height=1080)


def cost_order(clips: list[Path]) -> list[Path]:
    """Cheapest first: frames x output pixels (capped at 1080 lines)."""

    def cost(p: Path) -> float:
        info = probe(p, hash_content=False)
        scale = min(1.0, 1080 / min(info.width, info.height))
        return info.frame_count * info.width * info.height * scale * scale

    return sorted(clips, key=cost)


def product_commit() -> str:
    """The last commit that changed ``ladderforge/`` (what the figures were measured with),
    plus ``+dirty`` when it has uncommitted changes."""
    git = ["git", "-C", str(ROOT)]
    last = subprocess.run(
        [*git, "log", "-1", "--format=%h", "--", "ladderforge"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout.strip()  # fmt: skip
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "ladderforge"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout.strip()  # fmt: skip
    return last + ("+dirty" if dirty else "")


def model_for(title: str, data: pl.DataFrame, cache: Path) -> Path:
    """The path of a model that never saw ``title``."""
    if title in set(data["group"].to_list()):
        held_out_model(data, title, cache)  # fitted and saved there unless cached already
        return cache / f"{title}.json.gz"
    path = cache / "_all.json.gz"
    if not path.is_file() or load_model(path).fingerprint_ != fingerprint(data):
        RDModel().fit(data).save(path, metadata={"left_out": None})
    return path


BASELINES_VERSION = 1
"""Bump when Apple's ladder (``jobs/fixed``), the sweep or the measurement change what they
measure: every committed baseline is then measured again."""


def sweep_config(codec: str, preset: str) -> SweepConfig:
    """The exhaustive sweep of a reference (exhaustive mode's heights x CRFs, VMAF only)."""
    return SweepConfig(
        codec=codec,
        preset=preset,
        heights=DEFAULT_HEIGHTS,
        crfs=DEFAULT_SWEEP_CRFS,
        metrics=("vmaf",),
    )


def baseline_key(src: Path, codec: str, preset: str) -> dict[str, Any]:
    """What a title's Apple ladder and sweep were measured from: the source's content, Apple's
    rows for it, the ffmpeg build, the sweep's settings and :data:`BASELINES_VERSION`. The
    ladder path's commit is not in it: a change of the ladder path does not re-measure the
    baselines (a change of what they measure bumps the version)."""
    info = probe(src)
    sweep = sweep_config(codec, preset)
    rows = apple_ladder(codec_facts(codec).family, info.width, info.height)
    return {
        "version": BASELINES_VERSION,
        "apple_rows": [[r.width, r.height, r.bitrate_kbps] for r in rows],
        "content_hash": info.content_hash,
        "frames": info.frame_count,
        "ffmpeg": ffmpeg_version(),
        "sweep": {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in asdict(sweep).items()
            if k not in ("keep_encodes", "timeout_s")
        },
    }


def load_baselines(path: Path) -> dict[str, Any]:
    """The committed baselines of one codec and preset, by title (empty when none)."""
    return json.loads(path.read_text()) if path.is_file() else {}


def carried_baselines(known: dict[str, Any], title: str, key: dict[str, Any]) -> dict[str, Any]:
    """The title's committed ``apple`` and ``hull`` entries when they were measured from the
    same key (empty otherwise)."""
    entry = known.get(title)
    if not entry or entry.get("key") != key:
        return {}
    return {k: entry[k] for k in ("apple", "hull") if k in entry}


def remember(path: Path, title: str, key: dict[str, Any], **measured: dict[str, Any]) -> None:
    """Add a title's freshly measured ``apple`` or ``hull`` to the committed baselines file
    as soon as it is measured (re-read first: another run may have written other titles)."""
    known = load_baselines(path)
    entry = known.get(title, {})
    entry = {k: v for k, v in entry.items() if k != "key"} if entry.get("key") == key else {}
    known[title] = {"key": key, **entry, **measured}
    path.parent.mkdir(exist_ok=True)
    atomic_write_json(path, dict(sorted(known.items())))


def _bd(base: list[tuple[float, float]], test: list[tuple[float, float]]) -> float | None:
    try:
        return round(bd_rate(base, test), 2)
    except BDRateError:
        return None


def _saving(base: list[tuple[float, float]], test: list[tuple[float, float]]) -> float | None:
    saving = capped_saving(base, test).saving
    return None if saving is None else round(saving * 100, 2)


def _on_chords(
    hull: list[tuple[float, float]], pairs: list[tuple[float, float]]
) -> list[tuple[float, float, float]]:
    """(ladder kbps, hull kbps, VMAF) for the ladder's points inside the hull's VMAF range,
    the hull's kbps linear in VMAF between its neighbouring points (the upper convex hull of
    (kbps, VMAF) is that polyline): a ladder of rungs at the hull's kbps spends the hull's
    bits at its qualities."""
    if not hull:
        return []
    hull = sorted(hull, key=lambda p: p[1])
    vs, rates = [v for _, v in hull], [r for r, _ in hull]
    return [(r, float(np.interp(v, vs, rates)), v) for r, v in pairs if vs[0] <= v <= vs[-1]]


def _over_hull(hull: list[tuple[float, float]], pairs: list[tuple[float, float]]) -> float | None:
    """Mean of the ladder's rungs' kbps over the hull's at their VMAFs (log ratio, as %)."""
    logs = [math.log(r / ideal) for r, ideal, _ in _on_chords(hull, pairs)]
    return round((math.exp(sum(logs) / len(logs)) - 1) * 100, 2) if logs else None


def _pairs(ladder: Ladder) -> list[tuple[float, float]]:
    return [
        (r.measured_bitrate_kbps, r.measured_vmaf)
        for r in ladder.rungs
        if r.measured_bitrate_kbps is not None and r.measured_vmaf is not None
    ]


def run_variant(
    ref: Path, out: Path, variant: Variant, *, codec: str, preset: str, model: Path, workers: int
) -> dict[str, Any]:
    """One variant's ladder of one title, encoded through the closed loop, and its figures."""
    config = LadderConfig(
        mode="probe",
        codec=codec,
        preset=preset,
        encode=True,
        workers=workers,
        model_path=model,
        audio=False,
        **variant.options,
    )
    started = time.monotonic()
    plan = plan_title(ref, out, config=config)
    rungs = [
        {
            "width": r.settings.width,
            "height": r.settings.height,
            "target": r.target_vmaf,
            "first_vmaf": r.attempts[0].vmaf if r.attempts else r.measured_vmaf,
            "vmaf": r.measured_vmaf,
            "kbps": r.measured_bitrate_kbps,
            "q": r.settings.q,
            "encodes": max(1, len(r.attempts)),
            "heights_tried": sorted({a.height for a in r.attempts if a.height is not None}),
        }
        for r in plan.ladder.rungs
    ]
    for media in (out / ref.stem).iterdir():  # what ships is measured: keep the JSON only
        if not media.name.endswith(".ladder.json"):
            if media.is_dir():
                shutil.rmtree(media)
            else:
                media.unlink()
    return {
        "rungs": rungs,
        "pairs": _pairs(plan.ladder),
        "probe_cpu_s": round(plan.decision_cpu_s, 2),
        "loop_extra_cpu_s": round(plan.loop_cpu_s, 2),
        "shipped_cpu_s": round(
            sum(r.cost.encode_cpu_s_measured or 0.0 for r in plan.ladder.rungs), 2
        ),
        "analysis_s": round(plan.analysis_s, 2),
        "wall_s": round(time.monotonic() - started, 1),
    }


def hull_of(ref: Path, out: Path, *, codec: str, preset: str, workers: int) -> dict[str, Any]:
    """The exhaustive sweep of the reference: its points (what travels in baselines/), its
    upper convex hull and the ladder exhaustive mode chooses from them, its CPU seconds."""
    report = sweep([ref], out, config=sweep_config(codec, preset), workers=workers)
    if report.failures:
        raise RuntimeError("; ".join(report.failures.values()))
    points = rd_points(report.points, ref.stem)
    return hull_from_points(
        [
            [p.settings.width, p.height, p.settings.q, p.bitrate_kbps, p.quality, p.cost_cpu_s]
            for p in points
        ],
        codec=codec,
        preset=preset,
        source_height=probe(ref, hash_content=False).height,
    )


def hull_from_points(
    stored: list[list[Any]], *, codec: str, preset: str, source_height: int
) -> dict[str, Any]:
    """The hull entry of a title from its sweep's stored points (width, height, CRF, kbps,
    VMAF, CPU seconds): the ladder is chosen again with today's default rules, so a rule
    change never leaves a stale exhaustive ladder."""
    points = [
        RDPoint(EncodeSettings(codec, w, h, q=q, preset=preset), kbps, vmaf, cpu_s)
        for w, h, q, kbps, vmaf, cpu_s in stored
    ]
    rungs, _ = ladder_from_hull(points, source_height=source_height, **LadderRules().options())
    return {
        "points": stored,
        "source_height": source_height,
        "pairs": [(p.bitrate_kbps, p.quality) for p in upper_convex_hull(points)],
        "ladder_pairs": [(r.bitrate_kbps, r.vmaf) for r in rungs],
        "sweep_cpu_s": round(sum(p.cost_cpu_s for p in points), 2),
    }


def score(done: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per variant (and the hull): the figures against Apple and the hull."""
    apple = [tuple(p) for p in done["apple"]["pairs"]] if done.get("apple") else None
    hull = done.get("hull")
    out: dict[str, dict[str, Any]] = {}
    if hull:
        out["hull"] = {
            "bd_vs_apple": _bd(apple, hull["pairs"]) if apple else None,
            "saving_vs_apple": _saving(apple, hull["pairs"]) if apple else None,
        }
        if "ladder_pairs" in hull:  # what --mode exhaustive ships: the hull's rungs only
            out["exhaustive"] = {
                "bd_vs_apple": _bd(apple, hull["ladder_pairs"]) if apple else None,
                "saving_vs_apple": _saving(apple, hull["ladder_pairs"]) if apple else None,
                "bd_vs_hull": _bd(hull["pairs"], hull["ladder_pairs"]),
            }
    for name, v in done.get("variants", {}).items():
        pairs = [tuple(p) for p in v["pairs"]]
        rungs = v["rungs"]
        decision = v["probe_cpu_s"] + v["loop_extra_cpu_s"]
        out[name] = {
            "bd_vs_apple": _bd(apple, pairs) if apple else None,
            "saving_vs_apple": _saving(apple, pairs) if apple else None,
            "bd_vs_hull": _bd(hull["pairs"], pairs) if hull else None,
            "bd_vs_exhaustive": (
                _bd(hull["ladder_pairs"], pairs) if hull and "ladder_pairs" in hull else None
            ),
            # how much of bd_vs_hull is the rungs' placement: the hull's own points at the
            # ladder's VMAFs against the hull (what these VMAFs cost a perfect ladder), and the
            # ladder's kbps over the hull's at its rungs' VMAFs
            "bd_vs_hull_of_ideal_rungs": (
                _bd(hull["pairs"], [(i, v) for _, i, v in _on_chords(hull["pairs"], pairs)])
                if hull
                else None
            ),
            "over_hull_pct": _over_hull(hull["pairs"], pairs) if hull else None,
            "rungs": len(rungs),
            "within_1": sum(
                r["target"] is not None and abs(r["vmaf"] - r["target"]) <= WITHIN for r in rungs
            ),
            "first_within_1": sum(
                r["target"] is not None and abs(r["first_vmaf"] - r["target"]) <= WITHIN
                for r in rungs
            ),
            "encodes": sum(r["encodes"] for r in rungs),
            "decision_cpu_s": round(decision, 2),
            "decision_share_of_sweep": (
                round(decision / hull["sweep_cpu_s"], 4) if hull and hull["sweep_cpu_s"] else None
            ),
            # the probes' CPU is the same for a title of any length (a few 2 s segments), the
            # loop's and the sweep's grow with it: what a long title's share comes down to
            "loop_share_of_sweep": (
                round(v["loop_extra_cpu_s"] / hull["sweep_cpu_s"], 4)
                if hull and hull["sweep_cpu_s"]
                else None
            ),
        }
    return out


def evaluate(args: argparse.Namespace) -> int:
    results = RESULTS / f"{args.codec}_{args.preset}"
    refs, per_title = RESULTS / "refs", results / "titles"
    refs.mkdir(parents=True, exist_ok=True)
    per_title.mkdir(parents=True, exist_ok=True)
    dataset = DATA / f"{args.codec}_{args.preset}.parquet"
    if not dataset.is_file():
        print(f"{dataset}: no dataset snapshot for {args.codec} {args.preset}", file=sys.stderr)
        return 2
    data = pl.read_parquet(dataset).filter(pl.col("bitrate_kbps") > 0)
    # what a title's stored figures were measured with: once, as this run loaded it
    key: dict[str, Any] = {
        "dataset_fingerprint": fingerprint(data),
        "model_version": MODEL_VERSION,
        "model_params": RDModel().get_params(),
        "product_commit": product_commit(),
    }
    cache = (
        ROOT / "experiments" / "model_ladders" / "results" / "models" / key["dataset_fingerprint"]
    )
    print(f"models: held out from {dataset.name} ({data.height} rows), cached in {cache}")
    variants = [v for v in VARIANTS if v.name in args.variants]
    clips = [c for c in titles() if not args.titles or c.stem in args.titles]
    baselines_path = BASELINE_FILES / f"{args.codec}_{args.preset}.json"
    known = {} if args.fresh_baselines else load_baselines(baselines_path)
    done_count = 0
    for src in cost_order(clips):
        if args.max_titles and done_count >= args.max_titles:
            break
        path = per_title / f"{src.stem}.json"
        done = json.loads(path.read_text()) if path.is_file() else {}
        if any(done.get(k) != v for k, v in key.items()):  # another model: start again
            done = {"title": src.stem, **key}
            for variant in VARIANTS:
                shutil.rmtree(results / variant.name / src.stem, ignore_errors=True)
        if args.fresh_baselines:  # not this folder's either
            done.pop("apple", None)
            done.pop("hull", None)
        title_key = baseline_key(src, args.codec, args.preset)
        for name, entry in carried_baselines(known, src.stem, title_key).items():
            if name == "apple" and not done.get("apple"):
                done["apple"] = entry
            elif name == "hull" and "ladder_pairs" not in done.get("hull", {}):
                done["hull"] = entry
        if isinstance(done.get("hull", {}).get("points"), list):  # today's rules choose
            done["hull"] = hull_from_points(
                done["hull"]["points"],
                codec=args.codec,
                preset=args.preset,
                source_height=done["hull"]["source_height"],
            )
        todo = [v for v in variants if v.name not in done.get("variants", {})]
        hull_done = "ladder_pairs" in done.get("hull", {})
        if not todo and (done.get("apple") or args.no_apple) and (hull_done or not args.hull):
            done["scores"] = score(done)  # baselines carried from baselines/ are scored too
            atomic_write_json(path, done)
            continue
        started = time.monotonic()
        try:
            ref = reference(src, refs)
            done.setdefault("variants", {})
            model = model_for(src.stem, data, cache) if todo else Path()  # none: no variant
            for variant in todo:
                done["variants"][variant.name] = run_variant(
                    ref,
                    results / variant.name,
                    variant,
                    codec=args.codec,
                    preset=args.preset,
                    model=model,
                    workers=args.workers,
                )
                atomic_write_json(path, done)
            if not done.get("apple") and not args.no_apple:
                apple = plan_fixed_title(
                    ref, results / "apple", codec=args.codec, preset=args.preset
                )
                done["apple"] = {"pairs": _pairs(apple)}
                remember(baselines_path, src.stem, title_key, apple=done["apple"])
            if args.hull and "ladder_pairs" not in done.get("hull", {}):
                done["hull"] = hull_of(
                    ref,
                    results / "sweep",
                    codec=args.codec,
                    preset=args.preset,
                    workers=args.workers,
                )
                remember(baselines_path, src.stem, title_key, hull=done["hull"])
        except (LadderforgeError, RuntimeError) as exc:
            print(f"{src.name}: skipped: {exc}", file=sys.stderr, flush=True)
            continue
        done["scores"] = score(done)
        atomic_write_json(path, done)
        done_count += 1
        cells = "  ".join(
            f"{name}: BD/Apple {s['bd_vs_apple']} within {s.get('within_1', '-')}/"
            f"{s.get('rungs', '-')} enc {s.get('encodes', '-')}"
            for name, s in done["scores"].items()
        )
        print(f"{src.stem:44s} {time.monotonic() - started:6.0f} s  {cells}", flush=True)
    return report(results)


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 2) if present else None


def report(results: Path) -> int:
    """Medians over the finished titles, printed and written to results/<codec>_<preset>.json."""
    rows = [json.loads(p.read_text()) for p in sorted((results / "titles").glob("*.json"))]
    rows = [r for r in rows if "scores" in r]
    for row in rows:  # today's figures from the stored measurements
        row["scores"] = score(row)
    names = sorted(
        {n for r in rows for n in r["scores"]}, key=lambda n: (n not in BASELINES, n != "hull", n)
    )
    summary: dict[str, dict[str, Any]] = {}
    for name in names:
        scored = [r["scores"][name] for r in rows if name in r["scores"]]
        entry: dict[str, Any] = {
            "titles": len(scored),
            "titles_with_apple": sum(bool(r.get("apple")) for r in rows if name in r["scores"]),
            "median_bd_vs_apple": _median([s["bd_vs_apple"] for s in scored]),
            "median_saving_vs_apple": _median([s["saving_vs_apple"] for s in scored]),
            "median_bd_vs_hull": _median([s.get("bd_vs_hull") for s in scored]),
        }
        if name not in BASELINES:
            rungs = sum(s["rungs"] for s in scored)
            entry |= {
                "median_bd_vs_hull": _median([s["bd_vs_hull"] for s in scored]),
                "median_bd_vs_exhaustive": _median([s.get("bd_vs_exhaustive") for s in scored]),
                "median_bd_vs_hull_of_ideal_rungs": _median(
                    [s.get("bd_vs_hull_of_ideal_rungs") for s in scored]
                ),
                "median_over_hull_pct": _median([s.get("over_hull_pct") for s in scored]),
                "rungs": rungs,
                "within_1_share": round(sum(s["within_1"] for s in scored) / rungs, 4)
                if rungs
                else None,
                "first_within_1_share": round(sum(s["first_within_1"] for s in scored) / rungs, 4)
                if rungs
                else None,
                "encodes_per_rung": round(sum(s["encodes"] for s in scored) / rungs, 3)
                if rungs
                else None,
                "median_decision_share_of_sweep": _median(
                    [s["decision_share_of_sweep"] for s in scored]
                ),
                "median_loop_share_of_sweep": _median(
                    [s.get("loop_share_of_sweep") for s in scored]
                ),
            }
        summary[name] = entry
    print(f"{len(rows)} titles done in {results}")
    for name, entry in summary.items():
        print(f"  {name:16s} " + "  ".join(f"{k} {v}" for k, v in entry.items()))
    atomic_write_json(results.with_suffix(".json"), {"titles": len(rows), "summary": summary})
    results.with_suffix(".md").write_text(markdown(rows, names))
    return 0


def _cell(value: float | None, spec: str = "+.2f") -> str:
    return "n/a" if value is None else format(value, spec)


def markdown(rows: list[dict[str, Any]], names: list[str]) -> str:
    """One table row per title and variant: the figures RESULTS.md quotes."""
    lines = [
        "| title | ladder | rungs | within +-1 (1st encode) | encodes/rung | BD vs Apple | "
        "capped saving | BD vs hull | BD vs exhaustive | decision CPU / sweep (loop alone) | "
        "kbps over hull at its VMAFs | ideal rungs' BD vs hull |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        for name in names:
            s = row["scores"].get(name)
            if s is None:
                continue
            if name in BASELINES:
                cells = ["", "", "", _cell(s["bd_vs_apple"]), _cell(s["saving_vs_apple"])]
                cells += ["", "", "", "", ""]
            else:
                share = s["decision_share_of_sweep"]
                cells = [
                    str(s["rungs"]),
                    f"{s['within_1']} ({s['first_within_1']})",
                    f"{s['encodes'] / s['rungs']:.2f}",
                    _cell(s["bd_vs_apple"]),
                    _cell(s["saving_vs_apple"]),
                    _cell(s["bd_vs_hull"]),
                    _cell(s.get("bd_vs_exhaustive")),
                    "n/a" if share is None else f"{share:.0%} ({s['loop_share_of_sweep']:.0%})",
                    _cell(s.get("over_hull_pct")),
                    _cell(s.get("bd_vs_hull_of_ideal_rungs")),
                ]
            lines.append(f"| {row['title']} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codec", default="x265")
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument(
        "--variants", nargs="*", default=["probe"], choices=[v.name for v in VARIANTS]
    )
    parser.add_argument("--hull", action="store_true", help="also sweep every title exhaustively")
    parser.add_argument(
        "--no-apple",
        action="store_true",
        help="leave Apple's ladder for a later run (the rungs' figures first; a run without "
        "this flag adds it)",
    )
    parser.add_argument(
        "--fresh-baselines",
        action="store_true",
        help="measure Apple's ladder and the sweep even where baselines/ holds them",
    )
    parser.add_argument("--titles", nargs="*", default=None, help="title names (file stems)")
    parser.add_argument("--max-titles", type=int, default=0, help="stop after this many titles")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--report", action="store_true", help="only summarise what is done")
    args = parser.parse_args()
    if args.report:
        return report(RESULTS / f"{args.codec}_{args.preset}")
    return evaluate(args)


if __name__ == "__main__":
    sys.exit(main())
