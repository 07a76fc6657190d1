"""``ladderforge measure REF DIST``: VMAF, PSNR, SSIM and XPSNR of one pair."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from ladderforge._cli.common import console, guarded, print_table
from ladderforge.media.ffmpeg import DEFAULT_TIMEOUT_S
from ladderforge.store import atomic_write_json


def register(app: typer.Typer) -> None:
    @app.command("measure")
    def measure_cmd(
        ref: Path = typer.Argument(..., help="Reference video (the source)."),
        dist: Path = typer.Argument(..., help="Distorted video (an encode)."),
        metrics: str = typer.Option(
            "vmaf,psnr,ssim,xpsnr",
            help="vmaf, vmaf_neg, vmaf_4k, vmaf_phone, vmaf_v1_3d0h, vmaf_v1_5d0h, psnr, ssim, "
            "xpsnr, cambi (banding; lower is better).",
        ),
        subsample: int = typer.Option(1, help="Score every n-th frame."),
        scaler: str = typer.Option("bicubic", help="Scaler bringing DIST to REF's grid."),
        threads: int = typer.Option(0, help="libvmaf threads (0: all cores)."),
        timeout: float = typer.Option(
            DEFAULT_TIMEOUT_S, "--timeout", help="Seconds ffmpeg may run before it is killed."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print JSON (with per-frame scores)."),
        output: Path = typer.Option(None, "-o", "--output", help="Also write the JSON here."),
        verbose: bool = typer.Option(False, "--verbose", "-v"),
    ) -> None:
        """Measure DIST against REF (DIST scaled to REF's grid; frame counts must match)."""
        from ladderforge.vmaf_tools import measure

        result = guarded(
            lambda: measure(
                ref,
                dist,
                metrics=[m.strip() for m in metrics.split(",") if m.strip()],
                n_subsample=subsample,
                scaler=scaler,
                threads=threads or None,
                timeout_s=timeout,
            ),
            verbose=verbose,
        )
        if output is not None:
            guarded(lambda: atomic_write_json(output, result.to_dict()))
        if as_json:
            console.print_json(json.dumps(result.to_dict()))
            return
        table = Table("metric", "mean", "harmonic", "1% low", "p5", "min")
        for name, p in result.pooled.items():
            table.add_row(
                name,
                f"{p.mean:.3f}",
                f"{p.harmonic_mean:.3f}",
                f"{p.low_1pct:.3f}",
                f"{p.p5:.3f}",
                f"{p.min:.3f}",
            )
        print_table(table)
        if result.per_frame.get("cambi"):
            console.print(
                "cambi (banding): lower is better, so its 1% low, p5 and min are its best frames; "
                f"the worst frame scored {max(result.per_frame['cambi']):.3f}"
            )
        console.print(
            f"frames scored: {len(result.frame_indices)} of {result.frames_ref}; grid "
            f"{result.display_width}x{result.display_height}, scaler {result.scaler}"
        )
