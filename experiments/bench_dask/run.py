"""The batch on the local executor vs on dask.distributed, side by side on this machine.

One run: N synthetic titles (lavfi sources, cycled, FRAMES frames at SIZE) go through
``run_batch`` twice, predict mode with ``--encode`` (open loop, half-second chunks, work kept):
once on the local executor (titles one after another, chunk encodes in ``--workers`` threads)
and once on a dask LocalCluster of ``--workers`` processes on 127.0.0.1 (titles and chunk
encodes as tasks). Then, on the same cluster:

- tiny tasks: ``--tiny`` no-op tasks submitted at once (scheduler throughput: seconds per task),
  and ``--tiny // 10`` submitted one after the other (round trip per task);
- a simulation: ``--tiny`` sleep tasks whose durations cycle through the recorded wall times of
  the dask run's chunk encodes, divided by ``--scale``; overhead per task = (wall - ideal) /
  tasks, ideal = the LPT makespan of those durations on the cluster's slots;
- store writes: ``--tiny`` small records written atomically (temporary name, fsync, rename)
  into one folder, the way workers write their results.

Both executors are warmed first (imports, the model loaded in every process: the cost of a fresh
worker, reported apart); the timed batches compare execution. Writes results/bench.json and prints a table. The machine's load is recorded (``os.getloadavg``).
Usage (smallest): python experiments/bench_dask/run.py --titles 2 --frames 24 --tiny 200
Full:             python experiments/bench_dask/run.py --titles 12 --frames 100 --tiny 5000
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ladderforge.jobs.batch import run_batch
from ladderforge.jobs.config import LadderConfig
from ladderforge.jobs.executor import Executor, LocalExecutor
from ladderforge.media import ffmpeg_path
from ladderforge.run.cluster import DaskExecutor
from ladderforge.store import atomic_write_json

HERE = Path(__file__).resolve().parent
SOURCES = ("testsrc2", "mandelbrot", "cellauto", "life", "smptehdbars", "rgbtestsrc")


def make_titles(folder: Path, n: int, frames: int, size: str) -> list[Path]:
    """n lavfi clips (the sources cycled, each with its own seed-like offset), H.264 near-lossless."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        src = SOURCES[i % len(SOURCES)]
        path = folder / f"t{i:03d}_{src}.mp4"
        graph = (
            f"{src}=size={size}:rate=24"
            if src not in ("cellauto", "life")
            else f"{src}=size={size}:rate=24:seed={i}"
        )
        subprocess.run(
            [ffmpeg_path(), "-loglevel", "error", "-y", "-f", "lavfi", "-i", graph, "-frames:v", str(frames),
             "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "8", str(path)],
            check=True, timeout=300, capture_output=True,
        )  # fmt: skip
        out.append(path)
    return out


def chunk_records(out: Path) -> list[dict[str, Any]]:
    """Every chunk encode's sidecar (EncodeResult) under the batch's work folder."""
    return [json.loads(p.read_text()) for p in sorted((out / ".work").glob("*/chunks/*/*.json"))]


def batch(
    executor: Executor, titles: list[Path], out: Path, config: LadderConfig
) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    report = run_batch(titles, out, config=config, executor=executor)
    wall = time.perf_counter() - t0
    chunks = chunk_records(out)
    return {
        "executor": executor.name,
        "titles": len(titles),
        "failed": len(report.failures),
        "wall_s": wall,
        "titles_per_hour": len(report.plans) / wall * 3600,
        "chunk_encodes": len(chunks),
        "chunk_encodes_per_s": len(chunks) / wall,
        "chunk_encode_wall_s": [c["wall_s"] for c in chunks],
        "crfs": {
            t: [r.settings.q for r in p.ladder.rungs] for t, p in sorted(report.plans.items())
        },
    }


def warm(config: LadderConfig) -> float:
    """Import the job's modules and load the model (what every fresh worker process pays once),
    so the timed batches compare execution, not start-up; returns the seconds it took."""
    t0 = time.perf_counter()
    import ladderforge.jobs.title  # noqa: F401
    from ladderforge.policy.models import shipped_model

    name = config.facts.model_for(config.resolved_preset)
    if name is not None:
        shipped_model(name)
    return time.perf_counter() - t0


def _noop(i: int) -> int:
    return i


def _sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def tiny_tasks(ex: DaskExecutor, n: int) -> dict[str, float]:
    client = ex.client
    client.gather(client.map(_noop, range(50), pure=False))  # warm: functions shipped once
    t0 = time.perf_counter()
    client.gather(client.map(_noop, range(n), pure=False))
    burst = time.perf_counter() - t0
    m = max(10, n // 10)
    t0 = time.perf_counter()
    for i in range(m):
        client.submit(_noop, i, pure=False).result()
    serial = time.perf_counter() - t0
    with ThreadPoolExecutor(2) as pool:  # the local executor's mechanism, for comparison
        t0 = time.perf_counter()
        list(pool.map(_noop, range(n)))
        local = time.perf_counter() - t0
    return {
        "tasks": n,
        "burst_s_per_task": burst / n,
        "tasks_per_s": n / burst,
        "round_trip_s": serial / m,
        "local_threads_s_per_task": local / n,
    }


def lpt_makespan(durations: list[float], slots: int) -> float:
    """Longest-processing-time-first schedule's length: the ideal a scheduler can aim at."""
    loads = [0.0] * slots
    for d in sorted(durations, reverse=True):
        heapq.heappush(loads, heapq.heappop(loads) + d)
    return max(loads)


def simulate(ex: DaskExecutor, durations: list[float], n: int, scale: float) -> dict[str, float]:
    client = ex.client
    slots = sum(w["nthreads"] for w in client.scheduler_info()["workers"].values())
    scaled = [durations[i % len(durations)] / scale for i in range(n)]
    t0 = time.perf_counter()
    client.gather(client.map(_sleep, scaled, pure=False))
    wall = time.perf_counter() - t0
    ideal = lpt_makespan(scaled, slots)
    return {
        "tasks": len(scaled),
        "slots": slots,
        "scale": scale,
        "mean_task_s": sum(scaled) / max(1, len(scaled)),
        "wall_s": wall,
        "ideal_s": ideal,
        "overhead_s_per_task": (wall - ideal) / max(1, len(scaled)),
    }


def store_writes(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(dir=HERE) as tmp:
        record = {"key": "0" * 24, "size_bytes": 123456, "wall_s": 1.5, "pad": "x" * 800}
        t0 = time.perf_counter()
        for i in range(n):
            atomic_write_json(Path(tmp) / f"{i % 256:02x}" / f"{i:08d}.json", record)
        wall = time.perf_counter() - t0
    return {"records": n, "writes_per_s": n / wall, "s_per_write": wall / n}


def table(res: dict[str, Any]) -> str:
    loc, dsk = res["local"], res["dask"]
    lines = [
        f"{'':28}{'local':>12}{'dask':>12}",
        f"{'wall s':28}{loc['wall_s']:12.1f}{dsk['wall_s']:12.1f}",
        f"{'titles per hour':28}{loc['titles_per_hour']:12.0f}{dsk['titles_per_hour']:12.0f}",
        f"{'chunk encodes':28}{loc['chunk_encodes']:12d}{dsk['chunk_encodes']:12d}",
        f"{'chunk encodes per s':28}{loc['chunk_encodes_per_s']:12.2f}{dsk['chunk_encodes_per_s']:12.2f}",
        f"{'dask wall vs local':28}{'':12}{(dsk['wall_s'] / loc['wall_s'] - 1) * 100:+11.1f}%",
        f"{'start + warm-up s (untimed)':28}{res['local_warm_s']:12.1f}"
        f"{res['cluster_start_s'] + max(res['worker_warm_s'].values()):12.1f}",
        f"tiny tasks ({res['tiny']['tasks']}): {res['tiny']['burst_s_per_task'] * 1e3:.2f} ms/task in a burst "
        f"({res['tiny']['tasks_per_s']:.0f}/s), {res['tiny']['round_trip_s'] * 1e3:.1f} ms round trip; "
        f"threads {res['tiny']['local_threads_s_per_task'] * 1e6:.0f} us/task",
        f"simulation ({res['sim']['tasks']} tasks, recorded chunk durations / {res['sim']['scale']:g}, "
        f"mean {res['sim']['mean_task_s'] * 1e3:.1f} ms, {res['sim']['slots']} slots): wall {res['sim']['wall_s']:.2f} s, ideal {res['sim']['ideal_s']:.2f} s, "
        f"overhead {res['sim']['overhead_s_per_task'] * 1e3:.2f} ms/task",
        f"store writes: {res['store']['writes_per_s']:.0f}/s ({res['store']['s_per_write'] * 1e3:.2f} ms each, fsync)",
        f"load average at start/end: {res['load_start']} / {res['load_end']}",
        f"same CRFs local vs dask: {loc['crfs'] == dsk['crfs']}",
    ]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--titles", type=int, default=12)
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--size", default="320x240")
    p.add_argument("--heights", default="240,120")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--tiny", type=int, default=5000)
    p.add_argument(
        "--scale", type=float, default=100.0, help="simulation: recorded durations / this"
    )
    args = p.parse_args()
    results = HERE / "results"
    results.mkdir(parents=True, exist_ok=True)
    work = results / "run"
    titles = make_titles(work / "src", args.titles, args.frames, args.size)
    config = LadderConfig(
        mode="predict", encode=True, heights=tuple(int(h) for h in args.heights.split(",")),
        max_rungs=2, open_loop=True, min_chunk_s=0.5, max_chunk_s=1.0, keep_work=True,
        workers=args.workers,
    )  # fmt: skip
    res: dict[str, Any] = {
        "args": vars(args),
        "cpus": os.cpu_count(),
        "load_start": os.getloadavg(),
    }
    res["local_warm_s"] = warm(config)
    res["local"] = batch(LocalExecutor(), titles, work / "local", config)
    t0 = time.perf_counter()
    with DaskExecutor(local_workers=args.workers) as ex:
        res["cluster_start_s"] = time.perf_counter() - t0
        res["worker_warm_s"] = ex.client.run(warm, config)
        res["dask"] = batch(ex, titles, work / "dask", config)
        res["tiny"] = tiny_tasks(ex, args.tiny)
        res["sim"] = simulate(ex, res["dask"]["chunk_encode_wall_s"], args.tiny, args.scale)
    res["store"] = store_writes(args.tiny)
    res["load_end"] = os.getloadavg()
    atomic_write_json(results / "bench.json", res)
    print(table(res))
    print(f"written: {results / 'bench.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
